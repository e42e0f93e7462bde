//! The stream format: round trips at every size boundary (sync and async), and each kind of
//! damage failing with its own error without releasing plaintext of the damaged chunk.

use std::io::Write;

use medimint_sdk::crypto::stream::{CHUNK_SIZE, FRAME_LEN, HEADER_LEN, TAG_LEN};
use medimint_sdk::crypto::{
    decrypt, decrypt_async, encrypt, encrypt_async, rekey, ChunkDecryptor, EncryptWriter, Error,
    StudyKey,
};

const FRAME: usize = FRAME_LEN + CHUNK_SIZE + TAG_LEN;

/// Deterministic, non-repeating test data.
fn data(len: usize) -> Vec<u8> {
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

fn seal(key: &StudyKey, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert_eq!(encrypt(key, plain, &mut out).unwrap(), plain.len() as u64);
    out
}

/// Decrypts, returning the error and whatever plaintext was written before it.
fn open(key: &StudyKey, sealed: &[u8]) -> (Result<u64, Error>, Vec<u8>) {
    let mut out = Vec::new();
    let r = decrypt(key, sealed, &mut out);
    (r, out)
}

fn expected_len(plain: usize) -> usize {
    let chunks = plain.div_ceil(CHUNK_SIZE).max(1);
    HEADER_LEN + chunks * (FRAME_LEN + TAG_LEN) + plain
}

const SIZES: [usize; 7] = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    3 * CHUNK_SIZE,
    5 * 1024 * 1024 + 7,
];

#[test]
fn sync_round_trips_at_chunk_boundaries() {
    let key = StudyKey::generate();
    for size in SIZES {
        let plain = data(size);
        let sealed = seal(&key, &plain);
        assert_eq!(sealed.len(), expected_len(size), "size {size}");
        let (r, out) = open(&key, &sealed);
        assert_eq!(r.unwrap(), size as u64, "size {size}");
        assert!(out == plain, "size {size}: plaintext differs");
    }
}

#[tokio::test]
async fn async_round_trips_at_chunk_boundaries() {
    let key = StudyKey::generate();
    for size in SIZES {
        let plain = data(size);
        let mut sealed = Vec::new();
        let n = encrypt_async(&key, plain.as_slice(), &mut sealed)
            .await
            .unwrap();
        assert_eq!(n, size as u64);
        assert_eq!(sealed.len(), expected_len(size), "size {size}");
        let mut out = Vec::new();
        let n = decrypt_async(&key, sealed.as_slice(), &mut out)
            .await
            .unwrap();
        assert_eq!(n, size as u64);
        assert!(out == plain, "size {size}: plaintext differs");
        // The two implementations read each other's output.
        let mut sync_out = Vec::new();
        decrypt(&key, sealed.as_slice(), &mut sync_out).unwrap();
        assert!(sync_out == plain);
    }
}

#[tokio::test]
async fn async_reports_the_same_damage() {
    let key = StudyKey::generate();
    let mut sealed = seal(&key, &data(2 * CHUNK_SIZE + 5));
    sealed[HEADER_LEN + FRAME + 100] ^= 1;
    let mut out = Vec::new();
    let err = decrypt_async(&key, sealed.as_slice(), &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChunkTampered { index: 1 }), "{err}");
    assert_eq!(out.len(), CHUNK_SIZE);
}

#[tokio::test]
async fn chunks_come_out_whole_and_damage_ends_them() {
    let key = StudyKey::generate();
    for size in [0, 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5] {
        let plain = data(size);
        let sealed = seal(&key, &plain);
        let mut chunks = ChunkDecryptor::new(&key, sealed.as_slice());
        let mut out = Vec::new();
        let mut lens = Vec::new();
        while let Some(c) = chunks.next_chunk().await.unwrap() {
            lens.push(c.len());
            out.extend_from_slice(c);
        }
        assert!(out == plain, "size {size}: plaintext differs");
        // Every chunk but the last is a whole chunk of the format.
        assert!(
            lens[..lens.len() - 1].iter().all(|l| *l == CHUNK_SIZE),
            "{lens:?}"
        );
        assert!(chunks.next_chunk().await.unwrap().is_none());
    }
    // A damaged second chunk: the first comes out, then the error, then nothing.
    let mut sealed = seal(&key, &data(2 * CHUNK_SIZE + 5));
    sealed[HEADER_LEN + FRAME + 100] ^= 1;
    let mut chunks = ChunkDecryptor::new(&key, sealed.as_slice());
    assert_eq!(
        chunks.next_chunk().await.unwrap().unwrap().len(),
        CHUNK_SIZE
    );
    let err = chunks.next_chunk().await.unwrap_err();
    assert!(matches!(err, Error::ChunkTampered { index: 1 }), "{err}");
    assert!(chunks.next_chunk().await.unwrap().is_none());
    // A truncated stream never ends cleanly; trailing bytes are refused.
    let sealed = seal(&key, &data(CHUNK_SIZE + 5));
    let mut chunks = ChunkDecryptor::new(&key, &sealed[..sealed.len() - 3]);
    chunks.next_chunk().await.unwrap();
    assert!(chunks.next_chunk().await.is_err());
    let mut longer = sealed.clone();
    longer.push(0);
    let mut chunks = ChunkDecryptor::new(&key, longer.as_slice());
    chunks.next_chunk().await.unwrap();
    assert!(matches!(
        chunks.next_chunk().await.unwrap_err(),
        Error::TrailingData
    ));
    // The wrong key: refused at the header.
    let mut chunks = ChunkDecryptor::new(&StudyKey::generate(), sealed.as_slice());
    assert!(matches!(
        chunks.next_chunk().await.unwrap_err(),
        Error::WrongKey
    ));
}

