//! MediMint's HTTP API: one axum [`Router`](axum::Router) served by API Gateway (through
//! `lambda_http`, payload 2.0) and by `medimint up` on localhost.
//!
//! - [`app`] builds the router from an [`AppState`]; [`routes`] holds the handlers, one file
//!   per area (wallet sign-in, email sign-in, account and session, system);
//! - [`sep10`] builds and verifies SEP-10 v3 challenges on `stellar-xdr` and `ed25519-dalek`
//!   (no maintained Rust SEP-10 crate exists); SEP-1's stellar.toml names it;
//! - [`session`] issues access JWTs and rotating refresh tokens, and the [`Caller`]
//!   extractor checks both the token and its live session (logout, idle timeout);
//! - [`mfa`] is TOTP (RFC 6238) and recovery codes;
//! - [`store`] is the sign-in state ([`AuthStore`]) over a conditional key-value map;
//! - [`mailer`], [`accounts`], [`roles`] and [`clock`] are the other injected adapters;
//!   [`platform`] implements accounts and roles over `medimint-platform`, which also serves
//!   the study and issuer routes;
//! - [`error`] maps every failure to RFC 9457 problem+json; [`limits`] holds rate limits,
//!   body size and timeouts; [`telemetry`] the JSON logs; [`openapi`] the generated
//!   OpenAPI 3.1 document; [`opener`] the Lambda's cold start;
//! - `testutils` (feature) builds an API over in-memory adapters.
//!
//! ```no_run
//! # async fn run(state: medimint_api::AppState) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! medimint_api::serve(listener, medimint_api::app(state)).await
//! # }
//! ```
//!
//! The endpoints, both sign-in flows and the error types are documented in `docs/api.md`.

pub mod accounts;
pub mod clock;
pub mod config;
pub mod error;
pub mod extract;
pub mod indexed;
pub mod keys;
pub mod limits;
pub mod mailer;
pub mod mfa;
pub mod openapi;
pub mod opener;
pub mod platform;
pub mod roles;
pub mod routes;
pub mod sep10;
pub mod session;
pub mod state;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testutils")]
pub mod testutils;

pub use config::ApiConfig;
pub use error::{ApiError, Problem};
pub use keys::AuthKeys;
pub use routes::app;
pub use session::Caller;
pub use state::{Adapters, AppState};
pub use store::AuthStore;

/// Serves `router` over HTTP/1.1 on `listener` (`medimint up`, the benchmarks): each
/// request knows the peer's address (the per-IP rate limit), and every connection has
/// `TCP_NODELAY`. Without it a response's last partial segment waits for the client's
/// delayed ACK (40 ms on Linux) whenever earlier segments are still unacknowledged: one
/// download in three or four stalled that long on loopback (docs/performance.md, "Download
/// of a 100 MB study"). Browsers and curl set it on their side too.
///
/// # Errors
/// The listener's accept loop failed.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
