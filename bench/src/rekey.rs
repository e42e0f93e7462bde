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
use sha2::{Digest, Sha256};

use crate::gen;
use crate::rust_pipeline::{issuer_keypair, RELEASE_ID};

/// Target of issue 17: the study re-keyed at this share of the cipher's speed.
pub const TARGET_OF_CIPHER: f64 = 0.70;

const CIPHER_BYTES: usize = 64 * 1024 * 1024;

/// `medimint-bench rekey [--size-mib N] [--runs N] [--work-dir DIR] [--parallel N]`.
pub fn run(args: &[String]) -> Result<bool, String> {
    let (mut size_mib, mut runs, mut work) = (1024u64, 5usize, std::env::temp_dir());
    let mut parallel = Reencryptor::default_parallel();
    let mut f = crate::flags::Flags::new(args, crate::USAGE);
    while let Some(a) = f.next()? {
        match a {
            "--size-mib" => size_mib = f.number::<u64>(a)?.max(1),
            "--runs" => runs = f.number::<usize>(a)?.max(1),
            "--work-dir" => work = f.value(a)?.into(),
            "--parallel" => parallel = f.number::<usize>(a)?.max(1),
            other => return Err(f.unknown(other)),
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("medimint-rekey-")
        .tempdir_in(&work)
        .map_err(|e| format!("{}: {e}", work.display()))?;
    let result = measure(dir.path(), size_mib, runs, parallel);
    // The study and its objects are large: gone whatever the outcome.
    drop(dir);
    result
}

fn mbps(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

fn measure(dir: &Path, size_mib: u64, runs: usize, parallel: usize) -> Result<bool, String> {
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
        let old = StudyKey::generate();
        let new = StudyKey::generate();
        let plain: Vec<u8> = (0..CIPHER_BYTES).map(|i| (i * 31 % 251) as u8).collect();
        let mut sealed = Vec::with_capacity(CIPHER_BYTES + CIPHER_BYTES / 1000 + 4096);
        encrypt(&old, plain.as_slice(), &mut sealed).map_err(|e| e.to_string())?;
        drop(plain);

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

        // Rounds: the cipher (3 times before and 3 times after), then the study, so that each
        // round's share compares the two under the same load.
        let mut rounds = Vec::new();
        let (mut files, mut bytes) = (0, 0);
        for round in 0..runs {
            let mut cipher = Vec::new();
            let mut hashed = Vec::new();
            for _ in 0..3 {
                cipher.push(cipher_run(&old, &new, &sealed, false).await?);
                hashed.push(cipher_run(&old, &new, &sealed, true).await?);
            }
            let generation = format!("kbench{round}");
            let cpu = process_cpu_seconds();
            let started = Instant::now();
            (files, bytes) = study_rekey(&store, &sid, &cid, &generation, parallel).await?;
            let seconds = started.elapsed().as_secs_f64();
            let cpu = process_cpu_seconds() - cpu;
            for _ in 0..3 {
                cipher.push(cipher_run(&old, &new, &sealed, false).await?);
                hashed.push(cipher_run(&old, &new, &sealed, true).await?);
            }
            // Free the memory or disk the copy took before the next round.
            for (key, _) in store
                .list(&format!("studies/{sid}/"))
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|o| o.key.ends_with(&generation))
                .map(|o| (o.key, o.size))
            {
                store.delete(&key).await.map_err(|e| e.to_string())?;
            }
            let round = Round {
                cipher: median(&mut cipher),
                hashed: median(&mut hashed),
                study: mbps(bytes, seconds),
                seconds,
                cpu_per_gb: cpu / (bytes as f64 / 1e9),
            };
            eprintln!(
                "round {}: cipher {:.0} MB/s ({:.2} CPU-s/GB), cipher + SHA-256 {:.0} MB/s, study {:.0} MB/s ({:.2} s, {:.2} CPU-s/GB): {:.0} %",
                rounds.len() + 1,
                round.cipher.0,
                round.cipher.1,
                round.hashed.0,
                round.study,
                round.seconds,
                round.cpu_per_gb,
                round.study / round.cipher.0 * 100.0
            );
            rounds.push(round);
        }
        drop(sealed);
        let pick = |f: &dyn Fn(&Round) -> f64| {
            let mut v: Vec<f64> = rounds.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let cipher = pick(&|r| r.cipher.0);
        let cipher_cpu = pick(&|r| r.cipher.1);
        let hashed = pick(&|r| r.hashed.0);
        let hashed_cpu = pick(&|r| r.hashed.1);
        let study = pick(&|r| r.study);
        let study_cpu = pick(&|r| r.cpu_per_gb);
        let share = pick(&|r| r.study / r.cipher.0);
        let cpu_share = pick(&|r| r.cipher.1 / r.cpu_per_gb);
        println!(
            "study: {files} files, {bytes} bytes (released in {:.1} s); {parallel} objects at a time; {runs} rounds, median (min-max)",
            released.seconds
        );
        println!(
            "cipher re-key (rekey_async, 64 MiB in memory, one core): {:.0} MB/s ({:.0}-{:.0}); {:.2} CPU-s/GB",
            cipher.0, cipher.1, cipher.2, cipher_cpu.0
        );
        println!(
            "cipher re-key + SHA-256 of the plaintext (a reference, one core): {:.0} MB/s ({:.0}-{:.0}); {:.2} CPU-s/GB",
            hashed.0, hashed.1, hashed.2, hashed_cpu.0
        );
        println!(
            "study re-key (read, re-encrypt, SHA-256, store; metadata): {:.0} MB/s ({:.0}-{:.0}); {:.2} CPU-s/GB ({:.2}-{:.2})",
            study.0, study.1, study.2, study_cpu.0, study_cpu.1, study_cpu.2
        );
        println!(
            "study / cipher, per round: {:.0} % ({:.0}-{:.0}) (target {:.0} %): {}",
            share.0 * 100.0,
            share.1 * 100.0,
            share.2 * 100.0,
            TARGET_OF_CIPHER * 100.0,
            if share.0 >= TARGET_OF_CIPHER { "met" } else { "missed" }
        );
        println!(
            "CPU time, cipher / study per GB: {:.0} % ({:.0}-{:.0}); (cipher + SHA-256) / study: {:.0} %",
            cpu_share.0 * 100.0,
            cpu_share.1 * 100.0,
            cpu_share.2 * 100.0,
            hashed_cpu.0 / study_cpu.0 * 100.0
        );
        println!(
            "store: read {:.0} MB/s; read + re-key, one object at a time {:.0} MB/s; put (fsync) {:.0} MB/s",
            limits.0, limits.1, limits.2
        );
        println!("peak RSS: {} KiB", crate::peak_rss_kib());
        Ok(share.0 >= TARGET_OF_CIPHER)
    })
}

/// One round's figures: (MB/s, CPU-s per GB) of the cipher alone and with SHA-256 (medians
/// of the round's runs); the study's MB/s, seconds and CPU-s per GB (every thread).
struct Round {
    cipher: (f64, f64),
    hashed: (f64, f64),
    study: f64,
    seconds: f64,
    cpu_per_gb: f64,
}

fn median(v: &mut [(f64, f64)]) -> (f64, f64) {
    let mut rate: Vec<f64> = v.iter().map(|x| x.0).collect();
    let mut cpu: Vec<f64> = v.iter().map(|x| x.1).collect();
    rate.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (rate[rate.len() / 2], cpu[cpu.len() / 2])
}

/// `rekey_async` of the sealed buffer into a sink (with SHA-256 of the plaintext if `hash`):
/// MB/s and CPU-seconds per GB of this thread (the future never leaves it).
async fn cipher_run(
    old: &StudyKey,
    new: &StudyKey,
    sealed: &[u8],
    hash: bool,
) -> Result<(f64, f64), String> {
    let cpu = thread_cpu_seconds();
    let started = Instant::now();
    let mut digest = Sha256::new();
    rekey_async(old, new, sealed, tokio::io::sink(), |c| {
        if hash {
            digest.update(c)
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    std::hint::black_box(digest.finalize());
    let seconds = started.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds() - cpu;
    let gb = CIPHER_BYTES as f64 / 1e9;
    Ok((gb * 1e3 / seconds, cpu / gb))
}

/// The platform's re-key of the study's objects (the functions `ops/rekey.rs` calls) into
/// objects named with `generation`; returns the files and plaintext bytes.
async fn study_rekey(
    store: &Arc<dyn ObjectStore>,
    sid: &str,
    cid: &str,
    generation: &str,
    parallel: usize,
) -> Result<(u64, u64), String> {
    let issuer = issuer_keypair();
    let wrapped = store
        .get_bytes(&wrapped_key_key(sid, &issuer.address()), 64 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let old = open_key(&wrapped, &issuer).map_err(|e| e.to_string())?;
    let new = Arc::new(StudyKey::generate());
    let mut entries = Vec::new();
    for_each_file(store.as_ref(), cid, &old, |e| {
        entries.push((e.object_key, e.checksum.sha256, e.checksum.size));
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut work = Reencryptor::new(store.clone(), &old, new.clone(), parallel);
    for (from, sha, size) in &entries {
        let to = new_object_key(sid, sha, generation);
        work.push(from.clone(), to, sha.clone(), *size)
            .await
            .map_err(|e| e.to_string())?;
    }
    let done = work.finish().await.map_err(|e| e.to_string())?;
    rewrite_metadata(store.clone(), cid, &old, new.clone(), |sha| {
        new_object_key(sid, sha, generation)
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(done)
}

/// CPU time of the whole process (user + system, every thread, including ended ones), from
/// `/proc/self/stat` (clock ticks of 10 ms); 0 where there is no procfs.
pub(crate) fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time of the calling thread in nanoseconds' precision (`/proc/thread-self/schedstat`);
/// 0 where there is none.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
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
