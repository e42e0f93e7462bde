//! The smaller holes of the security review (L1, L2, I2, I3, L3) and the attacks it listed
//! as untested: each as its own test.
use soroban_sdk::{
    testutils::{
        storage::Instance as _, storage::Persistent as _, Address as _, Events as _, Ledger as _,
    },
    Address, Event as _, String,
};

use super::{release, setup};
use crate::{
    AccessKind, OwnerRotated, RejectReason, Role, RoleRevoked, StudyTokenError as E,
    DEFAULT_PENDING_WINDOW, INSTANCE_EXTEND_TO, PERSISTENT_EXTEND_TO,
};

#[test]
fn the_rotated_away_key_cannot_revoke() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    let sharer = s.grantee(id, Role::Sharer, None);
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&id, &s.patient, &new);
    for grantee in [&viewer, &sharer, &s.issuer] {
        assert_eq!(
            s.token.try_revoke(&s.patient, &id, grantee),
            Err(Ok(E::NotGranter))
        );
    }
    assert!(s.token.access(&id, &viewer).is_some());
    // The current owner can.
    s.token.revoke(&new, &id, &viewer);
    assert_eq!(s.token.access(&id, &viewer), None);
}

#[test]
fn a_rotation_that_drops_a_grant_says_so() {
    let s = setup();
    let id = s.mint(1);
    let new = s.grantee(id, Role::Sharer, None);
    s.token.rotate_owner(&id, &s.patient, &new);
    assert_eq!(
        s.env.events().all(),
        std::vec![
            RoleRevoked {
                token_id: id,
                revoker: s.patient.clone(),
                grantee: new.clone()
            }
            .to_xdr(&s.env, &s.token.address),
            OwnerRotated {
                token_id: id,
                old_owner: s.patient.clone(),
                new_owner: new.clone()
            }
            .to_xdr(&s.env, &s.token.address)
        ]
    );
}

#[test]
fn rotation_to_the_issuer_is_refused() {
    let s = setup();
    let id = s.mint(1);
    assert_eq!(
        s.token.try_rotate_owner(&id, &s.patient, &s.issuer),
        Err(Ok(E::SelfRelease))
    );
    let pending = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    assert_eq!(
        s.token.try_rotate_owner(&pending, &s.patient, &s.issuer),
        Err(Ok(E::SelfRelease))
    );
    assert_eq!(s.token.owner_of(&id), s.patient);
}

#[test]
fn a_grantee_renounces_its_own_access() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    let viewer = Address::generate(&s.env);
    s.token.grant(&sharer, &id, &viewer, &Role::Viewer, &None);
    let by_owner = s.grantee(id, Role::Viewer, None);
    for who in [&viewer, &by_owner, &sharer] {
        s.token.revoke(who, &id, who);
        assert_eq!(
            s.env.events().all(),
            std::vec![RoleRevoked {
                token_id: id,
                revoker: who.clone(),
                grantee: who.clone()
            }
            .to_xdr(&s.env, &s.token.address)]
        );
        assert_eq!(s.token.access(&id, who), None);
        assert_eq!(s.token.shared_with(who, &0, &10).len(), 0);
    }
    assert_eq!(s.token.grants(&id, &0, &10).len(), 0);
    // Nothing left to renounce.
    assert_eq!(
        s.token.try_revoke(&viewer, &id, &viewer),
        Err(Ok(E::GrantNotFound))
    );
}

#[test]
fn the_issuer_renounces_its_implicit_viewer() {
    let s = setup();
    let id = s.mint(1);
    s.token.revoke(&s.issuer, &id, &s.issuer);
    assert!(s.token.token(&id).issuer_revoked);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(
        s.token.try_record_access(&s.issuer, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    // An issuer cannot revoke anyone else's grant.
    let viewer = s.grantee(id, Role::Viewer, None);
    assert_eq!(
        s.token.try_revoke(&s.issuer, &id, &viewer),
        Err(Ok(E::NotGranter))
    );
}

#[test]
fn self_grants_by_a_grantee_or_the_issuer_are_refused() {
    let s = setup();
    let id = s.mint(1);
    let until = s.now() + 100;
    let sharer = s.grantee(id, Role::Sharer, Some(until));
    let viewer = s.grantee(id, Role::Viewer, Some(until));
    // A Sharer cannot rewrite its own grant (longer, or as Viewer without expiry).
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &sharer, &Role::Viewer, &Some(until)),
        Err(Ok(E::NotGranter))
    );
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &sharer, &Role::Sharer, &None),
        Err(Ok(E::SharerCannotGrantSharer))
    );
    assert_eq!(
        s.token
            .try_grant(&viewer, &id, &viewer, &Role::Viewer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    assert_eq!(
        s.token
            .try_grant(&s.issuer, &id, &s.issuer, &Role::Sharer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    assert_eq!(
        s.token.access(&id, &sharer).unwrap().expires_at,
        Some(until)
    );
}

#[test]
fn grant_and_record_on_a_lapsed_token_are_refused() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    s.env
        .ledger()
        .set_sequence_number(1_000 + DEFAULT_PENDING_WINDOW + 1);
    let who = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::TokenNotActive))
    );
    for viewer in [&s.patient, &s.issuer] {
        assert_eq!(
            s.token.try_record_access(viewer, &id, &AccessKind::View),
            Err(Ok(E::TokenNotActive))
        );
    }
}

