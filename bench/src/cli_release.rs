//! `medimint-bench cli`: `medimint release` end to end against `medimint up`, as a user runs
//! it (issue 20): the CLI process reads the study's folder, checks and seals every file,
//! stores it in `up`'s data directory and proposes the release on `up`'s devnet through the
//! relayer; the figure is the study's bytes over the command's wall time, from spawn to exit,
//! against the hardware limit measured in the same round ([`crate::hardware`]).
//!
//! ```text
//! medimint-bench cli [--medimint PATH] [--size-mib N] [--runs N] [--work-dir DIR]
//!                    [--cores N] [--openssl-seconds S] [--json FILE|-] [--report-only]
//! ```
//!
//! `up`'s data directory (the store, the database) is in the work folder, so `--work-dir
//! /dev/shm` measures on tmpfs (target ≥ 50 % of the hardware limit) and a folder on the disk
//! measures the disk (target ≥ 70 % of the store's write rate). Every round releases its own
//! copy of the generated study (the last pixel bytes of each file made the copy's own), so
//! each is a new release with its own checksum root.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::gen;
use crate::hardware::{self, HardwareRun};
use crate::report::{cpu_model, median, Rate};

const USAGE: &str = "usage: medimint-bench cli [--medimint PATH] [--size-mib N] [--runs N] \
[--work-dir DIR] [--cores N] [--openssl-seconds S] [--json FILE|-] [--report-only]";

/// Targets of issue 20 for `medimint release` against `up`.
const TARGET_OF_LIMIT_TMPFS: f64 = 0.50;
const TARGET_OF_STORE_WRITE_DISK: f64 = 0.70;

/// One round.
#[derive(Debug, Serialize)]
struct Round {
    hardware: HardwareRun,
    seconds: f64,
    bytes_per_s: f64,
    /// The release process's high-water RSS, sampled every 20 ms (VmHWM).
    peak_rss_kib: u64,
    token_id: String,
}

/// The whole run, as `--json` writes it.
#[derive(Debug, Serialize)]
struct CliReport {
    cpu: String,
    cores: usize,
    study_bytes: u64,
    files: usize,
    work_dir_fs: String,
    rounds: Vec<Round>,
    release_mb_s: Rate,
    limit_mb_s: Rate,
    share_of_limit: f64,
    share_of_store_write: f64,
    target: String,
    met: bool,
}

/// `up` running in the background; killed when dropped.
struct Up {
    child: Child,
    data: PathBuf,
    rpc_url: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    fn start(medimint: &Path, data: &Path) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for the devnet: {e}"))?
            .port();
        let rpc_url = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(medimint)
            .args(["up", "--ledger-ms", "100", "--api-port", "0"])
            .env("MEDIMINT_DATA_DIR", data)
            .env("MEDIMINT_RPC_URL", &rpc_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {} up: {e}", medimint.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let up = Up {
            child,
            data: data.to_owned(),
            rpc_url,
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("ready") => break,
                Ok(_) => {}
                Err(_) => return Err("`medimint up` did not print \"ready\" within 300 s".into()),
            }
        }
        // Keep draining `up`'s output so that it never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Ok(up)
    }

    fn command(&self, medimint: &Path) -> Command {
        let mut c = Command::new(medimint);
        c.env("MEDIMINT_DATA_DIR", &self.data)
            .env("MEDIMINT_RPC_URL", &self.rpc_url)
            .stdin(Stdio::null());
        c
    }
}

