//! The production [`Sealer`]: medimint-sdk's crypto behind the ingest pipeline's traits.
//!
//! Each study gets a fresh random [`StudyKey`] (zeroized when the last reference drops).
//! Files are encrypted in the sdk's chunked stream format while the store reads them: the
//! reader the store reads from is the sdk's [`SealReader`] over the plaintext (no task and no
//! pipe between them), so memory stays bounded (a few MiB a file) whatever the file size.
//! A file ([`StudySeal::encrypt_file`]) is hashed beside the cipher, on another core when
//! one is free: one large file is then sealed on two cores, and read once
//! (docs/performance.md, "Ingest end to end").

use std::sync::Arc;

use crate::header::FileDigest;
use crate::{IngestError, SealedFile, Sealer, StudySeal};
use medimint_sdk::crypto::{seal_key, SealReader, StudyKey};
use medimint_storage::ObjectReader;

/// The production sealer: a fresh study key per study.
#[derive(Debug, Default, Clone, Copy)]
pub struct SdkSealer;

impl Sealer for SdkSealer {
    fn new_study(&self) -> Result<Box<dyn StudySeal>, IngestError> {
        Ok(Box::new(SdkStudySeal {
            key: Arc::new(StudyKey::generate()),
        }))
    }
}

/// One study's key.
struct SdkStudySeal {
    key: Arc<StudyKey>,
}

fn failed(step: &'static str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Transient {
        step,
        message: e.to_string(),
    }
}

impl StudySeal for SdkStudySeal {
    fn encrypt(&self, plaintext: ObjectReader) -> ObjectReader {
        Box::new(SealReader::new(&self.key, plaintext))
    }

    fn encrypt_file(&self, plaintext: ObjectReader, size: Option<u64>) -> Box<dyn SealedFile> {
        let reader = SealReader::new(&self.key, plaintext);
        Box::new(match size {
            Some(size) => reader.size_hint(size),
            None => reader,
        })
    }

    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError> {
        seal_key(&self.key, address).map_err(|e| failed("wrapping the study key", e))
    }
}

/// The sdk's reader hashes the plaintext beside the cipher (on another core when one is
/// free) whether or not a digest is expected.
impl SealedFile for SealReader<ObjectReader> {
    fn plaintext_digest(&self) -> Option<FileDigest> {
        self.sha256().map(|sha256| FileDigest {
            sha256,
            size: self.plaintext_len(),
        })
    }
}
