use soroban_sdk::{contract, contractimpl, panic_with_error, Address, BytesN, Env, Vec};

use crate::admin_core::{self, Fault, PendingAdmin, ScheduledUpgrade};
use crate::errors::IssuerRegistryError as Error;
use crate::events::{Configured, IssuerAdded, IssuerReinstated, IssuerRemoved, IssuerSuspended};
use crate::storage::{self, MAX_PAGE};
use crate::types::{Issuer, IssuerProfile, IssuerStatus};

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

/// The admin, after its authorization.
fn admin(env: &Env) -> Address {
    let admin = storage::admin(env);
    admin.require_auth();
    admin
}

/// Longest display name, in bytes.
pub const MAX_NAME_LEN: u32 = 64;
/// Longest jurisdiction code, in characters.
pub const MAX_JURISDICTION_LEN: u32 = 16;

/// The trusted-issuer whitelist.
#[contract]
pub struct IssuerRegistry;

#[contractimpl]
impl IssuerRegistry {
    /// Creates the registry with `admin` as its administrator and `upgrade_delay` ledgers
    /// between scheduling and running an upgrade (`None`: 48 hours). Emits `configured`.
    pub fn __constructor(env: Env, admin: Address, upgrade_delay: Option<u32>) {
        storage::set_admin(&env, &admin);
        let upgrade_delay = admin_core::init_upgrade_delay(&env, upgrade_delay)
            .unwrap_or_else(|f| panic_with_error!(&env, Error::from(f)));
        storage::bump_instance(&env);
        Configured {
            admin,
            upgrade_delay,
        }
        .publish(&env);
    }

    /// Adds `issuer` as a trusted, active issuer with `profile`. Admin only.
    pub fn add_issuer(env: Env, issuer: Address, profile: IssuerProfile) -> Result<(), Error> {
        storage::admin(&env).require_auth();
        validate_profile(&profile)?;
        if storage::issuer(&env, &issuer).is_some() {
            return Err(Error::IssuerExists);
        }
        let ledger = env.ledger().sequence();
        let kind = profile.kind;
        storage::push_issuer(
            &env,
            Issuer {
                address: issuer.clone(),
                status: IssuerStatus::Active,
                profile: profile.clone(),
                added_ledger: ledger,
                changed_ledger: ledger,
                index: 0,
            },
        );
        storage::bump_instance(&env);
        IssuerAdded {
            issuer,
            kind,
            profile,
        }
        .publish(&env);
        Ok(())
    }

    /// Suspends an active issuer: it stops being trusted until reinstated. Admin only.
    pub fn suspend_issuer(env: Env, issuer: Address) -> Result<(), Error> {
        storage::admin(&env).require_auth();
        let mut record = storage::issuer(&env, &issuer).ok_or(Error::IssuerNotFound)?;
        if record.status == IssuerStatus::Suspended {
            return Err(Error::IssuerAlreadySuspended);
        }
        record.status = IssuerStatus::Suspended;
        record.changed_ledger = env.ledger().sequence();
        storage::set_issuer(&env, &record);
        storage::bump_instance(&env);
        IssuerSuspended { issuer }.publish(&env);
        Ok(())
    }

    /// Reinstates a suspended issuer. Admin only.
    pub fn reinstate_issuer(env: Env, issuer: Address) -> Result<(), Error> {
        storage::admin(&env).require_auth();
        let mut record = storage::issuer(&env, &issuer).ok_or(Error::IssuerNotFound)?;
        if record.status != IssuerStatus::Suspended {
            return Err(Error::IssuerNotSuspended);
        }
        record.status = IssuerStatus::Active;
        record.changed_ledger = env.ledger().sequence();
        storage::set_issuer(&env, &record);
        storage::bump_instance(&env);
        IssuerReinstated { issuer }.publish(&env);
        Ok(())
    }

    /// Removes an issuer from the registry entirely. Tokens it released stay valid. Admin only.
    pub fn remove_issuer(env: Env, issuer: Address) -> Result<(), Error> {
        storage::admin(&env).require_auth();
        let record = storage::issuer(&env, &issuer).ok_or(Error::IssuerNotFound)?;
        storage::remove_issuer(&env, &record);
        storage::bump_instance(&env);
        IssuerRemoved { issuer }.publish(&env);
        Ok(())
    }

    /// Whether `issuer` is registered and active (suspended and unknown issuers are not).
    /// Extends the instance's TTL: the study token asks this on every release, approval and
    /// issuer access, so it keeps the registry live without admin writes.
    pub fn is_trusted(env: Env, issuer: Address) -> bool {
        storage::bump_instance(&env);
        matches!(
            storage::issuer(&env, &issuer),
            Some(Issuer {
                status: IssuerStatus::Active,
                ..
            })
        )
    }

