//! Events of the issuer registry. Addresses are topics; nothing here is PHI.
use soroban_sdk::{contractevent, Address, BytesN};

use crate::types::IssuerKind;

/// An issuer was added to the whitelist.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuerAdded {
    /// The new issuer.
    #[topic]
    pub issuer: Address,
    /// Its kind.
    pub kind: IssuerKind,
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

/// The admin proposed a new admin.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdminProposed {
    /// The current admin.
    #[topic]
    pub admin: Address,
    /// The proposed admin.
    #[topic]
    pub proposed: Address,
    /// Last ledger at which the proposal can be accepted.
    pub live_until_ledger: u32,
}

/// The proposed admin accepted; it is now the admin.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdminChanged {
    /// The previous admin.
    #[topic]
    pub previous: Address,
    /// The new admin.
    #[topic]
    pub admin: Address,
}

/// The contract's code was upgraded.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Upgraded {
    /// Hash of the new WASM.
    pub wasm_hash: BytesN<32>,
}
