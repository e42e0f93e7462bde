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
}
