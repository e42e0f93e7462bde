use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, Event as _, IntoVal, Symbol,
};

use super::{is_host_abort, only_signer, setup};
use crate::{
    Access, AccessKind, AccessRecorded, Role, RoleGranted, RoleRevoked, StudyTokenError as E,
};

#[test]
fn owner_grants_viewer_and_sharer() {
    let s = setup();
    let id = s.mint(1);
    let viewer = Address::generate(&s.env);
    let until = s.now() + 3_600;
    s.token
        .grant(&s.patient, &id, &viewer, &Role::Viewer, &Some(until));
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.patient.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "grant"),
                    (&s.patient, id, &viewer, Role::Viewer, Some(until)).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![RoleGranted {
            token_id: id,
            granter: s.patient.clone(),
            grantee: viewer.clone(),
            role: Role::Viewer,
            expires_at: Some(until)
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(
        s.token.access(&id, &viewer),
        Some(Access {
            role: Role::Viewer,
            expires_at: Some(until),
            granter: s.patient.clone()
        })
    );
    let sharer = s.grantee(id, Role::Sharer, None);
    assert_eq!(s.token.access(&id, &sharer).unwrap().role, Role::Sharer);
    // Re-granting replaces the grant in place.
    s.token
        .grant(&s.patient, &id, &viewer, &Role::Sharer, &None);
    assert_eq!(
        s.token.access(&id, &viewer).unwrap(),
        Access {
            role: Role::Sharer,
            expires_at: None,
            granter: s.patient.clone()
        }
    );
    // The viewer and the sharer; the issuer's Viewer is implicit and not listed.
    assert_eq!(s.token.grants(&id, &0, &50).len(), 2);
    assert_eq!(s.token.shared_with(&viewer, &0, &50).len(), 1);
}

#[test]
fn grant_validation() {
    let s = setup();
    let id = s.mint(1);
    let who = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &who, &Role::Owner, &None),
        Err(Ok(E::InvalidRole))
    );
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &s.patient, &Role::Viewer, &None),
        Err(Ok(E::GrantToOwner))
    );
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &who, &Role::Viewer, &Some(s.now())),
        Err(Ok(E::ExpiryInPast))
    );
    assert_eq!(
        s.token
            .try_grant(&s.patient, &99, &who, &Role::Viewer, &None),
        Err(Ok(E::TokenNotFound))
    );
    // Neither a stranger nor a Viewer may grant.
    let stranger = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&stranger, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    assert_eq!(
        s.token
            .try_grant(&s.issuer, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    assert_eq!(s.token.access(&id, &who), None);
}

#[test]
fn grant_needs_the_granter() {
    let s = setup();
    let id = s.mint(1);
    let who = Address::generate(&s.env);
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_grant(
        &s.patient,
        &id,
        &who,
        &Role::Viewer,
        &None
    )));
    only_signer(
        &s.env,
        &who,
        &s.token.address,
        "grant",
        (&s.patient, id, &who, Role::Viewer, None::<u64>).into_val(&s.env),
    );
    assert!(is_host_abort(s.token.try_grant(
        &s.patient,
        &id,
        &who,
        &Role::Viewer,
        &None
    )));
    assert_eq!(s.token.access(&id, &who), None);
}

#[test]
fn sharer_limits() {
    let s = setup();
    let id = s.mint(1);
    let limit = s.now() + 1_000;
    let sharer = s.grantee(id, Role::Sharer, Some(limit));
    let who = Address::generate(&s.env);
    // Only Viewer, never Sharer.
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &who, &Role::Sharer, &Some(limit)),
        Err(Ok(E::SharerCannotGrantSharer))
    );
    // Never past its own expiry, and never without expiry when it has one.
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &who, &Role::Viewer, &Some(limit + 1)),
        Err(Ok(E::ExpiryBeyondGranter))
    );
    assert_eq!(
        s.token.try_grant(&sharer, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::ExpiryBeyondGranter))
    );
    s.token
        .grant(&sharer, &id, &who, &Role::Viewer, &Some(limit));
    assert_eq!(s.token.access(&id, &who).unwrap().granter, sharer);
    // A Sharer does not replace a grant the owner made.
    let owners_viewer = s.grantee(id, Role::Viewer, None);
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &owners_viewer, &Role::Viewer, &Some(limit)),
        Err(Ok(E::NotGranter))
    );
    // A Sharer without expiry may grant without expiry.
    let open_sharer = s.grantee(id, Role::Sharer, None);
    let who2 = Address::generate(&s.env);
    s.token
        .grant(&open_sharer, &id, &who2, &Role::Viewer, &None);
    assert_eq!(s.token.access(&id, &who2).unwrap().expires_at, None);
    // Once the Sharer's own grant expired it grants nothing.
    s.env.ledger().set_timestamp(limit);
    let who3 = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &who3, &Role::Viewer, &Some(limit + 10)),
        Err(Ok(E::NotAuthorizedToGrant))
    );
}

