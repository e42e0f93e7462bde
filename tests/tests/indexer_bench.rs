//! Benchmarks (ignored; run with `--ignored --nocapture`; figures in docs/performance.md):
//! - `bench_synthetic`: index throughput over 100,000 events of 10,000 tokens owned by one
//!   user, served from memory by an `Rpc` (so the figure is the indexer and its store, not
//!   the RPC); then p99 of that user's list pages, of one token's history, and of the
//!   explorer's token timeline through the API router.
//! - `bench_devnet`: index throughput from a devnet with real releases, grants and
//!   accesses (events read over HTTP, each new token's release read by simulation).

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod api_common;
#[path = "indexer_common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use medimint_chain::clients::{
    contract_struct, unit_variant, GrantRecord, IssuerRecord, TokenRecord,
};
use medimint_chain::scval::arg;
use medimint_chain::{ContractEvent, EventPage, EventsFrom, Rpc};
use medimint_indexer_lambda::{ChainReads, Contracts, Indexer, Settings};
use medimint_storage::index::{HistoryOf, ListKind};
use medimint_storage::{Index, SqliteIndex};
use stellar_rpc_client::{
    GetTransactionResponse, SendTransactionResponse, SimulateTransactionResponse,
};
use stellar_xdr::{ScVal, TransactionEnvelope};

const TOKENS: u32 = 10_000;
const PER_TOKEN: u32 = 10;

fn g(n: u32) -> String {
    let mut k = [7u8; 32];
    k[..4].copy_from_slice(&n.to_be_bytes());
    stellar_strkey::ed25519::PublicKey(k).to_string()
}

fn c(n: u8) -> String {
    stellar_strkey::Contract([n; 32]).to_string()
}

fn paging(ledger: u32, n: u32) -> String {
    format!(
        "{:019}-{:010}",
        (u64::from(ledger) << 32) | (u64::from(n % 1000) << 12),
        0
    )
}

/// Events in memory, served like `getEvents`.
struct MemoryRpc {
    events: Vec<ContractEvent>,
    latest: u32,
}

fn events(study_token: &str, patient: &str, issuer: &str) -> Vec<ContractEvent> {
    let sym = |s: &str| arg::symbol(s).unwrap();
    let addr = |a: &str| arg::address(a).unwrap();
    let mut out = Vec::new();
    let mut n = 0u32;
    for id in 1..=TOKENS {
        let ledger = 1_000 + id;
        let mut push = |topics: Vec<ScVal>, value: ScVal| {
            out.push(ContractEvent {
                id: paging(ledger, n),
                ledger,
                ledger_closed_at: "2026-12-06T12:00:00Z".into(),
                contract_id: study_token.to_owned(),
                tx_hash: Some(format!("{n:064x}")),
                topics,
                value,
            });
            n += 1;
        };
        push(
            vec![sym("minted"), arg::u32(id), addr(issuer), addr(patient)],
            ScVal::Void,
        );
        for v in 0..3 {
            push(
                vec![
                    sym("role_granted"),
                    arg::u32(id),
                    addr(patient),
                    addr(&g(100 + v)),
                ],
                contract_struct(vec![
                    ("role", unit_variant("Viewer").unwrap()),
                    ("expires_at", arg::u64(2_000_000_000)),
                ])
                .unwrap(),
            );
        }
        for v in 0..5 {
            push(
                vec![sym("access_recorded"), arg::u32(id), addr(&g(100 + v % 3))],
                contract_struct(vec![
                    (
                        "kind",
                        unit_variant(if v % 2 == 0 { "View" } else { "Download" }).unwrap(),
                    ),
                    ("role", unit_variant("Viewer").unwrap()),
                ])
                .unwrap(),
            );
        }
        push(
            vec![
                sym("role_revoked"),
                arg::u32(id),
                addr(patient),
                addr(&g(102)),
            ],
            ScVal::Void,
        );
    }
    assert_eq!(out.len() as u32, TOKENS * PER_TOKEN);
    out
}

