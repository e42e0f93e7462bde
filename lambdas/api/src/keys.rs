//! The API's secrets, all derived from the platform's master seed with HKDF-SHA256 and a
//! label each, so nothing but the seed is stored and no secret ever comes from configuration.
//!
//! | label | what |
//! |---|---|
//! | `medimint/api/jwt-hs256/v1` | the HS256 key of access tokens |
//! | `medimint/api/sep10-signing-key/v1` | the ed25519 seed of `SIGNING_KEY` (signs SEP-10 challenges) |
//! | `medimint/api/pepper/v1` | the HMAC key over one-time codes, recovery codes and email lookup keys |
//! | `medimint/api/totp-seal/v1` | the AES-256-GCM key that seals TOTP secrets at rest |
//!
//! Changing a label rotates that secret (and invalidates what it protects).

use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use medimint_sdk::keys::Seed;
use sha2::Sha256;
use zeroize::Zeroizing;

const SALT: &[u8] = b"medimint-api";
const JWT_LABEL: &[u8] = b"medimint/api/jwt-hs256/v1";
const SEP10_LABEL: &[u8] = b"medimint/api/sep10-signing-key/v1";
const PEPPER_LABEL: &[u8] = b"medimint/api/pepper/v1";
const TOTP_SEAL_LABEL: &[u8] = b"medimint/api/totp-seal/v1";

/// The API's derived secrets. `Debug` shows only the signing key's address.
#[derive(Clone)]
pub struct AuthKeys {
    jwt: Zeroizing<[u8; 32]>,
    signing: SigningKey,
    pepper: Zeroizing<[u8; 32]>,
    totp_seal: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuthKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthKeys(signing key {})", self.signing_address())
    }
}

fn expand(hkdf: &Hkdf<Sha256>, label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf.expand(label, &mut out[..])
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

impl AuthKeys {
    /// Derives every key from the platform's master seed.
    pub fn derive(seed: &Seed) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), seed.as_bytes());
        let signing_seed = expand(&hkdf, SEP10_LABEL);
        Self {
            jwt: expand(&hkdf, JWT_LABEL),
            signing: SigningKey::from_bytes(&signing_seed),
            pepper: expand(&hkdf, PEPPER_LABEL),
            totp_seal: expand(&hkdf, TOTP_SEAL_LABEL),
        }
    }

    /// The HS256 key of access tokens.
    pub(crate) fn jwt_key(&self) -> &[u8; 32] {
        &self.jwt
    }

    /// The key that signs SEP-10 challenges.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// `SIGNING_KEY` of the stellar.toml: the signing key's `G…` address.
    pub fn signing_address(&self) -> String {
        stellar_strkey::ed25519::PublicKey(self.signing.verifying_key().to_bytes()).to_string()
    }

    /// HMAC-SHA256 under the pepper, hex: how codes and lookup keys are stored. A 6-digit
    /// code hashed without a secret key would fall to a million guesses.
    pub fn keyed_hash(&self, domain: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.pepper.as_ref())
            .expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The key that seals TOTP secrets.
    pub(crate) fn totp_seal_key(&self) -> &[u8; 32] {
        &self.totp_seal
    }
}
