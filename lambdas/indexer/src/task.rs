//! The indexer as a background task of `medimint up`: a run every interval, then the
//! notifications that are due. Errors are logged and the next run tries again from the
//! cursor.

use std::time::Duration;

use crate::notify::{send_due, Recipients, Sender};
use crate::Indexer;

/// At most one message per recipient per this many seconds.
pub const NOTIFY_INTERVAL_SECS: u64 = 300;

/// Runs forever: [`Indexer::run_once`] then [`send_due`] every `every`.
pub async fn background(
    indexer: Indexer,
    recipients: Box<dyn Recipients>,
    sender: Box<dyn Sender>,
    every: Duration,
) {
    loop {
        match indexer.run_once().await {
            Ok(run) => {
                if let Some(why) = &run.rebuilt {
                    eprintln!(
                        "indexer: rebuilt the index from contract state ({} tokens): {why}",
                        run.rebuilt_tokens
                    );
                }
                tracing::debug!(
                    read = run.read,
                    applied = run.applied,
                    lag = run.lag_ledgers,
                    "indexer run"
                );
            }
            Err(e) => eprintln!("indexer: {e}; retrying in {} ms", every.as_millis()),
        }
        if let Err(e) = send_due(
            indexer.index(),
            recipients.as_ref(),
            sender.as_ref(),
            medimint_storage::now(),
            NOTIFY_INTERVAL_SECS,
            100,
        )
        .await
        {
            eprintln!("notifications: {e}");
        }
        tokio::time::sleep(every).await;
    }
}
