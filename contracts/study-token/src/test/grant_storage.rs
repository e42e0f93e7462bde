//! How grants are stored (issue 19): as items of their token's grant enumeration, at most
//! `MAX_GRANTS` per token, with grants written before (a grantee in the enumeration and a
//! `Grant` entry of its own) still read and converted when next written.
use soroban_sdk::{testutils::Address as _, Address, Env, Vec};

use super::{setup, Setup};
use crate::storage::{DataKey, List, CHUNK, MAX_GRANTS};
use crate::{AccessKind, GrantInfo, Role, StudyTokenError as E};

/// Whether the token holds a `Grant` entry (the form written before) for `grantee`.
fn has_entry(s: &Setup, id: u32, grantee: &Address) -> bool {
    s.env.as_contract(&s.token.address, || {
        s.env
            .storage()
            .persistent()
            .has(&DataKey::Grant(id, grantee.clone()))
    })
}

/// Writes a grant as the version before items wrote it: the grantee in both enumerations
/// and its record in a `Grant` entry, packed (`packed`) or as the issue-14 version's map.
fn legacy_grant(s: &Setup, id: u32, grantee: &Address, role: Role, packed: bool) {
    let env: &Env = &s.env;
    env.as_contract(&s.token.address, || {
        let token_slot = List::Grants(id).push(env, grantee.to_val());
        let grantee_slot = List::Shared(grantee.clone()).push(env, id.into());
        let key = DataKey::Grant(id, grantee.clone());
        let persistent = env.storage().persistent();
        if packed {
            let flags: u32 = (1 << 4) | if role == Role::Sharer { 1 } else { 2 };
            let slots = (u64::from(token_slot) << 32) | u64::from(grantee_slot);
            persistent.set(&key, &(flags, None::<u64>, s.patient.clone(), slots));
        } else {
            let grant = GrantInfo {
                grantee: grantee.clone(),
                role,
                expires_at: None,
                granter: s.patient.clone(),
                by_owner: true,
                token_slot,
                grantee_slot,
            };
            persistent.set(&key, &grant);
        }
    });
}

fn grantees(s: &Setup, id: u32) -> std::vec::Vec<Address> {
    let mut out = std::vec::Vec::new();
    let mut start = 0;
    loop {
        let page = s.token.grants(&id, &start, &50);
        for (i, g) in page.iter().enumerate() {
            // Each grant reports its position in the enumeration.
            assert_eq!(g.token_slot, start + i as u32);
            out.push(g.grantee);
        }
        if page.len() < 50 {
            return out;
        }
        start += 50;
    }
}

#[test]
fn a_grant_is_an_item_of_its_tokens_enumeration_not_an_entry() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    assert!(!has_entry(&s, id, &viewer));
    let head: (u32, Vec<soroban_sdk::Val>) = s.env.as_contract(&s.token.address, || {
        s.env
            .storage()
            .persistent()
            .get(&DataKey::GrantAt(id, 0))
            .unwrap()
    });
    assert_eq!((head.0, head.1.len()), (1, 1));
    assert_eq!(s.token.access(&id, &viewer).unwrap().role, Role::Viewer);
}

#[test]
fn a_token_holds_at_most_max_grants_and_a_revoke_makes_room() {
    let s = setup();
    let id = s.mint(1);
    let mut held = std::vec::Vec::new();
    for _ in 0..MAX_GRANTS {
        held.push(s.grantee(id, Role::Viewer, None));
    }
    let late = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &late, &Role::Viewer, &None),
        Err(Ok(E::TooManyGrants))
    );
    assert_eq!(s.token.access(&id, &late), None);
    // Replacing a grant the token holds needs no room.
    s.token
        .grant(&s.patient, &id, &held[0], &Role::Sharer, &None);
    assert_eq!(s.token.access(&id, &held[0]).unwrap().role, Role::Sharer);
    // The last of 64 (in the fourth chunk) is found like the first.
    s.token.record_access(&held[63], &id, &AccessKind::View);
    s.token.revoke(&s.patient, &id, &held[5]);
    s.token.grant(&s.patient, &id, &late, &Role::Viewer, &None);
    assert!(s.token.access(&id, &late).is_some());
    assert_eq!(grantees(&s, id).len() as u32, MAX_GRANTS);
}

#[test]
fn a_sharer_cannot_fill_the_owners_last_slots() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    // The sharer's grant is the first of 32; it adds 31 more.
    for _ in 1..MAX_GRANTS / 2 {
        let v = Address::generate(&s.env);
        s.token.grant(&sharer, &id, &v, &Role::Viewer, &None);
    }
    let v = Address::generate(&s.env);
    assert_eq!(
        s.token.try_grant(&sharer, &id, &v, &Role::Viewer, &None),
        Err(Ok(E::TooManyGrants))
    );
    // The owner still has the other half.
    for _ in MAX_GRANTS / 2..MAX_GRANTS {
        s.grantee(id, Role::Viewer, None);
    }
    assert_eq!(
        s.token.try_grant(&s.patient, &id, &v, &Role::Viewer, &None),
        Err(Ok(E::TooManyGrants))
    );
    // Revoking the sharer leaves its grants stored (they give no access) until revoked.
    s.token.revoke(&s.patient, &id, &sharer);
    assert_eq!(s.token.access(&id, &grantees(&s, id)[1]), None);
}

