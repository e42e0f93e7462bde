//! Every typed client function added for the admin transfer, upgrades, the SEP-0050 reads,
//! key rotation, the pending window and the suite registry, against the real contracts on
//! the devnet — each write sponsored, each admin function also tried with a wrong signer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use medimint_chain::clients::{
    contract_error, AccessKind, IssuerKind, IssuerProfile, IssuerRecord, IssuerRegistry, Member,
    PendingAdmin, RejectReason, Release, Role, StudyToken, SuiteRegistry, TokenStatus,
    ISSUERS_PAGE,
};
use medimint_chain::relayer::{Policy, Relayer, RelayerConfig};
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::scval::arg;
use medimint_chain::tx;
use medimint_chain::{Backoff, Error, Result, Signer};
use support::deploy::{deploy, funded_operators, Operators};

const NAME: &str = "MediMint Study";
const SYMBOL: &str = "MMS";
const ISSUER_REGISTRY: &str = "medimint-issuer-registry";
const STUDY_TOKEN: &str = "medimint-study-token";
const SUITE_REGISTRY: &str = "medimint-registry";
/// The upgrade delay every contract is deployed with here, in ledgers.
const UPGRADE_DELAY: u32 = 3;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A call that the contract refused with its error `#code`, named `name` in the message.
fn assert_contract_error<T: std::fmt::Debug>(result: Result<T>, code: u32, name: &str) {
    match result {
        Err(e @ Error::Simulation(_)) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("Error(Contract, #{code})"))
                    && text.contains(&format!("({name})")),
                "expected contract error #{code} ({name}), got {text}"
            );
            assert_eq!(contract_error(&e), Some((code, name)), "{text}");
        }
        other => panic!("expected contract error #{code} ({name}), got {other:?}"),
    }
}

/// A write refused before anything was sent because `address` (the admin) did not sign.
fn assert_missing_signer<T: std::fmt::Debug>(result: Result<T>, address: &str) {
    match result {
        Err(e @ Error::MissingSigner(_)) => {
            assert!(matches!(&e, Error::MissingSigner(a) if a == address), "{e}");
            assert!(e.to_string().contains(address), "{e}");
        }
        other => panic!("expected MissingSigner({address}), got {other:?}"),
    }
}

