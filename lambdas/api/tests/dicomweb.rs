//! The DICOMweb routes in the router, over in-memory adapters without a platform: the same
//! bearer tokens as `/v1`, requests refused before any study is read (bad UIDs, frame
//! lists, matching keys, PatientID) with problems naming the field, and CORS letting a
//! browser viewer send `Accept`. What needs studies (searches, retrieval, frames,
//! renderings, revocation) runs against `medimint up` in `cli/tests/dicomweb_client.rs`.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApi;

#[tokio::test]
async fn dicomweb_needs_the_same_bearer_token() {
    let api = TestApi::new();
    for path in [
        "/dicomweb/studies",
        "/dicomweb/studies/1.2.3/metadata",
        "/dicomweb/studies/1.2.3/series/4.5/instances/6.7/frames/1",
    ] {
        let r = api.get(path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.problem(), "unauthenticated", "{path}");
    }
    let r = api.get("/dicomweb/studies", Some("not-a-token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field_before_any_study_is_read() {
    let api = TestApi::new();
    let (token, _) = api.email_sign_in("jane@example.org").await;
    for (path, field) in [
        ("/dicomweb/studies?PatientID=MRN-7", "PatientID"),
        ("/dicomweb/studies?00100020=MRN-7", "00100020"),
        ("/dicomweb/studies?NoSuchKeyword=1", "NoSuchKeyword"),
        ("/dicomweb/studies?limit=0", "limit"),
        ("/dicomweb/studies?offset=x", "offset"),
        ("/dicomweb/studies?includefield=Nope", "includefield"),
        ("/dicomweb/studies/1.2.x/metadata", "study"),
        ("/dicomweb/studies/1.2.3/series/..%2F/metadata", "series"),
        (
            "/dicomweb/studies/1.2.3/series/4/instances/5/frames/0",
            "frames",
        ),
        (
            "/dicomweb/studies/1.2.3/series/4/instances/5/frames/1,,2",
            "frames",
        ),
        (
            "/dicomweb/studies/1.2.3/series/4/instances/5/frames/1,2/rendered",
            "frames",
        ),
        (
            "/dicomweb/studies/1.2.3/series/4/instances/5/rendered?window=40",
            "window",
        ),
        (
            "/dicomweb/studies/1.2.3/series/4/instances/5/rendered?viewport=0,9",
            "viewport",
        ),
    ] {
        let r = api.get(path, Some(&token)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(r.problem(), "invalid-request", "{path}");
        assert_eq!(r.body["field"], field, "{path}");
    }
    // A rendering in a format this service does not make: 406, saying which it makes.
    let request = Request::builder()
        .uri("/dicomweb/studies/1.2.3/series/4/instances/5/rendered")
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "image/gif")
        .body(Body::empty())
        .unwrap();
    let r = api.send(request).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(r.problem(), "not-acceptable");
    assert!(r.body["detail"].as_str().unwrap().contains("image/png"));
    // Well-formed, but this instance serves sign-in only: 503, not a crash.
    let r = api.get("/dicomweb/studies", Some(&token)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.problem(), "unavailable");
}

#[tokio::test]
async fn a_browser_viewer_may_send_accept_across_origins() {
    let api = TestApi::new();
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/dicomweb/studies/1.2.3/metadata")
        .header("origin", "https://app.medimint.test")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization,accept")
        .body(Body::empty())
        .unwrap();
    let r = api.send(request).await;
    assert!(r.status.is_success(), "{}", r.status);
    let allowed = r
        .headers
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("accept"), "{allowed}");
    assert!(allowed.contains("authorization"), "{allowed}");
}

/// `/dicomweb` has a budget of its own, per client IP and per account: a viewer's pace
/// (one request per frame) neither runs into `/v1`'s limit nor uses it up.
#[tokio::test]
async fn dicomweb_counts_against_its_own_budget_and_v1_is_unaffected() {
    let mut config = common::config();
    config.limits.per_ip_per_minute = 1000;
    config.limits.per_account_per_minute = 3;
    config.limits.dicomweb_per_minute = 5;
    let api = TestApi::with_config(config);
    let (token, _) = api.email_sign_in("jane@example.org").await;
    api.clock.advance(60);
    // The account's /v1 budget used up …
    for _ in 0..3 {
        assert_eq!(api.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    }
    let r = api.get("/v1/me", Some(&token)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // … leaves /dicomweb its own five requests (past the account check: 400 for the bad
    // key, not 429), then /dicomweb's own refusal.
    for i in 0..5 {
        let r = api.get("/dicomweb/studies?limit=0", Some(&token)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "request {i}");
    }
    let r = api.get("/dicomweb/studies?limit=0", Some(&token)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.problem(), "rate-limited");
    assert!(r.headers.contains_key("retry-after"));
    api.clock.advance(60);
    assert_eq!(api.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    // /dicomweb used up does not touch /v1 either.
    for _ in 0..5 {
        api.get("/dicomweb/studies?limit=0", Some(&token)).await;
    }
    assert_eq!(
        api.get("/dicomweb/studies?limit=0", Some(&token))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(api.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_per_ip_count_of_dicomweb_is_apart_from_v1s() {
    let mut config = common::config();
    config.limits.per_ip_per_minute = 3;
    config.limits.dicomweb_per_minute = 4;
    let api = TestApi::with_config(config);
    for _ in 0..3 {
        assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
    }
    assert_eq!(
        api.get("/v1/health", None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    for i in 0..4 {
        let r = api.get("/dicomweb/studies", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "request {i}");
    }
    let r = api.get("/dicomweb/studies", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    api.clock.advance(60);
    assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
    assert_eq!(
        api.get("/dicomweb/studies", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}
