//! The ingest Lambda function: S3 `ObjectCreated` notifications (directly or through SQS)
//! into the release pipeline. Configuration is read once per cold start from the
//! environment (`medimint_ingest::ProductionConfig`, docs/configuration.md); each
//! invocation logs one CloudWatch embedded-metric-format line. Everything else is in the
//! library.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use medimint_ingest_lambda::{handle_counted, BatchCounts, ProductionConfig};
use medimint_platform::emf;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    medimint_sdk::allocator::tune();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let opened = ProductionConfig::from_env()?.open_function().await?;
    let opened = &opened;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // One CloudWatch embedded-metric-format line per invocation: outcomes, duration,
        // and what the relayer submitted and paid meanwhile.
        let start = std::time::Instant::now();
        let relayed = opened.relayer.counts();
        let mut counts = BatchCounts::default();
        let result = handle_counted(&opened.ingest, event.payload, &mut counts).await;
        let mut metrics = counts.metrics().to_vec();
        metrics.push((
            "InvocationMillis",
            start.elapsed().as_millis() as f64,
            "Milliseconds",
        ));
        metrics.extend(emf::relay_metrics(&opened.relayer.counts().since(&relayed)));
        println!("{}", emf::line("ingest", &metrics, emf::now_ms()));
        result.map_err(Error::from)
    }))
    .await
}
