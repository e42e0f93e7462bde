//! Study-token releases per second: the suite's optimized WASM (medimint-contract-wasm)
//! deployed on the devnet, and `propose_release` called through the RPC API the way a
//! relayer does it: simulate, assemble, sign, sendTransaction, poll getTransaction.
//!
//!   CARGO_TARGET_DIR=/work/targets/devnet cargo bench -p medimint-devnet --bench releases
//!   (env BENCH_RELEASES for the close-on-submission run; BENCH_ISSUERS,
//!   BENCH_RELEASES_PER_ISSUER, BENCH_LEDGER_MS for the concurrent timed-ledger run)
//!
//! Every release is simulated right before it is sent: its footprint names the token id the
//! contract will assign (one instance counter, one entry per token), so it cannot be
//! prepared ahead. For the same reason, releases simulated against the same ledger conflict:
//! the timed run counts how many of the concurrent ones fail on that.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use medimint_devnet::{Config, Keypair};
use soroban_env_host::xdr::{
    ContractEventBody, ContractExecutable, ContractIdPreimage, ContractIdPreimageFromAddress,
    CreateContractArgsV2, Hash, HostFunction, InvokeContractArgs, ScAddress, ScMap, ScMapEntry,
    ScString, ScSymbol, ScVal, Uint256,
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sym(s: &str) -> ScVal {
    ScVal::Symbol(ScSymbol(s.try_into().unwrap()))
}

fn string(s: &str) -> ScVal {
    ScVal::String(ScString(s.try_into().unwrap()))
}

fn addr(k: &Keypair) -> ScVal {
    ScVal::Address(ScAddress::Account(k.account_id()))
}

/// A `#[contracttype]` struct: a map with the field names as symbols, sorted.
fn record(mut fields: Vec<(&str, ScVal)>) -> ScVal {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    ScVal::Map(Some(ScMap(
        fields
            .into_iter()
            .map(|(k, v)| ScMapEntry {
                key: sym(k),
                val: v,
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    )))
}

fn call(contract: &ScAddress, name: &str, args: Vec<ScVal>) -> HostFunction {
    HostFunction::InvokeContract(InvokeContractArgs {
        contract_address: contract.clone(),
        function_name: ScSymbol(name.try_into().unwrap()),
        args: args.try_into().unwrap(),
    })
}

fn deploy(n: &Net, source: &Keypair, wasm: &[u8], salt: u8, args: Vec<ScVal>) -> ScAddress {
    n.invoke(
        source,
        HostFunction::UploadContractWasm(wasm.to_vec().try_into().unwrap()),
    )
    .expect("upload");
    let r = n
        .invoke(
            source,
            HostFunction::CreateContractV2(CreateContractArgsV2 {
                contract_id_preimage: ContractIdPreimage::Address(ContractIdPreimageFromAddress {
                    address: ScAddress::Account(source.account_id()),
                    salt: Uint256([salt; 32]),
                }),
                executable: ContractExecutable::Wasm(Hash(medimint_devnet::keys::sha256(wasm))),
                constructor_args: args.try_into().unwrap(),
            }),
        )
        .expect("deploy");
    let ScVal::Address(a) = r.return_value().unwrap() else {
        panic!("deploy returns an address")
    };
    a
}

/// Deploys the issuer registry and the study token, and trusts `issuers`.
fn suite(n: &Net, admin: &Keypair, issuers: &[Keypair]) -> ScAddress {
    let registry = deploy(
        n,
        admin,
        medimint_contract_wasm::ISSUER_REGISTRY,
        1,
        vec![addr(admin)],
    );
    for (i, issuer) in issuers.iter().enumerate() {
        let profile = record(vec![
            ("name", string(&format!("Hospital {i}"))),
            (
                "kind",
                ScVal::Vec(Some(vec![sym("Hospital")].try_into().unwrap())),
            ),
            ("jurisdiction", string("US-CA")),
            ("evidence", ScVal::Bytes(vec![7u8; 32].try_into().unwrap())),
        ]);
        n.invoke(
            admin,
            call(&registry, "add_issuer", vec![addr(issuer), profile]),
        )
        .expect("add_issuer");
    }
    deploy(
        n,
        admin,
        medimint_contract_wasm::STUDY_TOKEN,
        2,
        vec![
            addr(admin),
            ScVal::Address(registry),
            string("MediMint Study"),
            string("MMS"),
        ],
    )
}

fn release(issuer: &Keypair, patient: &Keypair, i: u64) -> Vec<ScVal> {
    let root =
        medimint_devnet::keys::sha256(&[issuer.public_key().as_slice(), &i.to_be_bytes()].concat());
    vec![
        addr(issuer),
        addr(patient),
        record(vec![
            (
                "metadata_uri",
                string("ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
            ),
            (
                "checksum_root",
                ScVal::Bytes(root.to_vec().try_into().unwrap()),
            ),
            ("file_count", ScVal::U32(1)),
            ("request_id", ScVal::Void),
        ]),
    ]
}

/// Simulates and assembles a signed invocation through `client` (as `Net::assemble`).
async fn assemble_via(
    client: &stellar_rpc_client::Client,
    network_id: [u8; 32],
    source: &Keypair,
    f: HostFunction,
) -> Result<soroban_env_host::xdr::TransactionEnvelope, stellar_rpc_client::Error> {
    use soroban_env_host::xdr::{InvokeHostFunctionOp, OperationBody, TransactionExt};
    let seq = client.get_account(&source.address()).await?.seq_num.0 + 1;
    let body = |auth: Vec<_>| {
        OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
            host_function: f.clone(),
            auth: auth.try_into().unwrap(),
        })
    };
    let draft = sign(
        network_id,
        tx(source, seq, BASE_FEE, vec![op(body(vec![]))]),
        &[source],
    );
    let sim = client.simulate_transaction_envelope(&draft, None).await?;
    if let Some(e) = &sim.error {
        return Err(stellar_rpc_client::Error::TransactionSimulationFailed(
            e.clone(),
        ));
    }
    let data = sim.transaction_data()?;
    let auth = sim
        .results()?
        .into_iter()
        .next()
        .map(|r| r.auth)
        .unwrap_or_default();
    let mut t = tx(
        source,
        seq,
        BASE_FEE + data.resource_fee as u32,
        vec![op(body(auth))],
    );
    t.ext = TransactionExt::V1(data);
    Ok(sign(network_id, t, &[source]))
}

fn main() {
    sequential(env_or("BENCH_RELEASES", 100));
    concurrent(
        env_or("BENCH_ISSUERS", 16) as usize,
        env_or("BENCH_RELEASES_PER_ISSUER", 10),
        env_or("BENCH_LEDGER_MS", 250),
    );
}

/// One issuer, a ledger per submission: simulate + send + apply + getTransaction.
fn sequential(count: u64) {
    let n = start_with(Config::default());
    let admin = Keypair::from_seed([210; 32]);
    let issuer = Keypair::from_seed([211; 32]);
    let patient = Keypair::from_seed([212; 32]);
    n.fund_many(&[admin.clone(), issuer.clone(), patient.clone()], 10_000);
    let token = suite(&n, &admin, std::slice::from_ref(&issuer));
    let mut simulate = Duration::ZERO;
    let mut submit = Duration::ZERO;
    let start = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        let env = n
            .assemble(
                &issuer,
                call(&token, "propose_release", release(&issuer, &patient, i)),
            )
            .expect("simulation succeeds");
        simulate += t.elapsed();
        let t = Instant::now();
        let r = n
            .block(n.client.send_transaction_polling(&env))
            .expect("release succeeds");
        submit += t.elapsed();
        assert!(
            matches!(r.return_value().unwrap(), ScVal::U32(_)),
            "propose_release returns the token id"
        );
    }
    let elapsed = start.elapsed();
    println!(
        "releases sequential: releases={count} elapsed={:.2}s => {:.1} releases/s (simulate {:.1} ms, send+apply+poll {:.1} ms per release)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        simulate.as_secs_f64() * 1000.0 / count as f64,
        submit.as_secs_f64() * 1000.0 / count as f64,
    );
}

/// Several issuers at once on timed ledgers, each simulating its next release as soon as the
/// previous one is in a ledger.
fn concurrent(issuers: usize, per_issuer: u64, ledger_ms: u64) {
    let n = start_with(Config {
        ledger_ms,
        ..Default::default()
    });
    let admin = Keypair::from_seed([220; 32]);
    let keys: Vec<Keypair> = (0..issuers)
        .map(|i| Keypair::from_seed([100 + i as u8; 32]))
        .collect();
    // One patient per issuer: releases to the same patient grow the same pending-list entry,
    // so two simulated against the same ledger declare too few write bytes for the second.
    let patients: Vec<Keypair> = (0..issuers)
        .map(|i| Keypair::from_seed([150 + i as u8; 32]))
        .collect();
    let mut all = vec![admin.clone()];
    all.extend(keys.iter().cloned());
    all.extend(patients.iter().cloned());
    n.fund_many(&all, 10_000);
    let token = suite(&n, &admin, &keys);
    let first = n.net.latest_ledger();
    let start = Instant::now();
    let results: Vec<(u64, u64, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .iter()
            .zip(&patients)
            .map(|(issuer, patient)| {
                let (url, token) = (n.net.rpc_url(), token.clone());
                let network_id = n.network_id;
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let client = stellar_rpc_client::Client::new(&url).unwrap();
                    let (mut ok, mut failed, mut first_error) = (0, 0, None);
                    for i in 0..per_issuer {
                        let f = call(&token, "propose_release", release(issuer, patient, i));
                        let sent = rt.block_on(async {
                            let env = assemble_via(&client, network_id, issuer, f)
                                .await
                                .map_err(|e| format!("{e:?}"))?;
                            let hash = client
                                .send_transaction(&env)
                                .await
                                .map_err(|e| format!("{e:?}"))?;
                            loop {
                                let r = client
                                    .get_transaction(&hash)
                                    .await
                                    .map_err(|e| format!("{e:?}"))?;
                                match r.status.as_str() {
                                    "SUCCESS" => return Ok(()),
                                    "FAILED" => {
                                        // The host's error is the last diagnostic event.
                                        let last = r.events.diagnostic_events.last().map(|d| {
                                            let ContractEventBody::V0(b) = &d.event.body;
                                            format!("{:?} {:?}", b.topics, b.data)
                                        });
                                        return Err(format!(
                                            "{:?}; {}",
                                            r.result.map(|x| x.result),
                                            last.unwrap_or_default()
                                        ));
                                    }
                                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                                }
                            }
                        });
                        match sent {
                            Ok(()) => ok += 1,
                            Err(e) => {
                                failed += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    (ok, failed, first_error)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let ok: u64 = results.iter().map(|r| r.0).sum();
    let failed: u64 = results.iter().map(|r| r.1).sum();
    let ledgers = n.net.latest_ledger() - first;
    if let Some(e) = results.iter().find_map(|r| r.2.clone()) {
        let e: String = e.chars().take(600).collect();
        println!("releases concurrent: a failure looks like: {e}");
    }
    println!(
        "releases concurrent: issuers={issuers} attempts={} ok={ok} failed={failed} ledger_ms={ledger_ms} elapsed={:.2}s ledgers={ledgers} => {:.1} releases/s, {:.2} per ledger",
        issuers as u64 * per_issuer,
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        ok as f64 / ledgers.max(1) as f64,
    );
}
