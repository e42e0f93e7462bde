//! For an external wallet, which never hands over its key: `GET /v1/studies/{token}/key`
//! returns the study key wrapped to the caller's address (only the wallet opens it) and
//! short-lived URLs of the encrypted objects, so the wallet decrypts on its side. URLs are
//! S3 presigned GETs, or with the local store the API's own `GET /v1/objects/{key}`, signed
//! with an HMAC over the key and expiry (object keys hold digests and CIDs only, no PHI).
//!
//! Handing out the key is a download: the first fetch of a study in a session records the
//! access on chain, as the file downloads do. A custodial account's is signed with its key;
//! a wallet account first gets a 202 with the `record_access` authorization to sign, and
//! the key comes back with its submission (`routes/authorizations.rs`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::QueryParams;
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// How long an object URL is valid.
pub const OBJECT_URL_LIFETIME: Duration = Duration::from_secs(900);
const OBJECT_DOMAIN: &str = "object-url/v1";

/// One encrypted object and where to fetch it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectLink {
    /// Its key in storage.
    pub key: String,
    /// Its size in bytes (ciphertext).
    pub size: u64,
    /// A GET URL valid until `expires_at`, no bearer token needed.
    pub url: String,
}

/// Answer of `GET /v1/studies/{token}/key`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StudyKeyAnswer {
    /// The token.
    pub token_id: u32,
    /// The address the key is wrapped to (the caller's).
    pub address: String,
    /// The study key sealed to that address (HPKE, X25519 from its ed25519 key), base64.
    pub wrapped_key: String,
    /// The encrypted metadata object (its CID, and where to fetch it).
    pub metadata_cid: String,
    /// The metadata object.
    pub metadata: ObjectLink,
    /// The encrypted files, each named by the SHA-256 of its original.
    pub files: Vec<ObjectLink>,
    /// Unix seconds after which the URLs are refused (ask again).
    pub expires_at: u64,
}

/// Query of an object URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ObjectQuery {
    /// Unix seconds after which the URL is refused.
    pub expires: u64,
    /// HMAC-SHA256 of the key and the expiry.
    pub signature: String,
}

fn object_signature(state: &AppState, key: &str, expires: u64) -> String {
    state
        .keys()
        .keyed_hash(OBJECT_DOMAIN, &format!("GET\n{key}\n{expires}"))
}

async fn link(state: &AppState, key: String, size: u64, expires_at: u64) -> ApiResult<ObjectLink> {
    let presigned = state
        .platform()?
        .store()
        .presign_get(&key, OBJECT_URL_LIFETIME)
        .await
        .map_err(|e| ApiError::unavailable("object storage", e))?;
    let url = match presigned {
        Some(p) => p.url,
        None => format!(
            "{}/v1/objects/{key}?expires={expires_at}&signature={}",
            state.config().base_url.trim_end_matches('/'),
            object_signature(state, &key, expires_at)
        ),
    };
    Ok(ObjectLink { key, size, url })
}

