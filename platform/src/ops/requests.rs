//! Records requests: a trusted issuer asks an institution that is not enrolled for a
//! patient's records (docs/records-requests.md).
//!
//! - The issuer names the patient (email, name, birth date, id), what is requested and a
//!   deadline. The request (PHI) is kept in object storage only, under
//!   `requests/<issuer>/<id>/request.json`, like an API release's manifest draft; the
//!   database holds its id, its issuer, hashes and times.
//! - The institution gets a link (the request id and a secret) and, separately, an access
//!   code (10 characters, at least 8 as the rule asks): both are stored as keyed hashes. The
//!   code is single use, ends at the deadline and locks after [`MAX_CODE_FAILURES`] wrong
//!   tries. Opening with both hands out an upload token (stored hashed) that lives until the
//!   deadline.
//! - The upload is an API release by the requesting issuer whose id is the request's id
//!   (`rr-…`): the same upload URLs and the same ingest (every header checked against the
//!   patient), released to the patient pending consent with the requesting issuer as issuer.
//! - On chain: the request's creation (`request_records`, with the patient's address) and
//!   fulfilment (`fulfill_records_request`, with the token), as events without PHI (the
//!   request's 32 random bytes), through [`Platform::request_event`]. The ingest runs apart
//!   from the API, so the fulfilment is recorded when the issuer next reads the request
//!   after its release ([`Platform::records_request`]).

use std::time::Duration;

use medimint_ingest::manifest::{ListedFile, Manifest, Patient, MAX_FILES};
use medimint_storage::{KvExpect, StorageError};
use serde::Deserialize;

use super::links::{random_code, same_digest};
use super::*;
use crate::uploads::{ReleaseState, StartedRelease};

/// Wrong access codes after which a request is locked.
pub const MAX_CODE_FAILURES: u32 = 5;
/// Longest a request may stay open (180 days).
pub const MAX_REQUEST_SECONDS: u64 = 180 * 24 * 3600;
/// Most files one records request's upload may hold (one batch of upload URLs).
pub const MAX_REQUEST_FILES: usize = 1_000;
const RECORD: &str = "records-request";
const INDEX: &str = "records-requests";
const REQUESTS: &str = "requests";

/// What an issuer asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordsRequestSpec {
    /// The patient the records are about (and whom they are released to).
    pub patient: PatientSpec,
    /// What is requested, in words (e.g. "CT abdomen, March 2025").
    pub requested: String,
    /// The institution asked (its name, for the issuer's list).
    pub institution: String,
    /// Unix seconds after which the link and code no longer work.
    pub deadline: u64,
}

/// A request as its issuer sees it (no PHI: the patient is not repeated here).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsRequestView {
    /// The request id (`rr-` and 32 hex digits); also the release's id.
    pub id: String,
    /// The requesting issuer.
    pub issuer: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which the link and code stop working.
    pub deadline: u64,
    /// `awaiting_institution` (code not used yet), `opened` (the institution is uploading),
    /// `submitted` (uploaded; the ingest runs), `expired`, `locked` (5 wrong codes).
    pub status: String,
    /// When the institution opened it with the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<u64>,
    /// When the upload was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<u64>,
    /// The token its release became, once recorded on chain as the request's fulfilment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilled_token: Option<u32>,
}

/// A new request: the view and the secrets shown once.
#[derive(Debug, Clone)]
pub struct NewRecordsRequest {
    /// The request.
    pub request: RecordsRequestView,
    /// The link's secret (64 hex digits), which travels in the link.
    pub secret: String,
    /// The access code, given separately.
    pub code: String,
}

/// What an institution sees after opening a request with its code (PHI: it must find the
/// records; never log it).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenedRequest {
    /// The request id.
    pub id: String,
    /// The upload token for this request's upload calls (shown once).
    pub upload_token: String,
    /// The patient (family name, given names, birth date, id).
    pub patient_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// The patient id / MRN the issuer knows.
    pub patient_id: String,
    /// What is requested.
    pub requested: String,
    /// Unix seconds: upload before this.
    pub deadline: u64,
}

