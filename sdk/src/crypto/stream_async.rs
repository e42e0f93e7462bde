//! The stream format over tokio's `AsyncRead` / `AsyncWrite`, for Lambda handlers that pipe
//! S3 bodies. Same format, same errors and the same guarantees as the sync functions in
//! [`super::stream`], and the same one-chunk memory bound.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::stream::{
    frame_buffer, open_buffer, Opener, Sealer, CHUNK_SIZE, FRAME_LEN, HEADER_LEN, OPEN_AT,
};
use super::{Error, StudyKey};

async fn read_full<R: AsyncRead + Unpin>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Async [`super::encrypt`]: encrypts `input` under `key` into `output`; returns the plaintext
/// length.
pub async fn encrypt_async<R, W>(key: &StudyKey, mut input: R, mut output: W) -> Result<u64, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut sealer, header) = Sealer::new(key);
    output.write_all(&header).await?;
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
        )
        .await?;
        let mut last = len < CHUNK_SIZE;
        if !last {
            let mut next = [0u8; 1];
            if read_full(&mut input, &mut next).await? == 0 {
                last = true;
            } else {
                carried = Some(next[0]);
            }
        }
        let n = sealer.seal_frame(&mut frame, len, last)?;
        output.write_all(&frame[..n]).await?;
        total += len as u64;
        if last {
            output.flush().await?;
            return Ok(total);
        }
    }
}

/// Async [`super::decrypt`]: decrypts a stream under `key` into `output`; returns the
/// plaintext length.
pub async fn decrypt_async<R, W>(key: &StudyKey, input: R, mut output: W) -> Result<u64, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut chunks = ChunkDecryptor::new(key, input);
    let mut total = 0u64;
    while let Some(plain) = chunks.next_chunk().await? {
        output.write_all(plain).await?;
        total += plain.len() as u64;
    }
    output.flush().await?;
    Ok(total)
}

/// A stream decrypted one chunk (at most [`CHUNK_SIZE`] bytes of plaintext) at a time, for a
/// caller that hands each chunk on itself (an HTTP body) instead of writing it to an
/// `AsyncWrite`: no pipe and no copy between the decryption and the consumer. Same format,
/// errors and guarantees as [`decrypt_async`]: a chunk is returned only once authenticated,
/// and the end is reported only after the final chunk and no trailing byte.
pub struct ChunkDecryptor<R> {
    input: R,
    /// The study key until the header is read, then the opener derived from both.
    key: Option<StudyKey>,
    opener: Option<Opener>,
    buf: super::SecretBuf,
    /// The final chunk was returned, or an error: nothing more is read.
    done: bool,
}

impl<R: AsyncRead + Unpin> ChunkDecryptor<R> {
    /// Decrypts `input` under `key` as [`ChunkDecryptor::next_chunk`] is called.
    pub fn new(key: &StudyKey, input: R) -> Self {
        Self {
            input,
            key: Some(key.clone()),
            opener: None,
            buf: open_buffer(),
            done: false,
        }
    }

    /// The next chunk of plaintext, `None` after the final one. After an error, or the end,
    /// every later call returns `None`.
    ///
    /// # Errors
    /// As [`decrypt_async`]: a wrong key, a tampered, reordered or truncated chunk, trailing
    /// data, I/O.
    pub async fn next_chunk(&mut self) -> Result<Option<&[u8]>, Error> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        if let Some(key) = self.key.take() {
            let mut header = [0u8; HEADER_LEN];
            let n = read_full(&mut self.input, &mut header).await?;
            self.opener = Some(Opener::new(&key, &header[..n])?);
        }
        let Some(opener) = self.opener.as_mut() else {
            return Ok(None);
        };
        let mut word = [0u8; FRAME_LEN];
        let n = read_full(&mut self.input, &mut word).await?;
        let (len, last) = opener.frame(&word[..n])?;
        if read_full(&mut self.input, &mut self.buf[OPEN_AT..OPEN_AT + len]).await? < len {
            return Err(Error::Truncated {
                index: opener.index(),
            });
        }
        let plain = opener.open(&mut self.buf, len, last)?;
        if last && read_full(&mut self.input, &mut [0u8; 1]).await? > 0 {
            return Err(Error::TrailingData);
        }
        self.done = last;
        Ok(Some(&self.buf[..plain]))
    }
}

/// Async re-key to a given key: decrypts the stream `input` under `old` and encrypts it under
/// `new` into `output`, chunk for chunk (a chunk's plaintext is sealed again as it is opened,
/// so memory stays one chunk). `inspect` sees each chunk's plaintext in order (a caller
/// hashes it to check the file it expects). Returns the plaintext length. The output is the
/// same length as the input. Every study object of a re-keyed study gets the same `new` key,
/// unlike [`super::rekey`], which makes one.
///
/// # Errors
/// As [`decrypt_async`] for the input (nothing after the damage is written); I/O.
pub async fn rekey_async<R, W>(
    old: &StudyKey,
    new: &StudyKey,
    mut input: R,
    mut output: W,
    mut inspect: impl FnMut(&[u8]),
) -> Result<u64, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut header = [0u8; HEADER_LEN];
    let n = read_full(&mut input, &mut header).await?;
    let mut opener = Opener::new(old, &header[..n])?;
    let (mut sealer, new_header) = Sealer::new(new);
    output.write_all(&new_header).await?;
    let mut buf = open_buffer();
    let mut frame = frame_buffer();
    let mut total = 0u64;
    loop {
        let mut word = [0u8; FRAME_LEN];
        let n = read_full(&mut input, &mut word).await?;
        let (len, last) = opener.frame(&word[..n])?;
        if read_full(&mut input, &mut buf[OPEN_AT..OPEN_AT + len]).await? < len {
            return Err(Error::Truncated {
                index: opener.index(),
            });
        }
        let plain = opener.open(&mut buf, len, last)?;
        if last && read_full(&mut input, &mut [0u8; 1]).await? > 0 {
            return Err(Error::TrailingData);
        }
        // The old stream's chunks are full but the last, as the new one's must be.
        inspect(&buf[..plain]);
        frame[FRAME_LEN..FRAME_LEN + plain].copy_from_slice(&buf[..plain]);
        let n = sealer.seal_frame(&mut frame, plain, last)?;
        output.write_all(&frame[..n]).await?;
        total += plain as u64;
        if last {
            output.flush().await?;
            return Ok(total);
        }
    }
}
