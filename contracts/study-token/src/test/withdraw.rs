//! M4: a misaddressed release can be withdrawn by its issuer, and a commitment counts as
//! used only while its token is pending or active.
use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, Event as _, IntoVal, Symbol,
};

use super::{is_host_abort, only_signer, release, setup};
use crate::{
    RejectReason, ReleaseWithdrawn, StudyTokenError as E, TokenStatus, DEFAULT_PENDING_WINDOW,
};

#[test]
fn the_issuer_withdraws_a_misaddressed_release_and_releases_it_again() {
    let s = setup();
    let r = release(&s.env, 1);
    let wrong = Address::generate(&s.env);
    let id = s.token.propose_release(&s.issuer, &wrong, &r);
    s.env.ledger().set_sequence_number(1_010);
    s.token.withdraw_release(&s.issuer, &id);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.issuer.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "withdraw_release"),
                    (&s.issuer, id).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![ReleaseWithdrawn {
            token_id: id,
            issuer: s.issuer.clone(),
            patient: wrong.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    let c = s.token.consent_status(&id);
    assert_eq!(
        (c.status, c.by, c.ledger),
        (TokenStatus::Withdrawn, s.issuer.clone(), 1_010)
    );
    assert_eq!(s.token.pending_of(&wrong, &0, &10).len(), 0);
    assert_eq!(s.token.access(&id, &wrong), None);
    assert_eq!(
        s.token.try_approve_release(&wrong, &id),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(
        s.token
            .try_reject_release(&wrong, &id, &RejectReason::NotMine),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(
        s.token.try_withdraw_release(&s.issuer, &id),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
    let right = s.token.propose_release(&s.issuer, &s.patient, &r);
    s.token.approve_release(&s.patient, &right);
    assert!(s.token.verify(&right, &r.commitment));
    assert!(!s.token.verify(&id, &r.commitment));
}

#[test]
fn only_the_issuer_withdraws_and_only_while_pending() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    let stranger = Address::generate(&s.env);
    for who in [&s.patient, &stranger] {
        assert_eq!(
            s.token.try_withdraw_release(who, &id),
            Err(Ok(E::NotIssuer))
        );
    }
    assert_eq!(
        s.token.try_withdraw_release(&s.issuer, &77),
        Err(Ok(E::TokenNotFound))
    );
    // Signed by the patient or a third party instead of the issuer.
    for who in [&s.patient, &stranger] {
        only_signer(
            &s.env,
            who,
            &s.token.address,
            "withdraw_release",
            (&s.issuer, id).into_val(&s.env),
        );
        assert!(is_host_abort(s.token.try_withdraw_release(&s.issuer, &id)));
    }
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_withdraw_release(&s.issuer, &id)));
    s.env.mock_all_auths();
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Pending);
    // Active and rejected tokens cannot be withdrawn.
    s.token.approve_release(&s.patient, &id);
    assert_eq!(
        s.token.try_withdraw_release(&s.issuer, &id),
        Err(Ok(E::TokenNotPending))
    );
    let minted = s.mint(2);
    assert_eq!(
        s.token.try_withdraw_release(&s.issuer, &minted),
        Err(Ok(E::TokenNotPending))
    );
    let rejected = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 3));
    s.token
        .reject_release(&s.patient, &rejected, &RejectReason::Declined);
    assert_eq!(
        s.token.try_withdraw_release(&s.issuer, &rejected),
        Err(Ok(E::TokenNotPending))
    );
}

#[test]
fn a_suspended_issuer_can_still_withdraw() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    s.registry.suspend_issuer(&s.issuer);
    s.token.withdraw_release(&s.issuer, &id);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Withdrawn);
}

#[test]
fn a_lapsed_release_frees_its_commitment_and_can_be_withdrawn() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    assert_eq!(
        s.token.try_propose_release(&s.issuer, &s.patient, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    s.env
        .ledger()
        .set_sequence_number(1_000 + DEFAULT_PENDING_WINDOW + 1);
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
    let again = s.token.propose_release(&s.issuer, &s.patient, &r);
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(again));
    // The lapsed one is cleared from the pending list by its issuer; the new one keeps
    // the commitment.
    s.token.withdraw_release(&s.issuer, &id);
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(again));
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 1);
}
