//! Storage layout and TTL policy of the issuer registry.
//!
//! Instance: `Admin`, `Count` (and the shared admin module's keys; a pending admin transfer
//! lives in temporary storage). Persistent: one entry per issuer (`Issuer(address)`, read by
//! `is_trusted`) and one per enumeration slot (`At(index)`) holding a copy of the same
//! record, so a page reads one entry per issuer and no entry grows with the number of
//! issuers. Slots written by the first version hold only the address; they are read
//! through it and rewritten with the record on the next change. Persistent entries are extended on every read and write; the
//! instance is extended on every state change and on every read.
use soroban_sdk::{contracttype, panic_with_error, Address, Env, TryFromVal, Val};

use crate::errors::IssuerRegistryError;

use crate::types::Issuer;

/// Ledgers per day at the nominal 5-second close time.
const DAY_IN_LEDGERS: u32 = 17_280;
/// A persistent entry read or written with less TTL left than this is extended.
pub const PERSISTENT_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
/// The TTL a persistent entry is extended to (30 days).
pub const PERSISTENT_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
/// The instance (and code) is extended when its TTL falls below this.
pub const INSTANCE_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
/// The TTL the instance (and code) is extended to (30 days).
pub const INSTANCE_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
/// Largest page `issuers` returns. A transaction's return value and events share the
/// network's 16 KiB limit, and an issuer record with the longest profile the registry accepts
/// is about 460 bytes of XDR, so a full page of 32 stays under it with room to spare (50
/// would not: ~23 KB).
pub const MAX_PAGE: u32 = 32;

#[contracttype]
#[derive(Clone)]
enum DataKey {
    Admin,
    /// The first version's pending admin transfer (instance); no longer written.
    PendingAdmin,
    Count,
    Issuer(Address),
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
    // The constructor always sets the admin; the error only guards a corrupted instance.
    env.storage()
        .instance()
        .get(&DataKey::Admin)
        .unwrap_or_else(|| panic_with_error!(env, IssuerRegistryError::NotInitialized))
}

pub fn set_admin(env: &Env, admin: &Address) {
    env.storage().instance().set(&DataKey::Admin, admin);
}

/// Drops a pending admin transfer stored by the first version (it had no expiry bound).
pub fn clear_legacy_pending_admin(env: &Env) {
    env.storage().instance().remove(&DataKey::PendingAdmin);
}

pub fn count(env: &Env) -> u32 {
    env.storage().instance().get(&DataKey::Count).unwrap_or(0)
}

fn set_count(env: &Env, count: u32) {
    env.storage().instance().set(&DataKey::Count, &count);
}

pub fn issuer(env: &Env, address: &Address) -> Option<Issuer> {
    let key = DataKey::Issuer(address.clone());
    let found: Option<Issuer> = env.storage().persistent().get(&key);
    if found.is_some() {
        bump(env, &key);
    }
    found
}

/// Stores an issuer's record under its address and in its enumeration slot.
pub fn set_issuer(env: &Env, issuer: &Issuer) {
    let key = DataKey::Issuer(issuer.address.clone());
    env.storage().persistent().set(&key, issuer);
    bump(env, &key);
    set_issuer_at(env, issuer.index, issuer);
}

/// The issuer in enumeration slot `index`.
pub fn issuer_at(env: &Env, index: u32) -> Option<Issuer> {
    let key = DataKey::At(index);
    let found: Val = env.storage().persistent().get(&key)?;
    bump(env, &key);
    if let Ok(record) = Issuer::try_from_val(env, &found) {
        return Some(record);
    }
    // A slot of the first version: the address only.
    let address = Address::try_from_val(env, &found).ok()?;
    issuer(env, &address)
}

fn set_issuer_at(env: &Env, index: u32, issuer: &Issuer) {
    let key = DataKey::At(index);
    env.storage().persistent().set(&key, issuer);
    bump(env, &key);
}

/// Appends a new issuer to the enumeration and stores it with its slot index.
pub fn push_issuer(env: &Env, mut issuer: Issuer) {
    let index = count(env);
    issuer.index = index;
    set_issuer(env, &issuer);
    set_count(env, index + 1);
}

/// Removes an issuer; the last slot moves into the freed one so the enumeration stays dense.
pub fn remove_issuer(env: &Env, issuer: &Issuer) {
    let last = count(env) - 1;
    if issuer.index != last {
        if let Some(mut moved) = issuer_at(env, last) {
            moved.index = issuer.index;
            set_issuer(env, &moved);
        }
    }
    env.storage().persistent().remove(&DataKey::At(last));
    env.storage()
        .persistent()
        .remove(&DataKey::Issuer(issuer.address.clone()));
    set_count(env, last);
}
