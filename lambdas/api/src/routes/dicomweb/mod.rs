//! DICOMweb (PS3.18), read-only, under `/dicomweb` with the same bearer tokens as `/v1`:
//! QIDO-RS searches, WADO-RS retrieval (instances, metadata, frames) and rendered frames.
//! See docs/dicomweb.md.
//!
//! A study is named by its Study Instance UID; only studies the caller owns or holds a live
//! role on are found (anything else is 404, never 403). Every request checks the role on
//! chain, so a revoked or expired role stops the next request; the first request of a
//! session on a study records the viewing on chain (`record_access`, kind `view`).
//! Reading needs the caller's key to the study, which the platform holds for an email
//! account; a wallet account is refused (403) as it is for file downloads.

mod accept;
mod multipart;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use medimint_chain::clients::AccessKind;
use medimint_platform::dicomweb::{
    pixels, render, tags, FrameError, ImageFormat, Query, RenderError, RenderOptions, StudyIndex,
    ViewError, BASE_MARK,
};
use medimint_platform::Platform;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, PROBLEM_JSON};
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

use accept::{Accept, FrameAnswer};

/// `application/dicom+json`.
const DICOM_JSON: &str = "application/dicom+json";
/// Most frames one request names.
const MAX_FRAMES_ASKED: usize = 4096;

/// The DICOMweb routes (nested under `/dicomweb`).
pub fn router() -> Router<AppState> {
    let instance = "/studies/{study}/series/{series}/instances/{instance}";
    Router::new()
        .route("/studies", get(search_studies))
        .route("/studies/{study}", get(retrieve_study))
        .route("/studies/{study}/metadata", get(study_metadata))
        .route("/studies/{study}/series", get(search_series))
        .route("/studies/{study}/instances", get(search_study_instances))
        .route("/studies/{study}/thumbnail", get(study_thumbnail))
        .route("/studies/{study}/series/{series}", get(retrieve_series))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(series_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances",
            get(search_instances),
        )
        .route(
            "/studies/{study}/series/{series}/thumbnail",
            get(series_thumbnail),
        )
        .route(instance, get(retrieve_instance))
        .route(&format!("{instance}/metadata"), get(instance_metadata))
        .route(&format!("{instance}/rendered"), get(instance_rendered))
        .route(&format!("{instance}/thumbnail"), get(instance_thumbnail))
        .route(&format!("{instance}/frames/{{frames}}"), get(frames))
        .route(
            &format!("{instance}/frames/{{frames}}/rendered"),
            get(frames_rendered),
        )
        .route(
            &format!("{instance}/frames/{{frames}}/thumbnail"),
            get(frames_thumbnail),
        )
}

/// A DICOMweb failure: the API's problems, and 406 for a representation this service
/// cannot make (PS3.18 §8.7.3).
#[derive(Debug)]
pub enum DicomWebError {
    /// Any of the API's problems.
    Api(ApiError),
    /// 406 Not Acceptable, saying what can be asked instead.
    NotAcceptable(String),
}

impl From<ApiError> for DicomWebError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<ViewError> for DicomWebError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::Platform(p) => Self::Api(from_platform(p)),
            ViewError::Frame(FrameError::NoSuchFrame { asked, frames }) => {
                Self::Api(ApiError::NotFound(format!(
                    "frame {asked} does not exist: the instance has {frames} frame(s), \
                     numbered from 1"
                )))
            }
            ViewError::Frame(FrameError::NoPixelData) => Self::Api(ApiError::NotFound(
                "the instance has no pixel data (7FE0,0010)".into(),
            )),
            ViewError::Frame(FrameError::Unsupported(m)) => Self::NotAcceptable(m),
            ViewError::Frame(e @ (FrameError::Io(_) | FrameError::Malformed(_))) => {
                Self::Api(ApiError::unavailable("reading the stored file", e))
            }
            ViewError::Render(RenderError::BadParameter { field, message }) => {
                Self::Api(ApiError::invalid(field, message))
            }
            // A decoder that fails on this frame (a variant it does not handle) cannot make
            // the representation either: 406, saying why.
            ViewError::Render(e @ (RenderError::Unsupported(_) | RenderError::Decode(_))) => {
                Self::NotAcceptable(e.to_string())
            }
        }
    }
}

