//! The study and issuer endpoints, one by one, over the real platform on an in-process
//! devnet: without a token, with a bad input, as someone the token is not theirs (404, no
//! existence leak), and in the wrong role (403) or state (409), each asserting the status
//! and the problem type.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
mod suite_common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::TestApi;
use medimint_chain::Network;
use medimint_platform::Platform;
use serde_json::{json, Value};
use suite_common::expect;
use suite_common::{Suite, JANE};

struct Chain {
    api: TestApi,
    platform: Arc<Platform>,
    /// Jane's approved study (active) and her pending one.
    active: String,
    pending: String,
    issuer: String,
    suite: Suite,
}

async fn chain() -> Chain {
    let suite = suite_common::suite().await;
    let issuer = suite.issuer.clone();
    let (active, _) = suite.release(&issuer, &JANE, "2.25.1001", 1, 1).await;
    let (pending, _) = suite.release(&issuer, &JANE, "2.25.1002", 1, 1).await;
    suite.approve(JANE.email, &active).await;
    Chain {
        api: suite.api(),
        platform: suite.platform.clone(),
        active,
        pending,
        issuer,
        suite,
    }
}

/// Every study endpoint: (method, path template with `{t}`, body).
fn study_endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/studies/{t}", None),
        (
            Method::POST,
            "/v1/studies/{t}/consent",
            Some(json!({"decision": "approve"})),
        ),
        (Method::GET, "/v1/studies/{t}/access", None),
        (
            Method::POST,
            "/v1/studies/{t}/shares",
            Some(json!({"to": "dr@clinic.example", "role": "viewer"})),
        ),
        (
            Method::DELETE,
            "/v1/studies/{t}/shares/dr@clinic.example",
            None,
        ),
        (Method::GET, "/v1/studies/{t}/history", None),
        (Method::GET, "/v1/studies/{t}/files", None),
        (Method::GET, "/v1/studies/{t}/files/S01/IM0001.dcm", None),
        (
            Method::POST,
            "/v1/studies/{t}/verify",
            Some(json!({"files": [{"name": "a.dcm", "sha256": "00".repeat(32)}]})),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_study_endpoint_refuses_no_token_bad_input_a_stranger_and_the_wrong_role() {
    let c = chain().await;
    let api = &c.api;
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    let (pacs, _) = api.sign_in_as("pacs@general.example").await;

    for (method, path, body) in study_endpoints() {
        let path = path.replace("{t}", &c.active);
        // No token: 401.
        let r = api.call(method.clone(), &path, body.clone(), None).await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {path} anonymous"),
        );
        // Someone else's study: 404, exactly as for a token that does not exist.
        let r = api
            .call(method.clone(), &path, body.clone(), Some(&eve))
            .await;
        expect(
            &r,
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{method} {path} as a stranger"),
        );
        let missing = path.replace(&format!("/{}", c.active), "/999999");
        let r = api
            .call(method.clone(), &missing, body.clone(), Some(&eve))
            .await;
        expect(
            &r,
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{method} {missing}"),
        );
        // Not a token id: 400 naming it.
        let bad = path.replace(&format!("/{}", c.active), "/abc");
        let r = api
            .call(method.clone(), &bad, body.clone(), Some(&jane))
            .await;
        expect(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            &format!("{method} {bad}"),
        );
        assert_eq!(r.body["field"], "token", "{method} {bad}");
    }

    let t = |p: &str| p.replace("{t}", &c.active);
    // Invalid inputs name their field.
    for (path, body, field) in [
        (
            "/v1/studies/{t}/consent",
            json!({"decision": "maybe"}),
            "decision",
        ),
        (
            "/v1/studies/{t}/consent",
            json!({"decision": "reject", "reason": "bored"}),
            "reason",
        ),
        ("/v1/studies/{t}/consent", json!({}), "decision"),
        (
            "/v1/studies/{t}/shares",
            json!({"to": "dr@clinic.example", "role": "owner"}),
            "role",
        ),
        (
            "/v1/studies/{t}/shares",
            json!({"to": "nobody", "role": "viewer"}),
            "to",
        ),
        (
            "/v1/studies/{t}/shares",
            json!({"to": "dr@clinic.example", "role": "viewer", "until": 1}),
            "until",
        ),
        (
            "/v1/studies/{t}/verify",
            json!({"files": [{"name": "a"}]}),
            "files[0]",
        ),
    ] {
        let r = api.post(&t(path), body.clone(), Some(&jane)).await;
        expect(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            &format!("{path} {body}"),
        );
        assert!(
            r.body["field"].as_str().unwrap().starts_with(field),
            "{path} {body}: field {}",
            r.body["field"]
        );
    }
    let r = api.get("/v1/studies?role=everything", Some(&jane)).await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "role");
    let r = api.get("/v1/studies?limit=0", Some(&jane)).await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "limit");
    let r = api.get("/v1/studies?cursor=zzz", Some(&jane)).await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "cursor");

    // Wrong role: the issuer sees the study but is not its owner.
    let r = api
        .post(
            &t("/v1/studies/{t}/consent"),
            json!({"decision": "approve"}),
            Some(&pacs),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "the issuer consenting",
    );
    // Wrong state: the active study was decided already.
    let r = api
        .post(
            &t("/v1/studies/{t}/consent"),
            json!({"decision": "reject"}),
            Some(&jane),
        )
        .await;
    expect(&r, StatusCode::CONFLICT, "conflict", "consent twice");

    // A viewer may view but not share, and not consent.
    let r = api
        .post(
            &t("/v1/studies/{t}/shares"),
            json!({"to": "dr@clinic.example", "role": "viewer"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (dr, _) = api.sign_in_as("dr@clinic.example").await;
    let r = api.get(&t("/v1/studies/{t}/files"), Some(&dr)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .post(
            &t("/v1/studies/{t}/shares"),
            json!({"to": "friend@example.org", "role": "viewer"}),
            Some(&dr),
        )
        .await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "a viewer sharing");
    let r = api
        .post(
            &t("/v1/studies/{t}/consent"),
            json!({"decision": "approve"}),
            Some(&dr),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a viewer consenting",
    );

    // The pending study: its files are not served before consent; the issuer may not
    // consent for the patient; the patient can.
    let p = |s: &str| s.replace("{t}", &c.pending);
    let r = api.get(&p("/v1/studies/{t}"), Some(&eve)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "a stranger on a pending study",
    );
    let r = api
        .post(
            &p("/v1/studies/{t}/consent"),
            json!({"decision": "approve"}),
            Some(&pacs),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "the issuer consenting for the patient",
    );
    let r = api
        .post(
            &p("/v1/studies/{t}/consent"),
            json!({"decision": "reject", "reason": "not_mine"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "rejected");
    let _ = &c.issuer;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_issuer_endpoint_is_for_the_admin_only_and_names_bad_input() {
    let c = chain().await;
    let api = &c.api;
    let (patient, _) = api.sign_in_as("jane@example.org").await;
    let (issuer_token, _) = api.sign_in_as("pacs@general.example").await;
    let add = json!({"email": "lab@example.org", "name": "Lab", "kind": "laboratory",
        "jurisdiction": "US-NY", "evidence": "CLIA 123"});
    let endpoints = [
        (Method::GET, "/v1/issuers".to_string(), None),
        (Method::POST, "/v1/issuers".to_string(), Some(add.clone())),
        (
            Method::POST,
            format!("/v1/issuers/{}/suspend", c.issuer),
            None,
        ),
        (
            Method::POST,
            format!("/v1/issuers/{}/reinstate", c.issuer),
            None,
        ),
        (Method::DELETE, format!("/v1/issuers/{}", c.issuer), None),
    ];
    for (method, path, body) in &endpoints {
        let r = api.call(method.clone(), path, body.clone(), None).await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {path}"),
        );
        for (who, token) in [("a patient", &patient), ("an issuer", &issuer_token)] {
            let r = api
                .call(method.clone(), path, body.clone(), Some(token))
                .await;
            expect(
                &r,
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("{method} {path} as {who}"),
            );
        }
    }

    // The admin (the suite's admin key, signing in with SEP-10) gets through, and bad
    // input names its field.
    let admin =
        medimint_sdk::keys::derive_keypair(c.platform.seed(), medimint_platform::ADMIN_INDEX)
            .unwrap();
    let address = admin.address();
    let r = api.get(&format!("/auth?account={address}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        admin.signing_key(),
        &Network::new(c.platform.config().network.passphrase.clone()),
    )
    .unwrap();
    let r = api
        .post("/auth", json!({"transaction": signed}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let admin_token = r.body["token"].as_str().unwrap().to_string();
    let r = api.get("/v1/issuers", Some(&admin_token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains(&c.issuer));
    for (field, value) in [
        ("kind", json!("spa")),
        ("email", json!("not-an-email")),
        ("address", json!("GNOTANADDRESS")),
    ] {
        let mut body = add.clone();
        body[field] = value;
        let r = api.post("/v1/issuers", body, Some(&admin_token)).await;
        expect(&r, StatusCode::BAD_REQUEST, "invalid-request", field);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    let r = api
        .post(
            "/v1/issuers/GNOTANADDRESS/suspend",
            json!({}),
            Some(&admin_token),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "suspend a bad address",
    );
    let stranger = "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7";
    let r = api
        .post(
            &format!("/v1/issuers/{stranger}/suspend"),
            json!({}),
            Some(&admin_token),
        )
        .await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "suspend an unknown issuer",
    );
    // Suspend, then suspending again is a state conflict.
    let r = api
        .post(
            &format!("/v1/issuers/{}/suspend", c.issuer),
            json!({}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .post(
            &format!("/v1/issuers/{}/suspend", c.issuer),
            json!({}),
            Some(&admin_token),
        )
        .await;
    expect(&r, StatusCode::CONFLICT, "conflict", "suspend twice");
}

/// Signs in with SEP-10 as the holder of `kp` (a key only the test holds): the access token.
async fn wallet_sign_in(c: &Chain, kp: &medimint_sdk::keys::Keypair) -> String {
    let r = c
        .api
        .get(&format!("/auth?account={}", kp.address()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        kp.signing_key(),
        &Network::new(c.platform.config().network.passphrase.clone()),
    )
    .unwrap();
    let r = c
        .api
        .post("/auth", json!({"transaction": signed}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_wallet_gets_its_wrapped_key_and_object_urls_and_opens_them_itself() {
    let c = chain().await;
    let api = &c.api;
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let wallet = medimint_sdk::keys::Keypair::from_seed_bytes(&[9; 32]);
    let key_path = format!("/v1/studies/{}/key", c.active);
    // Before a share the wallet sees nothing.
    let token = wallet_sign_in(&c, &wallet).await;
    let r = api.get(&key_path, Some(&token)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "a wallet without a role",
    );
    let r = api
        .post(
            &format!("/v1/studies/{}/shares", c.active),
            json!({"to": wallet.address(), "role": "viewer"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The session's first fetch records the access on chain, which the wallet signs itself
    // (its account exists, as a real wallet's does); then the key comes at once.
    c.suite.fund(&wallet.address()).await;
    let network = Network::new(c.platform.config().network.passphrase.clone());
    let r = api.get(&key_path, Some(&token)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let a = &r.body["authorization"];
    assert_eq!(a["action"], "record_access");
    let entry = <stellar_xdr::SorobanAuthorizationEntry as stellar_xdr::ReadXdr>::from_xdr_base64(
        a["entry"].as_str().unwrap(),
        stellar_xdr::Limits::none(),
    )
    .unwrap();
    let signed = medimint_chain::auth::sign_auth_entries(
        &network,
        vec![entry],
        &[wallet.signing_key() as &dyn medimint_chain::Signer],
        a["signature_expiration_ledger"].as_u64().unwrap() as u32,
    )
    .unwrap()
    .remove(0);
    let r = api
        .post(
            &format!("/v1/authorizations/{}/submit", a["id"].as_str().unwrap()),
            json!({"signed_entry": stellar_xdr::WriteXdr::to_xdr_base64(&signed, stellar_xdr::Limits::none()).unwrap()}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["key"]["address"], wallet.address());
    let r = api.get(&key_path, Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["address"], wallet.address());
    // Only the wallet's key opens it.
    let wrapped = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        r.body["wrapped_key"].as_str().unwrap(),
    )
    .unwrap();
    medimint_sdk::crypto::open_key(&wrapped, &wallet).expect("the wallet opens its key");
    assert!(medimint_sdk::crypto::open_key(
        &wrapped,
        &medimint_sdk::keys::Keypair::from_seed_bytes(&[8; 32])
    )
    .is_err());
    // The URLs serve the stored ciphertext without a bearer token.
    let store = c.platform.store();
    let files = r.body["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    for link in files.iter().chain([&r.body["metadata"]]) {
        let url = link["url"].as_str().unwrap();
        let path = url.strip_prefix(common::BASE).unwrap();
        let got = api.get(path, None).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        let stored = store
            .get_bytes(link["key"].as_str().unwrap(), 1 << 24)
            .await
            .unwrap();
        // (The harness keeps the body as lossy UTF-8: compare it so.)
        assert!(!stored.is_empty());
        assert!(got.text == String::from_utf8_lossy(&stored), "{path}");
        let tampered = path.replace("signature=", "signature=0");
        expect(
            &api.get(&tampered, None).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "tampered",
        );
        let other = path.replace("/v1/objects/", "/v1/objects/keys/");
        expect(
            &api.get(&other, None).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "another key",
        );
    }
    // Someone else, and a malformed token id.
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    expect(
        &api.get(&key_path, Some(&eve)).await,
        StatusCode::NOT_FOUND,
        "not-found",
        "eve",
    );
    let r = api.get("/v1/studies/x/key", Some(&token)).await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "bad token");
    // Revoked: no key any more.
    let r = api
        .call(
            Method::DELETE,
            &format!("/v1/studies/{}/shares/{}", c.active, wallet.address()),
            None,
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get(&key_path, Some(&token)).await;
    assert!(
        r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN,
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_stops_the_next_download_at_once_though_the_role_is_kept_a_ledger() {
    let c = chain().await;
    let api = &c.api;
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let t = |p: &str| p.replace("{t}", &c.active);
    let r = api
        .post(
            &t("/v1/studies/{t}/shares"),
            json!({"to": "dr@clinic.example", "role": "viewer"}),
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (dr, _) = api.sign_in_as("dr@clinic.example").await;
    let file = t("/v1/studies/{t}/files/S01/IM0001.dcm");
    // Twice: the second is served from the role and metadata kept for this study.
    for _ in 0..2 {
        let r = api.get(&file, Some(&dr)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.headers["content-type"], "application/dicom");
        let length: usize = r.headers["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(length > 128 && r.text.len() >= length / 2, "{length}");
    }
    let missing = api
        .get(&t("/v1/studies/{t}/files/S01/nothing.dcm"), Some(&dr))
        .await;
    expect(
        &missing,
        StatusCode::NOT_FOUND,
        "not-found",
        "a file not listed",
    );
    // Jane revokes: the doctor's next download is refused at once, not a ledger later.
    let r = api
        .call(
            Method::DELETE,
            &t("/v1/studies/{t}/shares/dr@clinic.example"),
            None,
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get(&file, Some(&dr)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "a download after the revoke",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_lists_its_inbox_releases_once_each_with_their_tokens_after_a_retry() {
    let c = chain().await;
    let api = &c.api;
    let r = api.get("/v1/releases", None).await;
    expect(&r, StatusCode::UNAUTHORIZED, "unauthenticated", "anonymous");
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let r = api.get("/v1/releases", Some(&jane)).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "a patient");
    // The pipeline meets the first release again (a retry of the same export): still one.
    let (again, _) = c.suite.release(&c.issuer, &JANE, "2.25.1001", 1, 1).await;
    assert_eq!(again, c.active);
    let (pacs, address) = api.sign_in_as("pacs@general.example").await;
    assert_eq!(address, c.issuer);
    let r = api.get("/v1/releases?limit=1", Some(&pacs)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = &r.body["items"][0];
    assert_eq!(
        first["release_id"], "R-2.25.1002",
        "newest first: {}",
        r.text
    );
    assert_eq!(first["status"], "released");
    assert_eq!(first["token_id"], c.pending.as_str());
    let cursor = r.body["next_cursor"].as_str().expect("a second page");
    let r = api
        .get(
            &format!("/v1/releases?limit=1&cursor={cursor}"),
            Some(&pacs),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["release_id"], "R-2.25.1001");
    assert_eq!(items[0]["token_id"], c.active.as_str());
    assert!(
        r.body.get("next_cursor").is_none(),
        "listed once: {}",
        r.text
    );
}

/// How many `record_access` events the token's history holds.
async fn accesses(c: &Chain, bearer: &str) -> usize {
    let r = c
        .api
        .get(&format!("/v1/studies/{}/history", c.active), Some(bearer))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.contains("access")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_is_recorded_once_per_session_and_signing_out_still_stops_the_next() {
    let c = chain().await;
    let api = &c.api;
    let file = format!("/v1/studies/{}/files/S01/IM0001.dcm", c.active);
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let before = accesses(&c, &jane).await;
    // Three downloads in one session: one access record (the later ones skip the session
    // store's mark: this process recorded it).
    for _ in 0..3 {
        let r = api.get(&file, Some(&jane)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(accesses(&c, &jane).await, before + 1);
    // Signed out (everywhere, the account-wide cutoff): the next download is refused at once,
    // though this session's viewing is remembered as recorded.
    let out = api
        .post("/auth/logout/everywhere", json!({}), Some(&jane))
        .await;
    assert!(out.status.is_success(), "{}", out.text);
    let r = api.get(&file, Some(&jane)).await;
    expect(
        &r,
        StatusCode::UNAUTHORIZED,
        "session-ended",
        "a download after signing out everywhere",
    );
    // A new session records its own viewing, once.
    let (again, _) = api.sign_in_as("jane@example.org").await;
    for _ in 0..2 {
        let r = api.get(&file, Some(&again)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(accesses(&c, &again).await, before + 2);
}
