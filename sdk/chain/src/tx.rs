//! Building, assembling, hashing and signing transactions. Pure functions: nothing here
//! talks to the network, so every step can be tested on its own.

use sha2::{Digest, Sha256};
use stellar_rpc_client::SimulateTransactionResponse;
use stellar_xdr::{
    BeginSponsoringFutureReservesOp, BytesM, ContractExecutable, ContractIdPreimage,
    ContractIdPreimageFromAddress, CreateAccountOp, CreateContractArgsV2, DecoratedSignature,
    FeeBumpTransaction, FeeBumpTransactionEnvelope, FeeBumpTransactionExt,
    FeeBumpTransactionInnerTx, Hash, HashIdPreimage, HashIdPreimageContractId, HostFunction,
    InvokeContractArgs, InvokeHostFunctionOp, Limits, Memo, MuxedAccount, Operation, OperationBody,
    Preconditions, ReadXdr, ScVal, SequenceNumber, Signature, SignatureHint,
    SorobanAuthorizationEntry, SorobanTransactionData, TimeBounds, TimePoint, Transaction,
    TransactionEnvelope, TransactionExt, TransactionSignaturePayload,
    TransactionSignaturePayloadTaggedTransaction, TransactionV1Envelope, Uint256, VecM, WriteXdr,
};

use crate::address::{account_public_key, contract_strkey, sc_address};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::signer::{account_id, muxed_account, Signer};

/// The minimum inclusion fee per operation, in stroops (the network's base fee).
pub const BASE_FEE: u32 = 100;

/// A call of a contract function.
///
/// # Errors
/// [`Error::InvalidAddress`] for a bad contract id, [`Error::InvalidArgument`] for a function
/// name that is not a valid Soroban symbol or too many arguments.
pub fn invoke_contract(contract: &str, function: &str, args: Vec<ScVal>) -> Result<HostFunction> {
    let contract_address = sc_address(contract)?;
    let function_name = crate::scval::symbol(function)?;
    let args = args
        .try_into()
        .map_err(|_| Error::InvalidArgument("too many arguments".into()))?;
    Ok(HostFunction::InvokeContract(InvokeContractArgs {
        contract_address,
        function_name,
        args,
    }))
}

/// An upload of contract code.
///
/// # Errors
/// [`Error::InvalidArgument`] for empty code.
pub fn upload_wasm(wasm: &[u8]) -> Result<HostFunction> {
    if wasm.is_empty() {
        return Err(Error::InvalidArgument("the wasm to upload is empty".into()));
    }
    let bytes: BytesM = wasm
        .to_vec()
        .try_into()
        .map_err(|_| Error::InvalidArgument("the wasm is too large".into()))?;
    Ok(HostFunction::UploadContractWasm(bytes))
}

/// The hash under which uploaded code is stored.
pub fn wasm_hash(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

/// A deterministic salt from a label (e.g. `b"medimint/study-token/v1"`), so that a
/// deployment can be repeated and its contract id known in advance.
pub fn salt(label: &[u8]) -> [u8; 32] {
    Sha256::digest(label).into()
}

/// A contract creation from uploaded code, with constructor arguments.
///
/// # Errors
/// [`Error::InvalidAddress`] for a bad deployer address.
pub fn create_contract(
    deployer: &str,
    wasm_hash: [u8; 32],
    salt: [u8; 32],
    constructor_args: Vec<ScVal>,
) -> Result<HostFunction> {
    Ok(HostFunction::CreateContractV2(CreateContractArgsV2 {
        contract_id_preimage: ContractIdPreimage::Address(ContractIdPreimageFromAddress {
            address: sc_address(deployer)?,
            salt: Uint256(salt),
        }),
        executable: ContractExecutable::Wasm(Hash(wasm_hash)),
        constructor_args: constructor_args
            .try_into()
            .map_err(|_| Error::InvalidArgument("too many constructor arguments".into()))?,
    }))
}

/// The `C…` id a contract created by `deployer` with `salt` will have on `network`.
///
/// # Errors
/// [`Error::InvalidAddress`] for a bad deployer address.
pub fn contract_address(network: &Network, deployer: &str, salt: [u8; 32]) -> Result<String> {
    let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: network.id(),
        contract_id_preimage: ContractIdPreimage::Address(ContractIdPreimageFromAddress {
            address: sc_address(deployer)?,
            salt: Uint256(salt),
        }),
    });
    Ok(contract_strkey(&sha256_xdr(&preimage)?))
}

