//! What a closed ledger leaves behind, in the network's XDR: each transaction's
//! `TransactionMeta` (V4, protocol 23 and later) with its fee processing, the ledger header
//! chain, and the `LedgerCloseMeta` (V2) that `getLedgers` serves and the data directory keeps.

use soroban_env_host::xdr::{
    AccountId, Asset, ContractEvent, ContractEventBody, ContractEventType, ContractEventV0,
    ContractId, ContractIdPreimage, DiagnosticEvent, ExtensionPoint, GeneralizedTransactionSet,
    Hash, HashIdPreimage, HashIdPreimageContractId, Int128Parts, LedgerCloseMeta,
    LedgerCloseMetaExt, LedgerCloseMetaExtV1, LedgerCloseMetaV2, LedgerEntry, LedgerEntryChange,
    LedgerEntryChanges, LedgerEntryData, LedgerEntryExt, LedgerHeader, LedgerHeaderExt,
    LedgerHeaderHistoryEntry, LedgerHeaderHistoryEntryExt, LedgerKey, LedgerKeyTtl, Limits,
    OperationMetaV2, ParallelTxExecutionStage, ParallelTxsComponent, ScAddress, ScSymbol, ScVal,
    SorobanTransactionMetaExt, SorobanTransactionMetaV2, StellarValue, StellarValueExt, TimePoint,
    TransactionEnvelope, TransactionEvent, TransactionEventStage, TransactionMeta,
    TransactionMetaV4, TransactionPhase, TransactionResultMetaV1, TransactionResultPair,
    TransactionSetV1, TtlEntry, TxSetComponent, TxSetComponentTxsMaybeDiscountedFee, WriteXdr,
};

use crate::apply::{Applied, Change, ParsedTx};
use crate::keys::sha256;
use crate::settings::{NetworkSettings, PROTOCOL_VERSION};

/// SHA-256 of the XDR of `v`.
pub fn xdr_hash(v: &impl WriteXdr) -> [u8; 32] {
    sha256(&v.to_xdr(Limits::none()).unwrap_or_default())
}

/// The TTL entry that stellar-core keeps beside a contract entry.
fn ttl_entry(key: &LedgerKey, live_until: u32, last_modified: u32) -> LedgerEntry {
    LedgerEntry {
        last_modified_ledger_seq: last_modified,
        data: LedgerEntryData::Ttl(TtlEntry {
            key_hash: Hash(xdr_hash(key)),
            live_until_ledger_seq: live_until,
        }),
        ext: LedgerEntryExt::V0,
    }
}

fn ttl_key(key: &LedgerKey) -> LedgerKey {
    LedgerKey::Ttl(LedgerKeyTtl {
        key_hash: Hash(xdr_hash(key)),
    })
}

/// Entry changes as the network records them: `state` before `updated`/`removed`, and for
/// contract entries their TTL entry changes beside the entry's own.
pub fn entry_changes(changes: &[Change], ledger: u32) -> LedgerEntryChanges {
    let mut out = Vec::new();
    for (key, before, after) in changes {
        match (before, after) {
            (None, Some(a)) => {
                out.push(LedgerEntryChange::Created(a.entry.clone()));
                if let Some(until) = a.live_until {
                    out.push(LedgerEntryChange::Created(ttl_entry(key, until, ledger)));
                }
            }
            (Some(b), None) => {
                out.push(LedgerEntryChange::State(b.entry.clone()));
                out.push(LedgerEntryChange::Removed(key.clone()));
                if let Some(until) = b.live_until {
                    let lm = b.entry.last_modified_ledger_seq;
                    out.push(LedgerEntryChange::State(ttl_entry(key, until, lm)));
                    out.push(LedgerEntryChange::Removed(ttl_key(key)));
                }
            }
            (Some(b), Some(a)) => {
                if b.entry.data != a.entry.data || b.entry.ext != a.entry.ext {
                    out.push(LedgerEntryChange::State(b.entry.clone()));
                    out.push(LedgerEntryChange::Updated(a.entry.clone()));
                }
                match (b.live_until, a.live_until) {
                    (Some(old), Some(new)) if old != new => {
                        let lm = b.entry.last_modified_ledger_seq;
                        out.push(LedgerEntryChange::State(ttl_entry(key, old, lm)));
                        out.push(LedgerEntryChange::Updated(ttl_entry(key, new, ledger)));
                    }
                    (None, Some(new)) => {
                        out.push(LedgerEntryChange::Created(ttl_entry(key, new, ledger)))
                    }
                    _ => {}
                }
            }
            (None, None) => {}
        }
    }
    LedgerEntryChanges(out.try_into().unwrap_or_default())
}

