//! `medimint devnet` run as a process, as the README shows it: it prints where it listens and
//! answers Stellar RPC's `getHealth` there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn post(host_port: &str, body: &str) -> String {
    let mut s = TcpStream::connect(host_port).expect("connect to the devnet");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn devnet_prints_its_url_and_answers_get_health() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_medimint"))
        .args(["devnet", "--port", "0", "--ledger-ms", "200", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start medimint devnet");
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut url = None;
    let mut root = None;
    for line in BufReader::new(stdout).lines().take(12) {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("rpc url:") {
            url = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.trim().strip_prefix("root account:") {
            root = rest.split_whitespace().next().map(str::to_string);
        }
        if line.trim().starts_with("ledger:") {
            break;
        }
    }
    let url = url.expect("the devnet prints its rpc url");
    // The quickstart's standalone root account (seed = sha256 of the passphrase).
    assert_eq!(
        root.as_deref(),
        Some("GBZXN7PIRZGNMHGA7MUUUF4GWPY5AYPV6LY4UV2GL6VJGIQRXFDNMADI")
    );
    let host_port = url
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let reply = post(
        &host_port,
        r#"{"jsonrpc":"2.0","id":1,"method":"getHealth"}"#,
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""status":"healthy""#), "{reply}");
    let reply = post(
        &host_port,
        r#"{"jsonrpc":"2.0","id":2,"method":"getNetwork"}"#,
    );
    assert!(
        reply.contains("Standalone Network ; February 2017"),
        "{reply}"
    );
    assert!(dir.path().exists());
}

/// The README's first command: `medimint demo` runs every step and exits 0; its JSON report
/// shows the refused access after the revoke.
#[test]
fn demo_runs_every_step_and_reports_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_medimint"))
        .args(["demo", "--json"])
        .output()
        .expect("run medimint demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let text = report.to_string();
    assert!(text.contains("release_proposed"), "{text}");
    assert!(text.contains("role_revoked"), "{text}");
}
