//! Simulation randomness, getLedgers, transaction meta, history across restarts and the
//! network's limits, driven through stellar-rpc-client and raw JSON-RPC.

mod common;

use common::*;
use medimint_devnet::{Config, Keypair, NetworkSettings};
use soroban_env_host::xdr::{
    ContractEventBody, Hash, HostFunction, LedgerCloseMeta, LedgerEntryChange, LedgerEntryData,
    LedgerHeaderHistoryEntry, Limits, OperationBody, ReadXdr, ScVal, SorobanCredentials,
    TransactionEnvelope, TransactionEventStage, TransactionMeta, TransactionResultResult, WriteXdr,
};
use stellar_rpc_client::{EventStart, LedgerStart};

fn i128_of(v: &ScVal) -> i128 {
    let ScVal::I128(p) = v else {
        panic!("not an i128: {v:?}")
    };
    ((p.hi as i128) << 64) | p.lo as i128
}

#[test]
fn simulating_the_same_transaction_twice_gives_fresh_nonces() {
    let n = start();
    let alice = Keypair::from_seed([90; 32]);
    let bob = Keypair::from_seed([91; 32]);
    n.fund(&alice, 1000);
    n.fund(&bob, 10);
    let contract = n.deploy_counter(&alice);
    let call = Net::increment_fn(&contract, &bob);
    let seq = n.seq(&alice) + 1;
    // The identical draft, simulated twice in record mode.
    let draft = sign(
        n.network_id,
        tx(
            &alice,
            seq,
            BASE_FEE,
            vec![op(OperationBody::InvokeHostFunction(
                soroban_env_host::xdr::InvokeHostFunctionOp {
                    host_function: call.clone(),
                    auth: Default::default(),
                },
            ))],
        ),
        &[&alice],
    );
    let auths: Vec<_> = (0..2)
        .map(|_| {
            let sim = n
                .block(n.client.simulate_transaction_envelope(&draft, None))
                .unwrap();
            let mut auth = sim.results().unwrap().remove(0).auth;
            assert_eq!(auth.len(), 1, "Bob's entry is recorded");
            auth.remove(0)
        })
        .collect();
    let nonce = |e: &soroban_env_host::xdr::SorobanAuthorizationEntry| match &e.credentials {
        SorobanCredentials::Address(c) => c.nonce,
        other => panic!("address credentials expected: {other:?}"),
    };
    assert_ne!(nonce(&auths[0]), nonce(&auths[1]));
    // Both can be signed and submitted one after the other.
    let expiration = n.net.latest_ledger() + 100;
    for (i, entry) in auths.into_iter().enumerate() {
        let signed = sign_auth(n.network_id, entry, &bob, expiration);
        let env = n.assemble_with(&alice, seq + i as i64, call.clone(), vec![signed]);
        let r = n
            .block(n.client.send_transaction_polling(&env))
            .unwrap_or_else(|e| panic!("submission {i}: {e:?}"));
        assert_eq!(r.return_value().unwrap(), ScVal::U32(i as u32 + 1));
    }
}

