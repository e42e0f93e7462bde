//! Stellar transactions, the RPC client, contract values and the fee-sponsoring relayer.
//!
//! - [`accounts`] creates the operational accounts (sponsor, channels) if missing;
//! - [`tx`] builds, assembles, hashes and signs transactions (pure functions);
//! - [`auth`] signs Soroban authorization entries for any address with a [`Signer`];
//! - [`rpc`] is the RPC boundary ([`Rpc`]) and its `stellar-rpc-client` implementation;
//! - [`outcome`] polls a transaction to its final state and decodes what it returned;
//! - [`scval`] converts contract arguments, return values and events;
//! - [`relayer`] submits on users' behalf through channel accounts and a fee sponsor;
//! - [`clients`] are typed clients of the suite's contracts;
//! - [`suite`] computes the suite's contract ids and the relayer policies over them.
//!
//! See `docs/chain.md` for how the relayer works and fails.

pub mod accounts;
pub mod address;
pub mod auth;
pub mod clients;
pub mod error;
pub mod network;
pub mod outcome;
pub mod relayer;
pub mod rpc;
pub mod scval;
pub mod signer;
pub mod suite;
pub mod tx;

pub use error::{Error, Result};
pub use network::Network;
pub use outcome::{Backoff, Landed};
pub use relayer::{Policy, Refusal, RelayCounts, Relayer, RelayerConfig};
pub use rpc::{ContractEvent, EventPage, EventsFrom, Rpc, StellarRpc};
pub use signer::Signer;
