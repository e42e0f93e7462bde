//! Throughput of the stream format against raw AES-256-GCM (`ring`, the stream's backend, and
//! RustCrypto `aes-gcm` 0.10, its previous one) and raw SHA-256 over the same 64 MiB buffer,
//! in one run: `cargo bench -p medimint-sdk --no-default-features --bench stream`.
//! Figures and the machine are recorded in docs/performance.md.

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use medimint_sdk::crypto::{decrypt, encrypt, StudyKey};
use sha2::{Digest, Sha256};

const SIZE: usize = 64 * 1024 * 1024;

fn bench(c: &mut Criterion) {
    let plain: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let key = StudyKey::generate();
    let mut sealed = Vec::with_capacity(SIZE + SIZE / 1024 + 4096);
    encrypt(&key, plain.as_slice(), &mut sealed).unwrap();

    let mut group = c.benchmark_group("64MiB");
    group
        .throughput(Throughput::Bytes(SIZE as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut out = Vec::with_capacity(sealed.len());
    group.bench_function("stream_encrypt", |b| {
        b.iter(|| {
            out.clear();
            encrypt(&key, black_box(plain.as_slice()), &mut out).unwrap()
        })
    });
    group.bench_function("stream_decrypt", |b| {
        b.iter(|| {
            out.clear();
            decrypt(&key, black_box(sealed.as_slice()), &mut out).unwrap()
        })
    });

    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key.as_bytes()).unwrap(),
    );
    let ring_nonce = || ring::aead::Nonce::assume_unique_for_key([7u8; 12]);
    let mut buf = plain.clone();
    group.bench_function("raw_ring_aes256gcm_encrypt", |b| {
        b.iter(|| {
            ring_key
                .seal_in_place_separate_tag(
                    ring_nonce(),
                    ring::aead::Aad::empty(),
                    black_box(&mut buf),
                )
                .unwrap()
        })
    });
    let mut ct = plain.clone();
    let ring_tag = ring_key
        .seal_in_place_separate_tag(ring_nonce(), ring::aead::Aad::empty(), &mut ct)
        .unwrap();
    // The ciphertext is restored outside the timed part (decryption is in place).
    group.bench_function("raw_ring_aes256gcm_decrypt", |b| {
        b.iter_batched_ref(
            || ct.clone(),
            |buf| {
                ring_key
                    .open_in_place_separate_tag(
                        ring_nonce(),
                        ring::aead::Aad::empty(),
                        ring_tag,
                        black_box(buf),
                        0..,
                    )
                    .map(|p| p.len())
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });

    let cipher = Aes256Gcm::new(key.as_bytes().into());
    let nonce = Nonce::from([7u8; 12]);
    group.bench_function("raw_aes256gcm_encrypt", |b| {
        b.iter(|| {
            cipher
                .encrypt_in_place_detached(&nonce, &[], black_box(&mut buf))
                .unwrap()
        })
    });
    let mut ct = plain.clone();
    let tag = cipher
        .encrypt_in_place_detached(&nonce, &[], &mut ct)
        .unwrap();
    // The ciphertext is restored outside the timed part (decryption is in place).
    group.bench_function("raw_aes256gcm_decrypt", |b| {
        b.iter_batched_ref(
            || ct.clone(),
            |buf| {
                cipher
                    .decrypt_in_place_detached(&nonce, &[], black_box(buf), &tag)
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("raw_sha256", |b| {
        b.iter(|| Sha256::digest(black_box(plain.as_slice())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
