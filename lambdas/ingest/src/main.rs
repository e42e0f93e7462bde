//! The ingest Lambda function: S3 `ObjectCreated` notifications (directly or through SQS)
//! into the release pipeline. Configuration is read once per cold start from the
//! environment (`medimint_ingest::ProductionConfig`, docs/configuration.md); everything
//! else is in the library.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use medimint_ingest_lambda::{handle_notification, ProductionConfig};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let ingest = ProductionConfig::from_env()?.open().await?;
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle_notification(ingest, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
