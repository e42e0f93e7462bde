//! Leases shared by every process that relays for the same channels: a record per channel
//! (and per request key) naming its holder until an expiry, taken with a conditional write,
//! renewed while held, and free again once its holder releases it or stops renewing it (a
//! crashed process, a frozen Lambda). See `docs/chain.md` ("Many relaying processes").

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::error::Result;

/// What [`LeaseStore::put`] expects to find under the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseExpect {
    /// No record, or an expired one.
    Free,
    /// A live record at this version (the caller's own lease).
    Held(u64),
}

/// Where leases live: [`MemoryLeaseStore`] for one process; the application database
/// (`medimint_storage::RelayerDb`, over its conditional key-value store) when several
/// processes or Lambda instances share the channels.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Writes `holder` under `key`, live until `expires_at` (Unix seconds), if `expect`
    /// holds; `Ok(Some(version))` with the new version, `Ok(None)` if it did not hold.
    /// Versions keep increasing across expiries, so a stale holder never matches again.
    ///
    /// # Errors
    /// [`crate::Error::Store`] if the store cannot be reached.
    async fn put(
        &self,
        key: &str,
        holder: &str,
        expect: LeaseExpect,
        expires_at: u64,
    ) -> Result<Option<u64>>;
}

/// A [`LeaseStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryLeaseStore {
    /// key → (holder, version, expires_at)
    records: Mutex<HashMap<String, (String, u64, u64)>>,
}

impl MemoryLeaseStore {
    /// The live holder of `key`, if any (tests).
    pub fn holder(&self, key: &str) -> Option<String> {
        let now = unix_now();
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|(_, _, e)| *e > now)
            .map(|(h, _, _)| h.clone())
    }
}

