/// Everything that can go wrong opening or producing encrypted data. Each kind of damage has
/// its own variant so that callers (and operators reading a message) can tell a truncated
/// upload from a tampered one or from the wrong key. No variant carries key material or
/// plaintext.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input does not start with the stream magic bytes: not a MediMint encrypted file.
    #[error("not a MediMint encrypted stream (magic bytes missing)")]
    BadMagic,
    /// A stream or sealed key of a format version this build does not read.
    #[error("unsupported format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// Version this build reads.
        supported: u8,
    },
    /// The input ends before the end of the stream header.
    #[error("stream header truncated: {found} of {expected} bytes present")]
    HeaderTruncated {
        /// Bytes present.
        found: usize,
        /// Header length.
        expected: usize,
    },
    /// The stream header is damaged (checksum mismatch or a field out of range).
    #[error("stream header damaged: {0}")]
    HeaderCorrupt(&'static str),
    /// The header is intact but its key commitment does not match this key.
    #[error("wrong key: this stream was encrypted under a different study key")]
    WrongKey,
    /// Chunk `index` fails authentication (a flipped bit in its data, tag or frame).
    #[error("chunk {index} is damaged or tampered with (authentication failed)")]
    ChunkTampered {
        /// Zero-based chunk position in the stream.
        index: u64,
    },
    /// Chunk at position `index` authenticates, but as the chunk written at `written_as`:
    /// chunks were swapped, duplicated or reordered.
    #[error("chunk {index} is out of order: it was written as chunk {written_as}")]
    ChunkOutOfOrder {
        /// Position where it was found.
        index: u64,
        /// Position it was written at.
        written_as: u64,
    },
    /// The input ends in the middle of chunk `index`.
    #[error("stream truncated inside chunk {index}")]
    Truncated {
        /// Zero-based chunk position.
        index: u64,
    },
    /// The input ends cleanly after `chunks` chunks, none of them marked final: the end of
    /// the stream (its last chunk or more) is missing.
    #[error("stream ends after {chunks} chunk(s) without its final chunk (truncated at a chunk boundary)")]
    MissingLastChunk {
        /// Chunks read.
        chunks: u64,
    },
    /// Bytes follow the final chunk.
    #[error("unexpected data after the final chunk")]
    TrailingData,
    /// The stream would need more chunks than the 32-bit counter allows (256 TiB).
    #[error("stream too long: more than 2^32 chunks")]
    TooLong,
    /// A sealed key that is not addressed to this key pair, or whose ciphertext is damaged.
    #[error("this sealed key is not addressed to this key (wrong recipient) or is damaged")]
    WrongRecipient,
    /// A sealed key with the wrong length or magic bytes.
    #[error("malformed sealed key: {0}")]
    SealedKeyMalformed(&'static str),
    /// A recipient address that cannot receive encrypted keys.
    #[error("invalid recipient address: {0}")]
    InvalidRecipient(String),
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
