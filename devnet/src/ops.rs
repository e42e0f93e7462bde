//! Operations: CreateAccount, Payment (native), Begin/EndSponsoringFutureReserves, and the
//! Soroban operations (InvokeHostFunction, ExtendFootprintTtl, RestoreFootprint). Anything
//! else gets opNOT_SUPPORTED.

use std::collections::BTreeMap;

use soroban_env_host::budget::Budget;
use soroban_env_host::e2e_invoke::{self, TtlLedgerEntryMeta};
use soroban_env_host::fees::{
    compute_rent_fee, compute_transaction_resource_fee, LedgerEntryRentChange, TransactionResources,
};
use soroban_env_host::xdr::{
    AccountEntry, AccountEntryExt, AccountEntryExtensionV1, AccountEntryExtensionV1Ext,
    AccountEntryExtensionV2, AccountEntryExtensionV2Ext, AccountId, Asset,
    BeginSponsoringFutureReservesResult, ContractEvent, CreateAccountResult, DiagnosticEvent,
    EndSponsoringFutureReservesResult, ExtendFootprintTtlResult, Hash, InvokeHostFunctionResult,
    InvokeHostFunctionSuccessPreImage, LedgerEntry, LedgerEntryData, LedgerEntryExt,
    LedgerEntryExtensionV1, LedgerEntryExtensionV1Ext, LedgerKey, Liabilities, Limits,
    OperationBody, OperationResult, OperationResultTr, PaymentResult, ReadXdr,
    RestoreFootprintResult, ScVal, SequenceNumber, SorobanTransactionData,
    SorobanTransactionDataExt, String32, Thresholds, WriteXdr,
};

use crate::apply::{account_key, muxed_to_account, LedgerContext, Overlay, ParsedTx, TxFail};
use crate::settings::NetworkSettings;
use crate::state::{durability, Liveness, StoredEntry};

/// What an operation did.
pub struct OpOutput {
    /// Its result.
    pub result: OperationResult,
    /// Whether it succeeded.
    pub success: bool,
    /// Soroban return value and events.
    pub soroban: Option<SorobanOutput>,
    /// Refundable resource fee consumed (rent and events).
    pub refundable_fee_used: i64,
}

/// Return value and contract events of an invocation.
#[derive(Clone, Debug)]
pub struct SorobanOutput {
    /// The return value.
    pub return_value: ScVal,
    /// Contract events.
    pub events: Vec<ContractEvent>,
}

fn done(result: OperationResultTr, success: bool) -> OpOutput {
    OpOutput {
        result: OperationResult::OpInner(result),
        success,
        soroban: None,
        refundable_fee_used: 0,
    }
}

/// Whether `body` is a Soroban operation.
pub fn is_soroban(body: &OperationBody) -> bool {
    matches!(
        body,
        OperationBody::InvokeHostFunction(_)
            | OperationBody::ExtendFootprintTtl(_)
            | OperationBody::RestoreFootprint(_)
    )
}

fn sponsorship_counts(a: &AccountEntry) -> (u32, u32) {
    match &a.ext {
        AccountEntryExt::V1(v1) => match &v1.ext {
            AccountEntryExtensionV1Ext::V2(v2) => (v2.num_sponsoring, v2.num_sponsored),
            AccountEntryExtensionV1Ext::V0 => (0, 0),
        },
        AccountEntryExt::V0 => (0, 0),
    }
}

fn set_sponsorship_counts(a: &mut AccountEntry, sponsoring: u32, sponsored: u32) {
    let liabilities = match &a.ext {
        AccountEntryExt::V1(v1) => v1.liabilities.clone(),
        AccountEntryExt::V0 => Liabilities {
            buying: 0,
            selling: 0,
        },
    };
    let v2 = AccountEntryExtensionV2 {
        num_sponsored: sponsored,
        num_sponsoring: sponsoring,
        signer_sponsoring_i_ds: match &a.ext {
            AccountEntryExt::V1(AccountEntryExtensionV1 {
                ext: AccountEntryExtensionV1Ext::V2(v2),
                ..
            }) => v2.signer_sponsoring_i_ds.clone(),
            _ => Default::default(),
        },
        ext: AccountEntryExtensionV2Ext::V0,
    };
    a.ext = AccountEntryExt::V1(AccountEntryExtensionV1 {
        liabilities,
        ext: AccountEntryExtensionV1Ext::V2(v2),
    });
}

