//! Administration of the study token: two-step admin transfer, upgrades through a timelock,
//! the emergency pause and the per-issuer pending cap. The transfer and the timelock are the
//! suite's shared rules (`contracts/common/admin.rs`).
use soroban_sdk::{contractimpl, Address, BytesN, Env};

use super::{StudyToken, StudyTokenArgs, StudyTokenClient};
use crate::admin_core::{self, Fault, PendingAdmin, ScheduledUpgrade};
use crate::errors::StudyTokenError as Error;
use crate::events::{CommitmentCleared, Paused, PendingCapSet, PendingWindowSet, Unpaused};
use crate::storage::{self, MAX_PENDING_CAP, MAX_PENDING_WINDOW};
use crate::types::TokenStatus;

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        match f {
            Fault::NoPendingAdmin => Error::NoPendingAdmin,
            Fault::AdminTransferExpired => Error::AdminTransferExpired,
            Fault::InvalidExpiry => Error::InvalidExpiry,
            Fault::NoScheduledUpgrade => Error::NoScheduledUpgrade,
            Fault::UpgradeNotReady => Error::UpgradeNotReady,
            Fault::InvalidUpgradeDelay => Error::InvalidUpgradeDelay,
        }
    }
}

// The admin, after its authorization.
fn admin(env: &Env) -> Address {
    let admin = storage::admin(env);
    admin.require_auth();
    admin
}

#[contractimpl]
impl StudyToken {
    // Sets the window, in ledgers (1..=`MAX_PENDING_WINDOW`), in which future pending
    // releases can be approved. Admin only.
    pub fn set_pending_window(env: Env, window: u32) -> Result<(), Error> {
        admin(&env);
        if window == 0 || window > MAX_PENDING_WINDOW {
            return Err(Error::InvalidPendingWindow);
        }
        storage::set_pending_window(&env, window);
        storage::bump_instance(&env);
        PendingWindowSet { window }.publish(&env);
        Ok(())
    }

    // The window, in ledgers, in which a new pending release can be approved.
    pub fn pending_window(env: Env) -> u32 {
        storage::pending_window(&env)
    }

    // Sets how many pending releases one issuer may have outstanding for one patient
    // (1..=`MAX_PENDING_CAP`). A release counts until it is decided, withdrawn or rotated
    // away, or until the window of the issuer's latest release to that patient passes (the
    // count is a temporary entry). Admin only.
    pub fn set_pending_cap(env: Env, cap: u32) -> Result<(), Error> {
        admin(&env);
        if cap == 0 || cap > MAX_PENDING_CAP {
            return Err(Error::InvalidPendingCap);
        }
        storage::set_pending_cap(&env, cap);
        storage::bump_instance(&env);
        PendingCapSet { cap }.publish(&env);
        Ok(())
    }

    // How many pending releases one issuer may have outstanding for one patient.
    pub fn pending_cap(env: Env) -> u32 {
        storage::pending_cap(&env)
    }

    // Frees a squatted commitment: the pending release that holds `commitment` (e.g. a
    // trusted issuer proposed another's study to someone else and does not withdraw it)
    // becomes Withdrawn, by the admin, with `commitment_cleared` and `release_withdrawn`,
    // and the commitment can be released again at once. Returns the withdrawn token's id.
    // `CommitmentNotHeld` when no pending or active token holds it (a lapsed one frees it
    // already); `TokenNotPending` when an Active token holds it: a patient's consented
    // study is never taken away by the admin. Admin only.
    pub fn clear_commitment(env: Env, commitment: BytesN<32>) -> Result<u32, Error> {
        let admin = admin(&env);
        let id = super::commitment_holder(&env, &commitment).ok_or(Error::CommitmentNotHeld)?;
        let mut token = storage::token(&env, id)?;
        if token.status != TokenStatus::Pending {
            return Err(Error::TokenNotPending);
        }
        super::withdraw(&env, &mut token, &admin);
        CommitmentCleared {
            token_id: id,
            admin,
            issuer: token.issuer,
        }
        .publish(&env);
        Ok(id)
    }

