//! The release pipeline over a local directory and SQLite, with test versions of the sealer
//! and the chain, on real DICOM files (pydicom's) and studies generated from them.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use medimint_ingest::checksum::{hash_reader, FileChecksum, PresentedFile};
use medimint_ingest::{
    checksum_root, verify, Ingest, IngestConfig, Outcome, ProblemCode, ReleaseRef, Report,
};
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, ReleaseStatus, SqliteDb};
use medimint_testkit::pydicom_file;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
    db: Arc<dyn AppDb>,
    sealer: Arc<TestSealer>,
    chain: Arc<TestChain>,
    faults: Arc<Faults>,
    ingest: Ingest,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalDirStore::new(dir.path()).unwrap());
    let db: Arc<dyn AppDb> = Arc::new(SqliteDb::open_in_memory().await.unwrap());
    env_over(dir, store, db)
}

fn env_over(dir: tempfile::TempDir, store: Arc<dyn ObjectStore>, db: Arc<dyn AppDb>) -> Env {
    let faults = Arc::new(Faults::default());
    let sealer = Arc::new(TestSealer::new(faults.clone()));
    let chain = Arc::new(TestChain::new(faults.clone()));
    let ingest = Ingest::new(
        store.clone(),
        db.clone(),
        sealer.clone(),
        chain.clone(),
        IngestConfig::default(),
    );
    Env {
        _dir: dir,
        store,
        db,
        sealer,
        chain,
        faults,
        ingest,
    }
}

/// Puts `files` and Jane's manifest of them in `ISSUER`'s inbox as release `release_id`.
async fn upload_for_jane(e: &Env, release_id: &str, files: &[(String, Vec<u8>)]) {
    upload(
        &*e.store,
        ISSUER,
        release_id,
        files,
        &manifest_for(files, &JANE),
    )
    .await;
}

fn rel(issuer: &str, id: &str) -> ReleaseRef {
    ReleaseRef {
        issuer: issuer.into(),
        release_id: id.into(),
    }
}

fn ct() -> std::path::PathBuf {
    pydicom_file("CT_small.dcm").expect("pydicom test data")
}

