//! The health of a deployment as `medimint status` prints it: the RPC (the devnet locally),
//! the sponsor's balance, the index's lag, and the release queue with its dead letters.

use std::path::Path;

use medimint_platform::Platform;
use medimint_storage::Index;
use serde::Serialize;

/// Thresholds of [`check`].
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// The sponsor's balance below which it is unhealthy, in stroops.
    pub min_sponsor_stroops: i64,
    /// The index's lag above which it is unhealthy, in ledgers (60 ≈ 5 minutes).
    pub max_lag_ledgers: u32,
    /// Seconds since the index's last run above which it is unhealthy.
    pub max_index_age_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_sponsor_stroops: 100 * 10_000_000,
            max_lag_ledgers: 60,
            max_index_age_secs: 300,
        }
    }
}

/// One checked part.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// What was checked.
    pub name: String,
    /// Whether it is healthy.
    pub ok: bool,
    /// What was found, or what to do.
    pub detail: String,
}

/// Every part and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Whether every part is healthy.
    pub healthy: bool,
    /// The parts.
    pub parts: Vec<Part>,
}

fn part(name: &str, ok: bool, detail: String) -> Part {
    Part {
        name: name.into(),
        ok,
        detail,
    }
}

fn count_files(dir: &Path, suffix: &str) -> usize {
    fn walk(dir: &Path, suffix: &str, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, suffix, n);
            } else if p.to_string_lossy().ends_with(suffix) {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, suffix, &mut n);
    n
}

/// The sponsor's address and balance in stroops, read from the RPC.
///
/// # Errors
/// Why it could not be read, in words.
pub async fn sponsor_balance(platform: &Platform) -> Result<(String, i64), String> {
    let sponsor = platform.sponsor_address().map_err(|e| e.to_string())?;
    let balance = account_balance(&platform.config().network.rpc_url, &sponsor).await?;
    Ok((sponsor, balance))
}

async fn account_balance(rpc_url: &str, address: &str) -> Result<i64, String> {
    stellar_rpc_client::Client::new(rpc_url)
        .map_err(|e| e.to_string())?
        .get_account(address)
        .await
        .map(|a| a.balance)
        .map_err(|e| e.to_string())
}

/// Checks every part; never fails (a part that cannot be checked is unhealthy, with why).
pub async fn check(platform: &Platform, index: Option<&Index>, t: Thresholds) -> Health {
    let mut parts = Vec::new();
    let rpc_url = platform.config().network.rpc_url.clone();
    let latest = match platform.rpc().latest_ledger().await {
        Ok(l) => {
            parts.push(part("rpc", true, format!("{rpc_url} at ledger {l}")));
            Some(l)
        }
        Err(e) => {
            parts.push(part(
                "rpc",
                false,
                format!("{rpc_url} does not answer ({e}); is `medimint up` running?"),
            ));
            None
        }
    };
    match platform.sponsor_address() {
        Ok(sponsor) => {
            let balance = account_balance(&rpc_url, &sponsor).await;
            parts.push(match balance {
                Ok(b) => part(
                    "sponsor",
                    b >= t.min_sponsor_stroops,
                    format!(
                        "{sponsor} holds {}.{:07} XLM{}",
                        b / 10_000_000,
                        b % 10_000_000,
                        if b >= t.min_sponsor_stroops {
                            String::new()
                        } else {
                            format!(
                                "; below {} XLM: fund it",
                                t.min_sponsor_stroops / 10_000_000
                            )
                        }
                    ),
                ),
                Err(e) => part(
                    "sponsor",
                    false,
                    format!("{sponsor}: cannot read its balance: {e}"),
                ),
            });
        }
        Err(e) => parts.push(part("sponsor", false, e.to_string())),
    }
    match index {
        None => parts.push(part("index", false, "no index is configured".into())),
        Some(index) => match index.cursor().await {
            Ok(Some(c)) => {
                let lag = latest.map_or(c.lag_ledgers(), |l| (l + 1).saturating_sub(c.ledger));
                let age = medimint_storage::now().saturating_sub(c.updated_at);
                let ok = lag <= t.max_lag_ledgers && age <= t.max_index_age_secs;
                let rebuilt = match (&c.rebuilding, &c.last_rebuild) {
                    (Some(next), Some(why)) => {
                        format!("; a rebuild is under way (next token {next}): {why}")
                    }
                    _ => String::new(),
                } + &match &c.last_rebuild {
                    Some(why) => format!("; rebuilt {} times, last: {why}", c.rebuilds),
                    None => String::new(),
                };
                parts.push(part(
                    "index",
                    ok,
                    format!("{lag} ledgers behind, last run {age} s ago{rebuilt}"),
                ));
            }
            Ok(None) => parts.push(part(
                "index",
                false,
                "the indexer has not run yet; start `medimint up`".into(),
            )),
            Err(e) => parts.push(part("index", false, format!("cannot read the index: {e}"))),
        },
    }
    let dead = count_files(&platform.config().dead_letter_dir(), ".json");
    let queued = platform
        .config()
        .local_objects_dir()
        .map(|d| count_files(&d.join("inbox"), "release.json"));
    parts.push(part(
        "queue",
        dead == 0,
        match queued {
            Some(q) => format!("{q} manifests in the inbox, {dead} dead letters"),
            None => format!("{dead} dead letters"),
        } + if dead > 0 {
            format!(" (in {})", platform.config().dead_letter_dir().display())
        } else {
            String::new()
        }
        .as_str(),
    ));
    Health {
        healthy: parts.iter().all(|p| p.ok),
        parts,
    }
}