/// SHA-256 of the XDR encoding of a value.
pub(crate) fn sha256_xdr(value: &impl WriteXdr) -> Result<[u8; 32]> {
    Ok(Sha256::digest(value.to_xdr(Limits::none())?).into())
}

/// The fields every transaction built here shares.
#[derive(Clone, Debug)]
pub struct TxHeader {
    /// The source account's public key: it pays (unless fee-bumped) and provides `seq`.
    pub source: [u8; 32],
    /// The sequence number to use: the account's current sequence plus one.
    pub seq: i64,
    /// Unix time after which the transaction can no longer be included, so that a
    /// transaction whose outcome is unknown is known not to land once this time passed.
    pub max_time: Option<u64>,
}

fn tx_with(header: &TxHeader, fee: u32, operations: Vec<Operation>) -> Result<Transaction> {
    let cond = match header.max_time {
        Some(max) => Preconditions::Time(TimeBounds {
            min_time: TimePoint(0),
            max_time: TimePoint(max),
        }),
        None => Preconditions::None,
    };
    Ok(Transaction {
        source_account: MuxedAccount::Ed25519(Uint256(header.source)),
        fee,
        seq_num: SequenceNumber(header.seq),
        cond,
        memo: Memo::None,
        operations: operations
            .try_into()
            .map_err(|_| Error::InvalidArgument("more than 100 operations".into()))?,
        ext: TransactionExt::V0,
    })
}

/// An unassembled Soroban transaction: one host function, no resources yet. Simulate it,
/// then [`assemble`] it.
///
/// # Errors
/// Only if the header is unusable.
pub fn invocation_tx(header: &TxHeader, function: HostFunction) -> Result<Transaction> {
    let op = Operation {
        source_account: None,
        body: OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
            host_function: function,
            auth: VecM::default(),
        }),
    };
    tx_with(header, BASE_FEE, vec![op])
}

/// The three operations of CAP-0033 that create `new_account` with reserves sponsored by
/// `sponsor` and no balance of its own. Needs the signatures of the transaction source, the
/// sponsor and the new account.
///
/// # Errors
/// Only if the header is unusable.
pub fn sponsored_account_tx(
    header: &TxHeader,
    sponsor: &dyn Signer,
    new_account: &dyn Signer,
) -> Result<Transaction> {
    let ops = vec![
        Operation {
            source_account: Some(muxed_account(sponsor)),
            body: OperationBody::BeginSponsoringFutureReserves(BeginSponsoringFutureReservesOp {
                sponsored_id: account_id(new_account),
            }),
        },
        Operation {
            source_account: Some(muxed_account(sponsor)),
            body: OperationBody::CreateAccount(CreateAccountOp {
                destination: account_id(new_account),
                starting_balance: 0,
            }),
        },
        Operation {
            source_account: Some(muxed_account(new_account)),
            body: OperationBody::EndSponsoringFutureReserves,
        },
    ];
    tx_with(header, BASE_FEE * 3, ops)
}

/// A plain funded account creation (`starting_balance` in stroops), paid by the source.
/// Used for operational accounts (channels, sponsor), never for users.
///
/// # Errors
/// [`Error::InvalidAddress`] for a bad destination.
pub fn create_account_tx(
    header: &TxHeader,
    destination: &str,
    starting_balance: i64,
) -> Result<Transaction> {
    let pk = account_public_key(destination)?;
    let op = Operation {
        source_account: None,
        body: OperationBody::CreateAccount(CreateAccountOp {
            destination: stellar_xdr::AccountId(stellar_xdr::PublicKey::PublicKeyTypeEd25519(
                Uint256(pk),
            )),
            starting_balance,
        }),
    };
    tx_with(header, BASE_FEE, vec![op])
}

/// What a simulation gave us, decoded.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// The function's return value as simulated.
    pub return_value: Option<ScVal>,
    /// Authorization entries the call needs (unsigned when recorded).
    pub auth: Vec<SorobanAuthorizationEntry>,
    /// Footprint and resources.
    pub transaction_data: SorobanTransactionData,
    /// The minimum resource fee, in stroops.
    pub min_resource_fee: i64,
    /// The ledger the simulation ran against.
    pub latest_ledger: u32,
}

