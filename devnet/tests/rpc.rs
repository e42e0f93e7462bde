//! The devnet driven through SDF's stellar-rpc-client (and raw JSON-RPC for the shapes and
//! errors the client hides).

mod common;

use common::*;
use medimint_devnet::{Config, Keypair};
use soroban_env_host::xdr::{
    AccountEntryExt, AccountEntryExtensionV1Ext, Asset, BeginSponsoringFutureReservesOp,
    BumpSequenceOp, ContractDataDurability, ContractEventBody, CreateAccountOp,
    ExtendFootprintTtlOp, ExtensionPoint, FeeBumpTransaction, FeeBumpTransactionEnvelope,
    FeeBumpTransactionExt, FeeBumpTransactionInnerTx, Hash, InvokeHostFunctionResult,
    LedgerFootprint, LedgerKey, LedgerKeyContractCode, LedgerKeyContractData, Limits,
    OperationBody, OperationResult, OperationResultTr, PaymentOp, ReadXdr, RestoreFootprintOp,
    ScAddress, ScSymbol, ScVal, SequenceNumber, SorobanResources, SorobanTransactionData,
    SorobanTransactionDataExt, TransactionEnvelope, TransactionExt, TransactionResultResult,
    TransactionSignaturePayload, TransactionSignaturePayloadTaggedTransaction, WriteXdr,
};
use stellar_rpc_client::{EventStart, EventType};

#[test]
#[should_panic(expected = "scripts/build-contracts medimint-devnet-counter")]
fn a_missing_fixture_fails_with_the_build_command() {
    let empty = tempfile::tempdir().unwrap();
    counter_wasm_in(empty.path());
}

#[test]
fn a_contract_above_the_size_limit_is_refused() {
    let settings = medimint_devnet::NetworkSettings {
        max_contract_size_bytes: 64,
        ..Default::default()
    };
    let n = start_with(Config {
        settings,
        ..Default::default()
    });
    let alice = Keypair::from_seed([23; 32]);
    n.fund(&alice, 1000);
    let err = n
        .invoke(
            &alice,
            soroban_env_host::xdr::HostFunction::UploadContractWasm(
                counter_wasm().try_into().unwrap(),
            ),
        )
        .expect_err("upload refused");
    assert!(
        format!("{err:?}").contains("ResourceLimitExceeded"),
        "{err:?}"
    );
    assert!(n.block(n.client.get_health()).is_ok());
}

#[test]
fn network_methods_report_the_network() {
    let n = start();
    let net = n.block(n.client.get_network()).unwrap();
    assert_eq!(net.passphrase, "Standalone Network ; February 2017");
    assert_eq!(
        net.friendbot_url.as_deref(),
        Some(n.net.friendbot_url().as_str())
    );
    assert_eq!(
        net.protocol_version,
        medimint_devnet::settings::PROTOCOL_VERSION
    );
    let health = n.block(n.client.get_health()).unwrap();
    assert_eq!(health.status, "healthy");
    assert_eq!(health.latest_ledger, 1);
    let latest = n.block(n.client.get_latest_ledger()).unwrap();
    assert_eq!(latest.sequence, 1);
    let fees = n.block(n.client.get_fee_stats()).unwrap();
    assert_eq!(fees.inclusion_fee.min, "100");
    let v = n.block(n.client.get_version_info()).unwrap();
    assert!(v.version.starts_with("medimint-devnet"));
    // The root account holds the genesis lumens.
    let root = n.root();
    assert_eq!(
        root.address(),
        "GBZXN7PIRZGNMHGA7MUUUF4GWPY5AYPV6LY4UV2GL6VJGIQRXFDNMADI"
    );
    assert_eq!(n.balance(&root), medimint_devnet::node::GENESIS_BALANCE);
}

