//! Emergency access (break-glass) end to end, over the real platform on an in-process
//! devnet: `POST /v1/studies/{token}/emergency` refuses no token, a wrong role, bad input
//! (naming the field), a pending study and the rate limit; the happy path opens the study to
//! the issuer, mails the patient without PHI, lists it for the patient and the admin, and the
//! access stops when it expires; the patient and the admin end one early.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
mod suite_common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::TestApi;
use medimint_chain::clients::EmergencyPolicy;
use medimint_chain::Network;
use medimint_platform::Platform;
use serde_json::{json, Value};
use suite_common::expect;
use suite_common::{Suite, JANE};

struct Chain {
    api: TestApi,
    platform: Arc<Platform>,
    /// Jane's approved studies and a pending one.
    active: Vec<String>,
    pending: String,
    er: String,
    suite: Suite,
}

async fn chain() -> Chain {
    let suite = suite_common::suite().await;
    let general = suite.issuer.clone();
    let er = suite
        .platform
        .add_issuer(&suite_common::issuer(
            "ed@county.example",
            "County Emergency",
        ))
        .await
        .unwrap();
    let mut active = Vec::new();
    for uid in ["2.25.2001", "2.25.2002", "2.25.2003"] {
        let (t, _) = suite.release(&general, &JANE, uid, 1, 1).await;
        suite.approve(JANE.email, &t).await;
        active.push(t);
    }
    let (pending, _) = suite.release(&general, &JANE, "2.25.2009", 1, 1).await;
    Chain {
        api: suite.api(),
        platform: suite.platform.clone(),
        active,
        pending,
        er,
        suite,
    }
}

/// The newest message to `email` in the outbox, if any.
fn last_message(outbox: &std::path::Path, email: &str) -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .rev()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|t| t.starts_with(&format!("To: {email}\n")) && t.contains("Emergency access"))
}