impl Simulated {
    /// Decodes an RPC simulation response.
    ///
    /// # Errors
    /// [`Error::Simulation`] if the simulation reported an error or asks for a separate
    /// restore. Archived entries are otherwise restored by the transaction itself (protocol
    /// 23): the simulation marks them in the transaction data, which [`assemble`] keeps, and the
    /// resource fee pays for them. A separate restore (the RPC's `restorePreamble`) is only asked
    /// for when restoring within the invocation would exceed the per-transaction limits.
    pub fn from_response(response: &SimulateTransactionResponse) -> Result<Self> {
        if let Some(error) = &response.error {
            return Err(Error::Simulation(error.clone()));
        }
        if response.restore_preamble.is_some() {
            return Err(Error::Simulation(
                "archived ledger entries must be restored first: restoring them within this \
                 transaction would exceed the network's per-transaction limits; restore them with \
                 a RestoreFootprint transaction (`stellar contract restore`) and try again"
                    .into(),
            ));
        }
        let results = response
            .results()
            .map_err(|e| Error::Simulation(format!("unreadable results: {e}")))?;
        let first = results.into_iter().next();
        let transaction_data = SorobanTransactionData::from_xdr_base64(
            &response.transaction_data,
            Limits::depth(500),
        )?;
        Ok(Self {
            return_value: first.as_ref().map(|r| r.xdr.clone()),
            auth: first.map(|r| r.auth).unwrap_or_default(),
            transaction_data,
            min_resource_fee: i64::try_from(response.min_resource_fee)
                .map_err(|_| Error::Simulation("resource fee out of range".into()))?,
            latest_ledger: response.latest_ledger,
        })
    }
}

/// Puts a simulation's resources and auth entries into the transaction and sets its fee to
/// `resource fee + inclusion_fee`. `auth` replaces the operation's entries when given (pass
/// the signed entries), otherwise the simulated ones are used.
///
/// # Errors
/// [`Error::InvalidArgument`] if `tx` is not a single InvokeHostFunction or the fee overflows.
pub fn assemble(
    mut tx: Transaction,
    simulated: &Simulated,
    auth: Option<Vec<SorobanAuthorizationEntry>>,
    inclusion_fee: u32,
) -> Result<Transaction> {
    let mut ops = tx.operations.to_vec();
    let [Operation {
        body: OperationBody::InvokeHostFunction(op),
        ..
    }] = ops.as_mut_slice()
    else {
        return Err(Error::InvalidArgument(
            "only a transaction with one InvokeHostFunction operation can be assembled".into(),
        ));
    };
    let entries = auth.unwrap_or_else(|| simulated.auth.clone());
    op.auth = entries
        .try_into()
        .map_err(|_| Error::InvalidArgument("too many auth entries".into()))?;
    tx.operations = ops.try_into().expect("one operation fits");
    let fee = simulated
        .transaction_data
        .resource_fee
        .checked_add(i64::from(inclusion_fee))
        .and_then(|f| u32::try_from(f).ok())
        .ok_or_else(|| Error::InvalidArgument("transaction fee exceeds u32".into()))?;
    tx.fee = fee;
    tx.ext = TransactionExt::V1(simulated.transaction_data.clone());
    Ok(tx)
}

/// The hash a signature over `tx` on `network` commits to.
///
/// # Errors
/// Only on an XDR encoding failure.
pub fn tx_hash(network: &Network, tx: &Transaction) -> Result<[u8; 32]> {
    sha256_xdr(&TransactionSignaturePayload {
        network_id: network.id(),
        tagged_transaction: TransactionSignaturePayloadTaggedTransaction::Tx(tx.clone()),
    })
}

/// The hash of a fee-bump transaction (also its id on the network).
///
/// # Errors
/// Only on an XDR encoding failure.
pub fn fee_bump_hash(network: &Network, tx: &FeeBumpTransaction) -> Result<[u8; 32]> {
    sha256_xdr(&TransactionSignaturePayload {
        network_id: network.id(),
        tagged_transaction: TransactionSignaturePayloadTaggedTransaction::TxFeeBump(tx.clone()),
    })
}

/// The id of any envelope: the hash of its (outer) transaction.
///
/// # Errors
/// [`Error::InvalidArgument`] for a legacy V0 envelope.
pub fn envelope_hash(network: &Network, envelope: &TransactionEnvelope) -> Result<[u8; 32]> {
    match envelope {
        TransactionEnvelope::Tx(e) => tx_hash(network, &e.tx),
        TransactionEnvelope::TxFeeBump(e) => fee_bump_hash(network, &e.tx),
        TransactionEnvelope::TxV0(_) => Err(Error::InvalidArgument(
            "legacy V0 envelopes are not supported".into(),
        )),
    }
}

/// A signature decorated with its hint (the last 4 bytes of the public key).
///
/// # Errors
/// Whatever the signer reports.
pub fn decorated_signature(signer: &dyn Signer, hash: &[u8; 32]) -> Result<DecoratedSignature> {
    let pk = signer.public_key();
    let sig = signer.sign(hash)?;
    Ok(DecoratedSignature {
        hint: SignatureHint([pk[28], pk[29], pk[30], pk[31]]),
        signature: Signature(sig.to_vec().try_into().expect("64 bytes fit")),
    })
}

