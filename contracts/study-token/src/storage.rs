//! Storage layout and TTL policy of the study token.
//!
//! Instance: configuration. Persistent: one entry per token (keyed by its id, which is
//! derived from the checksum root, so the token record is also the root index), one per
//! stored grant, and the chunks of four enumerations (owned, pending, grants of a token,
//! tokens shared with an address). An enumeration is a head entry holding its length and
//! its first `CHUNK` items, then one entry per further `CHUNK` items, so a short list is a
//! single entry and no entry grows with the number of tokens or grants. Enumerations stay
//! dense by moving the last item into a freed slot. Persistent entries are extended on
//! every read and write; the instance on every state change.
use soroban_sdk::{
    contracttype, panic_with_error, Address, BytesN, Env, IntoVal, String, TryFromVal, Val, Vec,
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
/// Items per enumeration entry (the head holds the first `CHUNK`).
pub const CHUNK: u32 = 16;
/// How many consecutive ids are tried from a checksum root's preferred id before a release
/// fails with `TokenIdOverflow` (ids are taken only once, so this is reached only if
/// `MAX_PROBES` tokens already sit on consecutive ids there).
pub const MAX_PROBES: u32 = 32;

#[contracttype]
#[derive(Clone)]
pub enum DataKey {
    Admin,
    Registry,
    Name,
    Symbol,
    PendingWindow,
    Token(u32),
    Grant(u32, Address),
    /// Chunk `k` of the Active tokens owned by an address (chunk 0 is the head).
    Owned(Address, u32),
    /// Chunk `k` of the Pending tokens of a patient.
    Pending(Address, u32),
    /// Chunk `k` of the grantees of a token.
    GrantAt(u32, u32),
    /// Chunk `k` of the tokens shared with an address.
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

/// Where the token of `root` is or would be: `Ok((id, true))` if a token with this root
/// exists, `Ok((id, false))` for the first free id. Ids start at the root's first four bytes
/// (big-endian; 0 is skipped) and go up one by one past ids taken by other roots. Tokens are
/// never deleted, so the first free id ends the search.
pub fn locate_root(env: &Env, root: &BytesN<32>) -> Result<(u32, bool), Error> {
    let bytes = root.to_array();
    let mut id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    for _ in 0..MAX_PROBES {
        if id == 0 {
            id = 1;
        }
        match get::<Token>(env, &DataKey::Token(id)) {
            None => return Ok((id, false)),
            Some(t) if &t.release.checksum_root == root => return Ok((id, true)),
            Some(_) => id = id.wrapping_add(1),
        }
    }
    Err(Error::TokenIdOverflow)
}

pub fn grant(env: &Env, id: u32, grantee: &Address) -> Option<GrantInfo> {
    get(env, &DataKey::Grant(id, grantee.clone()))
}

pub fn set_grant(env: &Env, id: u32, grant: &GrantInfo) {
    set(env, &DataKey::Grant(id, grant.grantee.clone()), grant);
}

/// One dense enumeration: a head entry `(len, first CHUNK items)` and one entry per
/// further chunk of `CHUNK` items.
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
    fn key(&self, chunk: u32) -> DataKey {
        match self {
            List::Owned(a) => DataKey::Owned(a.clone(), chunk),
            List::Pending(a) => DataKey::Pending(a.clone(), chunk),
            List::Grants(id) => DataKey::GrantAt(*id, chunk),
            List::Shared(a) => DataKey::Shared(a.clone(), chunk),
        }
    }

    fn head<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(&self, env: &Env) -> (u32, Vec<V>) {
        get(env, &self.key(0)).unwrap_or_else(|| (0, Vec::new(env)))
    }

    fn set_head<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(
        &self,
        env: &Env,
        len: u32,
        items: Vec<V>,
    ) {
        if len == 0 {
            remove(env, &self.key(0));
        } else {
            set(env, &self.key(0), &(len, items));
        }
    }

    fn chunk<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(&self, env: &Env, k: u32) -> Vec<V> {
        get(env, &self.key(k)).unwrap_or_else(|| Vec::new(env))
    }

    fn set_chunk<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(
        &self,
        env: &Env,
        k: u32,
        items: &Vec<V>,
    ) {
        if items.is_empty() {
            remove(env, &self.key(k));
        } else {
            set(env, &self.key(k), items);
        }
    }

    pub fn len(&self, env: &Env) -> u32 {
        get::<(u32, Val)>(env, &self.key(0)).map_or(0, |(len, _)| len)
    }

    /// Items `start..start + limit` (clamped to the length).
    pub fn page<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(
        &self,
        env: &Env,
        start: u32,
        limit: u32,
    ) -> Vec<V> {
        let (len, head) = self.head::<V>(env);
        let end = len.min(start.saturating_add(limit));
        let mut out = Vec::new(env);
        let mut slot = start;
        while slot < end {
            let k = slot / CHUNK;
            let items = if k == 0 {
                head.clone()
            } else {
                self.chunk::<V>(env, k)
            };
            let stop = end.min((k + 1) * CHUNK);
            for i in slot..stop {
                if let Some(v) = items.get(i % CHUNK) {
                    out.push_back(v);
                }
            }
            slot = stop;
        }
        out
    }

    /// Appends `value`; returns its slot. One write while the list fits in its head.
    pub fn push<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(&self, env: &Env, value: V) -> u32 {
        let (len, mut head) = self.head::<V>(env);
        let k = len / CHUNK;
        if k == 0 {
            head.push_back(value);
        } else {
            let mut items = self.chunk::<V>(env, k);
            items.push_back(value);
            self.set_chunk(env, k, &items);
        }
        self.set_head(env, len + 1, head);
        len
    }

    /// Removes `slot` by moving the last item into it; returns the moved item, whose
    /// record must learn its new slot.
    pub fn swap_remove<V: TryFromVal<Env, Val> + IntoVal<Env, Val> + Clone>(
        &self,
        env: &Env,
        slot: u32,
    ) -> Option<V> {
        let (len, mut head) = self.head::<V>(env);
        if slot >= len {
            return None;
        }
        let last = len - 1;
        let (lk, sk) = (last / CHUNK, slot / CHUNK);
        let mut tail = if lk == 0 {
            head.clone()
        } else {
            self.chunk::<V>(env, lk)
        };
        let value = tail.pop_back();
        let mut moved = None;
        if let (true, Some(value)) = (slot < last, value) {
            let i = slot % CHUNK;
            if sk == lk {
                tail.set(i, value.clone());
            } else if sk == 0 {
                head.set(i, value.clone());
            } else {
                let mut items = self.chunk::<V>(env, sk);
                items.set(i, value.clone());
                self.set_chunk(env, sk, &items);
            }
            moved = Some(value);
        }
        if lk == 0 {
            head = tail;
        } else {
            self.set_chunk(env, lk, &tail);
        }
        self.set_head(env, last, head);
        moved
    }
}

/// Removes the grant of `grant.grantee` on token `id` from storage and both enumerations.
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

/// Removes token `token.id` from `list` at `token.slot` and fixes the moved token.
pub fn unlist_token(env: &Env, list: &List, token: &Token) {
    if let Some(moved) = list.swap_remove::<u32>(env, token.slot) {
        if let Ok(mut t) = self::token(env, moved) {
            t.slot = token.slot;
            set_token(env, &t);
        }
    }
}
