//! The suite's contract ids and the relayer policy over them. The ids follow from the
//! network, the admin's address and a fixed salt per contract (deterministic deployment), so
//! every part of the platform (CLI, ingest Lambda, API) computes them from the admin's key
//! alone and nothing has to pass contract ids around.

use crate::{tx, Network, Policy};

/// Salt label of the issuer registry.
pub const ISSUER_REGISTRY_SALT: &[u8] = b"medimint/issuer-registry/v1";
/// Salt label of the study token.
pub const STUDY_TOKEN_SALT: &[u8] = b"medimint/study-token/v1";
/// Salt label of the suite registry.
pub const REGISTRY_SALT: &[u8] = b"medimint/registry/v1";

/// Functions of the issuer registry the relayer pays for.
pub const ISSUER_REGISTRY_FUNCTIONS: &[&str] = &[
    "add_issuer",
    "suspend_issuer",
    "reinstate_issuer",
    "remove_issuer",
];
/// Functions of the study token the relayer pays for.
pub const STUDY_TOKEN_FUNCTIONS: &[&str] = &[
    "propose_release",
    "approve_release",
    "reject_release",
    "withdraw_release",
    "mint",
    "grant",
    "revoke",
    "record_access",
    "emergency_access",
    "revoke_emergency",
    "request_records",
    "fulfill_records_request",
    "rekey",
    "erase",
    "set_emergency_policy",
];

/// The contract ids a deployment by `admin` on `network` will have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuitePlan {
    /// The issuer registry's id.
    pub issuer_registry: String,
    /// The study token's id.
    pub study_token: String,
    /// The suite registry's id.
    pub registry: String,
}

impl SuitePlan {
    /// Computes the ids.
    ///
    /// # Errors
    /// An invalid admin address.
    pub fn new(network: &Network, admin: &str) -> crate::Result<Self> {
        Ok(Self {
            issuer_registry: tx::contract_address(network, admin, tx::salt(ISSUER_REGISTRY_SALT))?,
            study_token: tx::contract_address(network, admin, tx::salt(STUDY_TOKEN_SALT))?,
            registry: tx::contract_address(network, admin, tx::salt(REGISTRY_SALT))?,
        })
    }
}

/// Fee caps: 500 XLM per transaction (WASM uploads cost ~130 XLM at mainnet's settings),
/// 10,000 XLM per user a day.
const MAX_FEE_PER_TX: i64 = 5_000_000_000;
const MAX_SPEND_PER_USER_PER_DAY: i64 = 100_000_000_000;

/// The relayer policy for the whole suite: its state-changing functions, deployments allowed
/// when `allow_deploy` (admin tooling only).
pub fn suite_policy(plan: &SuitePlan, allow_deploy: bool) -> Policy {
    let policy = Policy::new(MAX_FEE_PER_TX, MAX_SPEND_PER_USER_PER_DAY)
        .allow(&plan.issuer_registry, ISSUER_REGISTRY_FUNCTIONS)
        .allow(&plan.study_token, STUDY_TOKEN_FUNCTIONS);
    if allow_deploy {
        policy.with_deploy()
    } else {
        policy
    }
}

/// The policy of the release pipeline: it only proposes releases (least privilege for the
/// ingest function; reads are simulations and need no policy).
pub fn ingest_policy(plan: &SuitePlan) -> Policy {
    Policy::new(MAX_FEE_PER_TX, MAX_SPEND_PER_USER_PER_DAY)
        .allow(&plan.study_token, &["propose_release"])
}
