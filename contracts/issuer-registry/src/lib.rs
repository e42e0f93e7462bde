//! Issuer registry: the admin-managed whitelist of trusted issuers (hospitals, imaging
//! centres, physicians, laboratories) that may release studies to patients.
//!
//! The study token asks [`IssuerRegistry::is_trusted`] by cross-contract call at the moment
//! an issuer proposes or mints a release. Profiles hold no PHI: a display name, a kind, a
//! jurisdiction code and a 32-byte commitment to off-chain verification evidence.
#![no_std]

#[path = "../../common/admin.rs"]
mod admin_core;
mod contract;
mod errors;
mod events;
mod storage;
mod types;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod test;

pub use admin_core::{
    AdminChanged, AdminProposed, AdminTransferCancelled, PendingAdmin, ScheduledUpgrade,
    UpgradeCancelled, UpgradeScheduled, Upgraded, DEFAULT_UPGRADE_DELAY, MAX_UPGRADE_DELAY,
};
pub use contract::{IssuerRegistry, IssuerRegistryClient};
pub use errors::IssuerRegistryError;
pub use events::*;
pub use storage::{
    INSTANCE_EXTEND_TO, INSTANCE_TTL_THRESHOLD, MAX_PAGE, PERSISTENT_EXTEND_TO,
    PERSISTENT_TTL_THRESHOLD,
};
pub use types::{Issuer, IssuerKind, IssuerProfile, IssuerStatus};