#[test]
fn friendbot_funds_once_then_refuses() {
    let n = start();
    let k = Keypair::from_seed([3; 32]);
    let (status, body) = http(&n, "GET", &format!("/friendbot?addr={}", k.address()), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(n.balance(&k), medimint_devnet::FRIENDBOT_STARTING_BALANCE);
    let (status, body) = http(&n, "GET", &format!("/friendbot?addr={}", k.address()), "");
    assert_eq!(status, 400);
    assert!(body.contains("already funded"), "{body}");
    let (status, body) = http(&n, "GET", "/friendbot?addr=GNOTANADDRESS", "");
    assert_eq!(status, 400);
    assert!(body.contains("not a G... account address"), "{body}");
}

#[test]
fn friendbot_answers_post_as_sdfs_does() {
    let n = start();
    let k = Keypair::from_seed([4; 32]);
    let (status, body) = http(&n, "POST", &format!("/friendbot?addr={}", k.address()), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(n.balance(&k), medimint_devnet::FRIENDBOT_STARTING_BALANCE);
    let (status, body) = http(&n, "POST", "/friendbot", "");
    assert_eq!(status, 400);
    assert!(body.contains("missing query parameter `addr`"), "{body}");
}

#[test]
fn concurrent_friendbot_requests_take_turns_on_the_root_account() {
    // Ledgers close on a timer: the root account's one queued transaction at a time makes
    // the requests wait for each other's ledger instead of failing.
    let n = start_with(Config {
        ledger_ms: 100,
        ..Default::default()
    });
    let keys: Vec<Keypair> = (50..54).map(|i| Keypair::from_seed([i; 32])).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .map(|k| {
                let n = &n;
                scope
                    .spawn(move || http(n, "POST", &format!("/friendbot?addr={}", k.address()), ""))
            })
            .collect();
        for h in handles {
            let (status, body) = h.join().unwrap();
            assert_eq!(status, 200, "{body}");
        }
    });
    for k in &keys {
        assert_eq!(n.balance(k), medimint_devnet::FRIENDBOT_STARTING_BALANCE);
    }
}

#[test]
fn a_second_transaction_from_a_source_with_one_queued_is_answered_try_again_later() {
    // Ledgers close only when the test says so.
    let n = start_with(Config {
        ledger_ms: 3_600_000,
        ..Default::default()
    });
    let root = n.root();
    let a = Keypair::from_seed([42; 32]);
    let create = tx(
        &root,
        n.seq(&root) + 1,
        BASE_FEE,
        vec![op(OperationBody::CreateAccount(CreateAccountOp {
            destination: a.account_id(),
            starting_balance: 100 * 10_000_000,
        }))],
    );
    assert_eq!(
        send_raw(&n, &sign(n.network_id, create, &[&root])).0,
        "PENDING"
    );
    n.net.close_ledger();
    let pay = |seq: i64| {
        let t = tx(
            &a,
            seq,
            BASE_FEE,
            vec![op(OperationBody::Payment(PaymentOp {
                destination: muxed(&root),
                asset: Asset::Native,
                amount: 1,
            }))],
        );
        sign(n.network_id, t, &[&a])
    };
    let seq = n.seq(&a);
    assert_eq!(send_raw(&n, &pay(seq + 1)).0, "PENDING");
    // The next sequence number while the first is queued: not chained, no result XDR.
    let (status, result) = send_raw(&n, &pay(seq + 2));
    assert_eq!((status.as_str(), result), ("TRY_AGAIN_LATER", None));
    // The very same envelope is a duplicate.
    assert_eq!(send_raw(&n, &pay(seq + 1)).0, "DUPLICATE");
    n.net.close_ledger();
    assert_eq!(n.seq(&a), seq + 1);
    // Applied: the next one is accepted.
    assert_eq!(send_raw(&n, &pay(seq + 2)).0, "PENDING");
    n.net.close_ledger();
    assert_eq!(n.seq(&a), seq + 2);
}

#[test]
fn payments_move_lumens_and_charge_the_base_fee() {
    let n = start();
    let a = Keypair::from_seed([10; 32]);
    let b = Keypair::from_seed([11; 32]);
    n.fund(&a, 100);
    n.fund(&b, 100);
    let t = tx(
        &a,
        n.seq(&a) + 1,
        1000,
        vec![op(OperationBody::Payment(PaymentOp {
            destination: muxed(&b),
            asset: Asset::Native,
            amount: 5 * 10_000_000,
        }))],
    );
    let r = n
        .block(
            n.client
                .send_transaction_polling(&sign(n.network_id, t, &[&a])),
        )
        .unwrap();
    assert_eq!(r.result.unwrap().fee_charged, 100);
    assert_eq!(n.balance(&a), 95 * 10_000_000 - 100);
    assert_eq!(n.balance(&b), 105 * 10_000_000);
}

