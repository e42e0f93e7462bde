//! Transaction validation and application, as stellar-core does it: signatures against
//! signers and thresholds, sequence numbers, time bounds, fees and refunds, fee-bumps, and
//! the supported operations. A failed transaction changes only the fee source's balance and
//! the source's sequence number.

use std::collections::BTreeMap;

use soroban_env_host::xdr::{
    AccountEntry, AccountId, DecoratedSignature, DiagnosticEvent, FeeBumpTransaction,
    FeeBumpTransactionInnerTx, Hash, InnerTransactionResult, InnerTransactionResultExt,
    InnerTransactionResultPair, InnerTransactionResultResult, LedgerEntry, LedgerEntryData,
    LedgerKey, LedgerKeyAccount, Limits, MuxedAccount, Operation, OperationBody, OperationResult,
    Preconditions, SorobanTransactionData, Transaction, TransactionEnvelope, TransactionExt,
    TransactionResult, TransactionResultExt, TransactionResultResult, TransactionSignaturePayload,
    TransactionSignaturePayloadTaggedTransaction, WriteXdr,
};

use crate::keys::{sha256, verify};
use crate::ops::{self, OpOutput};
use crate::settings::NetworkSettings;
use crate::state::{LedgerState, StoredEntry};

/// What a transaction is applied against.
pub struct LedgerContext<'a> {
    /// Network settings.
    pub settings: &'a NetworkSettings,
    /// SHA-256 of the passphrase.
    pub network_id: [u8; 32],
    /// The ledger being closed.
    pub sequence: u32,
    /// Its close time.
    pub close_time: u64,
    /// Parsed contract modules (shared; uploads add to it).
    pub module_cache: Option<soroban_env_host::ModuleCache>,
    /// Whether the host records diagnostic events (as stellar-core with
    /// `ENABLE_SOROBAN_DIAGNOSTIC_EVENTS`).
    pub diagnostics: bool,
}

/// Pending writes over the ledger state, committed only when a transaction succeeds.
pub struct Overlay<'a> {
    base: &'a LedgerState,
    /// Changed keys: `None` means deleted.
    pub changes: BTreeMap<LedgerKey, Option<StoredEntry>>,
}

impl<'a> Overlay<'a> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a LedgerState) -> Self {
        Self {
            base,
            changes: BTreeMap::new(),
        }
    }

    /// The current value of `key`.
    pub fn get(&self, key: &LedgerKey) -> Option<StoredEntry> {
        match self.changes.get(key) {
            Some(v) => v.clone(),
            None => self.base.entries.get(key).cloned(),
        }
    }

    /// Writes `entry` under `key`.
    pub fn put(&mut self, key: LedgerKey, entry: StoredEntry) {
        self.changes.insert(key, Some(entry));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: LedgerKey) {
        self.changes.insert(key, None);
    }

    /// The account `id`.
    pub fn account(&self, id: &AccountId) -> Option<(AccountEntry, LedgerEntry)> {
        let stored = self.get(&account_key(id))?;
        match &stored.entry.data {
            LedgerEntryData::Account(a) => Some((a.clone(), stored.entry)),
            _ => None,
        }
    }

    /// Replaces the account entry, keeping the ledger entry's extension (its sponsor).
    pub fn put_account(&mut self, account: AccountEntry, mut entry: LedgerEntry, seq: u32) {
        let key = account_key(&account.account_id);
        entry.data = LedgerEntryData::Account(account);
        entry.last_modified_ledger_seq = seq;
        self.put(
            key,
            StoredEntry {
                entry,
                live_until: None,
            },
        );
    }

    /// Applies the changes to `state`.
    pub fn commit_into(changes: BTreeMap<LedgerKey, Option<StoredEntry>>, state: &mut LedgerState) {
        for (k, v) in changes {
            match v {
                Some(e) => {
                    state.entries.insert(k, e);
                }
                None => {
                    state.entries.remove(&k);
                }
            }
        }
    }
}

/// The ledger key of an account.
pub fn account_key(id: &AccountId) -> LedgerKey {
    LedgerKey::Account(LedgerKeyAccount {
        account_id: id.clone(),
    })
}

