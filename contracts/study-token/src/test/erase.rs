//! The owner's re-key of the metadata pointer and erasure (the terminal state): what works
//! afterwards, refusals, wrong signers and real ed25519 signatures.
use soroban_sdk::{
    testutils::{Address as _, Events as _},
    Address, BytesN, Env, Event as _, IntoVal, String,
};

use super::{deploy, env, is_host_abort, profile, refused_for, release, setup, CID};
use crate::testutils::{account, signed_auth};
use crate::{
    AccessKind, EmergencyReason, Erased, RejectReason, Rekeyed, Role, StudyTokenError as E,
    TokenStatus,
};

const NEW_CID: &str = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";

fn uri(env: &Env, cid: &str) -> String {
    String::from_str(env, &std::format!("ipfs://{cid}"))
}

#[test]
fn the_owner_rekeys_and_verify_still_holds() {
    let s = setup();
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    let new = uri(&s.env, NEW_CID);
    s.token.rekey(&s.patient, &id, &new);
    assert_eq!(
        s.env.events().all(),
        std::vec![Rekeyed {
            token_id: id,
            owner: s.patient.clone(),
            metadata_uri: new.clone(),
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.token_uri(&id), new);
    assert!(s.token.verify(&id, &release(&s.env, 1).commitment));
    // Those who remain keep their access.
    assert_eq!(s.token.access(&id, &viewer).unwrap().role, Role::Viewer);
}

#[test]
fn rekey_is_refused_to_others_and_on_inactive_tokens() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    let new = uri(&s.env, NEW_CID);
    for who in [&s.issuer, &sharer, &s.admin] {
        assert_eq!(s.token.try_rekey(who, &id, &new), Err(Ok(E::NotOwner)));
    }
    for bad in ["", "ipfs://Qm123456789", "https://example.org/x"] {
        assert_eq!(
            s.token
                .try_rekey(&s.patient, &id, &String::from_str(&s.env, bad)),
            Err(Ok(E::InvalidMetadataUri))
        );
    }
    let pending = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    assert_eq!(
        s.token.try_rekey(&s.patient, &pending, &new),
        Err(Ok(E::TokenNotActive))
    );
    s.token
        .reject_release(&s.patient, &pending, &RejectReason::Declined);
    assert_eq!(
        s.token.try_rekey(&s.patient, &pending, &new),
        Err(Ok(E::TokenNotActive))
    );
    s.token.erase(&s.patient, &id);
    assert_eq!(
        s.token.try_rekey(&s.patient, &id, &new),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token.try_rekey(&s.patient, &9_999, &new),
        Err(Ok(E::TokenNotFound))
    );
    let uri_before = s.token.token(&id).release.metadata_uri;
    assert_eq!(uri_before.len(), 0);
}

#[test]
fn after_erasure_nothing_works_and_nothing_identifying_stays() {
    let s = setup();
    let keep = s.mint(2);
    let id = s.mint(1);
    let viewer = s.grantee(id, Role::Viewer, None);
    let sharer = s.grantee(id, Role::Sharer, None);
    let er = Address::generate(&s.env);
    s.registry.add_issuer(&er, &profile(&s.env));
    s.token
        .emergency_access(&er, &id, &EmergencyReason::Unconscious, &None);
    assert_eq!(s.token.balance(&s.patient), 2);
    s.token.erase(&s.patient, &id);
    assert_eq!(
        s.env.events().all(),
        std::vec![Erased {
            token_id: id,
            owner: s.patient.clone(),
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    // Nobody has access: owner, grantees, the issuer, the emergency issuer.
    for who in [&s.patient, &viewer, &sharer, &s.issuer, &er] {
        assert_eq!(s.token.access(&id, who), None);
        assert_eq!(
            s.token.try_record_access(who, &id, &AccessKind::Download),
            Err(Ok(E::TokenNotActive))
        );
    }
    let someone = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &someone, &Role::Viewer, &None),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token.try_rotate_owner(&id, &s.patient, &someone),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(s.token.try_owner_of(&id), Err(Ok(E::TokenNotActive)));
    assert_eq!(
        s.token.try_transfer(&s.patient, &someone, &id),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(
        s.token.try_erase(&s.patient, &id),
        Err(Ok(E::TokenNotActive))
    );
    // It left the owner's tokens; the other token is untouched.
    assert_eq!(s.token.balance(&s.patient), 1);
    assert_eq!(s.token.tokens_of(&s.patient, &0, &10).get(0), Some(keep));
    assert_eq!(s.token.owner_of(&keep), s.patient);
    // What stays: addresses, times, counts; no metadata pointer, no commitment.
    let token = s.token.token(&id);
    assert_eq!(token.status, TokenStatus::Erased);
    assert_eq!(token.release.metadata_uri.len(), 0);
    assert_eq!(
        token.release.commitment,
        BytesN::from_array(&s.env, &[0; 32])
    );
    assert_eq!(token.release.file_count, 12);
    let consent = s.token.consent_status(&id);
    assert_eq!(consent.status, TokenStatus::Erased);
    assert_eq!(consent.by, s.patient);
    let commitment = release(&s.env, 1).commitment;
    assert!(!s.token.verify(&id, &commitment));
    assert_eq!(s.token.token_of_commitment(&commitment), None);
    // The commitment is free: the study may be released again (a new token).
    let again = s.mint(1);
    assert_ne!(again, id);
    // Revoking the leftover grants still works (cleanup).
    s.token.revoke(&s.patient, &id, &viewer);
}

#[test]
fn erasure_is_refused_to_others_and_on_inactive_tokens() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    for who in [&s.issuer, &sharer, &s.admin] {
        assert_eq!(s.token.try_erase(who, &id), Err(Ok(E::NotOwner)));
    }
    let pending = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    assert_eq!(
        s.token.try_erase(&s.patient, &pending),
        Err(Ok(E::TokenNotActive))
    );
    s.token.withdraw_release(&s.issuer, &pending);
    assert_eq!(
        s.token.try_erase(&s.patient, &pending),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token.try_erase(&s.patient, &9_999),
        Err(Ok(E::TokenNotFound))
    );
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Active);
}

#[test]
fn wrong_signers_are_refused() {
    let s = setup();
    let id = s.mint(1);
    let sharer = s.grantee(id, Role::Sharer, None);
    let stranger = Address::generate(&s.env);
    let rekey = (s.patient.clone(), id, uri(&s.env, NEW_CID)).into_val(&s.env);
    refused_for(
        &s.env,
        &[&s.issuer, &sharer, &s.admin, &stranger],
        &s.token.address,
        "rekey",
        rekey,
    );
    assert_eq!(s.token.token_uri(&id), uri(&s.env, CID));
    let erase = (s.patient.clone(), id).into_val(&s.env);
    refused_for(
        &s.env,
        &[&s.issuer, &sharer, &s.admin, &stranger],
        &s.token.address,
        "erase",
        erase,
    );
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Active);
}

#[test]
fn rekey_and_erase_with_the_owners_real_signature() {
    let env: Env = env();
    let admin = account(&env, 9);
    let issuer = account(&env, 10);
    let patient = account(&env, 11);
    env.mock_all_auths();
    let (registry, token) = deploy(&env, &admin.address);
    registry.add_issuer(&issuer.address, &profile(&env));
    let id = token.mint(&issuer.address, &patient.address, &release(&env, 1));
    let exp = env.ledger().sequence() + 100;
    let new = uri(&env, NEW_CID);
    let args = || (patient.address.clone(), id, new.clone()).into_val(&env);
    env.set_auths(&[signed_auth(
        &env,
        &patient,
        &issuer.key,
        (1, exp),
        &token.address,
        "rekey",
        args(),
    )]);
    assert!(is_host_abort(token.try_rekey(&patient.address, &id, &new)));
    env.set_auths(&[patient.authorize(&env, 2, exp, &token.address, "rekey", args())]);
    token.rekey(&patient.address, &id, &new);
    assert_eq!(token.token_uri(&id), new);
    let erase = || (patient.address.clone(), id).into_val(&env);
    env.set_auths(&[signed_auth(
        &env,
        &patient,
        &admin.key,
        (3, exp),
        &token.address,
        "erase",
        erase(),
    )]);
    assert!(is_host_abort(token.try_erase(&patient.address, &id)));
    env.set_auths(&[patient.authorize(&env, 4, exp, &token.address, "erase", erase())]);
    token.erase(&patient.address, &id);
    assert_eq!(token.consent_status(&id).status, TokenStatus::Erased);
}
