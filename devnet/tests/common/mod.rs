//! Helpers for the devnet's tests: a devnet with an RPC client, signing, funding, and the
//! fixture contract.
#![allow(dead_code)]
// The client's own error type is large; these helpers only pass it through.
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::path::PathBuf;

use medimint_devnet::{Config, Devnet, Keypair, NetworkSettings};
use soroban_env_host::xdr::{
    ContractExecutable, ContractId, ContractIdPreimage, ContractIdPreimageFromAddress,
    CreateAccountOp, CreateContractArgsV2, DecoratedSignature, Hash, HashIdPreimage,
    HashIdPreimageContractId, HostFunction, InvokeContractArgs, InvokeHostFunctionOp, LedgerKey,
    LedgerKeyAccount, Limits, Memo, MuxedAccount, Operation, OperationBody, Preconditions, ReadXdr,
    ScAddress, ScSymbol, ScVal, SequenceNumber, Signature, SignatureHint, Transaction,
    TransactionEnvelope, TransactionExt, TransactionResult, TransactionSignaturePayload,
    TransactionSignaturePayloadTaggedTransaction, TransactionV1Envelope, Uint256, WriteXdr,
};
use stellar_rpc_client::Client;

pub const BASE_FEE: u32 = 100;

/// A devnet, a Stellar RPC client on it, and a runtime to drive the client.
pub struct Net {
    pub net: Devnet,
    pub client: Client,
    pub rt: tokio::runtime::Runtime,
    pub network_id: [u8; 32],
}

pub fn start() -> Net {
    start_with(Config::default())
}

pub fn start_with(config: Config) -> Net {
    let passphrase = config.passphrase.clone();
    let net = Devnet::start(config).expect("devnet starts");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(&net.rpc_url()).expect("client");
    Net {
        net,
        client,
        rt,
        network_id: medimint_devnet::keys::network_id(&passphrase),
    }
}

/// Settings with short TTLs so archival can be tested in a few ledgers.
pub fn short_ttl_settings() -> NetworkSettings {
    NetworkSettings {
        min_persistent_entry_ttl: 20,
        min_temp_entry_ttl: 16,
        max_entry_ttl: 1000,
        ..Default::default()
    }
}

/// The counter fixture. Fails (never skips) when it has not been built.
pub fn counter_wasm() -> Vec<u8> {
    let dir = std::env::var_os("MEDIMINT_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/contracts"));
    counter_wasm_in(&dir)
}

/// The counter fixture from `dir`; panics with the command that builds it.
pub fn counter_wasm_in(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("medimint-devnet-counter.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}. Build the fixture first: scripts/build-contracts medimint-devnet-counter",
            path.display()
        )
    })
}

pub fn muxed(k: &Keypair) -> MuxedAccount {
    MuxedAccount::Ed25519(Uint256(k.public_key()))
}

pub fn account_key(k: &Keypair) -> LedgerKey {
    LedgerKey::Account(LedgerKeyAccount {
        account_id: k.account_id(),
    })
}

pub fn tx_hash(network_id: [u8; 32], tx: &Transaction) -> [u8; 32] {
    let p = TransactionSignaturePayload {
        network_id: Hash(network_id),
        tagged_transaction: TransactionSignaturePayloadTaggedTransaction::Tx(tx.clone()),
    };
    medimint_devnet::keys::sha256(&p.to_xdr(Limits::none()).unwrap())
}

pub fn decorated(k: &Keypair, hash: &[u8; 32]) -> DecoratedSignature {
    let pk = k.public_key();
    DecoratedSignature {
        hint: SignatureHint([pk[28], pk[29], pk[30], pk[31]]),
        signature: Signature(k.sign(hash).to_vec().try_into().unwrap()),
    }
}

pub fn sign(network_id: [u8; 32], tx: Transaction, signers: &[&Keypair]) -> TransactionEnvelope {
    let h = tx_hash(network_id, &tx);
    let sigs: Vec<_> = signers.iter().map(|k| decorated(k, &h)).collect();
    TransactionEnvelope::Tx(TransactionV1Envelope {
        tx,
        signatures: sigs.try_into().unwrap(),
    })
}

pub fn tx(source: &Keypair, seq: i64, fee: u32, ops: Vec<Operation>) -> Transaction {
    Transaction {
        source_account: muxed(source),
        fee,
        seq_num: SequenceNumber(seq),
        cond: Preconditions::None,
        memo: Memo::None,
        operations: ops.try_into().unwrap(),
        ext: TransactionExt::V0,
    }
}

pub fn op(body: OperationBody) -> Operation {
    Operation {
        source_account: None,
        body,
    }
}

pub fn op_from(source: &Keypair, body: OperationBody) -> Operation {
    Operation {
        source_account: Some(muxed(source)),
        body,
    }
}