/// The account behind a (possibly muxed) account.
pub fn muxed_to_account(m: &MuxedAccount) -> AccountId {
    match m {
        MuxedAccount::Ed25519(k) => AccountId(
            soroban_env_host::xdr::PublicKey::PublicKeyTypeEd25519(k.clone()),
        ),
        MuxedAccount::MuxedEd25519(m) => AccountId(
            soroban_env_host::xdr::PublicKey::PublicKeyTypeEd25519(m.ed25519.clone()),
        ),
    }
}

/// A transaction-level failure code (shared by plain and fee-bump inner results).
#[derive(Clone, Debug, PartialEq)]
pub enum TxFail {
    /// Before min time.
    TooEarly,
    /// After max time.
    TooLate,
    /// No operation.
    MissingOperation,
    /// Sequence number is not the account's + 1.
    BadSeq,
    /// Signatures do not meet the thresholds.
    BadAuth,
    /// Fee source cannot pay the fee.
    InsufficientBalance,
    /// Source account does not exist.
    NoAccount,
    /// Fee below the minimum.
    InsufficientFee,
    /// Unused signatures.
    BadAuthExtra,
    /// A sponsorship left open at the end of the transaction.
    BadSponsorship,
    /// Malformed transaction.
    Malformed,
    /// Soroban resources invalid or above the limits.
    SorobanInvalid,
    /// An operation failed.
    Failed(Vec<OperationResult>),
}

impl TxFail {
    fn outer(&self) -> TransactionResultResult {
        use TransactionResultResult as R;
        match self {
            TxFail::TooEarly => R::TxTooEarly,
            TxFail::TooLate => R::TxTooLate,
            TxFail::MissingOperation => R::TxMissingOperation,
            TxFail::BadSeq => R::TxBadSeq,
            TxFail::BadAuth => R::TxBadAuth,
            TxFail::InsufficientBalance => R::TxInsufficientBalance,
            TxFail::NoAccount => R::TxNoAccount,
            TxFail::InsufficientFee => R::TxInsufficientFee,
            TxFail::BadAuthExtra => R::TxBadAuthExtra,
            TxFail::BadSponsorship => R::TxBadSponsorship,
            TxFail::Malformed => R::TxMalformed,
            TxFail::SorobanInvalid => R::TxSorobanInvalid,
            TxFail::Failed(r) => R::TxFailed(r.clone().try_into().unwrap_or_default()),
        }
    }

    fn inner(&self) -> InnerTransactionResultResult {
        use InnerTransactionResultResult as R;
        match self {
            TxFail::TooEarly => R::TxTooEarly,
            TxFail::TooLate => R::TxTooLate,
            TxFail::MissingOperation => R::TxMissingOperation,
            TxFail::BadSeq => R::TxBadSeq,
            TxFail::BadAuth => R::TxBadAuth,
            TxFail::InsufficientBalance => R::TxInsufficientBalance,
            TxFail::NoAccount => R::TxNoAccount,
            TxFail::InsufficientFee => R::TxInsufficientFee,
            TxFail::BadAuthExtra => R::TxBadAuthExtra,
            TxFail::BadSponsorship => R::TxBadSponsorship,
            TxFail::Malformed => R::TxMalformed,
            TxFail::SorobanInvalid => R::TxSorobanInvalid,
            TxFail::Failed(r) => R::TxFailed(r.clone().try_into().unwrap_or_default()),
        }
    }
}

/// A decoded transaction with what validation and application need.
#[derive(Clone, Debug)]
pub struct ParsedTx {
    /// The envelope as submitted.
    pub envelope: TransactionEnvelope,
    /// Hash of the envelope (the outer one for a fee-bump).
    pub hash: [u8; 32],
    /// Hash of the inner transaction (equals `hash` unless fee-bump).
    pub inner_hash: [u8; 32],
    /// The (inner) transaction.
    pub tx: Transaction,
    /// Signatures on the inner transaction.
    pub tx_signatures: Vec<DecoratedSignature>,
    /// Fee-bump: fee source, total fee and signatures.
    pub fee_bump: Option<(AccountId, i64, Vec<DecoratedSignature>)>,
    /// Envelope size in bytes.
    pub size: u32,
}