/// `cli`.
pub fn run(args: &[String]) -> Result<bool, String> {
    let mut medimint = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("medimint")));
    let (mut mib, mut runs, mut work, mut cores, mut secs) =
        (1024u64, 3usize, None::<PathBuf>, None::<usize>, 2u32);
    let (mut json, mut report_only) = (None::<String>, false);
    let mut f = crate::flags::Flags::new(args, USAGE);
    while let Some(a) = f.next()? {
        match a {
            "--medimint" => medimint = Some(f.value(a)?.into()),
            "--size-mib" => mib = f.number::<u64>(a)?.clamp(1, 65_536),
            "--runs" => runs = f.number::<u64>(a)?.clamp(1, 50) as usize,
            "--work-dir" => work = Some(f.value(a)?.into()),
            "--cores" => cores = Some(f.number::<u64>(a)?.clamp(1, 1024) as usize),
            "--openssl-seconds" => secs = f.number::<u64>(a)?.clamp(1, 60) as u32,
            "--json" => json = Some(f.value(a)?),
            "--report-only" => report_only = true,
            other => return Err(f.unknown(other)),
        }
    }
    let medimint = medimint
        .filter(|p| p.is_file())
        .ok_or("no medimint binary beside this one: build it (cargo build --release -p medimint-cli) or pass --medimint PATH")?;
    let cores = cores.unwrap_or_else(crate::all_cores);
    let temp = crate::work_folder(work.as_deref(), "medimint-cli-release-")?;
    let fs = filesystem_of(temp.path());

    eprintln!("cli: generating a study of {mib} MiB");
    let study = gen::generate(&temp.path().join("study"), mib << 20, None, |_, _| {})
        .map_err(|e| format!("generating the study: {e}"))?;
    let bytes: u64 = study.files.iter().map(|(_, s)| s).sum();
    let copies: Vec<PathBuf> = (1..=runs as u64)
        .map(|k| {
            let to = temp.path().join(format!("copy-{k}"));
            crate::queue::copy_distinct(&study, &to, k)
                .map(|()| to)
                .map_err(|e| format!("copying the study: {e}"))
        })
        .collect::<Result<_, _>>()?;
    std::fs::remove_dir_all(&study.dir).map_err(|e| format!("removing the study: {e}"))?;

    eprintln!("cli: starting `{} up` (data in {})", medimint.display(), fs);
    let up = Up::start(&medimint, &temp.path().join("data"))?;
    let added = up
        .command(&medimint)
        .args([
            "issuer",
            "add",
            "--email",
            "pacs@bench.example",
            "--name",
            "Bench Imaging",
            "--kind",
            "hospital",
            "--jurisdiction",
            "US-CA",
            "--evidence",
            "NPI 1234567890",
            "--json",
        ])
        .output()
        .map_err(|e| format!("medimint issuer add: {e}"))?;
    if !added.status.success() {
        return Err(format!(
            "medimint issuer add failed: {}",
            String::from_utf8_lossy(&added.stderr)
        ));
    }

    // The patient as the generated headers name them (the release checks they match).
    let birth = format!(
        "{}-{}-{}",
        &gen::BIRTH_DATE[..4],
        &gen::BIRTH_DATE[4..6],
        &gen::BIRTH_DATE[6..]
    );
    let name = format!(
        "{}^{}",
        gen::PATIENT_FAMILY.to_uppercase(),
        gen::PATIENT_GIVEN.to_uppercase()
    );
    let mut rounds = Vec::new();
    for (k, copy) in copies.iter().enumerate() {
        let hw = hardware::measure(temp.path(), bytes, cores, secs)?;
        let started = Instant::now();
        let mut child = up
            .command(&medimint)
            .arg("release")
            .arg(copy)
            .args([
                "--patient-email",
                gen::PATIENT_EMAIL,
                "--patient-name",
                &name,
                "--birth-date",
                &birth,
                "--patient-id",
                gen::PATIENT_ID,
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("medimint release: {e}"))?;
        let peak = sample_peak_rss(&mut child);
        let out = child
            .wait_with_output()
            .map_err(|e| format!("medimint release: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "medimint release printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if !out.status.success() || answer["outcome"] != "released" {
            return Err(format!("round {}: not released: {answer}", k + 1));
        }
        let token_id = answer["token_id"].as_str().unwrap_or_default().to_owned();
        let rate = bytes as f64 / seconds;
        eprintln!(
            "  round {}: limit {:.0} MB/s ({}), release {:.2} s = {:.0} MB/s ({:.0} % of the limit), peak RSS {:.1} MiB, token {token_id}",
            k + 1,
            hw.limit_bytes_per_s / 1e6,
            hw.bound_by(),
            seconds,
            rate / 1e6,
            100.0 * rate / hw.limit_bytes_per_s,
            peak as f64 / 1024.0
        );
        rounds.push(Round {
            hardware: hw,
            seconds,
            bytes_per_s: rate,
            peak_rss_kib: peak,
            token_id,
        });
    }
    drop(up);

    let mb = |f: &dyn Fn(&Round) -> f64| {
        Rate::of(&rounds.iter().map(|r| f(r) / 1e6).collect::<Vec<_>>())
    };
    let release = mb(&|r| r.bytes_per_s);
    let limit = mb(&|r| r.hardware.limit_bytes_per_s);
    let share_of_limit = median(
        &rounds
            .iter()
            .map(|r| r.bytes_per_s / r.hardware.limit_bytes_per_s)
            .collect::<Vec<_>>(),
    );
    let share_of_store_write = median(
        &rounds
            .iter()
            .map(|r| r.bytes_per_s / r.hardware.store_write_bytes_per_s)
            .collect::<Vec<_>>(),
    );
    let tmpfs = fs == "tmpfs";
    let (target, met) = if tmpfs {
        (
            format!(
                ">= {:.0} % of the hardware limit (tmpfs)",
                TARGET_OF_LIMIT_TMPFS * 100.0
            ),
            share_of_limit >= TARGET_OF_LIMIT_TMPFS,
        )
    } else {
        (
            format!(
                ">= {:.0} % of the store's write rate ({fs})",
                TARGET_OF_STORE_WRITE_DISK * 100.0
            ),
            share_of_store_write >= TARGET_OF_STORE_WRITE_DISK,
        )
    };
    let peak = rounds.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
    println!(
        "medimint release against medimint up, {} files, {:.0} MB, {} round(s), {} ({cores} cores), work folder on {fs}",
        study.files.len(),
        bytes as f64 / 1e6,
        rounds.len(),
        cpu_model()
    );
    println!("| measurement | MB/s median (min–max) |");
    println!("|---|---:|");
    println!(
        "| `medimint release` (wall time of the command) | {} |",
        release.text()
    );
    println!("| hardware limit | {} |", limit.text());
    println!(
        "| part: crypto, both over the same bytes | {} |",
        mb(&|r| r.hardware.crypto_bytes_per_s).text()
    );
    println!(
        "| part: store write | {} |",
        mb(&|r| r.hardware.store_write_bytes_per_s).text()
    );
    println!(
        "release: {:.0} % of the hardware limit, {:.0} % of the store's write rate (medians of the rounds); peak RSS {:.1} MiB; target {target}: {}",
        share_of_limit * 100.0,
        share_of_store_write * 100.0,
        peak as f64 / 1024.0,
        if met { "met" } else { "MISSED" }
    );
    let report = CliReport {
        cpu: cpu_model(),
        cores,
        study_bytes: bytes,
        files: study.files.len(),
        work_dir_fs: fs,
        rounds,
        release_mb_s: release,
        limit_mb_s: limit,
        share_of_limit,
        share_of_store_write,
        target,
        met,
    };
    if let Some(dest) = json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        if dest == "-" {
            println!("{text}");
        } else {
            std::fs::write(&dest, text).map_err(|e| format!("{dest}: {e}"))?;
        }
    }
    Ok(met || report_only)
}

/// The high-water RSS (KiB) of `child`, sampled every 20 ms until it exits.
fn sample_peak_rss(child: &mut Child) -> u64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while let Ok(None) = child.try_wait() {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    peak
}

/// The file system type of the mount holding `path` (`tmpfs`, `ext4`, …), from /proc/mounts.
fn filesystem_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), fs.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
        .unwrap_or_else(|| "unknown".into())
}
