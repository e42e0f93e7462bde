//! The consent and mint paths with real ed25519 signatures of G-accounts: account entries
//! in the test ledger and signed `SorobanAuthorizationEntry`s, no mocking.
use ed25519_dalek::SigningKey;
use soroban_sdk::{testutils::Ledger as _, Address, Env, IntoVal};

use super::{deploy, env, is_host_abort, profile, release};
use crate::testutils::{account, signed_auth, Account};
use crate::{RejectReason, TokenStatus};

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
    assert_eq!(s.token.token_of_root(&r.checksum_root), None);
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
