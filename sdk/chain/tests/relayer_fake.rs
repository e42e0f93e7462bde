//! The relayer against an in-memory ledger, with faults injected at the `Rpc` boundary.
//! Each test ends with exactly one landed transaction or a clear error.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use medimint_chain::relayer::{
    channel_lease_key, LeaseExpect, LeaseStore, MemoryLeaseStore, MemoryRequestStore,
    MemorySpendStore, Policy, Refusal, Relayer, RelayerConfig, SpendStore,
};
use medimint_chain::rpc::Rpc;
use medimint_chain::scval::decode;
use medimint_chain::{Backoff, Error, Signer};
use support::{fake_contract, FakeLedger, Fault, Faulty};

fn key(n: u8) -> Arc<SigningKey> {
    Arc::new(SigningKey::from_bytes(&[n; 32]))
}

fn fast_config() -> RelayerConfig {
    RelayerConfig {
        backoff: Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
            deadline: Duration::from_millis(200),
        },
        tx_validity: Duration::from_secs(30),
        ..RelayerConfig::default()
    }
}

struct Setup {
    ledger: Arc<FakeLedger>,
    faulty: Arc<Faulty>,
    relayer: Relayer,
    channels: Vec<Arc<SigningKey>>,
}

fn setup(channels: u8, faults: &[Fault], policy: Policy, config: RelayerConfig) -> Setup {
    let ledger = FakeLedger::new();
    let sponsor = key(200);
    ledger.fund(sponsor.public_key(), 1 << 32);
    let chans: Vec<Arc<SigningKey>> = (1..=channels).map(|i| key(100 + i)).collect();
    for c in &chans {
        ledger.fund(c.public_key(), 5 << 32);
    }
    let faulty = Faulty::new(ledger.clone() as Arc<dyn Rpc>, faults);
    let relayer = Relayer::new(
        faulty.clone(),
        ledger.network.clone(),
        sponsor,
        chans.iter().map(|c| c.clone() as Arc<dyn Signer>).collect(),
        policy,
        config,
    )
    .unwrap();
    Setup {
        ledger,
        faulty,
        relayer,
        channels: chans,
    }
}

fn policy() -> Policy {
    Policy::new(100_000, 1_000_000).allow(&fake_contract(), &["increment"])
}

#[tokio::test]
async fn a_sponsored_call_lands_once_with_user_auth_and_typed_results() {
    let s = setup(1, &[], policy(), fast_config());
    let alice = key(1);
    *s.ledger.require_auth.lock().unwrap() = Some(alice.address());
    let landed = s
        .relayer
        .invoke(
            "req-1",
            &alice.address(),
            &fake_contract(),
            "increment",
            vec![],
            &[alice.as_ref()],
        )
        .await
        .unwrap();
    assert_eq!(
        decode::<u32>(landed.return_value.as_ref().unwrap()).unwrap(),
        1
    );
    assert_eq!(landed.events.len(), 1);
    assert_eq!(landed.events[0].name().as_deref(), Some("incremented"));
    assert_eq!(
        landed.events[0].contract.as_deref(),
        Some(fake_contract().as_str())
    );
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 1);
    assert!(applied[0].success);
    // The channel was the source, the sponsor paid: resource fee 1000 + 2 × 100.
    assert_eq!(applied[0].inner_source, s.channels[0].public_key());
    assert_eq!(applied[0].fee, 1_200);
    assert_eq!(
        s.relayer.spent_today(&alice.address()).await.unwrap(),
        1_200
    );
}

#[tokio::test]
async fn a_missing_user_signature_is_named_and_nothing_is_sent() {
    let s = setup(1, &[], policy(), fast_config());
    let (alice, mallory) = (key(1), key(2));
    *s.ledger.require_auth.lock().unwrap() = Some(alice.address());
    let err = s
        .relayer
        .invoke(
            "req-1",
            &mallory.address(),
            &fake_contract(),
            "increment",
            vec![],
            &[mallory.as_ref()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingSigner(a) if *a == alice.address()),
        "{err}"
    );
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 0);
    assert!(s.ledger.applied().is_empty());
}

#[tokio::test]
async fn the_same_request_key_never_lands_twice_and_cannot_be_reused() {
    let s = setup(2, &[], policy(), fast_config());
    let u = key(1).address();
    let first = s
        .relayer
        .invoke("k", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let again = s
        .relayer
        .invoke("k", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(first.hash, again.hash);
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(s.ledger.counter(), 1);
    let other_args = vec![medimint_chain::scval::arg::u32(5)];
    let err = s
        .relayer
        .invoke("k", &u, &fake_contract(), "increment", other_args, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::KeyReused(ref k)) if k == "k"),
        "{err}"
    );
}

