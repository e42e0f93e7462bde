//! The Lambda handler as API Gateway (HTTP API, payload format 2.0) drives it: recorded
//! event JSON from tests/data/ through `lambda_http`'s adapter into the router, and the
//! response as API Gateway receives it.

mod common;

use common::TestApi;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;

fn event(name: &str) -> LambdaRequest {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path} is not an API Gateway event: {e}"))
}

async fn invoke(api: &TestApi, name: &str) -> Value {
    let mut adapter = Adapter::from(medimint_api::app(api.state.clone()));
    let response = adapter
        .call(LambdaEvent::new(event(name), Context::default()))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

fn body(response: &Value) -> Value {
    let text = response["body"].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_health_event_answers_200_json() {
    let api = TestApi::new();
    let r = invoke(&api, "apigw_v2_get_health.json").await;
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(body(&r)["status"], "ok");
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert!(r["headers"]["x-request-id"].is_string());
}

#[tokio::test]
async fn a_base64_email_event_sends_a_code_and_cors_answers_the_app() {
    let api = TestApi::new();
    let r = invoke(&api, "apigw_v2_post_auth_email.json").await;
    assert_eq!(r["statusCode"], 202, "{r}");
    assert_eq!(body(&r)["status"], "sent");
    assert_eq!(
        r["headers"]["access-control-allow-origin"],
        "https://app.medimint.test"
    );
    assert_eq!(api.last_code("jane@example.org").len(), 6);
}

#[tokio::test]
async fn a_challenge_event_reads_the_query_string() {
    let api = TestApi::new();
    let r = invoke(&api, "apigw_v2_get_auth_challenge.json").await;
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(body(&r)["network_passphrase"], common::NETWORK);
}

#[tokio::test]
async fn an_event_without_a_token_is_a_401_problem() {
    let api = TestApi::new();
    let r = invoke(&api, "apigw_v2_get_me_no_token.json").await;
    assert_eq!(r["statusCode"], 401, "{r}");
    assert_eq!(r["headers"]["content-type"], "application/problem+json");
    assert_eq!(body(&r)["type"], "urn:medimint:problem:unauthenticated");
}

#[tokio::test]
async fn the_per_ip_limit_counts_api_gateways_source_ip() {
    let mut config = common::config();
    config.limits.per_ip_per_minute = 1;
    let api = TestApi::with_config(config);
    assert_eq!(
        invoke(&api, "apigw_v2_get_health.json").await["statusCode"],
        200
    );
    let second = invoke(&api, "apigw_v2_get_health.json").await;
    assert_eq!(second["statusCode"], 429);
    assert!(second["headers"]["retry-after"].is_string());
    // Another source IP (the same one X-Forwarded-For names would not count: it is not trusted).
    assert_eq!(
        invoke(&api, "apigw_v2_get_me_no_token.json").await["statusCode"],
        401
    );
}
