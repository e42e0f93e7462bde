//! ed25519 → X25519 against libsodium's `crypto_sign_ed25519_pk_to_curve25519` and
//! `crypto_sign_ed25519_sk_to_curve25519`. Vectors made once by `data/gen_x25519_vectors.py`.

use medimint_sdk::crypto::{x25519, Error};
use medimint_sdk::keys::Keypair;
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(include_str!("data/x25519_from_libsodium.json")).unwrap()
}

fn bytes32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn public_and_secret_conversions_match_libsodium() {
    let doc = doc();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 16);
    for v in vectors {
        let seed = bytes32(&v["ed25519_seed"]);
        let kp = Keypair::from_seed_bytes(&seed);
        assert_eq!(kp.public_key(), bytes32(&v["ed25519_public"]));
        assert_eq!(
            x25519::public_key(&kp.public_key()).unwrap(),
            bytes32(&v["x25519_public"])
        );
        assert_eq!(*x25519::secret_key(&seed), bytes32(&v["x25519_secret"]));
    }
}

#[test]
fn small_order_points_are_refused_like_libsodium() {
    let doc = doc();
    let rejected = doc["rejected_public"].as_array().unwrap();
    assert_eq!(rejected.len(), 3);
    for pk in rejected {
        let err = x25519::public_key(&bytes32(pk)).unwrap_err();
        assert!(matches!(err, Error::InvalidRecipient(_)), "{err}");
    }
}
