//! The network node: ledger state, the queue of submitted transactions, ledger close, and
//! the history the RPC methods serve (transactions, events, ledger close times).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use soroban_env_host::xdr::{
    ContractEvent, DiagnosticEvent, ExtensionPoint, Hash, LedgerCloseMeta, LedgerEntryChanges,
    LedgerHeaderHistoryEntry, LedgerKey, TransactionEnvelope, TransactionEvent, TransactionMeta,
    TransactionResult, TransactionResultMetaV1, TransactionResultPair, TransactionResultResult,
};

use crate::apply::{self, Applied, LedgerContext, ParsedTx};
use crate::history;
use crate::keys::{network_id, Keypair};
use crate::ops;
use crate::settings::NetworkSettings;
use crate::state::{LedgerState, StoredEntry};

/// Total lumens in the genesis root account, as on the quickstart: 100 billion XLM.
pub const GENESIS_BALANCE: i64 = 1_000_000_000_000_000_000;

/// A transaction that made it into a ledger.
#[derive(Clone, Debug)]
pub struct TxRecord {
    /// Hex hash.
    pub hash: String,
    /// Ledger it was applied in.
    pub ledger: u32,
    /// 1-based position in that ledger.
    pub application_order: u32,
    /// Close time of that ledger.
    pub created_at: u64,
    /// The envelope.
    pub envelope: TransactionEnvelope,
    /// The result.
    pub result: TransactionResult,
    /// The meta (V4).
    pub meta: TransactionMeta,
    /// The fee charged before it applied (`feeProcessing`).
    pub fee_processing: LedgerEntryChanges,
    /// The refund after it applied (`postTxApplyFeeProcessing`).
    pub post_fee_processing: LedgerEntryChanges,
    /// Whether it succeeded.
    pub success: bool,
    /// Whether the envelope is a fee-bump.
    pub fee_bump: bool,
    /// Contract events emitted (one list per operation).
    pub events: Vec<Vec<ContractEvent>>,
    /// Transaction-level events (CAP-0067 fee events).
    pub tx_events: Vec<TransactionEvent>,
    /// Diagnostic events.
    pub diagnostics: Vec<DiagnosticEvent>,
    /// The inclusion fee charged (the fee charged less the resource fee charged).
    pub inclusion_fee: i64,
    /// The operations that fee is counted over (ops + 1 for a fee-bump).
    pub fee_ops: i64,
    /// Whether it is a Soroban transaction.
    pub soroban: bool,
}

impl TxRecord {
    /// A record from what the network keeps of a transaction.
    fn new(
        envelope: TransactionEnvelope,
        hash: String,
        p: TransactionResultMetaV1,
        ledger: u32,
        order: u32,
        created_at: u64,
        fees: (i64, i64, bool),
    ) -> Self {
        let success = matches!(
            p.result.result.result,
            TransactionResultResult::TxSuccess(_)
                | TransactionResultResult::TxFeeBumpInnerSuccess(_)
        );
        let events = history::op_events(&p.tx_apply_processing);
        let (tx_events, diagnostics) = history::tx_and_diagnostic_events(&p.tx_apply_processing);
        Self {
            hash,
            ledger,
            application_order: order,
            created_at,
            fee_bump: matches!(envelope, TransactionEnvelope::TxFeeBump(_)),
            envelope,
            result: p.result.result,
            meta: p.tx_apply_processing,
            fee_processing: p.fee_processing,
            post_fee_processing: p.post_tx_apply_fee_processing,
            success,
            events,
            tx_events,
            diagnostics,
            inclusion_fee: fees.0,
            fee_ops: fees.1,
            soroban: fees.2,
        }
    }

    fn processing(&self) -> TransactionResultMetaV1 {
        let mut h = [0u8; 32];
        let _ = hex::decode_to_slice(&self.hash, &mut h);
        TransactionResultMetaV1 {
            ext: ExtensionPoint::V0,
            result: TransactionResultPair {
                transaction_hash: Hash(h),
                result: self.result.clone(),
            },
            fee_processing: self.fee_processing.clone(),
            tx_apply_processing: self.meta.clone(),
            post_tx_apply_fee_processing: self.post_fee_processing.clone(),
        }
    }
}

/// A contract event with where it happened.
#[derive(Clone, Debug)]
pub struct EventRecord {
    /// Paging id: TOID of the operation and the event index.
    pub id: String,
    /// Ledger.
    pub ledger: u32,
    /// Close time of the ledger.
    pub ledger_closed_at: u64,
    /// Transaction index in the ledger (1-based).
    pub tx_index: u32,
    /// Operation index.
    pub op_index: u32,
    /// Transaction hash, hex.
    pub tx_hash: String,
    /// The event.
    pub event: ContractEvent,
}

/// Why a submission was refused.
#[derive(Debug)]
pub enum SubmitError {
    /// The same hash is already queued or applied.
    Duplicate(String),
    /// The source account already has a transaction queued: stellar-core's queue holds one
    /// per source account and answers `TRY_AGAIN_LATER` until it is applied.
    TryAgainLater(String),
    /// Validation failed.
    Invalid {
        /// Hex hash of the transaction (empty if it could not be hashed).
        hash: String,
        /// What was wrong, for logs.
        reason: String,
        /// The result to return as `errorResultXdr`.
        result: Box<TransactionResult>,
    },
}

