//! One relaying process, for the multi-process tests and the benchmark of
//! `tests/relayer_processes.rs`: a relayer over fixed test keys (sponsor `[200; 32]`, channel
//! `i` `[100 + i; 32]`) sharing its request records, spend and channel leases with every other
//! such process through the SQLite database at `--db`. It creates `--count` sponsored
//! accounts (request keys `<prefix>-<i>`), `--tasks` at a time, and prints one line per
//! request: `landed <i> <hash>` or `failed <i> <error>`.
//!
//! `--stall-after-send` stands for a process that dies while holding a channel: after its
//! first transaction was accepted it prints `sent <hash>` and hangs (the test kills it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ed25519_dalek::SigningKey;
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::{Backoff, Network, Policy, Relayer, RelayerConfig, Result, Signer};
use medimint_storage::{RelayerDb, SqliteDb};
use stellar_rpc_client::{
    GetTransactionResponse, SendTransactionResponse, SimulateTransactionResponse,
};
use stellar_xdr::TransactionEnvelope;

/// The key of the `i`th account a run creates (`run` keeps runs apart).
pub fn account_key(run: u32, i: u32) -> SigningKey {
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&run.to_le_bytes());
    b[4..8].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_bytes(&b)
}

/// Hangs after the first accepted send, as a process frozen or killed right then.
struct Stalling {
    inner: StellarRpc,
    stall: bool,
    sent: AtomicBool,
}

#[async_trait]
impl Rpc for Stalling {
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
        if self.stall && r.status == "PENDING" && !self.sent.swap(true, Ordering::SeqCst) {
            println!("sent {}", r.hash);
            loop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
        Ok(r)
    }
    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse> {
        self.inner.transaction(hash).await
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(args: &[String], name: &str, default: u32) -> u32 {
    arg(args, name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let db = arg(&args, "--db").expect("--db <sqlite file>");
    let rpc_url = arg(&args, "--rpc").expect("--rpc <url>");
    let channels = num(&args, "--channels", 1);
    let run = num(&args, "--run", 0);
    let from = num(&args, "--from", 0);
    let count = num(&args, "--count", 1);
    let tasks = num(&args, "--tasks", 1).max(1);
    let lease_ttl = num(&args, "--lease-ttl", 30);
    let prefix = arg(&args, "--prefix").unwrap_or_else(|| "acct".into());
    let stall = args.iter().any(|a| a == "--stall-after-send");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let db = Arc::new(SqliteDb::open(&db).await.expect("the shared database"));
        let store = Arc::new(RelayerDb::new(db));
        let inner = StellarRpc::new(&rpc_url, Duration::from_secs(10)).expect("rpc");
        let passphrase = inner.network_passphrase().await.expect("network");
        let rpc = Arc::new(Stalling {
            inner,
            stall,
            sent: AtomicBool::new(false),
        });
        let relayer = Relayer::new(
            rpc,
            Network::new(passphrase),
            Arc::new(SigningKey::from_bytes(&[200; 32])),
            (0..channels)
                .map(|i| Arc::new(SigningKey::from_bytes(&[100 + i as u8; 32])) as Arc<dyn Signer>)
                .collect(),
            Policy::new(10_000_000, 1_000_000_000_000),
            RelayerConfig {
                backoff: Backoff {
                    initial: Duration::from_millis(20),
                    max: Duration::from_millis(250),
                    deadline: Duration::from_secs(60),
                },
                lease_ttl: Duration::from_secs(u64::from(lease_ttl)),
                ..RelayerConfig::default()
            },
        )
        .expect("a relayer")
        .with_request_store(store.clone())
        .with_lease_store(store.clone())
        .with_spend_store(store);
        let relayer = Arc::new(relayer);
        let next = Arc::new(std::sync::atomic::AtomicU32::new(from));
        let workers: Vec<_> = (0..tasks)
            .map(|_| {
                let (relayer, next, prefix) = (relayer.clone(), next.clone(), prefix.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= from + count {
                            return;
                        }
                        let key = account_key(run, i);
                        match relayer
                            .create_sponsored_account(&format!("{prefix}-{i}"), &key)
                            .await
                        {
                            Ok(l) => println!("landed {i} {}", hex(&l.hash)),
                            Err(e) => println!("failed {i} {e}"),
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
    });
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
