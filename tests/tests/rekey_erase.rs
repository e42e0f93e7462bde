//! Re-key on revoke and erasure end to end, over the real platform on an in-process devnet
//! and the API as `medimint up` serves it.
//!
//! Re-key: a run that fails after two of six files (an object store that refuses the third
//! new object, as a crash would leave it) changes nothing anyone sees; the repeated API call
//! continues it. Afterwards the pointer moved on chain, `verify` still holds, the owner and
//! the remaining grantee download the same bytes, the revoked grantee's old wrapped key opens
//! none of the new objects, and no old object is left.
//!
//! Erasure: a run that fails midway through the deletions, then the API call that finishes
//! it; afterwards nothing of the study is stored, every content route answers 410
//! `study-erased`, the history keeps the non-PHI events with `erased`, and a repeat is 200.
//!
//! Both: every refusal (no sign-in, a stranger, a grantee, the issuer, a pending study, an
//! erased one, bad confirmation), and a wallet account's 409 saying why.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
mod suite_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use medimint_chain::Network;
use medimint_platform::{Parts, Platform, RelayScope, Target};
use medimint_sdk::crypto::{decrypt, open_key, Error as CryptoError};
use medimint_storage::{ObjectInfo, ObjectReader, ObjectStore, StorageError};
use serde_json::json;
use sha2::{Digest, Sha256};
use suite_common::{expect, Suite, JANE};
use tokio::io::AsyncRead;

/// A store that passes everything through, but refuses the `puts`-th and later new objects of
/// a re-key (keys `…/files/<sha>.<generation>`) and the `deletes`-th and later deletions of
/// every version: what a crash at that point leaves.
struct FailingStore {
    inner: Arc<dyn ObjectStore>,
    puts: AtomicUsize,
    deletes: AtomicUsize,
}

impl FailingStore {
    fn new(inner: Arc<dyn ObjectStore>, puts: usize, deletes: usize) -> Self {
        Self {
            inner,
            puts: AtomicUsize::new(puts),
            deletes: AtomicUsize::new(deletes),
        }
    }
}

