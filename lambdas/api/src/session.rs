//! Sessions: a short-lived access JWT (HS256, key from the vault) and a rotating refresh
//! token, both tied to one stored [`Session`].
//!
//! - Every authenticated request checks the session too, so logout, "sign out everywhere"
//!   and the idle timeout (HIPAA automatic logoff) take effect at once, not when the JWT
//!   expires; the session's `last_seen` moves at most once a minute.
//! - A refresh token is `<session id>.<32 random bytes, base64url>`, stored as its SHA-256.
//!   Refreshing replaces it; presenting a replaced one again revokes the whole session (the
//!   token leaked: RFC 9700 §4.14.2).
//! - The refresh token also travels in a cookie ([`REFRESH_COOKIE`]: `HttpOnly`, `Secure`,
//!   `SameSite=Strict`, `Path=/auth`), set at every sign-in and refresh, so a browser app
//!   never holds it in script; `POST /auth/refresh` and `POST /auth/logout` take the cookie
//!   or the JSON body (the CLI and curl use the body).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Expect, Session, StoreError};

/// How many replaced refresh tokens a session remembers (for reuse detection).
const ROTATED_KEPT: usize = 64;
/// `last_seen` is written at most this often (seconds).
const TOUCH_EVERY: u64 = 60;

/// The access token's claims.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer: the API's `WEB_AUTH_ENDPOINT` (as SEP-10 asks).
    pub iss: String,
    /// The account's `G…` address.
    pub sub: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
    /// Token id (for SEP-10: the challenge's transaction hash).
    pub jti: String,
    /// The session.
    pub sid: String,
    /// How the user signed in (RFC 8176 style): `["sep10"]`, `["email"]`,
    /// `["email", "totp"]`, `["email", "recovery"]`.
    pub amr: Vec<String>,
}

/// Tokens handed out at sign-in and refresh.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The access token (JWT) for `Authorization: Bearer …`.
    pub token: String,
    /// The refresh token for `POST /auth/refresh` (single use).
    pub refresh_token: String,
    /// Seconds until `token` expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// The name of the cookie that carries the refresh token (scoped to `/auth`).
pub const REFRESH_COOKIE: &str = "medimint_refresh";

/// The answer of a sign-in or refresh: the tokens as JSON, and the refresh token in the
/// [`REFRESH_COOKIE`] cookie (`HttpOnly; Secure; SameSite=Strict; Path=/auth`, living as long
/// as the session may).
#[derive(Debug)]
pub struct SignedIn {
    tokens: TokenResponse,
    cookie_max_age: u64,
}

impl SignedIn {
    /// The tokens, for tests and callers that need them.
    pub fn tokens(&self) -> &TokenResponse {
        &self.tokens
    }
}

impl IntoResponse for SignedIn {
    fn into_response(self) -> Response {
        let cookie = format!(
            "{REFRESH_COOKIE}={}; Path=/auth; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            self.tokens.refresh_token, self.cookie_max_age
        );
        let mut response = axum::Json(self.tokens).into_response();
        // The token is base64url and hex: always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
}

/// The `Set-Cookie` value that removes the refresh cookie (at sign-out).
pub fn clear_refresh_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "medimint_refresh=; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
    )
}

/// The refresh token in the request's [`REFRESH_COOKIE`] cookie, if any.
pub fn refresh_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == REFRESH_COOKIE && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"').to_string())
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::unavailable("the session store", e)
}

fn random_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn amr_list(amr: &str) -> Vec<String> {
    amr.split('+').map(str::to_string).collect()
}

fn access_token(state: &AppState, sid: &str, session: &Session, jti: String) -> ApiResult<String> {
    let now = state.now();
    let claims = Claims {
        iss: state.config().web_auth_endpoint(),
        sub: session.address.clone(),
        iat: now,
        exp: now + state.config().lifetimes.access,
        jti,
        sid: sid.to_string(),
        amr: amr_list(&session.amr),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.keys().jwt_key()),
    )
    .map_err(|e| ApiError::Internal(e.into()))
}

fn response(state: &AppState, token: String, refresh: String) -> SignedIn {
    SignedIn {
        tokens: TokenResponse {
            token,
            refresh_token: refresh,
            expires_in: state.config().lifetimes.access,
            token_type: "Bearer".into(),
        },
        cookie_max_age: state.config().lifetimes.session,
    }
}

