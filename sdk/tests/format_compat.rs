//! The stream (format 1) and envelope (format 3) bytes do not depend on the AES-GCM backend:
//! sealed fixtures written by the code of 2026-12-06 (RustCrypto `aes-gcm` 0.10.3, before the
//! backend changed) open with this build, and what this build seals opens with a reference
//! reader written from `docs/formats.md` on RustCrypto `aes-gcm` 0.10 (the previous backend,
//! kept here as a dev-dependency only).
//!
//! Fixtures: `tests/data/formats-v1/`, listed in its `manifest.json` with the key, the
//! recipient's seed and the SHA-256 of each plaintext and sealed file. Plaintexts are not
//! stored: [`plaintext`] regenerates them. `write_fixtures` (ignored) wrote them once; it
//! refuses to overwrite, because fixtures written by a newer build would prove nothing.

use std::path::{Path, PathBuf};

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use medimint_sdk::crypto::{
    decrypt, decrypt_async, encrypt, encrypt_async, open_envelope, open_key, seal_envelope,
    EncryptWriter, StudyKey,
};
use medimint_sdk::keys::Keypair;
use sha2::{Digest, Sha256};

const CHUNK: usize = 64 * 1024;
/// The study key of every stream fixture.
const KEY: [u8; 32] = *b"medimint format fixture key v1 !";
/// The envelope fixture's recipient: `Keypair::from_seed_bytes(&RECIPIENT_SEED)`.
const RECIPIENT_SEED: [u8; 32] = *b"medimint fixture recipient seed!";
/// Plaintext sizes of the stream fixtures: empty, one byte, exactly one chunk, one chunk and
/// one byte, three chunks (two full, one partial).
const STREAM_SIZES: [usize; 5] = [0, 1, CHUNK, CHUNK + 1, 2 * CHUNK + 4321];
/// Plaintext size of the envelope fixture.
const ENVELOPE_SIZE: usize = CHUNK + 1;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats-v1")
}

