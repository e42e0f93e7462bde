//! Storage layout and TTL policy of the study token.
//!
//! Instance: configuration and the id counter. Persistent: one entry per token, per checksum
//! root, per grant, and one per slot of each enumeration (owned, pending, grants of a token,
//! tokens shared with an address), each with its own count entry, so no entry grows with
//! the number of tokens or grants. Enumerations stay dense by moving the last slot into a
//! freed one. Persistent entries are extended on every read and write; the instance on every
//! state change.
use soroban_sdk::{
    contracttype, panic_with_error, Address, BytesN, Env, IntoVal, String, TryFromVal, Val,
};

use crate::errors::StudyTokenError as Error;
use crate::types::{GrantInfo, Token};

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
/// Largest page an enumeration returns.
pub const MAX_PAGE: u32 = 50;
/// Default window in which a pending release can be approved (14 days).
pub const DEFAULT_PENDING_WINDOW: u32 = 14 * DAY_IN_LEDGERS;
/// Longest window the admin may set (28 days, inside the persistent TTL so a pending token
/// cannot be archived before it lapses).
pub const MAX_PENDING_WINDOW: u32 = 28 * DAY_IN_LEDGERS;

#[contracttype]
#[derive(Clone)]
pub enum DataKey {
    Admin,
    Registry,
    Name,
    Symbol,
    NextId,
    PendingWindow,
    Token(u32),
    Root(BytesN<32>),
    Grant(u32, Address),
    OwnedCount(Address),
    Owned(Address, u32),
    PendingCount(Address),
    Pending(Address, u32),
    GrantCount(u32),
    GrantAt(u32, u32),
    SharedCount(Address),
    Shared(Address, u32),
}

pub fn bump_instance(env: &Env) {
    env.storage()
        .instance()
        .extend_ttl(INSTANCE_TTL_THRESHOLD, INSTANCE_EXTEND_TO);
}

fn instance_get<V: TryFromVal<Env, Val>>(env: &Env, key: &DataKey) -> V {
    // The constructor sets every instance key read through here.
    env.storage()
        .instance()
        .get(key)
        .unwrap_or_else(|| panic_with_error!(env, Error::NotInitialized))
}

pub fn set_config(env: &Env, admin: &Address, registry: &Address, name: &String, symbol: &String) {
    let s = env.storage().instance();
    s.set(&DataKey::Admin, admin);
    s.set(&DataKey::Registry, registry);
    s.set(&DataKey::Name, name);
    s.set(&DataKey::Symbol, symbol);
    s.set(&DataKey::NextId, &1u32);
    s.set(&DataKey::PendingWindow, &DEFAULT_PENDING_WINDOW);
}

pub fn admin(env: &Env) -> Address {
    instance_get(env, &DataKey::Admin)
}

pub fn registry(env: &Env) -> Address {
    instance_get(env, &DataKey::Registry)
}

pub fn name(env: &Env) -> String {
    instance_get(env, &DataKey::Name)
}

pub fn symbol(env: &Env) -> String {
    instance_get(env, &DataKey::Symbol)
}

pub fn pending_window(env: &Env) -> u32 {
    instance_get(env, &DataKey::PendingWindow)
}

pub fn set_pending_window(env: &Env, window: u32) {
    env.storage()
        .instance()
        .set(&DataKey::PendingWindow, &window);
}

/// Takes the next token id.
pub fn next_id(env: &Env) -> Result<u32, Error> {
    let id: u32 = instance_get(env, &DataKey::NextId);
    let next = id.checked_add(1).ok_or(Error::TokenIdOverflow)?;
    env.storage().instance().set(&DataKey::NextId, &next);
    Ok(id)
}

fn get<V: TryFromVal<Env, Val>>(env: &Env, key: &DataKey) -> Option<V> {
    let found: Option<V> = env.storage().persistent().get(key);
    if found.is_some() {
        env.storage()
            .persistent()
            .extend_ttl(key, PERSISTENT_TTL_THRESHOLD, PERSISTENT_EXTEND_TO);
    }
    found
}

fn set<V: IntoVal<Env, Val>>(env: &Env, key: &DataKey, value: &V) {
    env.storage().persistent().set(key, value);
    env.storage()
        .persistent()
        .extend_ttl(key, PERSISTENT_TTL_THRESHOLD, PERSISTENT_EXTEND_TO);
}

fn remove(env: &Env, key: &DataKey) {
    env.storage().persistent().remove(key);
}

pub fn token(env: &Env, id: u32) -> Result<Token, Error> {
    get(env, &DataKey::Token(id)).ok_or(Error::TokenNotFound)
}

