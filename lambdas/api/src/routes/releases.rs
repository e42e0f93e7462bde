//! Releases by an issuer through the API: start (the manifest's content, one upload URL per
//! file), upload, complete (the manifest is written last, which starts the ingest pipeline),
//! and follow (state, and a refused release's report in words).
//!
//! Upload URLs are S3 presigned PUTs where the store is S3. The local store has none, so the
//! API serves `PUT /v1/uploads/{issuer}/{release_id}/{index}` itself: the URL carries its
//! size and expiry and an HMAC over them (a key derived from the vault's seed), needs no
//! bearer token, and the body is streamed to storage with the size enforced. URLs name files
//! by their place in the manifest, never by their name (a file name may hold PHI; the path
//! is logged, the query string never).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use medimint_ingest::manifest::{parse_manifest, MAX_FILES};
use medimint_platform::uploads::{PlannedUpload, ReleasePage, ReleaseState};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{JsonBody, QueryParams};
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// How long an upload URL is valid.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(3600);
/// Upload URLs per answer; `next_uploads` fetches the rest (10,000 presigned URLs would pass
/// API Gateway's 6 MB response limit).
pub const UPLOAD_BATCH: usize = 1_000;
/// Largest body of `POST /v1/releases` (the manifest's own limit).
pub const RELEASE_BODY_BYTES: usize = 1024 * 1024;
const UPLOAD_DOMAIN: &str = "upload-url/v1";

/// Body of `POST /v1/releases`: the manifest's content (docs/ingest.md §2).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    /// The issuer's id for this release, `[A-Za-z0-9._-]`, 1 to 128 characters; a random
    /// `api-…` id when absent. The same body under the same id again is a retry.
    pub release_id: Option<String>,
    /// The patient, as the manifest's `patient` (email, family_name, given_names,
    /// middle_names, prefix, suffix, birth_date, patient_id).
    #[schema(value_type = Object)]
    pub patient: serde_json::Value,
    /// The Study Instance UID every file must carry, if stated.
    pub study_instance_uid: Option<String>,
    /// The files, 1 to 10,000, each `{"path", "size"}`.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<serde_json::Value>,
}

/// One upload: send `method` to `url` with `headers` and exactly `size` bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Upload {
    /// The file's place in `files`.
    pub index: usize,
    /// The file's path as listed.
    pub path: String,
    /// Its size in bytes: the body must be exactly this long.
    pub size: u64,
    /// Already uploaded with this size (a retry may skip it).
    pub uploaded: bool,
    /// `PUT`.
    pub method: String,
    /// Where to send it; no bearer token (the URL is the authorization).
    pub url: String,
    /// Headers to send as given (`content-length` is set by HTTP clients themselves).
    pub headers: std::collections::BTreeMap<String, String>,
    /// Unix seconds after which the URL is refused (ask for fresh ones with
    /// `GET /v1/releases/{id}/uploads`).
    pub expires_at: u64,
}

/// A request to make next.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// The method.
    pub method: String,
    /// The URL (with the bearer token).
    pub url: String,
}

/// Answer of `POST /v1/releases` and `GET /v1/releases/{id}/uploads`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseUploads {
    /// The release id.
    pub release_id: String,
    /// `awaiting_upload`.
    pub status: String,
    /// Files the manifest lists.
    pub files: usize,
    /// Uploads of this batch (at most 1,000).
    pub uploads: Vec<Upload>,
    /// The next batch of upload URLs, when there are more files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_uploads: Option<Link>,
    /// Call this once every file is uploaded: it writes the manifest and starts the release.
    pub complete: Link,
}

/// Query of `GET /v1/releases`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListReleases {
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// Items per page, 1 to 50 (default 20).
    pub limit: Option<u32>,
}

/// Query of `GET /v1/releases/{id}/uploads`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadsQuery {
    /// The first file (its place in `files`) of the batch; 0 when absent.
    pub from: Option<usize>,
}

/// Query of an upload URL (what the API signed).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The exact size of the body.
    pub size: u64,
    /// Unix seconds after which the URL is refused.
    pub expires: u64,
    /// HMAC-SHA256 of the method, issuer, release, index, size and expiry.
    pub signature: String,
}