impl IntoResponse for DicomWebError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::NotAcceptable(detail) => {
                tracing::info!(problem = "not-acceptable", status = 406, "refused");
                let body = json!({
                    "type": "urn:medimint:problem:not-acceptable",
                    "title": "Not acceptable",
                    "status": 406,
                    "detail": detail,
                });
                let mut r = (StatusCode::NOT_ACCEPTABLE, body.to_string()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
                r
            }
        }
    }
}

type DwResult<T> = Result<T, DicomWebError>;

/// The caller's custodial email: the platform holds the key that opens the study.
async fn holder_email(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?
        .ok_or_else(|| {
            ApiError::Forbidden(
                "DICOMweb reads with the key MediMint holds for an email account; a wallet \
                 account opens its studies with its own key (download them with the CLI)"
                    .into(),
            )
        })
}

/// The base URL of this service (for RetrieveURL and BulkDataURI).
fn base(state: &AppState) -> String {
    format!("{}/dicomweb", state.config().base_url)
}

/// A study the caller may view now; its first use in a session is recorded on chain.
struct Viewing {
    platform: Arc<Platform>,
    index: Arc<StudyIndex>,
}

async fn open(state: &AppState, caller: &Caller, study: &str) -> DwResult<Viewing> {
    check_uid("study", study)?;
    let platform = state.platform()?.clone();
    let email = holder_email(state, caller).await?;
    let index = platform
        .viewable_study(&email, study)
        .await
        .map_err(from_platform)?;
    let token = index.token;
    if crate::session::first_access(state, caller, token).await? {
        if let Err(e) = platform
            .record_access(&email, token, AccessKind::View)
            .await
        {
            crate::session::forget_access(state, caller, token).await?;
            return Err(from_platform(e).into());
        }
        crate::session::access_recorded(state, caller, token);
    }
    Ok(Viewing { platform, index })
}

/// A UID in a path: digits and dots, at most 64 characters.
fn check_uid(field: &str, uid: &str) -> Result<(), ApiError> {
    if !uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "not a DICOM UID (digits and dots, at most 64 characters)",
        ))
    }
}

fn series_of(v: &Viewing, series: &str) -> DwResult<usize> {
    check_uid("series", series)?;
    v.index
        .series_by_uid(series)
        .map(|(i, _)| i)
        .ok_or_else(|| ApiError::NotFound(format!("the study has no series {series}")).into())
}

fn instance_of(v: &Viewing, series: &str, instance: &str) -> DwResult<usize> {
    let s = series_of(v, series)?;
    check_uid("instance", instance)?;
    match v.index.instance_by_uid(instance) {
        Some((i, inst)) if inst.series == s => Ok(i),
        _ => Err(ApiError::NotFound(format!("the series has no instance {instance}")).into()),
    }
}

/// The query string's pairs, decoded.
fn pairs(raw: Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    let raw = raw.unwrap_or_default();
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            percent_decode(&s.replace('+', " "))
                .ok_or_else(|| ApiError::invalid("query", "bad percent-encoding"))
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_of(raw: Option<String>) -> Result<Query, ApiError> {
    Query::parse(&pairs(raw)?).map_err(|e| ApiError::invalid(e.field, e.message))
}

fn json_answer(body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(DICOM_JSON));
    r
}

/// A search's answer: 200 with the page, or 204 when nothing matches (PS3.18 §10.6.3).
fn search_answer(results: Vec<Map<String, Value>>, q: &Query) -> Response {
    let total = results.len();
    let page: Vec<Value> = results
        .into_iter()
        .skip(q.offset)
        .take(q.limit)
        .map(Value::Object)
        .collect();
    if page.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let more = q.offset + page.len() < total;
    let mut r = json_answer(serde_json::to_vec(&page).unwrap_or_default());
    if more {
        r.headers_mut().insert(
            header::WARNING,
            HeaderValue::from_static(
                "299 medimint \"There are additional results that can be requested\"",
            ),
        );
    }
    r
}

fn retrieve_url(value: String) -> Value {
    json!({"vr": "UR", "Value": [value]})
}

fn availability() -> Value {
    json!({"vr": "CS", "Value": ["ONLINE"]})
}

/// A private block (group 0009, creator `MEDIMINT`) in each study's search answer: the
/// study's token id, so that an app that knows the token (the web app's viewer) finds its
/// Study Instance UID without carrying the UID in a URL.
const PRIVATE_CREATOR: &str = "00090010";
/// `(0009,1001) UL`: the study's token id.
const PRIVATE_TOKEN_ID: &str = "00091001";