/// The minimum balance of an account: (2 + subentries + sponsoring - sponsored) reserves.
pub fn min_balance(a: &AccountEntry, settings: &NetworkSettings) -> i64 {
    let (sponsoring, sponsored) = sponsorship_counts(a);
    let units = 2i64 + a.num_sub_entries as i64 + sponsoring as i64 - sponsored as i64;
    units.max(0) * settings.base_reserve as i64
}

/// What the account can spend above its reserve.
pub fn available_balance(a: &AccountEntry, settings: &NetworkSettings) -> i64 {
    a.balance - min_balance(a, settings)
}

/// A new account entry with the network's defaults.
pub fn new_account(id: AccountId, balance: i64, ledger_seq: u32) -> AccountEntry {
    AccountEntry {
        account_id: id,
        balance,
        seq_num: SequenceNumber((ledger_seq as i64) << 32),
        num_sub_entries: 0,
        inflation_dest: None,
        flags: 0,
        home_domain: String32::default(),
        thresholds: Thresholds([1, 0, 0, 0]),
        signers: Default::default(),
        ext: AccountEntryExt::V0,
    }
}

/// The ledger entry holding `account`.
pub fn account_ledger_entry(
    account: AccountEntry,
    seq: u32,
    sponsor: Option<AccountId>,
) -> LedgerEntry {
    LedgerEntry {
        last_modified_ledger_seq: seq,
        data: LedgerEntryData::Account(account),
        ext: match sponsor {
            None => LedgerEntryExt::V0,
            Some(s) => LedgerEntryExt::V1(LedgerEntryExtensionV1 {
                sponsoring_id: soroban_env_host::xdr::SponsorshipDescriptor(Some(s)),
                ext: LedgerEntryExtensionV1Ext::V0,
            }),
        },
    }
}

