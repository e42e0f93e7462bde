//! `medimint status` against `medimint up` as processes: healthy (exit 0) once the up's
//! indexer has followed the chain, with every part named in `--json`; unhealthy (exit 1)
//! naming the RPC once `up` is gone.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::Up;

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
    let up = Up::start(&["--ledger-ms", "250", "--index-ms", "200", "--api-port", "0"]);
    let (data, rpc_url, api) = (up.data.path().to_path_buf(), up.rpc_url.clone(), up.api());
    // The indexer runs every 200 ms; wait (bounded) for its first runs.
    let mut last = (None, Value::Null);
    for _ in 0..120 {
        last = status(&data, &rpc_url);
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

    let _data = up.stop();
    let (code, v) = status(&data, &rpc_url);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["healthy"], false);
    let rpc = part(&v, "rpc");
    assert_eq!(rpc["ok"], false);
    assert!(rpc["detail"].as_str().unwrap().contains(&rpc_url), "{v:#}");
}
