//! The platform's operations: one method per thing an admin, issuer, patient or viewer does.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use medimint_chain::clients::{
    AccessKind, GrantRecord, IssuerProfile, IssuerRecord, IssuerRegistry, RejectReason, Role,
    StudyToken, TokenRecord,
};
use medimint_chain::Rpc;
use medimint_ingest::checksum::hash_reader;
use medimint_ingest::layout::{study_id, wrapped_key_key};
use medimint_ingest::retry::{process_with_retries, RetryPolicy};
use medimint_ingest::{
    verify, FileChecksum, Ingest, IngestConfig, Outcome, PresentedFile, ReleaseRef, Verification,
};
use medimint_sdk::crypto::{decrypt_async, StudyKey};
use medimint_sdk::keys::Keypair;
use medimint_storage::{normalize_email, Account, Custody, LocalDirStore};
use serde::Serialize;

use super::{chain, storage, Platform, PlatformError};
use crate::deploy::{deploy_suite, Deployment};
use crate::study::{open_study, share_key, MetaFile};
use crate::trail::{read_trail, TrailEntry};
use crate::{RelayerChain, SdkSealer};

/// Ledgers of history asked of `getEvents` (a day of 5 s ledgers, the RPC's usual window).
const HISTORY_LEDGERS: u32 = 17_280;

/// An issuer to register.
#[derive(Debug, Clone)]
pub struct IssuerSpec {
    /// Contact email of the issuer's IT (the key of its account record).
    pub email: String,
    /// Its own G-address if it holds its key; `None` for a custodial key of the platform.
    pub address: Option<String>,
    /// Public profile (no PHI).
    pub profile: IssuerProfile,
}

/// The patient a release names.
#[derive(Debug, Clone, Serialize)]
pub struct PatientSpec {
    /// Email (the patient's account).
    pub email: String,
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Patient id / MRN as in the DICOM headers.
    pub patient_id: String,
}

/// A release from files on disk.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    /// The issuer's address.
    pub issuer: String,
    /// The release id (folder name in the inbox).
    pub release_id: String,
    /// The patient.
    pub patient: PatientSpec,
    /// Optional expected StudyInstanceUID.
    pub study_instance_uid: Option<String>,
    /// Files or directories (walked recursively).
    pub paths: Vec<PathBuf>,
}

/// Who a share or revoke is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A person by email (a custodial account is made if they have none).
    Email(String),
    /// A Stellar G-address (an external wallet).
    Address(String),
}

impl Target {
    /// `G…` (56 characters) is an address, anything with `@` an email.
    ///
    /// # Errors
    /// Neither.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let s = s.trim();
        if s.starts_with('G') && s.len() == 56 {
            stellar_strkey::ed25519::PublicKey::from_string(s)
                .map_err(|_| PlatformError::Invalid(format!("{s} is not a valid G-address")))?;
            Ok(Self::Address(s.to_owned()))
        } else if s.contains('@') {
            Ok(Self::Email(normalize_email(s)))
        } else {
            Err(PlatformError::Invalid(format!(
                "{s:?} is neither an email nor a G-address"
            )))
        }
    }
}

/// Who may see a token.
#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    /// Token id.
    pub token_id: u32,
    /// Pending, Active or Rejected.
    pub status: String,
    /// The owner (patient).
    pub owner: String,
    /// The issuer.
    pub issuer: String,
    /// Files the checksum root covers.
    pub file_count: u32,
    /// Grants (expired ones until revoked).
    pub grants: Vec<SharedWith>,
}

/// One grant.
#[derive(Debug, Clone, Serialize)]
pub struct SharedWith {
    /// Grantee.
    pub grantee: String,
    /// `viewer` or `sharer`.
    pub role: String,
    /// Unix seconds, if it ends.
    pub expires_at: Option<u64>,
    /// Who granted it.
    pub granter: String,
}

impl From<GrantRecord> for SharedWith {
    fn from(g: GrantRecord) -> Self {
        Self {
            grantee: g.grantee,
            role: format!("{:?}", g.role).to_lowercase(),
            expires_at: g.expires_at,
            granter: g.granter,
        }
    }
}