/// Applies one operation into `overlay`.
pub fn apply_op(
    body: &OperationBody,
    source: &AccountId,
    tx: &ParsedTx,
    overlay: &mut Overlay,
    sponsorships: &mut BTreeMap<AccountId, AccountId>,
    ctx: &LedgerContext,
    diagnostics: &mut Vec<DiagnosticEvent>,
) -> OpOutput {
    let settings = ctx.settings;
    let seq = ctx.sequence;
    let Some((mut src, src_entry)) = overlay.account(source) else {
        return OpOutput {
            result: OperationResult::OpNoAccount,
            success: false,
            soroban: None,
            refundable_fee_used: 0,
        };
    };
    match body {
        OperationBody::CreateAccount(op) => {
            use CreateAccountResult as R;
            let fail = |r| done(OperationResultTr::CreateAccount(r), false);
            if op.starting_balance < 0 || &op.destination == source {
                return fail(R::Malformed);
            }
            if overlay.account(&op.destination).is_some() {
                return fail(R::AlreadyExist);
            }
            let sponsor = sponsorships.get(&op.destination).cloned();
            let mut new = new_account(op.destination.clone(), op.starting_balance, seq);
            match &sponsor {
                Some(_) => set_sponsorship_counts(&mut new, 0, 2),
                None if op.starting_balance < min_balance(&new, settings) => {
                    return fail(R::LowReserve)
                }
                None => {}
            }
            if available_balance(&src, settings) < op.starting_balance {
                return fail(R::Underfunded);
            }
            src.balance -= op.starting_balance;
            if let Some(sponsor_id) = &sponsor {
                if sponsor_id == source {
                    let (sp, sd) = sponsorship_counts(&src);
                    set_sponsorship_counts(&mut src, sp + 2, sd);
                    if src.balance < min_balance(&src, settings) {
                        return fail(R::LowReserve);
                    }
                } else {
                    let Some((mut sp_acct, sp_entry)) = overlay.account(sponsor_id) else {
                        return fail(R::LowReserve);
                    };
                    let (sp, sd) = sponsorship_counts(&sp_acct);
                    set_sponsorship_counts(&mut sp_acct, sp + 2, sd);
                    if sp_acct.balance < min_balance(&sp_acct, settings) {
                        return fail(R::LowReserve);
                    }
                    overlay.put_account(sp_acct, sp_entry, seq);
                }
            }
            overlay.put_account(src, src_entry, seq);
            let entry = account_ledger_entry(new, seq, sponsor);
            overlay.put(
                account_key(&op.destination),
                StoredEntry {
                    entry,
                    live_until: None,
                },
            );
            done(OperationResultTr::CreateAccount(R::Success), true)
        }
        OperationBody::Payment(op) => {
            use PaymentResult as R;
            let fail = |r| done(OperationResultTr::Payment(r), false);
            if op.amount <= 0 {
                return fail(R::Malformed);
            }
            if op.asset != Asset::Native {
                // The devnet holds no trustlines, so no account can hold a credit asset.
                return fail(R::SrcNoTrust);
            }
            let dest_id = muxed_to_account(&op.destination);
            if available_balance(&src, settings) < op.amount {
                return fail(R::Underfunded);
            }
            if &dest_id == source {
                return done(OperationResultTr::Payment(R::Success), true);
            }
            let Some((mut dest, dest_entry)) = overlay.account(&dest_id) else {
                return fail(R::NoDestination);
            };
            let Some(new_balance) = dest.balance.checked_add(op.amount) else {
                return fail(R::LineFull);
            };
            src.balance -= op.amount;
            dest.balance = new_balance;
            overlay.put_account(src, src_entry, seq);
            overlay.put_account(dest, dest_entry, seq);
            done(OperationResultTr::Payment(R::Success), true)
        }
        OperationBody::BeginSponsoringFutureReserves(op) => {
            use BeginSponsoringFutureReservesResult as R;
            let fail = |r| done(OperationResultTr::BeginSponsoringFutureReserves(r), false);
            if &op.sponsored_id == source {
                return fail(R::Malformed);
            }
            if sponsorships.contains_key(&op.sponsored_id) {
                return fail(R::AlreadySponsored);
            }
            // A sponsor may not itself be sponsored, nor sponsor its own sponsor.
            if sponsorships.contains_key(source)
                || sponsorships.values().any(|s| s == &op.sponsored_id)
            {
                return fail(R::Recursive);
            }
            sponsorships.insert(op.sponsored_id.clone(), source.clone());
            done(
                OperationResultTr::BeginSponsoringFutureReserves(R::Success),
                true,
            )
        }
        OperationBody::EndSponsoringFutureReserves => {
            use EndSponsoringFutureReservesResult as R;
            if sponsorships.remove(source).is_none() {
                return done(
                    OperationResultTr::EndSponsoringFutureReserves(R::NotSponsored),
                    false,
                );
            }
            done(
                OperationResultTr::EndSponsoringFutureReserves(R::Success),
                true,
            )
        }
        OperationBody::InvokeHostFunction(op) => invoke(op, source, tx, overlay, ctx, diagnostics),
        OperationBody::ExtendFootprintTtl(op) => extend_ttl(op.extend_to, tx, overlay, ctx),
        OperationBody::RestoreFootprint(_) => restore(tx, overlay, ctx),
        _ => OpOutput {
            result: OperationResult::OpNotSupported,
            success: false,
            soroban: None,
            refundable_fee_used: 0,
        },
    }
}