impl ParsedTx {
    /// Decodes the envelope. V0 envelopes (pre-protocol 13) are refused as malformed.
    pub fn new(envelope: TransactionEnvelope, network_id: [u8; 32]) -> Result<Self, String> {
        let size = envelope
            .to_xdr(Limits::none())
            .map_err(|e| format!("envelope does not encode: {e}"))?
            .len() as u32;
        let payload_hash =
            |t: TransactionSignaturePayloadTaggedTransaction| -> Result<[u8; 32], String> {
                let p = TransactionSignaturePayload {
                    network_id: Hash(network_id),
                    tagged_transaction: t,
                };
                Ok(sha256(
                    &p.to_xdr(Limits::none()).map_err(|e| e.to_string())?,
                ))
            };
        match &envelope {
            TransactionEnvelope::TxV0(_) => {
                Err("v0 transaction envelopes are not supported".into())
            }
            TransactionEnvelope::Tx(v1) => {
                let h = payload_hash(TransactionSignaturePayloadTaggedTransaction::Tx(
                    v1.tx.clone(),
                ))?;
                Ok(Self {
                    hash: h,
                    inner_hash: h,
                    tx: v1.tx.clone(),
                    tx_signatures: v1.signatures.to_vec(),
                    fee_bump: None,
                    size,
                    envelope,
                })
            }
            TransactionEnvelope::TxFeeBump(fb) => {
                let FeeBumpTransactionInnerTx::Tx(inner) = &fb.tx.inner_tx;
                let h = payload_hash(TransactionSignaturePayloadTaggedTransaction::TxFeeBump(
                    fb.tx.clone(),
                ))?;
                let ih = payload_hash(TransactionSignaturePayloadTaggedTransaction::Tx(
                    inner.tx.clone(),
                ))?;
                let FeeBumpTransaction {
                    fee_source, fee, ..
                } = &fb.tx;
                Ok(Self {
                    hash: h,
                    inner_hash: ih,
                    tx: inner.tx.clone(),
                    tx_signatures: inner.signatures.to_vec(),
                    fee_bump: Some((muxed_to_account(fee_source), *fee, fb.signatures.to_vec())),
                    size,
                    envelope,
                })
            }
        }
    }

    /// The Soroban data, if this is a Soroban transaction.
    pub fn soroban_data(&self) -> Option<&SorobanTransactionData> {
        match &self.tx.ext {
            TransactionExt::V1(d) => Some(d),
            TransactionExt::V0 => None,
        }
    }

    /// The declared resource fee (0 for classic transactions).
    pub fn resource_fee(&self) -> i64 {
        self.soroban_data().map(|d| d.resource_fee).unwrap_or(0)
    }

    /// Whether the transaction carries a Soroban operation.
    pub fn is_soroban(&self) -> bool {
        self.tx
            .operations
            .iter()
            .any(|op| ops::is_soroban(&op.body))
    }

    /// The account that pays the fee.
    pub fn fee_source(&self) -> AccountId {
        match &self.fee_bump {
            Some((src, _, _)) => src.clone(),
            None => muxed_to_account(&self.tx.source_account),
        }
    }

    /// The maximum fee the fee source pays.
    pub fn fee_bid(&self) -> i64 {
        match &self.fee_bump {
            Some((_, fee, _)) => *fee,
            None => self.tx.fee as i64,
        }
    }

    /// The transaction source account.
    pub fn source(&self) -> AccountId {
        muxed_to_account(&self.tx.source_account)
    }
}

/// One ledger entry change: key, value before, value after (`None`: absent).
pub type Change = (LedgerKey, Option<StoredEntry>, Option<StoredEntry>);

