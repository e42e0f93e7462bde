//! Storage layout and TTL policy of the study token.
//!
//! Instance: configuration and the next token id. Persistent: one entry per token (keyed by
//! its id, taken from a counter), one commitment index entry per token that is pending or
//! active (cleared on reject and withdrawal, overwritten after a lapse), one per stored
//! grant, and the chunks of four enumerations (owned, pending, grants of a token,
//! tokens shared with an address). An enumeration is a head entry holding its length and
//! its first `CHUNK` items, then one entry per further `CHUNK` items, so a short list is a
//! single entry and no entry grows with the number of tokens or grants. Enumerations stay
//! dense by moving the last item into a freed slot. Persistent entries are extended on
//! every read and write; the instance on every state change and on `record_access`.
use soroban_sdk::{
    contracttype, panic_with_error, Address, BytesN, Env, IntoVal, String, TryFromVal, Val, Vec,
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
    Grant(u32, Address),
    // Chunk `k` of the Active tokens owned by an address (chunk 0 is the head).
    Owned(Address, u32),
    // Chunk `k` of the Pending tokens of a patient.
    Pending(Address, u32),
    // Chunk `k` of the grantees of a token.
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

// A grant as stored since issue 19: a tuple without the grantee (the key holds it).
//
// 0 `by_owner << 4 | role` (1 Sharer, 2 Viewer), 1 expiry, 2 granter,
// 3 `token_slot << 32 | grantee_slot`.
#[contracttype]
#[derive(Clone)]
pub struct PackedGrant(u32, Option<u64>, Address, u64);

impl PackedGrant {
    fn pack(g: &GrantInfo) -> Self {
        let role = match g.role {
            Role::Sharer => 1,
            _ => 2,
        };
        PackedGrant(
            (u32::from(g.by_owner) << 4) | role,
            g.expires_at,
            g.granter.clone(),
            (u64::from(g.token_slot) << 32) | u64::from(g.grantee_slot),
        )
    }

    fn unpack(self, grantee: &Address) -> Option<GrantInfo> {
        let PackedGrant(flags, expires_at, granter, slots) = self;
        let role = match flags & 0xf {
            1 => Role::Sharer,
            2 => Role::Viewer,
            _ => return None,
        };
        Some(GrantInfo {
            grantee: grantee.clone(),
            role,
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

// The grant of `grantee` on token `id` (packed, or a map written by the issue-14 version).
pub fn grant(env: &Env, id: u32, grantee: &Address) -> Option<GrantInfo> {
    let raw: Val = get(env, &DataKey::Grant(id, grantee.clone()))?;
    if let Some(g) = PackedGrant::try_from_val(env, &raw)
        .ok()
        .and_then(|p| p.unpack(grantee))
    {
        return Some(g);
    }
    GrantInfo::try_from_val(env, &raw).ok()
}

pub fn set_grant(env: &Env, id: u32, grant: &GrantInfo) {
    set(
        env,
        &DataKey::Grant(id, grant.grantee.clone()),
        &PackedGrant::pack(grant),
    );
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

    // Items `start..start + limit` (clamped to the length).
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

    // Appends `value`; returns its slot. One write while the list fits in its head.
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

    // Removes `slot` by moving the last item into it; returns the moved item, whose
    // record must learn its new slot.
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

// Removes the grant of `grant.grantee` on token `id` from storage and both enumerations.
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

// Removes token `token.id` from `list` at `token.slot` and fixes the moved token.
pub fn unlist_token(env: &Env, list: &List, token: &Token) {
    if let Some(moved) = list.swap_remove::<u32>(env, token.slot) {
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