/// The id of the native asset's Stellar Asset Contract on this network.
pub fn native_asset_contract(network_id: [u8; 32]) -> ContractId {
    let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: Hash(network_id),
        contract_id_preimage: ContractIdPreimage::Asset(Asset::Native),
    });
    ContractId(Hash(xdr_hash(&preimage)))
}

/// A CAP-0067 `fee` event: `amount` charged to (negative: refunded to) `payer`.
pub fn fee_event(
    network_id: [u8; 32],
    payer: &AccountId,
    amount: i64,
    stage: TransactionEventStage,
) -> TransactionEvent {
    let amount = amount as i128;
    TransactionEvent {
        stage,
        event: ContractEvent {
            ext: ExtensionPoint::V0,
            contract_id: Some(native_asset_contract(network_id)),
            type_: ContractEventType::Contract,
            body: ContractEventBody::V0(ContractEventV0 {
                topics: vec![
                    ScVal::Symbol(ScSymbol("fee".try_into().unwrap_or_default())),
                    ScVal::Address(ScAddress::Account(payer.clone())),
                ]
                .try_into()
                .unwrap_or_default(),
                data: ScVal::I128(Int128Parts {
                    hi: (amount >> 64) as i64,
                    lo: amount as u64,
                }),
            }),
        },
    }
}

/// The CAP-0067 `transfer` event of the native Stellar Asset Contract that a classic native
/// payment or account creation emits (protocol 23+): topics `transfer`, from, to, `native`;
/// data the amount (i128). A muxed destination is reported as its underlying account.
fn classic_transfer_event(
    network_id: [u8; 32],
    tx: &ParsedTx,
    op: &soroban_env_host::xdr::Operation,
) -> Option<ContractEvent> {
    use soroban_env_host::xdr::{OperationBody, ScString};
    let from = op
        .source_account
        .as_ref()
        .map(crate::apply::muxed_to_account)
        .unwrap_or_else(|| tx.source());
    let (to, amount) = match &op.body {
        OperationBody::Payment(p) if p.asset == Asset::Native => {
            (crate::apply::muxed_to_account(&p.destination), p.amount)
        }
        OperationBody::CreateAccount(c) => (c.destination.clone(), c.starting_balance),
        _ => return None,
    };
    let amount = amount as i128;
    Some(ContractEvent {
        ext: ExtensionPoint::V0,
        contract_id: Some(native_asset_contract(network_id)),
        type_: ContractEventType::Contract,
        body: ContractEventBody::V0(ContractEventV0 {
            topics: vec![
                ScVal::Symbol(ScSymbol("transfer".try_into().unwrap_or_default())),
                ScVal::Address(ScAddress::Account(from)),
                ScVal::Address(ScAddress::Account(to)),
                ScVal::String(ScString("native".try_into().unwrap_or_default())),
            ]
            .try_into()
            .unwrap_or_default(),
            data: ScVal::I128(Int128Parts {
                hi: (amount >> 64) as i64,
                lo: amount as u64,
            }),
        }),
    })
}

/// The meta of an applied transaction and its fee processing (charge, then refund).
pub struct TxMeta {
    /// `TransactionMeta` V4.
    pub meta: TransactionMeta,
    /// The fee charged before the transaction applied.
    pub fee_processing: LedgerEntryChanges,
    /// The refund after it applied.
    pub post_fee_processing: LedgerEntryChanges,
}

