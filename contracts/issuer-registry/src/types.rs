use soroban_sdk::{contracttype, Address, BytesN, String};

/// What kind of organisation or person an issuer is.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IssuerKind {
    /// A hospital.
    Hospital,
    /// An imaging centre.
    ImagingCentre,
    /// A physician's practice.
    Physician,
    /// A laboratory.
    Laboratory,
}

/// Whether an issuer may currently release studies.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IssuerStatus {
    /// Trusted: may propose and mint releases.
    Active,
    /// Temporarily not trusted; the admin may reinstate it.
    Suspended,
}

/// Public profile of an issuer. Holds no PHI and no plain hash of an identifier.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerProfile {
    /// Display name of the organisation (1..=64 bytes of UTF-8).
    pub name: String,
    /// Kind of issuer.
    pub kind: IssuerKind,
    /// Jurisdiction code, e.g. `US-CA` or `DE` (2..=16 characters of A–Z, 0–9, '-').
    pub jurisdiction: String,
    /// Commitment to the off-chain verification evidence, e.g. an HMAC of the NPI record
    /// under a platform key. Never a plain hash of an identifier.
    pub evidence: BytesN<32>,
}

/// A registered issuer as stored and returned by `issuer` and `issuers`.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Issuer {
    /// The issuer's address.
    pub address: Address,
    /// Current status.
    pub status: IssuerStatus,
    /// Public profile.
    pub profile: IssuerProfile,
    /// Ledger sequence at which the issuer was added.
    pub added_ledger: u32,
    /// Ledger sequence of the last change (addition, suspension, reinstatement).
    pub changed_ledger: u32,
    /// Position of this issuer in the enumeration used by `issuers` (may change on removal
    /// of another issuer).
    pub index: u32,
}
