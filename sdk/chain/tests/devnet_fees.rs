//! The relayer's fee raise and the operational-account funding against a devnet with surge
//! pricing: a full transaction queue refuses a low bid with txINSUFFICIENT_FEE, and the
//! relayer raises its bid (within its fee cap) until the transaction is accepted and lands.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ed25519_dalek::SigningKey;
use medimint_chain::accounts::ensure_funded_accounts;
use medimint_chain::relayer::{Policy, Refusal, Relayer, RelayerConfig};
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::tx::{self, TxHeader};
use medimint_chain::{Backoff, Error, Network, Result, Signer};
use medimint_devnet::{Config, Devnet, NetworkSettings};
use stellar_rpc_client::{
    GetTransactionResponse, SendTransactionResponse, SimulateTransactionResponse,
};
use stellar_xdr::TransactionEnvelope;
use support::{block_on, secret_key};

/// The devnet's RPC, closing a ledger after each accepted submission (the test decides
/// when ledgers close; the queue fills between them).
struct Closing {
    inner: StellarRpc,
    devnet: Arc<Devnet>,
}

#[async_trait]
impl Rpc for Closing {
    async fn network_passphrase(&self) -> Result<String> {
        self.inner.network_passphrase().await
    }
    async fn latest_ledger(&self) -> Result<u32> {
        self.inner.latest_ledger().await
    }
    async fn account_sequence(&self, address: &str) -> Result<Option<i64>> {
        self.inner.account_sequence(address).await
    }
    async fn simulate(&self, tx: &TransactionEnvelope) -> Result<SimulateTransactionResponse> {
        self.inner.simulate(tx).await
    }
    async fn send(&self, tx: &TransactionEnvelope) -> Result<SendTransactionResponse> {
        let r = self.inner.send(tx).await?;
        if r.status == "PENDING" {
            self.devnet.close_ledger();
        }
        Ok(r)
    }
    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse> {
        self.inner.transaction(hash).await
    }
    async fn classic_inclusion_fee(&self) -> Result<Option<u32>> {
        self.inner.classic_inclusion_fee().await
    }
}

fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        deadline: Duration::from_secs(10),
    }
}

/// A devnet that closes ledgers only when asked (an hour per ledger otherwise).
fn start(settings: NetworkSettings) -> Arc<Devnet> {
    Arc::new(
        Devnet::start(Config {
            port: 0,
            ledger_ms: 3_600_000,
            settings,
            ..Default::default()
        })
        .unwrap(),
    )
}

struct Env {
    rpc: Arc<Closing>,
    network: Network,
    sponsor: Arc<SigningKey>,
    channel: Arc<SigningKey>,
    fillers: Vec<SigningKey>,
}

/// Funds a sponsor, a channel and `fillers` filler accounts through `ensure_funded_accounts`.
async fn env(devnet: &Arc<Devnet>, fillers: u8) -> Env {
    let rpc = Arc::new(Closing {
        inner: StellarRpc::new(&devnet.rpc_url(), Duration::from_secs(10)).unwrap(),
        devnet: devnet.clone(),
    });
    let network = Network::new(rpc.network_passphrase().await.unwrap());
    let root = secret_key(&devnet.root_keypair().secret());
    let sponsor = Arc::new(SigningKey::from_bytes(&[200; 32]));
    let channel = Arc::new(SigningKey::from_bytes(&[201; 32]));
    let fillers: Vec<SigningKey> = (1..=fillers)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let wanted: Vec<String> = [sponsor.address(), channel.address()]
        .into_iter()
        .chain(fillers.iter().map(|k| k.address()))
        .collect();
    let created = ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        &root,
        &wanted,
        1_000 * 10_000_000,
        backoff(),
    )
    .await
    .unwrap();
    assert_eq!(created, wanted);
    Env {
        rpc,
        network,
        sponsor,
        channel,
        fillers,
    }
}

/// Fills the queue: each filler sends a one-operation transaction bidding `fee`, straight
/// to the devnet (no ledger closes).
async fn fill(e: &Env, fee: u32) {
    for (i, k) in e.fillers.iter().enumerate() {
        let seq = e.rpc.account_sequence(&k.address()).await.unwrap().unwrap();
        let header = TxHeader {
            source: k.public_key(),
            seq: seq + 1,
            max_time: None,
        };
        let dest = SigningKey::from_bytes(&[150 + i as u8; 32]).address();
        let mut t = tx::create_account_tx(&header, &dest, 10_000_000).unwrap();
        t.fee = fee;
        let env = tx::sign_tx(&e.network, t, &[k as &dyn Signer]).unwrap();
        let r = e.rpc.inner.send(&env).await.unwrap();
        assert_eq!(r.status, "PENDING", "{r:?}");
    }
}

