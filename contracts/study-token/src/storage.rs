//! Storage layout and TTL policy of the study token.
//!
//! Instance: configuration and the next token id. Persistent: one entry per token (keyed by
//! its id, taken from a counter), one commitment index entry per token that is pending or
//! active (cleared on reject and withdrawal, overwritten after a lapse), and the chunks of
//! four enumerations (owned, pending, grants of a token, tokens shared with an address).
//! A grant is an item of its token's grant enumeration (`GrantItem`), not an entry of its
//! own: it adds about 90 bytes to an entry that exists instead of creating one, so it pays
//! a fraction of a new entry's rent (issue 19). Grants written before are a grantee in the
//! enumeration plus a `Grant` entry; they still read, and become items when next written.
//! An enumeration is a head entry holding its length and its first `CHUNK` items, then one
//! entry per further `CHUNK` items, so a short list is a single entry and no entry grows
//! with the number of tokens or grants. Enumerations stay dense by moving the last item
//! into a freed slot. Persistent entries are extended on every read and write; the instance
//! on every state change and on `record_access`.
use soroban_sdk::{
    contracttype, panic_with_error, Address, BytesN, Env, FromVal, IntoVal, String, TryFromVal,
    Val, Vec,
};

use crate::errors::StudyTokenError as Error;
use crate::types::{
    EmergencyGrant, EmergencyPolicy, GrantInfo, RecordsRequest, Release, Role, Token, TokenStatus,
};

// Ledgers per day at the nominal 5-second close time.
const DAY_IN_LEDGERS: u32 = 17_280;
// A persistent entry read or written with less TTL left than this is extended.
pub const PERSISTENT_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
// The TTL a persistent entry is extended to (30 days).
pub const PERSISTENT_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
// The instance (and code) is extended when its TTL falls below this.
pub const INSTANCE_TTL_THRESHOLD: u32 = 29 * DAY_IN_LEDGERS;
// The TTL the instance (and code) is extended to (30 days).
pub const INSTANCE_EXTEND_TO: u32 = 30 * DAY_IN_LEDGERS;
// Largest page an enumeration returns.
pub const MAX_PAGE: u32 = 50;
// Default window in which a pending release can be approved (14 days).
pub const DEFAULT_PENDING_WINDOW: u32 = 14 * DAY_IN_LEDGERS;
// Longest window the admin may set (28 days, inside the persistent TTL so a pending token
// cannot be archived before it lapses).
pub const MAX_PENDING_WINDOW: u32 = 28 * DAY_IN_LEDGERS;
// Default number of pending releases one issuer may have outstanding for one patient.
pub const DEFAULT_PENDING_CAP: u32 = 20;
// Largest pending cap the admin may set.
pub const MAX_PENDING_CAP: u32 = 1_000;
// Items per enumeration entry (the head holds the first `CHUNK`).
pub const CHUNK: u32 = 16;
// Stored grants one token may hold: finding a grant reads its token's grant enumeration,
// so this bounds that read to four entries. A Sharer's new grant needs the list below half
// of it, so Sharers cannot take the owner's last slots.
pub const MAX_GRANTS: u32 = 4 * CHUNK;
// Default duration of an emergency access, in hours.
pub const DEFAULT_EMERGENCY_HOURS: u32 = 24;
// Longest emergency access the admin may allow, in hours.
pub const MAX_EMERGENCY_HOURS: u32 = 72;
// Default number of emergency accesses one issuer may open per window.
pub const DEFAULT_EMERGENCY_LIMIT: u32 = 10;
// Largest per-window limit the admin may set.
pub const MAX_EMERGENCY_LIMIT: u32 = 1_000;
// Default rate window, in seconds (24 hours).
pub const DEFAULT_EMERGENCY_WINDOW: u64 = 86_400;
// Shortest rate window, in seconds (one hour).
pub const MIN_EMERGENCY_WINDOW: u64 = 3_600;
// Longest rate window, in seconds (30 days).
pub const MAX_EMERGENCY_WINDOW: u64 = 30 * 86_400;
// How long an open records request lives on chain, in ledgers (30 days); after that it
// can no longer be fulfilled on chain.
pub const REQUEST_TTL: u32 = 30 * DAY_IN_LEDGERS;

