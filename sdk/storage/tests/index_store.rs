//! The audit index's store over every adapter: SQLite on disk and DynamoDB through moto's
//! server. Events apply once; sort order, paging both ways, counters by prefix, a rebuild
//! that replaces only state; and the typed layer's lists and histories on top.

use std::sync::Arc;

use medimint_storage::index::{
    Change, EventWrite, HistoryOf, HistoryRow, IndexCursor, IndexStore, ListKind, Op, TokenRow,
};
use medimint_storage::{DynamoIndex, Index, SqliteIndex};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

fn put(pk: &str, sk: &str, value: &str) -> Op {
    Op::Put {
        pk: pk.into(),
        sk: sk.into(),
        value: value.into(),
    }
}

fn row(id: &str, token: u32, kind: &str) -> HistoryRow {
    HistoryRow {
        id: id.into(),
        ledger: 7,
        closed_at: "2026-12-06T10:00:00Z".into(),
        contract: "study-token".into(),
        kind: kind.into(),
        token_id: Some(token),
        parties: vec!["GA".into(), "GB".into(), "GA".into()],
        detail: None,
        tx_hash: None,
    }
}

fn cursor(ledger: u32) -> IndexCursor {
    IndexCursor {
        paging: Some(format!("p{ledger}")),
        ledger,
        latest_ledger: ledger,
        updated_at: 1,
        rebuilds: 0,
        last_rebuild: None,
        rebuilding: None,
    }
}

async fn suite(store: Arc<dyn IndexStore>) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();

    // Raw primitives: an event applies once; the cursor is written either way.
    let e = EventWrite {
        id: "0001".into(),
        marker: "{}".into(),
        ops: vec![
            put("a", "2", "two"),
            put("a", "1", "one"),
            put("a", "3", "three"),
            Op::Count {
                key: "c#x".into(),
                by: 2,
            },
            Op::Count {
                key: "c#y".into(),
                by: 1,
            },
            Op::Count {
                key: "d#x".into(),
                by: 5,
            },
        ],
    };
    assert_eq!(
        store
            .write_events(std::slice::from_ref(&e), "\"c1\"")
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.write_events(&[e], "\"c2\"").await.unwrap(), 0);
    assert_eq!(
        store.get("cursor", "-").await.unwrap().as_deref(),
        Some("\"c2\"")
    );
    assert_eq!(
        store.counts("c#").await.unwrap(),
        vec![("c#x".to_owned(), 2), ("c#y".to_owned(), 1)]
    );
    let all = store.query("a", None, 10, false).await.unwrap();
    assert_eq!(
        all.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    let newest = store.query("a", Some("3"), 1, true).await.unwrap();
    assert_eq!(newest, vec![("2".to_owned(), "two".to_owned())]);
    let after = store.query("a", Some("1"), 10, false).await.unwrap();
    assert_eq!(after.len(), 2);
    store
        .apply(&[Op::Delete {
            pk: "a".into(),
            sk: "2".into(),
        }])
        .await
        .unwrap();
    assert_eq!(store.get("a", "2").await.unwrap(), None);

    // The typed layer.
    let index = Index::new(store.clone());
    let token = |id: u32, status: &str| TokenRow {
        id,
        issuer: "GI".into(),
        owner: "GA".into(),
        status: status.into(),
        metadata_cid: "bafy".into(),
        file_count: 2,
        minted_ledger: 5,
        issuer_revoked: false,
        updated_ledger: 5,
    };
    let events: Vec<(HistoryRow, Vec<Change>)> = (1..=12u32)
        .map(|id| {
            (
                row(&format!("{id:04}-e"), id, "minted"),
                vec![
                    Change::Token(token(id, "active")),
                    Change::Listed("GA".into(), ListKind::Owned, id),
                    Change::Counted {
                        kind: "minted".into(),
                        day: "2026-12-06".into(),
                    },
                ],
            )
        })
        .collect();
    assert_eq!(index.apply_events(&events, &cursor(9)).await.unwrap(), 12);
    assert_eq!(index.apply_events(&events, &cursor(9)).await.unwrap(), 0);
    assert_eq!(index.cursor().await.unwrap(), Some(cursor(9)));
    assert_eq!(
        index.list("GA", ListKind::Owned, None, 5).await.unwrap(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        index
            .list("GA", ListKind::Owned, Some(10), 5)
            .await
            .unwrap(),
        [11, 12]
    );
    assert_eq!(index.totals().await.unwrap()[0].n, 12);
    assert_eq!(index.day("2026-12-06").await.unwrap()[0].n, 12);
    // A party named twice in an event gets one history row.
    let ga = index
        .history(&HistoryOf::Address("GA".into()), None, 50)
        .await
        .unwrap();
    assert_eq!(ga.len(), 12);
    assert_eq!(ga[0].id, "0012-e", "newest first");

    // A rebuild replaces state (tokens, lists) but keeps history and counts.
    index
        .replace_state(
            &[
                Change::Token(token(3, "rejected")),
                Change::Listed("GB".into(), ListKind::Shared, 3),
            ],
            &cursor(20),
        )
        .await
        .unwrap();
    assert_eq!(index.token(1).await.unwrap(), None);
    assert_eq!(index.token(3).await.unwrap().unwrap().status, "rejected");
    assert!(index
        .list("GA", ListKind::Owned, None, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        index.list("GB", ListKind::Shared, None, 50).await.unwrap(),
        [3]
    );
    assert_eq!(
        index
            .history(&HistoryOf::Token(1), None, 50)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(index.totals().await.unwrap()[0].n, 12);
    assert_eq!(index.cursor().await.unwrap().unwrap().ledger, 20);
}

#[tokio::test]
async fn sqlite_index() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(
        SqliteIndex::open(dir.path().join("index.sqlite3"))
            .await
            .unwrap(),
    ))
    .await;
    // Reopening keeps what was written.
    let again = SqliteIndex::open(dir.path().join("index.sqlite3"))
        .await
        .unwrap();
    assert!(again.get("cursor", "-").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_index_on_moto() {
    let moto = MotoServer::start().expect("moto server");
    suite(Arc::new(DynamoIndex::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-index-test",
    )))
    .await;
}
