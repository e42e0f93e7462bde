//! `medimint-bench crypto`: which AES-256-GCM and SHA-256 crates are fastest on this CPU, one
//! core, over the same buffer, in the stream format's unit (64 KiB chunks, one AEAD call
//! each). The sdk keeps the fastest (docs/performance.md, "Crypto backends").
//!
//! AES-256-GCM: RustCrypto `aes-gcm` 0.10 (the sdk's backend before issue 20), `aes-gcm` 0.11
//! (with `aes` 0.9, which has a VAES path), `aws-lc-rs` and `ring`. SHA-256: `sha2` 0.10 and
//! 0.11 (SHA-NI detected at run time), `aws-lc-rs` and `ring`. OpenSSL's figure for one core
//! (`openssl speed`, 16 KiB blocks) is the yardstick.
//!
//! "open" copies each chunk out of the big buffer first (as a reader does when it reads the
//! chunk), then decrypts it, in place or into a second buffer as each crate allows.

use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use crate::hardware;

const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// One case over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub name: String,
    /// 10^6 bytes per second, one per run.
    pub runs_mb_per_s: Vec<f64>,
}

impl Case {
    pub fn median(&self) -> f64 {
        crate::report::median(&self.runs_mb_per_s)
    }

    fn min(&self) -> f64 {
        self.runs_mb_per_s.iter().copied().fold(f64::MAX, f64::min)
    }

    fn max(&self) -> f64 {
        self.runs_mb_per_s.iter().copied().fold(0.0, f64::max)
    }
}

/// Everything one `crypto` run found.
#[derive(Debug, Clone, Serialize)]
pub struct Backends {
    pub buffer_bytes: usize,
    pub runs: usize,
    pub cpu: String,
    pub cases: Vec<Case>,
}

fn nonce(i: usize) -> [u8; 12] {
    let mut n = [7u8; 12];
    n[7..11].copy_from_slice(&(i as u32).to_be_bytes());
    n
}

/// MB/s of one pass of `f` over `bytes`.
fn timed(bytes: usize, f: &mut dyn FnMut()) -> f64 {
    let started = Instant::now();
    f();
    bytes as f64 / started.elapsed().as_secs_f64() / 1e6
}

type Pass<'a> = Box<dyn FnMut(&mut [u8], &mut [[u8; TAG]]) + 'a>;

