//! The indexer: the suite's contract events (`getEvents`) into the audit index, the
//! notifications they cause, and the metrics of each run. The third Lambda function (an
//! EventBridge schedule runs one bounded batch a minute) and a background task of
//! `medimint up`; both call [`Indexer::run_once`] and [`notify::send_due`].
//!
//! - [`follow`]: [`Indexer`]: cursor, pages, per-event changes, the rebuild from contract
//!   state when the cursor fell out of the RPC's retention window.
//! - [`events`]: one event's history row (names, ids, addresses only).
//! - [`reads`]: the contract reads besides events ([`ChainReads`]).
//! - [`notify`]: batched, PHI-free notifications with opt-outs; the local outbox.
//! - [`metrics`]: CloudWatch embedded-metric-format lines; [`lambda`]: one scheduled event.
//! - [`open`]: the index and indexer of a [`medimint_platform::Platform`].
//! - [`task`]: the background task of `medimint up`; [`health`]: `medimint status`.
//!
//! ```no_run
//! # async fn f(platform: &medimint_platform::Platform) -> Result<(), medimint_indexer_lambda::IndexerError> {
//! let index = medimint_indexer_lambda::open::open_index(platform.config()).await?;
//! let indexer = medimint_indexer_lambda::open::indexer(platform, index, Default::default())?;
//! let report = indexer.run_once().await?;
//! println!("{} events applied, {} ledgers behind", report.applied, report.lag_ledgers);
//! # Ok(()) }
//! ```

pub mod events;
pub mod follow;
pub mod health;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod open;
pub mod reads;
pub mod task;

pub use follow::{Contracts, Indexer, RunReport, Settings};
pub use reads::{ChainReads, SuiteReads};

/// What can go wrong in a run. Messages name the step and never carry PHI.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// The RPC failed or answered something unusable.
    #[error("reading events from the RPC: {0}")]
    Rpc(#[source] medimint_chain::Error),
    /// A contract read failed.
    #[error("{step}: {source}")]
    Chain {
        /// What was being read.
        step: String,
        /// The chain error.
        #[source]
        source: medimint_chain::Error,
    },
    /// The index or application database failed.
    #[error("the index store: {0}")]
    Store(#[from] medimint_storage::StorageError),
    /// The platform could not be used (not deployed, bad configuration).
    #[error("{0}")]
    Platform(#[from] medimint_platform::PlatformError),
    /// The chain and the events disagree (a bug or a different suite).
    #[error("inconsistent chain data: {0}")]
    Inconsistent(String),
    /// A notification could not be sent (it stays queued).
    #[error("sending a notification: {0}")]
    Notify(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

impl IndexerError {
    pub(crate) fn rpc(e: medimint_chain::Error) -> Self {
        IndexerError::Rpc(e)
    }

    pub(crate) fn chain(step: impl Into<String>, source: medimint_chain::Error) -> Self {
        IndexerError::Chain {
            step: step.into(),
            source,
        }
    }

    /// Whether the next scheduled run may succeed where this one failed.
    pub fn is_transient(&self) -> bool {
        match self {
            IndexerError::Rpc(e) | IndexerError::Chain { source: e, .. } => e.is_transient(),
            IndexerError::Store(e) => e.is_transient(),
            IndexerError::Notify(_) => true,
            _ => false,
        }
    }
}
