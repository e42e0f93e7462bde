//! Test doubles at the [`Rpc`] boundary: an in-memory ledger that validates what a real
//! network validates for the relayer's purposes (signatures on auth entries, sequence
//! numbers, fee rates, time bounds, duplicates), and a wrapper that injects faults into any
//! `Rpc`, the fake or a real server.

#![allow(dead_code)]

pub mod deploy;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ed25519_dalek::{Verifier, VerifyingKey};
use medimint_chain::address::{address_string, contract_strkey};
use medimint_chain::auth::auth_payload;
use medimint_chain::rpc::Rpc;
use medimint_chain::tx::{envelope_hash, hex_hash};
use medimint_chain::{Error, Network, Result};
use stellar_rpc_client::{
    GetTransactionEvents, GetTransactionResponse, SendTransactionResponse,
    SimulateHostFunctionResultRaw, SimulateTransactionResponse,
};
use stellar_xdr::*;

/// One transaction the fake ledger applied.
#[derive(Clone, Debug)]
pub struct Applied {
    pub hash: [u8; 32],
    pub fee: i64,
    pub inner_source: [u8; 32],
    pub success: bool,
}

struct State {
    ledger: u32,
    accounts: HashMap<[u8; 32], i64>,
    applied: Vec<Applied>,
    results: HashMap<[u8; 32], GetTransactionResponse>,
    counter: u32,
    nonce: i64,
}

/// An in-memory ledger answering the relayer's RPC calls.
pub struct FakeLedger {
    pub network: Network,
    state: Mutex<State>,
    /// Minimum inclusion fee per operation (counting the fee-bump as one).
    pub min_rate: AtomicU32,
    /// The address whose `require_auth` every contract call records, if any.
    pub require_auth: Mutex<Option<String>>,
    pub resource_fee: i64,
    /// Accounts whose sequence number someone else uses up just before the next send (a
    /// process outside the relayer's leases), once each.
    pub steal_before_send: Mutex<Vec<[u8; 32]>>,
}

fn account_key(id: &AccountId) -> [u8; 32] {
    let AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(k))) = id;
    *k
}

fn muxed_key(m: &MuxedAccount) -> [u8; 32] {
    match m {
        MuxedAccount::Ed25519(Uint256(k)) => *k,
        MuxedAccount::MuxedEd25519(m) => m.ed25519.0,
    }
}

fn tx_result(fee: i64, r: TransactionResultResult) -> TransactionResult {
    TransactionResult {
        fee_charged: fee,
        result: r,
        ext: TransactionResultExt::V0,
    }
}

fn inner_failed(r: InnerTransactionResultResult) -> TransactionResultResult {
    TransactionResultResult::TxFeeBumpInnerFailed(InnerTransactionResultPair {
        transaction_hash: Hash([0; 32]),
        result: InnerTransactionResult {
            fee_charged: 0,
            result: r,
            ext: InnerTransactionResultExt::V0,
        },
    })
}

fn send_response(
    hash: [u8; 32],
    status: &str,
    error: Option<TransactionResult>,
) -> SendTransactionResponse {
    SendTransactionResponse {
        hash: hex_hash(&hash),
        status: status.into(),
        error_result_xdr: error.map(|e| e.to_xdr_base64(Limits::none()).unwrap()),
        latest_ledger: 0,
        latest_ledger_close_time: 0,
    }
}

