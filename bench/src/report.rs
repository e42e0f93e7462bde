//! The figures: a table, JSON and a Markdown snippet for docs/performance.md.

use serde::{Deserialize, Serialize};

use crate::gen::Study;
use crate::limit::LimitRun;
use crate::rust_pipeline::PipelineRun;
use crate::{mb, TARGET_OF_LIMIT, TARGET_PEAK_RSS_MIB, TARGET_TIMES_PYTHON};

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

/// The runs of one measurement, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Median wall time over the runs, seconds.
    pub median_seconds: f64,
    /// Study bytes / median time, 10^6 bytes per second.
    pub mb_per_s: f64,
    /// Best run, MB/s.
    pub best_mb_per_s: f64,
    /// Largest peak RSS over the runs, MiB.
    pub peak_rss_mib: f64,
    pub runs: Vec<Measured>,
}

fn summarise(runs: Vec<Measured>, bytes: u64) -> Option<Summary> {
    if runs.is_empty() {
        return None;
    }
    let mut times: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    };
    Some(Summary {
        median_seconds: median,
        mb_per_s: mb(bytes) / median,
        best_mb_per_s: mb(bytes) / times[0],
        peak_rss_mib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        runs,
    })
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
    pub machine: Machine,
    pub limit: Summary,
    pub rust: Summary,
    pub python: Option<Summary>,
    /// Diagnostic (`--diagnose-store`): the pipeline over a store whose `put_stream` copies
    /// in 1 MiB pieces; not a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_buffered_put: Option<Summary>,
    /// Rust MB/s over limit MB/s.
    pub of_limit: f64,
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
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
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
        limit: Vec<Measured>,
        rust: Vec<Measured>,
        python: Vec<Measured>,
        diagnostic: Vec<Measured>,
        python_measured: bool,
        load_before: String,
        load_after: String,
    ) -> Self {
        let limit = summarise(limit, study.bytes).expect("at least one run");
        let rust = summarise(rust, study.bytes).expect("at least one run");
        let python = if python_measured {
            summarise(python, study.bytes)
        } else {
            None
        };
        let of_limit = rust.mb_per_s / limit.mb_per_s;
        let times_python = python.as_ref().map(|p| rust.mb_per_s / p.mb_per_s);
        let targets = vec![
            Target {
                name: "Rust pipeline / limit".into(),
                target: format!(">= {:.0} %", TARGET_OF_LIMIT * 100.0),
                value: Some(of_limit),
                met: Some(of_limit >= TARGET_OF_LIMIT),
            },
            Target {
                name: "Rust pipeline / Python reference".into(),
                target: format!(">= {TARGET_TIMES_PYTHON:.0}x"),
                value: times_python,
                met: times_python.map(|t| t >= TARGET_TIMES_PYTHON),
            },
            Target {
                name: "Rust pipeline peak RSS".into(),
                target: format!("<= {TARGET_PEAK_RSS_MIB:.0} MiB"),
                value: Some(rust.peak_rss_mib),
                met: Some(rust.peak_rss_mib <= TARGET_PEAK_RSS_MIB),
            },
        ];
        Report {
            command,
            study_bytes: study.bytes,
            study_files: study.files.len(),
            machine: machine(load_before, load_after),
            limit,
            rust,
            python,
            rust_buffered_put: summarise(diagnostic, study.bytes),
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

    fn rows(&self) -> Vec<[String; 6]> {
        let row = |name: &str, s: &Summary| {
            [
                name.to_owned(),
                format!("{:.0}", s.mb_per_s),
                format!("{:.0}", s.best_mb_per_s),
                format!("{:.0} %", s.mb_per_s / self.limit.mb_per_s * 100.0),
                match &self.python {
                    Some(p) => format!("{:.2}x", s.mb_per_s / p.mb_per_s),
                    None => "-".into(),
                },
                format!("{:.1} MiB", s.peak_rss_mib),
            ]
        };
        let mut rows = vec![row("Rust pipeline (medimint-ingest)", &self.rust)];
        if let Some(d) = &self.rust_buffered_put {
            rows.push(row("diagnostic: same, put_stream in 1 MiB pieces", d));
        }
        rows.push(row("limit: AES-256-GCM + SHA-256", &self.limit));
        match &self.python {
            Some(p) => rows.push(row("Python reference", p)),
            None => rows.push([
                "Python reference".into(),
                "skipped".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
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
            "MB/s (median)",
            "MB/s (best)",
            "% of limit",
            "x Python",
            "peak RSS",
        ];
        let rows = self.rows();
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.len());
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
            "ingest benchmark: {} files, {} bytes ({:.1} MiB), {} run(s) each; MB/s = 10^6 bytes/s\n",
            self.study_files,
            self.study_bytes,
            crate::mib(self.study_bytes),
            self.rust.runs.len()
        );
        out += &line(&header.map(str::to_owned));
        out.push('\n');
        for r in &rows {
            out += &line(r);
            out.push('\n');
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
            "Run of {}: `{}`\n\nStudy: {} files, {} bytes ({:.1} MiB); {} run(s) of each \
             measurement, median shown (best in brackets); MB/s = 10^6 bytes/s.\n\n",
            self.machine.utc,
            self.command,
            self.study_files,
            self.study_bytes,
            crate::mib(self.study_bytes),
            self.rust.runs.len()
        );
        out += "| measurement | MB/s | % of limit | × Python | peak RSS |\n|---|---:|---:|---:|---:|\n";
        for r in self.rows() {
            out += &format!(
                "| {} | {} ({}) | {} | {} | {} |\n",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
        out.push('\n');
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
