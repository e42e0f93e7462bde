//! The API Lambda function (API Gateway HTTP API, payload 2.0): JSON logs, the opener, and
//! the library's router under `lambda_http::run`. Everything else is in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    medimint_api::telemetry::init_json();
    let state = medimint_api::opener::from_env().await?;
    lambda_http::run(medimint_api::app(state)).await
}