impl FakeLedger {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            network: Network::new("MediMint fake ledger"),
            state: Mutex::new(State {
                ledger: 100,
                accounts: HashMap::new(),
                applied: vec![],
                results: HashMap::new(),
                counter: 0,
                nonce: 1,
            }),
            min_rate: AtomicU32::new(100),
            require_auth: Mutex::new(None),
            resource_fee: 1_000,
            steal_before_send: Mutex::new(Vec::new()),
        })
    }

    /// Creates an account with sequence number `seq`.
    pub fn fund(&self, public_key: [u8; 32], seq: i64) {
        self.state.lock().unwrap().accounts.insert(public_key, seq);
    }

    /// Uses up an account's next sequence number, as if someone else had sent from it.
    pub fn bump_seq(&self, public_key: [u8; 32]) {
        *self
            .state
            .lock()
            .unwrap()
            .accounts
            .get_mut(&public_key)
            .unwrap() += 1;
    }

    pub fn seq(&self, public_key: [u8; 32]) -> Option<i64> {
        self.state
            .lock()
            .unwrap()
            .accounts
            .get(&public_key)
            .copied()
    }

    pub fn advance_ledgers(&self, n: u32) {
        self.state.lock().unwrap().ledger += n;
    }

    /// Every transaction applied, in order.
    pub fn applied(&self) -> Vec<Applied> {
        self.state.lock().unwrap().applied.clone()
    }

    pub fn counter(&self) -> u32 {
        self.state.lock().unwrap().counter
    }

    fn check_auth(
        &self,
        entries: &[SorobanAuthorizationEntry],
        ledger: u32,
    ) -> std::result::Result<(), String> {
        for e in entries {
            let SorobanCredentials::Address(c) = &e.credentials else {
                continue;
            };
            if c.signature_expiration_ledger < ledger {
                return Err(format!(
                    "auth entry of {} expired at ledger {}",
                    address_string(&c.address),
                    c.signature_expiration_ledger
                ));
            }
            let payload = auth_payload(&self.network, e, c.signature_expiration_ledger).unwrap();
            let ScVal::Vec(Some(v)) = &c.signature else {
                return Err("unsigned auth entry".into());
            };
            let ScVal::Map(Some(m)) = &v[0] else {
                return Err("bad signature shape".into());
            };
            let (ScVal::Bytes(pk), ScVal::Bytes(sig)) = (&m[0].val, &m[1].val) else {
                return Err("bad signature shape".into());
            };
            let ScAddress::Account(acc) = &c.address else {
                return Err("contract auth unsupported".into());
            };
            if pk.as_slice() != account_key(acc) {
                return Err("public key does not match address".into());
            }
            let vk = VerifyingKey::from_bytes(&account_key(acc)).unwrap();
            let sig =
                ed25519_dalek::Signature::from_slice(sig.as_slice()).map_err(|e| e.to_string())?;
            vk.verify(&payload, &sig)
                .map_err(|_| "bad auth signature".to_string())?;
        }
        Ok(())
    }

    fn verify_tx_signature(
        &self,
        hash: &[u8; 32],
        signatures: &[DecoratedSignature],
        key: [u8; 32],
    ) -> bool {
        let vk = VerifyingKey::from_bytes(&key).unwrap();
        signatures.iter().any(|s| {
            ed25519_dalek::Signature::from_slice(&s.signature.0)
                .map(|sig| vk.verify(hash, &sig).is_ok())
                .unwrap_or(false)
        })
    }

    fn success_response(
        &self,
        hash: [u8; 32],
        ledger: u32,
        fee: i64,
        value: Option<ScVal>,
        events: Vec<ContractEvent>,
    ) -> GetTransactionResponse {
        let meta = TransactionMeta::V4(TransactionMetaV4 {
            ext: ExtensionPoint::V0,
            tx_changes_before: LedgerEntryChanges(VecM::default()),
            operations: vec![OperationMetaV2 {
                ext: ExtensionPoint::V0,
                changes: LedgerEntryChanges(VecM::default()),
                events: events.try_into().unwrap(),
            }]
            .try_into()
            .unwrap(),
            tx_changes_after: LedgerEntryChanges(VecM::default()),
            soroban_meta: value.map(|v| SorobanTransactionMetaV2 {
                ext: SorobanTransactionMetaExt::V0,
                return_value: Some(v),
            }),
            events: VecM::default(),
            diagnostic_events: VecM::default(),
        });
        GetTransactionResponse {
            status: "SUCCESS".into(),
            ledger: Some(ledger),
            application_order: Some(1),
            fee_bump: Some(true),
            tx_hash: Some(hex_hash(&hash)),
            created_at: None,
            envelope: None,
            result: Some(tx_result(
                fee,
                TransactionResultResult::TxFeeBumpInnerSuccess(InnerTransactionResultPair {
                    transaction_hash: Hash([0; 32]),
                    result: InnerTransactionResult {
                        fee_charged: fee,
                        result: InnerTransactionResultResult::TxSuccess(VecM::default()),
                        ext: InnerTransactionResultExt::V0,
                    },
                }),
            )),
            result_meta: Some(meta),
            events: GetTransactionEvents {
                contract_events: vec![],
                diagnostic_events: vec![],
                transaction_events: vec![],
            },
        }
    }

    fn apply(&self, envelope: &TransactionEnvelope) -> SendTransactionResponse {
        let hash = envelope_hash(&self.network, envelope).unwrap();
        let mut st = self.state.lock().unwrap();
        if st.results.contains_key(&hash) {
            return send_response(hash, "DUPLICATE", None);
        }
        let TransactionEnvelope::TxFeeBump(fb) = envelope else {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(0, TransactionResultResult::TxMalformed)),
            );
        };
        if !self.verify_tx_signature(&hash, &fb.signatures, muxed_key(&fb.tx.fee_source)) {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(0, TransactionResultResult::TxBadAuth)),
            );
        }
        let FeeBumpTransactionInnerTx::Tx(inner) = &fb.tx.inner_tx;
        let tx = &inner.tx;
        let inner_hash = medimint_chain::tx::tx_hash(&self.network, tx).unwrap();
        let source = muxed_key(&tx.source_account);
        if !self.verify_tx_signature(&inner_hash, &inner.signatures, source) {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(
                    0,
                    inner_failed(InnerTransactionResultResult::TxBadAuth),
                )),
            );
        }
        let resource_fee = match &tx.ext {
            TransactionExt::V1(d) => d.resource_fee,
            TransactionExt::V0 => 0,
        };
        let ops = tx.operations.len() as i64 + 1;
        if fb.tx.fee - resource_fee < ops * i64::from(self.min_rate.load(Ordering::SeqCst)) {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(0, TransactionResultResult::TxInsufficientFee)),
            );
        }
        if let Preconditions::Time(tb) = &tx.cond {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            if tb.max_time.0 != 0 && tb.max_time.0 < now {
                return send_response(
                    hash,
                    "ERROR",
                    Some(tx_result(
                        0,
                        inner_failed(InnerTransactionResultResult::TxTooLate),
                    )),
                );
            }
        }
        for k in std::mem::take(&mut *self.steal_before_send.lock().unwrap()) {
            if let Some(seq) = st.accounts.get_mut(&k) {
                *seq += 1;
            }
        }
        let Some(current) = st.accounts.get(&source).copied() else {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(
                    0,
                    inner_failed(InnerTransactionResultResult::TxNoAccount),
                )),
            );
        };
        if tx.seq_num.0 != current + 1 {
            return send_response(
                hash,
                "ERROR",
                Some(tx_result(
                    0,
                    inner_failed(InnerTransactionResultResult::TxBadSeq),
                )),
            );
        }
        // Accepted: it applies in the next ledger (immediately here).
        st.accounts.insert(source, current + 1);
        st.ledger += 1;
        let ledger = st.ledger;
        let fee = fb.tx.fee;
        let mut success = true;
        let mut value = None;
        let mut events = vec![];
        let mut failure = None;
        for op in tx.operations.iter() {
            match &op.body {
                OperationBody::InvokeHostFunction(f) => {
                    if let Err(reason) = self.check_auth(&f.auth, ledger) {
                        failure = Some(reason);
                        success = false;
                        break;
                    }
                    st.counter += 1;
                    value = Some(ScVal::U32(st.counter));
                    events.push(ContractEvent {
                        ext: ExtensionPoint::V0,
                        contract_id: Some(ContractId(Hash([1; 32]))),
                        type_: ContractEventType::Contract,
                        body: ContractEventBody::V0(ContractEventV0 {
                            topics: vec![ScVal::Symbol(ScSymbol(
                                "incremented".try_into().unwrap(),
                            ))]
                            .try_into()
                            .unwrap(),
                            data: ScVal::U32(st.counter),
                        }),
                    });
                }
                OperationBody::CreateAccount(c) => {
                    let k = account_key(&c.destination);
                    if st.accounts.contains_key(&k) {
                        success = false;
                        failure = Some("account exists".into());
                        break;
                    }
                    st.accounts.insert(k, i64::from(ledger) << 32);
                }
                _ => {}
            }
        }
        st.applied.push(Applied {
            hash,
            fee,
            inner_source: source,
            success,
        });
        let response = if success {
            value.get_or_insert(ScVal::Void);
            self.success_response(
                hash,
                ledger,
                fee,
                value.filter(|_| resource_fee > 0),
                events,
            )
        } else {
            let _ = failure;
            GetTransactionResponse {
                status: "FAILED".into(),
                ledger: Some(ledger),
                application_order: Some(1),
                fee_bump: Some(true),
                tx_hash: Some(hex_hash(&hash)),
                created_at: None,
                envelope: None,
                result: Some(tx_result(
                    fee,
                    inner_failed(InnerTransactionResultResult::TxFailed(
                        vec![OperationResult::OpInner(
                            OperationResultTr::InvokeHostFunction(
                                InvokeHostFunctionResult::Trapped,
                            ),
                        )]
                        .try_into()
                        .unwrap(),
                    )),
                )),
                result_meta: None,
                events: GetTransactionEvents {
                    contract_events: vec![],
                    diagnostic_events: vec![],
                    transaction_events: vec![],
                },
            }
        };
        st.results.insert(hash, response);
        send_response(hash, "PENDING", None)
    }
}

