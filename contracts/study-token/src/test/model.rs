//! Model-based property test: random sequences of release, approve, reject, withdraw,
//! grant, revoke, rotate, suspend, reinstate and time passing, run against the contract and
//! against a small plain-Rust model of the rules. After every step the outcome (success or
//! failure) must agree, and `access` on chain must equal the model for every address on
//! every token.
use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;
use soroban_sdk::{testutils::Address as _, testutils::Ledger as _, Address};

use super::{release, setup, Setup};
use crate::{Access, RejectReason, Role};

/// Addresses: 0..3 are patient keys (token owners), 3 is the issuer, 4..7 are others.
const PEOPLE: usize = 7;
const ISSUER: usize = 3;
const WINDOW: u32 = 20;

#[derive(Clone, Debug)]
enum Op {
    Propose(usize),
    Mint(usize),
    Approve(usize),
    Reject(usize),
    Withdraw(usize),
    Grant {
        token: usize,
        /// `None`: the token's current owner.
        granter: Option<usize>,
        grantee: usize,
        sharer: bool,
        expires_in: Option<u64>,
    },
    Revoke {
        token: usize,
        /// `None`: the token's current owner.
        revoker: Option<usize>,
        grantee: usize,
    },
    Rotate(usize, usize),
    Suspend,
    Reinstate,
    Pass(u32),
}

/// Who acts: `None` for the token's current owner, often someone else who may hold a
/// grant, sometimes a patient key (e.g. a rotated-away one).
fn actor() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        2 => Just(None),
        3 => (ISSUER..PEOPLE).prop_map(Some),
        1 => (0..ISSUER).prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize).prop_map(Op::Propose),
        1 => (0..3usize).prop_map(Op::Mint),
        2 => (0..4usize).prop_map(Op::Approve),
        1 => (0..4usize).prop_map(Op::Reject),
        1 => (0..4usize).prop_map(Op::Withdraw),
        6 => (0..4usize, actor(), ISSUER..PEOPLE, any::<bool>(), proptest::option::of(1..200u64))
            .prop_map(|(token, granter, grantee, sharer, expires_in)| Op::Grant {
                token,
                granter,
                grantee,
                sharer,
                expires_in
            }),
        3 => (0..4usize, actor(), ISSUER..PEOPLE).prop_map(|(token, revoker, grantee)| Op::Revoke {
            token,
            revoker,
            grantee
        }),
        1 => (0..4usize, 0..PEOPLE).prop_map(|(t, n)| Op::Rotate(t, n)),
        1 => Just(Op::Suspend),
        1 => Just(Op::Reinstate),
        2 => (1..30u32).prop_map(Op::Pass),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Pending,
    Active,
    Closed,
}

#[derive(Clone, Debug)]
struct G {
    role: Role,
    expires_at: Option<u64>,
    granter: usize,
    by_owner: bool,
}

#[derive(Clone, Debug)]
struct T {
    id: u32,
    owner: usize,
    status: St,
    pending_until: u32,
    issuer_revoked: bool,
    grants: BTreeMap<usize, G>,
}

struct Model {
    tokens: Vec<T>,
    trusted: bool,
    seq: u32,
    now: u64,
}

impl Model {
    fn lapsed(&self, t: &T) -> bool {
        t.status == St::Pending && self.seq > t.pending_until
    }

    fn direct(&self, t: &T, a: usize) -> Option<(Role, Option<u64>, usize, bool)> {
        if a == t.owner {
            return Some((Role::Owner, None, t.owner, true));
        }
        let g = t.grants.get(&a);
        if a == ISSUER && (g.is_some() || !t.issuer_revoked) && !self.trusted {
            return None;
        }
        match g {
            None => {
                (a == ISSUER && !t.issuer_revoked).then_some((Role::Viewer, None, t.owner, true))
            }
            Some(g) if g.expires_at.is_some_and(|e| self.now >= e) => None,
            // An owner's grant reports the current owner as its granter.
            Some(g) if g.by_owner => Some((g.role, g.expires_at, t.owner, true)),
            Some(g) => Some((g.role, g.expires_at, g.granter, false)),
        }
    }

