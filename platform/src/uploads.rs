//! Releases through the HTTP API: an issuer states what it will upload (the manifest's
//! content), uploads each file to its own URL, then completes the release; completing
//! writes `release.json` LAST into `inbox/<issuer>/<release-id>/`, which starts the same
//! ingest pipeline as a PACS export (the S3 notification in AWS, the watched inbox under
//! `medimint up`).
//!
//! - [`Platform::start_release`] claims the release id for the issuer in the database
//!   (conditional write: one manifest per id; the same manifest again is a retry), keeps the
//!   manifest as a draft under `drafts/<issuer>/<release-id>/release.json` and returns one
//!   upload per file: a presigned PUT where the store has them (S3), else `None`, and the
//!   host serves its own signed URL ([`Platform::accept_upload`] then writes the body).
//! - [`Platform::complete_release`] checks that every listed file is in the inbox with its
//!   size, then copies the draft to the inbox's `release.json`.
//! - [`Platform::release_state`] and [`Platform::list_releases`] tell where a release
//!   stands, with a refused release's report read from `quarantine/`.
//!
//! Everything is keyed by the issuer's address: one issuer never reaches another's release.
//! The manifest (PHI) lives only in object storage; the database holds its fingerprint.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use medimint_ingest::layout::parse_manifest_key;
use medimint_ingest::listing;
use medimint_ingest::manifest::{parse_manifest, Manifest, MAX_MANIFEST_BYTES};
use medimint_ingest::{ReleaseRef, Report};
use medimint_storage::{KvExpect, PresignedRequest, ReleaseStatus, StorageError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

use crate::{storage, Platform, PlatformError};

/// Where drafts of API releases wait for their completion.
const DRAFTS: &str = "drafts";
/// Database key prefix of an API release's claim (`api-release:<issuer>:<release-id>`).
const CLAIM: &str = "api-release";
/// Most releases one page of [`Platform::list_releases`] holds.
pub const MAX_RELEASE_PAGE: usize = 50;

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpload {
    /// Its position in the manifest's `files`.
    pub index: usize,
    /// Its path as listed.
    pub path: String,
    /// The object key it goes to.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether an object of that size is there already (a retry may skip it).
    pub uploaded: bool,
    /// The store's presigned PUT, or `None` when the host must serve the upload itself.
    pub presigned: Option<PresignedRequest>,
}

/// A started release and a batch of its uploads.
#[derive(Debug, Clone)]
pub struct StartedRelease {
    /// The release.
    pub release: ReleaseRef,
    /// Whether this call started it (`false`: a retry with the same manifest).
    pub created: bool,
    /// How many files the manifest lists.
    pub files: usize,
    /// The uploads of this batch.
    pub uploads: Vec<PlannedUpload>,
}

/// Where a release stands, as its issuer sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseState {
    /// The release id.
    pub release_id: String,
    /// `awaiting_upload` (started, not completed), `submitted` (manifest written, waiting
    /// for the pipeline), `processing`, `refused` (see `refusal`) or `released` (the token
    /// exists, pending the patient's consent).
    pub status: String,
    /// Files the manifest lists (when it is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// Files already in the inbox with their stated size (while `awaiting_upload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<usize>,
    /// The study token, once proposed on chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// Why the release was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// When it was started through the API (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// When the pipeline last moved it (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
}

/// A refused release's report (from `quarantine/<issuer>/<release-id>/report.json`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    /// The report in words, one problem a line.
    pub text: String,
    /// Each problem: its code, the file and field concerned, and a sentence.
    pub problems: Vec<RefusalProblem>,
}

/// One problem of a refusal report. Never echoes a value of the manifest or the headers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefusalProblem {
    /// Stable code (`name_mismatch`, `not_dicom`, `release_id_reused`, …; docs/ingest.md).
    pub code: String,
    /// The file concerned, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The manifest field (JSON path) or DICOM attribute concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A page of an issuer's releases, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleasePage {
    /// The releases.
    pub items: Vec<ReleaseState>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The database's record of an API release (no PHI: the manifest's fingerprint only).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    fingerprint: String,
    files: usize,
    started_at: u64,
}

fn claim_key(release: &ReleaseRef) -> String {
    format!("{CLAIM}:{}:{}", release.issuer, release.release_id)
}