#[test]
fn expired_grant_gives_no_access() {
    let s = setup();
    let id = s.mint(1);
    let until = s.now() + 60;
    let viewer = s.grantee(id, Role::Viewer, Some(until));
    s.env.ledger().set_timestamp(until - 1);
    assert!(s.token.access(&id, &viewer).is_some());
    s.token.record_access(&viewer, &id, &AccessKind::View);
    s.env.ledger().set_timestamp(until);
    assert_eq!(s.token.access(&id, &viewer), None);
    assert_eq!(
        s.token
            .try_record_access(&viewer, &id, &AccessKind::Download),
        Err(Ok(E::NoAccess))
    );
    // The expired grant is still listed until revoked.
    assert_eq!(s.token.shared_with(&viewer, &0, &10).len(), 1);
    s.token.revoke(&s.patient, &id, &viewer);
    assert_eq!(s.token.shared_with(&viewer, &0, &10).len(), 0);
}

#[test]
fn owner_revokes_anyone_including_issuer() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    let viewer = Address::generate(&s.env);
    s.token.grant(&sharer, &id, &viewer, &Role::Viewer, &None);
    s.token.revoke(&s.patient, &id, &viewer);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.patient.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "revoke"),
                    (&s.patient, id, &viewer).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![RoleRevoked {
            token_id: id,
            revoker: s.patient.clone(),
            grantee: viewer.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.access(&id, &viewer), None);
    s.token.revoke(&s.patient, &id, &s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(
        s.token.try_record_access(&s.issuer, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    assert_eq!(
        s.token.try_revoke(&s.patient, &id, &viewer),
        Err(Ok(E::GrantNotFound))
    );
    assert_eq!(
        s.token.try_revoke(&s.patient, &77, &viewer),
        Err(Ok(E::TokenNotFound))
    );
    let left: std::vec::Vec<Address> = s
        .token
        .grants(&id, &0, &10)
        .iter()
        .map(|g| g.grantee)
        .collect();
    assert_eq!(left, std::vec![sharer]);
}

#[test]
fn sharer_revokes_only_its_own_grants() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    let mine = Address::generate(&s.env);
    s.token.grant(&sharer, &id, &mine, &Role::Viewer, &None);
    let owners = s.grantee(id, Role::Viewer, None);
    assert_eq!(
        s.token.try_revoke(&sharer, &id, &owners),
        Err(Ok(E::NotGranter))
    );
    assert_eq!(
        s.token.try_revoke(&sharer, &id, &s.issuer),
        Err(Ok(E::NotGranter))
    );
    assert_eq!(
        s.token.try_revoke(&owners, &id, &mine),
        Err(Ok(E::NotGranter))
    );
    s.token.revoke(&sharer, &id, &mine);
    assert_eq!(s.token.access(&id, &mine), None);
    assert!(s.token.access(&id, &owners).is_some());
}

#[test]
fn revoke_needs_the_revoker() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_revoke(&s.patient, &id, &viewer)));
    assert!(s.token.access(&id, &viewer).is_some());
}