#[test]
fn reads_and_writes_extend_the_entries_and_the_instance() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    // The grant is an item of the token's grant enumeration (its head entry).
    let ttl = |f: &dyn Fn() -> u32| s.env.as_contract(&s.token.address, f);
    let instance = || ttl(&|| s.env.storage().instance().get_ttl());
    let token_ttl = || {
        ttl(&|| {
            s.env
                .storage()
                .persistent()
                .get_ttl(&crate::storage::DataKey::Token(id))
        })
    };
    let grant_ttl = || {
        ttl(&|| {
            s.env
                .storage()
                .persistent()
                .get_ttl(&crate::storage::DataKey::GrantAt(id, 0))
        })
    };
    // After writes: everything at the full extension.
    assert_eq!(instance(), INSTANCE_EXTEND_TO);
    assert_eq!(token_ttl(), PERSISTENT_EXTEND_TO);
    assert_eq!(grant_ttl(), PERSISTENT_EXTEND_TO);
    // Two days on, a record_access (the most frequent call) extends all it touches.
    let two_days = 2 * 17_280;
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + two_days);
    assert_eq!(instance(), INSTANCE_EXTEND_TO - two_days);
    s.token.record_access(&viewer, &id, &AccessKind::View);
    assert_eq!(instance(), INSTANCE_EXTEND_TO);
    assert_eq!(token_ttl(), PERSISTENT_EXTEND_TO);
    assert_eq!(grant_ttl(), PERSISTENT_EXTEND_TO);
    // A plain read extends the persistent entries it reads.
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + two_days);
    assert!(s.token.access(&id, &viewer).is_some());
    assert_eq!(token_ttl(), PERSISTENT_EXTEND_TO);
    assert_eq!(grant_ttl(), PERSISTENT_EXTEND_TO);
    // The issuer registry's instance is extended by `is_trusted` (called by approve).
    let reg_instance = || {
        s.env
            .as_contract(&s.registry.address, || s.env.storage().instance().get_ttl())
    };
    let before = reg_instance();
    assert!(before < INSTANCE_EXTEND_TO);
    assert!(s.registry.is_trusted(&s.issuer));
    assert_eq!(reg_instance(), INSTANCE_EXTEND_TO);
}

#[test]
fn the_constructor_runs_once() {
    let s = setup();
    let admin = Address::generate(&s.env);
    let result = s.env.try_invoke_contract::<(), soroban_sdk::Error>(
        &s.token.address,
        &soroban_sdk::Symbol::new(&s.env, "__constructor"),
        soroban_sdk::vec![
            &s.env,
            soroban_sdk::IntoVal::into_val(&admin, &s.env),
            soroban_sdk::IntoVal::into_val(&admin, &s.env),
            soroban_sdk::IntoVal::into_val(&String::from_str(&s.env, "X"), &s.env),
            soroban_sdk::IntoVal::into_val(&String::from_str(&s.env, "X"), &s.env),
        ],
    );
    assert!(result.is_err());
    assert_eq!(s.token.admin(), s.admin);
}

