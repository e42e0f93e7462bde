//! A user's studies: lists, one study, consent, access, shares, history, files and verify.
//!
//! Every answer is for the signed-in caller only: a token the caller may not see is 404 —
//! never 403 — so nobody learns that it exists. Actions that need the user's signature
//! (consent, share, revoke, download) are signed with the custodial key the platform derives
//! for the caller's email account; a wallet (SEP-10) account gets a 202 with the
//! authorization entry to sign instead, and submits it (`routes/authorizations.rs`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use medimint_chain::clients::{AccessKind, RejectReason, Role};
use medimint_ingest::{PresentedFile, Verification};
use medimint_platform::trail::TrailEntry;
use medimint_platform::{
    AccessReport, Relation, StudyFile, StudyPage, StudyView, Target, WalletAction,
};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::platform::from_platform;
use crate::routes::authorizations::authorization_required;
use crate::session::Caller;
use crate::state::AppState;

/// Longest list of digests `POST /v1/studies/{token}/verify` takes.
const MAX_VERIFY_FILES: usize = 20_000;

/// Query of `GET /v1/studies`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `owned`, `shared` or `pending`; every relation when absent.
    pub role: Option<String>,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// Items per page, 1 to 50 (default 20).
    pub limit: Option<u32>,
}

/// Body of `POST /v1/studies/{token}/consent`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// `approve` or `reject`.
    pub decision: String,
    /// With `reject`: `not_mine`, `duplicate`, `declined` (default) or `other`.
    pub reason: Option<String>,
}

/// Body of `POST /v1/studies/{token}/shares`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// An email (a custodial account is made if there is none) or a `G…` address.
    pub to: String,
    /// `viewer` or `sharer` (view and share).
    pub role: String,
    /// Unix seconds when the access ends; open-ended when absent.
    pub until: Option<u64>,
}

/// Answer of a share or revoke.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantAnswer {
    /// The token.
    pub token_id: u32,
    /// The grantee's address.
    pub grantee: String,
    /// A revoke with `rekey=true`: what the re-key did (docs/re-key.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekey: Option<medimint_platform::RekeyReport>,
}

/// Query of `DELETE /v1/studies/{token}/shares/{grantee}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    /// `true`: the stronger revoke (owner only, custodial account): a new study key, every
    /// object re-encrypted, the key wrapped again for those who remain, the pointer moved on
    /// chain. Repeat the same request to continue an interrupted one.
    pub rekey: Option<bool>,
}

/// One presented file of `POST /v1/studies/{token}/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentedDigest {
    /// The file's name as the caller has it.
    pub name: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// Body of `POST /v1/studies/{token}/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The digests of the files the caller holds.
    pub files: Vec<PresentedDigest>,
}

/// The refusal of an action that needs the key of a wallet account.
fn needs_key() -> ApiError {
    ApiError::Forbidden(
        "this action needs the account's key, which a wallet account keeps to itself: \
         fetch the study key with GET /v1/studies/{token}/key and decrypt on your side"
            .into(),
    )
}

/// The caller's email for a custodial account; `None` for a wallet account, which signs
/// its own authorization entries.
async fn wallet_or_email(state: &AppState, caller: &Caller) -> ApiResult<Option<String>> {
    state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))
}

fn token_id(token: &str) -> ApiResult<u32> {
    token.parse().map_err(|_| {
        ApiError::invalid(
            "token",
            format!("{token:?} is not a token id (a whole number)"),
        )
    })
}

/// The study as the caller may see it; 404 otherwise.
pub(crate) async fn visible(state: &AppState, caller: &Caller, token: u32) -> ApiResult<StudyView> {
    let platform = state.platform()?;
    let holder = match state.inner().accounts.email_of(&caller.address).await {
        Ok(Some(email)) => platform.keypair_of(&email).await.ok(),
        _ => None,
    };
    platform
        .study_view(&caller.address, token, holder.as_ref())
        .await
        .map_err(from_platform)
}

