//! medimint-ingest-lambda: the ingest AWS Lambda function's adapter. [`notification`] turns
//! S3 `ObjectCreated` notifications (delivered directly or in an SQS batch) into calls of the
//! release pipeline ([`medimint_ingest::process_key`]) and [`production`] assembles the
//! pipeline from the function's environment; `main.rs` only connects the two to the Lambda
//! runtime. Everything worth testing about a release is in `medimint-ingest`.

pub mod notification;
pub mod production;

pub use notification::{
    handle_counted, handle_notification, manifest_keys, BatchCounts, NotificationError,
};
pub use production::{Opened, ProductionConfig, ProductionError};
