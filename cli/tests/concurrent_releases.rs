//! Many `medimint release` processes at once against `medimint up`: every process relays
//! through the same sponsor and channel accounts (derived from the same seed), sharing them
//! through leases in the platform database. Issue 24: 20 such processes used to lose 12 of
//! their releases to `txBAD_SEQ`.
//!
//! Bounded for a 2-core machine: the processes start together and the test waits for all.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use serde_json::Value;
use support::Up;

/// How many release processes run at once.
const PROCESSES: usize = 50;

fn medimint(data: &Path, rpc_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medimint"));
    c.env("MEDIMINT_DATA_DIR", data)
        .env("MEDIMINT_RPC_URL", rpc_url);
    c
}

#[test]
fn fifty_release_processes_at_once_each_release_once_and_none_is_dead_lettered() {
    let up = Up::start(&["--ledger-ms", "250", "--poll-ms", "1000", "--api-port", "0"]);
    up.add_general_hospital();
    let (data, rpc_url) = (up.data.path(), up.rpc_url.as_str());

    // One export per patient, each its own study.
    let exports = tempfile::tempdir().unwrap();
    for i in 0..PROCESSES {
        let dir = exports.path().join(format!("p{i}"));
        let patient = SyntheticPatient {
            name: "DOE^JANE".into(),
            birth_date: "19800102".into(),
            id: format!("MRN-{i}"),
        };
        for (name, bytes) in generate_study(&patient, &format!("2.25.24{i}"), 1, 1).unwrap() {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let started = std::time::Instant::now();
    let children: Vec<Child> = (0..PROCESSES)
        .map(|i| {
            medimint(data, rpc_url)
                .args([
                    "release",
                    exports.path().join(format!("p{i}")).to_str().unwrap(),
                    "--patient-email",
                    &format!("patient{i}@example.org"),
                    "--patient-name",
                    "DOE^JANE",
                    "--birth-date",
                    "1980-01-02",
                    "--patient-id",
                    &format!("MRN-{i}"),
                    "--release-id",
                    &format!("concurrent-{i}"),
                    "--json",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start medimint release")
        })
        .collect();
    let mut tokens = BTreeSet::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "release {i} failed: {stderr}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["outcome"], "released", "release {i}: {v}");
        assert_eq!(v["release_id"], format!("concurrent-{i}"));
        let token: u64 = v["token_id"].as_str().unwrap().parse().unwrap();
        assert!(tokens.insert(token), "token {token} reported twice");
    }
    eprintln!(
        "{PROCESSES} release processes finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Each release minted exactly one token: the chain's events hold fifty proposals, one
    // for each token reported.
    let history = medimint(data, rpc_url)
        .args(["history", "--json"])
        .output()
        .unwrap();
    assert!(history.status.success());
    let events: Value = serde_json::from_slice(&history.stdout).unwrap();
    let proposed: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "release_proposed")
        .map(|e| match &e["token_id"] {
            Value::String(t) => t.parse().unwrap(),
            other => other.as_u64().unwrap(),
        })
        .collect();
    assert_eq!(proposed.len(), PROCESSES, "{proposed:?}");
    assert_eq!(proposed.into_iter().collect::<BTreeSet<_>>(), tokens);
    // Nothing was dead-lettered (letters are `<issuer>/<release-id>.json`).
    fn letters(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map_while(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                letters(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut dead = Vec::new();
    letters(&data.join("dead-letters"), &mut dead);
    assert!(dead.is_empty(), "dead letters: {dead:?}");
}