/// Answer of an upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// The file's place in `files`.
    pub index: usize,
    /// Bytes stored.
    pub size: u64,
}

/// The caller as an issuer who may release now: trusted in the registry, and a custodial
/// account (the platform signs the proposal with the issuer's key).
async fn active_issuer(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let inner = state.inner();
    let trusted = inner
        .roles
        .is_issuer(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))?;
    if !trusted {
        return Err(ApiError::Forbidden(
            "only an active issuer (trusted in the issuer registry now) releases studies".into(),
        ));
    }
    let email = inner
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?;
    if email.is_none() {
        return Err(ApiError::Forbidden(
            "a release is proposed on chain with the issuer's signature, and a wallet account \
             signs for itself: sign in with the issuer's email to release through MediMint"
                .into(),
        ));
    }
    Ok(())
}

fn upload_signature(
    state: &AppState,
    issuer: &str,
    release_id: &str,
    index: usize,
    size: u64,
    expires: u64,
) -> String {
    state.keys().keyed_hash(
        UPLOAD_DOMAIN,
        &format!("PUT\n{issuer}\n{release_id}\n{index}\n{size}\n{expires}"),
    )
}

pub(crate) fn upload_of(
    state: &AppState,
    issuer: &str,
    release_id: &str,
    p: PlannedUpload,
) -> Upload {
    let expires_at = state.now() + UPLOAD_URL_LIFETIME.as_secs();
    let (method, url, headers) = match p.presigned {
        Some(signed) => (
            signed.method,
            signed.url,
            signed
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ),
        None => {
            let signature =
                upload_signature(state, issuer, release_id, p.index, p.size, expires_at);
            (
                "PUT".to_string(),
                format!(
                    "{}/v1/uploads/{issuer}/{release_id}/{}?size={}&expires={expires_at}&signature={signature}",
                    state.config().base_url.trim_end_matches('/'),
                    p.index,
                    p.size
                ),
                std::collections::BTreeMap::new(),
            )
        }
    };
    Upload {
        index: p.index,
        path: p.path,
        size: p.size,
        uploaded: p.uploaded,
        method,
        url,
        headers,
        expires_at,
    }
}

fn batch_answer(
    state: &AppState,
    issuer: &str,
    release_id: &str,
    files: usize,
    uploads: Vec<PlannedUpload>,
) -> ReleaseUploads {
    let base = state.config().base_url.trim_end_matches('/').to_string();
    let next = uploads.last().map_or(files, |u| u.index + 1);
    ReleaseUploads {
        release_id: release_id.to_string(),
        status: "awaiting_upload".into(),
        files,
        uploads: uploads
            .into_iter()
            .map(|p| upload_of(state, issuer, release_id, p))
            .collect(),
        next_uploads: (next < files).then(|| Link {
            method: "GET".into(),
            url: format!("{base}/v1/releases/{release_id}/uploads?from={next}"),
        }),
        complete: Link {
            method: "POST".into(),
            url: format!("{base}/v1/releases/{release_id}/complete"),
        },
    }
}

/// The manifest's field named by a problem's JSON path (`$.patient.email` → `patient.email`).
fn field_of(path: Option<&str>) -> String {
    path.map(|p| {
        p.trim_start_matches("$.")
            .trim_start_matches('$')
            .to_string()
    })
    .filter(|p| !p.is_empty())
    .unwrap_or_else(|| "body".into())
}

