//! `medimint demo`: the whole mission on one machine, from nothing. Starts an in-process
//! devnet, funds the sponsor and channel accounts, deploys the suite, registers a demo
//! issuer, generates a small two-series study, releases it to a new patient through the
//! real ingest pipeline (local directory store, SQLite, [`SdkSealer`], [`RelayerChain`]), and
//! then: the patient approves, shares with a doctor as Viewer until a date, the doctor
//! downloads, decrypts and verifies, the patient revokes, the doctor is refused, and the
//! audit trail is read back from chain events. Every step checks its outcome; the first
//! that misbehaves ends the demo with a [`DemoError`] naming it. See docs/demo.md.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use medimint_chain::clients::{
    IssuerKind, IssuerProfile, IssuerRegistry, Role, StudyToken, TokenStatus,
};
use medimint_ingest::Outcome;
use medimint_platform::deploy::Deployment;
pub use medimint_platform::trail::TrailEntry;
use medimint_platform::{Config, IssuerSpec, PatientSpec, Platform, ReleaseSpec, Target};
use serde::Serialize;

use crate::dicom_gen::{generate_study, SyntheticPatient};

mod run;

use run::{at, Run};

/// Called after each step.
pub type Progress = Arc<dyn Fn(&StepTiming) + Send + Sync>;

/// What the demo does and where.
#[derive(Clone)]
pub struct DemoOptions {
    /// Where objects, the database and the deployment file go; a temporary directory
    /// (removed afterwards) when `None`.
    pub data_dir: Option<PathBuf>,
    /// Series in the generated study (at least 1).
    pub series: u32,
    /// Instances per series (at least 1).
    pub per_series: u32,
    /// How many days the doctor's Viewer role lasts.
    pub share_days: u32,
    /// Called after each step (e.g. to print a line); `None` for silence.
    pub progress: Option<Progress>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            data_dir: None,
            series: 2,
            per_series: 2,
            share_days: 30,
            progress: None,
        }
    }
}

impl fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoOptions")
            .field("data_dir", &self.data_dir)
            .field("series", &self.series)
            .field("per_series", &self.per_series)
            .field("share_days", &self.share_days)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl DemoOptions {
    /// Options that print one line per step to standard output.
    pub fn printing() -> Self {
        Self {
            progress: Some(Arc::new(|s: &StepTiming| println!("{s}"))),
            ..Self::default()
        }
    }
}

/// A step that misbehaved.
#[derive(Debug, Clone, thiserror::Error)]
#[error("demo step \"{step}\" failed: {message}")]
pub struct DemoError {
    /// The step.
    pub step: String,
    /// What went wrong (no PHI, no secrets).
    pub message: String,
}

/// One finished step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepTiming {
    /// Its name.
    pub name: String,
    /// What it established.
    pub detail: String,
    /// How long it took.
    pub millis: u64,
}

impl fmt::Display for StepTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "✔ {:<28} {:>6} ms  {}",
            self.name, self.millis, self.detail
        )
    }
}

/// What the demo established. Holds no PHI (addresses, ids, hashes, counts).
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// The devnet's RPC URL (gone once the demo returns).
    pub rpc_url: String,
    /// Where the suite was deployed.
    pub deployment: Deployment,
    /// The data directory (`None` if it was temporary and is removed).
    pub data_dir: Option<PathBuf>,
    /// The demo issuer's address.
    pub issuer: String,
    /// The patient's custodial address.
    pub patient: String,
    /// The patient's HD index under the platform seed.
    pub patient_hd_index: u32,
    /// The doctor's address (an own wallet).
    pub doctor: String,
    /// The token id.
    pub token_id: u32,
    /// The study id under `studies/`.
    pub study_id: String,
    /// Hex checksum root.
    pub checksum_root: String,
    /// Files and series released.
    pub file_count: u32,
    /// Series released.
    pub series_count: u32,
    /// Token status right after the release (`pending`).
    pub status_after_release: String,
    /// Token status after the patient's approval (`active`).
    pub token_status: String,
    /// The doctor's role while shared.
    pub doctor_role: String,
    /// Unix time the doctor's role ends.
    pub doctor_expires_at: u64,
    /// Files the doctor decrypted whose checksums verified.
    pub files_verified: usize,
    /// Plaintext bytes the doctor decrypted.
    pub bytes_verified: u64,
    /// Whether the doctor's access after the revoke was refused.
    pub refused_after_revoke: bool,
    /// Why it was refused.
    pub refusal: String,
    /// The audit trail from chain events, in chain order.
    pub trail: Vec<TrailEntry>,
    /// Each step with its duration.
    pub steps: Vec<StepTiming>,
    /// The whole demo.
    pub total_millis: u64,
}

