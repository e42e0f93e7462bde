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