/// `GET /v1/studies`: the caller's studies, a page at a time.
#[utoipa::path(get, path = "/v1/studies", params(ListQuery), security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "a page of the caller's studies", body = StudyPage),
              (status = 400, description = "bad role, cursor or limit", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list_studies(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<(axum::http::HeaderMap, Json<StudyPage>)> {
    let relation = q
        .role
        .as_deref()
        .map(Relation::parse)
        .transpose()
        .map_err(from_platform)?;
    let (headers, page) = crate::indexed::studies_of(
        &state,
        &caller.address,
        relation,
        q.cursor.as_deref(),
        q.limit.unwrap_or(20),
    )
    .await?;
    Ok((headers, Json(page)))
}

/// `GET /v1/studies/{token}`: issuer, status, summary, files and the caller's role.
#[utoipa::path(get, path = "/v1/studies/{token}", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the study as the caller may see it", body = StudyView),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn get_study(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<StudyView>> {
    let id = token_id(&token)?;
    Ok(Json(visible(&state, &caller, id).await?))
}

/// `POST /v1/studies/{token}/consent`: the owner approves or rejects a pending release.
#[utoipa::path(post, path = "/v1/studies/{token}/consent", params(("token" = String, Path, description = "token id")),
    request_body = ConsentRequest, security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the study after the decision", body = StudyView),
              (status = 400, description = "bad decision or reason", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 202, description = "a wallet account: sign the authorization entry and submit it", body = crate::routes::authorizations::AuthorizationRequired),
              (status = 403, description = "not the owner", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "not pending any more", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<ConsentRequest>,
) -> ApiResult<Response> {
    let id = token_id(&token)?;
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(ApiError::invalid(
                "decision",
                format!("{other:?} is not approve or reject"),
            ))
        }
    };
    let reason = match body.reason.as_deref() {
        None | Some("declined") => RejectReason::Declined,
        Some("not_mine") => RejectReason::NotMine,
        Some("duplicate") => RejectReason::Duplicate,
        Some("other") => RejectReason::Other,
        Some(other) => {
            return Err(ApiError::invalid(
                "reason",
                format!("{other:?} is not one of not_mine, duplicate, declined, other"),
            ))
        }
    };
    let view = visible(&state, &caller, id).await?;
    if view.owner != caller.address {
        return Err(ApiError::Forbidden(
            "only the patient who owns the study decides on its release".into(),
        ));
    }
    let Some(email) = wallet_or_email(&state, &caller).await? else {
        let action = WalletAction::Consent { approve, reason };
        return authorization_required(&state, &caller, id, action).await;
    };
    state
        .platform()?
        .consent_with(&email, &id.to_string(), approve, reason)
        .await
        .map_err(from_platform)?;
    Ok(Json(visible(&state, &caller, id).await?).into_response())
}

/// `GET /v1/studies/{token}/access`: owner, issuer and every grant.
#[utoipa::path(get, path = "/v1/studies/{token}/access", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "who may see the study", body = AccessReport),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn access(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<AccessReport>> {
    let id = token_id(&token)?;
    visible(&state, &caller, id).await?;
    let report = state
        .platform()?
        .access(&id.to_string())
        .await
        .map_err(from_platform)?;
    Ok(Json(report))
}

/// `POST /v1/studies/{token}/shares`: the owner (or a sharer) grants a role.
#[utoipa::path(post, path = "/v1/studies/{token}/shares", params(("token" = String, Path, description = "token id")),
    request_body = ShareRequest, security(("bearer" = [])), tag = "studies",
    responses((status = 201, description = "granted", body = GrantAnswer),
              (status = 202, description = "a wallet account: sign the authorization entry and submit it with the study key sealed to `grantee`", body = crate::routes::authorizations::AuthorizationRequired),
              (status = 400, description = "bad grantee, role or date", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "may not grant this", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn share(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<ShareRequest>,
) -> ApiResult<Response> {
    let id = token_id(&token)?;
    let role = match body.role.as_str() {
        "viewer" => Role::Viewer,
        "sharer" => Role::Sharer,
        other => {
            return Err(ApiError::invalid(
                "role",
                format!("{other:?} is not viewer or sharer"),
            ))
        }
    };
    let to = Target::parse(&body.to).map_err(|e| ApiError::invalid("to", e.to_string()))?;
    if let Some(until) = body.until {
        if until <= state.now() {
            return Err(ApiError::invalid("until", "the date is in the past"));
        }
    }
    visible(&state, &caller, id).await?;
    let Some(email) = wallet_or_email(&state, &caller).await? else {
        let action = WalletAction::Share {
            to,
            role,
            until: body.until,
        };
        return authorization_required(&state, &caller, id, action).await;
    };
    let grantee = state
        .platform()?
        .share(&email, &id.to_string(), &to, role, body.until)
        .await
        .map_err(from_platform)?;
    Ok((
        StatusCode::CREATED,
        Json(GrantAnswer {
            token_id: id,
            grantee,
            rekey: None,
        }),
    )
        .into_response())
}

/// `DELETE /v1/studies/{token}/shares/{grantee}`: revoke a grant.
#[utoipa::path(delete, path = "/v1/studies/{token}/shares/{grantee}",
    params(("token" = String, Path, description = "token id"), ("grantee" = String, Path, description = "email or G-address"), RevokeQuery),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "revoked (and re-keyed with `rekey=true`)", body = GrantAnswer),
              (status = 202, description = "a wallet account: sign the authorization entry and submit it", body = crate::routes::authorizations::AuthorizationRequired),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "may not revoke this grant", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study or grant", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "`rekey=true` by a wallet account, or on a study that is not active", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 410, description = "the study was erased (`study-erased`)", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((token, grantee)): Path<(String, String)>,
    QueryParams(q): QueryParams<RevokeQuery>,
) -> ApiResult<Response> {
    let id = token_id(&token)?;
    let from = Target::parse(&grantee).map_err(|e| ApiError::invalid("grantee", e.to_string()))?;
    visible(&state, &caller, id).await?;
    if q.rekey == Some(true) {
        let email = crate::routes::erasure::owner_email(&state, &caller, "re-keying").await?;
        let (grantee, report) = state
            .platform()?
            .revoke_and_rekey(&email, &id.to_string(), &from)
            .await
            .map_err(from_platform)?;
        return Ok(Json(GrantAnswer {
            token_id: id,
            grantee,
            rekey: Some(report),
        })
        .into_response());
    }
    let Some(email) = wallet_or_email(&state, &caller).await? else {
        let action = WalletAction::Revoke { from };
        return authorization_required(&state, &caller, id, action).await;
    };
    let grantee = state
        .platform()?
        .revoke(&email, &id.to_string(), &from)
        .await
        .map_err(from_platform)?;
    Ok(Json(GrantAnswer {
        token_id: id,
        grantee,
        rekey: None,
    })
    .into_response())
}