/// The node.
pub struct Node {
    /// Network settings.
    pub settings: NetworkSettings,
    /// Network passphrase.
    pub passphrase: String,
    /// SHA-256 of the passphrase.
    pub network_id: [u8; 32],
    /// The state after the last close; shared with simulations in flight.
    pub state: Arc<LedgerState>,
    /// How many ledgers of history (transactions, events) are kept.
    pub retention_ledgers: u32,
    pending: Vec<ParsedTx>,
    pending_hashes: HashSet<[u8; 32]>,
    txs: HashMap<String, TxRecord>,
    tx_order: Vec<String>,
    events: Vec<EventRecord>,
    headers: BTreeMap<u32, LedgerHeaderHistoryEntry>,
    fee_pool: i64,
    /// Each retained ledger's base fee per operation in the classic and Soroban lanes.
    lane_fees: BTreeMap<u32, (i64, i64)>,
    /// Ledgers closed since the history was last written to the data directory.
    unsaved: Vec<u32>,
    /// Whether the state changed since it was last saved.
    pub dirty: bool,
    /// Whether invocations record diagnostic events.
    pub diagnostics: bool,
    module_cache: soroban_env_host::ModuleCache,
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Node {
    /// A new network at genesis: ledger 1 with the root account holding all lumens.
    pub fn genesis(settings: NetworkSettings, passphrase: &str, retention_ledgers: u32) -> Self {
        let root = Keypair::root(passphrase);
        let mut state = LedgerState {
            sequence: 1,
            close_time: now(),
            entries: BTreeMap::new(),
        };
        let account = ops::new_account(root.account_id(), GENESIS_BALANCE, 0);
        state.entries.insert(
            apply::account_key(&root.account_id()),
            StoredEntry {
                entry: ops::account_ledger_entry(account, 1, None),
                live_until: None,
            },
        );
        Self::with_state(settings, passphrase, retention_ledgers, state)
    }

    /// A node over an existing state (loaded from the data directory).
    pub fn with_state(
        settings: NetworkSettings,
        passphrase: &str,
        retention_ledgers: u32,
        state: LedgerState,
    ) -> Self {
        let module_cache = crate::modules::new_cache();
        crate::modules::add_all(&module_cache, &state);
        let mut node = Self {
            settings,
            passphrase: passphrase.to_string(),
            network_id: network_id(passphrase),
            state: Arc::new(state),
            retention_ledgers: retention_ledgers.max(1),
            pending: Vec::new(),
            pending_hashes: HashSet::new(),
            txs: HashMap::new(),
            tx_order: Vec::new(),
            events: Vec::new(),
            headers: BTreeMap::new(),
            fee_pool: 0,
            lane_fees: BTreeMap::new(),
            unsaved: Vec::new(),
            dirty: true,
            diagnostics: true,
            module_cache,
        };
        // The first ledger this node knows (genesis, or a state loaded without history).
        let (seq, close_time) = (node.state.sequence, node.state.close_time);
        node.add_ledger(seq, close_time, vec![]);
        node
    }

    /// Adds the history of `metas` (ledgers read back from the data directory): those within
    /// the retention window and not after the state's ledger (a crash between writing the
    /// history and the state leaves history ahead of the state).
    pub fn restore_history(&mut self, metas: Vec<LedgerCloseMeta>) {
        let latest = self.state.sequence;
        let keep_from = latest.saturating_sub(self.retention_ledgers - 1);
        let mut restored = false;
        for meta in metas {
            let LedgerCloseMeta::V2(m) = meta else {
                continue;
            };
            let h = m.ledger_header;
            let seq = h.header.ledger_seq;
            if seq > latest || seq < keep_from {
                continue;
            }
            if !restored {
                // Replace the placeholder header made at start.
                self.headers.clear();
                restored = true;
            }
            let close_time = h.header.scp_value.close_time.0;
            let mut by_hash = HashMap::new();
            for env in tx_set_envelopes(&m.tx_set) {
                if let Ok(p) = ParsedTx::new(env.clone(), self.network_id) {
                    by_hash.insert(p.hash, (env, p));
                }
            }
            for (i, p) in m.tx_processing.to_vec().into_iter().enumerate() {
                let Some((env, parsed)) = by_hash.remove(&p.result.transaction_hash.0) else {
                    continue;
                };
                let hash = hex::encode(p.result.transaction_hash.0);
                // The history keeps no split of the fee: a classic transaction's fee is all
                // inclusion fee; a Soroban one's is taken as its bid, capped by the charge.
                let inclusion = if parsed.is_soroban() {
                    apply::inclusion_bid(&parsed).min(p.result.result.fee_charged)
                } else {
                    p.result.result.fee_charged
                };
                let fees = (inclusion, apply::fee_ops(&parsed), parsed.is_soroban());
                self.push_tx(TxRecord::new(
                    env,
                    hash,
                    p,
                    seq,
                    i as u32 + 1,
                    close_time,
                    fees,
                ));
            }
            self.fee_pool = h.header.fee_pool;
            if let Some(f) = history::lane_fees(&m.tx_set) {
                self.lane_fees.insert(seq, f);
            }
            self.headers.insert(seq, h);
        }
        if restored && !self.headers.contains_key(&latest) {
            // The state moved on after the last ledger in the history (skipped ledgers).
            let close_time = self.state.close_time;
            self.add_ledger(latest, close_time, vec![]);
        }
        self.unsaved.clear();
    }

    /// The retained ledgers' close metas, oldest first (to compact the history file).
    pub fn all_close_metas(&self) -> Vec<LedgerCloseMeta> {
        self.headers
            .keys()
            .filter_map(|s| self.close_meta(*s))
            .collect()
    }

    /// Takes the close metas of the ledgers closed since the last call.
    pub fn take_unsaved(&mut self) -> Vec<LedgerCloseMeta> {
        std::mem::take(&mut self.unsaved)
            .into_iter()
            .filter_map(|s| self.close_meta(s))
            .collect()
    }

    /// The header of ledger `seq`, if retained.
    pub fn header(&self, seq: u32) -> Option<&LedgerHeaderHistoryEntry> {
        self.headers.get(&seq)
    }

    /// Retained ledger sequences from `from`, in order.
    pub fn ledgers_from(&self, from: u32) -> impl Iterator<Item = u32> + '_ {
        self.headers.range(from..).map(|(s, _)| *s)
    }

