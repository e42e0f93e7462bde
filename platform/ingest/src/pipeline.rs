//! The release pipeline as a function over the storage, database, sealer and chain traits.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use medimint_storage::{
    now, Account, AppDb, Custody, IdempotencyOutcome, ObjectStore, Release, ReleaseStatus,
    StorageError,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use crate::checksum::{checksum_root, FileChecksum};
use crate::header::{
    read_file, FileDigest, HeaderReader, HeaderTap, ParsedHeader, DEFAULT_MAX_HEADER_BYTES,
};
use crate::layout::{study_file_key, study_id, wrapped_key_key, ReleaseRef};
use crate::manifest::{parse_manifest, Manifest};
use crate::metadata::{Head, MetadataWriter};
use crate::report::{Problem, ProblemCode, Report};
use crate::spill::{Spill, Spilled};
use crate::summary::summarise;
use crate::traits::{Chain, IssuerStatus, Proposal, Sealer, StudySeal};
use crate::upload::{InboxUpload, Upload};
use crate::validate::{validate, ExaminedFile};
use crate::IngestError;

/// Tuning.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Cap on the bytes of a header kept in memory (see [`crate::header`]).
    pub max_header_bytes: usize,
    /// How long a `processing` claim holds before another invocation may take over.
    pub lease_secs: u64,
    /// Files examined or sealed at once, each on its own task: hashing, parsing and
    /// encrypting use the other cores (at least 1; memory grows by a few MiB per file).
    pub file_concurrency: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            // Longer than a Lambda's 15-minute limit.
            lease_secs: 20 * 60,
            file_concurrency: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 4),
        }
    }
}

/// How a release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Proposed on chain, the upload removed (also returned for a repeat delivery).
    Released {
        /// The token id.
        token_id: String,
        /// The study id under `studies/`.
        study_id: String,
        /// Hex checksum root.
        checksum_root: String,
    },
    /// Refused; the report is at `report_key` and the upload under `quarantine/`.
    Rejected {
        /// The report.
        report: Report,
        /// Where its JSON is stored.
        report_key: String,
    },
}

/// The pipeline and the parts it runs over.
pub struct Ingest {
    store: Arc<dyn ObjectStore>,
    db: Arc<dyn AppDb>,
    sealer: Arc<dyn Sealer>,
    chain: Arc<dyn Chain>,
    config: IngestConfig,
}

/// A release and where its upload is.
struct Job {
    release: ReleaseRef,
    upload: Arc<dyn Upload>,
}

impl std::ops::Deref for Job {
    type Target = ReleaseRef;

    fn deref(&self) -> &ReleaseRef {
        &self.release
    }
}

/// A validated file ready to store.
struct Checked {
    path: String,
    /// Where this attempt sealed it (`None`: not sealed by this attempt).
    staged: Option<String>,
    checksum: FileChecksum,
    sha256: [u8; 32],
    /// What the summary keeps of its header.
    fields: crate::HeaderFields,
    /// Its header as DICOM JSON, in the spill file.
    header: Option<Spilled>,
}

/// One attempt's study key and the folder its sealed files wait in.
struct Staging {
    seal: Arc<dyn StudySeal>,
    /// `staging/<issuer>/<release-id>/<nonce>/`.
    prefix: String,
}

