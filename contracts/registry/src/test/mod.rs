//! Tests of the suite registry and the representative suite against the optimized WASM
//! built by `scripts/build-contracts` (target/contracts/<package>.wasm under the workspace
//! root, or $MEDIMINT_WASM_DIR).

mod deploy;
mod suite;
mod upgrade;

use medimint_issuer_registry::IssuerRegistryClient;
use medimint_study_token::StudyTokenClient;
use soroban_sdk::{
    testutils::{Address as _, EnvTestConfig, Ledger as _},
    Address, BytesN, Env, IntoVal, String, Symbol,
};

use crate::{SuiteRegistry, SuiteRegistryClient};

/// The optimized WASM of `package`. Fails with instructions when it was not built.
pub fn wasm(package: &str) -> std::vec::Vec<u8> {
    let dir = std::env::var("MEDIMINT_WASM_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/contracts")
        });
    let path = dir.join(std::format!("{package}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}. Build the contracts first: run scripts/build-contracts \
             (or set MEDIMINT_WASM_DIR to where they were built)",
            path.display()
        )
    })
}

/// The upgrade delay the suite's members are deployed with in these tests, in ledgers.
pub const UPGRADE_DELAY: u32 = 100;

pub fn env() -> Env {
    let env = Env::new_with_config(EnvTestConfig {
        capture_snapshot_at_drop: false,
    });
    env.ledger().set_sequence_number(1_000);
    env.ledger().set_timestamp(1_700_000_000);
    env
}

pub struct Suite<'a> {
    pub env: Env,
    pub admin: Address,
    pub registry: SuiteRegistryClient<'a>,
    pub issuers: IssuerRegistryClient<'a>,
    pub studies: StudyTokenClient<'a>,
    pub issuers_hash: BytesN<32>,
    pub studies_hash: BytesN<32>,
}

/// The suite registry (native) deploys the issuer registry and the study token from their
/// uploaded optimized WASM. All auths are mocked.
pub fn suite<'a>() -> Suite<'a> {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let registry =
        SuiteRegistryClient::new(&env, &env.register(SuiteRegistry, (&admin, None::<u32>)));
    let issuers_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-issuer-registry").as_slice());
    let studies_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-study-token").as_slice());
    let issuers_name = Symbol::new(&env, "issuers");
    let issuers_id = registry.deploy(
        &issuers_name,
        &issuers_hash,
        &(&admin, Some(UPGRADE_DELAY)).into_val(&env),
    );
    let studies_id = registry.deploy(
        &Symbol::new(&env, "studies"),
        &studies_hash,
        &(
            &admin,
            registry.address_of(&issuers_name),
            String::from_str(&env, "MediMint Study"),
            String::from_str(&env, "MMS"),
            Some(UPGRADE_DELAY),
        )
            .into_val(&env),
    );
    Suite {
        issuers: IssuerRegistryClient::new(&env, &issuers_id),
        studies: StudyTokenClient::new(&env, &studies_id),
        env,
        admin,
        registry,
        issuers_hash,
        studies_hash,
    }
}

pub fn is_host_abort<T, E>(result: Result<T, Result<E, soroban_sdk::InvokeError>>) -> bool {
    matches!(result, Err(Err(soroban_sdk::InvokeError::Abort)))
}