    /// The `LedgerCloseMeta` of ledger `seq`, if retained.
    pub fn close_meta(&self, seq: u32) -> Option<LedgerCloseMeta> {
        let header = self.headers.get(&seq)?.clone();
        let txs = self.ledger_txs(seq);
        let envelopes: Vec<TransactionEnvelope> = txs.iter().map(|t| t.envelope.clone()).collect();
        let set = history::tx_set(
            header.header.previous_ledger_hash.0,
            &envelopes,
            self.lane_fees.get(&seq).copied(),
        );
        let processing = txs.iter().map(|t| t.processing()).collect();
        Some(history::close_meta(
            header,
            set,
            processing,
            self.settings.fee_per_write_1kb,
        ))
    }

    /// The transactions of ledger `seq` in application order.
    fn ledger_txs(&self, seq: u32) -> Vec<&TxRecord> {
        let ledger_of = |h: &String| self.txs.get(h).map(|t| t.ledger).unwrap_or(0);
        let start = self.tx_order.partition_point(|h| ledger_of(h) < seq);
        self.tx_order[start..]
            .iter()
            .filter_map(|h| self.txs.get(h))
            .take_while(|t| t.ledger == seq)
            .collect()
    }

    /// Records the header of a ledger just closed with `txs` (hashes, in application order).
    fn add_ledger(&mut self, seq: u32, close_time: u64, txs: Vec<String>) {
        let previous_hash = self
            .headers
            .values()
            .next_back()
            .map(|h| h.hash.0)
            .unwrap_or([0; 32]);
        let records: Vec<&TxRecord> = txs.iter().filter_map(|h| self.txs.get(h)).collect();
        let envelopes: Vec<TransactionEnvelope> =
            records.iter().map(|t| t.envelope.clone()).collect();
        let results: Vec<TransactionResultPair> =
            records.iter().map(|t| t.processing().result).collect();
        self.fee_pool += records.iter().map(|t| t.result.fee_charged).sum::<i64>();
        let set = history::tx_set(previous_hash, &envelopes, self.lane_fees.get(&seq).copied());
        let header = history::header(history::HeaderInput {
            previous_hash,
            sequence: seq,
            close_time,
            tx_set: &set,
            results: &results,
            total_coins: GENESIS_BALANCE,
            fee_pool: self.fee_pool,
            settings: &self.settings,
        });
        self.headers.insert(seq, header);
        self.unsaved.push(seq);
    }

    /// Sequence of the last closed ledger.
    pub fn latest_ledger(&self) -> u32 {
        self.state.sequence
    }

    /// Close time of the last closed ledger.
    pub fn latest_close_time(&self) -> u64 {
        self.state.close_time
    }

    /// Oldest ledger still in the history window.
    pub fn oldest_ledger(&self) -> u32 {
        self.headers
            .keys()
            .next()
            .copied()
            .unwrap_or(self.state.sequence)
    }

    /// Close time of ledger `seq`, if retained.
    pub fn close_time_of(&self, seq: u32) -> Option<u64> {
        self.headers
            .get(&seq)
            .map(|h| h.header.scp_value.close_time.0)
    }

    /// Hash of the last closed ledger's header.
    pub fn latest_hash(&self) -> [u8; 32] {
        self.headers
            .get(&self.state.sequence)
            .map(|h| h.hash.0)
            .unwrap_or([0; 32])
    }

    fn next_context(&self) -> (u32, u64) {
        (self.state.sequence + 1, now().max(self.state.close_time))
    }

    /// Validates and queues a transaction for the next ledger.
    pub fn submit(&mut self, envelope: TransactionEnvelope) -> Result<String, SubmitError> {
        let parsed =
            ParsedTx::new(envelope, self.network_id).map_err(|reason| SubmitError::Invalid {
                hash: String::new(),
                reason,
                result: Box::new(TransactionResult {
                    fee_charged: 0,
                    result: soroban_env_host::xdr::TransactionResultResult::TxMalformed,
                    ext: soroban_env_host::xdr::TransactionResultExt::V0,
                }),
            })?;
        let hash = hex::encode(parsed.hash);
        if self.pending_hashes.contains(&parsed.hash) || self.txs.contains_key(&hash) {
            return Err(SubmitError::Duplicate(hash));
        }
        // One queued transaction per source account, as stellar-core's queue (since
        // protocol 19): a second one is answered TRY_AGAIN_LATER, not chained.
        if self.pending.iter().any(|p| p.source() == parsed.source()) {
            return Err(SubmitError::TryAgainLater(hash));
        }
        let (sequence, close_time) = self.next_context();
        let ctx = LedgerContext {
            settings: &self.settings,
            network_id: self.network_id,
            sequence,
            close_time,
            module_cache: Some(self.module_cache.clone()),
            diagnostics: false,
        };
        let check = if self
            .pending
            .iter()
            .any(|p| p.fee_source() == parsed.fee_source())
        {
            // A fee source (a sponsor) may pay for several queued transactions: validate
            // its balance against the state the queue will leave behind.
            let mut projected = (*self.state).clone();
            for p in &self.pending {
                apply::apply(p, &mut projected, &ctx);
            }
            apply::validate(&parsed, &projected, &ctx)
        } else {
            apply::validate(&parsed, &self.state, &ctx)
        };
        if let Err(fail) = check {
            let reason = format!("{fail:?}");
            let result = Box::new(apply::rejection(&parsed, fail));
            return Err(SubmitError::Invalid {
                hash,
                reason,
                result,
            });
        }
        self.make_room(&parsed).map_err(|min_fee| {
            let mut result = apply::rejection(&parsed, apply::TxFail::InsufficientFee);
            // As stellar-core: the fee that would have been accepted.
            result.fee_charged = min_fee;
            SubmitError::Invalid {
                hash: hash.clone(),
                reason: format!("queue full: a fee of at least {min_fee} is needed"),
                result: Box::new(result),
            }
        })?;
        self.pending_hashes.insert(parsed.hash);
        self.pending.push(parsed);
        Ok(hash)
    }