/// Starts a session for `address` signed in by `amr` (`sep10`, `email`, `email+totp`, …).
pub(crate) async fn start(
    state: &AppState,
    address: &str,
    amr: &str,
    jti: Option<String>,
) -> ApiResult<SignedIn> {
    let now = state.now();
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let refresh = format!("{sid}.{}", random_secret());
    let session = Session {
        address: address.to_string(),
        amr: amr.to_string(),
        created_at: now,
        last_seen: now,
        refresh_hash: refresh_hash(&refresh),
        rotated: Vec::new(),
        revoked: false,
    };
    state
        .inner()
        .store
        .put_session(
            &sid,
            &session,
            Expect::Absent,
            now + state.config().lifetimes.session,
        )
        .await
        .map_err(store_err)?;
    let token = access_token(state, &sid, &session, jti.unwrap_or_else(|| sid.clone()))?;
    tracing::info!(amr, "signed in");
    Ok(response(state, token, refresh))
}

/// Why a live-looking session is over, if it is.
async fn ended(state: &AppState, session: &Session) -> ApiResult<Option<String>> {
    let cutoff = state
        .inner()
        .store
        .signed_out_before(&session.address)
        .await
        .map_err(store_err)?;
    Ok(ended_by(state, session, cutoff))
}

/// As [`ended`], with the account's sign-out cutoff already read.
fn ended_by(state: &AppState, session: &Session, cutoff: u64) -> Option<String> {
    let now = state.now();
    if session.revoked {
        return Some("the session was signed out; sign in again".into());
    }
    if now > session.created_at + state.config().lifetimes.session {
        return Some("the session reached its maximum age; sign in again".into());
    }
    let idle = state.config().lifetimes.idle;
    if now > session.last_seen + idle {
        return Some(format!(
            "the session was idle for more than {} minutes and ended; sign in again",
            idle / 60
        ));
    }
    if session.created_at < cutoff {
        return Some("the account signed out everywhere; sign in again".into());
    }
    None
}

