//! `medimint-bench queue`: many studies queued in the inbox at once, as a PACS export rule
//! drops them, released by the pipeline one after the other as `medimint up`'s inbox watcher
//! does (or `--parallel N` at once): every study released once, studies per minute.
//!
//! ```text
//! medimint-bench queue [--studies N] [--files F] [--file-kib K] [--parallel P] [--work-dir DIR]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use medimint_ingest::{Ingest, IngestConfig, Outcome, SdkSealer};
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};

use crate::rust_pipeline::{issuer_address, RecordingChain};

const USAGE: &str = "usage: medimint-bench queue [--studies N] [--files F] [--file-kib K] \
[--parallel P] [--work-dir DIR]";

/// `queue`.
pub fn run(args: &[String]) -> Result<bool, String> {
    let (mut studies, mut files, mut kib, mut parallel, mut work) =
        (100usize, 50usize, 256u64, 1usize, None::<PathBuf>);
    let mut f = crate::flags::Flags::new(args, USAGE);
    while let Some(a) = f.next()? {
        match a {
            "--studies" => studies = f.number::<u64>(a)?.clamp(1, 10_000) as usize,
            "--files" => files = f.number::<u64>(a)?.clamp(1, 10_000) as usize,
            "--file-kib" => kib = f.number::<u64>(a)?.clamp(1, 65_535),
            "--parallel" => parallel = f.number::<u64>(a)?.clamp(1, 64) as usize,
            "--work-dir" => work = Some(f.value(a)?.into()),
            other => return Err(f.unknown(other)),
        }
    }
    let temp = crate::work_folder(work.as_deref(), "medimint-queue-")?;
    let one = temp.path().join("study");
    eprintln!("queue: generating one study of {files} files of {kib} KiB");
    let study = crate::gen::generate(&one, files as u64 * kib * 1024, Some(kib), |_, _| {})
        .map_err(|e| format!("generating the study: {e}"))?;
    let objects = temp.path().join("objects");
    let issuer = issuer_address();
    eprintln!("queue: {studies} copies in the inbox, each file's last bytes made its own");
    for k in 0..studies {
        let dir = objects.join(format!("inbox/{issuer}/queued-{k:05}"));
        copy_distinct(&study, &dir, k as u64).map_err(|e| format!("queueing study {k}: {e}"))?;
    }
    // Every manifest last, as an export rule writes them.
    for k in 0..studies {
        let dir = objects.join(format!("inbox/{issuer}/queued-{k:05}"));
        std::fs::copy(one.join("release.json"), dir.join("release.json"))
            .map_err(|e| format!("queueing study {k}: {e}"))?;
    }
    let load_before = crate::load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    let (seconds, proposals, again) = runtime.block_on(async {
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalDirStore::new(&objects).map_err(|e| e.to_string())?);
        let db: Arc<dyn AppDb> = Arc::new(
            SqliteDb::open(temp.path().join("medimint.sqlite3"))
                .await
                .map_err(|e| e.to_string())?,
        );
        let chain = Arc::new(RecordingChain::default());
        let ingest = Arc::new(Ingest::new(
            store.clone(),
            db,
            Arc::new(SdkSealer),
            chain.clone(),
            IngestConfig::default(),
        ));
        let started = Instant::now();
        // What the watcher finds: every release.json in the inbox.
        let keys: Vec<String> = store
            .list("inbox/")
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.ends_with("/release.json"))
            .collect();
        let mut running = tokio::task::JoinSet::new();
        let mut tokens = Vec::new();
        for key in keys {
            if running.len() >= parallel {
                if let Some(r) = running.join_next().await {
                    tokens.push(r.map_err(|e| e.to_string())??);
                }
            }
            let ingest = ingest.clone();
            running.spawn(async move { released(&ingest, &key).await });
        }
        while let Some(r) = running.join_next().await {
            tokens.push(r.map_err(|e| e.to_string())??);
        }
        let seconds = started.elapsed().as_secs_f64();
        // Delivered again (a watcher restarted, a notification repeated): the same tokens,
        // nothing proposed twice.
        let mut again = 0;
        for k in 0..studies {
            let key = format!("inbox/{issuer}/queued-{k:05}/release.json");
            let release = medimint_ingest::parse_manifest_key(&key)?;
            if let Outcome::Released { .. } =
                ingest.process(&release).await.map_err(|e| e.to_string())?
            {
                again += 1;
            }
        }
        let proposals = chain.proposals.lock().map_err(|e| e.to_string())?.len();
        tokens.sort();
        tokens.dedup();
        if tokens.len() != studies {
            return Err(format!(
                "{} distinct tokens for {studies} studies",
                tokens.len()
            ));
        }
        Ok::<_, String>((seconds, proposals, again))
    })?;
    let bytes = study.bytes * studies as u64;
    let rss = crate::peak_rss_kib() as f64 / 1024.0;
    let per_min = studies as f64 / seconds * 60.0;
    println!(
        "queue: {studies} studies of {files} files ({:.1} MiB each) queued at once, released \
         {} at a time in {seconds:.1} s: {per_min:.1} studies/min, {:.0} MB/s; {proposals} \
         proposals, each study released once ({again} repeats answered with their token); \
         peak RSS {rss:.1} MiB; load average {load_before} before, {} after; {} x {}",
        crate::mib(study.bytes),
        parallel,
        crate::mb(bytes) / seconds,
        crate::load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        crate::report::cpu_model(),
    );
    Ok(proposals == studies && again == studies)
}

/// Releases one queued study; its token id.
async fn released(ingest: &Ingest, key: &str) -> Result<String, String> {
    match medimint_ingest::process_key(ingest, key).await {
        Ok(Some(Outcome::Released { token_id, .. })) => Ok(token_id),
        Ok(Some(Outcome::Rejected { report, .. })) => {
            Err(format!("{key} was rejected: {:?}", report.codes()))
        }
        Ok(None) => Err(format!("{key} is not a release")),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

/// Copies the study's files into `to`, the last 8 bytes of each (pixel noise) replaced by
/// `k`, so that every copy has its own checksum root.
pub(crate) fn copy_distinct(study: &crate::gen::Study, to: &Path, k: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    for (rel, size) in &study.files {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("a file in a folder"))?;
        std::fs::copy(study.dir.join(rel), &dest)?;
        let mut f = std::fs::OpenOptions::new().write(true).open(&dest)?;
        f.seek(SeekFrom::Start(size.saturating_sub(8)))?;
        f.write_all(&k.to_le_bytes())?;
    }
    Ok(())
}
