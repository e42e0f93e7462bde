//! The API Lambda function (API Gateway HTTP API, payload 2.0): JSON logs, the opener, and
//! the library's router under `lambda_http::run`, with one CloudWatch embedded-metric-format
//! line per request. Everything else is in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    medimint_sdk::allocator::tune();
    medimint_api::telemetry::init_json();
    let state = medimint_api::opener::from_env().await?;
    let app = medimint_api::app(state.clone()).layer(axum::middleware::from_fn_with_state(
        state,
        medimint_api::telemetry::emf,
    ));
    lambda_http::run(app).await
}