#[test]
fn revokes_across_chunks_keep_every_other_grant_and_the_grantees_lists() {
    let s = setup();
    let ids: std::vec::Vec<u32> = (1..=3).map(|n| s.mint(n)).collect();
    // One grantee on three tokens (its shared-with list), and 20 on the first token (two
    // chunks of its grant enumeration).
    let common = Address::generate(&s.env);
    for &id in &ids {
        s.token
            .grant(&s.patient, &id, &common, &Role::Viewer, &None);
    }
    let others: std::vec::Vec<Address> = (0..CHUNK + 4)
        .map(|_| s.grantee(ids[0], Role::Viewer, None))
        .collect();
    // The first token's first grant goes: its last (in chunk 1) moves into slot 0.
    s.token.revoke(&s.patient, &ids[0], &common);
    assert_eq!(s.token.access(&ids[0], &common), None);
    assert_eq!(grantees(&s, ids[0])[0], others[others.len() - 1]);
    for other in &others {
        assert_eq!(s.token.access(&ids[0], other).unwrap().role, Role::Viewer);
    }
    // The common grantee's list moved the third token into the first's slot: revoking it
    // there (its recorded slot updated) leaves the second.
    s.token.revoke(&s.patient, &ids[2], &common);
    assert_eq!(
        s.token.shared_with(&common, &0, &50),
        soroban_sdk::vec![&s.env, ids[1]]
    );
    s.token.revoke(&s.patient, &ids[1], &common);
    assert_eq!(s.token.shared_with(&common, &0, &50).len(), 0);
    // A chunk emptied by revokes is gone, and the rest still reads.
    for other in others.iter().skip(2) {
        s.token.revoke(&s.patient, &ids[0], other);
    }
    let left = grantees(&s, ids[0]);
    assert_eq!(left.len(), 2);
    assert!(left.contains(&others[0]) && left.contains(&others[1]));
    let second_chunk = s.env.as_contract(&s.token.address, || {
        s.env
            .storage()
            .persistent()
            .has(&DataKey::GrantAt(ids[0], 1))
    });
    assert!(!second_chunk);
}

#[test]
fn grants_written_before_still_read_and_become_items_when_written() {
    for packed in [true, false] {
        let s = setup();
        let id = s.mint(1);
        let old_viewer = Address::generate(&s.env);
        let old_sharer = Address::generate(&s.env);
        legacy_grant(&s, id, &old_viewer, Role::Viewer, packed);
        legacy_grant(&s, id, &old_sharer, Role::Sharer, packed);
        let new_viewer = s.grantee(id, Role::Viewer, None);
        // Read as before, listed in order, each with its position.
        assert_eq!(
            grantees(&s, id),
            std::vec![old_viewer.clone(), old_sharer.clone(), new_viewer.clone()]
        );
        assert_eq!(s.token.access(&id, &old_viewer).unwrap().role, Role::Viewer);
        s.token.record_access(&old_sharer, &id, &AccessKind::View);
        // The old Sharer delegates: its record is read from its entry.
        let sub = Address::generate(&s.env);
        s.token.grant(&old_sharer, &id, &sub, &Role::Viewer, &None);
        assert_eq!(s.token.access(&id, &sub).unwrap().granter, old_sharer);
        // Rewritten (a new expiry): an item now, its entry gone.
        let until = s.now() + 3_600;
        s.token
            .grant(&s.patient, &id, &old_viewer, &Role::Viewer, &Some(until));
        assert!(!has_entry(&s, id, &old_viewer));
        assert_eq!(
            s.token.access(&id, &old_viewer).unwrap().expires_at,
            Some(until)
        );
        // Revoking the new viewer moves the sub-grant (an item) into its slot; revoking
        // the old Sharer deletes its entry and ends its sub-grant.
        s.token.revoke(&s.patient, &id, &new_viewer);
        s.token.revoke(&s.patient, &id, &old_sharer);
        assert!(!has_entry(&s, id, &old_sharer));
        assert_eq!(s.token.access(&id, &old_sharer), None);
        assert_eq!(s.token.access(&id, &sub), None);
        assert_eq!(grantees(&s, id), std::vec![old_viewer.clone(), sub.clone()]);
        assert_eq!(s.token.shared_with(&old_sharer, &0, &50).len(), 0);
    }
}

#[test]
fn a_rotated_owner_drops_a_grant_of_either_form_held_by_the_new_key() {
    for packed in [true, false] {
        let s = setup();
        let id = s.mint(1);
        let new = Address::generate(&s.env);
        legacy_grant(&s, id, &new, Role::Viewer, packed);
        let other = s.grantee(id, Role::Viewer, None);
        s.token.rotate_owner(&id, &s.patient, &new);
        assert!(!has_entry(&s, id, &new));
        assert_eq!(grantees(&s, id), std::vec![other.clone()]);
        assert_eq!(s.token.access(&id, &new).unwrap().role, Role::Owner);
        assert_eq!(s.token.access(&id, &other).unwrap().granter, new);
    }
}