/// Applied transaction, as recorded for `getTransaction`.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// The result.
    pub result: TransactionResult,
    /// Whether it succeeded.
    pub success: bool,
    /// Return value and events of a Soroban invocation.
    pub soroban: Option<ops::SorobanOutput>,
    /// The fee charged up front (the fee source's balance): `feeProcessing`.
    pub fee_changes: Vec<Change>,
    /// The source's sequence number bump: `txChangesBefore`.
    pub before_changes: Vec<Change>,
    /// State changes of the operations (committed only on success), in the order applied.
    pub changes: Vec<Change>,
    /// The refund of the unused refundable resource fee: `postTxApplyFeeProcessing`.
    pub refund_changes: Vec<Change>,
    /// Diagnostic events of the invocation (also when it failed).
    pub diagnostics: Vec<DiagnosticEvent>,
    /// The fee taken before the operations ran (resource fee declared + inclusion fee).
    pub fee_before: i64,
    /// The part of it given back after they ran.
    pub refund: i64,
}

fn wrap_result(
    tx: &ParsedTx,
    fee_charged: i64,
    r: Result<Vec<OperationResult>, TxFail>,
) -> TransactionResult {
    let result = match (&tx.fee_bump, r) {
        (None, Ok(ops)) => TransactionResultResult::TxSuccess(ops.try_into().unwrap_or_default()),
        (None, Err(f)) => f.outer(),
        (Some(_), r) => {
            let success = r.is_ok();
            let inner = InnerTransactionResult {
                fee_charged: 0,
                result: match r {
                    Ok(ops) => {
                        InnerTransactionResultResult::TxSuccess(ops.try_into().unwrap_or_default())
                    }
                    Err(f) => f.inner(),
                },
                ext: InnerTransactionResultExt::V0,
            };
            let pair = InnerTransactionResultPair {
                transaction_hash: Hash(tx.inner_hash),
                result: inner,
            };
            if success {
                TransactionResultResult::TxFeeBumpInnerSuccess(pair)
            } else {
                TransactionResultResult::TxFeeBumpInnerFailed(pair)
            }
        }
    };
    TransactionResult {
        fee_charged,
        result,
        ext: TransactionResultExt::V0,
    }
}

/// A result for a transaction refused before it reaches a ledger (`errorResultXdr`).
pub fn rejection(tx: &ParsedTx, fail: TxFail) -> TransactionResult {
    // Fee-bump envelope-level failures (the outer fee or signatures) are outer codes.
    match fail {
        TxFail::Failed(_) => wrap_result(tx, 0, Err(fail)),
        f if tx.fee_bump.is_some() && matches!(f, TxFail::InsufficientFee | TxFail::BadAuth) => {
            TransactionResult {
                fee_charged: 0,
                result: f.outer(),
                ext: TransactionResultExt::V0,
            }
        }
        f => wrap_result(tx, 0, Err(f)),
    }
}

/// The operations a transaction's inclusion fee is counted over: a fee-bump pays for one
/// more "operation" than its inner transaction has (CAP-0015).
pub fn fee_ops(tx: &ParsedTx) -> i64 {
    let ops = tx.tx.operations.len().max(1) as i64;
    if tx.fee_bump.is_some() {
        ops + 1
    } else {
        ops
    }
}

/// The inclusion fee bid: the (outer) fee minus the declared resource fee.
pub fn inclusion_bid(tx: &ParsedTx) -> i64 {
    tx.fee_bid().saturating_sub(tx.resource_fee())
}

fn min_inclusion_fee(tx: &ParsedTx, settings: &NetworkSettings) -> i64 {
    fee_ops(tx) * settings.base_fee
}

/// Threshold categories, as stellar-core assigns them to operations.
fn needed_threshold(account: &AccountEntry, body: Option<&OperationBody>) -> u8 {
    let [_, low, med, _high] = account.thresholds.0;
    match body {
        None => low,
        Some(OperationBody::ExtendFootprintTtl(_)) | Some(OperationBody::RestoreFootprint(_)) => {
            low
        }
        Some(OperationBody::BumpSequence(_)) | Some(OperationBody::AllowTrust(_)) => low,
        Some(OperationBody::SetOptions(_)) | Some(OperationBody::AccountMerge(_)) => {
            account.thresholds.0[3]
        }
        Some(_) => med,
    }
}

/// Signers of an account: master key with its weight, then extra ed25519 signers.
fn signers(account: &AccountEntry) -> Vec<([u8; 32], u8)> {
    let soroban_env_host::xdr::PublicKey::PublicKeyTypeEd25519(master) = &account.account_id.0;
    let mut v = vec![(master.0, account.thresholds.0[0])];
    for s in account.signers.iter() {
        if let soroban_env_host::xdr::SignerKey::Ed25519(k) = &s.key {
            v.push((k.0, s.weight.min(255) as u8));
        }
    }
    v
}