/// Builds the meta of `out`, the application of `tx` in `ledger`.
pub fn build_meta(tx: &ParsedTx, out: &Applied, ledger: u32, network_id: [u8; 32]) -> TxMeta {
    let soroban_meta = out.soroban.as_ref().map(|s| SorobanTransactionMetaV2 {
        ext: SorobanTransactionMetaExt::V0,
        return_value: Some(s.return_value.clone()),
    });
    let op_events = out
        .soroban
        .as_ref()
        .map(|s| s.events.clone())
        .unwrap_or_default();
    // One OperationMeta per operation; a failed transaction's operations changed nothing.
    let op_count = tx.tx.operations.len();
    let operations: Vec<OperationMetaV2> = if out.success {
        (0..op_count)
            .map(|i| OperationMetaV2 {
                ext: ExtensionPoint::V0,
                // The devnet logs the changes of all operations together: they go with the
                // first operation.
                changes: if i == 0 {
                    entry_changes(&out.changes, ledger)
                } else {
                    LedgerEntryChanges::default()
                },
                events: {
                    let mut events = if i == 0 {
                        op_events.clone()
                    } else {
                        Vec::new()
                    };
                    events.extend(classic_transfer_event(network_id, tx, &tx.tx.operations[i]));
                    events.try_into().unwrap_or_default()
                },
            })
            .collect()
    } else {
        vec![]
    };
    let mut tx_events = Vec::new();
    if out.fee_before > 0 {
        let payer = tx.fee_source();
        tx_events.push(fee_event(
            network_id,
            &payer,
            out.fee_before,
            TransactionEventStage::BeforeAllTxs,
        ));
        if out.refund > 0 {
            tx_events.push(fee_event(
                network_id,
                &payer,
                -out.refund,
                TransactionEventStage::AfterTx,
            ));
        }
    }
    let diagnostics: Vec<DiagnosticEvent> = out.diagnostics.clone();
    TxMeta {
        meta: TransactionMeta::V4(TransactionMetaV4 {
            ext: ExtensionPoint::V0,
            tx_changes_before: entry_changes(&out.before_changes, ledger),
            operations: operations.try_into().unwrap_or_default(),
            tx_changes_after: LedgerEntryChanges::default(),
            soroban_meta,
            events: tx_events.try_into().unwrap_or_default(),
            diagnostic_events: diagnostics.try_into().unwrap_or_default(),
        }),
        fee_processing: entry_changes(&out.fee_changes, ledger),
        post_fee_processing: entry_changes(&out.refund_changes, ledger),
    }
}

/// Whether the envelope carries a Soroban operation.
pub fn is_soroban_envelope(env: &TransactionEnvelope) -> bool {
    use soroban_env_host::xdr::FeeBumpTransactionInnerTx;
    let ops = match env {
        TransactionEnvelope::TxV0(e) => &e.tx.operations,
        TransactionEnvelope::Tx(e) => &e.tx.operations,
        TransactionEnvelope::TxFeeBump(fb) => {
            let FeeBumpTransactionInnerTx::Tx(inner) = &fb.tx.inner_tx;
            &inner.tx.operations
        }
    };
    ops.iter().any(|o| crate::ops::is_soroban(&o.body))
}

/// The transaction set of a ledger: a classic phase and a Soroban (parallel) phase, each
/// transaction in application order, each phase with the base fee per operation its
/// transactions were charged (`lane_fees`: classic, Soroban; the surge price of a full lane).
pub fn tx_set(
    previous_ledger_hash: [u8; 32],
    txs: &[TransactionEnvelope],
    lane_fees: Option<(i64, i64)>,
) -> GeneralizedTransactionSet {
    let (soroban, classic): (Vec<_>, Vec<_>) = txs.iter().cloned().partition(is_soroban_envelope);
    let classic_phase = TransactionPhase::V0(
        vec![TxSetComponent::TxsetCompTxsMaybeDiscountedFee(
            TxSetComponentTxsMaybeDiscountedFee {
                base_fee: lane_fees.map(|f| f.0),
                txs: classic.try_into().unwrap_or_default(),
            },
        )]
        .try_into()
        .unwrap_or_default(),
    );
    let stages = if soroban.is_empty() {
        vec![]
    } else {
        vec![ParallelTxExecutionStage(
            vec![soroban_env_host::xdr::DependentTxCluster(
                soroban.try_into().unwrap_or_default(),
            )]
            .try_into()
            .unwrap_or_default(),
        )]
    };
    let soroban_phase = TransactionPhase::V1(ParallelTxsComponent {
        base_fee: lane_fees.map(|f| f.1),
        execution_stages: stages.try_into().unwrap_or_default(),
    });
    GeneralizedTransactionSet::V1(TransactionSetV1 {
        previous_ledger_hash: Hash(previous_ledger_hash),
        phases: vec![classic_phase, soroban_phase]
            .try_into()
            .unwrap_or_default(),
    })
}

