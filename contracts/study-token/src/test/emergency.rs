//! Emergency access (break-glass): bounds, refusals, the rate limit, revocation, wrong
//! signers and a real ed25519 signature.
use soroban_sdk::{
    testutils::{Address as _, Events as _, Ledger as _},
    Address, Env, Event as _, IntoVal,
};

use super::{deploy, env, is_host_abort, profile, refused_for, release, setup, Setup};
use crate::testutils::{account, signed_auth};
use crate::{
    AccessKind, EmergencyAccess, EmergencyPolicy, EmergencyReason as Reason, EmergencyRevoked,
    RejectReason, Role, StudyTokenError as E,
};

const HOUR: u64 = 3_600;

/// A second trusted issuer (an emergency department) beside the token's issuer.
fn new_er(s: &Setup) -> Address {
    let er = Address::generate(&s.env);
    s.registry.add_issuer(&er, &profile(&s.env));
    er
}

#[test]
fn an_issuer_breaks_the_glass_and_views_until_the_expiry() {
    let s = setup();
    let id = s.mint(1);
    let er = new_er(&s);
    assert_eq!(s.token.access(&id, &er), None);
    let until = s
        .token
        .emergency_access(&er, &id, &Reason::Unconscious, &None);
    assert_eq!(until, s.now() + 24 * HOUR);
    assert_eq!(
        s.env.events().all(),
        std::vec![EmergencyAccess {
            token_id: id,
            issuer: er.clone(),
            patient: s.patient.clone(),
            reason: Reason::Unconscious,
            expires_at: until,
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    let access = s.token.access(&id, &er).unwrap();
    assert_eq!(access.role, Role::Viewer);
    assert_eq!(access.expires_at, Some(until));
    assert_eq!(access.granter, er);
    s.token.record_access(&er, &id, &AccessKind::View);
    // Nothing stored in the token's grants: it lapses by itself.
    assert_eq!(s.token.grants(&id, &0, &10).len(), 0);
    // The expiry ends it.
    s.env.ledger().set_timestamp(until);
    assert_eq!(s.token.access(&id, &er), None);
    assert_eq!(
        s.token.try_record_access(&er, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
}

#[test]
fn the_duration_is_bounded_by_the_admins_policy() {
    let s = setup();
    let er = new_er(&s);
    let (a, b, c) = (s.mint(1), s.mint(2), s.mint(3));
    for bad in [0, 73] {
        assert_eq!(
            s.token
                .try_emergency_access(&er, &a, &Reason::Other, &Some(bad)),
            Err(Ok(E::InvalidEmergencyHours))
        );
    }
    let until = s
        .token
        .emergency_access(&er, &a, &Reason::LifeThreatening, &Some(72));
    assert_eq!(until, s.now() + 72 * HOUR);
    s.token.set_emergency_policy(&12, &5, &86_400);
    assert_eq!(
        s.token
            .try_emergency_access(&er, &b, &Reason::Other, &Some(13)),
        Err(Ok(E::InvalidEmergencyHours))
    );
    // The default (24 h) never exceeds the admin's bound.
    let until = s
        .token
        .emergency_access(&er, &c, &Reason::PatientUnreachable, &None);
    assert_eq!(until, s.now() + 12 * HOUR);
    for bad in [
        EmergencyPolicy {
            max_hours: 0,
            limit: 5,
            window: 86_400,
        },
        EmergencyPolicy {
            max_hours: 73,
            limit: 5,
            window: 86_400,
        },
        EmergencyPolicy {
            max_hours: 24,
            limit: 0,
            window: 86_400,
        },
        EmergencyPolicy {
            max_hours: 24,
            limit: 1_001,
            window: 86_400,
        },
        EmergencyPolicy {
            max_hours: 24,
            limit: 5,
            window: 3_599,
        },
        EmergencyPolicy {
            max_hours: 24,
            limit: 5,
            window: 30 * 86_400 + 1,
        },
    ] {
        assert_eq!(
            s.token
                .try_set_emergency_policy(&bad.max_hours, &bad.limit, &bad.window),
            Err(Ok(E::InvalidEmergencyPolicy))
        );
    }
    assert_eq!(s.token.emergency_policy().0, 12);
}

#[test]
fn non_issuers_suspended_issuers_and_inactive_tokens_are_refused() {
    let s = setup();
    let id = s.mint(1);
    let er = new_er(&s);
    let stranger = Address::generate(&s.env);
    let r = Reason::Unconscious;
    assert_eq!(
        s.token.try_emergency_access(&stranger, &id, &r, &None),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.suspend_issuer(&er);
    assert_eq!(
        s.token.try_emergency_access(&er, &id, &r, &None),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.reinstate_issuer(&er);
    // The owner and the token's own issuer already have access.
    assert_eq!(
        s.token.try_emergency_access(&s.issuer, &id, &r, &None),
        Err(Ok(E::AlreadyHasAccess))
    );
    // Pending, rejected, erased and unknown tokens.
    let pending = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    assert_eq!(
        s.token.try_emergency_access(&er, &pending, &r, &None),
        Err(Ok(E::TokenNotActive))
    );
    s.token
        .reject_release(&s.patient, &pending, &RejectReason::Declined);
    assert_eq!(
        s.token.try_emergency_access(&er, &pending, &r, &None),
        Err(Ok(E::TokenNotActive))
    );
    let erased = s.mint(3);
    s.token.erase(&s.patient, &erased);
    assert_eq!(
        s.token.try_emergency_access(&er, &erased, &r, &None),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token.try_emergency_access(&er, &9_999, &r, &None),
        Err(Ok(E::TokenNotFound))
    );
    s.token.pause();
    assert_eq!(
        s.token.try_emergency_access(&er, &id, &r, &None),
        Err(Ok(E::Paused))
    );
    s.token.unpause();
    s.token.emergency_access(&er, &id, &r, &None);
    // Suspending the issuer (the admin's flag) ends its open emergency access at once.
    s.registry.suspend_issuer(&er);
    assert_eq!(s.token.access(&id, &er), None);
    assert_eq!(
        s.token.try_record_access(&er, &id, &AccessKind::Download),
        Err(Ok(E::NoAccess))
    );
    // Erasing the token ends it too.
    s.registry.reinstate_issuer(&er);
    assert!(s.token.access(&id, &er).is_some());
    s.token.erase(&s.patient, &id);
    assert_eq!(s.token.access(&id, &er), None);
}

#[test]
fn the_rate_limit_counts_per_issuer_and_window() {
    let s = setup();
    s.token.set_emergency_policy(&24, &2, &HOUR);
    let er = new_er(&s);
    let other = new_er(&s);
    let ids: std::vec::Vec<u32> = (1..=4).map(|n| s.mint(n)).collect();
    let r = Reason::Other;
    s.token.emergency_access(&er, &ids[0], &r, &Some(1));
    s.token.emergency_access(&er, &ids[1], &r, &Some(1));
    assert_eq!(
        s.token.try_emergency_access(&er, &ids[2], &r, &Some(1)),
        Err(Ok(E::EmergencyRateLimited))
    );
    assert_eq!(s.token.access(&ids[2], &er), None);
    // Another issuer has its own count.
    s.token.emergency_access(&other, &ids[2], &r, &Some(1));
    // A new window starts after the last one ends.
    s.env.ledger().set_timestamp(s.now() + HOUR);
    s.token.emergency_access(&er, &ids[2], &r, &Some(1));
    s.token.emergency_access(&er, &ids[3], &r, &Some(1));
    assert_eq!(
        s.token.try_emergency_access(&er, &ids[0], &r, &Some(1)),
        Err(Ok(E::EmergencyRateLimited))
    );
}

#[test]
fn the_patient_and_the_admin_revoke_and_the_issuer_renounces() {
    let s = setup();
    let er = new_er(&s);
    let (a, b, c) = (s.mint(1), s.mint(2), s.mint(3));
    let viewer = s.grantee(a, Role::Sharer, None);
    let stranger = Address::generate(&s.env);
    for id in [a, b, c] {
        s.token
            .emergency_access(&er, &id, &Reason::Unconscious, &None);
    }
    // Neither a stranger nor a Sharer of the token may end it.
    for who in [&stranger, &viewer, &s.issuer] {
        assert_eq!(
            s.token.try_revoke_emergency(who, &a, &er),
            Err(Ok(E::NotGranter))
        );
    }
    s.token.revoke_emergency(&s.patient, &a, &er);
    assert_eq!(
        s.env.events().all(),
        std::vec![EmergencyRevoked {
            token_id: a,
            revoker: s.patient.clone(),
            issuer: er.clone(),
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.access(&a, &er), None);
    assert_eq!(
        s.token.try_revoke_emergency(&s.patient, &a, &er),
        Err(Ok(E::EmergencyNotFound))
    );
    s.token.revoke_emergency(&s.admin, &b, &er);
    assert_eq!(s.token.access(&b, &er), None);
    s.token.revoke_emergency(&er, &c, &er);
    assert_eq!(s.token.access(&c, &er), None);
    assert_eq!(
        s.token.try_revoke_emergency(&s.patient, &9_999, &er),
        Err(Ok(E::TokenNotFound))
    );
}

#[test]
fn wrong_signers_are_refused() {
    let s = setup();
    let er = new_er(&s);
    let id = s.mint(1);
    let stranger = Address::generate(&s.env);
    let open = (er.clone(), id, Reason::Unconscious, None::<u32>).into_val(&s.env);
    refused_for(
        &s.env,
        &[&s.patient, &s.issuer, &s.admin, &stranger],
        &s.token.address,
        "emergency_access",
        open,
    );
    assert_eq!(s.token.access(&id, &er), None);
    s.token
        .emergency_access(&er, &id, &Reason::Unconscious, &None);
    let revoke = (s.patient.clone(), id, er.clone()).into_val(&s.env);
    refused_for(
        &s.env,
        &[&er, &s.admin, &stranger],
        &s.token.address,
        "revoke_emergency",
        revoke,
    );
    assert!(s.token.access(&id, &er).is_some());
    let policy = EmergencyPolicy {
        max_hours: 1,
        limit: 1,
        window: HOUR,
    };
    refused_for(
        &s.env,
        &[&s.patient, &er, &stranger],
        &s.token.address,
        "set_emergency_policy",
        (policy.max_hours, policy.limit, policy.window).into_val(&s.env),
    );
    assert_eq!(s.token.emergency_policy().0, 72);
}

#[test]
fn break_glass_with_the_issuers_real_signature() {
    let env: Env = env();
    let admin = account(&env, 9);
    let hospital = account(&env, 10);
    let er = account(&env, 11);
    let patient = account(&env, 12);
    env.mock_all_auths();
    let (registry, token) = deploy(&env, &admin.address);
    registry.add_issuer(&hospital.address, &profile(&env));
    registry.add_issuer(&er.address, &profile(&env));
    let id = token.mint(&hospital.address, &patient.address, &release(&env, 1));
    let exp = env.ledger().sequence() + 100;
    let reason = Reason::LifeThreatening;
    let args = || (er.address.clone(), id, reason, Some(2u32)).into_val(&env);
    // Signed with another key on the issuer's behalf: refused.
    env.set_auths(&[signed_auth(
        &env,
        &er,
        &hospital.key,
        (1, exp),
        &token.address,
        "emergency_access",
        args(),
    )]);
    assert!(is_host_abort(token.try_emergency_access(
        &er.address,
        &id,
        &reason,
        &Some(2)
    )));
    env.set_auths(&[er.authorize(&env, 2, exp, &token.address, "emergency_access", args())]);
    let until = token.emergency_access(&er.address, &id, &reason, &Some(2));
    assert_eq!(until, env.ledger().timestamp() + 2 * HOUR);
    // The patient revokes it with a real signature too.
    let revoke = (patient.address.clone(), id, er.address.clone()).into_val(&env);
    env.set_auths(&[patient.authorize(&env, 3, exp, &token.address, "revoke_emergency", revoke)]);
    token.revoke_emergency(&patient.address, &id, &er.address);
    assert_eq!(token.access(&id, &er.address), None);
}