#[contracttype]
#[derive(Clone)]
pub enum DataKey {
    Admin,
    Registry,
    Name,
    Symbol,
    PendingWindow,
    // The next token id to try (instance).
    NextId,
    // Whether the admin paused the contract (instance).
    Paused,
    // Pending releases one issuer may have for one patient (instance).
    PendingCap,
    // Pending releases of an issuer to a patient (temporary, live for the pending window
    // from the latest proposal; absent when zero).
    PendingCount(Address, Address),
    Token(u32),
    // The token that holds a commitment (persistent; stale after a lapse).
    Commitment(BytesN<32>),
    // A grant as written before grants became items of `GrantAt` (read, then removed when
    // the grant is next written).
    Grant(u32, Address),
    // Chunk `k` of the Active tokens owned by an address (chunk 0 is the head).
    Owned(Address, u32),
    // Chunk `k` of the Pending tokens of a patient.
    Pending(Address, u32),
    // Chunk `k` of the grants of a token (`GrantItem`s; a bare grantee for a grant
    // written before, whose record is its `Grant` entry).
    GrantAt(u32, u32),
    // Chunk `k` of the tokens shared with an address.
    Shared(Address, u32),
    // The admin's emergency-access policy (instance; absent: the defaults).
    EmergencyPolicy,
    // An issuer's emergency access to a token (temporary, living a day past its expiry).
    Emergency(u32, Address),
    // An issuer's emergency accesses in the current rate window (temporary, living for
    // the window).
    EmergencyUse(Address),
    // A records request (temporary, living `REQUEST_TTL`).
    Request(BytesN<32>),
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

pub fn set_admin(env: &Env, admin: &Address) {
    env.storage().instance().set(&DataKey::Admin, admin);
}

pub fn paused(env: &Env) -> bool {
    env.storage()
        .instance()
        .get(&DataKey::Paused)
        .unwrap_or(false)
}

pub fn set_paused(env: &Env, paused: bool) {
    env.storage().instance().set(&DataKey::Paused, &paused);
}

pub fn pending_cap(env: &Env) -> u32 {
    env.storage()
        .instance()
        .get(&DataKey::PendingCap)
        .unwrap_or(DEFAULT_PENDING_CAP)
}

pub fn set_pending_cap(env: &Env, cap: u32) {
    env.storage().instance().set(&DataKey::PendingCap, &cap);
}

// Pending releases of `issuer` to `patient` (a temporary entry: it lapses with the window
// of the latest of them).
pub fn pending_count(env: &Env, issuer: &Address, patient: &Address) -> u32 {
    env.storage()
        .temporary()
        .get(&DataKey::PendingCount(issuer.clone(), patient.clone()))
        .unwrap_or(0)
}

// Stores the count of pending releases of `issuer` to `patient` (removed at zero) in
// temporary storage, live for the pending window from now: a count only matters while a
// release it counts can still be approved, so it never pays persistent rent.
pub fn set_pending_count(env: &Env, issuer: &Address, patient: &Address, count: u32) {
    let key = DataKey::PendingCount(issuer.clone(), patient.clone());
    let temporary = env.storage().temporary();
    if count == 0 {
        temporary.remove(&key);
    } else {
        temporary.set(&key, &count);
        let window = pending_window(env);
        temporary.extend_ttl(&key, window, window);
    }
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

// A token as stored since issue 19: a tuple (an `ScVec`, no field names), about half the
// bytes of `Token`'s map form, so half its rent. The id is the key's; `consent_by` is
// stored only when it is not the default (the owner after a patient's decision, the issuer
// while pending or after a withdrawal).
//
// 0 owner, 1 issuer, 2 metadata URI, 3 commitment, 4 request id, 5 `minted_ledger << 32 |
// pending_until`, 6 `consent_ledger << 32 | slot`, 7 minted_at, 8 consent_at,
// 9 `file_count << 8 | issuer_revoked << 4 | status`, 10 consent_by unless the default.
#[contracttype]
#[derive(Clone)]
pub struct PackedToken(
    Address,
    Address,
    String,
    BytesN<32>,
    Option<BytesN<16>>,
    u64,
    u64,
    u64,
    u64,
    u64,
    Option<Address>,
);

fn status_code(status: TokenStatus) -> u64 {
    match status {
        TokenStatus::Pending => 0,
        TokenStatus::Active => 1,
        TokenStatus::Rejected => 2,
        TokenStatus::Withdrawn => 3,
        TokenStatus::Erased => 4,
        // Never stored (it is how a pending token past its window is reported).
        TokenStatus::Lapsed => 0,
    }
}

fn status_of(code: u64) -> Option<TokenStatus> {
    Some(match code {
        0 => TokenStatus::Pending,
        1 => TokenStatus::Active,
        2 => TokenStatus::Rejected,
        3 => TokenStatus::Withdrawn,
        4 => TokenStatus::Erased,
        _ => return None,
    })
}

// Who made the last consent decision unless recorded otherwise.
fn default_consent_by(owner: &Address, issuer: &Address, status: TokenStatus) -> Address {
    match status {
        TokenStatus::Active | TokenStatus::Rejected | TokenStatus::Erased => owner.clone(),
        _ => issuer.clone(),
    }
}

impl PackedToken {
    fn pack(t: &Token) -> Self {
        let default = default_consent_by(&t.owner, &t.issuer, t.status);
        PackedToken(
            t.owner.clone(),
            t.issuer.clone(),
            t.release.metadata_uri.clone(),
            t.release.commitment.clone(),
            t.release.request_id.clone(),
            (u64::from(t.minted_ledger) << 32) | u64::from(t.pending_until),
            (u64::from(t.consent_ledger) << 32) | u64::from(t.slot),
            t.minted_at,
            t.consent_at,
            (u64::from(t.release.file_count) << 8)
                | (u64::from(t.issuer_revoked) << 4)
                | status_code(t.status),
            (t.consent_by != default).then(|| t.consent_by.clone()),
        )
    }

    fn unpack(self, id: u32) -> Option<Token> {
        let PackedToken(owner, issuer, uri, commitment, request_id, a, b, at, cat, flags, by) =
            self;
        let status = status_of(flags & 0xf)?;
        let consent_by = by.unwrap_or_else(|| default_consent_by(&owner, &issuer, status));
        Some(Token {
            id,
            owner,
            issuer,
            status,
            release: Release {
                metadata_uri: uri,
                commitment,
                file_count: (flags >> 8) as u32,
                request_id,
            },
            minted_ledger: (a >> 32) as u32,
            minted_at: at,
            pending_until: a as u32,
            consent_ledger: (b >> 32) as u32,
            consent_at: cat,
            consent_by,
            slot: b as u32,
            issuer_revoked: (flags >> 4) & 1 == 1,
        })
    }
}

// A grant as stored since issue 19: an item of its token's grant enumeration (its slot
// there is its `token_slot`).
//
// 0 grantee, 1 `grantee_slot << 4 | role` (1 Sharer, 2 Viewer), 2 expiry, 3 the granter,
// `None` for the owner's grant (reported with the current owner as its granter: after a
// key rotation, the patient's new key).
#[contracttype]
#[derive(Clone)]
pub struct GrantItem(Address, u64, Option<u64>, Option<Address>);

fn role_code(role: Role) -> u64 {
    match role {
        Role::Sharer => 1,
        _ => 2,
    }
}

fn role_of(code: u64) -> Option<Role> {
    match code & 0xf {
        1 => Some(Role::Sharer),
        2 => Some(Role::Viewer),
        _ => None,
    }
}

// A grant as the first packed version stored it, in an entry of its own (`Grant`): a tuple
// without the grantee (the key holds it). Read only.
//
// 0 `by_owner << 4 | role`, 1 expiry, 2 granter, 3 `token_slot << 32 | grantee_slot`.
#[contracttype]
#[derive(Clone)]
pub struct PackedGrant(u32, Option<u64>, Address, u64);

impl PackedGrant {
    fn unpack(self, grantee: &Address) -> Option<GrantInfo> {
        let PackedGrant(flags, expires_at, granter, slots) = self;
        Some(GrantInfo {
            grantee: grantee.clone(),
            role: role_of(flags.into())?,
            expires_at,
            granter,
            by_owner: (flags >> 4) & 1 == 1,
            token_slot: (slots >> 32) as u32,
            grantee_slot: slots as u32,
        })
    }
}

// Token `id`, stored packed or (by the issue-14 version, rewritten packed on its next
// change) as a map. A record of the first version (a raw root) reads as `NotMigrated`: such a
// deployment upgrades through the issue-14 version first, whose `migrate` converts it.
pub fn token(env: &Env, id: u32) -> Result<Token, Error> {
    let raw: Val = get(env, &DataKey::Token(id)).ok_or(Error::TokenNotFound)?;
    if let Some(t) = PackedToken::try_from_val(env, &raw)
        .ok()
        .and_then(|p| p.unpack(id))
    {
        return Ok(t);
    }
    Token::try_from_val(env, &raw).map_err(|_| Error::NotMigrated)
}

pub fn set_token(env: &Env, token: &Token) {
    set(env, &DataKey::Token(token.id), &PackedToken::pack(token));
}

// Takes the next token id from the counter. Ids of tokens stored under another scheme (the
// root-derived ids of contracts before the counter) are skipped, so no id is reused.
pub fn next_id(env: &Env) -> Result<u32, Error> {
    let mut id: u32 = env.storage().instance().get(&DataKey::NextId).unwrap_or(1);
    while env.storage().persistent().has(&DataKey::Token(id)) {
        id = id.checked_add(1).ok_or(Error::TokenIdOverflow)?;
    }
    let next = id.checked_add(1).ok_or(Error::TokenIdOverflow)?;
    env.storage().instance().set(&DataKey::NextId, &next);
    Ok(id)
}

// The token last released with `commitment`, if any (its status decides whether the
// commitment is still taken).
pub fn commitment(env: &Env, commitment: &BytesN<32>) -> Option<u32> {
    get(env, &DataKey::Commitment(commitment.clone()))
}

pub fn set_commitment(env: &Env, commitment: &BytesN<32>, id: u32) {
    set(env, &DataKey::Commitment(commitment.clone()), &id);
}

// Frees `token`'s commitment if it still points at `token`.
pub fn clear_commitment(env: &Env, token: &Token) {
    let key = DataKey::Commitment(token.release.commitment.clone());
    let held: Option<u32> = env.storage().persistent().get(&key);
    if held == Some(token.id) {
        remove(env, &key);
    }
}

// The grant of `grantee` on token `id`, found in the token's grant enumeration (at most
// `MAX_GRANTS / CHUNK` entries). `owner`, the token's owner, is reported as the granter of
// an owner's grant.
// A counter, not `zip`: less WASM, and the study token has none to spare.
#[allow(clippy::explicit_counter_loop)]
pub fn grant(env: &Env, id: u32, grantee: &Address, owner: &Address) -> Option<GrantInfo> {
    let list = List::Grants(id);
    let (len, head) = list.head(env);
    let mut k = 0;
    while k * CHUNK < len {
        let mut slot = k * CHUNK;
        for item in list.items(env, &head, k).iter() {
            if let Some(g) = grant_at(env, id, slot, item, Some(grantee), owner) {
                return Some(g);
            }
            slot += 1;
        }
        k += 1;
    }
    None
}

// The grant an item of token `id`'s grant enumeration at `slot` stands for, if it is
// `grantee`'s (anyone's for `None`): the item itself, or for a grant written before, the
// grantee's `Grant` entry (packed, or a map written by the issue-14 version).
pub fn grant_at(
    env: &Env,
    id: u32,
    slot: u32,
    item: Val,
    grantee: Option<&Address>,
    owner: &Address,
) -> Option<GrantInfo> {
    let mut g = match GrantItem::try_from_val(env, &item) {
        Ok(GrantItem(who, flags, expires_at, granter)) => GrantInfo {
            grantee: who,
            role: role_of(flags)?,
            expires_at,
            by_owner: granter.is_none(),
            granter: granter.unwrap_or_else(|| owner.clone()),
            token_slot: slot,
            grantee_slot: (flags >> 4) as u32,
        },
        Err(_) => {
            let who = Address::try_from_val(env, &item).ok()?;
            if grantee.is_some_and(|g| g != &who) {
                return None;
            }
            let raw: Val = get(env, &DataKey::Grant(id, who.clone()))?;
            match PackedGrant::try_from_val(env, &raw) {
                Ok(p) => p.unpack(&who)?,
                Err(_) => GrantInfo::try_from_val(env, &raw).ok()?,
            }
        }
    };
    if grantee.is_some_and(|w| w != &g.grantee) {
        return None;
    }
    g.token_slot = slot;
    Some(g)
}

// Stores `grant` on token `id` as the item at its `token_slot`, appended when that is past
// the enumeration's end (a new grant), which fails at `MAX_GRANTS` (half of it for a
// Sharer's). A grant written before loses its `Grant` entry.
pub fn set_grant(env: &Env, id: u32, grant: &GrantInfo) -> Result<(), Error> {
    let item = GrantItem(
        grant.grantee.clone(),
        (u64::from(grant.grantee_slot) << 4) | role_code(grant.role),
        grant.expires_at,
        (!grant.by_owner).then(|| grant.granter.clone()),
    );
    let cap = if grant.by_owner {
        MAX_GRANTS
    } else {
        MAX_GRANTS / 2
    };
    let old = List::Grants(id).put(env, grant.token_slot, item.into_val(env), cap)?;
    if old.is_some_and(|v| Address::try_from_val(env, &v).is_ok()) {
        remove(env, &DataKey::Grant(id, grant.grantee.clone()));
    }
    Ok(())
}

// One dense enumeration: a head entry `(len, first CHUNK items)` and one entry per
// further chunk of `CHUNK` items.
#[derive(Clone)]
pub enum List {
    // Active tokens owned by an address.
    Owned(Address),
    // Pending (or lapsed, not yet rejected) tokens of a patient.
    Pending(Address),
    // Grantees of a token.
    Grants(u32),
    // Tokens on which an address holds a grant.
    Shared(Address),
}

// Items are handled as `Val`s (one copy of the code for every list); `page` and the callers
// give them their types.
impl List {
    fn key(&self, chunk: u32) -> DataKey {
        match self {
            List::Owned(a) => DataKey::Owned(a.clone(), chunk),
            List::Pending(a) => DataKey::Pending(a.clone(), chunk),
            List::Grants(id) => DataKey::GrantAt(*id, chunk),
            List::Shared(a) => DataKey::Shared(a.clone(), chunk),
        }
    }

    fn head(&self, env: &Env) -> (u32, Vec<Val>) {
        get(env, &self.key(0)).unwrap_or_else(|| (0, Vec::new(env)))
    }

    fn set_head(&self, env: &Env, len: u32, items: Vec<Val>) {
        if len == 0 {
            remove(env, &self.key(0));
        } else {
            set(env, &self.key(0), &(len, items));
        }
    }

    fn chunk(&self, env: &Env, k: u32) -> Vec<Val> {
        get(env, &self.key(k)).unwrap_or_else(|| Vec::new(env))
    }

    fn set_chunk(&self, env: &Env, k: u32, items: &Vec<Val>) {
        if items.is_empty() {
            remove(env, &self.key(k));
        } else {
            set(env, &self.key(k), items);
        }
    }

    // The items of chunk `k`, the head's (read already) for 0.
    fn items(&self, env: &Env, head: &Vec<Val>, k: u32) -> Vec<Val> {
        if k == 0 {
            head.clone()
        } else {
            self.chunk(env, k)
        }
    }

    // Stores chunk `k` (the head, with `len`, for 0).
    fn store(&self, env: &Env, len: u32, head: Vec<Val>, k: u32, items: Vec<Val>) {
        if k == 0 {
            self.set_head(env, len, items);
        } else {
            self.set_chunk(env, k, &items);
            self.set_head(env, len, head);
        }
    }

    // Replaces the item at `slot` and returns the one it replaced, or past the end appends
    // `value` (failing with `TooManyGrants` once the list holds `cap` items).
    pub fn put(&self, env: &Env, slot: u32, value: Val, cap: u32) -> Result<Option<Val>, Error> {
        let (mut len, head) = self.head(env);
        let slot = slot.min(len);
        if slot == len {
            if len >= cap {
                return Err(Error::TooManyGrants);
            }
            len += 1;
        }
        let (k, i) = (slot / CHUNK, slot % CHUNK);
        let mut items = self.items(env, &head, k);
        let old = items.get(i);
        if old.is_some() {
            items.set(i, value);
        } else {
            items.push_back(value);
        }
        self.store(env, len, head, k, items);
        Ok(old)
    }

    // Appends `value`; returns its slot. One write while the list fits in its head.
    pub fn push(&self, env: &Env, value: Val) -> u32 {
        let (len, head) = self.head(env);
        let k = len / CHUNK;
        let mut items = self.items(env, &head, k);
        items.push_back(value);
        self.store(env, len + 1, head, k, items);
        len
    }

    pub fn len(&self, env: &Env) -> u32 {
        self.head(env).0
    }

    // Items `start..start + limit` (clamped to the length), as `V`s (items are stored as
    // the list's type, so the vector is only renamed).
    pub fn page<V: TryFromVal<Env, Val> + IntoVal<Env, Val>>(
        &self,
        env: &Env,
        start: u32,
        limit: u32,
    ) -> Vec<V> {
        let (len, head) = self.head(env);
        let end = len.min(start.saturating_add(limit));
        let mut out: Vec<Val> = Vec::new(env);
        let mut slot = start;
        while slot < end {
            let k = slot / CHUNK;
            let items = self.items(env, &head, k);
            let stop = end.min((k + 1) * CHUNK);
            let hi = (stop - k * CHUNK).min(items.len());
            out.append(&items.slice((slot % CHUNK).min(hi)..hi));
            slot = stop;
        }
        Vec::from_val(env, &out.to_val())
    }

    // Removes `slot` by moving the last item into it; returns the moved item, whose
    // record must learn its new slot.
    pub fn swap_remove(&self, env: &Env, slot: u32) -> Option<Val> {
        let (len, mut head) = self.head(env);
        if slot >= len {
            return None;
        }
        let last = len - 1;
        let (lk, sk) = (last / CHUNK, slot / CHUNK);
        let mut tail = self.items(env, &head, lk);
        let value = tail.pop_back();
        let mut moved = None;
        if let (true, Some(value)) = (slot < last, value) {
            let i = slot % CHUNK;
            if sk == lk {
                tail.set(i, value);
            } else if sk == 0 {
                head.set(i, value);
            } else {
                let mut items = self.chunk(env, sk);
                items.set(i, value);
                self.set_chunk(env, sk, &items);
            }
            moved = Some(value);
        }
        self.store(env, last, head, lk, tail);
        moved
    }
}

// Removes the grant of `grant.grantee` on token `id` from both enumerations (and its
// `Grant` entry, for a grant written before). The grant moved into its slot of the token's
// enumeration needs no change (its slot is its position); the token moved into its slot of
// the grantee's records its new slot.
pub fn delete_grant(env: &Env, id: u32, grant: &GrantInfo) {
    List::Grants(id).swap_remove(env, grant.token_slot);
    // A grant written before has an entry of its own (removing none is a no-op).
    remove(env, &DataKey::Grant(id, grant.grantee.clone()));
    if let Some(moved) = List::Shared(grant.grantee.clone())
        .swap_remove(env, grant.grantee_slot)
        .and_then(|v| u32::try_from_val(env, &v).ok())
    {
        // The grantee stands in for token `moved`'s owner (not read here): an owner's grant
        // reports the owner as its granter but stores `None`, so the stand-in is not written.
        if let Some(mut g) = self::grant(env, moved, &grant.grantee, &grant.grantee) {
            g.grantee_slot = grant.grantee_slot;
            // In place: cannot fail.
            let _ = set_grant(env, moved, &g);
        }
    }
}

// Removes token `token.id` from `list` at `token.slot` and fixes the moved token.
pub fn unlist_token(env: &Env, list: &List, token: &Token) {
    if let Some(moved) = list
        .swap_remove(env, token.slot)
        .and_then(|v| u32::try_from_val(env, &v).ok())
    {
        if let Ok(mut t) = self::token(env, moved) {
            t.slot = token.slot;
            set_token(env, &t);
        }
    }
}

// The emergency policy, stored as `(max_hours, limit, window)`.
pub fn emergency_policy(env: &Env) -> EmergencyPolicy {
    let (max_hours, limit, window) = env
        .storage()
        .instance()
        .get(&DataKey::EmergencyPolicy)
        .unwrap_or((
            MAX_EMERGENCY_HOURS,
            DEFAULT_EMERGENCY_LIMIT,
            DEFAULT_EMERGENCY_WINDOW,
        ));
    EmergencyPolicy {
        max_hours,
        limit,
        window,
    }
}

pub fn set_emergency_policy(env: &Env, policy: &EmergencyPolicy) {
    env.storage().instance().set(
        &DataKey::EmergencyPolicy,
        &(policy.max_hours, policy.limit, policy.window),
    );
}

// Ledgers covering `secs` at the nominal close time, plus a day, within the network's
// maximum TTL: a temporary entry so extended outlives the time it stands for (the stored
// times decide; the entry's lapse only cleans up).
fn ttl_for(env: &Env, secs: u64) -> u32 {
    let ledgers = (secs / 5).min(u64::from(u32::MAX)) as u32;
    ledgers
        .saturating_add(DAY_IN_LEDGERS)
        .min(env.storage().max_ttl())
}

// An issuer's emergency access to token `id`, stored as `(reason, opened_at, expires_at)`.
pub fn emergency(env: &Env, id: u32, issuer: &Address) -> Option<EmergencyGrant> {
    let (reason, opened_at, expires_at) = env
        .storage()
        .temporary()
        .get(&DataKey::Emergency(id, issuer.clone()))?;
    Some(EmergencyGrant {
        reason,
        opened_at,
        expires_at,
    })
}

pub fn set_emergency(env: &Env, id: u32, issuer: &Address, grant: &EmergencyGrant) {
    let key = DataKey::Emergency(id, issuer.clone());
    let temporary = env.storage().temporary();
    temporary.set(&key, &(grant.reason, grant.opened_at, grant.expires_at));
    let ttl = ttl_for(env, grant.expires_at.saturating_sub(grant.opened_at));
    temporary.extend_ttl(&key, ttl, ttl);
}

pub fn remove_emergency(env: &Env, id: u32, issuer: &Address) {
    env.storage()
        .temporary()
        .remove(&DataKey::Emergency(id, issuer.clone()));
}

// `(window start, count)` of an issuer's emergency accesses in its current window.
pub fn emergency_use(env: &Env, issuer: &Address) -> Option<(u64, u32)> {
    env.storage()
        .temporary()
        .get(&DataKey::EmergencyUse(issuer.clone()))
}

pub fn set_emergency_use(env: &Env, issuer: &Address, start: u64, count: u32, window: u64) {
    let key = DataKey::EmergencyUse(issuer.clone());
    let temporary = env.storage().temporary();
    temporary.set(&key, &(start, count));
    let ttl = ttl_for(env, window);
    temporary.extend_ttl(&key, ttl, ttl);
}

// A records request, stored as `(issuer, fulfilled)`.
pub fn request(env: &Env, id: &BytesN<32>) -> Option<RecordsRequest> {
    let (issuer, fulfilled): (Address, bool) = env
        .storage()
        .temporary()
        .get(&DataKey::Request(id.clone()))?;
    Some(RecordsRequest { issuer, fulfilled })
}

// Stores a records request; a new one lives `REQUEST_TTL`, a fulfilled one keeps its TTL.
pub fn set_request(env: &Env, id: &BytesN<32>, request: &RecordsRequest) {
    let key = DataKey::Request(id.clone());
    let temporary = env.storage().temporary();
    let new = !temporary.has(&key);
    temporary.set(&key, &(request.issuer.clone(), request.fulfilled));
    if new {
        let ttl = REQUEST_TTL.min(env.storage().max_ttl());
        temporary.extend_ttl(&key, ttl, ttl);
    }
}