/// What a ledger header is built from.
pub struct HeaderInput<'a> {
    /// Hash of the previous header (zero for the first one this devnet knows).
    pub previous_hash: [u8; 32],
    /// Sequence.
    pub sequence: u32,
    /// Close time.
    pub close_time: u64,
    /// The transaction set.
    pub tx_set: &'a GeneralizedTransactionSet,
    /// The results, in application order.
    pub results: &'a [TransactionResultPair],
    /// Lumens in existence.
    pub total_coins: i64,
    /// Fees collected so far.
    pub fee_pool: i64,
    /// Network settings (base fee and reserve, transaction set size).
    pub settings: &'a NetworkSettings,
}

/// A ledger header and its hash (SHA-256 of the header's XDR, as on the network).
pub fn header(input: HeaderInput) -> LedgerHeaderHistoryEntry {
    let results: Vec<u8> = input
        .results
        .iter()
        .flat_map(|r| r.to_xdr(Limits::none()).unwrap_or_default())
        .collect();
    let header = LedgerHeader {
        ledger_version: PROTOCOL_VERSION,
        previous_ledger_hash: Hash(input.previous_hash),
        scp_value: StellarValue {
            tx_set_hash: Hash(xdr_hash(input.tx_set)),
            close_time: TimePoint(input.close_time),
            upgrades: Default::default(),
            ext: StellarValueExt::Basic,
        },
        tx_set_result_hash: Hash(sha256(&results)),
        // No bucket list here: the state is one in-memory map.
        bucket_list_hash: Hash([0; 32]),
        ledger_seq: input.sequence,
        total_coins: input.total_coins,
        fee_pool: input.fee_pool,
        inflation_seq: 0,
        id_pool: 0,
        base_fee: input.settings.base_fee as u32,
        base_reserve: input.settings.base_reserve,
        max_tx_set_size: input.settings.ledger_max_classic_ops,
        skip_list: [Hash([0; 32]), Hash([0; 32]), Hash([0; 32]), Hash([0; 32])],
        ext: LedgerHeaderExt::V0,
    };
    LedgerHeaderHistoryEntry {
        hash: Hash(xdr_hash(&header)),
        header,
        ext: LedgerHeaderHistoryEntryExt::V0,
    }
}

/// The `LedgerCloseMeta` (V2) of a ledger.
pub fn close_meta(
    header: LedgerHeaderHistoryEntry,
    tx_set: GeneralizedTransactionSet,
    processing: Vec<TransactionResultMetaV1>,
    fee_per_write_1kb: i64,
) -> LedgerCloseMeta {
    LedgerCloseMeta::V2(LedgerCloseMetaV2 {
        ext: LedgerCloseMetaExt::V1(LedgerCloseMetaExtV1 {
            ext: ExtensionPoint::V0,
            soroban_fee_write1_kb: fee_per_write_1kb,
        }),
        ledger_header: header,
        tx_set,
        tx_processing: processing.try_into().unwrap_or_default(),
        upgrades_processing: Default::default(),
        scp_info: Default::default(),
        total_byte_size_of_live_soroban_state: 0,
        evicted_keys: Default::default(),
    })
}

/// The events of each operation of a V4 meta.
pub fn op_events(meta: &TransactionMeta) -> Vec<Vec<ContractEvent>> {
    match meta {
        TransactionMeta::V4(m) => m.operations.iter().map(|o| o.events.to_vec()).collect(),
        _ => vec![],
    }
}

/// The transaction-level and diagnostic events of a V4 meta.
pub fn tx_and_diagnostic_events(
    meta: &TransactionMeta,
) -> (Vec<TransactionEvent>, Vec<DiagnosticEvent>) {
    match meta {
        TransactionMeta::V4(m) => (m.events.to_vec(), m.diagnostic_events.to_vec()),
        _ => (vec![], vec![]),
    }
}

/// The phases' base fees of a transaction set made by [`tx_set`] (classic, Soroban).
pub fn lane_fees(set: &GeneralizedTransactionSet) -> Option<(i64, i64)> {
    let GeneralizedTransactionSet::V1(v1) = set;
    let mut classic = None;
    let mut soroban = None;
    for phase in v1.phases.iter() {
        match phase {
            TransactionPhase::V0(components) => {
                for c in components.iter() {
                    let TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) = c;
                    classic = classic.or(c.base_fee);
                }
            }
            TransactionPhase::V1(p) => soroban = soroban.or(p.base_fee),
        }
    }
    Some((classic?, soroban?))
}