/// A random name for one attempt's staging folder.
fn attempt_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Ingest {
    /// The pipeline over these parts.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        db: Arc<dyn AppDb>,
        sealer: Arc<dyn Sealer>,
        chain: Arc<dyn Chain>,
        config: IngestConfig,
    ) -> Self {
        Self {
            store,
            db,
            sealer,
            chain,
            config,
        }
    }

    /// Processes one release end to end. Safe to call again for the same release at any
    /// time: a repeat returns the first outcome, and a retry after a failure at any step
    /// resumes without duplicating anything.
    pub async fn process(&self, release: &ReleaseRef) -> Result<Outcome, IngestError> {
        let upload = Arc::new(InboxUpload::new(self.store.clone(), release.clone()));
        self.process_upload(release, upload).await
    }

    /// [`Ingest::process`] of a release whose files and manifest come from `upload` rather
    /// than the inbox (a folder the CLI releases, read once, in place). Records, reports and
    /// the study are the same; what happens to the upload afterwards is the upload's
    /// (a local folder is left as it is).
    pub async fn process_upload(
        &self,
        release: &ReleaseRef,
        upload: Arc<dyn Upload>,
    ) -> Result<Outcome, IngestError> {
        let job = Job {
            release: release.clone(),
            upload,
        };
        match self.attempt(&job).await {
            // Another delivery of the same release advanced its record under us: resume
            // from where that one got (the record says which steps are done).
            Err(IngestError::Conflict { .. }) => self.attempt(&job).await,
            done => done,
        }
    }

    /// One pass over the release's steps from its recorded status.
    async fn attempt(&self, release: &Job) -> Result<Outcome, IngestError> {
        let manifest_bytes = release.upload.manifest().await?;
        // A release id names one release: the first manifest seen under it. Another
        // manifest under the same id (another patient, other files) is refused before its
        // id's record or outcome is looked at, so that it never gets the earlier's.
        if let Some(bytes) = &manifest_bytes {
            let fingerprint = manifest_fingerprint(bytes);
            let key = manifest_claim_key(release);
            match self
                .db
                .put_idempotency(&key, &fingerprint)
                .await
                .map_err(IngestError::storage("recording the release's manifest"))?
            {
                IdempotencyOutcome::Inserted => {}
                IdempotencyOutcome::Existing(earlier) if earlier == fingerprint => {}
                IdempotencyOutcome::Existing(_) => {
                    return self.refuse_reused_id(release, &fingerprint).await;
                }
            }
        }
        let existing = self.record(release).await?;
        if let Some(rel) = &existing {
            match rel.status {
                ReleaseStatus::Confirmed => return Ok(released(rel)),
                ReleaseStatus::Rejected => return self.finish_rejection(release, rel).await,
                // Validated, stored and on chain: only removing the upload is left (an
                // attempt that stopped while removing it left a partial upload that must not
                // be validated again).
                ReleaseStatus::Proposed => return self.confirm(release, rel.clone()).await,
                _ => {}
            }
        }
        let Some(manifest_bytes) = manifest_bytes else {
            return Err(IngestError::NotARelease(format!(
                "{} does not exist",
                release.manifest_key()
            )));
        };
        let rel = self
            .db
            .insert_release(&Release::received(
                &release.issuer,
                &release.release_id,
                now(),
            ))
            .await
            .map_err(IngestError::storage("recording the release"))?;
        // In the issuer's list of releases once (`GET /v1/releases`), whichever way it came.
        crate::listing::list_release(self.db.as_ref(), &release.issuer, &release.release_id)
            .await
            .map_err(IngestError::storage("listing the release"))?;

        match self.chain.issuer_status(&release.issuer).await? {
            IssuerStatus::Trusted => {}
            status => {
                let why = match status {
                    IssuerStatus::Suspended => "the issuer is suspended in the issuer registry",
                    _ => "the issuer is not in the issuer registry",
                };
                let problems = vec![Problem::release(ProblemCode::UntrustedIssuer, why)];
                return self.reject(release, rel, problems, 0).await;
            }
        }
        let manifest = match parse_manifest(&manifest_bytes) {
            Ok(m) => m,
            Err(problems) => return self.reject(release, rel, problems, 0).await,
        };
        drop(manifest_bytes);

        // Each file is read once: examined and, unless an earlier attempt already stored the
        // study, sealed as it passes into this attempt's own staging folder (a concurrent
        // delivery's attempt writes elsewhere). Whatever this attempt leaves there goes
        // at its end; a crashed attempt's folder expires (docs/ingest.md, "One pass").
        let staging = match existing.as_ref().map(|r| r.status) {
            Some(ReleaseStatus::Stored) => None,
            _ => Some(Staging {
                seal: Arc::from(self.sealer.new_study()?),
                prefix: format!("{}{}/", release.staging_prefix(), attempt_nonce()),
            }),
        };
        let result = self
            .examine_and_release(release, rel, &manifest, staging.as_ref())
            .await;
        if let Some(staging) = &staging {
            // A settled release takes earlier attempts' leftovers with this attempt's folder.
            let prefix = match &result {
                Ok(_) => release.staging_prefix(),
                Err(_) => staging.prefix.clone(),
            };
            self.discard_staging(&prefix).await;
        }
        result
    }

    /// The steps from the examination of the files on: validation, the checksum root's
    /// claim, the patient, the lease, the study stored, the proposal, the confirmation.
    async fn examine_and_release(
        &self,
        release: &Job,
        rel: Release,
        manifest: &Manifest,
        staging: Option<&Staging>,
    ) -> Result<Outcome, IngestError> {
        // The headers wait in a temporary file until the metadata object is written, so
        // that memory holds a few hundred bytes per file, not every header.
        let spill = Arc::new(Spill::new()?);
        let (examined, headers, staged) = self.examine(release, &spill, staging).await?;
        let problems = validate(manifest, &examined);
        if !problems.is_empty() {
            return self.reject(release, rel, problems, examined.len()).await;
        }
        let mut checked: Vec<Checked> = examined
            .into_iter()
            .zip(headers)
            .map(|(f, header)| Checked {
                staged: staged.get(&f.path).cloned(),
                checksum: FileChecksum {
                    path: f.path.clone(),
                    sha256: hex::encode(f.digest.sha256),
                    size: f.digest.size,
                },
                sha256: f.digest.sha256,
                path: f.path,
                fields: f.header.unwrap_or_default(),
                header,
            })
            .collect();
        checked.sort_by(|a, b| a.path.cmp(&b.path));
        let digests: Vec<[u8; 32]> = checked.iter().map(|c| c.sha256).collect();
        let root = hex::encode(checksum_root(&digests));

        // A checksum root is released once: the first release to claim it owns it.
        let me = format!("{}/{}", release.issuer, release.release_id);
        match self
            .db
            .put_idempotency(&format!("checksum-root:{root}"), &me)
            .await
            .map_err(IngestError::storage("claiming the checksum root"))?
        {
            IdempotencyOutcome::Inserted => {}
            IdempotencyOutcome::Existing(owner) if owner == me => {}
            IdempotencyOutcome::Existing(owner) => {
                let problems = vec![Problem::release(
                    ProblemCode::AlreadyReleased,
                    self.root_owner_message(&owner).await?,
                )];
                return self.reject(release, rel, problems, checked.len()).await;
            }
        }

        let patient = self.patient_address(manifest).await?;
        let rel = self.claim(release, rel).await?;
        let rel = if rel.status == ReleaseStatus::Processing {
            let Some(staging) = staging else {
                // Stored when this attempt began, and processing again now: the files were
                // not sealed by this attempt; the next one seals them.
                return Err(IngestError::Conflict {
                    step: "storing the study",
                    message: "the release went back to processing".into(),
                });
            };
            match self
                .seal_and_store(
                    release,
                    rel.clone(),
                    &checked,
                    &spill,
                    &root,
                    &patient,
                    staging,
                )
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    // Give the lease back so that a retry need not wait for it to expire.
                    let mut back = rel;
                    back.status = ReleaseStatus::Received;
                    let _ = self.db.update_release(&back).await;
                    return Err(e);
                }
            }
        } else {
            rel
        };
        let rel = if rel.status == ReleaseStatus::Stored {
            self.propose(rel, &patient, file_count(checked.len()))
                .await?
        } else {
            rel
        };
        self.confirm(release, rel).await
    }

    /// Reads every uploaded file once: digest, size and header (into the spill file), and,
    /// with `staging`, its ciphertext stored into the staging folder; returns them with where
    /// each file was staged, by path.
    async fn examine(
        &self,
        release: &Job,
        spill: &Arc<Spill>,
        staging: Option<&Staging>,
    ) -> Result<
        (
            Vec<ExaminedFile>,
            Vec<Option<Spilled>>,
            std::collections::HashMap<String, String>,
        ),
        IngestError,
    > {
        let listed = release.upload.files().await?;
        // (path in the release, key to open it by, where this attempt seals it)
        let work: Vec<(String, String, Option<String>)> = listed
            .into_iter()
            .enumerate()
            .map(|(i, (path, key))| (path, key, staging.map(|s| format!("{}{i}", s.prefix))))
            .collect();
        let staged = work
            .iter()
            .filter_map(|(path, _, to)| Some((path.clone(), to.clone()?)))
            .collect();
        let upload = release.upload.clone();
        let max_header_bytes = self.config.max_header_bytes;
        let spill = spill.clone();
        let sealing = staging.map(|s| (self.store.clone(), s.seal.clone()));
        let examined = in_parallel(
            work,
            self.config.file_concurrency,
            move |(path, key, to)| {
                let (upload, spill, sealing) = (upload.clone(), spill.clone(), sealing.clone());
                async move {
                    match (sealing, to) {
                        (Some((store, seal)), Some(to)) => {
                            let file = (path, key, to);
                            seal_one(upload, spill, store, seal, file, max_header_bytes).await
                        }
                        _ => examine_one(upload, spill, path, key, max_header_bytes).await,
                    }
                }
            },
        )
        .await?;
        let (files, headers) = examined.into_iter().unzip();
        Ok((files, headers, staged))
    }

    /// Deletes what is under a staging `prefix` (best effort: what is left expires).
    async fn discard_staging(&self, prefix: &str) {
        let listed = match self.store.list(prefix).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing a staging folder to discard it");
                return;
            }
        };
        for obj in listed {
            if let Err(e) = self.store.delete(&obj.key).await {
                tracing::warn!(error = %e, "discarding a staged file");
            }
        }
    }

    /// The patient's address: the account of the manifest's email, created (custodial, with
    /// its on-chain account) if there is none.
    async fn patient_address(&self, manifest: &Manifest) -> Result<String, IngestError> {
        let email = &manifest.patient.email;
        if let Some(acct) = self
            .db
            .account_by_email(email)
            .await
            .map_err(IngestError::storage("looking up the patient's account"))?
        {
            return Ok(acct.address);
        }
        let index = self
            .db
            .allocate_hd_index()
            .await
            .map_err(IngestError::storage("allocating an HD index"))?;
        let address = self.chain.ensure_patient_account(index).await?;
        // If another invocation created the account meanwhile, its address wins; the index
        // allocated here stays unused.
        let stored = self
            .db
            .insert_account(&Account {
                email: email.clone(),
                address,
                custody: Custody::Custodial,
                hd_index: Some(index),
                created_at: now(),
            })
            .await
            .map_err(IngestError::storage("recording the patient's account"))?;
        Ok(stored.address)
    }

    /// Takes the `processing` lease, unless the release is already further along. Two
    /// invocations never seal the same release at once: the version check lets one win.
    async fn claim(&self, release: &ReleaseRef, mut rel: Release) -> Result<Release, IngestError> {
        for _ in 0..5 {
            let t = now();
            let takeable = match rel.status {
                ReleaseStatus::Received => true,
                ReleaseStatus::Processing => t >= rel.updated_at + self.config.lease_secs,
                _ => return Ok(rel),
            };
            if !takeable {
                return Err(IngestError::Transient {
                    step: "claiming the release",
                    message: "another invocation is processing this release".into(),
                });
            }
            let mut next = rel.clone();
            next.status = ReleaseStatus::Processing;
            next.updated_at = t;
            match self.db.update_release(&next).await {
                Ok(r) => return Ok(r),
                Err(StorageError::Conflict(_)) => {
                    rel = self
                        .record(release)
                        .await?
                        .ok_or_else(|| IngestError::Transient {
                            step: "claiming the release",
                            message: "the release record vanished".into(),
                        })?;
                }
                Err(e) => return Err(IngestError::storage("claiming the release")(e)),
            }
        }
        Err(IngestError::Transient {
            step: "claiming the release",
            message: "the release record keeps changing".into(),
        })
    }

    /// Moves every file sealed in the staging folder to its key in the study, wraps the
    /// study key to the patient and the issuer, stores the metadata object, and records
    /// `stored`. Every attempt writes the same keys (and a new study key), so a retry
    /// overwrites what an interrupted one left.
    #[allow(clippy::too_many_arguments)]
    async fn seal_and_store(
        &self,
        release: &Job,
        rel: Release,
        files: &[Checked],
        spill: &Spill,
        root: &str,
        patient: &str,
        staging: &Staging,
    ) -> Result<Release, IngestError> {
        // The study is named after the chain's commitment, so the platform finds its objects
        // from the token alone; the salt goes into the encrypted metadata for verifiers.
        let commitment = self.chain.commitment(root)?;
        let sid = study_id(&commitment.hex()).map_err(|message| IngestError::Transient {
            step: "naming the study",
            message,
        })?;
        let salt = hex::encode(commitment.salt);
        let seal = staging.seal.clone();
        let mut work = Vec::with_capacity(files.len());
        for f in files {
            let Some(staged) = f.staged.clone() else {
                return Err(IngestError::Transient {
                    step: "storing an encrypted file",
                    message: format!("{} was not sealed by this attempt", f.path),
                });
            };
            work.push((staged, study_file_key(&sid, &f.checksum.sha256)));
        }
        let store = self.store.clone();
        in_parallel(work, self.config.file_concurrency, move |(from, to)| {
            let store = store.clone();
            async move {
                store
                    .rename(&from, &to)
                    .await
                    .map_err(IngestError::storage("storing an encrypted file"))
            }
        })
        .await?;
        for address in [patient, release.issuer.as_str()] {
            let wrapped = seal.wrap_key(address)?;
            self.store
                .put_bytes(&wrapped_key_key(&sid, address), Bytes::from(wrapped))
                .await
                .map_err(IngestError::storage("storing a wrapped key"))?;
        }
        let summary_input: Vec<(&str, u64, &crate::HeaderFields)> = files
            .iter()
            .map(|f| (f.path.as_str(), f.checksum.size, &f.fields))
            .collect();
        let summary = summarise(&summary_input);
        drop(summary_input);
        // The metadata object: the study's head, then a line per file with its header from
        // the spill file, encrypted and stored in blocks as it is written.
        let mut meta = MetadataWriter::start(self.store.clone(), seal.as_ref());
        meta.head(&Head {
            version: crate::metadata::VERSION,
            study_id: sid.clone(),
            issuer: release.issuer.clone(),
            release_id: release.release_id.clone(),
            checksum_root: root.to_owned(),
            commitment_salt: salt,
            file_count: files.len() as u64,
            summary: serde_json::to_value(&summary).map_err(|e| IngestError::Transient {
                step: "building the metadata object",
                message: e.to_string(),
            })?,
            files: None,
        })
        .await?;
        for f in files {
            let header = match f.header {
                Some(at) => spill.read(at)?,
                None => Vec::new(),
            };
            meta.file(
                &f.checksum,
                &study_file_key(&sid, &f.checksum.sha256),
                &header,
            )
            .await?;
        }
        let cid = meta.finish().await?;
        let mut next = rel;
        next.status = ReleaseStatus::Stored;
        next.study_id = Some(sid);
        next.checksum_root = Some(root.to_owned());
        next.metadata_cid = Some(cid);
        next.updated_at = now();
        self.db
            .update_release(&next)
            .await
            .map_err(IngestError::storage("recording the stored study"))
    }

    /// Proposes the release on chain, unless an earlier attempt already did.
    async fn propose(
        &self,
        rel: Release,
        patient: &str,
        file_count: u32,
    ) -> Result<Release, IngestError> {
        let root = rel.checksum_root.clone().unwrap_or_default();
        let token = match self.chain.token_by_root(&root).await? {
            Some(t) => t,
            None => {
                self.chain
                    .propose_release(&Proposal {
                        issuer: rel.issuer.clone(),
                        patient: patient.to_owned(),
                        checksum_root: root.clone(),
                        metadata_uri: format!(
                            "ipfs://{}",
                            rel.metadata_cid.as_deref().unwrap_or_default()
                        ),
                        file_count,
                    })
                    .await?
            }
        };
        let mut next = rel;
        next.status = ReleaseStatus::Proposed;
        next.token_id = Some(token);
        next.updated_at = now();
        self.db
            .update_release(&next)
            .await
            .map_err(IngestError::storage("recording the proposal"))
    }

    /// The chain holds the release: remove the original upload (manifest last, so an
    /// interrupted removal is finished by the next delivery) and record `confirmed`.
    async fn confirm(&self, release: &Job, rel: Release) -> Result<Outcome, IngestError> {
        release.upload.remove().await?;
        let mut next = rel;
        next.status = ReleaseStatus::Confirmed;
        next.updated_at = now();
        let rel = self
            .db
            .update_release(&next)
            .await
            .map_err(IngestError::storage("recording the confirmation"))?;
        tracing::info!(
            issuer = %release.issuer,
            release_id = %release.release_id,
            token_id = rel.token_id.as_deref().unwrap_or(""),
            "release proposed; upload removed"
        );
        Ok(released(&rel))
    }

    /// Writes the report, records `rejected`, and moves the upload to `quarantine/`.
    async fn reject(
        &self,
        release: &Job,
        rel: Release,
        problems: Vec<Problem>,
        files_examined: usize,
    ) -> Result<Outcome, IngestError> {
        // Another delivery may have finished this release while this one examined what it
        // left (a confirmed release's upload is gone, which reads as an empty release): then
        // resume from its record instead of reporting problems that are not there.
        self.ensure_unchanged(release, &rel).await?;
        if matches!(
            rel.status,
            ReleaseStatus::Processing | ReleaseStatus::Stored | ReleaseStatus::Proposed
        ) {
            // This release passed validation before; what fails now is an upload being
            // consumed by the delivery that holds it. Its record decides, not this view.
            return Err(IngestError::Conflict {
                step: "rejecting the release",
                message: format!(
                    "the release is {} and its upload is being removed",
                    rel.status.as_str()
                ),
            });
        }
        let report = Report::new(
            &release.issuer,
            &release.release_id,
            files_examined,
            problems,
        );
        let q = release.quarantine_prefix();
        let report_key = format!("{q}report.json");
        self.store
            .put_bytes(&report_key, Bytes::from(report.to_json()))
            .await
            .map_err(IngestError::storage("storing the report"))?;
        self.store
            .put_bytes(&format!("{q}report.txt"), Bytes::from(report.to_text()))
            .await
            .map_err(IngestError::storage("storing the report"))?;
        let mut next = rel;
        next.status = ReleaseStatus::Rejected;
        next.report_key = Some(report_key);
        next.updated_at = now();
        let rel = match self.db.update_release(&next).await {
            Ok(r) => r,
            // Another invocation got there first; its record stands. If it rejected too,
            // finish that rejection; otherwise take back this report and resume.
            Err(StorageError::Conflict(message)) => {
                let current = self.record(release).await?;
                match current {
                    Some(r) if r.status == ReleaseStatus::Rejected => r,
                    _ => {
                        for key in [format!("{q}report.json"), format!("{q}report.txt")] {
                            let _ = self.store.delete(&key).await;
                        }
                        return Err(IngestError::Conflict {
                            step: "recording the rejection",
                            message,
                        });
                    }
                }
            }
            Err(e) => return Err(IngestError::storage("recording the rejection")(e)),
        };
        tracing::warn!(
            issuer = %release.issuer,
            release_id = %release.release_id,
            problems = report.problems.len(),
            codes = ?report.codes(),
            "release rejected"
        );
        self.finish_rejection(release, &rel).await
    }

    /// Refuses an upload whose manifest differs from the one first seen under its release
    /// id: a report naming the earlier release, the upload moved beside it under
    /// `quarantine/<issuer>/<release-id>/reused-<fingerprint>/` (the earlier release's
    /// record, report, study and quarantine are left as they are).
    async fn refuse_reused_id(
        &self,
        release: &Job,
        fingerprint: &str,
    ) -> Result<Outcome, IngestError> {
        let earlier = match self.record(release).await? {
            Some(r) => {
                let mut what = format!("it is {}", r.status.as_str());
                if let Some(token) = &r.token_id {
                    what.push_str(&format!(", token {token}"));
                }
                if let Some(key) = &r.report_key {
                    what.push_str(&format!(", report at {key}"));
                }
                what
            }
            None => "it has not been processed yet".to_owned(),
        };
        let problems = vec![Problem::release(
            ProblemCode::ReleaseIdReused,
            format!(
                "release id {} of this issuer was already used for another release (another \
                 patient or other files; {earlier}); nothing of this upload was released and \
                 nothing of the earlier release was changed: upload it again under a new \
                 release id",
                release.release_id
            ),
        )];
        let report = Report::new(&release.issuer, &release.release_id, 0, problems);
        let q = format!(
            "{}reused-{}/",
            release.quarantine_prefix(),
            &fingerprint[..16.min(fingerprint.len())]
        );
        let report_key = format!("{q}report.json");
        self.store
            .put_bytes(&report_key, Bytes::from(report.to_json()))
            .await
            .map_err(IngestError::storage("storing the report"))?;
        self.store
            .put_bytes(&format!("{q}report.txt"), Bytes::from(report.to_text()))
            .await
            .map_err(IngestError::storage("storing the report"))?;
        self.quarantine_upload(release, &q).await?;
        tracing::warn!(
            issuer = %release.issuer,
            release_id = %release.release_id,
            "release id reused for another manifest; refused"
        );
        Ok(Outcome::Rejected { report, report_key })
    }

    /// What to tell the issuer about the release `owner` (`<issuer>/<release-id>`) that
    /// claimed these files first.
    async fn root_owner_message(&self, owner: &str) -> Result<String, IngestError> {
        let record = match owner.split_once('/') {
            Some((issuer, id)) => self
                .db
                .get_release(issuer, id)
                .await
                .map_err(IngestError::storage("reading the earlier release"))?,
            None => None,
        };
        Ok(match record {
            Some(r)
                if matches!(
                    r.status,
                    ReleaseStatus::Received | ReleaseStatus::Processing | ReleaseStatus::Stored
                ) =>
            {
                format!(
                    "these files were claimed by release {owner}, which has not finished (it is \
                     {}); nothing was released: retry that release under its own release id \
                     to finish it",
                    r.status.as_str()
                )
            }
            Some(Release {
                token_id: Some(token),
                ..
            }) => format!("these files were already released as {owner} (token {token})"),
            _ => format!("these files were already released as {owner}"),
        })
    }

    /// The release's record as stored now.
    async fn record(&self, release: &ReleaseRef) -> Result<Option<Release>, IngestError> {
        self.db
            .get_release(&release.issuer, &release.release_id)
            .await
            .map_err(IngestError::storage("reading the release"))
    }

    /// [`IngestError::Conflict`] if the release's record moved on since `rel` was read.
    async fn ensure_unchanged(
        &self,
        release: &ReleaseRef,
        rel: &Release,
    ) -> Result<(), IngestError> {
        let current = self.record(release).await?;
        match current {
            Some(c) if c.version != rel.version => Err(IngestError::Conflict {
                step: "rejecting the release",
                message: format!("the release is now {}", c.status.as_str()),
            }),
            _ => Ok(()),
        }
    }

    /// Moves the upload under the quarantine prefix `q` (`upload/…`), the manifest last, so
    /// an interrupted move leaves a manifest that triggers the same refusal again.
    async fn quarantine_upload(&self, release: &Job, q: &str) -> Result<(), IngestError> {
        release.upload.quarantine(q).await
    }

    /// Moves what is left of the upload to `quarantine/` (manifest last) and returns the
    /// stored report.
    async fn finish_rejection(&self, release: &Job, rel: &Release) -> Result<Outcome, IngestError> {
        let q = release.quarantine_prefix();
        self.quarantine_upload(release, &q).await?;
        let report_key = rel
            .report_key
            .clone()
            .unwrap_or_else(|| format!("{q}report.json"));
        let bytes = self
            .store
            .get_bytes(&report_key, 64 * 1024 * 1024)
            .await
            .map_err(IngestError::storage("reading the report"))?;
        let report: Report =
            serde_json::from_slice(&bytes).map_err(|e| IngestError::Transient {
                step: "reading the report",
                message: e.to_string(),
            })?;
        Ok(Outcome::Rejected { report, report_key })
    }
}

