//! The MediMint stream format, version 1: a study file encrypted under a [`StudyKey`] in
//! 64 KiB chunks of AES-256-GCM, STREAM-style (each chunk's nonce carries its position and a
//! last-chunk flag), with a key commitment in the header. Memory use is one chunk whatever the
//! file size. The byte layout is specified in `docs/formats.md`.
//!
//! AES-256-GCM is `ring`'s (VAES/VPCLMULQDQ on x86-64 CPUs that have them, AES-NI and CLMUL
//! otherwise, the ARMv8 crypto extensions on aarch64), chosen by the benchmark in
//! docs/performance.md; the bytes are those of any AES-256-GCM (tests/format_compat.rs).
//!
//! Decryption writes a chunk's plaintext only after that chunk has authenticated, and the final
//! chunk only once nothing follows it. Earlier chunks are already written when later damage is
//! found, so a caller must discard the output unless the call returns `Ok` (the CLI writes to a
//! temporary file and renames it on success).

use std::io::{self, Read, Write};

use hkdf::Hkdf;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Error, SecretBuf, StudyKey};

/// First eight bytes of every stream.
pub const MAGIC: [u8; 8] = *b"MEDIMINT";
/// Format version written and read by this build.
pub const VERSION: u8 = 1;
/// Cipher suite id of version 1: AES-256-GCM, keys from HKDF-SHA256.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 1;
/// Plaintext bytes per chunk (every chunk but the last holds exactly this many).
pub const CHUNK_SIZE: usize = 64 * 1024;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Bytes of the frame word before each chunk: ciphertext length | last flag.
pub const FRAME_LEN: usize = 4;
/// Random per-stream salt length.
pub const SALT_LEN: usize = 32;
/// Key commitment length.
pub const COMMITMENT_LEN: usize = 32;
/// Header checksum length (truncated SHA-256).
pub const CHECKSUM_LEN: usize = 8;
/// Total header length.
pub const HEADER_LEN: usize = 8 + 1 + 1 + 4 + SALT_LEN + COMMITMENT_LEN + CHECKSUM_LEN;

const LAST_FLAG: u32 = 1 << 31;
const MAX_CIPHERTEXT: usize = CHUNK_SIZE + TAG_LEN;
/// Where a chunk read for decryption starts in the opening buffer ([`open_buffer`]): its
/// plaintext goes to the front, so a chunk that fails to authenticate is still there, intact,
/// for the reorder search (the backend zeroes the output of a failed open).
pub(crate) const OPEN_AT: usize = MAX_CIPHERTEXT;
const CHECKSUMMED: usize = HEADER_LEN - CHECKSUM_LEN;
/// How far (in chunks) a failing chunk is searched for elsewhere in the stream, to tell a
/// swapped chunk from a damaged one.
const REORDER_WINDOW: u64 = 64;

const INFO_PAYLOAD_KEY: &[u8] = b"medimint stream v1 payload key";
const INFO_NONCE_PREFIX: &[u8] = b"medimint stream v1 nonce prefix";
const INFO_COMMITMENT: &[u8] = b"medimint stream v1 key commitment";

/// Per-stream keys derived from the study key and the header's salt.
struct StreamKeys {
    /// The payload key's AES-GCM context. `ring` does not zeroize it on drop (docs/keys.md,
    /// "Residual copies"): it is this stream's derived key, like hkdf's PRK.
    cipher: LessSafeKey,
    nonce_prefix: [u8; 7],
    commitment: [u8; COMMITMENT_LEN],
}

impl StreamKeys {
    fn derive(key: &StudyKey, salt: &[u8; SALT_LEN]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(salt), key.as_bytes());
        let mut payload_key = Zeroizing::new([0u8; 32]);
        let mut nonce_prefix = [0u8; 7];
        let mut commitment = [0u8; COMMITMENT_LEN];
        // Output lengths are far below HKDF-SHA256's 8160-byte limit.
        hkdf.expand(INFO_PAYLOAD_KEY, payload_key.as_mut())
            .expect("short HKDF output");
        hkdf.expand(INFO_NONCE_PREFIX, &mut nonce_prefix)
            .expect("short HKDF output");
        hkdf.expand(INFO_COMMITMENT, &mut commitment)
            .expect("short HKDF output");
        Self {
            cipher: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, payload_key.as_slice()).expect("32-byte key"),
            ),
            nonce_prefix,
            commitment,
        }
    }

    fn nonce(&self, counter: u64, last: bool) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[..7].copy_from_slice(&self.nonce_prefix);
        nonce[7..11].copy_from_slice(&(counter as u32).to_be_bytes());
        nonce[11] = u8::from(last);
        // Unique per stream: the prefix comes from the stream's own salt, the counter is the
        // chunk's position.
        Nonce::assume_unique_for_key(nonce)
    }

    fn seal(&self, counter: u64, last: bool, data: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .cipher
            .seal_in_place_separate_tag(self.nonce(counter, last), Aad::empty(), data)
            .expect("a chunk is far below AES-GCM's length limit");
        tag.as_ref().try_into().expect("16-byte tag")
    }

    /// Authenticates the `len` ciphertext bytes at `buf[OPEN_AT..]` under `tag` and decrypts
    /// them into `buf[..len]`. The ciphertext is left as it was; on failure `buf[..len]` holds
    /// zeros, never unauthenticated plaintext.
    fn open(
        &self,
        counter: u64,
        last: bool,
        buf: &mut [u8],
        len: usize,
        tag: [u8; TAG_LEN],
    ) -> bool {
        self.cipher
            .open_in_place_separate_tag(
                self.nonce(counter, last),
                Aad::empty(),
                Tag::from(tag),
                &mut buf[..OPEN_AT + len],
                OPEN_AT..,
            )
            .is_ok()
    }
}

