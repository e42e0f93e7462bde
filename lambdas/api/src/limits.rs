//! Request limits: per-IP and per-account rate limits (429 with `Retry-After`), body size,
//! request timeout, and the client address behind API Gateway or on a local socket.
//!
//! Counters are fixed windows in the instance's memory: under Lambda each instance counts
//! alone, so API Gateway's stage throttling is the outer bound; what must hold across
//! instances (5 wrong codes lock a code) is kept in the [`crate::store::AuthStore`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Entries kept before expired windows are swept.
const SWEEP_AT: usize = 50_000;

/// Fixed-window counters keyed by a string (`ip:…`, `acct:…`).
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl RateLimiter {
    /// Counts one request for `key` at `now`; refuses past `limit` per `window` seconds.
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] with the seconds until the window ends.
    pub fn check(&self, key: &str, limit: u32, window: u64, now: u64) -> Result<(), ApiError> {
        let mut map = self.windows.lock().expect("not poisoned");
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now < *start + window);
        }
        let start = now - now % window;
        let entry = map.entry(key.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        if entry.1 >= limit {
            return Err(ApiError::RateLimited {
                retry_after: (start + window - now).max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

/// Which budget a request counts against. `/dicomweb` has its own
/// ([`crate::config::Limits::dicomweb_per_minute`], per IP and per account), counted apart
/// from the rest of the API, so that a viewer (one request per frame) neither runs into
/// `/v1`'s limit nor uses it up. Put in the request's extensions by [`per_ip`]; read by
/// [`crate::session::Caller`] for the per-account count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Everything but `/dicomweb`.
    Api,
    /// `/dicomweb` and below.
    Dicomweb,
}

impl Budget {
    /// The budget of a request path.
    pub fn of(path: &str) -> Self {
        if path == "/dicomweb" || path.starts_with("/dicomweb/") {
            Self::Dicomweb
        } else {
            Self::Api
        }
    }

    /// The counter key's prefix (the API's keys stay as they were).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Api => "",
            Self::Dicomweb => "dicomweb:",
        }
    }
}

/// The client's IP address: API Gateway's `requestContext.http.sourceIp` under Lambda, the
/// socket's peer under `medimint up`, else `unknown`. Forwarding headers are not trusted.
pub fn client_ip(request: &Request) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
    {
        if let Some(ip) = &ctx.http.source_ip {
            return ip.clone();
        }
    }
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return addr.ip().to_string();
    }
    "unknown".into()
}

/// Middleware: the per-IP limit (`/dicomweb` on its own budget, see [`Budget`]).
pub async fn per_ip(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    let budget = Budget::of(request.uri().path());
    request.extensions_mut().insert(budget);
    let limits = &state.config().limits;
    let limit = match budget {
        Budget::Api => limits.per_ip_per_minute,
        Budget::Dicomweb => limits.dicomweb_per_minute,
    };
    let key = format!("{}ip:{ip}", budget.prefix());
    if let Err(e) = state.inner().limiter.check(&key, limit, 60, state.now()) {
        return e.into_response();
    }
    next.run(request).await
}

/// Middleware: refuses a declared body above the limit before reading it (a chunked body is
/// cut by axum's `DefaultBodyLimit`, mapped to the same problem).
pub async fn body_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // A release's manifest may list 10,000 files: its own, larger limit.
    let limit = if request.uri().path() == "/v1/releases" {
        crate::routes::releases::RELEASE_BODY_BYTES
    } else {
        state.config().limits.body_bytes
    };
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::TooLarge { limit }.into_response();
    }
    next.run(request).await
}

/// Middleware: answers `503 timeout` for a request that takes longer than the limit.
pub async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config().limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Counts a sign-in attempt for an account (`what` names the account kind and a
/// non-identifying key, e.g. the email's keyed hash).
pub(crate) fn per_account(state: &AppState, key: &str) -> Result<(), ApiError> {
    let limit = state.config().limits.per_account_per_hour;
    state
        .inner()
        .limiter
        .check(&format!("acct:{key}"), limit, 3600, state.now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_past_its_limit_and_says_when_to_retry() {
        let l = RateLimiter::default();
        for _ in 0..3 {
            l.check("k", 3, 60, 125).unwrap();
        }
        match l.check("k", 3, 60, 130) {
            Err(ApiError::RateLimited { retry_after }) => assert_eq!(retry_after, 50),
            other => panic!("{other:?}"),
        }
        l.check("k", 3, 60, 180).unwrap();
        l.check("other", 3, 60, 130).unwrap();
    }

    #[test]
    fn only_dicomweb_paths_have_the_dicomweb_budget() {
        assert_eq!(Budget::of("/dicomweb"), Budget::Dicomweb);
        assert_eq!(Budget::of("/dicomweb/studies"), Budget::Dicomweb);
        assert_eq!(Budget::of("/dicomwebx"), Budget::Api);
        assert_eq!(Budget::of("/v1/dicomweb/studies"), Budget::Api);
        assert_eq!(Budget::of("/v1/studies"), Budget::Api);
    }
}
