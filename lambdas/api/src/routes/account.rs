//! The signed-in account: sessions (refresh, logout), `GET /v1/me`, TOTP enrollment.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::mfa;
use crate::session::{self, Caller, SignedIn, TokenResponse};
use crate::state::AppState;
use crate::store::{Expect, MfaRecord, StoreError};

fn store_err(e: StoreError) -> ApiError {
    ApiError::unavailable("the sign-in store", e)
}

/// `POST /auth/refresh` and `POST /auth/logout` body (optional: a browser sends the
/// refresh cookie instead).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from sign-in or the last refresh; when absent, the
    /// `medimint_refresh` cookie is used.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The refresh token of a request: the body's, else the cookie's.
fn presented_refresh(headers: &HeaderMap, body: Option<RefreshRequest>) -> Option<String> {
    body.and_then(|b| b.refresh_token)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| session::refresh_from_cookie(headers))
}

/// Exchanges a refresh token (from the body, or the `medimint_refresh` cookie) for new
/// tokens; the old refresh token stops working, and presenting it again revokes the session.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "session",
    request_body(content = Option<RefreshRequest>, description = "the refresh token; omit the body to use the `medimint_refresh` cookie"),
    responses(
        (status = 200, description = "new tokens; the refresh token is also set as the `medimint_refresh` cookie (HttpOnly, Secure, SameSite=Strict, Path=/auth)", body = TokenResponse,
            headers(("set-cookie" = String, description = "`medimint_refresh=<refresh token>; Path=/auth; Max-Age=…; HttpOnly; Secure; SameSite=Strict`"))),
        (status = 400, description = "a malformed body (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated` (no or unknown token) or `session-ended` (reuse, logout, idle)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<RefreshRequest>,
) -> ApiResult<SignedIn> {
    let Some(token) = presented_refresh(&headers, body) else {
        return Err(ApiError::Unauthenticated(
            "no refresh token: send `{\"refresh_token\"}` or the `medimint_refresh` cookie; else sign in again".into(),
        ));
    };
    session::refresh(&state, &token).await
}

/// Ends this session: the one of the bearer token, else of the refresh token (body or
/// `medimint_refresh` cookie), so a browser whose access token expired can still sign out.
/// The refresh cookie is cleared.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "session",
    security((), ("bearer" = [])),
    request_body(content = Option<RefreshRequest>, description = "without a bearer token: the refresh token (or send the `medimint_refresh` cookie)"),
    responses(
        (status = 204, description = "signed out; the refresh cookie is cleared",
            headers(("set-cookie" = String, description = "`medimint_refresh=; Max-Age=0; …`"))),
        (status = 400, description = "a malformed body (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid bearer token nor refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<RefreshRequest>,
) -> ApiResult<Response> {
    if headers.contains_key(header::AUTHORIZATION) {
        let caller = Caller::from_headers(&headers, &state).await?;
        session::revoke(&state, &caller.session_id).await?;
    } else if let Some(token) = presented_refresh(&headers, body) {
        session::revoke_by_refresh(&state, &token).await?;
    } else {
        return Err(ApiError::Unauthenticated(
            "sign out with `Authorization: Bearer <token>`, the refresh token or the `medimint_refresh` cookie".into(),
        ));
    }
    tracing::info!("signed out");
    Ok(signed_out())
}

/// 204 with the refresh cookie cleared.
fn signed_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::clear_refresh_cookie());
    response
}

/// Ends every session of the account, on every device.
#[utoipa::path(
    post,
    path = "/auth/logout/everywhere",
    tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out everywhere; the refresh cookie is cleared"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    session::revoke_all(&state, &caller.address, &caller.session_id).await?;
    tracing::info!("signed out everywhere");
    Ok(signed_out())
}