impl DemoReport {
    /// The names of the trail's events for this demo's token, in order.
    pub fn token_event_kinds(&self) -> Vec<&str> {
        self.trail
            .iter()
            .filter(|e| e.token_id == Some(self.token_id) && e.contract == "study-token")
            .map(|e| e.kind.as_str())
            .collect()
    }
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "MediMint demo: all {} steps passed in {} ms",
            self.steps.len(),
            self.total_millis
        )?;
        for s in &self.steps {
            writeln!(f, "  {s}")?;
        }
        writeln!(
            f,
            "contracts:  issuer-registry {}",
            self.deployment.issuer_registry.id
        )?;
        writeln!(
            f,
            "            study-token     {}",
            self.deployment.study_token.id
        )?;
        writeln!(
            f,
            "            registry        {}",
            self.deployment.registry.id
        )?;
        writeln!(f, "issuer:     {}", self.issuer)?;
        writeln!(
            f,
            "patient:    {} (custodial, HD index {})",
            self.patient, self.patient_hd_index
        )?;
        writeln!(f, "doctor:     {}", self.doctor)?;
        writeln!(
            f,
            "token:      #{} {} ({} files in {} series), root {}",
            self.token_id,
            self.token_status,
            self.file_count,
            self.series_count,
            self.checksum_root
        )?;
        writeln!(
            f,
            "share:      {} until unix {}; {} files ({} bytes) verified",
            self.doctor_role, self.doctor_expires_at, self.files_verified, self.bytes_verified
        )?;
        writeln!(f, "revoke:     doctor refused afterwards: {}", self.refusal)?;
        writeln!(f, "audit trail (getEvents):")?;
        for e in &self.trail {
            let token = e.token_id.map(|t| format!("#{t}")).unwrap_or_default();
            writeln!(
                f,
                "  ledger {:>5}  {:<15} {:<17} {:<4} {}",
                e.ledger,
                e.contract,
                e.kind,
                token,
                e.parties.join(" ")
            )?;
        }
        if let Some(dir) = &self.data_dir {
            writeln!(f, "data:       {}", dir.display())?;
        }
        Ok(())
    }
}

