//! The platform commands as the README shows them, against `medimint up` running as a
//! process: issuer add/list, release, consent, share until a date, access, download,
//! verify (intact and tampered), revoke and the refused download, revoke --rekey, rekey,
//! erase (refused without --yes) and the refused download after it, history, and a release
//! dropped into the watched inbox.

mod support;

use std::path::Path;
use std::process::Command;

use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use support::Up;

fn write_study(dir: &Path, id: &str, uid: &str) -> Vec<(String, Vec<u8>)> {
    let patient = SyntheticPatient {
        name: "DOE^JANE".into(),
        birth_date: "19800102".into(),
        id: id.into(),
    };
    let files = generate_study(&patient, uid, 2, 2).unwrap();
    for (name, bytes) in &files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files
}

#[test]
fn the_platform_commands_against_medimint_up() {
    let mut stack = Up::start(&["--ledger-ms", "100", "--poll-ms", "100", "--api-port", "0"]);
    let inbox_line = stack
        .startup
        .iter()
        .find(|l| l.contains("inbox:"))
        .cloned()
        .expect("`medimint up` printed its inbox");
    assert!(stack.data.path().join("deployment.json").exists());
    assert!(stack.data.path().join("seed").exists());

    // Admin: whitelist an issuer.
    let issuer = stack.add_general_hospital();
    let list = stack.json(&["issuer", "list"]);
    assert_eq!(list[0]["address"], issuer.as_str());
    assert_eq!(list[0]["status"], "Active");

    // Issuer: release a study; patient: approve.
    let export = tempfile::tempdir().unwrap();
    let files = write_study(export.path(), "MRN-7", "2.25.77");
    let export_dir = export.path().to_str().unwrap();
    let released = stack.json(&[
        "release",
        export_dir,
        "--patient-email",
        "jane@example.org",
        "--patient-name",
        "DOE^JANE",
        "--birth-date",
        "1980-01-02",
        "--patient-id",
        "MRN-7",
    ]);
    assert_eq!(released["outcome"], "released");
    let token = released["token_id"].as_str().unwrap().to_owned();
    stack.json(&[
        "consent",
        "approve",
        "--token",
        &token,
        "--as",
        "jane@example.org",
    ]);

    // Share with a doctor until a date; who may see it.
    let shared = stack.json(&[
        "share",
        "--token",
        &token,
        "--to",
        "dr@clinic.example",
        "--role",
        "viewer",
        "--until",
        "2099-12-31",
        "--as",
        "jane@example.org",
    ]);
    let doctor = shared["grantee"].as_str().unwrap().to_owned();
    let access = stack.json(&["access", "--token", &token]);
    assert_eq!(access["status"], "Active");
    let grants = access["grants"].as_array().unwrap();
    let grant = grants
        .iter()
        .find(|g| g["grantee"] == doctor.as_str())
        .unwrap();
    assert_eq!(grant["expires_at"], 4_102_444_799u64);

    // The doctor downloads; the files verify, a tampered one is named.
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let dl = stack.json(&[
        "download",
        "--token",
        &token,
        "--out",
        out_dir,
        "--as",
        "dr@clinic.example",
    ]);
    assert_eq!(dl["files"], files.len());
    let ok = stack.cmd(&["verify", "--token", &token, out_dir]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    std::fs::write(out.path().join(&files[0].0), b"ransomware").unwrap();
    let bad = stack.cmd(&[
        "verify",
        "--token",
        &token,
        out_dir,
        "--as",
        "jane@example.org",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains(&format!("differs: {}", files[0].0)), "{text}");

    // Revoke: the next download is refused.
    stack.json(&[
        "revoke",
        "--token",
        &token,
        "--from",
        "dr@clinic.example",
        "--as",
        "jane@example.org",
    ]);
    let again = tempfile::tempdir().unwrap();
    let refused = stack.cmd(&[
        "download",
        "--token",
        &token,
        "--out",
        again.path().to_str().unwrap(),
        "--as",
        "dr@clinic.example",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("holds no live role"), "{err}");

    // The stronger revoke (dr's grant is gone already: it re-keys all the same), a plain
    // re-key, and the owner's copy still verifies.
    let rekeyed = stack.json(&[
        "revoke",
        "--token",
        &token,
        "--from",
        "dr@clinic.example",
        "--as",
        "jane@example.org",
        "--rekey",
    ]);
    assert_eq!(rekeyed["rekey"]["files"], files.len(), "{rekeyed}");
    let again = stack.json(&["rekey", "--token", &token, "--as", "jane@example.org"]);
    assert_eq!(again["files_reencrypted"], files.len(), "{again}");
    let mine = tempfile::tempdir().unwrap();
    let dl = stack.json(&[
        "download",
        "--token",
        &token,
        "--out",
        mine.path().to_str().unwrap(),
        "--as",
        "jane@example.org",
    ]);
    assert_eq!(dl["files"], files.len());
    let ok = stack.cmd(&["verify", "--token", &token, mine.path().to_str().unwrap()]);
    assert!(ok.status.success());

    // Erasure needs --yes; then the study is gone and the download says so.
    let unconfirmed = stack.cmd(&["erase", "--token", &token, "--as", "jane@example.org"]);
    assert!(!unconfirmed.status.success());
    let err = String::from_utf8_lossy(&unconfirmed.stderr);
    assert!(err.contains("--yes"), "{err}");
    let erased = stack.json(&[
        "erase",
        "--token",
        &token,
        "--as",
        "jane@example.org",
        "--yes",
    ]);
    assert_eq!(erased["status"], "erased", "{erased}");
    assert_eq!(erased["already_erased"], false);
    let gone = tempfile::tempdir().unwrap();
    let refused = stack.cmd(&[
        "download",
        "--token",
        &token,
        "--out",
        gone.path().to_str().unwrap(),
        "--as",
        "jane@example.org",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("erased"), "{err}");

    // The audit trail from chain events.
    let history = stack.json(&["history", "--token", &token]);
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "release_proposed",
        "release_approved",
        "role_granted",
        "access_recorded",
        "role_revoked",
        "rekeyed",
        "erased",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    // A PACS export dropped into the watched inbox is released by `up`.
    let objects = inbox_line
        .split("inbox:")
        .nth(1)
        .and_then(|s| s.trim().split("/inbox/").next())
        .unwrap()
        .to_owned();
    let release_dir = Path::new(&objects).join(format!("inbox/{issuer}/pacs-1"));
    let dropped = write_study(&release_dir, "MRN-9", "2.25.99");
    let manifest = serde_json::json!({
        "version": 1,
        "patient": {"email": "joe@example.org", "family_name": "Doe", "given_names": "Jane",
                    "birth_date": "1980-01-02", "patient_id": "MRN-9"},
        "files": dropped.iter().map(|(p, b)| serde_json::json!({"path": p, "size": b.len()})).collect::<Vec<_>>(),
    });
    std::fs::write(release_dir.join("release.json"), manifest.to_string()).unwrap();
    let line = stack.wait_for("pacs-1/release.json");
    assert!(line.contains("released as token"), "{line}");

    // Errors say what to do.
    let err = stack.cmd(&[
        "consent",
        "approve",
        "--token",
        "x",
        "--as",
        "jane@example.org",
    ]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("not a number"));
    let err = stack.cmd(&[
        "share",
        "--token",
        &token,
        "--to",
        "bob",
        "--as",
        "jane@example.org",
    ]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("neither an email nor a G-address"));
}

#[test]
fn commands_without_a_network_say_how_to_start_one() {
    let data = tempfile::tempdir().unwrap();
    let port = medimint_testkit::free_port().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medimint"))
        .args(["issuer", "list"])
        .env("MEDIMINT_DATA_DIR", data.path())
        .env("MEDIMINT_RPC_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // No seed yet: the local stack makes one.
    assert!(err.contains("medimint up"), "{err}");
}