    // The admin.
    pub fn admin(env: Env) -> Address {
        storage::admin(&env)
    }

    // The issuer registry this token asks whether an issuer is trusted.
    pub fn issuer_registry(env: Env) -> Address {
        storage::registry(&env)
    }

    // First step of an admin transfer: proposes `new_admin`, who must accept by ledger
    // `live_until_ledger` (in the future, within the network's maximum TTL). A new
    // proposal replaces an earlier one. Admin only.
    pub fn propose_admin(
        env: Env,
        new_admin: Address,
        live_until_ledger: u32,
    ) -> Result<(), Error> {
        let admin = admin(&env);
        admin_core::propose(&env, &admin, &new_admin, live_until_ledger)?;
        storage::bump_instance(&env);
        Ok(())
    }

    // Withdraws the pending admin transfer. Admin only.
    pub fn cancel_admin(env: Env) -> Result<(), Error> {
        let admin = admin(&env);
        admin_core::cancel(&env, &admin)?;
        storage::bump_instance(&env);
        Ok(())
    }

    // Second step of an admin transfer: the proposed admin accepts before the expiry.
    // The proposed admin's authorization.
    pub fn accept_admin(env: Env) -> Result<(), Error> {
        let new = admin_core::accept(&env, &storage::admin(&env))?;
        storage::set_admin(&env, &new);
        storage::bump_instance(&env);
        Ok(())
    }

    // The admin transfer awaiting acceptance, if any.
    pub fn pending_admin(env: Env) -> Option<PendingAdmin> {
        admin_core::pending(&env)
    }

    // Schedules an upgrade to the uploaded WASM `wasm_hash`: `upgrade` can run it once
    // `upgrade_delay` ledgers have passed. Replaces an earlier schedule. Admin only.
    pub fn schedule_upgrade(env: Env, wasm_hash: BytesN<32>) -> ScheduledUpgrade {
        admin(&env);
        storage::bump_instance(&env);
        admin_core::schedule_upgrade(&env, &wasm_hash)
    }

    // Cancels the scheduled upgrade. Admin only.
    pub fn cancel_upgrade(env: Env) -> Result<(), Error> {
        admin(&env);
        admin_core::cancel_upgrade(&env)?;
        storage::bump_instance(&env);
        Ok(())
    }

    // The upgrade waiting for its delay, if any.
    pub fn scheduled_upgrade(env: Env) -> Option<ScheduledUpgrade> {
        admin_core::scheduled_upgrade(&env)
    }

    // The delay, in ledgers, between scheduling an upgrade and running it (set at
    // deployment; 48 hours by default).
    pub fn upgrade_delay(env: Env) -> u32 {
        admin_core::upgrade_delay(&env)
    }

    // Replaces the contract's code with the scheduled WASM `wasm_hash` once its delay has
    // passed. Admin only.
    pub fn upgrade(env: Env, wasm_hash: BytesN<32>) -> Result<(), Error> {
        admin(&env);
        storage::bump_instance(&env);
        admin_core::upgrade(&env, &wasm_hash)?;
        Ok(())
    }

    // Emergency stop: releases (propose, mint, approve), grants and access recording fail
    // with `Paused` until `unpause`; rejects, withdrawals, revokes, rotations and reads go
    // on. Admin only.
    pub fn pause(env: Env) -> Result<(), Error> {
        let admin = admin(&env);
        if storage::paused(&env) {
            return Err(Error::Paused);
        }
        storage::set_paused(&env, true);
        storage::bump_instance(&env);
        Paused { admin }.publish(&env);
        Ok(())
    }

    // Ends the emergency stop. Admin only.
    pub fn unpause(env: Env) -> Result<(), Error> {
        let admin = admin(&env);
        if !storage::paused(&env) {
            return Err(Error::NotPaused);
        }
        storage::set_paused(&env, false);
        storage::bump_instance(&env);
        Unpaused { admin }.publish(&env);
        Ok(())
    }

    // Whether the admin paused the contract.
    pub fn paused(env: Env) -> bool {
        storage::paused(&env)
    }
}
