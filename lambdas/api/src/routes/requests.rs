//! Records requests (docs/records-requests.md): an issuer asks an institution that is not
//! enrolled for a patient's records.
//!
//! - `POST /v1/requests` (an active issuer) names the patient, what is requested and a
//!   deadline; the answer holds the upload link (the web app's upload page with the request
//!   id and secret in the URL's fragment) and, separately, the access code. Both are shown
//!   once. `GET /v1/requests` and `GET /v1/requests/{id}` follow them (and the release).
//! - `POST /v1/requests/open` (no account): the link and the code in the body (never in a
//!   URL); the code works once and locks after 5 wrong tries; the answer is an upload
//!   token and what is requested.
//! - `POST /v1/requests/{id}/files` and `POST /v1/requests/{id}/complete`, with
//!   `Authorization: Bearer <upload token>`: the files' list (upload URLs as for a release),
//!   then completion, which starts the same ingest as any release.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use medimint_platform::uploads::ReleaseState;
use medimint_platform::{PatientSpec, PlatformError, RecordsRequestSpec, RecordsRequestView};
use serde::{Deserialize, Serialize};

use super::releases::{upload_of, Upload, UPLOAD_URL_LIFETIME};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// The records-request routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/requests", post(create).get(list))
        .route("/v1/requests/open", post(open))
        .route("/v1/requests/{id}", get(get_one))
        .route("/v1/requests/{id}/files", post(files))
        .route("/v1/requests/{id}/complete", post(complete))
}

/// The patient a request names.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPatient {
    /// The patient's email (their account; the records are released to it).
    pub email: String,
    /// Family name, as in the DICOM headers.
    pub family_name: String,
    /// Given names.
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Patient id / MRN as the institution knows it.
    pub patient_id: String,
}

/// Body of `POST /v1/requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The patient.
    pub patient: RequestPatient,
    /// What is requested, in words.
    pub requested: String,
    /// The institution asked.
    pub institution: String,
    /// Unix seconds after which the link and code stop working (at most 180 days ahead).
    pub deadline: u64,
}

/// Answer of `POST /v1/requests`: send the link and the code by different channels.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedRequest {
    /// The request.
    pub request: RecordsRequestView,
    /// The institution's upload page (the request's id and secret after `#`).
    pub upload_url: String,
    /// The access code (10 characters, single use), shown once.
    pub code: String,
}

/// Answer of `GET /v1/requests/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestState {
    /// The request.
    pub request: RecordsRequestView,
    /// Its release, once the upload was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseState>,
}

/// Body of `POST /v1/requests/open`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The upload link (or what follows its `#`).
    pub link: String,
    /// The access code.
    pub code: String,
}

/// Body of `POST /v1/requests/{id}/files`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestFiles {
    /// The files, 1 to 1,000, each with its relative path and size.
    pub files: Vec<RequestFile>,
    /// The Study Instance UID every file must carry, if known.
    pub study_instance_uid: Option<String>,
}

/// One file to upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// Its path, relative, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Answer of `POST /v1/requests/{id}/files`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestUploads {
    /// The request (and release) id.
    pub id: String,
    /// One upload per file: send exactly `size` bytes to `url`.
    pub uploads: Vec<Upload>,
}

/// The request id and the link's secret from an upload link.
///
/// # Errors
/// `invalid-request` on `link`.
pub fn parse_link(text: &str) -> ApiResult<(String, String)> {
    let bad = || ApiError::invalid("link", "not a records-request link; paste the whole link");
    let text = text.trim();
    if text.len() > 2048 {
        return Err(bad());
    }
    let tail = text.rsplit('#').next().unwrap_or(text);
    let tail = tail.trim_start_matches('/');
    let rest = tail.strip_prefix("request/").unwrap_or(tail);
    let (id, secret) = rest.split_once('/').ok_or_else(bad)?;
    medimint_platform::check_request_id(id).map_err(|_| bad())?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((id.to_string(), secret.to_ascii_lowercase()))
}

fn upload_token(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| t.len() == 64)
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "send the upload token from POST /v1/requests/open as `Authorization: Bearer …`"
                    .into(),
            )
        })
}

async fn active_issuer(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let trusted = state
        .inner()
        .roles
        .is_issuer(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))?;
    if trusted {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only an active issuer (trusted in the issuer registry now) requests records".into(),
        ))
    }
}

fn request_id(id: &str) -> ApiResult<()> {
    medimint_platform::check_request_id(id).map_err(|_| {
        ApiError::invalid(
            "id",
            format!("{id:?} is not a request id (`rr-` and 64 hex digits)"),
        )
    })
}

/// `POST /v1/requests`: an active issuer asks an institution for a patient's records.
#[utoipa::path(post, path = "/v1/requests", operation_id = "create_records_request", request_body = NewRequest, security(("bearer" = [])), tag = "records-requests",
    responses((status = 201, description = "the upload link and, separately, the access code (shown once)", body = CreatedRequest),
              (status = 400, description = "a field breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active issuer", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewRequest>,
) -> ApiResult<(StatusCode, Json<CreatedRequest>)> {
    active_issuer(&state, &caller).await?;
    let p = body.patient;
    let made = state
        .platform()?
        .create_records_request(
            &caller.address,
            &RecordsRequestSpec {
                patient: PatientSpec {
                    email: p.email,
                    family_name: p.family_name,
                    given_names: p.given_names,
                    birth_date: p.birth_date,
                    patient_id: p.patient_id,
                },
                requested: body.requested,
                institution: body.institution,
                deadline: body.deadline,
            },
            state.now(),
        )
        .await
        .map_err(from_platform)?;
    let upload_url = format!(
        "{}/#/request/{}/{}",
        state.config().base_url.trim_end_matches('/'),
        made.request.id,
        made.secret
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedRequest {
            request: made.request,
            upload_url,
            code: made.code,
        }),
    ))
}