#[test]
fn get_ledgers_serves_the_header_chain_and_close_meta() {
    let n = start();
    let alice = Keypair::from_seed([92; 32]);
    n.fund(&alice, 1000); // ledger 2
    n.fund(&Keypair::from_seed([93; 32]), 10); // ledger 3
    let page = n
        .block(n.client.get_ledgers(LedgerStart::Ledger(1), Some(2), None))
        .unwrap();
    assert_eq!(page.ledgers.len(), 2);
    assert_eq!(page.ledgers[0].sequence, 1);
    assert_eq!(page.ledgers[1].sequence, 2);
    assert_eq!(page.cursor, "2");
    assert_eq!(page.oldest_ledger, 1);
    assert_eq!(page.latest_ledger, 3);
    let headers: Vec<LedgerHeaderHistoryEntry> = page
        .ledgers
        .iter()
        .map(|l| LedgerHeaderHistoryEntry::from_xdr_base64(&l.header_xdr, Limits::none()).unwrap())
        .collect();
    for (l, h) in page.ledgers.iter().zip(&headers) {
        // The hash is SHA-256 of the header's XDR, as on the network.
        let hash = medimint_devnet::keys::sha256(&h.header.to_xdr(Limits::none()).unwrap());
        assert_eq!(l.hash, hex::encode(hash));
        assert_eq!(h.hash, Hash(hash));
        assert_eq!(h.header.ledger_seq, l.sequence);
        assert_eq!(
            l.ledger_close_time,
            h.header.scp_value.close_time.0.to_string()
        );
    }
    assert_eq!(headers[1].header.previous_ledger_hash, headers[0].hash);
    // Ledger 2 applied the funding transaction: its close meta holds it.
    let LedgerCloseMeta::V2(meta) =
        LedgerCloseMeta::from_xdr_base64(&page.ledgers[1].metadata_xdr, Limits::none()).unwrap()
    else {
        panic!("LedgerCloseMeta V2 expected")
    };
    assert_eq!(meta.tx_processing.len(), 1);
    assert!(matches!(
        meta.tx_processing[0].result.result.result,
        TransactionResultResult::TxSuccess(_)
    ));
    // The next page from the cursor; the latest ledger's id is its header hash.
    let next = n
        .block(
            n.client
                .get_ledgers(LedgerStart::Cursor(page.cursor.clone()), Some(10), None),
        )
        .unwrap();
    assert_eq!(
        next.ledgers.iter().map(|l| l.sequence).collect::<Vec<_>>(),
        vec![3]
    );
    let latest = n.block(n.client.get_latest_ledger()).unwrap();
    assert_eq!(latest.id, next.ledgers[0].hash);
    // JSON format, and a start outside the window.
    let j = rpc_raw(
        &n,
        "getLedgers",
        serde_json::json!({"startLedger": 3, "xdrFormat": "json"}),
    );
    assert_eq!(
        j["result"]["ledgers"][0]["headerJson"]["hash"],
        next.ledgers[0].hash
    );
    assert!(j["result"]["ledgers"][0]["metadataJson"].is_object(), "{j}");
    let bad = rpc_raw(&n, "getLedgers", serde_json::json!({"startLedger": 99}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
}

#[test]
fn transaction_meta_carries_events_ttl_and_fee_changes() {
    let n = start();
    let alice = Keypair::from_seed([94; 32]);
    n.fund(&alice, 1000);
    let contract = n.deploy_counter(&alice);
    let balance_before = n.balance(&alice);
    let r = n
        .invoke(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    let fee_charged = r.result.as_ref().unwrap().fee_charged;
    assert_eq!(n.balance(&alice), balance_before - fee_charged);
    let TransactionEnvelope::Tx(v1) = r.envelope.clone().unwrap() else {
        panic!()
    };
    let bid = v1.tx.fee as i64;
    let Some(TransactionMeta::V4(meta)) = r.result_meta.clone() else {
        panic!("V4 meta expected: {:?}", r.result_meta)
    };
    // The contract event, in the operation's meta and in getTransaction's events.
    assert_eq!(meta.operations.len(), 1);
    assert_eq!(meta.operations[0].events.len(), 1);
    assert_eq!(
        r.events.contract_events[0],
        meta.operations[0].events.to_vec()
    );
    let ContractEventBody::V0(body) = &meta.operations[0].events[0].body;
    assert_eq!(body.topics.len(), 2);
    // The counter's entry is created with its TTL entry beside it.
    let changes = &meta.operations[0].changes;
    let created_ttl = changes.iter().any(
        |c| matches!(c, LedgerEntryChange::Created(e) if matches!(e.data, LedgerEntryData::Ttl(_))),
    );
    let created_data = changes.iter().any(|c| {
        matches!(c, LedgerEntryChange::Created(e) if matches!(e.data, LedgerEntryData::ContractData(_)))
    });
    assert!(created_ttl && created_data, "{changes:?}");
    // The sequence bump before the operations.
    let seq_after = meta.tx_changes_before.iter().find_map(|c| match c {
        LedgerEntryChange::Updated(e) => match &e.data {
            LedgerEntryData::Account(a) => Some(a.seq_num.0),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(seq_after, Some(v1.tx.seq_num.0));
    // Diagnostic events (the host's fn_call / fn_return trace).
    assert!(!meta.diagnostic_events.is_empty());
    assert_eq!(
        r.events.diagnostic_events.len(),
        meta.diagnostic_events.len()
    );
    // Fee events: the bid charged before, the unused refundable fee given back after.
    assert_eq!(meta.events.len(), 2, "{:?}", meta.events);
    assert_eq!(meta.events[0].stage, TransactionEventStage::BeforeAllTxs);
    assert_eq!(meta.events[1].stage, TransactionEventStage::AfterTx);
    let amount = |i: usize| {
        let ContractEventBody::V0(b) = &meta.events[i].event.body;
        i128_of(&b.data)
    };
    assert_eq!(amount(0), bid as i128);
    assert!(amount(1) < 0);
    assert_eq!(amount(0) + amount(1), fee_charged as i128);
    assert_eq!(r.events.transaction_events.len(), 2);
    // The same transaction with `xdrFormat: "json"`, through getTransactions and
    // getTransaction: the XDR's JSON form in the `…Json` fields.
    let listed = rpc_raw(
        &n,
        "getTransactions",
        serde_json::json!({"startLedger": r.ledger.unwrap(), "xdrFormat": "json"}),
    );
    let t = &listed["result"]["transactions"][0];
    assert_eq!(t["ledger"], r.ledger.unwrap(), "{listed}");
    assert!(t.get("envelopeXdr").is_none(), "{t}");
    assert!(t["envelopeJson"]["tx"]["tx"].is_object(), "{t}");
    let charged = t["resultJson"]["fee_charged"].to_string();
    assert_eq!(charged.trim_matches('"'), fee_charged.to_string(), "{t}");
    assert!(t["resultMetaJson"]["v4"].is_object(), "{t}");
    assert_eq!(
        t["events"]["contractEventsJson"][0]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        t["events"]["transactionEventsJson"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let one = rpc_raw(
        &n,
        "getTransaction",
        serde_json::json!({"hash": t["txHash"], "xdrFormat": "json"}),
    );
    assert_eq!(one["result"]["envelopeJson"], t["envelopeJson"], "{one}");
    assert_eq!(one["result"]["resultMetaJson"], t["resultMetaJson"]);
    let bad = rpc_raw(
        &n,
        "getTransaction",
        serde_json::json!({"hash": t["txHash"], "xdrFormat": "yaml"}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    // The ledger's close meta holds the fee charge and the refund as balance changes.
    let ledger = r.ledger.unwrap();
    let page = n
        .block(
            n.client
                .get_ledgers(LedgerStart::Ledger(ledger), Some(1), None),
        )
        .unwrap();
    let LedgerCloseMeta::V2(lcm) =
        LedgerCloseMeta::from_xdr_base64(&page.ledgers[0].metadata_xdr, Limits::none()).unwrap()
    else {
        panic!()
    };
    let p = &lcm.tx_processing[0];
    let balances = |ch: &[LedgerEntryChange]| -> Vec<i64> {
        ch.iter()
            .filter_map(|c| match c {
                LedgerEntryChange::State(e) | LedgerEntryChange::Updated(e) => match &e.data {
                    LedgerEntryData::Account(a) => Some(a.balance),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    let fee = balances(&p.fee_processing);
    assert_eq!(fee, vec![balance_before, balance_before - bid]);
    let refund = balances(&p.post_tx_apply_fee_processing);
    assert_eq!(
        refund,
        vec![balance_before - bid, balance_before - fee_charged]
    );
}

#[test]
fn history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Keypair::from_seed([95; 32]);
    let config = || Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let (hash, ledger, contract, ledger_hash, events_before) = {
        let n = start_with(config());
        n.fund(&alice, 1000);
        let contract = n.deploy_counter(&alice);
        let r = n
            .invoke(&alice, Net::increment_fn(&contract, &alice))
            .unwrap();
        let ledger = r.ledger.unwrap();
        let h = n
            .block(
                n.client
                    .get_ledgers(LedgerStart::Ledger(ledger), Some(1), None),
            )
            .unwrap();
        let ev = n
            .block(
                n.client
                    .get_events(EventStart::Ledger(1), None, &[], &[], Some(100)),
            )
            .unwrap();
        (
            r.tx_hash.clone().unwrap(),
            ledger,
            contract,
            h.ledgers[0].hash.clone(),
            ev.events.len(),
        )
    };
    let n = start_with(config());
    let r = n
        .block(n.client.get_transaction(&hash.parse().unwrap()))
        .unwrap();
    assert_eq!(r.status, "SUCCESS");
    assert_eq!(r.ledger, Some(ledger));
    assert_eq!(r.return_value().unwrap(), ScVal::U32(1));
    assert_eq!(r.events.contract_events[0].len(), 1);
    let ev = n
        .block(
            n.client
                .get_events(EventStart::Ledger(1), None, &[], &[], Some(100)),
        )
        .unwrap();
    assert_eq!(ev.events.len(), events_before);
    assert!(events_before >= 1);
    assert_eq!(
        ev.events.last().unwrap().tx_hash.as_deref(),
        Some(hash.as_str())
    );
    let h = n
        .block(
            n.client
                .get_ledgers(LedgerStart::Ledger(ledger), Some(1), None),
        )
        .unwrap();
    assert_eq!(h.ledgers[0].hash, ledger_hash);
    assert_eq!(h.oldest_ledger, 1);
    // The chain goes on from the restored header.
    let r2 = n
        .invoke(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    assert_eq!(r2.return_value().unwrap(), ScVal::U32(2));
    let latest = n.net.latest_ledger();
    let pair = n
        .block(
            n.client
                .get_ledgers(LedgerStart::Ledger(latest - 1), Some(2), None),
        )
        .unwrap();
    let prev =
        LedgerHeaderHistoryEntry::from_xdr_base64(&pair.ledgers[1].header_xdr, Limits::none())
            .unwrap()
            .header
            .previous_ledger_hash;
    assert_eq!(hex::encode(prev.0), pair.ledgers[0].hash);
}

#[test]
fn contract_data_keys_above_the_limit_are_refused() {
    // The counter's key, (Symbol, Address), is about 120 bytes of LedgerKey XDR; the
    // contract instance key about 50.
    let settings = NetworkSettings {
        max_contract_data_key_size_bytes: 80,
        ..Default::default()
    };
    let n = start_with(Config {
        settings,
        ..Default::default()
    });
    let alice = Keypair::from_seed([96; 32]);
    n.fund(&alice, 1000);
    let contract = n.deploy_counter(&alice);
    let env = n
        .assemble(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    let (status, err) = send_raw(&n, &env);
    assert_eq!(status, "ERROR");
    assert_eq!(
        err.unwrap().result,
        TransactionResultResult::TxSorobanInvalid
    );
    assert!(n.block(n.client.get_health()).is_ok());
}

#[test]
fn contract_data_values_above_the_limit_fail_the_operation() {
    let settings = NetworkSettings {
        max_contract_data_entry_size_bytes: 60,
        ..Default::default()
    };
    let n = start_with(Config {
        settings,
        ..Default::default()
    });
    let alice = Keypair::from_seed([97; 32]);
    n.fund(&alice, 1000);
    // Uploading is refused through the code size limit, not this one: the contract
    // instance (about 110 bytes of entry) is above it, so the deploy fails.
    let wasm = counter_wasm();
    n.invoke(
        &alice,
        HostFunction::UploadContractWasm(wasm.try_into().unwrap()),
    )
    .expect("upload (code entries have their own limit)");
    let err = n
        .invoke(
            &alice,
            HostFunction::CreateContractV2(soroban_env_host::xdr::CreateContractArgsV2 {
                contract_id_preimage: soroban_env_host::xdr::ContractIdPreimage::Address(
                    soroban_env_host::xdr::ContractIdPreimageFromAddress {
                        address: soroban_env_host::xdr::ScAddress::Account(alice.account_id()),
                        salt: soroban_env_host::xdr::Uint256([3; 32]),
                    },
                ),
                executable: soroban_env_host::xdr::ContractExecutable::Wasm(Hash(
                    medimint_devnet::keys::sha256(&counter_wasm()),
                )),
                constructor_args: Default::default(),
            }),
        )
        .expect_err("the instance entry is too big");
    assert!(
        format!("{err:?}").contains("ResourceLimitExceeded"),
        "{err:?}"
    );
}
