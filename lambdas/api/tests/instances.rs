//! Two API instances (as two Lambda instances) over one sign-in store: what must hold across
//! instances is in the store, not in either instance's memory.

mod common;

use axum::http::StatusCode;
use common::{tokens, TestApi};
use medimint_api::{Adapters, AppState, AuthKeys};
use medimint_sdk::keys::Seed;
use serde_json::json;

/// A second instance sharing the first one's store, accounts, outbox and clock.
fn second_instance(first: &TestApi) -> TestApi {
    let state = AppState::new(
        common::config(),
        AuthKeys::derive(&Seed::from_bytes([42; 64])),
        Adapters {
            store: first.parts.kv.clone(),
            mailer: first.parts.mailer.clone(),
            accounts: first.parts.accounts.clone(),
            roles: first.parts.roles.clone(),
            clock: first.clock.clone(),
            platform: None,
        },
    );
    let mut twin = TestApi::new();
    twin.app = medimint_api::app(state.clone());
    twin.state = state;
    twin.outbox = first.outbox.clone();
    twin.clock = first.clock.clone();
    twin
}

#[tokio::test]
async fn a_challenge_used_on_one_instance_is_a_replay_on_the_other() {
    let a = TestApi::new();
    let b = second_instance(&a);
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let address = stellar_strkey::ed25519::PublicKey(key.verifying_key().to_bytes()).to_string();
    let r = a.get(&format!("/auth?account={address}"), None).await;
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        &key,
        &medimint_chain::Network::new(common::NETWORK),
    )
    .unwrap();
    assert_eq!(
        b.post("/auth", json!({ "transaction": signed }), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        a.post("/auth", json!({ "transaction": signed }), None)
            .await
            .problem(),
        "challenge-replayed"
    );
}

#[tokio::test]
async fn wrong_codes_count_across_instances() {
    let a = TestApi::new();
    let b = second_instance(&a);
    let code = a.request_code("jane@example.org").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for i in 0..5 {
        let api = if i % 2 == 0 { &a } else { &b };
        api.post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": wrong }),
            None,
        )
        .await;
    }
    let r = b
        .post(
            "/auth/email/verify",
            json!({ "email": "jane@example.org", "code": code }),
            None,
        )
        .await;
    assert_eq!(r.problem(), "code-locked");
}

#[tokio::test]
async fn a_refresh_token_rotated_on_one_instance_is_reuse_on_the_other() {
    let a = TestApi::new();
    let b = second_instance(&a);
    let (_, refresh) = a.email_sign_in("jane@example.org").await;
    let r = a
        .post("/auth/refresh", json!({ "refresh_token": refresh }), None)
        .await;
    let (access2, _) = tokens(&r);
    // Tokens from one instance are good on the other (same derived key).
    assert_eq!(b.get("/v1/me", Some(&access2)).await.status, StatusCode::OK);
    let reuse = b
        .post("/auth/refresh", json!({ "refresh_token": refresh }), None)
        .await;
    assert_eq!(reuse.problem(), "session-ended");
    assert_eq!(
        a.get("/v1/me", Some(&access2)).await.problem(),
        "session-ended"
    );
}