/// `GET /v1/requests`: the caller's records requests, newest first (at most 100).
#[utoipa::path(get, path = "/v1/requests", operation_id = "list_records_requests", security(("bearer" = [])), tag = "records-requests",
    responses((status = 200, description = "the requests", body = Vec<RecordsRequestView>),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active issuer", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RecordsRequestView>>> {
    active_issuer(&state, &caller).await?;
    let items = state
        .platform()?
        .records_requests(&caller.address, state.now(), 100)
        .await
        .map_err(from_platform)?;
    Ok(Json(items))
}

/// `GET /v1/requests/{id}`: one of the caller's requests and, once uploaded, its release.
#[utoipa::path(get, path = "/v1/requests/{id}", operation_id = "get_records_request", params(("id" = String, Path, description = "request id")),
    security(("bearer" = [])), tag = "records-requests",
    responses((status = 200, description = "the request and its release", body = RequestState),
              (status = 400, description = "a malformed id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active issuer", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such request of the caller", body = Problem, content_type = "application/problem+json")))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestState>> {
    request_id(&id)?;
    active_issuer(&state, &caller).await?;
    let (request, release) = state
        .platform()?
        .records_request(&caller.address, &id, state.now())
        .await
        .map_err(from_platform)?;
    Ok(Json(RequestState { request, release }))
}

/// `POST /v1/requests/open`: the institution opens a request with its link and code.
#[utoipa::path(post, path = "/v1/requests/open", operation_id = "open_records_request", request_body = OpenRequest, tag = "records-requests",
    responses((status = 200, description = "the upload token and what is requested (PHI: the patient)", body = medimint_platform::OpenedRequest),
              (status = 400, description = "not a request link (`field`: `link`)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "wrong access code (`code-invalid`, with the tries left)", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "the code was used already, the deadline passed, or 5 wrong codes locked it", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such request", body = Problem, content_type = "application/problem+json")))]
pub async fn open(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<OpenRequest>,
) -> ApiResult<Json<medimint_platform::OpenedRequest>> {
    let (id, secret) = parse_link(&body.link)?;
    match state
        .platform()?
        .open_records_request(&id, &secret, &body.code, state.now())
        .await
    {
        Ok(o) => Ok(Json(o)),
        Err(PlatformError::InvalidInput {
            field: "code",
            message,
        }) => Err(ApiError::CodeInvalid(message)),
        Err(e) => Err(from_platform(e)),
    }
}

/// `POST /v1/requests/{id}/files`: the institution lists its files; one upload URL each.
#[utoipa::path(post, path = "/v1/requests/{id}/files", operation_id = "records_request_files", params(("id" = String, Path, description = "request id")),
    request_body = RequestFiles, security(("bearer" = [])), tag = "records-requests",
    responses((status = 200, description = "one upload per file", body = RequestUploads),
              (status = 400, description = "bad files (`field` names it)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "no upload token", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "a wrong upload token, or the deadline passed", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the upload was completed already", body = Problem, content_type = "application/problem+json")))]
pub async fn files(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RequestFiles>,
) -> ApiResult<Json<RequestUploads>> {
    request_id(&id)?;
    let token = upload_token(&headers)?;
    for (i, f) in body.files.iter().enumerate() {
        if f.path.is_empty() || f.path.len() > 1024 {
            return Err(ApiError::invalid(
                format!("files[{i}].path"),
                "give a relative path of 1 to 1,024 characters",
            ));
        }
    }
    let files = body.files.into_iter().map(|f| (f.path, f.size)).collect();
    let (issuer, started) = state
        .platform()?
        .start_request_upload(
            &id,
            &token,
            files,
            body.study_instance_uid,
            UPLOAD_URL_LIFETIME,
            state.now(),
        )
        .await
        .map_err(|e| match e {
            PlatformError::InvalidInput {
                field: "release_id",
                message,
            } => ApiError::invalid("id", message),
            e => from_platform(e),
        })?;
    Ok(Json(RequestUploads {
        uploads: started
            .uploads
            .into_iter()
            .map(|p| upload_of(&state, &issuer, &id, p))
            .collect(),
        id,
    }))
}

/// `POST /v1/requests/{id}/complete`: every file is uploaded; the ingest starts (the
/// headers are checked against the patient) and the release goes to the patient, pending
/// consent.
#[utoipa::path(post, path = "/v1/requests/{id}/complete", operation_id = "complete_records_request", params(("id" = String, Path, description = "request id")),
    security(("bearer" = [])), tag = "records-requests",
    responses((status = 202, description = "submitted: the ingest runs", body = ReleaseState),
              (status = 400, description = "a malformed id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "no upload token", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "a wrong upload token, or the deadline passed", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no upload started", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "files missing or of another size", body = Problem, content_type = "application/problem+json")))]
pub async fn complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ReleaseState>)> {
    request_id(&id)?;
    let token = upload_token(&headers)?;
    let done = state
        .platform()?
        .complete_request_upload(&id, &token, state.now())
        .await
        .map_err(from_platform)?;
    Ok((StatusCode::ACCEPTED, Json(done)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_links_parse() {
        let id = format!("rr-{}", "a".repeat(64));
        let secret = "b".repeat(64);
        for link in [
            format!("https://app.example.org/#/request/{id}/{secret}"),
            format!("#/request/{id}/{secret}"),
            format!("{id}/{secret}"),
        ] {
            assert_eq!(
                parse_link(&link).unwrap(),
                (id.clone(), secret.clone()),
                "{link}"
            );
        }
        for bad in [
            "",
            "https://x/#/request/rr-1/2",
            &format!("#/request/{id}/xyz"),
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }
}