/// The devnet, the three contracts deployed with their constructors and uploaded code, and a
/// relayer whose policy allows every function of each.
struct Suite {
    rpc: Arc<StellarRpc>,
    relayer: Relayer,
    admin: SigningKey,
    issuers: String,
    studies: String,
    registry: String,
    hashes: [(&'static str, [u8; 32]); 3],
}

impl Suite {
    fn hash(&self, package: &str) -> [u8; 32] {
        self.hashes
            .iter()
            .find(|(p, _)| *p == package)
            .map(|(_, h)| *h)
            .unwrap()
    }

    async fn latest_ledger(&self) -> u32 {
        self.rpc.latest_ledger().await.unwrap()
    }
}

async fn suite(devnet: &medimint_devnet::Devnet, users: &[&SigningKey]) -> Suite {
    let backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        deadline: Duration::from_secs(30),
    };
    let Operators {
        rpc,
        network,
        sponsor,
        channel,
    } = funded_operators(devnet, 220, 221, backoff).await;
    let admin = key(1);
    let id = |label: &str| {
        tx::contract_address(&network, &admin.address(), tx::salt(label.as_bytes())).unwrap()
    };
    let (issuers, studies, registry) = (id("issuers"), id("studies"), id("registry"));
    // The issuer registry the suite registry deploys as its member "issuers" (salt: SHA-256
    // of the name's ScVal XDR, deployer: the registry), whose timelock the tests schedule.
    let registry_member = {
        use stellar_xdr::{Limits, ScSymbol, WriteXdr};
        let name = stellar_xdr::ScVal::Symbol(ScSymbol("issuers".try_into().unwrap()))
            .to_xdr(Limits::none())
            .unwrap();
        tx::contract_address(&network, &registry, tx::salt(&name)).unwrap()
    };
    let policy = Policy::new(5_000_000_000, 50_000_000_000)
        .with_deploy()
        .allow(
            &issuers,
            &[
                "add_issuer",
                "issuers",
                "suspend_issuer",
                "reinstate_issuer",
                "propose_admin",
                "cancel_admin",
                "accept_admin",
                "schedule_upgrade",
                "cancel_upgrade",
                "upgrade",
            ],
        )
        .allow(
            &studies,
            &[
                "propose_release",
                "approve_release",
                "reject_release",
                "mint",
                "grant",
                "rotate_owner",
                "set_pending_window",
                "set_pending_cap",
                "withdraw_release",
                "revoke",
                "record_access",
                "pause",
                "unpause",
                "clear_commitment",
                "propose_admin",
                "cancel_admin",
                "accept_admin",
                "schedule_upgrade",
                "cancel_upgrade",
                "upgrade",
            ],
        )
        .allow(&registry_member, &["schedule_upgrade"])
        .allow(
            &registry,
            &[
                "deploy",
                "upgrade_member",
                "propose_admin",
                "cancel_admin",
                "accept_admin",
                "schedule_upgrade",
                "cancel_upgrade",
                "upgrade",
            ],
        );
    let config = RelayerConfig {
        backoff,
        ..RelayerConfig::default()
    };
    let relayer = Relayer::new(
        rpc.clone(),
        network.clone(),
        sponsor,
        vec![channel as Arc<dyn Signer>],
        policy,
        config,
    )
    .unwrap();
    for who in std::iter::once(&admin).chain(users.iter().copied()) {
        relayer
            .create_sponsored_account(&format!("account-{}", who.address()), who)
            .await
            .unwrap();
    }
    let mut hashes = [(ISSUER_REGISTRY, [0; 32]); 3];
    for (slot, (package, label, args)) in hashes.iter_mut().zip([
        (
            ISSUER_REGISTRY,
            "issuers",
            vec![
                arg::address(&admin.address()).unwrap(),
                arg::u32(UPGRADE_DELAY),
            ],
        ),
        (
            STUDY_TOKEN,
            "studies",
            vec![
                arg::address(&admin.address()).unwrap(),
                arg::address(&issuers).unwrap(),
                arg::string(NAME).unwrap(),
                arg::string(SYMBOL).unwrap(),
                arg::u32(UPGRADE_DELAY),
            ],
        ),
        (
            SUITE_REGISTRY,
            "registry",
            vec![
                arg::address(&admin.address()).unwrap(),
                arg::u32(UPGRADE_DELAY),
            ],
        ),
    ]) {
        *slot = (
            package,
            deploy(&relayer, &admin, package, label, args).await,
        );
    }
    Suite {
        rpc,
        relayer,
        admin,
        issuers,
        studies,
        registry,
        hashes,
    }
}

fn run(f: impl FnOnce(&medimint_devnet::Devnet, &tokio::runtime::Runtime)) {
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
    f(&devnet, &rt);
    drop(rt);
    drop(devnet);
}

fn profile(name: &str, evidence: u8) -> IssuerProfile {
    IssuerProfile {
        name: name.into(),
        kind: IssuerKind::Hospital,
        jurisdiction: "US-CA".into(),
        evidence: [evidence; 32],
    }
}

fn release(root: u8) -> Release {
    Release {
        metadata_uri: format!(
            "ipfs://b{}",
            char::from(b'a' + root % 26).to_string().repeat(58)
        ),
        commitment: [root; 32],
        file_count: 2,
        request_id: None,
    }
}

#[test]
fn issuer_registry_admin_transfer_upgrade_and_profile() {
    let (new_admin, stranger, issuer) = (key(2), key(3), key(4));
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(devnet, &[&new_admin, &stranger, &issuer]).await;
            let reg = IssuerRegistry::new(&s.relayer, s.issuers.clone());
            assert_eq!(reg.admin().await.unwrap(), s.admin.address());
            assert_eq!(reg.pending_admin().await.unwrap(), None);

            // The issuer's record carries the whole profile, evidence commitment included.
            reg.add_issuer("add", &s.admin, &issuer.address(), &profile("General", 9))
                .await
                .unwrap();
            let record = reg.issuer(&issuer.address()).await.unwrap();
            assert_eq!(record.evidence, [9; 32]);
            assert_eq!(record.name, "General");

            // propose_admin: a stranger's signature is not the admin's; an expiry that is not
            // in the future is InvalidExpiry.
            let latest = s.latest_ledger().await;
            assert_missing_signer(
                reg.propose_admin("p-bad", &stranger, &stranger.address(), latest + 100)
                    .await,
                &s.admin.address(),
            );
            assert_contract_error(
                reg.propose_admin("p-past", &s.admin, &new_admin.address(), latest)
                    .await,
                108,
                "InvalidExpiry",
            );
            // accept_admin with nothing pending.
            assert_contract_error(
                reg.accept_admin("a-none", &new_admin).await,
                106,
                "NoPendingAdmin",
            );

            // An expired proposal cannot be accepted.
            let latest = s.latest_ledger().await;
            reg.propose_admin("p-short", &s.admin, &stranger.address(), latest + 2)
                .await
                .unwrap();
            devnet.advance_ledgers(10);
            // Past its deadline the proposal is gone (its temporary entry may already have
            // expired) or refused as expired.
            let late = reg.accept_admin("a-late", &stranger).await.unwrap_err();
            assert!(
                matches!(contract_error(&late), Some((106 | 107, _))),
                "{late}"
            );
            assert_eq!(reg.pending_admin().await.unwrap(), None);
            // A proposal can be cancelled by the admin only.
            let latest = s.latest_ledger().await;
            reg.propose_admin("p-c", &s.admin, &stranger.address(), latest + 100)
                .await
                .unwrap();
            assert_missing_signer(
                reg.cancel_admin("c-bad", &stranger).await,
                &s.admin.address(),
            );
            reg.cancel_admin("c", &s.admin).await.unwrap();
            assert_eq!(reg.pending_admin().await.unwrap(), None);

            // A new proposal replaces it; only the proposed admin can accept.
            let until = s.latest_ledger().await + 500;
            let landed = reg
                .propose_admin("p", &s.admin, &new_admin.address(), until)
                .await
                .unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("admin_proposed")));
            assert_eq!(
                reg.pending_admin().await.unwrap(),
                Some(PendingAdmin {
                    admin: new_admin.address(),
                    live_until_ledger: until
                })
            );
            assert_missing_signer(
                reg.accept_admin("a-bad", &stranger).await,
                &new_admin.address(),
            );
            let landed = reg.accept_admin("a", &new_admin).await.unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("admin_changed")));
            assert_eq!(reg.admin().await.unwrap(), new_admin.address());
            assert_eq!(reg.pending_admin().await.unwrap(), None);
            // The old admin lost its powers.
            assert_missing_signer(
                reg.add_issuer("add-old", &s.admin, &stranger.address(), &profile("X", 1))
                    .await,
                &new_admin.address(),
            );

            // upgrade, through the timelock: the old admin is refused; an unscheduled hash
            // fails; a scheduled one waits for the delay; then the uploaded code (the same
            // WASM) is accepted and the contract keeps its state.
            let hash = s.hash(ISSUER_REGISTRY);
            assert_eq!(reg.upgrade_delay().await.unwrap(), UPGRADE_DELAY);
            assert_missing_signer(
                reg.schedule_upgrade("s-bad", &s.admin, &hash).await,
                &new_admin.address(),
            );
            assert_contract_error(
                reg.upgrade("u-unknown", &new_admin, &[1; 32]).await,
                112,
                "NoScheduledUpgrade",
            );
            let (plan, _) = reg.schedule_upgrade("s", &new_admin, &hash).await.unwrap();
            assert_eq!(plan.wasm_hash, hash);
            assert_eq!(reg.scheduled_upgrade().await.unwrap(), Some(plan.clone()));
            reg.cancel_upgrade("c-up", &new_admin).await.unwrap();
            assert_eq!(reg.scheduled_upgrade().await.unwrap(), None);
            reg.schedule_upgrade("s-2", &new_admin, &hash)
                .await
                .unwrap();
            devnet.advance_ledgers(UPGRADE_DELAY + 1);
            assert_missing_signer(
                reg.upgrade("u-bad", &s.admin, &hash).await,
                &new_admin.address(),
            );
            let landed = reg.upgrade("u", &new_admin, &hash).await.unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("upgraded")));
            assert_eq!(reg.admin().await.unwrap(), new_admin.address());
            assert!(reg.is_trusted(&issuer.address()).await.unwrap());
        });
    });
}

