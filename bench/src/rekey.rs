//! `medimint-bench rekey`: a study re-keyed (issue 17) against the stream cipher's own speed.
//!
//! The study (about `--size-mib`, 1 GiB by default) is generated and released by the pipeline
//! into a local store ([`crate::rust_pipeline::run`]). Then, in this process:
//! - **the cipher**: `rekey_async` of a 64 MiB sealed buffer in memory into a sink. This is
//!   the work a re-key cannot avoid: every chunk opened under the old key and sealed under
//!   the new one. The median of `--runs`.
//! - **the study**: what the platform's re-key does to the objects
//!   (`medimint_ingest::rekey`, the same functions it calls). Every file is read from the
//!   store, re-encrypted streamed with its SHA-256 checked, and stored under the new key's
//!   name. Then the metadata object is written again, read back and checked. One pass over
//!   the whole study.
//!
//! The wrapped keys (a few small objects), the chain call (one transaction, whatever the
//! study size) and the deletion of the old objects are not in the figure.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::metadata::for_each_file;
use medimint_ingest::rekey::{new_object_key, rewrite_metadata, Reencryptor};
use medimint_sdk::crypto::{encrypt, open_key, rekey_async, StudyKey};
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};

use crate::gen;
use crate::rust_pipeline::{issuer_keypair, RELEASE_ID};

/// Target of issue 17: the study re-keyed at this share of the cipher's speed.
pub const TARGET_OF_CIPHER: f64 = 0.70;

const CIPHER_BYTES: usize = 64 * 1024 * 1024;

/// `medimint-bench rekey [--size-mib N] [--runs N] [--work-dir DIR]`.
pub fn run(args: &[String]) -> Result<bool, String> {
    let (mut size_mib, mut runs, mut work) = (1024u64, 5usize, std::env::temp_dir());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--size-mib" => size_mib = crate::number::<u64>(a, value()?)?.max(1),
            "--runs" => runs = crate::number::<usize>(a, value()?)?.max(1),
            "--work-dir" => work = value()?.into(),
            other => return Err(format!("unknown argument {other}\n{}", crate::USAGE)),
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("medimint-rekey-")
        .tempdir_in(&work)
        .map_err(|e| format!("{}: {e}", work.display()))?;
    let result = measure(dir.path(), size_mib, runs);
    // The study and its objects are large: gone whatever the outcome.
    drop(dir);
    result
}

