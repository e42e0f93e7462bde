//! Runs each operation once on the optimized WASM and keeps its cost estimate.
use std::path::{Path, PathBuf};

use medimint_issuer_registry::{IssuerKind, IssuerProfile, IssuerRegistryClient};
use medimint_study_token::{testutils::account, AccessKind, Release, Role, StudyTokenClient};
use soroban_env_host::{FeeEstimate, InvocationResources};
use soroban_sdk::{
    testutils::{Address as _, EnvTestConfig, Ledger as _},
    Address, BytesN, Env, IntoVal, String,
};

pub const MINT: &str = "mint (one transaction, issuer + patient)";
pub const BASELINE_MINT: &str = "baseline SEP-0050 mint (OZ Base::mint layout)";
pub const SIGNED_MINT: &str = "mint, real signatures (issuer + patient ed25519)";
pub const SIGNED_BASELINE_MINT: &str = "baseline SEP-0050 mint, real signature (ed25519)";
pub const OZ_MINT: &str = "OpenZeppelin stellar-tokens 0.8 Base::mint";
pub const SIGNED_OZ_MINT: &str =
    "OpenZeppelin stellar-tokens 0.8 Base::mint, real signature (ed25519)";

/// The WASM of the two reference mints, in the order they are reported.
pub struct References {
    /// `contracts/nft-baseline`: our SEP-0050 mint with Base::mint's storage layout.
    pub baseline: Vec<u8>,
    /// `contracts/oz-baseline`: OpenZeppelin's `Base::mint` itself.
    pub oz: Vec<u8>,
}

/// One measured operation.
pub struct Row {
    pub name: &'static str,
    pub resources: InvocationResources,
    pub fee: FeeEstimate,
}

impl Row {
    /// Fee without rent: what the operation costs apart from paying for storage lifetime.
    pub fn non_rent_fee(&self) -> i64 {
        self.fee.total - self.rent_fee()
    }

    pub fn rent_fee(&self) -> i64 {
        self.fee.persistent_entry_rent + self.fee.temporary_entry_rent
    }
}

/// `$MEDIMINT_WASM_DIR`, else `target/contracts` under the workspace root.
pub fn wasm_dir() -> PathBuf {
    std::env::var_os("MEDIMINT_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/contracts"))
}

fn read_wasm(dir: &Path, package: &str) -> Result<Vec<u8>, std::string::String> {
    let path = dir.join(format!("{package}.wasm"));
    std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}; run scripts/build-contracts first",
            path.display()
        )
    })
}

fn record(env: &Env, rows: &mut Vec<Row>, name: &'static str) {
    let estimate = env.cost_estimate();
    rows.push(Row {
        name,
        resources: estimate.resources(),
        fee: estimate.fee(),
    });
}

fn release(env: &Env, n: u8) -> Release {
    Release {
        metadata_uri: String::from_str(
            env,
            "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
        ),
        commitment: BytesN::from_array(env, &[n; 32]),
        file_count: 240,
        request_id: None,
    }
}

/// Measures every reported operation. Each runs after one warm-up of the same kind, so
/// the figures are those of a steady state (counters and lists already exist).
pub fn measure_all(dir: &Path) -> Result<Vec<Row>, std::string::String> {
    let registry_wasm = read_wasm(dir, "medimint-issuer-registry")?;
    let token_wasm = read_wasm(dir, "medimint-study-token")?;
    let refs = References {
        baseline: read_wasm(dir, "medimint-nft-baseline")?,
        oz: read_wasm(dir, "medimint-oz-baseline")?,
    };

    let env = Env::new_with_config(EnvTestConfig {
        capture_snapshot_at_drop: false,
    });
    env.ledger().set_sequence_number(1_000_000);
    env.ledger().set_timestamp(1_750_000_000);
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let registry_id = env.register(registry_wasm.as_slice(), (&admin, None::<u32>));
    let registry = IssuerRegistryClient::new(&env, &registry_id);
    let token_id = env.register(
        token_wasm.as_slice(),
        (
            &admin,
            &registry_id,
            String::from_str(&env, "MediMint Study"),
            String::from_str(&env, "MMS"),
            None::<u32>,
        ),
    );
    let token = StudyTokenClient::new(&env, &token_id);
    let profile = IssuerProfile {
        name: String::from_str(&env, "General Hospital Radiology"),
        kind: IssuerKind::Hospital,
        jurisdiction: String::from_str(&env, "US-MA"),
        evidence: BytesN::from_array(&env, &[7; 32]),
    };
    let mut rows = Vec::new();

    let warmup_issuer = Address::generate(&env);
    registry.add_issuer(&warmup_issuer, &profile);
    let issuer = Address::generate(&env);
    registry.add_issuer(&issuer, &profile);
    record(&env, &mut rows, "add_issuer");

    let patient = Address::generate(&env);
    token.propose_release(&issuer, &patient, &release(&env, 1));
    let pending = token.propose_release(&issuer, &patient, &release(&env, 2));
    record(&env, &mut rows, "propose_release");

    token.approve_release(&patient, &pending);
    record(&env, &mut rows, "approve_release");

    token.mint(&issuer, &patient, &release(&env, 3));
    let id = token.mint(&issuer, &patient, &release(&env, 4));
    record(&env, &mut rows, MINT);

    let viewer = Address::generate(&env);
    token.grant(
        &patient,
        &id,
        &Address::generate(&env),
        &Role::Viewer,
        &None,
    );
    token.grant(
        &patient,
        &id,
        &viewer,
        &Role::Viewer,
        &Some(1_750_000_000 + 86_400 * 30),
    );
    record(&env, &mut rows, "grant");

    token.record_access(&viewer, &id, &AccessKind::Download);
    record(&env, &mut rows, "record_access");

    // The checks the security work added, each on its own branch: the issuer's access asks
    // the issuer registry (one cross-contract call); a Sharer's grantee's access reads the
    // Sharer's grant too.
    token.record_access(&issuer, &id, &AccessKind::Download);
    record(&env, &mut rows, "record_access by the issuer (trust check)");
    let sharer = Address::generate(&env);
    token.grant(&patient, &id, &sharer, &Role::Sharer, &None);
    let sub = Address::generate(&env);
    token.grant(&sharer, &id, &sub, &Role::Viewer, &None);
    token.record_access(&sub, &id, &AccessKind::Download);
    record(
        &env,
        &mut rows,
        "record_access under a Sharer's grant (granter check)",
    );

    let withdrawn = token.propose_release(&issuer, &patient, &release(&env, 5));
    token.withdraw_release(&issuer, &withdrawn);
    record(&env, &mut rows, "withdraw_release");

    let other = Address::generate(&env);
    token.grant(&patient, &id, &other, &Role::Viewer, &None);
    token.revoke(&patient, &id, &other);
    record(&env, &mut rows, "revoke");

    let new_key = Address::generate(&env);
    token.rotate_owner(&id, &patient, &new_key);
    record(&env, &mut rows, "rotate_owner");

    // Two days later the entries' TTL fell below the threshold: a read extends them.
    env.ledger().set_sequence_number(1_000_000 + 2 * 17_280);
    token.record_access(&viewer, &id, &AccessKind::View);
    record(
        &env,
        &mut rows,
        "record_access 2 days later (TTL extension)",
    );

    for (wasm, name) in [(&refs.baseline, BASELINE_MINT), (&refs.oz, OZ_MINT)] {
        let id = env.register(wasm.as_slice(), ());
        let reference = reference::Client::new(&env, &id);
        let to = Address::generate(&env);
        reference.mint(&to);
        reference.mint(&to);
        record(&env, &mut rows, name);
    }

    measure_signed(&registry_wasm, &token_wasm, &refs, &mut rows);
    Ok(rows)
}