/// The Soroban data and the indices of entries marked for restoration; `None` only for a
/// transaction validation would have refused (a Soroban operation without Soroban data).
fn soroban_parts(tx: &ParsedTx) -> Option<(&SorobanTransactionData, Vec<u32>)> {
    let data = tx.soroban_data()?;
    let restored = match &data.ext {
        SorobanTransactionDataExt::V1(e) => e.archived_soroban_entries.to_vec(),
        SorobanTransactionDataExt::V0 => vec![],
    };
    Some((data, restored))
}

fn is_classic(key: &LedgerKey) -> bool {
    durability(key).is_none()
}

/// The resources a transaction declared, for the fee functions.
fn declared_resources(
    tx: &ParsedTx,
    data: &SorobanTransactionData,
    events_size: u32,
) -> TransactionResources {
    let fp = &data.resources.footprint;
    let restored = match &data.ext {
        SorobanTransactionDataExt::V1(e) => e.archived_soroban_entries.len() as u32,
        SorobanTransactionDataExt::V0 => 0,
    };
    let classic = fp
        .read_only
        .iter()
        .chain(fp.read_write.iter())
        .filter(|k| is_classic(k))
        .count() as u32;
    TransactionResources {
        instructions: data.resources.instructions,
        disk_read_entries: classic + restored,
        write_entries: fp.read_write.len() as u32,
        disk_read_bytes: data.resources.disk_read_bytes,
        write_bytes: data.resources.write_bytes,
        contract_events_size_bytes: events_size,
        transaction_size_bytes: tx.size,
    }
}

/// Resources of Soroban transactions counted against the ledger-wide limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerUsage {
    /// Transactions.
    pub txs: u32,
    /// Instructions.
    pub instructions: u64,
    /// Disk-read entries.
    pub disk_read_entries: u64,
    /// Disk-read bytes.
    pub disk_read_bytes: u64,
    /// Written entries.
    pub write_entries: u64,
    /// Written bytes.
    pub write_bytes: u64,
    /// Envelope bytes.
    pub tx_size: u64,
}

impl LedgerUsage {
    /// The sum of two usages.
    pub fn add(&self, o: &LedgerUsage) -> LedgerUsage {
        LedgerUsage {
            txs: self.txs + o.txs,
            instructions: self.instructions + o.instructions,
            disk_read_entries: self.disk_read_entries + o.disk_read_entries,
            disk_read_bytes: self.disk_read_bytes + o.disk_read_bytes,
            write_entries: self.write_entries + o.write_entries,
            write_bytes: self.write_bytes + o.write_bytes,
            tx_size: self.tx_size + o.tx_size,
        }
    }

    /// Whether the usage is within the ledger-wide limits.
    pub fn within(&self, s: &NetworkSettings) -> bool {
        self.within_times(s, 1)
    }

    /// Whether the usage is within `k` times the ledger-wide limits (the queue's bound).
    pub fn within_times(&self, s: &NetworkSettings, k: u64) -> bool {
        self.txs as u64 <= s.ledger_max_tx_count as u64 * k
            && self.instructions <= s.ledger_max_instructions.saturating_mul(k)
            && self.disk_read_entries <= s.ledger_max_disk_read_entries as u64 * k
            && self.disk_read_bytes <= s.ledger_max_disk_read_bytes as u64 * k
            && self.write_entries <= s.ledger_max_write_entries as u64 * k
            && self.write_bytes <= s.ledger_max_write_bytes as u64 * k
            && self.tx_size <= s.ledger_max_tx_size_bytes as u64 * k
    }
}

/// The declared resources of one Soroban transaction, as counted against the ledger.
pub fn usage_of(tx: &ParsedTx, data: &SorobanTransactionData) -> LedgerUsage {
    let r = declared_resources(tx, data, 0);
    LedgerUsage {
        txs: 1,
        instructions: r.instructions as u64,
        disk_read_entries: r.disk_read_entries as u64,
        disk_read_bytes: r.disk_read_bytes as u64,
        write_entries: r.write_entries as u64,
        write_bytes: r.write_bytes as u64,
        tx_size: r.transaction_size_bytes as u64,
    }
}

