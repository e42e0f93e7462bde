use soroban_sdk::{
    contract, contractimpl, xdr::ToXdr, Address, BytesN, ContractExecutable, Env, IntoVal, Symbol,
    Val, Vec,
};

use crate::errors::RegistryError as Error;
use crate::events::{MemberDeployed, MemberUpgraded, Upgraded};
use crate::storage::{self, MAX_PAGE};
use crate::types::Member;

/// The suite registry.
#[contract]
pub struct SuiteRegistry;

#[contractimpl]
impl SuiteRegistry {
    /// Creates the registry with `admin` as its administrator.
    pub fn __constructor(env: Env, admin: Address) {
        storage::set_admin(&env, &admin);
        storage::bump_instance(&env);
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
    /// and records the new hash and version. Admin only; the member's own admin (the same
    /// account in a standard deployment) authorizes the nested `upgrade` call.
    pub fn upgrade_member(env: Env, name: Symbol, wasm_hash: BytesN<32>) -> Result<u32, Error> {
        storage::admin(&env).require_auth();
        let mut member = storage::member(&env, &name).ok_or(Error::MemberNotFound)?;
        env.invoke_contract::<()>(
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

    /// Member `name`: contract id, WASM hash, version.
    pub fn member(env: Env, name: Symbol) -> Result<Member, Error> {
        storage::member(&env, &name).ok_or(Error::MemberNotFound)
    }

    /// Up to `limit` (1..=50) members from position `start`, in deployment order.
    pub fn members(env: Env, start: u32, limit: u32) -> Result<Vec<Member>, Error> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidPageLimit);
        }
        let end = storage::count(&env).min(start.saturating_add(limit));
        let mut out = Vec::new(&env);
        for index in start..end {
            if let Some(m) = storage::member_at(&env, index).and_then(|n| storage::member(&env, &n))
            {
                out.push_back(m);
            }
        }
        Ok(out)
    }

    /// The admin.
    pub fn admin(env: Env) -> Address {
        storage::admin(&env)
    }

    /// Replaces the registry's own code with the uploaded WASM `wasm_hash`. Admin only.
    pub fn upgrade(env: Env, wasm_hash: BytesN<32>) {
        storage::admin(&env).require_auth();
        storage::bump_instance(&env);
        env.deployer()
            .update_current_contract(soroban_sdk::ContractExecutable::Wasm(wasm_hash.clone()));
        Upgraded { wasm_hash }.publish(&env);
    }
}

fn salt(env: &Env, name: &Symbol) -> BytesN<32> {
    env.crypto().sha256(&name.clone().to_xdr(env)).into()
}
