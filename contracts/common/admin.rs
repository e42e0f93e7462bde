//! Administration shared by the suite's three contracts, included by each with
//! `#[path = "../../common/admin.rs"] mod admin_core;` (one definition, no extra crate):
//!
//! - a two-step admin transfer with a bounded expiry and a cancel, and
//! - upgrades through a timelock: scheduled, cancellable, executable only after a delay.
//!
//! The semantics follow OpenZeppelin `stellar-access` (`role_transfer`: the pending transfer
//! lives in temporary storage with a TTL equal to its deadline, and the deadline is bounded
//! by the network's maximum TTL) and `stellar-governance`'s timelock (an operation is
//! scheduled with a delay, can be cancelled, and runs only once ready). Those crates need
//! soroban-sdk 28 while the workspace is pinned to 29.0.1, so they are matched, not used.
//!
//! Each contract keeps its admin address in its own storage, requires the admin's
//! authorization itself, and maps [`Fault`] into its own error range.
use soroban_sdk::{contractevent, contracttype, Address, BytesN, Env, Executable};

/// Ledgers per day at the nominal 5-second close time.
const DAY_IN_LEDGERS: u32 = 17_280;
/// Upgrade delay when none is set at deployment (48 hours).
pub const DEFAULT_UPGRADE_DELAY: u32 = 2 * DAY_IN_LEDGERS;
/// Longest upgrade delay (28 days: a scheduled upgrade stays inside the instance's TTL).
pub const MAX_UPGRADE_DELAY: u32 = 28 * DAY_IN_LEDGERS;

#[contracttype]
#[derive(Clone)]
enum AdminKey {
    /// The admin transfer awaiting acceptance (temporary storage, TTL = its deadline).
    Transfer,
    /// The scheduled upgrade (instance).
    Upgrade,
    /// The upgrade delay in ledgers (instance; `DEFAULT_UPGRADE_DELAY` when absent).
    UpgradeDelay,
}

/// What can go wrong; each contract maps it to its own error code.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Fault {
    /// No admin transfer is pending (none proposed, cancelled, accepted or expired).
    NoPendingAdmin,
    /// The pending admin transfer's deadline has passed.
    AdminTransferExpired,
    /// The deadline is not in the future or lies past the network's maximum TTL.
    InvalidExpiry,
    /// No upgrade to this WASM hash is scheduled.
    NoScheduledUpgrade,
    /// The scheduled upgrade's delay has not passed yet.
    UpgradeNotReady,
    /// The upgrade delay is longer than `MAX_UPGRADE_DELAY`.
    InvalidUpgradeDelay,
}

/// An admin transfer proposed but not yet accepted.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingAdmin {
    /// The proposed new admin.
    pub admin: Address,
    /// Last ledger at which `accept_admin` succeeds.
    pub live_until_ledger: u32,
}

/// An upgrade waiting for its delay to pass.
#[contracttype]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ScheduledUpgrade {
    /// Hash of the uploaded WASM the contract will run.
    pub wasm_hash: BytesN<32>,
    /// First ledger at which `upgrade` may run it.
    pub ready_ledger: u32,
}

/// The admin proposed a new admin.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdminProposed {
    /// The current admin.
    #[topic]
    pub admin: Address,
    /// The proposed admin.
    #[topic]
    pub proposed: Address,
    /// Last ledger at which the proposal can be accepted.
    pub live_until_ledger: u32,
}

/// The admin cancelled its pending transfer.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdminTransferCancelled {
    /// The current admin.
    #[topic]
    pub admin: Address,
    /// The admin that had been proposed.
    #[topic]
    pub proposed: Address,
}

/// The proposed admin accepted; it is now the admin.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdminChanged {
    /// The previous admin.
    #[topic]
    pub previous: Address,
    /// The new admin.
    #[topic]
    pub admin: Address,
}

/// The admin scheduled an upgrade; it can run from `ready_ledger` on.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct UpgradeScheduled {
    /// Hash of the WASM to run.
    pub wasm_hash: BytesN<32>,
    /// First ledger at which it can run.
    pub ready_ledger: u32,
}

/// The admin cancelled a scheduled upgrade.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct UpgradeCancelled {
    /// Hash of the WASM that will not run.
    pub wasm_hash: BytesN<32>,
}

/// The contract's code was upgraded.
#[contractevent]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Upgraded {
    /// Hash of the WASM it ran before (`None` when it was not a WASM contract, as in
    /// native tests).
    pub old_wasm_hash: Option<BytesN<32>>,
    /// Hash of the new WASM.
    pub wasm_hash: BytesN<32>,
}

/// Stores the upgrade delay chosen at deployment (`None`: `DEFAULT_UPGRADE_DELAY`).
pub fn init_upgrade_delay(env: &Env, delay: Option<u32>) -> Result<u32, Fault> {
    let delay = delay.unwrap_or(DEFAULT_UPGRADE_DELAY);
    if delay > MAX_UPGRADE_DELAY {
        return Err(Fault::InvalidUpgradeDelay);
    }
    env.storage()
        .instance()
        .set(&AdminKey::UpgradeDelay, &delay);
    Ok(delay)
}

