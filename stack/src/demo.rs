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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use medimint_chain::clients::{
    AccessKind, IssuerKind, IssuerProfile, IssuerRegistry, Role, StudyToken,
};
use medimint_chain::{Backoff, Network, Relayer, RelayerConfig, Rpc, Signer, StellarRpc};
use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::{Chain, Ingest, IngestConfig, IssuerStatus, Outcome, ReleaseRef};
use medimint_sdk::keys::{Keypair, Mnemonic};
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};
use serde::Serialize;

use crate::dicom_gen::{generate_study, SyntheticPatient};
use medimint_ingest::RelayerChain;
use medimint_ingest::SdkSealer;
use medimint_platform::deploy::{deploy_suite, suite_policy, Deployment, SuitePlan};
pub use medimint_platform::trail::TrailEntry;

mod download;
mod run;

use run::{at, Run};

/// The demo issuer's custodial key: the last hardened HD index, kept out of the range the
/// database hands to patients (which counts up from 0).
pub const DEMO_ISSUER_HD_INDEX: u32 = (1 << 31) - 1;

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
    let root_secret = devnet.root_keypair().secret();
    let result = with_devnet(&mut run, &opts, &rpc_url, &root_secret).await;
    // The devnet owns a runtime: drop it where blocking is allowed.
    let _ = tokio::task::spawn_blocking(move || drop(devnet)).await;
    let mut report = result?;
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

fn signer(k: &Keypair) -> Arc<dyn Signer> {
    Arc::new(k.signing_key().clone())
}

