//! Tests of the study token against the native contracts (the issuer registry is the real
//! one, registered beside it).

mod admin;
mod delegation;
mod emergency;
mod erase;
mod governance;
mod grant_storage;
mod hardening;
mod model;
mod owner;
mod pagination;
mod release;
mod requests;
mod roles;
mod signatures;
mod squat;
mod trust;
mod withdraw;

use medimint_issuer_registry::{IssuerKind, IssuerProfile, IssuerRegistry, IssuerRegistryClient};
use soroban_sdk::{
    testutils::{Address as _, EnvTestConfig, Ledger as _},
    Address, BytesN, Env, String,
};

use crate::{Release, Role, StudyToken, StudyTokenClient};

/// An environment that writes no test snapshot, at a realistic ledger and time.
pub fn env() -> Env {
    let env = Env::new_with_config(EnvTestConfig {
        capture_snapshot_at_drop: false,
    });
    env.ledger().set_sequence_number(1_000);
    env.ledger().set_timestamp(1_700_000_000);
    env
}

pub struct Setup<'a> {
    pub env: Env,
    pub admin: Address,
    pub issuer: Address,
    pub patient: Address,
    pub registry: IssuerRegistryClient<'a>,
    pub token: StudyTokenClient<'a>,
}

/// Registry and token registered, one trusted issuer, all auths mocked.
pub fn setup<'a>() -> Setup<'a> {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let issuer = Address::generate(&env);
    let patient = Address::generate(&env);
    let (registry, token) = deploy(&env, &admin);
    registry.add_issuer(&issuer, &profile(&env));
    Setup {
        env,
        admin,
        issuer,
        patient,
        registry,
        token,
    }
}

pub fn deploy<'a>(env: &Env, admin: &Address) -> (IssuerRegistryClient<'a>, StudyTokenClient<'a>) {
    let registry_id = env.register(IssuerRegistry, (admin, None::<u32>));
    let token_id = env.register(
        StudyToken,
        (
            admin,
            &registry_id,
            String::from_str(env, "MediMint Study"),
            String::from_str(env, "MMS"),
            None::<u32>,
        ),
    );
    (
        IssuerRegistryClient::new(env, &registry_id),
        StudyTokenClient::new(env, &token_id),
    )
}

pub fn profile(env: &Env) -> IssuerProfile {
    IssuerProfile {
        name: String::from_str(env, "General Hospital"),
        kind: IssuerKind::Hospital,
        jurisdiction: String::from_str(env, "US-MA"),
        evidence: BytesN::from_array(env, &[9; 32]),
    }
}

/// A CIDv1 (base32, sha2-256 raw) shaped string.
pub const CID: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

/// A valid release whose checksum root is derived from `n`.
pub fn release(env: &Env, n: u8) -> Release {
    Release {
        metadata_uri: String::from_str(env, &std::format!("ipfs://{CID}")),
        commitment: BytesN::from_array(env, &[n; 32]),
        file_count: 12,
        request_id: None,
    }
}

impl Setup<'_> {
    /// Mints release `n` active to the patient.
    pub fn mint(&self, n: u8) -> u32 {
        self.token
            .mint(&self.issuer, &self.patient, &release(&self.env, n))
    }

    /// Grants `role` on `token_id` from the patient to a new address.
    pub fn grantee(&self, token_id: u32, role: Role, expires_at: Option<u64>) -> Address {
        let who = Address::generate(&self.env);
        self.token
            .grant(&self.patient, &token_id, &who, &role, &expires_at);
        who
    }

    pub fn now(&self) -> u64 {
        self.env.ledger().timestamp()
    }
}

/// Whether a call failed in the host rather than with a contract error: the client reports
/// a missing authorization this way.
pub fn is_host_abort<T, E>(result: Result<T, Result<E, soroban_sdk::InvokeError>>) -> bool {
    matches!(result, Err(Err(soroban_sdk::InvokeError::Abort)))
}

/// Replaces auth mocking with a single authorization: `who` for `fn_name(args)` on `contract`.
pub fn only_signer(
    env: &Env,
    who: &Address,
    contract: &Address,
    fn_name: &str,
    args: soroban_sdk::Vec<soroban_sdk::Val>,
) {
    use soroban_sdk::testutils::{MockAuth, MockAuthInvoke};
    env.mock_auths(&[MockAuth {
        address: who,
        invoke: &MockAuthInvoke {
            contract,
            fn_name,
            args,
            sub_invokes: &[],
        },
    }]);
}

/// Calls `contract.fn_name(args)` once for each of `signers`, each authorizing only its
/// own address, and asserts that every call fails (the call needs another's signature).
pub fn refused_for(
    env: &Env,
    signers: &[&Address],
    contract: &Address,
    fn_name: &str,
    args: soroban_sdk::Vec<soroban_sdk::Val>,
) {
    for who in signers {
        only_signer(env, who, contract, fn_name, args.clone());
        let result = env.try_invoke_contract::<soroban_sdk::Val, soroban_sdk::Error>(
            contract,
            &soroban_sdk::Symbol::new(env, fn_name),
            args.clone(),
        );
        assert!(
            result.is_err(),
            "{fn_name} signed by the wrong party succeeded"
        );
    }
    env.mock_all_auths();
}
