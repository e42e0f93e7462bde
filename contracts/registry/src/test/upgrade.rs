//! The upgrade of a deployed suite holding tokens and grants, from the first version's WASM
//! (checked in under `fixtures/v0`, the bytes of `contracts/wasm` before the security work)
//! through the issue-14 version (`fixtures/v1`, whose `migrate` converts the records) to the
//! current one, then through the new timelock; afterwards everything reads, the
//! tokens carry commitments instead of raw roots, and the new rules hold.
use medimint_issuer_registry::IssuerRegistryClient;
use medimint_study_token::{
    AccessKind, RejectReason, Release, Role, StudyTokenClient, StudyTokenError as E, TokenStatus,
    Upgraded, DEFAULT_UPGRADE_DELAY,
};
use soroban_sdk::{
    contracttype, testutils::Address as _, testutils::Events as _, testutils::Ledger as _, Address,
    BytesN, Env, Event as _, IntoVal, String, Symbol, Val,
};

use super::{env, wasm};
use crate::SuiteRegistryClient;

const V0_REGISTRY: &[u8] = include_bytes!("fixtures/v0/medimint-registry.wasm");
const V0_ISSUERS: &[u8] = include_bytes!("fixtures/v0/medimint-issuer-registry.wasm");
const V0_STUDIES: &[u8] = include_bytes!("fixtures/v0/medimint-study-token.wasm");

/// The first version's `Release` (a raw checksum root).
#[contracttype]
#[derive(Clone)]
struct V0Release {
    metadata_uri: String,
    checksum_root: BytesN<32>,
    file_count: u32,
    request_id: Option<BytesN<16>>,
}

fn v0_release(env: &Env, n: u8) -> V0Release {
    V0Release {
        metadata_uri: String::from_str(
            env,
            "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
        ),
        checksum_root: BytesN::from_array(env, &[n; 32]),
        file_count: 3,
        request_id: None,
    }
}

fn commitment(env: &Env, n: u8) -> BytesN<32> {
    BytesN::from_array(env, &[0x80 | n; 32])
}

fn call<T: soroban_sdk::TryFromVal<Env, soroban_sdk::Val>>(
    env: &Env,
    contract: &Address,
    f: &str,
    args: soroban_sdk::Vec<soroban_sdk::Val>,
) -> T {
    env.invoke_contract(contract, &Symbol::new(env, f), args)
}

