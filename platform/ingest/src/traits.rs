//! What the pipeline needs from parts built elsewhere: the encryption sdk ([`Sealer`]) and
//! the chain through the relayer ([`Chain`]). Production implementations live in
//! medimint-sdk; tests implement them in tests only.

use async_trait::async_trait;
use medimint_storage::ObjectReader;

use crate::header::FileDigest;
use crate::IngestError;

/// The ciphertext of a file whose digest is not known beforehand: once read to its end, it
/// tells the plaintext's SHA-256 and size (the pipeline reads each file once).
pub trait SealedFile: tokio::io::AsyncRead + Send + Unpin {
    /// The plaintext's digest and size, once the ciphertext has been read to its end
    /// (`None` before).
    fn plaintext_digest(&self) -> Option<FileDigest>;
}

/// Encryption of one study under a fresh random study key.
pub trait Sealer: Send + Sync {
    /// Starts a study: draws a fresh study key, held (and zeroized) by the returned value.
    fn new_study(&self) -> Result<Box<dyn StudySeal>, IngestError>;
}

/// One study's key.
pub trait StudySeal: Send + Sync {
    /// A reader of the ciphertext of `plaintext` in the sdk's chunked stream format.
    fn encrypt(&self, plaintext: ObjectReader) -> ObjectReader;
    /// As [`StudySeal::encrypt`], and the plaintext's digest and size at the end (`size`, a
    /// hint for buffers where known). By default the plaintext is hashed on its way into
    /// [`StudySeal::encrypt`].
    fn encrypt_file(&self, plaintext: ObjectReader, size: Option<u64>) -> Box<dyn SealedFile> {
        let _ = size;
        let (plaintext, digest) = crate::pipeline::hashing_reader(plaintext);
        Box::new(crate::pipeline::DigestedCiphertext {
            inner: self.encrypt(plaintext),
            digest,
        })
    }
    /// A reader of the ciphertext of the metadata object's plaintext (stored as blocks by
    /// [`crate::metadata::MetadataWriter`]); the same stream format as a file's by default.
    fn encrypt_metadata(&self, plaintext: ObjectReader) -> ObjectReader {
        self.encrypt(plaintext)
    }
    /// The study key wrapped (HPKE) to a Stellar G-address.
    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError>;
}

/// Standing of an issuer in the issuer registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerStatus {
    /// Whitelisted and active.
    Trusted,
    /// Whitelisted but suspended.
    Suspended,
    /// Not in the registry.
    Unknown,
}

/// A release to propose on chain. Holds no PHI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The issuer's G-address (signs the proposal).
    pub issuer: String,
    /// The patient's G-address (the token's owner).
    pub patient: String,
    /// Hex Merkle root of the original files.
    pub checksum_root: String,
    /// `ipfs://<cid>` of the encrypted metadata object.
    pub metadata_uri: String,
    /// How many original files the checksum root covers (the contract records it so that
    /// a verifier knows how many files to expect).
    pub file_count: u32,
}

/// The chain, through the relayer. Every call is idempotent where it can be: the checksum
/// root can be minted once, so [`Chain::token_by_root`] finds a proposal an interrupted
/// attempt already made.
#[async_trait]
pub trait Chain: Send + Sync {
    /// The issuer's standing.
    async fn issuer_status(&self, issuer: &str) -> Result<IssuerStatus, IngestError>;
    /// Derives the custodial address at `hd_index` and makes sure its account exists
    /// (sponsored reserves); returns the address.
    async fn ensure_patient_account(&self, hd_index: u32) -> Result<String, IngestError>;
    /// The commitment the chain holds for this checksum root (hex), and the salt that opens
    /// it (see [`crate::commitment`]).
    fn commitment(&self, checksum_root: &str) -> Result<crate::Commitment, IngestError>;
    /// The token minted or proposed with this checksum root (by its commitment), if any.
    async fn token_by_root(&self, checksum_root: &str) -> Result<Option<String>, IngestError>;
    /// Proposes the release (token pending the patient's consent); returns the token id once
    /// the transaction is final.
    async fn propose_release(&self, proposal: &Proposal) -> Result<String, IngestError>;
}