#[async_trait]
impl Rpc for MemoryRpc {
    async fn network_passphrase(&self) -> medimint_chain::Result<String> {
        Ok("bench".into())
    }
    async fn latest_ledger(&self) -> medimint_chain::Result<u32> {
        Ok(self.latest)
    }
    async fn account_sequence(&self, _: &str) -> medimint_chain::Result<Option<i64>> {
        Ok(None)
    }
    async fn simulate(
        &self,
        _: &TransactionEnvelope,
    ) -> medimint_chain::Result<SimulateTransactionResponse> {
        Err(medimint_chain::Error::Rpc("not in the benchmark".into()))
    }
    async fn send(
        &self,
        _: &TransactionEnvelope,
    ) -> medimint_chain::Result<SendTransactionResponse> {
        Err(medimint_chain::Error::Rpc("not in the benchmark".into()))
    }
    async fn transaction(&self, _: &[u8; 32]) -> medimint_chain::Result<GetTransactionResponse> {
        Err(medimint_chain::Error::Rpc("not in the benchmark".into()))
    }
    async fn events(
        &self,
        from: EventsFrom,
        _: &[String],
        limit: u32,
    ) -> medimint_chain::Result<EventPage> {
        let start = match &from {
            EventsFrom::Ledger(l) => self.events.partition_point(|e| e.ledger < *l),
            EventsFrom::Cursor(c) => self.events.partition_point(|e| e.id <= *c),
        };
        let page: Vec<ContractEvent> = self.events[start..]
            .iter()
            .take(limit as usize)
            .cloned()
            .collect();
        let cursor = if (page.len() as u32) < limit {
            paging(self.latest + 1, 0)
        } else {
            page.last().map(|e| e.id.clone()).unwrap_or_default()
        };
        Ok(EventPage {
            events: page,
            cursor,
            latest_ledger: self.latest,
            oldest_ledger: 1,
        })
    }
}

struct MemoryReads {
    issuer: String,
    patient: String,
}

#[async_trait]
impl ChainReads for MemoryReads {
    async fn token(&self, id: u32) -> Result<Option<TokenRecord>, medimint_chain::Error> {
        Ok((id <= TOKENS).then(|| TokenRecord {
            id,
            owner: self.patient.clone(),
            issuer: self.issuer.clone(),
            status: "Active".into(),
            metadata_uri: format!("ipfs://bafkrei{id:052}"),
            commitment: [1; 32],
            file_count: 3,
            minted_ledger: 1_000 + id,
        }))
    }
    async fn grants(&self, _: u32) -> Result<Vec<GrantRecord>, medimint_chain::Error> {
        Ok(vec![])
    }
    async fn issuers(&self) -> Result<Vec<IssuerRecord>, medimint_chain::Error> {
        Ok(vec![])
    }
    async fn issuer(&self, _: &str) -> Result<Option<IssuerRecord>, medimint_chain::Error> {
        Ok(None)
    }
}

fn p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let p = v[(v.len() * 99 / 100).min(v.len() - 1)];
    (v[v.len() / 2], p)
}