/// The plaintext of `len` bytes: xorshift64 seeded with the length, low byte of each step.
fn plaintext(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn stream_name(size: usize) -> String {
    format!("stream-{size}.mmst")
}

fn envelope_name(size: usize) -> String {
    format!("envelope-{size}.mmenv")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes the fixtures with the current code. Run once, before a backend change:
/// `MEDIMINT_WRITE_FORMAT_FIXTURES=1 cargo test -p medimint-sdk --test format_compat -- --ignored`
#[test]
#[ignore = "writes the checked-in fixtures; run only with MEDIMINT_WRITE_FORMAT_FIXTURES=1"]
fn write_fixtures() {
    if std::env::var_os("MEDIMINT_WRITE_FORMAT_FIXTURES").is_none() {
        return;
    }
    let dir = dir();
    assert!(
        !dir.exists(),
        "{} exists: fixtures are written once, by the code before a change; delete it only \
         if the format itself changes (then bump its version)",
        dir.display()
    );
    std::fs::create_dir_all(&dir).unwrap();
    let key = StudyKey::from_bytes(KEY);
    let mut files = Vec::new();
    for size in STREAM_SIZES {
        let plain = plaintext(size);
        let mut sealed = Vec::new();
        encrypt(&key, plain.as_slice(), &mut sealed).unwrap();
        std::fs::write(dir.join(stream_name(size)), &sealed).unwrap();
        files.push(serde_json::json!({
            "file": stream_name(size), "format": "stream v1", "plaintext_len": size,
            "plaintext_sha256": sha256_hex(&plain), "sealed_sha256": sha256_hex(&sealed),
        }));
    }
    let recipient = Keypair::from_seed_bytes(&RECIPIENT_SEED);
    let plain = plaintext(ENVELOPE_SIZE);
    let mut sealed = Vec::new();
    seal_envelope(&[recipient.address()], plain.as_slice(), &mut sealed).unwrap();
    std::fs::write(dir.join(envelope_name(ENVELOPE_SIZE)), &sealed).unwrap();
    files.push(serde_json::json!({
        "file": envelope_name(ENVELOPE_SIZE), "format": "envelope v1", "plaintext_len": ENVELOPE_SIZE,
        "plaintext_sha256": sha256_hex(&plain), "sealed_sha256": sha256_hex(&sealed),
        "recipient": recipient.address(),
    }));
    let manifest = serde_json::json!({
        "written_by": "medimint-sdk crypto::encrypt / seal_envelope with RustCrypto aes-gcm 0.10.3 \
                       (commit e3f3153, before the AES-GCM backend change), 2026-12-06",
        "key_hex": hex::encode(KEY),
        "recipient_seed_hex": hex::encode(RECIPIENT_SEED),
        "plaintext": "len bytes; state = 0x9e3779b97f4a7c15 ^ len; per byte: state ^= state << 13; \
                      state ^= state >> 7; state ^= state << 17; byte = state & 0xff (u64 wrapping)",
        "files": files,
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap() + "\n",
    )
    .unwrap();
}

struct Fixture {
    file: String,
    plaintext_len: usize,
    plaintext_sha256: String,
    sealed: Vec<u8>,
}

/// The fixtures of one format, each checked against the manifest's digests first.
fn fixtures(format: &str) -> Vec<Fixture> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["key_hex"], hex::encode(KEY));
    let out: Vec<Fixture> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["format"] == format)
        .map(|f| {
            let file = f["file"].as_str().unwrap().to_owned();
            let sealed = std::fs::read(dir().join(&file)).unwrap();
            assert_eq!(
                sha256_hex(&sealed),
                f["sealed_sha256"],
                "{file} differs from the one checked in"
            );
            let plaintext_len = f["plaintext_len"].as_u64().unwrap() as usize;
            let plaintext_sha256 = f["plaintext_sha256"].as_str().unwrap().to_owned();
            assert_eq!(sha256_hex(&plaintext(plaintext_len)), plaintext_sha256);
            Fixture {
                file,
                plaintext_len,
                plaintext_sha256,
                sealed,
            }
        })
        .collect();
    assert!(!out.is_empty(), "no {format} fixtures");
    out
}

#[test]
fn fixtures_cover_the_chunk_boundaries() {
    let sizes: Vec<usize> = fixtures("stream v1")
        .iter()
        .map(|f| f.plaintext_len)
        .collect();
    assert_eq!(sizes, STREAM_SIZES);
    let envelopes = fixtures("envelope v1");
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0].plaintext_len, ENVELOPE_SIZE);
}

#[test]
fn streams_sealed_before_the_change_open() {
    let key = StudyKey::from_bytes(KEY);
    for f in fixtures("stream v1") {
        let mut out = Vec::new();
        let n = decrypt(&key, f.sealed.as_slice(), &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", f.file));
        assert_eq!(n, f.plaintext_len as u64, "{}", f.file);
        assert_eq!(sha256_hex(&out), f.plaintext_sha256, "{}", f.file);
    }
}

#[tokio::test]
async fn streams_sealed_before_the_change_open_async() {
    let key = StudyKey::from_bytes(KEY);
    for f in fixtures("stream v1") {
        let mut out = Vec::new();
        let n = decrypt_async(&key, f.sealed.as_slice(), &mut out)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.file));
        assert_eq!(n, f.plaintext_len as u64, "{}", f.file);
        assert_eq!(sha256_hex(&out), f.plaintext_sha256, "{}", f.file);
    }
}

