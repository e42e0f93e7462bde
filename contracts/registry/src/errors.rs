use soroban_sdk::contracterror;

/// Errors of the suite registry (codes 300–399).
#[contracterror]
#[derive(Copy, Clone, Debug, Eq, PartialEq, PartialOrd, Ord)]
#[repr(u32)]
pub enum RegistryError {
    /// A member with this name is already deployed.
    MemberExists = 300,
    /// No member has this name.
    MemberNotFound = 301,
    /// A page limit is zero or larger than `MAX_PAGE`.
    InvalidPageLimit = 302,
    /// The contract instance holds no admin (never the case after the constructor ran).
    NotInitialized = 303,
    /// No admin transfer is pending (none proposed, or cancelled, accepted or expired).
    NoPendingAdmin = 304,
    /// The pending admin transfer expired before it was accepted.
    AdminTransferExpired = 305,
    /// The admin transfer's deadline is not in the future or lies past the maximum TTL.
    InvalidExpiry = 306,
    /// No upgrade to this WASM hash is scheduled: call `schedule_upgrade` first.
    NoScheduledUpgrade = 307,
    /// The scheduled upgrade's delay has not passed yet.
    UpgradeNotReady = 308,
    /// The upgrade delay is longer than `MAX_UPGRADE_DELAY`.
    InvalidUpgradeDelay = 309,
}