/// What a download wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadReport {
    /// Files written.
    pub files: usize,
    /// Plaintext bytes written.
    pub bytes: u64,
    /// Where.
    pub out_dir: PathBuf,
    /// The checksum verification of what was written.
    pub verification: Verification,
}

/// A relayer request key for an action a user may repeat on purpose (a second download, a
/// grant after a revoke): unique per call, so the relayer's idempotency does not answer it
/// with an earlier result. Retries inside one call reuse the key.
fn fresh_key(prefix: &str) -> String {
    let nonce: [u8; 8] = rand::random();
    format!("{prefix}/{}", hex::encode(nonce))
}

fn parse_token(id: &str) -> Result<u32, PlatformError> {
    id.trim()
        .parse()
        .map_err(|_| PlatformError::Invalid(format!("token id {id:?} is not a number")))
}

/// A relative path from a listed file name, refusing anything that leaves the directory.
fn safe_relative(path: &str) -> Result<PathBuf, PlatformError> {
    let p = Path::new(path);
    if p.components().all(|c| matches!(c, Component::Normal(_))) && !path.is_empty() {
        Ok(p.to_path_buf())
    } else {
        Err(PlatformError::Invalid(format!(
            "the study lists a file name {path:?} that is not a plain relative path"
        )))
    }
}

/// Every regular file under `paths` (directories walked, sorted), with the name it gets in
/// the release (relative to its directory argument, or its file name).
fn collect_files(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>, PlatformError> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut Vec<(String, PathBuf)>,
    ) -> Result<(), PlatformError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| PlatformError::Invalid(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out)?;
            } else if p.is_file() {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, p.clone()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, p, &mut out)?;
        } else if p.is_file() {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, p.clone()));
        } else {
            return Err(PlatformError::Invalid(format!(
                "{} is not a file or directory",
                p.display()
            )));
        }
    }
    if out.is_empty() {
        return Err(PlatformError::Invalid("no files to release".into()));
    }
    Ok(out)
}

async fn sha256_file(path: &Path) -> Result<[u8; 32], PlatformError> {
    let unreadable =
        |e: std::io::Error| PlatformError::Invalid(format!("cannot read {}: {e}", path.display()));
    let mut f = tokio::fs::File::open(path).await.map_err(unreadable)?;
    Ok(hash_reader(&mut f).await.map_err(unreadable)?.0)
}

