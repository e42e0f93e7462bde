//! Who signs: a small trait so custodial keys, external wallets and tests all plug in the
//! same way. Only the 32-byte hash that Stellar defines is ever handed to a signer.

use stellar_xdr::{AccountId, MuxedAccount, PublicKey, Uint256};

use crate::error::Result;

/// Something that holds (or can reach) an ed25519 key of a Stellar account.
///
/// Implementations must never expose the secret, including through `Debug`.
pub trait Signer: Send + Sync {
    /// The raw ed25519 public key.
    fn public_key(&self) -> [u8; 32];

    /// Signs `payload` (always a 32-byte SHA-256 hash here) with ed25519.
    ///
    /// # Errors
    /// An external signer may refuse or be unreachable.
    fn sign(&self, payload: &[u8]) -> Result<[u8; 64]>;

    /// The account's `G…` address.
    fn address(&self) -> String {
        stellar_strkey::ed25519::PublicKey(self.public_key()).to_string()
    }
}

impl Signer for ed25519_dalek::SigningKey {
    fn public_key(&self) -> [u8; 32] {
        self.verifying_key().to_bytes()
    }

    fn sign(&self, payload: &[u8]) -> Result<[u8; 64]> {
        Ok(ed25519_dalek::Signer::sign(self, payload).to_bytes())
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn public_key(&self) -> [u8; 32] {
        (**self).public_key()
    }
    fn sign(&self, payload: &[u8]) -> Result<[u8; 64]> {
        (**self).sign(payload)
    }
}

impl<S: Signer + ?Sized> Signer for &S {
    fn public_key(&self) -> [u8; 32] {
        (**self).public_key()
    }
    fn sign(&self, payload: &[u8]) -> Result<[u8; 64]> {
        (**self).sign(payload)
    }
}

/// The XDR account id of a signer.
pub fn account_id(signer: &dyn Signer) -> AccountId {
    AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(
        signer.public_key(),
    )))
}

/// The XDR muxed account (id 0, i.e. plain) of a signer, as used for transaction sources.
pub fn muxed_account(signer: &dyn Signer) -> MuxedAccount {
    MuxedAccount::Ed25519(Uint256(signer.public_key()))
}
