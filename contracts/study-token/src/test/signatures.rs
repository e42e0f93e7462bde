//! The consent and mint paths with real ed25519 signatures of G-accounts: account entries
//! in the test ledger and signed `SorobanAuthorizationEntry`s, no mocking.
use ed25519_dalek::SigningKey;
use soroban_sdk::{testutils::Ledger as _, Address, Env, IntoVal};

use super::{deploy, env, is_host_abort, profile, release};
use crate::testutils::{account, signed_auth, Account};
use crate::{AccessKind, RejectReason, Role, TokenStatus};

struct Signed<'a> {
    env: Env,
    issuer: Account,
    patient: Account,
    token: crate::StudyTokenClient<'a>,
}

fn signed_setup<'a>() -> Signed<'a> {
    let env = env();
    let issuer = account(&env, 1);
    let patient = account(&env, 2);
    env.mock_all_auths();
    let admin = <Address as soroban_sdk::testutils::Address>::generate(&env);
    let (registry, token) = deploy(&env, &admin);
    registry.add_issuer(&issuer.address, &profile(&env));
    // From here on every authorization must be a real signature.
    env.set_auths(&[]);
    Signed {
        env,
        issuer,
        patient,
        token,
    }
}

#[test]
fn one_transaction_mint_with_both_real_signatures() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let args = || (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    s.env.set_auths(&[
        s.issuer.authorize(&s.env, 1, exp, tok, "mint", args()),
        s.patient.authorize(&s.env, 2, exp, tok, "mint", args()),
    ]);
    let id = s.token.mint(&s.issuer.address, &s.patient.address, &r);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Active);
    assert_eq!(s.token.owner_of(&id), s.patient.address);
}

#[test]
fn mint_with_only_the_issuer_signature_fails() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let args = (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    let exp = s.env.ledger().sequence() + 100;
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.issuer,
        &s.issuer.key,
        (1, exp),
        &s.token.address,
        "mint",
        args,
    )]);
    assert!(is_host_abort(s.token.try_mint(
        &s.issuer.address,
        &s.patient.address,
        &r
    )));
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
}

#[test]
fn mint_with_a_wrong_patient_signature_fails() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let args = || (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let stranger_key = SigningKey::from_bytes(&[9; 32]);
    s.env.set_auths(&[
        signed_auth(
            &s.env,
            &s.issuer,
            &s.issuer.key,
            (1, exp),
            tok,
            "mint",
            args(),
        ),
        signed_auth(
            &s.env,
            &s.patient,
            &stranger_key,
            (2, exp),
            tok,
            "mint",
            args(),
        ),
    ]);
    assert!(is_host_abort(s.token.try_mint(
        &s.issuer.address,
        &s.patient.address,
        &r
    )));
    // A signature over different arguments (another patient) does not authorize this call.
    let other = account(&s.env, 3);
    let wrong_args = (&s.issuer.address, &other.address, r.clone()).into_val(&s.env);
    s.env.set_auths(&[
        signed_auth(
            &s.env,
            &s.issuer,
            &s.issuer.key,
            (3, exp),
            tok,
            "mint",
            args(),
        ),
        signed_auth(
            &s.env,
            &s.patient,
            &s.patient.key,
            (4, exp),
            tok,
            "mint",
            wrong_args,
        ),
    ]);
    assert!(is_host_abort(s.token.try_mint(
        &s.issuer.address,
        &s.patient.address,
        &r
    )));
    assert_eq!(s.token.balance(&s.patient.address), 0);
}

#[test]
fn expired_signature_is_refused() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let args = || (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    let now = s.env.ledger().sequence();
    let tok = &s.token.address;
    s.env.set_auths(&[
        signed_auth(
            &s.env,
            &s.issuer,
            &s.issuer.key,
            (1, now + 10),
            tok,
            "mint",
            args(),
        ),
        signed_auth(
            &s.env,
            &s.patient,
            &s.patient.key,
            (2, now - 1),
            tok,
            "mint",
            args(),
        ),
    ]);
    assert!(is_host_abort(s.token.try_mint(
        &s.issuer.address,
        &s.patient.address,
        &r
    )));
    // Signed for a later ledger, then the ledger moves past it.
    s.env.set_auths(&[
        signed_auth(
            &s.env,
            &s.issuer,
            &s.issuer.key,
            (3, now + 10),
            tok,
            "mint",
            args(),
        ),
        signed_auth(
            &s.env,
            &s.patient,
            &s.patient.key,
            (4, now + 10),
            tok,
            "mint",
            args(),
        ),
    ]);
    s.env.ledger().set_sequence_number(now + 11);
    assert!(is_host_abort(s.token.try_mint(
        &s.issuer.address,
        &s.patient.address,
        &r
    )));
    assert_eq!(s.token.balance(&s.patient.address), 0);
}