/// Runs every case `runs` times over a buffer of `mib` MiB; rounds interleave the cases so
/// that a burst of load elsewhere does not land on one case only.
pub fn run(mib: usize, runs: usize, openssl_seconds: u32) -> Result<Backends, String> {
    let size = mib.max(1) << 20;
    let mut buf: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut tags = vec![[0u8; TAG]; size.div_ceil(CHUNK)];
    let key = [0x42u8; 32];

    let rc10 = {
        use aes_gcm::aead::KeyInit;
        aes_gcm::Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?
    };
    let rc11 = {
        use aes_gcm_011::aead::KeyInit;
        aes_gcm_011::Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?
    };
    let lc = aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &key)
            .map_err(|e| e.to_string())?,
    );
    let rg = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).map_err(|e| e.to_string())?,
    );

    // Each backend's seal and open over the whole buffer, in 64 KiB chunks.
    let mut cases: Vec<(String, Pass)> = Vec::new();
    cases.push((
        "AES-256-GCM seal: aes-gcm 0.10 (RustCrypto, before)".into(),
        Box::new(|buf, tags| {
            use aes_gcm::aead::AeadInPlace;
            for (i, ch) in buf.chunks_mut(CHUNK).enumerate() {
                tags[i] = rc10
                    .encrypt_in_place_detached(&nonce(i).into(), b"", ch)
                    .expect("short")
                    .into();
            }
        }),
    ));
    cases.push((
        "AES-256-GCM open: aes-gcm 0.10 (RustCrypto, before)".into(),
        Box::new(|buf, tags| {
            use aes_gcm::aead::AeadInPlace;
            let mut work = vec![0u8; CHUNK];
            for (i, ch) in buf.chunks(CHUNK).enumerate() {
                let w = &mut work[..ch.len()];
                w.copy_from_slice(ch);
                rc10.decrypt_in_place_detached(&nonce(i).into(), b"", w, &tags[i].into())
                    .expect("authentic");
                black_box(&w);
            }
        }),
    ));
    cases.push((
        "AES-256-GCM seal: aes-gcm 0.11 (aes 0.9)".into(),
        Box::new(|buf, tags| {
            use aes_gcm_011::aead::AeadInOut;
            for (i, ch) in buf.chunks_mut(CHUNK).enumerate() {
                tags[i] = rc11
                    .encrypt_inout_detached(&nonce(i).into(), b"", ch.into())
                    .expect("short")
                    .into();
            }
        }),
    ));
    cases.push((
        "AES-256-GCM open: aes-gcm 0.11 (aes 0.9)".into(),
        Box::new(|buf, tags| {
            use aes_gcm_011::aead::inout::InOutBuf;
            use aes_gcm_011::aead::AeadInOut;
            let mut read = vec![0u8; CHUNK];
            let mut out = vec![0u8; CHUNK];
            for (i, ch) in buf.chunks(CHUNK).enumerate() {
                read[..ch.len()].copy_from_slice(ch);
                let io = InOutBuf::new(&read[..ch.len()], &mut out[..ch.len()]).expect("same");
                rc11.decrypt_inout_detached(&nonce(i).into(), b"", io, &tags[i].into())
                    .expect("authentic");
                black_box(&out);
            }
        }),
    ));
    cases.push((
        "AES-256-GCM seal: aws-lc-rs".into(),
        Box::new(|buf, tags| {
            use aws_lc_rs::aead::{Aad, Nonce};
            for (i, ch) in buf.chunks_mut(CHUNK).enumerate() {
                let t = lc
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce(i)),
                        Aad::empty(),
                        ch,
                    )
                    .expect("short");
                tags[i].copy_from_slice(t.as_ref());
            }
        }),
    ));
    cases.push((
        "AES-256-GCM open: aws-lc-rs".into(),
        Box::new(|buf, tags| {
            use aws_lc_rs::aead::{Aad, Nonce};
            let mut read = vec![0u8; CHUNK];
            let mut out = vec![0u8; CHUNK];
            for (i, ch) in buf.chunks(CHUNK).enumerate() {
                read[..ch.len()].copy_from_slice(ch);
                lc.open_separate_gather(
                    Nonce::assume_unique_for_key(nonce(i)),
                    Aad::empty(),
                    &read[..ch.len()],
                    &tags[i],
                    &mut out[..ch.len()],
                )
                .expect("authentic");
                black_box(&out);
            }
        }),
    ));
    cases.push((
        "AES-256-GCM seal: ring".into(),
        Box::new(|buf, tags| {
            use ring::aead::{Aad, Nonce};
            for (i, ch) in buf.chunks_mut(CHUNK).enumerate() {
                let t = rg
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce(i)),
                        Aad::empty(),
                        ch,
                    )
                    .expect("short");
                tags[i].copy_from_slice(t.as_ref());
            }
        }),
    ));
    cases.push((
        "AES-256-GCM open: ring".into(),
        Box::new(|buf, tags| {
            use ring::aead::{Aad, Nonce, Tag};
            // As the sdk's reader: the chunk is read behind room for its plaintext.
            let mut work = vec![0u8; 2 * CHUNK];
            for (i, ch) in buf.chunks(CHUNK).enumerate() {
                work[CHUNK..CHUNK + ch.len()].copy_from_slice(ch);
                rg.open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce(i)),
                    Aad::empty(),
                    Tag::from(tags[i]),
                    &mut work[..CHUNK + ch.len()],
                    CHUNK..,
                )
                .expect("authentic");
                black_box(&work);
            }
        }),
    ));
    cases.push((
        "SHA-256: sha2 0.10".into(),
        Box::new(|buf, _| {
            use sha2::Digest;
            black_box(sha2::Sha256::digest(&*buf));
        }),
    ));
    cases.push((
        "SHA-256: sha2 0.11".into(),
        Box::new(|buf, _| {
            use sha2_011::Digest;
            black_box(sha2_011::Sha256::digest(&*buf));
        }),
    ));
    cases.push((
        "SHA-256: aws-lc-rs".into(),
        Box::new(|buf, _| {
            black_box(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, buf));
        }),
    ));
    cases.push((
        "SHA-256: ring".into(),
        Box::new(|buf, _| {
            black_box(ring::digest::digest(&ring::digest::SHA256, buf));
        }),
    ));

    let mut results: Vec<Case> = cases
        .iter()
        .map(|(name, _)| Case {
            name: name.clone(),
            runs_mb_per_s: Vec::new(),
        })
        .collect();
    // A seal fills `tags` for the open that follows it: the order above is kept.
    for (_, pass) in cases.iter_mut() {
        pass(&mut buf, &mut tags); // warm up (and tags for the first open)
    }
    let mut openssl = [
        Case {
            name: "AES-256-GCM: openssl speed, 16 KiB blocks".into(),
            runs_mb_per_s: Vec::new(),
        },
        Case {
            name: "SHA-256: openssl speed, 16 KiB blocks".into(),
            runs_mb_per_s: Vec::new(),
        },
    ];
    for round in 0..runs.max(1) {
        eprintln!("crypto backends: round {}/{runs}", round + 1);
        for ((_, pass), result) in cases.iter_mut().zip(results.iter_mut()) {
            result
                .runs_mb_per_s
                .push(timed(size, &mut || pass(&mut buf, &mut tags)));
        }
        for (case, alg) in openssl.iter_mut().zip(["aes-256-gcm", "sha256"]) {
            match hardware::openssl_speed(alg, 1, openssl_seconds) {
                Ok(r) => case.runs_mb_per_s.push(r / 1e6),
                Err(e) => eprintln!("  {e}"),
            }
        }
    }
    results.extend(openssl.into_iter().filter(|c| !c.runs_mb_per_s.is_empty()));
    Ok(Backends {
        buffer_bytes: size,
        runs: runs.max(1),
        cpu: crate::report::cpu_model(),
        cases: results,
    })
}

impl Backends {
    pub fn table(&self) -> String {
        let mut out = format!(
            "crypto backends, one core, {} MiB buffer in 64 KiB calls, {} run(s); MB/s = 10^6 bytes/s; {}\n",
            self.buffer_bytes >> 20,
            self.runs,
            self.cpu
        );
        let width = self.cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.cases {
            out += &format!(
                "{:<width$}  {:>6.0} MB/s (min {:.0}, max {:.0})\n",
                c.name,
                c.median(),
                c.min(),
                c.max()
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("| case | MB/s median | min | max |\n|---|---:|---:|---:|\n");
        for c in &self.cases {
            out += &format!(
                "| {} | **{:.0}** | {:.0} | {:.0} |\n",
                c.name,
                c.median(),
                c.min(),
                c.max()
            );
        }
        out
    }
}
