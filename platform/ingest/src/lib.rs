//! medimint-ingest: the release pipeline. A PACS export lands in
//! `inbox/<issuer>/<release-id>/`; its `release.json`, written last, triggers
//! [`Ingest::process`], which validates every file against the manifest, hashes it, encrypts
//! it, stores it with the metadata object and proposes the release on chain.
//!
//! The production adapters are here too: [`SdkSealer`] (medimint-sdk's crypto) and
//! [`RelayerChain`] (the suite through the fee-sponsoring relayer). The crate knows nothing
//! of AWS Lambda: the ingest function (`lambdas/ingest`, medimint-ingest-lambda) turns S3 and
//! SQS notifications into calls of [`process_key`], and the platform (`medimint-platform`)
//! and the local stack's watched inbox call the same library.

pub mod checksum;
pub mod commitment;
pub mod header;
pub mod layout;
pub mod listing;
pub mod manifest;
pub mod metadata;
pub mod pipeline;
pub mod rekey;
pub mod relayer_chain;
pub mod report;
pub mod retry;
mod scan;
pub mod sealer;
mod spill;
pub mod summary;
pub mod traits;
pub mod transfer;
pub mod upload;
pub mod validate;

pub use checksum::{checksum_root, verify, FileChecksum, PresentedFile, Verification};
pub use commitment::Commitment;
pub use header::{read_file, HeaderError, HeaderFields};
pub use layout::{decode_s3_key, parse_manifest_key, ReleaseRef};
pub use manifest::{parse_manifest, Manifest};
pub use pipeline::{Ingest, IngestConfig, Outcome};
pub use relayer_chain::RelayerChain;
pub use report::{Problem, ProblemCode, Report};
pub use sealer::SdkSealer;
pub use traits::{Chain, IssuerStatus, Proposal, SealedFile, Sealer, StudySeal};
pub use upload::{InboxUpload, LocalUpload, Upload};

/// A failure the caller should retry (storage, database, chain or relayer unavailable), or
/// an event that is not a release at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Retry later with backoff; after the last attempt, dead-letter.
    #[error("transient failure while {step}: {message}")]
    Transient {
        /// The step that failed.
        step: &'static str,
        /// Why (no PHI).
        message: String,
    },
    /// Another attempt at the same release moved its record on first (two deliveries at
    /// once); retrying resumes from where that attempt got.
    #[error("concurrent attempt while {step}: {message}")]
    Conflict {
        /// The step whose record update lost.
        step: &'static str,
        /// The database's message.
        message: String,
    },
    /// The event does not name a release manifest (ignored, not retried).
    #[error("not a release: {0}")]
    NotARelease(String),
}

impl IngestError {
    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            IngestError::Transient { .. } | IngestError::Conflict { .. }
        )
    }

    pub(crate) fn storage(step: &'static str) -> impl Fn(medimint_storage::StorageError) -> Self {
        move |e| match e {
            medimint_storage::StorageError::Conflict(message) => {
                IngestError::Conflict { step, message }
            }
            e => IngestError::Transient {
                step,
                message: e.to_string(),
            },
        }
    }
}

/// Processes the release whose manifest is `key` (as stored, not URL-encoded). Keys that
/// are not `inbox/<issuer>/<release-id>/release.json` give `Ok(None)`: a release's files
/// arrive before its manifest and trigger nothing.
pub async fn process_key(ingest: &Ingest, key: &str) -> Result<Option<Outcome>, IngestError> {
    match parse_manifest_key(key) {
        Ok(release) => ingest.process(&release).await.map(Some),
        Err(_) => Ok(None),
    }
}
