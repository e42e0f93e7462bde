//! An in-memory [`Kv`] (feature `testutils`): the tests' store, and `medimint up`'s until it
//! is wired to the application database. Expiry follows an injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Expect, Kv, KvRecord, StoreError};
use crate::clock::Clock;

/// A conditional key-value map in memory.
pub struct MemoryKv {
    map: Mutex<HashMap<String, KvRecord>>,
    clock: Arc<dyn Clock>,
}

impl MemoryKv {
    /// An empty map whose records expire by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// How many live records hold `needle` in their key or value (tests check that no
    /// email or code is stored in the clear).
    pub fn count_containing(&self, needle: &str) -> usize {
        let map = self.map.lock().expect("not poisoned");
        map.iter()
            .filter(|(k, r)| k.contains(needle) || r.value.contains(needle))
            .count()
    }

    fn live(&self, record: Option<&KvRecord>) -> Option<KvRecord> {
        let now = self.clock.now();
        record
            .filter(|r| r.expires_at.is_none_or(|t| now <= t))
            .cloned()
    }

    fn check(current: Option<&KvRecord>, expect: Expect) -> Result<(), StoreError> {
        match (expect, current) {
            (Expect::Any, _) | (Expect::Absent, None) => Ok(()),
            (Expect::Version(v), Some(r)) if r.version == v => Ok(()),
            _ => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl Kv for MemoryKv {
    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StoreError> {
        let map = self.map.lock().expect("not poisoned");
        Ok(self.live(map.get(key)))
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: Expect,
        expires_at: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut map = self.map.lock().expect("not poisoned");
        let current = self.live(map.get(key));
        Self::check(current.as_ref(), expect)?;
        // Versions keep growing across expiry and deletion, so a stale version never matches
        // a newer record.
        let version = map.get(key).map_or(0, |r| r.version) + 1;
        map.insert(
            key.to_string(),
            KvRecord {
                value: value.to_string(),
                version,
                expires_at,
            },
        );
        Ok(version)
    }

    async fn kv_delete(&self, key: &str, expect: Expect) -> Result<(), StoreError> {
        let mut map = self.map.lock().expect("not poisoned");
        let current = self.live(map.get(key));
        Self::check(current.as_ref(), expect)?;
        if let Some(r) = map.get_mut(key) {
            // A tombstone keeps the version counter (see kv_put).
            r.expires_at = Some(0);
            r.value = String::new();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn a_write_that_expects_a_stale_version_conflicts() {
        let kv = MemoryKv::new(Arc::new(ManualClock::new(100)));
        let v1 = kv.kv_put("k", "a", Expect::Absent, None).await.unwrap();
        kv.kv_put("k", "b", Expect::Version(v1), None)
            .await
            .unwrap();
        assert!(matches!(
            kv.kv_put("k", "c", Expect::Version(v1), None).await,
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            kv.kv_put("k", "c", Expect::Absent, None).await,
            Err(StoreError::Conflict)
        ));
    }

    #[tokio::test]
    async fn an_expired_record_reads_as_absent() {
        let clock = Arc::new(ManualClock::new(100));
        let kv = MemoryKv::new(clock.clone());
        kv.kv_put("k", "a", Expect::Absent, Some(150))
            .await
            .unwrap();
        assert!(kv.kv_get("k").await.unwrap().is_some());
        clock.set(151);
        assert!(kv.kv_get("k").await.unwrap().is_none());
        kv.kv_put("k", "b", Expect::Absent, None).await.unwrap();
    }
}