impl Platform {
    fn token_client(&self, d: &Deployment) -> StudyToken<'_> {
        StudyToken::new(&self.relayer, d.study_token.id.clone())
    }

    /// Deploys the suite (idempotent: contracts already there are kept) after making sure
    /// the operator accounts exist; writes the deployment file.
    ///
    /// # Errors
    /// Funding or deployment failures.
    pub async fn deploy(&self) -> Result<Deployment, PlatformError> {
        self.ensure_operators().await?;
        let admin = self.operator(super::ADMIN_INDEX)?;
        if self
            .rpc
            .account_sequence(&admin.address())
            .await
            .map_err(chain("looking up the admin account"))?
            .is_none()
        {
            self.relayer
                .create_sponsored_account("platform/admin-account", admin.signing_key())
                .await
                .map_err(chain("creating the admin account"))?;
        }
        let d = deploy_suite(
            &self.relayer,
            admin.signing_key(),
            &self.config.network.rpc_url,
        )
        .await
        .map_err(|e| PlatformError::Chain {
            step: "deploying the suite".into(),
            message: e.to_string(),
        })?;
        if d.study_token.id != self.plan.study_token {
            return Err(PlatformError::Invalid(
                "the deployed study token differs from the planned id".into(),
            ));
        }
        std::fs::create_dir_all(&self.config.data_dir).map_err(|e| PlatformError::Storage {
            step: "creating the data directory",
            message: e.to_string(),
        })?;
        d.write(&self.config.deployment_path())
            .map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let _ = self.deployment.set(d.clone());
        Ok(d)
    }

    /// Makes (or finds) the account of `email`: a custodial key at a fresh HD index, its
    /// Stellar account created with sponsored reserves.
    ///
    /// # Errors
    /// Database or chain failures.
    pub async fn ensure_custodial_account(&self, email: &str) -> Result<Account, PlatformError> {
        let email = normalize_email(email);
        let account = match self
            .db
            .account_by_email(&email)
            .await
            .map_err(storage("reading the account"))?
        {
            Some(a) => a,
            None => {
                let index = self
                    .db
                    .allocate_hd_index()
                    .await
                    .map_err(storage("allocating a key index"))?;
                let kp = self.operator(index)?;
                self.db
                    .insert_account(&Account {
                        email: email.clone(),
                        address: kp.address(),
                        custody: Custody::Custodial,
                        hd_index: Some(index),
                        created_at: medimint_storage::now(),
                    })
                    .await
                    .map_err(storage("recording the account"))?
            }
        };
        if let (Custody::Custodial, Some(index)) = (account.custody, account.hd_index) {
            // The same sponsored creation the release pipeline uses for new patients.
            medimint_ingest::Chain::ensure_patient_account(&self.chain_adapter()?, index)
                .await
                .map_err(|e| PlatformError::Chain {
                    step: "creating the account with sponsored reserves".into(),
                    message: e.to_string(),
                })?;
        }
        Ok(account)
    }

    /// The custodial keypair of `email`'s account.
    ///
    /// # Errors
    /// No such account, or an external wallet (whose key the platform does not hold).
    pub async fn keypair_of(&self, email: &str) -> Result<Keypair, PlatformError> {
        let account = self
            .db
            .account_by_email(email)
            .await
            .map_err(storage("reading the account"))?
            .ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "no account for {email}; accounts are made by a release to them or a share with them"
                ))
            })?;
        match account.hd_index {
            Some(i) => self.operator(i),
            None => Err(PlatformError::Invalid(format!(
                "{email} uses an external wallet ({}); sign with that wallet instead",
                account.address
            ))),
        }
    }

    /// Registers an issuer: its account (custodial unless it brings an address) and its
    /// entry in the issuer registry. Returns the issuer's address.
    ///
    /// # Errors
    /// Invalid profile (named by the contract), chain or database failures.
    pub async fn add_issuer(&self, spec: &IssuerSpec) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let address = match &spec.address {
            Some(a) => {
                let Target::Address(a) = Target::parse(a)? else {
                    return Err(PlatformError::Invalid(format!("{a} is not a G-address")));
                };
                self.db
                    .insert_account(&Account {
                        email: normalize_email(&spec.email),
                        address: a.clone(),
                        custody: Custody::External,
                        hd_index: None,
                        created_at: medimint_storage::now(),
                    })
                    .await
                    .map_err(storage("recording the issuer"))?;
                a
            }
            None => self.ensure_custodial_account(&spec.email).await?.address,
        };
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        if registry
            .issuer(&address)
            .await
            .is_ok_and(|r| r.address == address)
        {
            return Ok(address);
        }
        let admin = self.operator(super::ADMIN_INDEX)?;
        registry
            .add_issuer(
                &format!("issuer/add/{address}"),
                admin.signing_key(),
                &address,
                &spec.profile,
            )
            .await
            .map_err(chain("adding the issuer"))?;
        Ok(address)
    }

    /// Suspends, reinstates or removes an issuer (`action` = `suspend` | `reinstate` |
    /// `remove`).
    ///
    /// # Errors
    /// Unknown action; contract errors (not found, already suspended…).
    pub async fn set_issuer(&self, address: &str, action: &str) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        let admin = self.operator(super::ADMIN_INDEX)?;
        let key = fresh_key(&format!("issuer/{action}/{address}"));
        let step = format!("{action} issuer {address}");
        match action {
            "suspend" => {
                registry
                    .suspend_issuer(&key, admin.signing_key(), address)
                    .await
            }
            "reinstate" => {
                registry
                    .reinstate_issuer(&key, admin.signing_key(), address)
                    .await
            }
            "remove" => {
                registry
                    .remove_issuer(&key, admin.signing_key(), address)
                    .await
            }
            other => {
                return Err(PlatformError::Invalid(format!(
                    "unknown issuer action {other}"
                )))
            }
        }
        .map_err(chain(step))?;
        Ok(())
    }

    /// Every registered issuer.
    ///
    /// # Errors
    /// Chain failures.
    pub async fn issuers(&self) -> Result<Vec<IssuerRecord>, PlatformError> {
        let d = self.deployment()?;
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        let mut out = Vec::new();
        loop {
            let page = registry
                .issuers(u32::try_from(out.len()).unwrap_or(u32::MAX), 50)
                .await
                .map_err(chain("listing issuers"))?;
            let n = page.len();
            out.extend(page);
            if n < 50 {
                return Ok(out);
            }
        }
    }

    /// The release pipeline over this platform's storage, database and chain.
    ///
    /// # Errors
    /// Not deployed.
    pub fn ingest(&self) -> Result<Ingest, PlatformError> {
        Ok(Ingest::new(
            self.store.clone(),
            self.db.clone(),
            Arc::new(SdkSealer),
            Arc::new(self.chain_adapter()?),
            IngestConfig::default(),
        ))
    }

    /// The pipeline's chain adapter over this platform's relayer and deployment.
    fn chain_adapter(&self) -> Result<RelayerChain, PlatformError> {
        let d = self.deployment()?;
        Ok(RelayerChain::new(
            self.relayer.clone(),
            self.rpc.clone(),
            self.seed.clone(),
            d.issuer_registry.id,
            d.study_token.id,
        )
        .with_accounts(self.db.clone()))
    }

    /// Uploads files into the inbox as a PACS export would (files first, `release.json`
    /// last), then runs the release pipeline on them. `progress` is called after each
    /// uploaded file with (done, total).
    ///
    /// # Errors
    /// Unreadable files, storage failures, or a transient pipeline failure (retry the same
    /// command: the release id makes it idempotent). A refused release is `Ok(Rejected)`.
    pub async fn release(
        &self,
        spec: &ReleaseSpec,
        progress: impl FnMut(usize, usize),
    ) -> Result<Outcome, PlatformError> {
        let release = self.upload(spec, progress).await?;
        self.process(&release).await
    }

    /// Uploads files into the inbox as a PACS export would (files first, `release.json`
    /// last) without processing them: what triggers the ingest function in production.
    ///
    /// # Errors
    /// Unreadable files, storage failures.
    pub async fn upload(
        &self,
        spec: &ReleaseSpec,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ReleaseRef, PlatformError> {
        let files = collect_files(&spec.paths)?;
        let release = ReleaseRef {
            issuer: spec.issuer.clone(),
            release_id: spec.release_id.clone(),
        };
        let prefix = release.inbox_prefix();
        let mut listed = Vec::new();
        for (i, (name, path)) in files.iter().enumerate() {
            let bytes = tokio::fs::read(path).await.map_err(|e| {
                PlatformError::Invalid(format!("cannot read {}: {e}", path.display()))
            })?;
            listed.push(serde_json::json!({"path": name, "size": bytes.len()}));
            self.store
                .put_bytes(&format!("{prefix}{name}"), Bytes::from(bytes))
                .await
                .map_err(storage("uploading a file to the inbox"))?;
            progress(i + 1, files.len());
        }
        let mut manifest = serde_json::json!({
            "version": 1,
            "patient": spec.patient,
            "files": listed,
        });
        if let Some(uid) = &spec.study_instance_uid {
            manifest["study_instance_uid"] = serde_json::Value::String(uid.clone());
        }
        let manifest =
            serde_json::to_vec(&manifest).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        self.store
            .put_bytes(&release.manifest_key(), Bytes::from(manifest))
            .await
            .map_err(storage("uploading release.json"))?;
        Ok(release)
    }

    /// Runs the release pipeline on an uploaded release, retrying transient failures with
    /// backoff (a release another process is handling at the same moment is one); after the
    /// last attempt the release is dead-lettered in the configuration's `dead_letter_dir`.
    ///
    /// # Errors
    /// The last transient failure; the release can be retried by the same call.
    pub async fn process(&self, release: &ReleaseRef) -> Result<Outcome, PlatformError> {
        let dead_letters = LocalDirStore::new(self.config.dead_letter_dir())
            .map_err(storage("opening the dead-letter directory"))?;
        process_with_retries(
            &self.ingest()?,
            release,
            &RetryPolicy::default(),
            &dead_letters,
        )
        .await
        .map_err(|e| PlatformError::Chain {
            step: "processing the release".into(),
            message: format!(
                "{e}; dead-lettered in {}; run the same command again to retry",
                self.config.dead_letter_dir().display()
            ),
        })
    }

    /// The patient `email` approves (or rejects) the pending token.
    ///
    /// # Errors
    /// Not the owner, not pending (named by the contract).
    pub async fn consent(
        &self,
        email: &str,
        token: &str,
        approve: bool,
    ) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let id = parse_token(token)?;
        let patient = self.keypair_of(email).await?;
        let client = self.token_client(&d);
        if approve {
            client
                .approve_release(&format!("approve/{id}"), patient.signing_key(), id)
                .await
                .map_err(chain(format!("approving token {id}")))?;
        } else {
            client
                .reject_release(
                    &format!("reject/{id}"),
                    patient.signing_key(),
                    id,
                    RejectReason::Declined,
                )
                .await
                .map_err(chain(format!("rejecting token {id}")))?;
        }
        Ok(())
    }

    /// The token's stored record.
    ///
    /// # Errors
    /// `TokenNotFound`.
    pub async fn token(&self, token: &str) -> Result<TokenRecord, PlatformError> {
        let d = self.deployment()?;
        let id = parse_token(token)?;
        self.token_client(&d)
            .token(id)
            .await
            .map_err(chain(format!("reading token {id}")))
    }

    async fn grantee_address(&self, to: &Target) -> Result<String, PlatformError> {
        Ok(match to {
            Target::Address(a) => a.clone(),
            Target::Email(e) => self.ensure_custodial_account(e).await?.address,
        })
    }

    /// `email` (owner or sharer) grants `role` on the token to `to` until `until` (Unix
    /// seconds), and wraps the study key to the grantee. Returns the grantee's address.
    ///
    /// # Errors
    /// Contract refusals (not authorized, sharer granting sharer, expiry beyond the
    /// granter's…); storage failures.
    pub async fn share(
        &self,
        email: &str,
        token: &str,
        to: &Target,
        role: Role,
        until: Option<u64>,
    ) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let granter = self.keypair_of(email).await?;
        let grantee = self.grantee_address(to).await?;
        self.token_client(&d)
            .grant(
                &fresh_key(&format!("grant/{}/{grantee}", record.id)),
                granter.signing_key(),
                record.id,
                &grantee,
                role,
                until,
            )
            .await
            .map_err(chain(format!("granting {role:?} on token {}", record.id)))?;
        let sid = study_id(&hex::encode(record.checksum_root)).map_err(PlatformError::Invalid)?;
        share_key(self.store.as_ref(), &sid, &granter, &grantee)
            .await
            .map_err(PlatformError::Invalid)?;
        Ok(grantee)
    }

    /// `email` revokes `from`'s grant on the token and removes their wrapped key.
    ///
    /// # Errors
    /// `GrantNotFound`, `NotGranter`.
    pub async fn revoke(
        &self,
        email: &str,
        token: &str,
        from: &Target,
    ) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let revoker = self.keypair_of(email).await?;
        let grantee = match from {
            Target::Address(a) => a.clone(),
            Target::Email(e) => {
                self.db
                    .account_by_email(e)
                    .await
                    .map_err(storage("reading the account"))?
                    .ok_or_else(|| PlatformError::Invalid(format!("no account for {e}")))?
                    .address
            }
        };
        self.token_client(&d)
            .revoke(
                &fresh_key(&format!("revoke/{}/{grantee}", record.id)),
                revoker.signing_key(),
                record.id,
                &grantee,
            )
            .await
            .map_err(chain(format!("revoking {grantee} on token {}", record.id)))?;
        let sid = study_id(&hex::encode(record.checksum_root)).map_err(PlatformError::Invalid)?;
        self.store
            .delete(&wrapped_key_key(&sid, &grantee))
            .await
            .map_err(storage("removing the grantee's wrapped key"))?;
        Ok(grantee)
    }

    /// Who may see the token.
    ///
    /// # Errors
    /// `TokenNotFound`.
    pub async fn access(&self, token: &str) -> Result<AccessReport, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let mut grants = Vec::new();
        loop {
            let page = self
                .token_client(&d)
                .grants(
                    record.id,
                    u32::try_from(grants.len()).unwrap_or(u32::MAX),
                    50,
                )
                .await
                .map_err(chain("listing grants"))?;
            let n = page.len();
            grants.extend(page.into_iter().map(SharedWith::from));
            if n < 50 {
                break;
            }
        }
        Ok(AccessReport {
            token_id: record.id,
            status: record.status,
            owner: record.owner,
            issuer: record.issuer,
            file_count: record.file_count,
            grants,
        })
    }

    /// The study key and the file list of a token, for the holder `viewer`.
    async fn open_study(
        &self,
        record: &TokenRecord,
        viewer: &Keypair,
    ) -> Result<(StudyKey, Vec<MetaFile>), PlatformError> {
        let sid = study_id(&hex::encode(record.checksum_root)).map_err(PlatformError::Invalid)?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri);
        open_study(self.store.as_ref(), &sid, cid, viewer)
            .await
            .map_err(|e| PlatformError::Invalid(format!("token {}: {e}", record.id)))
    }

    /// `email` downloads the token's files into `out_dir`: the access is recorded on chain
    /// first (refused without a live grant), then each file is decrypted to disk and
    /// checked against the checksum root. `progress` gets (done, total) per file.
    ///
    /// # Errors
    /// `NoAccess`; a file that fails decryption or verification.
    pub async fn download(
        &self,
        email: &str,
        token: &str,
        out_dir: &Path,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<DownloadReport, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let viewer = self.keypair_of(email).await?;
        self.token_client(&d)
            .record_access(
                &fresh_key(&format!("access/{}/{}", record.id, viewer.address())),
                viewer.signing_key(),
                record.id,
                AccessKind::Download,
            )
            .await
            .map_err(chain(format!(
                "recording the download of token {}",
                record.id
            )))?;
        let (key, files) = self.open_study(&record, &viewer).await?;
        let mut presented = Vec::new();
        let mut bytes = 0u64;
        for (i, f) in files.iter().enumerate() {
            let rel = safe_relative(&f.checksum.path)?;
            let dest = out_dir.join(&rel);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(|e| {
                    PlatformError::Invalid(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let reader = self
                .store
                .get_stream(&f.object_key)
                .await
                .map_err(storage("downloading a file"))?;
            let out = tokio::fs::File::create(&dest).await.map_err(|e| {
                PlatformError::Invalid(format!("cannot write {}: {e}", dest.display()))
            })?;
            let mut out = tokio::io::BufWriter::new(out);
            bytes += decrypt_async(&key, reader, &mut out).await.map_err(|e| {
                PlatformError::Invalid(format!("decrypting {}: {e}", f.checksum.path))
            })?;
            tokio::io::AsyncWriteExt::flush(&mut out)
                .await
                .map_err(|e| {
                    PlatformError::Invalid(format!("cannot write {}: {e}", dest.display()))
                })?;
            presented.push(PresentedFile {
                name: f.checksum.path.clone(),
                sha256: sha256_file(&dest).await?,
            });
            progress(i + 1, files.len());
        }
        let listed: Vec<FileChecksum> = files.iter().map(|f| f.checksum.clone()).collect();
        let verification = verify(&presented, &hex::encode(record.checksum_root), &listed);
        if !verification.is_intact() {
            return Err(PlatformError::Invalid(format!(
                "the downloaded files do not verify: {} differ, {} missing, {} extra",
                verification.differs.len(),
                verification.missing.len(),
                verification.extra.len()
            )));
        }
        Ok(DownloadReport {
            files: presented.len(),
            bytes,
            out_dir: out_dir.to_path_buf(),
            verification,
        })
    }

    /// Recomputes the checksum root of `files` and compares it with the token's. With
    /// `holder` (an email whose account holds a key to the token) the per-file digests of
    /// the encrypted metadata name each file that differs, is missing or is extra.
    ///
    /// # Errors
    /// Unreadable files; `TokenNotFound`.
    pub async fn verify(
        &self,
        token: &str,
        files: &[PathBuf],
        holder: Option<&str>,
    ) -> Result<Verification, PlatformError> {
        let record = self.token(token).await?;
        let mut presented = Vec::new();
        for (name, path) in collect_files(files)? {
            presented.push(PresentedFile {
                name,
                sha256: sha256_file(&path).await?,
            });
        }
        let listed = match holder {
            Some(email) => {
                let kp = self.keypair_of(email).await?;
                let (_, files) = self.open_study(&record, &kp).await?;
                files.into_iter().map(|f| f.checksum).collect()
            }
            None => Vec::new(),
        };
        Ok(verify(
            &presented,
            &hex::encode(record.checksum_root),
            &listed,
        ))
    }

    /// The audit trail from chain events: every event of the suite, or those of one token,
    /// or those naming one address.
    ///
    /// # Errors
    /// RPC failures.
    pub async fn history(
        &self,
        token: Option<&str>,
        address: Option<&str>,
    ) -> Result<Vec<TrailEntry>, PlatformError> {
        let d = self.deployment()?;
        let token = token.map(parse_token).transpose()?;
        let latest = medimint_chain::Rpc::latest_ledger(self.rpc.as_ref())
            .await
            .map_err(chain("reading the latest ledger"))?;
        let start = latest.saturating_sub(HISTORY_LEDGERS - 1).max(1);
        let trail = read_trail(
            &self.config.network.rpc_url,
            start,
            &[
                (d.issuer_registry.id.clone(), "issuer-registry"),
                (d.study_token.id.clone(), "study-token"),
            ],
        )
        .await
        .map_err(|message| PlatformError::Chain {
            step: "reading events".into(),
            message,
        })?;
        Ok(trail
            .into_iter()
            .filter(|e| token.is_none_or(|t| e.token_id == Some(t)))
            .filter(|e| address.is_none_or(|a| e.parties.iter().any(|p| p == a)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_paths_are_checked() {
        let g = Keypair::generate().address();
        assert_eq!(Target::parse(&g).unwrap(), Target::Address(g.clone()));
        assert_eq!(
            Target::parse(" Dr.Who@Example.org ").unwrap(),
            Target::Email("dr.who@example.org".into())
        );
        let mut bad = g.clone();
        bad.replace_range(55.., "A");
        assert!(Target::parse(&bad).is_err() || bad == g);
        let err = Target::parse("bob").unwrap_err().to_string();
        assert!(err.contains("neither"), "{err}");
        assert!(safe_relative("S01/IM1.dcm").is_ok());
        for bad in ["../etc/passwd", "/abs", "", "a/../../b"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
        assert!(parse_token("x").unwrap_err().to_string().contains("\"x\""));
        assert_eq!(parse_token(" 7 ").unwrap(), 7);
    }

    #[test]
    fn files_are_collected_with_relative_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("S02")).unwrap();
        std::fs::write(dir.path().join("S02/b.dcm"), b"b").unwrap();
        std::fs::write(dir.path().join("a.dcm"), b"a").unwrap();
        let got = collect_files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["S02/b.dcm", "a.dcm"]);
        let err = collect_files(&[dir.path().join("nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(collect_files(&[empty.path().to_path_buf()]).is_err());
    }
}
