//! The indexer on a devnet with real releases, consents, shares, downloads and revokes:
//! what it indexes, that it applies each event once (a rerun from an old cursor changes
//! nothing), that it rebuilds from contract state when its cursor fell out of the RPC's
//! retention window, and the notifications it queues; over SQLite and DynamoDB on moto.

#[path = "indexer_common/mod.rs"]
mod common;

use std::sync::Arc;

use common::*;
use medimint_indexer_lambda::notify::{self, DbRecipients, OutboxSender};
use medimint_indexer_lambda::{open, Settings};
use medimint_storage::index::{HistoryOf, ListKind, Op};
use medimint_storage::{DynamoIndex, Index, IndexStore, SqliteIndex};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

fn kinds(rows: &[medimint_storage::index::HistoryRow]) -> Vec<&str> {
    rows.iter().rev().map(|h| h.kind.as_str()).collect()
}

/// Checks what the index holds after the flow of the main test.
async fn check(
    index: &Index,
    t1: u32,
    t2: u32,
    patient: &str,
    doctor: &str,
    issuer: &str,
    cid: &str,
) {
    let token = index.token(t1).await.unwrap().expect("token 1 indexed");
    assert_eq!(token.status, "active");
    assert_eq!(token.owner, patient);
    assert_eq!(token.issuer, issuer);
    assert_eq!(token.metadata_cid, cid);
    assert_eq!(token.file_count, 2);
    assert_eq!(index.token(t2).await.unwrap().unwrap().status, "rejected");
    assert_eq!(
        index
            .list(patient, ListKind::Owned, None, 50)
            .await
            .unwrap(),
        vec![t1]
    );
    assert!(index
        .list(patient, ListKind::Pending, None, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .list(issuer, ListKind::Issued, None, 50)
            .await
            .unwrap(),
        vec![t1, t2]
    );
    // The doctor's share was revoked; the nurse's stays, with its expiry.
    assert!(index
        .list(doctor, ListKind::Shared, None, 50)
        .await
        .unwrap()
        .is_empty());
    let roles = index.roles(t1).await.unwrap();
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0].role, "viewer");
    assert!(roles[0].expires_at.is_some());
    assert_eq!(roles[0].granter, patient);
    let history = index
        .history(&HistoryOf::Token(t1), None, 50)
        .await
        .unwrap();
    assert_eq!(
        kinds(&history),
        [
            "release_proposed",
            "release_approved",
            "role_granted",
            "role_granted",
            "access_recorded",
            "role_revoked"
        ]
    );
    let access = history
        .iter()
        .find(|h| h.kind == "access_recorded")
        .unwrap();
    assert_eq!(access.detail.as_deref(), Some("download"));
    assert_eq!(access.parties, [doctor.to_owned()]);
    let doctor_history = index
        .history(&HistoryOf::Address(doctor.into()), None, 50)
        .await
        .unwrap();
    assert_eq!(
        kinds(&doctor_history),
        ["role_granted", "access_recorded", "role_revoked"]
    );
    // Paging: newest first, then older ones.
    let first = index.history(&HistoryOf::Token(t1), None, 2).await.unwrap();
    let rest = index
        .history(&HistoryOf::Token(t1), Some(&first[1].id), 50)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), history.len());
    assert_eq!(rest[0].id, history[2].id);
    let accesses = index.accesses(t1).await.unwrap();
    assert_eq!(accesses.len(), 1);
    assert_eq!((accesses[0].kind.as_str(), accesses[0].n), ("download", 1));
    let totals = index.totals().await.unwrap();
    let total = |k: &str| totals.iter().find(|c| c.kind == k).map_or(0, |c| c.n);
    assert_eq!(total("release_proposed"), 2);
    assert_eq!(total("release_rejected"), 1);
    assert_eq!(total("role_granted"), 2);
    assert_eq!(total("role_revoked"), 1);
    assert_eq!(total("issuer_added"), 1);
    let issuers = index.issuers().await.unwrap();
    assert_eq!(issuers.len(), 1);
    assert_eq!(issuers[0].name, "General Hospital");
    assert_eq!(issuers[0].kind, "imaging_centre");
    assert_eq!(issuers[0].status, "active");
}