/// A chain event of a records request (no PHI: the random id, addresses, a token id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// The issuer created it for the patient at this address.
    Created {
        /// The patient's address.
        patient: String,
    },
    /// Its release became this token.
    Fulfilled {
        /// The token.
        token_id: u32,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RequestRecord {
    id: String,
    issuer: String,
    secret_hash: String,
    code_hash: String,
    created_at: u64,
    deadline: u64,
    failures: u32,
    opened_at: Option<u64>,
    upload_hash: Option<String>,
    submitted_at: Option<u64>,
    #[serde(default)]
    fulfilled_token: Option<u32>,
}

impl RequestRecord {
    fn status(&self, now: u64) -> &'static str {
        if self.submitted_at.is_some() {
            "submitted"
        } else if self.failures >= MAX_CODE_FAILURES {
            "locked"
        } else if now >= self.deadline {
            "expired"
        } else if self.opened_at.is_some() {
            "opened"
        } else {
            "awaiting_institution"
        }
    }

    fn view(&self, now: u64) -> RecordsRequestView {
        RecordsRequestView {
            id: self.id.clone(),
            issuer: self.issuer.clone(),
            created_at: self.created_at,
            deadline: self.deadline,
            status: self.status(now).to_owned(),
            opened_at: self.opened_at,
            submitted_at: self.submitted_at,
            fulfilled_token: self.fulfilled_token,
        }
    }
}

fn record_key(id: &str) -> String {
    format!("{RECORD}:{id}")
}

fn index_key(issuer: &str) -> String {
    format!("{INDEX}:{issuer}")
}

fn spec_key(issuer: &str, id: &str) -> String {
    format!("{REQUESTS}/{issuer}/{id}/request.json")
}

/// A request id: `rr-` and 64 hex digits (the 32 random bytes that go on chain).
pub fn check_request_id(id: &str) -> Result<(), PlatformError> {
    request_bytes(id).map(|_| ())
}

fn request_bytes(id: &str) -> Result<[u8; 32], PlatformError> {
    id.strip_prefix("rr-")
        .filter(|h| h.len() == 64)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| PlatformError::InvalidInput {
            field: "id",
            message: "a request id is `rr-` and 64 hex digits".into(),
        })
}

/// Whether a simulation failed because the contract has no such function.
fn missing_function(message: &str) -> bool {
    message.contains("non-existent contract function") || message.contains("MissingValue")
}

fn check_spec(spec: &RecordsRequestSpec, now: u64) -> Result<(), PlatformError> {
    let bad = |field: &'static str, message: &str| {
        Err(PlatformError::InvalidInput {
            field,
            message: message.to_owned(),
        })
    };
    let p = &spec.patient;
    if !p.email.contains('@') || p.email.len() > 254 {
        return bad("patient.email", "give the patient's email address");
    }
    for (field, value) in [
        ("patient.family_name", &p.family_name),
        ("patient.given_names", &p.given_names),
        ("patient.patient_id", &p.patient_id),
    ] {
        if value.trim().is_empty() || value.len() > 64 {
            return bad(field, "give 1 to 64 characters, as in the DICOM headers");
        }
    }
    let d = p.birth_date.as_bytes();
    let date_ok = d.len() == 10
        && d[4] == b'-'
        && d[7] == b'-'
        && d.iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !date_ok {
        return bad("patient.birth_date", "give the birth date as YYYY-MM-DD");
    }
    if spec.requested.trim().is_empty() || spec.requested.len() > 1000 {
        return bad(
            "requested",
            "say what is requested, in 1 to 1,000 characters",
        );
    }
    if spec.institution.trim().is_empty() || spec.institution.len() > 200 {
        return bad(
            "institution",
            "name the institution, in 1 to 200 characters",
        );
    }
    if spec.deadline <= now || spec.deadline > now + MAX_REQUEST_SECONDS {
        return bad(
            "deadline",
            "give a time in the future, at most 180 days ahead (Unix seconds)",
        );
    }
    Ok(())
}

