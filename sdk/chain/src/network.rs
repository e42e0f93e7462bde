//! Which Stellar network a transaction is for: its passphrase and the id derived from it.

use sha2::{Digest, Sha256};
use stellar_xdr::Hash;

/// A Stellar network, identified by its passphrase. Signatures commit to its id, so a
/// transaction signed for one network is invalid on every other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    passphrase: String,
}

impl Network {
    /// The public test network.
    pub const TESTNET: &'static str = "Test SDF Network ; September 2015";
    /// The public main network.
    pub const MAINNET: &'static str = "Public Global Stellar Network ; September 2015";

    /// A network with the given passphrase (ask the RPC server's `getNetwork`).
    pub fn new(passphrase: impl Into<String>) -> Self {
        Self {
            passphrase: passphrase.into(),
        }
    }

    /// The passphrase.
    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }

    /// The network id: SHA-256 of the passphrase.
    pub fn id(&self) -> Hash {
        Hash(Sha256::digest(self.passphrase.as_bytes()).into())
    }
}