#[test]
fn counter_deploys_invokes_and_emits_events() {
    let n = start();
    let alice = Keypair::from_seed([20; 32]);
    n.fund(&alice, 1000);
    let contract = n.deploy_counter(&alice);
    let before = n.balance(&alice);
    let r1 = n
        .invoke(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    assert_eq!(r1.return_value().unwrap(), ScVal::U32(1));
    let r2 = n
        .invoke(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    assert_eq!(r2.return_value().unwrap(), ScVal::U32(2));
    // The fee charged is below the bid: the unused refundable part came back.
    let env2 = r2.envelope.clone().unwrap();
    let TransactionEnvelope::Tx(v1) = env2 else {
        panic!()
    };
    let charged = r2.result.as_ref().unwrap().fee_charged;
    assert!(
        charged > 100 && charged < v1.tx.fee as i64,
        "charged {charged} of {}",
        v1.tx.fee
    );
    assert!(n.balance(&alice) < before);
    // Events: one per increment, from this contract, with the value.
    assert_eq!(r2.events.contract_events.len(), 1);
    let ScAddress::Contract(cid) = &contract else {
        panic!()
    };
    let cid_str = stellar_strkey::Contract(cid.0 .0).to_string();
    let ev = n
        .block(n.client.get_events(
            EventStart::Ledger(1),
            Some(EventType::Contract),
            std::slice::from_ref(&cid_str),
            &[],
            Some(10),
        ))
        .unwrap();
    assert_eq!(ev.events.len(), 2);
    assert_eq!(ev.events[0].contract_id, cid_str);
    let v = ScVal::from_xdr_base64(&ev.events[1].value, Limits::none()).unwrap();
    let ScVal::Map(Some(m)) = v else {
        panic!("event value is a map: {v:?}")
    };
    assert!(m.iter().any(|e| e.val == ScVal::U32(2)));
    let topic0 = ScVal::from_xdr_base64(&ev.events[0].topic[0], Limits::none()).unwrap();
    assert_eq!(
        topic0,
        ScVal::Symbol(ScSymbol("incremented".try_into().unwrap()))
    );
    // Pagination: a page of one, then the next from the cursor.
    let p1 = n
        .block(n.client.get_events(
            EventStart::Ledger(1),
            None,
            std::slice::from_ref(&cid_str),
            &[],
            Some(1),
        ))
        .unwrap();
    assert_eq!(p1.events.len(), 1);
    let p2 = n
        .block(n.client.get_events(
            EventStart::Cursor(p1.cursor.clone()),
            None,
            std::slice::from_ref(&cid_str),
            &[],
            Some(1),
        ))
        .unwrap();
    assert_eq!(p2.events.len(), 1);
    assert_ne!(p1.events[0].id, p2.events[0].id);
    // A filter on another contract finds nothing.
    let other = stellar_strkey::Contract([9; 32]).to_string();
    let none = n
        .block(
            n.client
                .get_events(EventStart::Ledger(1), None, &[other], &[], Some(10)),
        )
        .unwrap();
    assert!(none.events.is_empty());
    // Contract events in getTransaction too.
    let ContractEventBody::V0(body) = &r1.events.contract_events[0][0].body;
    assert_eq!(body.topics.len(), 2);
    // getTransactions lists them in order.
    let txs = rpc_raw(
        &n,
        "getTransactions",
        serde_json::json!({"startLedger": 1, "pagination": {"limit": 200}}),
    );
    let list = txs["result"]["transactions"].as_array().unwrap();
    assert!(list.len() >= 5, "{txs}");
    assert!(list.iter().all(|t| t["status"] == "SUCCESS"));
}

#[test]
fn auth_of_another_address_is_checked_by_the_host() {
    let n = start();
    let alice = Keypair::from_seed([21; 32]);
    let bob = Keypair::from_seed([22; 32]);
    n.fund(&alice, 1000);
    n.fund(&bob, 10);
    let contract = n.deploy_counter(&alice);
    // Alice submits an increment for Bob: simulation records Bob's auth entry, which is
    // unsigned, so the host refuses it on apply.
    let env = n
        .assemble(&alice, Net::increment_fn(&contract, &bob))
        .unwrap();
    let hash = n.block(n.client.send_transaction(&env)).unwrap();
    let r = n.block(n.client.get_transaction(&hash)).unwrap();
    assert_eq!(r.status, "FAILED");
    let TransactionResultResult::TxFailed(ops) = r.result.unwrap().result else {
        panic!()
    };
    assert_eq!(
        ops[0],
        OperationResult::OpInner(OperationResultTr::InvokeHostFunction(
            InvokeHostFunctionResult::Trapped
        ))
    );
    // Enforce mode in simulation reports the missing signature as an error.
    let sim = rpc_raw(
        &n,
        "simulateTransaction",
        serde_json::json!({"transaction": env.to_xdr_base64(Limits::none()).unwrap(), "authMode": "enforce"}),
    );
    assert!(sim["result"]["error"].is_string(), "{sim}");
    for mode in ["record", "record_allow_nonroot"] {
        let sim = rpc_raw(
            &n,
            "simulateTransaction",
            serde_json::json!({"transaction": env.to_xdr_base64(Limits::none()).unwrap(), "authMode": mode}),
        );
        let auth = sim["result"]["results"][0]["auth"]
            .as_array()
            .unwrap_or_else(|| panic!("{sim}"));
        assert_eq!(auth.len(), 1, "{mode}: Bob's auth entry is recorded");
        assert!(
            sim["result"]["minResourceFee"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }
    let bad = rpc_raw(
        &n,
        "simulateTransaction",
        serde_json::json!({"transaction": env.to_xdr_base64(Limits::none()).unwrap(), "authMode": "nope"}),
    );
    assert_eq!(bad["error"]["code"], -32602);
}

#[test]
fn fee_bump_is_paid_by_the_fee_source() {
    let n = start();
    let user = Keypair::from_seed([30; 32]);
    let sponsor = Keypair::from_seed([31; 32]);
    let dest = Keypair::from_seed([32; 32]);
    n.fund(&user, 10);
    n.fund(&sponsor, 100);
    n.fund(&dest, 10);
    let inner = tx(
        &user,
        n.seq(&user) + 1,
        100,
        vec![op(OperationBody::Payment(PaymentOp {
            destination: muxed(&dest),
            asset: Asset::Native,
            amount: 10_000_000,
        }))],
    );
    let TransactionEnvelope::Tx(inner_env) = sign(n.network_id, inner, &[&user]) else {
        panic!()
    };
    let fb = FeeBumpTransaction {
        fee_source: muxed(&sponsor),
        fee: 400,
        inner_tx: FeeBumpTransactionInnerTx::Tx(inner_env),
        ext: FeeBumpTransactionExt::V0,
    };
    let payload = TransactionSignaturePayload {
        network_id: Hash(n.network_id),
        tagged_transaction: TransactionSignaturePayloadTaggedTransaction::TxFeeBump(fb.clone()),
    };
    let h = medimint_devnet::keys::sha256(&payload.to_xdr(Limits::none()).unwrap());
    let env = TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
        tx: fb.clone(),
        signatures: vec![decorated(&sponsor, &h)].try_into().unwrap(),
    });
    let user_before = n.balance(&user);
    let sponsor_before = n.balance(&sponsor);
    let r = n.block(n.client.send_transaction_polling(&env)).unwrap();
    assert_eq!(r.fee_bump, Some(true));
    let res = r.result.unwrap();
    assert!(matches!(
        res.result,
        TransactionResultResult::TxFeeBumpInnerSuccess(_)
    ));
    assert_eq!(res.fee_charged, 200);
    assert_eq!(n.balance(&user), user_before - 10_000_000);
    assert_eq!(n.balance(&sponsor), sponsor_before - 200);
    // A fee-bump whose fee does not cover the extra operation is refused.
    let mut cheap = fb;
    cheap.fee = 150;
    let env = TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
        tx: cheap,
        signatures: Default::default(),
    });
    let (status, err) = send_raw(&n, &env);
    assert_eq!(status, "ERROR");
    assert_eq!(
        err.unwrap().result,
        TransactionResultResult::TxInsufficientFee
    );
}

