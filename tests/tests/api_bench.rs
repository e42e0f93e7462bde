//! Benchmarks of the HTTP API (ignored; docs/performance.md, "HTTP API (issue 23)").
//!
//! **List.** One patient owns 1,000
//! tokens on the in-process devnet; the API router serves on 127.0.0.1 and a small HTTP/1.1
//! load generator (keep-alive connections, one request in flight each) asks for the first
//! page of `GET /v1/studies?role=owned` again and again. Reports p50 / p99 / max latency and
//! throughput, from the chain (no index) and from the audit index.
//!
//! The tokens are minted active in one transaction each (`mint`, the issuer's and the
//! patient's signatures): a minted token is never pending, so the pending cap (#235, which
//! bounds one issuer's *outstanding* pending releases to one patient, 20 by default) does not
//! apply. A release through the pipeline stays pending until consent; releasing 1,000 that
//! way needs a consent after each (or the admin's `set_pending_cap`, at most 1,000).
//!
//! **Download.** A generated study (`medimint-bench ingest --size-mib 100 --study DIR`
//! writes one) is released to its patient, who approves it; every file is then fetched
//! through `GET /v1/studies/{t}/files/{path}` over one keep-alive connection, against the
//! SDK's `decrypt_async` of the same objects from the same store into a sink, in the same
//! process: a first pass (it records the access on chain), then `MEDIMINT_BENCH_ROUNDS`
//! rounds (5) of the SDK, the API, and the SDK decrypting into a loopback socket read by the
//! same client (no HTTP: the like-for-like floor of any server here); medians, every round's
//! ratio, and the CPU time of each. Then the same bytes through the socket alone, and
//! `MEDIMINT_BENCH_PARALLEL` (`2,4`) files in flight over as many connections against the SDK
//! decrypting as many files at once. `MEDIMINT_BENCH_WORKERS` (4): the runtime's worker
//! threads; `MEDIMINT_BENCH_READ_KIB` (64): the client's reads; `MEDIMINT_BENCH_NAGLE=1`:
//! the API served without `TCP_NODELAY`, as before `medimint_api::serve`.
//!
//! ```sh
//! cargo test -p medimint-e2e --test api_bench -- --ignored --nocapture list
//! MEDIMINT_BENCH_TOKENS=1000 MEDIMINT_BENCH_CONNECTIONS=8 MEDIMINT_BENCH_REQUESTS=2000 …
//! MEDIMINT_BENCH_STUDY=/tmp/study MEDIMINT_BENCH_ROUNDS=15 cargo test -p medimint-e2e --test api_bench -- --ignored --nocapture download
//! ```

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestApi;
use medimint_api::mailer::OutboxMailer;
use medimint_chain::clients::{IssuerKind, IssuerProfile, Release, StudyToken};
use medimint_indexer_lambda::{open, Settings};
use medimint_platform::{Config, IssuerSpec, Platform};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `ipfs://b…` from a number (base32 letters only).
fn metadata_uri(n: usize) -> String {
    let digits: String = format!("{n:08}")
        .bytes()
        .map(|d| (b'a' + (d - b'0')) as char)
        .collect();
    format!("ipfs://bafkreibench{digits}")
}

/// One keep-alive HTTP/1.1 connection of the test's client, with its read buffer
/// (`MEDIMINT_BENCH_READ_KIB`, 64 KiB by default: what each `read` asks the socket for).
struct Conn {
    stream: BufReader<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        // As browsers and curl do (the requests are one small write each anyway).
        tcp.set_nodelay(true).unwrap();
        Conn {
            stream: BufReader::new(tcp),
            buf: vec![0u8; env_or("MEDIMINT_BENCH_READ_KIB", 64).max(1) << 10],
        }
    }

    /// Sends `request` and reads one response (status line, headers, a Content-Length body,
    /// read and dropped); returns the status and body length.
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, usize)> {
        self.exchange_timed(request).await.map(|(s, n, _)| (s, n))
    }

    /// [`Conn::exchange`], also returning the time until the response's headers were read.
    async fn exchange_timed(&mut self, request: &[u8]) -> std::io::Result<(u16, usize, Duration)> {
        let started = Instant::now();
        let stream = &mut self.stream;
        stream.get_mut().write_all(request).await?;
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let headers = started.elapsed();
        let mut left = length;
        while left > 0 {
            let want = left.min(self.buf.len());
            let n = stream.read(&mut self.buf[..want]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            left -= n;
        }
        Ok((status, length, headers))
    }
}

