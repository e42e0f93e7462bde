//! Tests of the issuer registry against the native contract.

mod admin;
mod issuers;

use soroban_sdk::{
    testutils::{Address as _, EnvTestConfig},
    Address, BytesN, Env, String,
};

use crate::{IssuerKind, IssuerProfile, IssuerRegistry, IssuerRegistryClient};

/// An environment that writes no test snapshot.
pub fn env() -> Env {
    Env::new_with_config(EnvTestConfig {
        capture_snapshot_at_drop: false,
    })
}

pub struct Setup<'a> {
    pub env: Env,
    pub admin: Address,
    pub client: IssuerRegistryClient<'a>,
}

pub fn setup<'a>() -> Setup<'a> {
    let env = env();
    let admin = Address::generate(&env);
    let id = env.register(IssuerRegistry, (&admin, None::<u32>));
    let client = IssuerRegistryClient::new(&env, &id);
    Setup { env, admin, client }
}

pub fn profile(env: &Env, name: &str) -> IssuerProfile {
    IssuerProfile {
        name: String::from_str(env, name),
        kind: IssuerKind::Hospital,
        jurisdiction: String::from_str(env, "US-CA"),
        evidence: BytesN::from_array(env, &[7; 32]),
    }
}

/// Whether a call failed in the host rather than with a contract error: the client reports
/// a missing authorization this way.
pub fn is_host_abort<T, E>(result: Result<T, Result<E, soroban_sdk::InvokeError>>) -> bool {
    matches!(result, Err(Err(soroban_sdk::InvokeError::Abort)))
}