    /// `access` as the rules say: (role, expiry, granter).
    fn access(&self, t: &T, a: usize) -> Option<(Role, Option<u64>, usize)> {
        if t.status != St::Active {
            return None;
        }
        let (role, exp, granter, by_owner) = self.direct(t, a)?;
        if by_owner {
            return Some((role, exp, granter));
        }
        let (grole, gexp, _, _) = self.direct(t, granter)?;
        if !matches!(grole, Role::Owner | Role::Sharer) {
            return None;
        }
        let exp = match (exp, gexp) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        Some((role, exp, granter))
    }

    /// Token `i` modulo the number of tokens (so every index names one), with its index.
    fn pick(&self, i: usize) -> Option<(usize, T)> {
        if self.tokens.is_empty() {
            return None;
        }
        let i = i % self.tokens.len();
        Some((i, self.tokens[i].clone()))
    }

    fn pending_count(&self, owner: usize) -> u32 {
        self.tokens
            .iter()
            .filter(|t| t.status == St::Pending && t.owner == owner)
            .count() as u32
    }
}

struct World<'a> {
    s: Setup<'a>,
    people: Vec<Address>,
    next_root: u8,
}

impl World<'_> {
    fn addr(&self, i: usize) -> &Address {
        &self.people[i]
    }
}

/// Applies `op` to both; panics (failing the property) when they disagree.
fn step(w: &mut World, m: &mut Model, op: &Op) {
    let s = &w.s;
    match *op {
        Op::Propose(owner) | Op::Mint(owner) => {
            let minting = matches!(op, Op::Mint(_));
            w.next_root = w.next_root.wrapping_add(1).max(1);
            let r = release(&s.env, w.next_root);
            let expect =
                m.trusted && (minting || m.pending_count(owner) < crate::DEFAULT_PENDING_CAP);
            let got = if minting {
                s.token.try_mint(w.addr(ISSUER), w.addr(owner), &r)
            } else {
                s.token
                    .try_propose_release(w.addr(ISSUER), w.addr(owner), &r)
            };
            assert_eq!(got.is_ok(), expect, "{op:?}: {got:?}");
            if let Ok(Ok(id)) = got {
                m.tokens.push(T {
                    id,
                    owner,
                    status: if minting { St::Active } else { St::Pending },
                    pending_until: m.seq + WINDOW,
                    issuer_revoked: false,
                    grants: BTreeMap::new(),
                });
            }
        }
        Op::Approve(i) | Op::Reject(i) | Op::Withdraw(i) => {
            let Some((i, t)) = m.pick(i) else { return };
            let pending = t.status == St::Pending;
            let (got, expect, to) = match op {
                Op::Approve(_) => (
                    s.token
                        .try_approve_release(w.addr(t.owner), &t.id)
                        .map(|_| ()),
                    pending && !m.lapsed(&t) && m.trusted,
                    St::Active,
                ),
                Op::Reject(_) => (
                    s.token
                        .try_reject_release(w.addr(t.owner), &t.id, &RejectReason::Other)
                        .map(|_| ()),
                    pending,
                    St::Closed,
                ),
                _ => (
                    s.token
                        .try_withdraw_release(w.addr(ISSUER), &t.id)
                        .map(|_| ()),
                    pending,
                    St::Closed,
                ),
            };
            assert_eq!(got.is_ok(), expect, "{op:?} on {t:?}: {got:?}");
            if expect {
                m.tokens[i].status = to;
            }
        }
        Op::Grant {
            token,
            granter,
            grantee,
            sharer,
            expires_in,
        } => {
            let Some((token, t)) = m.pick(token) else {
                return;
            };
            let granter = granter.unwrap_or(t.owner);
            let role = if sharer { Role::Sharer } else { Role::Viewer };
            let expires_at = expires_in.map(|d| m.now + d);
            let expect = t.status == St::Active
                && grantee != t.owner
                && (granter == t.owner || {
                    let own = m.access(&t, granter);
                    let existing_ok = match t.grants.get(&grantee) {
                        Some(g) => g.granter == granter,
                        None => grantee != ISSUER || t.issuer_revoked,
                    };
                    matches!(own, Some((Role::Sharer, _, _)))
                        && role == Role::Viewer
                        && own
                            .unwrap()
                            .1
                            .is_none_or(|limit| expires_at.is_some_and(|e| e <= limit))
                        && existing_ok
                });
            let got =
                s.token
                    .try_grant(w.addr(granter), &t.id, w.addr(grantee), &role, &expires_at);
            assert_eq!(got.is_ok(), expect, "{op:?} on {t:?}: {got:?}");
            if expect {
                m.tokens[token].grants.insert(
                    grantee,
                    G {
                        role,
                        expires_at,
                        granter,
                        by_owner: granter == t.owner,
                    },
                );
            }
        }
        Op::Revoke {
            token,
            revoker,
            grantee,
        } => {
            let Some((token, t)) = m.pick(token) else {
                return;
            };
            let revoker = revoker.unwrap_or(t.owner);
            let implicit = grantee == ISSUER && !t.issuer_revoked;
            let grant = t.grants.get(&grantee);
            let expect = (grant.is_some() || implicit)
                && (revoker == t.owner
                    || revoker == grantee
                    || grant.is_some_and(|g| !g.by_owner && g.granter == revoker));
            let got = s.token.try_revoke(w.addr(revoker), &t.id, w.addr(grantee));
            assert_eq!(got.is_ok(), expect, "{op:?} on {t:?}: {got:?}");
            if expect {
                let t = &mut m.tokens[token];
                t.grants.remove(&grantee);
                if implicit && (revoker == t.owner || revoker == grantee) {
                    t.issuer_revoked = true;
                }
            }
        }
        Op::Rotate(i, new) => {
            let Some((i, t)) = m.pick(i) else { return };
            let live = t.status == St::Active || (t.status == St::Pending && !m.lapsed(&t));
            let expect = new != t.owner && new != ISSUER && live;
            let got = s
                .token
                .try_rotate_owner(&t.id, w.addr(t.owner), w.addr(new));
            assert_eq!(got.is_ok(), expect, "{op:?} on {t:?}: {got:?}");
            if expect {
                let t = &mut m.tokens[i];
                t.grants.remove(&new);
                t.owner = new;
            }
        }
        Op::Suspend => {
            let got = s.registry.try_suspend_issuer(w.addr(ISSUER));
            assert_eq!(got.is_ok(), m.trusted);
            m.trusted = false;
        }
        Op::Reinstate => {
            let got = s.registry.try_reinstate_issuer(w.addr(ISSUER));
            assert_eq!(got.is_ok(), !m.trusted);
            m.trusted = true;
        }
        Op::Pass(n) => {
            m.seq += n;
            m.now += 5 * u64::from(n);
            s.env.ledger().set_sequence_number(m.seq);
            s.env.ledger().set_timestamp(m.now);
        }
    }
}

