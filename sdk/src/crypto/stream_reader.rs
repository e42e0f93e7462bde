//! The stream format as readers that the consumer (a store's `put_stream`) reads from
//! directly: [`SealReader`] yields the ciphertext of a plaintext reader, [`RekeyReader`] the
//! re-keyed ciphertext of a sealed one. No task and no pipe sit between the cipher and the
//! store, so each byte is copied once less than through [`super::encrypt_async`] into a pipe.
//!
//! Work goes a piece (16 chunks, 1 MiB) at a time. A reader can be told the SHA-256 the
//! plaintext must have ([`SealReader::expect_sha256`]); it then reports the end of its output
//! only if the digest holds, and fails otherwise, so a store that writes all or nothing keeps
//! nothing. The digest is the costliest step (SHA-256 on SHA-NI is about three times the work
//! of AES-256-GCM), so when a core is to spare it runs on tokio's blocking pool, one piece
//! behind the cipher: one large file then uses two cores. A core is to spare while fewer of
//! these readers are under way than half the machine's cores; otherwise (many files in
//! flight, each already using a core) the digest runs inline and no more threads do CPU work
//! than there are cores.
//!
//! The bytes are exactly those of [`super::encrypt`] / [`super::rekey_async`] given the same
//! salt (tests below); docs/formats.md. Memory: two plaintext pieces and one piece of
//! ciphertext (about 3 MiB) at most per reader, less for a file smaller than a piece whose
//! size is given ([`SealReader::size_hint`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;

use super::stream::{Opener, Sealer, CHUNK_SIZE, FRAME_LEN, HEADER_LEN, OPEN_AT, TAG_LEN};
use super::{Error, SecretBuf, StudyKey};

/// Chunks in a piece.
pub const PIECE_CHUNKS: usize = 16;
/// Plaintext bytes in a piece: what is hashed or sealed at a time.
pub const PIECE_SIZE: usize = PIECE_CHUNKS * CHUNK_SIZE;

/// The plaintext did not hash to the digest the reader was told to expect.
#[derive(Debug, thiserror::Error)]
#[error("the plaintext's SHA-256 is not the expected one")]
pub struct DigestMismatch;

/// Readers under way in this process (for the spare-core rule in the module docs).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Counts a reader in [`ACTIVE`] while it lives.
struct Active;

impl Active {
    fn new() -> Self {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

fn spare_core() -> bool {
    2 * ACTIVE.load(Ordering::Relaxed) <= cores()
}

type Piece = Arc<SecretBuf>;

/// SHA-256 over the pieces in order, each either inline or on the blocking pool (one at a
/// time: the state moves from one job to the next).
struct PieceHasher {
    state: Option<Sha256>,
    running: Option<JoinHandle<Sha256>>,
    /// `Some` to force inline (`false`) or off-thread (`true`) hashing (tests).
    offload: Option<bool>,
}

impl PieceHasher {
    fn new() -> Self {
        Self {
            state: Some(Sha256::new()),
            running: None,
            offload: None,
        }
    }

    /// Ready once the previous piece is hashed (and its job has let go of the piece).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(job) = self.running.as_mut() {
            let state = ready!(Pin::new(job).poll(cx))
                .map_err(|e| io::Error::other(format!("hashing the plaintext: {e}")))?;
            self.running = None;
            self.state = Some(state);
        }
        Poll::Ready(Ok(()))
    }

    /// Hashes `piece[..len]` next. Only when idle.
    fn update(&mut self, piece: &Piece, len: usize) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        let runtime = if self.offload.unwrap_or_else(spare_core) {
            tokio::runtime::Handle::try_current().ok()
        } else {
            None
        };
        match runtime {
            Some(runtime) => {
                let piece = piece.clone();
                self.running = Some(runtime.spawn_blocking(move || {
                    state.update(&piece[..len]);
                    state
                }));
            }
            None => {
                state.update(&piece[..len]);
                self.state = Some(state);
            }
        }
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<[u8; 32]>> {
        ready!(self.poll_idle(cx))?;
        let state = self.state.take().unwrap_or_default();
        Poll::Ready(Ok(state.finalize().into()))
    }
}

/// Where a reader's plaintext comes from.
trait Source {
    /// Bytes a piece's buffer holds beyond its capacity and one byte (room to work in).
    const TAIL: usize;