/// Sum of the weights of `account`'s signers that signed `hash`; marks used signatures.
fn signed_weight(
    account: &AccountEntry,
    hash: &[u8; 32],
    sigs: &[DecoratedSignature],
    used: &mut [bool],
) -> u32 {
    let mut weight = 0u32;
    for (key, w) in signers(account) {
        if w == 0 {
            continue;
        }
        for (i, sig) in sigs.iter().enumerate() {
            if sig.hint.0 == key[28..32] && verify(&key, hash, sig.signature.as_slice()) {
                used[i] = true;
                weight += w as u32;
                break;
            }
        }
    }
    weight
}

fn meets(weight: u32, threshold: u8) -> bool {
    weight > 0 && weight >= threshold as u32
}

/// Checks what stellar-core checks before a transaction enters a ledger.
pub fn validate(tx: &ParsedTx, state: &LedgerState, ctx: &LedgerContext) -> Result<(), TxFail> {
    let settings = ctx.settings;
    let ops_len = tx.tx.operations.len();
    if ops_len == 0 {
        return Err(TxFail::MissingOperation);
    }
    let soroban_ops = tx
        .tx
        .operations
        .iter()
        .filter(|o| ops::is_soroban(&o.body))
        .count();
    if soroban_ops > 0 && (ops_len != 1 || tx.soroban_data().is_none()) {
        return Err(TxFail::Malformed);
    }
    if soroban_ops == 0 && tx.soroban_data().is_some() {
        return Err(TxFail::Malformed);
    }
    // Fee-bump outer checks (CAP-0015): the outer fee covers the inner resource fee plus
    // an inclusion fee for one more operation, and the fee source signed it.
    let overlay = Overlay::new(state);
    if let Some((fee_source, fee, sigs)) = &tx.fee_bump {
        if *fee
            < tx.resource_fee()
                .saturating_add(min_inclusion_fee(tx, settings))
            || *fee < tx.tx.fee as i64
        {
            return Err(TxFail::InsufficientFee);
        }
        let Some((acct, _)) = overlay.account(fee_source) else {
            return Err(TxFail::NoAccount);
        };
        let mut used = vec![false; sigs.len()];
        if !meets(
            signed_weight(&acct, &tx.hash, sigs, &mut used),
            needed_threshold(&acct, None),
        ) {
            return Err(TxFail::BadAuth);
        }
        if used.iter().any(|u| !u) {
            return Err(TxFail::BadAuthExtra);
        }
    }
    if let Preconditions::Time(tb)
    | Preconditions::V2(soroban_env_host::xdr::PreconditionsV2 {
        time_bounds: Some(tb),
        ..
    }) = &tx.tx.cond
    {
        if ctx.close_time < tb.min_time.0 {
            return Err(TxFail::TooEarly);
        }
        if tb.max_time.0 != 0 && ctx.close_time > tb.max_time.0 {
            return Err(TxFail::TooLate);
        }
    }
    if let Some(data) = tx.soroban_data() {
        ops::check_soroban_resources(tx, data, settings)?;
    }
    if tx.fee_bump.is_none()
        && (tx.tx.fee as i64)
            < tx.resource_fee()
                .saturating_add(min_inclusion_fee(tx, settings))
    {
        return Err(TxFail::InsufficientFee);
    }
    let source = tx.source();
    let Some((src, _)) = overlay.account(&source) else {
        return Err(TxFail::NoAccount);
    };
    if tx.tx.seq_num.0 != src.seq_num.0.wrapping_add(1) {
        return Err(TxFail::BadSeq);
    }
    let (fee_acct, _) = overlay.account(&tx.fee_source()).ok_or(TxFail::NoAccount)?;
    if ops::available_balance(&fee_acct, settings) < tx.fee_bid() {
        return Err(TxFail::InsufficientBalance);
    }
    // Signatures: the source at the low threshold, each operation's source at its own.
    let sigs = &tx.tx_signatures;
    let mut used = vec![false; sigs.len()];
    if !meets(
        signed_weight(&src, &tx.inner_hash, sigs, &mut used),
        needed_threshold(&src, None),
    ) {
        return Err(TxFail::BadAuth);
    }
    for op in tx.tx.operations.iter() {
        let op_source = op
            .source_account
            .as_ref()
            .map(muxed_to_account)
            .unwrap_or_else(|| source.clone());
        match overlay.account(&op_source) {
            Some((a, _)) => {
                if !meets(
                    signed_weight(&a, &tx.inner_hash, sigs, &mut used),
                    needed_threshold(&a, Some(&op.body)),
                ) {
                    return Err(TxFail::BadAuth);
                }
            }
            // An account the transaction creates has no signers yet: as stellar-core does,
            // its own key must have signed (if it still does not exist when the operation
            // runs, the operation fails with opNO_ACCOUNT).
            None => {
                let pseudo = ops::new_account(op_source.clone(), 0, 0);
                if !meets(signed_weight(&pseudo, &tx.inner_hash, sigs, &mut used), 0) {
                    return Err(TxFail::BadAuth);
                }
            }
        }
    }
    if used.iter().any(|u| !u) {
        return Err(TxFail::BadAuthExtra);
    }
    Ok(())
}

