//! Behavioural suites written once and run over every adapter.

#![allow(dead_code)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use medimint_storage::{
    Account, AppDb, Custody, IdempotencyOutcome, KvExpect, ObjectStore, RelayerDb, Release,
    ReleaseStatus, SpendOutcome, StorageError, SCHEMA_VERSION,
};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Deterministic bytes: position `i` holds a value that depends on `i` beyond its low byte,
/// so a swapped or repeated part would be noticed.
pub fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 13)) as u8
}

/// A reader of `len` pattern bytes that fails with an I/O error after `fail_at` bytes, if
/// given: the one fault (a dying upload source) the suites cannot cause with a real part.
pub struct PatternReader {
    pos: u64,
    len: u64,
    fail_at: Option<u64>,
}

impl PatternReader {
    pub fn new(len: u64, fail_at: Option<u64>) -> Self {
        Self {
            pos: 0,
            len,
            fail_at,
        }
    }
}

impl AsyncRead for PatternReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Poll::Ready(Err(std::io::Error::other("source went away")));
        }
        let end = self
            .len
            .min(self.fail_at.unwrap_or(u64::MAX))
            .min(self.pos + buf.remaining() as u64);
        while self.pos < end {
            buf.put_slice(&[pattern(self.pos)]);
            self.pos += 1;
        }
        Poll::Ready(Ok(()))
    }
}

async fn assert_pattern(store: &dyn ObjectStore, key: &str, len: u64) {
    let mut reader = store.get_stream(key).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        for b in &buf[..n] {
            assert_eq!(*b, pattern(pos), "byte {pos} of {key}");
            pos += 1;
        }
    }
    assert_eq!(pos, len, "length of {key}");
}