/// Signs `tx` with every signer (the source first, then operation sources).
///
/// # Errors
/// Whatever a signer reports; [`Error::InvalidArgument`] for more than 20 signers.
pub fn sign_tx(
    network: &Network,
    tx: Transaction,
    signers: &[&dyn Signer],
) -> Result<TransactionEnvelope> {
    let hash = tx_hash(network, &tx)?;
    let signatures = signers
        .iter()
        .map(|s| decorated_signature(*s, &hash))
        .collect::<Result<Vec<_>>>()?;
    Ok(TransactionEnvelope::Tx(TransactionV1Envelope {
        tx,
        signatures: signatures
            .try_into()
            .map_err(|_| Error::InvalidArgument("more than 20 signatures".into()))?,
    }))
}

/// The smallest fee (stroops) a fee-bump of `inner` may offer so that it bids at least
/// `inclusion_fee_per_op` per operation (CAP-0015 counts the fee-bump itself as one more
/// operation; a Soroban resource fee is added on top, unbid).
///
/// # Errors
/// [`Error::InvalidArgument`] if `inner` is not a V1 envelope.
pub fn fee_bump_fee(inner: &TransactionEnvelope, inclusion_fee_per_op: u32) -> Result<i64> {
    let TransactionEnvelope::Tx(e) = inner else {
        return Err(Error::InvalidArgument(
            "only a V1 envelope can be fee-bumped".into(),
        ));
    };
    let ops = e.tx.operations.len() as i64 + 1;
    let resource_fee = match &e.tx.ext {
        TransactionExt::V1(data) => data.resource_fee,
        TransactionExt::V0 => 0,
    };
    // CAP-0015: the bump's rate must also be at least the inner transaction's own rate.
    let inner_inclusion = i64::from(e.tx.fee) - resource_fee;
    let inner_rate = inner_inclusion.max(0) / (ops - 1).max(1);
    let rate = i64::from(inclusion_fee_per_op)
        .max(inner_rate)
        .max(i64::from(BASE_FEE));
    Ok(resource_fee + rate * ops)
}

/// Wraps a signed inner transaction in a fee-bump paid and signed by `sponsor`.
///
/// # Errors
/// [`Error::InvalidArgument`] if `inner` is not a V1 envelope; whatever the signer reports.
pub fn fee_bump(
    network: &Network,
    inner: TransactionEnvelope,
    sponsor: &dyn Signer,
    fee: i64,
) -> Result<TransactionEnvelope> {
    let TransactionEnvelope::Tx(inner) = inner else {
        return Err(Error::InvalidArgument(
            "only a V1 envelope can be fee-bumped".into(),
        ));
    };
    let tx = FeeBumpTransaction {
        fee_source: muxed_account(sponsor),
        fee,
        inner_tx: FeeBumpTransactionInnerTx::Tx(inner),
        ext: FeeBumpTransactionExt::V0,
    };
    let hash = fee_bump_hash(network, &tx)?;
    let signature = decorated_signature(sponsor, &hash)?;
    Ok(TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
        tx,
        signatures: vec![signature].try_into().expect("one signature fits"),
    }))
}