/// The non-refundable part of the resource fee the declared resources cost.
pub fn non_refundable_fee(
    tx: &ParsedTx,
    data: &SorobanTransactionData,
    settings: &NetworkSettings,
) -> i64 {
    compute_transaction_resource_fee(
        &declared_resources(tx, data, 0),
        &settings.fee_configuration(),
    )
    .0
}

/// Checks declared Soroban resources against the network limits and the declared fee.
pub fn check_soroban_resources(
    tx: &ParsedTx,
    data: &SorobanTransactionData,
    settings: &NetworkSettings,
) -> Result<(), TxFail> {
    let r = &data.resources;
    let res = declared_resources(tx, data, 0);
    let keys = r.footprint.read_only.len() + r.footprint.read_write.len();
    let over = r.instructions > settings.tx_max_instructions
        || keys as u32 > settings.tx_max_footprint_entries
        || res.disk_read_entries > settings.tx_max_disk_read_entries
        || r.disk_read_bytes > settings.tx_max_disk_read_bytes
        || res.write_entries > settings.tx_max_write_entries
        || r.write_bytes > settings.tx_max_write_bytes
        || tx.size > settings.tx_max_size_bytes;
    if over || data.resource_fee < 0 {
        return Err(TxFail::SorobanInvalid);
    }
    // Contract data keys above the network's key size limit (stellar-core checks the
    // footprint before the transaction enters a ledger).
    let key_too_big = r
        .footprint
        .read_only
        .iter()
        .chain(r.footprint.read_write.iter())
        .any(|k| {
            matches!(k, LedgerKey::ContractData(_))
                && k.to_xdr(Limits::none()).map_or(true, |b| {
                    b.len() as u32 > settings.max_contract_data_key_size_bytes
                })
        });
    if key_too_big {
        return Err(TxFail::SorobanInvalid);
    }
    // A transaction that could never fit in a ledger alone.
    if !usage_of(tx, data).within(settings) {
        return Err(TxFail::SorobanInvalid);
    }
    if data.resource_fee < non_refundable_fee(tx, data, settings) {
        return Err(TxFail::SorobanInvalid);
    }
    Ok(())
}

fn refundable_budget(
    tx: &ParsedTx,
    data: &SorobanTransactionData,
    settings: &NetworkSettings,
) -> i64 {
    (data.resource_fee - non_refundable_fee(tx, data, settings)).max(0)
}

fn xdr_size(entry: &LedgerEntry) -> u32 {
    entry
        .to_xdr(Limits::none())
        .map(|b| b.len() as u32)
        .unwrap_or(0)
}

fn rent_size(entry: &LedgerEntry) -> u32 {
    let budget = Budget::default();
    e2e_invoke::entry_size_for_rent(&budget, entry, xdr_size(entry))
        .unwrap_or_else(|_| xdr_size(entry))
}

