//! Wallet sign-in through the router: SEP-1 stellar.toml and SEP-10 challenges (replay,
//! expiry, wrong network, wrong home domain, unsigned).

mod common;

use axum::http::{Request, StatusCode};
use base64::Engine;
use common::{TestApi, NETWORK};
use ed25519_dalek::SigningKey;
use medimint_api::sep10::{build_challenge, sign_challenge, Sep10Params};
use medimint_chain::Network;
use serde_json::json;
use stellar_xdr::{
    Limits, MuxedAccount, OperationBody, Preconditions, ReadXdr, TransactionEnvelope,
};

fn client() -> (SigningKey, String) {
    let key = SigningKey::from_bytes(&[5; 32]);
    let address = stellar_strkey::ed25519::PublicKey(key.verifying_key().to_bytes()).to_string();
    (key, address)
}

async fn signed_challenge(api: &TestApi, key: &SigningKey, address: &str) -> String {
    let r = api.get(&format!("/auth?account={address}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["network_passphrase"], NETWORK);
    sign_challenge(
        r.body["transaction"].as_str().unwrap(),
        key,
        &Network::new(NETWORK),
    )
    .unwrap()
}

#[tokio::test]
async fn stellar_toml_names_the_signing_key_and_auth_endpoint_for_any_origin() {
    let api = TestApi::new();
    let r = api
        .send(
            Request::get("/.well-known/stellar.toml")
                .header("origin", "https://wallet.example")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert!(
        r.text
            .contains(&format!("NETWORK_PASSPHRASE = \"{NETWORK}\"")),
        "{}",
        r.text
    );
    assert!(r
        .text
        .contains("WEB_AUTH_ENDPOINT = \"https://api.medimint.test/auth\""));
    assert!(r
        .text
        .contains("MEDIMINT_API_URL = \"https://api.medimint.test\""));
    let signing = api.state.keys().signing_address();
    assert!(r.text.contains(&format!("SIGNING_KEY = \"{signing}\"")));
}

#[tokio::test]
async fn the_challenge_has_the_sep10_shape() {
    let api = TestApi::new();
    let (_, address) = client();
    let r = api.get(&format!("/auth?account={address}"), None).await;
    let env = TransactionEnvelope::from_xdr_base64(
        r.body["transaction"].as_str().unwrap(),
        Limits::none(),
    )
    .unwrap();
    let TransactionEnvelope::Tx(env) = env else {
        panic!("v1 envelope")
    };
    assert_eq!(env.tx.seq_num.0, 0);
    let server = api.state.keys().signing_key().verifying_key().to_bytes();
    assert_eq!(
        env.tx.source_account,
        MuxedAccount::Ed25519(stellar_xdr::Uint256(server))
    );
    let Preconditions::Time(tb) = &env.tx.cond else {
        panic!("time bounds")
    };
    assert_eq!(tb.max_time.0 - tb.min_time.0, 900);
    assert_eq!(tb.min_time.0, api.clock_now());
    assert_eq!(env.tx.operations.len(), 2);
    let OperationBody::ManageData(first) = &env.tx.operations[0].body else {
        panic!()
    };
    assert_eq!(first.data_name.0.as_slice(), b"api.medimint.test auth");
    let nonce = first.data_value.as_ref().unwrap().0.as_slice();
    assert_eq!(nonce.len(), 64);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(nonce)
            .unwrap()
            .len(),
        48
    );
    let OperationBody::ManageData(second) = &env.tx.operations[1].body else {
        panic!()
    };
    assert_eq!(second.data_name.0.as_slice(), b"web_auth_domain");
    assert_eq!(
        second.data_value.as_ref().unwrap().0.as_slice(),
        b"api.medimint.test"
    );
    assert_eq!(env.signatures.len(), 1);
}

trait Now {
    fn clock_now(&self) -> u64;
}
impl Now for TestApi {
    fn clock_now(&self) -> u64 {
        use medimint_api::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn a_signed_challenge_gives_one_token_and_a_replay_is_refused() {
    let api = TestApi::new();
    let (key, address) = client();
    let signed = signed_challenge(&api, &key, &address).await;
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let me = api.get("/v1/me", Some(&token)).await;
    assert_eq!(me.body["address"], address.as_str());
    assert_eq!(me.body["amr"], "sep10");
    assert!(me.body.get("email").is_none());

    let again = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.problem(), "challenge-replayed");
    assert_eq!(again.body["error"], again.body["detail"]);
}

#[tokio::test]
async fn the_signed_challenge_may_come_as_a_form() {
    let api = TestApi::new();
    let (key, address) = client();
    let signed = signed_challenge(&api, &key, &address).await;
    let body = format!("transaction={}", urlencode(&signed));
    let r = api
        .send(
            Request::post("/auth")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let api = TestApi::new();
    let (key, address) = client();
    let signed = signed_challenge(&api, &key, &address).await;
    api.clock.advance(901);
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "challenge-expired");
}

#[tokio::test]
async fn a_challenge_signed_for_another_network_is_refused_naming_the_network() {
    let api = TestApi::new();
    let (key, address) = client();
    let other = Network::new(Network::MAINNET);
    // Built and signed by this server's key, but for the public network.
    let tx = build_challenge(
        api.state.keys().signing_key(),
        &Sep10Params {
            network: &other,
            home_domain: "api.medimint.test",
            web_auth_domain: "api.medimint.test",
        },
        &address,
        api.clock_now(),
        900,
        [1; 48],
    )
    .unwrap();
    let signed = sign_challenge(&tx, &key, &other).unwrap();
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.problem(), "challenge-invalid");
    assert!(
        r.body["detail"].as_str().unwrap().contains(NETWORK),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_challenge_for_another_home_domain_is_refused() {
    let api = TestApi::new();
    let (key, address) = client();
    let net = Network::new(NETWORK);
    let tx = build_challenge(
        api.state.keys().signing_key(),
        &Sep10Params {
            network: &net,
            home_domain: "evil.example",
            web_auth_domain: "api.medimint.test",
        },
        &address,
        api.clock_now(),
        900,
        [1; 48],
    )
    .unwrap();
    let signed = sign_challenge(&tx, &key, &net).unwrap();
    let r = api
        .post("/auth", json!({ "transaction": signed }), None)
        .await;
    assert_eq!(r.problem(), "challenge-invalid");
    assert!(r.body["detail"].as_str().unwrap().contains("home domain"));
}

#[tokio::test]
async fn a_challenge_signed_by_another_key_or_unsigned_is_refused() {
    let api = TestApi::new();
    let (_, address) = client();
    let r = api.get(&format!("/auth?account={address}"), None).await;
    let unsigned = r.body["transaction"].as_str().unwrap();
    let r = api
        .post("/auth", json!({ "transaction": unsigned }), None)
        .await;
    assert_eq!(r.problem(), "challenge-unsigned");
    let intruder = SigningKey::from_bytes(&[6; 32]);
    let wrong = sign_challenge(unsigned, &intruder, &Network::new(NETWORK)).unwrap();
    let r = api
        .post("/auth", json!({ "transaction": wrong }), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "challenge-unsigned");
}

#[tokio::test]
async fn bad_challenge_requests_name_the_field() {
    let api = TestApi::new();
    let r = api.get("/auth?account=GBAD", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["field"], "account");
    let r = api.get("/auth", None).await;
    assert_eq!(r.body["field"], "account", "{}", r.text);
    let r = api
        .get(
            "/auth?account=SBQWY3DNPFWGSZTFNV4WQZLBOJ2GQYLTMJSWK3TTNFSXEZDJNZTS2ZJM",
            None,
        )
        .await;
    assert_eq!(r.body["field"], "account");
    assert!(!r.text.contains("SBQWY3DN"), "a secret is never echoed");
    let (_, address) = client();
    let r = api
        .get(
            &format!("/auth?account={address}&home_domain=other.example"),
            None,
        )
        .await;
    assert_eq!(r.body["field"], "home_domain");
    let r = api
        .post("/auth", json!({ "transaction": "bm90IHhkcg==" }), None)
        .await;
    assert_eq!(r.body["field"], "transaction");
    let r = api
        .post("/auth", json!({ "transaction": "A".repeat(9000) }), None)
        .await;
    assert_eq!(r.body["field"], "transaction");
}
