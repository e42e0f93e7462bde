//! Study encryption: a random [`StudyKey`] per study, files in the chunked AES-256-GCM
//! [`stream`] format, and the study key [`seal`]ed to each recipient's Stellar address.
//!
//! Byte layouts are specified in `docs/formats.md`.

pub mod envelope;
mod error;
mod key;
pub mod seal;
mod secret_buf;
pub mod stream;
mod stream_async;
pub mod stream_reader;
pub mod x25519;

pub use envelope::{open_envelope, seal_envelope};
pub use error::Error;
pub use key::StudyKey;
pub use seal::{open_key, rewrap_key, seal_key};
pub use secret_buf::SecretBuf;
pub use stream::{decrypt, encrypt, rekey, EncryptWriter};
pub use stream_async::{decrypt_async, encrypt_async, rekey_async, ChunkDecryptor};
pub use stream_reader::{DigestMismatch, RekeyReader, SealReader};
