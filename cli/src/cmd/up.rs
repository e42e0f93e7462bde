//! `medimint up`: the whole local stack in one process — the devnet, the deployed suite,
//! object storage, the database and a watched inbox that plays the S3 upload trigger.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use medimint_ingest::{process_key, Outcome};

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
        let platform = open(&args.global, true).await?;
        let d = platform.deploy().await?;
        let ingest = platform.ingest()?;
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
        println!("ready");
        // Keys of manifests that failed transiently, with when to try again.
        let mut waiting: HashMap<String, (Instant, Duration)> = HashMap::new();
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
            for key in objects
                .iter()
                .map(|o| &o.key)
                .filter(|k| k.ends_with("/release.json"))
            {
                if waiting.get(key).is_some_and(|(at, _)| Instant::now() < *at) {
                    continue;
                }
                match process_key(&ingest, key).await {
                    Ok(Some(Outcome::Released { token_id, .. })) => {
                        waiting.remove(key);
                        println!("{key}: released as token {token_id}");
                    }
                    Ok(Some(Outcome::Rejected { report_key, .. })) => {
                        waiting.remove(key);
                        println!("{key}: refused, report at {report_key}");
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let delay = waiting
                            .get(key)
                            .map_or(poll, |(_, d)| (*d * 2).min(Duration::from_secs(60)));
                        eprintln!("{key}: {e}; retrying in {} s", delay.as_secs().max(1));
                        waiting.insert(key.clone(), (Instant::now() + delay, delay));
                    }
                }
            }
        }
    })
}
