//! The figures: a table, JSON and a Markdown snippet for docs/performance.md.

use serde::{Deserialize, Serialize};

use crate::download::DownloadRun;
use crate::gen::Study;
use crate::hardware::HardwareRun;
use crate::limit::LimitRun;
use crate::rust_pipeline::PipelineRun;
use crate::{
    mb, TARGET_DOWNLOAD_OF_LIMIT, TARGET_OF_LIMIT, TARGET_OF_LIMIT_SMALL_FILES,
    TARGET_PEAK_RSS_MIB, TARGET_TIMES_PYTHON, TARGET_VERIFY_OF_SHA256,
};

/// What `reference_ingest.py` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct PythonRun {
    pub seconds: f64,
    pub bytes: u64,
    pub files: usize,
    pub peak_rss_kib: u64,
}

/// One run of one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub seconds: f64,
    pub bytes: u64,
    pub files: usize,
    pub peak_rss_kib: u64,
    /// Proposals made (the Rust pipeline only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<usize>,
}

impl Measured {
    pub fn from_limit(l: &LimitRun) -> Self {
        Self {
            seconds: l.seconds,
            bytes: l.bytes,
            files: l.files,
            peak_rss_kib: l.peak_rss_kib,
            tokens: None,
        }
    }

    pub fn from_pipeline(r: &PipelineRun) -> Self {
        Self {
            seconds: r.seconds,
            bytes: r.bytes,
            files: r.files,
            peak_rss_kib: r.peak_rss_kib,
            tokens: Some(r.tokens),
        }
    }

    /// The download's (`verify` false) or the verification's (`verify` true) half of a run.
    pub fn from_download(d: &DownloadRun, verify: bool) -> Self {
        Self {
            seconds: if verify {
                d.verify_seconds
            } else {
                d.download_seconds
            },
            bytes: d.bytes,
            files: d.files,
            peak_rss_kib: d.peak_rss_kib,
            tokens: None,
        }
    }

    pub fn from_python(p: &PythonRun) -> Self {
        Self {
            seconds: p.seconds,
            bytes: p.bytes,
            files: p.files,
            peak_rss_kib: p.peak_rss_kib,
            tokens: None,
        }
    }
}

/// Median of `values` (the mean of the middle two for an even count); 0 if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `/proc/cpuinfo`'s model name.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// A rate over the runs: median, min and max, 10^6 bytes per second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Rate {
    pub fn of(values: &[f64]) -> Self {
        Rate {
            median: median(values),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(0.0, f64::max),
        }
    }

    /// "1234 (1100–1300)".
    pub fn text(&self) -> String {
        format!("{:.0} ({:.0}–{:.0})", self.median, self.min, self.max)
    }
}

/// The runs of one measurement, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Median wall time over the runs, seconds.
    pub median_seconds: f64,
    /// Study bytes / median time, 10^6 bytes per second.
    pub mb_per_s: f64,
    /// Slowest and fastest run, MB/s.
    pub min_mb_per_s: f64,
    pub max_mb_per_s: f64,
    /// Largest peak RSS over the runs, MiB.
    pub peak_rss_mib: f64,
    pub runs: Vec<Measured>,
}

impl Summary {
    fn rate(&self) -> Rate {
        Rate {
            median: self.mb_per_s,
            min: self.min_mb_per_s,
            max: self.max_mb_per_s,
        }
    }
}

fn summarise(runs: Vec<Measured>, bytes: u64) -> Option<Summary> {
    if runs.is_empty() {
        return None;
    }
    let times: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    let median_seconds = median(&times);
    let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = times.iter().copied().fold(0.0, f64::max);
    Some(Summary {
        median_seconds,
        mb_per_s: mb(bytes) / median_seconds,
        min_mb_per_s: mb(bytes) / slowest,
        max_mb_per_s: mb(bytes) / fastest,
        peak_rss_mib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        runs,
    })
}

/// The hardware limit over the rounds: every part, MB/s.
#[derive(Debug, Clone, Serialize)]
pub struct Limit {
    pub cores: usize,
    /// `openssl speed -evp aes-256-gcm -multi cores`, 16 KiB blocks.
    pub aes: Rate,
    /// `openssl speed -evp sha256 -multi cores`, 16 KiB blocks.
    pub sha256: Rate,
    /// Both over the same bytes, 1 / (1/aes + 1/sha256).
    pub crypto: Rate,
    /// The study's size written into the work folder in 1 MiB pieces.
    pub store_write: Rate,
    /// min(crypto, store write), per round.
    pub limit: Rate,
    pub bound_by: String,
    pub runs: Vec<HardwareRun>,
}