fn study_record(index: &StudyIndex, base: &str) -> Map<String, Value> {
    let mut r = index.study_attrs();
    r.insert(
        PRIVATE_CREATOR.into(),
        json!({"vr": "LO", "Value": ["MEDIMINT"]}),
    );
    r.insert(
        PRIVATE_TOKEN_ID.into(),
        json!({"vr": "UL", "Value": [index.token]}),
    );
    r.insert(
        tags::RETRIEVE_URL.into(),
        retrieve_url(format!("{base}/studies/{}", index.study_uid)),
    );
    r.insert(tags::INSTANCE_AVAILABILITY.into(), availability());
    r
}

fn series_record(index: &StudyIndex, s: usize, base: &str) -> Map<String, Value> {
    let mut r = index.series_attrs(s);
    r.insert(
        tags::RETRIEVE_URL.into(),
        retrieve_url(format!(
            "{base}/studies/{}/series/{}",
            index.study_uid, index.series[s].uid
        )),
    );
    r
}

fn instance_record(index: &StudyIndex, i: usize, base: &str) -> Map<String, Value> {
    let inst = &index.instances[i];
    let mut r: Map<String, Value> = qido_pick(&inst.header, tags::INSTANCE_LEVEL);
    r.insert(
        tags::RETRIEVE_URL.into(),
        retrieve_url(format!(
            "{base}/studies/{}/series/{}/instances/{}",
            index.study_uid, index.series[inst.series].uid, inst.sop_instance_uid
        )),
    );
    r.insert(tags::INSTANCE_AVAILABILITY.into(), availability());
    r
}

fn qido_pick(header: &Map<String, Value>, wanted: &[&str]) -> Map<String, Value> {
    wanted
        .iter()
        .filter_map(|t| header.get(*t).map(|v| ((*t).to_owned(), v.clone())))
        .collect()
}

