//! Ed25519 keypairs, strkeys and the root account's documented key.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use soroban_env_host::xdr::{AccountId, PublicKey, Uint256};

/// An ed25519 keypair. `Debug` shows only the public address.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("address", &self.address())
            .finish()
    }
}

impl Keypair {
    /// The keypair whose ed25519 seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Parses an `S...` secret seed.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        match stellar_strkey::Strkey::from_string(secret) {
            Ok(stellar_strkey::Strkey::PrivateKeyEd25519(k)) => Ok(Self::from_seed(k.0)),
            _ => Err("not an S... ed25519 secret seed".to_string()),
        }
    }

    /// The network's root account key, as the Stellar quickstart derives it: the ed25519
    /// seed is SHA-256 of the network passphrase.
    pub fn root(passphrase: &str) -> Self {
        Self::from_seed(Sha256::digest(passphrase.as_bytes()).into())
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The `G...` address.
    pub fn address(&self) -> String {
        stellar_strkey::ed25519::PublicKey(self.public_key()).to_string()
    }

    /// The `S...` secret seed. Handle with care: never log it.
    pub fn secret(&self) -> String {
        stellar_strkey::ed25519::PrivateKey(self.signing.to_bytes()).to_string()
    }

    /// The account id of this key.
    pub fn account_id(&self) -> AccountId {
        AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(self.public_key())))
    }

    /// Signs `msg` (a transaction hash, usually).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

/// Verifies an ed25519 signature; false for a malformed key or signature.
pub fn verify(public_key: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    vk.verify_strict(msg, &sig).is_ok()
}

/// Parses a `G...` address into an account id.
pub fn parse_account_id(address: &str) -> Result<AccountId, String> {
    match stellar_strkey::ed25519::PublicKey::from_string(address) {
        Ok(pk) => Ok(AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(pk.0)))),
        Err(_) => Err(format!("`{address}` is not a G... account address")),
    }
}

/// The `G...` address of an account id.
pub fn account_address(id: &AccountId) -> String {
    let AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(k))) = id;
    stellar_strkey::ed25519::PublicKey(*k).to_string()
}

/// The network id: SHA-256 of the passphrase.
pub fn network_id(passphrase: &str) -> [u8; 32] {
    Sha256::digest(passphrase.as_bytes()).into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_root_is_the_quickstart_root() {
        // The quickstart's documented root for "Standalone Network ; February 2017".
        let root = Keypair::root("Standalone Network ; February 2017");
        assert_eq!(
            root.address(),
            "GBZXN7PIRZGNMHGA7MUUUF4GWPY5AYPV6LY4UV2GL6VJGIQRXFDNMADI"
        );
        assert_eq!(
            root.secret(),
            "SC5O7VZUXDJ6JBDSZ74DSERXL7W3Y5LTOAMRF7RQRL3TAGAPS7LUVG3L"
        );
        assert!(!format!("{root:?}").contains(&root.secret()));
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let k = Keypair::from_seed([7; 32]);
        let sig = k.sign(b"hello");
        assert!(verify(&k.public_key(), b"hello", &sig));
        assert!(!verify(&k.public_key(), b"hellO", &sig));
        assert!(!verify(&k.public_key(), b"hello", &sig[..63]));
    }
}