#[test]
fn a_live_first_version_suite_upgrades_through_the_timelock_and_keeps_its_tokens() {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let (issuer, patient, sharer, sub, direct) = (
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
    );

    // The first version, deployed as it is live today.
    let registry = SuiteRegistryClient::new(&env, &env.register(V0_REGISTRY, (&admin,)));
    let v0_issuers = env.deployer().upload_contract_wasm(V0_ISSUERS);
    let v0_studies = env.deployer().upload_contract_wasm(V0_STUDIES);
    let issuers_name = Symbol::new(&env, "issuers");
    let studies_name = Symbol::new(&env, "studies");
    let issuers_id = registry.deploy(&issuers_name, &v0_issuers, &(&admin,).into_val(&env));
    let studies_id = registry.deploy(
        &studies_name,
        &v0_studies,
        &(
            &admin,
            &issuers_id,
            String::from_str(&env, "MediMint Study"),
            String::from_str(&env, "MMS"),
        )
            .into_val(&env),
    );
    let issuers = IssuerRegistryClient::new(&env, &issuers_id);
    issuers.add_issuer(
        &issuer,
        &medimint_issuer_registry::IssuerProfile {
            name: String::from_str(&env, "General Hospital"),
            kind: medimint_issuer_registry::IssuerKind::Hospital,
            jurisdiction: String::from_str(&env, "US-MA"),
            evidence: BytesN::from_array(&env, &[9; 32]),
        },
    );
    let active: u32 = call(
        &env,
        &studies_id,
        "mint",
        (&issuer, &patient, v0_release(&env, 1)).into_val(&env),
    );
    let pending: u32 = call(
        &env,
        &studies_id,
        "propose_release",
        (&issuer, &patient, v0_release(&env, 2)).into_val(&env),
    );
    let rejected: u32 = call(
        &env,
        &studies_id,
        "propose_release",
        (&issuer, &patient, v0_release(&env, 3)).into_val(&env),
    );
    let _: () = call(
        &env,
        &studies_id,
        "reject_release",
        (&patient, rejected, RejectReason::NotMine).into_val(&env),
    );
    let grant = |granter: &Address, grantee: &Address, role: Role| {
        let _: () = call(
            &env,
            &studies_id,
            "grant",
            (granter, active, grantee, role, None::<u64>).into_val(&env),
        );
    };
    grant(&patient, &sharer, Role::Sharer);
    grant(&sharer, &sub, Role::Viewer);
    grant(&patient, &direct, Role::Viewer);
    // The first version's ids come from the root: 0x01010101 for root [1; 32].
    assert_eq!(active, 0x0101_0101);

    // The upgrade: the first version's `upgrade` is immediate (the last one that is).
    let issuers_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-issuer-registry").as_slice());
    let studies_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-study-token").as_slice());
    let registry_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-registry").as_slice());
    registry.upgrade_member(&issuers_name, &issuers_hash);
    // The study token goes through the issue-14 version (fixtures/v1), whose `migrate`
    // converts the first version's records; the current one no longer carries it.
    let v1_hash = env.deployer().upload_contract_wasm(V1_STUDIES);
    registry.upgrade_member(&studies_name, &v1_hash);
    let _: () = call(
        &env,
        &registry.address,
        "upgrade",
        (&registry_hash,).into_val(&env),
    );
    // Until migrated, an old token says so instead of failing to decode.
    let old = env.try_invoke_contract::<Val, soroban_sdk::Error>(
        &studies_id,
        &Symbol::new(&env, "token"),
        (active,).into_val(&env),
    );
    assert_eq!(
        old.err(),
        Some(Ok(soroban_sdk::Error::from_contract_error(
            E::NotMigrated as u32
        )))
    );
    // The issuer registry needs no migration: its records and first-version slots read.
    assert!(issuers.is_trusted(&issuer));
    assert_eq!(
        issuers
            .issuers(&0, &medimint_issuer_registry::MAX_PAGE)
            .get_unchecked(0)
            .address,
        issuer
    );
    // The platform computes each old token's commitment from its root and migrates.
    let migrated: u32 = call(
        &env,
        &studies_id,
        "migrate",
        (soroban_sdk::vec![
            &env,
            (active, commitment(&env, 1)),
            (pending, commitment(&env, 2)),
            (rejected, commitment(&env, 3)),
        ],)
            .into_val(&env),
    );
    assert_eq!(migrated, 3);
    // Then the current version, through the timelock the first hop installed (48 hours).
    let _: Val = call(
        &env,
        &studies_id,
        "schedule_upgrade",
        (&studies_hash,).into_val(&env),
    );
    let seq = env.ledger().sequence();
    env.ledger().set_sequence_number(seq + 2 * 17_280 + 1);
    registry.upgrade_member(&studies_name, &studies_hash);
    let studies = StudyTokenClient::new(&env, &studies_id);

    // Everything reads, and no raw root is left.
    let t = studies.token(&active);
    assert_eq!(t.release.commitment, commitment(&env, 1));
    assert_eq!(
        (t.owner.clone(), t.issuer.clone()),
        (patient.clone(), issuer.clone())
    );
    assert!(studies.verify(&active, &commitment(&env, 1)));
    assert!(!studies.verify(&active, &BytesN::from_array(&env, &[1; 32])));
    assert_eq!(
        studies.token_of_commitment(&commitment(&env, 1)),
        Some(active)
    );
    assert_eq!(
        studies.token_of_commitment(&commitment(&env, 2)),
        Some(pending)
    );
    assert_eq!(studies.token_of_commitment(&commitment(&env, 3)), None);
    assert_eq!(
        studies.consent_status(&rejected).status,
        TokenStatus::Rejected
    );
    assert_eq!(studies.owner_of(&active), patient);
    assert_eq!(studies.tokens_of(&patient, &0, &10).len(), 1);
    assert_eq!(studies.pending_of(&patient, &0, &10).len(), 1);
    let grants = studies.grants(&active, &0, &10);
    assert_eq!(
        grants
            .iter()
            .map(|g| (g.grantee, g.by_owner))
            .collect::<std::vec::Vec<_>>(),
        std::vec![
            (sharer.clone(), true),
            (sub.clone(), false),
            (direct.clone(), true)
        ]
    );
    for who in [&patient, &sharer, &sub, &direct, &issuer] {
        assert!(studies.access(&active, who).is_some());
    }

    // The rules hold on the migrated tokens.
    studies.revoke(&patient, &active, &sharer);
    assert_eq!(studies.access(&active, &sub), None);
    assert!(studies.access(&active, &direct).is_some());
    issuers.suspend_issuer(&issuer);
    assert_eq!(studies.access(&active, &issuer), None);
    assert_eq!(
        studies.try_approve_release(&patient, &pending),
        Err(Ok(E::IssuerNotTrusted))
    );
    issuers.reinstate_issuer(&issuer);
    studies.record_access(&issuer, &active, &AccessKind::Download);
    studies.withdraw_release(&issuer, &pending);
    assert_eq!(studies.token_of_commitment(&commitment(&env, 2)), None);
    // New ids come from the counter and never collide with the old root-derived ones.
    let fresh = studies.mint(
        &issuer,
        &patient,
        &Release {
            metadata_uri: v0_release(&env, 2).metadata_uri,
            commitment: commitment(&env, 2),
            file_count: 3,
            request_id: None,
        },
    );
    assert_eq!(fresh, 1);

    // From now on upgrades wait for the timelock (48 hours unless set at deployment), and
    // the registry's record follows the code the member runs.
    assert_eq!(studies.upgrade_delay(), DEFAULT_UPGRADE_DELAY);
    let member = registry.member(&studies_name);
    assert_eq!(
        (member.wasm_hash.clone(), member.version),
        (studies_hash.clone(), 3)
    );
    assert!(registry
        .try_upgrade_member(&studies_name, &studies_hash)
        .is_err());
    studies.schedule_upgrade(&studies_hash);
    env.ledger()
        .set_sequence_number(env.ledger().sequence() + DEFAULT_UPGRADE_DELAY);
    assert_eq!(registry.upgrade_member(&studies_name, &studies_hash), 4);
    let upgraded = env.events().all().filter_by_contract(&studies_id);
    assert_eq!(
        upgraded,
        std::vec![Upgraded {
            old_wasm_hash: Some(studies_hash.clone()),
            wasm_hash: studies_hash.clone()
        }
        .to_xdr(&env, &studies_id)]
    );
    assert_eq!(studies.owner_of(&active), patient);
    assert_eq!(studies.owner_of(&fresh), patient);
}

