//! Structured JSON logs. A request's span holds its id, method and path (never the query
//! string, headers or body: they can carry codes, tokens or emails); handlers log outcomes
//! by kind only.

use std::time::Duration;

use axum::http::{Request, Response};
use tracing::Span;

/// JSON logs to stdout, filtered by `RUST_LOG` (default `info`).
pub fn init_json() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .without_time()
        .try_init();
}

/// The span of one request.
pub fn make_span<B>(request: &Request<B>) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// Logs the status and duration of each response.
pub fn on_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        ms = latency.as_millis() as u64,
        "response"
    );
}

/// The API function's CloudWatch metrics of one response, as one embedded-metric-format
/// line (`medimint_platform::emf`): `Requests`, `Status4xx`, `Status5xx`, `LatencyMillis`,
/// and what the relayer submitted and paid for it. No path, caller or query: counts only.
pub fn response_metrics(
    status: u16,
    latency: Duration,
    relayed: &medimint_chain::RelayCounts,
    timestamp_ms: u64,
) -> String {
    let mut metrics = vec![
        ("Requests", 1.0, "Count"),
        (
            "Status4xx",
            f64::from(u8::from((400..500).contains(&status))),
            "Count",
        ),
        ("Status5xx", f64::from(u8::from(status >= 500)), "Count"),
        ("LatencyMillis", latency.as_millis() as f64, "Milliseconds"),
    ];
    metrics.extend(medimint_platform::emf::relay_metrics(relayed));
    medimint_platform::emf::line("api", &metrics, timestamp_ms)
}

/// Middleware of the Lambda function (`main.rs`): one [`response_metrics`] line on stdout per
/// request. A Lambda instance serves one request at a time, so the relayer's counters moved
/// by this request alone.
pub async fn emf(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let start = std::time::Instant::now();
    let relayer = state.platform().ok().map(|p| p.relayer().clone());
    let before = relayer.as_ref().map(|r| r.counts()).unwrap_or_default();
    let response = next.run(request).await;
    let relayed = relayer
        .as_ref()
        .map(|r| r.counts().since(&before))
        .unwrap_or_default();
    println!(
        "{}",
        response_metrics(
            response.status().as_u16(),
            start.elapsed(),
            &relayed,
            medimint_platform::emf::now_ms()
        )
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_counts_as_5xx_only() {
        let line = response_metrics(
            503,
            Duration::from_millis(12),
            &medimint_chain::RelayCounts::default(),
            7,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Function"], "api");
        assert_eq!(v["Status5xx"], 1.0);
        assert_eq!(v["Status4xx"], 0.0);
        assert_eq!(v["LatencyMillis"], 12.0);
        assert_eq!(v["RelaySubmissions"], 0.0);
        let line = response_metrics(
            404,
            Duration::ZERO,
            &medimint_chain::RelayCounts::default(),
            7,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["Status4xx"].as_f64(), v["Status5xx"].as_f64()),
            (Some(1.0), Some(0.0))
        );
    }
}
