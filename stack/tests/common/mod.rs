//! What the devnet tests of the stack share: funded operator accounts and a relayer whose
//! policy allows the suite (and its deployment), for a fresh admin key.

// Each test binary uses a different part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use medimint_chain::{Backoff, Network, Relayer, RelayerConfig, Rpc, Signer, StellarRpc};
use medimint_sdk::keys::Keypair;
use medimint_stack::{suite_policy, SuitePlan};

/// A relayer over funded accounts on a devnet, and the suite it may deploy.
pub struct Operators {
    pub rpc: Arc<StellarRpc>,
    pub network: Network,
    pub relayer: Arc<Relayer>,
    /// The suite's admin (its account exists, sponsored).
    pub admin: Keypair,
    /// Where the suite goes for `admin`.
    pub plan: SuitePlan,
    /// The relayer's fee payer.
    pub sponsor: Keypair,
    /// The relayer's channel accounts.
    pub channels: Vec<Keypair>,
}

impl Operators {
    /// Another relayer over the same sponsor and channels (as a second process would run).
    pub fn another_relayer(&self) -> Relayer {
        new_relayer(
            self.rpc.clone(),
            &self.network,
            &self.sponsor,
            &self.channels,
            &self.plan,
        )
    }
}

fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(250),
        deadline: Duration::from_secs(60),
    }
}

fn new_relayer(
    rpc: Arc<StellarRpc>,
    network: &Network,
    sponsor: &Keypair,
    channels: &[Keypair],
    plan: &SuitePlan,
) -> Relayer {
    Relayer::new(
        rpc,
        network.clone(),
        signer(sponsor),
        channels.iter().map(signer).collect(),
        suite_policy(plan, true),
        RelayerConfig {
            backoff: backoff(),
            ..RelayerConfig::default()
        },
    )
    .unwrap()
}

fn signer(k: &Keypair) -> Arc<dyn Signer> {
    Arc::new(k.signing_key().clone())
}

/// A multi-threaded runtime with two workers, as the machine has.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Funds a fresh sponsor and `channels` channel accounts from the devnet's root account and
/// starts a relayer over them; creates the admin's account.
pub async fn operators(devnet: &medimint_devnet::Devnet, channels: usize) -> Operators {
    let rpc = Arc::new(StellarRpc::new(&devnet.rpc_url(), Duration::from_secs(15)).unwrap());
    let network = Network::new(rpc.network_passphrase().await.unwrap());
    let root = Keypair::from_secret(&devnet.root_keypair().secret()).unwrap();
    let sponsor = Keypair::generate();
    let admin = Keypair::generate();
    let channel_keys: Vec<Keypair> = (0..channels).map(|_| Keypair::generate()).collect();
    let mut funded = vec![sponsor.address()];
    funded.extend(channel_keys.iter().map(Keypair::address));
    medimint_chain::accounts::ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        root.signing_key(),
        &funded,
        10_000 * 10_000_000,
        backoff(),
    )
    .await
    .unwrap();
    let plan = SuitePlan::new(&network, &admin.address()).unwrap();
    let relayer = Arc::new(new_relayer(
        rpc.clone(),
        &network,
        &sponsor,
        &channel_keys,
        &plan,
    ));
    relayer
        .create_sponsored_account("admin", admin.signing_key())
        .await
        .unwrap();
    Operators {
        rpc,
        network,
        relayer,
        admin,
        plan,
        sponsor,
        channels: channel_keys,
    }
}