fn check(w: &World, m: &Model) {
    for t in &m.tokens {
        for a in 0..PEOPLE {
            let chain: Option<Access> = w.s.token.access(&t.id, w.addr(a));
            let model = m.access(t, a).map(|(role, expires_at, granter)| Access {
                role,
                expires_at,
                granter: w.addr(granter).clone(),
            });
            assert_eq!(chain, model, "token {} address {a}: {t:?}", t.id);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn access_on_chain_equals_the_model(ops in proptest::collection::vec(op(), 1..50)) {
        run_ops(&ops);
    }
}

/// Runs `ops` through the contract and the model, checking after every step.
fn run_ops(ops: &[Op]) {
    let s = setup();
    s.token.set_pending_window(&WINDOW);
    let mut people: Vec<Address> = (0..PEOPLE).map(|_| Address::generate(&s.env)).collect();
    people[ISSUER] = s.issuer.clone();
    people[0] = s.patient.clone();
    let mut m = Model {
        tokens: Vec::new(),
        trusted: true,
        seq: s.env.ledger().sequence(),
        now: s.env.ledger().timestamp(),
    };
    let mut w = World {
        s,
        people,
        next_root: 0,
    };
    for op in ops {
        step(&mut w, &mut m, op);
        check(&w, &m);
    }
}

#[test]
fn the_model_harness_sees_a_sharers_sub_grant_end() {
    // A fixed sequence through the same harness: the property test's checks can fail.
    run_ops(&[
        Op::Mint(0),
        Op::Grant {
            token: 0,
            granter: None,
            grantee: 4,
            sharer: true,
            expires_in: None,
        },
        Op::Grant {
            token: 0,
            granter: Some(4),
            grantee: 5,
            sharer: false,
            expires_in: None,
        },
        Op::Revoke {
            token: 0,
            revoker: None,
            grantee: 4,
        },
        Op::Suspend,
        Op::Pass(3),
        Op::Reinstate,
    ]);
}