/// CPU time of this process so far (user and system, every thread), from /proc/self/stat
/// in clock ticks of 10 ms (USER_HZ 100 on Linux); zero where it cannot be read.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The floor under any HTTP server on this machine: the bytes through one loopback socket
/// with no HTTP, written by a task of the test (the SDK decrypting every file into the
/// socket through a 256 KiB buffer, as the API's frames; or zeros, for the socket alone),
/// read by the same client as the API's.
struct Floor {
    rounds: tokio::sync::mpsc::Sender<bool>,
    done: tokio::sync::mpsc::Receiver<()>,
    conn: Conn,
    bytes: u64,
}

impl Floor {
    async fn start(
        platform: Arc<Platform>,
        files: Arc<Vec<medimint_platform::study::MetaFile>>,
        key: medimint_sdk::crypto::StudyKey,
        bytes: u64,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (rounds, mut asked) = tokio::sync::mpsc::channel::<bool>(1);
        let (done_tx, done) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let mut out = tokio::io::BufWriter::with_capacity(4 * 65_536, tcp);
            let zeros = vec![0u8; 4 * 65_536];
            while let Some(decrypt) = asked.recv().await {
                if decrypt {
                    for f in files.iter() {
                        let reader = platform.store().get_stream(&f.object_key).await.unwrap();
                        medimint_sdk::crypto::decrypt_async(&key, reader, &mut out)
                            .await
                            .unwrap();
                    }
                } else {
                    let mut left = bytes as usize;
                    while left > 0 {
                        let n = left.min(zeros.len());
                        out.write_all(&zeros[..n]).await.unwrap();
                        left -= n;
                    }
                }
                out.flush().await.unwrap();
                done_tx.send(()).await.unwrap();
            }
        });
        Floor {
            rounds,
            done,
            conn: Conn::open(addr).await,
            bytes,
        }
    }

    /// One pass: every file decrypted (`decrypt`) or as many zeros, through the socket.
    async fn pass(&mut self, decrypt: bool) -> Duration {
        let t = Instant::now();
        self.rounds.send(decrypt).await.unwrap();
        let mut left = self.bytes as usize;
        while left > 0 {
            let want = left.min(self.conn.buf.len());
            let n = self
                .conn
                .stream
                .read(&mut self.conn.buf[..want])
                .await
                .unwrap();
            assert!(n > 0, "the floor's server stopped");
            left -= n;
        }
        self.done.recv().await.unwrap();
        t.elapsed()
    }
}

fn file_request(token_id: &str, path: &str, bearer: &str) -> String {
    format!(
        "GET /v1/studies/{token_id}/files/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {bearer}\r\n\r\n"
    )
}

/// What one pass through the API measured.
struct ApiPass {
    time: Duration,
    /// Summed over the files: until each response's headers were read.
    to_headers: Duration,
    /// The slowest file.
    slowest: Duration,
    bytes: u64,
}

