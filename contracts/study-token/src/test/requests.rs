//! Records requests: creation and fulfilment as events without PHI, refusals, wrong signers
//! and real ed25519 signatures.
use soroban_sdk::{
    testutils::{Address as _, Events as _, Ledger as _},
    Address, BytesN, Env, Event as _, IntoVal,
};

use super::{deploy, env, is_host_abort, profile, refused_for, release, setup, Setup};
use crate::testutils::{account, signed_auth};
use crate::{
    RecordsRequest, RecordsRequestFulfilled, RecordsRequested, StudyTokenError as E, REQUEST_TTL,
};

fn rid(env: &Env, n: u8) -> BytesN<32> {
    let mut b = [n; 32];
    b[0] = 0xa5;
    BytesN::from_array(env, &b)
}

/// The request as stored (no read function: the events are the interface).
fn stored(env: &Env, token: &Address, id: &BytesN<32>) -> Option<RecordsRequest> {
    env.as_contract(token, || crate::storage::request(env, id))
}

fn second(s: &Setup) -> Address {
    let other = Address::generate(&s.env);
    s.registry.add_issuer(&other, &profile(&s.env));
    other
}

#[test]
fn a_request_is_created_and_fulfilled_once() {
    let s = setup();
    let id = rid(&s.env, 1);
    s.token
        .request_records(&s.issuer, &id, &Some(s.patient.clone()));
    assert_eq!(
        s.env.events().all(),
        std::vec![RecordsRequested {
            request_id: id.clone(),
            issuer: s.issuer.clone(),
            patient: Some(s.patient.clone()),
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(
        stored(&s.env, &s.token.address, &id),
        Some(RecordsRequest {
            issuer: s.issuer.clone(),
            fulfilled: false
        })
    );
    assert_eq!(
        s.token.try_request_records(&s.issuer, &id, &None),
        Err(Ok(E::DuplicateRequest))
    );
    // The release is pending the patient's consent when the request is fulfilled.
    let token = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    s.token.fulfill_records_request(&s.issuer, &id, &token);
    assert_eq!(
        s.env.events().all(),
        std::vec![RecordsRequestFulfilled {
            request_id: id.clone(),
            issuer: s.issuer.clone(),
            token_id: token,
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert!(stored(&s.env, &s.token.address, &id).unwrap().fulfilled);
    assert_eq!(
        s.token.try_fulfill_records_request(&s.issuer, &id, &token),
        Err(Ok(E::RequestFulfilled))
    );
    // A request without a known patient address.
    let anonymous = rid(&s.env, 2);
    s.token.request_records(&s.issuer, &anonymous, &None);
    assert_eq!(
        s.env.events().all(),
        std::vec![RecordsRequested {
            request_id: anonymous,
            issuer: s.issuer.clone(),
            patient: None,
        }
        .to_xdr(&s.env, &s.token.address)]
    );
}

#[test]
fn only_an_active_issuer_creates_and_only_the_requester_fulfils() {
    let s = setup();
    let other = second(&s);
    let stranger = Address::generate(&s.env);
    let zero = BytesN::from_array(&s.env, &[0; 32]);
    assert_eq!(
        s.token.try_request_records(&s.issuer, &zero, &None),
        Err(Ok(E::InvalidRequestId))
    );
    let id = rid(&s.env, 1);
    assert_eq!(
        s.token.try_request_records(&stranger, &id, &None),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.suspend_issuer(&other);
    assert_eq!(
        s.token.try_request_records(&other, &id, &None),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.reinstate_issuer(&other);
    s.token.pause();
    assert_eq!(
        s.token.try_request_records(&s.issuer, &id, &None),
        Err(Ok(E::Paused))
    );
    s.token.unpause();
    assert_eq!(stored(&s.env, &s.token.address, &id), None);
    s.token.request_records(&s.issuer, &id, &None);
    let mine = s.mint(1);
    let theirs = s.token.mint(&other, &s.patient, &release(&s.env, 2));
    assert_eq!(
        s.token.try_fulfill_records_request(&other, &id, &theirs),
        Err(Ok(E::NotRequester))
    );
    assert_eq!(
        s.token.try_fulfill_records_request(&stranger, &id, &mine),
        Err(Ok(E::NotRequester))
    );
    assert_eq!(
        s.token.try_fulfill_records_request(&s.issuer, &id, &theirs),
        Err(Ok(E::NotIssuer))
    );
    assert_eq!(
        s.token.try_fulfill_records_request(&s.issuer, &id, &9_999),
        Err(Ok(E::TokenNotFound))
    );
    assert_eq!(
        s.token
            .try_fulfill_records_request(&s.issuer, &rid(&s.env, 9), &mine),
        Err(Ok(E::RequestNotFound))
    );
    assert!(!stored(&s.env, &s.token.address, &id).unwrap().fulfilled);
    s.token.fulfill_records_request(&s.issuer, &id, &mine);
}

#[test]
fn an_open_request_lapses_after_its_ttl() {
    let s = setup();
    let id = rid(&s.env, 1);
    s.token.request_records(&s.issuer, &id, &None);
    let token = s.mint(1);
    let seq = s.env.ledger().sequence();
    s.env.ledger().set_sequence_number(seq + REQUEST_TTL + 1);
    assert_eq!(stored(&s.env, &s.token.address, &id), None);
    assert_eq!(
        s.token.try_fulfill_records_request(&s.issuer, &id, &token),
        Err(Ok(E::RequestNotFound))
    );
}

#[test]
fn wrong_signers_are_refused() {
    let s = setup();
    let other = second(&s);
    let stranger = Address::generate(&s.env);
    let id = rid(&s.env, 1);
    let create = (s.issuer.clone(), id.clone(), None::<Address>).into_val(&s.env);
    refused_for(
        &s.env,
        &[&other, &s.patient, &s.admin, &stranger],
        &s.token.address,
        "request_records",
        create,
    );
    assert_eq!(stored(&s.env, &s.token.address, &id), None);
    s.token.request_records(&s.issuer, &id, &None);
    let token = s.mint(1);
    let fulfil = (s.issuer.clone(), id.clone(), token).into_val(&s.env);
    refused_for(
        &s.env,
        &[&other, &s.patient, &s.admin, &stranger],
        &s.token.address,
        "fulfill_records_request",
        fulfil,
    );
    assert!(!stored(&s.env, &s.token.address, &id).unwrap().fulfilled);
}

#[test]
fn a_request_with_the_issuers_real_signature() {
    let env: Env = env();
    let admin = account(&env, 9);
    let issuer = account(&env, 10);
    let patient = account(&env, 11);
    env.mock_all_auths();
    let (registry, token) = deploy(&env, &admin.address);
    registry.add_issuer(&issuer.address, &profile(&env));
    let minted = token.mint(&issuer.address, &patient.address, &release(&env, 1));
    let exp = env.ledger().sequence() + 100;
    let id = rid(&env, 1);
    let args = || (issuer.address.clone(), id.clone(), None::<Address>).into_val(&env);
    env.set_auths(&[signed_auth(
        &env,
        &issuer,
        &patient.key,
        (1, exp),
        &token.address,
        "request_records",
        args(),
    )]);
    assert!(is_host_abort(token.try_request_records(
        &issuer.address,
        &id,
        &None
    )));
    env.set_auths(&[issuer.authorize(&env, 2, exp, &token.address, "request_records", args())]);
    token.request_records(&issuer.address, &id, &None);
    let fulfil = (issuer.address.clone(), id.clone(), minted).into_val(&env);
    env.set_auths(&[issuer.authorize(
        &env,
        3,
        exp,
        &token.address,
        "fulfill_records_request",
        fulfil,
    )]);
    token.fulfill_records_request(&issuer.address, &id, &minted);
    assert!(stored(&env, &token.address, &id).unwrap().fulfilled);
}
