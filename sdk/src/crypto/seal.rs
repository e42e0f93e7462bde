//! A study key sealed to a Stellar address with HPKE (RFC 9180), base mode, suite
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, to the X25519 form of the address's
//! ed25519 key. Anyone who knows a `G…` address can seal to it; only its `S…` secret opens.
//!
//! Sealed key, version 1 (85 bytes; see `docs/formats.md`):
//! `"MMSK"` · version `0x01` · HPKE `enc` (32) · sealed study key (32) · tag (16).

use hpke::aead::{AeadTag, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, Serializable};
use rand_core::TryRngCore;
use zeroize::Zeroizing;

use super::{x25519, Error, StudyKey};
use crate::keys::Keypair;
use crate::strkey;

type Kem = X25519HkdfSha256;

/// Magic bytes of a sealed key.
pub const SEALED_MAGIC: [u8; 4] = *b"MMSK";
/// Sealed key format version.
pub const SEALED_VERSION: u8 = 1;
/// Length of a version-1 sealed key.
pub const SEALED_LEN: usize = 4 + 1 + 32 + 32 + 16;

const INFO_PREFIX: &[u8] = b"medimint study key v1";

/// HPKE `info`: binds the sealed key to the recipient's ed25519 key, so it cannot be passed
/// off as sealed to another address that maps to the same X25519 key.
fn info(recipient_ed25519: &[u8; 32]) -> Vec<u8> {
    [INFO_PREFIX, recipient_ed25519.as_slice()].concat()
}

/// Seals `key` to the `G…` address `recipient`.
pub fn seal_key(key: &StudyKey, recipient: &str) -> Result<Vec<u8>, Error> {
    let ed_public =
        strkey::decode_account(recipient).map_err(|e| Error::InvalidRecipient(e.to_string()))?;
    let x_public = x25519::public_key(&ed_public)?;
    let public = <Kem as KemTrait>::PublicKey::from_bytes(&x_public)
        .map_err(|_| Error::InvalidRecipient("not a usable X25519 key".into()))?;
    let aad = sealed_aad();
    let mut body = Zeroizing::new(*key.as_bytes());
    let (enc, tag) = hpke::single_shot_seal_in_place_detached::<AesGcm256, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &public,
        &info(&ed_public),
        body.as_mut(),
        &aad,
        &mut rand_core::OsRng.unwrap_err(),
    )
    .map_err(|_| Error::InvalidRecipient("HPKE encapsulation failed".into()))?;
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.extend_from_slice(&aad);
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(body.as_ref());
    out.extend_from_slice(&tag.to_bytes());
    Ok(out)
}

/// Opens a sealed key with the recipient's key pair.
pub fn open_key(sealed: &[u8], recipient: &Keypair) -> Result<StudyKey, Error> {
    if sealed.len() < 5 || sealed[..4] != SEALED_MAGIC {
        return Err(Error::SealedKeyMalformed("missing MMSK magic bytes"));
    }
    if sealed[4] != SEALED_VERSION {
        return Err(Error::UnsupportedVersion {
            found: sealed[4],
            supported: SEALED_VERSION,
        });
    }
    if sealed.len() != SEALED_LEN {
        return Err(Error::SealedKeyMalformed("length is not 85 bytes"));
    }
    let enc = <Kem as KemTrait>::EncappedKey::from_bytes(&sealed[5..37])
        .map_err(|_| Error::SealedKeyMalformed("bad encapsulated key"))?;
    let tag = AeadTag::<AesGcm256>::from_bytes(&sealed[69..85])
        .map_err(|_| Error::SealedKeyMalformed("bad tag"))?;
    let scalar = x25519::secret_key(&recipient.secret_bytes());
    let secret = <Kem as KemTrait>::PrivateKey::from_bytes(scalar.as_ref())
        .map_err(|_| Error::WrongRecipient)?;
    let mut body = Zeroizing::new([0u8; 32]);
    body.copy_from_slice(&sealed[37..69]);
    hpke::single_shot_open_in_place_detached::<AesGcm256, HkdfSha256, Kem>(
        &OpModeR::Base,
        &secret,
        &enc,
        &info(&recipient.public_key()),
        body.as_mut(),
        &sealed[..5],
        &tag,
    )
    .map_err(|_| Error::WrongRecipient)?;
    Ok(StudyKey::from_bytes(*body))
}

/// Share: opens `sealed` with `holder` and seals the same study key to `new_recipient`. The
/// encrypted data is untouched.
pub fn rewrap_key(sealed: &[u8], holder: &Keypair, new_recipient: &str) -> Result<Vec<u8>, Error> {
    let key = open_key(sealed, holder)?;
    seal_key(&key, new_recipient)
}

fn sealed_aad() -> [u8; 5] {
    let mut aad = [0u8; 5];
    aad[..4].copy_from_slice(&SEALED_MAGIC);
    aad[4] = SEALED_VERSION;
    aad
}