fn invoke(
    op: &soroban_env_host::xdr::InvokeHostFunctionOp,
    source: &AccountId,
    tx: &ParsedTx,
    overlay: &mut Overlay,
    ctx: &LedgerContext,
    diagnostics: &mut Vec<DiagnosticEvent>,
) -> OpOutput {
    use InvokeHostFunctionResult as R;
    let fail = |r| done(OperationResultTr::InvokeHostFunction(r), false);
    let settings = ctx.settings;
    let seq = ctx.sequence;
    let Some((data, restored)) = soroban_parts(tx) else {
        return fail(R::Malformed);
    };
    let fp = &data.resources.footprint;
    let min_persistent_until = seq + settings.min_persistent_entry_ttl - 1;
    let ro_len = fp.read_only.len();
    let mut encoded_entries = Vec::new();
    let mut read_bytes = 0u32;
    for (i, key) in fp.read_only.iter().chain(fp.read_write.iter()).enumerate() {
        let restoring = i >= ro_len && restored.contains(&((i - ro_len) as u32));
        let item = match overlay.get(key) {
            None => (None, None),
            Some(stored) => match stored.liveness(key, seq) {
                Liveness::Expired => (None, None),
                Liveness::Archived if !restoring => return fail(R::EntryArchived),
                live => {
                    let bytes = match stored.entry.to_xdr(Limits::none()) {
                        Ok(b) => b,
                        Err(_) => return fail(R::Malformed),
                    };
                    if is_classic(key) || live == Liveness::Archived {
                        read_bytes += bytes.len() as u32;
                    }
                    let ttl = stored.live_until.map(|until| TtlLedgerEntryMeta {
                        live_until_ledger: if live == Liveness::Archived {
                            min_persistent_until
                        } else {
                            until
                        },
                        entry_size_for_rent: rent_size(&stored.entry),
                    });
                    (Some(bytes), ttl)
                }
            },
        };
        encoded_entries.push(item);
    }
    if read_bytes > data.resources.disk_read_bytes {
        return fail(R::ResourceLimitExceeded);
    }
    let budget = match settings.budget(data.resources.instructions) {
        Ok(b) => b,
        Err(_) => return fail(R::ResourceLimitExceeded),
    };
    let enc = |v: &dyn WriteXdrDyn| v.encode();
    let (Some(host_fn), Some(resources), Some(source_enc)) =
        (enc(&op.host_function), enc(&data.resources), enc(source))
    else {
        return fail(R::Malformed);
    };
    let mut auth = Vec::new();
    for a in op.auth.iter() {
        match a.to_xdr(Limits::none()) {
            Ok(b) => auth.push(b),
            Err(_) => return fail(R::Malformed),
        }
    }
    let ledger_info = settings.ledger_info(seq, ctx.close_time, ctx.network_id);
    let seed = crate::keys::sha256(&[tx.hash.as_slice(), &[0u8]].concat());
    let result = e2e_invoke::invoke_host_function(
        &budget,
        ctx.diagnostics,
        host_fn,
        resources,
        &restored,
        source_enc,
        auth.into_iter(),
        ledger_info,
        encoded_entries.into_iter(),
        seed.to_vec(),
        diagnostics,
        None,
        ctx.module_cache.clone(),
    );
    let Ok(result) = result else {
        return fail(if budget.get_cpu_insns_remaining().unwrap_or(0) == 0 {
            R::ResourceLimitExceeded
        } else {
            R::Trapped
        });
    };
    let Ok(ret_bytes) = result.encoded_invoke_result else {
        let exhausted = budget.get_cpu_insns_remaining().unwrap_or(0) == 0
            || budget.get_mem_bytes_remaining().unwrap_or(0) == 0;
        return fail(if exhausted {
            R::ResourceLimitExceeded
        } else {
            R::Trapped
        });
    };
    let Ok(return_value) = ScVal::from_xdr(&ret_bytes, Limits::none()) else {
        return fail(R::Trapped);
    };
    let mut events = Vec::new();
    let mut events_size = ret_bytes.len() as u32;
    for e in &result.encoded_contract_events {
        events_size += e.len() as u32;
        match ContractEvent::from_xdr(e, Limits::none()) {
            Ok(ev) => events.push(ev),
            Err(_) => return fail(R::Trapped),
        }
    }
    if events_size > settings.tx_max_events_size_bytes {
        return fail(R::ResourceLimitExceeded);
    }
    // Writes: bytes within the declared budget, entries within the size limits.
    let mut write_bytes = 0u32;
    for ch in &result.ledger_changes {
        if let Some(v) = &ch.encoded_new_value {
            write_bytes += v.len() as u32;
            let too_big = match LedgerKey::from_xdr(&ch.encoded_key, Limits::none()) {
                Ok(LedgerKey::ContractCode(_)) => v.len() as u32 > settings.max_contract_size_bytes,
                Ok(LedgerKey::ContractData(_)) => {
                    v.len() as u32 > settings.max_contract_data_entry_size_bytes
                }
                _ => false,
            };
            if too_big {
                return fail(R::ResourceLimitExceeded);
            }
        }
    }
    if write_bytes > data.resources.write_bytes {
        return fail(R::ResourceLimitExceeded);
    }
    let rent_changes = e2e_invoke::extract_rent_changes(&result.ledger_changes);
    let rent_fee = compute_rent_fee(&rent_changes, &settings.rent_fee_configuration(), seq);
    let events_fee = compute_transaction_resource_fee(
        &TransactionResources {
            contract_events_size_bytes: events_size,
            ..zero_resources()
        },
        &settings.fee_configuration(),
    )
    .1;
    let refundable = rent_fee + events_fee;
    if refundable > refundable_budget(tx, data, settings) {
        return fail(R::InsufficientRefundableFee);
    }
    for ch in result.ledger_changes {
        let Ok(key) = LedgerKey::from_xdr(&ch.encoded_key, Limits::none()) else {
            return fail(R::Trapped);
        };
        let new_ttl = ch.ttl_change.as_ref().map(|t| t.new_live_until_ledger);
        if ch.read_only {
            // A read-only entry can only have its TTL extended.
            if let (Some(until), Some(mut stored)) = (new_ttl, overlay.get(&key)) {
                if stored.live_until.is_some_and(|old| until > old) {
                    stored.live_until = Some(until);
                    overlay.put(key, stored);
                }
            }
            continue;
        }
        match ch.encoded_new_value {
            Some(bytes) => {
                let Ok(mut entry) = LedgerEntry::from_xdr(&bytes, Limits::none()) else {
                    return fail(R::Trapped);
                };
                entry.last_modified_ledger_seq = seq;
                if let (LedgerEntryData::ContractCode(code), Some(cache)) =
                    (&entry.data, &ctx.module_cache)
                {
                    crate::modules::add(cache, code.code.as_slice());
                }
                overlay.put(
                    key,
                    StoredEntry {
                        entry,
                        live_until: new_ttl,
                    },
                );
            }
            None => overlay.delete(key),
        }
    }
    let preimage = InvokeHostFunctionSuccessPreImage {
        return_value: return_value.clone(),
        events: events.clone().try_into().unwrap_or_default(),
    };
    let hash = crate::keys::sha256(&preimage.to_xdr(Limits::none()).unwrap_or_default());
    OpOutput {
        result: OperationResult::OpInner(OperationResultTr::InvokeHostFunction(R::Success(Hash(
            hash,
        )))),
        success: true,
        soroban: Some(SorobanOutput {
            return_value,
            events,
        }),
        refundable_fee_used: refundable,
    }
}

