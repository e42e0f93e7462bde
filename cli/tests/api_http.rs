//! The mission over HTTP against `medimint up` running as a process, with `curl` as the
//! client: the issuer releases (CLI), then the patient signs in by email code, finds the
//! pending study, approves, shares with a doctor until a date; the doctor signs in, lists
//! what is shared, downloads a file (decrypted, byte for byte the original); a stranger sees
//! nothing (404); the patient revokes; the doctor is refused; the history holds every step.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use serde_json::{json, Value};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP exchange through curl: (status, body).
fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Vec<u8>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary"]);
        cmd.arg(b.to_string());
    }
    let out = cmd.output().expect("curl runs (apt-get install curl)");
    assert!(out.status.success(), "curl {method} {url} failed");
    let text = out.stdout;
    let split = text.iter().rposition(|b| *b == b'\n').unwrap();
    let status: u16 = String::from_utf8_lossy(&text[split + 1..])
        .trim()
        .parse()
        .unwrap();
    (status, text[..split].to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Signs `email` in with the code the local mailer wrote to the outbox.
fn sign_in(api: &str, outbox: &Path, email: &str) -> String {
    let (status, body) = http(
        "POST",
        &format!("{api}/auth/email"),
        None,
        Some(&json!({ "email": email })),
    );
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let mut newest: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    newest.sort();
    let message = newest
        .iter()
        .rev()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|m| m.starts_with(&format!("To: {email}\n")))
        .expect("a message to the user in the outbox");
    let code: String = message
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_owned();
    let (status, body) = http(
        "POST",
        &format!("{api}/auth/email/verify"),
        None,
        Some(&json!({ "email": email, "code": code })),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json_of(&body)["token"].as_str().unwrap().to_owned()
}

#[test]
fn the_mission_over_http_against_medimint_up() {
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
    assert!(api.starts_with("http://127.0.0.1:"), "{api}");
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
    let issuer = medimint(&[
        "issuer",
        "add",
        "--email",
        "pacs@general.example",
        "--name",
        "General Hospital",
        "--kind",
        "hospital",
        "--jurisdiction",
        "US-CA",
        "--evidence",
        "NPI 1234567890",
    ])["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
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