async fn admin_token(c: &Chain) -> String {
    let admin =
        medimint_sdk::keys::derive_keypair(c.platform.seed(), medimint_platform::ADMIN_INDEX)
            .unwrap();
    let r = c
        .api
        .get(&format!("/auth?account={}", admin.address()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        admin.signing_key(),
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

fn body(reason: &str, hours: Option<u32>) -> Value {
    json!({"reason": reason, "note": "unresponsive after a fall; head CT needed", "hours": hours})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_over_the_api() {
    let c = chain().await;
    let api = &c.api;
    let (jane, jane_address) = api.sign_in_as("jane@example.org").await;
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    let (ed, ed_address) = api.sign_in_as("ed@county.example").await;
    assert_eq!(ed_address, c.er);
    let (pacs, _) = api.sign_in_as("pacs@general.example").await;
    let admin = admin_token(&c).await;
    let path = |t: &str| format!("/v1/studies/{t}/emergency");
    let first = &c.active[0];

    // No token: 401, for each route.
    for (method, p, b) in [
        (Method::POST, path(first), Some(body("unconscious", None))),
        (Method::GET, "/v1/emergency".to_string(), None),
        (Method::DELETE, format!("{}/{}", path(first), c.er), None),
    ] {
        let r = api.call(method.clone(), &p, b, None).await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {p}"),
        );
    }
    // A wrong role: the patient, a stranger and the admin are not issuers.
    for (who, token) in [("jane", &jane), ("eve", &eve), ("admin", &admin)] {
        let r = api
            .post(&path(first), body("unconscious", None), Some(token))
            .await;
        expect(
            &r,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("open as {who}"),
        );
    }
    // Bad input names its field.
    for (b, field) in [
        (json!({"reason": "bored", "note": "x"}), "reason"),
        (json!({"reason": "unconscious", "note": "  "}), "note"),
        (
            json!({"reason": "unconscious", "note": "x".repeat(1_001)}),
            "note",
        ),
        (
            json!({"reason": "unconscious", "note": "x", "hours": 0}),
            "hours",
        ),
        (
            json!({"reason": "unconscious", "note": "x", "hours": 73}),
            "hours",
        ),
    ] {
        let r = api.post(&path(first), b.clone(), Some(&ed)).await;
        expect(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            &b.to_string(),
        );
        assert_eq!(r.body["field"], field, "{b}");
    }
    let r = api
        .post(
            "/v1/studies/abc/emergency",
            body("unconscious", None),
            Some(&ed),
        )
        .await;
    assert_eq!(r.body["field"], "token", "{}", r.text);
    // A pending study, an unknown one, and the study's own issuer (it has access already).
    let r = api
        .post(&path(&c.pending), body("unconscious", None), Some(&ed))
        .await;
    expect(&r, StatusCode::CONFLICT, "conflict", "pending study");
    let r = api
        .post(&path("999999"), body("unconscious", None), Some(&ed))
        .await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "unknown study");
    let r = api
        .post(&path(first), body("unconscious", None), Some(&pacs))
        .await;
    expect(
        &r,
        StatusCode::CONFLICT,
        "conflict",
        "the study's own issuer",
    );
    // Before: the emergency issuer cannot see the study.
    let r = api.get(&format!("/v1/studies/{first}"), Some(&ed)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "before");

    // The happy path: opened for 2 hours; the patient is mailed at once, without the note.
    let r = api
        .post(&path(first), body("life_threatening", Some(2)), Some(&ed))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["token_id"].to_string(), *first);
    assert_eq!(r.body["issuer"], c.er);
    assert_eq!(r.body["patient"], jane_address);
    assert_eq!(r.body["state"], "open");
    let opened_at = r.body["opened_at"].as_u64().unwrap();
    assert_eq!(r.body["expires_at"].as_u64().unwrap(), opened_at + 7_200);
    let mail = last_message(&api.outbox, "jane@example.org").expect("the patient was mailed");
    assert!(mail.contains(&format!("study #{first}")), "{mail}");
    assert!(
        mail.contains("life threatening") && mail.contains(&c.er),
        "{mail}"
    );
    assert!(!mail.contains("head CT") && !mail.contains("DOE"), "{mail}");
    // The issuer now sees the study and gets its key.
    let r = api.get(&format!("/v1/studies/{first}"), Some(&ed)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .get(&format!("/v1/studies/{first}/key"), Some(&ed))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // DICOMweb finds it too (the web app's viewer starts with this search).
    let qido = api.get("/dicomweb/studies", Some(&ed)).await;
    assert_eq!(qido.status, StatusCode::OK, "{}", qido.text);
    assert!(qido.text.contains("2.25.2001"), "{}", qido.text);

    // The review: the patient and the admin see it with the note; a stranger sees nothing.
    for token in [&jane, &admin, &ed] {
        let r = api.get("/v1/emergency", Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let list = r.body["items"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{}", r.text);
        assert_eq!(r.body["next_cursor"], Value::Null, "{}", r.text);
        assert_eq!(list[0]["note"], "unresponsive after a fall; head CT needed");
        assert_eq!(list[0]["reason"], "life_threatening");
        assert_eq!(list[0]["state"], "open");
    }
    let r = api.get("/v1/emergency", Some(&eve)).await;
    assert_eq!(
        r.body,
        json!({"items": [], "next_cursor": null}),
        "{}",
        r.text
    );
    // A stranger cannot end it; the patient can.
    let end = format!("{}/{}", path(first), c.er);
    let r = api.call(Method::DELETE, &end, None, Some(&eve)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "end as a stranger");
    let r = api
        .call(
            Method::DELETE,
            &format!("{}/not-an-address", path(first)),
            None,
            Some(&jane),
        )
        .await;
    assert_eq!(r.body["field"], "issuer", "{}", r.text);
    let r = api.call(Method::DELETE, &end, None, Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get(&format!("/v1/studies/{first}"), Some(&ed)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "after the patient ended it",
    );
    let r = api.get("/v1/emergency", Some(&jane)).await;
    assert_eq!(r.body["items"][0]["state"], "ended", "{}", r.text);
    let qido = api.get("/dicomweb/studies", Some(&ed)).await;
    assert_eq!(
        qido.status,
        StatusCode::NO_CONTENT,
        "nothing left to view: {}",
        qido.text
    );
    let r = api.call(Method::DELETE, &end, None, Some(&jane)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "ending it twice");

    // The admin ends one too.
    let second = &c.active[1];
    let r = api
        .post(&path(second), body("unconscious", Some(1)), Some(&ed))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            Method::DELETE,
            &format!("{}/{}", path(second), c.er),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The rate limit (the admin allows 3 per hour; two are used): the next is refused with
    // 429 and Retry-After, and nothing opens.
    c.platform
        .set_emergency_policy(EmergencyPolicy {
            max_hours: 24,
            limit: 3,
            window: 3_600,
        })
        .await
        .unwrap();
    let third = &c.active[2];
    let r = api
        .post(
            &path(third),
            body("patient_unreachable", Some(1)),
            Some(&ed),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .post(&path(first), body("unconscious", Some(1)), Some(&ed))
        .await;
    expect(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "over the limit",
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3_600).contains(&retry), "{retry}");
    let r = api.get(&format!("/v1/studies/{first}"), Some(&ed)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "refused by the limit",
    );

    // Expiry: an hour later on the chain's clock the access is gone, key included.
    let r = api
        .get(&format!("/v1/studies/{third}/key"), Some(&ed))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    c.suite.devnet().advance_time(3_601);
    let r = api.get(&format!("/v1/studies/{third}"), Some(&ed)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "after expiry");
    let r = api
        .get(&format!("/v1/studies/{third}/key"), Some(&ed))
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{}",
        r.text
    );
    // The review judges by the ledger's clock, as the contract does: the one that ran out
    // is expired, the two ended early are ended (the platform's own clock has not moved).
    let r = api.get("/v1/emergency", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let all = r.body["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), 3, "{}", r.text);
    for e in &all {
        let token = e["token_id"].to_string();
        let want = if token == *third { "expired" } else { "ended" };
        assert_eq!(e["state"], want, "token {token}: {}", r.text);
        // Ended early through MediMint: the time is kept, so it stays "ended" after its
        // expiry has passed as well (the second one's hour is over by now).
        assert_eq!(e["ended_at"].is_u64(), want == "ended", "{}", r.text);
    }

    // Pagination, as `GET /v1/studies` does it: a page at a time with `next_cursor` until
    // the last page, newest first, each access once, the same as the one-page answer.
    for (who, token) in [("admin", &admin), ("patient", &jane), ("issuer", &ed)] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = match &cursor {
                Some(c) => format!("/v1/emergency?limit=2&cursor={c}"),
                None => "/v1/emergency?limit=2".to_string(),
            };
            let r = api.get(&q, Some(token)).await;
            assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.text);
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= 2, "{who}: {}", r.text);
            seen.extend(items.iter().cloned());
            pages += 1;
            match r.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(items.len(), 2, "a full page before the cursor: {}", r.text);
                    cursor = Some(c.to_string());
                }
                None => break,
            }
            assert!(pages < 5, "{who}: the cursor does not advance");
        }
        assert_eq!(pages, 2, "{who}: 3 accesses in pages of 2");
        assert_eq!(seen, all, "{who}: the pages together are the whole review");
    }
    let opened: Vec<u64> = all
        .iter()
        .map(|e| e["opened_at"].as_u64().unwrap())
        .collect();
    assert!(
        opened.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {opened:?}"
    );
    // A stranger's pages are empty; bad cursors and limits name the field.
    let r = api.get("/v1/emergency?limit=1", Some(&eve)).await;
    assert_eq!(
        r.body,
        json!({"items": [], "next_cursor": null}),
        "{}",
        r.text
    );
    for (q, field) in [
        ("/v1/emergency?cursor=shared:12", "cursor"),
        ("/v1/emergency?cursor=e:1:2:not-an-address", "cursor"),
        ("/v1/emergency?limit=0", "limit"),
        ("/v1/emergency?limit=51", "limit"),
    ] {
        let r = api.get(q, Some(&jane)).await;
        expect(&r, StatusCode::BAD_REQUEST, "invalid-request", q);
        assert_eq!(r.body["field"], field, "{q}: {}", r.text);
    }
    // (A new rate window after the expiry is the contract tests' business: a transaction
    // built now carries time bounds the skipped ledger clock has already passed.)
}
