//! The mission over HTTP against `medimint up` running as a process, with `curl` as the
//! client: the issuer releases (CLI), then the patient signs in by email code, finds the
//! pending study, approves, shares with a doctor until a date; the doctor signs in, lists
//! what is shared, downloads a file (decrypted, byte for byte the original); a stranger sees
//! nothing (404); the patient revokes; the doctor is refused; the history holds every step.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use serde_json::{json, Value};
use support::{general_hospital, http, json_of, sign_in, Killed};

/// `medimint up` as a process over `data`: its API URL, a runner of `medimint` commands
/// against it, and the process (killed when dropped).
struct Up {
    api: String,
    rpc_url: String,
    env: Vec<(String, String)>,
    _process: Killed,
}

impl Up {
    fn start(data: &Path) -> Self {
        Self::start_with(data, Vec::new())
    }

    /// With extra environment (e.g. S3 storage on moto), also given to `medimint` commands.
    fn start_with(data: &Path, env: Vec<(String, String)>) -> Self {
        let port = medimint_testkit::free_port().unwrap();
        let rpc_url = format!("http://127.0.0.1:{port}");
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
            .env("MEDIMINT_DATA_DIR", data)
            .env("MEDIMINT_RPC_URL", &rpc_url)
            .envs(env.iter().map(|(k, v)| (k, v)))
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
        assert!(api.starts_with("http://127.0.0.1:"), "{api}");
        Self {
            api,
            rpc_url,
            env,
            _process: up,
        }
    }

