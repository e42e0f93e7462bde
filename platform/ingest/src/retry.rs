//! Retrying transient failures with backoff, then dead-lettering (the local stack's stand-in
//! for SQS's redrive policy; in AWS, SQS retries and its dead-letter queue keep the event).

use std::time::Duration;

use bytes::Bytes;
use medimint_storage::ObjectStore;
use serde::Serialize;

use crate::layout::ReleaseRef;
use crate::pipeline::{Ingest, Outcome};
use crate::IngestError;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub first_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The record written to the dead-letter store, `<issuer>/<release-id>.json`.
#[derive(Debug, Serialize)]
struct DeadLetter<'a> {
    issuer: &'a str,
    release_id: &'a str,
    manifest_key: String,
    attempts: u32,
    reason: String,
}

/// Runs [`Ingest::process`] until it succeeds, fails permanently, or runs out of attempts;
/// then writes a dead letter with the last reason into `dead_letters` and returns the error.
pub async fn process_with_retries(
    ingest: &Ingest,
    release: &ReleaseRef,
    policy: &RetryPolicy,
    dead_letters: &dyn ObjectStore,
) -> Result<Outcome, IngestError> {
    let mut delay = policy.first_delay;
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        match ingest.process(release).await {
            Err(e) if e.is_transient() && attempt < attempts => {
                tracing::warn!(
                    issuer = %release.issuer,
                    release_id = %release.release_id,
                    attempt,
                    error = %e,
                    "transient failure; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(policy.max_delay);
                attempt += 1;
            }
            Err(e) if e.is_transient() => {
                let letter = DeadLetter {
                    issuer: &release.issuer,
                    release_id: &release.release_id,
                    manifest_key: release.manifest_key(),
                    attempts: attempt,
                    reason: e.to_string(),
                };
                let body = serde_json::to_vec_pretty(&letter).unwrap_or_default();
                let key = format!("{}/{}.json", release.issuer, release.release_id);
                if let Err(dl) = dead_letters.put_bytes(&key, Bytes::from(body)).await {
                    tracing::error!(error = %dl, "cannot write the dead letter");
                }
                tracing::error!(
                    issuer = %release.issuer,
                    release_id = %release.release_id,
                    attempts = attempt,
                    error = %e,
                    "dead-lettered"
                );
                return Err(e);
            }
            other => return other,
        }
    }
}

/// [`Ingest::process_upload`] of files the caller holds (a local folder), retrying transient
/// failures with exponential backoff. Nothing is dead-lettered: there is no inbox manifest
/// to replay, and the caller, who holds the files, gets the last failure and retries with
/// the same release id.
pub async fn process_upload_with_retries(
    ingest: &Ingest,
    release: &ReleaseRef,
    upload: std::sync::Arc<dyn crate::Upload>,
    policy: &RetryPolicy,
) -> Result<Outcome, IngestError> {
    let mut delay = policy.first_delay;
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        match ingest.process_upload(release, upload.clone()).await {
            Err(e) if e.is_transient() && attempt < attempts => {
                tracing::warn!(
                    issuer = %release.issuer,
                    release_id = %release.release_id,
                    attempt,
                    error = %e,
                    "transient failure; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(policy.max_delay);
                attempt += 1;
            }
            done => return done,
        }
    }
}
