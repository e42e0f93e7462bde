//! Issue 17's contract changes ship as an upgrade through the suite registry: a suite
//! deployed from the previous WASM (checked in under
//! `contracts/registry/src/test/fixtures/v2/`) holds tokens and grants; the study token is
//! upgraded to the current WASM (`contracts/wasm/`) through the registry's `upgrade_member`
//! after its own timelock; everything still reads, and the new functions (emergency access,
//! records requests, re-key, erasure) work on the old tokens.

use std::sync::Arc;
use std::time::Duration;

use medimint_chain::clients::{
    AccessKind, EmergencyReason, IssuerKind, IssuerProfile, IssuerRegistry, Release, Role,
    StudyToken, SuiteRegistry, TokenStatus,
};
use medimint_chain::relayer::{Policy, Relayer, RelayerConfig};
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::scval::arg;
use medimint_chain::{tx, Backoff, Network, Signer};
use medimint_sdk::keys::Keypair;

const OLD_ISSUER_REGISTRY: &[u8] =
    include_bytes!("../../contracts/registry/src/test/fixtures/v2/medimint-issuer-registry.wasm");
const OLD_STUDY_TOKEN: &[u8] =
    include_bytes!("../../contracts/registry/src/test/fixtures/v2/medimint-study-token.wasm");
const OLD_REGISTRY: &[u8] =
    include_bytes!("../../contracts/registry/src/test/fixtures/v2/medimint-registry.wasm");
const NEW_STUDY_TOKEN: &[u8] = include_bytes!("../../contracts/wasm/medimint-study-token.wasm");
/// The members' upgrade delay here, in ledgers.
const DELAY: u32 = 3;

fn release(n: u8) -> Release {
    Release {
        metadata_uri: format!("ipfs://b{}", char::from(b'a' + n).to_string().repeat(58)),
        commitment: [n + 1; 32],
        file_count: 3,
        request_id: None,
    }
}

fn profile(name: &str) -> IssuerProfile {
    IssuerProfile {
        name: name.into(),
        kind: IssuerKind::Hospital,
        jurisdiction: "US-CA".into(),
        evidence: [5; 32],
    }
}

/// The address the registry gives member `name` (salt: SHA-256 of the name's ScVal XDR).
fn member_address(network: &Network, registry: &str, name: &str) -> String {
    use stellar_xdr::{Limits, ScSymbol, WriteXdr};
    let sym = stellar_xdr::ScVal::Symbol(ScSymbol(name.try_into().unwrap()))
        .to_xdr(Limits::none())
        .unwrap();
    tx::contract_address(network, registry, tx::salt(&sym)).unwrap()
}

async fn upload(relayer: &Relayer, admin: &dyn Signer, label: &str, code: &[u8]) -> [u8; 32] {
    relayer
        .submit(
            &format!("upload-{label}"),
            &admin.address(),
            tx::upload_wasm(code).unwrap(),
            &[],
        )
        .await
        .unwrap();
    tx::wasm_hash(code)
}

#[test]
fn an_upgrade_through_the_registry_keeps_tokens_and_grants_and_adds_the_new_functions() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        port: 0,
        ..Default::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(&devnet));
    drop(rt);
    drop(devnet);
}

