//! Study token: one non-transferable token per released imaging study, with the patient's
//! consent, the roles of those the patient shares it with, and the access audit trail.
//!
//! A trusted issuer releases a study either in two transactions (`propose_release`, then the
//! patient's `approve_release` or `reject_release`) or in one (`mint`, authorized by issuer
//! and patient over the same arguments). The chain holds no PHI: only addresses, an
//! `ipfs://` content address of the encrypted metadata, a keyed or salted commitment to the
//! checksum root (never the root itself) and counters.
#![no_std]

#[path = "../../common/admin.rs"]
mod admin_core;
mod contract;
mod errors;
mod events;
mod registry_client;
mod storage;
mod types;
mod validate;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod test;
#[cfg(any(test, feature = "testutils"))]
pub mod testutils;

pub use admin_core::{
    AdminChanged, AdminProposed, AdminTransferCancelled, PendingAdmin, ScheduledUpgrade,
    UpgradeCancelled, UpgradeScheduled, Upgraded, DEFAULT_UPGRADE_DELAY, MAX_UPGRADE_DELAY,
};
pub use contract::{StudyToken, StudyTokenClient};
pub use errors::StudyTokenError;
pub use events::*;
pub use registry_client::{IssuerRegistryClient, IssuerRegistryInterface};
pub use storage::{
    CHUNK, DEFAULT_EMERGENCY_HOURS, DEFAULT_EMERGENCY_LIMIT, DEFAULT_EMERGENCY_WINDOW,
    DEFAULT_PENDING_CAP, DEFAULT_PENDING_WINDOW, INSTANCE_EXTEND_TO, INSTANCE_TTL_THRESHOLD,
    MAX_EMERGENCY_HOURS, MAX_EMERGENCY_LIMIT, MAX_EMERGENCY_WINDOW, MAX_PAGE, MAX_PENDING_CAP,
    MAX_PENDING_WINDOW, MIN_EMERGENCY_WINDOW, PERSISTENT_EXTEND_TO, PERSISTENT_TTL_THRESHOLD,
    REQUEST_TTL,
};
pub use types::{
    Access, AccessKind, Consent, EmergencyGrant, EmergencyPolicy, EmergencyReason, GrantInfo,
    RecordsRequest, RejectReason, Release, Role, Token, TokenStatus,
};
pub use validate::{MAX_CID_LEN, MAX_FILE_COUNT, MIN_CID_LEN};
