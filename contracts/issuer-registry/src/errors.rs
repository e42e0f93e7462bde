use soroban_sdk::contracterror;

/// Errors of the issuer registry (codes 100–199).
#[contracterror]
#[derive(Copy, Clone, Debug, Eq, PartialEq, PartialOrd, Ord)]
#[repr(u32)]
pub enum IssuerRegistryError {
    /// The address is already registered as an issuer.
    IssuerExists = 100,
    /// No issuer is registered under this address.
    IssuerNotFound = 101,
    /// The issuer is already suspended.
    IssuerAlreadySuspended = 102,
    /// The issuer is not suspended, so it cannot be reinstated.
    IssuerNotSuspended = 103,
    /// The profile's display name is empty or longer than `MAX_NAME_LEN` bytes.
    InvalidProfileName = 104,
    /// The jurisdiction code is not 2 to `MAX_JURISDICTION_LEN` characters of A–Z, 0–9 or '-'.
    InvalidJurisdiction = 105,
    /// No admin transfer is pending (none proposed, or cancelled, accepted or expired).
    NoPendingAdmin = 106,
    /// The pending admin transfer expired before it was accepted.
    AdminTransferExpired = 107,
    /// The admin transfer's deadline is not in the future or lies past the maximum TTL.
    InvalidExpiry = 108,
    /// A page limit is zero or larger than `MAX_PAGE`.
    InvalidPageLimit = 109,
    /// The evidence commitment is all zero bytes.
    InvalidEvidence = 110,
    /// The contract instance holds no admin (never the case after the constructor ran).
    NotInitialized = 111,
    /// No upgrade to this WASM hash is scheduled: call `schedule_upgrade` first.
    NoScheduledUpgrade = 112,
    /// The scheduled upgrade's delay has not passed yet.
    UpgradeNotReady = 113,
    /// The upgrade delay is longer than `MAX_UPGRADE_DELAY`.
    InvalidUpgradeDelay = 114,
}
