//! M1: a grant made by a Sharer lives no longer and no wider than the Sharer's own access;
//! a grant made by the owner stands on its own.
use soroban_sdk::{
    testutils::{Address as _, Ledger as _},
    Address,
};

use super::{setup, Setup};
use crate::{AccessKind, Role, StudyTokenError as E};

/// Token 1 with a Sharer (granted by the owner, `sharer_until`) and a Viewer granted by
/// that Sharer (`viewer_until`).
fn delegated(
    s: &Setup,
    sharer_until: Option<u64>,
    viewer_until: Option<u64>,
) -> (u32, Address, Address) {
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, sharer_until);
    let viewer = Address::generate(&s.env);
    s.token
        .grant(&sharer, &id, &viewer, &Role::Viewer, &viewer_until);
    assert!(!s.token.grants(&id, &1, &1).get_unchecked(0).by_owner);
    assert!(s.token.grants(&id, &0, &1).get_unchecked(0).by_owner);
    (id, sharer, viewer)
}

#[test]
fn a_sharers_grants_end_when_the_sharer_is_revoked() {
    let s = setup();
    let (id, sharer, viewer) = delegated(&s, None, None);
    assert_eq!(s.token.access(&id, &viewer).unwrap().role, Role::Viewer);
    s.token.revoke(&s.patient, &id, &sharer);
    assert_eq!(s.token.access(&id, &viewer), None);
    assert_eq!(
        s.token.try_record_access(&viewer, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    // Ten years later it is still dead, and re-granting the Sharer revives it (the grant
    // record is still listed; the owner can revoke it).
    s.env.ledger().set_timestamp(s.now() + 10 * 365 * 24 * 3600);
    assert_eq!(s.token.access(&id, &viewer), None);
    s.token
        .grant(&s.patient, &id, &sharer, &Role::Sharer, &None);
    assert!(s.token.access(&id, &viewer).is_some());
    s.token.revoke(&s.patient, &id, &viewer);
    assert_eq!(s.token.access(&id, &viewer), None);
}

#[test]
fn a_sharers_grants_end_when_the_sharer_is_downgraded_to_viewer() {
    let s = setup();
    let (id, sharer, viewer) = delegated(&s, None, None);
    s.token
        .grant(&s.patient, &id, &sharer, &Role::Viewer, &None);
    assert_eq!(s.token.access(&id, &sharer).unwrap().role, Role::Viewer);
    assert_eq!(s.token.access(&id, &viewer), None);
}

#[test]
fn a_sharers_grants_are_shortened_with_the_sharer() {
    let s = setup();
    let far = s.now() + 1_000_000;
    let (id, sharer, viewer) = delegated(&s, Some(far), Some(far));
    let soon = s.now() + 10;
    s.token
        .grant(&s.patient, &id, &sharer, &Role::Sharer, &Some(soon));
    // The sub-grant reports, and ends at, the Sharer's earlier expiry.
    assert_eq!(s.token.access(&id, &viewer).unwrap().expires_at, Some(soon));
    s.env.ledger().set_timestamp(soon);
    assert_eq!(s.token.access(&id, &sharer), None);
    assert_eq!(s.token.access(&id, &viewer), None);
}

#[test]
fn an_open_sub_grant_ends_with_its_sharers_expiry() {
    let s = setup();
    let until = s.now() + 100;
    let (id, _sharer, viewer) = delegated(&s, Some(until), Some(until));
    assert_eq!(
        s.token.access(&id, &viewer).unwrap().expires_at,
        Some(until)
    );
    s.env.ledger().set_timestamp(until);
    assert_eq!(s.token.access(&id, &viewer), None);
}

#[test]
fn an_owners_grant_survives_the_owners_key_rotation() {
    let s = setup();
    let (id, sharer, viewer) = delegated(&s, None, None);
    let direct = s.grantee(id, Role::Viewer, None);
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&id, &s.patient, &new);
    // Granted by the old key as owner: still standing, and (an owner's grant does not store
    // its granter) reported as the owner's, now the new key.
    assert_eq!(s.token.access(&id, &direct).unwrap().granter, new);
    assert_eq!(s.token.grants(&id, &0, &50).get(0).unwrap().granter, new);
    assert_eq!(s.token.access(&id, &sharer).unwrap().role, Role::Sharer);
    assert!(s.token.access(&id, &viewer).is_some());
}

#[test]
fn a_sharer_that_becomes_the_owner_keeps_its_grants_alive() {
    let s = setup();
    let (id, sharer, viewer) = delegated(&s, Some(s.now() + 50), Some(s.now() + 50));
    s.token.rotate_owner(&id, &s.patient, &sharer);
    assert_eq!(s.token.access(&id, &sharer).unwrap().role, Role::Owner);
    s.env.ledger().set_timestamp(s.now() + 49);
    assert!(s.token.access(&id, &viewer).is_some());
}