/// The upgrade delay in ledgers.
pub fn upgrade_delay(env: &Env) -> u32 {
    env.storage()
        .instance()
        .get(&AdminKey::UpgradeDelay)
        .unwrap_or(DEFAULT_UPGRADE_DELAY)
}

/// First step of a transfer, after the caller checked `admin`'s authorization: proposes
/// `new_admin` until `live_until_ledger` (in the future, at most the network's maximum TTL
/// away). Replaces an earlier proposal.
pub fn propose(
    env: &Env,
    admin: &Address,
    new_admin: &Address,
    live_until_ledger: u32,
) -> Result<(), Fault> {
    let now = env.ledger().sequence();
    if live_until_ledger <= now || live_until_ledger > env.ledger().max_live_until_ledger() {
        return Err(Fault::InvalidExpiry);
    }
    let pending = PendingAdmin {
        admin: new_admin.clone(),
        live_until_ledger,
    };
    let s = env.storage().temporary();
    s.set(&AdminKey::Transfer, &pending);
    let ttl = live_until_ledger - now;
    s.extend_ttl(&AdminKey::Transfer, ttl, ttl);
    AdminProposed {
        admin: admin.clone(),
        proposed: new_admin.clone(),
        live_until_ledger,
    }
    .publish(env);
    Ok(())
}

/// The pending transfer, if any and not expired.
pub fn pending(env: &Env) -> Option<PendingAdmin> {
    env.storage()
        .temporary()
        .get::<_, PendingAdmin>(&AdminKey::Transfer)
        .filter(|p| env.ledger().sequence() <= p.live_until_ledger)
}

/// Cancels the pending transfer, after the caller checked `admin`'s authorization.
pub fn cancel(env: &Env, admin: &Address) -> Result<(), Fault> {
    let pending = pending(env).ok_or(Fault::NoPendingAdmin)?;
    env.storage().temporary().remove(&AdminKey::Transfer);
    AdminTransferCancelled {
        admin: admin.clone(),
        proposed: pending.admin,
    }
    .publish(env);
    Ok(())
}

/// Second step: the proposed admin authorizes and is returned for the caller to store.
pub fn accept(env: &Env, previous: &Address) -> Result<Address, Fault> {
    let pending: PendingAdmin = env
        .storage()
        .temporary()
        .get(&AdminKey::Transfer)
        .ok_or(Fault::NoPendingAdmin)?;
    if env.ledger().sequence() > pending.live_until_ledger {
        return Err(Fault::AdminTransferExpired);
    }
    pending.admin.require_auth();
    env.storage().temporary().remove(&AdminKey::Transfer);
    AdminChanged {
        previous: previous.clone(),
        admin: pending.admin.clone(),
    }
    .publish(env);
    Ok(pending.admin)
}

/// Schedules an upgrade to `wasm_hash` after the delay (replacing an earlier schedule),
/// after the caller checked the admin's authorization.
pub fn schedule_upgrade(env: &Env, wasm_hash: &BytesN<32>) -> ScheduledUpgrade {
    let plan = ScheduledUpgrade {
        wasm_hash: wasm_hash.clone(),
        ready_ledger: env.ledger().sequence().saturating_add(upgrade_delay(env)),
    };
    env.storage().instance().set(&AdminKey::Upgrade, &plan);
    UpgradeScheduled {
        wasm_hash: plan.wasm_hash.clone(),
        ready_ledger: plan.ready_ledger,
    }
    .publish(env);
    plan
}

/// The scheduled upgrade, if any.
pub fn scheduled_upgrade(env: &Env) -> Option<ScheduledUpgrade> {
    env.storage().instance().get(&AdminKey::Upgrade)
}

/// Cancels the scheduled upgrade, after the caller checked the admin's authorization.
pub fn cancel_upgrade(env: &Env) -> Result<(), Fault> {
    let plan = scheduled_upgrade(env).ok_or(Fault::NoScheduledUpgrade)?;
    env.storage().instance().remove(&AdminKey::Upgrade);
    UpgradeCancelled {
        wasm_hash: plan.wasm_hash,
    }
    .publish(env);
    Ok(())
}

/// Runs the scheduled upgrade to `wasm_hash` once its delay has passed, after the caller
/// checked the admin's authorization.
pub fn upgrade(env: &Env, wasm_hash: &BytesN<32>) -> Result<(), Fault> {
    let plan = scheduled_upgrade(env)
        .filter(|p| &p.wasm_hash == wasm_hash)
        .ok_or(Fault::NoScheduledUpgrade)?;
    if env.ledger().sequence() < plan.ready_ledger {
        return Err(Fault::UpgradeNotReady);
    }
    env.storage().instance().remove(&AdminKey::Upgrade);
    let old_wasm_hash = match env.current_contract_address().executable() {
        Some(Executable::Wasm(hash)) => Some(hash),
        _ => None,
    };
    env.deployer()
        .update_current_contract(soroban_sdk::ContractExecutable::Wasm(wasm_hash.clone()));
    Upgraded {
        old_wasm_hash,
        wasm_hash: wasm_hash.clone(),
    }
    .publish(env);
    Ok(())
}
