//! The relayer against the local devnet (a real Soroban host behind the Stellar RPC API):
//! deploy the counter fixture, create a sponsored user account, call it with the user's
//! auth, decode results and events, and inject faults at the `Rpc` boundary.

mod support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use medimint_chain::accounts::ensure_funded_accounts;
use medimint_chain::relayer::{
    MemoryLeaseStore, MemoryRequestStore, Policy, Refusal, Relayer, RelayerConfig,
};
use medimint_chain::rpc::{Rpc, StellarRpc};
use medimint_chain::scval::{arg, decode, Address};
use medimint_chain::tx;
use medimint_chain::{Backoff, Error, Network, Signer};
use support::{block_on, secret_key, Fault, Faulty};

fn counter_wasm() -> Vec<u8> {
    let dir = std::env::var("MEDIMINT_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/contracts")
        });
    let path = dir.join("medimint-devnet-counter.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with scripts/build-contracts medimint-devnet-counter",
            path.display()
        )
    })
}

fn fast() -> RelayerConfig {
    RelayerConfig {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        },
        tx_validity: Duration::from_secs(30),
        ..RelayerConfig::default()
    }
}

struct Env {
    rpc: Arc<StellarRpc>,
    network: Network,
    sponsor: Arc<SigningKey>,
    channels: Vec<Arc<SigningKey>>,
    counter: String,
}

/// Funds the sponsor and `n` channels from the root account, then deploys the counter
/// through a relayer whose policy allows deploys.
async fn env(devnet: &medimint_devnet::Devnet, n: u8) -> Env {
    let rpc = Arc::new(StellarRpc::new(&devnet.rpc_url(), Duration::from_secs(10)).unwrap());
    let network = Network::new(rpc.network_passphrase().await.unwrap());
    let root = secret_key(&devnet.root_keypair().secret());
    let sponsor = Arc::new(SigningKey::from_bytes(&[200; 32]));
    let channels: Vec<_> = (1..=n)
        .map(|i| Arc::new(SigningKey::from_bytes(&[100 + i; 32])))
        .collect();
    let wanted: Vec<String> = std::iter::once(&sponsor)
        .chain(channels.iter())
        .map(|k| k.address())
        .collect();
    let balance = 1_000 * 10_000_000;
    let created = ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        &root,
        &wanted,
        balance,
        fast().backoff,
    )
    .await
    .unwrap();
    assert_eq!(created, wanted);
    // A second run finds them all and creates nothing.
    let again = ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        &root,
        &wanted,
        balance,
        fast().backoff,
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    let admin = Arc::new(SigningKey::from_bytes(&[7; 32]));
    let salt = tx::salt(b"medimint/test/counter");
    let counter = tx::contract_address(&network, &admin.address(), salt).unwrap();
    let deployer = Relayer::new(
        rpc.clone(),
        network.clone(),
        sponsor.clone(),
        channels
            .iter()
            .map(|c| c.clone() as Arc<dyn Signer>)
            .collect(),
        Policy::new(1_000_000_000, 5_000_000_000).with_deploy(),
        fast(),
    )
    .unwrap();
    deployer
        .create_sponsored_account("admin-account", admin.as_ref())
        .await
        .unwrap();
    let wasm = counter_wasm();
    deployer
        .submit(
            "upload",
            &admin.address(),
            tx::upload_wasm(&wasm).unwrap(),
            &[],
        )
        .await
        .unwrap();
    let created = deployer
        .submit(
            "create",
            &admin.address(),
            tx::create_contract(&admin.address(), tx::wasm_hash(&wasm), salt, vec![]).unwrap(),
            &[admin.as_ref()],
        )
        .await
        .unwrap();
    assert_eq!(
        decode::<Address>(created.return_value.as_ref().unwrap()).unwrap(),
        Address(counter.clone())
    );
    Env {
        rpc,
        network,
        sponsor,
        channels,
        counter,
    }
}

fn relayer(e: &Env, rpc: Arc<dyn Rpc>, policy: Policy) -> Relayer {
    Relayer::new(
        rpc,
        e.network.clone(),
        e.sponsor.clone(),
        e.channels
            .iter()
            .map(|c| c.clone() as Arc<dyn Signer>)
            .collect(),
        policy,
        fast(),
    )
    .unwrap()
}

fn policy(e: &Env) -> Policy {
    Policy::new(10_000_000, 100_000_000).allow(&e.counter, &["increment", "get"])
}