/// XDR encoding behind a trait object, so the host inputs are encoded in one place.
trait WriteXdrDyn {
    fn encode(&self) -> Option<Vec<u8>>;
}

impl<T: WriteXdr> WriteXdrDyn for T {
    fn encode(&self) -> Option<Vec<u8>> {
        self.to_xdr(Limits::none()).ok()
    }
}

fn zero_resources() -> TransactionResources {
    TransactionResources {
        instructions: 0,
        disk_read_entries: 0,
        write_entries: 0,
        disk_read_bytes: 0,
        write_bytes: 0,
        contract_events_size_bytes: 0,
        transaction_size_bytes: 0,
    }
}

fn extend_ttl(
    extend_to: u32,
    tx: &ParsedTx,
    overlay: &mut Overlay,
    ctx: &LedgerContext,
) -> OpOutput {
    use ExtendFootprintTtlResult as R;
    let fail = |r| done(OperationResultTr::ExtendFootprintTtl(r), false);
    let settings = ctx.settings;
    let seq = ctx.sequence;
    let Some((data, _)) = soroban_parts(tx) else {
        return fail(R::Malformed);
    };
    let fp = &data.resources.footprint;
    if !fp.read_write.is_empty()
        || extend_to > settings.max_entry_ttl - 1
        || fp.read_only.iter().any(is_classic)
    {
        return fail(R::Malformed);
    }
    let new_until = seq + extend_to;
    let mut rent_changes = Vec::new();
    let mut updates = Vec::new();
    for key in fp.read_only.iter() {
        let Some(stored) = overlay.get(key) else {
            continue;
        };
        if stored.liveness(key, seq) != Liveness::Live {
            continue;
        }
        let old = stored.live_until.unwrap_or(0);
        if old >= new_until {
            continue;
        }
        let size = rent_size(&stored.entry);
        rent_changes.push(LedgerEntryRentChange {
            is_persistent: durability(key)
                == Some(soroban_env_host::xdr::ContractDataDurability::Persistent),
            is_code_entry: matches!(key, LedgerKey::ContractCode(_)),
            old_size_bytes: size,
            new_size_bytes: size,
            old_live_until_ledger: old,
            new_live_until_ledger: new_until,
        });
        updates.push((
            key.clone(),
            StoredEntry {
                live_until: Some(new_until),
                ..stored
            },
        ));
    }
    let Some(rent) = charge_rent(tx, data, ctx, &rent_changes, updates, overlay) else {
        return fail(R::InsufficientRefundableFee);
    };
    OpOutput {
        result: OperationResult::OpInner(OperationResultTr::ExtendFootprintTtl(R::Success)),
        success: true,
        soroban: None,
        refundable_fee_used: rent,
    }
}

