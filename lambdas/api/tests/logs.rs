//! Logs that never hold codes, tokens or emails. Alone in its test binary: it installs a
//! scoped tracing subscriber, and tracing caches each callsite's interest process-wide, so a
//! test on another thread hitting the same callsite first could hide the request span from
//! it.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestApi;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_logs_of_a_whole_sign_in_hold_no_code_token_or_email() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let api = TestApi::new();
    let code = api.request_code("jane@example.org").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    api.post(
        "/auth/email/verify",
        json!({ "email": "jane@example.org", "code": wrong }),
        None,
    )
    .await;
    let (access, refresh) = api.email_sign_in("jane@example.org").await;
    api.get("/v1/me", Some(&access)).await;
    api.post("/auth/refresh", json!({ "refresh_token": refresh }), None)
        .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("\"request_id\""), "{logs}");
    assert!(logs.contains("signed in"));
    for secret in [
        code.as_str(),
        wrong.as_str(),
        "jane@example.org",
        &access,
        &refresh,
    ] {
        assert!(!logs.contains(secret), "the logs hold a secret: {secret}");
    }
}