#[test]
#[ignore = "benchmark: --ignored --nocapture"]
fn bench_synthetic() {
    common::runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let study_token = c(9);
        let issuer = g(1);
        // The API as `up` serves it, over a platform whose RPC is at the events' last ledger
        // (so the index counts as caught up); the user is its email account, whose address
        // owns the 10,000 tokens.
        let latest = events(&study_token, &g(2), &issuer).last().unwrap().ledger;
        let outbox = dir.path().join("outbox");
        let (state, parts) = medimint_api::testutils::memory_state_with_platform(
            bench_api_config(),
            &medimint_sdk::keys::Seed::from_bytes([42; 64]),
            &outbox,
            medimint_api::testutils::manual_clock(),
            Some(memory_platform(dir.path(), latest).await),
        );
        let email = "patient@example.org";
        let patient = medimint_api::accounts::Accounts::custodial_address(parts.accounts.as_ref(), email)
            .await
            .unwrap();
        let events = events(&study_token, &patient, &issuer);
        let rpc = MemoryRpc { latest, events };
        let index = Index::new(Arc::new(
            SqliteIndex::open(dir.path().join("index.sqlite3"))
                .await
                .unwrap(),
        ));
        let indexer = Indexer::new(
            Arc::new(rpc),
            Arc::new(MemoryReads {
                issuer: issuer.clone(),
                patient: patient.clone(),
            }),
            index.clone(),
            Contracts {
                study_token,
                issuer_registry: c(8),
            },
            Settings {
                page: 1_000,
                max_pages: 20,
                ..Settings::default()
            },
        );
        let started = Instant::now();
        let mut applied = 0;
        let mut runs = 0;
        loop {
            let r = indexer.run_once().await.unwrap();
            applied += r.applied;
            runs += 1;
            if r.caught_up {
                break;
            }
        }
        let took = started.elapsed();
        assert_eq!(applied as u32, TOKENS * PER_TOKEN);
        println!(
            "indexed {applied} events in {runs} runs, {:.1} s: {:.0} events/s (SQLite)",
            took.as_secs_f64(),
            applied as f64 / took.as_secs_f64()
        );

        // The user's 10,000 owned tokens, 50 a page.
        let mut list = Vec::new();
        let mut after = None;
        let mut seen = 0;
        loop {
            let t = Instant::now();
            let page = index
                .list(&patient, ListKind::Owned, after, 50)
                .await
                .unwrap();
            list.push(t.elapsed());
            seen += page.len();
            if page.len() < 50 {
                break;
            }
            after = page.last().copied();
        }
        assert_eq!(seen as u32, TOKENS);
        let (median, p) = p99(list);
        println!("list page of 50 of 10,000 owned: median {median:?}, p99 {p:?} (store)");

        let mut hist = Vec::new();
        for i in 0..1_000u32 {
            let t = Instant::now();
            let h = index
                .history(&HistoryOf::Token(1 + (i * 7_919) % TOKENS), None, 50)
                .await
                .unwrap();
            hist.push(t.elapsed());
            assert_eq!(h.len() as u32, PER_TOKEN);
        }
        let (median, p) = p99(hist);
        println!("history of one token (10 events): median {median:?}, p99 {p:?} (store)");

        // Through the API router: the user's list pages, then the explorer's token timeline.
        state.set_index(index.clone());
        let api = api_common::TestApi::from_state(state.clone(), outbox);
        let (bearer, address) = api.sign_in_as(email).await;
        assert_eq!(address, patient);
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        let mut listed = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/studies?role=owned&limit=50&cursor={c}"),
                None => "/v1/studies?role=owned&limit=50".to_owned(),
            };
            let t = Instant::now();
            let r = api.get(&path, Some(&bearer)).await;
            pages.push(t.elapsed());
            assert_eq!(r.status, axum::http::StatusCode::OK, "{:?}", r.body);
            assert_eq!(r.headers["x-list-source"], "index");
            listed += r.body["items"].as_array().unwrap().len();
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(listed as u32, TOKENS);
        let (median, p) = p99(pages);
        println!(
            "GET /v1/studies?role=owned&limit=50, {} pages of 10,000 owned, through the router: median {median:?}, p99 {p:?}",
            10_000 / 50
        );

        let app = medimint_api::app(state);
        let mut api = Vec::new();
        for i in 0..1_000u32 {
            let id = 1 + (i * 7_919) % TOKENS;
            let t = Instant::now();
            let response = tower::ServiceExt::oneshot(
                app.clone(),
                axum::http::Request::get(format!("/v1/explorer/tokens/{id}"))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
            assert_eq!(response.status(), 200);
            axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            api.push(t.elapsed());
        }
        let (median, p) = p99(api);
        println!("GET /v1/explorer/tokens/{{id}} through the router: median {median:?}, p99 {p:?}");
    });
}

/// An API state without a platform (the explorer needs only the index).
fn bench_api_config() -> medimint_api::ApiConfig {
    let mut config = medimint_api::ApiConfig::new("http://127.0.0.1:8080", "bench").unwrap();
    // One client asks thousands of times: the rate limits would answer 429.
    config.limits.per_ip_per_minute = u32::MAX;
    config.limits.per_account_per_minute = u32::MAX;
    config.limits.per_account_per_hour = u32::MAX;
    config
}

/// A platform on `dir` whose RPC only answers the latest ledger (`latest`).
async fn memory_platform(dir: &std::path::Path, latest: u32) -> Arc<medimint_platform::Platform> {
    let db = medimint_storage::sqlite::SqliteDb::open_in_memory()
        .await
        .unwrap();
    let store = medimint_storage::LocalDirStore::new(dir.join("objects")).unwrap();
    Arc::new(
        medimint_platform::Platform::from_parts(medimint_platform::Parts {
            config: medimint_platform::Config {
                data_dir: dir.to_path_buf(),
                ..medimint_platform::Config::default()
            },
            seed: Arc::new(medimint_sdk::keys::Seed::from_bytes([42; 64])),
            rpc: Arc::new(MemoryRpc {
                events: Vec::new(),
                latest,
            }),
            network: medimint_chain::Network::new("bench"),
            store: Arc::new(store),
            db: Arc::new(db),
            scope: medimint_platform::RelayScope::Suite,
        })
        .unwrap(),
    )
}