impl Limit {
    fn new(runs: Vec<HardwareRun>) -> Self {
        let rate = |f: fn(&HardwareRun) -> f64| {
            Rate::of(&runs.iter().map(|r| f(r) / 1e6).collect::<Vec<_>>())
        };
        let crypto = rate(|r| r.crypto_bytes_per_s);
        let store_write = rate(|r| r.store_write_bytes_per_s);
        Limit {
            cores: runs.first().map_or(0, |r| r.cores),
            aes: rate(|r| r.aes_bytes_per_s),
            sha256: rate(|r| r.sha_bytes_per_s),
            crypto,
            store_write,
            limit: rate(|r| r.limit_bytes_per_s),
            bound_by: if store_write.median < crypto.median {
                "store write".into()
            } else {
                "crypto".into()
            },
            runs,
        }
    }
}

/// A target and whether it is met (`None`: not measured).
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub target: String,
    pub value: Option<f64>,
    pub met: Option<bool>,
}

/// Everything one `ingest` run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: String,
    pub study_bytes: u64,
    pub study_files: usize,
    /// `--file-kib`: every file one frame of this size (the many-small-files case).
    pub file_kib: Option<u64>,
    pub machine: Machine,
    /// The hardware limit (OpenSSL on every core the pipeline may use, and the store's
    /// write rate).
    pub limit: Limit,
    /// Reference: `ring` AES-256-GCM (the sdk's backend) + `sha2` over the same bytes on
    /// `limit.cores` threads, nothing written.
    pub sdk_backend: Summary,
    /// Reference: RustCrypto `aes-gcm` 0.10 + `sha2` on one core (the limit before issue 20).
    pub rustcrypto: Summary,
    /// The pipeline's runs; `None` if its first run failed (`pipeline_error`).
    pub rust: Option<Summary>,
    pub pipeline_error: Option<String>,
    pub python: Option<Summary>,
    /// Diagnostic (`--diagnose-store`): the pipeline over a store whose `put_stream` copies
    /// in 1 MiB pieces; not a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_buffered_put: Option<Summary>,
    /// `medimint download` of the released study (metadata, decrypt, hash, write).
    pub download: Option<Summary>,
    /// `medimint verify` of the downloaded files (hash them all again).
    pub verify: Option<Summary>,
    /// Rust MB/s over the hardware limit's MB/s (medians).
    pub of_limit: Option<f64>,
    /// Rust MB/s over Python MB/s.
    pub times_python: Option<f64>,
    pub targets: Vec<Target>,
}

/// Where it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub mem_total: String,
    pub load_before: String,
    pub load_after: String,
    pub utc: String,
}