#[test]
fn study_token_sep0050_reads_consent_rotation_window_and_upgrade() {
    let (issuer, patient, new_patient, viewer, stranger) = (key(4), key(5), key(6), key(7), key(8));
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(
                devnet,
                &[&issuer, &patient, &new_patient, &viewer, &stranger],
            )
            .await;
            IssuerRegistry::new(&s.relayer, s.issuers.clone())
                .add_issuer("add", &s.admin, &issuer.address(), &profile("General", 9))
                .await
                .unwrap();
            let token = StudyToken::new(&s.relayer, s.studies.clone());

            // Configuration and SEP-0050 constants.
            assert_eq!(token.name().await.unwrap(), NAME);
            assert_eq!(token.symbol().await.unwrap(), SYMBOL);
            assert_eq!(token.admin().await.unwrap(), s.admin.address());
            assert_eq!(token.issuer_registry().await.unwrap(), s.issuers);
            assert_eq!(token.pending_window().await.unwrap(), 241_920);

            // balance follows a mint; consent_status names the patient.
            assert_eq!(token.balance(&patient.address()).await.unwrap(), 0);
            let (minted, _) = token
                .mint("mint", &issuer, &patient, &release(1))
                .await
                .unwrap();
            assert_eq!(token.balance(&patient.address()).await.unwrap(), 1);
            assert_eq!(
                token.token_uri(minted).await.unwrap(),
                release(1).metadata_uri
            );
            let consent = token.consent_status(minted).await.unwrap();
            assert_eq!(consent.status, TokenStatus::Active);
            assert_eq!(consent.by, patient.address());
            assert_contract_error(token.token_uri(999).await, 200, "TokenNotFound");
            assert_contract_error(token.consent_status(999).await, 200, "TokenNotFound");

            // A proposal is Pending (by the issuer) and listed by pending_of; token_uri already
            // answers; after approval it is Active by the patient and counted.
            let (proposed, _) = token
                .propose_release("propose", &issuer, &patient.address(), &release(2))
                .await
                .unwrap();
            let consent = token.consent_status(proposed).await.unwrap();
            assert_eq!(consent.status, TokenStatus::Pending);
            assert_eq!(consent.by, issuer.address());
            assert_eq!(
                token.pending_of(&patient.address(), 0, 10).await.unwrap(),
                vec![proposed]
            );
            assert_eq!(
                token.token_uri(proposed).await.unwrap(),
                release(2).metadata_uri
            );
            token
                .approve_release("approve", &patient, proposed)
                .await
                .unwrap();
            let consent = token.consent_status(proposed).await.unwrap();
            assert_eq!(consent.status, TokenStatus::Active);
            assert_eq!(consent.by, patient.address());
            assert!(consent.ledger > 0 && consent.timestamp > 0);
            assert!(token
                .pending_of(&patient.address(), 0, 10)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(token.balance(&patient.address()).await.unwrap(), 2);
            let mut owned = token.tokens_of(&patient.address(), 0, 10).await.unwrap();
            owned.sort_unstable();
            let mut both = vec![minted, proposed];
            both.sort_unstable();
            assert_eq!(owned, both);
            assert_eq!(
                token
                    .tokens_of(&patient.address(), 1, 1)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(token
                .tokens_of(&patient.address(), 2, 50)
                .await
                .unwrap()
                .is_empty());
            assert_contract_error(
                token.tokens_of(&patient.address(), 0, 0).await,
                220,
                "InvalidPageLimit",
            );
            assert_contract_error(
                token.shared_with(&viewer.address(), 0, 51).await,
                220,
                "InvalidPageLimit",
            );

            // shared_with lists a stored grant; approvals never exist.
            token
                .grant(
                    "share",
                    &patient,
                    minted,
                    &viewer.address(),
                    Role::Viewer,
                    None,
                )
                .await
                .unwrap();
            assert_eq!(
                token.shared_with(&viewer.address(), 0, 10).await.unwrap(),
                vec![minted]
            );
            assert_eq!(token.get_approved(minted).await.unwrap(), None);
            assert!(!token
                .is_approved_for_all(&patient.address(), &viewer.address())
                .await
                .unwrap());

            // rotate_owner: not the owner, the same address, then the real move.
            assert_contract_error(
                token
                    .rotate_owner("rot-stranger", minted, &stranger, &new_patient)
                    .await,
                201,
                "NotOwner",
            );
            assert_contract_error(
                token
                    .rotate_owner("rot-same", minted, &patient, &patient)
                    .await,
                222,
                "SameOwner",
            );
            let landed = token
                .rotate_owner("rot", minted, &patient, &new_patient)
                .await
                .unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("owner_rotated")));
            assert_eq!(token.owner_of(minted).await.unwrap(), new_patient.address());
            assert_eq!(
                token
                    .tokens_of(&new_patient.address(), 0, 10)
                    .await
                    .unwrap(),
                vec![minted]
            );
            assert_eq!(
                token.tokens_of(&patient.address(), 0, 10).await.unwrap(),
                vec![proposed]
            );
            assert_eq!(token.balance(&patient.address()).await.unwrap(), 1);
            assert_eq!(token.balance(&new_patient.address()).await.unwrap(), 1);
            assert_eq!(
                token.access(minted, &patient.address()).await.unwrap(),
                None
            );
            assert!(token
                .access(minted, &viewer.address())
                .await
                .unwrap()
                .is_some());
            // The old owner can no longer rotate it back.
            assert_contract_error(
                token
                    .rotate_owner("rot-back", minted, &patient, &stranger)
                    .await,
                201,
                "NotOwner",
            );

            // set_pending_window: admin only, within range; a one-ledger window lapses.
            assert_missing_signer(
                token.set_pending_window("w-bad", &stranger, 1_000).await,
                &s.admin.address(),
            );
            assert_contract_error(
                token.set_pending_window("w-zero", &s.admin, 0).await,
                221,
                "InvalidPendingWindow",
            );
            assert_contract_error(
                token.set_pending_window("w-long", &s.admin, 483_841).await,
                221,
                "InvalidPendingWindow",
            );
            token.set_pending_window("w", &s.admin, 1).await.unwrap();
            assert_eq!(token.pending_window().await.unwrap(), 1);
            let (lapsing, _) = token
                .propose_release("propose-3", &issuer, &patient.address(), &release(3))
                .await
                .unwrap();
            devnet.advance_ledgers(5);
            let consent = token.consent_status(lapsing).await.unwrap();
            assert_eq!(consent.status, TokenStatus::Lapsed);
            assert_eq!(consent.by, issuer.address());
            token
                .set_pending_window("w-2", &s.admin, 1_000)
                .await
                .unwrap();
            assert_eq!(token.pending_window().await.unwrap(), 1_000);

            // upgrade: admin only, through the timelock; the same WASM again keeps every
            // token.
            let hash = s.hash(STUDY_TOKEN);
            assert_missing_signer(
                token.schedule_upgrade("s-bad", &stranger, &hash).await,
                &s.admin.address(),
            );
            token.schedule_upgrade("s", &s.admin, &hash).await.unwrap();
            assert_contract_error(
                token.upgrade("u-early", &s.admin, &hash).await,
                231,
                "UpgradeNotReady",
            );
            devnet.advance_ledgers(UPGRADE_DELAY + 1);
            assert_missing_signer(
                token.upgrade("u-bad", &stranger, &hash).await,
                &s.admin.address(),
            );
            let landed = token.upgrade("u", &s.admin, &hash).await.unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("upgraded")));
            assert_eq!(token.name().await.unwrap(), NAME);
            assert_eq!(token.owner_of(minted).await.unwrap(), new_patient.address());
        });
    });
}

