//! Ledger state: every live or archived entry with its TTL, and the last closed ledger.

use std::collections::BTreeMap;
use std::rc::Rc;

use soroban_env_host::storage::{EntryWithLiveUntil, SnapshotSource};
use soroban_env_host::xdr::{
    AccountEntry, ContractDataDurability, LedgerEntry, LedgerEntryData, LedgerKey,
    LedgerKeyAccount, LedgerKeyContractCode, LedgerKeyContractData, LedgerKeyTrustLine,
};
use soroban_env_host::HostError;

/// One stored entry: its value, its TTL (contract data and code only), and the ledger that
/// last wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    /// The entry.
    pub entry: LedgerEntry,
    /// The last ledger the entry is live in, for entries that have a TTL.
    pub live_until: Option<u32>,
}

/// The state of the ledger after the last close.
#[derive(Clone, Debug, Default)]
pub struct LedgerState {
    /// Sequence of the last closed ledger.
    pub sequence: u32,
    /// Close time of the last closed ledger, Unix seconds.
    pub close_time: u64,
    /// All entries, keyed by their ledger key.
    pub entries: BTreeMap<LedgerKey, StoredEntry>,
}

/// How a persistent or temporary entry stands at a given ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// No TTL (accounts) or TTL not yet lapsed.
    Live,
    /// Persistent entry whose TTL lapsed: must be restored before use.
    Archived,
    /// Temporary entry whose TTL lapsed: gone.
    Expired,
}

impl StoredEntry {
    /// The entry's standing in ledger `seq`.
    pub fn liveness(&self, key: &LedgerKey, seq: u32) -> Liveness {
        match (self.live_until, durability(key)) {
            (Some(until), Some(d)) if until < seq => match d {
                ContractDataDurability::Persistent => Liveness::Archived,
                ContractDataDurability::Temporary => Liveness::Expired,
            },
            _ => Liveness::Live,
        }
    }
}

/// The durability of a contract entry key; `None` for classic entries.
pub fn durability(key: &LedgerKey) -> Option<ContractDataDurability> {
    match key {
        LedgerKey::ContractCode(_) => Some(ContractDataDurability::Persistent),
        LedgerKey::ContractData(d) => Some(d.durability),
        _ => None,
    }
}

/// The key of an entry.
pub fn key_of(entry: &LedgerEntry) -> Option<LedgerKey> {
    Some(match &entry.data {
        LedgerEntryData::Account(a) => LedgerKey::Account(LedgerKeyAccount {
            account_id: a.account_id.clone(),
        }),
        LedgerEntryData::Trustline(t) => LedgerKey::Trustline(LedgerKeyTrustLine {
            account_id: t.account_id.clone(),
            asset: t.asset.clone(),
        }),
        LedgerEntryData::ContractData(d) => LedgerKey::ContractData(LedgerKeyContractData {
            contract: d.contract.clone(),
            key: d.key.clone(),
            durability: d.durability,
        }),
        LedgerEntryData::ContractCode(c) => LedgerKey::ContractCode(LedgerKeyContractCode {
            hash: c.hash.clone(),
        }),
        _ => return None,
    })
}

impl LedgerState {
    /// The account entry of `key`, if it exists.
    pub fn account(&self, key: &LedgerKey) -> Option<&AccountEntry> {
        match self.entries.get(key).map(|e| &e.entry.data) {
            Some(LedgerEntryData::Account(a)) => Some(a),
            _ => None,
        }
    }

    /// Drops temporary entries whose TTL lapsed before ledger `seq` (eviction).
    pub fn evict_expired(&mut self, seq: u32) {
        self.entries
            .retain(|k, e| e.liveness(k, seq) != Liveness::Expired);
    }
}

/// A read view of the state for the host in simulation: expired temporary entries are
/// invisible; archived persistent entries are visible with their lapsed TTL so the host
/// records them as needing restoration.
pub struct StateSnapshot {
    /// The state.
    pub state: std::sync::Arc<LedgerState>,
    /// The ledger the simulation runs in.
    pub sequence: u32,
}

impl SnapshotSource for StateSnapshot {
    fn get(&self, key: &Rc<LedgerKey>) -> Result<Option<EntryWithLiveUntil>, HostError> {
        Ok(self.state.entries.get(key.as_ref()).and_then(|e| {
            if e.liveness(key, self.sequence) == Liveness::Expired {
                None
            } else {
                Some((Rc::new(e.entry.clone()), e.live_until))
            }
        }))
    }
}
