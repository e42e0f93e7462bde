//! The devnet driven by SDF's JavaScript SDK (`@stellar/stellar-sdk` from npm), as the web
//! app will use it: `rpc.Server.requestAirdrop` (which POSTs to the friendbot), then a
//! payment built, sent and polled. The script is `tests/js/airdrop.mjs`; its dependencies
//! are installed with `npm ci --prefix devnet/tests/js`.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_javascript_sdk_funds_an_account_by_airdrop_and_sends_a_payment() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        dir.join("node_modules/@stellar/stellar-sdk").exists(),
        "the JavaScript SDK is not installed: run `npm ci --prefix devnet/tests/js`"
    );
    let n = common::start();
    let out = Command::new("node")
        .arg(dir.join("airdrop.mjs"))
        .arg(n.net.rpc_url())
        .current_dir(&dir)
        .output()
        .expect("node (Node.js 18 or later) on the PATH");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "airdrop.mjs failed: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let funded = report["funded"].as_str().unwrap().to_owned();
    // The account exists with the friendbot's balance less the payment and its fee.
    let balance = n.block(n.client.get_account(&funded)).unwrap().balance;
    assert_eq!(
        balance,
        medimint_devnet::FRIENDBOT_STARTING_BALANCE - 125_000_000 - 100
    );
    assert!(report["ledger"].as_u64().unwrap() > 1);
}
