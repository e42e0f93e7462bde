//! The indexer Lambda function: each EventBridge scheduled event runs one bounded batch
//! ([`lambda::scheduled_run`]) and logs one CloudWatch embedded-metric-format line.
//! Configuration is read once per cold start from the environment (the platform's,
//! docs/configuration.md; `MEDIMINT_INDEX_TABLE` names the index table); everything else is
//! in the library.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use medimint_indexer_lambda::{lambda, open, Indexer, Settings};
use serde_json::Value;

async fn handle(indexer: &Indexer, event: Value) -> Result<Value, Error> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let (run, metrics) = lambda::scheduled_run(indexer, &event, now_ms).await?;
    println!("{metrics}");
    if let Some(why) = &run.rebuilt {
        tracing::warn!(reason = %why, tokens = run.rebuilt_tokens, "index rebuilt");
    }
    Ok(serde_json::to_value(&run)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let config = medimint_platform::Config::for_lambda(|k| std::env::var(k).ok())?;
    let platform = medimint_platform::Platform::open(config, false).await?;
    let index = open::open_index(platform.config()).await?;
    let indexer = open::indexer(&platform, index, Settings::default())?;
    let indexer = &indexer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(indexer, event.payload).await
    }))
    .await
}
