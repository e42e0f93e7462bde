//! Issue 14's leftover: the admin frees a commitment that a trusted issuer squats with a
//! pending release (to someone else) and does not withdraw. Wrong signers, states in which
//! there is nothing to clear, and the admin's real ed25519 signature.
use soroban_sdk::{
    testutils::{Address as _, Events as _, Ledger as _},
    Address, Env, Event as _, IntoVal, Symbol, Val,
};

use super::{deploy, env, is_host_abort, only_signer, profile, release, setup, Setup};
use crate::testutils::{account, signed_auth};
use crate::{
    CommitmentCleared, RejectReason, Release, ReleaseWithdrawn, StudyTokenError as E, TokenStatus,
};

/// A second trusted issuer proposes the study behind `release(7)` to a victim address.
fn squat(s: &Setup) -> (Address, Address, Release, u32) {
    let second = Address::generate(&s.env);
    s.registry.add_issuer(&second, &profile(&s.env));
    let victim = Address::generate(&s.env);
    let r = release(&s.env, 7);
    let id = s.token.propose_release(&second, &victim, &r);
    (second, victim, r, id)
}

#[test]
fn the_admin_clears_a_squatted_commitment_and_the_rightful_release_goes_through() {
    let s = setup();
    let (second, victim, r, squatted) = squat(&s);
    assert_eq!(
        s.token.try_propose_release(&s.issuer, &s.patient, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    assert_eq!(s.token.clear_commitment(&r.commitment), squatted);
    assert_eq!(
        s.env.events().all(),
        std::vec![
            ReleaseWithdrawn {
                token_id: squatted,
                issuer: second.clone(),
                patient: victim.clone(),
            }
            .to_xdr(&s.env, &s.token.address),
            CommitmentCleared {
                token_id: squatted,
                admin: s.admin.clone(),
                issuer: second.clone(),
            }
            .to_xdr(&s.env, &s.token.address),
        ]
    );
    let consent = s.token.consent_status(&squatted);
    assert_eq!(consent.status, TokenStatus::Withdrawn);
    assert_eq!(consent.by, s.admin);
    assert_eq!(s.token.pending_of(&victim, &0, &10).len(), 0);
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
    assert!(!s.token.verify(&squatted, &r.commitment));
    // The squatter can neither revive it nor approve it on the victim's behalf.
    assert_eq!(
        s.token.try_withdraw_release(&second, &squatted),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(
        s.token.try_approve_release(&victim, &squatted),
        Err(Ok(E::TokenNotPending))
    );
    // The rightful release goes through and holds the commitment now.
    let rightful = s.token.propose_release(&s.issuer, &s.patient, &r);
    s.token.approve_release(&s.patient, &rightful);
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(rightful));
    assert!(s.token.verify(&rightful, &r.commitment));
}

#[test]
fn clearing_needs_a_commitment_held_by_a_pending_release() {
    let s = setup();
    let unused = release(&s.env, 1);
    assert_eq!(
        s.token.try_clear_commitment(&unused.commitment),
        Err(Ok(E::CommitmentNotHeld))
    );
    // Active: a patient's consented study is never taken away by the admin.
    let minted = release(&s.env, 2);
    let active = s.token.mint(&s.issuer, &s.patient, &minted);
    assert_eq!(
        s.token.try_clear_commitment(&minted.commitment),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(s.token.owner_of(&active), s.patient);
    assert_eq!(
        s.token.token_of_commitment(&minted.commitment),
        Some(active)
    );
    // Rejected and withdrawn releases hold nothing.
    let rejected = release(&s.env, 3);
    let id = s.token.propose_release(&s.issuer, &s.patient, &rejected);
    s.token
        .reject_release(&s.patient, &id, &RejectReason::NotMine);
    assert_eq!(
        s.token.try_clear_commitment(&rejected.commitment),
        Err(Ok(E::CommitmentNotHeld))
    );
    let withdrawn = release(&s.env, 4);
    let id = s.token.propose_release(&s.issuer, &s.patient, &withdrawn);
    s.token.withdraw_release(&s.issuer, &id);
    assert_eq!(
        s.token.try_clear_commitment(&withdrawn.commitment),
        Err(Ok(E::CommitmentNotHeld))
    );
    // A lapsed release frees its commitment by itself.
    let lapsing = release(&s.env, 5);
    let id = s.token.propose_release(&s.issuer, &s.patient, &lapsing);
    let seq = s.env.ledger().sequence();
    s.env
        .ledger()
        .set_sequence_number(seq + s.token.pending_window() + 1);
    assert_eq!(
        s.token.try_clear_commitment(&lapsing.commitment),
        Err(Ok(E::CommitmentNotHeld))
    );
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Lapsed);
}

#[test]
fn clearing_refuses_the_squatter_the_patients_and_a_third_party() {
    let s = setup();
    let (second, victim, r, squatted) = squat(&s);
    let third = Address::generate(&s.env);
    let args: soroban_sdk::Vec<Val> = (r.commitment.clone(),).into_val(&s.env);
    for who in [&second, &victim, &s.issuer, &s.patient, &third] {
        only_signer(
            &s.env,
            who,
            &s.token.address,
            "clear_commitment",
            args.clone(),
        );
        let result = s.env.try_invoke_contract::<Val, soroban_sdk::Error>(
            &s.token.address,
            &Symbol::new(&s.env, "clear_commitment"),
            args.clone(),
        );
        assert!(
            result.is_err(),
            "clear_commitment signed by a non-admin succeeded"
        );
    }
    s.env.mock_all_auths();
    assert_eq!(
        s.token.consent_status(&squatted).status,
        TokenStatus::Pending
    );
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(squatted));
}

#[test]
fn clearing_with_the_admins_real_signature() {
    let env: Env = env();
    let admin = account(&env, 9);
    let squatter = account(&env, 10);
    env.mock_all_auths();
    let (registry, token) = deploy(&env, &admin.address);
    registry.add_issuer(&squatter.address, &profile(&env));
    let victim = Address::generate(&env);
    let r = release(&env, 7);
    let squatted = token.propose_release(&squatter.address, &victim, &r);
    // From here on every authorization must be a real signature.
    let exp = env.ledger().sequence() + 100;
    let args = || (r.commitment.clone(),).into_val(&env);
    // Signed with the squatter's key on the admin's behalf: refused.
    env.set_auths(&[signed_auth(
        &env,
        &admin,
        &squatter.key,
        (1, exp),
        &token.address,
        "clear_commitment",
        args(),
    )]);
    assert!(is_host_abort(token.try_clear_commitment(&r.commitment)));
    // The squatter's own signature is not the admin's.
    env.set_auths(&[squatter.authorize(&env, 2, exp, &token.address, "clear_commitment", args())]);
    assert!(is_host_abort(token.try_clear_commitment(&r.commitment)));
    env.set_auths(&[admin.authorize(&env, 3, exp, &token.address, "clear_commitment", args())]);
    assert_eq!(token.clear_commitment(&r.commitment), squatted);
    assert_eq!(
        token.consent_status(&squatted).status,
        TokenStatus::Withdrawn
    );
    assert_eq!(token.token_of_commitment(&r.commitment), None);
}