#[test]
fn a_direct_member_upgrade_cannot_make_the_record_drift() {
    let s = super::suite();
    let name = Symbol::new(&s.env, "issuers");
    // The member upgraded without the registry (its own admin, its own timelock).
    let old = s.env.deployer().upload_contract_wasm(V0_ISSUERS);
    s.issuers.schedule_upgrade(&old);
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + super::UPGRADE_DELAY);
    s.issuers.upgrade(&old);
    assert_eq!(s.registry.member(&name).wasm_hash, old);
    assert_eq!(s.registry.members(&0, &10).get_unchecked(0).wasm_hash, old);
}

const V1_ISSUERS: &[u8] = include_bytes!("fixtures/v1/medimint-issuer-registry.wasm");
const V1_STUDIES: &[u8] = include_bytes!("fixtures/v1/medimint-study-token.wasm");

#[test]
fn an_issue_14_suite_upgrades_and_its_records_read_until_rewritten_packed() {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let (issuer, patient, sharer, sub, viewer, new_key) = (
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
        Address::generate(&env),
    );
    // The security work's version (token and grant records as named maps), deployed through
    // the suite registry with a short timelock.
    let delay = 10u32;
    let registry = SuiteRegistryClient::new(
        &env,
        &env.register(crate::SuiteRegistry, (&admin, None::<u32>)),
    );
    let (issuers_name, studies_name) = (Symbol::new(&env, "issuers"), Symbol::new(&env, "studies"));
    let v1_issuers = env.deployer().upload_contract_wasm(V1_ISSUERS);
    let v1_studies = env.deployer().upload_contract_wasm(V1_STUDIES);
    let issuers_id = registry.deploy(
        &issuers_name,
        &v1_issuers,
        &(&admin, Some(delay)).into_val(&env),
    );
    let studies_id = registry.deploy(
        &studies_name,
        &v1_studies,
        &(
            &admin,
            &issuers_id,
            String::from_str(&env, "MediMint Study"),
            String::from_str(&env, "MMS"),
            Some(delay),
        )
            .into_val(&env),
    );
    let issuers = IssuerRegistryClient::new(&env, &issuers_id);
    let studies = StudyTokenClient::new(&env, &studies_id);
    issuers.add_issuer(
        &issuer,
        &medimint_issuer_registry::IssuerProfile {
            name: String::from_str(&env, "General Hospital"),
            kind: medimint_issuer_registry::IssuerKind::Hospital,
            jurisdiction: String::from_str(&env, "US-MA"),
            evidence: BytesN::from_array(&env, &[9; 32]),
        },
    );
    let release = |n: u8| Release {
        metadata_uri: v0_release(&env, n).metadata_uri,
        commitment: commitment(&env, n),
        file_count: 240,
        request_id: Some(BytesN::from_array(&env, &[n; 16])),
    };
    let active = studies.mint(&issuer, &patient, &release(1));
    let pending = studies.propose_release(&issuer, &patient, &release(2));
    studies.grant(&patient, &active, &sharer, &Role::Sharer, &None);
    studies.grant(&sharer, &active, &sub, &Role::Viewer, &Some(1_800_000_000));
    studies.grant(&patient, &active, &viewer, &Role::Viewer, &None);
    let (active_before, pending_before) = (studies.token(&active), studies.token(&pending));
    let grants_before = studies.grants(&active, &0, &10);

    // The upgrade, through both members' timelocks.
    let issuers_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-issuer-registry").as_slice());
    let studies_hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-study-token").as_slice());
    issuers.schedule_upgrade(&issuers_hash);
    studies.schedule_upgrade(&studies_hash);
    env.ledger()
        .set_sequence_number(env.ledger().sequence() + delay);
    registry.upgrade_member(&issuers_name, &issuers_hash);
    registry.upgrade_member(&studies_name, &studies_hash);

    // The map records read as they were, with no migration.
    assert_eq!(studies.token(&active), active_before);
    assert_eq!(studies.token(&pending), pending_before);
    assert_eq!(studies.grants(&active, &0, &10), grants_before);
    for who in [&patient, &sharer, &sub, &viewer, &issuer] {
        assert!(studies.access(&active, who).is_some());
    }
    assert!(studies.verify(&active, &commitment(&env, 1)));
    assert_eq!(
        studies.token_of_commitment(&commitment(&env, 2)),
        Some(pending)
    );

    // Each change rewrites its record in the packed form, which reads the same.
    studies.approve_release(&patient, &pending);
    let approved = studies.token(&pending);
    assert_eq!(approved.status, TokenStatus::Active);
    assert_eq!(approved.release, pending_before.release);
    assert_eq!(approved.consent_by, patient);
    assert_eq!(
        (
            approved.minted_ledger,
            approved.minted_at,
            approved.pending_until
        ),
        (
            pending_before.minted_ledger,
            pending_before.minted_at,
            pending_before.pending_until
        )
    );
    studies.grant(
        &patient,
        &active,
        &viewer,
        &Role::Sharer,
        &Some(1_900_000_000),
    );
    let regranted = studies.access(&active, &viewer).unwrap();
    assert_eq!(
        (regranted.role, regranted.expires_at),
        (Role::Sharer, Some(1_900_000_000))
    );
    studies.rotate_owner(&active, &patient, &new_key);
    let rotated = studies.token(&active);
    assert_eq!(rotated.owner, new_key);
    assert_eq!(rotated.release, active_before.release);
    assert_eq!(rotated.consent_by, active_before.consent_by);
    // The rules hold across both forms: revoking the Sharer (a map grant) cuts its Viewer.
    studies.revoke(&new_key, &active, &sharer);
    assert_eq!(studies.access(&active, &sub), None);
    studies.record_access(&viewer, &active, &AccessKind::View);
    assert_eq!(studies.tokens_of(&new_key, &0, &10).len(), 1);
    assert_eq!(
        studies.tokens_of(&patient, &0, &10).get_unchecked(0),
        pending
    );
}