#[async_trait]
impl Rpc for FakeLedger {
    async fn network_passphrase(&self) -> Result<String> {
        Ok(self.network.passphrase().to_string())
    }

    async fn latest_ledger(&self) -> Result<u32> {
        Ok(self.state.lock().unwrap().ledger)
    }

    async fn account_sequence(&self, address: &str) -> Result<Option<i64>> {
        let k = medimint_chain::address::account_public_key(address)?;
        Ok(self.seq(k))
    }

    async fn simulate(&self, tx: &TransactionEnvelope) -> Result<SimulateTransactionResponse> {
        let TransactionEnvelope::Tx(e) = tx else {
            return Err(Error::Rpc("simulate wants a V1 envelope".into()));
        };
        let OperationBody::InvokeHostFunction(op) = &e.tx.operations[0].body else {
            return Err(Error::Rpc("not a host function".into()));
        };
        let mut st = self.state.lock().unwrap();
        let ledger = st.ledger;
        let mut response = SimulateTransactionResponse {
            min_resource_fee: self.resource_fee as u64,
            latest_ledger: ledger,
            ..Default::default()
        };
        let auth = if op.auth.is_empty() {
            // Recording mode: say whose auth the call needs.
            match &*self.require_auth.lock().unwrap() {
                Some(addr) => {
                    st.nonce += 1;
                    let HostFunction::InvokeContract(args) = &op.host_function else {
                        return Err(Error::Rpc("only invocations".into()));
                    };
                    vec![SorobanAuthorizationEntry {
                        credentials: SorobanCredentials::Address(SorobanAddressCredentials {
                            address: medimint_chain::address::sc_address(addr)?,
                            nonce: st.nonce,
                            signature_expiration_ledger: 0,
                            signature: ScVal::Void,
                        }),
                        root_invocation: SorobanAuthorizedInvocation {
                            function: SorobanAuthorizedFunction::ContractFn(args.clone()),
                            sub_invocations: VecM::default(),
                        },
                    }
                    .to_xdr_base64(Limits::none())
                    .unwrap()]
                }
                None => vec![],
            }
        } else {
            if let Err(reason) = self.check_auth(&op.auth, ledger) {
                response.error = Some(reason);
                return Ok(response);
            }
            vec![]
        };
        response.results = vec![SimulateHostFunctionResultRaw {
            auth,
            xdr: ScVal::U32(st.counter + 1)
                .to_xdr_base64(Limits::none())
                .unwrap(),
        }];
        response.transaction_data = SorobanTransactionData {
            ext: SorobanTransactionDataExt::V0,
            resources: SorobanResources {
                footprint: LedgerFootprint {
                    read_only: VecM::default(),
                    read_write: VecM::default(),
                },
                instructions: 1_000,
                disk_read_bytes: 0,
                write_bytes: 0,
            },
            resource_fee: self.resource_fee,
        }
        .to_xdr_base64(Limits::none())
        .unwrap();
        Ok(response)
    }

