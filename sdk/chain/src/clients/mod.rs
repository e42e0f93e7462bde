//! Typed clients for the suite's contracts (study-token and issuer-registry; the suite
//! registry is driven by the admin CLI) (interfaces in `docs/contracts.md`), on top of
//! the [`Relayer`](crate::relayer::Relayer): writes are sponsored, reads are simulated.

mod encode;
mod issuer_registry;
mod study_token;

pub use encode::{contract_struct, field, unit_variant, variant_name};
pub use issuer_registry::{IssuerKind, IssuerProfile, IssuerRecord, IssuerRegistry};
pub use study_token::{
    Access, AccessKind, GrantRecord, RejectReason, Release, Role, StudyToken, TokenRecord,
};
