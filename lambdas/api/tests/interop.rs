//! SEP-10 against an implementation not written here: the Python `stellar-sdk`
//! (`sep.stellar_web_authentication`), in both directions. Needs
//! `python3 -m pip install stellar-sdk`; the test fails (never skips) without it.

mod common;

use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use common::{TestApi, NETWORK};
use medimint_api::clock::{Clock, ManualClock, SystemClock};
use serde_json::json;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/sep10.py");

fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3 runs (install Python 3 and `python3 -m pip install stellar-sdk`)");
    assert!(
        out.status.success(),
        "the Python stellar-sdk refused (exit {:?}): {}\n(if stellar-sdk is missing: python3 -m pip install stellar-sdk)",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The SDK checks time bounds against the real clock: run the API on it too.
fn api_on_real_time() -> TestApi {
    TestApi::with_config_and_clock(
        common::config(),
        Arc::new(ManualClock::new(SystemClock.now())),
    )
}

fn client() -> (String, String) {
    let kp = medimint_sdk::keys::Keypair::from_seed_bytes(&[8; 32]);
    (kp.address(), kp.secret().to_string())
}

#[tokio::test]
async fn the_python_sdk_reads_our_challenge_and_we_accept_what_it_signed() {
    let api = api_on_real_time();
    let (address, secret) = client();
    let r = api.get(&format!("/auth?account={address}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let server = api.state.keys().signing_address();
    let signed = python(&[
        "read",
        r.body["transaction"].as_str().unwrap(),
        &server,
        "api.medimint.test",
        "api.medimint.test",
        NETWORK,
        &secret,
    ]);
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn we_accept_a_challenge_the_python_sdk_built_with_our_key_and_refuse_its_replay() {
    let api = api_on_real_time();
    let (address, secret) = client();
    let server_secret =
        medimint_sdk::strkey::encode_secret(&api.state.keys().signing_key().to_bytes());
    let signed = python(&[
        "build",
        server_secret.as_str(),
        &address,
        "api.medimint.test",
        "api.medimint.test",
        NETWORK,
        &secret,
    ]);
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let me = api.get("/v1/me", Some(&token)).await;
    assert_eq!(me.body["address"], address.as_str());
    let replay = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(replay.problem(), "challenge-replayed");
    // Built for another home domain by the same SDK: refused.
    let foreign = python(&[
        "build",
        server_secret.as_str(),
        &address,
        "other.example",
        "api.medimint.test",
        NETWORK,
        &secret,
    ]);
    let r = api
        .post("/auth", json!({ "transaction": foreign }), None)
        .await;
    assert_eq!(r.problem(), "challenge-invalid");
}

#[tokio::test]
async fn the_stellar_toml_parses_as_toml() {
    let api = TestApi::new();
    let r = api.get("/.well-known/stellar.toml", None).await;
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, tomllib, json; print(json.dumps(tomllib.loads(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(r.text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 (3.11+, for tomllib) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["NETWORK_PASSPHRASE"], NETWORK);
    assert_eq!(
        parsed["WEB_AUTH_ENDPOINT"],
        "https://api.medimint.test/auth"
    );
    assert_eq!(
        parsed["SIGNING_KEY"],
        api.state.keys().signing_address().as_str()
    );
}
