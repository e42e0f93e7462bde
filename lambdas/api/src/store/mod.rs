//! Sign-in state: one-time codes with their try counters, used SEP-10 challenges, sessions
//! (each one refresh-token family), "signed out everywhere" marks, and TOTP state.
//!
//! [`AuthStore`] is the narrow trait the API uses. Every write is a compare-and-swap on a
//! version ([`Expect`]), so concurrent Lambda instances cannot both consume one code, one
//! challenge or one refresh token. [`KvAuthStore`] implements it over any conditional
//! key-value store ([`Kv`]: values are JSON strings, each with a version and an expiry);
//! [`MemoryKv`] (feature `testutils`) is the in-memory one, and `kv` (feature `appdb-kv`)
//! adapts `medimint_storage::AppDb`'s key-value primitive. Keys never hold an email or a code:
//! emails appear as keyed hashes.

pub mod appdb;
#[cfg(any(test, feature = "testutils"))]
mod memory;

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

#[cfg(any(test, feature = "testutils"))]
pub use memory::MemoryKv;

/// What a conditional write expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No live record.
    Absent,
    /// The record at this version.
    Version(u64),
    /// Anything (an unconditional write).
    Any,
}

/// A stored record and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its version, for [`Expect::Version`].
    pub version: u64,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read (or exists, for [`Expect::Absent`]).
    #[error("the record changed concurrently")]
    Conflict,
    /// The backend failed.
    #[error("the sign-in store failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value is not what this version of the API writes.
    #[error("a stored sign-in record is unreadable: {0}")]
    Corrupt(#[source] serde_json::Error),
}

/// A one-time email code (only its keyed hash is stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Keyed hash of the code.
    pub code_hash: String,
    /// Unix time after which it is refused.
    pub expires_at: u64,
    /// Wrong tries so far.
    pub failures: u32,
}

/// A session: one sign-in and the refresh-token family it started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The account's `G…` address.
    pub address: String,
    /// How the user signed in (`sep10`, `email`, `email+totp`).
    pub amr: String,
    /// Sign-in time.
    pub created_at: u64,
    /// Last request or refresh (idle timeout counts from here).
    pub last_seen: u64,
    /// Hash of the current refresh token.
    pub refresh_hash: String,
    /// Hashes of rotated refresh tokens: presenting one revokes the family.
    pub rotated: Vec<String>,
    /// Signed out (or revoked for reuse of a rotated refresh token).
    pub revoked: bool,
}

/// An account's TOTP state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaRecord {
    /// The TOTP secret sealed with the API's key (base64 of nonce ‖ ciphertext), once
    /// enrollment started.
    pub sealed_secret: Option<String>,
    /// Whether the user proved the authenticator works; sign-in needs TOTP from then on.
    pub confirmed: bool,
    /// Keyed hashes of the unused recovery codes.
    pub recovery_hashes: Vec<String>,
    /// The last TOTP time step accepted (a code is not accepted twice).
    pub last_step: u64,
}

/// The sign-in state the API keeps. Every method is one conditional read or write.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// The pending code for an email (by its keyed hash).
    async fn code(&self, email_key: &str) -> Result<Option<Versioned<CodeRecord>>, StoreError>;
    /// Writes the code record.
    async fn put_code(
        &self,
        email_key: &str,
        record: &CodeRecord,
        expect: Expect,
    ) -> Result<u64, StoreError>;
    /// Deletes the code record (used, or replaced).
    async fn delete_code(&self, email_key: &str, expect: Expect) -> Result<(), StoreError>;
    /// Marks a SEP-10 challenge (by transaction hash) used until `expires_at`. `false` if it
    /// already was: a replay.
    async fn consume_challenge(&self, tx_hash: &str, expires_at: u64) -> Result<bool, StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<Versioned<Session>>, StoreError>;
    /// Writes a session, kept until `expires_at`.
    async fn put_session(
        &self,
        id: &str,
        session: &Session,
        expect: Expect,
        expires_at: u64,
    ) -> Result<u64, StoreError>;
    /// Sessions of `address` created before this time are ended ("sign out everywhere").
    async fn signed_out_before(&self, address: &str) -> Result<u64, StoreError>;
    /// Ends every session of `address` created before `at`.
    async fn sign_out_before(&self, address: &str, at: u64) -> Result<(), StoreError>;
    /// The TOTP state of an account.
    async fn mfa(&self, address: &str) -> Result<Option<Versioned<MfaRecord>>, StoreError>;
    /// Writes the TOTP state.
    async fn put_mfa(
        &self,
        address: &str,
        record: &MfaRecord,
        expect: Expect,
    ) -> Result<u64, StoreError>;
    /// Marks that session `session_id` opened token `token` (kept until `expires_at`).
    /// `true` the first time: a viewing is recorded on chain once per session and study.
    async fn first_access(
        &self,
        session_id: &str,
        token: u32,
        expires_at: u64,
    ) -> Result<bool, StoreError>;
    /// Forgets such a mark (the access record it stood for failed).
    async fn forget_access(&self, session_id: &str, token: u32) -> Result<(), StoreError>;
}

