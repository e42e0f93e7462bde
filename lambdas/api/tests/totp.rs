//! TOTP enrollment and sign-in with it, and recovery codes, through the router.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use common::{tokens, TestApi};
use medimint_api::clock::Clock;
use serde_json::json;

/// A code that is not `code` (it could match a neighbouring time step with odds of 2 in a
/// million).
fn off_by_one(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

fn totp_from_uri(uri: &str) -> totp_rs::TOTP {
    totp_rs::TOTP::from_url(uri).unwrap()
}

async fn enroll(api: &TestApi, access: &str) -> (totp_rs::TOTP, Vec<String>) {
    let r = api.post("/v1/me/totp", json!({}), Some(access)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/MediMint:"), "{uri}");
    assert!(uri.contains("issuer=MediMint"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(r.body["qr_png_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let totp = totp_from_uri(uri);
    assert_eq!(totp.get_secret_base32(), r.body["secret"].as_str().unwrap());
    let code = totp.generate(api.clock.now());
    let r = api
        .post("/v1/me/totp/confirm", json!({ "code": code }), Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let codes: Vec<String> = serde_json::from_value(r.body["recovery_codes"].clone()).unwrap();
    (totp, codes)
}

#[tokio::test]
async fn after_enrollment_sign_in_needs_the_authenticator() {
    let api = TestApi::new();
    let (access, _) = api.email_sign_in("jane@example.org").await;
    let (totp, codes) = enroll(&api, &access).await;
    assert_eq!(codes.len(), 10);
    let me = api.get("/v1/me", Some(&access)).await;
    assert_eq!(me.body["mfa"]["totp"], "enrolled");
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 10);

    api.clock.advance(60);
    let code = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "totp-required");

    let now_code = totp.generate(api.clock.now());
    let wrong = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code, "totp": off_by_one(&now_code) }),
            None,
        )
        .await;
    assert_eq!(wrong.problem(), "totp-invalid");

    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code, "totp": now_code }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (access2, _) = tokens(&r);
    assert_eq!(
        api.get("/v1/me", Some(&access2)).await.body["amr"],
        "email+totp"
    );

    // The same TOTP code is not accepted twice.
    let code2 = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code2, "totp": now_code }),
            None,
        )
        .await;
    assert_eq!(r.problem(), "totp-invalid");
}

#[tokio::test]
async fn a_recovery_code_stands_in_for_the_authenticator_once() {
    let api = TestApi::new();
    let (access, _) = api.email_sign_in("jane@example.org").await;
    let (_, codes) = enroll(&api, &access).await;
    let code = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code, "recovery_code": codes[0] }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (access2, _) = tokens(&r);
    let me = api.get("/v1/me", Some(&access2)).await;
    assert_eq!(me.body["amr"], "email+recovery");
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 9);
    let code = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code, "recovery_code": codes[0] }),
            None,
        )
        .await;
    assert_eq!(r.problem(), "totp-invalid");
    assert_eq!(
        api.parts.raw.count_containing(&codes[1]),
        0,
        "recovery codes are stored hashed"
    );
}

#[tokio::test]
async fn enrollment_is_refused_twice_for_wallets_and_with_a_wrong_code() {
    let api = TestApi::new();
    let (access, _) = api.email_sign_in("jane@example.org").await;
    assert_eq!(
        api.post("/v1/me/totp", json!({}), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = api
        .post(
            "/v1/me/totp/confirm",
            json!({ "code": "123456" }),
            Some(&access),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "confirm before enroll: {}",
        r.text
    );
    let r = api.post("/v1/me/totp", json!({}), Some(&access)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let totp = totp_from_uri(r.body["otpauth_uri"].as_str().unwrap());
    let right = totp.generate(api.clock.now());
    let r = api
        .post(
            "/v1/me/totp/confirm",
            json!({ "code": off_by_one(&right) }),
            Some(&access),
        )
        .await;
    assert_eq!(r.problem(), "totp-invalid");
    let r = api
        .post(
            "/v1/me/totp/confirm",
            json!({ "code": "12" }),
            Some(&access),
        )
        .await;
    assert_eq!(r.body["field"], "code");
    let r = api
        .post(
            "/v1/me/totp/confirm",
            json!({ "code": right }),
            Some(&access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.post("/v1/me/totp", json!({}), Some(&access)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.problem(), "conflict");
}

#[tokio::test]
async fn a_wallet_session_may_not_enroll() {
    let api = TestApi::new();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let address = stellar_strkey::ed25519::PublicKey(key.verifying_key().to_bytes()).to_string();
    let r = api.get(&format!("/auth?account={address}"), None).await;
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        &key,
        &medimint_chain::Network::new(common::NETWORK),
    )
    .unwrap();
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    let (access, _) = tokens(&r);
    let r = api.post("/v1/me/totp", json!({}), Some(&access)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.problem(), "forbidden");
}

#[tokio::test]
async fn removing_the_authenticator_needs_a_current_code_and_allows_a_new_one() {
    let api = TestApi::new();
    let (access, _) = api.email_sign_in("jane@example.org").await;
    // Nothing to remove yet.
    let r = api
        .call(
            axum::http::Method::DELETE,
            "/v1/me/totp",
            Some(json!({"totp": "123456"})),
            Some(&access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let (totp, codes) = enroll(&api, &access).await;
    let delete = |body: serde_json::Value| {
        api.call(
            axum::http::Method::DELETE,
            "/v1/me/totp",
            Some(body),
            Some(&access),
        )
    };
    // A session alone is not enough; a wrong code neither; nor a bad shape.
    let r = delete(json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "totp");
    let r = delete(json!({"totp": "12345"})).await;
    assert_eq!(r.body["field"], "totp");
    api.clock.advance(30);
    let now_code = totp.generate(api.clock.now());
    let r = delete(json!({"totp": off_by_one(&now_code)})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.problem(), "totp-invalid");
    let r = delete(json!({"recovery_code": "aaaaa-bbbbb"})).await;
    assert_eq!(r.problem(), "totp-invalid");
    let me = api.get("/v1/me", Some(&access)).await;
    assert_eq!(me.body["mfa"]["totp"], "enrolled");

    // A recovery code removes it (a lost phone).
    let r = delete(json!({"recovery_code": codes[0]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let me = api.get("/v1/me", Some(&access)).await;
    assert_eq!(me.body["mfa"]["totp"], "none");
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 0);
    // Sign-in needs the email code only again.
    api.clock.advance(60);
    let (access, _) = api.email_sign_in("jane@example.org").await;
    // Re-enrolment: a new secret, and sign-in needs the new authenticator.
    let (new_totp, _) = enroll(&api, &access).await;
    assert_ne!(new_totp.get_secret_base32(), totp.get_secret_base32());
    api.clock.advance(60);
    let code = api.request_code("jane@example.org").await;
    let r = api
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.problem(), "totp-required");
    // And removed again with a current code of the new authenticator.
    api.clock.advance(30);
    let r = api
        .call(
            axum::http::Method::DELETE,
            "/v1/me/totp",
            Some(json!({"totp": new_totp.generate(api.clock.now())})),
            Some(&access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}