fn mbps(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

fn measure(dir: &Path, size_mib: u64, runs: usize) -> Result<bool, String> {
    let study_dir = dir.join("study");
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
    eprintln!("generating a {size_mib} MiB study…");
    gen::generate(&study_dir, size_mib << 20, None, |_, _| {})
        .map_err(|e| format!("generating the study: {e}"))?;
    eprintln!("releasing it through the pipeline…");
    let released = crate::rust_pipeline::run(&study_dir, &run_dir, false)?;
    // The originals are not needed any more: free the disk before the re-key doubles it.
    std::fs::remove_dir_all(&study_dir).map_err(|e| e.to_string())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    runtime.block_on(async {
        // The cipher alone.
        let old = StudyKey::generate();
        let new = StudyKey::generate();
        let plain: Vec<u8> = (0..CIPHER_BYTES).map(|i| (i * 31 % 251) as u8).collect();
        let mut sealed = Vec::with_capacity(CIPHER_BYTES + CIPHER_BYTES / 1000 + 4096);
        encrypt(&old, plain.as_slice(), &mut sealed).map_err(|e| e.to_string())?;
        drop(plain);
        let mut cipher = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            rekey_async(&old, &new, sealed.as_slice(), tokio::io::sink(), |_| {})
                .await
                .map_err(|e| e.to_string())?;
            cipher.push(mbps(CIPHER_BYTES as u64, started.elapsed().as_secs_f64()));
        }
        drop(sealed);
        cipher.sort_by(f64::total_cmp);
        let cipher_median = cipher[cipher.len() / 2];

        // The study.
        let store: Arc<dyn ObjectStore> = Arc::new(
            LocalDirStore::new(run_dir.join("objects")).map_err(|e| e.to_string())?,
        );
        let db = SqliteDb::open(run_dir.join("medimint.sqlite3"))
            .await
            .map_err(|e| e.to_string())?;
        let issuer = issuer_keypair();
        let rel = db
            .get_release(&issuer.address(), RELEASE_ID)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the pipeline left no release record")?;
        let (sid, cid) = (
            rel.study_id.ok_or("no study id")?,
            rel.metadata_cid.ok_or("no metadata CID")?,
        );
        let limits = limits(store.clone(), &sid, &cid).await?;
        let started = Instant::now();
        let wrapped = store
            .get_bytes(&wrapped_key_key(&sid, &issuer.address()), 64 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        let old = open_key(&wrapped, &issuer).map_err(|e| e.to_string())?;
        let new = Arc::new(StudyKey::generate());
        let mut entries = Vec::new();
        for_each_file(store.as_ref(), &cid, &old, |e| {
            entries.push((e.object_key, e.checksum.sha256, e.checksum.size));
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let mut work = Reencryptor::new(
            store.clone(),
            &old,
            new.clone(),
            Reencryptor::default_parallel(),
        );
        for (from, sha, size) in &entries {
            let to = new_object_key(&sid, sha, "kbench");
            work.push(from.clone(), to, sha.clone(), *size)
                .await
                .map_err(|e| e.to_string())?;
        }
        let (_, bytes) = work.finish().await.map_err(|e| e.to_string())?;
        let new_cid = rewrite_metadata(store.clone(), &cid, &old, new.clone(), |sha| {
            new_object_key(&sid, sha, "kbench")
        })
        .await
        .map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        let study_rate = mbps(bytes, seconds);
        let share = study_rate / cipher_median;
        println!(
            "study: {} files, {bytes} bytes (released in {:.1} s); new metadata {new_cid}",
            entries.len(),
            released.seconds
        );
        println!(
            "cipher re-key (rekey_async, 64 MiB in memory), MB/s over {runs} runs: median {cipher_median:.0} (min {:.0}, max {:.0})",
            cipher[0],
            cipher[cipher.len() - 1]
        );
        println!(
            "study re-key (read, re-encrypt, SHA-256, store; metadata): {seconds:.2} s, {study_rate:.0} MB/s"
        );
        println!(
            "study / cipher: {:.0} % (target {:.0} %): {}",
            share * 100.0,
            TARGET_OF_CIPHER * 100.0,
            if share >= TARGET_OF_CIPHER { "met" } else { "missed" }
        );
        println!(
            "store: read {:.0} MB/s; read + re-key, one object at a time {:.0} MB/s; put (fsync) {:.0} MB/s; study / put: {:.0} %",
            limits.0,
            limits.1,
            limits.2,
            study_rate / limits.2 * 100.0
        );
        println!("peak RSS: {} KiB", crate::peak_rss_kib());
        Ok(share >= TARGET_OF_CIPHER)
    })
}

/// The store's side, for where the time goes: the study's objects read into a sink; read and
/// re-keyed into a sink (one at a time); 64 MiB stored in 8 MiB objects (each fsynced).
/// Returns (read, read + re-key, put) in MB/s.
async fn limits(
    store: Arc<dyn ObjectStore>,
    sid: &str,
    cid: &str,
) -> Result<(f64, f64, f64), String> {
    let issuer = issuer_keypair();
    let wrapped = store
        .get_bytes(&wrapped_key_key(sid, &issuer.address()), 64 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let old = open_key(&wrapped, &issuer).map_err(|e| e.to_string())?;
    let new = StudyKey::generate();
    let mut entries = Vec::new();
    for_each_file(store.as_ref(), cid, &old, |e| {
        entries.push((e.object_key, e.checksum.size));
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?;
    let total: u64 = entries.iter().map(|e| e.1).sum();
    let t = Instant::now();
    for (k, _) in &entries {
        let r = store.get_stream(k).await.map_err(|e| e.to_string())?;
        let mut r = tokio::io::BufReader::with_capacity(1 << 20, r);
        tokio::io::copy(&mut r, &mut tokio::io::sink())
            .await
            .map_err(|e| e.to_string())?;
    }
    let read = mbps(total, t.elapsed().as_secs_f64());
    let t = Instant::now();
    for (k, _) in &entries {
        let r = store.get_stream(k).await.map_err(|e| e.to_string())?;
        let r = tokio::io::BufReader::with_capacity(1 << 20, r);
        rekey_async(&old, &new, r, tokio::io::sink(), |_| {})
            .await
            .map_err(|e| e.to_string())?;
    }
    let read_rekey = mbps(total, t.elapsed().as_secs_f64());
    let buf = vec![7u8; 8 << 20];
    let t = Instant::now();
    for i in 0..8 {
        store
            .put_bytes(&format!("diag/{i}"), buf.clone().into())
            .await
            .map_err(|e| e.to_string())?;
    }
    let put = mbps(64 << 20, t.elapsed().as_secs_f64());
    for i in 0..8 {
        store
            .delete(&format!("diag/{i}"))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((read, read_rekey, put))
}