/// A stored value with its version and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvRecord {
    /// The value (JSON).
    pub value: String,
    /// Its version (starts at 1, grows by one per write).
    pub version: u64,
    /// Unix time after which the record reads as absent; `None`: never.
    pub expires_at: Option<u64>,
}

/// A conditional key-value store: the one primitive [`KvAuthStore`] needs. It is the shape
/// of `medimint_storage::AppDb::kv_*` (DynamoDB conditional writes, SQLite transactions).
#[async_trait]
pub trait Kv: Send + Sync {
    /// The live record at `key` (an expired one reads as absent).
    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StoreError>;
    /// Writes `value` if `expect` holds; returns the new version, or
    /// [`StoreError::Conflict`].
    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: Expect,
        expires_at: Option<u64>,
    ) -> Result<u64, StoreError>;
    /// Deletes `key` if `expect` holds.
    async fn kv_delete(&self, key: &str, expect: Expect) -> Result<(), StoreError>;
}

/// [`AuthStore`] over a [`Kv`], with the key layout `auth/<kind>/<id>`.
pub struct KvAuthStore<K> {
    kv: K,
}

impl<K: Kv> KvAuthStore<K> {
    /// The store over `kv`.
    pub fn new(kv: K) -> Self {
        Self { kv }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        match self.kv.kv_get(key).await? {
            None => Ok(None),
            Some(r) => Ok(Some(Versioned {
                value: serde_json::from_str(&r.value).map_err(StoreError::Corrupt)?,
                version: r.version,
            })),
        }
    }

    async fn put<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        expect: Expect,
        expires_at: Option<u64>,
    ) -> Result<u64, StoreError> {
        let json = serde_json::to_string(value).map_err(StoreError::Corrupt)?;
        self.kv.kv_put(key, &json, expect, expires_at).await
    }
}

#[async_trait]
impl<K: Kv> AuthStore for KvAuthStore<K> {
    async fn code(&self, email_key: &str) -> Result<Option<Versioned<CodeRecord>>, StoreError> {
        self.get(&format!("auth/code/{email_key}")).await
    }

    async fn put_code(
        &self,
        email_key: &str,
        record: &CodeRecord,
        expect: Expect,
    ) -> Result<u64, StoreError> {
        let key = format!("auth/code/{email_key}");
        // Kept an hour past its expiry so that a late attempt hears "expired", not "none".
        self.put(&key, record, expect, Some(record.expires_at + 3600))
            .await
    }

    async fn delete_code(&self, email_key: &str, expect: Expect) -> Result<(), StoreError> {
        self.kv
            .kv_delete(&format!("auth/code/{email_key}"), expect)
            .await
    }

    async fn first_access(
        &self,
        session_id: &str,
        token: u32,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        match self
            .kv
            .kv_put(
                &format!("auth/access/{session_id}/{token}"),
                "true",
                Expect::Absent,
                Some(expires_at),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn forget_access(&self, session_id: &str, token: u32) -> Result<(), StoreError> {
        self.kv
            .kv_delete(&format!("auth/access/{session_id}/{token}"), Expect::Any)
            .await
    }

    async fn consume_challenge(&self, tx_hash: &str, expires_at: u64) -> Result<bool, StoreError> {
        match self
            .kv
            .kv_put(
                &format!("auth/challenge/{tx_hash}"),
                "true",
                Expect::Absent,
                // Kept a little past the time bounds: a challenge is refused as expired by
                // then anyway, and clocks differ.
                Some(expires_at + 300),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn session(&self, id: &str) -> Result<Option<Versioned<Session>>, StoreError> {
        self.get(&format!("auth/session/{id}")).await
    }

    async fn put_session(
        &self,
        id: &str,
        session: &Session,
        expect: Expect,
        expires_at: u64,
    ) -> Result<u64, StoreError> {
        self.put(
            &format!("auth/session/{id}"),
            session,
            expect,
            Some(expires_at),
        )
        .await
    }

    async fn signed_out_before(&self, address: &str) -> Result<u64, StoreError> {
        Ok(self
            .get::<u64>(&format!("auth/signout/{address}"))
            .await?
            .map(|v| v.value)
            .unwrap_or(0))
    }

    async fn sign_out_before(&self, address: &str, at: u64) -> Result<(), StoreError> {
        self.put(&format!("auth/signout/{address}"), &at, Expect::Any, None)
            .await
            .map(|_| ())
    }

    async fn mfa(&self, address: &str) -> Result<Option<Versioned<MfaRecord>>, StoreError> {
        self.get(&format!("auth/mfa/{address}")).await
    }

    async fn put_mfa(
        &self,
        address: &str,
        record: &MfaRecord,
        expect: Expect,
    ) -> Result<u64, StoreError> {
        self.put(&format!("auth/mfa/{address}"), record, expect, None)
            .await
    }
}