/// Raw JSON-RPC call, for shapes and errors the client hides.
pub fn rpc_raw(net: &Net, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
        .to_string();
    let resp = http(net, "POST", "/", &body);
    serde_json::from_str(&resp.1).unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.1))
}

/// A plain HTTP/1.1 request; returns (status, body).
pub fn http(net: &Net, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(net.net.addr()).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Sends through raw JSON-RPC and returns (status, decoded errorResultXdr).
pub fn send_raw(net: &Net, env: &TransactionEnvelope) -> (String, Option<TransactionResult>) {
    let r = rpc_raw(
        net,
        "sendTransaction",
        serde_json::json!({"transaction": env.to_xdr_base64(Limits::none()).unwrap()}),
    );
    let status = r["result"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status: {r}"))
        .to_string();
    let err = r["result"]["errorResultXdr"]
        .as_str()
        .map(|x| TransactionResult::from_xdr_base64(x, Limits::none()).unwrap());
    (status, err)
}

impl Net {
    pub fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn root(&self) -> Keypair {
        self.net.root_keypair()
    }

    pub fn seq(&self, k: &Keypair) -> i64 {
        self.block(self.client.get_account(&k.address()))
            .expect("account exists")
            .seq_num
            .0
    }

    pub fn balance(&self, k: &Keypair) -> i64 {
        self.block(self.client.get_account(&k.address()))
            .expect("account exists")
            .balance
    }

    /// Creates `k` with `xlm` lumens from the root account.
    pub fn fund(&self, k: &Keypair, xlm: i64) {
        let root = self.root();
        let t = tx(
            &root,
            self.seq(&root) + 1,
            BASE_FEE,
            vec![op(OperationBody::CreateAccount(CreateAccountOp {
                destination: k.account_id(),
                starting_balance: xlm * 10_000_000,
            }))],
        );
        let r = self.block(self.client.send_transaction_polling(&sign(
            self.network_id,
            t,
            &[&root],
        )));
        r.expect("funding succeeds");
    }

    /// Creates every account of `keys` with `xlm` lumens, in one transaction per 100.
    pub fn fund_many(&self, keys: &[Keypair], xlm: i64) {
        let root = self.root();
        for chunk in keys.chunks(100) {
            let ops = chunk
                .iter()
                .map(|k| {
                    op(OperationBody::CreateAccount(CreateAccountOp {
                        destination: k.account_id(),
                        starting_balance: xlm * 10_000_000,
                    }))
                })
                .collect();
            let fee = BASE_FEE * chunk.len() as u32;
            let t = tx(&root, self.seq(&root) + 1, fee, ops);
            self.block(
                self.client
                    .send_transaction_polling(&sign(self.network_id, t, &[&root])),
            )
            .expect("funding succeeds");
        }
    }

    /// Simulates, assembles, signs and sends a host function call from `source`.
    pub fn invoke(
        &self,
        source: &Keypair,
        host_function: HostFunction,
    ) -> Result<stellar_rpc_client::GetTransactionResponse, stellar_rpc_client::Error> {
        let env = self.assemble(source, host_function)?;
        self.block(self.client.send_transaction_polling(&env))
    }

    /// Simulates and assembles a signed invocation envelope.
    pub fn assemble(
        &self,
        source: &Keypair,
        host_function: HostFunction,
    ) -> Result<TransactionEnvelope, stellar_rpc_client::Error> {
        let seq = self.seq(source) + 1;
        let body = OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
            host_function: host_function.clone(),
            auth: Default::default(),
        });
        let draft = sign(
            self.network_id,
            tx(source, seq, BASE_FEE, vec![op(body)]),
            &[source],
        );
        let sim = self.block(self.client.simulate_transaction_envelope(&draft, None))?;
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
            vec![op(OperationBody::InvokeHostFunction(
                InvokeHostFunctionOp {
                    host_function,
                    auth: auth.try_into().unwrap(),
                },
            ))],
        );
        t.ext = TransactionExt::V1(data);
        Ok(sign(self.network_id, t, &[source]))
    }

    /// Uploads the counter and deploys it from `source`; returns the contract address.
    pub fn deploy_counter(&self, source: &Keypair) -> ScAddress {
        let wasm = counter_wasm();
        let hash = medimint_devnet::keys::sha256(&wasm);
        let up = self
            .invoke(
                source,
                HostFunction::UploadContractWasm(wasm.try_into().unwrap()),
            )
            .expect("upload succeeds");
        assert_eq!(
            up.return_value().unwrap(),
            ScVal::Bytes(hash.to_vec().try_into().unwrap())
        );
        let created = self
            .invoke(
                source,
                HostFunction::CreateContractV2(CreateContractArgsV2 {
                    contract_id_preimage: ContractIdPreimage::Address(
                        ContractIdPreimageFromAddress {
                            address: ScAddress::Account(source.account_id()),
                            salt: Uint256([1; 32]),
                        },
                    ),
                    executable: ContractExecutable::Wasm(Hash(hash)),
                    constructor_args: Default::default(),
                }),
            )
            .expect("deploy succeeds");
        let ScVal::Address(addr) = created.return_value().unwrap() else {
            panic!("deploy returns an address")
        };
        // The id is the one the network derives from the deployer and salt.
        let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
            network_id: Hash(self.network_id),
            contract_id_preimage: ContractIdPreimage::Address(ContractIdPreimageFromAddress {
                address: ScAddress::Account(source.account_id()),
                salt: Uint256([1; 32]),
            }),
        });
        let expected = medimint_devnet::keys::sha256(&preimage.to_xdr(Limits::none()).unwrap());
        assert_eq!(addr, ScAddress::Contract(ContractId(Hash(expected))));
        addr
    }

    /// `by` increments its counter on `contract`; returns the new count.
    pub fn increment(&self, contract: &ScAddress, by: &Keypair) -> ScVal {
        self.invoke(by, Self::increment_fn(contract, by))
            .expect("increment succeeds")
            .return_value()
            .expect("increment returns the count")
    }

    pub fn increment_fn(contract: &ScAddress, by: &Keypair) -> HostFunction {
        HostFunction::InvokeContract(InvokeContractArgs {
            contract_address: contract.clone(),
            function_name: ScSymbol("increment".try_into().unwrap()),
            args: vec![ScVal::Address(ScAddress::Account(by.account_id()))]
                .try_into()
                .unwrap(),
        })
    }
}