fn released(rel: &Release) -> Outcome {
    Outcome::Released {
        token_id: rel.token_id.clone().unwrap_or_default(),
        study_id: rel.study_id.clone().unwrap_or_default(),
        checksum_root: rel.checksum_root.clone().unwrap_or_default(),
    }
}

/// Runs `work(item)` for every item with at most `limit` running at once, each as its own
/// task (so that CPU work runs in parallel), and returns the results in the items' order.
/// The first error stops the rest (their tasks are aborted).
async fn in_parallel<I, T, F, Fut>(
    items: Vec<I>,
    limit: usize,
    work: F,
) -> Result<Vec<T>, IngestError>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, IngestError>> + Send + 'static,
{
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let mut running = tokio::task::JoinSet::new();
    let joined = |r: Result<(usize, Result<T, IngestError>), tokio::task::JoinError>| match r {
        Ok((i, result)) => result.map(|t| (i, t)),
        Err(e) => Err(IngestError::Transient {
            step: "processing a file",
            message: format!("the task ended abnormally: {e}"),
        }),
    };
    for (i, item) in items.into_iter().enumerate() {
        if running.len() >= limit.max(1) {
            if let Some(r) = running.join_next().await {
                let (j, t) = joined(r)?;
                results[j] = Some(t);
            }
        }
        let fut = work(item);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(r) = running.join_next().await {
        let (j, t) = joined(r)?;
        results[j] = Some(t);
    }
    Ok(results.into_iter().flatten().collect())
}

/// Reads one uploaded file: digest, size, header, and its DICOM JSON into the spill file.
async fn examine_one(
    upload: Arc<dyn Upload>,
    spill: Arc<Spill>,
    path: String,
    key: String,
    max_header_bytes: usize,
) -> Result<(ExaminedFile, Option<Spilled>), IngestError> {
    let mut reader = upload.open(&key).await?;
    let read = read_file(&mut reader, max_header_bytes)
        .await
        .map_err(|e| IngestError::Transient {
            step: "reading an uploaded file",
            message: e.to_string(),
        })?;
    examined(spill, path, read.digest, read.header)
}

/// A file read: its header's fields kept, its DICOM JSON into the spill file.
fn examined(
    spill: Arc<Spill>,
    path: String,
    digest: FileDigest,
    header: Result<ParsedHeader, crate::HeaderError>,
) -> Result<(ExaminedFile, Option<Spilled>), IngestError> {
    let (header, json) = match header {
        Ok(parsed) => match parsed.to_dicom_json().and_then(|json| {
            serde_json::to_vec(&json).map_err(|e| {
                crate::HeaderError::Malformed(format!("cannot express as DICOM JSON: {e}"))
            })
        }) {
            Ok(json) => (Ok(parsed.fields), Some(json)),
            Err(e) => (Err(e), None),
        },
        Err(e) => (Err(e), None),
    };
    let spilled = json.map(|j| spill.append(&j)).transpose()?;
    Ok((
        ExaminedFile {
            path,
            digest,
            header,
        },
        spilled,
    ))
}

/// Reads one uploaded file once: its ciphertext stored at `to` (a staging key) as its
/// digest, size and header are taken from the bytes passing, its DICOM JSON into the spill
/// file.
async fn seal_one(
    upload: Arc<dyn Upload>,
    spill: Arc<Spill>,
    store: Arc<dyn medimint_storage::ObjectStore>,
    seal: Arc<dyn StudySeal>,
    (path, from, to): (String, String, String),
    max_header_bytes: usize,
) -> Result<(ExaminedFile, Option<Spilled>), IngestError> {
    let (reader, size) = upload.open_sized(&from).await?;
    let header = Arc::new(std::sync::Mutex::new(HeaderReader::new(max_header_bytes)));
    let tapped: medimint_storage::ObjectReader = Box::new(HeaderTap::new(reader, header.clone()));
    // The sealer reads the file in 1 MiB pieces itself and hashes them beside the cipher
    // (on another core when one is free).
    let mut sealed = seal.encrypt_file(tapped, size);
    store
        .put_stream(&to, &mut *sealed)
        .await
        .map_err(IngestError::storage("storing an encrypted file"))?;
    let digest = sealed
        .plaintext_digest()
        .ok_or_else(|| IngestError::Transient {
            step: "storing an encrypted file",
            message: format!("the sealer did not report the digest of {path}"),
        })?;
    drop(sealed);
    let header = match header.lock() {
        Ok(mut h) => std::mem::replace(&mut *h, HeaderReader::new(0)),
        Err(_) => {
            return Err(IngestError::Transient {
                step: "reading an uploaded file",
                message: format!("reading the header of {path} failed"),
            })
        }
    };
    if header.size() != digest.size {
        return Err(IngestError::Transient {
            step: "reading an uploaded file",
            message: format!(
                "{path}: {} bytes were sealed but {} read for its header",
                digest.size,
                header.size()
            ),
        });
    }
    examined(spill, path, digest, header.finish())
}

/// The error of type `T` inside an I/O error in `e`'s chain of sources (what a body reader
/// failed with, under the store's error).
pub(crate) fn io_inner<T: std::error::Error + 'static>(e: &StorageError) -> Option<&T> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<T>())
        {
            return Some(inner);
        }
        next = err.source();
    }
    None
}