/// Runs the demo on the embedded default. Needs a tokio runtime (any flavour).
///
/// # Errors
/// [`DemoError`] naming the first step that misbehaved.
pub async fn run_demo(opts: DemoOptions) -> Result<DemoReport, DemoError> {
    if opts.series == 0 || opts.per_series == 0 || opts.share_days == 0 {
        return Err(DemoError {
            step: "options".into(),
            message: "series, per_series and share_days must each be at least 1".into(),
        });
    }
    let mut run = Run::new(opts.progress.clone());
    let started = Instant::now();
    let devnet = run
        .step("start devnet", async {
            let devnet = tokio::task::spawn_blocking(|| {
                medimint_devnet::Devnet::start(medimint_devnet::Config {
                    port: 0,
                    ..Default::default()
                })
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let detail = format!("RPC at {}", devnet.rpc_url());
            Ok((devnet, detail))
        })
        .await?;
    let rpc_url = devnet.rpc_url();
    let result = with_devnet(
        &mut run,
        &opts,
        &rpc_url,
        medimint_chain::Network::STANDALONE,
    )
    .await;
    // The devnet owns a runtime: drop it where blocking is allowed.
    let _ = tokio::task::spawn_blocking(move || drop(devnet)).await;
    let mut report = result?;
    report.steps = run.steps;
    report.total_millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Runs the demo against a devnet that is already running at `rpc_url` (standalone
/// passphrase), which stays up afterwards, so its events can be read (the indexer's tests).
///
/// # Errors
/// [`DemoError`] naming the first step that misbehaved.
pub async fn run_demo_against(opts: DemoOptions, rpc_url: &str) -> Result<DemoReport, DemoError> {
    let mut run = Run::new(opts.progress.clone());
    let started = Instant::now();
    let mut report = with_devnet(
        &mut run,
        &opts,
        rpc_url,
        medimint_chain::Network::STANDALONE,
    )
    .await?;
    report.steps = run.steps;
    report.total_millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn text<E: fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Everything after the devnet is up: the same platform operations the CLI and the HTTP API
/// call, on the embedded default (local directory, SQLite, a seed file) against the devnet.
async fn with_devnet(
    run: &mut Run,
    opts: &DemoOptions,
    rpc_url: &str,
    passphrase: &str,
) -> Result<DemoReport, DemoError> {
    let (data_dir, _temp) = match &opts.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::tempdir().map_err(at("data directory"))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&data_dir).map_err(at("data directory"))?;
    let mut config = Config {
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    config.network.rpc_url = rpc_url.to_owned();
    config.network.passphrase = passphrase.to_owned();
    let platform = Platform::open(config, true)
        .await
        .map_err(at("open the platform"))?;
    let start_ledger = platform
        .rpc()
        .latest_ledger()
        .await
        .map_err(at("connect"))?;

    run.step("fund sponsor and channels", async {
        platform.ensure_operators().await.map_err(text)?;
        let channels = platform.relayer().channel_addresses().len();
        Ok(((), format!("sponsor + {channels} channels")))
    })
    .await?;

    let deployment = run
        .step("deploy suite", async {
            let d = platform.deploy().await.map_err(text)?;
            let again = Deployment::read(&platform.config().deployment_path()).map_err(text)?;
            if again != d {
                return Err("deployment file does not read back".into());
            }
            let detail = format!("study-token {}", d.study_token.id);
            Ok((d, detail))
        })
        .await?;
    let token = StudyToken::new(platform.relayer(), deployment.study_token.id.clone());
    let registry = IssuerRegistry::new(platform.relayer(), deployment.issuer_registry.id.clone());

    let tag = hex::encode(&medimint_sdk::crypto::StudyKey::generate().as_bytes()[..6]);
    let issuer = run
        .step("register issuer", async {
            let issuer = platform
                .add_issuer(&IssuerSpec {
                    email: format!("pacs-{tag}@hospital.example"),
                    address: None,
                    profile: IssuerProfile {
                        name: "MediMint Demo Hospital".into(),
                        kind: IssuerKind::Hospital,
                        jurisdiction: "US-CA".into(),
                        evidence: [7; 32],
                    },
                })
                .await
                .map_err(text)?;
            if !registry.is_trusted(&issuer).await.map_err(text)? {
                return Err("the issuer is not trusted after add_issuer".into());
            }
            Ok((issuer.clone(), format!("{issuer} trusted")))
        })
        .await?;

    let release_id = format!("DEMO-{tag}");
    let email = format!("demo-patient-{tag}@example.org");
    let file_count = opts.series * opts.per_series;
    let export = data_dir.join("export").join(&release_id);
    let (release, expected_root) = run
        .step("generate and upload study", async {
            let patient = SyntheticPatient {
                name: "DEMO^PATIENT".into(),
                birth_date: "19700101".into(),
                id: format!("DEMO-{tag}"),
            };
            let uid = format!("2.25.{}", u128::from_str_radix(&tag, 16).unwrap_or(1));
            let files = generate_study(&patient, &uid, opts.series, opts.per_series)?;
            let mut digests: Vec<[u8; 32]> = Vec::new();
            for (path, bytes) in &files {
                digests.push(<sha2::Sha256 as sha2::Digest>::digest(bytes).into());
                let dest = export.join(path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(text)?;
                }
                std::fs::write(&dest, bytes).map_err(text)?;
            }
            let release = platform
                .upload(
                    &ReleaseSpec {
                        issuer: issuer.clone(),
                        release_id: release_id.clone(),
                        patient: PatientSpec {
                            email: email.clone(),
                            family_name: "Demo".into(),
                            given_names: "Patient".into(),
                            birth_date: "1970-01-01".into(),
                            patient_id: patient.id.clone(),
                        },
                        study_instance_uid: Some(uid),
                        paths: vec![export.clone()],
                    },
                    |_, _| {},
                )
                .await
                .map_err(text)?;
            let root = hex::encode(medimint_ingest::checksum_root(&digests));
            let detail = format!(
                "{} files in {} series under {}",
                files.len(),
                opts.series,
                release.inbox_prefix()
            );
            Ok(((release, root), detail))
        })
        .await?;

    let (token_id, study_id, patient, patient_hd_index) = run
        .step("release through ingest", async {
            let (token_id, study_id, root) = match platform.process(&release).await.map_err(text)? {
                Outcome::Released {
                    token_id,
                    study_id,
                    checksum_root,
                } => (token_id, study_id, checksum_root),
                Outcome::Rejected { report, .. } => {
                    let codes: Vec<String> = report
                        .problems
                        .iter()
                        .map(|p| format!("{:?}", p.code))
                        .collect();
                    return Err(format!("release refused: {}", codes.join(", ")));
                }
            };
            if root != expected_root {
                return Err("the pipeline's checksum root differs from the uploaded files'".into());
            }
            let token_id: u32 = token_id
                .parse()
                .map_err(|_| "token id is not a number".to_string())?;
            let account = platform
                .db()
                .account_by_email(&email)
                .await
                .map_err(text)?
                .ok_or("no account was created for the patient")?;
            let index = account
                .hd_index
                .ok_or("the patient's account is not custodial")?;
            let pending = token
                .page("pending_of", &account.address, 0, 10)
                .await
                .map_err(text)?;
            if !pending.contains(&token_id) {
                return Err(format!("token {token_id} is not pending for the patient"));
            }
            if !platform
                .store()
                .list(&release.inbox_prefix())
                .await
                .map_err(text)?
                .is_empty()
            {
                return Err("the upload was not removed from the inbox".into());
            }
            let detail = format!("token #{token_id} pending for {}", account.address);
            Ok(((token_id, study_id, account.address, index), detail))
        })
        .await?;
    let token_ref = token_id.to_string();

    run.step("patient approves", async {
        platform
            .consent(&email, &token_ref, true)
            .await
            .map_err(text)?;
        if token.owner_of(token_id).await.map_err(text)? != patient {
            return Err("the owner is not the patient".into());
        }
        let status = token.consent_status(token_id).await.map_err(text)?.status;
        if status != TokenStatus::Active {
            return Err(format!("the token is {status:?} after the approval"));
        }
        Ok((
            (),
            format!("token #{token_id} active, owned by the patient"),
        ))
    })
    .await?;

    let doctor_email = format!("dr-{tag}@clinic.example");
    let expires_at = now_unix() + u64::from(opts.share_days) * 86_400;
    let (doctor, access) = run
        .step("patient shares with doctor", async {
            let doctor = platform
                .share(
                    &email,
                    &token_ref,
                    &Target::Email(doctor_email.clone()),
                    Role::Viewer,
                    Some(expires_at),
                )
                .await
                .map_err(text)?;
            let access = token
                .access(token_id, &doctor)
                .await
                .map_err(text)?
                .ok_or("the doctor has no access after the grant")?;
            if access.role != Role::Viewer
                || access.expires_at != Some(expires_at)
                || access.granter != patient
            {
                return Err(format!("unexpected access {access:?}"));
            }
            Ok(((doctor, access), format!("Viewer until unix {expires_at}")))
        })
        .await?;

    let out_dir = data_dir.join("download").join(&release_id);
    let (files_verified, bytes_verified) = run
        .step("doctor downloads and verifies", async {
            let got = platform
                .download(&doctor_email, &token_ref, &out_dir, |_, _| {})
                .await
                .map_err(text)?;
            if got.verification.computed_root != expected_root {
                return Err("the downloaded files' root differs from the released one".into());
            }
            if got.files != file_count as usize {
                return Err(format!("{} of {file_count} files verified", got.files));
            }
            Ok((
                (got.files, got.bytes),
                format!(
                    "{} files, {} bytes, root matches the release",
                    got.files, got.bytes
                ),
            ))
        })
        .await?;

    run.step("patient revokes", async {
        platform
            .revoke(&email, &token_ref, &Target::Email(doctor_email.clone()))
            .await
            .map_err(text)?;
        if token
            .access(token_id, &doctor)
            .await
            .map_err(text)?
            .is_some()
        {
            return Err("the doctor still has access".into());
        }
        Ok(((), "role and wrapped key removed".to_string()))
    })
    .await?;

    let refusal = run
        .step("doctor is refused", async {
            let again = data_dir.join("download-after-revoke");
            let refusal = match platform
                .download(&doctor_email, &token_ref, &again, |_, _| {})
                .await
            {
                Ok(_) => return Err("the doctor downloaded after the revoke".into()),
                Err(e) => match e.contract_error() {
                    Some((code, name)) => format!("{name} (study-token error {code})"),
                    None => format!("refused: {e}"),
                },
            };
            if again.exists() && std::fs::read_dir(&again).map_err(text)?.next().is_some() {
                return Err("files were written after the revoke".into());
            }
            let key_gone = platform
                .store()
                .head(&medimint_ingest::layout::wrapped_key_key(
                    &study_id, &doctor,
                ))
                .await
                .map_err(text)?
                .is_none();
            if !key_gone {
                return Err("the doctor's wrapped key is still served".into());
            }
            let r = format!("{refusal}; no wrapped key");
            Ok((r.clone(), r))
        })
        .await?;

    let trail = run
        .step("audit trail from events", async {
            let trail: Vec<TrailEntry> = platform
                .history(None, None)
                .await
                .map_err(text)?
                .into_iter()
                .filter(|e| e.ledger >= start_ledger)
                .collect();
            let kinds: Vec<&str> = trail
                .iter()
                .filter(|e| e.token_id == Some(token_id) && e.contract == "study-token")
                .map(|e| e.kind.as_str())
                .collect();
            let expected = EXPECTED_TOKEN_EVENTS;
            if kinds != expected {
                return Err(format!("token events {kinds:?}, expected {expected:?}"));
            }
            if !trail
                .iter()
                .any(|e| e.kind == "issuer_added" && e.parties.contains(&issuer))
            {
                return Err("no issuer_added event for the issuer".into());
            }
            let n = trail.len();
            Ok((trail, format!("{n} events")))
        })
        .await?;

    Ok(DemoReport {
        rpc_url: rpc_url.to_owned(),
        deployment,
        data_dir: opts.data_dir.clone(),
        issuer,
        patient,
        patient_hd_index,
        doctor,
        token_id,
        study_id,
        checksum_root: expected_root,
        file_count,
        series_count: opts.series,
        status_after_release: "pending".into(),
        token_status: "active".into(),
        doctor_role: format!("{:?}", access.role),
        doctor_expires_at: expires_at,
        files_verified,
        bytes_verified,
        refused_after_revoke: true,
        refusal,
        trail,
        steps: Vec::new(),
        total_millis: 0,
    })
}

/// The study token's events for the demo's token, in order.
pub const EXPECTED_TOKEN_EVENTS: [&str; 5] = [
    "release_proposed",
    "release_approved",
    "role_granted",
    "access_recorded",
    "role_revoked",
];
