use soroban_sdk::{contracttype, Address, BytesN, String};

// What an issuer releases: pointers to the encrypted study, never the study itself.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Release {
    // `ipfs://` + CIDv1 (base32, lower case) of the encrypted metadata object.
    pub metadata_uri: String,
    // An opaque commitment to the checksum root (the SHA-256 Merkle root over the study's
    // original files), keyed or salted off chain (e.g. HMAC-SHA256 under a platform key,
    // or SHA-256(salt ‖ root) with the salt in the encrypted metadata), so that a holder of
    // the files alone cannot find the token or its patient. Never the bare root.
    pub commitment: BytesN<32>,
    // Number of files in the study (1..=`MAX_FILE_COUNT`).
    pub file_count: u32,
    // The records request this release fulfils, if any (an opaque 16-byte id).
    pub request_id: Option<BytesN<16>>,
}

// Stored status of a token. `Lapsed` is never stored: it is how a `Pending` token whose
// window has passed is reported.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TokenStatus {
    // Proposed by the issuer; awaiting the patient's consent.
    Pending,
    // Consented: the owner and grantees have access.
    Active,
    // The patient rejected it; nobody has access.
    Rejected,
    // The issuer withdrew it while pending (e.g. misaddressed); nobody has access.
    Withdrawn,
    // Pending past its window; nobody has access and it can no longer be approved.
    Lapsed,
    // The patient erased the study (its keys and files deleted off chain); terminal:
    // nobody has access, nothing can be granted, re-keyed or moved.
    Erased,
}

// Why a patient rejected a release (a closed list: no free text reaches the chain).
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RejectReason {
    // The study is not the patient's.
    NotMine,
    // The patient already holds this study.
    Duplicate,
    // The patient declines to receive it.
    Declined,
    // Any other reason.
    Other,
}

// A role on a token.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Role {
    // The patient who owns the token (never granted).
    Owner,
    // May view and share as Viewer.
    Sharer,
    // May view.
    Viewer,
}

// Kind of access recorded in the audit trail.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AccessKind {
    // The study was viewed.
    View,
    // The study was downloaded.
    Download,
}

// A study token as stored.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Token {
    // Token id, taken from a counter (see `token_of_commitment` to find it).
    pub id: u32,
    // The patient who owns it.
    pub owner: Address,
    // The trusted issuer who released it.
    pub issuer: Address,
    // Stored status (see `TokenStatus`; `consent_status` reports `Lapsed`).
    pub status: TokenStatus,
    // What was released.
    pub release: Release,
    // Ledger at which it was proposed or minted.
    pub minted_ledger: u32,
    // Ledger close time (Unix seconds) at which it was proposed or minted.
    pub minted_at: u64,
    // Last ledger at which a pending token can be approved.
    pub pending_until: u32,
    // Ledger of the last consent decision (or of the proposal while pending).
    pub consent_ledger: u32,
    // Time of the last consent decision (or of the proposal while pending).
    pub consent_at: u64,
    // Who made the last consent decision (the issuer while pending or after a withdrawal).
    pub consent_by: Address,
    // Position in the owner's pending or owned enumeration.
    pub slot: u32,
    // Whether the owner revoked the releasing issuer's implicit Viewer role.
    pub issuer_revoked: bool,
}

// Consent state of a token, as returned by `consent_status`.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Consent {
    // Effective status (a pending token past its window is `Lapsed`).
    pub status: TokenStatus,
    // Ledger of the decision (of the proposal while pending; of the window's end if lapsed).
    pub ledger: u32,
    // Time of the decision (of the proposal while pending or lapsed).
    pub timestamp: u64,
    // Who decided (the issuer while pending or lapsed).
    pub by: Address,
}

// Current access of an address to a token, as returned by `access`.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Access {
    // The role held.
    pub role: Role,
    // Unix time after which the access ends; `None` for no expiry.
    pub expires_at: Option<u64>,
    // Who granted it (the owner for itself).
    pub granter: Address,
}

// A grant as stored and returned by `grants`.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GrantInfo {
    // Who holds the grant.
    pub grantee: Address,
    // Viewer or Sharer.
    pub role: Role,
    // Unix time after which it ends; `None` for no expiry.
    pub expires_at: Option<u64>,
    // Who granted it.
    pub granter: Address,
    // Whether the granter was the token's owner when it granted. An owner's grant stands
    // on its own (also after a key rotation); any other grant (a Sharer's) lives no longer
    // and no wider than its granter's current access.
    pub by_owner: bool,
    // Position in the token's grant enumeration.
    pub token_slot: u32,
    // Position in the grantee's shared-with enumeration.
    pub grantee_slot: u32,
}

// Why an issuer opens a study without the patient's consent (break-glass). A closed list:
// the free-text account stays off chain.
#[contracttype]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EmergencyReason {
    // The patient is unconscious or otherwise unable to consent.
    Unconscious,
    // A life- or limb-threatening condition needs the images now.
    LifeThreatening,
    // Treatment cannot wait until the patient is reached.
    PatientUnreachable,
    // Any other emergency (explained off chain).
    Other,
}

// The admin's bounds on emergency access: the longest grant, and how many break-glass
// accesses one issuer may open per window.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EmergencyPolicy {
    // Longest emergency grant, in hours (1..=`MAX_EMERGENCY_HOURS`).
    pub max_hours: u32,
    // Emergency accesses one issuer may open per window (1..=`MAX_EMERGENCY_LIMIT`).
    pub limit: u32,
    // The rate window, in seconds (`MIN_EMERGENCY_WINDOW`..=`MAX_EMERGENCY_WINDOW`).
    pub window: u64,
}

// An emergency (break-glass) Viewer access as stored (internal: not in the interface).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EmergencyGrant {
    // The stated reason.
    pub reason: EmergencyReason,
    // Unix time it was opened.
    pub opened_at: u64,
    // Unix time it ends.
    pub expires_at: u64,
}

// A records request as stored (internal: not in the interface).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecordsRequest {
    // The issuer that asked.
    pub issuer: Address,
    // Whether the issuer recorded its fulfilment.
    pub fulfilled: bool,
}
