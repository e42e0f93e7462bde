//! Re-key and erasure: the owner's two strong actions on a study (docs/re-key.md,
//! docs/erasure.md). `POST /v1/studies/{token}/rekey` re-keys (also what continues an
//! interrupted `DELETE …/shares/{grantee}?rekey=true`); `POST /v1/studies/{token}/erase`
//! erases for good. Both are the owner's alone, need the owner's custodial key (the platform
//! must open the study key, and sign), and may be repeated: a repeat finishes what an
//! interrupted call left (a 503 `timeout` of a large study included).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use medimint_platform::{ErasureReport, RekeyReport};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::platform::from_platform;
use crate::routes::studies::visible;
use crate::session::Caller;
use crate::state::AppState;

/// The routes of this file.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/studies/{token}/rekey", post(rekey))
        .route("/v1/studies/{token}/erase", post(erase))
}

/// Body of `POST /v1/studies/{token}/erase`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The token id again, as a confirmation that this study is to be erased for good.
    pub confirm: u32,
}

fn token_id(token: &str) -> ApiResult<u32> {
    token.parse().map_err(|_| {
        ApiError::invalid(
            "token",
            format!("{token:?} is not a token id (a whole number)"),
        )
    })
}

/// The owner's email: a custodial account. A wallet account is refused with 409: re-key and
/// erasure need the platform to act with the owner's key, which a wallet keeps to itself.
pub(crate) async fn owner_email(
    state: &AppState,
    caller: &Caller,
    what: &str,
) -> ApiResult<String> {
    state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "{what} needs the owner's key in the platform (to open the study key and sign \
                 on chain), and a wallet account keeps its key to itself; sign in by email \
                 with a custodial account, or use the SDK with your wallet"
            ))
        })
}

/// `POST /v1/studies/{token}/rekey`: the owner re-keys the study (a new study key, every
/// object re-encrypted, the key wrapped again for those who keep access, the pointer moved
/// on chain); repeating it continues an interrupted re-key.
#[utoipa::path(post, path = "/v1/studies/{token}/rekey", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "re-keyed", body = RekeyReport),
              (status = 400, description = "a malformed token id", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the owner", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "not active (pending, rejected), or a wallet account", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 410, description = "the study was erased (`study-erased`)", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn rekey(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<RekeyReport>> {
    let id = token_id(&token)?;
    visible(&state, &caller, id).await?;
    let email = owner_email(&state, &caller, "re-keying").await?;
    let report = state
        .platform()?
        .rekey_study(&email, &id.to_string(), &[])
        .await
        .map_err(from_platform)?;
    Ok(Json(report))
}

/// `POST /v1/studies/{token}/erase`: the owner erases the study for good (every encrypted
/// object and wrapped key deleted, every version; the token `Erased` on chain). `confirm`
/// must repeat the token id. Repeating it finishes an interrupted erasure and answers 200.
#[utoipa::path(post, path = "/v1/studies/{token}/erase", params(("token" = String, Path, description = "token id")),
    request_body = EraseRequest, security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "erased (or already erased: `already_erased`)", body = ErasureReport),
              (status = 400, description = "a malformed token id, or `confirm` missing or not this token id", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the owner", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "not active (pending, rejected), or a wallet account", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 410, description = "erased already, asked by someone who is not its owner (`study-erased`)", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<EraseRequest>,
) -> ApiResult<Json<ErasureReport>> {
    let id = token_id(&token)?;
    if body.confirm != id {
        return Err(ApiError::invalid(
            "confirm",
            format!("must be this study's token id ({id}) to confirm that it is erased for good"),
        ));
    }
    visible(&state, &caller, id).await?;
    let email = owner_email(&state, &caller, "erasing").await?;
    let report = state
        .platform()?
        .erase_study(&email, &id.to_string(), state.now())
        .await
        .map_err(from_platform)?;
    Ok(Json(report))
}