impl Platform {
    /// Records a request's creation or fulfilment on chain, without PHI: the request's 32
    /// random bytes, the issuer, the patient's address (creation) or the token (fulfilment),
    /// signed with the issuer's custodial key. The one place that wires the contract's
    /// `request_records` and `fulfill_records_request`.
    ///
    /// # Errors
    /// The issuer's key is not the platform's (a wallet issuer); contract refusals.
    pub async fn request_event(
        &self,
        issuer: &str,
        id: &str,
        event: RequestEvent,
    ) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let request_id = request_bytes(id)?;
        let account = self
            .db
            .account_by_address(issuer)
            .await
            .map_err(storage("reading the issuer's account"))?;
        let signer = match account.and_then(|a| a.hd_index) {
            Some(i) => self.operator(i)?,
            None => {
                return Err(PlatformError::Forbidden(format!(
                    "the issuer {issuer} signs with its own wallet; records requests are recorded \
                     with the platform's custodial issuer keys only"
                )))
            }
        };
        let client = self.token_client(&d);
        let landed = match &event {
            RequestEvent::Created { patient } => {
                client
                    .request_records(
                        &format!("records-request/{id}"),
                        signer.signing_key(),
                        &request_id,
                        Some(patient.as_str()),
                    )
                    .await
            }
            RequestEvent::Fulfilled { token_id } => {
                client
                    .fulfill_records_request(
                        &format!("records-request-fulfilled/{id}"),
                        signer.signing_key(),
                        &request_id,
                        *token_id,
                    )
                    .await
            }
        };
        match landed {
            Ok(_) => {}
            // A study token deployed before these functions (its upgrade is pending): the
            // request works off chain, and says so in the log.
            Err(medimint_chain::Error::Simulation(m)) if missing_function(&m) => {
                tracing::warn!(
                    request = %id,
                    event = ?event,
                    "the deployed study token has no records-request functions yet (upgrade \
                     the suite); the event is not on chain"
                );
            }
            Err(e) => return Err(chain(format!("recording records request {id} on chain"))(e)),
        }
        Ok(())
    }

    async fn request_record(
        &self,
        id: &str,
    ) -> Result<Option<(RequestRecord, u64)>, PlatformError> {
        let Some(r) = self
            .db
            .kv_get(&record_key(id))
            .await
            .map_err(storage("reading the records request"))?
        else {
            return Ok(None);
        };
        let record = serde_json::from_str(&r.value).map_err(|e| {
            PlatformError::Invalid(format!("a stored records request does not parse: {e}"))
        })?;
        Ok(Some((record, r.version)))
    }

    async fn put_request(
        &self,
        record: &RequestRecord,
        expect: KvExpect,
    ) -> Result<(), StorageError> {
        let text =
            serde_json::to_string(record).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        self.db
            .kv_put(&record_key(&record.id), &text, expect, None)
            .await
            .map(|_| ())
    }

    async fn request_spec(
        &self,
        record: &RequestRecord,
    ) -> Result<RecordsRequestSpec, PlatformError> {
        let bytes = self
            .store
            .get_bytes(&spec_key(&record.issuer, &record.id), 64 * 1024)
            .await
            .map_err(storage("reading the records request"))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| PlatformError::Invalid("the stored records request does not parse".into()))
    }

    /// `issuer` (an active issuer the caller checked) asks for a patient's records.
    ///
    /// # Errors
    /// A field that breaks a rule ([`PlatformError::InvalidInput`] naming it); storage.
    pub async fn create_records_request(
        &self,
        issuer: &str,
        spec: &RecordsRequestSpec,
        now: u64,
    ) -> Result<NewRecordsRequest, PlatformError> {
        check_spec(spec, now)?;
        let id = format!("rr-{}", hex::encode(rand::random::<[u8; 32]>()));
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let code = random_code(10);
        let mut spec = spec.clone();
        spec.patient.email = normalize_email(&spec.patient.email);
        // On chain first: an issuer the registry does not trust is refused before anything
        // is stored.
        let patient = self
            .ensure_custodial_account(&spec.patient.email)
            .await?
            .address;
        self.request_event(issuer, &id, RequestEvent::Created { patient })
            .await?;
        let bytes = serde_json::to_vec(&spec).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        self.store
            .put_bytes(&spec_key(issuer, &id), Bytes::from(bytes))
            .await
            .map_err(storage("storing the records request"))?;
        let record = RequestRecord {
            secret_hash: self.keyed_digest("records-request-secret", &secret),
            code_hash: self.keyed_digest(&format!("records-request-code/{id}"), &code),
            id: id.clone(),
            issuer: issuer.to_owned(),
            created_at: now,
            deadline: spec.deadline,
            failures: 0,
            opened_at: None,
            upload_hash: None,
            submitted_at: None,
            fulfilled_token: None,
        };
        self.put_request(&record, KvExpect::Absent)
            .await
            .map_err(storage("recording the records request"))?;
        self.add_request_id(issuer, &id).await?;
        tracing::info!(request = %id, "records request created");
        Ok(NewRecordsRequest {
            request: record.view(now),
            secret,
            code,
        })
    }

    async fn add_request_id(&self, issuer: &str, id: &str) -> Result<(), PlatformError> {
        for _ in 0..8 {
            let current = self
                .db
                .kv_get(&index_key(issuer))
                .await
                .map_err(storage("reading the issuer's records requests"))?;
            let (mut ids, expect): (Vec<String>, _) = match &current {
                Some(r) => (
                    serde_json::from_str(&r.value).unwrap_or_default(),
                    KvExpect::Version(r.version),
                ),
                None => (Vec::new(), KvExpect::Absent),
            };
            ids.push(id.to_owned());
            let text = serde_json::to_string(&ids).unwrap_or_default();
            match self
                .db
                .kv_put(&index_key(issuer), &text, expect, None)
                .await
            {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(storage("listing the records request")(e)),
            }
        }
        Err(PlatformError::Conflict(
            "the issuer's records requests changed concurrently; retry".into(),
        ))
    }

    /// `issuer`'s records requests, newest first (at most `limit`).
    ///
    /// # Errors
    /// Storage.
    pub async fn records_requests(
        &self,
        issuer: &str,
        now: u64,
        limit: usize,
    ) -> Result<Vec<RecordsRequestView>, PlatformError> {
        let ids: Vec<String> = match self
            .db
            .kv_get(&index_key(issuer))
            .await
            .map_err(storage("reading the issuer's records requests"))?
        {
            Some(r) => serde_json::from_str(&r.value).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for id in ids.iter().rev().take(limit) {
            if let Some((r, _)) = self.request_record(id).await? {
                out.push(r.view(now));
            }
        }
        Ok(out)
    }

    /// `issuer`'s request `id` and, once submitted, its release's state.
    ///
    /// # Errors
    /// Not this issuer's ([`PlatformError::NotFound`]).
    pub async fn records_request(
        &self,
        issuer: &str,
        id: &str,
        now: u64,
    ) -> Result<(RecordsRequestView, Option<ReleaseState>), PlatformError> {
        check_request_id(id)?;
        let record = match self.request_record(id).await? {
            Some((r, _)) if r.issuer == issuer => r,
            _ => return Err(PlatformError::NotFound(format!("no records request {id}"))),
        };
        let release = if record.submitted_at.is_some() {
            Some(self.release_state(issuer, id).await?)
        } else {
            None
        };
        let released = release
            .as_ref()
            .and_then(|r| r.token_id.as_deref())
            .and_then(|t| t.parse::<u32>().ok());
        let mut record = record;
        if let (Some(token_id), None) = (released, record.fulfilled_token) {
            self.record_fulfilment(id, token_id).await?;
            record.fulfilled_token = Some(token_id);
        }
        Ok((record.view(now), release))
    }

    /// The institution opens request `id` with the link's `secret` and the access `code`
    /// (single use): an upload token until the deadline, and what to upload.
    ///
    /// # Errors
    /// Unknown link ([`PlatformError::NotFound`]); expired, locked or already opened
    /// ([`PlatformError::Forbidden`]); a wrong code ([`PlatformError::InvalidInput`] on
    /// `code`, with the tries left).
    pub async fn open_records_request(
        &self,
        id: &str,
        secret: &str,
        code: &str,
        now: u64,
    ) -> Result<OpenedRequest, PlatformError> {
        let unknown = || {
            PlatformError::NotFound(
                "no such records request; check that the whole link was copied".into(),
            )
        };
        if check_request_id(id).is_err() || secret.len() != 64 || code.len() > 64 {
            return Err(unknown());
        }
        for _ in 0..8 {
            let Some((mut record, version)) = self.request_record(id).await? else {
                return Err(unknown());
            };
            if !same_digest(
                &self.keyed_digest("records-request-secret", secret),
                &record.secret_hash,
            ) {
                return Err(unknown());
            }
            match record.status(now) {
                "locked" => {
                    return Err(PlatformError::Forbidden(format!(
                        "this request is locked after {MAX_CODE_FAILURES} wrong access codes; \
                         ask the requester for a new one"
                    )))
                }
                "expired" => {
                    return Err(PlatformError::Forbidden(
                        "this request's deadline has passed; ask the requester for a new one"
                            .into(),
                    ))
                }
                "opened" | "submitted" => {
                    return Err(PlatformError::Forbidden(
                        "this access code was used already (it works once); continue with the \
                         upload token you were given, or ask the requester for a new request"
                            .into(),
                    ))
                }
                _ => {}
            }
            let code = code.trim().to_uppercase();
            let good = same_digest(
                &self.keyed_digest(&format!("records-request-code/{id}"), &code),
                &record.code_hash,
            );
            let token = hex::encode(rand::random::<[u8; 32]>());
            if good {
                record.opened_at = Some(now);
                record.upload_hash = Some(self.keyed_digest("records-request-upload", &token));
            } else {
                record.failures += 1;
            }
            match self.put_request(&record, KvExpect::Version(version)).await {
                Ok(()) => {}
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(storage("recording the opening")(e)),
            }
            if !good {
                let left = MAX_CODE_FAILURES.saturating_sub(record.failures);
                tracing::warn!(request = %id, left, "wrong records-request access code");
                return Err(PlatformError::InvalidInput {
                    field: "code",
                    message: if left == 0 {
                        format!("wrong access code; the request is now locked after {MAX_CODE_FAILURES} wrong tries")
                    } else {
                        format!("wrong access code; {left} tries left before the request locks")
                    },
                });
            }
            let spec = self.request_spec(&record).await?;
            tracing::info!(request = %id, "records request opened");
            return Ok(OpenedRequest {
                id: record.id,
                upload_token: token,
                patient_name: format!("{}^{}", spec.patient.family_name, spec.patient.given_names),
                birth_date: spec.patient.birth_date,
                patient_id: spec.patient.patient_id,
                requested: spec.requested,
                deadline: record.deadline,
            });
        }
        Err(PlatformError::Conflict(
            "the request is being opened concurrently; retry".into(),
        ))
    }

    /// The request `id` if `upload_token` is its live upload token.
    async fn uploading(
        &self,
        id: &str,
        upload_token: &str,
        now: u64,
    ) -> Result<RequestRecord, PlatformError> {
        let refused = || {
            PlatformError::Forbidden(
                "this upload token is not valid for this request; open the request again with \
                 its link and access code"
                    .into(),
            )
        };
        check_request_id(id)?;
        let Some((record, _)) = self.request_record(id).await? else {
            return Err(PlatformError::NotFound(format!("no records request {id}")));
        };
        let good = record.upload_hash.as_deref().is_some_and(|h| {
            same_digest(
                &self.keyed_digest("records-request-upload", upload_token),
                h,
            )
        });
        if !good {
            return Err(refused());
        }
        if now >= record.deadline && record.submitted_at.is_none() {
            return Err(PlatformError::Forbidden(
                "this request's deadline has passed; ask the requester for a new one".into(),
            ));
        }
        Ok(record)
    }

    /// Starts (or resumes) the institution's upload: an API release by the requesting
    /// issuer whose id is the request's, naming the request's patient, with `files`.
    ///
    /// # Errors
    /// A bad token ([`PlatformError::Forbidden`]); bad files ([`PlatformError::InvalidInput`]
    /// on `files`); as [`Platform::start_release`].
    pub async fn start_request_upload(
        &self,
        id: &str,
        upload_token: &str,
        files: Vec<(String, u64)>,
        study_instance_uid: Option<String>,
        expires_in: Duration,
        now: u64,
    ) -> Result<(String, StartedRelease), PlatformError> {
        let record = self.uploading(id, upload_token, now).await?;
        if files.is_empty() || files.len() > MAX_REQUEST_FILES.min(MAX_FILES) {
            return Err(PlatformError::InvalidInput {
                field: "files",
                message: format!("list 1 to {MAX_REQUEST_FILES} files"),
            });
        }
        let spec = self.request_spec(&record).await?;
        let p = spec.patient;
        let manifest = Manifest {
            version: 1,
            patient: Patient {
                email: p.email,
                family_name: p.family_name,
                given_names: p.given_names,
                middle_names: None,
                prefix: None,
                suffix: None,
                birth_date: p.birth_date,
                patient_id: p.patient_id,
            },
            study_instance_uid,
            files: files
                .into_iter()
                .map(|(path, size)| ListedFile { path, size })
                .collect(),
        };
        let started = self
            .start_release(&record.issuer, id, &manifest, MAX_REQUEST_FILES, expires_in)
            .await?;
        Ok((record.issuer, started))
    }

    /// Completes the institution's upload: the release's manifest is written (the ingest
    /// starts) and the fulfilment recorded.
    ///
    /// # Errors
    /// A bad token; files missing (as [`Platform::complete_release`]).
    pub async fn complete_request_upload(
        &self,
        id: &str,
        upload_token: &str,
        now: u64,
    ) -> Result<ReleaseState, PlatformError> {
        let record = self.uploading(id, upload_token, now).await?;
        let state = self.complete_release(&record.issuer, id).await?;
        if record.submitted_at.is_none() {
            for _ in 0..8 {
                let Some((mut fresh, version)) = self.request_record(id).await? else {
                    break;
                };
                if fresh.submitted_at.is_some() {
                    break;
                }
                fresh.submitted_at = Some(now);
                match self.put_request(&fresh, KvExpect::Version(version)).await {
                    Ok(()) => break,
                    Err(StorageError::Conflict(_)) => continue,
                    Err(e) => return Err(storage("recording the fulfilment")(e)),
                }
            }
        }
        Ok(state)
    }

    /// Records on chain that request `id` was released as `token_id` (once; the ingest runs
    /// apart from the API, so this happens when the issuer next looks at the request).
    async fn record_fulfilment(&self, id: &str, token_id: u32) -> Result<(), PlatformError> {
        for _ in 0..8 {
            let Some((mut record, version)) = self.request_record(id).await? else {
                return Ok(());
            };
            if record.fulfilled_token.is_some() {
                return Ok(());
            }
            match self
                .request_event(&record.issuer, id, RequestEvent::Fulfilled { token_id })
                .await
            {
                Ok(()) => {}
                // Recorded by an earlier call whose database write was lost.
                Err(e) if matches!(e.contract_error(), Some((_, "RequestFulfilled"))) => {}
                Err(e) => return Err(e),
            }
            record.fulfilled_token = Some(token_id);
            match self.put_request(&record, KvExpect::Version(version)).await {
                Ok(()) => return Ok(()),
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(storage("recording the fulfilment")(e)),
            }
        }
        Ok(())
    }

    /// The issuer of request `id` (for the upload URLs of its release).
    ///
    /// # Errors
    /// A bad token.
    pub async fn request_issuer(
        &self,
        id: &str,
        upload_token: &str,
        now: u64,
    ) -> Result<String, PlatformError> {
        Ok(self.uploading(id, upload_token, now).await?.issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(now: u64) -> RecordsRequestSpec {
        RecordsRequestSpec {
            patient: PatientSpec {
                email: "jane@example.org".into(),
                family_name: "DOE".into(),
                given_names: "JANE".into(),
                birth_date: "1980-01-02".into(),
                patient_id: "MRN-7".into(),
            },
            requested: "CT abdomen".into(),
            institution: "Valley Imaging".into(),
            deadline: now + 86_400,
        }
    }

    #[test]
    fn specs_name_the_bad_field() {
        let now = 1_000_000;
        assert!(check_spec(&spec(now), now).is_ok());
        let field = |s: RecordsRequestSpec| match check_spec(&s, now) {
            Err(PlatformError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut s = spec(now);
        s.patient.email = "nope".into();
        assert_eq!(field(s), "patient.email");
        let mut s = spec(now);
        s.patient.birth_date = "02/01/1980".into();
        assert_eq!(field(s), "patient.birth_date");
        let mut s = spec(now);
        s.deadline = now;
        assert_eq!(field(s), "deadline");
        let mut s = spec(now);
        s.requested = " ".into();
        assert_eq!(field(s), "requested");
        assert!(check_request_id(&format!("rr-{}", "a".repeat(64))).is_ok());
        assert!(check_request_id(&format!("rr-{}", "a".repeat(32))).is_err());
        assert!(check_request_id("rr-../../x").is_err());
    }
}
