use soroban_sdk::{contractclient, Address, Env};

/// The part of the issuer registry the token calls. Declared here as a trait so the token
/// builds without the registry's WASM.
#[contractclient(name = "IssuerRegistryClient")]
pub trait IssuerRegistryInterface {
    /// Whether `issuer` is registered and active.
    fn is_trusted(env: Env, issuer: Address) -> bool;
}