#[test]
fn two_transaction_consent_with_real_signatures() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let propose_args = (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.issuer,
        &s.issuer.key,
        (1, exp),
        tok,
        "propose_release",
        propose_args,
    )]);
    let id = s
        .token
        .propose_release(&s.issuer.address, &s.patient.address, &r);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Pending);

    // The issuer cannot approve in the patient's name.
    let approve_args = || (&s.patient.address, id).into_val(&s.env);
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &s.issuer.key,
        (2, exp),
        tok,
        "approve_release",
        approve_args(),
    )]);
    assert!(is_host_abort(
        s.token.try_approve_release(&s.patient.address, &id)
    ));

    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &s.patient.key,
        (3, exp),
        tok,
        "approve_release",
        approve_args(),
    )]);
    s.token.approve_release(&s.patient.address, &id);
    let c = s.token.consent_status(&id);
    assert_eq!(
        (c.status, c.by),
        (TokenStatus::Active, s.patient.address.clone())
    );

    // A replayed authorization (same nonce) is refused.
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &s.patient.key,
        (3, exp),
        tok,
        "approve_release",
        approve_args(),
    )]);
    assert!(is_host_abort(
        s.token.try_approve_release(&s.patient.address, &id)
    ));
}

#[test]
fn reject_with_real_signature_and_expired_one() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let propose_args = (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.issuer,
        &s.issuer.key,
        (1, exp),
        tok,
        "propose_release",
        propose_args,
    )]);
    let id = s
        .token
        .propose_release(&s.issuer.address, &s.patient.address, &r);
    let args = || (&s.patient.address, id, RejectReason::NotMine).into_val(&s.env);
    let now = s.env.ledger().sequence();
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &s.patient.key,
        (2, now - 1),
        tok,
        "reject_release",
        args(),
    )]);
    assert!(is_host_abort(s.token.try_reject_release(
        &s.patient.address,
        &id,
        &RejectReason::NotMine
    )));
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Pending);
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &s.patient.key,
        (3, exp),
        tok,
        "reject_release",
        args(),
    )]);
    s.token
        .reject_release(&s.patient.address, &id, &RejectReason::NotMine);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Rejected);
}

/// Mints release `n` to the patient with both real signatures (nonces `10n`, `10n + 1`).
fn signed_mint(s: &Signed, n: u8) -> u32 {
    let r = release(&s.env, n);
    let args = || (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let nonce = 10 * i64::from(n);
    s.env.set_auths(&[
        s.issuer.authorize(&s.env, nonce, exp, tok, "mint", args()),
        s.patient
            .authorize(&s.env, nonce + 1, exp, tok, "mint", args()),
    ]);
    s.token.mint(&s.issuer.address, &s.patient.address, &r)
}

#[test]
fn grant_and_revoke_with_real_signatures() {
    let s = signed_setup();
    let id = signed_mint(&s, 1);
    let viewer = account(&s.env, 4);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let grant_args = || {
        (
            &s.patient.address,
            id,
            &viewer.address,
            Role::Viewer,
            None::<u64>,
        )
            .into_val(&s.env)
    };
    // Signed by the grantee or with another key in the patient's name: refused.
    s.env
        .set_auths(&[viewer.authorize(&s.env, 100, exp, tok, "grant", grant_args())]);
    assert!(is_host_abort(s.token.try_grant(
        &s.patient.address,
        &id,
        &viewer.address,
        &Role::Viewer,
        &None
    )));
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.patient,
        &viewer.key,
        (101, exp),
        tok,
        "grant",
        grant_args(),
    )]);
    assert!(is_host_abort(s.token.try_grant(
        &s.patient.address,
        &id,
        &viewer.address,
        &Role::Viewer,
        &None
    )));
    s.env.set_auths(&[s
        .patient
        .authorize(&s.env, 102, exp, tok, "grant", grant_args())]);
    s.token.grant(
        &s.patient.address,
        &id,
        &viewer.address,
        &Role::Viewer,
        &None,
    );
    assert_eq!(
        s.token.access(&id, &viewer.address).unwrap().role,
        Role::Viewer
    );
    let revoke_args = || (&s.patient.address, id, &viewer.address).into_val(&s.env);
    s.env.set_auths(&[s
        .issuer
        .authorize(&s.env, 103, exp, tok, "revoke", revoke_args())]);
    assert!(is_host_abort(s.token.try_revoke(
        &s.patient.address,
        &id,
        &viewer.address
    )));
    s.env.set_auths(&[s
        .patient
        .authorize(&s.env, 104, exp, tok, "revoke", revoke_args())]);
    s.token.revoke(&s.patient.address, &id, &viewer.address);
    assert_eq!(s.token.access(&id, &viewer.address), None);
}

