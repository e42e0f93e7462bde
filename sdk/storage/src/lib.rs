//! Object storage and application database traits with their adapters.
//!
//! Two traits meet the rest of MediMint here:
//! - [`ObjectStore`]: streaming object storage; [`LocalDirStore`] for the embedded default and
//!   [`S3Store`] for AWS.
//! - [`AppDb`]: the application database (accounts, releases, idempotency records, the
//!   relayer's request records and spend, and a small conditional key-value store for leases
//!   and sign-in state) with versioned migrations; [`SqliteDb`] for the embedded default and [`DynamoDb`] for AWS.

pub mod db;
pub mod dynamo;
pub mod error;
pub mod key;
pub mod local;
pub mod object;
pub mod relayer;
pub mod s3;
pub mod sqlite;

pub use db::{
    kv_expect_holds, normalize_email, now, Account, AppDb, Custody, IdempotencyOutcome, KvExpect,
    KvRecord, Release, ReleaseStatus, SpendOutcome, SCHEMA_VERSION,
};
pub use dynamo::DynamoDb;
pub use error::StorageError;
pub use key::validate_key;
pub use local::LocalDirStore;
pub use object::{ObjectInfo, ObjectReader, ObjectStore, PresignedRequest};
pub use relayer::RelayerDb;
pub use s3::S3Store;
pub use sqlite::SqliteDb;
