//! Relaying processes (`examples/relay_process.rs`) sharing the sponsor, the channel accounts
//! and one SQLite database, against a devnet that closes ledgers on a timer: a holder killed
//! while it holds a channel, and the benchmark of sponsored transactions per second by
//! channels and processes (docs/performance.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use medimint_chain::accounts::ensure_funded_accounts;
use medimint_chain::relayer::channel_lease_key;
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::{Backoff, Network, Signer};
use medimint_devnet::{Config, Devnet};
use medimint_storage::{AppDb, SqliteDb};

/// The example binary built beside this test (`cargo test` builds a package's examples).
fn relay_process() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join("relay_process");
    assert!(
        bin.exists(),
        "{} missing: run `cargo test -p medimint-storage` (which builds the examples)",
        bin.display()
    );
    bin
}

fn channel_key(i: u32) -> SigningKey {
    SigningKey::from_bytes(&[100 + i as u8; 32])
}

/// The `i`th account of run `run`, as the example derives it.
fn account_key(run: u32, i: u32) -> SigningKey {
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&run.to_le_bytes());
    b[4..8].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_bytes(&b)
}

/// A devnet closing a ledger every `ledger_ms`, with the sponsor and `channels` channel
/// accounts funded from its root account.
fn devnet(ledger_ms: u64, channels: u32) -> (Devnet, Arc<StellarRpc>) {
    let devnet = Devnet::start(Config {
        ledger_ms,
        ..Default::default()
    })
    .unwrap();
    let rpc = Arc::new(StellarRpc::new(&devnet.rpc_url(), Duration::from_secs(10)).unwrap());
    let root = SigningKey::from_bytes(
        &stellar_strkey::ed25519::PrivateKey::from_string(&devnet.root_keypair().secret())
            .unwrap()
            .0,
    );
    block_on(async {
        let network = Network::new(rpc.network_passphrase().await.unwrap());
        let wanted: Vec<String> = std::iter::once(SigningKey::from_bytes(&[200; 32]))
            .chain((0..channels).map(channel_key))
            .map(|k| k.address())
            .collect();
        ensure_funded_accounts(
            rpc.as_ref(),
            &network,
            &root,
            &wanted,
            100_000 * 10_000_000,
            Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(250),
                deadline: Duration::from_secs(60),
            },
        )
        .await
        .unwrap();
    });
    (devnet, rpc)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(devnet: &Devnet, db: &Path, args: &[&str]) -> Child {
    Command::new(relay_process())
        .args(["--db", db.to_str().unwrap(), "--rpc", &devnet.rpc_url()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a relaying process")
}

/// `landed <i> <hash>` lines by request index; panics on a `failed` line.
fn landed(out: &[u8]) -> std::collections::BTreeMap<u32, String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|line| {
            let mut w = line.split(' ');
            match (w.next(), w.next(), w.next()) {
                (Some("landed"), Some(i), Some(h)) => (i.parse().unwrap(), h.to_owned()),
                _ => panic!("a request failed: {line}"),
            }
        })
        .collect()
}

#[test]
fn a_holder_killed_while_holding_a_channel_gives_it_back_after_its_lease_and_nothing_is_lost_or_doubled(
) {
    let (devnet, rpc) = devnet(250, 1);
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("relay.db");
    let channel = channel_key(0).address();
    let seq = |rpc: &StellarRpc, a: &str| block_on(rpc.account_sequence(a)).unwrap();
    let before = seq(&rpc, &channel).unwrap();

    // A process sends its request's transaction on the only channel, then dies holding it.
    let mut holder = Killed(spawn(
        &devnet,
        &db_path,
        &[
            "--run",
            "1",
            "--prefix",
            "killed",
            "--from",
            "0",
            "--count",
            "1",
            "--lease-ttl",
            "3",
            "--stall-after-send",
        ],
    ));
    let mut line = String::new();
    BufReader::new(holder.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sent = line
        .strip_prefix("sent ")
        .unwrap_or_else(|| panic!("expected `sent <hash>`, got {line:?}"))
        .trim()
        .to_owned();
    let pid = holder.0.id();
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let db = block_on(SqliteDb::open(&db_path)).unwrap();
    let lease = block_on(db.kv_get(&channel_lease_key(&channel)))
        .unwrap()
        .expect("the dead holder's lease is still there");
    assert!(lease.value.starts_with(&format!("{pid}-")), "{lease:?}");

    // Another process: the dead one's request again (as SQS would redeliver it) and three
    // new ones, all on that channel once its lease has expired.
    let other = spawn(
        &devnet,
        &db_path,
        &[
            "--run",
            "1",
            "--prefix",
            "killed",
            "--from",
            "0",
            "--count",
            "4",
            "--lease-ttl",
            "3",
        ],
    );
    let out = other.wait_with_output().unwrap();
    assert!(out.status.success());
    let got = landed(&out.stdout);
    assert_eq!(got.len(), 4, "{got:?}");
    // Not lost: the dead holder's transaction is the request's outcome. Not doubled: the
    // channel carried exactly four transactions, and each account exists.
    assert_eq!(
        got[&0], sent,
        "the redelivered request found the dead one's transaction"
    );
    assert_eq!(seq(&rpc, &channel), Some(before + 4));
    for i in 0..4 {
        assert!(
            seq(&rpc, &account_key(1, i).address()).is_some(),
            "account {i}"
        );
    }
    // Released by its last holder.
    assert_eq!(
        block_on(db.kv_get(&channel_lease_key(&channel))).unwrap(),
        None
    );
}

/// Sponsored transactions per second with 1, 4 and 16 channels and 1, 4 and 16 submitting
/// processes at 1 s ledgers. Run:
/// `cargo test -p medimint-storage --test relayer_processes -- --ignored --nocapture bench`
#[test]
#[ignore = "benchmark; run explicitly"]
fn bench_sponsored_tx_per_second_by_channels_and_processes() {
    let (devnet, _rpc) = devnet(1_000, 16);
    let dir = tempfile::tempdir().unwrap();
    let mut run = 100;
    for channels in [1u32, 4, 16] {
        for processes in [1u32, 4, 16] {
            run += 1;
            let db = dir.path().join(format!("bench-{run}.db"));
            drop(block_on(SqliteDb::open(&db)).unwrap());
            // About a dozen ledgers' worth at one transaction per channel per ledger, split
            // evenly; together the processes keep every channel asked for.
            let per = (12 * channels).div_ceil(processes);
            let tasks = channels.div_ceil(processes).to_string();
            let started = Instant::now();
            let children: Vec<Child> = (0..processes)
                .map(|p| {
                    spawn(
                        &devnet,
                        &db,
                        &[
                            "--run",
                            &run.to_string(),
                            "--channels",
                            &channels.to_string(),
                            "--from",
                            &(p * per).to_string(),
                            "--count",
                            &per.to_string(),
                            "--tasks",
                            &tasks,
                        ],
                    )
                })
                .collect();
            let mut ok = 0;
            for c in children {
                let out = c.wait_with_output().unwrap();
                ok += landed(&out.stdout).len();
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "BENCH ledger_ms=1000 channels={channels} processes={processes} landed={ok}/{} seconds={secs:.1} tx_per_s={:.2}",
                per * processes,
                ok as f64 / secs
            );
            assert_eq!(ok as u32, per * processes);
        }
    }
}
