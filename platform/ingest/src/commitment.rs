//! What the chain holds instead of the checksum root: a salted commitment.
//!
//! A bare Merkle root of the original files would let anyone who holds a copy of the study
//! (another provider, a leaked export) find its token and from there the patient. So the
//! study token stores `SHA-256("medimint/commitment/v1" ‖ 0 ‖ salt ‖ root)`, where the salt
//! is `HMAC-SHA256(k, root)` under a key `k` derived from the platform seed:
//!
//! - deterministic for a given root and platform, so the contract can refuse a second
//!   pending or active release of the same study (it deduplicates on the commitment);
//! - the salt is written into the encrypted metadata object, so whoever may read the
//!   metadata (the patient, a grantee, an external wallet) can check a copy of the files
//!   against the token without the platform;
//! - the platform itself (which holds `k`) can check files against a token directly;
//! - a stranger with the files but neither the metadata nor `k` learns nothing.
//!
//! The study's object prefix (`studies/<study-id>/`) is named after the commitment, so the
//! platform finds a token's objects from the chain alone.

use hmac::{Hmac, Mac};
use medimint_sdk::keys::Seed;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// HKDF label of the commitment key.
const KEY_LABEL: &[u8] = b"medimint/commitment-key/v1";
/// Domain of the salt's HMAC.
const SALT_DOMAIN: &[u8] = b"medimint/commitment-salt/v1\0";
/// Domain of the commitment hash.
const COMMIT_DOMAIN: &[u8] = b"medimint/commitment/v1\0";

/// A checksum root's commitment and the salt that opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// The salt (kept in the encrypted metadata).
    pub salt: [u8; 32],
    /// The value on chain.
    pub value: [u8; 32],
}

impl Commitment {
    /// The hex of the value.
    pub fn hex(&self) -> String {
        hex::encode(self.value)
    }
}

/// The key salts are derived under, from the platform's master seed (HKDF-SHA256).
pub fn commitment_key(seed: &Seed) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"medimint"), seed.as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(KEY_LABEL, &mut key[..])
        .expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

/// The commitment value for `salt` and `root` (what a holder of the metadata recomputes).
pub fn commit(salt: &[u8; 32], root: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMIT_DOMAIN);
    h.update(salt);
    h.update(root);
    h.finalize().into()
}

/// The platform's commitment to `root` under `key`.
pub fn commitment(key: &[u8; 32], root: &[u8; 32]) -> Commitment {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(SALT_DOMAIN);
    mac.update(root);
    let salt: [u8; 32] = mac.finalize().into_bytes().into();
    Commitment {
        salt,
        value: commit(&salt, root),
    }
}

/// Parses a hex root or salt (64 hex digits).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_hex32(what: &str, hex_value: &str) -> Result<[u8; 32], String> {
    hex::decode(hex_value.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{what} is not 64 hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commitment_is_deterministic_keyed_and_opened_by_its_salt() {
        let root = [7u8; 32];
        let a = commitment(&[1; 32], &root);
        assert_eq!(a, commitment(&[1; 32], &root));
        let other_key = commitment(&[2; 32], &root);
        assert_ne!(a.value, other_key.value);
        assert_ne!(a.value, commitment(&[1; 32], &[8; 32]).value);
        assert_eq!(commit(&a.salt, &root), a.value);
        assert_ne!(a.value, root);
        // Without the salt, the root alone does not give the value.
        assert_ne!(commit(&[0; 32], &root), a.value);
    }

    #[test]
    fn the_key_comes_from_the_seed() {
        let s1 = Seed::from_bytes([1; 64]);
        let s2 = Seed::from_bytes([2; 64]);
        assert_eq!(*commitment_key(&s1), *commitment_key(&s1));
        assert_ne!(*commitment_key(&s1), *commitment_key(&s2));
        assert!(parse_hex32("root", "zz").unwrap_err().contains("root"));
        assert_eq!(
            parse_hex32("root", &hex::encode([3u8; 32])).unwrap(),
            [3; 32]
        );
    }
}
