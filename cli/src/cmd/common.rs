//! What the platform commands share: the configuration options, the runtime, progress on
//! stderr and `--json` output.

use std::io::IsTerminal;
use std::path::PathBuf;

use medimint_stack::{Config, Platform};
use serde::Serialize;

/// Options every platform command takes.
#[derive(clap::Args, Clone)]
pub struct Global {
    /// Configuration file (TOML; default `<data dir>/medimint.toml` if it exists). Every key
    /// can be overridden by an environment variable (docs/configuration.md).
    #[arg(long, env = "MEDIMINT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the result as JSON (for scripts); no progress output.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The configuration.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }
}

/// A multi-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Opens the platform of the configuration.
pub async fn open(global: &Global, create_seed: bool) -> anyhow::Result<Platform> {
    Ok(Platform::open(global.load()?, create_seed).await?)
}

/// A progress callback drawing a bar (`label [=====>    ] done/total eta`) on stderr when it
/// is a terminal; nothing when it is not or `--json` is given.
pub fn progress(global: &Global, label: &'static str) -> impl FnMut(usize, usize) {
    let show = !global.json && std::io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    move |done, total| {
        if !show {
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:32}] {pos}/{len} {elapsed_precise} (eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done >= total {
            bar.finish();
        }
    }
}

/// Prints `value` as JSON with `--json`, else the text `text` gives.
pub fn output<T: Serialize>(
    global: &Global,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if global.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

/// A date `YYYY-MM-DD` (end of that day, UTC) or Unix seconds, as Unix seconds.
pub fn parse_until(s: &str) -> anyhow::Result<u64> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(secs);
    }
    let parts: Vec<&str> = s.split('-').collect();
    let bad = || anyhow::anyhow!("--until {s:?}: give a date as YYYY-MM-DD or Unix seconds");
    if parts.len() != 3 {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) = (
        parts[0].parse().map_err(|_| bad())?,
        parts[1].parse().map_err(|_| bad())?,
        parts[2].parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm), end of the day.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + 86_399).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_dates() {
        assert_eq!(parse_until("1970-01-01").unwrap(), 86_399);
        assert_eq!(parse_until("2027-03-01").unwrap(), 1_803_945_599);
        assert_eq!(parse_until("1700000000").unwrap(), 1_700_000_000);
        for bad in ["2027-13-01", "tomorrow", "2027-03"] {
            let err = parse_until(bad).unwrap_err().to_string();
            assert!(err.contains("YYYY-MM-DD"), "{err}");
        }
    }
}
