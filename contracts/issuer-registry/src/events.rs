//! Events of the issuer registry. Addresses are topics; nothing here is PHI.
use soroban_sdk::{contractevent, Address};

use crate::types::{IssuerKind, IssuerProfile};

/// An issuer was added to the whitelist.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerAdded {
    /// The new issuer.
    #[topic]
    pub issuer: Address,
    /// Its kind.
    pub kind: IssuerKind,
    /// Its whole profile, so the directory can be rebuilt from events (the record is
    /// deleted on removal).
    pub profile: IssuerProfile,
}

/// An issuer was suspended.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerSuspended {
    /// The suspended issuer.
    #[topic]
    pub issuer: Address,
}

/// A suspended issuer was reinstated.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerReinstated {
    /// The reinstated issuer.
    #[topic]
    pub issuer: Address,
}

/// An issuer was removed from the registry.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerRemoved {
    /// The removed issuer.
    #[topic]
    pub issuer: Address,
}

/// The constructor's configuration, so an indexer learns it from events alone.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Configured {
    /// The admin.
    #[topic]
    pub admin: Address,
    /// The upgrade delay, in ledgers.
    pub upgrade_delay: u32,
}