#[test]
#[ignore = "benchmark: --ignored --nocapture"]
fn bench_devnet() {
    let n: usize = std::env::var("MEDIMINT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    // Every submission closes a ledger: keep all of them in `getEvents`' window.
    let retention = u32::try_from(n)
        .unwrap_or(u32::MAX)
        .saturating_add(10_000)
        .max(17_280);
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        retention_ledgers: retention,
        ..medimint_devnet::Config::default()
    })
    .unwrap();
    common::runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let channels = std::env::var("MEDIMINT_BENCH_CHANNELS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let (platform, issuer) =
            common::platform_with_channels(data.path(), &devnet.rpc_url(), channels).await;
        let p = common::phi(7);
        let token = common::release(&platform, &issuer, &p, "r-bench", "2.25.7007").await;
        platform
            .consent(&p.email, &token.to_string(), true)
            .await
            .unwrap();
        let hd = platform
            .db()
            .account_by_email(&p.email)
            .await
            .unwrap()
            .unwrap()
            .hd_index
            .unwrap();
        let owner = Arc::new(medimint_sdk::keys::derive_keypair(platform.seed(), hd).unwrap());
        let study_token = platform.deployment().unwrap().study_token.id;
        // Real events: the owner's accesses, `MEDIMINT_BENCH_IN_FLIGHT` (8) at a time over
        // the relayer's channels.
        let in_flight: usize = std::env::var("MEDIMINT_BENCH_IN_FLIGHT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        let mut done = 0usize;
        let progress = |done: usize| {
            if done.is_multiple_of(5_000) || done == n {
                let s = started.elapsed().as_secs_f64();
                eprintln!(
                    "bench_devnet: {done}/{n} access transactions in {s:.0} s ({:.1}/s)",
                    done as f64 / s
                );
            }
        };
        for i in 0..n {
            while set.len() >= in_flight {
                set.join_next().await.unwrap().unwrap();
                done += 1;
                progress(done);
            }
            let relayer = platform.relayer().clone();
            let owner = owner.clone();
            let contract = study_token.clone();
            set.spawn(async move {
                medimint_chain::clients::StudyToken::new(&relayer, contract)
                    .record_access(
                        &format!("bench-access-{i}"),
                        owner.signing_key(),
                        token,
                        medimint_chain::clients::AccessKind::View,
                    )
                    .await
                    .unwrap();
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
            done += 1;
            progress(done);
        }
        let made = started.elapsed();
        println!(
            "made {n} access events in {:.1} s ({:.1} transactions/s)",
            made.as_secs_f64(),
            n as f64 / made.as_secs_f64()
        );
        let index = medimint_indexer_lambda::open::open_index(platform.config())
            .await
            .unwrap();
        let indexer =
            medimint_indexer_lambda::open::indexer(&platform, index.clone(), Settings::default())
                .unwrap();
        let started = Instant::now();
        let (mut read, mut runs) = (0, 0);
        loop {
            let r = indexer.run_once().await.unwrap();
            read += r.read;
            runs += 1;
            if r.caught_up {
                break;
            }
        }
        let took = started.elapsed();
        let accesses: i64 = index
            .accesses(token)
            .await
            .unwrap()
            .iter()
            .map(|c| c.n)
            .sum();
        assert_eq!(accesses as usize, n);
        println!(
            "indexed {read} events from the devnet in {runs} runs, {:.2} s: {:.0} events/s",
            took.as_secs_f64(),
            read as f64 / took.as_secs_f64()
        );

        // Through the API as `up` serves it (the platform's adapters, the index just built):
        // the patient's list, and the history of the token that holds every event.
        let mut config = api_common::config();
        config.network_passphrase = platform.config().network.passphrase.clone();
        config.limits.per_ip_per_minute = u32::MAX;
        config.limits.per_account_per_minute = u32::MAX;
        config.limits.per_account_per_hour = u32::MAX;
        let outbox = data.path().join("outbox");
        let state = medimint_api::opener::with_platform(
            config,
            platform.seed(),
            platform.clone(),
            Arc::new(medimint_api::mailer::OutboxMailer::new(&outbox)),
        );
        state.set_index(index.clone());
        let api = api_common::TestApi::from_state(state, outbox);
        let (bearer, _) = api.sign_in_as(&p.email).await;
        for (what, path) in [
            ("GET /v1/studies", "/v1/studies".to_owned()),
            (
                "GET /v1/studies/{token}/history",
                format!("/v1/studies/{token}/history"),
            ),
        ] {
            let mut times = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                let r = api.get(&path, Some(&bearer)).await;
                times.push(t.elapsed());
                assert_eq!(r.status, axum::http::StatusCode::OK, "{what}: {:?}", r.body);
            }
            let (median, p) = p99(times);
            println!(
                "{what} through the router ({read} events indexed): median {median:?}, p99 {p:?}"
            );
        }
    });
}
