//! The handlers, one file per area, and the router that ties them to paths and layers.

pub mod account;
pub mod authorizations;
pub mod dicomweb;
pub mod email;
pub mod emergency;
pub mod erasure;
pub mod explorer;
pub mod issuers;
pub mod keys;
pub mod links;
pub mod releases;
pub mod requests;
pub mod studies;
pub mod system;
pub mod wallet;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn cors_origins(state: &AppState) -> Vec<HeaderValue> {
    state
        .config()
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect()
}

fn cors(state: &AppState) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(cors_origins(state)))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER, REQUEST_ID])
        // The refresh cookie (SameSite=Strict, so only from the web app's own site).
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// The whole API: every route with its limits, CORS, security headers, request ids and
/// logs.
pub fn app(state: AppState) -> Router {
    // SEP-1 asks for `Access-Control-Allow-Origin: *` on the stellar.toml.
    let public = Router::new()
        .route("/.well-known/stellar.toml", get(wallet::stellar_toml))
        .method_not_allowed_fallback(wrong_method)
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET]),
        );
    let api = Router::new()
        .route("/auth", get(wallet::challenge).post(wallet::token))
        .route("/auth/email", post(email::send_code))
        .route("/auth/email/verify", post(email::verify_code))
        .route("/auth/refresh", post(account::refresh))
        .route("/auth/logout", post(account::logout))
        .route("/auth/logout/everywhere", post(account::logout_everywhere))
        .route("/v1/health", get(system::health))
        .route("/v1/openapi.json", get(system::openapi))
        .route("/v1/me", get(account::me))
        .route(
            "/v1/me/totp",
            post(account::totp_enroll).delete(account::totp_remove),
        )
        .route("/v1/me/totp/confirm", post(account::totp_confirm))
        .route("/v1/studies", get(studies::list_studies))
        .route("/v1/studies/{token}", get(studies::get_study))
        .route("/v1/studies/{token}/consent", post(studies::consent))
        .route("/v1/studies/{token}/access", get(studies::access))
        .route("/v1/studies/{token}/shares", post(studies::share))
        .route(
            "/v1/studies/{token}/shares/{grantee}",
            delete(studies::revoke),
        )
        .route("/v1/studies/{token}/history", get(studies::history))
        .route("/v1/studies/{token}/files", get(studies::files))
        .route("/v1/studies/{token}/files/{*path}", get(studies::file))
        .route("/v1/studies/{token}/verify", post(studies::verify))
        .route("/v1/studies/{token}/emergency", post(emergency::open))
        .route(
            "/v1/studies/{token}/emergency/{issuer}",
            delete(emergency::end),
        )
        .route("/v1/emergency", get(emergency::review))
        .route("/v1/studies/{token}/key", get(keys::study_key))
        .merge(links::routes())
        .merge(erasure::routes())
        .merge(requests::routes())
        .route(
            "/v1/authorizations/{id}/submit",
            post(authorizations::submit),
        )
        .route("/v1/objects/{*key}", get(keys::object))
        .route("/v1/issuers", get(issuers::list_issuers).post(issuers::add))
        .route("/v1/issuers/{address}", delete(issuers::remove))
        .route("/v1/issuers/{address}/suspend", post(issuers::suspend))
        .route("/v1/issuers/{address}/reinstate", post(issuers::reinstate))
        .merge(explorer_routes())
        .route(
            "/v1/releases",
            get(releases::list)
                .post(releases::start)
                .layer(DefaultBodyLimit::max(releases::RELEASE_BODY_BYTES)),
        )
        .route("/v1/releases/{id}", get(releases::get))
        .route("/v1/releases/{id}/uploads", get(releases::uploads))
        .route("/v1/releases/{id}/complete", post(releases::complete))
        .nest("/dicomweb", dicomweb::router())
        // Before the CORS layer, so that preflight requests still reach it.
        .method_not_allowed_fallback(wrong_method)
        .layer(cors(&state));
    let body_limit = state.config().limits.body_bytes;
    let limited = Router::new()
        .merge(public)
        .merge(api)
        .fallback(|| async {
            ApiError::NotFound("no such endpoint; see GET /v1/openapi.json".into())
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn_with_state(state.clone(), limits::timeout))
        .layer(from_fn_with_state(state.clone(), limits::body_limit))
        .layer(from_fn_with_state(state.clone(), limits::per_ip));
    // Uploads through the API's signed URLs (the local store's stand-in for S3 presigned
    // PUTs): a file of any size, bounded by its signed size, so no body limit, request
    // timeout or per-IP count (the signature is the authorization).
    let uploads = Router::new()
        .route(
            "/v1/uploads/{issuer}/{release_id}/{index}",
            put(releases::upload),
        )
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::disable())
        .layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(cors_origins(&state)))
                .allow_methods([Method::PUT])
                .allow_headers([header::CONTENT_TYPE])
                .expose_headers([REQUEST_ID]),
        );
    Router::new()
        .merge(limited)
        .merge(uploads)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(crate::telemetry::make_span::<axum::body::Body>)
                        .on_response(crate::telemetry::on_response::<axum::body::Body>)
                        .on_request(())
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
                .layer(security_header(
                    header::STRICT_TRANSPORT_SECURITY,
                    "max-age=63072000; includeSubDomains",
                ))
                .layer(security_header(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; frame-ancestors 'none'",
                ))
                .layer(security_header(header::CACHE_CONTROL, "no-store")),
        )
        .with_state(state)
}

/// The public explorer (no sign-in).
fn explorer_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/explorer/totals", get(explorer::totals))
        .route("/v1/explorer/days", get(explorer::days))
        .route("/v1/explorer/issuers", get(explorer::issuers))
        .route("/v1/explorer/tokens/{token}", get(explorer::token))
}

async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