#[test]
fn record_access_with_a_real_signature() {
    let s = signed_setup();
    let id = signed_mint(&s, 1);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let args = || (&s.issuer.address, id, AccessKind::Download).into_val(&s.env);
    // The patient's signature does not record an access in the issuer's name.
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.issuer,
        &s.patient.key,
        (200, exp),
        tok,
        "record_access",
        args(),
    )]);
    assert!(is_host_abort(s.token.try_record_access(
        &s.issuer.address,
        &id,
        &AccessKind::Download
    )));
    s.env.set_auths(&[s
        .issuer
        .authorize(&s.env, 201, exp, tok, "record_access", args())]);
    s.token
        .record_access(&s.issuer.address, &id, &AccessKind::Download);
}

#[test]
fn rotate_owner_with_both_real_signatures() {
    let s = signed_setup();
    let id = signed_mint(&s, 1);
    let new = account(&s.env, 5);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let args = || (id, &s.patient.address, &new.address).into_val(&s.env);
    // The new key alone, or the old key twice (once forged for the new), is refused.
    s.env
        .set_auths(&[new.authorize(&s.env, 300, exp, tok, "rotate_owner", args())]);
    assert!(is_host_abort(s.token.try_rotate_owner(
        &id,
        &s.patient.address,
        &new.address
    )));
    s.env.set_auths(&[
        s.patient
            .authorize(&s.env, 301, exp, tok, "rotate_owner", args()),
        signed_auth(
            &s.env,
            &new,
            &s.patient.key,
            (302, exp),
            tok,
            "rotate_owner",
            args(),
        ),
    ]);
    assert!(is_host_abort(s.token.try_rotate_owner(
        &id,
        &s.patient.address,
        &new.address
    )));
    s.env.set_auths(&[
        s.patient
            .authorize(&s.env, 303, exp, tok, "rotate_owner", args()),
        new.authorize(&s.env, 304, exp, tok, "rotate_owner", args()),
    ]);
    s.token.rotate_owner(&id, &s.patient.address, &new.address);
    assert_eq!(s.token.owner_of(&id), new.address);
}

#[test]
fn withdraw_release_with_a_real_signature() {
    let s = signed_setup();
    let r = release(&s.env, 1);
    let exp = s.env.ledger().sequence() + 100;
    let tok = &s.token.address;
    let propose = (&s.issuer.address, &s.patient.address, r.clone()).into_val(&s.env);
    s.env.set_auths(&[s
        .issuer
        .authorize(&s.env, 400, exp, tok, "propose_release", propose)]);
    let id = s
        .token
        .propose_release(&s.issuer.address, &s.patient.address, &r);
    let args = || (&s.issuer.address, id).into_val(&s.env);
    s.env.set_auths(&[signed_auth(
        &s.env,
        &s.issuer,
        &s.patient.key,
        (401, exp),
        tok,
        "withdraw_release",
        args(),
    )]);
    assert!(is_host_abort(
        s.token.try_withdraw_release(&s.issuer.address, &id)
    ));
    s.env.set_auths(&[s
        .issuer
        .authorize(&s.env, 402, exp, tok, "withdraw_release", args())]);
    s.token.withdraw_release(&s.issuer.address, &id);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Withdrawn);
}