/// The hex form of a transaction hash, as RPC servers show it.
pub fn hex_hash(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{SigningKey, Verifier};

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn header(k: &SigningKey) -> TxHeader {
        TxHeader {
            source: Signer::public_key(k),
            seq: 42,
            max_time: Some(1_000),
        }
    }

    #[test]
    fn signed_envelope_verifies_against_the_network_hash() {
        let net = Network::new("Standalone Network ; February 2017");
        let k = key(1);
        let f = invoke_contract(&contract_strkey(&[5; 32]), "increment", vec![]).unwrap();
        let tx = invocation_tx(&header(&k), f).unwrap();
        let hash = tx_hash(&net, &tx).unwrap();
        let TransactionEnvelope::Tx(env) = sign_tx(&net, tx, &[&k]).unwrap() else {
            panic!("expected a V1 envelope")
        };
        let sig = ed25519_dalek::Signature::from_slice(&env.signatures[0].signature.0).unwrap();
        k.verifying_key().verify(&hash, &sig).unwrap();
        // The same transaction hashes differently on another network.
        let other = tx_hash(&Network::new(Network::TESTNET), &env.tx).unwrap();
        assert_ne!(hash, other);
        assert_eq!(env.signatures[0].hint.0, Signer::public_key(&k)[28..]);
        assert_eq!(env.tx.seq_num.0, 42);
        assert!(matches!(env.tx.cond, Preconditions::Time(ref t) if t.max_time.0 == 1_000));
    }

    #[test]
    fn bad_function_names_are_refused_by_name() {
        let c = contract_strkey(&[5; 32]);
        let err = invoke_contract(&c, "not a symbol!", vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a symbol!"), "{err}");
        let err = invoke_contract(&c, &"x".repeat(33), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 to 32"), "{err}");
        assert!(invoke_contract(&c, "", vec![]).is_err());
        assert!(upload_wasm(&[]).is_err());
    }

    #[test]
    fn contract_address_is_deterministic_per_salt_and_network() {
        let net = Network::new(Network::TESTNET);
        let g = key(2).address();
        let a = contract_address(&net, &g, salt(b"one")).unwrap();
        assert_eq!(a, contract_address(&net, &g, salt(b"one")).unwrap());
        assert_ne!(a, contract_address(&net, &g, salt(b"two")).unwrap());
        assert_ne!(
            a,
            contract_address(&Network::new(Network::MAINNET), &g, salt(b"one")).unwrap()
        );
        assert!(a.starts_with('C'));
    }

    fn simulated(resource_fee: i64) -> Simulated {
        Simulated {
            return_value: None,
            auth: vec![],
            transaction_data: SorobanTransactionData {
                ext: stellar_xdr::SorobanTransactionDataExt::V0,
                resources: stellar_xdr::SorobanResources {
                    footprint: stellar_xdr::LedgerFootprint {
                        read_only: VecM::default(),
                        read_write: VecM::default(),
                    },
                    instructions: 1,
                    disk_read_bytes: 0,
                    write_bytes: 0,
                },
                resource_fee,
            },
            min_resource_fee: resource_fee,
            latest_ledger: 7,
        }
    }

    #[test]
    fn assemble_sets_fee_and_resources_and_fee_bump_follows_cap_0015() {
        let net = Network::new(Network::TESTNET);
        let k = key(3);
        let f = invoke_contract(&contract_strkey(&[5; 32]), "get", vec![]).unwrap();
        let tx = invocation_tx(&header(&k), f).unwrap();
        let tx = assemble(tx, &simulated(5_000), None, BASE_FEE).unwrap();
        assert_eq!(tx.fee, 5_100);
        assert!(matches!(tx.ext, TransactionExt::V1(ref d) if d.resource_fee == 5_000));
        let inner = sign_tx(&net, tx, &[&k]).unwrap();
        // One operation plus the bump itself, at the base rate, plus the resource fee.
        assert_eq!(fee_bump_fee(&inner, 100).unwrap(), 5_200);
        assert_eq!(fee_bump_fee(&inner, 1_000).unwrap(), 7_000);
        let sponsor = key(4);
        let bumped = fee_bump(&net, inner, &sponsor, 5_200).unwrap();
        let TransactionEnvelope::TxFeeBump(e) = &bumped else {
            panic!("expected a fee-bump envelope")
        };
        assert_eq!(e.tx.fee, 5_200);
        let hash = envelope_hash(&net, &bumped).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&e.signatures[0].signature.0).unwrap();
        sponsor.verifying_key().verify(&hash, &sig).unwrap();
    }

    #[test]
    fn assemble_refuses_a_classic_transaction() {
        let k = key(3);
        let tx = create_account_tx(&header(&k), &key(9).address(), 1).unwrap();
        let err = assemble(tx, &simulated(1), None, BASE_FEE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("InvokeHostFunction"), "{err}");
    }

    #[test]
    fn sponsored_account_tx_has_begin_create_end_with_right_sources() {
        let (src, sponsor, user) = (key(1), key(2), key(3));
        let tx = sponsored_account_tx(&header(&src), &sponsor, &user).unwrap();
        let ops = tx.operations.to_vec();
        assert_eq!(ops.len(), 3);
        assert!(matches!(
            ops[0].body,
            OperationBody::BeginSponsoringFutureReserves(_)
        ));
        assert!(
            matches!(ops[1].body, OperationBody::CreateAccount(ref c) if c.starting_balance == 0)
        );
        assert!(matches!(
            ops[2].body,
            OperationBody::EndSponsoringFutureReserves
        ));
        assert_eq!(ops[2].source_account, Some(muxed_account(&user)));
        assert_eq!(ops[0].source_account, Some(muxed_account(&sponsor)));
        assert_eq!(tx.fee, 300);
    }
}
