//! `medimint up`: the whole local stack in one process — the devnet, the deployed suite,
//! object storage, the database and a watched inbox that plays the S3 upload trigger.

use std::collections::HashSet;
use std::time::Duration;

use medimint_ingest::{parse_manifest_key, Outcome};

use super::common::{open, runtime, Global};

/// Start the local stack and watch the inbox until stopped (Ctrl-C).
#[derive(clap::Args)]
pub struct Args {
    /// Milliseconds between ledger closes of the devnet.
    #[arg(long, default_value_t = 1000)]
    ledger_ms: u64,
    /// How often the inbox is scanned for new `release.json` files, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Connect to the configured RPC instead of starting a devnet in this process.
    #[arg(long)]
    no_devnet: bool,
    /// The port of the HTTP API (the router API Gateway serves in AWS) on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    api_port: u16,
    /// How often the indexer follows the chain's events, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    index_ms: u64,
    /// Requests a minute the API takes from one client IP and from one account (default
    /// 300, as in AWS); raise it for a load test or an API fuzzer on this machine.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    api_rate_per_minute: u32,
    /// Load demo data (an issuer, a study for jane@example.org) and print the web app's URL
    /// with sign-in codes for the demo patient and doctor.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    global: Global,
}

/// The port of a local RPC URL (`http://127.0.0.1:8000` → 8000).
fn local_port(url: &str) -> anyhow::Result<u16> {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "network.rpc_url {url} has no port; set one, e.g. http://127.0.0.1:8000"
            )
        })
}

/// Serves the HTTP API over `platform` on 127.0.0.1:`port` in the background; returns its
/// base URL.
async fn serve_api(
    platform: &std::sync::Arc<medimint_platform::Platform>,
    port: u16,
    rate_per_minute: u32,
    outbox: &std::path::Path,
    index: medimint_storage::Index,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen on 127.0.0.1:{port} for the API: {e}; pass --api-port")
        })?;
    let port = listener.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut config = medimint_api::ApiConfig::new(&base, &platform.config().network.passphrase)
        .map_err(|e| anyhow::anyhow!("the API's configuration: {e}"))?;
    config.cors_origins = vec![base.clone()];
    config.limits.per_ip_per_minute = rate_per_minute;
    config.limits.per_account_per_minute = rate_per_minute;
    let state = medimint_api::opener::with_platform(
        config,
        platform.seed(),
        platform.clone(),
        std::sync::Arc::new(medimint_api::mailer::OutboxMailer::new(outbox)),
    );
    state.set_index(index);
    // The web app at `/` beside the API (src/web.rs).
    let app = crate::web::with_web(medimint_api::app(state));
    tokio::spawn(async move {
        if let Err(e) = medimint_api::serve(listener, app).await {
            eprintln!("the API stopped: {e}");
        }
    });
    Ok(base)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.global.load()?;
    let _devnet = if args.no_devnet {
        None
    } else {
        if !config.is_local_network() {
            anyhow::bail!(
                "network.rpc_url {} is not on this machine; `medimint up` starts a devnet only \
                 for a local URL (use --no-devnet to run the inbox against it)",
                config.network.rpc_url
            );
        }
        let port = local_port(&config.network.rpc_url)?;
        Some(
            medimint_devnet::Devnet::start(medimint_devnet::Config {
                port,
                data_dir: Some(config.devnet_dir()),
                ledger_ms: args.ledger_ms,
                passphrase: config.network.passphrase.clone(),
                ..Default::default()
            })
            .map_err(|e| anyhow::anyhow!("starting the devnet on port {port}: {e}; is another `medimint up` or devnet running?"))?,
        )
    };
    runtime()?.block_on(async {
        let platform = std::sync::Arc::new(open(&args.global, true).await?);
        let d = platform.deploy().await?;
        let c = platform.config();
        println!("medimint local stack");
        println!("  rpc url:       {}", c.network.rpc_url);
        println!("  passphrase:    {}", c.network.passphrase);
        println!("  study-token:   {}", d.study_token.id);
        println!("  issuer-reg.:   {}", d.issuer_registry.id);
        println!("  admin:         {}", d.admin);
        println!("  sponsor:       {}", platform.sponsor_address()?);
        println!("  data dir:      {}", c.data_dir.display());
        match c.local_objects_dir() {
            Some(dir) => println!(
                "  inbox:         {}/inbox/<issuer>/<release-id>/ (release.json last)",
                dir.display()
            ),
            None => println!("  inbox:         the bucket's inbox/ prefix"),
        }
        println!("  deployment:    {}", c.deployment_path().display());
        println!("  dead letters:  {}", c.dead_letter_dir().display());
        let outbox = c.data_dir.join("outbox");
        // The indexer: chain events into the audit index, notifications into the outbox.
        let index = medimint_indexer_lambda::open::open_index(c).await?;
        let indexer =
            medimint_indexer_lambda::open::indexer(&platform, index.clone(), Default::default())?;
        tokio::spawn(medimint_indexer_lambda::task::background(
            indexer,
            Box::new(medimint_indexer_lambda::notify::DbRecipients(
                platform.db().clone(),
            )),
            Box::new(medimint_indexer_lambda::notify::OutboxSender::new(&outbox)),
            Duration::from_millis(args.index_ms.max(100)),
        ));
        println!(
            "  index:         {} (explorer at /v1/explorer/totals)",
            c.data_dir.join("index.sqlite3").display()
        );
        let api_url = serve_api(
            &platform,
            args.api_port,
            args.api_rate_per_minute,
            &outbox,
            index,
        )
        .await?;
        println!(
            "  api:           {api_url}/v1/health (docs/api.md; sign-in codes in {})",
            outbox.display()
        );
        println!("  web app:       {api_url}/ (docs/web.md)");
        if args.demo {
            crate::web::demo(&platform, &api_url, &outbox).await?;
        }
        println!("ready");
        // Manifests dead-lettered in this run: left in the inbox for a replay, not retried
        // on every scan.
        let mut dead: HashSet<String> = HashSet::new();
        let poll = Duration::from_millis(args.poll_ms.max(50));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {
                    println!("stopping");
                    return Ok(());
                }
                _ = tokio::time::sleep(poll) => {}
            }
            let objects = match platform.store().list("inbox/").await {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("cannot list the inbox: {e}");
                    continue;
                }
            };
            for key in objects.iter().map(|o| &o.key) {
                let Ok(release) = parse_manifest_key(key) else {
                    continue;
                };
                if dead.contains(key) {
                    continue;
                }
                match platform.process(&release).await {
                    Ok(Outcome::Released { token_id, .. }) => {
                        println!("{key}: released as token {token_id}");
                    }
                    Ok(Outcome::Rejected { report_key, .. }) => {
                        println!("{key}: refused, report at {report_key}");
                    }
                    Err(e) => {
                        eprintln!("{key}: {e}");
                        dead.insert(key.clone());
                    }
                }
            }
        }
    })
}
