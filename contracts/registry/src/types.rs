use soroban_sdk::{contracttype, Address, BytesN, Symbol};

/// A deployed member of the suite.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Member {
    /// Name under which it was deployed, e.g. `issuers` or `studies`.
    pub name: Symbol,
    /// Its contract address.
    pub contract: Address,
    /// Hash of the WASM it currently runs.
    pub wasm_hash: BytesN<32>,
    /// 1 at deployment, incremented by each upgrade through the registry.
    pub version: u32,
    /// Position in the enumeration used by `members`.
    pub index: u32,
}
