//! `medimint-bench ingest`: end-to-end throughput and peak memory of the release pipeline
//! on a generated study, against the limit (raw AES-256-GCM + SHA-256 over the same bytes)
//! and a Python reference pipeline (`bench/reference_ingest.py`). See docs/performance.md.
//!
//! ```text
//! medimint-bench ingest [--size-mib N] [--runs N] [--study DIR] [--work-dir DIR]
//!                       [--no-python] [--python EXE] [--script FILE]
//!                       [--json FILE|-] [--out FILE] [--report-only] [--diagnose-store]
//! ```
//!
//! The study is generated once; then each round runs the limit, the Rust pipeline and the
//! Python reference, each in a child process (this binary re-executed with a hidden
//! subcommand, or python3) so that each peak RSS (VmHWM) is that measurement's alone.

mod gen;
mod limit;
mod report;
mod rust_pipeline;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use report::{Measured, Report};

/// Targets of issue 6.
pub const TARGET_OF_LIMIT: f64 = 0.70;
pub const TARGET_TIMES_PYTHON: f64 = 5.0;
pub const TARGET_PEAK_RSS_MIB: f64 = 64.0;

/// Peak resident set size of this process (VmHWM), KiB; 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Options {
    size_mib: u64,
    runs: usize,
    study: Option<PathBuf>,
    work_dir: Option<PathBuf>,
    python: Option<String>,
    script: PathBuf,
    json: Option<String>,
    out: Option<PathBuf>,
    report_only: bool,
    diagnose_store: bool,
    command_line: String,
}

const USAGE: &str = "usage: medimint-bench ingest [--size-mib N] [--runs N] [--study DIR] \
[--work-dir DIR] [--no-python] [--python EXE] [--script FILE] [--json FILE|-] [--out FILE] \
[--report-only] [--diagnose-store]";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        size_mib: 1024,
        runs: 3,
        study: None,
        work_dir: None,
        python: Some("python3".into()),
        script: Path::new(env!("CARGO_MANIFEST_DIR")).join("reference_ingest.py"),
        json: None,
        out: None,
        report_only: false,
        diagnose_store: false,
        command_line: std::env::var("MEDIMINT_BENCH_COMMAND").unwrap_or_else(|_| {
            let mut c = vec!["medimint-bench".to_owned(), "ingest".to_owned()];
            c.extend(args.iter().cloned());
            c.join(" ")
        }),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--size-mib" => {
                o.size_mib = value(a)?
                    .parse()
                    .map_err(|_| "--size-mib takes a number".to_owned())?;
                if o.size_mib == 0 {
                    return Err("--size-mib must be at least 1".into());
                }
            }
            "--runs" => {
                o.runs = value(a)?
                    .parse()
                    .map_err(|_| "--runs takes a number".to_owned())?;
                o.runs = o.runs.max(1);
            }
            "--study" => o.study = Some(value(a)?.into()),
            "--work-dir" => o.work_dir = Some(value(a)?.into()),
            "--no-python" => o.python = None,
            "--python" => o.python = Some(value(a)?),
            "--script" => o.script = value(a)?.into(),
            "--json" => o.json = Some(value(a)?),
            "--out" => o.out = Some(value(a)?.into()),
            "--report-only" => o.report_only = true,
            "--diagnose-store" => o.diagnose_store = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ingest") => parse(&args[1..]).and_then(|o| ingest(&o)),
        // Hidden: the measurements, run as child processes by `ingest`.
        Some("__pipeline") if args.len() == 3 || args.len() == 4 => {
            let buffered = args.get(3).map(String::as_str) == Some("--buffered-put");
            rust_pipeline::run(Path::new(&args[1]), Path::new(&args[2]), buffered)
                .and_then(print_json)
        }
        Some("__limit") if args.len() == 2 => limit::run(Path::new(&args[1])).and_then(print_json),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("medimint-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_json<T: serde::Serialize>(v: T) -> Result<bool, String> {
    println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
    Ok(true)
}

/// Runs a child that prints one JSON line; returns the parsed line.
fn child<T: serde::de::DeserializeOwned>(what: &str, cmd: &mut Command) -> Result<T, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the {what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the {what} failed ({}): {}",
            out.status,
            stdout.trim()
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("the {what} printed no result"))?;
    serde_json::from_str(line).map_err(|e| format!("reading the {what}'s result: {e}"))
}

