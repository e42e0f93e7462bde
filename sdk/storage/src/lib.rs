//! Object storage and application database traits with their adapters.
//!
//! Two traits meet the rest of MediMint here:
//! - [`ObjectStore`]: streaming object storage; [`LocalDirStore`] for the embedded default and
//!   [`S3Store`] for AWS.
//! - [`AppDb`]: the application database (accounts, releases, idempotency records, the
//!   relayer's request records and spend, and a small conditional key-value store for leases
//!   and sign-in state) with versioned migrations; [`SqliteDb`] for the embedded default and [`DynamoDb`] for AWS.
//! - [`Index`]: the audit index the indexer builds from chain events, over an [`IndexStore`]
//!   ([`SqliteIndex`], [`DynamoIndex`]).

pub mod db;
pub mod dynamo;
pub mod error;
pub mod index;
pub mod index_dynamo;
pub mod index_sqlite;
pub mod key;
pub mod local;
pub mod object;
mod pool;
pub mod relayer;
pub mod s3;
pub mod ses;
pub mod sqlite;

pub use db::{
    kv_expect_holds, normalize_email, now, Account, AppDb, Custody, IdempotencyOutcome, KvExpect,
    KvRecord, Release, ReleaseStatus, SpendOutcome, SCHEMA_VERSION,
};
pub use dynamo::DynamoDb;
pub use error::StorageError;
pub use index::{Index, IndexStore};
pub use index_dynamo::DynamoIndex;
pub use index_sqlite::SqliteIndex;
pub use key::validate_key;
pub use local::LocalDirStore;
pub use object::{ObjectInfo, ObjectReader, ObjectStore, PresignedRequest};
pub use relayer::RelayerDb;
pub use s3::S3Store;
pub use ses::{SesError, SesMailer, SesSettings};
pub use sqlite::SqliteDb;
