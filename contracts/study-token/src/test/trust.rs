//! H1: suspending or removing an issuer cuts its access at once; reinstating restores it.
//! Also what the token believes of its issuer registry (I7).
use soroban_sdk::{contract, contractimpl, testutils::Address as _, Address, Env, String};

use super::{env, release, setup};
use crate::{AccessKind, RejectReason, Role, StudyToken, StudyTokenClient, StudyTokenError as E};

#[test]
fn approve_after_the_issuer_is_suspended_is_refused() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::IssuerNotTrusted))
    );
    assert_eq!(s.token.access(&id, &s.patient), None);
    // The patient can still reject it, and once reinstated a release can be approved.
    let id2 = {
        s.registry.reinstate_issuer(&s.issuer);
        let id2 = s
            .token
            .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
        s.token.approve_release(&s.patient, &id2);
        id2
    };
    assert_eq!(s.token.owner_of(&id2), s.patient);
    s.registry.suspend_issuer(&s.issuer);
    s.token
        .reject_release(&s.patient, &id, &RejectReason::Declined);
}

#[test]
fn approve_after_the_issuer_is_removed_is_refused() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    s.registry.remove_issuer(&s.issuer);
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.token
        .reject_release(&s.patient, &id, &RejectReason::NotMine);
}

#[test]
fn a_suspended_issuer_loses_its_implicit_viewer_and_reinstating_restores_it() {
    let s = setup();
    let id = s.mint(1);
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Viewer);
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(
        s.token
            .try_record_access(&s.issuer, &id, &AccessKind::Download),
        Err(Ok(E::NoAccess))
    );
    // The patient and the patient's grantees are not affected.
    let viewer = s.grantee(id, Role::Viewer, None);
    s.token.record_access(&viewer, &id, &AccessKind::View);
    assert_eq!(s.token.access(&id, &s.patient).unwrap().role, Role::Owner);
    s.registry.reinstate_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Viewer);
    s.token.record_access(&s.issuer, &id, &AccessKind::Download);
}

#[test]
fn a_removed_issuer_loses_its_implicit_viewer_until_added_again() {
    let s = setup();
    let id = s.mint(1);
    s.registry.remove_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(
        s.token.try_record_access(&s.issuer, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    s.registry.add_issuer(&s.issuer, &super::profile(&s.env));
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Viewer);
    s.token.record_access(&s.issuer, &id, &AccessKind::View);
}

#[test]
fn an_explicit_grant_to_a_suspended_issuer_gives_no_access_either() {
    let s = setup();
    let id = s.mint(1);
    let until = s.now() + 1_000;
    s.token
        .grant(&s.patient, &id, &s.issuer, &Role::Sharer, &Some(until));
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    let v = soroban_sdk::Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.issuer, &id, &v, &Role::Viewer, &Some(until)),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    s.registry.reinstate_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer).unwrap().role, Role::Sharer);
    // A Viewer granted by the issuer-as-Sharer dies with the issuer's trust.
    s.token
        .grant(&s.issuer, &id, &v, &Role::Viewer, &Some(until));
    assert!(s.token.access(&id, &v).is_some());
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &v), None);
}

#[test]
fn a_revoked_issuer_is_not_asked_about() {
    // Once the owner revoked the implicit role there is nothing to check: access is None
    // whatever the registry says.
    let s = setup();
    let id = s.mint(1);
    s.token.revoke(&s.patient, &id, &s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(s.token.access(&id, &s.issuer), None);
}

/// An issuer registry that trusts everyone (a compromised or malicious one).
#[contract]
struct TrustsEveryone;

#[contractimpl]
impl TrustsEveryone {
    pub fn is_trusted(_env: Env, _issuer: Address) -> bool {
        true
    }
}

#[test]
fn a_registry_that_trusts_everyone_lets_anyone_release_but_not_consent_or_share() {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let registry = env.register(TrustsEveryone, ());
    let token = StudyTokenClient::new(
        &env,
        &env.register(
            StudyToken,
            (
                &admin,
                &registry,
                String::from_str(&env, "MediMint Study"),
                String::from_str(&env, "MMS"),
                None::<u32>,
            ),
        ),
    );
    let anyone = Address::generate(&env);
    let patient = Address::generate(&env);
    // The registry decides who may release (trusted by design, see docs/contracts.md) ...
    let id = token.propose_release(&anyone, &patient, &release(&env, 1));
    // ... but consent stays the patient's, and a release gives no one else a role.
    assert_eq!(
        token.try_approve_release(&anyone, &id),
        Err(Ok(E::NotOwner))
    );
    token.approve_release(&patient, &id);
    let other = Address::generate(&env);
    assert_eq!(
        token.try_grant(&anyone, &id, &other, &Role::Viewer, &None),
        Err(Ok(E::NotAuthorizedToGrant))
    );
    assert_eq!(
        token.try_revoke(&anyone, &id, &other),
        Err(Ok(E::GrantNotFound))
    );
}

#[test]
fn a_registry_address_that_is_not_a_contract_trusts_nobody() {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let not_a_contract = Address::generate(&env);
    let token = StudyTokenClient::new(
        &env,
        &env.register(
            StudyToken,
            (
                &admin,
                &not_a_contract,
                String::from_str(&env, "MediMint Study"),
                String::from_str(&env, "MMS"),
                None::<u32>,
            ),
        ),
    );
    let issuer = Address::generate(&env);
    let patient = Address::generate(&env);
    assert_eq!(
        token.try_propose_release(&issuer, &patient, &release(&env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
    assert_eq!(
        token.try_mint(&issuer, &patient, &release(&env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
}
