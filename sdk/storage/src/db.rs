//! The application database trait and its records.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StorageError;

/// The schema version this code writes. Adapters migrate up to it and refuse a database
/// whose version is newer (written by later code).
pub const SCHEMA_VERSION: u32 = 4;

/// How the platform holds a user's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Custody {
    /// Derived on demand from the platform seed at `m/44'/148'/<hd_index>'`.
    Custodial,
    /// The user's own wallet: only the public key is known.
    External,
}

impl Custody {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Custody::Custodial => "custodial",
            Custody::External => "external",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StorageError> {
        match s {
            "custodial" => Ok(Custody::Custodial),
            "external" => Ok(Custody::External),
            other => Err(StorageError::Corrupt(format!("custody kind {other:?}"))),
        }
    }
}

/// A user account: the email is the lookup key (normalised by [`normalize_email`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Normalised email.
    pub email: String,
    /// Stellar G-address.
    pub address: String,
    /// Custodial or external.
    pub custody: Custody,
    /// HD index of a custodial key; `None` for an external wallet.
    pub hd_index: Option<u32>,
    /// Unix seconds.
    pub created_at: u64,
}

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// The manifest arrived; processing started.
    Received,
    /// An invocation holds the release (a lease from `updated_at`) while it encrypts and
    /// stores the study.
    Processing,
    /// Validation failed; the report is stored and the upload quarantined.
    Rejected,
    /// Encrypted files and metadata are stored.
    Stored,
    /// Proposed on chain; awaiting the patient's consent.
    Proposed,
    /// The chain confirmed the proposal and the original upload was removed.
    Confirmed,
}

impl ReleaseStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Received => "received",
            ReleaseStatus::Processing => "processing",
            ReleaseStatus::Rejected => "rejected",
            ReleaseStatus::Stored => "stored",
            ReleaseStatus::Proposed => "proposed",
            ReleaseStatus::Confirmed => "confirmed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StorageError> {
        Ok(match s {
            "received" => ReleaseStatus::Received,
            "processing" => ReleaseStatus::Processing,
            "rejected" => ReleaseStatus::Rejected,
            "stored" => ReleaseStatus::Stored,
            "proposed" => ReleaseStatus::Proposed,
            "confirmed" => ReleaseStatus::Confirmed,
            other => return Err(StorageError::Corrupt(format!("release status {other:?}"))),
        })
    }
}

/// One release, keyed by issuer address and the issuer's release id. Holds no PHI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The issuer's G-address.
    pub issuer: String,
    /// The issuer's release id (the inbox folder name).
    pub release_id: String,
    /// Where it stands.
    pub status: ReleaseStatus,
    /// Hex SHA-256 Merkle root of the original files, once computed.
    pub checksum_root: Option<String>,
    /// Study id under `studies/`, once assigned.
    pub study_id: Option<String>,
    /// CID of the encrypted metadata object under `meta/`, once stored.
    pub metadata_cid: Option<String>,
    /// Object key of the validation report, if one was written.
    pub report_key: Option<String>,
    /// Token id on chain, once proposed.
    pub token_id: Option<String>,
    /// Optimistic-concurrency counter: [`AppDb::update_release`] succeeds only if the stored
    /// record still has this version, and then increments it.
    pub version: u64,
    /// Unix seconds of the last write.
    pub updated_at: u64,
}

impl Release {
    /// A new release in [`ReleaseStatus::Received`].
    pub fn received(issuer: &str, release_id: &str, now: u64) -> Self {
        Self {
            issuer: issuer.to_owned(),
            release_id: release_id.to_owned(),
            status: ReleaseStatus::Received,
            checksum_root: None,
            study_id: None,
            metadata_cid: None,
            report_key: None,
            token_id: None,
            version: 0,
            updated_at: now,
        }
    }
}

/// A record of the conditional key-value store ([`AppDb::kv_get`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvRecord {
    /// The stored text.
    pub value: String,
    /// Incremented by every write. It keeps counting when an expired record is written
    /// again, so a writer holding the version of an expired record never matches a newer one;
    /// only [`AppDb::kv_delete`] starts a key over at 1.
    pub version: u64,
    /// Unix seconds from which the record counts as absent; `None` never expires.
    pub expires_at: Option<u64>,
}

/// What [`AppDb::kv_put`] and [`AppDb::kv_delete`] expect to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvExpect {
    /// No record, or an expired one.
    Absent,
    /// A live record at this version.
    Version(u64),
    /// Anything.
    Any,
}

/// Result of a put-if-absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyOutcome {
    /// This call wrote the record.
    Inserted,
    /// A record was there already; its value is returned.
    Existing(String),
}