    /// Makes room in `tx`'s lane of the queue when it is full (stellar-core keeps
    /// [`QUEUE_SIZE_MULTIPLIER`] ledgers' worth): evicts the lowest bids per operation while
    /// `tx` bids more than each (only the last queued transaction of an account other than
    /// `tx`'s, so no queued chain is broken); else refuses `tx`, giving the lowest fee that
    /// would beat the lowest queued bid.
    fn make_room(&mut self, tx: &ParsedTx) -> Result<(), i64> {
        let mut victims: HashSet<[u8; 32]> = HashSet::new();
        loop {
            let kept = || self.pending.iter().filter(|p| !victims.contains(&p.hash));
            if queue_has_room(kept(), tx, &self.settings) {
                break;
            }
            // The lowest bid among the tails of other accounts' chains in this lane (ties: the
            // latest submitted).
            let mut tails: HashMap<soroban_env_host::xdr::AccountId, &ParsedTx> = HashMap::new();
            for p in kept() {
                tails.insert(p.source(), p);
            }
            let pos = |p: &ParsedTx| self.pending.iter().position(|q| q.hash == p.hash);
            let lowest = kept()
                .filter(|p| p.is_soroban() == tx.is_soroban())
                .filter(|p| tails.get(&p.source()).is_some_and(|t| t.hash == p.hash))
                .filter(|p| p.source() != tx.source() && p.fee_source() != tx.fee_source())
                .min_by(|a, b| cmp_bid(a, b).then_with(|| pos(b).cmp(&pos(a))));
            match lowest {
                Some(v) if cmp_bid(tx, v) == std::cmp::Ordering::Greater => {
                    victims.insert(v.hash);
                }
                low => {
                    let ops = apply::fee_ops(tx);
                    let beat = low.map_or(apply::inclusion_bid(tx), |l| {
                        let (f, o) = (apply::inclusion_bid(l) as i128, apply::fee_ops(l) as i128);
                        (f * ops as i128 / o) as i64 + 1
                    });
                    let min = beat.max(ops * self.settings.base_fee);
                    return Err(tx.resource_fee().saturating_add(min));
                }
            }
        }
        if !victims.is_empty() {
            self.pending.retain(|p| !victims.contains(&p.hash));
            self.pending_hashes.retain(|h| !victims.contains(h));
        }
        Ok(())
    }

    /// The sequence number the next transaction from `id` must carry, counting those queued.
    pub fn next_sequence(&self, id: &soroban_env_host::xdr::AccountId) -> Option<i64> {
        let account = self.state.account(&apply::account_key(id))?;
        let queued = self.pending.iter().filter(|p| &p.source() == id).count() as i64;
        Some(account.seq_num.0 + queued + 1)
    }

    /// Skips `n - 1` empty ledgers and closes one more (for tests of TTLs and retention).
    pub fn skip_ledgers(&mut self, n: u32) {
        if n > 1 {
            Arc::make_mut(&mut self.state).sequence += n - 1;
        }
        self.close_ledger();
    }

    /// Moves the ledger clock `secs` seconds ahead and closes a ledger: later ledgers close
    /// no earlier than that time (tests use it to let time-bound grants expire).
    pub fn skip_time(&mut self, secs: u64) {
        let ahead = now().max(self.state.close_time).saturating_add(secs);
        Arc::make_mut(&mut self.state).close_time = ahead;
        self.close_ledger();
    }

    /// Number of transactions waiting for the next ledger.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Closes a ledger: applies the queued transactions that fit the ledger-wide limits,
    /// highest bid per operation first, at the lanes' surge prices (see
    /// [`select_for_ledger`]); the rest wait for the next ledger, as in a full network.
    pub fn close_ledger(&mut self) {
        let (sequence, close_time) = self.next_context();
        let pending = std::mem::take(&mut self.pending);
        let Selection {
            now: pending,
            later,
            classic_fee,
            soroban_fee,
        } = select_for_ledger(pending, &self.settings);
        self.pending_hashes = later.iter().map(|p| p.hash).collect();
        self.pending = later;
        let settings = self.settings.clone();
        let ctx = LedgerContext {
            settings: &settings,
            network_id: self.network_id,
            sequence,
            close_time,
            module_cache: Some(self.module_cache.clone()),
            diagnostics: self.diagnostics,
        };
        let state = Arc::make_mut(&mut self.state);
        state.sequence = sequence;
        state.close_time = close_time;
        state.evict_expired(sequence);
        let mut applied = Vec::new();
        for tx in pending {
            let lane_fee = if tx.is_soroban() {
                soroban_fee
            } else {
                classic_fee
            };
            let out = apply::apply_at(&tx, state, &ctx, lane_fee);
            applied.push((tx, out));
        }
        let mut hashes = Vec::new();
        for (i, (tx, out)) in applied.into_iter().enumerate() {
            hashes.push(self.record(tx, out, sequence, close_time, i as u32 + 1));
        }
        self.lane_fees.insert(sequence, (classic_fee, soroban_fee));
        self.add_ledger(sequence, close_time, hashes);
        self.prune();
        self.dirty = true;
    }

