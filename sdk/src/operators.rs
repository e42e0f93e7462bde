//! The platform's operator accounts, all derived from the master seed at reserved HD indexes
//! (`keys::SPONSOR_INDEX`, `keys::ADMIN_INDEX`, `keys::CHANNEL_BASE_INDEX`), and the
//! fee-sponsoring relayer over them. The CLI's platform and the ingest function build their
//! relayer here, so both pay from the same sponsor and submit from the same channel range;
//! only the seed has to be stored.

use std::sync::Arc;

use medimint_chain::{Network, Policy, Relayer, RelayerConfig, Rpc, Signer};

use crate::keys::{derive_keypair, KeyError, Keypair, Seed, CHANNEL_BASE_INDEX, SPONSOR_INDEX};

/// Why the relayer could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// An operator key could not be derived.
    #[error("deriving an operator key: {0}")]
    Key(#[from] KeyError),
    /// The relayer refused its settings (e.g. no channels).
    #[error("starting the relayer: {0}")]
    Relayer(#[from] medimint_chain::Error),
}

fn signer(k: &Keypair) -> Arc<dyn Signer> {
    Arc::new(k.signing_key().clone())
}

/// The sponsor's G-address for `seed`.
///
/// # Errors
/// [`OperatorError::Key`].
pub fn sponsor_address(seed: &Seed) -> Result<String, OperatorError> {
    Ok(derive_keypair(seed, SPONSOR_INDEX)?.address())
}

/// The relayer of the platform: the sponsor and channel accounts `0..channels` derived from
/// `seed`, submitting under `policy`. The derived keys live in the relayer's signers for its
/// lifetime (they sign every transaction) and are zeroized when it drops.
///
/// # Errors
/// A key cannot be derived; no channels.
pub fn operator_relayer(
    seed: &Seed,
    rpc: Arc<dyn Rpc>,
    network: Network,
    channels: u32,
    policy: Policy,
    config: RelayerConfig,
) -> Result<Relayer, OperatorError> {
    let sponsor = derive_keypair(seed, SPONSOR_INDEX)?;
    let channel_signers = (0..channels)
        .map(|k| derive_keypair(seed, CHANNEL_BASE_INDEX + k).map(|kp| signer(&kp)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Relayer::new(
        rpc,
        network,
        signer(&sponsor),
        channel_signers,
        policy,
        config,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;

    #[test]
    fn the_relayer_submits_from_the_seeds_channel_keys() {
        let seed = Mnemonic::generate().to_seed("");
        let rpc: Arc<dyn Rpc> = Arc::new(
            medimint_chain::StellarRpc::new(
                "http://127.0.0.1:9",
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        );
        let network = Network::new("Test SDF Network ; September 2015");
        let relayer = operator_relayer(
            &seed,
            rpc.clone(),
            network.clone(),
            3,
            Policy::new(1, 1),
            RelayerConfig::default(),
        )
        .unwrap();
        let expected: Vec<String> = (0..3)
            .map(|k| {
                derive_keypair(&seed, CHANNEL_BASE_INDEX + k)
                    .unwrap()
                    .address()
            })
            .collect();
        assert_eq!(relayer.channel_addresses(), expected);
        assert_ne!(sponsor_address(&seed).unwrap(), expected[0]);
        let Err(err) = operator_relayer(
            &seed,
            rpc,
            network,
            0,
            Policy::new(1, 1),
            RelayerConfig::default(),
        ) else {
            panic!("no channels must be refused");
        };
        let err = err.to_string();
        assert!(err.contains("at least one channel"), "{err}");
    }
}
