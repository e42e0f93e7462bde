//! `medimint-bench ingest`: end-to-end throughput and peak memory of the release pipeline
//! on a generated study, against the hardware limit (OpenSSL's AES-256-GCM and SHA-256 over
//! the same bytes on every core, and the store's write rate; [`hardware`]) and a Python
//! reference pipeline (`bench/reference_ingest.py`). See docs/performance.md.
//!
//! ```text
//! medimint-bench ingest [--size-mib N] [--file-kib K] [--runs N] [--study DIR]
//!                       [--work-dir DIR] [--cores N] [--openssl-seconds S]
//!                       [--no-python] [--python EXE] [--script FILE]
//!                       [--json FILE|-] [--out FILE] [--report-only] [--diagnose-store]
//! medimint-bench crypto [--mib N] [--runs N] [--openssl-seconds S] [--json FILE|-]
//! medimint-bench rekey [--size-mib N] [--runs N] [--work-dir DIR]
//! medimint-bench cli [--medimint PATH] [--size-mib N] [--runs N] [--work-dir DIR] [--json FILE|-] [--report-only]
//! ```
//!
//! The study is generated once; then each round measures the hardware limit, the reference
//! lines ([`limit`]), the Rust pipeline and the Python reference, each in a child process
//! (this binary re-executed with a hidden subcommand, or python3) so that each peak RSS
//! (VmHWM) is that measurement's alone. `crypto` compares AES-GCM and SHA-256 crates on one
//! core ([`backends`]).

mod backends;
mod cli_release;
mod download;
mod flags;
mod gen;
mod hardware;
mod limit;
mod queue;
mod rekey;
mod report;
mod rust_pipeline;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use report::{Measured, Report};

/// Targets of issue 20: the pipeline's share of the hardware limit (a study of large files;
/// `--file-kib`, many small files), times the Python reference, peak RSS.
pub const TARGET_OF_LIMIT: f64 = 0.70;
pub const TARGET_OF_LIMIT_SMALL_FILES: f64 = 0.60;
pub const TARGET_TIMES_PYTHON: f64 = 2.0;
pub const TARGET_PEAK_RSS_MIB: f64 = 64.0;
/// `medimint download` over the hardware limit; `verify` over SHA-256 on all cores.
pub const TARGET_DOWNLOAD_OF_LIMIT: f64 = 0.50;
pub const TARGET_VERIFY_OF_SHA256: f64 = 0.70;

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
    file_kib: Option<u64>,
    single_file: bool,
    cores: usize,
    openssl_seconds: u32,
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

const USAGE: &str =
    "usage: medimint-bench ingest [--size-mib N] [--file-kib K | --single-file] [--runs N] \
[--study DIR] [--work-dir DIR] [--cores N] [--openssl-seconds S] [--no-python] [--python EXE] \
[--script FILE] [--json FILE|-] [--out FILE] [--report-only] [--diagnose-store]
       medimint-bench crypto [--mib N] [--runs N] [--openssl-seconds S] [--json FILE|-]
       medimint-bench queue [--studies N] [--files F] [--file-kib K] [--parallel P] [--work-dir DIR]
       medimint-bench rekey [--size-mib N] [--runs N] [--work-dir DIR] [--parallel N]
       medimint-bench cli [--medimint PATH] [--size-mib N] [--runs N] [--work-dir DIR] [--cores N] \
[--openssl-seconds S] [--json FILE|-] [--report-only]";

/// A temporary folder named `prefix…` under `work` (created if need be), or under the
/// system's temporary folder; removed when dropped.
fn work_folder(work: Option<&Path>, prefix: &str) -> Result<tempfile::TempDir, String> {
    match work {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            tempfile::Builder::new().prefix(prefix).tempdir_in(d)
        }
        None => tempfile::Builder::new().prefix(prefix).tempdir(),
    }
    .map_err(|e| format!("creating a work folder: {e}"))
}

fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        size_mib: 1024,
        file_kib: None,
        single_file: false,
        cores: all_cores(),
        openssl_seconds: 2,
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
    let mut f = flags::Flags::new(args, USAGE);
    while let Some(a) = f.next()? {
        match a {
            "--size-mib" => {
                o.size_mib = f.number(a)?;
                if o.size_mib == 0 {
                    return Err("--size-mib must be at least 1".into());
                }
            }
            "--file-kib" => {
                let k: u64 = f.number(a)?;
                if !(1..=65_535).contains(&k) {
                    return Err("--file-kib takes 1 to 65535 (KiB of pixel data per file)".into());
                }
                o.file_kib = Some(k);
            }
            "--single-file" => o.single_file = true,
            "--cores" => o.cores = f.number::<usize>(a)?.max(1),
            "--openssl-seconds" => o.openssl_seconds = f.number::<u32>(a)?.max(1),
            "--runs" => o.runs = f.number::<usize>(a)?.max(1),
            "--study" => o.study = Some(f.value(a)?.into()),
            "--work-dir" => o.work_dir = Some(f.value(a)?.into()),
            "--no-python" => o.python = None,
            "--python" => o.python = Some(f.value(a)?),
            "--script" => o.script = f.value(a)?.into(),
            "--json" => o.json = Some(f.value(a)?),
            "--out" => o.out = Some(f.value(a)?.into()),
            "--report-only" => o.report_only = true,
            "--diagnose-store" => o.diagnose_store = true,
            other => return Err(f.unknown(other)),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    medimint_sdk::allocator::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ingest") => parse(&args[1..]).and_then(|o| ingest(&o)),
        // Hidden: the measurements, run as child processes by `ingest`.
        Some("__pipeline") if args.len() == 3 || args.len() == 4 => {
            let buffered = args.get(3).map(String::as_str) == Some("--buffered-put");
            rust_pipeline::run(Path::new(&args[1]), Path::new(&args[2]), buffered)
                .and_then(print_json)
        }
        Some("__download") if args.len() == 2 => {
            download::run(Path::new(&args[1])).and_then(print_json)
        }
        Some("__limit") if args.len() == 4 => {
            match (limit::Backend::parse(&args[2]), args[3].parse()) {
                (Some(backend), Ok(threads)) => {
                    limit::run(Path::new(&args[1]), backend, threads).and_then(print_json)
                }
                _ => Err(USAGE.into()),
            }
        }
        Some("crypto") => crypto(&args[1..]),
        Some("queue") => queue::run(&args[1..]),
        Some("cli") => cli_release::run(&args[1..]),
        Some("rekey") => rekey::run(&args[1..]),
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

/// `crypto`: the backend comparison, one core.
fn crypto(args: &[String]) -> Result<bool, String> {
    let (mut mib, mut runs, mut seconds, mut json) = (64usize, 3usize, 2u32, None);
    let mut f = flags::Flags::new(args, USAGE);
    while let Some(a) = f.next()? {
        match a {
            "--mib" => mib = f.number::<usize>(a)?.clamp(1, 4096),
            "--runs" => runs = f.number::<usize>(a)?.max(1),
            "--openssl-seconds" => seconds = f.number::<u32>(a)?.max(1),
            "--json" => json = Some(f.value(a)?),
            other => return Err(f.unknown(other)),
        }
    }
    let b = backends::run(mib, runs, seconds)?;
    match json.as_deref() {
        Some("-") => {
            eprintln!("{}", b.table());
            print_json(&b)?;
        }
        Some(path) => {
            println!("{}", b.table());
            std::fs::write(
                path,
                serde_json::to_string_pretty(&b).map_err(|e| e.to_string())? + "\n",
            )
            .map_err(|e| format!("{path}: {e}"))?;
        }
        None => println!("{}\n{}", b.table(), b.markdown()),
    }
    Ok(true)
}

fn print_json<T: serde::Serialize>(v: T) -> Result<bool, String> {
    println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
    Ok(true)
}

/// Runs a child that prints one JSON line; returns the parsed line.
fn child<T: serde::de::DeserializeOwned>(what: &str, cmd: &mut Command) -> Result<T, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("starting the {what}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let reason = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(stdout.trim());
        return Err(format!("the {what} failed ({}): {reason}", out.status));
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
    let temp = work_folder(o.work_dir.as_deref(), "medimint-bench-")?;
    let target = o.size_mib * 1024 * 1024;

    // The study: reused if --study names one of this size, else generated.
    let study_dir = o.study.clone().unwrap_or_else(|| temp.path().join("study"));
    let study = match gen::Study::load(&study_dir) {
        Ok(s)
            if s.bytes >= target
                && s.bytes < target + 64 * 1024 * 1024
                && s.file_kib == o.file_kib
                && s.single_file == o.single_file =>
        {
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
            let s = if o.single_file {
                gen::generate_single(&study_dir, target)
            } else {
                gen::generate(&study_dir, target, o.file_kib, |done, of| {
                    let step = done * 20 / of.max(1);
                    if step != last_step {
                        last_step = step;
                        eprintln!("  generated {:>7.1} / {:.0} MiB", mib(done), mib(of));
                    }
                })
            }
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
    let mut sdk_runs = Vec::new();
    let mut rustcrypto_runs = Vec::new();
    let mut rust_runs = Vec::new();
    let mut pipeline_error: Option<String> = None;
    let mut python_runs = Vec::new();
    let mut diag_runs = Vec::new();
    let mut download_runs = Vec::new();
    let mut verify_runs = Vec::new();
    for round in 1..=o.runs {
        eprintln!("round {round}/{}: hardware limit", o.runs);
        let h = hardware::measure(temp.path(), study.bytes, o.cores, o.openssl_seconds)?;
        eprintln!(
            "  openssl AES-256-GCM {:.0} MB/s, SHA-256 {:.0} MB/s on {} core(s): both {:.0} MB/s; \
             store write {:.0} MB/s; limit {:.0} MB/s ({})",
            h.aes_bytes_per_s / 1e6,
            h.sha_bytes_per_s / 1e6,
            h.cores,
            h.crypto_bytes_per_s / 1e6,
            h.store_write_bytes_per_s / 1e6,
            h.limit_bytes_per_s / 1e6,
            h.bound_by()
        );
        limit_runs.push(h);
        for (backend, threads, runs) in [
            (limit::Backend::Sdk, o.cores, &mut sdk_runs),
            (limit::Backend::RustCrypto, 1, &mut rustcrypto_runs),
        ] {
            let l: limit::LimitRun = child(
                "reference measurement",
                Command::new(&exe)
                    .arg("__limit")
                    .arg(&study.dir)
                    .arg(backend.name())
                    .arg(threads.to_string()),
            )?;
            eprintln!(
                "  reference {} on {threads} thread(s): {:.2} s, {:.0} MB/s",
                backend.name(),
                l.seconds,
                mb(l.bytes) / l.seconds
            );
            runs.push(Measured::from_limit(&l));
        }

        let run_dir = temp.path().join(format!("rust-{round}"));
        // A pipeline that fails (e.g. a study it cannot release yet) is reported, and the
        // other measurements go on; it is not run again.
        let r: Option<rust_pipeline::PipelineRun> = if pipeline_error.is_some() {
            None
        } else {
            eprintln!("round {round}/{}: rust pipeline", o.runs);
            std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
            let r = child(
                "pipeline",
                Command::new(&exe)
                    .arg("__pipeline")
                    .arg(&study.dir)
                    .arg(&run_dir),
            );
            if r.is_ok() {
                eprintln!("round {round}/{}: download and verify", o.runs);
                let d: download::DownloadRun = child(
                    "download",
                    Command::new(&exe).arg("__download").arg(&run_dir),
                )?;
                eprintln!(
                    "  download: {:.2} s, {:.0} MB/s; verify: {:.2} s, {:.0} MB/s; peak RSS {:.1} MiB",
                    d.download_seconds,
                    mb(d.bytes) / d.download_seconds,
                    d.verify_seconds,
                    mb(d.bytes) / d.verify_seconds,
                    d.peak_rss_kib as f64 / 1024.0
                );
                if d.bytes != study.bytes || d.files != study.files.len() {
                    return Err(format!(
                        "the download wrote {} files / {} bytes; expected {} / {}",
                        d.files,
                        d.bytes,
                        study.files.len(),
                        study.bytes
                    ));
                }
                download_runs.push(Measured::from_download(&d, false));
                verify_runs.push(Measured::from_download(&d, true));
            }
            std::fs::remove_dir_all(&run_dir).map_err(|e| e.to_string())?;
            match r {
                Ok(r) => Some(r),
                Err(e) => {
                    pipeline_error = Some(e);
                    None
                }
            }
        };
        if let Some(r) = r {
            eprintln!(
                "  pipeline: {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB, CPU {:.2} s ({:.2} CPU-s/GB), {}",
                r.seconds,
                mb(r.bytes) / r.seconds,
                r.peak_rss_kib as f64 / 1024.0,
                r.cpu_seconds,
                r.cpu_seconds / (r.bytes as f64 / 1e9),
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
        }

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
        sdk_runs,
        rustcrypto_runs,
        rust_runs,
        pipeline_error,
        python_runs,
        diag_runs,
        (download_runs, verify_runs),
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
pub fn load_average() -> String {
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