fn merged(parts: &[&Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for p in parts {
        for (k, v) in p.iter() {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

const STUDY_DEFAULTS: &[&str] = &[
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::ACCESSION_NUMBER,
    tags::INSTANCE_AVAILABILITY,
    tags::MODALITIES_IN_STUDY,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::RETRIEVE_URL,
    tags::STUDY_DESCRIPTION,
    tags::PATIENT_NAME,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::STUDY_INSTANCE_UID,
    tags::STUDY_ID,
    tags::NUMBER_OF_STUDY_RELATED_SERIES,
    tags::NUMBER_OF_STUDY_RELATED_INSTANCES,
    PRIVATE_CREATOR,
    PRIVATE_TOKEN_ID,
];

const SERIES_DEFAULTS: &[&str] = &[
    tags::MODALITY,
    tags::SERIES_DESCRIPTION,
    tags::BODY_PART_EXAMINED,
    tags::RETRIEVE_URL,
    tags::SERIES_INSTANCE_UID,
    tags::SERIES_NUMBER,
    tags::NUMBER_OF_SERIES_RELATED_INSTANCES,
];

const INSTANCE_DEFAULTS: &[&str] = &[
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::INSTANCE_AVAILABILITY,
    tags::RETRIEVE_URL,
    tags::INSTANCE_NUMBER,
    tags::ROWS,
    tags::COLUMNS,
    tags::BITS_ALLOCATED,
    tags::NUMBER_OF_FRAMES,
];

/// `GET /dicomweb/studies`: the caller's viewable studies that match.
pub async fn search_studies(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> DwResult<Response> {
    let q = query_of(raw)?;
    let email = holder_email(&state, &caller).await?;
    let studies = state
        .platform()?
        .viewable_studies(&email)
        .await
        .map_err(from_platform)?;
    let base = base(&state);
    let results = studies
        .iter()
        .filter_map(|s| {
            let record = study_record(s, &base);
            let first = s.instances.first().map(|i| &i.header);
            let empty = Map::new();
            let source = first.unwrap_or(&empty);
            q.matches(&merged(&[source, &record]))
                .then(|| q.project(&record, source, STUDY_DEFAULTS))
        })
        .collect();
    Ok(search_answer(results, &q))
}

/// `GET /dicomweb/studies/{study}/series`.
pub async fn search_series(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    RawQuery(raw): RawQuery,
) -> DwResult<Response> {
    let q = query_of(raw)?;
    let v = open(&state, &caller, &study).await?;
    let base = base(&state);
    let index = &v.index;
    let results = (0..index.series.len())
        .filter_map(|s| {
            let record = series_record(index, s, &base);
            let source = index.series[s]
                .instances
                .first()
                .map(|i| &index.instances[*i].header)
                .cloned()
                .unwrap_or_default();
            q.matches(&merged(&[&source, &record]))
                .then(|| q.project(&record, &source, SERIES_DEFAULTS))
        })
        .collect();
    Ok(search_answer(results, &q))
}

fn instance_search(
    v: &Viewing,
    series: Option<usize>,
    q: &Query,
    base: &str,
) -> Vec<Map<String, Value>> {
    let index = &v.index;
    let series_list: Vec<usize> = match series {
        Some(s) => vec![s],
        None => (0..index.series.len()).collect(),
    };
    let mut out = Vec::new();
    for s in series_list {
        let series_rec = series_record(index, s, base);
        for &i in &index.series[s].instances {
            let mut record = instance_record(index, i, base);
            if series.is_none() {
                for t in [
                    tags::SERIES_INSTANCE_UID,
                    tags::MODALITY,
                    tags::SERIES_NUMBER,
                ] {
                    if let Some(x) = series_rec.get(t) {
                        record.insert(t.to_owned(), x.clone());
                    }
                }
            }
            let source = &index.instances[i].header;
            if q.matches(&merged(&[source, &record])) {
                out.push(q.project(&record, source, INSTANCE_DEFAULTS));
            }
        }
    }
    out
}

/// `GET /dicomweb/studies/{study}/series/{series}/instances`.
pub async fn search_instances(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> DwResult<Response> {
    let q = query_of(raw)?;
    check_uid("series", &series)?;
    let v = open(&state, &caller, &study).await?;
    let s = series_of(&v, &series)?;
    let results = instance_search(&v, Some(s), &q, &base(&state));
    Ok(search_answer(results, &q))
}

/// `GET /dicomweb/studies/{study}/instances`.
pub async fn search_study_instances(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    RawQuery(raw): RawQuery,
) -> DwResult<Response> {
    let q = query_of(raw)?;
    let v = open(&state, &caller, &study).await?;
    let results = instance_search(&v, None, &q, &base(&state));
    Ok(search_answer(results, &q))
}

/// The metadata answer: the cached serialization with the base URL put in where
/// serde_json wrote the mark ([`BASE_MARK`], a control character, always escaped as
/// `\u0001`; DICOM text never holds one).
fn metadata_answer(state: &AppState, json: axum::body::Bytes) -> Response {
    const ESCAPED: &[u8] = b"\\u0001";
    debug_assert_eq!(BASE_MARK, "\u{1}");
    let base = base(state);
    let mut out = Vec::with_capacity(json.len() + 1024);
    let mut rest: &[u8] = &json;
    while let Some(at) = rest.windows(ESCAPED.len()).position(|w| w == ESCAPED) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(base.as_bytes());
        rest = &rest[at + ESCAPED.len()..];
    }
    out.extend_from_slice(rest);
    json_answer(out)
}

/// `GET /dicomweb/studies/{study}/metadata`.
pub async fn study_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
) -> DwResult<Response> {
    let v = open(&state, &caller, &study).await?;
    Ok(metadata_answer(&state, v.index.metadata_json(None)))
}

/// `GET /dicomweb/studies/{study}/series/{series}/metadata`.
pub async fn series_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
) -> DwResult<Response> {
    check_uid("series", &series)?;
    let v = open(&state, &caller, &study).await?;
    let s = series_of(&v, &series)?;
    let json = v.index.metadata_json(Some(&v.index.series[s].instances));
    Ok(metadata_answer(&state, json))
}

/// `GET /dicomweb/studies/{study}/series/{series}/instances/{instance}/metadata`.
pub async fn instance_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> DwResult<Response> {
    check_uid("series", &series)?;
    check_uid("instance", &instance)?;
    let v = open(&state, &caller, &study).await?;
    let i = instance_of(&v, &series, &instance)?;
    Ok(metadata_answer(&state, v.index.metadata_json(Some(&[i]))))
}

/// Streams instances `which` as `multipart/related; type="application/dicom"`.
async fn retrieve(v: Viewing, which: Vec<usize>, headers: &HeaderMap) -> DwResult<Response> {
    let accept = Accept::parse(headers);
    let wanted = accept
        .dicom_transfer_syntax()
        .map_err(DicomWebError::NotAcceptable)?;
    if let Some(ts) = wanted {
        // Only the stored bytes are served: every instance must already be in `ts`.
        for &i in &which {
            let stored = match v.platform.pixel_layout(&v.index, i).await {
                Ok(l) => Some(l.transfer_syntax.clone()),
                // Without pixel data (a report, a plan) the data set is served as stored.
                Err(ViewError::Frame(FrameError::NoPixelData | FrameError::Unsupported(_))) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(stored) = stored {
                if stored != ts {
                    return Err(DicomWebError::NotAcceptable(format!(
                        "instance {} is stored in transfer syntax {stored} and this service \
                         serves the stored bytes only; ask with transfer-syntax=* (or \
                         {stored})",
                        v.index.instances[i].sop_instance_uid
                    )));
                }
            }
        }
    }
    Ok(multipart::instances(v.platform, v.index, which))
}

/// `GET /dicomweb/studies/{study}`: every instance of the study.
pub async fn retrieve_study(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> DwResult<Response> {
    let v = open(&state, &caller, &study).await?;
    let which = v
        .index
        .series
        .iter()
        .flat_map(|s| s.instances.iter().copied())
        .collect();
    retrieve(v, which, &headers).await
}

/// `GET /dicomweb/studies/{study}/series/{series}`.
pub async fn retrieve_series(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
    headers: HeaderMap,
) -> DwResult<Response> {
    check_uid("series", &series)?;
    let v = open(&state, &caller, &study).await?;
    let s = series_of(&v, &series)?;
    let which = v.index.series[s].instances.clone();
    retrieve(v, which, &headers).await
}

/// `GET /dicomweb/studies/{study}/series/{series}/instances/{instance}`.
pub async fn retrieve_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> DwResult<Response> {
    check_uid("series", &series)?;
    check_uid("instance", &instance)?;
    let v = open(&state, &caller, &study).await?;
    let i = instance_of(&v, &series, &instance)?;
    retrieve(v, vec![i], &headers).await
}

/// Frame numbers from `1,2,5`.
fn frame_list(s: &str) -> Result<Vec<u32>, ApiError> {
    let list: Option<Vec<u32>> = s
        .split(',')
        .map(|n| n.trim().parse::<u32>().ok().filter(|n| *n > 0))
        .collect();
    match list {
        Some(l) if !l.is_empty() && l.len() <= MAX_FRAMES_ASKED => Ok(l),
        _ => Err(ApiError::invalid(
            "frames",
            format!(
                "expected frame numbers from 1, separated by commas (at most {MAX_FRAMES_ASKED})"
            ),
        )),
    }
}

/// `GET …/instances/{instance}/frames/{frames}`: the frames as stored (or decoded to
/// Explicit VR Little Endian when that is what is asked and a decoder is here).
pub async fn frames(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> DwResult<Response> {
    let numbers = frame_list(&list)?;
    check_uid("series", &series)?;
    check_uid("instance", &instance)?;
    let v = open(&state, &caller, &study).await?;
    let i = instance_of(&v, &series, &instance)?;
    let layout = v.platform.pixel_layout(&v.index, i).await?;
    let stored = layout.transfer_syntax.clone();
    let answer = Accept::parse(&headers)
        .frames(&stored, render::can_decode(&stored))
        .map_err(DicomWebError::NotAcceptable)?;
    let (_, mut bytes) = v.platform.frames(&v.index, i, &numbers).await?;
    let header = v.index.instances[i].header.clone();
    let (media_type, ts) = match answer {
        FrameAnswer::Stored { media_type } => {
            if stored == pixels::EXPLICIT_BE {
                let bits = medimint_platform::dicomweb::first_string(&header, tags::BITS_ALLOCATED)
                    .and_then(|b| b.parse::<u16>().ok())
                    .unwrap_or(8);
                if bits > 8 {
                    for f in &mut bytes {
                        for c in f.chunks_exact_mut(usize::from(bits / 8)) {
                            c.reverse();
                        }
                    }
                }
            }
            let ts = if pixels::is_native(&stored) {
                pixels::EXPLICIT_LE.to_owned()
            } else {
                stored.clone()
            };
            (media_type, ts)
        }
        FrameAnswer::Decoded => {
            let decoded = tokio::task::spawn_blocking(move || {
                bytes
                    .into_iter()
                    .map(|f| render::decode_native(&header, &stored, f))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?
            .map_err(ViewError::from)?;
            bytes = decoded;
            (
                "application/octet-stream".to_owned(),
                pixels::EXPLICIT_LE.to_owned(),
            )
        }
    };
    Ok(multipart::frames(bytes, &media_type, &ts))
}

/// Which frame a rendering shows, and how.
async fn rendered(
    state: &AppState,
    caller: &Caller,
    (study, series, instance): (&str, &str, &str),
    frame: u32,
    raw: Option<String>,
    headers: &HeaderMap,
    thumbnail: bool,
) -> DwResult<Response> {
    let pairs = pairs(raw)?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let options = RenderOptions::parse(get("window"), get("viewport"), get("quality"))
        .map_err(ViewError::from)?;
    let format = Accept::parse(headers)
        .image()
        .map_err(DicomWebError::NotAcceptable)?;
    check_uid("series", series)?;
    check_uid("instance", instance)?;
    let v = open(state, caller, study).await?;
    let i = instance_of(&v, series, instance)?;
    image_answer(&v, i, frame, format, &options, thumbnail).await
}

async fn image_answer(
    v: &Viewing,
    i: usize,
    frame: u32,
    format: ImageFormat,
    options: &RenderOptions,
    thumbnail: bool,
) -> DwResult<Response> {
    let image = v
        .platform
        .render_frame(&v.index, i, frame, format, options, thumbnail)
        .await?;
    let mut r = Body::from(image).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    Ok(r)
}

/// The one frame of a `frames/{n}/rendered` path.
fn one_frame(list: &str) -> Result<u32, ApiError> {
    match frame_list(list)?.as_slice() {
        [n] => Ok(*n),
        _ => Err(ApiError::invalid(
            "frames",
            "a rendered frame is one frame number",
        )),
    }
}

/// `GET …/instances/{instance}/rendered`: the first frame as JPEG or PNG.
pub async fn instance_rendered(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> DwResult<Response> {
    rendered(
        &state,
        &caller,
        (&study, &series, &instance),
        1,
        raw,
        &headers,
        false,
    )
    .await
}

/// `GET …/instances/{instance}/thumbnail`.
pub async fn instance_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> DwResult<Response> {
    rendered(
        &state,
        &caller,
        (&study, &series, &instance),
        1,
        raw,
        &headers,
        true,
    )
    .await
}

/// `GET …/frames/{frame}/rendered`.
pub async fn frames_rendered(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> DwResult<Response> {
    let frame = one_frame(&list)?;
    rendered(
        &state,
        &caller,
        (&study, &series, &instance),
        frame,
        raw,
        &headers,
        false,
    )
    .await
}

/// `GET …/frames/{frame}/thumbnail`.
pub async fn frames_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> DwResult<Response> {
    let frame = one_frame(&list)?;
    rendered(
        &state,
        &caller,
        (&study, &series, &instance),
        frame,
        raw,
        &headers,
        true,
    )
    .await
}

/// A series' thumbnail: its middle instance's first frame.
async fn thumbnail_of(v: &Viewing, s: usize, headers: &HeaderMap) -> DwResult<Response> {
    let format = Accept::parse(headers)
        .image()
        .map_err(DicomWebError::NotAcceptable)?;
    let list = &v.index.series[s].instances;
    let i = list[list.len() / 2];
    image_answer(v, i, 1, format, &RenderOptions::default(), true).await
}

/// `GET /dicomweb/studies/{study}/series/{series}/thumbnail`.
pub async fn series_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
    headers: HeaderMap,
) -> DwResult<Response> {
    check_uid("series", &series)?;
    let v = open(&state, &caller, &study).await?;
    let s = series_of(&v, &series)?;
    thumbnail_of(&v, s, &headers).await
}

/// `GET /dicomweb/studies/{study}/thumbnail`: the first series' thumbnail.
pub async fn study_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> DwResult<Response> {
    let v = open(&state, &caller, &study).await?;
    thumbnail_of(&v, 0, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lists_and_uids_are_checked() {
        assert_eq!(frame_list("1,3, 2").unwrap(), vec![1, 3, 2]);
        for bad in ["", "0", "1,,2", "a", "-1"] {
            assert!(frame_list(bad).is_err(), "{bad}");
        }
        assert!(check_uid("study", "1.2.840.10008").is_ok());
        for bad in ["", "1.2.x", "../etc", &"1".repeat(65)] {
            assert!(check_uid("study", bad).is_err(), "{bad}");
        }
        assert_eq!(
            pairs(Some("PatientName=DOE%5EJ*&limit=2&includefield=a,b".into())).unwrap(),
            vec![
                ("PatientName".to_owned(), "DOE^J*".to_owned()),
                ("limit".to_owned(), "2".to_owned()),
                ("includefield".to_owned(), "a,b".to_owned()),
            ]
        );
        assert!(pairs(Some("a=%zz".into())).is_err());
    }
}
