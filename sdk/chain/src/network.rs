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
    /// A standalone network (SDF's quickstart, MediMint's devnet).
    pub const STANDALONE: &'static str = "Standalone Network ; February 2017";

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

    /// The ed25519 secret seed of the network's root account as stellar-core derives it:
    /// the network id's bytes. On a standalone network the root holds every lumen and funds
    /// the operators; on the public networks it is a well-known, empty account.
    pub fn root_secret_seed(&self) -> [u8; 32] {
        self.id().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_seed_is_the_one_the_devnet_funds_from() {
        let network = Network::new(Network::STANDALONE);
        let devnet_root = medimint_devnet::Keypair::root(Network::STANDALONE);
        let ours = ed25519_dalek::SigningKey::from_bytes(&network.root_secret_seed());
        assert_eq!(ours.verifying_key().to_bytes(), devnet_root.public_key());
        assert_eq!(Network::STANDALONE, medimint_devnet::STANDALONE_PASSPHRASE);
    }
}