fn relayer(e: &Env, cap: i64) -> Relayer {
    Relayer::new(
        e.rpc.clone(),
        e.network.clone(),
        e.sponsor.clone(),
        vec![e.channel.clone() as Arc<dyn Signer>],
        Policy::new(cap, 10_000_000_000),
        RelayerConfig {
            backoff: backoff(),
            tx_validity: Duration::from_secs(30),
            rebuilds: 10,
            ..RelayerConfig::default()
        },
    )
    .unwrap()
}

/// Three classic operations per ledger: the queue holds six (two ledgers' worth).
fn small_ledgers() -> NetworkSettings {
    NetworkSettings {
        ledger_max_classic_ops: 3,
        ..Default::default()
    }
}

#[test]
fn the_relayer_outbids_a_full_queue_and_pays_the_surge_price() {
    let devnet = start(small_ledgers());
    block_on(async {
        let e = env(&devnet, 6).await;
        // Six one-operation transactions bidding 1 000 each fill the queue.
        fill(&e, 1_000).await;
        let r = relayer(&e, 1_000_000);
        let user = SigningKey::from_bytes(&[42; 32]);
        // A sponsored account creation: three operations, fee-bumped (four "operations").
        // Bids of 100, 200, 400 and 800 per operation do not beat the queued 1 000s and are
        // refused with txINSUFFICIENT_FEE; 1 600 evicts three fillers and is applied first,
        // filling the ledger, at the surge price: its own bid, the lowest included.
        let landed = r.create_sponsored_account("user", &user).await.unwrap();
        assert_eq!(landed.fee_charged, 1_600 * 4);
        assert!(e
            .rpc
            .account_sequence(&user.address())
            .await
            .unwrap()
            .is_some());
        drop(r);
        drop(e);
    });
}

#[test]
fn a_fee_cap_below_the_needed_fee_is_the_relayers_refusal() {
    let devnet = start(small_ledgers());
    block_on(async {
        let e = env(&devnet, 6).await;
        fill(&e, 1_000).await;
        // The cap allows 800 per operation (refused), not the 1 600 it would need.
        let r = relayer(&e, 800 * 4);
        let user = SigningKey::from_bytes(&[43; 32]);
        match r.create_sponsored_account("user", &user).await {
            Err(Error::Refused(Refusal::FeeCap { fee, cap })) => {
                assert_eq!((fee, cap), (1_600 * 4, 800 * 4));
            }
            other => panic!("{other:?}"),
        }
        drop(r);
        drop(e);
    });
}

#[test]
fn accounts_are_funded_at_the_networks_raised_base_fee() {
    // A network whose base fee is 1 000 stroops: the old fixed bid of 100 was refused.
    let devnet = start(NetworkSettings {
        base_fee: 1_000,
        ..Default::default()
    });
    block_on(async {
        let e = env(&devnet, 1).await;
        assert!(e
            .rpc
            .account_sequence(&e.fillers[0].address())
            .await
            .unwrap()
            .is_some());
        drop(e);
    });
}

/// The shipped contracts (`contracts/wasm/`) can be uploaded on the public network's fee
/// settings (the devnet's defaults): an upload pays the rent of its code for the minimum
/// persistent TTL on the code's in-memory size, and a transaction's fee is a `u32`, so a
/// contract whose code grows far enough can no longer be uploaded at all (docs/costs.md,
/// "The study token's upload fee is at its ceiling"). Prints each upload's share of it.
#[test]
fn every_contract_uploads_within_a_transactions_fee_ceiling_on_the_public_networks_settings() {
    let devnet = start(NetworkSettings::default());
    block_on(async {
        let e = env(&devnet, 0).await;
        let source = e.sponsor.address();
        let seq = e.rpc.account_sequence(&source).await.unwrap().unwrap() + 1;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/wasm");
        for package in [
            "medimint-study-token",
            "medimint-issuer-registry",
            "medimint-registry",
        ] {
            let code = std::fs::read(dir.join(format!("{package}.wasm"))).unwrap();
            let header = TxHeader {
                source: e.sponsor.public_key(),
                seq,
                max_time: None,
            };
            let upload = tx::invocation_tx(&header, tx::upload_wasm(&code).unwrap()).unwrap();
            let envelope = tx::sign_tx(&e.network, upload, &[e.sponsor.as_ref()]).unwrap();
            let simulated = tx::Simulated::from_response(&e.rpc.simulate(&envelope).await.unwrap())
                .unwrap_or_else(|err| panic!("simulating the upload of {package}: {err}"));
            let fee = simulated.min_resource_fee + 100;
            println!(
                "{package}: {} bytes, upload fee {fee} stroops = {:.1}% of a transaction's \
                 u32 fee ceiling",
                code.len(),
                fee as f64 * 100.0 / f64::from(u32::MAX)
            );
            assert!(
                fee <= i64::from(u32::MAX),
                "{package} ({} bytes) cannot be uploaded: its fee {fee} exceeds a transaction's \
                 u32 fee; shrink its code (docs/costs.md)",
                code.len()
            );
        }
        drop(e);
    });
}