/// Applies a validated transaction: charges the fee, bumps the sequence, runs the
/// operations (all or nothing) and refunds the unused refundable resource fee.
pub fn apply(tx: &ParsedTx, state: &mut LedgerState, ctx: &LedgerContext) -> Applied {
    apply_at(tx, state, ctx, ctx.settings.base_fee)
}

/// [`apply`] in a ledger whose lane charges `lane_base_fee` per operation (the surge price
/// when the lane was full, else the base fee): the inclusion fee charged is
/// `min(bid, lane_base_fee × ops)` (CAP-0005).
pub fn apply_at(
    tx: &ParsedTx,
    state: &mut LedgerState,
    ctx: &LedgerContext,
    lane_base_fee: i64,
) -> Applied {
    let settings = ctx.settings;
    // Re-validate against the state as it stands when this transaction's turn comes.
    if let Err(fail) = validate(tx, state, ctx) {
        return Applied {
            result: rejection(tx, fail),
            ..Default::default()
        };
    }
    let mut changes_log = Vec::new();
    // Fee and sequence: committed whatever the operations do.
    let inclusion = inclusion_bid(tx).min(fee_ops(tx).saturating_mul(lane_base_fee));
    let full_fee = tx.resource_fee().saturating_add(inclusion);
    let fee_changes = commit_account_change(state, &tx.fee_source(), ctx.sequence, |a| {
        a.balance -= full_fee
    });
    let seq = tx.tx.seq_num.0;
    let before_changes =
        commit_account_change(state, &tx.source(), ctx.sequence, |a| a.seq_num.0 = seq);
    let mut overlay = Overlay::new(state);
    let mut results = Vec::new();
    let mut sponsorships: BTreeMap<AccountId, AccountId> = BTreeMap::new();
    let mut failed = false;
    let mut soroban = None;
    let mut refundable_used = 0i64;
    let mut diagnostics = Vec::new();
    for op in tx.tx.operations.iter() {
        let source = op
            .source_account
            .as_ref()
            .map(muxed_to_account)
            .unwrap_or_else(|| tx.source());
        let OpOutput {
            result,
            success,
            soroban: out,
            refundable_fee_used,
        } = ops::apply_op(
            op_ref(op),
            &source,
            tx,
            &mut overlay,
            &mut sponsorships,
            ctx,
            &mut diagnostics,
        );
        results.push(result);
        refundable_used += refundable_fee_used;
        if out.is_some() {
            soroban = out;
        }
        if !success {
            failed = true;
        }
    }
    let outcome = if failed {
        Err(TxFail::Failed(results))
    } else if !sponsorships.is_empty() {
        Err(TxFail::BadSponsorship)
    } else {
        Ok(results)
    };
    let success = outcome.is_ok();
    let op_changes = std::mem::take(&mut overlay.changes);
    drop(overlay);
    if success {
        record(&mut changes_log, state, &op_changes);
        Overlay::commit_into(op_changes, state);
    } else {
        soroban = None;
        refundable_used = 0;
    }
    // Refund the unused refundable part of the resource fee to the fee source.
    let mut refund = 0;
    let mut refund_changes = Vec::new();
    if let Some(data) = tx.soroban_data() {
        let non_refundable = ops::non_refundable_fee(tx, data, settings);
        let refundable_declared = (data.resource_fee - non_refundable).max(0);
        refund = (refundable_declared - refundable_used).max(0);
        if refund > 0 {
            refund_changes = commit_account_change(state, &tx.fee_source(), ctx.sequence, |a| {
                a.balance += refund
            });
        }
    }
    Applied {
        result: wrap_result(tx, full_fee - refund, outcome),
        success,
        soroban,
        fee_changes,
        before_changes,
        changes: changes_log,
        refund_changes,
        diagnostics,
        fee_before: full_fee,
        refund,
    }
}

