//! An API over in-memory adapters (feature `testutils`): the tests' harness, and what
//! `medimint up` serves until the platform's adapters are wired.

use std::path::Path;
use std::sync::Arc;

use medimint_sdk::keys::Seed;

use crate::accounts::MemoryAccounts;
use crate::clock::{Clock, ManualClock};
use crate::config::ApiConfig;
use crate::keys::AuthKeys;
use crate::mailer::OutboxMailer;
use crate::roles::FakeRoles;
use crate::state::{Adapters, AppState};
use crate::store::{KvAuthStore, MemoryKv};

/// The in-memory parts of a [`memory_state`], for tests to inspect and steer.
pub struct MemoryParts {
    /// The key-value map behind the sign-in store.
    pub kv: Arc<KvAuthStore<Arc<MemoryKv>>>,
    /// The raw map (to check nothing sensitive is stored in the clear).
    pub raw: Arc<MemoryKv>,
    /// The accounts.
    pub accounts: Arc<MemoryAccounts>,
    /// The roles.
    pub roles: Arc<FakeRoles>,
    /// The outbox mailer.
    pub mailer: Arc<OutboxMailer>,
}

#[async_trait::async_trait]
impl crate::store::Kv for Arc<MemoryKv> {
    async fn kv_get(
        &self,
        key: &str,
    ) -> Result<Option<crate::store::KvRecord>, crate::store::StoreError> {
        (**self).kv_get(key).await
    }
    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: crate::store::Expect,
        expires_at: Option<u64>,
    ) -> Result<u64, crate::store::StoreError> {
        (**self).kv_put(key, value, expect, expires_at).await
    }
    async fn kv_delete(
        &self,
        key: &str,
        expect: crate::store::Expect,
    ) -> Result<(), crate::store::StoreError> {
        (**self).kv_delete(key, expect).await
    }
}

/// An API state over memory, the outbox in `outbox`, and `clock`; keys from `seed`.
pub fn memory_state(
    config: ApiConfig,
    seed: &Seed,
    outbox: &Path,
    clock: Arc<dyn Clock>,
) -> (AppState, MemoryParts) {
    memory_state_with_platform(config, seed, outbox, clock, None)
}

/// As [`memory_state`], with a platform behind the study, release and issuer endpoints
/// (accounts and roles stay the in-memory fakes, for the tests to steer).
pub fn memory_state_with_platform(
    config: ApiConfig,
    seed: &Seed,
    outbox: &Path,
    clock: Arc<dyn Clock>,
    platform: Option<Arc<medimint_platform::Platform>>,
) -> (AppState, MemoryParts) {
    let raw = Arc::new(MemoryKv::new(clock.clone()));
    let kv = Arc::new(KvAuthStore::new(raw.clone()));
    let accounts = Arc::new(MemoryAccounts::default());
    let roles = Arc::new(FakeRoles::default());
    let mailer = Arc::new(OutboxMailer::new(outbox));
    let state = AppState::new(
        config,
        AuthKeys::derive(seed),
        Adapters {
            store: kv.clone(),
            mailer: mailer.clone(),
            accounts: accounts.clone(),
            roles: roles.clone(),
            clock,
            platform,
        },
    );
    (
        state,
        MemoryParts {
            kv,
            raw,
            accounts,
            roles,
            mailer,
        },
    )
}

/// A manual clock at a fixed, realistic time (2026-01-01T00:00:00Z).
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_767_225_600))
}