#[test]
fn sponsored_account_creation_moves_the_reserve_to_the_sponsor() {
    let n = start();
    let sponsor = Keypair::from_seed([40; 32]);
    let new = Keypair::from_seed([41; 32]);
    n.fund(&sponsor, 100);
    let t = tx(
        &sponsor,
        n.seq(&sponsor) + 1,
        300,
        vec![
            op(OperationBody::BeginSponsoringFutureReserves(
                BeginSponsoringFutureReservesOp {
                    sponsored_id: new.account_id(),
                },
            )),
            op(OperationBody::CreateAccount(CreateAccountOp {
                destination: new.account_id(),
                starting_balance: 0,
            })),
            op_from(&new, OperationBody::EndSponsoringFutureReserves),
        ],
    );
    n.block(
        n.client
            .send_transaction_polling(&sign(n.network_id, t, &[&sponsor, &new])),
    )
    .unwrap();
    let acct = n.block(n.client.get_account(&new.address())).unwrap();
    assert_eq!(acct.balance, 0);
    let AccountEntryExt::V1(v1) = &acct.ext else {
        panic!("sponsored account has ext v1")
    };
    let AccountEntryExtensionV1Ext::V2(v2) = &v1.ext else {
        panic!()
    };
    assert_eq!(v2.num_sponsored, 2);
    let sp = n.block(n.client.get_account(&sponsor.address())).unwrap();
    let AccountEntryExt::V1(v1) = &sp.ext else {
        panic!()
    };
    let AccountEntryExtensionV1Ext::V2(v2) = &v1.ext else {
        panic!()
    };
    assert_eq!(v2.num_sponsoring, 2);
    // Without EndSponsoring the transaction fails as a whole: nothing is created.
    let other = Keypair::from_seed([42; 32]);
    let t = tx(
        &sponsor,
        n.seq(&sponsor) + 1,
        200,
        vec![
            op(OperationBody::BeginSponsoringFutureReserves(
                BeginSponsoringFutureReservesOp {
                    sponsored_id: other.account_id(),
                },
            )),
            op(OperationBody::CreateAccount(CreateAccountOp {
                destination: other.account_id(),
                starting_balance: 0,
            })),
        ],
    );
    let hash = n
        .block(
            n.client
                .send_transaction(&sign(n.network_id, t, &[&sponsor])),
        )
        .unwrap();
    let r = n.block(n.client.get_transaction(&hash)).unwrap();
    assert_eq!(r.status, "FAILED");
    assert_eq!(
        r.result.unwrap().result,
        TransactionResultResult::TxBadSponsorship
    );
    assert!(n.block(n.client.get_account(&other.address())).is_err());
}

