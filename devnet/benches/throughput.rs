//! Transactions per second for a simple contract invocation (the counter fixture's
//! `increment`) submitted through the RPC API from several funded accounts at once.
//!
//!   CARGO_TARGET_DIR=/work/targets/devnet cargo bench -p medimint-devnet --bench throughput
//!   (env BENCH_ACCOUNTS, BENCH_TXS_PER_ACCOUNT for the close-on-submission run;
//!   BENCH_INTERVAL_ACCOUNTS, BENCH_INTERVAL_TXS_PER_ACCOUNT, BENCH_LEDGER_MS for the timed one)
//!
//! Each account submits its next invocation when the previous one is in a ledger, as a
//! relayer's channel account does. Transactions are simulated once per account up front,
//! so the figure is sendTransaction + apply + getTransaction, not simulation.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use medimint_devnet::{Config, Keypair};
use soroban_env_host::xdr::TransactionEnvelope;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // Close-on-submission: every invocation is its own ledger.
    run(
        env_or("BENCH_ACCOUNTS", 8) as usize,
        env_or("BENCH_TXS_PER_ACCOUNT", 100) as i64,
        0,
    );
    // Timed ledgers: many channel accounts, each waiting for its ledger.
    run(
        env_or("BENCH_INTERVAL_ACCOUNTS", 64) as usize,
        env_or("BENCH_INTERVAL_TXS_PER_ACCOUNT", 10) as i64,
        env_or("BENCH_LEDGER_MS", 100),
    );
}

fn run(accounts: usize, per_account: i64, ledger_ms: u64) {
    let n = start_with(Config {
        ledger_ms,
        ..Default::default()
    });
    let owner = Keypair::from_seed([200; 32]);
    n.fund(&owner, 10_000);
    let contract = n.deploy_counter(&owner);
    let keys: Vec<Keypair> = (0..accounts)
        .map(|i| Keypair::from_seed([i as u8 + 1; 32]))
        .collect();
    for k in &keys {
        n.fund(k, 10_000);
    }
    // Pre-build every transaction: one simulation per account gives the footprint and fee
    // (the first call creates the entry, so its resources cover the later updates too).
    let mut plans: Vec<Vec<TransactionEnvelope>> = Vec::new();
    for k in &keys {
        let assembled = n
            .assemble(k, Net::increment_fn(&contract, k))
            .expect("simulation succeeds");
        let TransactionEnvelope::Tx(v1) = assembled else {
            unreachable!()
        };
        let first_seq = v1.tx.seq_num.0;
        let txs = (0..per_account)
            .map(|i| {
                let mut t = v1.tx.clone();
                t.seq_num.0 = first_seq + i;
                sign(n.network_id, t, &[k])
            })
            .collect();
        plans.push(txs);
    }
    let url = n.net.rpc_url();
    let total = accounts as i64 * per_account;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, ok) = rt.block_on(drive(&url, plans));
    let tps = ok as f64 / elapsed.as_secs_f64();
    println!(
        "accounts={accounts} txs={total} ok={ok} ledger_ms={ledger_ms} elapsed={:.2}s => {tps:.0} invocations/s (last ledger {})",
        elapsed.as_secs_f64(),
        n.net.latest_ledger()
    );
}

async fn submit_all(url: String, txs: Vec<TransactionEnvelope>) -> usize {
    let client = stellar_rpc_client::Client::new(&url).unwrap();
    let mut ok = 0;
    for env in txs {
        let hash = client.send_transaction(&env).await.expect("accepted");
        loop {
            let r = client.get_transaction(&hash).await.expect("getTransaction");
            match r.status.as_str() {
                "SUCCESS" => {
                    ok += 1;
                    break;
                }
                "FAILED" => panic!("invocation failed: {:?}", r.result),
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    ok
}

async fn drive(url: &str, plans: Vec<Vec<TransactionEnvelope>>) -> (Duration, usize) {
    let start = Instant::now();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|txs| tokio::spawn(submit_all(url.to_string(), txs)))
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    (start.elapsed(), ok)
}