/// `complete_multipart`: whether the backend can complete a multipart upload (moto's server
/// answers CompleteMultipartUpload with a root element the SDK refuses; see adapters.rs).
pub async fn object_store_suite(store: &dyn ObjectStore, complete_multipart: bool) {
    // Round trip, head, overwrite.
    store
        .put_bytes("inbox/G1/r1/a.dcm", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(
        store.get_bytes("inbox/G1/r1/a.dcm", 100).await.unwrap(),
        b"hello"
    );
    assert_eq!(
        store.head("inbox/G1/r1/a.dcm").await.unwrap().unwrap().size,
        5
    );
    store
        .put_bytes("inbox/G1/r1/a.dcm", Bytes::from_static(b"hello again"))
        .await
        .unwrap();
    assert_eq!(
        store.get_bytes("inbox/G1/r1/a.dcm", 100).await.unwrap(),
        b"hello again"
    );
    assert!(store.head("inbox/G1/r1/none").await.unwrap().is_none());
    assert!(matches!(
        store.get_stream("inbox/G1/r1/none").await,
        Err(StorageError::NotFound(_))
    ));

    // get_bytes refuses more than its limit instead of allocating for it.
    assert!(store.get_bytes("inbox/G1/r1/a.dcm", 4).await.is_err());

    // Listing by prefix, sorted, nothing outside the prefix.
    store
        .put_bytes("inbox/G1/r1/b c.dcm", Bytes::from_static(b"b"))
        .await
        .unwrap();
    store
        .put_bytes("inbox/G1/r10/x.dcm", Bytes::from_static(b"x"))
        .await
        .unwrap();
    store
        .put_bytes("inbox/G2/r1/y.dcm", Bytes::from_static(b"y"))
        .await
        .unwrap();
    let keys: Vec<_> = store
        .list("inbox/G1/r1/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["inbox/G1/r1/a.dcm", "inbox/G1/r1/b c.dcm"]);
    let all = store.list("inbox/G1/r1").await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(store.list("").await.unwrap().len(), 4);

    // Copy, rename, delete (twice).
    store
        .copy("inbox/G1/r1/b c.dcm", "quarantine/G1/r1/b c.dcm")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_bytes("quarantine/G1/r1/b c.dcm", 10)
            .await
            .unwrap(),
        b"b"
    );
    store
        .rename("inbox/G1/r1/a.dcm", "quarantine/G1/r1/a.dcm")
        .await
        .unwrap();
    assert!(store.head("inbox/G1/r1/a.dcm").await.unwrap().is_none());
    assert_eq!(
        store
            .get_bytes("quarantine/G1/r1/a.dcm", 100)
            .await
            .unwrap(),
        b"hello again"
    );
    assert!(matches!(
        store.copy("inbox/none", "x/none").await,
        Err(StorageError::NotFound(_))
    ));
    store.delete("inbox/G2/r1/y.dcm").await.unwrap();
    store.delete("inbox/G2/r1/y.dcm").await.unwrap();
    assert!(store.list("inbox/G2/").await.unwrap().is_empty());

    // Keys that could escape a root are refused by every adapter.
    for bad in ["../etc/passwd", "/abs", "a//b", ""] {
        assert!(
            matches!(
                store.put_bytes(bad, Bytes::new()).await,
                Err(StorageError::InvalidKey { .. })
            ),
            "{bad:?}"
        );
    }

    // A large object streams through (multipart on S3) and reads back byte for byte.
    let big = 20 * 1024 * 1024 + 12_345;
    let mut expected_left = Vec::new();
    if complete_multipart {
        let written = store
            .put_stream("studies/s1/big.bin", &mut PatternReader::new(big, None))
            .await
            .unwrap();
        assert_eq!(written, big);
        assert_eq!(
            store
                .head("studies/s1/big.bin")
                .await
                .unwrap()
                .unwrap()
                .size,
            big
        );
        assert_pattern(store, "studies/s1/big.bin", big).await;
        expected_left.push("studies/s1/big.bin".to_owned());
    }

    // A source that dies mid-upload leaves nothing under the key, small or multipart.
    for (key, fail_at) in [
        ("studies/s1/dies-small", 1000),
        ("studies/s1/dies-big", 9 << 20),
    ] {
        let err = store
            .put_stream(key, &mut PatternReader::new(big, Some(fail_at)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
        assert!(store.head(key).await.unwrap().is_none(), "{key} exists");
    }
    let left: Vec<_> = store
        .list("studies/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, expected_left);
}

fn account(email: &str, address: &str, hd: Option<u32>) -> Account {
    Account {
        email: email.into(),
        address: address.into(),
        custody: if hd.is_some() {
            Custody::Custodial
        } else {
            Custody::External
        },
        hd_index: hd,
        created_at: 1_700_000_000,
    }
}

/// Whether the backend under test serialises racing writes itself. SQLite does (one writer
/// at a time). DynamoDB does too, but its stand-in here, moto's server, handles requests on
/// threads without serialising `UpdateItem` (two concurrent `ADD`s on the HD counter were
/// seen to return the same value), so on moto racing calls would test moto: they are made
/// one after the other there, and the values are still checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Races {
    /// Make the calls concurrently and check that none of them overlapped.
    Concurrent,
    /// Make them one after the other.
    Sequential,
}

/// Runs `make(i)` for `i` in `0..n`, concurrently or not, and returns the results in order.
async fn calls<T, F, Fut>(races: Races, n: usize, make: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut out = Vec::new();
    if races == Races::Concurrent {
        let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(make(i))).collect();
        for t in tasks {
            out.push(t.await.unwrap());
        }
    } else {
        for i in 0..n {
            out.push(make(i).await);
        }
    }
    out
}

pub async fn app_db_suite(db: Arc<dyn AppDb>, races: Races) {
    // Migrations are idempotent and recorded.
    assert_eq!(db.migrate().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(db.migrate().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);

    // HD indices: start at 0, never repeat, even when allocated concurrently.
    assert_eq!(db.allocate_hd_index().await.unwrap(), 0);
    assert_eq!(db.allocate_hd_index().await.unwrap(), 1);
    let mut got: Vec<u32> = calls(races, 16, |_| {
        let db = db.clone();
        async move { db.allocate_hd_index().await.unwrap() }
    })
    .await;
    got.sort();
    assert_eq!(got, (2..18).collect::<Vec<u32>>());

    // Accounts: email normalised; the first insert wins.
    assert!(db.account_by_email("p@x.org").await.unwrap().is_none());
    let a = db
        .insert_account(&account(" P@X.org ", "GAAA", Some(3)))
        .await
        .unwrap();
    assert_eq!(a.email, "p@x.org");
    assert_eq!(a.custody, Custody::Custodial);
    assert_eq!(a.hd_index, Some(3));
    let again = db
        .insert_account(&account("p@x.org", "GBBB", Some(4)))
        .await
        .unwrap();
    assert_eq!(again.address, "GAAA");
    let ext = db
        .insert_account(&account("e@x.org", "GEXT", None))
        .await
        .unwrap();
    assert_eq!(ext.custody, Custody::External);
    assert_eq!(ext.hd_index, None);
    assert_eq!(db.account_by_email("P@x.ORG").await.unwrap().unwrap(), a);
    // By address: the stored account (not the loser of the race), none for an unknown one.
    assert_eq!(db.account_by_address("GAAA").await.unwrap().unwrap(), a);
    assert_eq!(db.account_by_address("GEXT").await.unwrap().unwrap(), ext);
    assert!(db.account_by_address("GBBB").await.unwrap().is_none());

    // Releases: put-if-absent, optimistic updates.
    let r = Release::received("GISSUER", "rel-1", 10);
    let stored = db.insert_release(&r).await.unwrap();
    assert_eq!(stored, r);
    let mut other = r.clone();
    other.status = ReleaseStatus::Stored;
    assert_eq!(
        db.insert_release(&other).await.unwrap().status,
        ReleaseStatus::Received
    );
    let mut next = stored.clone();
    next.status = ReleaseStatus::Stored;
    next.checksum_root = Some("ab".repeat(32));
    next.study_id = Some("s1".into());
    next.metadata_cid = Some("bafkcid".into());
    next.updated_at = 11;
    let updated = db.update_release(&next).await.unwrap();
    assert_eq!(updated.version, 1);
    assert_eq!(updated.status, ReleaseStatus::Stored);
    assert_eq!(
        db.get_release("GISSUER", "rel-1").await.unwrap().unwrap(),
        updated
    );
    // A writer holding the old version loses.
    let stale = db.update_release(&next).await.unwrap_err();
    assert!(matches!(stale, StorageError::Conflict(_)), "{stale}");
    let missing = db
        .update_release(&Release::received("GISSUER", "nope", 1))
        .await
        .unwrap_err();
    assert!(matches!(missing, StorageError::NotFound(_)), "{missing}");
    assert!(db.get_release("GISSUER", "rel-2").await.unwrap().is_none());
    assert!(db.get_release("GOTHER", "rel-1").await.unwrap().is_none());

    // Idempotency records: put-if-absent returns the first value.
    assert_eq!(
        db.put_idempotency("root:ab", "GISSUER/rel-1")
            .await
            .unwrap(),
        IdempotencyOutcome::Inserted
    );
    assert_eq!(
        db.put_idempotency("root:ab", "GISSUER/rel-2")
            .await
            .unwrap(),
        IdempotencyOutcome::Existing("GISSUER/rel-1".into())
    );
    assert_eq!(
        db.get_idempotency("root:ab").await.unwrap().as_deref(),
        Some("GISSUER/rel-1")
    );
    assert!(db.get_idempotency("root:cd").await.unwrap().is_none());

    kv_suite(db.clone(), races).await;
    relayer_suite(db, races).await;
}

/// The conditional key-value store: versions, expiry, and one winner of a race.
async fn kv_suite(db: Arc<dyn AppDb>, races: Races) {
    let conflict = |r: Result<u64, StorageError>| {
        assert!(matches!(r, Err(StorageError::Conflict(_))), "{r:?}");
    };
    assert_eq!(db.kv_get("a").await.unwrap(), None);
    assert_eq!(
        db.kv_put("a", "one", KvExpect::Absent, None).await.unwrap(),
        1
    );
    conflict(db.kv_put("a", "two", KvExpect::Absent, None).await);
    conflict(db.kv_put("a", "two", KvExpect::Version(2), None).await);
    assert_eq!(
        db.kv_put("a", "two", KvExpect::Version(1), None)
            .await
            .unwrap(),
        2
    );
    conflict(db.kv_put("a", "three", KvExpect::Version(1), None).await);
    assert_eq!(
        db.kv_put("a", "three", KvExpect::Any, None).await.unwrap(),
        3
    );
    let far = medimint_storage::now() + 3_600;
    assert_eq!(
        db.kv_put("a", "four", KvExpect::Version(3), Some(far))
            .await
            .unwrap(),
        4
    );
    let got = db.kv_get("a").await.unwrap().unwrap();
    assert_eq!(
        (got.value.as_str(), got.version, got.expires_at),
        ("four", 4, Some(far))
    );
    // An expired record reads as absent and is overwritten as absent, but its version
    // keeps counting: whoever held version 5 can never match the new record.
    let past = medimint_storage::now() - 1;
    assert_eq!(
        db.kv_put("a", "five", KvExpect::Version(4), Some(past))
            .await
            .unwrap(),
        5
    );
    assert_eq!(db.kv_get("a").await.unwrap(), None);
    conflict(db.kv_put("a", "x", KvExpect::Version(5), None).await);
    assert_eq!(
        db.kv_put("a", "six", KvExpect::Absent, None).await.unwrap(),
        6
    );
    assert_eq!(db.kv_get("a").await.unwrap().unwrap().expires_at, None);
    // Deletes are conditional too; a delete starts the key over.
    assert!(matches!(
        db.kv_delete("a", KvExpect::Version(5)).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        db.kv_delete("a", KvExpect::Absent).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(db.kv_delete("a", KvExpect::Version(6)).await.unwrap());
    assert_eq!(db.kv_get("a").await.unwrap(), None);
    assert!(!db.kv_delete("a", KvExpect::Any).await.unwrap());
    assert!(!db.kv_delete("a", KvExpect::Absent).await.unwrap());
    assert_eq!(
        db.kv_put("a", "again", KvExpect::Absent, None)
            .await
            .unwrap(),
        1
    );
    assert!(db.kv_delete("a", KvExpect::Any).await.unwrap());
    // An expired record is not counted as deleted.
    db.kv_put("b", "old", KvExpect::Absent, Some(past))
        .await
        .unwrap();
    assert!(!db.kv_delete("b", KvExpect::Absent).await.unwrap());
    assert_eq!(db.kv_get("b").await.unwrap(), None);

    // Sixteen (concurrent) takers of one key: exactly one wins.
    let results = calls(races, 16, |i| {
        let db = db.clone();
        async move {
            db.kv_put("lease", &format!("holder-{i}"), KvExpect::Absent, Some(far))
                .await
        }
    })
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        assert!(matches!(r, Ok(1) | Err(StorageError::Conflict(_))), "{r:?}");
    }
    let held = db.kv_get("lease").await.unwrap().unwrap();
    assert_eq!(held.value, format!("holder-{}", winners[0]));
}

fn request_record(hash: u8) -> medimint_chain::relayer::RequestRecord {
    use stellar_xdr::{
        Memo, MuxedAccount, Preconditions, SequenceNumber, Transaction, TransactionEnvelope,
        TransactionExt, TransactionV1Envelope, Uint256,
    };
    medimint_chain::relayer::RequestRecord {
        fingerprint: [7; 32],
        hash: [hash; 32],
        envelope: TransactionEnvelope::Tx(TransactionV1Envelope {
            tx: Transaction {
                source_account: MuxedAccount::Ed25519(Uint256([3; 32])),
                fee: 1_000,
                seq_num: SequenceNumber(77),
                cond: Preconditions::None,
                memo: Memo::None,
                operations: Default::default(),
                ext: TransactionExt::V0,
            },
            signatures: Default::default(),
        }),
        max_time: 1_800_000_000,
        channel: "GCHANNEL".into(),
    }
}

/// The relayer's request records and daily spend, through the database and through
/// [`RelayerDb`], the relayer's view of it.
async fn relayer_suite(db: Arc<dyn AppDb>, races: Races) {
    use medimint_chain::relayer::{Refusal, RequestStore, SpendStore};

    // Request records are replaced (a rebuild sends a new envelope under the same key).
    assert_eq!(db.get_relay_request("req-1").await.unwrap(), None);
    db.put_relay_request("req-1", "first").await.unwrap();
    db.put_relay_request("req-1", "second").await.unwrap();
    assert_eq!(
        db.get_relay_request("req-1").await.unwrap().as_deref(),
        Some("second")
    );
    let relayer_db = RelayerDb::new(db.clone());
    let requests: &dyn RequestStore = &relayer_db;
    requests.put("req-2", &request_record(1)).await.unwrap();
    requests.put("req-2", &request_record(2)).await.unwrap();
    assert_eq!(
        requests.get("req-2").await.unwrap(),
        Some(request_record(2))
    );
    assert_eq!(requests.get("req-3").await.unwrap(), None);
    // A damaged record is an error naming it, not a missing one (which would send again).
    let err = requests.get("req-1").await.unwrap_err().to_string();
    assert!(err.contains("request record: unknown version"), "{err}");

    // Spend: capped atomically, per user and day.
    assert_eq!(
        db.add_relay_spend("GUSER", 20_000, 600, Some(1_000))
            .await
            .unwrap(),
        SpendOutcome::Added(600)
    );
    assert_eq!(
        db.add_relay_spend("GUSER", 20_000, 500, Some(1_000))
            .await
            .unwrap(),
        SpendOutcome::OverCap { would: 1_100 }
    );
    assert_eq!(
        db.add_relay_spend("GUSER", 20_000, 2_000, Some(1_000))
            .await
            .unwrap(),
        SpendOutcome::OverCap { would: 2_600 }
    );
    assert_eq!(db.relay_spend("GUSER", 20_000).await.unwrap(), 600);
    assert_eq!(db.relay_spend("GUSER", 20_001).await.unwrap(), 0);
    assert_eq!(db.relay_spend("GOTHER", 20_000).await.unwrap(), 0);
    assert_eq!(
        db.add_relay_spend("GUSER", 20_000, -500, None)
            .await
            .unwrap(),
        SpendOutcome::Added(100)
    );

    // Through the relayer's trait: sixteen (concurrent) reservations of 100 under a cap of
    // 1 000 on a fresh day: exactly ten pass.
    let results = calls(races, 16, |_| {
        let store = relayer_db.clone();
        async move { store.reserve("GBUSY", 20_000, 100, 1_000).await }
    })
    .await;
    let mut passed = 0;
    for r in results {
        match r {
            Ok(()) => passed += 1,
            Err(medimint_chain::Error::Refused(Refusal::DailySpend { would, cap, .. })) => {
                assert_eq!((would, cap), (1_100, 1_000));
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(passed, 10);
    let spend: &dyn SpendStore = &relayer_db;
    assert_eq!(spend.spent("GBUSY", 20_000).await.unwrap(), 1_000);
    // Settled to what was charged: 100 reserved, 30 charged.
    spend.settle("GBUSY", 20_000, 100, 30).await.unwrap();
    assert_eq!(spend.spent("GBUSY", 20_000).await.unwrap(), 930);
    spend.reserve("GBUSY", 20_000, 70, 1_000).await.unwrap();
    assert!(spend.reserve("GBUSY", 20_000, 1, 1_000).await.is_err());

    // Leases through the relayer's trait: one holder, renewal by version, and a released
    // (expired) lease free again with its version still counting.
    use medimint_chain::relayer::{LeaseExpect, LeaseStore};
    let leases: &dyn LeaseStore = &relayer_db;
    let later = medimint_storage::now() + 600;
    let key = "relay/channel/GCHAN";
    assert_eq!(
        leases
            .put(key, "p1", LeaseExpect::Free, later)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        leases
            .put(key, "p2", LeaseExpect::Free, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        leases
            .put(key, "p2", LeaseExpect::Held(7), later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        leases
            .put(key, "p1", LeaseExpect::Held(1), later)
            .await
            .unwrap(),
        Some(2)
    );
    let released = medimint_storage::now();
    assert_eq!(
        leases
            .put(key, "p1", LeaseExpect::Held(2), released)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        leases
            .put(key, "p1", LeaseExpect::Held(3), later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        leases
            .put(key, "p2", LeaseExpect::Free, later)
            .await
            .unwrap(),
        Some(4)
    );
    assert_eq!(db.kv_get(key).await.unwrap().unwrap().value, "p2");
}