#[test]
fn suite_registry_deploys_lists_and_upgrades_members() {
    let stranger = key(9);
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(devnet, &[&stranger]).await;
            let reg = SuiteRegistry::new(&s.relayer, s.registry.clone());
            assert_eq!(reg.admin().await.unwrap(), s.admin.address());
            assert!(reg.members(0, 50).await.unwrap().is_empty());
            assert_contract_error(reg.members(0, 0).await, 302, "InvalidPageLimit");
            assert_contract_error(reg.members(0, 51).await, 302, "InvalidPageLimit");
            assert_contract_error(reg.member("issuers").await, 301, "MemberNotFound");
            assert!(matches!(
                reg.address_of("not a symbol").await,
                Err(Error::InvalidArgument(_))
            ));

            // Addresses are known before deployment, so constructors can refer to them.
            let issuers_at = reg.address_of("issuers").await.unwrap();
            let studies_at = reg.address_of("studies").await.unwrap();
            assert_ne!(issuers_at, studies_at);
            assert_eq!(reg.address_of("issuers").await.unwrap(), issuers_at);

            let (ir_hash, st_hash) = (s.hash(ISSUER_REGISTRY), s.hash(STUDY_TOKEN));
            let admin_arg = || arg::address(&s.admin.address()).unwrap();
            let delay_arg = || arg::u32(UPGRADE_DELAY);
            assert_missing_signer(
                reg.deploy(
                    "d-bad",
                    &stranger,
                    "issuers",
                    &ir_hash,
                    vec![admin_arg(), delay_arg()],
                )
                .await,
                &s.admin.address(),
            );
            let (deployed, landed) = reg
                .deploy(
                    "d-issuers",
                    &s.admin,
                    "issuers",
                    &ir_hash,
                    vec![admin_arg(), delay_arg()],
                )
                .await
                .unwrap();
            assert_eq!(deployed, issuers_at);
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("member_deployed")));
            let (deployed, _) = reg
                .deploy(
                    "d-studies",
                    &s.admin,
                    "studies",
                    &st_hash,
                    vec![
                        admin_arg(),
                        arg::address(&issuers_at).unwrap(),
                        arg::string("Suite Study").unwrap(),
                        arg::string("SST").unwrap(),
                        delay_arg(),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(deployed, studies_at);
            assert_contract_error(
                reg.deploy(
                    "d-again",
                    &s.admin,
                    "issuers",
                    &ir_hash,
                    vec![admin_arg(), delay_arg()],
                )
                .await,
                300,
                "MemberExists",
            );

            // The members run with their constructor arguments.
            let studies = StudyToken::new(&s.relayer, studies_at.clone());
            assert_eq!(studies.name().await.unwrap(), "Suite Study");
            assert_eq!(studies.issuer_registry().await.unwrap(), issuers_at);
            assert_eq!(
                IssuerRegistry::new(&s.relayer, issuers_at.clone())
                    .admin()
                    .await
                    .unwrap(),
                s.admin.address()
            );

            // member and members, with the pagination edges.
            let first = Member {
                name: "issuers".into(),
                contract: issuers_at.clone(),
                wasm_hash: ir_hash,
                version: 1,
                index: 0,
            };
            let second = Member {
                name: "studies".into(),
                contract: studies_at.clone(),
                wasm_hash: st_hash,
                version: 1,
                index: 1,
            };
            assert_eq!(reg.member("issuers").await.unwrap(), first);
            assert_eq!(reg.member("studies").await.unwrap(), second);
            assert_eq!(
                reg.members(0, 50).await.unwrap(),
                vec![first.clone(), second.clone()]
            );
            assert_eq!(reg.members(0, 1).await.unwrap(), vec![first.clone()]);
            assert_eq!(reg.members(1, 1).await.unwrap(), vec![second.clone()]);
            assert_eq!(reg.members(1, 50).await.unwrap(), vec![second.clone()]);
            assert!(reg.members(2, 1).await.unwrap().is_empty());
            assert!(reg.members(u32::MAX, 50).await.unwrap().is_empty());

            // The member's own timelock applies beneath it.
            let members_issuers = IssuerRegistry::new(&s.relayer, issuers_at.clone());
            members_issuers
                .schedule_upgrade("um-s", &s.admin, &ir_hash)
                .await
                .unwrap();
            devnet.advance_ledgers(UPGRADE_DELAY + 1);
            // upgrade_member: admin only, known members only; the admin also authorizes the
            // member's own upgrade beneath it.
            assert_missing_signer(
                reg.upgrade_member("um-bad", &stranger, None, "issuers", &ir_hash)
                    .await,
                &s.admin.address(),
            );
            assert_contract_error(
                reg.upgrade_member("um-none", &s.admin, None, "nobody", &ir_hash)
                    .await,
                301,
                "MemberNotFound",
            );
            let (version, landed) = reg
                .upgrade_member("um", &s.admin, None, "issuers", &ir_hash)
                .await
                .unwrap();
            assert_eq!(version, 2);
            let names: Vec<String> = landed.events.iter().filter_map(|e| e.name()).collect();
            assert!(names.iter().any(|n| n == "member_upgraded"), "{names:?}");
            assert!(names.iter().any(|n| n == "upgraded"), "{names:?}");
            assert_eq!(
                reg.member("issuers").await.unwrap(),
                Member {
                    version: 2,
                    ..first.clone()
                }
            );

            // upgrade of the registry itself: admin only; its records survive.
            let hash = s.hash(SUITE_REGISTRY);
            assert_missing_signer(
                reg.schedule_upgrade("s-bad", &stranger, &hash).await,
                &s.admin.address(),
            );
            reg.schedule_upgrade("s", &s.admin, &hash).await.unwrap();
            devnet.advance_ledgers(UPGRADE_DELAY + 1);
            assert_missing_signer(
                reg.upgrade("u-bad", &stranger, &hash).await,
                &s.admin.address(),
            );
            let landed = reg.upgrade("u", &s.admin, &hash).await.unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("upgraded")));
            assert_eq!(reg.admin().await.unwrap(), s.admin.address());
            assert_eq!(reg.members(0, 50).await.unwrap().len(), 2);
        });
    });
}