/// The signed paths again, with real authorization instead of mocking: G-accounts with
/// ed25519 keys in the ledger and signed `SorobanAuthorizationEntry`s, so each signer
/// costs its account read, signature verification and nonce write as on the network.
fn measure_signed(registry_wasm: &[u8], token_wasm: &[u8], refs: &References, rows: &mut Vec<Row>) {
    let env = Env::new_with_config(EnvTestConfig {
        capture_snapshot_at_drop: false,
    });
    env.ledger().set_sequence_number(1_000_000);
    env.ledger().set_timestamp(1_750_000_000);
    let issuer = account(&env, 1);
    let patient = account(&env, 2);
    let receiver = account(&env, 3);
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let registry_id = env.register(registry_wasm, (&admin, None::<u32>));
    let registry = IssuerRegistryClient::new(&env, &registry_id);
    let token_id = env.register(
        token_wasm,
        (
            &admin,
            &registry_id,
            String::from_str(&env, "MediMint Study"),
            String::from_str(&env, "MMS"),
            None::<u32>,
        ),
    );
    let token = StudyTokenClient::new(&env, &token_id);
    registry.add_issuer(
        &issuer.address,
        &IssuerProfile {
            name: String::from_str(&env, "General Hospital Radiology"),
            kind: IssuerKind::Hospital,
            jurisdiction: String::from_str(&env, "US-MA"),
            evidence: BytesN::from_array(&env, &[7; 32]),
        },
    );
    let (i, p) = (&issuer.address, &patient.address);
    let exp = env.ledger().sequence() + 100;
    let mut nonce = 0i64;
    let mut next = || {
        nonce += 1;
        nonce
    };

    // Warm-up of each kind with mocked authorization, then the measured call signed.
    token.propose_release(i, p, &release(&env, 1));
    let r = release(&env, 2);
    let args = (i, p, r.clone()).into_val(&env);
    env.set_auths(&[issuer.authorize(&env, next(), exp, &token_id, "propose_release", args)]);
    let pending = token.propose_release(i, p, &r);
    record(
        &env,
        rows,
        "propose_release, real signature (issuer ed25519)",
    );

    let args = (p, pending).into_val(&env);
    env.set_auths(&[patient.authorize(&env, next(), exp, &token_id, "approve_release", args)]);
    token.approve_release(p, &pending);
    record(
        &env,
        rows,
        "approve_release, real signature (patient ed25519)",
    );

    env.mock_all_auths();
    token.mint(i, p, &release(&env, 3));
    let r = release(&env, 4);
    let args = || (i, p, r.clone()).into_val(&env);
    env.set_auths(&[
        issuer.authorize(&env, next(), exp, &token_id, "mint", args()),
        patient.authorize(&env, next(), exp, &token_id, "mint", args()),
    ]);
    token.mint(i, p, &r);
    record(&env, rows, SIGNED_MINT);

    let to = &receiver.address;
    for (wasm, name) in [
        (&refs.baseline, SIGNED_BASELINE_MINT),
        (&refs.oz, SIGNED_OZ_MINT),
    ] {
        env.mock_all_auths();
        let id = env.register(wasm.as_slice(), ());
        let reference = reference::Client::new(&env, &id);
        reference.mint(to);
        let args = (to,).into_val(&env);
        env.set_auths(&[receiver.authorize(&env, next(), exp, &id, "mint", args)]);
        reference.mint(to);
        record(&env, rows, name);
    }
}

mod reference {
    use soroban_sdk::{contractclient, Address, Env};

    /// The reference mints' shared interface, declared here so this binary needs only
    /// their WASM.
    #[contractclient(name = "Client")]
    #[allow(dead_code)]
    pub trait Reference {
        fn mint(env: Env, to: Address) -> u32;
    }
}
