//! Sessions through the router: bearer checks, refresh rotation and reuse, logout, sign out
//! everywhere, the idle timeout and token expiry on an injected clock.

mod common;

use axum::http::StatusCode;
use common::{tokens, TestApi};
use serde_json::json;

#[tokio::test]
async fn me_without_or_with_a_bad_token_is_401_with_www_authenticate() {
    let api = TestApi::new();
    let r = api.get("/v1/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "unauthenticated");
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let r = api.get("/v1/me", Some("not.a.jwt")).await;
    assert_eq!(r.problem(), "unauthenticated");
    // A token signed with another key.
    let other = TestApi::with_config(common::config());
    let _ = other;
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"iss": "https://api.medimint.test/auth", "sub": "GA", "exp": 4_000_000_000u64, "iat": 0, "jti": "x", "sid": "y", "amr": ["sep10"]}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(
        api.get("/v1/me", Some(&forged)).await.problem(),
        "unauthenticated"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reusing_an_old_refresh_token_revokes_the_session() {
    let api = TestApi::new();
    let (access, refresh1) = api.email_sign_in("jane@example.org").await;
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": refresh1 }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (access2, refresh2) = tokens(&r);
    assert_ne!(refresh1, refresh2);
    assert_eq!(
        api.get("/v1/me", Some(&access2)).await.status,
        StatusCode::OK
    );

    // The old one again: reuse. The whole session dies, the newest tokens too.
    let reuse = api
        .post("/auth/refresh", json!({ "refresh_token": refresh1 }), None)
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reuse.problem(), "session-ended");
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": refresh2 }), None)
        .await;
    assert_eq!(r.problem(), "session-ended");
    assert_eq!(
        api.get("/v1/me", Some(&access2)).await.problem(),
        "session-ended"
    );
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.problem(),
        "session-ended"
    );
}

#[tokio::test]
async fn an_unknown_refresh_token_is_401_and_so_is_a_missing_one() {
    let api = TestApi::new();
    let r = api
        .post(
            "/auth/refresh",
            json!({ "refresh_token": "0123456789abcdef0123456789abcdef.xyz" }),
            None,
        )
        .await;
    assert_eq!(r.problem(), "unauthenticated");
    // Neither body nor cookie: nothing to refresh.
    let r = api.post("/auth/refresh", json!({}), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "unauthenticated");
    // A wrong type still names the field.
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": 7 }), None)
        .await;
    assert_eq!(r.body["field"], "refresh_token");
}

#[tokio::test]
async fn logout_ends_this_session_only() {
    let api = TestApi::new();
    let (a1, r1) = api.email_sign_in("jane@example.org").await;
    let (a2, _) = api.email_sign_in("jane@example.org").await;
    let out = api.post("/auth/logout", json!({}), Some(&a1)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/v1/me", Some(&a1)).await.problem(),
        "session-ended"
    );
    assert_eq!(
        api.post("/auth/refresh", json!({ "refresh_token": r1 }), None)
            .await
            .problem(),
        "session-ended"
    );
    assert_eq!(api.get("/v1/me", Some(&a2)).await.status, StatusCode::OK);
    assert_eq!(
        api.post("/auth/logout", json!({}), None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_account_but_not_others() {
    let api = TestApi::new();
    let (a1, _) = api.email_sign_in("jane@example.org").await;
    let (_, r2) = api.email_sign_in("jane@example.org").await;
    let (john, _) = api.email_sign_in("john@example.org").await;
    api.clock.advance(5);
    let out = api
        .post("/auth/logout/everywhere", json!({}), Some(&a1))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/v1/me", Some(&a1)).await.problem(),
        "session-ended"
    );
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": r2 }), None)
        .await;
    assert_eq!(r.problem(), "session-ended");
    assert_eq!(api.get("/v1/me", Some(&john)).await.status, StatusCode::OK);
    // Signing in again afterwards works.
    let (fresh, _) = api.email_sign_in("jane@example.org").await;
    api.clock.advance(1);
    assert_eq!(api.get("/v1/me", Some(&fresh)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_session_ends_and_activity_keeps_it_alive() {
    let api = TestApi::new();
    let (access, refresh) = api.email_sign_in("jane@example.org").await;
    api.clock.advance(10 * 60);
    assert_eq!(
        api.get("/v1/me", Some(&access)).await.status,
        StatusCode::OK
    );
    api.clock.advance(10 * 60);
    // 20 minutes since sign-in, 10 since the last request: still alive (the access token
    // itself expired at 15 minutes, so refresh).
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": refresh }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (access2, refresh2) = tokens(&r);
    api.clock.advance(15 * 60 + 1);
    let idle = api.get("/v1/me", Some(&access2)).await;
    assert_eq!(idle.status, StatusCode::UNAUTHORIZED);
    let r = api
        .post("/auth/refresh", json!({ "refresh_token": refresh2 }), None)
        .await;
    assert_eq!(r.problem(), "session-ended");
    assert!(
        r.body["detail"].as_str().unwrap().contains("idle"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn an_expired_access_token_says_to_refresh() {
    let mut config = common::config();
    config.lifetimes.idle = 60 * 60;
    let api = TestApi::with_config(config);
    let (access, _) = api.email_sign_in("jane@example.org").await;
    api.clock.advance(15 * 60);
    let r = api.get("/v1/me", Some(&access)).await;
    assert_eq!(r.problem(), "unauthenticated");
    assert!(r.body["detail"].as_str().unwrap().contains("/auth/refresh"));
}

#[tokio::test]
async fn roles_come_from_the_roles_adapter_not_the_token() {
    let api = TestApi::new();
    let (access, _) = api.email_sign_in("jane@example.org").await;
    let me = api.get("/v1/me", Some(&access)).await;
    let address = me.body["address"].as_str().unwrap().to_string();
    assert_eq!(me.body["roles"], json!(["patient"]));
    api.parts
        .roles
        .issuers
        .lock()
        .unwrap()
        .insert(address.clone());
    *api.parts.roles.admin.lock().unwrap() = Some(address.clone());
    let me = api.get("/v1/me", Some(&access)).await;
    assert_eq!(me.body["roles"], json!(["patient", "issuer", "admin"]));
    api.parts.roles.issuers.lock().unwrap().clear();
    let me = api.get("/v1/me", Some(&access)).await;
    assert_eq!(me.body["roles"], json!(["patient", "admin"]));
}

#[tokio::test]
async fn too_many_requests_from_one_account_are_429_whatever_the_ip() {
    let mut config = common::config();
    config.limits.per_account_per_minute = 2;
    let api = TestApi::with_config(config);
    let (access, _) = api.email_sign_in("jane@example.org").await;
    let (john, _) = api.email_sign_in("john@example.org").await;
    for _ in 0..2 {
        assert_eq!(
            api.get("/v1/me", Some(&access)).await.status,
            StatusCode::OK
        );
    }
    let r = api.get("/v1/me", Some(&access)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(api.get("/v1/me", Some(&john)).await.status, StatusCode::OK);
}