#[test]
fn a_full_page_of_issuers_is_read_in_a_submitted_transaction() {
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(devnet, &[]).await;
            let reg = IssuerRegistry::new(&s.relayer, s.issuers.clone());
            // The largest records the registry accepts: 64-byte names, the longest kind and
            // status, 16-character jurisdictions.
            let n = ISSUERS_PAGE as u8 + 1;
            for i in 0..n {
                let issuer = key(100 + i);
                let name = format!("{i:02}{}", "x".repeat(62));
                let profile = IssuerProfile {
                    name,
                    kind: IssuerKind::ImagingCentre,
                    jurisdiction: "US-CA-0123456789".into(),
                    evidence: [i + 1; 32],
                };
                reg.add_issuer(&format!("add-{i}"), &s.admin, &issuer.address(), &profile)
                    .await
                    .unwrap();
                reg.suspend_issuer(&format!("suspend-{i}"), &s.admin, &issuer.address())
                    .await
                    .unwrap();
            }
            assert_eq!(reg.issuer_count().await.unwrap(), u32::from(n));
            // A full page is read in a simulation (how the platform reads) ...
            let page = reg.issuers(0, ISSUERS_PAGE).await.unwrap();
            assert_eq!(page.len(), ISSUERS_PAGE as usize);
            // ... and in a submitted transaction, whose return value must fit the network's
            // 16 KiB limit (the devnet enforces it).
            let landed = s
                .relayer
                .invoke(
                    "page",
                    &s.admin.address(),
                    &s.issuers,
                    "issuers",
                    vec![arg::u32(1), arg::u32(ISSUERS_PAGE)],
                    &[],
                )
                .await
                .unwrap();
            let stellar_xdr::ScVal::Vec(Some(records)) = landed.return_value.unwrap() else {
                panic!("issuers returned no vector")
            };
            let records: Vec<IssuerRecord> = records
                .iter()
                .map(|v| IssuerRecord::from_sc_val(v).unwrap())
                .collect();
            assert_eq!(records.len(), ISSUERS_PAGE as usize);
            assert!(records[ISSUERS_PAGE as usize - 1]
                .name
                .starts_with(&format!("{}", n - 1)));
            assert_eq!(records, reg.issuers(1, ISSUERS_PAGE).await.unwrap());
            // One more than a page is refused by name.
            assert_contract_error(
                reg.issuers(0, ISSUERS_PAGE + 1).await,
                109,
                "InvalidPageLimit",
            );
        });
    });
}

