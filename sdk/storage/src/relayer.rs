//! The relayer's request records, daily spend and leases in the application database, so
//! that a request key stays idempotent, the spend cap holds and each channel account has
//! one submitter at a time across processes, Lambda invocations and restarts (the
//! in-memory stores only hold within one process).

use std::sync::Arc;

use async_trait::async_trait;
use medimint_chain::relayer::{
    LeaseExpect, LeaseStore, Refusal, RequestRecord, RequestStore, SpendStore,
};
use medimint_chain::Error as ChainError;

use crate::{AppDb, KvExpect, SpendOutcome, StorageError};

/// [`RequestStore`], [`SpendStore`] and [`LeaseStore`] over an [`AppDb`] (SQLite or
/// DynamoDB); leases are records of its conditional key-value store (`kv_put`).
#[derive(Clone)]
pub struct RelayerDb {
    db: Arc<dyn AppDb>,
}

impl std::fmt::Debug for RelayerDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayerDb")
    }
}

impl RelayerDb {
    /// The stores of `db` (migrated to at least schema version 4).
    pub fn new(db: Arc<dyn AppDb>) -> Self {
        Self { db }
    }
}

fn store_err(e: StorageError) -> ChainError {
    ChainError::Store(e.to_string())
}

#[async_trait]
impl RequestStore for RelayerDb {
    async fn get(&self, key: &str) -> medimint_chain::Result<Option<RequestRecord>> {
        self.db
            .get_relay_request(key)
            .await
            .map_err(store_err)?
            .map(|text| RequestRecord::from_text(&text))
            .transpose()
    }

    async fn put(&self, key: &str, record: &RequestRecord) -> medimint_chain::Result<()> {
        self.db
            .put_relay_request(key, &record.to_text()?)
            .await
            .map_err(store_err)
    }
}

#[async_trait]
impl SpendStore for RelayerDb {
    async fn reserve(
        &self,
        user: &str,
        day: u64,
        fee: i64,
        cap: i64,
    ) -> medimint_chain::Result<()> {
        match self
            .db
            .add_relay_spend(user, day, fee, Some(cap))
            .await
            .map_err(store_err)?
        {
            SpendOutcome::Added(_) => Ok(()),
            SpendOutcome::OverCap { would } => Err(Refusal::DailySpend {
                user: user.to_string(),
                would,
                cap,
            }
            .into()),
        }
    }

    async fn settle(
        &self,
        user: &str,
        day: u64,
        reserved: i64,
        charged: i64,
    ) -> medimint_chain::Result<()> {
        if charged == reserved {
            return Ok(());
        }
        self.db
            .add_relay_spend(user, day, charged - reserved, None)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn spent(&self, user: &str, day: u64) -> medimint_chain::Result<i64> {
        self.db.relay_spend(user, day).await.map_err(store_err)
    }
}

#[async_trait]
impl LeaseStore for RelayerDb {
    async fn put(
        &self,
        key: &str,
        holder: &str,
        expect: LeaseExpect,
        expires_at: u64,
    ) -> medimint_chain::Result<Option<u64>> {
        let expect = match expect {
            LeaseExpect::Free => KvExpect::Absent,
            LeaseExpect::Held(v) => KvExpect::Version(v),
        };
        match self.db.kv_put(key, holder, expect, Some(expires_at)).await {
            Ok(version) => Ok(Some(version)),
            Err(StorageError::Conflict(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }
}