/// The account's second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaState {
    /// `none`, `pending` (enrollment started, not confirmed) or `enrolled`.
    pub totp: String,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The account's Stellar address.
    pub address: String,
    /// The email of a custodial account; absent for an external wallet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// How this session signed in: `sep10`, `email`, `email+totp` or `email+recovery`.
    pub amr: String,
    /// Second factor.
    pub mfa: MfaState,
    /// Roles read from the chain now: `patient` always, `issuer`, `admin`.
    pub roles: Vec<String>,
    /// When this session signed in (Unix seconds).
    pub signed_in_at: u64,
    /// Inactivity (seconds) after which the session ends.
    pub idle_timeout: u64,
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the account", body = Me),
        (status = 401, description = "not signed in or session ended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let inner = state.inner();
    let email = inner
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?;
    let mfa_record = inner.store.mfa(&caller.address).await.map_err(store_err)?;
    let mfa = match mfa_record {
        None => MfaState {
            totp: "none".into(),
            recovery_codes_left: 0,
        },
        Some(m) => MfaState {
            totp: if m.value.confirmed {
                "enrolled"
            } else if m.value.sealed_secret.is_some() {
                "pending"
            } else {
                "none"
            }
            .into(),
            recovery_codes_left: m.value.recovery_hashes.len(),
        },
    };
    let roles_err = |e| ApiError::unavailable("the chain", e);
    let mut roles = vec!["patient".to_string()];
    if inner
        .roles
        .is_issuer(&caller.address)
        .await
        .map_err(roles_err)?
    {
        roles.push("issuer".into());
    }
    if inner
        .roles
        .is_admin(&caller.address)
        .await
        .map_err(roles_err)?
    {
        roles.push("admin".into());
    }
    Ok(Json(Me {
        address: caller.address,
        email,
        amr: caller.amr,
        mfa,
        roles,
        signed_in_at: caller.signed_in_at,
        idle_timeout: state.config().lifetimes.idle,
    }))
}

/// `POST /v1/me/totp` answer: what the authenticator app needs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrollment {
    /// The `otpauth://totp/…` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    /// The QR code as a PNG image, base64.
    pub qr_png_base64: String,
}

fn custodial_only(caller: &Caller) -> ApiResult<()> {
    if caller.amr.starts_with("email") {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "an authenticator protects email sign-in; a wallet account signs in with its own key"
                .into(),
        ))
    }
}

/// Starts TOTP enrollment (or restarts an unconfirmed one).
#[utoipa::path(
    post,
    path = "/v1/me/totp",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "scan the QR code, then confirm with POST /v1/me/totp/confirm", body = TotpEnrollment),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a wallet (SEP-10) session", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already enrolled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn totp_enroll(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<TotpEnrollment>)> {
    custodial_only(&caller)?;
    let store = &state.inner().store;
    let current = store.mfa(&caller.address).await.map_err(store_err)?;
    if current.as_ref().is_some_and(|m| m.value.confirmed) {
        return Err(ApiError::Conflict(
            "an authenticator is already enrolled for this account".into(),
        ));
    }
    let secret: [u8; 20] = rand::random();
    let email = state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?;
    let totp = mfa::totp(secret.to_vec(), email.as_deref().unwrap_or(&caller.address))?;
    let record = MfaRecord {
        sealed_secret: Some(mfa::seal(state.keys(), &caller.address, &secret)?),
        confirmed: false,
        recovery_hashes: Vec::new(),
        last_step: 0,
    };
    let expect = current.map_or(Expect::Absent, |m| Expect::Version(m.version));
    match store.put_mfa(&caller.address, &record, expect).await {
        Ok(_) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::Conflict(
                "enrollment changed concurrently; retry".into(),
            ))
        }
        Err(e) => return Err(store_err(e)),
    }
    let png = totp
        .get_qr_png()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrollment {
            otpauth_uri: totp.get_url(),
            secret: totp.get_secret_base32(),
            qr_png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        }),
    ))
}

/// `POST /v1/me/totp/confirm` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// The authenticator's current 6-digit code.
    pub code: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes for when the authenticator is lost; store them safely.
    pub recovery_codes: Vec<String>,
}

