//! Limits, headers, CORS and unknown routes (the logs are checked in `logs.rs`).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApi;
use serde_json::json;

#[tokio::test]
async fn health_needs_no_sign_in_and_carries_the_security_headers_and_a_request_id() {
    let api = TestApi::new();
    let r = api.get("/v1/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    assert!(r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(r.headers["x-request-id"].to_str().unwrap().len(), 36);
    let r = api
        .send(
            Request::get("/v1/health")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn an_unknown_path_or_method_is_a_problem_not_an_empty_page() {
    let api = TestApi::new();
    let r = api.get("/v1/nothing", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.problem(), "not-found");
    let r = api.call(Method::DELETE, "/v1/health", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.problem(), "method-not-allowed");
    assert_eq!(r.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_whether_declared_or_streamed() {
    let mut config = common::config();
    config.limits.body_bytes = 1024;
    let api = TestApi::with_config(config);
    let big = json!({ "email": "a".repeat(2000) + "@example.org" }).to_string();
    let r = api
        .send(
            Request::post("/auth/email")
                .header("content-type", "application/json")
                .header("content-length", big.len())
                .body(Body::from(big.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.problem(), "too-large");
    // No Content-Length: a streamed body is cut by the extractor.
    let stream = futures_stream(big);
    let r = api
        .send(
            Request::post("/auth/email")
                .header("content-type", "application/json")
                .body(stream)
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
}

fn futures_stream(text: String) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    Body::from_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter<T: Send + Unpin + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> + Send {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T> futures_core::Stream for Iter<T>
    where
        T: Unpin,
    {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    impl<T> Unpin for Iter<T> {}
    Iter(items.into_iter())
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let api = TestApi::new();
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/me")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let r = api.send(preflight("https://app.medimint.test")).await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.medimint.test"
    );
    let r = api.send(preflight("https://evil.example")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn too_many_requests_from_one_ip_are_429_with_retry_after() {
    let mut config = common::config();
    config.limits.per_ip_per_minute = 3;
    let api = TestApi::with_config(config);
    for _ in 0..3 {
        assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
    }
    let r = api.get("/v1/health", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.problem(), "rate-limited");
    assert!(r.headers.contains_key("retry-after"));
    api.clock.advance(60);
    assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
}