fn draft_key(release: &ReleaseRef) -> String {
    format!(
        "{DRAFTS}/{}/{}/release.json",
        release.issuer, release.release_id
    )
}

/// The manifest's canonical bytes and their fingerprint (as the pipeline computes it).
fn canonical(manifest: &Manifest) -> Result<(Vec<u8>, String), PlatformError> {
    let bytes = serde_json::to_vec(manifest).map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(b"medimint release manifest v1\0");
    h.update(&bytes);
    Ok((bytes, hex::encode(h.finalize())))
}

/// The release named by an issuer and a release id, checked.
///
/// # Errors
/// [`PlatformError::InvalidInput`] (`release_id`) for an id outside `[A-Za-z0-9._-]{1,128}`.
pub fn release_ref(issuer: &str, release_id: &str) -> Result<ReleaseRef, PlatformError> {
    let release = ReleaseRef {
        issuer: issuer.to_owned(),
        release_id: release_id.to_owned(),
    };
    parse_manifest_key(&release.manifest_key()).map_err(|message| PlatformError::InvalidInput {
        field: "release_id",
        message,
    })
}

fn now() -> u64 {
    medimint_storage::now()
}

impl Platform {
    async fn claim(&self, release: &ReleaseRef) -> Result<Option<(Claim, u64)>, PlatformError> {
        let Some(record) = self
            .db
            .kv_get(&claim_key(release))
            .await
            .map_err(storage("reading the release's record"))?
        else {
            return Ok(None);
        };
        let claim: Claim =
            serde_json::from_str(&record.value).map_err(|e| PlatformError::Storage {
                step: "reading the release's record",
                source: StorageError::Corrupt(e.to_string()),
            })?;
        Ok(Some((claim, record.version)))
    }

    /// Whether the release went past its upload: its manifest is in the inbox, or the
    /// pipeline has a record of it.
    async fn submitted(&self, release: &ReleaseRef) -> Result<bool, PlatformError> {
        if self
            .db
            .get_release(&release.issuer, &release.release_id)
            .await
            .map_err(storage("reading the release"))?
            .is_some()
        {
            return Ok(true);
        }
        Ok(self
            .store
            .head(&release.manifest_key())
            .await
            .map_err(storage("looking for the manifest"))?
            .is_some())
    }

    /// Starts a release through the API for `issuer` (a trusted issuer the caller checked)
    /// or resumes it: the same manifest under the same id again is a retry that returns fresh
    /// URLs. Returns the uploads of files `from..from+batch`.
    ///
    /// # Errors
    /// `release_id` malformed ([`PlatformError::InvalidInput`]); the id already used for
    /// another manifest, by an inbox export, or completed ([`PlatformError::Conflict`]);
    /// storage failures.
    pub async fn start_release(
        &self,
        issuer: &str,
        release_id: &str,
        manifest: &Manifest,
        batch: usize,
        expires_in: Duration,
    ) -> Result<StartedRelease, PlatformError> {
        let release = release_ref(issuer, release_id)?;
        let (bytes, fingerprint) = canonical(manifest)?;
        let mut created = false;
        loop {
            match self.claim(&release).await? {
                Some((claim, _)) => {
                    if claim.fingerprint != fingerprint {
                        return Err(PlatformError::Conflict(format!(
                            "release id {release_id} was started with another manifest (another \
                             patient or other files); start this release under a new release id"
                        )));
                    }
                    if self.submitted(&release).await? {
                        return Err(PlatformError::Conflict(format!(
                            "release {release_id} was completed already; follow it with \
                             GET /v1/releases/{release_id}"
                        )));
                    }
                    break;
                }
                None => {
                    if self.submitted(&release).await? {
                        return Err(PlatformError::Conflict(format!(
                            "release id {release_id} was already used by an upload to the inbox; \
                             choose a new release id"
                        )));
                    }
                    let claim = Claim {
                        fingerprint: fingerprint.clone(),
                        files: manifest.files.len(),
                        started_at: now(),
                    };
                    let text = serde_json::to_string(&claim)
                        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
                    match self
                        .db
                        .kv_put(&claim_key(&release), &text, KvExpect::Absent, None)
                        .await
                    {
                        Ok(_) => {
                            created = true;
                            break;
                        }
                        // Another request claimed it meanwhile: look again.
                        Err(StorageError::Conflict(_)) => continue,
                        Err(e) => return Err(storage("recording the release")(e)),
                    }
                }
            }
        }
        // In the issuer's list once (the pipeline finds it listed when it runs).
        listing::list_release(self.db.as_ref(), issuer, release_id)
            .await
            .map_err(storage("listing the release"))?;
        self.store
            .put_bytes(&draft_key(&release), Bytes::from(bytes))
            .await
            .map_err(storage("storing the release's manifest draft"))?;
        let uploads = self
            .plan_uploads(&release, manifest, 0, batch, expires_in)
            .await?;
        Ok(StartedRelease {
            release,
            created,
            files: manifest.files.len(),
            uploads,
        })
    }

