//! DICOMweb against `medimint up` running as a process, with a client not written here:
//! `dicomweb-client` (PyPI). A study made of pydicom's bundled test files (every transfer
//! syntax the service renders, one it cannot, big endian, palette color, multi-frame) is
//! released, approved and shared with a doctor; `cli/tests/dicomweb/client.py` searches,
//! retrieves metadata, instances, frames and renderings as the doctor and compares them with
//! the released files byte for byte. Then: a stranger finds nothing, the viewing is on
//! chain, a revoked role and an expired one stop the next request.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{general_hospital, http, json_of, sign_in, Killed};

fn script(name: &str) -> String {
    format!("{}/tests/dicomweb/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn dicomweb_client_against_medimint_up() {
    let data = tempfile::tempdir().unwrap();
    let port = medimint_testkit::free_port().unwrap();
    let rpc_url = format!("http://127.0.0.1:{port}");
    let medimint = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_medimint"))
            .args(args)
            .arg("--json")
            .env("MEDIMINT_DATA_DIR", data.path())
            .env("MEDIMINT_RPC_URL", &rpc_url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "medimint {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    };
    let child = Command::new(env!("CARGO_BIN_EXE_medimint"))
        .args([
            "up",
            "--ledger-ms",
            "100",
            "--poll-ms",
            "100",
            "--api-port",
            "0",
        ])
        .env("MEDIMINT_DATA_DIR", data.path())
        .env("MEDIMINT_RPC_URL", &rpc_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start medimint up");
    let mut up = Killed(child);
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = up.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut api = String::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(180))
            .expect("`medimint up` got ready");
        if let Some(rest) = line.trim().strip_prefix("api:") {
            api = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches("/v1/health")
                .to_owned();
        }
        if line.trim() == "ready" {
            break;
        }
    }
    let outbox = data.path().join("outbox");
    let dicomweb = format!("{api}/dicomweb");

    // No token: 401, as for the rest of the API.
    let (status, _) = http("GET", &format!("{dicomweb}/studies"), None, None);
    assert_eq!(status, 401);

    // The study: pydicom's files under one patient and Study Instance UID.
    let export = data.path().join("export");
    let study_uid = "2.25.161616161616";
    let out = Command::new("python3")
        .arg(script("prepare.py"))
        .arg(&export)
        .arg(study_uid)
        .output()
        .expect("python3 runs (scripts/setup installs pydicom into target/venv)");
    assert!(
        out.status.success(),
        "prepare.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = String::from_utf8(out.stdout).unwrap();
    let files = json_of(manifest.as_bytes());
    assert_eq!(files.as_array().unwrap().len(), 10);

    let issuer = medimint(&general_hospital("pacs@general.example"))["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    let released = medimint(&[
        "release",
        export.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--patient-email",
        "jane@example.org",
        "--patient-name",
        "DOE^JANE",
        "--birth-date",
        "1980-01-02",
        "--patient-id",
        "MRN-16",
    ]);
    let token_id = released["token_id"].as_str().unwrap().to_owned();
    let study = format!("{api}/v1/studies/{token_id}");

    // Pending: not viewable yet, even by the patient.
    let jane = sign_in(&api, &outbox, "jane@example.org");
    let (status, _) = http("GET", &format!("{dicomweb}/studies"), Some(&jane), None);
    assert_eq!(status, 204, "a pending study is not offered");
    let (status, body) = http(
        "POST",
        &format!("{study}/consent"),
        Some(&jane),
        Some(&json!({"decision": "approve"})),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, body) = http("GET", &format!("{dicomweb}/studies"), Some(&jane), None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)[0]["0020000D"]["Value"][0], study_uid);

    // Shared with a doctor, who views it through dicomweb-client.
    let (status, body) = http(
        "POST",
        &format!("{study}/shares"),
        Some(&jane),
        Some(&json!({"to": "dr@clinic.example", "role": "viewer", "until": now() + 86_400})),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let doctor = sign_in(&api, &outbox, "dr@clinic.example");
    let out = Command::new("python3")
        .arg(script("client.py"))
        .arg(&dicomweb)
        .arg(&doctor)
        .arg(&export)
        .arg(study_uid)
        .arg(&manifest)
        .output()
        .expect("python3 runs (scripts/setup installs dicomweb-client into target/venv)");
    assert!(
        out.status.success(),
        "client.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let checks = json_of(&out.stdout)["checks"].as_u64().unwrap();
    assert!(checks > 100, "{checks} checks");

    // A stranger finds nothing, not even that the study exists.
    let eve = sign_in(&api, &outbox, "eve@example.net");
    let (status, _) = http("GET", &format!("{dicomweb}/studies"), Some(&eve), None);
    assert_eq!(status, 204);
    let (status, body) = http(
        "GET",
        &format!("{dicomweb}/studies/{study_uid}/metadata"),
        Some(&eve),
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(json_of(&body)["type"], "urn:medimint:problem:not-found");

    // The doctor's viewing is on chain, once for the session.
    let (status, body) = http("GET", &format!("{study}/history"), Some(&jane), None);
    assert_eq!(status, 200);
    let recorded = json_of(&body)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "access_recorded")
        .count();
    assert_eq!(
        recorded, 1,
        "the doctor's session left one record (a search of studies records none)"
    );

    // Revoked: the doctor's next request is refused, though the index is cached.
    let metadata = format!("{dicomweb}/studies/{study_uid}/metadata");
    let (status, _) = http("GET", &metadata, Some(&doctor), None);
    assert_eq!(status, 200);
    let (status, body) = http(
        "DELETE",
        &format!("{study}/shares/dr@clinic.example"),
        Some(&jane),
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _) = http("GET", &metadata, Some(&doctor), None);
    assert_eq!(status, 404, "a revoked role stops the next request");
    let (status, _) = http("GET", &format!("{dicomweb}/studies"), Some(&doctor), None);
    assert_eq!(status, 204);

    // Expired: a role until a few seconds from now stops being served once the chain's
    // clock passes it.
    let until = now() + 8;
    let (status, body) = http(
        "POST",
        &format!("{study}/shares"),
        Some(&jane),
        Some(&json!({"to": "locum@clinic.example", "role": "viewer", "until": until})),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let locum = sign_in(&api, &outbox, "locum@clinic.example");
    let (status, _) = http("GET", &metadata, Some(&locum), None);
    assert_eq!(status, 200, "served before the role expires");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, _) = http("GET", &metadata, Some(&locum), None);
        if status == 404 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "the expired role was still served 3 minutes on"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(now() >= until, "refused only once the role expired");
}