#[test]
fn the_writer_produces_the_same_format_whatever_the_write_sizes() {
    let key = StudyKey::generate();
    for size in [0, CHUNK_SIZE, 2 * CHUNK_SIZE + 3] {
        let plain = data(size);
        let mut w = EncryptWriter::new(&key, Vec::new()).unwrap();
        for piece in plain.chunks(1000) {
            w.write_all(piece).unwrap();
        }
        let sealed = w.finish().unwrap();
        assert_eq!(sealed.len(), expected_len(size));
        let (r, out) = open(&key, &sealed);
        assert_eq!(r.unwrap(), size as u64);
        assert!(out == plain);
    }
}

/// A reader that produces `remaining` bytes without holding them, and a writer that keeps
/// only a count: what passes between them is bounded by the chunk buffers.
struct Generated {
    remaining: u64,
    largest_read: usize,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest_read = self.largest_read.max(buf.len());
        let n = buf.len().min(self.remaining as usize);
        buf[..n].fill(0xA5);
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[derive(Default)]
struct Counting {
    bytes: u64,
    largest_write: usize,
}

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.largest_write = self.largest_write.max(buf.len());
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn encryption_streams_with_chunk_sized_buffers() {
    let key = StudyKey::generate();
    let size = 64 * 1024 * 1024 + 3;
    let mut input = Generated {
        remaining: size,
        largest_read: 0,
    };
    let mut sink = Counting::default();
    assert_eq!(encrypt(&key, &mut input, &mut sink).unwrap(), size);
    assert_eq!(sink.bytes, expected_len(size as usize) as u64);
    assert!(input.largest_read <= CHUNK_SIZE, "{}", input.largest_read);
    assert!(sink.largest_write <= FRAME, "{}", sink.largest_write);
}

#[test]
fn rekey_changes_the_key_and_keeps_the_plaintext() {
    let old = StudyKey::generate();
    let plain = data(2 * CHUNK_SIZE + 17);
    let sealed = seal(&old, &plain);
    let mut resealed = Vec::new();
    let new = rekey(&old, sealed.as_slice(), &mut resealed).unwrap();
    assert_ne!(new, old);
    assert!(matches!(open(&old, &resealed).0, Err(Error::WrongKey)));
    let (r, out) = open(&new, &resealed);
    assert_eq!(r.unwrap(), plain.len() as u64);
    assert!(out == plain);
}

// ---- damage: four chunks, the last one partial ----

const PLAIN_LEN: usize = 3 * CHUNK_SIZE + 1000;

fn sample() -> (StudyKey, Vec<u8>, Vec<u8>) {
    let key = StudyKey::generate();
    let plain = data(PLAIN_LEN);
    let sealed = seal(&key, &plain);
    (key, plain, sealed)
}

fn frame_start(i: usize) -> usize {
    HEADER_LEN + i * FRAME
}

#[test]
fn header_bit_flip_is_header_damage() {
    let (key, _, mut sealed) = sample();
    sealed[20] ^= 0x01; // inside the salt
    let (r, out) = open(&key, &sealed);
    assert!(matches!(r, Err(Error::HeaderCorrupt(_))), "{r:?}");
    assert!(out.is_empty());
}

#[test]
fn commitment_bit_flip_is_header_damage_not_wrong_key() {
    let (key, _, mut sealed) = sample();
    sealed[60] ^= 0x80;
    assert!(matches!(
        open(&key, &sealed).0,
        Err(Error::HeaderCorrupt(_))
    ));
}

#[test]
fn magic_and_version_are_checked() {
    let (key, _, sealed) = sample();
    let mut bad = sealed.clone();
    bad[0] ^= 0x01;
    assert!(matches!(open(&key, &bad).0, Err(Error::BadMagic)));
    let mut v2 = sealed.clone();
    v2[8] = 2;
    assert!(matches!(
        open(&key, &v2).0,
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
    assert!(matches!(
        open(&key, b"PK\x03\x04 a zip file").0,
        Err(Error::BadMagic)
    ));
}

#[test]
fn short_header_and_empty_input() {
    let (key, _, sealed) = sample();
    assert!(matches!(
        open(&key, &sealed[..50]).0,
        Err(Error::HeaderTruncated {
            found: 50,
            expected: HEADER_LEN
        })
    ));
    assert!(matches!(
        open(&key, &[]).0,
        Err(Error::HeaderTruncated { found: 0, .. })
    ));
}

#[test]
fn wrong_key_is_caught_by_the_commitment() {
    let (_, _, sealed) = sample();
    let (r, out) = open(&StudyKey::generate(), &sealed);
    assert!(matches!(r, Err(Error::WrongKey)), "{r:?}");
    assert!(out.is_empty());
}

#[test]
fn flipped_bit_in_a_chunk_releases_only_earlier_chunks() {
    let (key, plain, mut sealed) = sample();
    sealed[frame_start(1) + FRAME_LEN + 12_345] ^= 0x04;
    let (r, out) = open(&key, &sealed);
    assert!(matches!(r, Err(Error::ChunkTampered { index: 1 })), "{r:?}");
    assert!(out == plain[..CHUNK_SIZE], "only chunk 0 was written");
}

#[test]
fn flipped_bit_in_a_tag() {
    let (key, plain, mut sealed) = sample();
    sealed[frame_start(2) + FRAME - 1] ^= 0x10;
    let (r, out) = open(&key, &sealed);
    assert!(matches!(r, Err(Error::ChunkTampered { index: 2 })), "{r:?}");
    assert!(out == plain[..2 * CHUNK_SIZE]);
}

#[test]
fn flipped_bit_in_a_frame_word() {
    let (key, _, sealed) = sample();
    for bit in [0x80u8, 0x01] {
        let mut bad = sealed.clone();
        bad[frame_start(0) + if bit == 0x80 { 0 } else { 3 }] ^= bit;
        let (r, out) = open(&key, &bad);
        assert!(matches!(r, Err(Error::ChunkTampered { index: 0 })), "{r:?}");
        assert!(out.is_empty());
    }
}

#[test]
fn flipped_bit_in_the_last_chunk() {
    let (key, plain, mut sealed) = sample();
    let end = sealed.len();
    sealed[end - 100] ^= 0x02;
    let (r, out) = open(&key, &sealed);
    assert!(matches!(r, Err(Error::ChunkTampered { index: 3 })), "{r:?}");
    assert!(out == plain[..3 * CHUNK_SIZE]);
}

#[test]
fn truncation_at_a_chunk_boundary() {
    let (key, plain, sealed) = sample();
    let (r, out) = open(&key, &sealed[..frame_start(2)]);
    assert!(
        matches!(r, Err(Error::MissingLastChunk { chunks: 2 })),
        "{r:?}"
    );
    assert!(out == plain[..2 * CHUNK_SIZE]);
    // Nothing after the header at all.
    let (r, out) = open(&key, &sealed[..HEADER_LEN]);
    assert!(
        matches!(r, Err(Error::MissingLastChunk { chunks: 0 })),
        "{r:?}"
    );
    assert!(out.is_empty());
}

#[test]
fn truncation_between_chunk_boundaries() {
    let (key, plain, sealed) = sample();
    let (r, out) = open(&key, &sealed[..frame_start(1) + 30_000]);
    assert!(matches!(r, Err(Error::Truncated { index: 1 })), "{r:?}");
    assert!(out == plain[..CHUNK_SIZE]);
    // Cut inside a frame word.
    let (r, _) = open(&key, &sealed[..frame_start(3) + 2]);
    assert!(matches!(r, Err(Error::Truncated { index: 3 })), "{r:?}");
    // Cut inside the last chunk.
    let (r, out) = open(&key, &sealed[..sealed.len() - 1]);
    assert!(matches!(r, Err(Error::Truncated { index: 3 })), "{r:?}");
    assert!(out == plain[..3 * CHUNK_SIZE]);
}

#[test]
fn missing_last_chunk_of_an_aligned_stream() {
    // Exactly two chunks: the second (full) one carries the last flag. Without it the first
    // authenticates but the stream has no end.
    let key = StudyKey::generate();
    let plain = data(2 * CHUNK_SIZE);
    let sealed = seal(&key, &plain);
    assert_eq!(sealed.len(), HEADER_LEN + 2 * FRAME);
    let (r, out) = open(&key, &sealed[..HEADER_LEN + FRAME]);
    assert!(
        matches!(r, Err(Error::MissingLastChunk { chunks: 1 })),
        "{r:?}"
    );
    assert!(out == plain[..CHUNK_SIZE]);
}

#[test]
fn swapped_chunks_are_reported_as_reordering() {
    let (key, _, sealed) = sample();
    let mut swapped = sealed[..HEADER_LEN].to_vec();
    swapped.extend_from_slice(&sealed[frame_start(1)..frame_start(2)]);
    swapped.extend_from_slice(&sealed[frame_start(0)..frame_start(1)]);
    swapped.extend_from_slice(&sealed[frame_start(2)..]);
    assert_eq!(swapped.len(), sealed.len());
    let (r, out) = open(&key, &swapped);
    assert!(
        matches!(
            r,
            Err(Error::ChunkOutOfOrder {
                index: 0,
                written_as: 1
            })
        ),
        "{r:?}"
    );
    assert!(out.is_empty(), "a misplaced chunk is never released");
}

#[test]
fn a_duplicated_chunk_is_reordering() {
    let (key, plain, sealed) = sample();
    let mut dup = sealed[..frame_start(2)].to_vec();
    dup.extend_from_slice(&sealed[frame_start(1)..]);
    let (r, out) = open(&key, &dup);
    assert!(
        matches!(
            r,
            Err(Error::ChunkOutOfOrder {
                index: 2,
                written_as: 1
            })
        ),
        "{r:?}"
    );
    assert!(out == plain[..2 * CHUNK_SIZE]);
}

#[test]
fn appended_bytes_are_trailing_data_and_hold_back_the_last_chunk() {
    let (key, plain, mut sealed) = sample();
    sealed.extend_from_slice(b"extra");
    let (r, out) = open(&key, &sealed);
    assert!(matches!(r, Err(Error::TrailingData)), "{r:?}");
    assert!(out == plain[..3 * CHUNK_SIZE]);
}

#[test]
fn errors_name_the_damage() {
    let msg = Error::ChunkOutOfOrder {
        index: 0,
        written_as: 1,
    }
    .to_string();
    assert_eq!(msg, "chunk 0 is out of order: it was written as chunk 1");
    assert!(Error::MissingLastChunk { chunks: 2 }
        .to_string()
        .contains("without its final chunk"));
}

#[test]
fn study_key_debug_is_redacted() {
    let key = StudyKey::from_bytes([0x42; 32]);
    assert_eq!(format!("{key:?}"), "StudyKey(redacted)");
}

#[tokio::test]
async fn rekey_async_reseals_under_the_given_key_chunk_for_chunk() {
    use sha2::{Digest, Sha256};
    let old = StudyKey::generate();
    let new = StudyKey::generate();
    for len in [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 999] {
        let plain = data(len);
        let sealed = seal(&old, &plain);
        let mut resealed = Vec::new();
        let mut hasher = Sha256::new();
        let n =
            medimint_sdk::crypto::rekey_async(&old, &new, sealed.as_slice(), &mut resealed, |c| {
                hasher.update(c)
            })
            .await
            .unwrap();
        assert_eq!(n, len as u64);
        assert_eq!(resealed.len(), sealed.len(), "same length at {len}");
        assert_eq!(hasher.finalize()[..], Sha256::digest(&plain)[..]);
        assert!(matches!(open(&old, &resealed).0, Err(Error::WrongKey)));
        let (r, out) = open(&new, &resealed);
        assert_eq!(r.unwrap(), len as u64);
        assert!(out == plain, "plaintext kept at {len}");
    }
    // A damaged input stops it with the damage named; under the wrong old key, nothing.
    let plain = data(2 * CHUNK_SIZE + 5);
    let mut sealed = seal(&old, &plain);
    let at = HEADER_LEN + FRAME + 10;
    sealed[at] ^= 1;
    let err = medimint_sdk::crypto::rekey_async(&old, &new, sealed.as_slice(), Vec::new(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChunkTampered { index: 1 }), "{err:?}");
    let err = medimint_sdk::crypto::rekey_async(
        &new,
        &old,
        seal(&old, &plain).as_slice(),
        Vec::new(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
}
