//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, ±1 step) and recovery codes.
//!
//! The secret is sealed with AES-256-GCM under a key derived from the vault's seed (the
//! account's address as associated data), so a copy of the database does not yield it. A
//! time step is accepted once. Recovery codes are 10 random groups `xxxxx-xxxxx` (base32,
//! 50 bits), stored as keyed hashes, each usable once.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::error::{ApiError, ApiResult};
use crate::keys::AuthKeys;
use crate::store::MfaRecord;

/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "MediMint";
/// TOTP time step, seconds.
pub const STEP: u64 = 30;
/// How many recovery codes an enrollment hands out.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_DOMAIN: &str = "recovery-code";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A TOTP generator for `secret` labelled with `account`.
///
/// # Errors
/// [`ApiError::Internal`] for a secret of the wrong size (not one this module made).
pub fn totp(secret: Vec<u8>, account: &str) -> ApiResult<TOTP> {
    // totp-rs refuses ':' in labels; an address or a validated email has none, but be safe.
    let label = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret,
        Some(ISSUER.into()),
        label,
    )
    .map_err(|e| ApiError::Internal(e.to_string().into()))
}

/// Seals a TOTP secret for `address`.
pub fn seal(keys: &AuthKeys, address: &str, secret: &[u8]) -> ApiResult<String> {
    let cipher = Aes256Gcm::new_from_slice(keys.totp_seal_key()).expect("32-byte key");
    let nonce: [u8; 12] = rand::random();
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: secret,
                aad: address.as_bytes(),
            },
        )
        .map_err(|_| ApiError::Internal("sealing a TOTP secret failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(b64().encode(out))
}

/// Opens a sealed TOTP secret of `address`.
pub fn open(keys: &AuthKeys, address: &str, sealed: &str) -> ApiResult<Vec<u8>> {
    let corrupt = || ApiError::Internal("a sealed TOTP secret does not open".into());
    let raw = b64().decode(sealed).map_err(|_| corrupt())?;
    if raw.len() < 12 {
        return Err(corrupt());
    }
    let cipher = Aes256Gcm::new_from_slice(keys.totp_seal_key()).expect("32-byte key");
    let nonce: [u8; 12] = raw[..12].try_into().map_err(|_| corrupt())?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &raw[12..],
                aad: address.as_bytes(),
            },
        )
        .map_err(|_| corrupt())
}

/// The time step at which `code` is valid around `now` and newer than `last_step`, if any.
pub fn accept_step(totp: &TOTP, code: &str, now: u64, last_step: u64) -> Option<u64> {
    let step = now / STEP;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .filter(|s| *s > last_step)
        .find(|s| bool::from(totp.generate(s * STEP).as_bytes().ct_eq(code.as_bytes())))
}

/// Checks a TOTP code for a confirmed record and moves its `last_step`.
///
/// # Errors
/// [`ApiError::Totp`] when wrong or reused.
pub fn verify(
    keys: &AuthKeys,
    address: &str,
    record: &mut MfaRecord,
    code: &str,
    now: u64,
) -> ApiResult<()> {
    let sealed = record
        .sealed_secret
        .as_deref()
        .ok_or_else(|| ApiError::Internal("a confirmed TOTP record without a secret".into()))?;
    let totp = totp(open(keys, address, sealed)?, address)?;
    match accept_step(&totp, code, now, record.last_step) {
        Some(step) => {
            record.last_step = step;
            Ok(())
        }
        None => Err(ApiError::Totp {
            missing: false,
            detail: "the authenticator code is wrong or was already used; wait for the next one"
                .into(),
        }),
    }
}

/// Fresh recovery codes and their keyed hashes.
pub fn recovery_codes(keys: &AuthKeys) -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 10] = rand::random();
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(keys, c)).collect();
    (codes, hashes)
}

/// The keyed hash of a recovery code (case and spaces ignored).
pub fn recovery_hash(keys: &AuthKeys, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    keys.keyed_hash(RECOVERY_DOMAIN, &normal)
}

/// Uses a recovery code of `record`, if it is one.
pub fn use_recovery(keys: &AuthKeys, record: &mut MfaRecord, code: &str) -> bool {
    let hash = recovery_hash(keys, code);
    match record.recovery_hashes.iter().position(|h| *h == hash) {
        Some(i) => {
            record.recovery_hashes.remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medimint_sdk::keys::Seed;

    #[test]
    fn a_sealed_secret_opens_only_for_its_address_and_a_step_is_used_once() {
        let keys = AuthKeys::derive(&Seed::from_bytes([9; 64]));
        let secret = vec![1u8; 20];
        let sealed = seal(&keys, "GA", &secret).unwrap();
        assert_eq!(open(&keys, "GA", &sealed).unwrap(), secret);
        assert!(open(&keys, "GB", &sealed).is_err());
        let t = totp(secret, "GA").unwrap();
        let now = 1_700_000_000;
        let code = t.generate(now);
        let step = accept_step(&t, &code, now, 0).unwrap();
        assert_eq!(step, now / STEP);
        assert_eq!(accept_step(&t, &code, now, step), None);
    }

    #[test]
    fn a_recovery_code_works_once_whatever_its_case() {
        let keys = AuthKeys::derive(&Seed::from_bytes([9; 64]));
        let (codes, hashes) = recovery_codes(&keys);
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut record = MfaRecord {
            recovery_hashes: hashes,
            ..MfaRecord::default()
        };
        assert!(use_recovery(&keys, &mut record, &codes[3].to_uppercase()));
        assert!(!use_recovery(&keys, &mut record, &codes[3]));
        assert_eq!(record.recovery_hashes.len(), RECOVERY_CODES - 1);
    }
}