    async fn plan_uploads(
        &self,
        release: &ReleaseRef,
        manifest: &Manifest,
        from: usize,
        batch: usize,
        expires_in: Duration,
    ) -> Result<Vec<PlannedUpload>, PlatformError> {
        let prefix = release.inbox_prefix();
        let present: HashMap<String, u64> = self
            .store
            .list(&prefix)
            .await
            .map_err(storage("listing the uploaded files"))?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        let mut uploads = Vec::new();
        for (index, file) in manifest.files.iter().enumerate().skip(from).take(batch) {
            let key = format!("{prefix}{}", file.path);
            let presigned = self
                .store
                .presign_put(&key, file.size, expires_in)
                .await
                .map_err(storage("presigning an upload"))?;
            uploads.push(PlannedUpload {
                index,
                path: file.path.clone(),
                uploaded: present.get(&key) == Some(&file.size),
                key,
                size: file.size,
                presigned,
            });
        }
        Ok(uploads)
    }

    /// The draft manifest of a release started through the API and not completed yet.
    async fn open_draft(&self, release: &ReleaseRef) -> Result<(Manifest, Vec<u8>), PlatformError> {
        let bytes = match self
            .store
            .get_bytes(&draft_key(release), MAX_MANIFEST_BYTES)
            .await
        {
            Ok(b) => b,
            Err(StorageError::NotFound(_)) => {
                return Err(PlatformError::Conflict(format!(
                    "release {} has no manifest draft; start it again with the same body",
                    release.release_id
                )))
            }
            Err(e) => return Err(storage("reading the manifest draft")(e)),
        };
        let manifest = parse_manifest(&bytes).map_err(|_| {
            PlatformError::Invalid("the stored manifest draft does not parse".into())
        })?;
        Ok((manifest, bytes))
    }

    /// Fresh upload URLs for files `from..from+batch` of a release awaiting its upload.
    ///
    /// # Errors
    /// [`PlatformError::NotFound`] for a release the issuer did not start through the API;
    /// [`PlatformError::Conflict`] once completed.
    pub async fn release_uploads(
        &self,
        issuer: &str,
        release_id: &str,
        from: usize,
        batch: usize,
        expires_in: Duration,
    ) -> Result<(usize, Vec<PlannedUpload>), PlatformError> {
        let release = release_ref(issuer, release_id)?;
        if self.claim(&release).await?.is_none() {
            return Err(not_started(release_id));
        }
        if self.submitted(&release).await? {
            return Err(PlatformError::Conflict(format!(
                "release {release_id} was completed already; nothing more to upload"
            )));
        }
        let (manifest, _) = self.open_draft(&release).await?;
        let uploads = self
            .plan_uploads(&release, &manifest, from, batch, expires_in)
            .await?;
        Ok((manifest.files.len(), uploads))
    }