fn code_key() -> LedgerKey {
    LedgerKey::ContractCode(LedgerKeyContractCode {
        hash: Hash(medimint_devnet::keys::sha256(&counter_wasm())),
    })
}

fn soroban_tx(
    n: &Net,
    source: &Keypair,
    body: OperationBody,
    footprint: LedgerFootprint,
) -> TransactionEnvelope {
    let seq = n.seq(source) + 1;
    let data = SorobanTransactionData {
        ext: SorobanTransactionDataExt::V0,
        resources: SorobanResources {
            footprint,
            instructions: 0,
            disk_read_bytes: 0,
            write_bytes: 0,
        },
        resource_fee: 0,
    };
    let mut t = tx(source, seq, 100, vec![op(body.clone())]);
    t.ext = TransactionExt::V1(data);
    let draft = sign(n.network_id, t, &[source]);
    let sim = n
        .block(n.client.simulate_transaction_envelope(&draft, None))
        .unwrap();
    let data = sim.transaction_data().unwrap();
    let mut t = tx(source, seq, 100 + data.resource_fee as u32, vec![op(body)]);
    t.ext = TransactionExt::V1(data);
    sign(n.network_id, t, &[source])
}

fn live_until(n: &Net, key: &LedgerKey) -> u32 {
    let r = n
        .block(n.client.get_ledger_entries(std::slice::from_ref(key)))
        .unwrap();
    r.entries.unwrap()[0]
        .live_until_ledger_seq_ledger_seq
        .unwrap()
}

#[test]
fn ttl_extension_moves_live_until() {
    let n = start();
    let alice = Keypair::from_seed([50; 32]);
    n.fund(&alice, 1000);
    n.deploy_counter(&alice);
    let before = live_until(&n, &code_key());
    let env = soroban_tx(
        &n,
        &alice,
        OperationBody::ExtendFootprintTtl(ExtendFootprintTtlOp {
            ext: ExtensionPoint::V0,
            extend_to: 3_000_000,
        }),
        LedgerFootprint {
            read_only: vec![code_key()].try_into().unwrap(),
            read_write: Default::default(),
        },
    );
    let r = n.block(n.client.send_transaction_polling(&env)).unwrap();
    let after = live_until(&n, &code_key());
    assert_eq!(after, r.ledger.unwrap() + 3_000_000);
    assert!(after > before);
}