#[test]
fn envelopes_sealed_before_the_change_open() {
    let recipient = Keypair::from_seed_bytes(&RECIPIENT_SEED);
    for f in fixtures("envelope v1") {
        let mut out = Vec::new();
        let n = open_envelope(&recipient, f.sealed.as_slice(), &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", f.file));
        assert_eq!(n, f.plaintext_len as u64, "{}", f.file);
        assert_eq!(sha256_hex(&out), f.plaintext_sha256, "{}", f.file);
    }
}

/// The reader itself is checked against the fixtures, so a bug in it cannot pass the tests
/// below vacuously.
#[test]
fn the_reference_reader_opens_the_fixtures_and_refuses_damage() {
    for f in fixtures("stream v1") {
        let out = reference::decrypt(&KEY, &f.sealed).unwrap_or_else(|e| panic!("{}: {e}", f.file));
        assert_eq!(sha256_hex(&out), f.plaintext_sha256, "{}", f.file);
        let mut bad = f.sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(reference::decrypt(&KEY, &bad).is_err(), "{}", f.file);
        assert!(
            reference::decrypt(&[7; 32], &f.sealed).is_err(),
            "{}",
            f.file
        );
        assert!(reference::decrypt(&KEY, &f.sealed[..f.sealed.len() - 1]).is_err());
    }
}

const SIZES: [usize; 8] = [
    0,
    1,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    3 * CHUNK,
    3 * CHUNK + 4321,
    1024 * 1024 + 7,
];

#[test]
fn the_previous_backend_opens_what_this_build_seals() {
    let key = StudyKey::from_bytes(KEY);
    for size in SIZES {
        let plain = plaintext(size);
        let mut sealed = Vec::new();
        encrypt(&key, plain.as_slice(), &mut sealed).unwrap();
        let out = reference::decrypt(&KEY, &sealed).unwrap_or_else(|e| panic!("{size}: {e}"));
        assert!(out == plain, "size {size}: encrypt");

        // The incremental writer, fed in uneven pieces.
        let mut writer = EncryptWriter::new(&key, Vec::new()).unwrap();
        for piece in plain.chunks(40_000) {
            std::io::Write::write_all(&mut writer, piece).unwrap();
        }
        let sealed = writer.finish().unwrap();
        let out = reference::decrypt(&KEY, &sealed).unwrap_or_else(|e| panic!("{size}: {e}"));
        assert!(out == plain, "size {size}: EncryptWriter");
    }
}

#[tokio::test]
async fn the_previous_backend_opens_what_this_build_seals_async() {
    let key = StudyKey::from_bytes(KEY);
    for size in SIZES {
        let plain = plaintext(size);
        let mut sealed = Vec::new();
        encrypt_async(&key, plain.as_slice(), &mut sealed)
            .await
            .unwrap();
        let out = reference::decrypt(&KEY, &sealed).unwrap_or_else(|e| panic!("{size}: {e}"));
        assert!(out == plain, "size {size}: encrypt_async");
    }
}

#[test]
fn the_previous_backend_opens_envelopes_this_build_seals() {
    let recipient = Keypair::from_seed_bytes(&RECIPIENT_SEED);
    for size in [0, CHUNK, 2 * CHUNK + 4321] {
        let plain = plaintext(size);
        let mut sealed = Vec::new();
        seal_envelope(&[recipient.address()], plain.as_slice(), &mut sealed).unwrap();
        // Envelope: "MMENV" · 0x01 · count (u16) · 85-byte sealed keys · stream.
        assert_eq!(&sealed[..8], b"MMENV\x01\x00\x01");
        let key = open_key(&sealed[8..8 + 85], &recipient).unwrap();
        let out = reference::decrypt(key.as_bytes(), &sealed[8 + 85..])
            .unwrap_or_else(|e| panic!("{size}: {e}"));
        assert!(out == plain, "size {size}");
    }
}

#[test]
fn this_build_opens_what_the_previous_backend_seals() {
    let key = StudyKey::from_bytes(KEY);
    for size in SIZES {
        let plain = plaintext(size);
        let sealed = reference::encrypt(&KEY, &[size as u8 ^ 0x5a; 32], &plain);
        let mut out = Vec::new();
        let n =
            decrypt(&key, sealed.as_slice(), &mut out).unwrap_or_else(|e| panic!("{size}: {e}"));
        assert_eq!(n, size as u64);
        assert!(out == plain, "size {size}");
    }
}

/// Format 1 (`docs/formats.md` §1) on RustCrypto `aes-gcm` 0.10, written from the document,
/// whole buffers at a time; errors are strings (only success matters here).
mod reference {
    use super::*;

    const HEADER: usize = 86;
    const TAG: usize = 16;

    struct Keys {
        cipher: Aes256Gcm,
        prefix: [u8; 7],
        commitment: [u8; 32],
    }

    fn keys(key: &[u8; 32], salt: &[u8]) -> Keys {
        let hk = Hkdf::<Sha256>::new(Some(salt), key);
        let mut payload = [0u8; 32];
        let mut prefix = [0u8; 7];
        let mut commitment = [0u8; 32];
        hk.expand(b"medimint stream v1 payload key", &mut payload)
            .unwrap();
        hk.expand(b"medimint stream v1 nonce prefix", &mut prefix)
            .unwrap();
        hk.expand(b"medimint stream v1 key commitment", &mut commitment)
            .unwrap();
        Keys {
            cipher: Aes256Gcm::new_from_slice(&payload).unwrap(),
            prefix,
            commitment,
        }
    }

    fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> Nonce<U12> {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(prefix);
        n[7..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::from(n)
    }

    pub fn encrypt(key: &[u8; 32], salt: &[u8; 32], plain: &[u8]) -> Vec<u8> {
        let k = keys(key, salt);
        let mut out = Vec::new();
        out.extend_from_slice(b"MEDIMINT\x01\x01");
        out.extend_from_slice(&(CHUNK as u32).to_be_bytes());
        out.extend_from_slice(salt);
        out.extend_from_slice(&k.commitment);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum[..8]);
        let chunks: Vec<&[u8]> = if plain.is_empty() {
            vec![&[]]
        } else {
            plain.chunks(CHUNK).collect()
        };
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let mut data = chunk.to_vec();
            let tag = k
                .cipher
                .encrypt_in_place_detached(&nonce(&k.prefix, i as u32, last), b"", &mut data)
                .unwrap();
            let word = (data.len() + TAG) as u32 | if last { 1 << 31 } else { 0 };
            out.extend_from_slice(&word.to_be_bytes());
            out.extend_from_slice(&data);
            out.extend_from_slice(&tag);
        }
        out
    }

    pub fn decrypt(key: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < HEADER {
            return Err("header truncated".into());
        }
        let (header, mut rest) = sealed.split_at(HEADER);
        if &header[..10] != b"MEDIMINT\x01\x01" || header[10..14] != (CHUNK as u32).to_be_bytes() {
            return Err("magic, version, suite or chunk size".into());
        }
        if Sha256::digest(&header[..78])[..8] != header[78..] {
            return Err("header checksum".into());
        }
        let k = keys(key, &header[14..46]);
        if k.commitment[..] != header[46..78] {
            return Err("wrong key (commitment)".into());
        }
        let mut out = Vec::new();
        for index in 0u32.. {
            if rest.len() < 4 {
                return Err(format!("chunk {index}: no frame word"));
            }
            let word = u32::from_be_bytes(rest[..4].try_into().unwrap());
            let last = word >> 31 == 1;
            let len = (word & 0x7fff_ffff) as usize;
            if !(TAG..=CHUNK + TAG).contains(&len) || (!last && len != CHUNK + TAG) {
                return Err(format!("chunk {index}: frame length {len}"));
            }
            if rest.len() < 4 + len {
                return Err(format!("chunk {index}: truncated"));
            }
            let mut data = rest[4..4 + len - TAG].to_vec();
            let tag: [u8; TAG] = rest[4 + len - TAG..4 + len].try_into().unwrap();
            let tag = Tag::from(tag);
            k.cipher
                .decrypt_in_place_detached(&nonce(&k.prefix, index, last), b"", &mut data, &tag)
                .map_err(|_| format!("chunk {index}: tag"))?;
            out.extend_from_slice(&data);
            rest = &rest[4 + len..];
            if last {
                if !rest.is_empty() {
                    return Err("trailing data".into());
                }
                if data.is_empty() && index > 0 {
                    return Err("empty last chunk after others".into());
                }
                return Ok(out);
            }
        }
        unreachable!("the loop returns")
    }
}