    async fn send(&self, tx: &TransactionEnvelope) -> Result<SendTransactionResponse> {
        Ok(self.apply(tx))
    }

    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse> {
        let st = self.state.lock().unwrap();
        Ok(st
            .results
            .get(hash)
            .cloned()
            .unwrap_or_else(|| GetTransactionResponse {
                status: "NOT_FOUND".into(),
                ledger: None,
                application_order: None,
                fee_bump: None,
                tx_hash: None,
                created_at: None,
                envelope: None,
                result: None,
                result_meta: None,
                events: GetTransactionEvents {
                    contract_events: vec![],
                    diagnostic_events: vec![],
                    transaction_events: vec![],
                },
            }))
    }
}

/// A fault to inject into the next `sendTransaction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The server applies it but the answer is lost (a timeout after the send).
    LostAnswer,
    /// The request never reaches the server (a timeout, nothing applied).
    LostRequest,
    /// The server answers TRY_AGAIN_LATER without taking it.
    TryAgainLater,
    /// The server applies it, the answer is lost, and the server goes down.
    LostAnswerThenDown,
}

/// Wraps an [`Rpc`] and injects faults.
pub struct Faulty {
    pub inner: Arc<dyn Rpc>,
    pub send_faults: Mutex<VecDeque<Fault>>,
    /// While set, every call fails as if the server were down.
    pub down: AtomicBool,
    pub sends: AtomicU32,
    /// How many sends the server answered TRY_AGAIN_LATER (not counting injected ones).
    pub busy: AtomicU32,
    /// Added to every send, so that concurrent requests overlap.
    pub latency: Mutex<std::time::Duration>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn Rpc>, faults: &[Fault]) -> Arc<Self> {
        Arc::new(Self {
            inner,
            send_faults: Mutex::new(faults.iter().copied().collect()),
            down: AtomicBool::new(false),
            sends: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            latency: Mutex::new(std::time::Duration::ZERO),
        })
    }

    fn check_up(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::RpcUnavailable(
                "connection refused (injected)".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Rpc for Faulty {
    async fn network_passphrase(&self) -> Result<String> {
        self.check_up()?;
        self.inner.network_passphrase().await
    }
    async fn latest_ledger(&self) -> Result<u32> {
        self.check_up()?;
        self.inner.latest_ledger().await
    }
    async fn account_sequence(&self, address: &str) -> Result<Option<i64>> {
        self.check_up()?;
        self.inner.account_sequence(address).await
    }
    async fn classic_inclusion_fee(&self) -> Result<Option<u32>> {
        self.check_up()?;
        self.inner.classic_inclusion_fee().await
    }
    async fn simulate(&self, tx: &TransactionEnvelope) -> Result<SimulateTransactionResponse> {
        self.check_up()?;
        self.inner.simulate(tx).await
    }
    async fn send(&self, tx: &TransactionEnvelope) -> Result<SendTransactionResponse> {
        self.check_up()?;
        self.sends.fetch_add(1, Ordering::SeqCst);
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fault = self.send_faults.lock().unwrap().pop_front();
        match fault {
            Some(Fault::LostAnswer) => {
                self.inner.send(tx).await?;
                Err(Error::RpcUnavailable(
                    "timed out (injected, after the send)".into(),
                ))
            }
            Some(Fault::LostAnswerThenDown) => {
                self.inner.send(tx).await?;
                self.down.store(true, Ordering::SeqCst);
                Err(Error::RpcUnavailable(
                    "timed out (injected, after the send)".into(),
                ))
            }
            Some(Fault::LostRequest) => Err(Error::RpcUnavailable(
                "timed out (injected, before the send)".into(),
            )),
            Some(Fault::TryAgainLater) => Ok(SendTransactionResponse {
                hash: String::new(),
                status: "TRY_AGAIN_LATER".into(),
                error_result_xdr: None,
                latest_ledger: 0,
                latest_ledger_close_time: 0,
            }),
            None => {
                let r = self.inner.send(tx).await?;
                if r.status == "TRY_AGAIN_LATER" {
                    self.busy.fetch_add(1, Ordering::SeqCst);
                }
                Ok(r)
            }
        }
    }
    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse> {
        self.check_up()?;
        self.inner.transaction(hash).await
    }
}

/// A contract id for the fake ledger's "counter".
pub fn fake_contract() -> String {
    contract_strkey(&[1; 32])
}

/// The signing key of an `S…` secret (e.g. the devnet's root account).
pub fn secret_key(secret: &str) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(
        &stellar_strkey::ed25519::PrivateKey::from_string(secret)
            .unwrap()
            .0,
    )
}

/// Runs `f` on a two-worker runtime, as the machine has two cores.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