    fn record(
        &mut self,
        tx: ParsedTx,
        out: Applied,
        ledger: u32,
        close_time: u64,
        order: u32,
    ) -> String {
        let hash = hex::encode(tx.hash);
        let fees = (
            (out.fee_before - tx.resource_fee()).max(0),
            apply::fee_ops(&tx),
            tx.is_soroban(),
        );
        let m = history::build_meta(&tx, &out, ledger, self.network_id);
        let p = TransactionResultMetaV1 {
            ext: ExtensionPoint::V0,
            result: TransactionResultPair {
                transaction_hash: Hash(tx.hash),
                result: out.result,
            },
            fee_processing: m.fee_processing,
            tx_apply_processing: m.meta,
            post_tx_apply_fee_processing: m.post_fee_processing,
        };
        self.push_tx(TxRecord::new(
            tx.envelope,
            hash.clone(),
            p,
            ledger,
            order,
            close_time,
            fees,
        ));
        hash
    }

    fn push_tx(&mut self, t: TxRecord) {
        let toid = ((t.ledger as u64) << 32) | ((t.application_order as u64) << 12);
        for (op_index, op_events) in t.events.iter().enumerate() {
            for (i, ev) in op_events.iter().enumerate() {
                let toid = toid | (op_index as u64 + 1).min(4095);
                self.events.push(EventRecord {
                    id: format!("{toid:019}-{i:010}"),
                    ledger: t.ledger,
                    ledger_closed_at: t.created_at,
                    tx_index: t.application_order,
                    op_index: op_index as u32,
                    tx_hash: t.hash.clone(),
                    event: ev.clone(),
                });
            }
        }
        self.tx_order.push(t.hash.clone());
        self.txs.insert(t.hash.clone(), t);
    }

    fn prune(&mut self) {
        let keep_from = self
            .state
            .sequence
            .saturating_sub(self.retention_ledgers - 1);
        self.headers = self.headers.split_off(&keep_from);
        self.lane_fees = self.lane_fees.split_off(&keep_from);
        let stale = self.unsaved.partition_point(|s| *s < keep_from);
        if stale > 0 {
            self.unsaved.drain(..stale);
        }
        // Events and transactions are kept in ledger order: drop the leading run that fell out
        // of the window (each close looks at the front only, not at every retained one).
        let stale = self.events.partition_point(|e| e.ledger < keep_from);
        if stale > 0 {
            self.events.drain(..stale);
        }
        let txs = &mut self.txs;
        let stale = self
            .tx_order
            .iter()
            .take_while(|h| txs.get(*h).is_none_or(|t| t.ledger < keep_from))
            .count();
        for h in self.tx_order.drain(..stale) {
            txs.remove(&h);
        }
    }

    /// The applied transaction with hex hash `hash`, if within the retention window.
    pub fn transaction(&self, hash: &str) -> Option<&TxRecord> {
        self.txs.get(hash)
    }

    /// Whether `hash` is queued for the next ledger.
    pub fn is_pending(&self, hash: &str) -> bool {
        self.pending.iter().any(|p| hex::encode(p.hash) == hash)
    }

    /// Applied transactions in ledger order.
    pub fn transactions(&self) -> impl Iterator<Item = &TxRecord> {
        self.tx_order.iter().filter_map(|h| self.txs.get(h))
    }

    /// Retained events in order.
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    /// The stored entry for `key`.
    pub fn entry(&self, key: &LedgerKey) -> Option<&StoredEntry> {
        self.state.entries.get(key)
    }
}

/// Every envelope of a transaction set.
fn tx_set_envelopes(
    set: &soroban_env_host::xdr::GeneralizedTransactionSet,
) -> Vec<TransactionEnvelope> {
    use soroban_env_host::xdr::{GeneralizedTransactionSet, TransactionPhase, TxSetComponent};
    let GeneralizedTransactionSet::V1(v1) = set;
    let mut out = Vec::new();
    for phase in v1.phases.iter() {
        match phase {
            TransactionPhase::V0(components) => {
                for c in components.iter() {
                    let TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) = c;
                    out.extend(c.txs.iter().cloned());
                }
            }
            TransactionPhase::V1(p) => {
                for stage in p.execution_stages.iter() {
                    for cluster in stage.0.iter() {
                        out.extend(cluster.0.iter().cloned());
                    }
                }
            }
        }
    }
    out
}

/// How many ledgers' worth of transactions the queue holds, per lane, as stellar-core's
/// `TRANSACTION_QUEUE_SIZE_MULTIPLIER` and `SOROBAN_TRANSACTION_QUEUE_SIZE_MULTIPLIER` (2).
pub const QUEUE_SIZE_MULTIPLIER: u64 = 2;

/// Compares two transactions' inclusion fee bids per operation (exactly, by cross products).
fn cmp_bid(a: &ParsedTx, b: &ParsedTx) -> std::cmp::Ordering {
    let (fa, oa) = (apply::inclusion_bid(a) as i128, apply::fee_ops(a) as i128);
    let (fb, ob) = (apply::inclusion_bid(b) as i128, apply::fee_ops(b) as i128);
    (fa * ob).cmp(&(fb * oa))
}

/// What one ledger takes from the queue, and what each lane charges per operation.
struct Selection {
    /// The transactions applied in this ledger, in application order.
    now: Vec<ParsedTx>,
    /// Those that wait, in submission order.
    later: Vec<ParsedTx>,
    /// Inclusion fee per operation charged in the classic lane.
    classic_fee: i64,
    /// Inclusion fee per operation charged in the Soroban lane.
    soroban_fee: i64,
}

