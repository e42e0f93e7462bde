//! [`Kv`] over `medimint_storage::AppDb`'s conditional key-value primitive (`kv_get`,
//! `kv_put` with `KvExpect::{Absent, Version(n), Any}` and an expiry, `kv_delete`; a failed
//! expectation is `StorageError::Conflict`). `KvAuthStore::new(AppDbKv(db))` is the
//! production `AuthStore`: DynamoDB conditional writes in AWS, SQLite under `medimint up`.

use std::sync::Arc;

use async_trait::async_trait;
use medimint_storage::{AppDb, KvExpect, StorageError};

use super::{Expect, Kv, KvRecord, StoreError};

/// The application database as the sign-in store's key-value map.
pub struct AppDbKv(pub Arc<dyn AppDb>);

fn expect(e: Expect) -> KvExpect {
    match e {
        Expect::Absent => KvExpect::Absent,
        Expect::Version(n) => KvExpect::Version(n),
        Expect::Any => KvExpect::Any,
    }
}

fn error(e: StorageError) -> StoreError {
    match e {
        StorageError::Conflict(_) => StoreError::Conflict,
        other => StoreError::Backend(Box::new(other)),
    }
}

#[async_trait]
impl Kv for AppDbKv {
    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StoreError> {
        Ok(self.0.kv_get(key).await.map_err(error)?.map(|r| KvRecord {
            value: r.value,
            version: r.version,
            expires_at: r.expires_at,
        }))
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        e: Expect,
        expires_at: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.0
            .kv_put(key, value, expect(e), expires_at)
            .await
            .map_err(error)
    }

    async fn kv_delete(&self, key: &str, e: Expect) -> Result<(), StoreError> {
        self.0
            .kv_delete(key, expect(e))
            .await
            .map(|_| ())
            .map_err(error)
    }
}
