use soroban_sdk::{
    contract, contractimpl, panic_with_error, xdr::ToXdr, Address, BytesN, ContractExecutable, Env,
    Executable, IntoVal, Symbol, Val, Vec,
};

use crate::admin_core::{self, Fault, PendingAdmin, ScheduledUpgrade};
use crate::errors::RegistryError as Error;
use crate::events::{Configured, MemberDeployed, MemberUpgraded};
use crate::storage::{self, MAX_PAGE};
use crate::types::Member;

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

/// A member record with the hash of the code its contract runs now: the record cannot
/// drift from the member's code, however the member was upgraded.
fn live(mut member: Member) -> Member {
    if let Some(Executable::Wasm(hash)) = member.contract.executable() {
        member.wasm_hash = hash;
    }
    member
}

/// The suite registry.
#[contract]
pub struct SuiteRegistry;

#[contractimpl]
impl SuiteRegistry {
    /// Creates the registry with `admin` as its administrator and `upgrade_delay` ledgers
    /// between scheduling and running an upgrade of the registry itself (`None`: 48 hours).
    /// Emits `configured`.
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

    /// Deploys the uploaded WASM `wasm_hash` as member `name` with `constructor_args`, at the
    /// address `address_of(name)` (salt = SHA-256 of the name's XDR). Admin only.
    pub fn deploy(
        env: Env,
        name: Symbol,
        wasm_hash: BytesN<32>,
        constructor_args: Vec<Val>,
    ) -> Result<Address, Error> {
        storage::admin(&env).require_auth();
        if storage::member(&env, &name).is_some() {
            return Err(Error::MemberExists);
        }
        let contract = env
            .deployer()
            .with_current_contract(salt(&env, &name))
            .deploy_contract(
                ContractExecutable::Wasm(wasm_hash.clone()),
                constructor_args,
            );
        storage::push_member(
            &env,
            Member {
                name: name.clone(),
                contract: contract.clone(),
                wasm_hash: wasm_hash.clone(),
                version: 1,
                index: 0,
            },
        );
        storage::bump_instance(&env);
        MemberDeployed {
            name,
            contract: contract.clone(),
            wasm_hash,
        }
        .publish(&env);
        Ok(contract)
    }

    /// The address member `name` has (or will have once deployed): deterministic, so
    /// constructor arguments can refer to members deployed later.
    pub fn address_of(env: Env, name: Symbol) -> Address {
        env.deployer()
            .with_current_contract(salt(&env, &name))
            .deployed_address()
    }

    /// Upgrades member `name` to the uploaded WASM `wasm_hash` by calling its `upgrade`,
    /// and records the new hash and version. The member's own timelock applies: its admin
    /// must have scheduled `wasm_hash` there and the delay must have passed. Admin only; the
    /// member's own admin (the same account in a standard deployment) authorizes the nested
    /// `upgrade` call.
    pub fn upgrade_member(env: Env, name: Symbol, wasm_hash: BytesN<32>) -> Result<u32, Error> {
        storage::admin(&env).require_auth();
        let mut member = storage::member(&env, &name).ok_or(Error::MemberNotFound)?;
        env.invoke_contract::<Val>(
            &member.contract,
            &Symbol::new(&env, "upgrade"),
            (wasm_hash.clone(),).into_val(&env),
        );
        member.wasm_hash = wasm_hash.clone();
        member.version = member.version.saturating_add(1);
        storage::set_member(&env, &member);
        storage::bump_instance(&env);
        MemberUpgraded {
            name,
            contract: member.contract,
            wasm_hash,
            version: member.version,
        }
        .publish(&env);
        Ok(member.version)
    }

    /// Member `name`: contract id, the hash of the WASM it runs now, and its version (the
    /// number of upgrades through this registry, plus one).
    pub fn member(env: Env, name: Symbol) -> Result<Member, Error> {
        storage::bump_instance(&env);
        storage::member(&env, &name)
            .map(live)
            .ok_or(Error::MemberNotFound)
    }

    /// Up to `limit` (1..=50) members from position `start`, in deployment order.
    pub fn members(env: Env, start: u32, limit: u32) -> Result<Vec<Member>, Error> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidPageLimit);
        }
        storage::bump_instance(&env);
        let end = storage::count(&env).min(start.saturating_add(limit));
        let mut out = Vec::new(&env);
        for index in start..end {
            if let Some(m) = storage::member_at(&env, index).and_then(|n| storage::member(&env, &n))
            {
                out.push_back(live(m));
            }
        }
        Ok(out)
    }

    /// The admin.
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

    /// Schedules an upgrade of the registry's own code to the uploaded WASM `wasm_hash`:
    /// `upgrade` can run it once `upgrade_delay` ledgers have passed. Admin only.
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

    /// Replaces the registry's own code with the scheduled WASM `wasm_hash` once its delay
    /// has passed. Admin only.
    pub fn upgrade(env: Env, wasm_hash: BytesN<32>) -> Result<(), Error> {
        admin(&env);
        storage::bump_instance(&env);
        admin_core::upgrade(&env, &wasm_hash)?;
        Ok(())
    }
}

fn salt(env: &Env, name: &Symbol) -> BytesN<32> {
    env.crypto().sha256(&name.clone().to_xdr(env)).into()
}
