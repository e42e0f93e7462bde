//! Stellar StrKey (SEP-0023) encoding for the four kinds MediMint handles: account public keys
//! (`G…`), account secret seeds (`S…`), contracts (`C…`) and muxed accounts (`M…`).
//!
//! A thin layer over `stellar-strkey` that returns one error type naming what was wrong and
//! keeps secret seeds in zeroizing buffers.

use zeroize::{Zeroize, Zeroizing};

/// A string that is not the StrKey kind the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrkeyError {
    /// Not a valid StrKey of the expected kind (bad alphabet, length, checksum or prefix).
    /// Only the expected kind is named: the input may be a secret and is never echoed.
    #[error("not a valid {expected} StrKey")]
    Invalid {
        /// What was expected, e.g. "account (G...)".
        expected: &'static str,
    },
}

fn invalid(expected: &'static str) -> StrkeyError {
    StrkeyError::Invalid { expected }
}

/// `G…` address of an ed25519 public key.
pub fn encode_account(public_key: &[u8; 32]) -> String {
    stellar_strkey::ed25519::PublicKey(*public_key).to_string()
}

/// The ed25519 public key of a `G…` address.
pub fn decode_account(address: &str) -> Result<[u8; 32], StrkeyError> {
    stellar_strkey::ed25519::PublicKey::from_string(address.trim())
        .map(|k| k.0)
        .map_err(|_| invalid("account (G...)"))
}

/// `S…` encoding of an ed25519 secret seed.
pub fn encode_secret(seed: &[u8; 32]) -> Zeroizing<String> {
    let mut key = stellar_strkey::ed25519::PrivateKey(*seed);
    let encoded = Zeroizing::new(key.to_string());
    key.0.zeroize();
    encoded
}

/// The 32-byte ed25519 seed of an `S…` secret.
pub fn decode_secret(secret: &str) -> Result<Zeroizing<[u8; 32]>, StrkeyError> {
    let mut key = stellar_strkey::ed25519::PrivateKey::from_string(secret.trim())
        .map_err(|_| invalid("secret seed (S...)"))?;
    let seed = Zeroizing::new(key.0);
    key.0.zeroize();
    Ok(seed)
}

/// `C…` address of a contract id.
pub fn encode_contract(contract_id: &[u8; 32]) -> String {
    stellar_strkey::Contract(*contract_id).to_string()
}

/// The 32-byte contract id of a `C…` address.
pub fn decode_contract(address: &str) -> Result<[u8; 32], StrkeyError> {
    stellar_strkey::Contract::from_string(address.trim())
        .map(|c| c.0)
        .map_err(|_| invalid("contract (C...)"))
}

/// `M…` address: an ed25519 account multiplexed with a 64-bit id (SEP-0023).
pub fn encode_muxed(public_key: &[u8; 32], id: u64) -> String {
    stellar_strkey::ed25519::MuxedAccount {
        ed25519: *public_key,
        id,
    }
    .to_string()
}

/// The account public key and id of an `M…` address.
pub fn decode_muxed(address: &str) -> Result<([u8; 32], u64), StrkeyError> {
    stellar_strkey::ed25519::MuxedAccount::from_string(address.trim())
        .map(|m| (m.ed25519, m.id))
        .map_err(|_| invalid("muxed account (M...)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // SEP-0023's published valid M-address (id 2^63) and the G-address it multiplexes.
    const MUXED: &str = "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVAAAAAAAAAAAAAJLK";
    const ACCOUNT: &str = "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ";

    #[test]
    fn muxed_round_trip_matches_sep23_vector() {
        let (pk, id) = decode_muxed(MUXED).unwrap();
        assert_eq!(encode_account(&pk), ACCOUNT);
        assert_eq!(id, 9_223_372_036_854_775_808);
        assert_eq!(encode_muxed(&pk, id), MUXED);
    }

    #[test]
    fn contract_round_trip() {
        let id = [7u8; 32];
        let c = encode_contract(&id);
        assert!(c.starts_with('C'));
        assert_eq!(decode_contract(&c).unwrap(), id);
    }

    #[test]
    fn kinds_are_not_confused() {
        assert_eq!(
            decode_secret(ACCOUNT).unwrap_err(),
            StrkeyError::Invalid {
                expected: "secret seed (S...)"
            }
        );
        assert!(decode_contract(ACCOUNT).is_err());
        assert!(decode_account(MUXED).is_err());
    }

    #[test]
    fn a_flipped_character_is_refused() {
        let mut bad = ACCOUNT.to_string();
        bad.replace_range(10..11, "A");
        assert_ne!(bad, ACCOUNT);
        assert!(decode_account(&bad).is_err());
    }

    #[test]
    fn secret_error_does_not_echo_input() {
        let err = decode_secret("SBOGUSSECRETVALUE").unwrap_err().to_string();
        assert!(!err.contains("BOGUS"), "{err}");
    }
}
