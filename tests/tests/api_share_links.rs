//! The share-link endpoints over the real platform on an in-process devnet: 401, a
//! stranger's token (404), bad input naming its field, a write by a link session (403),
//! the wrong passcode, the lockout after 5, the use limit, an expired link, a revoked link
//! refused at the session's next request, and the happy path: the opening reads a file
//! byte-for-byte and is recorded on chain as an access by the link's address.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
#[path = "outside_common/mod.rs"]
mod outside;
mod suite_common;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::{Reply, TestApi};
use medimint_api::clock::Clock;
use outside::Chain;
use serde_json::{json, Value};
use suite_common::expect;

async fn create(c: &Chain, jane: &str, body: Value) -> Value {
    let r = c
        .api
        .post(&format!("/v1/studies/{}/links", c.token), body, Some(jane))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn open(c: &Chain, link: &Value, passcode: &str) -> Reply {
    c.api
        .post(
            "/v1/links/open",
            json!({"link": link["viewer_url"], "passcode": passcode}),
            None,
        )
        .await
}

fn in_an_hour(c: &Chain) -> u64 {
    c.clock.now() + 3600
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_open_with_the_passcode_and_stop_when_revoked_expired_used_up_or_locked() {
    let c = outside::chain().await;
    let api = &c.api;
    let t = |p: &str| p.replace("{t}", &c.token);
    let (jane, _) = api.sign_in_as("jane@example.org").await;
    let (eve, _) = api.sign_in_as("eve@example.net").await;
    let good = json!({"expires_at": in_an_hour(&c), "max_uses": 2, "passcode": "tulip-42"});

    // Every owner endpoint: 401 without a token, 404 for a stranger (as for no study), 400
    // naming a malformed token id.
    let id0 = "0".repeat(32);
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/studies/{t}/links".to_string(),
            Some(good.clone()),
        ),
        (Method::GET, "/v1/studies/{t}/links".to_string(), None),
        (
            Method::DELETE,
            format!("/v1/studies/{{t}}/links/{id0}"),
            None,
        ),
    ] {
        let path = t(&path);
        let r = api.call(method.clone(), &path, body.clone(), None).await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {path}"),
        );
        let r = api
            .call(method.clone(), &path, body.clone(), Some(&eve))
            .await;
        expect(
            &r,
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{method} {path} as a stranger"),
        );
        let missing = path.replace(&format!("/{}/", c.token), "/999999/");
        let r = api
            .call(method.clone(), &missing, body.clone(), Some(&jane))
            .await;
        expect(
            &r,
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{method} {missing}"),
        );
        let bad = path.replace(&format!("/{}/", c.token), "/abc/");
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
    // Bad input names its field.
    let now = c.clock.now();
    for (body, field) in [
        (json!({"expires_at": now - 1}), "expires_at"),
        (json!({"expires_at": now + 91 * 86_400}), "expires_at"),
        (json!({"expires_at": now + 60, "max_uses": 0}), "max_uses"),
        (json!({"expires_at": now + 60, "max_uses": 101}), "max_uses"),
        (
            json!({"expires_at": now + 60, "passcode": "abc"}),
            "passcode",
        ),
        (json!({"max_uses": 1}), "expires_at"),
    ] {
        let r = api
            .post(&t("/v1/studies/{t}/links"), body.clone(), Some(&jane))
            .await;
        expect(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            &body.to_string(),
        );
        assert_eq!(r.body["field"], field, "{body}: {}", r.text);
    }
    let r = api
        .post(
            "/v1/links/open",
            json!({"link": "https://x/#nothing", "passcode": "x"}),
            None,
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "not a link");
    assert_eq!(r.body["field"], "link");
    let r = api
        .post("/v1/links/open", json!({"link": "shlink:/x"}), None)
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "no passcode",
    );
    assert_eq!(r.body["field"], "passcode", "{}", r.text);

    // The happy path: a link, its passcode and QR code.
    let link = create(&c, &jane, good.clone()).await;
    let shlink = link["shlink"].as_str().unwrap();
    assert!(shlink.starts_with("shlink:/"), "{shlink}");
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(shlink.trim_start_matches("shlink:/"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["flag"], "P");
    assert_eq!(payload["exp"], good["expires_at"]);
    // No PHI and no passcode in the link.
    for secret in ["DOE", "JANE", "MRN-7", "jane@example.org", "tulip-42"] {
        assert!(
            !payload.to_string().contains(secret),
            "{secret} in {payload}"
        );
        assert!(!link["viewer_url"].as_str().unwrap().contains(secret));
    }
    assert!(link["viewer_url"].as_str().unwrap().contains("/#shlink:/"));
    assert_eq!(link["passcode"], "tulip-42");
    let png = base64::engine::general_purpose::STANDARD
        .decode(link["qr_png_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let grantee = link["link"]["grantee"].as_str().unwrap().to_string();
    let link_id = link["link"]["id"].as_str().unwrap().to_string();

    // A wrong passcode: 401, tries left.
    let r = open(&c, &link, "tulip-41").await;
    expect(
        &r,
        StatusCode::UNAUTHORIZED,
        "code-invalid",
        "wrong passcode",
    );
    assert!(r.text.contains("4 tries left"), "{}", r.text);
    // The right one: a read-only session on the study.
    let r = open(&c, &link, "tulip-42").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_id"].as_u64().unwrap().to_string(), c.token);
    let viewer = r.body["token"].as_str().unwrap().to_string();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(viewer.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["shlink"]));
    assert_eq!(claims["sub"], grantee);
    // It reads the study's file byte-for-byte.
    let files = api.get(&t("/v1/studies/{t}/files"), Some(&viewer)).await;
    assert_eq!(files.status, StatusCode::OK, "{}", files.text);
    let raw = raw_get(
        api,
        &t(&format!("/v1/studies/{{t}}/files/{}", c.file.0)),
        &viewer,
    )
    .await;
    assert_eq!(raw, c.file.1, "the file reads back byte-for-byte");
    // DICOMweb serves it too (QIDO-RS), as to any viewer.
    let qido = api.get("/dicomweb/studies", Some(&viewer)).await;
    assert_eq!(qido.status, StatusCode::OK, "{}", qido.text);
    assert!(qido.text.contains("2.25.3001"), "{}", qido.text);
    // …and the reads the web app's viewer makes on the link's page: the series, the
    // instances and a rendered image.
    let series = api
        .get("/dicomweb/studies/2.25.3001/series", Some(&viewer))
        .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.text);
    let series_uid = series.body[0]["0020000E"]["Value"][0]
        .as_str()
        .unwrap()
        .to_string();
    let instances = api
        .get(
            &format!("/dicomweb/studies/2.25.3001/series/{series_uid}/instances"),
            Some(&viewer),
        )
        .await;
    assert_eq!(instances.status, StatusCode::OK, "{}", instances.text);
    let sop = instances.body[0]["00080018"]["Value"][0].as_str().unwrap();
    let jpeg = raw_get(
        api,
        &format!("/dicomweb/studies/2.25.3001/series/{series_uid}/instances/{sop}/rendered"),
        &viewer,
    )
    .await;
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG rendering");
    // It may not write: not another link, not a share.
    let r = api
        .post(&t("/v1/studies/{t}/links"), good.clone(), Some(&viewer))
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a link session making a link",
    );
    let r = api
        .post(
            &t("/v1/studies/{t}/shares"),
            json!({"to": "x@example.org", "role": "viewer"}),
            Some(&viewer),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a link session sharing",
    );
    // The opening is an access on chain by the link's address.
    let h = api.get(&t("/v1/studies/{t}/history"), Some(&jane)).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let accessed = h
        .body
        .as_array()
        .or_else(|| h.body["items"].as_array())
        .unwrap()
        .iter()
        .any(|e| {
            e["kind"].as_str().is_some_and(|k| k.contains("access"))
                && e.to_string().contains(&grantee)
        });
    assert!(accessed, "no access by {grantee} in {}", h.text);
    // The patient sees it with its opening.
    let r = api.get(&t("/v1/studies/{t}/links"), Some(&jane)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let listed = &r.body[0];
    assert_eq!(listed["id"], link_id.as_str());
    assert_eq!(listed["uses"], 1);
    assert_eq!(listed["openings"].as_array().unwrap().len(), 1);
    assert_eq!(listed["status"], "active");
    // The use limit: a second opening, then no third.
    let r = open(&c, &link, "tulip-42").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = open(&c, &link, "tulip-42").await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "used up");
    assert!(r.text.contains("2 allowed times"), "{}", r.text);

    // Lockout after 5 wrong passcodes, even for the right one afterwards.
    let locked = create(
        &c,
        &jane,
        json!({"expires_at": in_an_hour(&c), "max_uses": 5}),
    )
    .await;
    let pass = locked["passcode"].as_str().unwrap().to_string();
    assert_eq!(pass.len(), 10);
    for i in 1..=5 {
        let r = open(&c, &locked, "wrong-passcode").await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "code-invalid",
            &format!("wrong try {i}"),
        );
    }
    let r = open(&c, &locked, &pass).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "locked");
    assert!(r.text.contains("locked"), "{}", r.text);
    // An unknown link (right shape, wrong secret) is 404.
    let mut forged = locked.clone();
    let s = forged["viewer_url"].as_str().unwrap().to_string();
    let (head, tail) = s.split_once("#shlink:/").unwrap();
    let mut p: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tail)
            .unwrap(),
    )
    .unwrap();
    p["key"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]));
    forged["viewer_url"] = json!(format!(
        "{head}#shlink:/{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p.to_string())
    ));
    let r = open(&c, &forged, &pass).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "a forged key");

    // Revoked: the open session stops at its next request; the link no longer opens.
    let revoked = create(
        &c,
        &jane,
        json!({"expires_at": in_an_hour(&c), "max_uses": 3, "passcode": "orchid-7"}),
    )
    .await;
    let r = open(&c, &revoked, "orchid-7").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let session = r.body["token"].as_str().unwrap().to_string();
    let r = api.get(&t("/v1/studies/{t}/files"), Some(&session)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rid = revoked["link"]["id"].as_str().unwrap();
    let r = api
        .call(
            Method::DELETE,
            &t(&format!("/v1/studies/{{t}}/links/{rid}")),
            None,
            Some(&eve),
        )
        .await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "a stranger revoking",
    );
    let r = api
        .call(
            Method::DELETE,
            &t(&format!("/v1/studies/{{t}}/links/{rid}")),
            None,
            Some(&jane),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "revoked");
    let r = api.get(&t("/v1/studies/{t}/files"), Some(&session)).await;
    expect(
        &r,
        StatusCode::UNAUTHORIZED,
        "session-ended",
        "a revoked link's session",
    );
    let r = open(&c, &revoked, "orchid-7").await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "a revoked link");
    assert!(r.text.contains("revoked"), "{}", r.text);
    let access = api.get(&t("/v1/studies/{t}/access"), Some(&jane)).await;
    assert!(
        !access
            .text
            .contains(revoked["link"]["grantee"].as_str().unwrap()),
        "the revoked link's grant is gone: {}",
        access.text
    );

    // Expired: refused once the link's time is past (the API's clock moves).
    let expiring = create(
        &c,
        &jane,
        json!({"expires_at": c.clock.now() + 600, "passcode": "maple-99"}),
    )
    .await;
    c.clock.advance(601);
    let r = open(&c, &expiring, "maple-99").await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "expired");
    assert!(r.text.contains("expired"), "{}", r.text);
}

async fn raw_get(api: &TestApi, path: &str, bearer: &str) -> Vec<u8> {
    use tower::ServiceExt;
    let response = api
        .app
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .header("authorization", format!("Bearer {bearer}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec()
}
