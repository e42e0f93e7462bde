//! S3 `ObjectCreated` notifications, delivered to the function directly or through SQS,
//! turned into calls of [`Ingest::process`].
//!
//! Through SQS (production: S3 → SQS → Lambda, with a dead-letter queue behind SQS), each
//! message stands alone: a message whose release failed transiently is reported in
//! `batchItemFailures`, so SQS redelivers it alone and, after its `maxReceiveCount`, moves
//! it to the dead-letter queue; the others are deleted. A direct invocation fails as a whole
//! and Lambda's own retries and failure destination take over.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;

use medimint_ingest::{decode_s3_key, process_key, Ingest, IngestError, Outcome};

/// Why a notification could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The payload is neither an SQS batch nor an S3 notification.
    #[error("the event is neither an SQS batch nor an S3 notification: {0}")]
    Malformed(String),
    /// A release of a direct S3 notification failed transiently (retry the invocation).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// The stored keys of the `ObjectCreated` records of an S3 notification (URL-decoded). The
/// pipeline itself ignores keys that are not a release's `release.json`.
pub fn manifest_keys(event: &S3Event) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("ObjectCreated"))
        })
        .filter_map(|r| r.s3.object.key.as_deref().map(decode_s3_key))
        .collect()
}

/// The keys of an SQS message's body. S3's `s3:TestEvent` (sent when a notification is
/// configured) has no records and gives no keys.
fn message_keys(body: Option<&str>) -> Result<Vec<String>, String> {
    let body = body.ok_or("the message has no body")?;
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if value.get("Records").is_none() {
        return match value.get("Event").and_then(Value::as_str) {
            Some("s3:TestEvent") => Ok(Vec::new()),
            _ => Err("the body is not an S3 notification (no Records)".into()),
        };
    }
    let event: S3Event = serde_json::from_value(value)
        .map_err(|e| format!("the body is not an S3 notification: {e}"))?;
    Ok(manifest_keys(&event))
}

async fn process_all(
    ingest: &Ingest,
    keys: &[String],
    counts: &mut BatchCounts,
) -> Result<(), IngestError> {
    for key in keys {
        if let Some(outcome) = process_key(ingest, key).await? {
            // Keys name an issuer address and a release id, never PHI.
            match outcome {
                Outcome::Released { token_id, .. } => {
                    tracing::info!(key = %key, token = %token_id, "released");
                    counts.released += 1;
                }
                Outcome::Rejected { .. } => {
                    tracing::info!(key = %key, "rejected, see its report");
                    counts.rejected += 1;
                }
            }
        }
    }
    Ok(())
}

/// What one invocation did with its releases, for its metric line
/// ([`BatchCounts::metrics`]): counts only, nothing about whose study.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchCounts {
    /// Releases proposed on chain (or answered with their token on a repeat delivery).
    pub released: u32,
    /// Releases refused, each with its report.
    pub rejected: u32,
    /// Messages or notifications that failed transiently (to be retried).
    pub retried: u32,
    /// SQS messages that are no S3 notification (towards the dead-letter queue).
    pub unreadable: u32,
}

impl BatchCounts {
    /// The metrics (`Released`, `Rejected`, `Retried`, `Unreadable`).
    pub fn metrics(&self) -> [medimint_platform::emf::Metric<'static>; 4] {
        [
            ("Released", f64::from(self.released), "Count"),
            ("Rejected", f64::from(self.rejected), "Count"),
            ("Retried", f64::from(self.retried), "Count"),
            ("Unreadable", f64::from(self.unreadable), "Count"),
        ]
    }
}

/// Handles one invocation's payload. An SQS batch gives an `SqsBatchResponse` (the function
/// needs `ReportBatchItemFailures`); a direct S3 notification gives `null`.
///
/// # Errors
/// A payload of another shape, or a transient failure of a direct notification.
pub async fn handle_notification(
    ingest: &Ingest,
    payload: Value,
) -> Result<Value, NotificationError> {
    handle_counted(ingest, payload, &mut BatchCounts::default()).await
}

/// [`handle_notification`], adding what it did to `counts`.
///
/// # Errors
/// As [`handle_notification`].
pub async fn handle_counted(
    ingest: &Ingest,
    payload: Value,
    counts: &mut BatchCounts,
) -> Result<Value, NotificationError> {
    let source = payload
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str);
    if source == Some("aws:sqs") {
        let sqs: SqsEvent = serde_json::from_value(payload)
            .map_err(|e| NotificationError::Malformed(format!("SQS batch: {e}")))?;
        let mut response = SqsBatchResponse::default();
        for message in sqs.records {
            let id = message.message_id.clone().unwrap_or_default();
            let keys = match message_keys(message.body.as_deref()) {
                Ok(keys) => keys,
                Err(why) => {
                    // Not retried into success, but kept: after the queue's maxReceiveCount
                    // the message lands in the dead-letter queue for someone to read.
                    tracing::warn!(message_id = %id, error = %why, "unreadable message");
                    counts.unreadable += 1;
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                    continue;
                }
            };
            if let Err(e) = process_all(ingest, &keys, counts).await {
                tracing::warn!(message_id = %id, error = %e, "will be retried");
                counts.retried += 1;
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        return serde_json::to_value(response)
            .map_err(|e| NotificationError::Malformed(e.to_string()));
    }
    if source != Some("aws:s3") && payload.get("Records").is_none() {
        return Err(NotificationError::Malformed(
            "no Records with eventSource aws:sqs or aws:s3".into(),
        ));
    }
    let s3: S3Event = serde_json::from_value(payload)
        .map_err(|e| NotificationError::Malformed(format!("S3 notification: {e}")))?;
    if let Err(e) = process_all(ingest, &manifest_keys(&s3), counts).await {
        counts.retried += 1;
        return Err(e.into());
    }
    Ok(Value::Null)
}
