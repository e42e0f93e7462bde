//! The ingest Lambda: S3 `ObjectCreated` notifications, delivered directly or through SQS,
//! turned into calls of [`medimint_ingest::process_key`].
//!
//! Configuration (environment): `MEDIMINT_BUCKET` (objects), `MEDIMINT_TABLE` (application
//! database), optional `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB` (honoured by the
//! AWS SDK itself).

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use medimint_ingest::{
    decode_s3_key, process_key, Chain, Ingest, IngestConfig, IngestError, IssuerStatus, Proposal,
    Sealer, StudySeal,
};
use medimint_storage::{DynamoDb, S3Store};
use serde_json::Value;

/// Stands in for the encryption sdk and the relayer until they are wired in: every call is a
/// transient failure, so events are retried and then dead-lettered, and nothing is lost.
struct NotWired;

fn not_wired(step: &'static str) -> IngestError {
    IngestError::Transient {
        step,
        message: "the encryption sdk and relayer are not wired into this build yet".into(),
    }
}

impl Sealer for NotWired {
    fn new_study(&self) -> Result<Box<dyn StudySeal>, IngestError> {
        Err(not_wired("encrypting the study"))
    }
}

#[async_trait]
impl Chain for NotWired {
    async fn issuer_status(&self, _: &str) -> Result<IssuerStatus, IngestError> {
        Err(not_wired("checking the issuer"))
    }
    async fn ensure_patient_account(&self, _: u32) -> Result<String, IngestError> {
        Err(not_wired("creating the patient's account"))
    }
    async fn token_by_root(&self, _: &str) -> Result<Option<String>, IngestError> {
        Err(not_wired("looking up the checksum root"))
    }
    async fn propose_release(&self, _: &Proposal) -> Result<String, IngestError> {
        Err(not_wired("proposing the release"))
    }
}

/// Keys of the `ObjectCreated` records of an S3 notification.
fn created_keys(event: &S3Event) -> Vec<String> {
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

async fn process_all(ingest: &Ingest, keys: &[String]) -> Result<(), IngestError> {
    for key in keys {
        if let Some(outcome) = process_key(ingest, key).await? {
            let kind = match outcome {
                medimint_ingest::Outcome::Released { .. } => "released",
                medimint_ingest::Outcome::Rejected { .. } => "rejected",
            };
            tracing::info!(key = %key, outcome = kind, "processed");
        }
    }
    Ok(())
}

async fn handle(ingest: &Ingest, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    let from_sqs = payload
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        == Some("aws:sqs");
    if from_sqs {
        let sqs: SqsEvent = serde_json::from_value(payload)?;
        let mut response = SqsBatchResponse::default();
        for message in sqs.records {
            let id = message.message_id.clone().unwrap_or_default();
            // S3's test event and anything else without records has no keys.
            let keys = message
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<S3Event>(b).ok())
                .map(|e| created_keys(&e))
                .unwrap_or_default();
            if let Err(e) = process_all(ingest, &keys).await {
                tracing::warn!(message_id = %id, error = %e, "will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        return Ok(serde_json::to_value(response)?);
    }
    let s3: S3Event = serde_json::from_value(payload)?;
    // A direct invocation is retried as a whole by Lambda, then sent to its failure
    // destination.
    process_all(ingest, &created_keys(&s3)).await?;
    Ok(Value::Null)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let bucket = std::env::var("MEDIMINT_BUCKET").map_err(|_| "MEDIMINT_BUCKET is not set")?;
    let table = std::env::var("MEDIMINT_TABLE").map_err(|_| "MEDIMINT_TABLE is not set")?;
    let store = Arc::new(S3Store::from_env(bucket, None).await);
    let db = Arc::new(DynamoDb::from_env(table, None).await);
    let ingest = Ingest::new(
        store,
        db,
        Arc::new(NotWired),
        Arc::new(NotWired),
        IngestConfig::default(),
    );
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event| async move {
        handle(ingest, event).await
    }))
    .await
}