fn machine(load_before: String, load_after: String) -> Machine {
    let cpu = cpu_model();
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let utc = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    Machine {
        cpu,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total,
        load_before,
        load_after,
        utc,
    }
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        study: &Study,
        command: String,
        limit: Vec<HardwareRun>,
        sdk_backend: Vec<Measured>,
        rustcrypto: Vec<Measured>,
        rust: Vec<Measured>,
        pipeline_error: Option<String>,
        python: Vec<Measured>,
        diagnostic: Vec<Measured>,
        (download, verify): (Vec<Measured>, Vec<Measured>),
        python_measured: bool,
        load_before: String,
        load_after: String,
    ) -> Self {
        let limit = Limit::new(limit);
        let sdk_backend = summarise(sdk_backend, study.bytes).expect("at least one run");
        let rustcrypto = summarise(rustcrypto, study.bytes).expect("at least one run");
        let rust = summarise(rust, study.bytes);
        let python = if python_measured {
            summarise(python, study.bytes)
        } else {
            None
        };
        let of_limit = rust.as_ref().map(|r| r.mb_per_s / limit.limit.median);
        let times_python = match (&rust, &python) {
            (Some(r), Some(p)) => Some(r.mb_per_s / p.mb_per_s),
            _ => None,
        };
        // A pipeline that failed misses every target; one not run (no Python) is unmeasured.
        let failed = rust.is_none();
        let of_limit_target = if study.file_kib.is_some() {
            TARGET_OF_LIMIT_SMALL_FILES
        } else {
            TARGET_OF_LIMIT
        };
        let download = summarise(download, study.bytes);
        let verify = summarise(verify, study.bytes);
        let download_of_limit = download.as_ref().map(|d| d.mb_per_s / limit.limit.median);
        let verify_of_sha = verify.as_ref().map(|v| v.mb_per_s / limit.sha256.median);
        let targets = vec![
            Target {
                name: "Rust pipeline / hardware limit".into(),
                target: format!(">= {:.0} %", of_limit_target * 100.0),
                value: of_limit,
                met: Some(of_limit.is_some_and(|v| v >= of_limit_target)),
            },
            Target {
                name: "Rust pipeline / Python reference".into(),
                target: format!(">= {TARGET_TIMES_PYTHON:.0}x"),
                value: times_python,
                met: if failed {
                    Some(false)
                } else {
                    times_python.map(|t| t >= TARGET_TIMES_PYTHON)
                },
            },
            Target {
                name: "Rust pipeline peak RSS".into(),
                target: format!("<= {TARGET_PEAK_RSS_MIB:.0} MiB"),
                value: rust.as_ref().map(|r| r.peak_rss_mib),
                met: Some(
                    rust.as_ref()
                        .is_some_and(|r| r.peak_rss_mib <= TARGET_PEAK_RSS_MIB),
                ),
            },
            Target {
                name: "download / hardware limit".into(),
                target: format!(">= {:.0} %", TARGET_DOWNLOAD_OF_LIMIT * 100.0),
                value: download_of_limit,
                met: Some(download_of_limit.is_some_and(|v| v >= TARGET_DOWNLOAD_OF_LIMIT)),
            },
            Target {
                name: "verify / openssl SHA-256 on all cores limit".into(),
                target: format!(">= {:.0} %", TARGET_VERIFY_OF_SHA256 * 100.0),
                value: verify_of_sha,
                met: Some(verify_of_sha.is_some_and(|v| v >= TARGET_VERIFY_OF_SHA256)),
            },
            Target {
                name: "download and verify peak RSS".into(),
                target: format!("<= {TARGET_PEAK_RSS_MIB:.0} MiB"),
                value: download.as_ref().map(|d| d.peak_rss_mib),
                met: Some(
                    download
                        .as_ref()
                        .is_some_and(|d| d.peak_rss_mib <= TARGET_PEAK_RSS_MIB),
                ),
            },
        ];
        Report {
            command,
            study_bytes: study.bytes,
            study_files: study.files.len(),
            file_kib: study.file_kib,
            machine: machine(load_before, load_after),
            limit,
            sdk_backend,
            rustcrypto,
            rust,
            pipeline_error,
            python,
            rust_buffered_put: summarise(diagnostic, study.bytes),
            download,
            verify,
            of_limit,
            times_python,
            targets,
        }
    }

    /// Whether every measured target is met (an unmeasured one does not fail the run).
    pub fn all_met(&self) -> bool {
        self.targets.iter().all(|t| t.met != Some(false))
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    fn rows(&self) -> Vec<[String; 5]> {
        let limit = self.limit.limit.median;
        let pct = |r: f64| format!("{:.0} %", r / limit * 100.0);
        let row = |name: &str, s: &Summary| {
            [
                name.to_owned(),
                s.rate().text(),
                pct(s.mb_per_s),
                match &self.python {
                    Some(p) => format!("{:.2}x", s.mb_per_s / p.mb_per_s),
                    None => "-".into(),
                },
                format!("{:.1} MiB", s.peak_rss_mib),
            ]
        };
        let part = |name: String, r: &Rate| [name, r.text(), pct(r.median), "-".into(), "-".into()];
        let l = &self.limit;
        let mut rows = vec![match &self.rust {
            Some(r) => row("Rust pipeline (medimint-ingest)", r),
            None => [
                "Rust pipeline (medimint-ingest)".into(),
                "FAILED (below)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        }];
        if let Some(d) = &self.rust_buffered_put {
            rows.push(row("diagnostic: same, put_stream in 1 MiB pieces", d));
        }
        match &self.download {
            Some(d) => rows.push(row("download (metadata, decrypt, hash, write)", d)),
            None => rows.push([
                "download".into(),
                "not run".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
        if let Some(v) = &self.verify {
            let mut r = row("verify (hash the downloaded files)", v);
            r[2] = format!("{:.0} % of SHA-256", v.mb_per_s / l.sha256.median * 100.0);
            rows.push(r);
        }
        match &self.python {
            Some(p) => rows.push(row("Python reference", p)),
            None => rows.push([
                "Python reference".into(),
                "skipped".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
        rows.push(part(
            format!(
                "HARDWARE LIMIT = min(crypto, store write), bound by {}",
                l.bound_by
            ),
            &l.limit,
        ));
        rows.push(part(
            format!("  openssl speed AES-256-GCM, 16 KiB, {} core(s)", l.cores),
            &l.aes,
        ));
        rows.push(part(
            format!("  openssl speed SHA-256, 16 KiB, {} core(s)", l.cores),
            &l.sha256,
        ));
        rows.push(part(
            "  crypto: both over the same bytes, 1/(1/aes + 1/sha)".into(),
            &l.crypto,
        ));
        rows.push(part(
            "  store write: study size in 1 MiB pieces + fsync".into(),
            &l.store_write,
        ));
        rows.push(row(
            &format!(
                "reference: ring AES-GCM + sha2, {} thread(s), no writes",
                l.cores
            ),
            &self.sdk_backend,
        ));
        rows.push(row(
            "reference: RustCrypto aes-gcm 0.10 + sha2, 1 core (old limit)",
            &self.rustcrypto,
        ));
        rows
    }

    fn verdicts(&self) -> Vec<String> {
        self.targets
            .iter()
            .map(|t| {
                let value = match (t.name.as_str(), t.value) {
                    (_, None) => "not measured".to_owned(),
                    (n, Some(v)) if n.ends_with("limit") => format!("{:.0} %", v * 100.0),
                    (n, Some(v)) if n.ends_with("reference") => format!("{v:.2}x"),
                    (_, Some(v)) => format!("{v:.1} MiB"),
                };
                let verdict = match t.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "not measured",
                };
                format!("{}: {} (target {}): {}", t.name, value, t.target, verdict)
            })
            .collect()
    }

    /// A plain-text table.
    pub fn table(&self) -> String {
        let header = [
            "measurement",
            "MB/s median (min–max)",
            "% of limit",
            "x Python",
            "peak RSS",
        ];
        let rows = self.rows();
        // Widths in characters (the ranges hold an en dash), as `format!` pads.
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let mut out = format!(
            "ingest benchmark: {}{} files, {} bytes ({:.1} MiB), {} run(s) each; MB/s = 10^6 bytes/s\n",
            self.file_kib.map(|k| format!("{k} KiB x ")).unwrap_or_default(),
            self.study_files,
            self.study_bytes,
            crate::mib(self.study_bytes),
            self.limit.runs.len()
        );
        out += &line(&header.map(str::to_owned));
        out.push('\n');
        for r in &rows {
            out += &line(r);
            out.push('\n');
        }
        if let Some(e) = &self.pipeline_error {
            out += &format!("Rust pipeline FAILED: {e}\n");
        }
        for v in self.verdicts() {
            out += &v;
            out.push('\n');
        }
        out += &format!(
            "load average {} before, {} after; {} x {}\n",
            self.machine.load_before, self.machine.load_after, self.machine.cpus, self.machine.cpu
        );
        out
    }

    /// A Markdown snippet for docs/performance.md.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Run of {}: `{}`\n\nStudy: {}{} files, {} bytes ({:.1} MiB); {} run(s) of each \
             measurement, median (min–max); MB/s = 10^6 bytes/s.\n\n",
            self.machine.utc,
            self.command,
            self.file_kib
                .map(|k| format!("{k} KiB x "))
                .unwrap_or_default(),
            self.study_files,
            self.study_bytes,
            crate::mib(self.study_bytes),
            self.limit.runs.len()
        );
        out += "| measurement | MB/s median (min–max) | % of limit | × Python | peak RSS |\n|---|---:|---:|---:|---:|\n";
        for r in self.rows() {
            out += &format!(
                "| {} | {} | {} | {} | {} |\n",
                r[0].trim_start(),
                r[1],
                r[2],
                r[3],
                r[4]
            );
        }
        out.push('\n');
        if let Some(e) = &self.pipeline_error {
            out += &format!("- Rust pipeline FAILED: {e}\n");
        }
        for v in self.verdicts() {
            out += &format!("- {v}\n");
        }
        out += &format!(
            "\nMachine: {} × {}, {} RAM; load average {} before, {} after.\n",
            self.machine.cpus,
            self.machine.cpu,
            self.machine.mem_total,
            self.machine.load_before,
            self.machine.load_after
        );
        out
    }
}