#[test]
fn archived_entries_are_restored_by_the_invocation_or_by_a_restore() {
    let n = start_with(Config {
        settings: short_ttl_settings(),
        ..Default::default()
    });
    let alice = Keypair::from_seed([60; 32]);
    n.fund(&alice, 1000);
    let contract = n.deploy_counter(&alice);
    assert_eq!(n.increment(&contract, &alice), ScVal::U32(1));
    // Assembled while everything is live, sent after the entries were archived: the
    // transaction does not mark them for restoration, so it fails.
    let stale = n
        .assemble(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    n.net.advance_ledgers(40);
    let hash = n.block(n.client.send_transaction(&stale)).unwrap();
    let r = n.block(n.client.get_transaction(&hash)).unwrap();
    let TransactionResultResult::TxFailed(ops) = r.result.unwrap().result else {
        panic!()
    };
    assert_eq!(
        ops[0],
        OperationResult::OpInner(OperationResultTr::InvokeHostFunction(
            InvokeHostFunctionResult::EntryArchived
        ))
    );
    // Simulated now, as Stellar RPC does from protocol 23: no preamble, the archived entries
    // (the instance, the code, the counter) marked in the transaction data, and one
    // transaction restores them and invokes.
    let sim = rpc_raw(
        &n,
        "simulateTransaction",
        serde_json::json!({"transaction": stale.to_xdr_base64(Limits::none()).unwrap()}),
    );
    assert!(sim["result"]["restorePreamble"].is_null(), "{sim}");
    let data = SorobanTransactionData::from_xdr_base64(
        sim["result"]["transactionData"].as_str().unwrap(),
        Limits::none(),
    )
    .unwrap();
    let SorobanTransactionDataExt::V1(ext) = &data.ext else {
        panic!("no archived entries marked: {sim}")
    };
    assert!(ext.archived_soroban_entries.len() >= 2, "{sim}");
    let instance = LedgerKey::ContractData(LedgerKeyContractData {
        contract: contract.clone(),
        key: ScVal::LedgerKeyContractInstance,
        durability: ContractDataDurability::Persistent,
    });
    let rw = data.resources.footprint.read_write.to_vec();
    assert!(ext
        .archived_soroban_entries
        .iter()
        .any(|i| rw.get(*i as usize) == Some(&instance)));
    assert_eq!(n.increment(&contract, &alice), ScVal::U32(2));
    assert!(live_until(&n, &instance) > n.net.latest_ledger());

    // The separate restore still works: archive again, restore the footprint the simulation
    // of a restore reports, then invoke with nothing left to restore.
    n.net.advance_ledgers(40);
    let restore = |data: SorobanTransactionData| {
        let mut t = tx(
            &alice,
            n.seq(&alice) + 1,
            100 + data.resource_fee as u32,
            vec![op(OperationBody::RestoreFootprint(RestoreFootprintOp {
                ext: ExtensionPoint::V0,
            }))],
        );
        t.ext = TransactionExt::V1(data);
        sign(n.network_id, t, &[&alice])
    };
    let footprint = SorobanTransactionData {
        ext: SorobanTransactionDataExt::V0,
        resources: SorobanResources {
            footprint: LedgerFootprint {
                read_only: Default::default(),
                read_write: rw.try_into().unwrap(),
            },
            instructions: 0,
            disk_read_bytes: 0,
            write_bytes: 0,
        },
        resource_fee: 0,
    };
    let sim = rpc_raw(
        &n,
        "simulateTransaction",
        serde_json::json!({"transaction": restore(footprint).to_xdr_base64(Limits::none()).unwrap()}),
    );
    let data = SorobanTransactionData::from_xdr_base64(
        sim["result"]["transactionData"].as_str().unwrap(),
        Limits::none(),
    )
    .unwrap();
    n.block(n.client.send_transaction_polling(&restore(data)))
        .unwrap();
    let draft = n
        .assemble(&alice, Net::increment_fn(&contract, &alice))
        .unwrap();
    let TransactionEnvelope::Tx(v1) = &draft else {
        panic!()
    };
    let TransactionExt::V1(data) = &v1.tx.ext else {
        panic!()
    };
    assert!(
        matches!(&data.ext, SorobanTransactionDataExt::V0),
        "nothing left to restore after the restore"
    );
    assert_eq!(
        n.block(n.client.send_transaction_polling(&draft))
            .unwrap()
            .return_value()
            .unwrap(),
        ScVal::U32(3)
    );
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Keypair::from_seed([70; 32]);
    let contract;
    {
        let n = start_with(Config {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        n.fund(&alice, 1000);
        contract = n.deploy_counter(&alice);
        n.increment(&contract, &alice);
    }
    let n = start_with(Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    assert!(n.net.latest_ledger() > 3);
    assert_eq!(n.increment(&contract, &alice), ScVal::U32(2));
    drop(n);
    // Another passphrase on the same directory is refused with a clear error.
    let err = medimint_devnet::Devnet::start(Config {
        data_dir: Some(dir.path().to_path_buf()),
        passphrase: "Other".into(),
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("use another data directory"),
        "{err}"
    );
}

#[test]
fn ledgers_close_on_a_timer() {
    let n = start_with(Config {
        ledger_ms: 50,
        ..Default::default()
    });
    let first = n.net.latest_ledger();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(n.net.latest_ledger() >= first + 3);
    let k = Keypair::from_seed([80; 32]);
    let (status, _) = http(&n, "GET", &format!("/friendbot?addr={}", k.address()), "");
    assert_eq!(status, 200);
    assert_eq!(n.balance(&k), medimint_devnet::FRIENDBOT_STARTING_BALANCE);
}

#[test]
fn bad_input_gets_the_network_codes_and_the_server_keeps_serving() {
    let n = start();
    let a = Keypair::from_seed([90; 32]);
    let stranger = Keypair::from_seed([91; 32]);
    n.fund(&a, 100);
    let pay = |fee: u32, seq: i64| {
        tx(
            &a,
            seq,
            fee,
            vec![op(OperationBody::Payment(PaymentOp {
                destination: muxed(&n.root()),
                asset: Asset::Native,
                amount: 1,
            }))],
        )
    };
    let seq = n.seq(&a) + 1;
    let healthy = |n: &Net| assert_eq!(n.block(n.client.get_health()).unwrap().status, "healthy");

    // Malformed XDR: a JSON-RPC invalid-params error naming the problem.
    let r = rpc_raw(
        &n,
        "sendTransaction",
        serde_json::json!({"transaction": "bm90IHhkcg=="}),
    );
    assert_eq!(r["error"]["code"], -32602);
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid transaction"));
    let r = rpc_raw(&n, "sendTransaction", serde_json::json!({}));
    assert_eq!(r["error"]["code"], -32602);
    let (status, body) = http(&n, "POST", "/", "{nope");
    assert_eq!(status, 200);
    assert!(body.contains("-32700"));
    let r = rpc_raw(&n, "noSuchMethod", serde_json::json!({}));
    assert_eq!(r["error"]["code"], -32601);
    healthy(&n);

    let code = |env: TransactionEnvelope| {
        let (status, err) = send_raw(&n, &env);
        assert_eq!(status, "ERROR");
        err.unwrap().result
    };
    // Wrong network passphrase: the signature does not verify here.
    let wrong_net = medimint_devnet::keys::network_id("Test SDF Network ; September 2015");
    assert_eq!(
        code(sign(wrong_net, pay(100, seq), &[&a])),
        TransactionResultResult::TxBadAuth
    );
    // Missing and foreign signatures.
    assert_eq!(
        code(sign(n.network_id, pay(100, seq), &[])),
        TransactionResultResult::TxBadAuth
    );
    assert_eq!(
        code(sign(n.network_id, pay(100, seq), &[&stranger])),
        TransactionResultResult::TxBadAuth
    );
    // A needless extra signature.
    assert_eq!(
        code(sign(n.network_id, pay(100, seq), &[&a, &stranger])),
        TransactionResultResult::TxBadAuthExtra
    );
    // Bad sequence, low fee.
    assert_eq!(
        code(sign(n.network_id, pay(100, seq + 5), &[&a])),
        TransactionResultResult::TxBadSeq
    );
    assert_eq!(
        code(sign(n.network_id, pay(99, seq), &[&a])),
        TransactionResultResult::TxInsufficientFee
    );
    // Resources above the network limits.
    let mut t = pay(1_000_000, seq);
    t.operations = vec![op(OperationBody::ExtendFootprintTtl(
        ExtendFootprintTtlOp {
            ext: ExtensionPoint::V0,
            extend_to: 100,
        },
    ))]
    .try_into()
    .unwrap();
    t.ext = TransactionExt::V1(SorobanTransactionData {
        ext: SorobanTransactionDataExt::V0,
        resources: SorobanResources {
            footprint: LedgerFootprint {
                read_only: vec![code_key()].try_into().unwrap(),
                read_write: Default::default(),
            },
            instructions: 500_000_000,
            disk_read_bytes: 0,
            write_bytes: 0,
        },
        resource_fee: 900_000,
    });
    assert_eq!(
        code(sign(n.network_id, t, &[&a])),
        TransactionResultResult::TxSorobanInvalid
    );
    // Nothing above changed the account.
    assert_eq!(n.seq(&a), seq - 1);
    healthy(&n);

    // An unsupported operation: accepted, then failed with opNOT_SUPPORTED; only the fee
    // and the sequence number change.
    let before = n.balance(&a);
    let t = tx(
        &a,
        seq,
        100,
        vec![op(OperationBody::BumpSequence(BumpSequenceOp {
            bump_to: SequenceNumber(seq + 100),
        }))],
    );
    let env = sign(n.network_id, t, &[&a]);
    let (status, _) = send_raw(&n, &env);
    assert_eq!(status, "PENDING");
    let (status, _) = send_raw(&n, &env);
    assert_eq!(status, "DUPLICATE");
    let txs = rpc_raw(
        &n,
        "getTransactions",
        serde_json::json!({"startLedger": 1, "pagination": {"limit": 200}}),
    );
    let last = txs["result"]["transactions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["status"], "FAILED");
    let res = soroban_env_host::xdr::TransactionResult::from_xdr_base64(
        last["resultXdr"].as_str().unwrap(),
        Limits::none(),
    )
    .unwrap();
    let TransactionResultResult::TxFailed(ops) = res.result else {
        panic!()
    };
    assert_eq!(ops[0], OperationResult::OpNotSupported);
    assert_eq!(n.seq(&a), seq);
    assert_eq!(n.balance(&a), before - 100);
    // getTransaction of an unknown hash.
    let r = rpc_raw(
        &n,
        "getTransaction",
        serde_json::json!({"hash": "00".repeat(32)}),
    );
    assert_eq!(r["result"]["status"], "NOT_FOUND");
    let r = rpc_raw(&n, "getTransaction", serde_json::json!({"hash": "xyz"}));
    assert_eq!(r["error"]["code"], -32602);
    // getEvents before the retention window.
    let r = rpc_raw(&n, "getEvents", serde_json::json!({"startLedger": 0}));
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("startLedger must be between"),
        "{r}"
    );
    healthy(&n);
}

/// A devnet that closes ledgers only when the test asks, with `classic_ops` classic
/// operations per ledger, and `k` accounts funded by the root.
fn surge_net(classic_ops: u32, k: &[Keypair]) -> Net {
    let n = start_with(Config {
        ledger_ms: 3_600_000,
        ..Default::default()
    });
    let root = n.root();
    let ops = k
        .iter()
        .map(|k| {
            op(OperationBody::CreateAccount(CreateAccountOp {
                destination: k.account_id(),
                starting_balance: 100 * 10_000_000,
            }))
        })
        .collect();
    let t = tx(&root, n.seq(&root) + 1, 100 * k.len() as u32, ops);
    assert_eq!(send_raw(&n, &sign(n.network_id, t, &[&root])).0, "PENDING");
    n.net.close_ledger();
    n.net
        .set_settings(|s| s.ledger_max_classic_ops = classic_ops);
    n
}

/// A one-operation payment to itself by `k` bidding `fee`, sent raw: (status, hash, error).
fn bid(
    n: &Net,
    k: &Keypair,
    fee: u32,
) -> (
    String,
    String,
    Option<soroban_env_host::xdr::TransactionResult>,
) {
    let t = tx(
        k,
        n.seq(k) + 1,
        fee,
        vec![op(OperationBody::Payment(PaymentOp {
            destination: muxed(k),
            asset: Asset::Native,
            amount: 1,
        }))],
    );
    let env = sign(n.network_id, t, &[k]);
    let r = rpc_raw(
        n,
        "sendTransaction",
        serde_json::json!({"transaction": env.to_xdr_base64(Limits::none()).unwrap()}),
    );
    let err = r["result"]["errorResultXdr"].as_str().map(|x| {
        soroban_env_host::xdr::TransactionResult::from_xdr_base64(x, Limits::none()).unwrap()
    });
    (
        r["result"]["status"].as_str().unwrap().to_string(),
        r["result"]["hash"].as_str().unwrap().to_string(),
        err,
    )
}

#[test]
fn a_full_ledger_orders_by_fee_charges_the_surge_price_and_fee_stats_report_it() {
    let keys: Vec<Keypair> = (60..65).map(|i| Keypair::from_seed([i; 32])).collect();
    // Two operations per ledger: the queue holds four.
    let n = surge_net(2, &keys);
    let (_, low, _) = bid(&n, &keys[0], 100);
    let (_, high, _) = bid(&n, &keys[1], 400);
    let (_, mid, _) = bid(&n, &keys[2], 300);
    let (_, mid2, _) = bid(&n, &keys[3], 350);
    // The queue is full: 100 does not beat the lowest queued bid (100 per operation), so it
    // is refused with the fee it would need (101).
    let (status, _, err) = bid(&n, &keys[4], 100);
    assert_eq!(status, "ERROR");
    let err = err.unwrap();
    assert!(matches!(
        err.result,
        TransactionResultResult::TxInsufficientFee
    ));
    assert_eq!(err.fee_charged, 101);
    n.net.close_ledger();
    let get = |h: &str| {
        let r = rpc_raw(&n, "getTransaction", serde_json::json!({"hash": h}));
        r["result"].clone()
    };
    // 400 and 350 go in (applied in that order) at the surge price 350; 300 waits.
    let (a, b, c) = (get(&high), get(&mid2), get(&mid));
    assert_eq!(
        (a["status"].as_str(), a["applicationOrder"].as_u64()),
        (Some("SUCCESS"), Some(1))
    );
    assert_eq!(
        (b["status"].as_str(), b["applicationOrder"].as_u64()),
        (Some("SUCCESS"), Some(2))
    );
    assert_eq!(c["status"], "NOT_FOUND");
    let fee = |r: &serde_json::Value| {
        soroban_env_host::xdr::TransactionResult::from_xdr_base64(
            r["resultXdr"].as_str().unwrap(),
            Limits::none(),
        )
        .unwrap()
        .fee_charged
    };
    assert_eq!((fee(&a), fee(&b)), (350, 350));
    let stats = rpc_raw(&n, "getFeeStats", serde_json::json!({}))["result"].clone();
    let classic = &stats["inclusionFee"];
    // The window: the funding ledger (one 5-operation transaction at 100 per operation)
    // and the surge ledger (two at 350).
    assert_eq!(classic["transactionCount"], "3");
    assert_eq!(classic["min"], "100");
    assert_eq!(classic["max"], "350");
    assert_eq!(classic["mode"], "350");
    assert_eq!(classic["p10"], "100");
    assert_eq!(classic["p50"], "350");
    assert_eq!(classic["p99"], "350");
    assert_eq!(stats["sorobanInclusionFee"]["transactionCount"], "0");
    assert_eq!(stats["sorobanInclusionFee"]["p50"], "100");
    // The next ledger has room: the base fee.
    n.net.close_ledger();
    assert_eq!(fee(&get(&mid)), 100);
    assert_eq!(fee(&get(&low)), 100);
}