#[test]
fn the_admin_clears_a_squatted_commitment_on_the_devnet() {
    let (squatter, victim, patient) = (key(4), key(5), key(6));
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(devnet, &[&squatter, &victim, &patient]).await;
            let reg = IssuerRegistry::new(&s.relayer, s.issuers.clone());
            reg.add_issuer("add", &s.admin, &squatter.address(), &profile("Squat", 9))
                .await
                .unwrap();
            let token = StudyToken::new(&s.relayer, s.studies.clone());
            let (squatted, _) = token
                .propose_release("p-squat", &squatter, &victim.address(), &release(3))
                .await
                .unwrap();
            // Only the admin clears: the squatter's key is not enough.
            assert_missing_signer(
                token.clear_commitment("c-bad", &squatter, &[3; 32]).await,
                &s.admin.address(),
            );
            let (cleared, landed) = token
                .clear_commitment("c", &s.admin, &[3; 32])
                .await
                .unwrap();
            assert_eq!(cleared, squatted);
            for name in ["release_withdrawn", "commitment_cleared"] {
                assert!(landed
                    .events
                    .iter()
                    .any(|e| e.name().as_deref() == Some(name)));
            }
            assert_eq!(
                token.consent_status(squatted).await.unwrap().status,
                TokenStatus::Withdrawn
            );
            assert_eq!(token.token_of_commitment(&[3; 32]).await.unwrap(), None);
            assert_contract_error(
                token.clear_commitment("c-again", &s.admin, &[3; 32]).await,
                238,
                "CommitmentNotHeld",
            );
            // An active token's commitment is never cleared.
            let (minted, _) = token
                .mint("m", &squatter, &patient, &release(3))
                .await
                .unwrap();
            assert_contract_error(
                token.clear_commitment("c-active", &s.admin, &[3; 32]).await,
                202,
                "TokenNotPending",
            );
            assert!(token.verify(minted, &[3; 32]).await.unwrap());
        });
    });
}

