use soroban_sdk::{contract, contractimpl, Address, BytesN, Env, Vec};

use crate::errors::IssuerRegistryError as Error;
use crate::events::{
    AdminChanged, AdminProposed, IssuerAdded, IssuerReinstated, IssuerRemoved, IssuerSuspended,
    Upgraded,
};
use crate::storage::{self, MAX_PAGE};
use crate::types::{Issuer, IssuerProfile, IssuerStatus, PendingAdmin};

/// Longest display name, in bytes.
pub const MAX_NAME_LEN: u32 = 64;
/// Longest jurisdiction code, in characters.
pub const MAX_JURISDICTION_LEN: u32 = 16;

/// The trusted-issuer whitelist.
#[contract]
pub struct IssuerRegistry;

#[contractimpl]
impl IssuerRegistry {
    /// Creates the registry with `admin` as its administrator.
    pub fn __constructor(env: Env, admin: Address) {
        storage::set_admin(&env, &admin);
        storage::bump_instance(&env);
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
                profile,
                added_ledger: ledger,
                changed_ledger: ledger,
                index: 0,
            },
        );
        storage::bump_instance(&env);
        IssuerAdded { issuer, kind }.publish(&env);
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
    pub fn is_trusted(env: Env, issuer: Address) -> bool {
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
        storage::issuer(&env, &issuer).ok_or(Error::IssuerNotFound)
    }

    /// Up to `limit` (1..=50) issuers starting at position `start`; empty past the end.
    pub fn issuers(env: Env, start: u32, limit: u32) -> Result<Vec<Issuer>, Error> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidPageLimit);
        }
        let end = storage::count(&env).min(start.saturating_add(limit));
        let mut page = Vec::new(&env);
        for index in start..end {
            if let Some(record) =
                storage::issuer_at(&env, index).and_then(|a| storage::issuer(&env, &a))
            {
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
    /// `live_until_ledger`. A new proposal replaces an earlier one. Admin only.
    pub fn propose_admin(
        env: Env,
        new_admin: Address,
        live_until_ledger: u32,
    ) -> Result<(), Error> {
        let admin = storage::admin(&env);
        admin.require_auth();
        if live_until_ledger <= env.ledger().sequence() {
            return Err(Error::InvalidExpiry);
        }
        storage::set_pending_admin(
            &env,
            &PendingAdmin {
                admin: new_admin.clone(),
                live_until_ledger,
            },
        );
        storage::bump_instance(&env);
        AdminProposed {
            admin,
            proposed: new_admin,
            live_until_ledger,
        }
        .publish(&env);
        Ok(())
    }

    /// Second step of an admin transfer: the proposed admin accepts before the expiry.
    pub fn accept_admin(env: Env) -> Result<(), Error> {
        let pending = storage::pending_admin(&env).ok_or(Error::NoPendingAdmin)?;
        pending.admin.require_auth();
        if env.ledger().sequence() > pending.live_until_ledger {
            return Err(Error::AdminTransferExpired);
        }
        let previous = storage::admin(&env);
        storage::set_admin(&env, &pending.admin);
        storage::clear_pending_admin(&env);
        storage::bump_instance(&env);
        AdminChanged {
            previous,
            admin: pending.admin,
        }
        .publish(&env);
        Ok(())
    }

    /// The admin transfer awaiting acceptance, if any.
    pub fn pending_admin(env: Env) -> Option<PendingAdmin> {
        storage::pending_admin(&env)
    }

    /// Replaces the contract's code with the uploaded WASM `wasm_hash`. Admin only.
    pub fn upgrade(env: Env, wasm_hash: BytesN<32>) {
        storage::admin(&env).require_auth();
        storage::bump_instance(&env);
        env.deployer()
            .update_current_contract(soroban_sdk::ContractExecutable::Wasm(wasm_hash.clone()));
        Upgraded { wasm_hash }.publish(&env);
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