async fn scenario(devnet: &medimint_devnet::Devnet) {
    let backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        deadline: Duration::from_secs(30),
    };
    let rpc = Arc::new(StellarRpc::new(&devnet.rpc_url(), Duration::from_secs(10)).unwrap());
    let network = Network::new(rpc.network_passphrase().await.unwrap());
    let root = Keypair::from_secret(&devnet.root_keypair().secret()).unwrap();
    let (sponsor, channel) = (Keypair::generate(), Keypair::generate());
    medimint_chain::accounts::ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        root.signing_key(),
        &[sponsor.address(), channel.address()],
        10_000 * 10_000_000,
        backoff,
    )
    .await
    .unwrap();
    let admin = Keypair::generate();
    let (hospital, er, patient, viewer) = (
        Keypair::generate(),
        Keypair::generate(),
        Keypair::generate(),
        Keypair::generate(),
    );
    let registry_id =
        tx::contract_address(&network, &admin.address(), tx::salt(b"registry")).unwrap();
    let issuers_id = member_address(&network, &registry_id, "issuers");
    let studies_id = member_address(&network, &registry_id, "studies");
    let everything = [
        "add_issuer",
        "suspend_issuer",
        "propose_release",
        "approve_release",
        "mint",
        "grant",
        "revoke",
        "record_access",
        "schedule_upgrade",
        "upgrade",
        "emergency_access",
        "revoke_emergency",
        "request_records",
        "fulfill_records_request",
        "rekey",
        "erase",
    ];
    let policy = Policy::new(5_000_000_000, 50_000_000_000)
        .with_deploy()
        .allow(&issuers_id, &everything)
        .allow(&studies_id, &everything)
        .allow(&registry_id, &["deploy", "upgrade_member"]);
    let relayer = Relayer::new(
        rpc.clone(),
        network.clone(),
        Arc::new(sponsor.signing_key().clone()),
        vec![Arc::new(channel.signing_key().clone()) as Arc<dyn Signer>],
        policy,
        RelayerConfig {
            backoff,
            ..RelayerConfig::default()
        },
    )
    .unwrap();
    for who in [&admin, &hospital, &er, &patient, &viewer] {
        relayer
            .create_sponsored_account(&format!("account-{}", who.address()), who.signing_key())
            .await
            .unwrap();
    }
    let a = admin.signing_key();

    // The suite of the previous version: the registry, and its two members deployed by it.
    let reg_hash = upload(&relayer, a, "old-registry", OLD_REGISTRY).await;
    relayer
        .submit(
            "create-registry",
            &admin.address(),
            tx::create_contract(
                &admin.address(),
                reg_hash,
                tx::salt(b"registry"),
                vec![arg::address(&admin.address()).unwrap(), arg::u32(DELAY)],
            )
            .unwrap(),
            &[a],
        )
        .await
        .unwrap();
    let ir_hash = upload(&relayer, a, "old-issuers", OLD_ISSUER_REGISTRY).await;
    let old_hash = upload(&relayer, a, "old-studies", OLD_STUDY_TOKEN).await;
    let reg = SuiteRegistry::new(&relayer, registry_id.clone());
    let admin_arg = || arg::address(&admin.address()).unwrap();
    let (at, _) = reg
        .deploy(
            "d-issuers",
            a,
            "issuers",
            &ir_hash,
            vec![admin_arg(), arg::u32(DELAY)],
        )
        .await
        .unwrap();
    assert_eq!(at, issuers_id);
    let (at, _) = reg
        .deploy(
            "d-studies",
            a,
            "studies",
            &old_hash,
            vec![
                admin_arg(),
                arg::address(&issuers_id).unwrap(),
                arg::string("MediMint Study").unwrap(),
                arg::string("MMS").unwrap(),
                arg::u32(DELAY),
            ],
        )
        .await
        .unwrap();
    assert_eq!(at, studies_id);
    let issuers = IssuerRegistry::new(&relayer, issuers_id.clone());
    let studies = StudyToken::new(&relayer, studies_id.clone());
    issuers
        .add_issuer("add-h", a, &hospital.address(), &profile("General"))
        .await
        .unwrap();
    issuers
        .add_issuer("add-er", a, &er.address(), &profile("Emergency"))
        .await
        .unwrap();

    // Tokens and grants under the old code: one minted, one proposed and approved, one
    // still pending; a Viewer grant with its access record.
    let (minted, _) = studies
        .mint(
            "m1",
            hospital.signing_key(),
            patient.signing_key(),
            &release(1),
        )
        .await
        .unwrap();
    let (approved, _) = studies
        .propose_release(
            "p2",
            hospital.signing_key(),
            &patient.address(),
            &release(2),
        )
        .await
        .unwrap();
    studies
        .approve_release("a2", patient.signing_key(), approved)
        .await
        .unwrap();
    let (pending, _) = studies
        .propose_release(
            "p3",
            hospital.signing_key(),
            &patient.address(),
            &release(3),
        )
        .await
        .unwrap();
    studies
        .grant(
            "g1",
            patient.signing_key(),
            minted,
            &viewer.address(),
            Role::Viewer,
            None,
        )
        .await
        .unwrap();
    studies
        .record_access("r1", viewer.signing_key(), minted, AccessKind::View)
        .await
        .unwrap();
    let before = (
        studies.token(minted).await.unwrap(),
        studies.token(approved).await.unwrap(),
        studies.grants(minted, 0, 50).await.unwrap(),
    );
    // The old code knows none of the new functions.
    assert!(studies
        .emergency_access("e0", er.signing_key(), minted, EmergencyReason::Other, None)
        .await
        .is_err());

    // The upgrade: the new code uploaded, scheduled on the member's timelock, run through
    // the registry once the delay has passed.
    let new_hash = upload(&relayer, a, "new-studies", NEW_STUDY_TOKEN).await;
    assert_ne!(
        new_hash, old_hash,
        "contracts/wasm/ must hold the new study token"
    );
    studies.schedule_upgrade("s", a, &new_hash).await.unwrap();
    devnet.advance_ledgers(DELAY + 1);
    let (version, landed) = reg
        .upgrade_member("u", a, None, "studies", &new_hash)
        .await
        .unwrap();
    assert_eq!(version, 2);
    let names: Vec<String> = landed.events.iter().filter_map(|e| e.name()).collect();
    assert!(names.iter().any(|n| n == "member_upgraded"), "{names:?}");
    assert_eq!(reg.member("studies").await.unwrap().wasm_hash, new_hash);

    // Everything still reads as before.
    assert_eq!(studies.token(minted).await.unwrap(), before.0);
    assert_eq!(studies.token(approved).await.unwrap(), before.1);
    assert_eq!(studies.grants(minted, 0, 50).await.unwrap(), before.2);
    assert_eq!(
        studies.consent_status(pending).await.unwrap().status,
        TokenStatus::Pending
    );
    assert!(studies
        .verify(minted, &release(1).commitment)
        .await
        .unwrap());
    assert_eq!(
        studies
            .access(minted, &viewer.address())
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Viewer
    );
    assert_eq!(
        studies
            .tokens_of(&patient.address(), 0, 50)
            .await
            .unwrap()
            .len(),
        2
    );
    studies
        .record_access("r2", viewer.signing_key(), minted, AccessKind::Download)
        .await
        .unwrap();

    // A grant under the new code is an item of the token's grant list, beside the old one
    // (an entry of its own); revoking the old one moves the new one into its slot.
    let viewer2 = Keypair::generate();
    studies
        .grant(
            "g2",
            patient.signing_key(),
            minted,
            &viewer2.address(),
            Role::Viewer,
            None,
        )
        .await
        .unwrap();
    assert_eq!(studies.grants(minted, 0, 50).await.unwrap().len(), 2);
    studies
        .revoke("v1", patient.signing_key(), minted, &viewer.address())
        .await
        .unwrap();
    let grants = studies.grants(minted, 0, 50).await.unwrap();
    assert_eq!(
        grants
            .iter()
            .map(|g| g.grantee.as_str())
            .collect::<Vec<_>>(),
        [viewer2.address().as_str()]
    );
    assert_eq!(
        studies.access(minted, &viewer.address()).await.unwrap(),
        None
    );

    // The new functions work on the old tokens.
    let (until, _) = studies
        .emergency_access(
            "e1",
            er.signing_key(),
            minted,
            EmergencyReason::Unconscious,
            Some(2),
        )
        .await
        .unwrap();
    let access = studies
        .access(minted, &er.address())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (access.role, access.expires_at),
        (Role::Viewer, Some(until))
    );
    studies
        .record_access("r3", er.signing_key(), minted, AccessKind::View)
        .await
        .unwrap();
    studies
        .revoke_emergency("e2", patient.signing_key(), minted, &er.address())
        .await
        .unwrap();
    assert_eq!(studies.access(minted, &er.address()).await.unwrap(), None);

    let request = [0x5a; 32];
    studies
        .request_records(
            "q1",
            hospital.signing_key(),
            &request,
            Some(&patient.address()),
        )
        .await
        .unwrap();
    studies
        .fulfill_records_request("q2", hospital.signing_key(), &request, approved)
        .await
        .unwrap();
    // Once only.
    assert!(studies
        .fulfill_records_request("q3", hospital.signing_key(), &request, approved)
        .await
        .is_err());

    let new_uri = release(9).metadata_uri;
    studies
        .rekey("k1", patient.signing_key(), minted, &new_uri)
        .await
        .unwrap();
    assert_eq!(studies.token_uri(minted).await.unwrap(), new_uri);
    assert!(studies
        .verify(minted, &release(1).commitment)
        .await
        .unwrap());
    assert!(studies
        .rekey("k2", patient.signing_key(), pending, &new_uri)
        .await
        .is_err());

    studies
        .erase("x1", patient.signing_key(), approved)
        .await
        .unwrap();
    assert_eq!(
        studies.consent_status(approved).await.unwrap().status,
        TokenStatus::Erased
    );
    assert_eq!(
        studies.access(approved, &hospital.address()).await.unwrap(),
        None
    );
    assert_eq!(
        studies.tokens_of(&patient.address(), 0, 50).await.unwrap(),
        vec![minted]
    );
}