fn injected(what: &str) -> StorageError {
    StorageError::Backend {
        context: what.into(),
        message: "injected failure (the process stopped here)".into(),
        transient: true,
    }
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_stream(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        if key.contains("/files/") && key.contains(".k") && !take(&self.puts) {
            return Err(injected("storing a re-encrypted file"));
        }
        self.inner.put_stream(key, body).await
    }
    async fn get_stream(&self, key: &str) -> Result<ObjectReader, StorageError> {
        self.inner.get_stream(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn delete_all_versions(&self, key: &str) -> Result<(), StorageError> {
        if !take(&self.deletes) {
            return Err(injected("deleting every version"));
        }
        self.inner.delete_all_versions(key).await
    }
    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.inner.copy(from, to).await
    }
}

/// The same platform (database, seed, chain) over another store.
fn over_store(p: &Platform, store: Arc<dyn ObjectStore>) -> Platform {
    Platform::from_parts(Parts {
        config: p.config().clone(),
        seed: p.seed().clone(),
        rpc: p.rpc().clone(),
        network: Network::new(p.config().network.passphrase.clone()),
        store,
        db: p.db().clone(),
        scope: RelayScope::Suite,
    })
    .unwrap()
}

async fn study_id(p: &Platform, token: &str) -> String {
    let r = p.token_record(token).await.unwrap();
    medimint_ingest::layout::study_id(&hex::encode(r.commitment)).unwrap()
}

fn path_of(t: &str, tail: &str) -> String {
    format!("/v1/studies/{t}{tail}")
}

/// The raw bytes of a file download (the reply's text is lossy for binary bodies).
async fn file_bytes(api: &common::TestApi, t: &str, name: &str, bearer: &str) -> Vec<u8> {
    let request = axum::http::Request::builder()
        .method(Method::GET)
        .uri(path_of(t, &format!("/files/{name}")))
        .header("authorization", format!("Bearer {bearer}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(api.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{name}");
    axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec()
}

async fn kinds(api: &common::TestApi, t: &str, bearer: &str) -> Vec<String> {
    let r = api.get(&path_of(t, "/history"), Some(bearer)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

struct Setup {
    suite: Suite,
    api: common::TestApi,
    active: String,
    pending: String,
    files: Vec<(String, Vec<u8>)>,
}

async fn setup(uid: &str) -> Setup {
    let suite = suite_common::suite().await;
    let issuer = suite.issuer.clone();
    let (active, files) = suite.release(&issuer, &JANE, uid, 2, 3).await;
    suite.approve(JANE.email, &active).await;
    let (pending, _) = suite
        .release(&issuer, &JANE, &format!("{uid}.9"), 1, 1)
        .await;
    let api = suite.api();
    Setup {
        suite,
        api,
        active,
        pending,
        files,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_with_rekey_survives_a_crash_and_keeps_the_plaintext() {
    let s = setup("2.25.1701").await;
    let (api, t, platform) = (&s.api, s.active.as_str(), s.suite.platform.clone());
    let (jane, jane_address) = api.sign_in_as(JANE.email).await;
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    let (pacs, _) = api.sign_in_as("pacs@general.example").await;
    for to in ["dr@clinic.example", "friend@example.org"] {
        let r = api
            .post(
                &path_of(t, "/shares"),
                json!({"to": to, "role": "viewer"}),
                Some(&jane),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let (dr, dr_address) = api.sign_in_as("dr@clinic.example").await;
    let (friend, _) = api.sign_in_as("friend@example.org").await;
    let sid = study_id(&platform, t).await;
    let store = platform.store().clone();
    let dr_wrapped = store
        .get_bytes(&format!("keys/{sid}/{dr_address}"), 1 << 16)
        .await
        .unwrap();
    let before = platform.token_record(t).await.unwrap();
    let old_objects = store.list(&format!("studies/{sid}/files/")).await.unwrap();
    assert_eq!(old_objects.len(), s.files.len());

    // Refusals: no sign-in, a stranger, a grantee, the issuer, a pending study.
    let revoke_dr = path_of(t, "/shares/dr@clinic.example?rekey=true");
    let r = api.call(Method::DELETE, &revoke_dr, None, None).await;
    expect(&r, StatusCode::UNAUTHORIZED, "unauthenticated", "no token");
    let r = api.post(&path_of(t, "/rekey"), json!({}), None).await;
    expect(
        &r,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "rekey, no token",
    );
    let r = api.call(Method::DELETE, &revoke_dr, None, Some(&eve)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "a stranger");
    let r = api
        .call(
            Method::DELETE,
            &path_of(t, "/shares/dr@clinic.example?rekey=true"),
            None,
            Some(&friend),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a grantee re-keying",
    );
    let r = api
        .post(&path_of(t, "/rekey"), json!({}), Some(&pacs))
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "the issuer re-keying",
    );
    let r = api
        .post(&path_of(&s.pending, "/rekey"), json!({}), Some(&jane))
        .await;
    expect(&r, StatusCode::CONFLICT, "conflict", "a pending study");
    let r = api
        .call(
            Method::DELETE,
            &path_of(t, "/shares/dr@clinic.example?rekey=maybe"),
            None,
            Some(&jane),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "rekey=maybe",
    );
    // Nothing changed by the refusals: dr still reads.
    let r = api
        .get(&path_of(t, &format!("/files/{}", s.files[0].0)), Some(&dr))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The crash: the third new object cannot be stored.
    let crashing = over_store(
        &platform,
        Arc::new(FailingStore::new(store.clone(), 2, usize::MAX)),
    );
    let err = crashing
        .revoke_and_rekey(JANE.email, t, &Target::Email("dr@clinic.example".into()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("injected failure"), "{err}");
    // Nothing anyone reads changed: the pointer, the old objects, the owner's bytes.
    let mid = platform.token_record(t).await.unwrap();
    assert_eq!(mid.metadata_uri, before.metadata_uri);
    let listed = store.list(&format!("studies/{sid}/files/")).await.unwrap();
    assert_eq!(listed.len(), s.files.len() + 2, "{listed:?}");
    for (name, bytes) in &s.files {
        assert!(
            file_bytes(api, t, name, &jane).await == *bytes,
            "{name} after the crash"
        );
    }
    // The revoke itself landed before the crash: dr is out already. (It was made by another
    // platform instance than the API's, whose cache may keep dr's role for one ledger,
    // `ROLE_TTL`, as another API instance would: drop it as the next ledger does.)
    platform.forget_opened(before.id);
    let r = api
        .get(&path_of(t, &format!("/files/{}", s.files[0].0)), Some(&dr))
        .await;
    assert!(
        r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN,
        "{}",
        r.text
    );

    // The same request again continues it.
    let r = api
        .call(Method::DELETE, &revoke_dr, None, Some(&jane))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["grantee"], dr_address.as_str());
    let rk = &r.body["rekey"];
    assert_eq!(rk["resumed"], true, "{rk}");
    assert_eq!(rk["files"], s.files.len() as u64);
    assert_eq!(rk["files_reencrypted"], (s.files.len() - 2) as u64);
    let holders: Vec<&str> = rk["key_holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(holders.contains(&jane_address.as_str()), "{holders:?}");
    assert!(!holders.contains(&dr_address.as_str()), "{holders:?}");
    assert_eq!(holders.len(), 3, "owner, issuer and friend: {holders:?}");

    // The pointer moved, the commitment did not.
    let after = platform.token_record(t).await.unwrap();
    let cid = rk["metadata_cid"].as_str().unwrap();
    assert_eq!(after.metadata_uri, format!("ipfs://{cid}"));
    assert_ne!(after.metadata_uri, before.metadata_uri);
    assert_eq!(after.commitment, before.commitment);
    assert!(kinds(api, t, &jane).await.iter().any(|k| k == "rekeyed"));
    // Only new objects are left, and the old metadata is gone.
    let listed = store.list(&format!("studies/{sid}/files/")).await.unwrap();
    assert_eq!(listed.len(), s.files.len());
    for o in &old_objects {
        assert!(store.head(&o.key).await.unwrap().is_none(), "{}", o.key);
    }
    let old_cid = before.metadata_uri.trim_start_matches("ipfs://");
    assert!(store
        .head(&format!("meta/{old_cid}"))
        .await
        .unwrap()
        .is_none());

    // The owner and the remaining grantee read the same bytes; verify still holds.
    for who in [&jane, &friend] {
        for (name, bytes) in &s.files {
            assert!(file_bytes(api, t, name, who).await == *bytes, "{name}");
        }
    }
    let digests: Vec<_> = s
        .files
        .iter()
        .map(|(n, b)| json!({"name": n, "sha256": hex::encode(Sha256::digest(b))}))
        .collect();
    let r = api
        .post(
            &path_of(t, "/verify"),
            json!({"files": digests}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["root_matches"], true, "{}", r.text);

    // The revoked grantee's old key opens none of the new objects.
    let dr_kp = platform.keypair_of("dr@clinic.example").await.unwrap();
    let old_key = open_key(&dr_wrapped, &dr_kp).unwrap();
    assert!(store
        .head(&format!("keys/{sid}/{dr_address}"))
        .await
        .unwrap()
        .is_none());
    for o in &listed {
        let sealed = store.get_bytes(&o.key, 64 << 20).await.unwrap();
        let r = decrypt(&old_key, sealed.as_slice(), &mut Vec::new());
        assert!(matches!(r, Err(CryptoError::WrongKey)), "{}: {r:?}", o.key);
    }

    // A re-key without revoking anyone (and a second one) keeps everyone's bytes.
    let r = api
        .post(&path_of(t, "/rekey"), json!({}), Some(&jane))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["resumed"], false);
    assert_eq!(r.body["files_reencrypted"], s.files.len() as u64);
    let (name, bytes) = &s.files[1];
    assert!(file_bytes(api, t, name, &friend).await == *bytes);
    assert_eq!(
        store
            .list(&format!("studies/{sid}/files/"))
            .await
            .unwrap()
            .len(),
        s.files.len()
    );
    let _ = eve;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_survives_a_crash_and_leaves_only_the_history() {
    let s = setup("2.25.1702").await;
    let (api, t, platform) = (&s.api, s.active.as_str(), s.suite.platform.clone());
    let (jane, _) = api.sign_in_as(JANE.email).await;
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    let (pacs, _) = api.sign_in_as("pacs@general.example").await;
    let r = api
        .post(
            &path_of(t, "/shares"),
            json!({"to": "dr@clinic.example", "role": "viewer"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (dr, _) = api.sign_in_as("dr@clinic.example").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = api
        .post(
            &path_of(t, "/links"),
            json!({"expires_at": now + 7 * 86_400, "passcode": "open-sesame-7"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let shlink = r.body["shlink"].as_str().unwrap().to_string();
    // An emergency department breaks the glass on it.
    let er = platform
        .add_issuer(&suite_common::issuer(
            "ed@county.example",
            "County Emergency",
        ))
        .await
        .unwrap();
    let (ed, _) = api.sign_in_as("ed@county.example").await;
    let r = api
        .post(
            &path_of(t, "/emergency"),
            json!({"reason": "unconscious", "note": "found unresponsive"}),
            Some(&ed),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api.get(&path_of(t, "/key"), Some(&ed)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sid = study_id(&platform, t).await;
    let store = platform.store().clone();
    let cid = platform.token_record(t).await.unwrap().metadata_uri;
    let cid = cid.trim_start_matches("ipfs://").to_string();
    assert!(!store
        .list(&format!("keys/{sid}/"))
        .await
        .unwrap()
        .is_empty());

    // DICOMweb finds the study before, and keeps its index (the study key, the headers) for
    // each of them.
    let uid = "2.25.1702";
    for who in [&jane, &dr] {
        let r = api.get("/dicomweb/studies", Some(who)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains(uid), "{}", r.text);
    }
    let mut holders = Vec::new();
    for email in [JANE.email, "dr@clinic.example"] {
        holders.push(platform.keypair_of(email).await.unwrap().address());
    }
    let views = medimint_platform::dicomweb::ViewCache::global();
    for holder in &holders {
        assert!(views.get(&cid, holder).is_some(), "{holder}");
    }

    // Refusals.
    let erase = path_of(t, "/erase");
    let confirm = json!({"confirm": t.parse::<u32>().unwrap()});
    let r = api.post(&erase, confirm.clone(), None).await;
    expect(&r, StatusCode::UNAUTHORIZED, "unauthenticated", "no token");
    let r = api.post(&erase, confirm.clone(), Some(&eve)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "a stranger");
    let r = api.post(&erase, confirm.clone(), Some(&dr)).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "a grantee");
    let r = api.post(&erase, confirm.clone(), Some(&pacs)).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "the issuer");
    for body in [
        json!({}),
        json!({"confirm": 999_999}),
        json!({"confirm": "yes"}),
    ] {
        let r = api.post(&erase, body.clone(), Some(&jane)).await;
        expect(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            &body.to_string(),
        );
        assert_eq!(r.body["field"], "confirm", "{}", r.text);
    }
    let pending = s.pending.parse::<u32>().unwrap();
    let r = api
        .post(
            &path_of(&s.pending, "/erase"),
            json!({"confirm": pending}),
            Some(&jane),
        )
        .await;
    expect(&r, StatusCode::CONFLICT, "conflict", "a pending study");
    // Nothing was deleted by a refusal.
    assert_eq!(
        store
            .list(&format!("studies/{sid}/files/"))
            .await
            .unwrap()
            .len(),
        s.files.len()
    );

    // The crash: after three deletions.
    let crashing = over_store(
        &platform,
        Arc::new(FailingStore::new(store.clone(), usize::MAX, 3)),
    );
    let err = crashing
        .erase_study(JANE.email, t, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("injected failure"), "{err}");
    assert_eq!(platform.token_record(t).await.unwrap().status, "Active");

    // The API call finishes it.
    let r = api.post(&erase, confirm.clone(), Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "erased");
    assert_eq!(r.body["already_erased"], false);
    assert_eq!(
        r.body["files_deleted"].as_u64().unwrap(),
        (s.files.len() - 3) as u64,
        "three were deleted before the crash: {}",
        r.text
    );
    assert_eq!(platform.token_record(t).await.unwrap().status, "Erased");
    for prefix in [format!("studies/{sid}/"), format!("keys/{sid}/")] {
        assert!(store.list(&prefix).await.unwrap().is_empty(), "{prefix}");
    }
    assert!(store.head(&format!("meta/{cid}")).await.unwrap().is_none());
    // Nor does the process keep its DICOMweb indexes (with the study key) any more.
    for holder in &holders {
        assert!(views.get(&cid, holder).is_none(), "{holder}");
    }

    // Every content route: 410 study-erased, for the owner, the former grantee and the
    // emergency issuer, whose access the review lists as ended.
    let r = api.get("/v1/emergency", Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"][0]["issuer"], er.as_str());
    assert_eq!(r.body["items"][0]["state"], "ended", "{}", r.text);
    for who in [&jane, &dr, &ed] {
        for (method, p, body) in [
            (Method::GET, path_of(t, "/files"), None),
            (
                Method::GET,
                path_of(t, &format!("/files/{}", s.files[0].0)),
                None,
            ),
            (Method::GET, path_of(t, "/key"), None),
            (
                Method::POST,
                path_of(t, "/verify"),
                Some(json!({"files": []})),
            ),
        ] {
            let r = api.call(method, &p, body, Some(who)).await;
            expect(&r, StatusCode::GONE, "study-erased", &p);
        }
    }
    for (method, p, body) in [
        (
            Method::POST,
            path_of(t, "/shares"),
            Some(json!({"to": "new@example.org", "role": "viewer"})),
        ),
        (Method::POST, path_of(t, "/rekey"), Some(json!({}))),
        (
            Method::DELETE,
            path_of(t, "/shares/dr@clinic.example?rekey=true"),
            None,
        ),
    ] {
        let r = api.call(method, &p, body, Some(&jane)).await;
        expect(&r, StatusCode::GONE, "study-erased", &p);
    }
    // DICOMweb: the search leaves it out; the study by its UID is gone.
    for who in [&jane, &dr] {
        let r = api.get("/dicomweb/studies", Some(who)).await;
        // 204: no study left to list.
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        assert!(!r.text.contains(uid), "{}", r.text);
        let r = api
            .get(&format!("/dicomweb/studies/{uid}/metadata"), Some(who))
            .await;
        assert_eq!(r.status, StatusCode::GONE, "{}", r.text);
    }
    // The share link does not open any more.
    let r = api
        .post(
            "/v1/links/open",
            json!({"link": shlink, "passcode": "open-sesame-7"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("revoked"), "{}", r.text);
    // The study's page and history stay, with the erase.
    let r = api.get(&path_of(t, ""), Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "erased");
    assert!(r.body["files"].is_null(), "{}", r.text);
    let history = kinds(api, t, &jane).await;
    for k in ["release_approved", "role_granted", "erased"] {
        assert!(history.iter().any(|h| h == k), "{k} in {history:?}");
    }
    // Again: 200, nothing left to do.
    let r = api.post(&erase, confirm, Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["already_erased"], true);
    assert_eq!(r.body["files_deleted"], 0);
}

const WALLY: suite_common::Patient = suite_common::Patient {
    email: "wally@example.org",
    dicom_name: "WALLET^WALLY",
    family_name: "WALLET",
    given_names: "WALLY",
    dicom_birth_date: "19750303",
    birth_date: "1975-03-03",
    id: "MRN-W17",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_owner_is_told_why_it_cannot_rekey_or_erase_through_the_api() {
    use medimint_sdk::keys::Keypair;
    let suite = suite_common::suite().await;
    let wallet = Keypair::generate();
    suite.link_wallet(WALLY.email, &wallet).await;
    let network = Network::new(suite.devnet().passphrase());
    let (t, _) = suite
        .release(&suite.issuer, &WALLY, "2.25.1703", 1, 1)
        .await;
    let api = suite.api();
    let r = api
        .get(&format!("/auth?account={}", wallet.address()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        wallet.signing_key(),
        &network,
    )
    .unwrap();
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let bearer = r.body["token"].as_str().unwrap().to_string();
    let id: u32 = t.parse().unwrap();
    for (method, p, body) in [
        (Method::POST, path_of(&t, "/rekey"), Some(json!({}))),
        (
            Method::POST,
            path_of(&t, "/erase"),
            Some(json!({"confirm": id})),
        ),
        (
            Method::DELETE,
            path_of(&t, "/shares/dr@clinic.example?rekey=true"),
            None,
        ),
    ] {
        let r = api.call(method, &p, body, Some(&bearer)).await;
        expect(&r, StatusCode::CONFLICT, "conflict", &p);
        assert!(
            r.text.contains("wallet account keeps its key"),
            "{}",
            r.text
        );
    }
    // Nothing changed: the study is there, pending.
    assert_eq!(
        suite.platform.token_record(&t).await.unwrap().status,
        "Pending"
    );
}