    /// The registration of `issuer`: status, profile, ledgers of addition and last change.
    pub fn issuer(env: Env, issuer: Address) -> Result<Issuer, Error> {
        storage::bump_instance(&env);
        storage::issuer(&env, &issuer).ok_or(Error::IssuerNotFound)
    }

    /// Up to `limit` (1..=`MAX_PAGE`, 32) issuers starting at position `start`; empty past the
    /// end. A full page fits the network's 16 KiB limit on a transaction's return value.
    pub fn issuers(env: Env, start: u32, limit: u32) -> Result<Vec<Issuer>, Error> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidPageLimit);
        }
        storage::bump_instance(&env);
        let end = storage::count(&env).min(start.saturating_add(limit));
        let mut page = Vec::new(&env);
        for index in start..end {
            // One entry per issuer: a full page stays within a 100-entry footprint.
            if let Some(record) = storage::issuer_at(&env, index) {
                page.push_back(record);
            }
        }
        Ok(page)
    }

    /// Number of registered issuers (active and suspended).
    pub fn issuer_count(env: Env) -> u32 {
        storage::count(&env)
    }

    /// The current admin.
    pub fn admin(env: Env) -> Address {
        storage::admin(&env)
    }

    /// First step of an admin transfer: proposes `new_admin`, who must accept by ledger
    /// `live_until_ledger` (in the future, within the network's maximum TTL). A new
    /// proposal replaces an earlier one. Admin only.
    pub fn propose_admin(
        env: Env,
        new_admin: Address,
        live_until_ledger: u32,
    ) -> Result<(), Error> {
        let admin = admin(&env);
        admin_core::propose(&env, &admin, &new_admin, live_until_ledger)?;
        storage::clear_legacy_pending_admin(&env);
        storage::bump_instance(&env);
        Ok(())
    }

    /// Withdraws the pending admin transfer. Admin only.
    pub fn cancel_admin(env: Env) -> Result<(), Error> {
        let admin = admin(&env);
        admin_core::cancel(&env, &admin)?;
        storage::bump_instance(&env);
        Ok(())
    }

    /// Second step of an admin transfer: the proposed admin accepts before the expiry.
    pub fn accept_admin(env: Env) -> Result<(), Error> {
        let new = admin_core::accept(&env, &storage::admin(&env))?;
        storage::set_admin(&env, &new);
        storage::bump_instance(&env);
        Ok(())
    }

    /// The admin transfer awaiting acceptance, if any.
    pub fn pending_admin(env: Env) -> Option<PendingAdmin> {
        admin_core::pending(&env)
    }

    /// Schedules an upgrade to the uploaded WASM `wasm_hash`: `upgrade` can run it once
    /// `upgrade_delay` ledgers have passed. Replaces an earlier schedule. Admin only.
    pub fn schedule_upgrade(env: Env, wasm_hash: BytesN<32>) -> ScheduledUpgrade {
        admin(&env);
        storage::bump_instance(&env);
        admin_core::schedule_upgrade(&env, &wasm_hash)
    }

    /// Cancels the scheduled upgrade. Admin only.
    pub fn cancel_upgrade(env: Env) -> Result<(), Error> {
        admin(&env);
        admin_core::cancel_upgrade(&env)?;
        storage::bump_instance(&env);
        Ok(())
    }

    /// The upgrade waiting for its delay, if any.
    pub fn scheduled_upgrade(env: Env) -> Option<ScheduledUpgrade> {
        admin_core::scheduled_upgrade(&env)
    }

    /// The delay, in ledgers, between scheduling an upgrade and running it.
    pub fn upgrade_delay(env: Env) -> u32 {
        admin_core::upgrade_delay(&env)
    }

    /// Replaces the contract's code with the scheduled WASM `wasm_hash` once its delay has
    /// passed. Admin only.
    pub fn upgrade(env: Env, wasm_hash: BytesN<32>) -> Result<(), Error> {
        admin(&env);
        storage::bump_instance(&env);
        admin_core::upgrade(&env, &wasm_hash)?;
        Ok(())
    }
}

fn validate_profile(profile: &IssuerProfile) -> Result<(), Error> {
    let name_len = profile.name.len();
    if name_len == 0 || name_len > MAX_NAME_LEN {
        return Err(Error::InvalidProfileName);
    }
    let len = profile.jurisdiction.len();
    if !(2..=MAX_JURISDICTION_LEN).contains(&len) {
        return Err(Error::InvalidJurisdiction);
    }
    let mut buf = [0u8; MAX_JURISDICTION_LEN as usize];
    let code = &mut buf[..len as usize];
    profile.jurisdiction.copy_into_slice(code);
    if !code
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
    {
        return Err(Error::InvalidJurisdiction);
    }
    if profile.evidence.to_array() == [0u8; 32] {
        return Err(Error::InvalidEvidence);
    }
    Ok(())
}
