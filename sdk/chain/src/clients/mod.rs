//! Typed clients for the suite's contracts (interfaces in `docs/contracts.md`), on top of
//! the [`Relayer`](crate::relayer::Relayer): writes are sponsored, reads are simulated.

mod encode;
mod study_token;

pub use encode::{contract_struct, unit_variant, variant_name};
pub use study_token::{Access, AccessKind, RejectReason, Release, Role, StudyToken};