pub fn set_token(env: &Env, token: &Token) {
    set(env, &DataKey::Token(token.id), token);
}

pub fn token_of_root(env: &Env, root: &BytesN<32>) -> Option<u32> {
    get(env, &DataKey::Root(root.clone()))
}

pub fn set_root(env: &Env, root: &BytesN<32>, id: u32) {
    set(env, &DataKey::Root(root.clone()), &id);
}

pub fn grant(env: &Env, id: u32, grantee: &Address) -> Option<GrantInfo> {
    get(env, &DataKey::Grant(id, grantee.clone()))
}

pub fn set_grant(env: &Env, id: u32, grant: &GrantInfo) {
    set(env, &DataKey::Grant(id, grant.grantee.clone()), grant);
}

/// One dense enumeration: a count entry plus one entry per slot.
#[derive(Clone)]
pub enum List {
    /// Active tokens owned by an address.
    Owned(Address),
    /// Pending (or lapsed, not yet rejected) tokens of a patient.
    Pending(Address),
    /// Grantees of a token.
    Grants(u32),
    /// Tokens on which an address holds a grant.
    Shared(Address),
}

impl List {
    fn count_key(&self) -> DataKey {
        match self {
            List::Owned(a) => DataKey::OwnedCount(a.clone()),
            List::Pending(a) => DataKey::PendingCount(a.clone()),
            List::Grants(id) => DataKey::GrantCount(*id),
            List::Shared(a) => DataKey::SharedCount(a.clone()),
        }
    }

    fn slot_key(&self, slot: u32) -> DataKey {
        match self {
            List::Owned(a) => DataKey::Owned(a.clone(), slot),
            List::Pending(a) => DataKey::Pending(a.clone(), slot),
            List::Grants(id) => DataKey::GrantAt(*id, slot),
            List::Shared(a) => DataKey::Shared(a.clone(), slot),
        }
    }

    pub fn len(&self, env: &Env) -> u32 {
        get(env, &self.count_key()).unwrap_or(0)
    }

    fn set_len(&self, env: &Env, len: u32) {
        if len == 0 {
            remove(env, &self.count_key());
        } else {
            set(env, &self.count_key(), &len);
        }
    }

    pub fn at<V: TryFromVal<Env, Val>>(&self, env: &Env, slot: u32) -> Option<V> {
        get(env, &self.slot_key(slot))
    }

    /// Appends `value`; returns its slot.
    pub fn push<V: IntoVal<Env, Val>>(&self, env: &Env, value: &V) -> u32 {
        let slot = self.len(env);
        set(env, &self.slot_key(slot), value);
        self.set_len(env, slot + 1);
        slot
    }

    /// Removes `slot` by moving the last value into it; returns the moved value, whose
    /// owner record must learn its new slot.
    pub fn swap_remove<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(
        &self,
        env: &Env,
        slot: u32,
    ) -> Option<V> {
        let len = self.len(env);
        if len == 0 {
            return None;
        }
        let last = len - 1;
        let mut moved = None;
        if slot < last {
            if let Some(value) = self.at::<V>(env, last) {
                set(env, &self.slot_key(slot), &value);
                moved = Some(value);
            }
        }
        remove(env, &self.slot_key(last));
        self.set_len(env, last);
        moved
    }
}

/// Removes the grant of `grantee` on token `id` from storage and both enumerations.
pub fn delete_grant(env: &Env, id: u32, grant: &GrantInfo) {
    if let Some(moved) = List::Grants(id).swap_remove::<Address>(env, grant.token_slot) {
        if let Some(mut g) = self::grant(env, id, &moved) {
            g.token_slot = grant.token_slot;
            set_grant(env, id, &g);
        }
    }
    if let Some(moved) =
        List::Shared(grant.grantee.clone()).swap_remove::<u32>(env, grant.grantee_slot)
    {
        if let Some(mut g) = self::grant(env, moved, &grant.grantee) {
            g.grantee_slot = grant.grantee_slot;
            set_grant(env, moved, &g);
        }
    }
    remove(env, &DataKey::Grant(id, grant.grantee.clone()));
}

/// Removes token `token.id` from the owner's list at `token.slot` and fixes the moved token.
pub fn unlist_token(env: &Env, list: &List, token: &Token) {
    if let Some(moved) = list.swap_remove::<u32>(env, token.slot) {
        if let Ok(mut t) = self::token(env, moved) {
            t.slot = token.slot;
            set_token(env, &t);
        }
    }
}