/// Every file of the study through `GET /v1/studies/{t}/files/{path}` on one keep-alive
/// connection, one after the other.
async fn api_pass(
    conn: &mut Conn,
    files: &[medimint_platform::study::MetaFile],
    token_id: &str,
    bearer: &str,
) -> ApiPass {
    let t = Instant::now();
    let mut pass = ApiPass {
        time: Duration::ZERO,
        to_headers: Duration::ZERO,
        slowest: Duration::ZERO,
        bytes: 0,
    };
    for f in files {
        let file = Instant::now();
        let request = file_request(token_id, &f.checksum.path, bearer);
        let (status, n, headers) = conn.exchange_timed(request.as_bytes()).await.unwrap();
        assert_eq!(status, 200, "{}", f.checksum.path);
        pass.bytes += n as u64;
        pass.to_headers += headers;
        pass.slowest = pass.slowest.max(file.elapsed());
    }
    pass.time = t.elapsed();
    pass
}

/// Every file of the study through the API over `conns.len()` keep-alive connections, one
/// request in flight on each (as a browser fetches in parallel): each connection takes the
/// next file not yet asked for. Returns the time and the bytes.
async fn api_parallel_pass(
    conns: &mut Vec<Conn>,
    files: &Arc<Vec<medimint_platform::study::MetaFile>>,
    token_id: &str,
    bearer: &str,
) -> (Duration, u64) {
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for mut conn in conns.drain(..) {
        let (next, files) = (next.clone(), files.clone());
        let (token_id, bearer) = (token_id.to_owned(), bearer.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut bytes = 0u64;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let request = file_request(&token_id, &f.checksum.path, &bearer);
                let (status, n) = conn.exchange(request.as_bytes()).await.unwrap();
                assert_eq!(status, 200, "{}", f.checksum.path);
                bytes += n as u64;
            }
            (conn, bytes)
        }));
    }
    let mut bytes = 0;
    for task in tasks {
        let (conn, n) = task.await.unwrap();
        conns.push(conn);
        bytes += n;
    }
    (t.elapsed(), bytes)
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    per_second: f64,
}

/// `connections` connections each send `requests / connections` requests, one at a time.
async fn load(
    addr: std::net::SocketAddr,
    request: Vec<u8>,
    connections: usize,
    requests: usize,
) -> Figures {
    let request = Arc::new(request);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut times = Vec::new();
            for _ in 0..requests / connections {
                let t = Instant::now();
                let (status, _) = conn.exchange(&request).await.unwrap();
                assert_eq!(status, 200, "a list request failed");
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1];
    Figures {
        p50: at(0.50),
        p99: at(0.99),
        max: *all.last().unwrap(),
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
    }
}

/// The suite on a fresh devnet, with a custodial issuer `pacs@general.example`.
async fn suite(dir: &std::path::Path) -> (medimint_devnet::Devnet, Arc<Platform>) {
    let devnet = tokio::task::spawn_blocking(|| {
        medimint_devnet::Devnet::start(medimint_devnet::Config::default())
    })
    .await
    .unwrap()
    .unwrap();
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = devnet.rpc_url();
    config.network.passphrase = devnet.passphrase();
    let platform = Arc::new(Platform::open(config, true).await.unwrap());
    platform.ensure_operators().await.unwrap();
    platform.deploy().await.unwrap();
    platform
        .add_issuer(&IssuerSpec {
            email: "pacs@general.example".into(),
            address: None,
            profile: IssuerProfile {
                name: "General Hospital".into(),
                kind: IssuerKind::Hospital,
                jurisdiction: "US-CA".into(),
                evidence: [7; 32],
            },
        })
        .await
        .unwrap();
    (devnet, platform)
}

