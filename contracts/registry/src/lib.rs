//! Suite registry: deploys the MediMint contracts from uploaded WASM hashes at
//! deterministic addresses, records name → (contract id, WASM hash, version), lists them,
//! lets the admin upgrade a member (through the member's own timelock), and reports the
//! hash each member runs now.
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
pub use contract::{SuiteRegistry, SuiteRegistryClient};
pub use errors::RegistryError;
pub use events::*;
pub use storage::{
    INSTANCE_EXTEND_TO, INSTANCE_TTL_THRESHOLD, MAX_PAGE, PERSISTENT_EXTEND_TO,
    PERSISTENT_TTL_THRESHOLD,
};
pub use types::Member;