/// `POST /v1/releases`: an active issuer starts a release.
#[utoipa::path(post, path = "/v1/releases", request_body = NewRelease, security(("bearer" = [])), tag = "releases",
    responses((status = 201, description = "started: upload each file to its URL, then call `complete`", body = ReleaseUploads),
              (status = 200, description = "the same release started before (a retry): fresh URLs", body = ReleaseUploads),
              (status = 400, description = "the manifest breaks a rule (`field` names the first; `detail` lists them all)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active issuer, or a wallet account", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the release id is used by another manifest, an inbox export, or was completed", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewRelease>,
) -> ApiResult<(StatusCode, Json<ReleaseUploads>)> {
    active_issuer(&state, &caller).await?;
    if body.files.len() > MAX_FILES {
        return Err(ApiError::invalid(
            "files",
            format!("lists more than {MAX_FILES} files; split the study into releases"),
        ));
    }
    let release_id = body
        .release_id
        .unwrap_or_else(|| format!("api-{}", hex::encode(rand::random::<[u8; 16]>())));
    let mut manifest = serde_json::json!({
        "version": 1,
        "patient": body.patient,
        "files": body.files,
    });
    if let Some(uid) = body.study_instance_uid {
        manifest["study_instance_uid"] = serde_json::Value::String(uid);
    }
    let bytes = serde_json::to_vec(&manifest).map_err(|e| ApiError::Internal(e.into()))?;
    let manifest = parse_manifest(&bytes).map_err(|problems| {
        let field = field_of(problems.first().and_then(|p| p.field.as_deref()));
        let detail = problems
            .iter()
            .map(|p| format!("{}: {}", field_of(p.field.as_deref()), p.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::invalid(field, detail)
    })?;
    let started = state
        .platform()?
        .start_release(
            &caller.address,
            &release_id,
            &manifest,
            UPLOAD_BATCH,
            UPLOAD_URL_LIFETIME,
        )
        .await
        .map_err(from_platform)?;
    tracing::info!(created = started.created, "release started");
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(batch_answer(
            &state,
            &caller.address,
            &release_id,
            started.files,
            started.uploads,
        )),
    ))
}

/// `GET /v1/releases/{id}/uploads`: fresh upload URLs, a batch from `from`.
#[utoipa::path(get, path = "/v1/releases/{id}/uploads", params(("id" = String, Path, description = "release id"), UploadsQuery),
    security(("bearer" = [])), tag = "releases",
    responses((status = 200, description = "a batch of upload URLs", body = ReleaseUploads),
              (status = 400, description = "bad release id or `from`", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "the caller has no such release", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "completed already", body = Problem, content_type = "application/problem+json")))]
pub async fn uploads(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<UploadsQuery>,
) -> ApiResult<Json<ReleaseUploads>> {
    let from = q.from.unwrap_or(0);
    if from > MAX_FILES {
        return Err(ApiError::invalid("from", format!("at most {MAX_FILES}")));
    }
    let (files, planned) = state
        .platform()?
        .release_uploads(
            &caller.address,
            &id,
            from,
            UPLOAD_BATCH,
            UPLOAD_URL_LIFETIME,
        )
        .await
        .map_err(from_platform)?;
    Ok(Json(batch_answer(
        &state,
        &caller.address,
        &id,
        files,
        planned,
    )))
}

/// `POST /v1/releases/{id}/complete`: writes the manifest last, which starts the release.
#[utoipa::path(post, path = "/v1/releases/{id}/complete", params(("id" = String, Path, description = "release id")),
    security(("bearer" = [])), tag = "releases",
    responses((status = 202, description = "submitted (or further along: completing again is harmless)", body = ReleaseState),
              (status = 400, description = "bad release id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active issuer, or a wallet account", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "the caller has no such release", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "files missing or of another size (named by their place in `files`)", body = Problem, content_type = "application/problem+json")))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ReleaseState>)> {
    active_issuer(&state, &caller).await?;
    let done = state
        .platform()?
        .complete_release(&caller.address, &id)
        .await
        .map_err(from_platform)?;
    Ok((StatusCode::ACCEPTED, Json(done)))
}

