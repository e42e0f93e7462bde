//! An external wallet acts through the API without handing over its key: its consent,
//! share, revoke and key fetch answer 202 with the Soroban authorization entry to sign; the
//! wallet (a key only this test holds, and once the Python stellar-sdk) signs it and submits
//! it; the platform submits the call through the relayer on the in-process devnet. A wrong
//! signer, a modified entry, a bad signature, an expired entry and a replay are refused.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
mod suite_common;

use std::process::Command;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::{Reply, TestApi};
use ed25519_dalek::SigningKey;
use medimint_chain::auth::sign_auth_entries;
use medimint_chain::{Network, Signer};
use medimint_platform::Platform;
use medimint_sdk::keys::Keypair;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use stellar_xdr::{
    HashIdPreimage, Limits, ReadXdr, SorobanAuthorizationEntry, SorobanCredentials, WriteXdr,
};
use suite_common::expect;
use suite_common::{Patient, Suite};

const PYTHON_SIGNER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/authorize_entry.py"
);

struct World {
    api: TestApi,
    platform: Arc<Platform>,
    suite: Suite,
}

impl World {
    fn devnet(&self) -> &medimint_devnet::Devnet {
        self.suite.devnet()
    }
}

const WALLY: Patient = Patient {
    email: "wally@example.org",
    dicom_name: "ROE^WALLY",
    family_name: "ROE",
    given_names: "WALLY",
    dicom_birth_date: "19750304",
    birth_date: "1975-03-04",
    id: "MRN-W",
};

/// The devnet with the suite, an issuer, and a patient whose email is linked to `wallet`
/// (an external account: only its public key is known) holding one pending release.
async fn world(wallet: &Keypair) -> (World, String) {
    let suite = suite_common::suite().await;
    // The wallet's own Stellar account exists (a real wallet's is funded by its owner).
    suite.link_wallet("wally@example.org", wallet).await;
    let (token, _) = suite
        .release(&suite.issuer, &WALLY, "2.25.7001", 1, 2)
        .await;
    (
        World {
            api: suite.api(),
            platform: suite.platform.clone(),
            suite,
        },
        token,
    )
}