    /// Fills `piece[*filled..cap]` (`cap`, a whole number of chunks; the buffer is `cap + 1 +
    /// TAIL` long) with plaintext, returning whether the plaintext ended in it. Not ended: the
    /// piece's chunks are full. Called again after `Pending` with the same piece and `filled`.
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        piece: &mut [u8],
        cap: usize,
        filled: &mut usize,
    ) -> Poll<io::Result<bool>>;
}

/// Reads once into `buf`, retrying an interrupted read; returns the bytes read (0 at the end).
fn poll_read_some<R: AsyncRead + Unpin>(
    input: &mut R,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        let mut rb = ReadBuf::new(buf);
        match ready!(Pin::new(&mut *input).poll_read(cx, &mut rb)) {
            Ok(()) => return Poll::Ready(Ok(rb.filled().len())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

fn crypto(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// Plaintext from a reader.
struct PlainSource<R> {
    input: R,
    /// The byte read past a piece's chunks (so a full piece is known not to be the end
    /// without a read of its own): the first of the next piece.
    carried: Option<u8>,
}

impl<R: AsyncRead + Unpin> Source for PlainSource<R> {
    const TAIL: usize = 0;

    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        piece: &mut [u8],
        cap: usize,
        filled: &mut usize,
    ) -> Poll<io::Result<bool>> {
        if let Some(byte) = self.carried.take() {
            piece[*filled] = byte;
            *filled += 1;
        }
        // Up to one byte past the chunks.
        while *filled < cap + 1 {
            let n = ready!(poll_read_some(
                &mut self.input,
                cx,
                &mut piece[*filled..=cap]
            ))?;
            if n == 0 {
                return Poll::Ready(Ok(true));
            }
            *filled += n;
        }
        // A byte past the chunks: the plaintext goes on, and this piece is not the last.
        *filled -= 1;
        self.carried = Some(piece[*filled]);
        Poll::Ready(Ok(false))
    }
}

/// Where [`SealedSource`] is in the stream it opens.
#[derive(Clone, Copy)]
enum Opening {
    Header,
    Word,
    Body { len: usize, last: bool },
    Trailing,
    Ended,
}

/// Plaintext opened from a sealed stream (same checks and errors as
/// [`super::decrypt_async`]).
struct SealedSource<R> {
    input: R,
    key: Option<StudyKey>,
    opener: Option<Opener>,
    stage: Opening,
    header: [u8; HEADER_LEN],
    word: [u8; FRAME_LEN],
    got: usize,
}

impl<R: AsyncRead + Unpin> SealedSource<R> {
    /// Reads into `buf[self.got..]` until full or the end; returns whether it is full.
    fn poll_exact(
        input: &mut R,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        got: &mut usize,
    ) -> Poll<io::Result<bool>> {
        while *got < buf.len() {
            let n = ready!(poll_read_some(input, cx, &mut buf[*got..]))?;
            if n == 0 {
                return Poll::Ready(Ok(false));
            }
            *got += n;
        }
        Poll::Ready(Ok(true))
    }
}

impl<R: AsyncRead + Unpin> Source for SealedSource<R> {
    /// A chunk is read into the piece [`OPEN_AT`] bytes after where its plaintext goes, and
    /// opened there (no copy): room for the last chunk's ciphertext past the piece.
    const TAIL: usize = OPEN_AT + TAG_LEN;

    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        piece: &mut [u8],
        cap: usize,
        filled: &mut usize,
    ) -> Poll<io::Result<bool>> {
        loop {
            match self.stage {
                Opening::Header => {
                    ready!(Self::poll_exact(
                        &mut self.input,
                        cx,
                        &mut self.header,
                        &mut self.got
                    ))?;
                    let key = self.key.take().expect("the key until the header is read");
                    self.opener =
                        Some(Opener::new(&key, &self.header[..self.got]).map_err(crypto)?);
                    self.got = 0;
                    self.stage = Opening::Word;
                }
                Opening::Word => {
                    // The old stream's chunks are full but the last: a piece takes whole ones.
                    if self.got == 0 && cap - *filled < CHUNK_SIZE {
                        return Poll::Ready(Ok(false));
                    }
                    ready!(Self::poll_exact(
                        &mut self.input,
                        cx,
                        &mut self.word,
                        &mut self.got
                    ))?;
                    let opener = self.opener.as_ref().expect("opened");
                    let (len, last) = opener.frame(&self.word[..self.got]).map_err(crypto)?;
                    self.got = 0;
                    self.stage = Opening::Body { len, last };
                }
                Opening::Body { len, last } => {
                    let whole = ready!(Self::poll_exact(
                        &mut self.input,
                        cx,
                        &mut piece[*filled + OPEN_AT..*filled + OPEN_AT + len],
                        &mut self.got
                    ))?;
                    let opener = self.opener.as_mut().expect("opened");
                    if !whole {
                        return Poll::Ready(Err(crypto(Error::Truncated {
                            index: opener.index(),
                        })));
                    }
                    // `piece[*filled..]` is an opening buffer: plaintext to the front.
                    let plain = opener
                        .open(&mut piece[*filled..], len, last)
                        .map_err(crypto)?;
                    *filled += plain;
                    self.got = 0;
                    self.stage = if last {
                        Opening::Trailing
                    } else {
                        Opening::Word
                    };
                }
                Opening::Trailing => {
                    let mut one = [0u8; 1];
                    if ready!(poll_read_some(&mut self.input, cx, &mut one))? > 0 {
                        return Poll::Ready(Err(crypto(Error::TrailingData)));
                    }
                    self.stage = Opening::Ended;
                }
                Opening::Ended => return Poll::Ready(Ok(true)),
            }
        }
    }
}

/// What the engine does next once its output is served.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Reading,
    /// The final chunk is sealed: the digest is awaited.
    Sealed,
    Done,
}

/// The part both readers share: pieces from a source, hashed and sealed, served.
struct Engine<S> {
    source: S,
    sealer: Sealer,
    hasher: PieceHasher,
    expect: Option<[u8; 32]>,
    digest: Option<[u8; 32]>,
    /// The piece being filled (a whole number of chunks and one byte long, [`Source`]);
    /// allocated at the first read, `piece_cap` long, so that a size hint given after
    /// [`Engine::new`] costs no full-size buffer first.
    filling: SecretBuf,
    piece_cap: usize,
    filled: usize,
    /// Set once the piece being filled is complete: whether the plaintext ended in it.
    piece_end: Option<bool>,
    /// The last piece handed to the hasher (its buffer comes back for the next piece).
    current: Option<Piece>,
    out: SecretBuf,
    out_pos: usize,
    out_len: usize,
    stage: Stage,
    /// The first failure, answered again to any later read.
    failed: Option<(io::ErrorKind, String)>,
    plain_len: u64,
    _active: Active,
}

impl<S: Source> Engine<S> {
    fn new(source: S, (sealer, header): (Sealer, [u8; HEADER_LEN])) -> Self {
        let mut out = SecretBuf::zeroed(HEADER_LEN);
        out.copy_from_slice(&header);
        Self {
            source,
            sealer,
            hasher: PieceHasher::new(),
            expect: None,
            digest: None,
            filling: SecretBuf::default(),
            piece_cap: PIECE_SIZE + 1 + S::TAIL,
            filled: 0,
            piece_end: None,
            current: None,
            out,
            out_pos: 0,
            out_len: HEADER_LEN,
            stage: Stage::Reading,
            failed: None,
            plain_len: 0,
            _active: Active::new(),
        }
    }

    fn size_hint(&mut self, plain: u64) {
        if self.filled == 0 && self.current.is_none() {
            // Room for the whole plaintext in whole chunks (at least one), and the byte after.
            let want = usize::try_from(plain)
                .unwrap_or(usize::MAX)
                .clamp(1, PIECE_SIZE)
                .div_ceil(CHUNK_SIZE)
                * CHUNK_SIZE
                + 1
                + S::TAIL;
            self.piece_cap = want;
        }
    }

    /// Seals `piece[..len]` into `out` as whole frames; the final chunk is flagged if `end`.
    fn seal_piece(&mut self, piece: &[u8], len: usize, end: bool) -> Result<(), Error> {
        let chunks = if len == 0 && end {
            1
        } else {
            len.div_ceil(CHUNK_SIZE)
        };
        let need = len + chunks * (FRAME_LEN + TAG_LEN);
        if self.out.len() < need {
            self.out = SecretBuf::zeroed(need);
        }
        let mut at = 0;
        for i in 0..chunks {
            let start = i * CHUNK_SIZE;
            let n = (len - start).min(CHUNK_SIZE);
            self.out[at + FRAME_LEN..at + FRAME_LEN + n].copy_from_slice(&piece[start..start + n]);
            at += self
                .sealer
                .seal_frame(&mut self.out[at..], n, end && i + 1 == chunks)?;
        }
        self.out_pos = 0;
        self.out_len = at;
        self.plain_len += len as u64;
        Ok(())
    }

    fn step(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stage {
            Stage::Done => Poll::Ready(Ok(())),
            Stage::Sealed => {
                let digest = ready!(self.hasher.poll_finish(cx))?;
                self.current = None;
                self.digest = Some(digest);
                self.stage = Stage::Done;
                match self.expect {
                    Some(expect) if expect != digest => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        DigestMismatch,
                    ))),
                    _ => Poll::Ready(Ok(())),
                }
            }
            Stage::Reading => {
                if self.piece_end.is_none() {
                    if self.filling.is_empty() {
                        self.filling = SecretBuf::zeroed(self.piece_cap);
                    }
                    let cap = self.filling.len() - 1 - S::TAIL;
                    let end = ready!(self.source.poll_fill(
                        cx,
                        &mut self.filling,
                        cap,
                        &mut self.filled
                    ))?;
                    self.piece_end = Some(end);
                }
                // The previous piece is hashed before this one starts (and its buffer is
                // free again).
                ready!(self.hasher.poll_idle(cx))?;
                let end = self.piece_end.take().unwrap_or(true);
                let len = std::mem::take(&mut self.filled);
                let spare = self
                    .current
                    .take()
                    .and_then(|p| Arc::try_unwrap(p).ok())
                    .filter(|b| b.len() == PIECE_SIZE + 1 + S::TAIL);
                let next = match spare {
                    Some(b) => b,
                    None if end => SecretBuf::default(),
                    None => SecretBuf::zeroed(PIECE_SIZE + 1 + S::TAIL),
                };
                let piece: Piece = Arc::new(std::mem::replace(&mut self.filling, next));
                self.hasher.update(&piece, len);
                self.seal_piece(&piece, len, end).map_err(crypto)?;
                self.current = Some(piece);
                if end {
                    self.stage = Stage::Sealed;
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some((kind, message)) = &self.failed {
            return Poll::Ready(Err(io::Error::new(*kind, message.clone())));
        }
        while buf.remaining() > 0 {
            if self.out_pos < self.out_len {
                let n = buf.remaining().min(self.out_len - self.out_pos);
                buf.put_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            if self.stage == Stage::Done {
                break;
            }
            if let Err(e) = ready!(self.step(cx)) {
                self.failed = Some((e.kind(), e.to_string()));
                self.out_len = 0;
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// An [`AsyncRead`] of the stream-format ciphertext of `input` under a study key: the bytes
/// [`super::encrypt_async`] writes, read by the consumer itself (module docs).
pub struct SealReader<R> {
    engine: Engine<PlainSource<R>>,
}

impl<R: AsyncRead + Unpin> SealReader<R> {
    /// Encrypts `input` under `key` (a fresh random salt) as it is read.
    pub fn new(key: &StudyKey, input: R) -> Self {
        Self::with_sealer(Sealer::new(key), input)
    }

    fn with_sealer(sealer: (Sealer, [u8; HEADER_LEN]), input: R) -> Self {
        Self {
            engine: Engine::new(
                PlainSource {
                    input,
                    carried: None,
                },
                sealer,
            ),
        }
    }

    /// The plaintext must hash to `sha256`: otherwise the read that would end the output
    /// fails with [`DigestMismatch`] (kind `InvalidData`) instead.
    pub fn expect_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.engine.expect = Some(sha256);
        self
    }

    /// The plaintext's length, if known: a file smaller than a piece gets buffers of its
    /// size. A wrong hint costs memory or an allocation, never correctness.
    pub fn size_hint(mut self, plain: u64) -> Self {
        self.engine.size_hint(plain);
        self
    }

    /// The plaintext's SHA-256, once the output has ended.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.engine.digest
    }

    /// Plaintext bytes sealed so far.
    pub fn plaintext_len(&self) -> u64 {
        self.engine.plain_len
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for SealReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().engine.poll_read(cx, buf)
    }
}

/// An [`AsyncRead`] of the stream `input` (under `old`) re-encrypted under `new`: the bytes
/// [`super::rekey_async`] writes, read by the consumer itself (module docs). Errors in the
/// input are those of [`super::decrypt_async`], as `InvalidData` I/O errors whose source is
/// the [`Error`].
pub struct RekeyReader<R> {
    engine: Engine<SealedSource<R>>,
}

impl<R: AsyncRead + Unpin> RekeyReader<R> {
    /// Re-encrypts `input` from `old` to `new` (a fresh random salt) as it is read.
    pub fn new(old: &StudyKey, new: &StudyKey, input: R) -> Self {
        Self::with_sealer(old, Sealer::new(new), input)
    }

    fn with_sealer(old: &StudyKey, sealer: (Sealer, [u8; HEADER_LEN]), input: R) -> Self {
        Self {
            engine: Engine::new(
                SealedSource {
                    input,
                    key: Some(old.clone()),
                    opener: None,
                    stage: Opening::Header,
                    header: [0u8; HEADER_LEN],
                    word: [0u8; FRAME_LEN],
                    got: 0,
                },
                sealer,
            ),
        }
    }

    /// As [`SealReader::expect_sha256`].
    pub fn expect_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.engine.expect = Some(sha256);
        self
    }

    /// As [`SealReader::size_hint`] (the plaintext's length).
    pub fn size_hint(mut self, plain: u64) -> Self {
        self.engine.size_hint(plain);
        self
    }

    /// The plaintext's SHA-256, once the output has ended.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.engine.digest
    }

    /// Plaintext bytes re-sealed so far.
    pub fn plaintext_len(&self) -> u64 {
        self.engine.plain_len
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for RekeyReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().engine.poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::super::stream::{encrypt_with_salt, SALT_LEN};
    use super::*;
    use tokio::io::AsyncReadExt;

    const SALT: [u8; SALT_LEN] = [9u8; SALT_LEN];

    fn sizes() -> Vec<usize> {
        vec![
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            PIECE_SIZE - 1,
            PIECE_SIZE,
            PIECE_SIZE + 1,
            3 * PIECE_SIZE + 5 * CHUNK_SIZE + 17,
        ]
    }

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
    }

    /// Hands out at most `step` bytes a read, to exercise every partial-read path.
    struct Trickle<'a>(&'a [u8], usize);

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.0.len().min(self.1).min(buf.remaining());
            buf.put_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Poll::Ready(Ok(()))
        }
    }

    async fn read_all(mut r: impl AsyncRead + Unpin) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await?;
        Ok(out)
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seal_reader_bytes_equal_the_sequential_encoder() {
        let key = StudyKey::generate();
        for len in sizes() {
            let plain = plaintext(len);
            let mut want = Vec::new();
            encrypt_with_salt(&key, &SALT, plain.as_slice(), &mut want).unwrap();
            for offload in [false, true] {
                for (step, hint) in [(usize::MAX, None), (7919, Some(len as u64)), (1, Some(3))] {
                    if step == 1 && len > 2 * CHUNK_SIZE {
                        continue;
                    }
                    let mut reader = SealReader::with_sealer(
                        Sealer::with_salt(&key, &SALT),
                        Trickle(&plain, step),
                    )
                    .expect_sha256(sha(&plain));
                    reader.engine.hasher.offload = Some(offload);
                    if let Some(hint) = hint {
                        reader = reader.size_hint(hint);
                    }
                    let mut got = Vec::new();
                    reader.read_to_end(&mut got).await.unwrap();
                    assert!(got == want, "{len} bytes, offload {offload}, step {step}");
                    assert_eq!(reader.sha256(), Some(sha(&plain)));
                    assert_eq!(reader.plaintext_len(), len as u64);
                    // And the existing decoder opens it.
                    let mut back = Vec::new();
                    super::super::decrypt(&key, got.as_slice(), &mut back).unwrap();
                    assert!(back == plain, "{len}");
                }
            }
        }
    }

    #[tokio::test]
    async fn seal_reader_round_trips_with_a_fresh_salt_and_refuses_a_wrong_digest() {
        let key = StudyKey::generate();
        for len in sizes() {
            let plain = plaintext(len);
            let sealed = read_all(SealReader::new(&key, plain.as_slice()))
                .await
                .unwrap();
            let mut back = Vec::new();
            super::super::decrypt(&key, sealed.as_slice(), &mut back).unwrap();
            assert!(back == plain, "{len}");
            let mut wrong = sha(&plain);
            wrong[0] ^= 1;
            for offload in [false, true] {
                let mut reader = SealReader::new(&key, plain.as_slice()).expect_sha256(wrong);
                reader.engine.hasher.offload = Some(offload);
                let err = read_all(&mut reader).await.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidData);
                assert!(err.get_ref().is_some_and(|e| e.is::<DigestMismatch>()));
                // Asked again, the same answer: never an end.
                let again = reader.read(&mut [0u8; 16]).await.unwrap_err();
                assert_eq!(again.kind(), io::ErrorKind::InvalidData);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rekey_reader_bytes_equal_rekey_async() {
        let (old, new) = (StudyKey::generate(), StudyKey::generate());
        for len in sizes() {
            let plain = plaintext(len);
            let mut sealed = Vec::new();
            super::super::encrypt(&old, plain.as_slice(), &mut sealed).unwrap();
            // The sequential re-key with the same salt: open, then the sequential encoder.
            let mut want = Vec::new();
            encrypt_with_salt(&new, &SALT, plain.as_slice(), &mut want).unwrap();
            let mut via_async = Vec::new();
            super::super::rekey_async(&old, &new, sealed.as_slice(), &mut via_async, |_| {})
                .await
                .unwrap();
            assert_eq!(via_async.len(), want.len());
            for offload in [false, true] {
                for step in [usize::MAX, 4099] {
                    let mut reader = RekeyReader::with_sealer(
                        &old,
                        Sealer::with_salt(&new, &SALT),
                        Trickle(&sealed, step),
                    )
                    .expect_sha256(sha(&plain))
                    .size_hint(len as u64);
                    reader.engine.hasher.offload = Some(offload);
                    let got = read_all(&mut reader).await.unwrap();
                    assert!(got == want, "{len} bytes, offload {offload}, step {step}");
                    assert_eq!(reader.sha256(), Some(sha(&plain)));
                    let mut back = Vec::new();
                    super::super::decrypt(&new, got.as_slice(), &mut back).unwrap();
                    assert!(back == plain, "{len}");
                }
            }
        }
    }

    #[tokio::test]
    async fn rekey_reader_refuses_what_the_decoder_refuses() {
        let (old, new) = (StudyKey::generate(), StudyKey::generate());
        let plain = plaintext(3 * CHUNK_SIZE + 5);
        let mut sealed = Vec::new();
        super::super::encrypt(&old, plain.as_slice(), &mut sealed).unwrap();
        let new = &new;
        let refused = |input: Vec<u8>, key: StudyKey| async move {
            let err = read_all(RekeyReader::new(&key, new, input.as_slice()))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            err.into_inner()
                .and_then(|e| e.downcast::<Error>().ok())
                .map(|e| *e)
        };
        assert!(matches!(
            refused(sealed.clone(), StudyKey::generate()).await,
            Some(Error::WrongKey)
        ));
        let mut tampered = sealed.clone();
        tampered[HEADER_LEN + FRAME_LEN + CHUNK_SIZE + 40] ^= 1;
        assert!(matches!(
            refused(tampered, old.clone()).await,
            Some(Error::ChunkTampered { index: 1 })
        ));
        assert!(matches!(
            refused(sealed[..sealed.len() - 3].to_vec(), old.clone()).await,
            Some(Error::Truncated { index: 3 })
        ));
        let frame = FRAME_LEN + CHUNK_SIZE + TAG_LEN;
        assert!(matches!(
            refused(sealed[..HEADER_LEN + 2 * frame].to_vec(), old.clone()).await,
            Some(Error::MissingLastChunk { chunks: 2 })
        ));
        let mut trailing = sealed.clone();
        trailing.push(0);
        assert!(matches!(
            refused(trailing, old.clone()).await,
            Some(Error::TrailingData)
        ));
        assert!(matches!(
            refused(sealed[..40].to_vec(), old.clone()).await,
            Some(Error::HeaderTruncated { .. })
        ));
        // A wrong digest: the end is never reported.
        let mut wrong = sha(&plain);
        wrong[31] ^= 1;
        let err = read_all(RekeyReader::new(&old, new, sealed.as_slice()).expect_sha256(wrong))
            .await
            .unwrap_err();
        assert!(err.get_ref().is_some_and(|e| e.is::<DigestMismatch>()));
    }
}