/// `GET /v1/releases`: an issuer's releases, newest first.
///
/// Whichever way they came (through the API, a records request's upload, or the inbox: a
/// PACS export or the CLI), each once, with where it stands and its token once released.
#[utoipa::path(get, path = "/v1/releases", params(ListReleases), security(("bearer" = [])), tag = "releases",
    responses((status = 200, description = "a page of the caller's releases, newest first", body = ReleasePage),
              (status = 400, description = "bad cursor or limit", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an issuer (trusted in the issuer registry now)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ListReleases>,
) -> ApiResult<Json<ReleasePage>> {
    let issuer = state
        .inner()
        .roles
        .is_issuer(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))?;
    if !issuer {
        return Err(ApiError::Forbidden(
            "only an issuer (trusted in the issuer registry now) has releases to list; a \
             patient's studies are at GET /v1/studies"
                .into(),
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 50"));
    }
    let page = state
        .platform()?
        .list_releases(&caller.address, q.cursor.as_deref(), limit as usize)
        .await
        .map_err(from_platform)?;
    Ok(Json(page))
}

/// `GET /v1/releases/{id}`: where the caller's release stands; a refused one's report.
#[utoipa::path(get, path = "/v1/releases/{id}", params(("id" = String, Path, description = "release id")),
    security(("bearer" = [])), tag = "releases",
    responses((status = 200, description = "the release's state", body = ReleaseState),
              (status = 400, description = "bad release id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "the caller has no such release", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReleaseState>> {
    let s = state
        .platform()?
        .release_state(&caller.address, &id)
        .await
        .map_err(from_platform)?;
    Ok(Json(s))
}

/// A request body as a reader that fails once more than `limit` bytes arrive.
struct BoundedBody {
    body: Body,
    pending: Bytes,
    read: u64,
    limit: u64,
    over: Arc<AtomicBool>,
}

impl AsyncRead for BoundedBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(out.remaining());
                out.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.read += data.len() as u64;
                        if this.read > this.limit {
                            this.over.store(true, Ordering::SeqCst);
                            return Poll::Ready(Err(std::io::Error::other(
                                "the body is longer than the upload URL's size",
                            )));
                        }
                        this.pending = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(std::io::Error::other(e.to_string())))
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// `PUT /v1/uploads/{issuer}/{release_id}/{index}`: one file of a release, through a URL the
/// API signed (the local store's stand-in for an S3 presigned PUT). No bearer token.
#[utoipa::path(put, path = "/v1/uploads/{issuer}/{release_id}/{index}",
    params(("issuer" = String, Path, description = "the issuer's G-address"),
           ("release_id" = String, Path, description = "release id"),
           ("index" = usize, Path, description = "the file's place in `files`"),
           UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file, exactly `size` bytes"),
    tag = "releases",
    responses((status = 201, description = "stored", body = Uploaded),
              (status = 400, description = "a body of another length than `size`, or a bad parameter", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "the signature does not match, or the URL expired", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such release", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the release was completed already", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "a body longer than `size`", body = Problem, content_type = "application/problem+json")))]
pub async fn upload(
    State(state): State<AppState>,
    Path((issuer, release_id, index)): Path<(String, String, String)>,
    QueryParams(q): QueryParams<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    let index: usize = index
        .parse()
        .map_err(|_| ApiError::invalid("index", "not a file's place (a whole number)"))?;
    let expected = upload_signature(&state, &issuer, &release_id, index, q.size, q.expires);
    if !bool::from(expected.as_bytes().ct_eq(q.signature.as_bytes())) {
        return Err(ApiError::Forbidden(
            "the upload URL's signature does not match; use the URL exactly as given".into(),
        ));
    }
    if state.now() > q.expires {
        return Err(ApiError::Forbidden(
            "the upload URL expired; ask for fresh ones with GET /v1/releases/{id}/uploads".into(),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > q.size {
            return Err(ApiError::TooLarge {
                limit: usize::try_from(q.size).unwrap_or(usize::MAX),
            });
        }
        if n < q.size {
            return Err(ApiError::invalid(
                "body",
                format!("{n} bytes declared, the URL is for exactly {}", q.size),
            ));
        }
    }
    let over = Arc::new(AtomicBool::new(false));
    let mut reader = BoundedBody {
        body,
        pending: Bytes::new(),
        read: 0,
        limit: q.size,
        over: over.clone(),
    };
    let result = state
        .platform()?
        .accept_upload(&issuer, &release_id, index, q.size, &mut reader)
        .await;
    if over.load(Ordering::SeqCst) {
        return Err(ApiError::TooLarge {
            limit: usize::try_from(q.size).unwrap_or(usize::MAX),
        });
    }
    let size = result.map_err(from_platform)?;
    Ok((StatusCode::CREATED, Json(Uploaded { index, size })))
}
