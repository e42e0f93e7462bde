//! HD wallets: BIP-39 mnemonics and SEP-0005 Stellar account keys.
//!
//! A mnemonic (with an optional BIP-39 passphrase) gives a 64-byte [`Seed`]; account `i` is the
//! SLIP-0010 ed25519 key at `m/44'/148'/i'` (SEP-0005). Every secret here lives in a buffer
//! that is zeroized on drop, and no `Debug` or error output contains one.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use ed25519_dalek_bip32::{ChildIndex, ExtendedSigningKey};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::strkey;

/// The SEP-0005 derivation prefix `m/44'/148'`.
const PURPOSE: u32 = 44;
const STELLAR_COIN_TYPE: u32 = 148;

/// Something wrong with a mnemonic, an index or a secret. Messages name the problem, never the
/// secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The phrase is not a valid English BIP-39 mnemonic.
    #[error("invalid BIP-39 mnemonic: {0}")]
    Mnemonic(&'static str),
    /// SEP-0005 uses hardened indexes only, so an account index must be below 2^31.
    #[error("account index {0} is out of range (must be below 2^31)")]
    IndexOutOfRange(u32),
    /// A secret seed string was not a valid `S…` StrKey.
    #[error(transparent)]
    Strkey(#[from] strkey::StrkeyError),
}

/// A BIP-39 mnemonic phrase. Its words are never printed by `Debug`.
pub struct Mnemonic(bip39::Mnemonic);

impl Mnemonic {
    /// A fresh 24-word mnemonic (256 bits of entropy from the OS).
    pub fn generate() -> Self {
        let mut entropy = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(entropy.as_mut());
        // 32 bytes is a valid BIP-39 entropy length, so this cannot fail.
        let inner = bip39::Mnemonic::from_entropy(entropy.as_ref())
            .expect("32 bytes of entropy is a valid BIP-39 length");
        Self(inner)
    }

    /// Parses an English phrase (12, 15, 18, 21 or 24 words; extra whitespace is ignored).
    pub fn parse(phrase: &str) -> Result<Self, KeyError> {
        let normalized = Zeroizing::new(phrase.split_whitespace().collect::<Vec<_>>().join(" "));
        bip39::Mnemonic::parse_in(bip39::Language::English, normalized.as_str())
            .map(Self)
            .map_err(|e| {
                KeyError::Mnemonic(match e {
                    bip39::Error::BadWordCount(_) => "word count must be 12, 15, 18, 21 or 24",
                    bip39::Error::UnknownWord(_) => "a word is not in the English BIP-39 list",
                    bip39::Error::InvalidChecksum => "checksum does not match (a word is wrong)",
                    _ => "not a valid mnemonic",
                })
            })
    }

    /// The phrase, space separated, in a buffer zeroized on drop.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.words().collect::<Vec<_>>().join(" "))
    }

    /// Number of words.
    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// The 64-byte BIP-39 seed (PBKDF2-HMAC-SHA512) with an optional passphrase ("" if none).
    pub fn to_seed(&self, passphrase: &str) -> Seed {
        Seed(Zeroizing::new(self.0.to_seed(passphrase)))
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mnemonic({} words, redacted)", self.word_count())
    }
}

/// A 64-byte BIP-39 seed, the root of every derived account. Zeroized on drop.
pub struct Seed(Zeroizing<[u8; 64]>);

impl Seed {
    /// Wraps raw seed bytes (for seeds that did not come from a mnemonic).
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The seed bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(redacted)")
    }
}

/// HD index of the platform's sponsor account (pays every fee and reserve). Operator keys
/// sit at the top of the index range; custodial users and issuers count up from 0, so the
/// two never meet.
pub const SPONSOR_INDEX: u32 = 0x7FFF_FFFF;
/// HD index of the suite's admin (deployer of the contracts; their ids follow from it).
pub const ADMIN_INDEX: u32 = 0x7FFF_FFFE;
/// HD index of channel account 0; channel `k` is `CHANNEL_BASE_INDEX + k`.
pub const CHANNEL_BASE_INDEX: u32 = 0x7FFF_FF00;

