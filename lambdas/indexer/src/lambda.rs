//! What the Lambda function does with one event: an EventBridge scheduled event (or a
//! manual invocation with `{}`) runs one bounded batch; anything else is refused with a
//! message naming what was received. `main.rs` only wires this to the runtime.

use serde_json::Value;

use crate::follow::RunReport;
use crate::{metrics, Indexer, IndexerError};

/// The schedule that fired, as far as the event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    /// The rule's ARN, if the event names one.
    pub rule: Option<String>,
    /// When it fired (RFC 3339), if the event says.
    pub time: Option<String>,
}

/// Reads a scheduled event. `{}` (a manual or test invocation) counts as one.
///
/// # Errors
/// [`IndexerError::Invalid`] naming the `detail-type` (or the absence of one) of another
/// kind of event.
pub fn parse_scheduled(event: &Value) -> Result<Scheduled, IndexerError> {
    if event.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(Scheduled {
            rule: None,
            time: None,
        });
    }
    match event.get("detail-type").and_then(Value::as_str) {
        Some("Scheduled Event") => Ok(Scheduled {
            rule: event
                .get("resources")
                .and_then(|r| r.get(0))
                .and_then(Value::as_str)
                .map(str::to_owned),
            time: event.get("time").and_then(Value::as_str).map(str::to_owned),
        }),
        Some(other) => Err(IndexerError::Invalid(format!(
            "the indexer runs on EventBridge scheduled events; got detail-type {other:?}"
        ))),
        None => Err(IndexerError::Invalid(
            "the indexer runs on EventBridge scheduled events; got an event without \
             detail-type (check the function's trigger)"
                .into(),
        )),
    }
}

/// One scheduled run: the batch and its EMF metric line (stamped `now_ms`), with the
/// sponsor's balance when the caller read it.
///
/// # Errors
/// A refused event; the run's failure.
pub async fn scheduled_run(
    indexer: &Indexer,
    event: &Value,
    sponsor_stroops: Option<i64>,
    now_ms: u64,
) -> Result<(RunReport, String), IndexerError> {
    parse_scheduled(event)?;
    let run = indexer.run_once().await?;
    let line = metrics::run_metrics(&run, None, sponsor_stroops, now_ms);
    Ok((run, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_scheduled_event_runs_and_other_events_are_refused_by_name() {
        let scheduled: Value =
            serde_json::from_str(include_str!("../tests/data/eventbridge_scheduled.json")).unwrap();
        let s = parse_scheduled(&scheduled).unwrap();
        assert_eq!(
            s.rule.as_deref(),
            Some("arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule")
        );
        assert_eq!(s.time.as_deref(), Some("2015-10-08T16:53:06Z"));
        assert!(parse_scheduled(&serde_json::json!({})).is_ok());
        let s3: Value = serde_json::from_str(include_str!("../tests/data/s3_put.json")).unwrap();
        let err = parse_scheduled(&s3).unwrap_err().to_string();
        assert!(err.contains("without detail-type"), "{err}");
        let other = serde_json::json!({"detail-type": "AWS API Call via CloudTrail"});
        let err = parse_scheduled(&other).unwrap_err().to_string();
        assert!(err.contains("CloudTrail"), "{err}");
    }
}