#[test]
fn the_index_follows_releases_shares_accesses_and_revokes_once_each() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    let moto = MotoServer::start().expect("moto server");
    runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let (platform, issuer) = platform(data.path(), &devnet.rpc_url()).await;
        let jane = phi(1);
        let t1 = release(&platform, &issuer, &jane, "r-1", "2.25.1001").await;
        let t2 = release(&platform, &issuer, &jane, "r-2", "2.25.1002").await;
        platform
            .consent(&jane.email, &t1.to_string(), true)
            .await
            .unwrap();
        platform
            .consent(&jane.email, &t2.to_string(), false)
            .await
            .unwrap();
        let doctor = share(&platform, &jane.email, t1, "dr.house@clinic.example").await;
        share(&platform, &jane.email, t1, "nurse@clinic.example").await;
        download(&platform, "dr.house@clinic.example", t1).await;
        revoke(&platform, &jane.email, t1, "dr.house@clinic.example").await;
        let patient = address_of(&platform, &jane.email).await;
        let cid = platform.token(&t1.to_string()).await.unwrap().metadata_uri;
        let cid = cid.trim_start_matches("ipfs://").to_owned();

        // SQLite, pages of 3 events so that a run takes several pages.
        let index = open::open_index(platform.config()).await.unwrap();
        let settings = Settings {
            page: 3,
            max_pages: 1_000,
            ..Settings::default()
        };
        let indexer = open::indexer(&platform, index.clone(), settings).unwrap();
        let run = indexer.run_once().await.unwrap();
        assert!(run.caught_up && run.rebuilt.is_none(), "{run:?}");
        assert!(run.read > 10 && run.applied == run.read, "{run:?}");
        assert_eq!(run.lag_ledgers, 0, "{run:?}");
        check(&index, t1, t2, &patient, &doctor, &issuer, &cid).await;

        // Idempotent: again from the same cursor nothing is new; from the very first cursor
        // (a crash that lost every cursor write) every event is read again and skipped.
        let again = indexer.run_once().await.unwrap();
        assert_eq!(again.applied, 0, "{again:?}");
        let cursor = index.cursor().await.unwrap().unwrap();
        let mut start = cursor.clone();
        start.paging = None;
        start.ledger = 1;
        index
            .store()
            .apply(&[Op::Put {
                pk: "cursor".into(),
                sk: "-".into(),
                value: serde_json::to_string(&start).unwrap(),
            }])
            .await
            .unwrap();
        let replay = indexer.run_once().await.unwrap();
        assert_eq!((replay.read, replay.applied), (run.read, 0), "{replay:?}");
        check(&index, t1, t2, &patient, &doctor, &issuer, &cid).await;

        // Notifications: one message per recipient, no PHI in it; then held back.
        let outbox = data.path().join("outbox");
        let recipients = DbRecipients(platform.db().clone());
        notify::set_opt_out(platform.db().as_ref(), &doctor, &["revoked"])
            .await
            .unwrap();
        let err = notify::set_opt_out(platform.db().as_ref(), &doctor, &["spam"])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("spam"), "{err}");
        let now = medimint_storage::now();
        let sent = notify::send_due(
            &index,
            &recipients,
            &OutboxSender::new(&outbox),
            now,
            300,
            100,
        )
        .await
        .unwrap();
        // Jane (released, accessed), the doctor (shared; revoked opted out), the nurse.
        assert_eq!(sent.sent, 3, "{sent:?}");
        let files: Vec<String> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        assert_eq!(files.len(), 3);
        for text in &files {
            for secret in [jane.family, jane.given, jane.birth_date, jane.mrn.as_str()] {
                assert!(
                    !text.contains(secret),
                    "PHI {secret:?} in a message:\n{text}"
                );
            }
            assert!(
                !text.contains("revoked"),
                "an opted-out kind was sent:\n{text}"
            );
        }
        let to_jane = files
            .iter()
            .find(|t| t.starts_with(&format!("To: {}", jane.email)))
            .unwrap();
        assert!(
            to_jane.contains("released") && to_jane.contains("views or downloads"),
            "{to_jane}"
        );
        // A new event for Jane within the interval waits.
        share(&platform, &jane.email, t1, "dr.house@clinic.example").await;
        download(&platform, "dr.house@clinic.example", t1).await;
        indexer.run_once().await.unwrap();
        let held = notify::send_due(
            &index,
            &recipients,
            &OutboxSender::new(&outbox),
            now + 10,
            300,
            100,
        )
        .await
        .unwrap();
        assert!(held.deferred >= 1, "{held:?}");
        let later = notify::send_due(
            &index,
            &recipients,
            &OutboxSender::new(&outbox),
            now + 301,
            300,
            100,
        )
        .await
        .unwrap();
        assert!(later.sent >= 1, "{later:?}");
        // A month later the nurse's and the doctor's new grant have ended: Jane is told; the
        // doctor's first grant was revoked, so it is not announced.
        let month = now + 31 * 86_400;
        let ended = notify::send_due(
            &index,
            &recipients,
            &OutboxSender::new(&outbox),
            month,
            300,
            100,
        )
        .await
        .unwrap();
        assert_eq!(ended.expired, 2, "{ended:?}");
        let mut texts: Vec<(std::path::PathBuf, String)> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|f| {
                let p = f.unwrap().path();
                let t = std::fs::read_to_string(&p).unwrap();
                (p, t)
            })
            .collect();
        texts.sort();
        let newest_to_jane = texts
            .iter()
            .rev()
            .find(|(_, t)| t.starts_with(&format!("To: {}", jane.email)))
            .unwrap();
        assert!(
            newest_to_jane
                .1
                .contains("2: grants on your studies expired"),
            "{}",
            newest_to_jane.1
        );
        let again = notify::send_due(
            &index,
            &recipients,
            &OutboxSender::new(&outbox),
            month + 301,
            300,
            100,
        )
        .await
        .unwrap();
        assert_eq!((again.expired, again.sent), (0, 0), "{again:?}");

        // DynamoDB on moto: the same index from the same events.
        let store = DynamoIndex::for_endpoint(
            &moto.endpoint(),
            REGION,
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            "medimint-index",
        );
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let dynamo = Index::new(Arc::new(store));
        let indexer = open::indexer(&platform, dynamo.clone(), settings).unwrap();
        let run = indexer.run_once().await.unwrap();
        assert!(run.caught_up && run.applied == run.read, "{run:?}");
        // A replay from the first ledger applies nothing twice.
        dynamo
            .store()
            .apply(&[Op::Put {
                pk: "cursor".into(),
                sk: "-".into(),
                value: serde_json::to_string(&start).unwrap(),
            }])
            .await
            .unwrap();
        let replay = indexer.run_once().await.unwrap();
        assert_eq!(replay.applied, 0, "{replay:?}");
        let accesses = dynamo.accesses(t1).await.unwrap();
        assert_eq!((accesses[0].kind.as_str(), accesses[0].n), ("download", 2));
        let sqlite_totals = index.totals().await.unwrap();
        assert_eq!(dynamo.totals().await.unwrap(), sqlite_totals);
        assert_eq!(
            dynamo
                .list(&doctor, ListKind::Shared, None, 50)
                .await
                .unwrap(),
            vec![t1]
        );
    });
}

