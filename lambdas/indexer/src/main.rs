//! The indexer Lambda function: each EventBridge scheduled event runs one bounded batch
//! ([`lambda::scheduled_run`]) and logs one CloudWatch embedded-metric-format line (with the
//! sponsor's balance, which the low-balance alarm reads).
//! Configuration is read once per cold start from the environment (the platform's,
//! docs/configuration.md; `MEDIMINT_INDEX_TABLE` names the index table); everything else is
//! in the library. With `MEDIMINT_MAIL_FROM` set, each run also sends the notifications that
//! are due through SES.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use medimint_indexer_lambda::notify::{send_due, DbRecipients};
use medimint_indexer_lambda::task::NOTIFY_INTERVAL_SECS;
use medimint_indexer_lambda::{health, lambda, open, Indexer, Settings};
use medimint_storage::SesMailer;
use serde_json::Value;

/// Sends the notifications that are due; a failure is logged (they stay queued).
async fn notify(indexer: &Indexer, recipients: &DbRecipients, mailer: &SesMailer) {
    let now = medimint_storage::now();
    match send_due(
        indexer.index(),
        recipients,
        mailer,
        now,
        NOTIFY_INTERVAL_SECS,
        100,
    )
    .await
    {
        Ok(report) => tracing::info!(report = ?report, "notifications"),
        Err(e) => tracing::warn!(error = %e, "notifications stay queued"),
    }
}

async fn handle(
    platform: &medimint_platform::Platform,
    indexer: &Indexer,
    event: Value,
) -> Result<Value, Error> {
    // Read every run, so that the low-balance alarm has a value each minute; a failed read
    // leaves the metric out (and the alarm treats missing data as breaching).
    let sponsor = match health::sponsor_balance(platform).await {
        Ok((_, stroops)) => Some(stroops),
        Err(e) => {
            tracing::warn!(error = %e, "the sponsor's balance could not be read");
            None
        }
    };
    let (run, metrics) =
        lambda::scheduled_run(indexer, &event, sponsor, medimint_platform::emf::now_ms()).await?;
    println!("{metrics}");
    if let Some(why) = &run.rebuilt {
        tracing::warn!(reason = %why, tokens = run.rebuilt_tokens, "index rebuilt");
    }
    Ok(serde_json::to_value(&run)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    medimint_sdk::allocator::tune();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let config = medimint_platform::Config::for_lambda(|k| std::env::var(k).ok())?;
    let platform = medimint_platform::Platform::open(config, false).await?;
    let index = open::open_index(platform.config()).await?;
    let indexer = open::indexer(&platform, index, Settings::default())?;
    let mailer = match medimint_storage::SesSettings::from_lookup(|k| std::env::var(k).ok())? {
        Some(settings) => Some(SesMailer::from_settings(&settings).await),
        None => None,
    };
    let recipients = DbRecipients(platform.db().clone());
    let (platform, indexer, mailer, recipients) = (&platform, &indexer, &mailer, &recipients);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let out = handle(platform, indexer, event.payload).await?;
        if let Some(mailer) = mailer {
            notify(indexer, recipients, mailer).await;
        }
        Ok::<Value, Error>(out)
    }))
    .await
}