/// Exchanges a refresh token for new tokens, replacing it.
pub(crate) async fn refresh(state: &AppState, token: &str) -> ApiResult<SignedIn> {
    let unknown = || ApiError::Unauthenticated("unknown refresh token; sign in again".into());
    let sid = session_of_refresh(token).ok_or_else(unknown)?;
    let presented = refresh_hash(token);
    // One retry: a concurrent refresh of the same token makes the second see it rotated.
    for _ in 0..2 {
        let Some(current) = state.inner().store.session(sid).await.map_err(store_err)? else {
            return Err(unknown());
        };
        let mut session = current.value.clone();
        let expires = session.created_at + state.config().lifetimes.session;
        if bool::from(presented.as_bytes().ct_eq(session.refresh_hash.as_bytes())) {
            if let Some(reason) = ended(state, &session).await? {
                return Err(ApiError::SessionEnded(reason));
            }
            let fresh = format!("{sid}.{}", random_secret());
            session.rotated.push(std::mem::replace(
                &mut session.refresh_hash,
                refresh_hash(&fresh),
            ));
            if session.rotated.len() > ROTATED_KEPT {
                session.rotated.remove(0);
            }
            session.last_seen = state.now();
            match state
                .inner()
                .store
                .put_session(sid, &session, Expect::Version(current.version), expires)
                .await
            {
                Ok(_) => {
                    let access = access_token(
                        state,
                        sid,
                        &session,
                        uuid::Uuid::new_v4().simple().to_string(),
                    )?;
                    return Ok(response(state, access, fresh));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        if session.rotated.iter().any(|h| h == &presented) {
            if !session.revoked {
                session.revoked = true;
                match state
                    .inner()
                    .store
                    .put_session(sid, &session, Expect::Version(current.version), expires)
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(store_err(e)),
                }
            }
            tracing::warn!("a replaced refresh token was presented again; session revoked");
            return Err(ApiError::SessionEnded(
                "this refresh token was already used, so the session was revoked; sign in again"
                    .into(),
            ));
        }
        return Err(unknown());
    }
    Err(ApiError::Conflict(
        "the session changed concurrently; retry".into(),
    ))
}

/// The session id a well-formed refresh token names.
fn session_of_refresh(token: &str) -> Option<&str> {
    let (sid, secret) = token.split_once('.')?;
    (sid.len() == 32 && !secret.is_empty() && token.len() <= 128).then_some(sid)
}

/// Ends the session of a refresh token, current or already replaced (sign-out without an
/// access token: a browser whose access token expired).
pub(crate) async fn revoke_by_refresh(state: &AppState, token: &str) -> ApiResult<()> {
    let unknown = || ApiError::Unauthenticated("unknown refresh token; sign in again".into());
    let sid = session_of_refresh(token).ok_or_else(unknown)?;
    let Some(current) = state.inner().store.session(sid).await.map_err(store_err)? else {
        return Err(unknown());
    };
    let presented = refresh_hash(token);
    let session = &current.value;
    let current_one = bool::from(presented.as_bytes().ct_eq(session.refresh_hash.as_bytes()));
    if !current_one && !session.rotated.iter().any(|h| h == &presented) {
        return Err(unknown());
    }
    revoke(state, sid).await
}

/// Ends one session.
pub(crate) async fn revoke(state: &AppState, sid: &str) -> ApiResult<()> {
    for _ in 0..3 {
        let Some(current) = state.inner().store.session(sid).await.map_err(store_err)? else {
            return Ok(());
        };
        let mut session = current.value;
        if session.revoked {
            return Ok(());
        }
        session.revoked = true;
        let expires = session.created_at + state.config().lifetimes.session;
        match state
            .inner()
            .store
            .put_session(sid, &session, Expect::Version(current.version), expires)
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(store_err(e)),
        }
    }
    Err(ApiError::Conflict(
        "the session changed concurrently; retry".into(),
    ))
}

/// Ends every session of `address` (this one included).
pub(crate) async fn revoke_all(state: &AppState, address: &str, sid: &str) -> ApiResult<()> {
    state
        .inner()
        .store
        .sign_out_before(address, state.now())
        .await
        .map_err(store_err)?;
    // Sessions started in this same second are not before the mark: end this one by name.
    revoke(state, sid).await
}

/// Most (session, study) pairs [`RecordedAccess`] keeps (then it drops the ended ones, or
/// starts again from empty).
const RECORDED_KEPT: usize = 10_000;

/// The studies whose viewing this process recorded on chain, per session, until the session
/// can end (its maximum age). "Every viewing is recorded once per session and study" is the
/// session store's mark ([`crate::AuthStore::first_access`]), one conditional write a
/// request; once this process has recorded a viewing, the later requests of that session for
/// that study (every other file of a download, every DICOMweb frame) skip it. An entry never
/// outlives its mark: the mark lasts the session's whole maximum age from when it was set,
/// the entry until the session's maximum age from its start. The session itself is still
/// checked on every request (sign-out and revocation take effect as before), and so is the
/// role on the study; a mark another process set is read from the store as before.
#[derive(Default)]
pub(crate) struct RecordedAccess {
    until: std::sync::Mutex<std::collections::HashMap<(String, u32), u64>>,
}

impl RecordedAccess {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, u32), u64>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recorded(&self, session_id: &str, token: u32, now: u64) -> bool {
        self.map()
            .get(&(session_id.to_owned(), token))
            .is_some_and(|until| now < *until)
    }

    fn insert(&self, session_id: &str, token: u32, until: u64, now: u64) {
        let mut map = self.map();
        if map.len() >= RECORDED_KEPT {
            map.retain(|_, u| now < *u);
            if map.len() >= RECORDED_KEPT {
                map.clear();
            }
        }
        map.insert((session_id.to_owned(), token), until);
    }

    fn remove(&self, session_id: &str, token: u32) {
        self.map().remove(&(session_id.to_owned(), token));
    }
}

/// Whether the caller's viewing of `token` in this session is still to be recorded on chain
/// (`true` once per session and study: the caller records it, then calls
/// [`access_recorded`], or [`forget_access`] if recording failed).
///
/// # Errors
/// 503 when the session store fails.
pub(crate) async fn first_access(state: &AppState, caller: &Caller, token: u32) -> ApiResult<bool> {
    let now = state.now();
    if state
        .inner()
        .recorded
        .recorded(&caller.session_id, token, now)
    {
        return Ok(false);
    }
    state
        .inner()
        .store
        .first_access(
            &caller.session_id,
            token,
            now + state.config().lifetimes.session,
        )
        .await
        .map_err(|e| ApiError::unavailable("the session store", e))
}

/// The caller's viewing of `token` is recorded on chain for this session (see
/// [`first_access`]): this process skips the session store's mark for it from now on.
pub(crate) fn access_recorded(state: &AppState, caller: &Caller, token: u32) {
    let until = caller.signed_in_at + state.config().lifetimes.session;
    state
        .inner()
        .recorded
        .insert(&caller.session_id, token, until, state.now());
}

/// Recording the viewing failed: the next request of the session tries again.
///
/// # Errors
/// 503 when the session store fails.
pub(crate) async fn forget_access(state: &AppState, caller: &Caller, token: u32) -> ApiResult<()> {
    state.inner().recorded.remove(&caller.session_id, token);
    state
        .inner()
        .store
        .forget_access(&caller.session_id, token)
        .await
        .map_err(|e| ApiError::unavailable("the session store", e))
}