/// Confirms TOTP enrollment with a current code; from now on email sign-in needs TOTP.
#[utoipa::path(
    post,
    path = "/v1/me/totp/confirm",
    tag = "account",
    security(("bearer" = [])),
    request_body = TotpConfirm,
    responses(
        (status = 200, description = "enrolled; the recovery codes are shown once", body = RecoveryCodes),
        (status = 400, description = "not 6 digits", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "wrong code (`totp-invalid`) or not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "no enrollment started, or already enrolled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TotpConfirm>,
) -> ApiResult<Json<RecoveryCodes>> {
    custodial_only(&caller)?;
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("code", "expected 6 digits"));
    }
    let store = &state.inner().store;
    let Some(current) = store.mfa(&caller.address).await.map_err(store_err)? else {
        return Err(ApiError::Conflict(
            "start enrollment first with POST /v1/me/totp".into(),
        ));
    };
    if current.value.confirmed {
        return Err(ApiError::Conflict(
            "an authenticator is already enrolled for this account".into(),
        ));
    }
    let mut record = current.value.clone();
    record.confirmed = true;
    mfa::verify(
        state.keys(),
        &caller.address,
        &mut record,
        code,
        state.now(),
    )?;
    let (codes, hashes) = mfa::recovery_codes(state.keys());
    record.recovery_hashes = hashes;
    match store
        .put_mfa(&caller.address, &record, Expect::Version(current.version))
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::Conflict(
                "enrollment changed concurrently; retry".into(),
            ))
        }
        Err(e) => return Err(store_err(e)),
    }
    tracing::info!("authenticator enrolled");
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `DELETE /v1/me/totp` body: proof that the caller holds the authenticator (or a recovery
/// code) now, not only a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpRemove {
    /// The authenticator's current 6-digit code.
    pub totp: Option<String>,
    /// A recovery code instead (when the authenticator is lost; used up like at sign-in).
    pub recovery_code: Option<String>,
}

/// Removes the authenticator (and its recovery codes): email sign-in needs the email code
/// only again, and `POST /v1/me/totp` enrolls a new one (a new phone).
#[utoipa::path(
    delete,
    path = "/v1/me/totp",
    tag = "account",
    security(("bearer" = [])),
    request_body = TotpRemove,
    responses(
        (status = 204, description = "removed; enroll again with POST /v1/me/totp"),
        (status = 400, description = "neither `totp` nor `recovery_code`, or not 6 digits", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "wrong or reused code (`totp-invalid`), or not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a wallet (SEP-10) session", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "no authenticator is enrolled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn totp_remove(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TotpRemove>,
) -> ApiResult<StatusCode> {
    custodial_only(&caller)?;
    let store = &state.inner().store;
    let Some(current) = store.mfa(&caller.address).await.map_err(store_err)? else {
        return Err(ApiError::Conflict(
            "no authenticator is enrolled for this account".into(),
        ));
    };
    if !current.value.confirmed {
        return Err(ApiError::Conflict(
            "no authenticator is enrolled for this account".into(),
        ));
    }
    let mut record = current.value.clone();
    match (&body.totp, &body.recovery_code) {
        (Some(code), _) => {
            let code = code.trim();
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid("totp", "expected 6 digits"));
            }
            mfa::verify(
                state.keys(),
                &caller.address,
                &mut record,
                code,
                state.now(),
            )?;
        }
        (None, Some(recovery)) => {
            if !mfa::use_recovery(state.keys(), &mut record, recovery) {
                return Err(ApiError::Totp {
                    missing: false,
                    detail: "the recovery code is wrong or was already used".into(),
                });
            }
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "totp",
                "send the authenticator's current code (or a `recovery_code`) to remove it",
            ))
        }
    }
    let removed = MfaRecord {
        sealed_secret: None,
        confirmed: false,
        recovery_hashes: Vec::new(),
        // Keeps the last step: a code seen here is not accepted again after re-enrolment.
        last_step: record.last_step,
    };
    match store
        .put_mfa(&caller.address, &removed, Expect::Version(current.version))
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::Conflict(
                "the authenticator changed concurrently; retry".into(),
            ))
        }
        Err(e) => return Err(store_err(e)),
    }
    tracing::info!("authenticator removed");
    Ok(StatusCode::NO_CONTENT)
}
