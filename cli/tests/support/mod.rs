//! What the CLI's process tests share: a child process killed when dropped, one HTTP exchange
//! through curl, and an email sign-in with the code the local mailer wrote to the outbox.
#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;
use std::process::{Child, Command};

use serde_json::{json, Value};

pub struct Killed(pub Child);

/// `medimint issuer add` of General Hospital, the tests' issuer, under `email`.
pub fn general_hospital(email: &str) -> [&str; 12] {
    [
        "issuer",
        "add",
        "--email",
        email,
        "--name",
        "General Hospital",
        "--kind",
        "hospital",
        "--jurisdiction",
        "US-CA",
        "--evidence",
        "NPI 1234567890",
    ]
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP exchange through curl: (status, body).
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Vec<u8>) {
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

pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Signs `email` in with the code the local mailer wrote to the outbox.
pub fn sign_in(api: &str, outbox: &Path, email: &str) -> String {
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
        // The newest sign-in code to the user: a notification (a share, a release) written
        // by `up`'s indexer may land in the outbox after it.
        .find(|m| {
            m.starts_with(&format!(
                "To: {email}\nSubject: Your MediMint sign-in code\n"
            ))
        })
        .expect("a sign-in code to the user in the outbox");
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

/// `medimint up` on a fresh data directory, ready, with the CLI pointed at it.
pub struct Up {
    pub data: tempfile::TempDir,
    pub rpc_url: String,
    /// What `up` printed up to and including its "ready" line.
    pub startup: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
    _child: Killed,
}

impl Up {
    /// Starts `medimint up <args>` and waits (at most 180 s) for it to print "ready".
    pub fn start(args: &[&str]) -> Self {
        use std::io::{BufRead, BufReader};
        let data = tempfile::tempdir().unwrap();
        let rpc_url = format!(
            "http://127.0.0.1:{}",
            medimint_testkit::free_port().unwrap()
        );
        let mut child = Killed(
            Command::new(env!("CARGO_BIN_EXE_medimint"))
                .arg("up")
                .args(args)
                .env("MEDIMINT_DATA_DIR", data.path())
                .env("MEDIMINT_RPC_URL", &rpc_url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .expect("start medimint up"),
        );
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut up = Self {
            data,
            rpc_url,
            startup: Vec::new(),
            lines,
            _child: child,
        };
        let ready = up.wait_for("ready");
        up.startup.push(ready);
        up
    }

    /// The next line `up` prints that contains `needle` (at most 180 s away); the lines
    /// before it are kept in [`Up::startup`] until "ready", then dropped.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(180))
                .unwrap_or_else(|_| panic!("`medimint up` never printed {needle:?}"));
            if line.contains(needle) {
                return line;
            }
            if !self.startup.iter().any(|l| l.contains("ready")) {
                self.startup.push(line);
            }
        }
    }

    /// The base URL of the API `up` serves (its "api:" line, without `/v1/health`).
    pub fn api(&self) -> String {
        self.startup
            .iter()
            .find_map(|l| l.trim().strip_prefix("api:"))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("`medimint up` printed its API's URL")
            .trim_end_matches("/v1/health")
            .to_owned()
    }

    /// Stops `up` and hands back its data directory (for commands run after it is gone).
    pub fn stop(self) -> tempfile::TempDir {
        let Self { data, _child, .. } = self;
        drop(_child);
        data
    }

    /// Whitelists General Hospital (the tests' issuer) and returns its address.
    pub fn add_general_hospital(&self) -> String {
        let added = self.json(&general_hospital("pacs@general.example"));
        added["issuer"].as_str().unwrap().to_owned()
    }

    /// Runs `medimint <args>` against this stack.
    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_medimint"))
            .args(args)
            .env("MEDIMINT_DATA_DIR", self.data.path())
            .env("MEDIMINT_RPC_URL", &self.rpc_url)
            .output()
            .expect("run medimint")
    }

    /// Runs a command that must succeed and returns its `--json` output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cmd(&all);
        assert!(
            out.status.success(),
            "medimint {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    }
}