/// The SEP-0005 account key `m/44'/148'/index'` of `seed`.
pub fn derive_keypair(seed: &Seed, index: u32) -> Result<Keypair, KeyError> {
    if index >= 1 << 31 {
        return Err(KeyError::IndexOutOfRange(index));
    }
    // The crate keeps chain codes in plain arrays: derive step by step so that each
    // intermediate node's chain code can be wiped before it is dropped (its signing key
    // zeroizes itself).
    let mut node = ExtendedSigningKey::from_seed(seed.as_bytes())
        .expect("SLIP-0010 master derivation accepts any seed");
    for step in [PURPOSE, STELLAR_COIN_TYPE, index] {
        let mut next = node
            .derive_child(ChildIndex::Hardened(step))
            .expect("hardened derivation below 2^31 cannot fail");
        std::mem::swap(&mut node, &mut next);
        next.chain_code.zeroize();
    }
    node.chain_code.zeroize();
    Ok(Keypair {
        signing: node.signing_key.clone(),
    })
}

/// An ed25519 Stellar account key. The secret half is zeroized on drop; `Debug` shows only the
/// public address.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// A fresh random key (not derived from any seed).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self::from_seed_bytes(&bytes)
    }

    /// The key whose 32-byte ed25519 secret seed is `seed`.
    pub fn from_seed_bytes(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Parses an `S…` secret seed.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let seed = strkey::decode_secret(secret)?;
        Ok(Self::from_seed_bytes(&seed))
    }

    /// The `G…` address.
    pub fn address(&self) -> String {
        strkey::encode_account(&self.public_key())
    }

    /// The raw ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The `S…` secret seed, in a buffer zeroized on drop.
    pub fn secret(&self) -> Zeroizing<String> {
        strkey::encode_secret(&self.secret_bytes())
    }

    /// The raw 32-byte ed25519 secret seed, in a buffer zeroized on drop.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// An ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The underlying `ed25519-dalek` key, for code that signs Stellar payloads itself.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHRASE: &str = "illness spike retreat truth genius clock brain pass fit cave bargain toe";

    #[test]
    fn debug_never_shows_secrets() {
        let m = Mnemonic::parse(PHRASE).unwrap();
        let seed = m.to_seed("");
        let kp = derive_keypair(&seed, 0).unwrap();
        let all = format!("{m:?} {seed:?} {kp:?}");
        assert!(!all.contains("illness"), "{all}");
        assert!(!all.contains(kp.secret().as_str()), "{all}");
        assert!(all.contains(&kp.address()), "{all}");
        assert_eq!(format!("{m:?}"), "Mnemonic(12 words, redacted)");
    }

    #[test]
    fn generated_mnemonic_has_24_words_and_parses_back() {
        let m = Mnemonic::generate();
        assert_eq!(m.word_count(), 24);
        let again = Mnemonic::parse(&m.phrase()).unwrap();
        assert_eq!(again.to_seed("").as_bytes(), m.to_seed("").as_bytes());
        assert_ne!(Mnemonic::generate().phrase(), m.phrase());
    }

    #[test]
    fn bad_mnemonics_say_why() {
        assert_eq!(
            Mnemonic::parse("illness spike").unwrap_err(),
            KeyError::Mnemonic("word count must be 12, 15, 18, 21 or 24")
        );
        let unknown = PHRASE.replace("toe", "zzzz");
        assert_eq!(
            Mnemonic::parse(&unknown).unwrap_err(),
            KeyError::Mnemonic("a word is not in the English BIP-39 list")
        );
        let swapped = PHRASE.replace("bargain toe", "toe bargain");
        assert_eq!(
            Mnemonic::parse(&swapped).unwrap_err(),
            KeyError::Mnemonic("checksum does not match (a word is wrong)")
        );
        assert!(!Mnemonic::parse(&unknown)
            .unwrap_err()
            .to_string()
            .contains("zzzz"));
    }

    #[test]
    fn whitespace_is_normalized() {
        let messy = format!("  {}\n", PHRASE.replace(' ', "  \t"));
        let a = Mnemonic::parse(&messy).unwrap().to_seed("");
        let b = Mnemonic::parse(PHRASE).unwrap().to_seed("");
        assert_eq!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn index_must_be_below_2_pow_31() {
        let seed = Mnemonic::parse(PHRASE).unwrap().to_seed("");
        assert_eq!(
            derive_keypair(&seed, 1 << 31).unwrap_err(),
            KeyError::IndexOutOfRange(1 << 31)
        );
        assert!(derive_keypair(&seed, (1 << 31) - 1).is_ok());
    }

    #[test]
    fn secret_round_trips_and_signatures_verify() {
        let kp = Keypair::generate();
        let back = Keypair::from_secret(&kp.secret()).unwrap();
        assert_eq!(back.address(), kp.address());
        let sig = kp.sign(b"msg");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&kp.public_key()).unwrap();
        assert!(vk
            .verify_strict(b"msg", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok());
        assert!(Keypair::from_secret(&kp.address()).is_err());
    }
}
