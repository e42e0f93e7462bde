//! A study of CT export size through the CLI (issue 20): 3,000 small files released from a
//! folder by `medimint release` against `medimint up`, approved by the patient, downloaded
//! and verified, byte for byte. Its metadata (one DICOM JSON header per file, several MiB) is
//! stored as a UnixFS DAG of more than one block, which one IPFS block could not hold.

mod support;

use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use support::Up;

const SERIES: u32 = 3;
const PER_SERIES: u32 = 1_000;

#[test]
fn a_study_of_3000_files_releases_downloads_and_verifies_through_the_cli() {
    let up = Up::start(&["--ledger-ms", "100", "--api-port", "0"]);
    up.add_general_hospital();

    let export = tempfile::tempdir().unwrap();
    let patient = SyntheticPatient {
        name: "DOE^JANE".into(),
        birth_date: "19800102".into(),
        id: "MRN-3000".into(),
    };
    let files = generate_study(&patient, "2.25.3000", SERIES, PER_SERIES).unwrap();
    assert_eq!(files.len(), 3_000);
    for (name, bytes) in &files {
        let p = export.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    let released = up.json(&[
        "release",
        export.path().to_str().unwrap(),
        "--patient-email",
        "jane@example.org",
        "--patient-name",
        "DOE^JANE",
        "--birth-date",
        "1980-01-02",
        "--patient-id",
        "MRN-3000",
    ]);
    assert_eq!(released["outcome"], "released", "{released}");
    let token = released["token_id"].as_str().unwrap().to_owned();
    up.json(&[
        "consent",
        "approve",
        "--token",
        &token,
        "--as",
        "jane@example.org",
    ]);

    // The metadata object is more than one block: a dag-pb root over raw leaves.
    let blocks = std::fs::read_dir(up.data.path().join("objects").join("meta"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(blocks >= 3, "{blocks} metadata blocks stored");

    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let downloaded = up.json(&[
        "download",
        "--token",
        &token,
        "--out",
        out_dir,
        "--as",
        "jane@example.org",
    ]);
    assert_eq!(downloaded["files"], 3_000);
    for (name, bytes) in &files {
        let got = std::fs::read(out.path().join(name)).unwrap();
        assert!(got == *bytes, "{name} differs after the download");
    }
    let verified = up.cmd(&[
        "verify",
        "--token",
        &token,
        out_dir,
        "--as",
        "jane@example.org",
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(String::from_utf8_lossy(&verified.stdout).contains("intact"));
}