/// `GET /v1/studies/{token}/key`: the study key wrapped to the caller, and object URLs.
/// The first fetch of a study in a session records the access on chain (a wallet account
/// signs it: 202).
#[utoipa::path(get, path = "/v1/studies/{token}/key", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "studies",
    responses((status = 200, description = "the wrapped key and the encrypted objects' URLs", body = StudyKeyAnswer),
              (status = 202, description = "a wallet account's first fetch in this session: sign the `record_access` authorization and submit it to get the key", body = crate::routes::authorizations::AuthorizationRequired),
              (status = 400, description = "a malformed token id (`field`: `token`)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "pending (not the owner), an untrusted issuer, or no key wrapped to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study for this caller", body = Problem, content_type = "application/problem+json")))]
pub async fn study_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let id: u32 = token.parse().map_err(|_| {
        ApiError::invalid(
            "token",
            format!("{token:?} is not a token id (a whole number)"),
        )
    })?;
    // Refusals (pending, untrusted issuer, no key) come before anything is recorded.
    state
        .platform()?
        .wrapped_key_for(&caller.address, id)
        .await
        .map_err(from_platform)?;
    if crate::session::first_access(&state, &caller, id).await? {
        let email = state
            .inner()
            .accounts
            .email_of(&caller.address)
            .await
            .map_err(|e| ApiError::unavailable("the account directory", e))?;
        let recorded = match email {
            Some(email) => state
                .platform()?
                .record_access(&email, id, medimint_chain::clients::AccessKind::Download)
                .await
                .map_err(from_platform),
            None => {
                // A wallet signs its own access record; until it does, nothing is marked.
                crate::session::forget_access(&state, &caller, id).await?;
                return crate::routes::authorizations::authorization_required(
                    &state,
                    &caller,
                    id,
                    medimint_platform::WalletAction::RecordAccess(
                        medimint_chain::clients::AccessKind::Download,
                    ),
                )
                .await;
            }
        };
        if let Err(e) = recorded {
            crate::session::forget_access(&state, &caller, id).await?;
            return Err(e);
        }
        crate::session::access_recorded(&state, &caller, id);
    }
    Ok(Json(key_answer(&state, &caller, id).await?).into_response())
}

/// The wrapped key and object URLs of token `id` for the caller (the access already
/// recorded).
pub(crate) async fn key_answer(
    state: &AppState,
    caller: &Caller,
    id: u32,
) -> ApiResult<StudyKeyAnswer> {
    let state = state.clone();
    let grant = state
        .platform()?
        .wrapped_key_for(&caller.address, id)
        .await
        .map_err(from_platform)?;
    let expires_at = state.now() + OBJECT_URL_LIFETIME.as_secs();
    let meta_size = state
        .platform()?
        .store()
        .head(&grant.metadata_key)
        .await
        .map_err(|e| ApiError::unavailable("object storage", e))?
        .map_or(0, |o| o.size);
    let metadata = link(&state, grant.metadata_key.clone(), meta_size, expires_at).await?;
    let mut files = Vec::with_capacity(grant.files.len());
    for f in grant.files {
        files.push(link(&state, f.key, f.size, expires_at).await?);
    }
    tracing::info!("wrapped key handed to its holder");
    Ok(StudyKeyAnswer {
        token_id: id,
        address: grant.address,
        wrapped_key: base64::engine::general_purpose::STANDARD.encode(&grant.wrapped_key),
        metadata_cid: grant.metadata_cid,
        metadata,
        files,
        expires_at,
    })
}

/// `GET /v1/objects/{key}`: one encrypted object through a URL the API signed (the local
/// store's stand-in for an S3 presigned GET). No bearer token.
#[utoipa::path(get, path = "/v1/objects/{key}", params(("key" = String, Path, description = "the object's key"), ObjectQuery),
    tag = "studies",
    responses((status = 200, description = "the object's bytes (ciphertext)", content_type = "application/octet-stream"),
              (status = 400, description = "a bad parameter", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "the signature does not match, or the URL expired", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such object", body = Problem, content_type = "application/problem+json")))]
pub async fn object(
    State(state): State<AppState>,
    Path(key): Path<String>,
    QueryParams(q): QueryParams<ObjectQuery>,
) -> ApiResult<Response> {
    let expected = object_signature(&state, &key, q.expires);
    if !bool::from(expected.as_bytes().ct_eq(q.signature.as_bytes())) {
        return Err(ApiError::Forbidden(
            "the object URL's signature does not match; use the URL exactly as given".into(),
        ));
    }
    if state.now() > q.expires {
        return Err(ApiError::Forbidden(
            "the object URL expired; ask for fresh ones with GET /v1/studies/{token}/key".into(),
        ));
    }
    let reader = match state.platform()?.store().get_stream(&key).await {
        Ok(r) => r,
        Err(medimint_storage::StorageError::NotFound(_)) => {
            return Err(ApiError::NotFound("no such object".into()))
        }
        Err(e) => return Err(ApiError::unavailable("object storage", e)),
    };
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(response)
}
