use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _},
    Address, Event as _, IntoVal, String, Symbol,
};

use super::{is_host_abort, only_signer, release, setup};
use crate::{OwnerRotated, Role, StudyTokenError as E, TokenStatus};

#[test]
fn rotate_owner_moves_token_and_keeps_grants() {
    let s = setup();
    let id = s.mint(1);
    let other = s.mint(2);
    let viewer = s.grantee(id, Role::Viewer, None);
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&id, &s.patient, &new);
    let invocation = AuthorizedInvocation {
        function: AuthorizedFunction::Contract((
            s.token.address.clone(),
            Symbol::new(&s.env, "rotate_owner"),
            (id, &s.patient, &new).into_val(&s.env),
        )),
        sub_invocations: std::vec![],
    };
    assert_eq!(
        s.env.auths(),
        std::vec![
            (s.patient.clone(), invocation.clone()),
            (new.clone(), invocation)
        ]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![OwnerRotated {
            token_id: id,
            old_owner: s.patient.clone(),
            new_owner: new.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.owner_of(&id), new);
    assert_eq!(s.token.balance(&s.patient), 1);
    assert_eq!(s.token.balance(&new), 1);
    // The token left in the old owner's list moved into the freed slot.
    assert_eq!(
        s.token.tokens_of(&s.patient, &0, &10).get_unchecked(0),
        other
    );
    assert_eq!(s.token.token(&other).slot, 0);
    assert_eq!(s.token.access(&id, &new).unwrap().role, Role::Owner);
    assert_eq!(s.token.access(&id, &s.patient), None);
    assert!(s.token.access(&id, &viewer).is_some());
    // The new owner may now grant; the old one may not.
    let who = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    s.token.grant(&new, &id, &who, &Role::Viewer, &None);
}

#[test]
fn rotate_owner_drops_grant_of_new_owner() {
    let s = setup();
    let id = s.mint(1);
    let new = s.grantee(id, Role::Viewer, None);
    assert_eq!(s.token.shared_with(&new, &0, &10).len(), 1);
    s.token.rotate_owner(&id, &s.patient, &new);
    assert_eq!(s.token.shared_with(&new, &0, &10).len(), 0);
    assert_eq!(s.token.access(&id, &new).unwrap().role, Role::Owner);
    assert_eq!(
        s.token.grants(&id, &0, &10).len(),
        0,
        "no stored grant remains (the issuer's Viewer is implicit)"
    );
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Viewer);
}

#[test]
fn rotate_pending_token_moves_the_pending_entry() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&id, &s.patient, &new);
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 0);
    assert_eq!(s.token.pending_of(&new, &0, &10).get_unchecked(0), id);
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::NotOwner))
    );
    s.token.approve_release(&new, &id);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Active);
}

#[test]
fn rotate_owner_errors_and_signers() {
    let s = setup();
    let id = s.mint(1);
    let new = Address::generate(&s.env);
    let stranger = Address::generate(&s.env);
    assert_eq!(
        s.token.try_rotate_owner(&id, &s.patient, &s.patient),
        Err(Ok(E::SameOwner))
    );
    assert_eq!(
        s.token.try_rotate_owner(&id, &stranger, &new),
        Err(Ok(E::NotOwner))
    );
    assert_eq!(
        s.token.try_rotate_owner(&9, &s.patient, &new),
        Err(Ok(E::TokenNotFound))
    );
    let rejected = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    s.token
        .reject_release(&s.patient, &rejected, &crate::RejectReason::Declined);
    assert_eq!(
        s.token.try_rotate_owner(&rejected, &s.patient, &new),
        Err(Ok(E::TokenNotActive))
    );
    let args = (id, &s.patient, &new).into_val(&s.env);
    only_signer(&s.env, &s.patient, &s.token.address, "rotate_owner", args);
    assert!(is_host_abort(
        s.token.try_rotate_owner(&id, &s.patient, &new)
    ));
    let args = (id, &s.patient, &new).into_val(&s.env);
    only_signer(&s.env, &new, &s.token.address, "rotate_owner", args);
    assert!(is_host_abort(
        s.token.try_rotate_owner(&id, &s.patient, &new)
    ));
    assert_eq!(s.token.owner_of(&id), s.patient);
}

#[test]
fn tokens_do_not_move_between_people() {
    let s = setup();
    let id = s.mint(1);
    let to = Address::generate(&s.env);
    assert_eq!(
        s.token.try_transfer(&s.patient, &to, &id),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(
        s.token.try_transfer_from(&to, &s.patient, &to, &id),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(
        s.token.try_approve(&s.patient, &to, &id, &5_000),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(
        s.token.try_approve_for_all(&s.patient, &to, &5_000),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(s.token.get_approved(&id), None);
    assert!(!s.token.is_approved_for_all(&s.patient, &to));
    assert_eq!(s.token.owner_of(&id), s.patient);
}

#[test]
fn sep50_reads() {
    let s = setup();
    assert_eq!(s.token.name(), String::from_str(&s.env, "MediMint Study"));
    assert_eq!(s.token.symbol(), String::from_str(&s.env, "MMS"));
    assert_eq!(s.token.balance(&s.patient), 0);
    let id = s.mint(1);
    assert_eq!(s.token.balance(&s.patient), 1);
    assert_eq!(s.token.token_uri(&id), release(&s.env, 1).metadata_uri);
    assert_eq!(s.token.try_token_uri(&2), Err(Ok(E::TokenNotFound)));
    assert_eq!(s.token.try_owner_of(&2), Err(Ok(E::TokenNotFound)));
    assert_eq!(
        s.token.try_verify(&2, &release(&s.env, 1).commitment),
        Err(Ok(E::TokenNotFound))
    );
    assert_eq!(s.token.try_consent_status(&2), Err(Ok(E::TokenNotFound)));
    assert_eq!(s.token.try_token(&2), Err(Ok(E::TokenNotFound)));
    assert_eq!(s.token.issuer_registry(), s.registry.address);
    assert_eq!(s.token.admin(), s.admin);
}
