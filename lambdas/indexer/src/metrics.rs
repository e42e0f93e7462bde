//! CloudWatch embedded metric format (EMF): one JSON log line that CloudWatch Logs turns into
//! metrics, without an API call. The namespace is `MediMint`, one dimension `Function`.

use crate::follow::RunReport;
use crate::notify::NotifyReport;

pub use medimint_platform::emf::NAMESPACE;

/// One EMF line for `function` with `(name, value, unit)` metrics (`Count`,
/// `Milliseconds`, `None`…), at `timestamp_ms` ([`medimint_platform::emf::line`]).
pub fn emf_line(function: &str, metrics: &[(&str, f64, &str)], timestamp_ms: u64) -> String {
    medimint_platform::emf::line(function, metrics, timestamp_ms)
}

/// The indexer's metrics of one run: events read and applied, lag in ledgers, rebuilds,
/// duration, notifications, and the sponsor's balance in XLM when it was read (the alarm
/// on a low balance reads it: the indexer runs every minute).
pub fn run_metrics(
    run: &RunReport,
    notify: Option<&NotifyReport>,
    sponsor_stroops: Option<i64>,
    timestamp_ms: u64,
) -> String {
    let mut m: Vec<(&str, f64, &str)> = vec![
        ("EventsRead", run.read as f64, "Count"),
        ("EventsApplied", run.applied as f64, "Count"),
        ("IndexLagLedgers", f64::from(run.lag_ledgers), "Count"),
        (
            "IndexRebuilds",
            f64::from(u8::from(run.rebuilt.is_some())),
            "Count",
        ),
        ("RunDuration", run.millis as f64, "Milliseconds"),
    ];
    if let Some(stroops) = sponsor_stroops {
        m.push(("SponsorBalanceXlm", stroops as f64 / 10_000_000.0, "None"));
    }
    if let Some(n) = notify {
        m.push(("NotificationsSent", n.sent as f64, "Count"));
        m.push(("NotificationsDeferred", n.deferred as f64, "Count"));
    }
    emf_line("indexer", &m, timestamp_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn an_emf_line_declares_every_metric_it_carries() {
        let line = emf_line(
            "indexer",
            &[("IndexLagLedgers", 3.0, "Count")],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Function"], "indexer");
        assert_eq!(v["IndexLagLedgers"], 3.0);
        let decl = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], NAMESPACE);
        assert_eq!(decl["Metrics"][0]["Name"], "IndexLagLedgers");
        assert_eq!(decl["Dimensions"][0][0], "Function");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }

    #[test]
    fn a_rebuild_counts_once() {
        let run = RunReport {
            rebuilt: Some("window".into()),
            ..RunReport::default()
        };
        let v: Value =
            serde_json::from_str(&run_metrics(&run, None, Some(1_234_500_000), 0)).unwrap();
        assert_eq!(v["IndexRebuilds"], 1.0);
        assert!(v.get("NotificationsSent").is_none());
        assert_eq!(v["SponsorBalanceXlm"], 123.45);
    }
}