#[test]
fn record_access_emits_audit_event() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    s.token.record_access(&viewer, &id, &AccessKind::Download);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            viewer.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "record_access"),
                    (&viewer, id, AccessKind::Download).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![AccessRecorded {
            token_id: id,
            viewer: viewer.clone(),
            kind: AccessKind::Download,
            role: Role::Viewer
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    s.token.record_access(&s.patient, &id, &AccessKind::View);
    assert_eq!(
        s.env.events().all(),
        std::vec![AccessRecorded {
            token_id: id,
            viewer: s.patient.clone(),
            kind: AccessKind::View,
            role: Role::Owner
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    let stranger = Address::generate(&s.env);
    assert_eq!(
        s.token.try_record_access(&stranger, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    assert_eq!(
        s.token.try_record_access(&stranger, &5, &AccessKind::View),
        Err(Ok(E::TokenNotFound))
    );
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_record_access(
        &viewer,
        &id,
        &AccessKind::View
    )));
}

#[test]
fn pending_token_cannot_be_shared() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &super::release(&s.env, 1));
    let who = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &who, &Role::Viewer, &None),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token
            .try_record_access(&s.patient, &id, &AccessKind::View),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(s.token.try_access(&99, &who), Err(Ok(E::TokenNotFound)));
}

#[test]
fn issuer_viewer_is_implicit_and_revocable_by_the_owner_only() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    // A Sharer cannot replace the owner's (implicit) grant to the issuer.
    assert_eq!(
        s.token
            .try_grant(&sharer, &id, &s.issuer, &Role::Viewer, &None),
        Err(Ok(E::NotGranter))
    );
    assert_eq!(
        s.token.try_revoke(&sharer, &id, &s.issuer),
        Err(Ok(E::NotGranter))
    );
    s.token.record_access(&s.issuer, &id, &AccessKind::View);
    // The owner revokes it: a flag in the token, an event, no access any more.
    s.token.revoke(&s.patient, &id, &s.issuer);
    assert_eq!(
        s.env.events().all(),
        std::vec![RoleRevoked {
            token_id: id,
            revoker: s.patient.clone(),
            grantee: s.issuer.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert!(s.token.token(&id).issuer_revoked);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(
        s.token.try_revoke(&s.patient, &id, &s.issuer),
        Err(Ok(E::GrantNotFound))
    );
    // After that the issuer is a grantee like any other, also of a Sharer.
    s.token.grant(&sharer, &id, &s.issuer, &Role::Viewer, &None);
    assert_eq!(
        s.token.access(&id, &s.issuer).unwrap().granter,
        sharer.clone()
    );
    s.token.revoke(&sharer, &id, &s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    let until = s.now() + 100;
    s.token
        .grant(&s.patient, &id, &s.issuer, &Role::Viewer, &Some(until));
    assert_eq!(
        s.token.access(&id, &s.issuer).unwrap().expires_at,
        Some(until)
    );
    assert_eq!(s.token.shared_with(&s.issuer, &0, &10).len(), 1);
    s.token.revoke(&s.patient, &id, &s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(s.token.shared_with(&s.issuer, &0, &10).len(), 0);
}

#[test]
fn an_explicit_grant_to_the_issuer_takes_over_and_revoking_ends_both() {
    let s = setup();
    let id = s.mint(1);
    // The owner gives the issuer Sharer: the stored grant decides while it exists.
    s.token
        .grant(&s.patient, &id, &s.issuer, &Role::Sharer, &None);
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Sharer);
    let viewer = Address::generate(&s.env);
    s.token.grant(&s.issuer, &id, &viewer, &Role::Viewer, &None);
    // An expiring stored grant ends the issuer's access when it expires.
    let until = s.now() + 10;
    s.token
        .grant(&s.patient, &id, &s.issuer, &Role::Viewer, &Some(until));
    s.env.ledger().set_timestamp(until);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    // Revoking removes the stored grant and the implicit role with it.
    s.token.revoke(&s.patient, &id, &s.issuer);
    assert!(s.token.token(&id).issuer_revoked);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(s.token.grants(&id, &0, &10).len(), 1);
    // After a key rotation the implicit role is granted in the new owner's name.
    let id2 = s.mint(2);
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&id2, &s.patient, &new);
    assert_eq!(s.token.access(&id2, &s.issuer).unwrap().granter, new);
}