#[test]
fn a_cursor_out_of_the_retention_window_rebuilds_from_contract_state() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        retention_ledgers: 30,
        ..Default::default()
    })
    .unwrap();
    runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let (platform, issuer) = platform(data.path(), &devnet.rpc_url()).await;
        let index = Index::new(Arc::new(SqliteIndex::open_in_memory().await.unwrap()));
        let indexer = open::indexer(&platform, index.clone(), Settings::default()).unwrap();
        devnet.advance_ledgers(40);
        // The chain is older than the window already: the first run rebuilds.
        let first = indexer.run_once().await.unwrap();
        let why = first.rebuilt.expect("a first run past the window rebuilds");
        assert!(why.contains("first run"), "{why}");
        assert_eq!(index.issuers().await.unwrap().len(), 1);

        let p = phi(2);
        let t = release(&platform, &issuer, &p, "r-9", "2.25.9001").await;
        indexer.run_once().await.unwrap();
        assert_eq!(index.token(t).await.unwrap().unwrap().status, "pending");
        let patient = address_of(&platform, &p.email).await;
        // Approve and share while the indexer is down, then let the window pass them.
        platform
            .consent(&p.email, &t.to_string(), true)
            .await
            .unwrap();
        let viewer = share(&platform, &p.email, t, "viewer@clinic.example").await;
        devnet.advance_ledgers(40);
        let run = indexer.run_once().await.unwrap();
        let why = run.rebuilt.clone().expect("rebuilt");
        assert!(why.contains("retention window"), "{why}");
        assert_eq!(run.rebuilt_tokens, 1);
        let cursor = index.cursor().await.unwrap().unwrap();
        assert_eq!(cursor.rebuilds, 2);
        assert_eq!(cursor.last_rebuild.as_deref(), Some(why.as_str()));
        let token = index.token(t).await.unwrap().unwrap();
        assert_eq!(token.status, "active");
        assert_eq!(
            index
                .list(&patient, ListKind::Owned, None, 50)
                .await
                .unwrap(),
            vec![t]
        );
        assert!(index
            .list(&patient, ListKind::Pending, None, 50)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            index
                .list(&viewer, ListKind::Shared, None, 50)
                .await
                .unwrap(),
            vec![t]
        );
        // History indexed before the gap stays; events after the rebuild are followed.
        let before = index.history(&HistoryOf::Token(t), None, 50).await.unwrap();
        assert_eq!(kinds(&before), ["release_proposed"]);
        revoke(&platform, &p.email, t, "viewer@clinic.example").await;
        let after = indexer.run_once().await.unwrap();
        assert!(after.rebuilt.is_none() && after.applied >= 1, "{after:?}");
        assert!(index
            .list(&viewer, ListKind::Shared, None, 50)
            .await
            .unwrap()
            .is_empty());
    });
}