#[test]
fn security_rules_hold_on_the_devnet() {
    let (issuer, patient, right, sharer, viewer) = (key(4), key(5), key(6), key(7), key(8));
    run(|devnet, rt| {
        rt.block_on(async {
            let s = suite(devnet, &[&issuer, &patient, &right, &sharer, &viewer]).await;
            let reg = IssuerRegistry::new(&s.relayer, s.issuers.clone());
            reg.add_issuer("add", &s.admin, &issuer.address(), &profile("General", 9))
                .await
                .unwrap();
            let token = StudyToken::new(&s.relayer, s.studies.clone());

            // A misaddressed release is withdrawn and released again to the right patient.
            let (wrong, _) = token
                .propose_release("p-wrong", &issuer, &patient.address(), &release(1))
                .await
                .unwrap();
            assert_contract_error(
                token
                    .propose_release("p-dup", &issuer, &right.address(), &release(1))
                    .await,
                206,
                "DuplicateCommitment",
            );
            assert_contract_error(
                token.withdraw_release("w-bad", &patient, wrong).await,
                226,
                "NotIssuer",
            );
            let landed = token.withdraw_release("w", &issuer, wrong).await.unwrap();
            assert!(landed
                .events
                .iter()
                .any(|e| e.name().as_deref() == Some("release_withdrawn")));
            assert_eq!(
                token.consent_status(wrong).await.unwrap().status,
                TokenStatus::Withdrawn
            );
            assert_eq!(token.token_of_commitment(&[1; 32]).await.unwrap(), None);
            let (id, _) = token
                .propose_release("p-right", &issuer, &right.address(), &release(1))
                .await
                .unwrap();
            assert_ne!(id, wrong);
            token.approve_release("a", &right, id).await.unwrap();
            assert!(token.verify(id, &[1; 32]).await.unwrap());

            // A Sharer's grant dies with the Sharer's.
            token
                .grant("g-s", &right, id, &sharer.address(), Role::Sharer, None)
                .await
                .unwrap();
            token
                .grant("g-v", &sharer, id, &viewer.address(), Role::Viewer, None)
                .await
                .unwrap();
            let grants = token.grants(id, 0, 10).await.unwrap();
            assert_eq!(
                grants.iter().map(|g| g.by_owner).collect::<Vec<_>>(),
                vec![true, false]
            );
            token
                .record_access("r-v", &viewer, id, AccessKind::View)
                .await
                .unwrap();
            token
                .revoke("rv-s", &right, id, &sharer.address())
                .await
                .unwrap();
            assert_eq!(token.access(id, &viewer.address()).await.unwrap(), None);
            assert_contract_error(
                token
                    .record_access("r-v2", &viewer, id, AccessKind::View)
                    .await,
                217,
                "NoAccess",
            );

            // A suspended issuer cannot record an access (so the platform cannot hand it
            // the key); reinstating restores it.
            token
                .record_access("r-i", &issuer, id, AccessKind::Download)
                .await
                .unwrap();
            reg.suspend_issuer("sus", &s.admin, &issuer.address())
                .await
                .unwrap();
            assert_eq!(token.access(id, &issuer.address()).await.unwrap(), None);
            assert_contract_error(
                token
                    .record_access("r-i2", &issuer, id, AccessKind::Download)
                    .await,
                217,
                "NoAccess",
            );
            reg.reinstate_issuer("rei", &s.admin, &issuer.address())
                .await
                .unwrap();
            token
                .record_access("r-i3", &issuer, id, AccessKind::Download)
                .await
                .unwrap();
            // The issuer renounces its own Viewer.
            token
                .revoke("ren", &issuer, id, &issuer.address())
                .await
                .unwrap();
            assert_eq!(token.access(id, &issuer.address()).await.unwrap(), None);

            // The pause stops grants, not revokes; only the admin pauses.
            assert_missing_signer(token.pause("pz-bad", &patient).await, &s.admin.address());
            token.pause("pz", &s.admin).await.unwrap();
            assert!(token.paused().await.unwrap());
            assert_contract_error(
                token
                    .grant("g-p", &right, id, &viewer.address(), Role::Viewer, None)
                    .await,
                233,
                "Paused",
            );
            token
                .revoke("rv-v", &right, id, &viewer.address())
                .await
                .unwrap();
            token.unpause("upz", &s.admin).await.unwrap();

            // The pending cap, set by the admin.
            token.set_pending_cap("cap", &s.admin, 1).await.unwrap();
            assert_eq!(token.pending_cap().await.unwrap(), 1);
            let (first, _) = token
                .propose_release("p-c1", &issuer, &patient.address(), &release(2))
                .await
                .unwrap();
            assert_contract_error(
                token
                    .propose_release("p-c2", &issuer, &patient.address(), &release(3))
                    .await,
                235,
                "PendingCapReached",
            );
            token
                .reject_release("rj", &patient, first, RejectReason::NotMine)
                .await
                .unwrap();
            token
                .propose_release("p-c3", &issuer, &patient.address(), &release(3))
                .await
                .unwrap();
        });
    });
}
