//! Events of the study token: the audit trail. Token ids and addresses are topics; no PHI.
use soroban_sdk::{contractevent, Address, BytesN, String};

use crate::types::{AccessKind, EmergencyReason, RejectReason, Role};

// An issuer proposed a release; the token is pending the patient's consent.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseProposed {
    // The new token.
    #[topic]
    pub token_id: u32,
    // The releasing issuer.
    #[topic]
    pub issuer: Address,
    // The patient who must consent.
    #[topic]
    pub patient: Address,
    // Last ledger at which the patient can approve.
    pub pending_until: u32,
}

// The patient approved a pending release; the token is active.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseApproved {
    // The token.
    #[topic]
    pub token_id: u32,
    // The patient.
    #[topic]
    pub patient: Address,
}

// The patient rejected a pending (or lapsed) release.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseRejected {
    // The token.
    #[topic]
    pub token_id: u32,
    // The patient.
    #[topic]
    pub patient: Address,
    // Why (from a closed list).
    pub reason: RejectReason,
}

// The issuer withdrew a pending release (e.g. sent to the wrong patient); its commitment
// is free again.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseWithdrawn {
    // The token.
    #[topic]
    pub token_id: u32,
    // The token's issuer (who withdrew it, unless `commitment_cleared` comes with the
    // event: then the admin did).
    #[topic]
    pub issuer: Address,
    // The patient it was addressed to.
    #[topic]
    pub patient: Address,
}

// The admin cleared a squatted commitment: the pending release that held it was withdrawn
// (a `release_withdrawn` event comes with this one) and the commitment is free again.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CommitmentCleared {
    // The withdrawn token.
    #[topic]
    pub token_id: u32,
    // The admin who cleared it.
    #[topic]
    pub admin: Address,
    // The issuer whose pending release held the commitment.
    pub issuer: Address,
}

// A token was minted active in one transaction with the patient's consent.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Minted {
    // The new token.
    #[topic]
    pub token_id: u32,
    // The releasing issuer.
    #[topic]
    pub issuer: Address,
    // The patient who owns it.
    #[topic]
    pub patient: Address,
}

// A role was granted (or a grant replaced).
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RoleGranted {
    // The token.
    #[topic]
    pub token_id: u32,
    // Who granted.
    #[topic]
    pub granter: Address,
    // Who received the role.
    #[topic]
    pub grantee: Address,
    // The role.
    pub role: Role,
    // Unix time after which it ends.
    pub expires_at: Option<u64>,
}

// A grant was revoked.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RoleRevoked {
    // The token.
    #[topic]
    pub token_id: u32,
    // Who revoked.
    #[topic]
    pub revoker: Address,
    // Whose grant ended.
    #[topic]
    pub grantee: Address,
}

// Someone with access viewed or downloaded the study.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AccessRecorded {
    // The token.
    #[topic]
    pub token_id: u32,
    // Who accessed it.
    #[topic]
    pub viewer: Address,
    // View or Download.
    pub kind: AccessKind,
    // The role under which it was accessed.
    pub role: Role,
}

// The token moved to the patient's new key.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OwnerRotated {
    // The token.
    #[topic]
    pub token_id: u32,
    // The patient's previous address.
    #[topic]
    pub old_owner: Address,
    // The patient's new address.
    #[topic]
    pub new_owner: Address,
}

// The admin changed the window in which pending releases can be approved.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingWindowSet {
    // New window, in ledgers.
    pub window: u32,
}

// The admin changed how many pending releases one issuer may have for one patient.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingCapSet {
    // New cap.
    pub cap: u32,
}

// The admin paused releases, grants and access recording.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Paused {
    // The admin.
    #[topic]
    pub admin: Address,
}

// The admin ended the pause.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Unpaused {
    // The admin.
    #[topic]
    pub admin: Address,
}

// The constructor's configuration, so an indexer learns it from events alone.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Configured {
    // The admin.
    #[topic]
    pub admin: Address,
    // The issuer registry the token trusts.
    pub issuer_registry: Address,
    // The pending window, in ledgers.
    pub pending_window: u32,
    // The per-issuer, per-patient pending cap.
    pub pending_cap: u32,
    // The upgrade delay, in ledgers.
    pub upgrade_delay: u32,
}

// SEP-0050's `mint` event, emitted beside `minted` / `release_approved` when a token
// becomes active, so generic NFT indexers see the tokens.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Mint {
    // The owner.
    #[topic]
    pub to: Address,
    // The token.
    pub token_id: u32,
}

// An active trusted issuer opened a study without the patient's consent (break-glass): it
// holds Viewer until `expires_at`. The reason is from a closed list; the free-text account
// stays off chain.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EmergencyAccess {
    // The token.
    #[topic]
    pub token_id: u32,
    // The issuer that broke the glass.
    #[topic]
    pub issuer: Address,
    // The patient who owns the token (to be notified).
    #[topic]
    pub patient: Address,
    // Why.
    pub reason: EmergencyReason,
    // Unix time the access ends.
    pub expires_at: u64,
}

// An emergency access ended early: revoked by the patient or the admin, or renounced by
// the issuer.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EmergencyRevoked {
    // The token.
    #[topic]
    pub token_id: u32,
    // Who ended it.
    #[topic]
    pub revoker: Address,
    // The issuer whose emergency access ended.
    #[topic]
    pub issuer: Address,
}

// The admin changed the bounds on emergency access.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EmergencyPolicySet {
    // Longest emergency grant, in hours.
    pub max_hours: u32,
    // Emergency accesses per issuer and window.
    pub limit: u32,
    // The window, in seconds.
    pub window: u64,
}

// A trusted issuer asked an outside institution for a patient's records. No PHI: a random
// request id, the issuer, and the patient's address when it is known.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecordsRequested {
    // The random request id.
    #[topic]
    pub request_id: BytesN<32>,
    // The requesting issuer.
    #[topic]
    pub issuer: Address,
    // The patient's address, when known.
    pub patient: Option<Address>,
}

// The requesting issuer released the records it asked for as `token_id`.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecordsRequestFulfilled {
    // The request id.
    #[topic]
    pub request_id: BytesN<32>,
    // The requesting issuer.
    #[topic]
    pub issuer: Address,
    // The token the records were released as.
    pub token_id: u32,
}

// The owner re-keyed the study: a new study key, the files re-encrypted, and a new
// metadata object; the commitment (so `verify`) is unchanged.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Rekeyed {
    // The token.
    #[topic]
    pub token_id: u32,
    // The owner.
    #[topic]
    pub owner: Address,
    // The new metadata URI.
    pub metadata_uri: String,
}

// The owner erased the study (crypto-shredding off chain); the token is terminal.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Erased {
    // The token.
    #[topic]
    pub token_id: u32,
    // The owner.
    #[topic]
    pub owner: Address,
}
