//! Suite registry: deploys the MediMint contracts from uploaded WASM hashes at
//! deterministic addresses, records name → (contract id, WASM hash, version), lists them,
//! and lets the admin upgrade a member.
#![no_std]

mod contract;
mod errors;
mod events;
mod storage;
mod types;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod test;

pub use contract::{SuiteRegistry, SuiteRegistryClient};
pub use errors::RegistryError;
pub use events::*;
pub use storage::{
    INSTANCE_EXTEND_TO, INSTANCE_TTL_THRESHOLD, MAX_PAGE, PERSISTENT_EXTEND_TO,
    PERSISTENT_TTL_THRESHOLD,
};
pub use types::Member;
