//! SEP-0005's published test cases: every mnemonic (one with a BIP-39 passphrase), its seed,
//! and the G/S keys of accounts 0–9. The data is copied verbatim from the SEP into
//! `data/sep0005.json` (the file names the commit it came from).

use medimint_sdk::keys::{derive_keypair, Keypair, Mnemonic};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = include_str!("data/sep0005.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["tests"].as_array().unwrap().clone()
}

#[test]
fn every_published_case_and_index_matches() {
    let cases = cases();
    assert!(cases.len() >= 4, "SEP-0005 has at least tests 1-4");
    let mut checked = 0;
    for case in &cases {
        let n = case["test"].as_u64().unwrap();
        let mnemonic = Mnemonic::parse(case["mnemonic"].as_str().unwrap()).unwrap();
        let seed = mnemonic.to_seed(case["passphrase"].as_str().unwrap());
        assert_eq!(
            hex::encode(seed.as_bytes()),
            case["seed"].as_str().unwrap(),
            "test {n}: BIP-39 seed"
        );
        let keys = case["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 10, "test {n}: ten accounts");
        for key in keys {
            let index = key["index"].as_u64().unwrap() as u32;
            let kp = derive_keypair(&seed, index).unwrap();
            assert_eq!(
                kp.address(),
                key["address"].as_str().unwrap(),
                "test {n} index {index}"
            );
            assert_eq!(
                kp.secret().as_str(),
                key["secret"].as_str().unwrap(),
                "test {n} index {index}"
            );
            let back = Keypair::from_secret(key["secret"].as_str().unwrap()).unwrap();
            assert_eq!(back.address(), kp.address());
            checked += 1;
        }
    }
    assert!(checked >= 40);
}

#[test]
fn the_passphrase_changes_every_key() {
    let case = cases().into_iter().find(|c| c["passphrase"] != "").unwrap();
    let mnemonic = Mnemonic::parse(case["mnemonic"].as_str().unwrap()).unwrap();
    let without = derive_keypair(&mnemonic.to_seed(""), 0).unwrap();
    assert_ne!(
        without.address(),
        case["keys"][0]["address"].as_str().unwrap()
    );
}
