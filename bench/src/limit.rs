//! Measure (b): the limit. Every file read once from disk (page cache), each piece hashed
//! with SHA-256 (`sha2`) and encrypted in place with AES-256-GCM (`aes-gcm`, one call per
//! piece with its own nonce), nothing written. This is the least work any pipeline that
//! hashes and encrypts every byte must do, with the same crates the sdk uses.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gen::Study;

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

/// Reads, hashes and encrypts every file of the study.
pub fn run(study_dir: &Path) -> Result<LimitRun, String> {
    let study = Study::load(study_dir).map_err(|e| format!("reading the study: {e}"))?;
    let cipher = Aes256Gcm::new_from_slice(&[0x42u8; 32]).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; PIECE];
    let mut check = [0u8; 32];
    let mut bytes = 0u64;
    let mut counter = 0u64;
    let started = Instant::now();
    for (rel, _) in &study.files {
        let mut file = std::fs::File::open(study.dir.join(rel)).map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        loop {
            let n = read_full(&mut file, &mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            counter += 1;
            let tag = cipher
                .encrypt_in_place_detached(&Nonce::from(nonce), b"", &mut buf[..n])
                .map_err(|e| e.to_string())?;
            for (c, t) in check.iter_mut().zip(tag.iter()) {
                *c ^= t;
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
    let seconds = started.elapsed().as_secs_f64();
    Ok(LimitRun {
        seconds,
        bytes,
        files: study.files.len(),
        peak_rss_kib: crate::peak_rss_kib(),
        check: hex::encode(check),
    })
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