async fn keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    store
        .list(prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// Runs a release through an env and checks what a full release leaves behind.
async fn assert_released(e: &Env, files: &[(String, Vec<u8>)], release_id: &str) -> String {
    let r = rel(ISSUER, release_id);
    let outcome = e.ingest.process(&r).await.unwrap();
    let Outcome::Released {
        token_id,
        study_id,
        checksum_root: root,
    } = outcome.clone()
    else {
        panic!("not released: {outcome:?}");
    };
    let digests: Vec<[u8; 32]> = files
        .iter()
        .map(|(_, b)| Sha256::digest(b).into())
        .collect();
    assert_eq!(root, hex::encode(checksum_root(&digests)));
    // Every original is stored encrypted, under its digest, and decrypts to itself.
    let stored = keys(&*e.store, &format!("studies/{study_id}/files/")).await;
    assert_eq!(stored.len(), files.len());
    for (_, bytes) in files {
        let key = format!(
            "studies/{study_id}/files/{}",
            hex::encode(Sha256::digest(bytes))
        );
        let ct = e.store.get_bytes(&key, 1 << 30).await.unwrap();
        assert_ne!(&ct[..], &bytes[..]);
        assert_eq!(unseal(&ct), *bytes);
    }
    // Nothing waits in a staging folder.
    assert!(keys(&*e.store, "staging/").await.is_empty());
    // The key is wrapped to the patient and to the issuer.
    let account =
        e.db.account_by_email("Jane.Doe@example.org")
            .await
            .unwrap()
            .unwrap();
    let wrapped = keys(&*e.store, &format!("keys/{study_id}/")).await;
    let mut expected = vec![
        format!("keys/{study_id}/{}", account.address),
        format!("keys/{study_id}/{ISSUER}"),
    ];
    expected.sort();
    assert_eq!(wrapped, expected);
    // The token was proposed to the patient with the metadata's address.
    let (id, proposal) = e.chain.tokens.lock().unwrap().get(&root).cloned().unwrap();
    assert_eq!(id, token_id);
    assert_eq!(proposal.patient, account.address);
    assert_eq!(proposal.issuer, ISSUER);
    assert_eq!(proposal.file_count as usize, files.len());
    let cid = proposal
        .metadata_uri
        .strip_prefix("ipfs://")
        .unwrap()
        .to_owned();
    // The upload is gone; the release is confirmed.
    assert!(keys(&*e.store, &r.inbox_prefix()).await.is_empty());
    let record = e.db.get_release(ISSUER, release_id).await.unwrap().unwrap();
    assert_eq!(record.status, ReleaseStatus::Confirmed);
    assert_eq!(record.metadata_cid.as_deref(), Some(cid.as_str()));
    cid
}

/// The metadata object `cid` as one JSON value: its head with the file lines as `files`.
async fn metadata(e: &Env, cid: &str) -> Value {
    metadata_in(e.store.clone(), cid).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_a_generated_study_of_dozens_of_instances() {
    let e = env().await;
    let files = generated_study(&ct(), 3, 12);
    upload_for_jane(&e, "r1", &files).await;
    let cid = assert_released(&e, &files, "r1").await;

    let meta = metadata(&e, &cid).await;
    assert_eq!(meta["files"].as_array().unwrap().len(), 36);
    // The full header, as DICOM JSON, is in the (encrypted) metadata.
    let first = &meta["files"][0];
    assert_eq!(first["path"], "S01/IM0001.dcm");
    assert_eq!(first["header"]["00100020"]["Value"][0], "MRN-001");
    assert_eq!(first["header"]["00100010"]["vr"], "PN");
    assert!(
        first["header"].get("7FE00010").is_none(),
        "pixel data must not be read"
    );
    let summary = &meta["summary"];
    assert_eq!(summary["instance_count"], 36);
    assert_eq!(summary["series_count"], 3);
    assert_eq!(summary["modalities"], json!(["CT"]));
    assert_eq!(summary["study_year"], 2024);
    assert_eq!(summary["series"][2]["instances"], 12);
    let text = summary.to_string();
    for phi in ["Doe", "Jane", "19800131", "MRN-001", STUDY_UID, "20240115"] {
        assert!(!text.contains(phi), "summary holds {phi}");
    }

    // The same manifest again: the same release, nothing done twice.
    let again = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap();
    assert!(matches!(again, Outcome::Released { .. }));
    assert_eq!(e.sealer.studies.load(Ordering::SeqCst), 1);
    assert_eq!(e.chain.proposals.load(Ordering::SeqCst), 1);
    assert_eq!(e.chain.accounts.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_failure_at_any_step_gives_one_release() {
    let files = generated_study(&ct(), 1, 4);
    for step in [
        "issuer",
        "account",
        "seal",
        "metadata",
        "lookup",
        "propose",
        "propose-after",
    ] {
        let e = env().await;
        upload_for_jane(&e, "r1", &files).await;
        e.faults.arm(step, 1);
        let err = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap_err();
        assert!(err.is_transient(), "{step}: {err}");
        // The upload stays until the release is confirmed.
        assert_eq!(keys(&*e.store, "inbox/").await.len(), 5, "{step}");
        assert_released(&e, &files, "r1").await;
        assert_eq!(e.chain.tokens.lock().unwrap().len(), 1, "{step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_at_once_give_one_release() {
    // `medimint release` processes its upload while `medimint up` (or a second S3
    // notification) picks up the same manifest. The one that finds the release claimed or
    // moved on fails transiently and its retry returns the same outcome.
    use medimint_ingest::retry::{process_with_retries, RetryPolicy};
    let policy = RetryPolicy {
        attempts: 8,
        first_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(400),
    };
    let files = generated_study(&ct(), 1, 4);
    for round in 0..5 {
        let e = env().await;
        let dead = tempfile::tempdir().unwrap();
        let dead_letters = LocalDirStore::new(dead.path()).unwrap();
        upload_for_jane(&e, "r1", &files).await;
        let r = rel(ISSUER, "r1");
        let (a, b) = tokio::join!(
            process_with_retries(&e.ingest, &r, &policy, &dead_letters),
            process_with_retries(&e.ingest, &r, &policy, &dead_letters)
        );
        let (a, b) = (a.expect("first delivery"), b.expect("second delivery"));
        assert_eq!(a, b, "round {round}");
        assert!(
            matches!(a, Outcome::Released { .. }),
            "round {round}: {a:?}"
        );
        assert_eq!(e.chain.tokens.lock().unwrap().len(), 1, "round {round}");
        assert!(keys(&*e.store, "inbox/").await.is_empty(), "round {round}");
        assert!(
            dead_letters.list("").await.unwrap().is_empty(),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_files_under_another_release_id_are_refused() {
    let e = env().await;
    let files = generated_study(&ct(), 1, 2);
    upload_for_jane(&e, "r1", &files).await;
    assert_released(&e, &files, "r1").await;
    upload_for_jane(&e, "r2", &files).await;
    let out = e.ingest.process(&rel(ISSUER, "r2")).await.unwrap();
    let Outcome::Rejected { report, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(report.codes(), [ProblemCode::AlreadyReleased]);
    assert_eq!(e.chain.tokens.lock().unwrap().len(), 1);
}

/// Processes a bad release and checks: rejected with exactly `codes` (as a set), the report
/// beside the release in JSON and text, the upload quarantined, nothing sealed or proposed.
async fn assert_rejected(
    issuer: &str,
    files: &[(String, Vec<u8>)],
    manifest: Value,
    codes: &[ProblemCode],
) -> Report {
    let e = env().await;
    upload(&*e.store, issuer, "bad", files, &manifest).await;
    let out = e.ingest.process(&rel(issuer, "bad")).await.unwrap();
    let Outcome::Rejected { report, report_key } = out else {
        panic!("not rejected: {out:?}")
    };
    let mut want = codes.to_vec();
    want.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(report.codes(), want, "{}", report.to_text());
    assert_eq!(report_key, format!("quarantine/{issuer}/bad/report.json"));
    let stored: Report =
        serde_json::from_slice(&e.store.get_bytes(&report_key, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(stored, report);
    let text = e
        .store
        .get_bytes(&format!("quarantine/{issuer}/bad/report.txt"), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8(text).unwrap().contains("rejected"));
    assert!(keys(&*e.store, "inbox/").await.is_empty());
    let quarantined = keys(&*e.store, &format!("quarantine/{issuer}/bad/upload/")).await;
    assert_eq!(quarantined.len(), files.len() + 1);
    for prefix in ["studies/", "meta/", "keys/"] {
        assert!(keys(&*e.store, prefix).await.is_empty(), "{prefix}");
    }
    // Sealed as they were read, the refused files are discarded with their staging folder.
    assert!(keys(&*e.store, "staging/").await.is_empty());
    assert!(e.chain.tokens.lock().unwrap().is_empty());
    assert_eq!(
        e.db.get_release(issuer, "bad")
            .await
            .unwrap()
            .unwrap()
            .status,
        ReleaseStatus::Rejected
    );
    // A repeat delivery gives the same report and changes nothing.
    let again = e.ingest.process(&rel(issuer, "bad")).await.unwrap();
    assert!(matches!(again, Outcome::Rejected { report: ref r, .. } if *r == report));
    // No PHI in the report.
    let json = report.to_json();
    for phi in [
        "Doe",
        "Jane",
        "19800131",
        "1980-01-31",
        "MRN-001",
        "jane.doe",
    ] {
        assert!(!json.contains(phi), "report holds {phi}: {json}");
    }
    report
}

fn with(files: &[(String, Vec<u8>)], path: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut out = files.to_vec();
    out.push((path.into(), bytes));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_files_are_rejected() {
    let files = generated_study(&ct(), 1, 2);
    let whole = &files[1].1;
    // Cut inside the pixel data: its declared length no longer fits.
    let bad = vec![
        files[0].clone(),
        (files[1].0.clone(), whole[..whole.len() / 2].to_vec()),
    ];
    let report = assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::LengthBeyondEnd],
    )
    .await;
    assert_eq!(report.problems[0].file.as_deref(), Some("S01/IM0002.dcm"));
    assert!(
        report.problems[0].message.contains("(7FE0,0010)"),
        "{}",
        report.problems[0].message
    );
    // Cut inside the header, as an interrupted export would; the manifest lists the full
    // size, so the size is reported too.
    let mut bad = files.clone();
    bad[1].1.truncate(700);
    let report = assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&files, &JANE),
        &[ProblemCode::SizeMismatch, ProblemCode::Truncated],
    )
    .await;
    assert!(report
        .problems
        .iter()
        .all(|p| p.file.as_deref() == Some("S01/IM0002.dcm")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_dicom_is_rejected() {
    let files = generated_study(&ct(), 1, 1);
    let bad = with(&files, "notes.txt", b"not an image".to_vec());
    assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::NotDicom],
    )
    .await;
    // A DICOM data set without the Part 10 preamble and meta group (pydicom's no_meta.dcm).
    let raw = std::fs::read(pydicom_file("no_meta.dcm").unwrap()).unwrap();
    let bad = with(&files, "no_meta.dcm", raw);
    assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::NotDicom],
    )
    .await;
}

/// A Part 10 file whose one data element declares 4 GiB - 16 bytes.
fn huge_length_file() -> Vec<u8> {
    let mut f = vec![0u8; 128];
    f.extend_from_slice(b"DICM");
    let ts = b"1.2.840.10008.1.2.1\0";
    f.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    f.extend_from_slice(&(ts.len() as u16).to_le_bytes());
    f.extend_from_slice(ts);
    f.extend_from_slice(&[0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
    f.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    f.extend_from_slice(&[0u8; 64]);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_declared_length_is_an_error_not_an_allocation() {
    let files = generated_study(&ct(), 1, 1);
    let bad = with(&files, "huge.dcm", huge_length_file());
    let report = assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::LengthBeyondEnd],
    )
    .await;
    let p = &report.problems[0];
    assert_eq!(p.file.as_deref(), Some("huge.dcm"));
    assert!(p.message.contains("(0029,1010)"), "{}", p.message);
    assert!(p.message.contains("4294967280"), "{}", p.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_mismatches_are_each_reported() {
    let files = generated_study(&ct(), 1, 2);
    let others = [
        (
            Person {
                name: "Doe^John",
                ..JANE
            },
            ProblemCode::PatientNameMismatch,
        ),
        (
            Person {
                birth_date: "19800201",
                ..JANE
            },
            ProblemCode::BirthDateMismatch,
        ),
        (
            Person {
                id: "MRN-002",
                ..JANE
            },
            ProblemCode::PatientIdMismatch,
        ),
    ];
    for (who, code) in others {
        let odd = instance_from(
            &ct(),
            &who,
            STUDY_UID,
            &format!("{STUDY_UID}.1"),
            "1.2.3.999",
        );
        let bad = with(&files, "odd.dcm", odd);
        let report = assert_rejected(ISSUER, &bad, manifest_for(&bad, &JANE), &[code]).await;
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].file.as_deref(), Some("odd.dcm"));
    }
    // All three at once, in every file: every problem is reported, not just the first.
    let stranger = Person {
        name: "Roe^Richard",
        birth_date: "19700101",
        id: "X",
    };
    let report = assert_rejected(
        ISSUER,
        &files,
        manifest_for(&files, &stranger),
        &[
            ProblemCode::PatientNameMismatch,
            ProblemCode::BirthDateMismatch,
            ProblemCode::PatientIdMismatch,
        ],
    )
    .await;
    assert_eq!(report.problems.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn study_and_instance_uid_problems() {
    let files = generated_study(&ct(), 1, 2);
    let other_study = instance_from(&ct(), &JANE, "1.2.3.4", "1.2.3.4.1", "1.2.3.4.1.1");
    let bad = with(&files, "other.dcm", other_study);
    assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::MultipleStudies],
    )
    .await;

    let dup = instance_from(
        &ct(),
        &JANE,
        STUDY_UID,
        &format!("{STUDY_UID}.1"),
        &format!("{STUDY_UID}.1.1"),
    );
    let mut bad = with(&files, "dup.dcm", dup);
    // Differs in bytes from S01/IM0001.dcm but has its SOP Instance UID.
    bad.last_mut().unwrap().1.push(0);
    let report = assert_rejected(
        ISSUER,
        &bad,
        manifest_for(&bad, &JANE),
        &[ProblemCode::DuplicateSopInstance],
    )
    .await;
    assert!(report.problems[0].message.contains("S01/IM0001.dcm"));

    let mut manifest = manifest_for(&files, &JANE);
    manifest["study_instance_uid"] = json!("1.2.3.4.5");
    assert_rejected(ISSUER, &files, manifest, &[ProblemCode::StudyUidMismatch]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_files_of_one_image_in_three_syntaxes_share_a_sop_instance() {
    // pydicom's MR_small in explicit little endian, big endian and implicit VR.
    let files: Vec<(String, Vec<u8>)> = [
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ]
    .iter()
    .map(|n| {
        (
            n.to_string(),
            std::fs::read(pydicom_file(n).unwrap()).unwrap(),
        )
    })
    .collect();
    let who = Person {
        name: "CompressedSamples^MR1",
        birth_date: "19800131",
        id: "4MR1",
    };
    let report = assert_rejected(
        ISSUER,
        &files,
        manifest_for(&files, &who),
        // pydicom's files have an empty birth date.
        &[
            ProblemCode::DuplicateSopInstance,
            ProblemCode::BirthDateMismatch,
        ],
    )
    .await;
    let dups: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.code == ProblemCode::DuplicateSopInstance)
        .collect();
    assert_eq!(dups.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_list_problems() {
    let files = generated_study(&ct(), 1, 3);
    // Empty release.
    assert_rejected(
        ISSUER,
        &[],
        manifest_for(&[], &JANE),
        &[ProblemCode::EmptyRelease],
    )
    .await;
    // Listed but not uploaded, uploaded but not listed, size differs.
    let mut manifest = manifest_for(&files, &JANE);
    manifest["files"][0]["path"] = json!("S01/ghost.dcm");
    manifest["files"][1]["size"] = json!(12);
    let report = assert_rejected(
        ISSUER,
        &files,
        manifest,
        &[
            ProblemCode::FileMissing,
            ProblemCode::FileUnlisted,
            ProblemCode::SizeMismatch,
        ],
    )
    .await;
    assert_eq!(report.problems.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_problems_are_all_named() {
    let files = generated_study(&ct(), 1, 1);
    let manifest = json!({
        "version": 1,
        "patient": {"email": "not-an-email", "family_name": "Doe", "birth_date": "1980-02-30", "nickname": "J"},
        "files": [{"path": "../escape.dcm", "size": -1}, {"size": 1}],
        "extra": true
    });
    let report = assert_rejected(
        ISSUER,
        &files,
        manifest,
        &[
            ProblemCode::ManifestMalformed,
            ProblemCode::ManifestMissingField,
            ProblemCode::ManifestUnknownField,
        ],
    )
    .await;
    let fields: Vec<&str> = report
        .problems
        .iter()
        .filter_map(|p| p.field.as_deref())
        .collect();
    for f in [
        "$.patient.email",
        "$.patient.given_names",
        "$.patient.birth_date",
        "$.patient.patient_id",
        "$.patient.nickname",
        "$.files[0].path",
        "$.files[0].size",
        "$.files[1].path",
        "$.extra",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }

    // Not JSON at all.
    let e = env().await;
    upload(&*e.store, ISSUER, "r", &files, &json!(null)).await;
    e.store
        .put_bytes(
            &format!("inbox/{ISSUER}/r/release.json"),
            bytes::Bytes::from_static(b"{\"version\": 1,"),
        )
        .await
        .unwrap();
    let Outcome::Rejected { report, .. } = e.ingest.process(&rel(ISSUER, "r")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(report.codes(), [ProblemCode::ManifestMalformed]);
    assert!(report.problems[0].message.contains("line 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_suspended_issuers_are_refused() {
    let files = generated_study(&ct(), 1, 1);
    for issuer in [
        SUSPENDED,
        "GUNKNOWNISSUERAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let report = assert_rejected(
            issuer,
            &files,
            manifest_for(&files, &JANE),
            &[ProblemCode::UntrustedIssuer],
        )
        .await;
        assert_eq!(report.problems.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_files_after_a_restore() {
    let e = env().await;
    let files = generated_study(&ct(), 1, 5);
    upload_for_jane(&e, "r1", &files).await;
    let cid = assert_released(&e, &files, "r1").await;
    let meta = metadata(&e, &cid).await;
    let root = meta["checksum_root"].as_str().unwrap().to_owned();
    let listed: Vec<FileChecksum> = meta["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| FileChecksum {
            path: f["path"].as_str().unwrap().into(),
            sha256: f["sha256"].as_str().unwrap().into(),
            size: f["size"].as_u64().unwrap(),
        })
        .collect();
    let mut presented = Vec::new();
    for (path, bytes) in &files {
        let (sha256, _) = hash_reader(&mut &bytes[..]).await.unwrap();
        presented.push(PresentedFile {
            name: format!("/restore/{path}"),
            sha256,
        });
    }
    assert!(verify(&presented, &root, &listed).is_intact());
    // One file altered, one lost, one stranger.
    presented[1].sha256[0] ^= 1;
    presented.remove(3);
    presented.push(PresentedFile {
        name: "/restore/extra.dcm".into(),
        sha256: [7; 32],
    });
    let v = verify(&presented, &root, &listed);
    assert!(!v.root_matches);
    assert_eq!(v.differs, ["/restore/S01/IM0002.dcm"]);
    assert_eq!(v.missing, ["S01/IM0004.dcm"]);
    assert_eq!(v.extra, ["/restore/extra.dcm"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rejection_is_finished_by_the_next_delivery() {
    let e = env().await;
    let files = generated_study(&ct(), 1, 2);
    let other = Person { id: "nope", ..JANE };
    upload(
        &*e.store,
        ISSUER,
        "bad",
        &files,
        &manifest_for(&files, &other),
    )
    .await;
    let first = e.ingest.process(&rel(ISSUER, "bad")).await.unwrap();
    // Put a file back into the inbox as if the move had been cut short.
    e.store
        .copy(
            &format!("quarantine/{ISSUER}/bad/upload/S01/IM0001.dcm"),
            &format!("inbox/{ISSUER}/bad/S01/IM0001.dcm"),
        )
        .await
        .unwrap();
    let second = e.ingest.process(&rel(ISSUER, "bad")).await.unwrap();
    assert_eq!(first, second);
    assert!(keys(&*e.store, "inbox/").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_processed_one_or_several_at_a_time_give_the_same_release() {
    let files = generated_study(&ct(), 2, 7);
    let mut seen = Vec::new();
    for concurrency in [1, 3, 16] {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalDirStore::new(dir.path()).unwrap());
        let db: Arc<dyn AppDb> = Arc::new(SqliteDb::open_in_memory().await.unwrap());
        let mut e = env_over(dir, store, db);
        e.ingest = Ingest::new(
            e.store.clone(),
            e.db.clone(),
            e.sealer.clone(),
            e.chain.clone(),
            IngestConfig {
                file_concurrency: concurrency,
                ..IngestConfig::default()
            },
        );
        upload_for_jane(&e, "r1", &files).await;
        let Outcome::Released {
            checksum_root,
            study_id,
            ..
        } = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap()
        else {
            panic!("not released with {concurrency} at a time");
        };
        let stored = keys(&*e.store, &format!("studies/{study_id}/")).await;
        assert_eq!(stored.len(), files.len(), "{concurrency} at a time");
        seen.push((checksum_root, stored));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_cleanup_is_finished_not_validated_again() {
    // An attempt proposed the release on chain and stopped while removing the upload: some
    // files are gone, the manifest is still there. The next delivery must finish the
    // removal and give the same token, not examine what is left and reject it.
    let e = env().await;
    let files = generated_study(&ct(), 1, 3);
    upload_for_jane(&e, "r1", &files).await;
    let first = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap();
    let mut record = e.db.get_release(ISSUER, "r1").await.unwrap().unwrap();
    assert_eq!(record.status, ReleaseStatus::Confirmed);
    // Back to the state of the interrupted removal: one file and the manifest remain.
    upload(
        &*e.store,
        ISSUER,
        "r1",
        &files[..1],
        &manifest_for(&files, &JANE),
    )
    .await;
    record.status = ReleaseStatus::Proposed;
    e.db.update_release(&record).await.unwrap();

    let second = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap();
    assert_eq!(first, second);
    assert!(matches!(second, Outcome::Released { .. }), "{second:?}");
    assert!(keys(&*e.store, "inbox/").await.is_empty());
    assert!(keys(&*e.store, "quarantine/").await.is_empty());
    assert_eq!(e.chain.tokens.lock().unwrap().len(), 1);
    let record = e.db.get_release(ISSUER, "r1").await.unwrap().unwrap();
    assert_eq!(record.status, ReleaseStatus::Confirmed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_through_s3_and_dynamodb_on_moto() {
    use medimint_storage::{DynamoDb, S3Store};
    use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
    let moto = MotoServer::start().expect("moto server");
    let s3 = S3Store::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint",
    );
    s3.ensure_bucket().await.unwrap();
    let db = DynamoDb::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-app",
    );
    db.migrate().await.unwrap();
    let e = env_over(tempfile::tempdir().unwrap(), Arc::new(s3), Arc::new(db));

    let files = generated_study(&ct(), 2, 6);
    upload_for_jane(&e, "r1", &files).await;
    assert_released(&e, &files, "r1").await;

    let other = Person {
        birth_date: "19991231",
        ..JANE
    };
    let bad = generated_study(&ct(), 1, 1)
        .into_iter()
        .map(|(p, _)| {
            (
                p,
                instance_from(&ct(), &other, "1.2.9", "1.2.9.1", "1.2.9.1.1"),
            )
        })
        .collect::<Vec<_>>();
    upload(&*e.store, ISSUER, "r2", &bad, &manifest_for(&bad, &JANE)).await;
    let Outcome::Rejected { report, report_key } =
        e.ingest.process(&rel(ISSUER, "r2")).await.unwrap()
    else {
        panic!("not rejected")
    };
    assert_eq!(report.codes(), [ProblemCode::BirthDateMismatch]);
    assert!(e.store.head(&report_key).await.unwrap().is_some());
    assert_eq!(
        keys(&*e.store, &format!("quarantine/{ISSUER}/r2/upload/"))
            .await
            .len(),
        2
    );
    drop(moto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_lettered() {
    use medimint_ingest::retry::{process_with_retries, RetryPolicy};
    use std::time::Duration;
    let policy = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    };
    let files = generated_study(&ct(), 1, 2);

    // Two failures, then success within the three attempts.
    let e = env().await;
    let dead = tempfile::tempdir().unwrap();
    let dead_letters = LocalDirStore::new(dead.path()).unwrap();
    upload_for_jane(&e, "r1", &files).await;
    e.faults.arm("propose", 2);
    let out = process_with_retries(&e.ingest, &rel(ISSUER, "r1"), &policy, &dead_letters)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Released { .. }));
    assert!(dead_letters.list("").await.unwrap().is_empty());

    // Failing every time: dead-lettered with its reason, the upload kept for a replay.
    let e = env().await;
    upload_for_jane(&e, "r2", &files).await;
    e.faults.arm("seal", 100);
    let err = process_with_retries(&e.ingest, &rel(ISSUER, "r2"), &policy, &dead_letters)
        .await
        .unwrap_err();
    assert!(err.is_transient());
    let letter: Value = serde_json::from_slice(
        &dead_letters
            .get_bytes(&format!("{ISSUER}/r2.json"), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(letter["attempts"], 3);
    assert_eq!(letter["release_id"], "r2");
    assert!(letter["reason"]
        .as_str()
        .unwrap()
        .contains("injected fault"));
    assert_eq!(keys(&*e.store, "inbox/").await.len(), 3);
    // Once the fault is gone, replaying the dead letter releases the study.
    e.faults.arm("seal", 0);
    assert!(matches!(
        e.ingest.process(&rel(ISSUER, "r2")).await.unwrap(),
        Outcome::Released { .. }
    ));
}

/// pydicom's files used as templates, one per transfer syntax or kind of object: each is
/// rewritten for Jane (dicom-object keeps its transfer syntax) and released as written.
const TEMPLATES: &[(&str, &str)] = &[
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"),
    ("JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51"),
    ("SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70"),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
    ("SC_rgb_jls_lossy_line.dcm", "1.2.840.10008.1.2.4.81"),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91"),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
    ("reportsi.dcm", "1.2.840.10008.1.2.1"),
    ("liver_1frame.dcm", "1.2.840.10008.1.2.1"),
    ("waveform_ecg.dcm", "1.2.840.10008.1.2.1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_study_of_every_kind_of_file_the_field_sends_is_released_as_sent() {
    let mut files = Vec::new();
    let series = |n: usize| format!("{STUDY_UID}.{n}");
    let sop = |n: usize| format!("{STUDY_UID}.{n}.1");
    for (n, (name, ts)) in TEMPLATES.iter().enumerate() {
        let bytes = instance_from(
            &pydicom_file(name).unwrap(),
            &JANE,
            STUDY_UID,
            &series(n),
            &sop(n),
        );
        let read = medimint_ingest::read_file(&mut &bytes[..], 8 << 20)
            .await
            .unwrap();
        assert_eq!(read.header.unwrap().fields.transfer_syntax, *ts, "{name}");
        files.push((format!("{n:02}-{name}"), bytes));
    }
    let n = TEMPLATES.len();
    let ct_for = |k: usize| instance_from(&ct(), &JANE, STUDY_UID, &series(k), &sop(k));
    // Deflated Explicit VR Little Endian.
    files.push(("deflated.dcm".into(), deflated(&ct_for(n))));
    // Without the preamble; without the preamble and `DICM`.
    files.push(("no-preamble.dcm".into(), ct_for(n + 1)[128..].to_vec()));
    files.push(("meta-only.dcm".into(), ct_for(n + 2)[132..].to_vec()));
    // An encapsulated PDF report; private sequences of undefined length, ten levels deep.
    files.push((
        "report.dcm".into(),
        encapsulated_pdf(&JANE, STUDY_UID, &series(n + 3), &sop(n + 3)),
    ));
    files.push((
        "private.dcm".into(),
        with_nested_private_sequences(&ct(), &JANE, STUDY_UID, &series(n + 4), &sop(n + 4), 10),
    ));

    let e = env().await;
    upload_for_jane(&e, "field", &files).await;
    // Every file stored is the original, byte for byte (checked by decrypting each).
    let cid = assert_released(&e, &files, "field").await;
    let meta = metadata(&e, &cid).await;
    let listed = meta["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len());
    for f in listed {
        assert!(
            f["header"]["00080018"]["Value"][0].is_string(),
            "{}",
            f["path"]
        );
        assert_eq!(
            f["header"]["00100020"]["Value"][0], JANE.id,
            "{}",
            f["path"]
        );
    }
    let pdf = listed.iter().find(|f| f["path"] == "report.dcm").unwrap();
    assert_eq!(pdf["header"]["00420012"]["Value"][0], "application/pdf");
}

/// A Part 10 file of 1 KiB whose one data element declares 4 GiB - 16 bytes.
fn huge_length_kib() -> Vec<u8> {
    let mut f = huge_length_file();
    f.resize(1024, 0);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_each_refused_by_name_and_the_next_export_goes_through() {
    let e = env().await;
    let good = generated_study(&ct(), 1, 2);
    let whole = &instance_from(&ct(), &JANE, STUDY_UID, "1.2.9", "1.2.9.2");
    let jpeg = instance_from(
        &pydicom_file("SC_rgb_jpeg_dcmtk.dcm").unwrap(),
        &JANE,
        STUDY_UID,
        "1.2.9",
        "1.2.9.1",
    );
    let deep = part10(
        &meta_with_ts("1.2.840.10008.1.2.1"),
        &nested_sequences(100_000),
    );
    // (bad file, its name, the code, a word its message must hold)
    let cases: Vec<(Vec<u8>, &str, ProblemCode, &str)> = vec![
        (
            huge_length_kib(),
            "huge.dcm",
            ProblemCode::LengthBeyondEnd,
            "4294967280",
        ),
        (deep, "deep.dcm", ProblemCode::MalformedDicom, "nested"),
        (
            whole[..whole.len() / 2].to_vec(),
            "cut-pixels.dcm",
            ProblemCode::LengthBeyondEnd,
            "(7FE0,0010)",
        ),
        (
            jpeg[..jpeg.len() - 100].to_vec(),
            "cut-fragments.dcm",
            ProblemCode::Truncated,
            "pixel data",
        ),
        (
            b"%PDF-1.4 a report saved with the wrong name".to_vec(),
            "notes.dcm",
            ProblemCode::NotDicom,
            "Part 10",
        ),
        (
            good[0].1.clone(),
            "S01/copy-of-IM0001.dcm",
            ProblemCode::DuplicateSopInstance,
            "S01/IM0001.dcm",
        ),
    ];
    for (i, (bytes, name, code, word)) in cases.into_iter().enumerate() {
        let id = format!("bad-{i}");
        let files = with(&good, name, bytes);
        upload_for_jane(&e, &id, &files).await;
        let out = e.ingest.process(&rel(ISSUER, &id)).await.unwrap();
        let Outcome::Rejected { report, report_key } = out else {
            panic!("{name}: not rejected: {out:?}")
        };
        assert_eq!(report.codes(), [code], "{name}: {}", report.to_text());
        let p = &report.problems[0];
        assert_eq!(p.file.as_deref(), Some(name));
        assert!(p.message.contains(word), "{name}: {}", p.message);
        assert_eq!(report_key, format!("quarantine/{ISSUER}/{id}/report.json"));
        // Nothing lost: the whole upload is in quarantine.
        let kept = keys(&*e.store, &format!("quarantine/{ISSUER}/{id}/upload/")).await;
        assert_eq!(kept.len(), files.len() + 1, "{name}");
    }
    assert!(e.chain.tokens.lock().unwrap().is_empty());
    // The same pipeline releases the next export.
    upload_for_jane(&e, "next", &good).await;
    assert_released(&e, &good, "next").await;
}

fn john() -> Person {
    Person {
        name: "Roe^John",
        birth_date: "19700704",
        id: "MRN-777",
    }
}

/// John's study under `release_id`, with his own email.
async fn upload_for_john(e: &Env, release_id: &str) -> Vec<(String, Vec<u8>)> {
    let uid = "1.2.826.0.1.3680043.8.498.2";
    let files: Vec<(String, Vec<u8>)> = (1..=2)
        .map(|i| {
            (
                format!("J/IM{i}.dcm"),
                instance_from(
                    &ct(),
                    &john(),
                    uid,
                    &format!("{uid}.1"),
                    &format!("{uid}.1.{i}"),
                ),
            )
        })
        .collect();
    let mut manifest = manifest_for(&files, &john());
    manifest["patient"]["email"] = json!("john.roe@example.org");
    upload(&*e.store, ISSUER, release_id, &files, &manifest).await;
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_releases_at_once_for_two_patients_get_a_token_each() {
    let e = env().await;
    let jane = generated_study(&ct(), 1, 2);
    upload_for_jane(&e, "cli-aaaa", &jane).await;
    upload_for_john(&e, "cli-bbbb").await;
    let (ra, rb) = (rel(ISSUER, "cli-aaaa"), rel(ISSUER, "cli-bbbb"));
    let (a, b) = tokio::join!(e.ingest.process(&ra), e.ingest.process(&rb));
    let (Outcome::Released { token_id: ta, .. }, Outcome::Released { token_id: tb, .. }) =
        (a.unwrap(), b.unwrap())
    else {
        panic!("not both released")
    };
    assert_ne!(ta, tb);
    let owner = |token: &str| {
        let tokens = e.chain.tokens.lock().unwrap();
        tokens
            .values()
            .find(|(id, _)| id == token)
            .map(|(_, p)| p.patient.clone())
            .unwrap()
    };
    let jane_acct =
        e.db.account_by_email("jane.doe@example.org")
            .await
            .unwrap()
            .unwrap();
    let john_acct =
        e.db.account_by_email("john.roe@example.org")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(owner(&ta), jane_acct.address);
    assert_eq!(owner(&tb), john_acct.address);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_id_reused_for_another_patient_is_refused_and_changes_nothing() {
    let e = env().await;
    let jane = generated_study(&ct(), 1, 2);
    upload_for_jane(&e, "r1", &jane).await;
    assert_released(&e, &jane, "r1").await;
    let before = e.db.get_release(ISSUER, "r1").await.unwrap().unwrap();
    let meta_before = keys(&*e.store, "meta/").await;

    let john_files = upload_for_john(&e, "r1").await;
    let out = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap();
    let Outcome::Rejected { report, report_key } = out else {
        panic!("not refused: {out:?}")
    };
    assert_eq!(report.codes(), [ProblemCode::ReleaseIdReused]);
    let msg = &report.problems[0].message;
    let token = before.token_id.clone().unwrap();
    assert!(msg.contains("r1") && msg.contains("confirmed"), "{msg}");
    assert!(msg.contains(&format!("token {token}")), "{msg}");
    assert!(msg.contains("new release id"), "{msg}");
    assert!(report_key.starts_with(&format!("quarantine/{ISSUER}/r1/reused-")));
    // Nothing released, nothing overwritten: the earlier record, its metadata and its
    // token stand; John has no account; his upload is kept beside the report.
    assert_eq!(
        e.db.get_release(ISSUER, "r1").await.unwrap().unwrap(),
        before
    );
    assert_eq!(keys(&*e.store, "meta/").await, meta_before);
    assert_eq!(e.chain.tokens.lock().unwrap().len(), 1);
    assert_eq!(e.sealer.studies.load(Ordering::SeqCst), 1);
    assert!(e
        .db
        .account_by_email("john.roe@example.org")
        .await
        .unwrap()
        .is_none());
    assert!(keys(&*e.store, "inbox/").await.is_empty());
    let q = report_key.trim_end_matches("report.json");
    assert_eq!(
        keys(&*e.store, &format!("{q}upload/")).await.len(),
        john_files.len() + 1
    );
    let text = String::from_utf8(report.to_json().into_bytes()).unwrap();
    for phi in ["Roe", "John", "MRN-777", "john.roe"] {
        assert!(!text.contains(phi), "report holds {phi}");
    }

    // A repeat of Jane's own release (the same manifest) still resumes to its token.
    upload_for_jane(&e, "r1", &jane).await;
    let again = e.ingest.process(&rel(ISSUER, "r1")).await.unwrap();
    assert!(matches!(again, Outcome::Released { ref token_id, .. } if *token_id == token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_fails_after_claiming_its_root_is_retried_to_success() {
    let e = env().await;
    let files = generated_study(&ct(), 1, 3);
    upload_for_jane(&e, "first", &files).await;
    // Storing the study fails after the checksum root was claimed (wrapping its key).
    e.faults.arm("wrap", 1);
    let err = e.ingest.process(&rel(ISSUER, "first")).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    // What the attempt sealed is not left behind in its staging folder.
    assert!(keys(&*e.store, "staging/").await.is_empty());
    // The same files under another release id are told which release to retry.
    upload_for_jane(&e, "second", &files).await;
    let out = e.ingest.process(&rel(ISSUER, "second")).await.unwrap();
    let Outcome::Rejected { report, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(report.codes(), [ProblemCode::AlreadyReleased]);
    let msg = &report.problems[0].message;
    assert!(
        msg.contains(&format!("{ISSUER}/first")) && msg.contains("retry"),
        "{msg}"
    );
    // The retry of the release that claimed the root finishes it.
    assert_released(&e, &files, "first").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_released_in_place_are_read_where_they_are_and_left_there() {
    // `medimint release`: the files stay in the caller's folder, nothing enters the inbox.
    let e = env().await;
    let files = generated_study(&ct(), 2, 3);
    let folder = tempfile::tempdir().unwrap();
    let mut local = Vec::new();
    for (path, bytes) in &files {
        let at = folder.path().join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(&at, bytes).unwrap();
    }
    let collected = medimint_ingest::LocalUpload::collect(&[folder.path().to_path_buf()]).unwrap();
    assert_eq!(
        collected.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()
    );
    for (name, path) in &collected {
        local.push((name.clone(), path.clone()));
    }
    let manifest = serde_json::to_vec(&manifest_for(&files, &JANE)).unwrap();
    let release = rel(ISSUER, "cli-local");
    let upload = || {
        Arc::new(medimint_ingest::LocalUpload::new(
            local.clone(),
            manifest.clone(),
        )) as Arc<dyn medimint_ingest::Upload>
    };
    // A failure after the root is claimed; the same command again resumes it.
    e.faults.arm("propose", 1);
    let err = e
        .ingest
        .process_upload(&release, upload())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    let Outcome::Released { study_id, .. } =
        e.ingest.process_upload(&release, upload()).await.unwrap()
    else {
        panic!("not released");
    };
    assert!(keys(&*e.store, "inbox/").await.is_empty());
    assert_eq!(
        keys(&*e.store, &format!("studies/{study_id}/files/"))
            .await
            .len(),
        files.len()
    );
    for (path, bytes) in &files {
        assert_eq!(&std::fs::read(folder.path().join(path)).unwrap(), bytes);
    }
    // Once more: the same outcome, nothing proposed again.
    assert!(matches!(
        e.ingest.process_upload(&release, upload()).await.unwrap(),
        Outcome::Released { .. }
    ));
    assert_eq!(e.chain.proposals.load(Ordering::SeqCst), 1);
}

/// An upload that counts the times its files are opened.
struct CountingUpload {
    inner: Arc<dyn medimint_ingest::Upload>,
    opens: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl medimint_ingest::Upload for CountingUpload {
    async fn manifest(&self) -> Result<Option<Vec<u8>>, medimint_ingest::IngestError> {
        self.inner.manifest().await
    }
    async fn files(&self) -> Result<Vec<(String, String)>, medimint_ingest::IngestError> {
        self.inner.files().await
    }
    async fn open(
        &self,
        key: &str,
    ) -> Result<medimint_storage::ObjectReader, medimint_ingest::IngestError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open(key).await
    }
    async fn open_sized(
        &self,
        key: &str,
    ) -> Result<(medimint_storage::ObjectReader, Option<u64>), medimint_ingest::IngestError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open_sized(key).await
    }
    async fn remove(&self) -> Result<(), medimint_ingest::IngestError> {
        self.inner.remove().await
    }
    async fn quarantine(&self, q: &str) -> Result<(), medimint_ingest::IngestError> {
        self.inner.quarantine(q).await
    }
}

/// Processes the inbox upload of release `id`; returns its outcome and how many times its
/// files were opened.
async fn process_counting_opens(e: &Env, id: &str) -> (Outcome, usize) {
    let release = rel(ISSUER, id);
    let upload = Arc::new(CountingUpload {
        inner: Arc::new(medimint_ingest::InboxUpload::new(
            e.store.clone(),
            release.clone(),
        )),
        opens: Default::default(),
    });
    let out = e
        .ingest
        .process_upload(&release, upload.clone())
        .await
        .unwrap();
    (out, upload.opens.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_file_is_read_once_checked_and_sealed_in_the_same_pass() {
    let e = env().await;
    let files = generated_study(&ct(), 2, 4);
    upload_for_jane(&e, "once", &files).await;
    let (out, opens) = process_counting_opens(&e, "once").await;
    let Outcome::Released { study_id, .. } = out else {
        panic!("not released: {out:?}")
    };
    assert_eq!(opens, files.len());
    assert_eq!(
        keys(&*e.store, &format!("studies/{study_id}/files/"))
            .await
            .len(),
        files.len()
    );
    assert!(keys(&*e.store, "staging/").await.is_empty());

    // A refused release read once too, and its sealed files discarded.
    let mut bad = generated_study(&ct(), 1, 2);
    bad[1].1.truncate(300);
    upload_for_jane(&e, "refused", &bad).await;
    let (out, opens) = process_counting_opens(&e, "refused").await;
    assert!(matches!(out, Outcome::Rejected { .. }), "{out:?}");
    assert_eq!(opens, bad.len());
    assert!(keys(&*e.store, "staging/").await.is_empty());
}