/// Builds a ledger's transaction set as stellar-core's surge pricing does (CAP-0005): the
/// queued transactions are taken by inclusion fee bid per operation, highest first (ties:
/// submission order), each source account's in sequence order, while they fit the lane's
/// limits (classic operations; Soroban resources and transaction count). A transaction that
/// does not fit waits, with its account's later ones. A lane that left a transaction out
/// charges every included transaction the lowest included bid per operation (never below
/// the base fee); a lane that took everything charges the base fee.
fn select_for_ledger(pending: Vec<ParsedTx>, settings: &NetworkSettings) -> Selection {
    use std::collections::VecDeque;
    let mut order: HashMap<soroban_env_host::xdr::AccountId, usize> = HashMap::new();
    let mut queues: Vec<VecDeque<(usize, ParsedTx)>> = Vec::new();
    for (i, tx) in pending.into_iter().enumerate() {
        let q = *order.entry(tx.source()).or_insert_with(|| {
            queues.push(VecDeque::new());
            queues.len() - 1
        });
        queues[q].push_back((i, tx));
    }
    let mut now = Vec::new();
    let mut later: Vec<(usize, ParsedTx)> = Vec::new();
    let mut classic_ops = 0u32;
    let mut soroban = ops::LedgerUsage::default();
    let (mut classic_full, mut soroban_full) = (false, false);
    let (mut classic_low, mut soroban_low): (Option<i64>, Option<i64>) = (None, None);
    loop {
        let mut best: Option<usize> = None;
        for (i, q) in queues.iter().enumerate() {
            let Some((idx, tx)) = q.front() else {
                continue;
            };
            best = match best {
                None => Some(i),
                Some(b) => {
                    let (bidx, btx) = queues[b].front().expect("non-empty");
                    match cmp_bid(tx, btx) {
                        std::cmp::Ordering::Greater => Some(i),
                        std::cmp::Ordering::Equal if idx < bidx => Some(i),
                        _ => Some(b),
                    }
                }
            };
        }
        let Some(b) = best else {
            break;
        };
        let (idx, tx) = queues[b].pop_front().expect("non-empty");
        let per_op = apply::inclusion_bid(&tx) / apply::fee_ops(&tx);
        let fits = match tx.soroban_data() {
            None => {
                let n = tx.tx.operations.len() as u32;
                let ok = classic_ops + n <= settings.ledger_max_classic_ops;
                if ok {
                    classic_ops += n;
                    classic_low = Some(classic_low.map_or(per_op, |l| l.min(per_op)));
                } else {
                    classic_full = true;
                }
                ok
            }
            Some(data) => {
                let next = soroban.add(&ops::usage_of(&tx, data));
                let ok = next.within(settings);
                if ok {
                    soroban = next;
                    soroban_low = Some(soroban_low.map_or(per_op, |l| l.min(per_op)));
                } else {
                    soroban_full = true;
                }
                ok
            }
        };
        if fits {
            now.push(tx);
        } else {
            later.push((idx, tx));
            later.extend(queues[b].drain(..));
        }
    }
    later.sort_by_key(|(i, _)| *i);
    let lane_fee = |full: bool, low: Option<i64>| match (full, low) {
        (true, Some(low)) => low.max(settings.base_fee),
        _ => settings.base_fee,
    };
    Selection {
        now,
        later: later.into_iter().map(|(_, t)| t).collect(),
        classic_fee: lane_fee(classic_full, classic_low),
        soroban_fee: lane_fee(soroban_full, soroban_low),
    }
}

