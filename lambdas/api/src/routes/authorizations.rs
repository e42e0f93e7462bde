//! External wallets sign their own actions. A wallet (SEP-10) account's consent, share,
//! revoke and first key fetch of a session answer **202** with an `authorization`: the
//! Soroban authorization entry to sign (base64 XDR, nonce and signature expiration ledger
//! set), its preimage and the preimage's hash, and the network passphrase. The wallet signs
//! and sends the entry (or the bare signature) to `POST /v1/authorizations/{id}/submit`;
//! the platform checks it and submits the call through the relayer, fee-bumped by the
//! sponsor. The wallet's key never reaches the API (docs/api.md, "External wallets").

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use medimint_platform::{
    PendingAuthorization, SignedAuthorization, StudyView, WalletAction, WalletAuthError,
    WalletOutcome,
};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::platform::from_platform;
use crate::routes::keys::{key_answer, StudyKeyAnswer};
use crate::session::Caller;
use crate::state::AppState;

/// The 202 answer to a wallet account: what to sign.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationRequired {
    /// The entry to sign and where to send it.
    pub authorization: PendingAuthorization,
}

/// Body of `POST /v1/authorizations/{id}/submit`: exactly one of `signed_entry` and
/// `signature`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAuthorization {
    /// The issued entry with its signature filled in, base64 XDR (what stellar-sdk's
    /// `authorizeEntry` / `authorize_entry` return). Nothing else may differ.
    pub signed_entry: Option<String>,
    /// Or only the ed25519 signature over `preimage_hash`, base64 (64 bytes; what
    /// Freighter's `signAuthEntry` returns).
    pub signature: Option<String>,
    /// For a share only: the study key sealed to the `grantee` (MMSK v1, base64).
    pub wrapped_key: Option<String>,
}

/// What a submitted authorization did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationResult {
    /// The transaction that ran it.
    #[serde(flatten)]
    pub outcome: WalletOutcome,
    /// After a consent: the study as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study: Option<StudyView>,
    /// After `record_access`: the wrapped key and object URLs (as `GET …/key` gives them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<StudyKeyAnswer>,
}

/// The 202 response for a wallet account: prepare `action` and hand out its entry.
pub(crate) async fn authorization_required(
    state: &AppState,
    caller: &Caller,
    token: u32,
    action: WalletAction,
) -> ApiResult<Response> {
    let authorization = state
        .platform()?
        .authorize_wallet_action(&caller.address, token, &action)
        .await
        .map_err(from_platform)?;
    tracing::info!(action = %authorization.action, "authorization entry issued to a wallet");
    Ok((
        StatusCode::ACCEPTED,
        Json(AuthorizationRequired { authorization }),
    )
        .into_response())
}

fn base64(field: &'static str, value: &str) -> ApiResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| ApiError::invalid(field, format!("not base64: {e}")))
}

fn from_wallet(e: WalletAuthError) -> ApiError {
    match e {
        WalletAuthError::NotFound(_) => ApiError::NotFound(e.to_string()),
        WalletAuthError::Used(_) => ApiError::AuthorizationUsed(e.to_string()),
        WalletAuthError::Expired { .. } => ApiError::AuthorizationExpired(e.to_string()),
        WalletAuthError::Entry(ref r) => match r {
            medimint_chain::relayer::EntryRefusal::WrongSigner { .. } => {
                ApiError::Forbidden(e.to_string())
            }
            _ => ApiError::invalid("signed_entry", e.to_string()),
        },
        WalletAuthError::Invalid { field, message } => ApiError::invalid(field, message),
        WalletAuthError::Platform(p) => from_platform(p),
    }
}

/// `POST /v1/authorizations/{id}/submit`: the wallet's signed entry in; the action done.
#[utoipa::path(post, path = "/v1/authorizations/{id}/submit",
    params(("id" = String, Path, description = "the `authorization.id` of a 202 answer")),
    request_body = SubmitAuthorization, security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "submitted and applied on chain", body = AuthorizationResult),
              (status = 400, description = "a malformed or modified entry, a signature that does not verify, a missing sealed key (`field` names it)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "signed by another key than the account's", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such pending authorization for this caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "already submitted (`authorization-used`), or the contract refused it", body = Problem, content_type = "application/problem+json"),
              (status = 410, description = "past its signature expiration ledger (`authorization-expired`)", body = Problem, content_type = "application/problem+json")))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SubmitAuthorization>,
) -> ApiResult<Json<AuthorizationResult>> {
    let signed = match (body.signed_entry, body.signature) {
        (Some(entry), None) => SignedAuthorization::Entry(entry),
        (None, Some(sig)) => SignedAuthorization::Signature(base64("signature", &sig)?),
        _ => {
            return Err(ApiError::invalid(
                "signed_entry",
                "send exactly one of signed_entry (the signed entry) and signature",
            ))
        }
    };
    let wrapped_key = body
        .wrapped_key
        .as_deref()
        .map(|k| base64("wrapped_key", k))
        .transpose()?;
    let platform = state.platform()?;
    let outcome = platform
        .submit_wallet_authorization(&caller.address, &id, signed, wrapped_key)
        .await
        .map_err(from_wallet)?;
    tracing::info!(action = %outcome.action, "wallet authorization submitted");
    let token = outcome.token_id;
    let (study, key) = match outcome.action.as_str() {
        "approve_release" | "reject_release" => (
            Some(crate::routes::studies::visible(&state, &caller, token).await?),
            None,
        ),
        "record_access" => {
            // Recorded: this session's key fetches of the study are covered.
            crate::session::first_access(&state, &caller, token).await?;
            crate::session::access_recorded(&state, &caller, token);
            (None, Some(key_answer(&state, &caller, token).await?))
        }
        _ => (None, None),
    };
    Ok(Json(AuthorizationResult {
        outcome,
        study,
        key,
    }))
}
