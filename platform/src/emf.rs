//! CloudWatch embedded metric format (EMF): one JSON log line that CloudWatch Logs turns into
//! metrics without an API call. Every Lambda function writes its metrics this way, in the
//! namespace [`NAMESPACE`] with one dimension, `Function`; infra/template.yaml's alarms read
//! them. Metric values are counts and durations only, never PHI.

use serde_json::{json, Map, Value};

use medimint_chain::RelayCounts;

/// The metric namespace.
pub const NAMESPACE: &str = "MediMint";

/// One metric: name, value, CloudWatch unit (`Count`, `Milliseconds`, `None`…).
pub type Metric<'a> = (&'a str, f64, &'a str);

/// One EMF line for `function` carrying `metrics`, stamped `timestamp_ms`.
pub fn line(function: &str, metrics: &[Metric<'_>], timestamp_ms: u64) -> String {
    let defs: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": defs,
            }],
        }),
    );
    root.insert("Function".into(), json!(function));
    for (name, value, _) in metrics {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

/// The relayer's submissions and fees of one invocation (`RelaySubmissions`,
/// `RelayFailures`, `RelayFeesStroops`).
pub fn relay_metrics(counts: &RelayCounts) -> [Metric<'static>; 3] {
    [
        ("RelaySubmissions", counts.landed as f64, "Count"),
        ("RelayFailures", counts.failed as f64, "Count"),
        ("RelayFeesStroops", counts.fees_stroops as f64, "None"),
    ]
}

/// Milliseconds since the Unix epoch now (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_every_metric_it_carries() {
        let counts = RelayCounts {
            landed: 2,
            failed: 1,
            fees_stroops: 750,
        };
        let mut metrics = vec![("IndexLagLedgers", 3.0, "Count")];
        metrics.extend(relay_metrics(&counts));
        let l = line("indexer", &metrics, 1_700_000_000_000);
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Function"], "indexer");
        assert_eq!(v["IndexLagLedgers"], 3.0);
        assert_eq!(v["RelaySubmissions"], 2.0);
        assert_eq!(v["RelayFeesStroops"], 750.0);
        let decl = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], NAMESPACE);
        let names: Vec<&str> = decl["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "IndexLagLedgers",
                "RelaySubmissions",
                "RelayFailures",
                "RelayFeesStroops"
            ]
        );
        assert_eq!(decl["Dimensions"][0][0], "Function");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }
}