    /// Writes an upload served by the host (the local store has no presigned URLs): the
    /// file `index` of a release awaiting its upload, streamed to storage. The caller checked
    /// the URL's signature and bounds `body` to the signed size; a body of another size is
    /// refused and leaves no object.
    ///
    /// # Errors
    /// Not started ([`PlatformError::NotFound`]); completed ([`PlatformError::Conflict`]);
    /// `index` or `size` not the manifest's, or a short body
    /// ([`PlatformError::InvalidInput`]); storage failures.
    pub async fn accept_upload(
        &self,
        issuer: &str,
        release_id: &str,
        index: usize,
        size: u64,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, PlatformError> {
        let release = release_ref(issuer, release_id)?;
        if self.claim(&release).await?.is_none() {
            return Err(not_started(release_id));
        }
        if self.submitted(&release).await? {
            return Err(PlatformError::Conflict(format!(
                "release {release_id} was completed already; its files can no longer change"
            )));
        }
        let (manifest, _) = self.open_draft(&release).await?;
        let file = manifest
            .files
            .get(index)
            .filter(|f| f.size == size)
            .ok_or_else(|| PlatformError::InvalidInput {
                field: "index",
                message: format!("the manifest lists no file {index} of {size} bytes"),
            })?;
        let key = format!("{}{}", release.inbox_prefix(), file.path);
        let written = self
            .store
            .put_stream(&key, body)
            .await
            .map_err(storage("storing the upload"))?;
        if written != size {
            self.store
                .delete(&key)
                .await
                .map_err(storage("removing a short upload"))?;
            return Err(PlatformError::InvalidInput {
                field: "body",
                message: format!("{written} bytes arrived, the URL is for exactly {size}; upload the whole file again"),
            });
        }
        Ok(written)
    }

    /// Completes a release started through the API: checks every listed file is uploaded
    /// with its size, then writes `release.json` last, which starts the pipeline. Completing
    /// again is harmless (the state is returned).
    ///
    /// # Errors
    /// Not started ([`PlatformError::NotFound`]); files missing or of another size, naming
    /// them by their place in `files` ([`PlatformError::Conflict`]); storage failures.
    pub async fn complete_release(
        &self,
        issuer: &str,
        release_id: &str,
    ) -> Result<ReleaseState, PlatformError> {
        let release = release_ref(issuer, release_id)?;
        if self.claim(&release).await?.is_none() {
            return Err(not_started(release_id));
        }
        if !self.submitted(&release).await? {
            let (manifest, bytes) = self.open_draft(&release).await?;
            let prefix = release.inbox_prefix();
            let present: HashMap<String, u64> = self
                .store
                .list(&prefix)
                .await
                .map_err(storage("listing the uploaded files"))?
                .into_iter()
                .map(|o| (o.key, o.size))
                .collect();
            let mut missing = Vec::new();
            let mut wrong = Vec::new();
            for (i, f) in manifest.files.iter().enumerate() {
                match present.get(&format!("{prefix}{}", f.path)) {
                    None => missing.push(i),
                    Some(size) if *size != f.size => wrong.push(i),
                    Some(_) => {}
                }
            }
            if !missing.is_empty() || !wrong.is_empty() {
                let list = |v: &[usize]| {
                    let mut s: Vec<String> =
                        v.iter().take(10).map(|i| format!("files[{i}]")).collect();
                    if v.len() > 10 {
                        s.push("…".into());
                    }
                    s.join(", ")
                };
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!(
                        "{} not uploaded ({})",
                        missing.len(),
                        list(&missing)
                    ));
                }
                if !wrong.is_empty() {
                    parts.push(format!(
                        "{} of another size than listed ({})",
                        wrong.len(),
                        list(&wrong)
                    ));
                }
                return Err(PlatformError::Conflict(format!(
                    "{} of {} files are not ready: {}; upload them (fresh URLs: GET \
                     /v1/releases/{release_id}/uploads), then complete again",
                    missing.len() + wrong.len(),
                    manifest.files.len(),
                    parts.join("; ")
                )));
            }
            // The manifest last: its write is what starts the pipeline.
            self.store
                .put_bytes(&release.manifest_key(), Bytes::from(bytes))
                .await
                .map_err(storage("writing release.json"))?;
            tracing::info!(issuer = %release.issuer, release_id = %release.release_id, "release completed through the API");
        }
        self.release_state(issuer, release_id).await
    }

    /// Where the issuer's release stands: one started through the API, or any release the
    /// pipeline has a record of (an inbox export too).
    ///
    /// # Errors
    /// [`PlatformError::NotFound`] when the issuer has no release of that id.
    pub async fn release_state(
        &self,
        issuer: &str,
        release_id: &str,
    ) -> Result<ReleaseState, PlatformError> {
        let release = release_ref(issuer, release_id)?;
        let claim = self.claim(&release).await?.map(|(c, _)| c);
        let record = self
            .db
            .get_release(issuer, release_id)
            .await
            .map_err(storage("reading the release"))?;
        let mut state = ReleaseState {
            release_id: release_id.to_owned(),
            status: String::new(),
            files: claim.as_ref().map(|c| c.files),
            uploaded: None,
            token_id: None,
            refusal: None,
            started_at: claim.as_ref().map(|c| c.started_at),
            updated_at: None,
        };
        if let Some(r) = record {
            state.updated_at = Some(r.updated_at);
            state.token_id = r.token_id.clone();
            state.status = match r.status {
                ReleaseStatus::Rejected => {
                    state.refusal = self.refusal(r.report_key.as_deref()).await?;
                    "refused"
                }
                ReleaseStatus::Confirmed => "released",
                _ => "processing",
            }
            .into();
            return Ok(state);
        }
        if self
            .store
            .head(&release.manifest_key())
            .await
            .map_err(storage("looking for the manifest"))?
            .is_some()
        {
            state.status = "submitted".into();
            return Ok(state);
        }
        if claim.is_none() {
            return Err(not_started(release_id));
        }
        state.status = "awaiting_upload".into();
        if let Ok((manifest, _)) = self.open_draft(&release).await {
            let prefix = release.inbox_prefix();
            let present: HashMap<String, u64> = self
                .store
                .list(&prefix)
                .await
                .map_err(storage("listing the uploaded files"))?
                .into_iter()
                .map(|o| (o.key, o.size))
                .collect();
            state.uploaded = Some(
                manifest
                    .files
                    .iter()
                    .filter(|f| present.get(&format!("{prefix}{}", f.path)) == Some(&f.size))
                    .count(),
            );
        }
        Ok(state)
    }

    async fn refusal(&self, report_key: Option<&str>) -> Result<Option<Refusal>, PlatformError> {
        let Some(key) = report_key else {
            return Ok(None);
        };
        let bytes = match self.store.get_bytes(key, MAX_MANIFEST_BYTES * 4).await {
            Ok(b) => b,
            Err(StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(storage("reading the refusal report")(e)),
        };
        let report: Report =
            serde_json::from_slice(&bytes).map_err(|e| PlatformError::Storage {
                step: "reading the refusal report",
                source: StorageError::Corrupt(e.to_string()),
            })?;
        Ok(Some(Refusal {
            text: report.to_text(),
            problems: report
                .problems
                .iter()
                .map(|p| RefusalProblem {
                    code: serde_json::to_value(p.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    file: p.file.clone(),
                    field: p.field.clone(),
                    message: p.message.clone(),
                })
                .collect(),
        }))
    }

    /// The issuer's releases, newest first, `limit` (1 to [`MAX_RELEASE_PAGE`]) at a time
    /// from `cursor`: those started through the API (records requests' uploads too) and those
    /// the pipeline met in the inbox (a PACS export, the CLI), each once
    /// ([`medimint_ingest::listing`]).
    ///
    /// # Errors
    /// A malformed cursor ([`PlatformError::InvalidInput`]); storage failures.
    pub async fn list_releases(
        &self,
        issuer: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ReleasePage, PlatformError> {
        let limit = limit.clamp(1, MAX_RELEASE_PAGE);
        let db = self.db.as_ref();
        let count = listing::list_len(db, issuer)
            .await
            .map_err(storage("reading the release list"))?;
        let start = match cursor {
            None => count,
            Some(c) => c
                .parse::<u64>()
                .ok()
                .filter(|c| *c <= count)
                .ok_or_else(|| PlatformError::InvalidInput {
                    field: "cursor",
                    message: "not a cursor of this list; pass a next_cursor as it was given".into(),
                })?,
        };
        let mut items = Vec::new();
        let mut seq = start;
        while seq > 0 && items.len() < limit {
            seq -= 1;
            // A place lost to a concurrent listing of the same release is skipped.
            let Some(id) = listing::release_at(db, issuer, seq)
                .await
                .map_err(storage("reading the release list"))?
            else {
                continue;
            };
            let Ok(release) = release_ref(issuer, &id) else {
                continue;
            };
            items.push(self.release_state(issuer, &release.release_id).await?);
        }
        Ok(ReleasePage {
            items,
            next_cursor: (seq > 0).then(|| seq.to_string()),
        })
    }
}

fn not_started(release_id: &str) -> PlatformError {
    PlatformError::NotFound(format!(
        "you have no release {release_id}; start one with POST /v1/releases"
    ))
}
