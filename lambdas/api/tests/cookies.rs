//! The refresh token in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/auth`:
//! set at every sign-in and refresh, accepted by refresh and logout instead of the body, and
//! cleared at sign-out. The body keeps working for the CLI and curl.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{tokens, Reply, TestApi};
use serde_json::json;

/// The `medimint_refresh` Set-Cookie of a reply.
fn set_cookie(r: &Reply) -> String {
    let cookies: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with("medimint_refresh="))
        .collect();
    assert_eq!(cookies.len(), 1, "one refresh cookie: {cookies:?}");
    cookies[0].clone()
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie["medimint_refresh=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A POST with only a cookie (no body, no content type), as a browser's `fetch` sends it.
async fn post_with_cookie(api: &TestApi, path: &str, cookie: &str) -> Reply {
    api.send(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("cookie", format!("theme=dark; medimint_refresh={cookie}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn sign_in_sets_the_refresh_cookie_httponly_secure_strict_on_auth_only() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = set_cookie(&r);
    let (_, refresh) = tokens(&r);
    assert_eq!(cookie_value(&c), refresh);
    let attributes: Vec<&str> = c.split("; ").skip(1).collect();
    for a in ["Path=/auth", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(attributes.contains(&a), "{a} missing from {c}");
    }
    let max_age = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap();
    assert_eq!(
        max_age.parse::<u64>().unwrap(),
        api.state.config().lifetimes.session
    );
}

#[tokio::test]
async fn refresh_by_cookie_rotates_it_and_the_old_cookie_again_ends_the_session() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let signed_in = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    let first = cookie_value(&set_cookie(&signed_in));

    let r = post_with_cookie(&api, "/auth/refresh", &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = cookie_value(&set_cookie(&r));
    assert_ne!(first, second);
    assert_eq!(r.body["refresh_token"], second.as_str());
    let access = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.status,
        StatusCode::OK
    );

    // The replaced cookie is a leaked token: the session ends.
    let reuse = post_with_cookie(&api, "/auth/refresh", &first).await;
    assert_eq!(reuse.problem(), "session-ended");
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.problem(),
        "session-ended"
    );
}

#[tokio::test]
async fn the_body_wins_over_the_cookie_and_still_works_alone() {
    let api = TestApi::new();
    let (_, jane) = api.email_sign_in("jane@example.org").await;
    let (_, john) = api.email_sign_in("john@example.org").await;
    let r = api
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/auth/refresh")
                .header("content-type", "application/json")
                .header("cookie", format!("medimint_refresh={john}"))
                .body(Body::from(json!({ "refresh_token": jane }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = api.get("/v1/me", r.body["token"].as_str()).await;
    assert_eq!(me.body["email"], "jane@example.org");
    // John's token was not touched: it still refreshes.
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": john }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn logout_by_cookie_without_an_access_token_ends_the_session_and_clears_the_cookie() {
    let api = TestApi::new();
    let (access, refresh) = api.email_sign_in("jane@example.org").await;
    let out = post_with_cookie(&api, "/auth/logout", &refresh).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let cleared = set_cookie(&out);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(cookie_value(&cleared), "");
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.problem(),
        "session-ended"
    );
    // An unknown cookie signs nothing out.
    let r = post_with_cookie(&api, "/auth/logout", "0123456789abcdef0123456789abcdef.x").await;
    assert_eq!(r.problem(), "unauthenticated");
}

#[tokio::test]
async fn logout_by_body_and_by_bearer_clear_the_cookie_too() {
    let api = TestApi::new();
    let (access, refresh) = api.email_sign_in("jane@example.org").await;
    let out = api
        .post("/auth/logout", json!({ "refresh_token": refresh }), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert!(set_cookie(&out).contains("Max-Age=0"));
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.problem(),
        "session-ended"
    );
    let (access, _) = api.email_sign_in("jane@example.org").await;
    let out = api
        .call(Method::POST, "/auth/logout", None, Some(&access))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert!(set_cookie(&out).contains("Max-Age=0"));
}

#[tokio::test]
async fn cors_lets_the_web_app_send_the_cookie() {
    let api = TestApi::new();
    let r = api
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/auth/refresh")
                .header("origin", "https://app.medimint.test")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.medimint.test"
    );
    assert_eq!(r.headers["access-control-allow-credentials"], "true");
    // Another origin gets no CORS grant at all.
    let r = api
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/auth/refresh")
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}
