//! `medimint status` against `medimint up` as processes: healthy (exit 0) once the up's
//! indexer has followed the chain, with every part named in `--json`; unhealthy (exit 1)
//! naming the RPC once `up` is gone.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::Killed;

fn medimint(data: &Path, rpc_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medimint"));
    c.env("MEDIMINT_DATA_DIR", data)
        .env("MEDIMINT_RPC_URL", rpc_url);
    c
}

fn status(data: &Path, rpc_url: &str) -> (Option<i32>, Value) {
    let out = medimint(data, rpc_url)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v)
}

/// A plain HTTP/1.1 GET on 127.0.0.1: the head and the body.
fn get(base: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn part<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no part {name} in {v}"))
}

#[test]
fn status_is_healthy_while_up_indexes_and_fails_naming_the_rpc_without_it() {
    let port = medimint_testkit::free_port().unwrap();
    let data = tempfile::tempdir().unwrap();
    let rpc_url = format!("http://127.0.0.1:{port}");
    let child = medimint(data.path(), &rpc_url)
        .args([
            "up",
            "--ledger-ms",
            "250",
            "--index-ms",
            "200",
            "--api-port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start medimint up");
    let mut up = Killed(child);
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = up.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut api = String::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(180))
            .expect("`medimint up` never printed \"ready\"");
        if let Some(rest) = line.trim().strip_prefix("api:") {
            api = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches("/v1/health")
                .to_owned();
        }
        if line.contains("ready") {
            break;
        }
    }
    // The indexer runs every 200 ms; wait (bounded) for its first runs.
    let mut last = (None, Value::Null);
    for _ in 0..120 {
        last = status(data.path(), &rpc_url);
        if last.0 == Some(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, v) = last;
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["healthy"], true);
    for name in ["rpc", "sponsor", "index", "queue"] {
        assert_eq!(part(&v, name)["ok"], true, "{v:#}");
    }
    assert!(
        part(&v, "queue")["detail"]
            .as_str()
            .unwrap()
            .contains("0 dead letters"),
        "{v:#}"
    );

    // The API that `up` serves has the index: the explorer answers with its lag.
    let (head, body) = get(&api, "/v1/explorer/issuers");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("x-index-lag-ledgers:"),
        "{head}"
    );
    assert_eq!(body.trim(), "[]", "no issuer was added");
    let (head, body) = get(&api, "/v1/explorer/totals");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let totals: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(totals["totals"]["releases"], 0, "{totals}");

    drop(up);
    let (code, v) = status(data.path(), &rpc_url);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["healthy"], false);
    let rpc = part(&v, "rpc");
    assert_eq!(rpc["ok"], false);
    assert!(rpc["detail"].as_str().unwrap().contains(&rpc_url), "{v:#}");
}