    /// Runs `medimint <args> --json` against this stack.
    fn medimint(&self, data: &Path, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_medimint"))
            .args(args)
            .arg("--json")
            .env("MEDIMINT_DATA_DIR", data)
            .env("MEDIMINT_RPC_URL", &self.rpc_url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "medimint {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    }

    /// Registers a custodial issuer (the admin, through the CLI); its address.
    fn add_issuer(&self, data: &Path, email: &str) -> String {
        self.medimint(data, &general_hospital(email))["issuer"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[test]
fn the_mission_over_http_against_medimint_up() {
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path());
    let api = up.api.clone();
    let medimint = |args: &[&str]| up.medimint(data.path(), args);
    let outbox = data.path().join("outbox");

    // No sign-in: health answers, studies do not (a problem, 401).
    let (status, body) = http("GET", &format!("{api}/v1/health"), None, None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, body) = http("GET", &format!("{api}/v1/studies"), None, None);
    assert_eq!(status, 401);
    assert_eq!(
        json_of(&body)["type"],
        "urn:medimint:problem:unauthenticated"
    );

    // The issuer releases a study to Jane (as a PACS export would, through the CLI).
    let issuer = up.add_issuer(data.path(), "pacs@general.example");
    let export = data.path().join("export");
    let patient = SyntheticPatient {
        name: "DOE^JANE".into(),
        birth_date: "19800102".into(),
        id: "MRN-7".into(),
    };
    let files = generate_study(&patient, "2.25.4242", 1, 2).unwrap();
    for (name, bytes) in &files {
        let p = export.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
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
        "MRN-7",
    ]);
    let token_id = released["token_id"].as_str().unwrap().to_owned();
    let study = format!("{api}/v1/studies/{token_id}");

    // Jane signs in, finds it pending, approves.
    let jane = sign_in(&api, &outbox, "jane@example.org");
    let (status, body) = http(
        "GET",
        &format!("{api}/v1/studies?role=pending"),
        Some(&jane),
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let page = json_of(&body);
    assert_eq!(page["items"][0]["token_id"].to_string(), token_id);
    assert_eq!(page["items"][0]["status"], "pending");
    let (status, body) = http(
        "POST",
        &format!("{study}/consent"),
        Some(&jane),
        Some(&json!({"decision": "maybe"})),
    );
    assert_eq!(status, 400);
    assert_eq!(json_of(&body)["field"], "decision");
    let (status, body) = http(
        "POST",
        &format!("{study}/consent"),
        Some(&jane),
        Some(&json!({"decision": "approve"})),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let view = json_of(&body);
    assert_eq!(view["status"], "active");
    assert_eq!(view["files"].as_array().unwrap().len(), files.len());

    // She shares with the doctor until tomorrow.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    let (status, body) = http(
        "POST",
        &format!("{study}/shares"),
        Some(&jane),
        Some(&json!({"to": "dr@clinic.example", "role": "viewer", "until": until})),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    // The doctor sees it shared and downloads a file: the original bytes.
    let doctor = sign_in(&api, &outbox, "dr@clinic.example");
    let (status, body) = http(
        "GET",
        &format!("{api}/v1/studies?role=shared"),
        Some(&doctor),
        None,
    );
    assert_eq!(status, 200);
    let shared = json_of(&body);
    assert_eq!(shared["items"][0]["my_role"], "viewer");
    assert_eq!(shared["items"][0]["my_access_until"], until);
    let (name, original) = &files[0];
    let (status, bytes) = http("GET", &format!("{study}/files/{name}"), Some(&doctor), None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(
        bytes == *original,
        "the downloaded file differs from the original"
    );

    // A stranger signed in sees nothing of it, not even that it exists.
    let eve = sign_in(&api, &outbox, "eve@example.net");
    let (status, body) = http("GET", &study, Some(&eve), None);
    assert_eq!(status, 404);
    assert_eq!(json_of(&body)["type"], "urn:medimint:problem:not-found");

    // Jane revokes; the doctor is refused.
    let (status, body) = http(
        "DELETE",
        &format!("{study}/shares/dr@clinic.example"),
        Some(&jane),
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _) = http("GET", &format!("{study}/files/{name}"), Some(&doctor), None);
    assert_eq!(status, 404);

    // The history, from chain events.
    let (status, body) = http("GET", &format!("{study}/history"), Some(&jane), None);
    assert_eq!(status, 200);
    let kinds: Vec<String> = json_of(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "release_proposed",
        "release_approved",
        "role_granted",
        "access_recorded",
        "role_revoked",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
}

/// PUTs a file to an upload URL with curl, sending the headers the API named: the status.
fn put_file(url: &str, file: &Path, headers: &Value) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args(["-H", "content-type: application/octet-stream"]);
    for (k, v) in headers.as_object().unwrap() {
        if k != "content-length" {
            cmd.args(["-H", &format!("{k}: {}", v.as_str().unwrap())]);
        }
    }
    cmd.arg("--data-binary").arg(format!("@{}", file.display()));
    cmd.arg(url);
    let out = cmd.output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// pydicom's `CT_small.dcm` with the patient rewritten by pydicom (or as it is).
fn pydicom_ct(out: &Path, patient: Option<(&str, &str, &str)>) -> u64 {
    let template = medimint_testkit::pydicom_file("CT_small.dcm").unwrap();
    match patient {
        None => {
            std::fs::copy(&template, out).unwrap();
        }
        Some((name, birth, id)) => {
            let script = format!(
                "import pydicom; ds = pydicom.dcmread({t:?}); ds.PatientName = {name:?}; \
                 ds.PatientBirthDate = {birth:?}; ds.PatientID = {id:?}; ds.save_as({o:?})",
                t = template.display().to_string(),
                o = out.display().to_string(),
            );
            let status = Command::new("python3")
                .args(["-c", &script])
                .status()
                .unwrap();
            assert!(status.success(), "pydicom rewrote the file");
        }
    }
    std::fs::metadata(out).unwrap().len()
}

/// Waits until the release leaves the pipeline (`released` or `refused`): its state.
fn settled(api: &str, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = http("GET", &format!("{api}/v1/releases/{id}"), Some(token), None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let state = json_of(&body);
        if state["status"] == "released" || state["status"] == "refused" {
            return state;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("release {id} did not leave the pipeline");
}

#[test]
fn an_issuer_releases_through_presigned_uploads_against_medimint_up() {
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path());
    release_through_the_api(&up, data.path(), false);
}

#[test]
fn an_issuer_releases_through_s3_presigned_uploads_against_medimint_up_on_moto() {
    let moto = medimint_testkit::MotoServer::start().expect("moto's server");
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("MEDIMINT_BUCKET", "medimint-api-releases".to_string()),
        ("MEDIMINT_S3_ENDPOINT", moto.endpoint()),
        (
            "AWS_ACCESS_KEY_ID",
            medimint_testkit::ACCESS_KEY_ID.to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            medimint_testkit::SECRET_ACCESS_KEY.to_string(),
        ),
        ("AWS_REGION", medimint_testkit::REGION.to_string()),
    ];
    let up = Up::start_with(
        data.path(),
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    );
    release_through_the_api(&up, data.path(), true);
}

/// An issuer signs in, starts a release, uploads a pydicom file through its URL (the API's
/// own, or S3's presigned when `s3`), completes; the token is pending the patient's consent.
/// A file of another patient is refused with its report in words.
fn release_through_the_api(up: &Up, data: &Path, s3: bool) {
    let api = up.api.clone();
    // What a stored upload answers: S3's PutObject 200, the API's own 201.
    let stored = if s3 { 200 } else { 201 };
    let outbox = data.join("outbox");
    up.add_issuer(data, "pacs@general.example");

    // The issuer signs in by email; the chain says it is an issuer.
    let issuer = sign_in(&api, &outbox, "pacs@general.example");
    let (_, body) = http("GET", &format!("{api}/v1/me"), Some(&issuer), None);
    assert!(
        json_of(&body)["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "issuer"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A patient may not release.
    let jane = sign_in(&api, &outbox, "jane@example.org");
    let patient = json!({"email": "jane@example.org", "family_name": "Doe",
        "given_names": "Jane", "birth_date": "1980-01-02", "patient_id": "MRN-7"});
    let ct = data.join("ct.dcm");
    let size = pydicom_ct(&ct, Some(("DOE^JANE", "19800102", "MRN-7")));
    let body = json!({"patient": patient, "files": [{"path": "CT/CT_small.dcm", "size": size}]});
    let (status, _) = http(
        "POST",
        &format!("{api}/v1/releases"),
        Some(&jane),
        Some(&body),
    );
    assert_eq!(status, 403);

    // Start, upload through the URL (no bearer token), complete.
    let (status, answer) = http(
        "POST",
        &format!("{api}/v1/releases"),
        Some(&issuer),
        Some(&body),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    let started = json_of(&answer);
    let id = started["release_id"].as_str().unwrap().to_owned();
    let upload = &started["uploads"][0];
    assert_eq!(upload["method"], "PUT");
    let url = upload["url"].as_str().unwrap();
    if s3 {
        // S3's presigned PUT: SigV4 in the query, the length among the signed headers.
        assert!(!url.starts_with(&api), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("content-length"), "{url}");
    } else {
        assert!(url.starts_with(&format!("{api}/v1/uploads/")), "{url}");
    }
    assert_eq!(
        put_file(upload["url"].as_str().unwrap(), &ct, &upload["headers"]),
        stored
    );
    let (status, done) = http(
        "POST",
        started["complete"]["url"].as_str().unwrap(),
        Some(&issuer),
        None,
    );
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&done));

    // The watched inbox runs the pipeline: a token pending Jane's consent.
    let state = settled(&api, &issuer, &id);
    assert_eq!(state["status"], "released", "{state}");
    let token_id = state["token_id"].as_str().unwrap().to_owned();
    let (status, body) = http(
        "GET",
        &format!("{api}/v1/studies?role=pending"),
        Some(&jane),
        None,
    );
    assert_eq!(status, 200);
    let page = json_of(&body);
    assert_eq!(page["items"][0]["token_id"].to_string(), token_id);
    assert_eq!(page["items"][0]["status"], "pending");
    let (_, list) = http("GET", &format!("{api}/v1/releases"), Some(&issuer), None);
    assert_eq!(json_of(&list)["items"][0]["release_id"], id.as_str());

    // A file of another patient: refused, and the report says why in words.
    let other = data.join("other.dcm");
    let size = pydicom_ct(&other, None);
    let body = json!({"release_id": "REFUSED-1", "patient": patient,
        "files": [{"path": "CT/CT_small.dcm", "size": size}]});
    let (status, answer) = http(
        "POST",
        &format!("{api}/v1/releases"),
        Some(&issuer),
        Some(&body),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    let started = json_of(&answer);
    let upload = &started["uploads"][0];
    assert_eq!(
        put_file(upload["url"].as_str().unwrap(), &other, &upload["headers"]),
        stored
    );
    let (status, _) = http(
        "POST",
        started["complete"]["url"].as_str().unwrap(),
        Some(&issuer),
        None,
    );
    assert_eq!(status, 202);
    let state = settled(&api, &issuer, "REFUSED-1");
    assert_eq!(state["status"], "refused", "{state}");
    let problems = state["refusal"]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["file"] == "CT/CT_small.dcm"),
        "{state}"
    );
    assert!(!state["refusal"]["text"].as_str().unwrap().is_empty());
    // Another signed-in user learns nothing of it.
    let (status, _) = http(
        "GET",
        &format!("{api}/v1/releases/REFUSED-1"),
        Some(&jane),
        None,
    );
    assert_eq!(status, 404);
}
