//! Events of the suite registry.
use soroban_sdk::{contractevent, Address, BytesN, Symbol};

/// A member was deployed.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MemberDeployed {
    /// Its name.
    #[topic]
    pub name: Symbol,
    /// Its address.
    #[topic]
    pub contract: Address,
    /// The WASM it runs.
    pub wasm_hash: BytesN<32>,
}

/// A member was upgraded through the registry.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MemberUpgraded {
    /// Its name.
    #[topic]
    pub name: Symbol,
    /// Its address.
    #[topic]
    pub contract: Address,
    /// The new WASM.
    pub wasm_hash: BytesN<32>,
    /// The new version.
    pub version: u32,
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
