//! Events of the study token: the audit trail. Token ids and addresses are topics; no PHI.
use soroban_sdk::{contractevent, Address, BytesN};

use crate::types::{AccessKind, RejectReason, Role};

/// An issuer proposed a release; the token is pending the patient's consent.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseProposed {
    /// The new token.
    #[topic]
    pub token_id: u32,
    /// The releasing issuer.
    #[topic]
    pub issuer: Address,
    /// The patient who must consent.
    #[topic]
    pub patient: Address,
    /// Last ledger at which the patient can approve.
    pub pending_until: u32,
}

/// The patient approved a pending release; the token is active.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseApproved {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// The patient.
    #[topic]
    pub patient: Address,
}

/// The patient rejected a pending (or lapsed) release.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseRejected {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// The patient.
    #[topic]
    pub patient: Address,
    /// Why (from a closed list).
    pub reason: RejectReason,
}

/// A token was minted active in one transaction with the patient's consent.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Minted {
    /// The new token.
    #[topic]
    pub token_id: u32,
    /// The releasing issuer.
    #[topic]
    pub issuer: Address,
    /// The patient who owns it.
    #[topic]
    pub patient: Address,
}

/// A role was granted (or a grant replaced).
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RoleGranted {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// Who granted.
    #[topic]
    pub granter: Address,
    /// Who received the role.
    #[topic]
    pub grantee: Address,
    /// The role.
    pub role: Role,
    /// Unix time after which it ends.
    pub expires_at: Option<u64>,
}

/// A grant was revoked.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RoleRevoked {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// Who revoked.
    #[topic]
    pub revoker: Address,
    /// Whose grant ended.
    #[topic]
    pub grantee: Address,
}

/// Someone with access viewed or downloaded the study.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AccessRecorded {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// Who accessed it.
    #[topic]
    pub viewer: Address,
    /// View or Download.
    pub kind: AccessKind,
    /// The role under which it was accessed.
    pub role: Role,
}

/// The token moved to the patient's new key.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OwnerRotated {
    /// The token.
    #[topic]
    pub token_id: u32,
    /// The patient's previous address.
    #[topic]
    pub old_owner: Address,
    /// The patient's new address.
    #[topic]
    pub new_owner: Address,
}

/// The admin changed the window in which pending releases can be approved.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingWindowSet {
    /// New window, in ledgers.
    pub window: u32,
}

/// The contract's code was upgraded.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Upgraded {
    /// Hash of the new WASM.
    pub wasm_hash: BytesN<32>,
}