fn python_usable(python: &str) -> Result<(), String> {
    let out = Command::new(python)
        .args(["-c", "import pydicom, cryptography"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{python} not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{python} cannot import pydicom and cryptography: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

/// Reads every file once so that each measurement starts from the page cache.
fn warm_cache(study: &gen::Study) -> std::io::Result<()> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    for (rel, _) in &study.files {
        let mut f = std::fs::File::open(study.dir.join(rel))?;
        while f.read(&mut buf)? > 0 {}
    }
    Ok(())
}

fn ingest(o: &Options) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this binary: {e}"))?;
    let temp = match &o.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            tempfile::Builder::new()
                .prefix("medimint-bench-")
                .tempdir_in(d)
        }
        None => tempfile::Builder::new().prefix("medimint-bench-").tempdir(),
    }
    .map_err(|e| format!("creating a work folder: {e}"))?;
    let target = o.size_mib * 1024 * 1024;

    // The study: reused if --study names one of this size, else generated.
    let study_dir = o.study.clone().unwrap_or_else(|| temp.path().join("study"));
    let study = match gen::Study::load(&study_dir) {
        Ok(s) if s.bytes >= target && s.bytes < target + 64 * 1024 * 1024 => {
            eprintln!(
                "study: reusing {} ({} files, {:.1} MiB)",
                study_dir.display(),
                s.files.len(),
                mib(s.bytes)
            );
            s
        }
        _ => {
            if study_dir.exists() && o.study.is_some() {
                std::fs::remove_dir_all(&study_dir)
                    .map_err(|e| format!("clearing {}: {e}", study_dir.display()))?;
            }
            eprintln!(
                "study: generating {:.0} MiB under {}",
                mib(target),
                study_dir.display()
            );
            let mut last_step = 0;
            let s = gen::generate(&study_dir, target, |done, of| {
                let step = done * 20 / of.max(1);
                if step != last_step {
                    last_step = step;
                    eprintln!("  generated {:>7.1} / {:.0} MiB", mib(done), mib(of));
                }
            })
            .map_err(|e| format!("generating the study: {e}"))?;
            eprintln!(
                "study: {} files, {} bytes ({:.1} MiB)",
                s.files.len(),
                s.bytes,
                mib(s.bytes)
            );
            s
        }
    };
    let python = match &o.python {
        Some(p) => match python_usable(p) {
            Ok(()) => Some(p.clone()),
            Err(e) => {
                eprintln!("python reference skipped: {e}");
                None
            }
        },
        None => None,
    };

    warm_cache(&study).map_err(|e| format!("reading the study: {e}"))?;
    let load_before = load_average();
    let mut limit_runs = Vec::new();
    let mut rust_runs = Vec::new();
    let mut python_runs = Vec::new();
    let mut diag_runs = Vec::new();
    for round in 1..=o.runs {
        eprintln!("round {round}/{}: limit", o.runs);
        let l: limit::LimitRun = child(
            "limit measurement",
            Command::new(&exe).arg("__limit").arg(&study.dir),
        )?;
        eprintln!(
            "  limit: {:.2} s, {:.0} MB/s",
            l.seconds,
            mb(l.bytes) / l.seconds
        );
        limit_runs.push(Measured::from_limit(&l));

        eprintln!("round {round}/{}: rust pipeline", o.runs);
        let run_dir = temp.path().join(format!("rust-{round}"));
        std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
        let r: rust_pipeline::PipelineRun = child(
            "pipeline",
            Command::new(&exe)
                .arg("__pipeline")
                .arg(&study.dir)
                .arg(&run_dir),
        )?;
        std::fs::remove_dir_all(&run_dir).map_err(|e| e.to_string())?;
        eprintln!(
            "  pipeline: {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB, {}",
            r.seconds,
            mb(r.bytes) / r.seconds,
            r.peak_rss_kib as f64 / 1024.0,
            r.outcome
        );
        if r.bytes != study.bytes || r.files != study.files.len() || r.tokens != 1 {
            return Err(format!(
                "the pipeline released {} files / {} bytes / {} token(s); expected {} / {} / 1",
                r.files,
                r.bytes,
                r.tokens,
                study.files.len(),
                study.bytes
            ));
        }
        rust_runs.push(Measured::from_pipeline(&r));

        if o.diagnose_store {
            eprintln!(
                "round {round}/{}: rust pipeline, buffered put_stream",
                o.runs
            );
            std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
            let r: rust_pipeline::PipelineRun = child(
                "pipeline (diagnostic)",
                Command::new(&exe)
                    .arg("__pipeline")
                    .arg(&study.dir)
                    .arg(&run_dir)
                    .arg("--buffered-put"),
            )?;
            std::fs::remove_dir_all(&run_dir).map_err(|e| e.to_string())?;
            eprintln!(
                "  pipeline (buffered put_stream): {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB",
                r.seconds,
                mb(r.bytes) / r.seconds,
                r.peak_rss_kib as f64 / 1024.0
            );
            diag_runs.push(Measured::from_pipeline(&r));
        }

        if let Some(py) = &python {
            eprintln!("round {round}/{}: python reference", o.runs);
            let out_dir = temp.path().join(format!("python-{round}"));
            std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
            let p: report::PythonRun = child(
                "python reference",
                Command::new(py)
                    .arg(&o.script)
                    .arg(&study.dir)
                    .arg(&out_dir),
            )?;
            std::fs::remove_dir_all(&out_dir).map_err(|e| e.to_string())?;
            eprintln!(
                "  python: {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB",
                p.seconds,
                mb(p.bytes) / p.seconds,
                p.peak_rss_kib as f64 / 1024.0
            );
            python_runs.push(Measured::from_python(&p));
        }
    }
    let report = Report::new(
        &study,
        o.command_line.clone(),
        limit_runs,
        rust_runs,
        python_runs,
        diag_runs,
        python.is_some(),
        load_before,
        load_average(),
    );
    let table = report.table();
    match o.json.as_deref() {
        Some("-") => {
            eprintln!("{table}");
            println!("{}", report.json());
        }
        Some(path) => {
            println!("{table}");
            std::fs::write(path, report.json() + "\n").map_err(|e| format!("{path}: {e}"))?;
        }
        None => println!("{table}"),
    }
    if let Some(out) = &o.out {
        std::fs::write(out, report.markdown()).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    if o.study.is_none() {
        eprintln!("removing {}", temp.path().display());
    }
    let ok = report.all_met();
    if !ok {
        eprintln!(
            "{}",
            if o.report_only {
                "some targets are missed (--report-only: exit 0)"
            } else {
                "some targets are missed"
            }
        );
    }
    Ok(ok || o.report_only)
}

/// `/proc/loadavg`'s first three fields.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// 2^20 bytes.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// 10^6 bytes.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
