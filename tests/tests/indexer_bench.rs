//! Benchmarks (ignored; run with `--ignored --nocapture`; figures in docs/performance.md):
//! - `bench_synthetic`: index throughput over 100,000 events of 10,000 tokens owned by one
//!   user, served from memory by an `Rpc` (so the figure is the indexer and its store, not
//!   the RPC); then p99 of that user's list pages, of one token's history, and of the
//!   explorer's token timeline through the API router.
//! - `bench_devnet`: index throughput from a devnet with real releases, grants and
//!   accesses (events read over HTTP, each new token's release read by simulation).

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
        let (issuer, patient) = (g(1), g(2));
        let study_token = c(9);
        let events = events(&study_token, &patient, &issuer);
        let rpc = MemoryRpc {
            latest: events.last().unwrap().ledger,
            events,
        };
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

        // Through the API router: the explorer's token timeline.
        let state = api_state(dir.path());
        state.set_index(index.clone());
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
fn api_state(dir: &std::path::Path) -> medimint_api::AppState {
    let mut config = medimint_api::ApiConfig::new("http://127.0.0.1:8080", "bench").unwrap();
    // One client asks 1,000 times: the per-IP limit would answer 429.
    config.limits.per_ip_per_minute = u32::MAX;
    let (state, _) = medimint_api::testutils::memory_state(
        config,
        &medimint_sdk::keys::Seed::from_bytes([42; 64]),
        &dir.join("outbox"),
        medimint_api::testutils::manual_clock(),
    );
    state
}

#[test]
#[ignore = "benchmark: --ignored --nocapture"]
fn bench_devnet() {
    let n: usize = std::env::var("MEDIMINT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    common::runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let (platform, issuer) = common::platform(data.path(), &devnet.rpc_url()).await;
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
        // Real events: the owner's accesses, 8 in flight over the relayer's channels.
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            while set.len() >= 8 {
                set.join_next().await.unwrap().unwrap();
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
        }
        println!(
            "made {n} access events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let index = medimint_indexer_lambda::open::open_index(platform.config())
            .await
            .unwrap();
        let indexer =
            medimint_indexer_lambda::open::indexer(&platform, index.clone(), Settings::default())
                .unwrap();
        let started = Instant::now();
        let mut read = 0;
        loop {
            let r = indexer.run_once().await.unwrap();
            read += r.read;
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
            "indexed {read} events from the devnet in {:.2} s: {:.0} events/s",
            took.as_secs_f64(),
            read as f64 / took.as_secs_f64()
        );
    });
}