/// Everything after the devnet is up.
async fn with_devnet(
    run: &mut Run,
    opts: &DemoOptions,
    rpc_url: &str,
    root_secret: &str,
) -> Result<DemoReport, DemoError> {
    let (data_dir, _temp) = match &opts.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::tempdir().map_err(at("data directory"))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&data_dir).map_err(at("data directory"))?;

    // Operator accounts: the sponsor pays, the channels are transaction sources.
    let rpc = Arc::new(StellarRpc::new(rpc_url, Duration::from_secs(15)).map_err(at("connect"))?);
    let network = Network::new(rpc.network_passphrase().await.map_err(at("connect"))?);
    let backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(250),
        deadline: Duration::from_secs(30),
    };
    let (sponsor, channels) = (
        Keypair::generate(),
        [Keypair::generate(), Keypair::generate()],
    );
    let admin = Keypair::generate();
    run.step("fund sponsor and channels", async {
        let root = Keypair::from_secret(root_secret).map_err(|e| e.to_string())?;
        let mut addresses = vec![sponsor.address()];
        addresses.extend(channels.iter().map(Keypair::address));
        let created = medimint_chain::accounts::ensure_funded_accounts(
            rpc.as_ref(),
            &network,
            root.signing_key(),
            &addresses,
            10_000 * 10_000_000,
            backoff,
        )
        .await
        .map_err(|e| e.to_string())?;
        if created.len() != addresses.len() {
            return Err(format!(
                "created {} of {} accounts",
                created.len(),
                addresses.len()
            ));
        }
        Ok(((), format!("sponsor + {} channels", channels.len())))
    })
    .await?;

    let plan = SuitePlan::new(&network, &admin.address()).map_err(at("deploy"))?;
    let relayer = Arc::new(
        Relayer::new(
            rpc.clone(),
            network.clone(),
            signer(&sponsor),
            channels.iter().map(signer).collect(),
            suite_policy(&plan, true),
            RelayerConfig {
                backoff,
                ..RelayerConfig::default()
            },
        )
        .map_err(at("deploy"))?,
    );
    let start_ledger = rpc.latest_ledger().await.map_err(at("deploy"))?;
    let deployment = run
        .step("deploy suite", async {
            relayer
                .create_sponsored_account("demo/admin-account", admin.signing_key())
                .await
                .map_err(|e| e.to_string())?;
            let d = deploy_suite(&relayer, admin.signing_key(), rpc_url)
                .await
                .map_err(|e| e.to_string())?;
            if d.study_token.id != plan.study_token || d.issuer_registry.id != plan.issuer_registry
            {
                return Err("contract ids differ from the plan".into());
            }
            d.write(&data_dir.join("deployment.json"))
                .map_err(|e| e.to_string())?;
            let again =
                Deployment::read(&data_dir.join("deployment.json")).map_err(|e| e.to_string())?;
            if again != d {
                return Err("deployment file does not read back".into());
            }
            let detail = format!("study-token {}", d.study_token.id);
            Ok((d, detail))
        })
        .await?;

    // The platform seed: custodial keys of the issuer and the patients.
    let seed = Arc::new(Mnemonic::generate().to_seed(""));
    let (chain, issuer) = RelayerChain::new(
        relayer.clone(),
        rpc.clone(),
        seed.clone(),
        plan.issuer_registry.clone(),
        plan.study_token.clone(),
    )
    .with_custodial_issuer(DEMO_ISSUER_HD_INDEX)
    .map_err(at("register issuer"))?;
    let chain = Arc::new(chain);
    run.step("register issuer", async {
        let key = chain
            .keypair(DEMO_ISSUER_HD_INDEX)
            .map_err(|e| e.to_string())?;
        if chain
            .issuer_status(&issuer)
            .await
            .map_err(|e| e.to_string())?
            != IssuerStatus::Unknown
        {
            return Err("a fresh issuer is already known".into());
        }
        relayer
            .create_sponsored_account("demo/issuer-account", key.signing_key())
            .await
            .map_err(|e| e.to_string())?;
        let profile = IssuerProfile {
            name: "MediMint Demo Hospital".into(),
            kind: IssuerKind::Hospital,
            jurisdiction: "US-CA".into(),
            evidence: [7; 32],
        };
        IssuerRegistry::new(&relayer, plan.issuer_registry.clone())
            .add_issuer("demo/add-issuer", admin.signing_key(), &issuer, &profile)
            .await
            .map_err(|e| e.to_string())?;
        match chain
            .issuer_status(&issuer)
            .await
            .map_err(|e| e.to_string())?
        {
            IssuerStatus::Trusted => Ok(((), format!("{issuer} trusted"))),
            other => Err(format!("issuer is {other:?} after add_issuer")),
        }
    })
    .await?;

    // Storage and database of the embedded default.
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalDirStore::new(data_dir.join("objects")).map_err(at("open storage"))?);
    let db = SqliteDb::open(data_dir.join("medimint.sqlite3"))
        .await
        .map_err(at("open database"))?;
    db.migrate().await.map_err(at("open database"))?;
    let db: Arc<dyn AppDb> = Arc::new(db);

    let tag = hex::encode(&medimint_sdk::crypto::StudyKey::generate().as_bytes()[..6]);
    let release_id = format!("DEMO-{tag}");
    let email = format!("demo-patient-{tag}@example.org");
    let file_count = opts.series * opts.per_series;
    let expected_root = run
        .step("generate and upload study", async {
            let patient = SyntheticPatient {
                name: "DEMO^PATIENT".into(),
                birth_date: "19700101".into(),
                id: format!("DEMO-{tag}"),
            };
            let uid = format!("2.25.{}", u128::from_str_radix(&tag, 16).unwrap_or(1));
            let files = generate_study(&patient, &uid, opts.series, opts.per_series)?;
            let prefix = format!("inbox/{issuer}/{release_id}");
            let mut digests: Vec<[u8; 32]> = Vec::new();
            for (path, bytes) in &files {
                digests.push(<sha2::Sha256 as sha2::Digest>::digest(bytes).into());
                store
                    .put_bytes(&format!("{prefix}/{path}"), Bytes::from(bytes.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let manifest = serde_json::json!({
                "version": 1,
                "patient": {
                    "email": email,
                    "family_name": "Demo",
                    "given_names": "Patient",
                    "birth_date": "1970-01-01",
                    "patient_id": patient.id,
                },
                "study_instance_uid": uid,
                "files": files.iter().map(|(p, b)| serde_json::json!({"path": p, "size": b.len()})).collect::<Vec<_>>(),
            });
            let root = hex::encode(medimint_ingest::checksum_root(&digests));
            // The manifest goes last: it is what triggers the release.
            store
                .put_bytes(
                    &format!("{prefix}/release.json"),
                    Bytes::from(serde_json::to_vec(&manifest).map_err(|e| e.to_string())?),
                )
                .await
                .map_err(|e| e.to_string())?;
            let detail = format!("{} files in {} series under {prefix}/", files.len(), opts.series);
            Ok((root, detail))
        })
        .await?;

    let token = StudyToken::new(&relayer, plan.study_token.clone());
    let ingest = Ingest::new(
        store.clone(),
        db.clone(),
        Arc::new(SdkSealer),
        chain.clone(),
        IngestConfig::default(),
    );
    let release = ReleaseRef {
        issuer: issuer.clone(),
        release_id: release_id.clone(),
    };
    let (token_id, study_id, patient_kp, patient_hd_index) = run
        .step("release through ingest", async {
            let outcome = ingest.process(&release).await.map_err(|e| e.to_string())?;
            let (token_id, study_id, root) = match outcome {
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
            let account = db
                .account_by_email(&email)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no account was created for the patient")?;
            let index = account
                .hd_index
                .ok_or("the patient's account is not custodial")?;
            let kp = chain.keypair(index).map_err(|e| e.to_string())?;
            if kp.address() != account.address {
                return Err("the patient's address is not the custodial key's".into());
            }
            let pending = token
                .page("pending_of", &kp.address(), 0, 10)
                .await
                .map_err(|e| e.to_string())?;
            if !pending.contains(&token_id) {
                return Err(format!("token {token_id} is not pending for the patient"));
            }
            let root_bytes = root_bytes(&root)?;
            if token
                .verify(token_id, &root_bytes)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err("a pending token already verifies".into());
            }
            if !store
                .list(&format!("inbox/{issuer}/{release_id}/"))
                .await
                .map_err(|e| e.to_string())?
                .is_empty()
            {
                return Err("the upload was not removed from the inbox".into());
            }
            let detail = format!("token #{token_id} pending for {}", kp.address());
            Ok(((token_id, study_id, kp, index), detail))
        })
        .await?;
    let patient = patient_kp.address();
    let root = root_bytes(&expected_root).map_err(at("release through ingest"))?;

    run.step("patient approves", async {
        token
            .approve_release("demo/approve", patient_kp.signing_key(), token_id)
            .await
            .map_err(|e| e.to_string())?;
        if !token
            .verify(token_id, &root)
            .await
            .map_err(|e| e.to_string())?
        {
            return Err("the approved token does not verify".into());
        }
        if token.owner_of(token_id).await.map_err(|e| e.to_string())? != patient {
            return Err("the owner is not the patient".into());
        }
        Ok((
            (),
            format!("token #{token_id} active, owned by the patient"),
        ))
    })
    .await?;

    let doctor = Keypair::generate();
    let doctor_address = doctor.address();
    let expires_at = now_unix() + u64::from(opts.share_days) * 86_400;
    let access = run
        .step("patient shares with doctor", async {
            relayer
                .create_sponsored_account("demo/doctor-account", doctor.signing_key())
                .await
                .map_err(|e| e.to_string())?;
            token
                .grant(
                    "demo/share",
                    patient_kp.signing_key(),
                    token_id,
                    &doctor_address,
                    Role::Viewer,
                    Some(expires_at),
                )
                .await
                .map_err(|e| e.to_string())?;
            medimint_platform::study::share_key(
                store.as_ref(),
                &study_id,
                &patient_kp,
                &doctor_address,
            )
            .await?;
            let access = token
                .access(token_id, &doctor_address)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the doctor has no access after the grant")?;
            if access.role != Role::Viewer
                || access.expires_at != Some(expires_at)
                || access.granter != patient
            {
                return Err(format!("unexpected access {access:?}"));
            }
            Ok((access, format!("Viewer until unix {expires_at}")))
        })
        .await?;

    let cid = db
        .get_release(&issuer, &release_id)
        .await
        .map_err(at("doctor downloads and verifies"))?
        .and_then(|r| r.metadata_cid)
        .ok_or_else(|| DemoError {
            step: "doctor downloads and verifies".into(),
            message: "the release has no metadata object".into(),
        })?;
    let (files_verified, bytes_verified) = run
        .step("doctor downloads and verifies", async {
            token
                .record_access(
                    "demo/download-1",
                    doctor.signing_key(),
                    token_id,
                    AccessKind::Download,
                )
                .await
                .map_err(|e| e.to_string())?;
            let got = download::download_and_verify(
                store.as_ref(),
                &study_id,
                &cid,
                &doctor,
                &expected_root,
            )
            .await?;
            if !token
                .verify(token_id, &root)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err("the token's root does not verify".into());
            }
            if got.0 != file_count as usize {
                return Err(format!("{} of {file_count} files verified", got.0));
            }
            Ok((
                got,
                format!("{} files, {} bytes, root matches the token", got.0, got.1),
            ))
        })
        .await?;

    run.step("patient revokes", async {
        token
            .revoke(
                "demo/revoke",
                patient_kp.signing_key(),
                token_id,
                &doctor_address,
            )
            .await
            .map_err(|e| e.to_string())?;
        store
            .delete(&wrapped_key_key(&study_id, &doctor_address))
            .await
            .map_err(|e| e.to_string())?;
        if token
            .access(token_id, &doctor_address)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err("the doctor still has access".into());
        }
        Ok(((), "role and wrapped key removed".to_string()))
    })
    .await?;

    let refusal = run
        .step("doctor is refused", async {
            let chain_refusal = match token
                .record_access(
                    "demo/download-2",
                    doctor.signing_key(),
                    token_id,
                    AccessKind::Download,
                )
                .await
            {
                Ok(_) => return Err("the doctor's access was recorded after the revoke".into()),
                Err(medimint_chain::Error::Simulation(m)) if m.contains("#217") => {
                    "NoAccess (study-token error 217)".to_string()
                }
                Err(e) => format!("refused: {e}"),
            };
            let key_gone = store
                .head(&wrapped_key_key(&study_id, &doctor_address))
                .await
                .map_err(|e| e.to_string())?
                .is_none();
            if !key_gone {
                return Err("the doctor's wrapped key is still served".into());
            }
            let r = format!("{chain_refusal}; no wrapped key");
            Ok((r.clone(), r))
        })
        .await?;

    let contracts = [
        (plan.issuer_registry.clone(), "issuer-registry"),
        (plan.study_token.clone(), "study-token"),
    ];
    let trail = run
        .step("audit trail from events", async {
            let trail =
                medimint_platform::trail::read_trail(rpc.as_ref(), start_ledger.max(1), &contracts)
                    .await
                    .map_err(|e| e.to_string())?;
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
        doctor: doctor_address,
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

fn root_bytes(hex_root: &str) -> Result<[u8; 32], String> {
    hex::decode(hex_root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "the checksum root is not 32 hex bytes".to_string())
}