/// A signed-in caller: a valid access token whose session is live.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The account's `G…` address.
    pub address: String,
    /// How the user signed in (`sep10`, `email`, `email+totp`, `email+recovery`).
    pub amr: String,
    /// The session id.
    pub session_id: String,
    /// When the session started.
    pub signed_in_at: u64,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let budget = parts
            .extensions
            .get::<crate::limits::Budget>()
            .copied()
            .unwrap_or(crate::limits::Budget::Api);
        let caller = Caller::from_headers_in(&parts.headers, state, budget).await?;
        crate::routes::links::link_session_may(state, &caller, &parts.method).await?;
        Ok(caller)
    }
}

impl Caller {
    /// The caller of a request with these headers (its bearer token and live session).
    ///
    /// # Errors
    /// 401 `unauthenticated` or `session-ended`; 429 over the account's rate limit.
    pub async fn from_headers(headers: &HeaderMap, state: &AppState) -> ApiResult<Self> {
        Self::from_headers_in(headers, state, crate::limits::Budget::Api).await
    }

    /// As [`Caller::from_headers`], counting the request against `budget`'s per-account
    /// limit (`/dicomweb` has its own).
    ///
    /// # Errors
    /// As [`Caller::from_headers`].
    pub async fn from_headers_in(
        headers: &HeaderMap,
        state: &AppState,
        budget: crate::limits::Budget,
    ) -> ApiResult<Self> {
        let header = headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "sign in first: send `Authorization: Bearer <token>` (POST /auth or POST /auth/email/verify)".into(),
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header is not `Bearer <token>`".into())
            })?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injected clock below.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[state.config().web_auth_endpoint()]);
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(state.keys().jwt_key()),
            &validation,
        )
        .map_err(|_| ApiError::Unauthenticated("the token is not valid; sign in again".into()))?
        .claims;
        let now = state.now();
        let limit = match budget {
            crate::limits::Budget::Api => state.config().limits.per_account_per_minute,
            crate::limits::Budget::Dicomweb => state.config().limits.dicomweb_per_minute,
        };
        state.inner().limiter.check(
            &format!("{}addr:{}", budget.prefix(), claims.sub),
            limit,
            60,
            now,
        )?;
        if now >= claims.exp {
            return Err(ApiError::Unauthenticated(
                "the token expired; refresh it with POST /auth/refresh".into(),
            ));
        }
        // The session and the account's sign-out cutoff at once (the token names both): one
        // round trip to the store instead of two where it is remote (DynamoDB).
        let store = &state.inner().store;
        let (current, cutoff) = tokio::join!(
            store.session(&claims.sid),
            store.signed_out_before(&claims.sub)
        );
        let Some(current) = current.map_err(store_err)? else {
            return Err(ApiError::SessionEnded(
                "the session ended; sign in again".into(),
            ));
        };
        let session = current.value.clone();
        if session.address != claims.sub {
            return Err(ApiError::Unauthenticated(
                "the token is not valid; sign in again".into(),
            ));
        }
        if let Some(reason) = ended_by(state, &session, cutoff.map_err(store_err)?) {
            return Err(ApiError::SessionEnded(reason));
        }
        if now >= session.last_seen + TOUCH_EVERY {
            let mut touched = session.clone();
            touched.last_seen = now;
            let expires = session.created_at + state.config().lifetimes.session;
            // A lost race means another request touched it: fine.
            match state
                .inner()
                .store
                .put_session(
                    &claims.sid,
                    &touched,
                    Expect::Version(current.version),
                    expires,
                )
                .await
            {
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(store_err(e)),
            }
        }
        Ok(Caller {
            address: session.address,
            amr: session.amr,
            session_id: claims.sid,
            signed_in_at: session.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_viewing_is_kept_until_the_session_can_end_and_bounded() {
        let kept = RecordedAccess::default();
        kept.insert("s1", 7, 1_000, 0);
        assert!(kept.recorded("s1", 7, 999));
        // Not past the session's maximum age, not for another session or study.
        assert!(!kept.recorded("s1", 7, 1_000));
        assert!(!kept.recorded("s2", 7, 0));
        assert!(!kept.recorded("s1", 8, 0));
        // A failed record forgets it.
        kept.remove("s1", 7);
        assert!(!kept.recorded("s1", 7, 0));
        // Bounded: ended entries go first, then everything.
        for i in 0..RECORDED_KEPT as u32 {
            kept.insert("old", i, 10, 0);
        }
        kept.insert("s1", 7, 1_000, 20);
        assert_eq!(kept.map().len(), 1);
        for i in 0..RECORDED_KEPT as u32 {
            kept.insert("live", i, 1_000, 20);
        }
        assert!(kept.map().len() <= RECORDED_KEPT);
    }
}
