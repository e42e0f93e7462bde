//! Email sign-in end to end through the router: code by the outbox mailer, verify, lockout,
//! expiry, single use, and nothing sensitive stored in the clear.

mod common;

use axum::http::StatusCode;
use common::{tokens, TestApi};
use serde_json::json;

#[tokio::test]
async fn a_code_from_the_outbox_signs_in_and_me_shows_the_email_account() {
    let api = TestApi::new();
    let r = api
        .post("/auth/email", json!({ "email": "Jane@Example.org " }), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["expires_in"], 600);
    let code = api.last_code("jane@example.org");
    assert_eq!(code.len(), 6);
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let (token, _) = tokens(&r);
    let me = api.get("/v1/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], "jane@example.org");
    assert_eq!(me.body["amr"], "email");
    assert_eq!(me.body["mfa"]["totp"], "none");
    assert_eq!(me.body["roles"], json!(["patient"]));
    assert!(me.body["address"].as_str().unwrap().starts_with('G'));
}

#[tokio::test]
async fn the_outbox_file_is_private_and_the_store_holds_neither_email_nor_code() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let file = std::fs::read_dir(&api.outbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(api.parts.raw.count_containing("jane@example.org"), 0);
    assert_eq!(api.parts.raw.count_containing(&code), 0);
}

#[tokio::test]
async fn a_code_works_once() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let body = json!({ "email": "jane@example.org", "code": code });
    assert_eq!(
        api.post("/auth/email/verify", body.clone(), None)
            .await
            .status,
        StatusCode::OK
    );
    let again = api.post("/auth/email/verify", body, None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.problem(), "code-invalid");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    api.clock.advance(10 * 60 + 1);
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "code-expired", "{}", r.text);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("POST /auth/email"));
}

#[tokio::test]
async fn five_wrong_codes_lock_the_code_even_against_the_right_one() {
    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..5).rev() {
        let r = api
            .post(
                "/auth/email/verify",
                json!({ "email": "jane@example.org", "code": wrong }),
                None,
            )
            .await;
        assert_eq!(r.problem(), "code-invalid");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tries left")),
            "{}",
            r.text
        );
    }
    let fifth = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": wrong }),
            None,
        )
        .await;
    assert_eq!(fifth.problem(), "code-locked");
    let right = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.problem(), "code-locked");
    // A new code starts over.
    let fresh = api.request_code("jane@example.org").await;
    let ok = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": fresh }),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let api = TestApi::new();
    let r = api
        .post("/auth/email", json!({ "email": "not-an-address" }), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.problem(), "invalid-request");
    assert_eq!(r.body["field"], "email");
    assert_eq!(r.headers["content-type"], "application/problem+json");

    let r = api.post("/auth/email", json!({}), None).await;
    assert_eq!(r.body["field"], "email", "{}", r.text);

    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": "12ab56" }),
            None,
        )
        .await;
    assert_eq!(r.body["field"], "code");

    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": "123456", "totp": "1" }),
            None,
        )
        .await;
    assert_eq!(r.body["field"], "totp");

    let r = api
        .post(
            "/auth/email",
            json!({ "email": "a@b.org", "extra": 1 }),
            None,
        )
        .await;
    assert_eq!(r.body["field"], "extra", "{}", r.text);

    let raw = api
        .send(
            axum::http::Request::post("/auth/email")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(raw.body["field"], "body");
}

#[tokio::test]
async fn verifying_with_no_code_sent_is_code_invalid() {
    let api = TestApi::new();
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "nobody@example.org", "code": "123456" }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "code-invalid");
}

#[tokio::test]
async fn too_many_code_requests_for_one_address_are_429_with_retry_after() {
    let mut config = common::config();
    config.limits.per_account_per_hour = 3;
    let api = TestApi::with_config(config);
    for _ in 0..3 {
        api.request_code("jane@example.org").await;
    }
    let r = api
        .post("/auth/email", json!({ "email": "jane@example.org" }), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.problem(), "rate-limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 3600);
    // Another address is not affected.
    api.request_code("john@example.org").await;
}