/// Signs an address-credential authorization entry for `signer`, valid until `expiration`.
pub fn sign_auth(
    network_id: [u8; 32],
    entry: soroban_env_host::xdr::SorobanAuthorizationEntry,
    signer: &Keypair,
    expiration: u32,
) -> soroban_env_host::xdr::SorobanAuthorizationEntry {
    use soroban_env_host::xdr::{
        HashIdPreimageSorobanAuthorization, ScMap, ScMapEntry, ScVec, SorobanCredentials,
    };
    let SorobanCredentials::Address(mut c) = entry.credentials.clone() else {
        return entry;
    };
    c.signature_expiration_ledger = expiration;
    let preimage = HashIdPreimage::SorobanAuthorization(HashIdPreimageSorobanAuthorization {
        network_id: Hash(network_id),
        nonce: c.nonce,
        signature_expiration_ledger: expiration,
        invocation: entry.root_invocation.clone(),
    });
    let payload = medimint_devnet::keys::sha256(&preimage.to_xdr(Limits::none()).unwrap());
    let sig = signer.sign(&payload);
    let sym = |s: &str| ScVal::Symbol(ScSymbol(s.try_into().unwrap()));
    c.signature = ScVal::Vec(Some(ScVec(
        vec![ScVal::Map(Some(ScMap(
            vec![
                ScMapEntry {
                    key: sym("public_key"),
                    val: ScVal::Bytes(signer.public_key().to_vec().try_into().unwrap()),
                },
                ScMapEntry {
                    key: sym("signature"),
                    val: ScVal::Bytes(sig.to_vec().try_into().unwrap()),
                },
            ]
            .try_into()
            .unwrap(),
        )))]
        .try_into()
        .unwrap(),
    )));
    soroban_env_host::xdr::SorobanAuthorizationEntry {
        credentials: SorobanCredentials::Address(c),
        root_invocation: entry.root_invocation,
    }
}

impl Net {
    /// Simulates `draft` (whose operation carries `auth`, or none to record it) and returns
    /// the assembled, signed envelope with `seq` and the simulation's resources.
    pub fn assemble_with(
        &self,
        source: &Keypair,
        seq: i64,
        host_function: HostFunction,
        auth: Vec<soroban_env_host::xdr::SorobanAuthorizationEntry>,
    ) -> TransactionEnvelope {
        let body = |auth: Vec<_>| {
            OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
                host_function: host_function.clone(),
                auth: auth.try_into().unwrap(),
            })
        };
        let draft = sign(
            self.network_id,
            tx(source, seq, BASE_FEE, vec![op(body(auth.clone()))]),
            &[source],
        );
        let sim = self
            .block(self.client.simulate_transaction_envelope(&draft, None))
            .unwrap();
        assert!(sim.error.is_none(), "{:?}", sim.error);
        let data = sim.transaction_data().unwrap();
        let mut t = tx(
            source,
            seq,
            BASE_FEE + data.resource_fee as u32,
            vec![op(body(auth))],
        );
        t.ext = TransactionExt::V1(data);
        sign(self.network_id, t, &[source])
    }
}
