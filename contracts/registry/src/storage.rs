//! Storage layout and TTL policy of the suite registry: admin and count in the instance,
//! one persistent entry per member and per enumeration slot.
use soroban_sdk::{contracttype, panic_with_error, Address, Env, Symbol};

use crate::errors::RegistryError;
use crate::types::Member;

const DAY_IN_LEDGERS: u32 = 17_280;
/// A persistent entry read or written with less TTL left than this is extended.
pub const PERSISTENT_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
/// The TTL a persistent entry is extended to (30 days).
pub const PERSISTENT_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
/// The instance (and code) is extended when its TTL falls below this.
pub const INSTANCE_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
/// The TTL the instance (and code) is extended to (30 days).
pub const INSTANCE_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
/// Largest page `members` returns.
pub const MAX_PAGE: u32 = 50;

#[contracttype]
#[derive(Clone)]
enum DataKey {
    Admin,
    Count,
    Member(Symbol),
    At(u32),
}

pub fn bump_instance(env: &Env) {
    env.storage()
        .instance()
        .extend_ttl(INSTANCE_TTL_THRESHOLD, INSTANCE_EXTEND_TO);
}

fn bump(env: &Env, key: &DataKey) {
    env.storage()
        .persistent()
        .extend_ttl(key, PERSISTENT_TTL_THRESHOLD, PERSISTENT_EXTEND_TO);
}

pub fn admin(env: &Env) -> Address {
    env.storage()
        .instance()
        .get(&DataKey::Admin)
        .unwrap_or_else(|| panic_with_error!(env, RegistryError::NotInitialized))
}

pub fn set_admin(env: &Env, admin: &Address) {
    env.storage().instance().set(&DataKey::Admin, admin);
}

pub fn count(env: &Env) -> u32 {
    env.storage().instance().get(&DataKey::Count).unwrap_or(0)
}

pub fn member(env: &Env, name: &Symbol) -> Option<Member> {
    let key = DataKey::Member(name.clone());
    let found: Option<Member> = env.storage().persistent().get(&key);
    if found.is_some() {
        bump(env, &key);
    }
    found
}

pub fn set_member(env: &Env, member: &Member) {
    let key = DataKey::Member(member.name.clone());
    env.storage().persistent().set(&key, member);
    bump(env, &key);
}

pub fn member_at(env: &Env, index: u32) -> Option<Symbol> {
    let key = DataKey::At(index);
    let found: Option<Symbol> = env.storage().persistent().get(&key);
    if found.is_some() {
        bump(env, &key);
    }
    found
}

/// Appends a member to the enumeration and stores it with its slot.
pub fn push_member(env: &Env, mut member: Member) -> Member {
    let index = count(env);
    member.index = index;
    let key = DataKey::At(index);
    env.storage().persistent().set(&key, &member.name);
    bump(env, &key);
    set_member(env, &member);
    env.storage().instance().set(&DataKey::Count, &(index + 1));
    member
}
