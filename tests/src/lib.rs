//! The mission end to end on one machine, through [`Platform`]: deploy, whitelist an issuer,
//! release a generated study to a new patient, consent, share until a date, download and
//! verify, detect tampering, revoke, refusal, audit trail — and the refusals on the way.
//! The same flow runs over local storage with SQLite and over S3 and DynamoDB on moto.

use std::path::{Path, PathBuf};

use medimint_chain::clients::{IssuerKind, IssuerProfile, Role};
use medimint_ingest::{Outcome, ProblemCode};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use medimint_stack::platform::{
    Config, DatabaseConfig, IssuerSpec, PatientSpec, ReleaseSpec, StorageConfig, Target,
};
use medimint_stack::Platform;

/// Where objects and records go.
pub enum Adapters {
    /// A local directory and SQLite under the data directory.
    Local,
    /// S3 and DynamoDB at an endpoint (moto's server).
    Aws {
        /// The endpoint.
        endpoint: String,
    },
}

fn write_study(dir: &Path, patient: &SyntheticPatient, uid: &str) -> Vec<(String, Vec<u8>)> {
    let files = generate_study(patient, uid, 2, 3).expect("generated study");
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    files
}

fn patient_spec(email: &str, id: &str) -> PatientSpec {
    PatientSpec {
        email: email.into(),
        family_name: "Doe".into(),
        given_names: "Jane".into(),
        birth_date: "1980-01-02".into(),
        patient_id: id.into(),
    }
}