#[async_trait]
impl LeaseStore for MemoryLeaseStore {
    async fn put(
        &self,
        key: &str,
        holder: &str,
        expect: LeaseExpect,
        expires_at: u64,
    ) -> Result<Option<u64>> {
        let now = unix_now();
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let stored = records.get(key).map(|(_, v, e)| (*v, *e));
        let live = stored.filter(|(_, e)| *e > now);
        let holds = match expect {
            LeaseExpect::Free => live.is_none(),
            LeaseExpect::Held(v) => live.is_some_and(|(have, _)| have == v),
        };
        if !holds {
            return Ok(None);
        }
        let version = stored.map_or(1, |(v, _)| v + 1);
        records.insert(key.to_string(), (holder.to_string(), version, expires_at));
        Ok(Some(version))
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The lease key of a channel account.
pub fn channel_lease_key(address: &str) -> String {
    format!("relay/channel/{address}")
}

/// The lease key of a request key (one submission of it at a time, across processes).
pub fn request_lease_key(request_key: &str) -> String {
    format!("relay/request/{request_key}")
}

/// The shortest lease: expiries are whole seconds, so a lease of `ttl` lasts between
/// `ttl - 1 s` and `ttl`; renewed every third of it, it stays live from 2 s up.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(2);

/// Takes and releases leases for one relayer.
pub(crate) struct Leases {
    store: Arc<dyn LeaseStore>,
    ttl: Duration,
    holder: String,
}

/// A lease held. Renewed in the background until released; dropping it stops the renewal,
/// so it then expires on its own.
pub(crate) struct Lease {
    key: String,
    version: Arc<AtomicU64>,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Whether a renewal found the lease taken by someone else (this holder stalled past
    /// its expiry).
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// A holder id unique to this relayer instance (process id, start time, a counter): not
/// secret, it only tells holders apart in the store.
fn holder_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Leases {
    /// Leases of `ttl`, at least [`MIN_LEASE_TTL`].
    pub(crate) fn new(store: Arc<dyn LeaseStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl: ttl.max(MIN_LEASE_TTL),
            holder: holder_id(),
        }
    }

    pub(crate) fn with_store(&self, store: Arc<dyn LeaseStore>) -> Self {
        Self {
            store,
            ttl: self.ttl,
            holder: self.holder.clone(),
        }
    }

    fn expiry(&self) -> u64 {
        unix_now() + self.ttl.as_secs().max(1)
    }

    /// Takes `key` if it is free; `Ok(None)` if someone holds it.
    pub(crate) async fn try_take(&self, key: &str) -> Result<Option<Lease>> {
        let Some(version) = self
            .store
            .put(key, &self.holder, LeaseExpect::Free, self.expiry())
            .await?
        else {
            return Ok(None);
        };
        let version = Arc::new(AtomicU64::new(version));
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (store, key, holder) = (self.store.clone(), key.to_string(), self.holder.clone());
            let (version, lost, ttl) = (version.clone(), lost.clone(), self.ttl);
            tokio::spawn(async move {
                let every = ttl / 3;
                loop {
                    tokio::time::sleep(every).await;
                    let expires_at = unix_now() + ttl.as_secs().max(1);
                    let held = LeaseExpect::Held(version.load(Ordering::SeqCst));
                    match store.put(&key, &holder, held, expires_at).await {
                        Ok(Some(v)) => version.store(v, Ordering::SeqCst),
                        Ok(None) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // A store that cannot be reached: try again at the next tick; the
                        // lease may expire meanwhile, which the next renewal notices.
                        Err(_) => {}
                    }
                }
            })
        };
        Ok(Some(Lease {
            key: key.to_string(),
            version,
            lost,
            renewer,
        }))
    }

    /// Releases `lease`: free at once, or (after a transaction whose outcome is unknown)
    /// held until `until`, when that transaction can no longer land. A release that cannot
    /// be written leaves the lease to expire on its own.
    pub(crate) async fn release(&self, lease: Lease, until: Option<u64>) {
        lease.renewer.abort();
        if lease.is_lost() {
            return;
        }
        let held = LeaseExpect::Held(lease.version.load(Ordering::SeqCst));
        let expires_at = until.unwrap_or_else(unix_now);
        let _ = self
            .store
            .put(&lease.key, &self.holder, held, expires_at)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_free_again_on_release() {
        let store = Arc::new(MemoryLeaseStore::default());
        let a = Leases::new(store.clone(), Duration::from_secs(30));
        let b = Leases::new(store.clone(), Duration::from_secs(30));
        let held = a.try_take("k").await.unwrap().unwrap();
        assert!(b.try_take("k").await.unwrap().is_none());
        assert_eq!(store.holder("k"), Some(a.holder.clone()));
        a.release(held, None).await;
        assert_eq!(store.holder("k"), None);
        let again = b.try_take("k").await.unwrap().unwrap();
        assert_eq!(store.holder("k"), Some(b.holder.clone()));
        // Held until a later time: still taken.
        b.release(again, Some(unix_now() + 60)).await;
        assert!(a.try_take("k").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_holder_that_stops_renewing_loses_its_lease_after_expiry() {
        let store = Arc::new(MemoryLeaseStore::default());
        let crashed = Leases::new(store.clone(), Duration::from_secs(2));
        let other = Leases::new(store.clone(), Duration::from_secs(2));
        let held = crashed.try_take("k").await.unwrap().unwrap();
        // A crash: the renewal stops, nothing is released.
        drop(held);
        assert!(other.try_take("k").await.unwrap().is_none());
        let mut taken = None;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(l) = other.try_take("k").await.unwrap() {
                taken = Some(l);
                break;
            }
        }
        assert!(taken.is_some(), "the lease came back after its expiry");
    }

    #[tokio::test]
    async fn a_live_holder_keeps_its_lease_by_renewing_it() {
        let store = Arc::new(MemoryLeaseStore::default());
        let holder = Leases::new(store.clone(), Duration::from_secs(2));
        let other = Leases::new(store.clone(), Duration::from_secs(2));
        let held = holder.try_take("k").await.unwrap().unwrap();
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(other.try_take("k").await.unwrap().is_none());
        }
        assert!(!held.is_lost());
        holder.release(held, None).await;
        assert!(other.try_take("k").await.unwrap().is_some());
    }
}