/// SEP-10 sign-in with the wallet's key; returns the access token.
async fn wallet_sign_in(api: &TestApi, wallet: &Keypair, passphrase: &str) -> String {
    let r = api
        .get(&format!("/auth?account={}", wallet.address()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signed = medimint_api::sep10::sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        wallet.signing_key(),
        &Network::new(passphrase),
    )
    .unwrap();
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["token"].as_str().unwrap().to_string()
}

fn authorization(r: &Reply, what: &str) -> Value {
    assert_eq!(r.status, StatusCode::ACCEPTED, "{what}: {}", r.text);
    r.body["authorization"].clone()
}

fn issued_entry(a: &Value) -> SorobanAuthorizationEntry {
    SorobanAuthorizationEntry::from_xdr_base64(a["entry"].as_str().unwrap(), Limits::none())
        .unwrap()
}

/// Signs the issued entry as a wallet does (our SDK's signer, with a key only the test has).
fn sign(a: &Value, key: &SigningKey, passphrase: &str) -> String {
    let entry = issued_entry(a);
    let expiration = a["signature_expiration_ledger"].as_u64().unwrap() as u32;
    sign_auth_entries(
        &Network::new(passphrase),
        vec![entry],
        &[key as &dyn Signer],
        expiration,
    )
    .unwrap()
    .remove(0)
    .to_xdr_base64(Limits::none())
    .unwrap()
}

fn submit_path(a: &Value) -> String {
    format!("/v1/authorizations/{}/submit", a["id"].as_str().unwrap())
}

/// The answer's own description of what to sign is consistent: the preimage is the entry's
/// (network, nonce, expiration, invocation) and the hash is its SHA-256.
fn check_shape(a: &Value, wallet: &Keypair, passphrase: &str, action: &str) {
    assert_eq!(a["action"], action);
    assert_eq!(a["address"], wallet.address().as_str());
    assert_eq!(a["network_passphrase"], passphrase);
    let entry = issued_entry(a);
    let SorobanCredentials::Address(creds) = &entry.credentials else {
        panic!("address credentials")
    };
    assert_eq!(creds.signature, stellar_xdr::ScVal::Void, "issued unsigned");
    assert_eq!(creds.nonce, a["nonce"].as_i64().unwrap());
    assert_eq!(
        creds.signature_expiration_ledger as u64,
        a["signature_expiration_ledger"].as_u64().unwrap()
    );
    assert!(creds.signature_expiration_ledger > a["latest_ledger"].as_u64().unwrap() as u32);
    let preimage_b64 = a["preimage"].as_str().unwrap();
    let preimage = HashIdPreimage::from_xdr_base64(preimage_b64, Limits::none()).unwrap();
    let HashIdPreimage::SorobanAuthorization(p) = &preimage else {
        panic!("a Soroban authorization preimage")
    };
    assert_eq!(p.network_id, Network::new(passphrase).id());
    assert_eq!(p.nonce, creds.nonce);
    assert_eq!(p.invocation, entry.root_invocation);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(preimage_b64)
        .unwrap();
    assert_eq!(a["preimage_hash"], hex::encode(Sha256::digest(bytes)));
}

fn python_sign(a: &Value, wallet: &Keypair, passphrase: &str) -> String {
    let out = Command::new("python3")
        .arg(PYTHON_SIGNER)
        .arg(a["entry"].as_str().unwrap())
        .arg(wallet.secret().as_str())
        .arg(
            a["signature_expiration_ledger"]
                .as_u64()
                .unwrap()
                .to_string(),
        )
        .arg(passphrase)
        .output()
        .expect("python3 runs (source target/setup.env, or `python3 -m pip install stellar-sdk`)");
    assert!(
        out.status.success(),
        "the Python stellar-sdk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_consents_shares_fetches_its_key_and_revokes_by_signing_entries_it_alone_can_sign()
{
    let wallet = Keypair::generate();
    let thief = Keypair::generate();
    let (w, token) = world(&wallet).await;
    let api = &w.api;
    let pass = w.platform.config().network.passphrase.clone();
    let bearer = wallet_sign_in(api, &wallet, &pass).await;
    let me = api.get("/v1/me", Some(&bearer)).await;
    assert_eq!(me.body["amr"], "sep10");

    // --- Consent: 202 with the entry to sign; nothing happened on chain yet.
    let consent = format!("/v1/studies/{token}/consent");
    let r = api
        .post(&consent, json!({"decision": "approve"}), Some(&bearer))
        .await;
    let a = authorization(&r, "consent");
    check_shape(&a, &wallet, &pass, "approve_release");
    assert_eq!(w.platform.token(&token).await.unwrap().status, "Pending");
    let submit = submit_path(&a);

    // A wrong signer: the thief signs the wallet's entry with its own key.
    let mut forged = issued_entry(&a);
    let forged_sig = {
        let mut own = forged.clone();
        if let SorobanCredentials::Address(c) = &mut own.credentials {
            c.address = medimint_chain::address::sc_address(&thief.address()).unwrap();
        }
        let own = sign_auth_entries(
            &Network::new(&pass),
            vec![own],
            &[thief.signing_key() as &dyn Signer],
            a["signature_expiration_ledger"].as_u64().unwrap() as u32,
        )
        .unwrap()
        .remove(0);
        let SorobanCredentials::Address(c) = own.credentials else {
            unreachable!()
        };
        c.signature
    };
    if let SorobanCredentials::Address(c) = &mut forged.credentials {
        c.signature = forged_sig;
    }
    let r = api
        .post(
            &submit,
            json!({"signed_entry": forged.to_xdr_base64(Limits::none()).unwrap()}),
            Some(&bearer),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a thief's signature",
    );
    assert!(r.text.contains(&thief.address()), "{}", r.text);

    // A modified entry: a later expiration, properly signed by the wallet.
    let mut later = a.clone();
    later["signature_expiration_ledger"] =
        json!(a["signature_expiration_ledger"].as_u64().unwrap() + 1000);
    let r = api
        .post(
            &submit,
            json!({"signed_entry": sign(&later, wallet.signing_key(), &pass)}),
            Some(&bearer),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "a modified entry",
    );
    assert_eq!(r.body["field"], "signed_entry");
    assert!(r.text.contains("signature_expiration_ledger"), "{}", r.text);

    // A signature that does not verify (64 bytes of noise), and both fields at once.
    let noise = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let r = api
        .post(&submit, json!({"signature": noise}), Some(&bearer))
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "a bad signature",
    );
    let r = api
        .post(
            &submit,
            json!({"signature": noise, "signed_entry": "AAAA"}),
            Some(&bearer),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "both fields",
    );

    // Someone else cannot submit it (404: it does not exist for them).
    let thief_bearer = wallet_sign_in(api, &thief, &pass).await;
    let good = sign(&a, wallet.signing_key(), &pass);
    let r = api
        .post(&submit, json!({"signed_entry": good}), Some(&thief_bearer))
        .await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "another account's authorization",
    );
    assert_eq!(w.platform.token(&token).await.unwrap().status, "Pending");

    // The wallet's own signature: applied; the answer carries the study as it is now.
    let r = api
        .post(&submit, json!({"signed_entry": good}), Some(&bearer))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["action"], "approve_release");
    assert_eq!(r.body["study"]["status"], "active");
    assert_eq!(r.body["transaction_hash"].as_str().unwrap().len(), 64);
    assert_eq!(w.platform.token(&token).await.unwrap().status, "Active");
    // A replay.
    let r = api
        .post(&submit, json!({"signed_entry": good}), Some(&bearer))
        .await;
    expect(&r, StatusCode::CONFLICT, "authorization-used", "a replay");

    // --- The key: the first fetch in a session records the access, signed by the wallet
    // through Freighter's path (the bare signature over preimage_hash).
    let key_path = format!("/v1/studies/{token}/key");
    let r = api.get(&key_path, Some(&bearer)).await;
    let a = authorization(&r, "first key fetch");
    check_shape(&a, &wallet, &pass, "record_access");
    let hash: [u8; 32] = hex::decode(a["preimage_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig = Signer::sign(wallet.signing_key(), &hash).unwrap();
    let r = api
        .post(
            &submit_path(&a),
            json!({"signature": base64::engine::general_purpose::STANDARD.encode(sig)}),
            Some(&bearer),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["action"], "record_access");
    let wrapped = base64::engine::general_purpose::STANDARD
        .decode(r.body["key"]["wrapped_key"].as_str().unwrap())
        .unwrap();
    let study_key = medimint_sdk::crypto::open_key(&wrapped, &wallet).unwrap();
    // Later fetches in the session hand the key out at once.
    let r = api.get(&key_path, Some(&bearer)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let history = w.platform.history(Some(&token), None).await.unwrap();
    let accesses = history.iter().filter(|e| e.kind.contains("access")).count();
    assert_eq!(accesses, 1, "one access recorded: {history:?}");

    // --- Share with a doctor: the answer names the grantee to seal the key to.
    let shares = format!("/v1/studies/{token}/shares");
    let r = api
        .post(
            &shares,
            json!({"to": "dr@clinic.example", "role": "viewer"}),
            Some(&bearer),
        )
        .await;
    let stale = authorization(&r, "share");
    check_shape(&stale, &wallet, &pass, "grant");
    // Left unsigned past its expiration ledger: refused as expired.
    let expiration = stale["signature_expiration_ledger"].as_u64().unwrap() as u32;
    let now = w.devnet().latest_ledger();
    w.devnet().advance_ledgers(expiration - now + 1);
    let r = api
        .post(
            &submit_path(&stale),
            json!({"signed_entry": sign(&stale, wallet.signing_key(), &pass)}),
            Some(&bearer),
        )
        .await;
    expect(
        &r,
        StatusCode::GONE,
        "authorization-expired",
        "an expired entry",
    );
    // A fresh one; without the sealed key it is refused, naming the field.
    let r = api
        .post(
            &shares,
            json!({"to": "dr@clinic.example", "role": "viewer"}),
            Some(&bearer),
        )
        .await;
    let a = authorization(&r, "share again");
    let grantee = a["grantee"].as_str().unwrap().to_string();
    let signed = sign(&a, wallet.signing_key(), &pass);
    let r = api
        .post(
            &submit_path(&a),
            json!({"signed_entry": signed}),
            Some(&bearer),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "no sealed key",
    );
    assert_eq!(r.body["field"], "wrapped_key");
    let sealed = medimint_sdk::crypto::seal_key(&study_key, &grantee).unwrap();
    let r = api
        .post(
            &submit_path(&a),
            json!({"signed_entry": signed,
                   "wrapped_key": base64::engine::general_purpose::STANDARD.encode(sealed)}),
            Some(&bearer),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["grantee"], grantee.as_str());

    let record = w.platform.token(&token).await.unwrap();
    let sid = medimint_ingest::layout::study_id(&hex::encode(record.commitment)).unwrap();
    let dr_key = medimint_ingest::layout::wrapped_key_key(&sid, &grantee);
    assert!(w.platform.store().head(&dr_key).await.unwrap().is_some());

    // The doctor (custodial) reads a file with the key the wallet sealed.
    let (dr, dr_address) = api.sign_in_as("dr@clinic.example").await;
    assert_eq!(dr_address, grantee);
    let files = api
        .get(&format!("/v1/studies/{token}/files"), Some(&dr))
        .await;
    assert_eq!(files.status, StatusCode::OK, "{}", files.text);
    let first = files.body[0]["path"].as_str().unwrap().to_string();
    let file_path = format!("/v1/studies/{token}/files/{first}");
    let r = api.get(&file_path, Some(&dr)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // --- Revoke, signed by the Python stellar-sdk's authorize_entry.
    let r = api
        .call(
            Method::DELETE,
            &format!("/v1/studies/{token}/shares/dr@clinic.example"),
            None,
            Some(&bearer),
        )
        .await;
    let a = authorization(&r, "revoke");
    check_shape(&a, &wallet, &pass, "revoke");
    let by_python = python_sign(&a, &wallet, &pass);
    let r = api
        .post(
            &submit_path(&a),
            json!({"signed_entry": by_python}),
            Some(&bearer),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["action"], "revoke");
    let access = w.platform.access(&token).await.unwrap();
    assert!(
        access.grants.iter().all(|g| g.grantee != grantee),
        "{access:?}"
    );
    // The doctor, in a new session, no longer sees the study at all (404, as for a stranger),
    // and the wrapped key the wallet sealed to the doctor is gone.
    let (dr, _) = api.sign_in_as("dr@clinic.example").await;
    let r = api.get(&file_path, Some(&dr)).await;
    expect(&r, StatusCode::NOT_FOUND, "not-found", "the revoked doctor");
    let r = api.get(&key_path, Some(&dr)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "the revoked doctor's key",
    );
    assert!(w.platform.store().head(&dr_key).await.unwrap().is_none());
}