/// Runs the whole flow; panics with the step that misbehaved.
pub async fn run_flow(adapters: Adapters, rpc_url: String) {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = rpc_url;
    if let Adapters::Aws { endpoint } = &adapters {
        config.storage = StorageConfig::S3 {
            bucket: "medimint-e2e".into(),
            endpoint: Some(endpoint.clone()),
        };
        config.database = DatabaseConfig::Dynamodb {
            table: "medimint-e2e".into(),
            endpoint: Some(endpoint.clone()),
        };
    }

    // Before deployment, commands say what to do.
    let platform = Platform::open(config.clone(), true).await.expect("open");
    let err = platform.issuers().await.unwrap_err().to_string();
    assert!(err.contains("medimint deploy"), "{err}");

    // Deploy (twice: idempotent) and whitelist an issuer.
    let d = platform.deploy().await.expect("deploy");
    assert_eq!(platform.deploy().await.expect("redeploy"), d);
    assert!(config.deployment_path().exists());
    let issuer = platform
        .add_issuer(&IssuerSpec {
            email: "pacs-admin@general.example".into(),
            address: None,
            profile: IssuerProfile {
                name: "General Hospital".into(),
                kind: IssuerKind::Hospital,
                jurisdiction: "US-CA".into(),
                evidence: [5; 32],
            },
        })
        .await
        .expect("add issuer");
    let issuers = platform.issuers().await.unwrap();
    assert_eq!(issuers.len(), 1);
    assert_eq!(issuers[0].address, issuer);
    assert_eq!(issuers[0].status, "Active");

    // Release a generated 2-series study to a new patient.
    let export = tempfile::tempdir().unwrap();
    let patient = SyntheticPatient {
        name: "DOE^JANE".into(),
        birth_date: "19800102".into(),
        id: "MRN-7".into(),
    };
    let files = write_study(export.path(), &patient, "2.25.4242");
    let mut uploaded = 0;
    let outcome = platform
        .release(
            &ReleaseSpec {
                issuer: issuer.clone(),
                release_id: "r-1".into(),
                patient: patient_spec("jane@example.org", "MRN-7"),
                study_instance_uid: Some("2.25.4242".into()),
                paths: vec![export.path().to_path_buf()],
            },
            |done, total| {
                assert!(done <= total);
                uploaded = done;
            },
        )
        .await
        .expect("release");
    assert_eq!(uploaded, files.len());
    let Outcome::Released {
        token_id,
        checksum_root,
        ..
    } = outcome
    else {
        panic!("not released: {outcome:?}");
    };
    let jane = platform
        .db()
        .account_by_email("jane@example.org")
        .await
        .unwrap()
        .expect("patient account");
    let token = platform.token(&token_id).await.unwrap();
    assert_eq!(token.status, "Pending");
    assert_eq!(token.owner, jane.address);
    assert_eq!(token.issuer, issuer);
    assert_eq!(token.file_count as usize, files.len());
    // The chain holds a salted commitment, never the bare root a holder of the files knows.
    assert_ne!(hex(&token.commitment), checksum_root);
    let root_bytes =
        medimint_ingest::commitment::parse_hex32("checksum root", &checksum_root).unwrap();
    let c = medimint_ingest::commitment::commitment(
        &medimint_ingest::commitment::commitment_key(platform.seed()),
        &root_bytes,
    );
    assert_eq!(token.commitment, c.value);

    // Only the owner consents; then the token is active.
    let err = platform
        .consent("pacs-admin@general.example", &token_id, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("approving token {token_id}")),
        "{err}"
    );
    platform
        .consent("jane@example.org", &token_id, true)
        .await
        .expect("approve");
    assert_eq!(platform.token(&token_id).await.unwrap().status, "Active");

    // Share with a doctor until a date; the doctor downloads and the checksums verify.
    let until = medimint_storage::now() + 30 * 86_400;
    let doctor = platform
        .share(
            "jane@example.org",
            &token_id,
            &Target::parse("dr.house@clinic.example").unwrap(),
            Role::Viewer,
            Some(until),
        )
        .await
        .expect("share");
    let access = platform.access(&token_id).await.unwrap();
    let grant = access
        .grants
        .iter()
        .find(|g| g.grantee == doctor)
        .expect("doctor's grant");
    assert_eq!(grant.role, "viewer");
    assert_eq!(grant.expires_at, Some(until));
    assert_eq!(grant.granter, jane.address);
    // A viewer cannot share further.
    let err = platform
        .share(
            "dr.house@clinic.example",
            &token_id,
            &Target::parse("someone@else.example").unwrap(),
            Role::Viewer,
            None,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("granting"), "{err}");

    let out = tempfile::tempdir().unwrap();
    let report = platform
        .download("dr.house@clinic.example", &token_id, out.path(), |_, _| {})
        .await
        .expect("download");
    assert_eq!(report.files, files.len());
    assert!(report.verification.is_intact());
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(out.path().join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }

    // Verify: the originals are intact; a tampered, a missing and an extra file are named.
    let originals: Vec<PathBuf> = vec![export.path().to_path_buf()];
    let v = platform.verify(&token_id, &originals, None).await.unwrap();
    assert!(v.root_matches);
    let restored = out.path();
    let (first, _) = &files[0];
    let (second, _) = &files[1];
    std::fs::write(restored.join(first), b"encrypted by ransomware").unwrap();
    std::fs::remove_file(restored.join(second)).unwrap();
    std::fs::write(restored.join("notes.txt"), b"extra").unwrap();
    let v = platform
        .verify(
            &token_id,
            &[restored.to_path_buf()],
            Some("jane@example.org"),
        )
        .await
        .unwrap();
    assert!(!v.root_matches);
    assert_eq!(v.differs, vec![first.clone()]);
    assert_eq!(v.missing, vec![second.clone()]);
    assert_eq!(v.extra, vec!["notes.txt".to_string()]);

    // Revoke: the doctor's next download is refused and their key is gone.
    platform
        .revoke(
            "jane@example.org",
            &token_id,
            &Target::parse("dr.house@clinic.example").unwrap(),
        )
        .await
        .expect("revoke");
    let again = tempfile::tempdir().unwrap();
    let err = platform
        .download(
            "dr.house@clinic.example",
            &token_id,
            again.path(),
            |_, _| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no live role"), "{err}");
    assert!(platform
        .access(&token_id)
        .await
        .unwrap()
        .grants
        .iter()
        .all(|g| g.grantee != doctor));

    // A mismatching release mints nothing and leaves a report.
    let wrong = platform
        .release(
            &ReleaseSpec {
                issuer: issuer.clone(),
                release_id: "r-2".into(),
                patient: patient_spec("jane@example.org", "MRN-8"),
                study_instance_uid: None,
                paths: vec![export.path().join(&files[2].0)],
            },
            |_, _| {},
        )
        .await
        .expect("processed");
    let Outcome::Rejected { report, report_key } = wrong else {
        panic!("a mismatching release was not refused: {wrong:?}");
    };
    assert!(
        report.codes().contains(&ProblemCode::PatientIdMismatch),
        "{report:?}"
    );
    assert!(platform.store().head(&report_key).await.unwrap().is_some());

    // A suspended issuer releases nothing.
    platform
        .set_issuer(&issuer, "suspend")
        .await
        .expect("suspend");
    let err = platform
        .set_issuer(&issuer, "suspend")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("suspend issuer"), "{err}");
    let refused = platform
        .release(
            &ReleaseSpec {
                issuer: issuer.clone(),
                release_id: "r-3".into(),
                patient: patient_spec("jane@example.org", "MRN-7"),
                study_instance_uid: None,
                paths: vec![export.path().join(&files[3].0)],
            },
            |_, _| {},
        )
        .await
        .expect("processed");
    let Outcome::Rejected { report, .. } = refused else {
        panic!("a suspended issuer's release was not refused");
    };
    assert_eq!(report.codes(), vec![ProblemCode::UntrustedIssuer]);
    // Suspension cuts the issuer's own access to what it released, with a clear refusal
    // (issue 14): no file is written.
    let cut = tempfile::tempdir().unwrap();
    let err = platform
        .download(
            "pacs-admin@general.example",
            &token_id,
            cut.path(),
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), medimint_platform::ErrorKind::Forbidden, "{err}");
    assert!(err.to_string().contains("is not trusted now"), "{err}");
    assert_eq!(err.contract_error().map(|(_, n)| n), Some("NoAccess"));
    assert_eq!(std::fs::read_dir(cut.path()).unwrap().count(), 0);
    platform
        .set_issuer(&issuer, "reinstate")
        .await
        .expect("reinstate");
    // Reinstated, it reads again.
    let back = platform
        .download(
            "pacs-admin@general.example",
            &token_id,
            cut.path(),
            |_, _| {},
        )
        .await
        .expect("a reinstated issuer downloads");
    assert!(back.verification.is_intact());

    // The audit trail of the token, from chain events.
    let kinds: Vec<String> = platform
        .history(Some(&token_id), None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "release_proposed",
        "release_approved",
        "role_granted",
        "access_recorded",
        "role_revoked",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let doctors: Vec<String> = platform
        .history(None, Some(&doctor))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        doctors.contains(&"access_recorded".to_string()),
        "{doctors:?}"
    );
    assert!(
        !doctors.contains(&"release_proposed".to_string()),
        "{doctors:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The runtime the flow runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
