//! MediMint SDK.

/// Object storage and the application database (S3/DynamoDB and local adapters).
pub use medimint_storage as storage;
