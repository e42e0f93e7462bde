//! Ed25519 → X25519, so that anyone can encrypt to a Stellar address.
//!
//! The public key is the birational map from the Edwards to the Montgomery form
//! (u = (1 + y) / (1 − y)), and the secret key is the clamped first half of SHA-512 of the
//! ed25519 seed: the same as libsodium's `crypto_sign_ed25519_pk_to_curve25519` and
//! `crypto_sign_ed25519_sk_to_curve25519` (known-answer tests in `tests/x25519_kat.rs`) and as
//! age does for ssh-ed25519 recipients.

use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::Error;

/// The X25519 public key of an ed25519 public key. Refuses what libsodium refuses: encodings
/// that are not a curve point, and points of small order or outside the prime-order subgroup
/// (no one holds a secret key for those).
pub fn public_key(ed25519_public: &[u8; 32]) -> Result<[u8; 32], Error> {
    let point = CompressedEdwardsY(*ed25519_public)
        .decompress()
        .ok_or_else(|| Error::InvalidRecipient("public key is not a point on ed25519".into()))?;
    if point.is_small_order() || !point.is_torsion_free() {
        return Err(Error::InvalidRecipient(
            "public key is not in ed25519's prime-order subgroup".into(),
        ));
    }
    Ok(point.to_montgomery().to_bytes())
}

/// The X25519 secret scalar of an ed25519 secret seed, clamped, in a buffer zeroized on drop.
pub fn secret_key(ed25519_seed: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha512::digest(ed25519_seed);
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(&hash[..32]);
    hash[..].zeroize();
    scalar[0] &= 248;
    scalar[31] &= 127;
    scalar[31] |= 64;
    scalar
}
