//! The hardware limit of a release (issue 20): what this machine's CPU does for AES-256-GCM
//! and SHA-256 over the same bytes on every core the pipeline may use, measured by OpenSSL
//! (`openssl speed -elapsed -evp … -bytes 16384 -multi N`), and the store's own write rate
//! (the study's size written into the work folder in 1 MiB pieces). The limit is the smaller
//! of the two; every part is reported.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

/// Block size of the OpenSSL measurements (the 16 KiB).
pub const OPENSSL_BLOCK: usize = 16 * 1024;
/// Piece size of the store-write measurement.
pub const WRITE_PIECE: usize = 1 << 20;

/// One round's parts, bytes per second.
#[derive(Debug, Clone, Serialize)]
pub struct HardwareRun {
    /// Cores measured (`-multi`).
    pub cores: usize,
    /// `openssl speed -evp aes-256-gcm`, all cores together.
    pub aes_bytes_per_s: f64,
    /// `openssl speed -evp sha256`, all cores together.
    pub sha_bytes_per_s: f64,
    /// Both over the same bytes: 1 / (1/aes + 1/sha) (per core times cores is the same).
    pub crypto_bytes_per_s: f64,
    /// The study's size written into the work folder in 1 MiB pieces, then fsynced.
    pub store_write_bytes_per_s: f64,
    /// The smaller of `crypto_bytes_per_s` and `store_write_bytes_per_s`.
    pub limit_bytes_per_s: f64,
}

impl HardwareRun {
    /// Which part bounds the limit.
    pub fn bound_by(&self) -> &'static str {
        if self.store_write_bytes_per_s < self.crypto_bytes_per_s {
            "store write"
        } else {
            "crypto"
        }
    }
}

/// Rate of doing both over the same bytes.
pub fn combined(aes: f64, sha: f64) -> f64 {
    1.0 / (1.0 / aes + 1.0 / sha)
}

/// `openssl speed` of one EVP algorithm on `cores` processes; bytes per second, summed.
pub fn openssl_speed(algorithm: &str, cores: usize, seconds: u32) -> Result<f64, String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["speed", "-elapsed", "-mr", "-seconds"])
        .arg(seconds.to_string())
        .arg("-bytes")
        .arg(OPENSSL_BLOCK.to_string());
    if cores > 1 {
        cmd.arg("-multi").arg(cores.to_string());
    }
    cmd.args(["-evp", algorithm]);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| {
            format!("running `openssl speed` (the hardware limit needs the openssl command; apt-get install openssl): {e}")
        })?;
    if !out.status.success() {
        return Err(format!(
            "`openssl speed -evp {algorithm}` failed ({})",
            out.status
        ));
    }
    parse_speed(&String::from_utf8_lossy(&out.stdout), algorithm).ok_or_else(|| {
        format!("`openssl speed -evp {algorithm}` printed no `+F:` result for {OPENSSL_BLOCK}-byte blocks")
    })
}

/// The total from `-mr` output: the last `+F:<n>:<alg>:<bytes/s>` line (with `-multi`, the
/// children's lines start with `Got:` and the sum comes last).
pub fn parse_speed(stdout: &str, algorithm: &str) -> Option<f64> {
    stdout
        .lines()
        .filter(|l| l.starts_with("+F:"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[2].eq_ignore_ascii_case(algorithm))
                .then(|| f[3].trim().parse::<f64>().ok())
                .flatten()
        })
        .next_back()
}

/// Writes `bytes` into a new file under `dir` in 1 MiB pieces, fsyncs, deletes it; bytes per
/// second of the write and the fsync.
pub fn store_write_rate(dir: &Path, bytes: u64) -> Result<f64, String> {
    let path = dir.join("store-write-rate.tmp");
    let piece: Vec<u8> = (0..WRITE_PIECE).map(|i| (i * 131 % 251) as u8).collect();
    let started = Instant::now();
    let mut file =
        std::fs::File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(WRITE_PIECE as u64) as usize;
        file.write_all(&piece[..n])
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| format!("syncing {}: {e}", path.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
    Ok(bytes as f64 / seconds)
}

/// One round of every part.
pub fn measure(
    work_dir: &Path,
    bytes: u64,
    cores: usize,
    openssl_seconds: u32,
) -> Result<HardwareRun, String> {
    let aes = openssl_speed("aes-256-gcm", cores, openssl_seconds)?;
    let sha = openssl_speed("sha256", cores, openssl_seconds)?;
    let store = store_write_rate(work_dir, bytes)?;
    let crypto = combined(aes, sha);
    Ok(HardwareRun {
        cores,
        aes_bytes_per_s: aes,
        sha_bytes_per_s: sha,
        crypto_bytes_per_s: crypto,
        store_write_bytes_per_s: store,
        limit_bytes_per_s: crypto.min(store),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_multi_output() {
        let single = "+H:16384\n+F:25:sha256:1051328512.00\n";
        assert_eq!(parse_speed(single, "sha256"), Some(1_051_328_512.0));
        let multi =
            "Forked child 0\nGot: +H:16384 from 0\nGot: +F:25:AES-256-GCM:1004566304.95 from 0\n\
                     Got: +F:25:AES-256-GCM:933412864.00 from 1\n+F:25:AES-256-GCM:1937979168.95\n";
        assert_eq!(parse_speed(multi, "aes-256-gcm"), Some(1_937_979_168.95));
        assert_eq!(parse_speed(multi, "sha256"), None);
        assert_eq!(parse_speed("", "sha256"), None);
    }

    #[test]
    fn both_over_the_same_bytes() {
        // 3.5 GB/s AES and 1.5 GB/s SHA on one core: 1.05 GB/s for both.
        assert!((combined(3.5e9, 1.5e9) - 1.05e9).abs() < 1.0);
    }
}