fn restore(tx: &ParsedTx, overlay: &mut Overlay, ctx: &LedgerContext) -> OpOutput {
    use RestoreFootprintResult as R;
    let fail = |r| done(OperationResultTr::RestoreFootprint(r), false);
    let settings = ctx.settings;
    let seq = ctx.sequence;
    let Some((data, _)) = soroban_parts(tx) else {
        return fail(R::Malformed);
    };
    let fp = &data.resources.footprint;
    let persistent = |k: &LedgerKey| {
        durability(k) == Some(soroban_env_host::xdr::ContractDataDurability::Persistent)
    };
    if !fp.read_only.is_empty() || !fp.read_write.iter().all(persistent) {
        return fail(R::Malformed);
    }
    let new_until = seq + settings.min_persistent_entry_ttl - 1;
    let mut rent_changes = Vec::new();
    let mut updates = Vec::new();
    for key in fp.read_write.iter() {
        let Some(stored) = overlay.get(key) else {
            continue;
        };
        if stored.liveness(key, seq) != Liveness::Archived {
            continue;
        }
        let size = rent_size(&stored.entry);
        rent_changes.push(LedgerEntryRentChange {
            is_persistent: true,
            is_code_entry: matches!(key, LedgerKey::ContractCode(_)),
            old_size_bytes: 0,
            new_size_bytes: size,
            old_live_until_ledger: 0,
            new_live_until_ledger: new_until,
        });
        updates.push((
            key.clone(),
            StoredEntry {
                live_until: Some(new_until),
                ..stored
            },
        ));
    }
    let Some(rent) = charge_rent(tx, data, ctx, &rent_changes, updates, overlay) else {
        return fail(R::InsufficientRefundableFee);
    };
    OpOutput {
        result: OperationResult::OpInner(OperationResultTr::RestoreFootprint(R::Success)),
        success: true,
        soroban: None,
        refundable_fee_used: rent,
    }
}

/// The rent of `rent_changes`, if the transaction's refundable fee covers it; only then are
/// the new TTLs written (a TTL extension and a restore charge and apply rent the same way).
fn charge_rent(
    tx: &ParsedTx,
    data: &SorobanTransactionData,
    ctx: &LedgerContext,
    rent_changes: &[LedgerEntryRentChange],
    updates: Vec<(LedgerKey, StoredEntry)>,
    overlay: &mut Overlay,
) -> Option<i64> {
    let rent = compute_rent_fee(
        rent_changes,
        &ctx.settings.rent_fee_configuration(),
        ctx.sequence,
    );
    if rent > refundable_budget(tx, data, ctx.settings) {
        return None;
    }
    for (k, v) in updates {
        overlay.put(k, v);
    }
    Some(rent)
}
