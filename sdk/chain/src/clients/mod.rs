//! Typed clients for the suite's contracts (interfaces in `docs/contracts.md`): the
//! study token ([`StudyToken`]), the issuer registry ([`IssuerRegistry`]) and the suite
//! registry ([`SuiteRegistry`]), on top of the [`Relayer`](crate::relayer::Relayer): writes
//! are sponsored, reads are simulated. Every contract function has a client function of the
//! same name, except the study token's SEP-0050 `transfer`, `transfer_from`, `approve` and
//! `approve_for_all`: study tokens never move between people, so the contract always fails
//! them with `NonTransferable` (#211); a key change is [`StudyToken::rotate_owner`].
//!
//! A contract error comes back as [`Error::Simulation`](crate::Error::Simulation) with the
//! host's `Error(Contract, #N)` followed by the error's name, e.g. `(NotOwner)`;
//! [`contract_error`] reads both.

mod admin;
mod encode;
mod errors;
mod issuer_registry;
mod registry;
mod study_token;

pub use admin::{PendingAdmin, ScheduledUpgrade};
pub use encode::{contract_struct, field, unit_variant, variant_name};
pub use errors::contract_error;
pub use issuer_registry::{IssuerKind, IssuerProfile, IssuerRecord, IssuerRegistry, ISSUERS_PAGE};
pub use registry::{Member, SuiteRegistry};
pub use study_token::{
    Access, AccessKind, Consent, EmergencyPolicy, EmergencyReason, GrantRecord, RejectReason,
    Release, Role, StudyToken, TokenRecord, TokenStatus,
};
