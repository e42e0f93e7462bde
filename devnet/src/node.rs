//! The network node: ledger state, the queue of submitted transactions, ledger close, and
//! the history the RPC methods serve (transactions, events, ledger close times).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use soroban_env_host::xdr::{
    ContractEvent, ExtensionPoint, LedgerEntryChange, LedgerEntryChanges, LedgerKey,
    OperationMetaV2, SorobanTransactionMetaExt, SorobanTransactionMetaV2, TransactionEnvelope,
    TransactionMeta, TransactionMetaV4, TransactionResult,
};

use crate::apply::{self, Applied, LedgerContext, ParsedTx};
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
    /// Whether it succeeded.
    pub success: bool,
    /// Whether the envelope is a fee-bump.
    pub fee_bump: bool,
    /// Contract events emitted (one list per operation).
    pub events: Vec<Vec<ContractEvent>>,
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
    ledger_close_times: BTreeMap<u32, u64>,
    /// Whether the state changed since it was last saved.
    pub dirty: bool,
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
        let mut ledger_close_times = BTreeMap::new();
        ledger_close_times.insert(state.sequence, state.close_time);
        let module_cache = crate::modules::new_cache();
        crate::modules::add_all(&module_cache, &state);
        Self {
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
            ledger_close_times,
            dirty: true,
            module_cache,
        }
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
        self.ledger_close_times
            .keys()
            .next()
            .copied()
            .unwrap_or(self.state.sequence)
    }

    /// Close time of ledger `seq`, if retained.
    pub fn close_time_of(&self, seq: u32) -> Option<u64> {
        self.ledger_close_times.get(&seq).copied()
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
        // One queued transaction per source account: the next sequence number must follow
        // the queued one, as stellar-core's queue accepts chains from one account.
        let (sequence, close_time) = self.next_context();
        let ctx = LedgerContext {
            settings: &self.settings,
            network_id: self.network_id,
            sequence,
            close_time,
            module_cache: Some(self.module_cache.clone()),
        };
        let check = if self
            .pending
            .iter()
            .any(|p| p.source() == parsed.source() || p.fee_source() == parsed.fee_source())
        {
            // Validate against the state the queue will leave behind.
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
        self.pending_hashes.insert(parsed.hash);
        self.pending.push(parsed);
        Ok(hash)
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

    /// Number of transactions waiting for the next ledger.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Closes a ledger: applies the queued transactions in submission order.
    pub fn close_ledger(&mut self) {
        let (sequence, close_time) = self.next_context();
        let pending = std::mem::take(&mut self.pending);
        self.pending_hashes.clear();
        let settings = self.settings.clone();
        let ctx = LedgerContext {
            settings: &settings,
            network_id: self.network_id,
            sequence,
            close_time,
            module_cache: Some(self.module_cache.clone()),
        };
        let state = Arc::make_mut(&mut self.state);
        state.sequence = sequence;
        state.close_time = close_time;
        state.evict_expired(sequence);
        let mut applied = Vec::new();
        for tx in pending {
            let out = apply::apply(&tx, state, &ctx);
            applied.push((tx, out));
        }
        for (i, (tx, out)) in applied.into_iter().enumerate() {
            self.record(tx, out, sequence, close_time, i as u32 + 1);
        }
        self.ledger_close_times.insert(sequence, close_time);
        self.prune();
        self.dirty = true;
    }

    fn record(&mut self, tx: ParsedTx, out: Applied, ledger: u32, close_time: u64, order: u32) {
        let hash = hex::encode(tx.hash);
        let events = out
            .soroban
            .as_ref()
            .map(|s| s.events.clone())
            .unwrap_or_default();
        for (i, ev) in events.iter().enumerate() {
            let toid = ((ledger as u64) << 32) | ((order as u64) << 12);
            self.events.push(EventRecord {
                id: format!("{toid:019}-{i:010}"),
                ledger,
                ledger_closed_at: close_time,
                tx_index: order,
                op_index: 0,
                tx_hash: hash.clone(),
                event: ev.clone(),
            });
        }
        let meta = build_meta(&out);
        let op_events = if tx.is_soroban() {
            vec![events]
        } else {
            vec![]
        };
        self.tx_order.push(hash.clone());
        self.txs.insert(
            hash.clone(),
            TxRecord {
                hash,
                ledger,
                application_order: order,
                created_at: close_time,
                fee_bump: tx.fee_bump.is_some(),
                envelope: tx.envelope,
                result: out.result,
                meta,
                success: out.success,
                events: op_events,
            },
        );
    }

    fn prune(&mut self) {
        let keep_from = self
            .state
            .sequence
            .saturating_sub(self.retention_ledgers - 1);
        self.ledger_close_times = self.ledger_close_times.split_off(&keep_from);
        self.events.retain(|e| e.ledger >= keep_from);
        let txs = &mut self.txs;
        self.tx_order.retain(|h| {
            let keep = txs.get(h).is_some_and(|t| t.ledger >= keep_from);
            if !keep {
                txs.remove(h);
            }
            keep
        });
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

fn build_meta(out: &Applied) -> TransactionMeta {
    let mut changes = Vec::new();
    for (key, before, after) in &out.changes {
        if let Some(b) = before {
            changes.push(LedgerEntryChange::State(b.entry.clone()));
        }
        match (before, after) {
            (_, Some(a)) if before.is_some() => {
                changes.push(LedgerEntryChange::Updated(a.entry.clone()))
            }
            (_, Some(a)) => changes.push(LedgerEntryChange::Created(a.entry.clone())),
            (_, None) => changes.push(LedgerEntryChange::Removed(key.clone())),
        }
    }
    let soroban_meta = out.soroban.as_ref().map(|s| SorobanTransactionMetaV2 {
        ext: SorobanTransactionMetaExt::V0,
        return_value: Some(s.return_value.clone()),
    });
    let op_events = out
        .soroban
        .as_ref()
        .map(|s| s.events.clone())
        .unwrap_or_default();
    TransactionMeta::V4(TransactionMetaV4 {
        ext: ExtensionPoint::V0,
        tx_changes_before: LedgerEntryChanges::default(),
        operations: vec![OperationMetaV2 {
            ext: ExtensionPoint::V0,
            changes: LedgerEntryChanges(changes.try_into().unwrap_or_default()),
            events: op_events.try_into().unwrap_or_default(),
        }]
        .try_into()
        .unwrap_or_default(),
        tx_changes_after: LedgerEntryChanges::default(),
        soroban_meta,
        events: Default::default(),
        diagnostic_events: Default::default(),
    })
}