#[tokio::test]
async fn policy_refuses_with_a_reason_before_anything_is_sent() {
    let s = setup(
        1,
        &[],
        Policy::new(1_100, 1_000_000).allow(&fake_contract(), &["increment"]),
        fast_config(),
    );
    let u = key(1).address();
    let err = s
        .relayer
        .invoke("a", &u, &fake_contract(), "burn", vec![], &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("burn"), "{err}");
    let other = medimint_chain::address::contract_strkey(&[9; 32]);
    let err = s
        .relayer
        .invoke("b", &u, &other, "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::UnknownContract(_))),
        "{err}"
    );
    // 1000 resource + 200 inclusion is over the 1100 cap.
    let err = s
        .relayer
        .invoke("c", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused(Refusal::FeeCap {
                fee: 1_200,
                cap: 1_100
            })
        ),
        "{err}"
    );
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn daily_spend_cap_per_user() {
    let s = setup(
        1,
        &[],
        Policy::new(10_000, 2_500).allow(&fake_contract(), &["increment"]),
        fast_config(),
    );
    let (u, v) = (key(1).address(), key(2).address());
    s.relayer
        .invoke("1", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    s.relayer
        .invoke("2", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let err = s
        .relayer
        .invoke("3", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused(Refusal::DailySpend {
                would: 3_600,
                cap: 2_500,
                ..
            })
        ),
        "{err}"
    );
    // Another user still has their own budget.
    s.relayer
        .invoke("4", &v, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 3);
}

#[tokio::test]
async fn timeout_after_a_send_that_landed_returns_that_transaction() {
    let s = setup(1, &[Fault::LostAnswer], policy(), fast_config());
    let u = key(1).address();
    let landed = s
        .relayer
        .invoke("t", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(s.ledger.applied()[0].hash, landed.hash);
    // Found by looking the hash up: no second send was needed.
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn timeout_after_a_send_that_did_not_land_resends_the_same_envelope() {
    let s = setup(
        1,
        &[Fault::LostRequest, Fault::LostRequest],
        policy(),
        fast_config(),
    );
    let u = key(1).address();
    let landed = s
        .relayer
        .invoke("t", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].hash, landed.hash);
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn try_again_later_is_retried_then_lands_once() {
    let s = setup(
        1,
        &[Fault::TryAgainLater, Fault::TryAgainLater],
        policy(),
        fast_config(),
    );
    let u = key(1).address();
    s.relayer
        .invoke("t", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn try_again_later_past_the_resends_rebuilds_on_a_fresh_sequence_and_lands_once() {
    // Five TRY_AGAIN_LATER answers use up the resends of the first envelope; the relayer
    // reads the sequence again and sends a new one (nothing of the first was accepted).
    let s = setup(1, &[Fault::TryAgainLater; 5], policy(), fast_config());
    let u = key(1).address();
    let landed = s
        .relayer
        .invoke("t", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].hash, landed.hash);
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 6);
    assert_eq!(s.ledger.counter(), 1);
}

#[tokio::test]
async fn persistent_try_again_later_is_a_clear_error_and_nothing_lands() {
    let faults = [Fault::TryAgainLater; 10];
    let config = RelayerConfig {
        busy_rebuilds: 1,
        ..fast_config()
    };
    let s = setup(1, &faults, policy(), config);
    let u = key(1).address();
    let err = s
        .relayer
        .invoke("t", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TryAgainLater { attempts: 5, .. }),
        "{err}"
    );
    assert!(s.ledger.applied().is_empty());
    assert_eq!(
        s.relayer.spent_today(&u).await.unwrap(),
        0,
        "a refused send costs the user nothing"
    );
}

#[tokio::test]
async fn bad_sequence_resyncs_the_channel_and_lands_once() {
    let s = setup(1, &[], policy(), fast_config());
    let u = key(1).address();
    s.relayer
        .invoke("1", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    // Someone outside the leases uses the channel's next sequence number between the
    // relayer's read of it and its send.
    s.ledger
        .steal_before_send
        .lock()
        .unwrap()
        .push(s.channels[0].public_key());
    let before = s.ledger.seq(s.channels[0].public_key()).unwrap();
    let sends = s.faulty.sends.load(Ordering::SeqCst);
    s.relayer
        .invoke("2", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 2);
    // Refused with txBAD_SEQ, then sent again on the re-read sequence.
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst) - sends, 2);
    assert_eq!(
        s.ledger.seq(s.channels[0].public_key()).unwrap(),
        before + 2
    );
}

#[tokio::test]
async fn insufficient_fee_is_raised_within_the_cap() {
    let s = setup(1, &[], policy(), fast_config());
    s.ledger.min_rate.store(400, Ordering::SeqCst);
    let u = key(1).address();
    let landed = s
        .relayer
        .invoke("f", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 1);
    // 100 → 200 → 400 per operation, two operations counted.
    assert_eq!(applied[0].fee, 1_000 + 2 * 400);
    assert_eq!(landed.fee_charged, 1_800);
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn insufficient_fee_beyond_the_cap_is_refused_naming_the_fee() {
    let s = setup(
        1,
        &[],
        Policy::new(1_500, 1_000_000).allow(&fake_contract(), &["increment"]),
        fast_config(),
    );
    s.ledger.min_rate.store(400, Ordering::SeqCst);
    let u = key(1).address();
    let err = s
        .relayer
        .invoke("f", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    // 100 → 200 per operation fits (1400); 400 would need 1800.
    assert!(
        matches!(
            err,
            Error::Refused(Refusal::FeeCap {
                fee: 1_800,
                cap: 1_500
            })
        ),
        "{err}"
    );
    assert!(s.ledger.applied().is_empty());
}

#[tokio::test]
async fn an_expired_auth_entry_fails_clearly_and_lands_nothing_successful() {
    let mut config = fast_config();
    config.auth_validity_ledgers = 0;
    let s = setup(1, &[], policy(), config);
    let alice = key(1);
    *s.ledger.require_auth.lock().unwrap() = Some(alice.address());
    // The signature is valid until the simulated ledger only; the transaction applies in
    // the next one, where the network refuses the expired entry.
    let err = s
        .relayer
        .invoke(
            "e",
            &alice.address(),
            &fake_contract(),
            "increment",
            vec![],
            &[alice.as_ref()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Failed { code, .. } if code.contains("Trapped")),
        "{err}"
    );
    assert_eq!(s.ledger.counter(), 0);
    assert_eq!(s.ledger.applied().iter().filter(|a| a.success).count(), 0);
}

#[tokio::test]
async fn rpc_down_is_a_clear_error_and_a_retry_with_the_key_lands_once() {
    let s = setup(1, &[Fault::LostRequest], policy(), fast_config());
    let u = key(1).address();
    s.faulty.down.store(true, Ordering::SeqCst);
    let err = s
        .relayer
        .invoke("d", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RpcUnavailable(_)), "{err}");
    s.faulty.down.store(false, Ordering::SeqCst);
    s.relayer
        .invoke("d", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 1);
}

#[tokio::test]
async fn rpc_down_after_the_send_then_retry_finds_the_landed_transaction() {
    // The send reaches the server but the answer is lost, and the server stays down while
    // we poll: the outcome is unknown. The retry with the same key looks the hash up.
    let s = setup(2, &[Fault::LostAnswerThenDown], policy(), fast_config());
    let u = key(1).address();
    let err = s
        .relayer
        .invoke("x", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap_err();
    assert_eq!(s.ledger.applied().len(), 1);
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
    s.faulty.down.store(false, Ordering::SeqCst);
    let landed = s
        .relayer
        .invoke("x", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 1, "never a duplicate");
    assert_eq!(applied[0].hash, landed.hash);
}

/// A second relayer (another process) over the same ledger, channels and sponsor as `s`,
/// sharing `stores` with the relayer returned alongside.
fn two_processes(
    s: &Setup,
    config: RelayerConfig,
) -> (
    Relayer,
    Relayer,
    Arc<MemoryLeaseStore>,
    Arc<MemorySpendStore>,
) {
    let leases = Arc::new(MemoryLeaseStore::default());
    let requests = Arc::new(MemoryRequestStore::default());
    let spend = Arc::new(MemorySpendStore::default());
    let make = || {
        Relayer::new(
            s.faulty.clone(),
            s.ledger.network.clone(),
            key(200),
            s.channels
                .iter()
                .map(|c| c.clone() as Arc<dyn Signer>)
                .collect(),
            policy(),
            config.clone(),
        )
        .unwrap()
        .with_lease_store(leases.clone())
        .with_request_store(requests.clone())
        .with_spend_store(spend.clone())
    };
    (make(), make(), leases, spend)
}

#[tokio::test]
async fn processes_sharing_the_lease_store_never_collide_on_a_channel() {
    let s = setup(2, &[], policy(), fast_config());
    *s.faulty.latency.lock().unwrap() = Duration::from_millis(5);
    let (a, b, _, _) = two_processes(&s, fast_config());
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = vec![];
    for i in 0..24 {
        let r = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            r.invoke(
                &format!("r{i}"),
                &key(1).address(),
                &fake_contract(),
                "increment",
                vec![],
                &[],
            )
            .await
            .map(|l| l.hash)
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.ledger.applied().len(), 24);
    assert_eq!(s.ledger.counter(), 24);
    // Every send was accepted: no process ever submitted on a channel another was using.
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 24);
}

#[tokio::test]
async fn two_processes_taking_the_same_request_at_once_land_it_once_and_charge_it_once() {
    let s = setup(2, &[], policy(), fast_config());
    *s.faulty.latency.lock().unwrap() = Duration::from_millis(20);
    let (a, b, _, spend) = two_processes(&s, fast_config());
    let u = key(1).address();
    let counter = fake_contract();
    let (x, y) = tokio::join!(
        a.invoke("same", &u, &counter, "increment", vec![], &[]),
        b.invoke("same", &u, &counter, "increment", vec![], &[]),
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.hash, y.hash, "both report the one transaction");
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(s.ledger.counter(), 1);
    let day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    assert_eq!(
        spend.spent(&u, day).await.unwrap(),
        x.fee_charged,
        "charged once"
    );
}

#[tokio::test]
async fn a_channel_whose_holder_died_returns_after_its_lease_and_nothing_doubles() {
    let s = setup(1, &[], policy(), fast_config());
    let config = RelayerConfig {
        lease_ttl: Duration::from_secs(2),
        ..fast_config()
    };
    let (a, b, leases, _) = two_processes(&s, config);
    let channel = s.channels[0].address();
    // The holder dies while the channel is leased to it: its renewal stops with it.
    let taken = leases
        .put(
            &channel_lease_key(&channel),
            "dead-holder",
            LeaseExpect::Free,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1,
        )
        .await
        .unwrap();
    assert_eq!(taken, Some(1));
    let u = key(1).address();
    let landed = a
        .invoke("after", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(s.ledger.applied()[0].hash, landed.hash);
    // Released after use: the other process takes it at once.
    b.invoke("next", &u, &fake_contract(), "increment", vec![], &[])
        .await
        .unwrap();
    assert_eq!(s.ledger.counter(), 2);
    assert_eq!(leases.holder(&channel_lease_key(&channel)), None);
}

#[tokio::test]
async fn n_channels_carry_n_transactions_in_flight() {
    let s = Arc::new(setup(4, &[], policy(), fast_config()));
    *s.faulty.latency.lock().unwrap() = Duration::from_millis(20);
    let started = std::time::Instant::now();
    let mut tasks = vec![];
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.relayer
                .invoke(
                    &format!("r{i}"),
                    &key(1).address(),
                    &fake_contract(),
                    "increment",
                    vec![],
                    &[],
                )
                .await
                .map(|l| l.hash)
        }));
    }
    let mut hashes = vec![];
    for t in tasks {
        hashes.push(t.await.unwrap().unwrap());
    }
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 16);
    let applied = s.ledger.applied();
    assert_eq!(applied.len(), 16);
    let mut sources: Vec<_> = applied.iter().map(|a| a.inner_source).collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources.len(), 4, "all four channels carried transactions");
    // 16 sends of 20 ms each, four at a time: well under the 320 ms they take in series.
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_sponsored_account_is_created_with_zero_balance() {
    let s = setup(1, &[], policy(), fast_config());
    let newbie = key(50);
    assert_eq!(s.ledger.seq(newbie.public_key()), None);
    s.relayer
        .create_sponsored_account("acct", newbie.as_ref())
        .await
        .unwrap();
    assert!(s.ledger.seq(newbie.public_key()).is_some());
    // Idempotent: a retry with the key does not try to create it again.
    s.relayer
        .create_sponsored_account("acct", newbie.as_ref())
        .await
        .unwrap();
    assert_eq!(s.ledger.applied().len(), 1);
    assert_eq!(
        s.ledger.applied()[0].fee,
        400,
        "three operations plus the bump at 100"
    );
}

#[tokio::test]
async fn read_only_calls_simulate_without_sending() {
    let s = setup(1, &[], policy(), fast_config());
    let v = s
        .relayer
        .read(&fake_contract(), "get", vec![])
        .await
        .unwrap();
    assert_eq!(decode::<u32>(&v).unwrap(), 1);
    assert_eq!(s.faulty.sends.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn debug_output_and_errors_never_show_a_secret_key() {
    let s = setup(2, &[], policy(), fast_config());
    let debug = format!("{:?}", s.relayer);
    for k in s.channels.iter().chain(std::iter::once(&key(200))) {
        let secret = stellar_strkey::ed25519::PrivateKey(k.to_bytes()).to_string();
        assert!(!debug.contains(&secret), "secret in Debug output");
        assert!(
            !debug.contains(&hex::encode(k.to_bytes())),
            "secret hex in Debug output"
        );
        assert!(debug.contains(&k.address()) || k.address() == key(200).address());
    }
    let seed = stellar_strkey::ed25519::PrivateKey(key(1).to_bytes()).to_string();
    let err = s
        .relayer
        .invoke("s", &seed, &seed, "increment", vec![], &[])
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(&seed), "{err}");
}
