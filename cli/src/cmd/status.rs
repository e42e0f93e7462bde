//! `medimint status`: the health of the local stack (or of the configured network): the
//! RPC, the sponsor's balance, the index's lag, the inbox and its dead letters. Exits 1 when
//! a part is unhealthy, 2 when the check itself could not run.

use medimint_indexer_lambda::health::{check, Health, Part, Thresholds};

use super::common::{open, runtime, Global};

/// Print the health of the stack; exit 1 when unhealthy.
#[derive(clap::Args)]
pub struct Args {
    /// The index lag (in ledgers) above which the index counts as unhealthy.
    #[arg(long, default_value_t = 60)]
    max_lag: u32,
    /// The sponsor balance (in XLM) below which the sponsor counts as unhealthy.
    #[arg(long, default_value_t = 100)]
    min_sponsor_xlm: i64,
    #[command(flatten)]
    global: Global,
}

async fn health(args: &Args) -> anyhow::Result<Health> {
    let rpc_url = args.global.load()?.network.rpc_url;
    let platform = match open(&args.global, false).await {
        Ok(p) => p,
        // Without the platform (its RPC down, most often) only that can be said.
        Err(e) => {
            return Ok(Health {
                healthy: false,
                parts: vec![Part {
                    name: "rpc".into(),
                    ok: false,
                    detail: format!(
                    "cannot open the platform against {rpc_url}: {e:#}; is `medimint up` running?"
                ),
                }],
            })
        }
    };
    let index = medimint_indexer_lambda::open::open_index(platform.config())
        .await
        .ok();
    let t = Thresholds {
        min_sponsor_stroops: args.min_sponsor_xlm.saturating_mul(10_000_000),
        max_lag_ledgers: args.max_lag,
        ..Thresholds::default()
    };
    Ok(check(&platform, index.as_ref(), t).await)
}

pub fn run(args: Args) -> std::process::ExitCode {
    let health = match runtime().and_then(|rt| rt.block_on(health(&args))) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&health).unwrap_or_default()
        );
    } else {
        for p in &health.parts {
            println!(
                "{} {:<8} {}",
                if p.ok { "ok  " } else { "FAIL" },
                p.name,
                p.detail
            );
        }
        println!(
            "{}",
            if health.healthy {
                "healthy"
            } else {
                "unhealthy"
            }
        );
    }
    if health.healthy {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