/// Changes the account `id` in `state` at once; returns the change for the meta.
fn commit_account_change(
    state: &mut LedgerState,
    id: &AccountId,
    seq: u32,
    f: impl FnOnce(&mut AccountEntry),
) -> Vec<Change> {
    let mut overlay = Overlay::new(state);
    if let Some((mut a, e)) = overlay.account(id) {
        f(&mut a);
        overlay.put_account(a, e, seq);
    }
    let mut log = Vec::new();
    record(&mut log, state, &overlay.changes);
    let ch = std::mem::take(&mut overlay.changes);
    Overlay::commit_into(ch, state);
    log
}

fn op_ref(op: &Operation) -> &OperationBody {
    &op.body
}

fn record(
    log: &mut Vec<Change>,
    state: &LedgerState,
    changes: &BTreeMap<LedgerKey, Option<StoredEntry>>,
) {
    for (k, after) in changes {
        log.push((k.clone(), state.entries.get(k).cloned(), after.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use soroban_env_host::xdr::{
        Asset, Memo, PaymentOp, SequenceNumber, Signature, SignatureHint, Signer, SignerKey,
        Thresholds, TimeBounds, TimePoint, TransactionV1Envelope, Uint256,
    };

    const NET: [u8; 32] = [9; 32];

    fn state_with(accounts: Vec<AccountEntry>) -> LedgerState {
        let mut s = LedgerState {
            sequence: 10,
            close_time: 1_000,
            ..Default::default()
        };
        for a in accounts {
            s.entries.insert(
                account_key(&a.account_id),
                StoredEntry {
                    entry: ops::account_ledger_entry(a, 1, None),
                    live_until: None,
                },
            );
        }
        s
    }

    fn payment(src: &Keypair, cond: Preconditions) -> Transaction {
        Transaction {
            source_account: MuxedAccount::Ed25519(Uint256(src.public_key())),
            fee: 100,
            seq_num: SequenceNumber(1),
            cond,
            memo: Memo::None,
            operations: vec![Operation {
                source_account: None,
                body: OperationBody::Payment(PaymentOp {
                    destination: MuxedAccount::Ed25519(Uint256(src.public_key())),
                    asset: Asset::Native,
                    amount: 1,
                }),
            }]
            .try_into()
            .unwrap(),
            ext: TransactionExt::V0,
        }
    }

    fn signed(tx: Transaction, keys: &[&Keypair]) -> ParsedTx {
        let unsigned = ParsedTx::new(
            TransactionEnvelope::Tx(TransactionV1Envelope {
                tx: tx.clone(),
                signatures: Default::default(),
            }),
            NET,
        )
        .unwrap();
        let sigs: Vec<DecoratedSignature> = keys
            .iter()
            .map(|k| {
                let pk = k.public_key();
                DecoratedSignature {
                    hint: SignatureHint([pk[28], pk[29], pk[30], pk[31]]),
                    signature: Signature(k.sign(&unsigned.hash).to_vec().try_into().unwrap()),
                }
            })
            .collect();
        ParsedTx::new(
            TransactionEnvelope::Tx(TransactionV1Envelope {
                tx,
                signatures: sigs.try_into().unwrap(),
            }),
            NET,
        )
        .unwrap()
    }

    fn ctx(settings: &NetworkSettings) -> LedgerContext<'_> {
        LedgerContext {
            settings,
            network_id: NET,
            sequence: 11,
            close_time: 1_000,
            module_cache: None,
            diagnostics: false,
        }
    }

    #[test]
    fn extra_signers_and_thresholds_are_weighed() {
        let master = Keypair::from_seed([1; 32]);
        let cosigner = Keypair::from_seed([2; 32]);
        let mut account = ops::new_account(master.account_id(), 100_000_000, 0);
        // Master weight 1, extra signer weight 1, every threshold 2: both must sign.
        account.thresholds = Thresholds([1, 2, 2, 2]);
        account.signers = vec![Signer {
            key: SignerKey::Ed25519(Uint256(cosigner.public_key())),
            weight: 1,
        }]
        .try_into()
        .unwrap();
        account.num_sub_entries = 1;
        let state = state_with(vec![account]);
        let settings = NetworkSettings::default();
        let tx = payment(&master, Preconditions::None);
        assert_eq!(
            validate(&signed(tx.clone(), &[&master]), &state, &ctx(&settings)),
            Err(TxFail::BadAuth)
        );
        assert_eq!(
            validate(&signed(tx.clone(), &[&cosigner]), &state, &ctx(&settings)),
            Err(TxFail::BadAuth)
        );
        assert_eq!(
            validate(&signed(tx, &[&master, &cosigner]), &state, &ctx(&settings)),
            Ok(())
        );
    }

    #[test]
    fn time_bounds_are_enforced() {
        let k = Keypair::from_seed([3; 32]);
        let state = state_with(vec![ops::new_account(k.account_id(), 100_000_000, 0)]);
        let settings = NetworkSettings::default();
        let bounds = |min: u64, max: u64| {
            Preconditions::Time(TimeBounds {
                min_time: TimePoint(min),
                max_time: TimePoint(max),
            })
        };
        let check = |cond| validate(&signed(payment(&k, cond), &[&k]), &state, &ctx(&settings));
        assert_eq!(check(bounds(2_000, 0)), Err(TxFail::TooEarly));
        assert_eq!(check(bounds(0, 999)), Err(TxFail::TooLate));
        assert_eq!(check(bounds(999, 1_001)), Ok(()));
    }

    #[test]
    fn a_failed_transaction_changes_only_fee_and_sequence() {
        let k = Keypair::from_seed([4; 32]);
        let other = Keypair::from_seed([5; 32]);
        let mut state = state_with(vec![ops::new_account(k.account_id(), 100_000_000, 0)]);
        let settings = NetworkSettings::default();
        // Two operations: a CreateAccount that succeeds, then a payment to a missing account.
        let mut tx = payment(&k, Preconditions::None);
        tx.fee = 200;
        tx.operations = vec![
            Operation {
                source_account: None,
                body: OperationBody::CreateAccount(soroban_env_host::xdr::CreateAccountOp {
                    destination: other.account_id(),
                    starting_balance: 20_000_000,
                }),
            },
            Operation {
                source_account: None,
                body: OperationBody::Payment(PaymentOp {
                    destination: MuxedAccount::Ed25519(Uint256([7; 32])),
                    asset: Asset::Native,
                    amount: 1,
                }),
            },
        ]
        .try_into()
        .unwrap();
        let out = apply(&signed(tx, &[&k]), &mut state, &ctx(&settings));
        assert!(!out.success);
        assert_eq!(out.result.fee_charged, 200);
        let TransactionResultResult::TxFailed(results) = &out.result.result else {
            panic!("{:?}", out.result)
        };
        assert_eq!(
            results[1],
            OperationResult::OpInner(soroban_env_host::xdr::OperationResultTr::Payment(
                soroban_env_host::xdr::PaymentResult::NoDestination
            ))
        );
        let acct = state.account(&account_key(&k.account_id())).unwrap();
        assert_eq!(acct.balance, 100_000_000 - 200);
        assert_eq!(acct.seq_num.0, 1);
        assert!(
            state.account(&account_key(&other.account_id())).is_none(),
            "the created account was rolled back"
        );
    }
}