/// `GET /v1/studies/{token}/history`: the audit trail from chain events.
#[utoipa::path(get, path = "/v1/studies/{token}/history", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the study's events in chain order", body = [TrailEntry]),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<(axum::http::HeaderMap, Json<Vec<TrailEntry>>)> {
    let id = token_id(&token)?;
    visible(&state, &caller, id).await?;
    let (headers, trail) = crate::indexed::token_history(&state, id).await?;
    Ok((headers, Json(trail)))
}

/// `GET /v1/studies/{token}/files`: the files (for a holder of the study key).
#[utoipa::path(get, path = "/v1/studies/{token}/files", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the study's files", body = [StudyFile]),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "no key to this study", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<Vec<StudyFile>>> {
    let id = token_id(&token)?;
    let view = visible(&state, &caller, id).await?;
    if view.status == "erased" {
        return Err(ApiError::StudyErased(format!(
            "study {id} was erased by its owner: its files are deleted for good"
        )));
    }
    view.files.map(Json).ok_or_else(|| {
        ApiError::Forbidden(
            "this account holds no key to the study (a wallet account opens it with its own \
             key; a revoked grantee has none)"
                .into(),
        )
    })
}

/// `GET /v1/studies/{token}/files/{path}`: one file, decrypted as it streams. The first
/// file of a study in a session records the access on chain (refused without a live role).
#[utoipa::path(get, path = "/v1/studies/{token}/files/{path}",
    params(("token" = String, Path, description = "token id"), ("path" = String, Path, description = "the file's path in the study")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the original DICOM bytes", content_type = "application/dicom"),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "no live role or no key", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study or file", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path((token, path)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = token_id(&token)?;
    let platform = state.platform()?;
    // A wallet account holds its key itself: 404 or 403 as for its other study calls.
    let Some(email) = wallet_or_email(&state, &caller).await? else {
        visible(&state, &caller, id).await?;
        return Err(needs_key());
    };
    // The role and the opened metadata, kept per account and study for at most one ledger
    // (so the files of one download cost no chain read each); 404 for a stranger.
    let study = platform
        .opened_study(&caller.address, &email, id)
        .await
        .map_err(from_platform)?;
    if crate::session::first_access(&state, &caller, id).await? {
        if let Err(e) = platform
            .record_access(&email, id, AccessKind::Download)
            .await
        {
            crate::session::forget_access(&state, &caller, id).await?;
            return Err(from_platform(e));
        }
        crate::session::access_recorded(&state, &caller, id);
    }
    let mut stream = platform
        .file_stream(&study, &path)
        .await
        .map_err(from_platform)?;
    let size = stream.file.size;
    let name = path
        .rsplit('/')
        .next()
        .unwrap_or("file.dcm")
        .replace('"', "");
    // Decrypted in the body's own task into frames of up to 256 KiB (four chunks of the
    // stream format), each sent as it is: no pipe, no second task, no copy after that one.
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        stream.poll_chunk(cx)
    }));
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/dicom"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `POST /v1/studies/{token}/verify`: digests in; differing, missing and extra files out.
#[utoipa::path(post, path = "/v1/studies/{token}/verify", params(("token" = String, Path, description = "token id")),
    request_body = VerifyRequest, security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the comparison with the study's checksum root", body = Verification),
              (status = 400, description = "bad digest", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<VerifyRequest>,
) -> ApiResult<Json<Verification>> {
    let id = token_id(&token)?;
    if body.files.len() > MAX_VERIFY_FILES {
        return Err(ApiError::invalid(
            "files",
            format!("at most {MAX_VERIFY_FILES} files at once"),
        ));
    }
    let mut presented = Vec::with_capacity(body.files.len());
    for (i, f) in body.files.into_iter().enumerate() {
        let digest: [u8; 32] = hex::decode(&f.sha256)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ApiError::invalid(format!("files[{i}].sha256"), "not 64 hex digits"))?;
        presented.push(PresentedFile {
            name: f.name,
            sha256: digest,
        });
    }
    visible(&state, &caller, id).await?;
    let email = state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?;
    let v = state
        .platform()?
        .verify_digests(&id.to_string(), presented, email.as_deref())
        .await
        .map_err(from_platform)?;
    Ok(Json(v))
}