/// The application database. Every write that may race is conditional, so two Lambda
/// invocations working on the same release cannot both win.
#[async_trait]
pub trait AppDb: Send + Sync {
    /// Applies every migration up to [`SCHEMA_VERSION`]; returns the resulting version.
    /// Idempotent. Fails with [`StorageError::Corrupt`] if the stored version is newer.
    async fn migrate(&self) -> Result<u32, StorageError>;

    /// The stored schema version (0 for an empty database).
    async fn schema_version(&self) -> Result<u32, StorageError>;

    /// Allocates the next HD index for a custodial key: strictly increasing, never returned
    /// twice, even under concurrent callers. Gaps are allowed (an allocation whose account
    /// insert lost a race is simply not used).
    async fn allocate_hd_index(&self) -> Result<u32, StorageError>;

    /// Inserts `account` unless its email is taken; returns the stored account either way
    /// (the caller compares addresses to see whether it won).
    async fn insert_account(&self, account: &Account) -> Result<Account, StorageError>;

    /// The account of `email` (normalised before lookup).
    async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError>;

    /// The account whose key is `address` (a G-address), e.g. to find the HD index of a
    /// custodial issuer or token owner.
    async fn account_by_address(&self, address: &str) -> Result<Option<Account>, StorageError>;

    /// Inserts `release` unless one with the same issuer and release id exists; returns the
    /// stored release either way.
    async fn insert_release(&self, release: &Release) -> Result<Release, StorageError>;

    /// The release of `issuer` with id `release_id`.
    async fn get_release(
        &self,
        issuer: &str,
        release_id: &str,
    ) -> Result<Option<Release>, StorageError>;

    /// Replaces the release if the stored version equals `release.version`; returns it with
    /// the incremented version. [`StorageError::Conflict`] if it changed meanwhile,
    /// [`StorageError::NotFound`] if absent.
    async fn update_release(&self, release: &Release) -> Result<Release, StorageError>;

    /// Writes `value` under `key` only if absent.
    async fn put_idempotency(
        &self,
        key: &str,
        value: &str,
    ) -> Result<IdempotencyOutcome, StorageError>;

    /// The value stored under `key`.
    async fn get_idempotency(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Stores (or replaces) the relayer's record of request `key` (its text form, see
    /// `medimint_chain::relayer::RequestRecord::to_text`).
    async fn put_relay_request(&self, key: &str, record: &str) -> Result<(), StorageError>;

    /// The relayer's record of request `key`.
    async fn get_relay_request(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Adds `delta` stroops (negative to give back) to what the relayer spent for `user` on
    /// UTC day `day`, atomically. With `cap`, refuses instead when the total would pass it.
    async fn add_relay_spend(
        &self,
        user: &str,
        day: u64,
        delta: i64,
        cap: Option<i64>,
    ) -> Result<SpendOutcome, StorageError>;

    /// What the relayer spent (or has reserved) for `user` on `day`.
    async fn relay_spend(&self, user: &str, day: u64) -> Result<i64, StorageError>;

    /// The record under `key`: `None` if absent or expired (`expires_at <= now`).
    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StorageError>;

    /// Writes `value` under `key` if `expect` holds (an expired record counts as absent);
    /// returns the new version (1 for a fresh record). [`StorageError::Conflict`] otherwise.
    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: KvExpect,
        expires_at: Option<u64>,
    ) -> Result<u64, StorageError>;

    /// Deletes the record under `key` if `expect` holds; `Ok(true)` if a live record was
    /// deleted. [`StorageError::Conflict`] if `expect` does not hold.
    async fn kv_delete(&self, key: &str, expect: KvExpect) -> Result<bool, StorageError>;
}

/// Whether a record with `version` (if any) live until `expires_at` satisfies `expect` at
/// `now`. Shared by the adapters that check in code (SQLite) and the in-memory fakes.
pub fn kv_expect_holds(expect: KvExpect, stored: Option<(u64, Option<u64>)>, now: u64) -> bool {
    let live = stored.filter(|(_, exp)| exp.is_none_or(|e| e > now));
    match expect {
        KvExpect::Any => true,
        KvExpect::Absent => live.is_none(),
        KvExpect::Version(v) => live.is_some_and(|(have, _)| have == v),
    }
}

/// Result of [`AppDb::add_relay_spend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOutcome {
    /// Added; the new total.
    Added(i64),
    /// Not added: the total would have been `would`, over the cap.
    OverCap {
        /// The total the addition would have made.
        would: i64,
    },
}

/// Emails are compared trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