fn start() -> medimint_devnet::Devnet {
    medimint_devnet::Devnet::start(medimint_devnet::Config {
        port: 0,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn sponsored_user_calls_the_counter_with_their_own_auth() {
    let devnet = start();
    block_on(async {
        let e = env(&devnet, 2).await;
        let r = relayer(&e, e.rpc.clone(), policy(&e));
        let alice = SigningKey::from_bytes(&[1; 32]);
        r.create_sponsored_account("alice-account", &alice)
            .await
            .unwrap();
        assert!(e
            .rpc
            .account_sequence(&alice.address())
            .await
            .unwrap()
            .is_some());
        let sponsor_seq = e.rpc.account_sequence(&e.sponsor.address()).await.unwrap();
        for expected in 1..=2u32 {
            let landed = r
                .invoke(
                    &format!("alice-inc-{expected}"),
                    &alice.address(),
                    &e.counter,
                    "increment",
                    vec![arg::address(&alice.address()).unwrap()],
                    &[&alice],
                )
                .await
                .unwrap();
            assert_eq!(
                decode::<u32>(landed.return_value.as_ref().unwrap()).unwrap(),
                expected
            );
            assert!(landed.fee_charged > 0);
            let ev = landed
                .events
                .iter()
                .find(|ev| ev.name().as_deref() == Some("incremented"))
                .unwrap();
            assert_eq!(ev.contract.as_deref(), Some(e.counter.as_str()));
            assert_eq!(ev.topic::<Address>(1).unwrap(), Address(alice.address()));
        }
        // The sponsor paid but never used its own sequence (it only signs fee-bumps).
        assert_eq!(
            e.rpc.account_sequence(&e.sponsor.address()).await.unwrap(),
            sponsor_seq
        );
        let v = r
            .read(
                &e.counter,
                "get",
                vec![arg::address(&alice.address()).unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(decode::<u32>(&v).unwrap(), 2);
        assert!(r.spent_today(&alice.address()).await.unwrap() > 0);
        // Someone else cannot act for alice.
        let mallory = SigningKey::from_bytes(&[2; 32]);
        let err = r
            .invoke(
                "m",
                &mallory.address(),
                &e.counter,
                "increment",
                vec![arg::address(&alice.address()).unwrap()],
                &[&mallory],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::MissingSigner(a) if *a == alice.address()),
            "{err}"
        );
        let err = r
            .invoke(
                "x",
                &alice.address(),
                &e.counter,
                "upgrade",
                vec![],
                &[&alice],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Refused(Refusal::FunctionNotAllowed { .. })),
            "{err}"
        );
    });
}

/// Runs `n` increments through a relayer over `rpc` and returns the counter afterwards.
async fn increments(
    e: &Env,
    r: &Relayer,
    user: &SigningKey,
    keys: &[&str],
) -> Vec<Result<u32, Error>> {
    let mut out = vec![];
    for k in keys {
        out.push(
            r.invoke(
                k,
                &user.address(),
                &e.counter,
                "increment",
                vec![arg::address(&user.address()).unwrap()],
                &[user],
            )
            .await
            .and_then(|l| decode::<u32>(l.return_value.as_ref().unwrap())),
        );
    }
    out
}

async fn counter_of(e: &Env, r: &Relayer, user: &SigningKey) -> u32 {
    decode::<u32>(
        &r.read(
            &e.counter,
            "get",
            vec![arg::address(&user.address()).unwrap()],
        )
        .await
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn faults_at_the_rpc_end_with_exactly_one_landed_transaction_or_a_clear_error() {
    let devnet = start();
    block_on(async {
        let e = env(&devnet, 2).await;
        let user = SigningKey::from_bytes(&[3; 32]);
        let plain = relayer(&e, e.rpc.clone(), policy(&e));
        plain.create_sponsored_account("user", &user).await.unwrap();

        // Timeout after the send, once landed and once not: each lands exactly once.
        let faulty = Faulty::new(
            e.rpc.clone(),
            &[Fault::LostAnswer, Fault::LostRequest, Fault::TryAgainLater],
        );
        let r = relayer(&e, faulty.clone(), policy(&e));
        let got = increments(&e, &r, &user, &["lost-answer", "lost-request", "busy"]).await;
        assert_eq!(
            got.iter().map(|g| *g.as_ref().unwrap()).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(counter_of(&e, &r, &user).await, 3);
        // Retrying the same keys lands nothing more.
        let again = increments(&e, &r, &user, &["lost-answer", "lost-request", "busy"]).await;
        assert!(again.iter().all(|g| g.is_ok()));
        assert_eq!(counter_of(&e, &r, &user).await, 3);

        // Another relayer instance (without a shared lease store) moves the channels on.
        // (For another user: the devnet seeds recording simulation from the transaction
        // hash, so an identical transaction would get an already used auth nonce.)
        let other = SigningKey::from_bytes(&[5; 32]);
        plain
            .create_sponsored_account("other", &other)
            .await
            .unwrap();
        plain
            .invoke(
                "other-1",
                &other.address(),
                &e.counter,
                "increment",
                vec![arg::address(&other.address()).unwrap()],
                &[&other],
            )
            .await
            .unwrap();
        plain
            .invoke(
                "other-2",
                &other.address(),
                &e.counter,
                "increment",
                vec![arg::address(&other.address()).unwrap()],
                &[&other],
            )
            .await
            .unwrap();
        let sends = faulty.sends.load(Ordering::SeqCst);
        let got = increments(&e, &r, &user, &["after-bad-seq"]).await;
        assert_eq!(*got[0].as_ref().unwrap(), 4);
        // The sequence is read from the network under each channel lease, so the channels
        // the other instance moved on cost nothing: one send, accepted.
        assert_eq!(faulty.sends.load(Ordering::SeqCst) - sends, 1);

        // RPC down: a clear error, and nothing landed.
        faulty.down.store(true, Ordering::SeqCst);
        let got = increments(&e, &r, &user, &["down"]).await;
        assert!(
            matches!(got[0], Err(Error::RpcUnavailable(_))),
            "{:?}",
            got[0]
        );
        faulty.down.store(false, Ordering::SeqCst);
        assert_eq!(counter_of(&e, &r, &user).await, 4);
        // And a retry once it is back lands once.
        let got = increments(&e, &r, &user, &["down"]).await;
        assert_eq!(*got[0].as_ref().unwrap(), 5);
        assert_eq!(counter_of(&e, &r, &other).await, 2);
    });
}

#[test]
fn an_expired_auth_entry_is_a_clear_error() {
    let devnet = start();
    block_on(async {
        let e = env(&devnet, 1).await;
        let user = SigningKey::from_bytes(&[4; 32]);
        let mut config = fast();
        // Valid for no ledger after the simulated one; the devnet closes a ledger per
        // submission, so the entry has expired when the transaction applies.
        config.auth_validity_ledgers = 0;
        let plain = relayer(&e, e.rpc.clone(), policy(&e));
        plain.create_sponsored_account("user", &user).await.unwrap();
        let r = Relayer::new(
            e.rpc.clone(),
            e.network.clone(),
            e.sponsor.clone(),
            e.channels
                .iter()
                .map(|c| c.clone() as Arc<dyn Signer>)
                .collect(),
            policy(&e),
            config,
        )
        .unwrap();
        let got = increments(&e, &r, &user, &["expired"]).await;
        let err = got[0].as_ref().unwrap_err();
        // Caught by the re-simulation with the signed entry, before anything is paid.
        assert!(
            matches!(err, Error::Simulation(m) if m.contains("valid until ledger") && m.contains(&user.address())),
            "{err}"
        );
        assert_eq!(r.spent_today(&user.address()).await.unwrap(), 0);
        assert_eq!(counter_of(&e, &plain, &user).await, 0);
    });
}

/// Sponsored transactions per second through the relayer with 1, 4 and 16 channels.
/// Run: `cargo test -p medimint-chain --test devnet -- --ignored --nocapture bench`
#[test]
#[ignore = "benchmark; run explicitly"]
fn bench_sponsored_tx_per_second() {
    for ledger_ms in [0u64, 1_000] {
        for n in [1u8, 4, 16] {
            let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
                port: 0,
                ledger_ms,
                ..Default::default()
            })
            .unwrap();
            block_on(async {
                let e = env(&devnet, n).await;
                let r = Arc::new(relayer(&e, e.rpc.clone(), policy(&e)));
                let users: Vec<Arc<SigningKey>> = (0..16u8)
                    .map(|i| Arc::new(SigningKey::from_bytes(&[30 + i; 32])))
                    .collect();
                for u in &users {
                    r.create_sponsored_account(&u.address(), u.as_ref())
                        .await
                        .unwrap();
                }
                let total = 48usize;
                let started = std::time::Instant::now();
                let mut tasks = vec![];
                for i in 0..total {
                    let r = r.clone();
                    let u = users[i % users.len()].clone();
                    let counter = e.counter.clone();
                    tasks.push(tokio::spawn(async move {
                        r.invoke(
                            &format!("bench-{i}"),
                            &u.address(),
                            &counter,
                            "increment",
                            vec![arg::address(&u.address()).unwrap()],
                            &[u.as_ref()],
                        )
                        .await
                        .map(|_| ())
                    }));
                }
                let mut ok = 0;
                for t in tasks {
                    if t.await.unwrap().is_ok() {
                        ok += 1;
                    }
                }
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "BENCH ledger_ms={ledger_ms} channels={n} landed={ok}/{total} seconds={secs:.2} tx_per_s={:.2}",
                    ok as f64 / secs
                );
                assert_eq!(ok, total);
            });
        }
    }
}

/// A burst of 200 requests over 4 channels on a devnet that closes a ledger every 250 ms and
/// answers TRY_AGAIN_LATER to a second transaction from a channel with one queued. Four
/// relayers stand for four processes: sharing a lease store, they never submit on a channel
/// another is using; each with its own (as processes did before leases), they collide, and
/// the retries after TRY_AGAIN_LATER and txBAD_SEQ (on a freshly read sequence number) sort
/// it out. Either way, every request is applied exactly once.
#[test]
fn a_burst_of_200_requests_over_4_channels_is_applied_exactly_once() {
    for shared_leases in [true, false] {
        let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
            port: 0,
            ledger_ms: 250,
            ..Default::default()
        })
        .unwrap();
        block_on(async {
            let e = env(&devnet, 4).await;
            let users: Vec<Arc<SigningKey>> = (0..20u8)
                .map(|i| Arc::new(SigningKey::from_bytes(&[60 + i; 32])))
                .collect();
            let setup = relayer(&e, e.rpc.clone(), policy(&e));
            for u in &users {
                setup
                    .create_sponsored_account(&format!("account-{}", u.address()), u.as_ref())
                    .await
                    .unwrap();
                // The first increment creates the user's entry.
                increments(&e, &setup, u, &[&format!("first-{}", u.address())]).await[0]
                    .as_ref()
                    .unwrap();
            }
            let faulty = Faulty::new(e.rpc.clone(), &[]);
            let leases = Arc::new(MemoryLeaseStore::default());
            let requests = Arc::new(MemoryRequestStore::default());
            let config = RelayerConfig {
                rebuilds: 100,
                busy_rebuilds: 100,
                ..fast()
            };
            let relayers: Vec<Arc<Relayer>> = (0..4)
                .map(|_| {
                    let r = Relayer::new(
                        faulty.clone(),
                        e.network.clone(),
                        e.sponsor.clone(),
                        e.channels
                            .iter()
                            .map(|c| c.clone() as Arc<dyn Signer>)
                            .collect(),
                        policy(&e),
                        config.clone(),
                    )
                    .unwrap()
                    .with_request_store(requests.clone());
                    Arc::new(if shared_leases {
                        r.with_lease_store(leases.clone())
                    } else {
                        r
                    })
                })
                .collect();
            let mut tasks = vec![];
            for i in 0..200usize {
                let r = relayers[i % 4].clone();
                let u = users[i % users.len()].clone();
                let counter = e.counter.clone();
                tasks.push(tokio::spawn(async move {
                    r.invoke(
                        &format!("burst-{i}"),
                        &u.address(),
                        &counter,
                        "increment",
                        vec![arg::address(&u.address()).unwrap()],
                        &[u.as_ref()],
                    )
                    .await
                    .map(|l| l.hash)
                }));
            }
            let mut hashes = vec![];
            for (i, t) in tasks.into_iter().enumerate() {
                let got = t.await.unwrap();
                hashes.push(got.unwrap_or_else(|err| panic!("request {i}: {err}")));
            }
            hashes.sort();
            hashes.dedup();
            assert_eq!(hashes.len(), 200);
            // Each user: the first increment and ten of the burst, none twice.
            for u in &users {
                assert_eq!(counter_of(&e, &setup, u).await, 11, "{}", u.address());
            }
            let (sends, busy) = (
                faulty.sends.load(Ordering::SeqCst),
                faulty.busy.load(Ordering::SeqCst),
            );
            eprintln!("shared_leases={shared_leases} sends={sends} try_again_later={busy}");
            if shared_leases {
                assert_eq!(busy, 0, "a leased channel never has another's transaction");
            } else {
                assert!(
                    sends > 200,
                    "uncoordinated relayers collided ({sends} sends)"
                );
            }
        });
    }
}