/// Whether the queued transactions of `tx`'s lane (`queue`) plus `tx` stay within
/// [`QUEUE_SIZE_MULTIPLIER`] ledgers' worth of that lane's limits.
fn queue_has_room<'a>(
    queue: impl Iterator<Item = &'a ParsedTx>,
    tx: &ParsedTx,
    settings: &NetworkSettings,
) -> bool {
    match tx.soroban_data() {
        None => {
            let ops: u64 = queue
                .filter(|p| !p.is_soroban())
                .map(|p| p.tx.operations.len() as u64)
                .sum::<u64>()
                + tx.tx.operations.len() as u64;
            ops <= settings.ledger_max_classic_ops as u64 * QUEUE_SIZE_MULTIPLIER
        }
        Some(data) => queue
            .filter_map(|p| p.soroban_data().map(|d| ops::usage_of(p, d)))
            .fold(ops::usage_of(tx, data), |a, u| a.add(&u))
            .within_times(settings, QUEUE_SIZE_MULTIPLIER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soroban_env_host::xdr::{
        Asset, DecoratedSignature, LedgerFootprint, Memo, MuxedAccount, Operation, OperationBody,
        PaymentOp, Preconditions, SequenceNumber, Signature, SignatureHint, SorobanResources,
        SorobanTransactionData, SorobanTransactionDataExt, Transaction, TransactionExt,
        TransactionV1Envelope, Uint256,
    };

    const PASS: &str = "limits test";

    fn signed(k: &Keypair, tx: Transaction) -> TransactionEnvelope {
        let unsigned = TransactionEnvelope::Tx(TransactionV1Envelope {
            tx: tx.clone(),
            signatures: Default::default(),
        });
        let h = ParsedTx::new(unsigned, network_id(PASS)).unwrap().hash;
        let pk = k.public_key();
        let sig = DecoratedSignature {
            hint: SignatureHint([pk[28], pk[29], pk[30], pk[31]]),
            signature: Signature(k.sign(&h).to_vec().try_into().unwrap()),
        };
        TransactionEnvelope::Tx(TransactionV1Envelope {
            tx,
            signatures: vec![sig].try_into().unwrap(),
        })
    }

    fn payment(k: &Keypair, seq: i64) -> Transaction {
        Transaction {
            source_account: MuxedAccount::Ed25519(Uint256(k.public_key())),
            fee: 100,
            seq_num: SequenceNumber(seq),
            cond: Preconditions::None,
            memo: Memo::None,
            operations: vec![Operation {
                source_account: None,
                body: OperationBody::Payment(PaymentOp {
                    destination: MuxedAccount::Ed25519(Uint256(k.public_key())),
                    asset: Asset::Native,
                    amount: 1,
                }),
            }]
            .try_into()
            .unwrap(),
            ext: TransactionExt::V0,
        }
    }

    #[test]
    fn transactions_beyond_the_ledger_limits_wait_for_the_next_ledger() {
        let settings = NetworkSettings {
            ledger_max_classic_ops: 1,
            ..Default::default()
        };
        let (mut node, k) = funded(2, 1_000);
        node.settings = settings;
        let a = bid(&mut node, &k[0], 100).unwrap();
        let b = bid(&mut node, &k[1], 100).unwrap();
        let ledger = node.latest_ledger();
        node.close_ledger();
        assert_eq!(
            node.transaction(&a).map(|t| (t.ledger, t.success)),
            Some((ledger + 1, true))
        );
        assert!(node.transaction(&b).is_none());
        assert!(node.is_pending(&b));
        node.close_ledger();
        assert_eq!(
            node.transaction(&b).map(|t| (t.ledger, t.success)),
            Some((ledger + 2, true))
        );
        assert_eq!(node.pending_len(), 0);
    }

    #[test]
    fn history_is_restored_up_to_the_state_and_a_torn_line_is_skipped() {
        let mut node = Node::genesis(NetworkSettings::default(), PASS, 100);
        let root = Keypair::root(PASS);
        let a = node.submit(signed(&root, payment(&root, 1))).unwrap();
        node.close_ledger(); // 2
        let b = node.submit(signed(&root, payment(&root, 2))).unwrap();
        node.close_ledger(); // 3
        let dir = std::env::temp_dir().join(format!("devnet-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::persistence::append_history(&dir, &node.take_unsaved()).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("history.xdr.b64"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"AAAA-torn"))
            .unwrap();
        let metas = crate::persistence::load_history(&dir).unwrap();
        assert_eq!(metas.len(), 3);
        // A state saved at ledger 2: ledger 3 (and transaction b) are after it and dropped.
        let mut state = (*node.state).clone();
        state.sequence = 2;
        let mut back = Node::with_state(NetworkSettings::default(), PASS, 100, state);
        back.restore_history(metas);
        assert_eq!(back.transaction(&a).map(|t| t.ledger), Some(2));
        assert!(back.transaction(&b).is_none());
        assert_eq!(
            (back.oldest_ledger(), back.latest_hash()),
            (1, node.header(2).unwrap().hash.0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn soroban_resources_are_summed_per_ledger() {
        let settings = NetworkSettings::default();
        let soroban = |k: &Keypair, instructions: u32| {
            let mut t = payment(k, 1);
            t.operations = vec![Operation {
                source_account: None,
                body: OperationBody::RestoreFootprint(soroban_env_host::xdr::RestoreFootprintOp {
                    ext: ExtensionPoint::V0,
                }),
            }]
            .try_into()
            .unwrap();
            t.ext = TransactionExt::V1(SorobanTransactionData {
                ext: SorobanTransactionDataExt::V0,
                resources: SorobanResources {
                    footprint: LedgerFootprint {
                        read_only: Default::default(),
                        read_write: Default::default(),
                    },
                    instructions,
                    disk_read_bytes: 0,
                    write_bytes: 0,
                },
                resource_fee: 0,
            });
            ParsedTx::new(signed(k, t), network_id(PASS)).unwrap()
        };
        let keys: Vec<Keypair> = (1..=4).map(|i| Keypair::from_seed([i; 32])).collect();
        // 600 M instructions per ledger: two of 250 M fit, the third waits, the fourth
        // (small, another account) still goes in.
        let queue = vec![
            soroban(&keys[0], 250_000_000),
            soroban(&keys[1], 250_000_000),
            soroban(&keys[2], 250_000_000),
            soroban(&keys[3], 1_000_000),
        ];
        let Selection { now, later, .. } = select_for_ledger(queue, &settings);
        assert_eq!(now.len(), 3);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].source(), keys[2].account_id());
        // The Soroban transaction count too.
        let one = NetworkSettings {
            ledger_max_tx_count: 1,
            ..Default::default()
        };
        let Selection { now, later, .. } = select_for_ledger(
            vec![soroban(&keys[0], 1_000), soroban(&keys[1], 1_000)],
            &one,
        );
        assert_eq!((now.len(), later.len()), (1, 1));
    }

    /// A node whose root funded `n` accounts (seeds 1..=n), then limited to `classic_ops`
    /// classic operations per ledger.
    fn funded(n: u8, classic_ops: u32) -> (Node, Vec<Keypair>) {
        let mut node = Node::genesis(NetworkSettings::default(), PASS, 100);
        let root = Keypair::root(PASS);
        let keys: Vec<Keypair> = (1..=n).map(|i| Keypair::from_seed([i; 32])).collect();
        let mut t = payment(&root, 1);
        t.fee = 100 * n as u32;
        t.operations = keys
            .iter()
            .map(|k| Operation {
                source_account: None,
                body: OperationBody::CreateAccount(soroban_env_host::xdr::CreateAccountOp {
                    destination: k.account_id(),
                    starting_balance: 1_000_000_000,
                }),
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        node.submit(signed(&root, t)).unwrap();
        node.close_ledger();
        node.settings.ledger_max_classic_ops = classic_ops;
        (node, keys)
    }

    /// A payment to itself by `k` (its first transaction) bidding `fee`.
    fn bid(node: &mut Node, k: &Keypair, fee: u32) -> Result<String, SubmitError> {
        let seq = node.next_sequence(&k.account_id()).unwrap();
        let mut t = payment(k, seq);
        t.fee = fee;
        node.submit(signed(k, t))
    }

    #[test]
    fn a_full_ledger_takes_the_highest_bids_and_charges_the_lowest_included() {
        let (mut node, k) = funded(3, 2);
        let low = bid(&mut node, &k[0], 100).unwrap();
        let high = bid(&mut node, &k[1], 300).unwrap();
        let mid = bid(&mut node, &k[2], 200).unwrap();
        node.close_ledger();
        // Two operations fit: the 300 and 200 bids, applied highest first, both at 200.
        let got = |n: &Node, h: &str| {
            n.transaction(h)
                .map(|t| (t.application_order, t.result.fee_charged))
        };
        assert_eq!(got(&node, &high), Some((1, 200)));
        assert_eq!(got(&node, &mid), Some((2, 200)));
        assert!(node.is_pending(&low));
        // The served transaction set carries each phase's base fee: the surge price.
        let Some(LedgerCloseMeta::V2(meta)) = node.close_meta(node.latest_ledger()) else {
            panic!("no close meta");
        };
        assert_eq!(history::lane_fees(&meta.tx_set), Some((200, 100)));
        // The next ledger is not full: the base fee.
        node.close_ledger();
        assert_eq!(got(&node, &low), Some((1, 100)));
        // A ledger with room charges the base fee whatever the bid.
        let rich = bid(&mut node, &k[1], 5_000).unwrap();
        node.close_ledger();
        assert_eq!(got(&node, &rich).map(|g| g.1), Some(100));
    }

    #[test]
    fn classic_native_transfers_emit_the_native_sac_transfer_event() {
        use soroban_env_host::xdr::{ContractEventBody, ScAddress, ScString, ScSymbol, ScVal};
        let (mut node, k) = funded(2, 1_000);
        let root = Keypair::root(PASS);
        let mut t = payment(&k[0], node.next_sequence(&k[0].account_id()).unwrap());
        t.operations = vec![Operation {
            source_account: None,
            body: OperationBody::Payment(PaymentOp {
                destination: MuxedAccount::Ed25519(Uint256(k[1].public_key())),
                asset: Asset::Native,
                amount: 5,
            }),
        }]
        .try_into()
        .unwrap();
        node.submit(signed(&k[0], t)).unwrap();
        node.close_ledger();
        let sac = history::native_asset_contract(node.network_id);
        let transfers: Vec<(Vec<ScVal>, ScVal, u32)> = node
            .events()
            .iter()
            .map(|e| {
                assert_eq!(e.event.contract_id.as_ref(), Some(&sac));
                let ContractEventBody::V0(b) = &e.event.body;
                (b.topics.to_vec(), b.data.clone(), e.op_index)
            })
            .collect();
        let addr = |k: &Keypair| ScVal::Address(ScAddress::Account(k.account_id()));
        let topics = |from: &Keypair, to: &Keypair| {
            vec![
                ScVal::Symbol(ScSymbol("transfer".try_into().unwrap())),
                addr(from),
                addr(to),
                ScVal::String(ScString("native".try_into().unwrap())),
            ]
        };
        let amount = |a: i64| {
            ScVal::I128(soroban_env_host::xdr::Int128Parts {
                hi: 0,
                lo: a as u64,
            })
        };
        // The two CreateAccount operations (one event each), then the payment.
        assert_eq!(
            transfers,
            vec![
                (topics(&root, &k[0]), amount(1_000_000_000), 0),
                (topics(&root, &k[1]), amount(1_000_000_000), 1),
                (topics(&k[0], &k[1]), amount(5), 0),
            ]
        );
    }

    #[test]
    fn a_second_transaction_from_a_source_with_one_queued_is_answered_try_again_later() {
        let (mut node, k) = funded(2, 2);
        let seq = node.next_sequence(&k[0].account_id()).unwrap();
        let first = bid(&mut node, &k[0], 100).unwrap();
        // The next sequence number, even bidding more: refused until the first is applied.
        match bid(&mut node, &k[0], 1_000) {
            Err(SubmitError::TryAgainLater(_)) => {}
            other => panic!("{other:?}"),
        }
        // Another account is not held up.
        let other = bid(&mut node, &k[1], 500).unwrap();
        // The very same envelope again is a duplicate, not a second transaction.
        let mut t = payment(&k[0], seq);
        t.fee = 100;
        assert!(matches!(
            node.submit(signed(&k[0], t)),
            Err(SubmitError::Duplicate(h)) if h == first
        ));
        node.close_ledger();
        assert!(node.transaction(&first).is_some_and(|t| t.success));
        assert!(node.transaction(&other).is_some_and(|t| t.success));
        // Applied: the account's next transaction is accepted.
        let second = bid(&mut node, &k[0], 1_000).unwrap();
        node.close_ledger();
        assert!(node.transaction(&second).is_some_and(|t| t.success));
    }

    #[test]
    fn a_full_queue_refuses_a_low_bid_with_the_fee_needed_and_evicts_for_a_higher_one() {
        // One operation per ledger: the queue holds two.
        let (mut node, k) = funded(4, 1);
        let a = bid(&mut node, &k[0], 200).unwrap();
        let b = bid(&mut node, &k[1], 300).unwrap();
        match bid(&mut node, &k[2], 150) {
            Err(SubmitError::Invalid { result, .. }) => {
                assert!(matches!(
                    result.result,
                    TransactionResultResult::TxInsufficientFee
                ));
                assert_eq!(result.fee_charged, 201);
            }
            other => panic!("{other:?}"),
        }
        // Equal to the lowest is not enough either.
        assert!(bid(&mut node, &k[2], 200).is_err());
        let c = bid(&mut node, &k[3], 250).unwrap();
        assert!(!node.is_pending(&a), "the lowest bid was evicted");
        assert!(node.is_pending(&b) && node.is_pending(&c));
        assert_eq!(node.pending_len(), 2);
    }
}