/// An RPC that words its refusal of an old cursor differently from the devnet.
struct OtherWording {
    inner: Arc<dyn medimint_chain::Rpc>,
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl medimint_chain::Rpc for OtherWording {
    async fn network_passphrase(&self) -> medimint_chain::Result<String> {
        self.inner.network_passphrase().await
    }
    async fn latest_ledger(&self) -> medimint_chain::Result<u32> {
        self.inner.latest_ledger().await
    }
    async fn account_sequence(&self, a: &str) -> medimint_chain::Result<Option<i64>> {
        self.inner.account_sequence(a).await
    }
    async fn simulate(
        &self,
        tx: &stellar_xdr::TransactionEnvelope,
    ) -> medimint_chain::Result<stellar_rpc_client::SimulateTransactionResponse> {
        self.inner.simulate(tx).await
    }
    async fn send(
        &self,
        tx: &stellar_xdr::TransactionEnvelope,
    ) -> medimint_chain::Result<stellar_rpc_client::SendTransactionResponse> {
        self.inner.send(tx).await
    }
    async fn transaction(
        &self,
        hash: &[u8; 32],
    ) -> medimint_chain::Result<stellar_rpc_client::GetTransactionResponse> {
        self.inner.transaction(hash).await
    }
    async fn events(
        &self,
        from: medimint_chain::EventsFrom,
        contracts: &[String],
        limit: u32,
    ) -> medimint_chain::Result<medimint_chain::EventPage> {
        if matches!(from, medimint_chain::EventsFrom::Cursor(_))
            && self.refuse.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(medimint_chain::Error::Rpc(
                "cursor is out of range of stored events".into(),
            ));
        }
        self.inner.events(from, contracts, limit).await
    }
}

#[test]
fn an_old_cursor_refused_in_other_words_is_checked_against_the_window_and_rebuilds() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        retention_ledgers: 30,
        ..Default::default()
    })
    .unwrap();
    runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let (platform, issuer) = platform(data.path(), &devnet.rpc_url()).await;
        let rpc = Arc::new(OtherWording {
            inner: platform.rpc().clone(),
            refuse: std::sync::atomic::AtomicBool::new(false),
        });
        let d = platform.deployment().unwrap();
        let index = Index::new(Arc::new(SqliteIndex::open_in_memory().await.unwrap()));
        let indexer = medimint_indexer_lambda::Indexer::new(
            rpc.clone(),
            Arc::new(medimint_indexer_lambda::SuiteReads::new(
                platform.relayer().clone(),
                d.study_token.id.clone(),
                d.issuer_registry.id.clone(),
            )),
            index.clone(),
            medimint_indexer_lambda::Contracts {
                study_token: d.study_token.id.clone(),
                issuer_registry: d.issuer_registry.id.clone(),
            },
            // One token per run: the rebuild below takes two runs.
            Settings {
                rebuild_tokens: 1,
                ..Settings::default()
            },
        );
        devnet.advance_ledgers(40);
        assert!(indexer.run_once().await.unwrap().rebuilt.is_some());
        let t = release(&platform, &issuer, &phi(3), "r-3", "2.25.3003").await;
        let run = indexer.run_once().await.unwrap();
        assert!(run.rebuilt.is_none() && run.applied >= 1, "{run:?}");
        assert!(index.cursor().await.unwrap().unwrap().paging.is_some());

        // A refusal while the cursor is inside the window is an error of this run only.
        rpc.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = indexer.run_once().await.unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        assert_eq!(index.cursor().await.unwrap().unwrap().rebuilds, 1);

        // Once the window has passed the cursor, the same refusal rebuilds.
        devnet.advance_ledgers(40);
        let run = indexer.run_once().await.unwrap();
        let why = run.rebuilt.clone().expect("rebuilt");
        assert!(
            why.contains("before the RPC's retention window") && why.contains("out of range"),
            "{why}"
        );
        assert_eq!(index.token(t).await.unwrap().unwrap().status, "pending");
        // One token read; the rebuild goes on in the next run, which finds no more.
        assert!(run.rebuild_pending && run.rebuilt_tokens == 1, "{run:?}");
        assert_eq!(
            index.cursor().await.unwrap().unwrap().rebuilding,
            Some(t + 1)
        );
        let run = indexer.run_once().await.unwrap();
        assert!(run.rebuilt.is_none() && !run.rebuild_pending, "{run:?}");
        assert_eq!(run.rebuilt_tokens, 0);
        assert_eq!(index.cursor().await.unwrap().unwrap().rebuilding, None);
        // Then events are followed again.
        platform
            .consent(&phi(3).email, &t.to_string(), true)
            .await
            .unwrap();
        rpc.refuse.store(false, std::sync::atomic::Ordering::SeqCst);
        let run = indexer.run_once().await.unwrap();
        assert!(run.applied >= 1 && run.rebuilt.is_none(), "{run:?}");
        assert_eq!(index.token(t).await.unwrap().unwrap().status, "active");
    });
}