fn header_bytes(salt: &[u8; SALT_LEN], commitment: &[u8; COMMITMENT_LEN]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8] = VERSION;
    h[9] = SUITE_AES256GCM_HKDF_SHA256;
    h[10..14].copy_from_slice(&(CHUNK_SIZE as u32).to_be_bytes());
    h[14..46].copy_from_slice(salt);
    h[46..78].copy_from_slice(commitment);
    let sum = Sha256::digest(&h[..CHECKSUMMED]);
    h[CHECKSUMMED..].copy_from_slice(&sum[..CHECKSUM_LEN]);
    h
}

/// Checks a header (`bytes` is what could be read, at most [`HEADER_LEN`]) and returns its
/// salt and key commitment.
fn parse_header(bytes: &[u8]) -> Result<([u8; SALT_LEN], [u8; COMMITMENT_LEN]), Error> {
    let magic_present = bytes.len().min(MAGIC.len());
    if bytes.is_empty() {
        return Err(Error::HeaderTruncated {
            found: 0,
            expected: HEADER_LEN,
        });
    }
    if bytes[..magic_present] != MAGIC[..magic_present] {
        return Err(Error::BadMagic);
    }
    if bytes.len() > 8 && bytes[8] != VERSION {
        return Err(Error::UnsupportedVersion {
            found: bytes[8],
            supported: VERSION,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(Error::HeaderTruncated {
            found: bytes.len(),
            expected: HEADER_LEN,
        });
    }
    let sum = Sha256::digest(&bytes[..CHECKSUMMED]);
    if sum[..CHECKSUM_LEN] != bytes[CHECKSUMMED..HEADER_LEN] {
        return Err(Error::HeaderCorrupt("header checksum mismatch"));
    }
    if bytes[9] != SUITE_AES256GCM_HKDF_SHA256 {
        return Err(Error::HeaderCorrupt("unknown cipher suite"));
    }
    if bytes[10..14] != (CHUNK_SIZE as u32).to_be_bytes() {
        return Err(Error::HeaderCorrupt("chunk size is not 65536"));
    }
    let mut salt = [0u8; SALT_LEN];
    let mut commitment = [0u8; COMMITMENT_LEN];
    salt.copy_from_slice(&bytes[14..46]);
    commitment.copy_from_slice(&bytes[46..78]);
    Ok((salt, commitment))
}

/// The encrypting half of the format, free of I/O so the sync and async drivers share it.
pub(crate) struct Sealer {
    keys: StreamKeys,
    counter: u64,
}

impl Sealer {
    /// A sealer with a fresh random salt, and the header to write first.
    pub(crate) fn new(key: &StudyKey) -> (Self, [u8; HEADER_LEN]) {
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self::with_salt(key, &salt)
    }

    /// A sealer with the given salt (tests compare encoders byte for byte with it; a real
    /// stream's salt is always fresh and random, [`Sealer::new`]).
    pub(crate) fn with_salt(key: &StudyKey, salt: &[u8; SALT_LEN]) -> (Self, [u8; HEADER_LEN]) {
        let keys = StreamKeys::derive(key, salt);
        let header = header_bytes(salt, &keys.commitment);
        (Self { keys, counter: 0 }, header)
    }

    /// Seals the `len` plaintext bytes at `frame[FRAME_LEN..]` in place, writes the frame word
    /// and the tag around them, and returns how many bytes of `frame` to write.
    pub(crate) fn seal_frame(
        &mut self,
        frame: &mut [u8],
        len: usize,
        last: bool,
    ) -> Result<usize, Error> {
        debug_assert!(len <= CHUNK_SIZE && frame.len() >= FRAME_LEN + len + TAG_LEN);
        if self.counter > u64::from(u32::MAX) {
            return Err(Error::TooLong);
        }
        let tag = self
            .keys
            .seal(self.counter, last, &mut frame[FRAME_LEN..FRAME_LEN + len]);
        frame[FRAME_LEN + len..FRAME_LEN + len + TAG_LEN].copy_from_slice(&tag);
        let word = (len + TAG_LEN) as u32 | if last { LAST_FLAG } else { 0 };
        frame[..FRAME_LEN].copy_from_slice(&word.to_be_bytes());
        self.counter += 1;
        Ok(FRAME_LEN + len + TAG_LEN)
    }
}

/// The decrypting half of the format, free of I/O.
pub(crate) struct Opener {
    keys: StreamKeys,
    index: u64,
}

impl Opener {
    /// Checks the header read from the input (possibly short) against `key`.
    pub(crate) fn new(key: &StudyKey, header: &[u8]) -> Result<Self, Error> {
        let (salt, commitment) = parse_header(header)?;
        let keys = StreamKeys::derive(key, &salt);
        // The commitment is public (it is in the header); comparing it is not secret-dependent.
        if keys.commitment != commitment {
            return Err(Error::WrongKey);
        }
        Ok(Self { keys, index: 0 })
    }

    /// Position of the next chunk to open.
    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    /// Interprets the frame word that was read (`bytes`, possibly short) and returns the
    /// ciphertext length to read and whether this is the final chunk.
    pub(crate) fn frame(&self, bytes: &[u8]) -> Result<(usize, bool), Error> {
        match bytes.len() {
            0 => {
                return Err(Error::MissingLastChunk { chunks: self.index });
            }
            FRAME_LEN => {}
            _ => return Err(Error::Truncated { index: self.index }),
        }
        let word = u32::from_be_bytes(bytes.try_into().expect("four bytes"));
        let last = word & LAST_FLAG != 0;
        let len = (word & !LAST_FLAG) as usize;
        let valid = if last {
            (TAG_LEN..=MAX_CIPHERTEXT).contains(&len)
        } else {
            len == MAX_CIPHERTEXT
        };
        if !valid {
            return Err(Error::ChunkTampered { index: self.index });
        }
        Ok((len, last))
    }

    /// Authenticates and decrypts one chunk: `chunk_len` bytes (ciphertext and tag, as the
    /// frame word said) read into `buf[OPEN_AT..]` of an [`open_buffer`]. Returns the
    /// plaintext length; the plaintext is at `buf[..len]`. On failure no plaintext is there.
    pub(crate) fn open(
        &mut self,
        buf: &mut [u8],
        chunk_len: usize,
        last: bool,
    ) -> Result<usize, Error> {
        let index = self.index;
        if index > u64::from(u32::MAX) {
            return Err(Error::TooLong);
        }
        let len = chunk_len - TAG_LEN;
        let tag: [u8; TAG_LEN] = buf[OPEN_AT + len..OPEN_AT + chunk_len]
            .try_into()
            .expect("16-byte tag");
        if self.keys.open(index, last, buf, len, tag) {
            self.index += 1;
            return Ok(len);
        }
        // Not the chunk written here: see whether it is one written nearby (a swap). The
        // ciphertext is still intact at `buf[OPEN_AT..]`.
        let low = index.saturating_sub(REORDER_WINDOW);
        let high = (index + REORDER_WINDOW).min(u64::from(u32::MAX));
        for candidate in (low..=high).filter(|&c| c != index) {
            // A tag check: a match is reported, its plaintext wiped and never written.
            if self.keys.open(candidate, last, buf, len, tag) {
                buf[..len].fill(0);
                return Err(Error::ChunkOutOfOrder {
                    index,
                    written_as: candidate,
                });
            }
        }
        Err(Error::ChunkTampered { index })
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub(crate) fn frame_buffer() -> SecretBuf {
    SecretBuf::zeroed(FRAME_LEN + MAX_CIPHERTEXT)
}

/// The buffer [`Opener::open`] works in: room for a plaintext chunk, then the chunk as read
/// (at [`OPEN_AT`]).
pub(crate) fn open_buffer() -> SecretBuf {
    SecretBuf::zeroed(OPEN_AT + MAX_CIPHERTEXT)
}

/// Encrypts everything `input` yields under `key` into `output`; returns the plaintext length.
pub fn encrypt<R: Read, W: Write>(key: &StudyKey, input: R, output: W) -> Result<u64, Error> {
    encrypt_with(Sealer::new(key), input, output)
}

/// [`encrypt`] with the given salt: the sequential encoder that tests compare others with.
#[cfg(test)]
pub(crate) fn encrypt_with_salt<R: Read, W: Write>(
    key: &StudyKey,
    salt: &[u8; SALT_LEN],
    input: R,
    output: W,
) -> Result<u64, Error> {
    encrypt_with(Sealer::with_salt(key, salt), input, output)
}

fn encrypt_with<R: Read, W: Write>(
    (mut sealer, header): (Sealer, [u8; HEADER_LEN]),
    mut input: R,
    mut output: W,
) -> Result<u64, Error> {
    output.write_all(&header)?;
    let mut frame = frame_buffer();
    let mut carried: Option<u8> = None;
    let mut total = 0u64;
    loop {
        let mut len = 0;
        if let Some(byte) = carried.take() {
            frame[FRAME_LEN] = byte;
            len = 1;
        }
        len += read_full(
            &mut input,
            &mut frame[FRAME_LEN + len..FRAME_LEN + CHUNK_SIZE],
        )?;
        // A full chunk is the last one only if nothing follows: look one byte ahead.
        let mut last = len < CHUNK_SIZE;
        if !last {
            let mut next = [0u8; 1];
            if read_full(&mut input, &mut next)? == 0 {
                last = true;
            } else {
                carried = Some(next[0]);
            }
        }
        let n = sealer.seal_frame(&mut frame, len, last)?;
        output.write_all(&frame[..n])?;
        total += len as u64;
        if last {
            output.flush()?;
            return Ok(total);
        }
    }
}

/// Decrypts a stream under `key` into `output`; returns the plaintext length. Fails with the
/// [`Error`] variant naming the damage; see the module docs for what is written before that.
pub fn decrypt<R: Read, W: Write>(
    key: &StudyKey,
    mut input: R,
    mut output: W,
) -> Result<u64, Error> {
    let mut header = [0u8; HEADER_LEN];
    let n = read_full(&mut input, &mut header)?;
    let mut opener = Opener::new(key, &header[..n])?;
    let mut buf = open_buffer();
    let mut total = 0u64;
    loop {
        let mut word = [0u8; FRAME_LEN];
        let n = read_full(&mut input, &mut word)?;
        let (len, last) = opener.frame(&word[..n])?;
        if read_full(&mut input, &mut buf[OPEN_AT..OPEN_AT + len])? < len {
            return Err(Error::Truncated {
                index: opener.index(),
            });
        }
        let plain = opener.open(&mut buf, len, last)?;
        if last && read_full(&mut input, &mut [0u8; 1])? > 0 {
            return Err(Error::TrailingData);
        }
        output.write_all(&buf[..plain])?;
        total += plain as u64;
        if last {
            output.flush()?;
            return Ok(total);
        }
    }
}

/// Re-key: decrypts a stream under `old` and re-encrypts it under a fresh study key, chunk by
/// chunk; returns the new key. Wrapped keys for the remaining recipients must then be sealed
/// anew with [`super::seal_key`].
pub fn rekey<R: Read, W: Write>(old: &StudyKey, input: R, output: W) -> Result<StudyKey, Error> {
    let new = StudyKey::generate();
    let mut writer = EncryptWriter::new(&new, output)?;
    decrypt(old, input, &mut writer)?;
    writer.finish()?;
    Ok(new)
}

/// A [`Write`] adapter that encrypts what is written to it. Call [`EncryptWriter::finish`] at
/// the end: a stream dropped without it has no final chunk and will not decrypt
/// ([`Error::MissingLastChunk`]).
pub struct EncryptWriter<W: Write> {
    inner: W,
    sealer: Sealer,
    frame: SecretBuf,
    len: usize,
}

impl<W: Write> EncryptWriter<W> {
    /// Writes the header to `inner` and returns the writer.
    pub fn new(key: &StudyKey, mut inner: W) -> Result<Self, Error> {
        let (sealer, header) = Sealer::new(key);
        inner.write_all(&header)?;
        Ok(Self {
            inner,
            sealer,
            frame: frame_buffer(),
            len: 0,
        })
    }

    /// Seals the buffered bytes as the final chunk, flushes, and returns the inner writer.
    pub fn finish(mut self) -> Result<W, Error> {
        let n = self.sealer.seal_frame(&mut self.frame, self.len, true)?;
        self.inner.write_all(&self.frame[..n])?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A full chunk is sealed only when more data arrives, so that the final chunk is
        // never empty unless the whole stream is.
        if self.len == CHUNK_SIZE {
            let n = self
                .sealer
                .seal_frame(&mut self.frame, self.len, false)
                .map_err(io::Error::other)?;
            self.inner.write_all(&self.frame[..n])?;
            self.len = 0;
        }
        let take = buf.len().min(CHUNK_SIZE - self.len);
        self.frame[FRAME_LEN + self.len..FRAME_LEN + self.len + take].copy_from_slice(&buf[..take]);
        self.len += take;
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
