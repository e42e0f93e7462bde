//! Reference lines under the hardware limit ([`crate::hardware`]): every file read once from
//! disk (page cache), each piece hashed with SHA-256 (`sha2`) and encrypted in place with
//! AES-256-GCM in 64 KiB calls (the stream's chunk), nothing written; the least work any
//! pipeline that hashes and encrypts every byte must do, with a given AES-GCM crate:
//!
//! - [`Backend::RustCrypto`]: `aes-gcm` 0.10, the sdk's backend before issue 20, one core
//!   (the figure the earlier limit was).
//! - [`Backend::Sdk`]: `ring`, the sdk's backend now, on every core the pipeline may use
//!   (files shared out among threads).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gen::Study;

/// AES-GCM call size: the stream format's chunk.
pub const CHUNK: usize = 64 * 1024;

/// Which AES-256-GCM crate a reference run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    RustCrypto,
    Sdk,
}

impl Backend {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rustcrypto" => Some(Self::RustCrypto),
            "sdk" => Some(Self::Sdk),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RustCrypto => "rustcrypto",
            Self::Sdk => "sdk",
        }
    }
}

/// One AES-256-GCM key of either crate.
enum Cipher {
    RustCrypto(Box<Aes256Gcm>),
    Ring(Box<ring::aead::LessSafeKey>),
}

impl Cipher {
    fn new(backend: Backend) -> Self {
        let key = [0x42u8; 32];
        match backend {
            Backend::RustCrypto => {
                Self::RustCrypto(Box::new(Aes256Gcm::new_from_slice(&key).expect("32 bytes")))
            }
            Backend::Sdk => Self::Ring(Box::new(ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).expect("32 bytes"),
            ))),
        }
    }

    fn seal(&self, nonce: [u8; 12], data: &mut [u8]) -> [u8; 16] {
        match self {
            Self::RustCrypto(c) => c
                .encrypt_in_place_detached(&Nonce::from(nonce), b"", data)
                .expect("short input")
                .into(),
            Self::Ring(k) => k
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::empty(),
                    data,
                )
                .expect("short input")
                .as_ref()
                .try_into()
                .expect("16 bytes"),
        }
    }
}

/// Bytes read, hashed and encrypted per call.
pub const PIECE: usize = 1 << 20;

/// What one limit run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitRun {
    /// Wall time, seconds.
    pub seconds: f64,
    /// Bytes processed.
    pub bytes: u64,
    /// Files read.
    pub files: usize,
    /// Peak RSS of the process (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// XOR of the tags and digests, so that nothing is optimised away.
    pub check: String,
}

/// Reads, hashes and encrypts every file of the study with `backend` on `threads` threads.
pub fn run(study_dir: &Path, backend: Backend, threads: usize) -> Result<LimitRun, String> {
    let study = Study::load(study_dir).map_err(|e| format!("reading the study: {e}"))?;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<Result<(u64, [u8; 32]), String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|t| {
                let (study, next) = (&study, &next);
                s.spawn(move || worker(study, backend, t as u32, next))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut check = [0u8; 32];
    let mut bytes = 0;
    for r in results {
        let (b, c) = r?;
        bytes += b;
        for (x, y) in check.iter_mut().zip(c) {
            *x ^= y;
        }
    }
    Ok(LimitRun {
        seconds,
        bytes,
        files: study.files.len(),
        peak_rss_kib: crate::peak_rss_kib(),
        check: hex::encode(check),
    })
}

/// Takes files off the shared list until none is left; bytes done and an XOR of tags and
/// digests.
fn worker(
    study: &Study,
    backend: Backend,
    thread: u32,
    next: &AtomicUsize,
) -> Result<(u64, [u8; 32]), String> {
    let cipher = Cipher::new(backend);
    let mut buf = vec![0u8; PIECE];
    let mut check = [0u8; 32];
    let mut bytes = 0u64;
    let mut counter = 0u64;
    while let Some((rel, _)) = study.files.get(next.fetch_add(1, Ordering::Relaxed)) {
        let mut file = std::fs::File::open(study.dir.join(rel)).map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        loop {
            let n = read_full(&mut file, &mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            for chunk in buf[..n].chunks_mut(CHUNK) {
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&thread.to_be_bytes());
                nonce[4..].copy_from_slice(&counter.to_be_bytes());
                counter += 1;
                let tag = cipher.seal(nonce, chunk);
                for (c, t) in check.iter_mut().zip(tag) {
                    *c ^= t;
                }
            }
            bytes += n as u64;
            if n < buf.len() {
                break;
            }
        }
        for (c, d) in check.iter_mut().zip(hasher.finalize()) {
            *c ^= d;
        }
    }
    Ok((bytes, check))
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
