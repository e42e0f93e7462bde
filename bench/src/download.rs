//! Measure (b): `medimint download` and `medimint verify` of the study the pipeline just
//! released, as the platform runs them (`medimint_ingest::transfer`): the metadata read block
//! by block, every file decrypted straight to disk and hashed as it is written, several at
//! once; then the written files hashed again, several at once, as `verify` does. Run in a
//! child process so that its peak RSS is the download's and verification's alone.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::metadata::for_each_file;
use medimint_ingest::transfer::{download_files, hash_files, parallel_files, Download};
use medimint_sdk::crypto::open_key;
use medimint_sdk::keys::Keypair;
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};
use serde::{Deserialize, Serialize};

use crate::rust_pipeline::{issuer_keypair, RELEASE_ID};

/// What one download-and-verify run reports (a JSON line on the child's stdout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DownloadRun {
    /// Reading the metadata and writing every file, decrypted and hashed, seconds.
    pub download_seconds: f64,
    /// Hashing the written files again, seconds.
    pub verify_seconds: f64,
    /// Bytes written.
    pub bytes: u64,
    /// Files written, each matching its listed digest.
    pub files: usize,
    /// Peak RSS of the process (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Downloads the release the pipeline left in `run_dir` into `run_dir/download`, then
/// verifies it.
pub fn run(run_dir: &Path) -> Result<DownloadRun, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    runtime.block_on(async {
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalDirStore::new(run_dir.join("objects")).map_err(|e| e.to_string())?);
        let db = SqliteDb::open(run_dir.join("medimint.sqlite3"))
            .await
            .map_err(|e| e.to_string())?;
        let issuer: Keypair = issuer_keypair();
        let rel = db
            .get_release(&issuer.address(), RELEASE_ID)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the pipeline left no release record")?;
        let (sid, cid) = (
            rel.study_id.ok_or("no study id")?,
            rel.metadata_cid.ok_or("no metadata CID")?,
        );
        let out = run_dir.join("download");
        let started = Instant::now();
        let wrapped = store
            .get_bytes(&wrapped_key_key(&sid, &issuer.address()), 64 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        let key = open_key(&wrapped, &issuer).map_err(|e| e.to_string())?;
        let mut listed = Vec::new();
        let mut jobs = Vec::new();
        for_each_file(&*store, &cid, &key, |f| {
            jobs.push(Download {
                dest: out.join(&f.checksum.path),
                object_key: f.object_key.clone(),
                name: f.checksum.path.clone(),
            });
            listed.push((f.checksum.path, f.checksum.sha256));
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let files = download_files(store.clone(), &key, jobs, parallel_files(), |_| {})
            .await
            .map_err(|e| e.to_string())?;
        let download_seconds = started.elapsed().as_secs_f64();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        for (f, (name, sha)) in files.iter().zip(&listed) {
            if &f.name != name || hex::encode(f.sha256) != *sha {
                return Err(format!("{name} was downloaded with another digest"));
            }
        }
        let started = Instant::now();
        let on_disk = listed
            .iter()
            .map(|(name, _)| (name.clone(), out.join(name)))
            .collect();
        let hashed = hash_files(on_disk, parallel_files())
            .await
            .map_err(|e| e.to_string())?;
        let verify_seconds = started.elapsed().as_secs_f64();
        for (h, (name, sha)) in hashed.iter().zip(&listed) {
            if hex::encode(h.sha256) != *sha {
                return Err(format!("{name} does not verify"));
            }
        }
        Ok(DownloadRun {
            download_seconds,
            verify_seconds,
            bytes,
            files: hashed.len(),
            peak_rss_kib: crate::peak_rss_kib(),
        })
    })
}