#[test]
fn grants_shared_and_pending_lists_span_chunks() {
    let s = setup();
    let n = 2 * crate::CHUNK + 3;
    // Grants of one token and tokens shared with one grantee.
    let id = s.mint(1);
    let grantees: std::vec::Vec<Address> =
        (0..n).map(|_| s.grantee(id, Role::Viewer, None)).collect();
    let mut listed = std::vec::Vec::new();
    let mut start = 0;
    loop {
        let page = s.token.grants(&id, &start, &7);
        if page.is_empty() {
            break;
        }
        start += page.len();
        listed.extend(page.iter().map(|g| g.grantee));
    }
    assert_eq!(listed, grantees);
    let fan = Address::generate(&s.env);
    let ids: std::vec::Vec<u32> = (2..2 + n as u8)
        .map(|k| {
            let t = s.mint(k);
            s.token.grant(&s.patient, &t, &fan, &Role::Viewer, &None);
            t
        })
        .collect();
    assert_eq!(
        s.token.shared_with(&fan, &(crate::CHUNK + 1), &50).len(),
        n - crate::CHUNK - 1
    );
    // Revoke from the middle chunk; every other grant stays reachable and revocable.
    s.token.revoke(&s.patient, &ids[20], &fan);
    s.token.revoke(&s.patient, &id, &grantees[20]);
    for t in ids.iter().filter(|t| **t != ids[20]) {
        s.token.revoke(&s.patient, t, &fan);
    }
    for g in grantees.iter().filter(|g| **g != grantees[20]) {
        s.token.revoke(&s.patient, &id, g);
    }
    assert_eq!(s.token.shared_with(&fan, &0, &50).len(), 0);
    assert_eq!(s.token.grants(&id, &0, &50).len(), 0);
    // Pending list of one patient (past the default cap of pending releases per issuer).
    s.token.set_pending_cap(&(2 * crate::CHUNK + 3));
    let patient = Address::generate(&s.env);
    let pending: std::vec::Vec<u32> = (100..100 + n as u8)
        .map(|k| {
            s.token
                .propose_release(&s.issuer, &patient, &release(&s.env, k))
        })
        .collect();
    assert_eq!(s.token.pending_of(&patient, &0, &50).len(), n);
    s.token
        .reject_release(&patient, &pending[18], &RejectReason::Declined);
    for p in pending.iter().filter(|p| **p != pending[18]) {
        s.token.approve_release(&patient, p);
    }
    assert_eq!(s.token.pending_of(&patient, &0, &50).len(), 0);
    assert_eq!(s.token.balance(&patient), n - 1);
}

#[test]
fn a_second_issuer_cannot_take_over_a_commitment_in_use() {
    let s = setup();
    let second = Address::generate(&s.env);
    s.registry.add_issuer(&second, &super::profile(&s.env));
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    let victim = Address::generate(&s.env);
    assert_eq!(
        s.token.try_propose_release(&second, &victim, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    // Squatting first: the second issuer proposes a commitment to someone else. The
    // rightful issuer's release is refused until the squat is rejected, withdrawn or lapses.
    let r2 = release(&s.env, 2);
    let squat = s.token.propose_release(&second, &victim, &r2);
    assert_eq!(
        s.token.try_propose_release(&s.issuer, &s.patient, &r2),
        Err(Ok(E::DuplicateCommitment))
    );
    s.token
        .reject_release(&victim, &squat, &RejectReason::NotMine);
    let rightful = s.token.propose_release(&s.issuer, &s.patient, &r2);
    assert_eq!(s.token.token_of_commitment(&r2.commitment), Some(rightful));
    // The second issuer cannot withdraw the first one's release.
    assert_eq!(
        s.token.try_withdraw_release(&second, &id),
        Err(Ok(E::NotIssuer))
    );
}

#[test]
fn a_second_issuer_cannot_flood_a_patients_pending_list_without_bound() {
    let s = setup();
    let flooder = Address::generate(&s.env);
    s.registry.add_issuer(&flooder, &super::profile(&s.env));
    s.token.set_pending_cap(&3);
    assert_eq!(s.token.pending_cap(), 3);
    let ids: std::vec::Vec<u32> = (1..=3u8)
        .map(|n| {
            s.token
                .propose_release(&flooder, &s.patient, &release(&s.env, n))
        })
        .collect();
    assert_eq!(
        s.token
            .try_propose_release(&flooder, &s.patient, &release(&s.env, 4)),
        Err(Ok(E::PendingCapReached))
    );
    // Per issuer and per patient: the patient's own issuer and another patient are not held
    // back.
    s.token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 10));
    let other = Address::generate(&s.env);
    s.token
        .propose_release(&flooder, &other, &release(&s.env, 11));
    // Each decision, withdrawal or rotation frees a place; a mint (the patient signs) is not
    // counted.
    s.token
        .reject_release(&s.patient, &ids[0], &RejectReason::NotMine);
    s.token
        .propose_release(&flooder, &s.patient, &release(&s.env, 4));
    s.token.withdraw_release(&flooder, &ids[1]);
    s.token.mint(&flooder, &s.patient, &release(&s.env, 5));
    s.token
        .propose_release(&flooder, &s.patient, &release(&s.env, 6));
    assert_eq!(
        s.token
            .try_propose_release(&flooder, &s.patient, &release(&s.env, 7)),
        Err(Ok(E::PendingCapReached))
    );
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&ids[2], &s.patient, &new);
    s.token
        .propose_release(&flooder, &s.patient, &release(&s.env, 7));
    assert_eq!(
        s.token.try_set_pending_cap(&0),
        Err(Ok(E::InvalidPendingCap))
    );
    assert_eq!(
        s.token.try_set_pending_cap(&(crate::MAX_PENDING_CAP + 1)),
        Err(Ok(E::InvalidPendingCap))
    );
}