/// The API router over `platform` on 127.0.0.1 (rate limits lifted for the load).
async fn serve(
    platform: &Arc<Platform>,
    dir: &std::path::Path,
) -> (std::net::SocketAddr, medimint_api::AppState, TestApi) {
    let outbox = dir.join("outbox");
    let mut api_config = common::config();
    api_config.network_passphrase = platform.config().network.passphrase.clone();
    api_config.limits.per_account_per_minute = u32::MAX;
    api_config.limits.per_ip_per_minute = u32::MAX;
    let state = medimint_api::opener::with_platform(
        api_config,
        platform.seed(),
        platform.clone(),
        Arc::new(OutboxMailer::new(&outbox)),
    );
    let api = TestApi::from_state(state.clone(), outbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = medimint_api::app(state.clone());
    // `MEDIMINT_BENCH_NAGLE=1`: served as before `medimint_api::serve`, without
    // TCP_NODELAY (to see the delayed-ACK stalls it removes).
    let nagle = std::env::var_os("MEDIMINT_BENCH_NAGLE").is_some();
    tokio::spawn(async move {
        if nagle {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap()
        } else {
            medimint_api::serve(listener, app).await.unwrap()
        }
    });
    (addr, state, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn list_studies_of_a_patient_with_1000_tokens_under_load() {
    let tokens = env_or("MEDIMINT_BENCH_TOKENS", 1000);
    let connections = env_or("MEDIMINT_BENCH_CONNECTIONS", 8);
    let requests = env_or("MEDIMINT_BENCH_REQUESTS", 2000);
    let dir = tempfile::tempdir().unwrap();
    let (devnet, platform) = suite(dir.path()).await;
    let jane = platform
        .ensure_custodial_account("jane@example.org")
        .await
        .unwrap();
    let issuer = platform.keypair_of("pacs@general.example").await.unwrap();
    let patient = platform.keypair_of("jane@example.org").await.unwrap();
    let d = platform.deployment().unwrap();
    let client = StudyToken::new(platform.relayer(), d.study_token.id.clone());
    let minting = Instant::now();
    for n in 0..tokens {
        let release = Release {
            metadata_uri: metadata_uri(n),
            commitment: Sha256::digest(format!("bench/{n}")).into(),
            file_count: 1,
            request_id: None,
        };
        client
            .mint(
                &format!("bench/mint/{n}"),
                issuer.signing_key(),
                patient.signing_key(),
                &release,
            )
            .await
            .unwrap();
    }
    eprintln!(
        "minted {tokens} tokens to one patient in {:.1} s",
        minting.elapsed().as_secs_f64()
    );

    let (addr, state, api) = serve(&platform, dir.path()).await;
    let (bearer, address) = api.sign_in_as("jane@example.org").await;
    assert_eq!(address, jane.address);
    let request = format!(
        "GET /v1/studies?role=owned&limit=20 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {bearer}\r\n\r\n"
    )
    .into_bytes();

    // From the chain (no index): 1 + 3 × 20 simulations per page.
    let chain = load(addr, request.clone(), connections, requests.min(200)).await;
    // From the audit index, caught up.
    let index = open::open_index(platform.config()).await.unwrap();
    let indexer = open::indexer(&platform, index.clone(), Settings::default()).unwrap();
    loop {
        let run = indexer.run_once().await.unwrap();
        if run.lag_ledgers == 0 {
            break;
        }
    }
    state.set_index(index);
    let mut probe = Conn::open(addr).await;
    assert_eq!(probe.exchange(&request).await.unwrap().0, 200);
    let indexed = load(addr, request, connections, requests).await;
    for (what, f, n) in [
        ("chain", &chain, requests.min(200)),
        ("index", &indexed, requests),
    ] {
        eprintln!(
            "list (first page of 20, {tokens} owned) from the {what}: {n} requests over \
             {connections} connections: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.0} req/s",
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.max.as_secs_f64() * 1e3,
            f.per_second
        );
    }
    let _ = std::thread::spawn(move || drop(devnet)).join();
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture and MEDIMINT_BENCH_STUDY"]
fn download_a_study_through_the_api_against_the_sdks_stream_decryption() {
    // The test's runtime: `MEDIMINT_BENCH_WORKERS` worker threads (4, as `#[tokio::test]`
    // had); the single-connection passes (the SDK's and the API's client) run on the test's
    // own thread, the server's connections and the parallel passes on the workers.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("MEDIMINT_BENCH_WORKERS", 4).max(1))
        .enable_all()
        .build()
        .unwrap()
        .block_on(download())
}

async fn download() {
    let study = std::path::PathBuf::from(
        std::env::var("MEDIMINT_BENCH_STUDY")
            .expect("MEDIMINT_BENCH_STUDY: a folder from `medimint-bench ingest --study DIR`"),
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(study.join("release.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Only the DICOM files, under their relative paths (hard links: nothing is copied).
    let export = dir.path().join("export");
    for f in manifest["files"].as_array().unwrap() {
        let rel = f["path"].as_str().unwrap();
        let to = export.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::hard_link(study.join(rel), &to)
            .or_else(|_| std::fs::copy(study.join(rel), &to).map(|_| ()))
            .unwrap();
    }
    let (devnet, platform) = suite(dir.path()).await;
    let issuer = platform.keypair_of("pacs@general.example").await.unwrap();
    let p = &manifest["patient"];
    let birth = p["birth_date"].as_str().unwrap().replace('-', "");
    let outcome = platform
        .release(
            &medimint_platform::ReleaseSpec {
                issuer: issuer.address(),
                release_id: "bench-download".into(),
                patient: medimint_platform::PatientSpec {
                    email: p["email"].as_str().unwrap().into(),
                    family_name: p["family_name"].as_str().unwrap().into(),
                    given_names: p["given_names"].as_str().unwrap().into(),
                    birth_date: format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..8]),
                    patient_id: p["patient_id"].as_str().unwrap().into(),
                },
                study_instance_uid: manifest["study_instance_uid"].as_str().map(str::to_owned),
                paths: vec![export],
            },
            |_, _| {},
        )
        .await
        .unwrap();
    let medimint_ingest::Outcome::Released { token_id, .. } = outcome else {
        panic!("not released: {outcome:?}")
    };
    let email = p["email"].as_str().unwrap().to_owned();
    platform
        .consent_with(
            &email,
            &token_id,
            true,
            medimint_chain::clients::RejectReason::Declined,
        )
        .await
        .unwrap();

    // The SDK: every object decrypted as a stream from the store, one after the other.
    let owner = platform.keypair_of(&email).await.unwrap();
    let record = platform.token(&token_id).await.unwrap();
    let sid = medimint_ingest::layout::study_id(&hex::encode(record.commitment)).unwrap();
    let cid = record.metadata_uri.trim_start_matches("ipfs://").to_owned();
    let (key, files) =
        medimint_platform::study::open_study(platform.store().as_ref(), &sid, &cid, &owner)
            .await
            .unwrap();
    let files = Arc::new(files);
    let sdk_pass = || async {
        let t = Instant::now();
        let mut bytes = 0u64;
        for f in files.iter() {
            let reader = platform.store().get_stream(&f.object_key).await.unwrap();
            bytes += medimint_sdk::crypto::decrypt_async(&key, reader, tokio::io::sink())
                .await
                .unwrap();
        }
        (t.elapsed(), bytes)
    };
    // The same with `n` files decrypted at once (tasks on the runtime's workers), each
    // task taking the next file not yet taken: the SDK at the parallelism of `n` connections.
    let sdk_parallel_pass = |n: usize| {
        let (platform, files, key) = (platform.clone(), files.clone(), key.clone());
        async move {
            let t = Instant::now();
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (platform, files, key, next) =
                    (platform.clone(), files.clone(), key.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    let mut bytes = 0u64;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        let reader = platform.store().get_stream(&f.object_key).await.unwrap();
                        bytes +=
                            medimint_sdk::crypto::decrypt_async(&key, reader, tokio::io::sink())
                                .await
                                .unwrap();
                    }
                    bytes
                }));
            }
            let mut bytes = 0;
            for task in tasks {
                bytes += task.await.unwrap();
            }
            (t.elapsed(), bytes)
        }
    };
    let (_, sdk_bytes) = sdk_pass().await;

    // The API: the same files over HTTP, one keep-alive connection.
    let (addr, _state, api) = serve(&platform, dir.path()).await;
    let (bearer, _) = api.sign_in_as(&email).await;
    let mut conn = Conn::open(addr).await;
    // The first pass includes the session's on-chain access record (one sponsored
    // transaction, before the first byte); the rounds after it do not. Each round times the
    // SDK and then the API, so that both meet the same load on a shared machine.
    let first = api_pass(&mut conn, &files, &token_id, &bearer).await;
    assert_eq!(first.bytes, sdk_bytes);
    let rounds = env_or("MEDIMINT_BENCH_ROUNDS", 5).max(1);
    let mut floor = Floor::start(platform.clone(), files.clone(), key.clone(), sdk_bytes).await;
    let mut sdk_times = Vec::new();
    let mut api_times = Vec::new();
    let mut floor_times = Vec::new();
    let mut ratios = Vec::new();
    let mut like_for_like = Vec::new();
    let (mut sdk_cpu, mut api_cpu, mut floor_cpu) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let cpu = cpu_time();
        let (sdk, _) = sdk_pass().await;
        let between = cpu_time();
        let pass = api_pass(&mut conn, &files, &token_id, &bearer).await;
        let after = cpu_time();
        let socket = floor.pass(true).await;
        sdk_cpu += between.saturating_sub(cpu);
        api_cpu += after.saturating_sub(between);
        floor_cpu += cpu_time().saturating_sub(after);
        assert_eq!(pass.bytes, sdk_bytes);
        ratios.push(sdk.as_secs_f64() / pass.time.as_secs_f64());
        like_for_like.push(socket.as_secs_f64() / pass.time.as_secs_f64());
        sdk_times.push(sdk);
        api_times.push(pass);
        floor_times.push(socket);
    }
    let mbps = |d: Duration| sdk_bytes as f64 / 1e6 / d.as_secs_f64();
    eprintln!(
        "download of {} files, {:.1} MB: first pass through the API (records the access) \
         {:.3} s ({:.0} MB/s), of which {:.3} s until the responses' headers",
        files.len(),
        sdk_bytes as f64 / 1e6,
        first.time.as_secs_f64(),
        mbps(first.time),
        first.to_headers.as_secs_f64(),
    );
    for (i, (sdk, api)) in sdk_times.iter().zip(&api_times).enumerate() {
        eprintln!(
            "  round {}: SDK {:.3} s ({:.0} MB/s); API {:.3} s ({:.0} MB/s; {:.3} s until the \
             headers, slowest file {:.1} ms): {:.0} % of the SDK",
            i + 1,
            sdk.as_secs_f64(),
            mbps(*sdk),
            api.time.as_secs_f64(),
            mbps(api.time),
            api.to_headers.as_secs_f64(),
            api.slowest.as_secs_f64() * 1e3,
            100.0 * ratios[i],
        );
    }
    eprintln!(
        "CPU time of the process over the {rounds} rounds: SDK {:.2} s, API {:.2} s (server and \
         the test's HTTP client together): the API's work is {:.1} times the SDK's",
        sdk_cpu.as_secs_f64(),
        api_cpu.as_secs_f64(),
        api_cpu.as_secs_f64() / sdk_cpu.as_secs_f64().max(1e-9),
    );
    eprintln!(
        "CPU time of the SDK decrypting into a loopback socket over the {rounds} rounds (no \
         HTTP; the test's client reading): {:.2} s",
        floor_cpu.as_secs_f64(),
    );
    let mut to_headers: Vec<Duration> = api_times.iter().map(|p| p.to_headers).collect();
    to_headers.sort();
    sdk_times.sort();
    api_times.sort_by_key(|p| p.time);
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "median of {rounds} rounds, one connection: SDK {:.3} s ({:.0} MB/s), API {:.3} s \
         ({:.0} MB/s): the API at {:.0} % of the SDK (median of the rounds' ratios; from {:.0} % \
         to {:.0} %); until the responses' headers {:.1} ms a round (median, {} files)",
        sdk_times[rounds / 2].as_secs_f64(),
        mbps(sdk_times[rounds / 2]),
        api_times[rounds / 2].time.as_secs_f64(),
        mbps(api_times[rounds / 2].time),
        100.0 * ratios[rounds / 2],
        100.0 * ratios[0],
        100.0 * ratios[rounds - 1],
        to_headers[rounds / 2].as_secs_f64() * 1e3,
        files.len(),
    );
    floor_times.sort();
    like_for_like.sort_by(f64::total_cmp);
    eprintln!(
        "median of {rounds} rounds, the SDK decrypting into a loopback socket (no HTTP): {:.3} s \
         ({:.0} MB/s): the API at {:.0} % of it (like for like: both deliver the bytes through \
         one loopback TCP connection; median of the rounds' ratios, from {:.0} % to {:.0} %)",
        floor_times[rounds / 2].as_secs_f64(),
        mbps(floor_times[rounds / 2]),
        100.0 * like_for_like[rounds / 2],
        100.0 * like_for_like[0],
        100.0 * like_for_like[rounds - 1],
    );
    let (mut raw, mut raw_cpu) = (Vec::new(), Duration::ZERO);
    for _ in 0..rounds {
        let c = cpu_time();
        raw.push(floor.pass(false).await);
        raw_cpu += cpu_time().saturating_sub(c);
    }
    raw.sort();
    eprintln!(
        "median of {rounds} rounds, the same bytes through a loopback socket alone (no HTTP, no \
         decryption): {:.3} s ({:.0} MB/s); CPU time {:.2} s",
        raw[rounds / 2].as_secs_f64(),
        mbps(raw[rounds / 2]),
        raw_cpu.as_secs_f64(),
    );

    // N files in flight over N connections (a browser's parallel requests), against the
    // SDK decrypting N files at once: `MEDIMINT_BENCH_PARALLEL` (2,4; empty: none).
    let parallel = std::env::var("MEDIMINT_BENCH_PARALLEL").unwrap_or_else(|_| "2,4".into());
    for n in parallel
        .split(',')
        .filter_map(|n| n.trim().parse::<usize>().ok())
    {
        let n = n.max(1);
        let mut conns = Vec::new();
        for _ in 0..n {
            conns.push(Conn::open(addr).await);
        }
        let mut ratios = Vec::new();
        let (mut sdk_times, mut api_times) = (Vec::new(), Vec::new());
        let (mut sdk_cpu, mut api_cpu) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            let cpu = cpu_time();
            let (sdk, bytes) = sdk_parallel_pass(n).await;
            assert_eq!(bytes, sdk_bytes);
            let between = cpu_time();
            let (through_api, bytes) =
                api_parallel_pass(&mut conns, &files, &token_id, &bearer).await;
            sdk_cpu += between.saturating_sub(cpu);
            api_cpu += cpu_time().saturating_sub(between);
            assert_eq!(bytes, sdk_bytes);
            ratios.push(sdk.as_secs_f64() / through_api.as_secs_f64());
            sdk_times.push(sdk);
            api_times.push(through_api);
        }
        sdk_times.sort();
        api_times.sort();
        ratios.sort_by(f64::total_cmp);
        eprintln!(
            "median of {rounds} rounds, {n} files in flight: SDK {:.3} s ({:.0} MB/s), API \
             {:.3} s ({:.0} MB/s over {n} connections): the API at {:.0} % of the SDK (from \
             {:.0} % to {:.0} %); CPU time SDK {:.2} s, API {:.2} s",
            sdk_times[rounds / 2].as_secs_f64(),
            mbps(sdk_times[rounds / 2]),
            api_times[rounds / 2].as_secs_f64(),
            mbps(api_times[rounds / 2]),
            100.0 * ratios[rounds / 2],
            100.0 * ratios[0],
            100.0 * ratios[rounds - 1],
            sdk_cpu.as_secs_f64(),
            api_cpu.as_secs_f64(),
        );
    }
    let _ = std::thread::spawn(move || drop(devnet)).join();
}