/// The default [`StudySeal::encrypt_file`]'s plaintext: `inner` hashed as it passes, its
/// digest and size set at its end.
pub(crate) fn hashing_reader(
    inner: medimint_storage::ObjectReader,
) -> (
    medimint_storage::ObjectReader,
    Arc<std::sync::OnceLock<FileDigest>>,
) {
    let digest = Arc::new(std::sync::OnceLock::new());
    let reader = HashingReader {
        inner,
        hasher: Some(Sha256::new()),
        size: 0,
        digest: digest.clone(),
    };
    (Box::new(reader), digest)
}

struct HashingReader {
    inner: medimint_storage::ObjectReader,
    hasher: Option<Sha256>,
    size: u64,
    digest: Arc<std::sync::OnceLock<FileDigest>>,
}

impl AsyncRead for HashingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() {
            this.size += fresh.len() as u64;
            if let Some(h) = this.hasher.as_mut() {
                h.update(fresh);
            }
        } else if buf.remaining() > 0 {
            if let Some(h) = this.hasher.take() {
                let _ = this.digest.set(FileDigest {
                    sha256: h.finalize().into(),
                    size: this.size,
                });
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The default [`StudySeal::encrypt_file`]'s ciphertext: [`StudySeal::encrypt`] of a
/// [`hashing_reader`].
pub(crate) struct DigestedCiphertext {
    pub(crate) inner: medimint_storage::ObjectReader,
    pub(crate) digest: Arc<std::sync::OnceLock<FileDigest>>,
}

impl AsyncRead for DigestedCiphertext {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl crate::SealedFile for DigestedCiphertext {
    fn plaintext_digest(&self) -> Option<FileDigest> {
        self.digest.get().copied()
    }
}

/// The file count the contract records (the manifest caps it far below `u32::MAX`).
fn file_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The idempotency key under which a release id's first manifest is remembered (no PHI: the
/// issuer's address and its release id).
fn manifest_claim_key(release: &ReleaseRef) -> String {
    format!("release-manifest:{}/{}", release.issuer, release.release_id)
}

/// Hex SHA-256 of the manifest in canonical form (parsed and written back, so whitespace
/// and key order do not matter); of its bytes if it does not parse.
fn manifest_fingerprint(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    match parse_manifest(bytes)
        .ok()
        .and_then(|m| serde_json::to_vec(&m).ok())
    {
        Some(canonical) => {
            h.update(b"medimint release manifest v1\0");
            h.update(&canonical);
        }
        None => {
            h.update(b"medimint release manifest bytes v1\0");
            h.update(bytes);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use medimint_storage::LocalDirStore;

    #[tokio::test]
    async fn a_sealed_file_tells_the_digest_and_size_of_what_passed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path()).unwrap();
        // The default (any sealer: hashed on the way in) and the sdk's (beside the cipher).
        struct Plain;
        impl StudySeal for Plain {
            fn encrypt(
                &self,
                plaintext: medimint_storage::ObjectReader,
            ) -> medimint_storage::ObjectReader {
                plaintext
            }
            fn wrap_key(&self, _: &str) -> Result<Vec<u8>, IngestError> {
                Ok(Vec::new())
            }
        }
        let sdk = crate::SdkSealer.new_study().unwrap();
        let seals: [&dyn StudySeal; 2] = [&Plain, sdk.as_ref()];
        for (i, seal) in seals.into_iter().enumerate() {
            for len in [0usize, 1, 200_000, 2 * 1_048_576 + 7] {
                let plain: Vec<u8> = (0..len).map(|n| (n % 251) as u8).collect();
                let mut sealed = seal.encrypt_file(
                    Box::new(std::io::Cursor::new(plain.clone())),
                    (len % 2 == 0).then_some(len as u64),
                );
                assert!(sealed.plaintext_digest().is_none(), "before the end");
                let key = format!("s{i}-{len}");
                let stored = store.put_stream(&key, &mut *sealed).await.unwrap();
                let digest = sealed.plaintext_digest().expect("a digest at the end");
                assert_eq!(digest.size, len as u64, "{i} {len}");
                assert_eq!(digest.sha256, <[u8; 32]>::from(Sha256::digest(&plain)));
                assert_eq!(store.head(&key).await.unwrap().unwrap().size, stored);
            }
        }
    }
}
