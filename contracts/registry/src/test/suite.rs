//! A representative part of the study-token and issuer-registry tests, run against the
//! optimized WASM (contract errors must survive the WASM boundary with their codes).
use medimint_issuer_registry::{IssuerKind, IssuerProfile, IssuerRegistryError, IssuerStatus};
use medimint_study_token::{
    AccessKind, RejectReason, Release, Role, StudyTokenError as E, TokenStatus,
};
use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Ledger as _},
    Address, BytesN, Env, IntoVal, String, Symbol,
};

use super::{is_host_abort, suite, Suite};

fn profile(env: &Env) -> IssuerProfile {
    IssuerProfile {
        name: String::from_str(env, "General Hospital"),
        kind: IssuerKind::ImagingCentre,
        jurisdiction: String::from_str(env, "GB"),
        evidence: BytesN::from_array(env, &[3; 32]),
    }
}

fn release(env: &Env, n: u8) -> Release {
    Release {
        metadata_uri: String::from_str(
            env,
            "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
        ),
        commitment: BytesN::from_array(env, &[n; 32]),
        file_count: 3,
        request_id: Some(BytesN::from_array(env, &[n; 16])),
    }
}

fn with_issuer<'a>() -> (Suite<'a>, Address, Address) {
    let s = suite();
    let issuer = Address::generate(&s.env);
    let patient = Address::generate(&s.env);
    s.issuers.add_issuer(&issuer, &profile(&s.env));
    (s, issuer, patient)
}

#[test]
fn issuer_registry_wasm_lifecycle() {
    let (s, issuer, _) = with_issuer();
    assert!(s.issuers.is_trusted(&issuer));
    assert_eq!(
        s.issuers.try_add_issuer(&issuer, &profile(&s.env)),
        Err(Ok(IssuerRegistryError::IssuerExists))
    );
    s.issuers.suspend_issuer(&issuer);
    assert_eq!(s.issuers.issuer(&issuer).status, IssuerStatus::Suspended);
    assert!(!s.issuers.is_trusted(&issuer));
    s.issuers.reinstate_issuer(&issuer);
    s.issuers.remove_issuer(&issuer);
    assert_eq!(
        s.issuers.try_issuer(&issuer),
        Err(Ok(IssuerRegistryError::IssuerNotFound))
    );
    let mut bad = profile(&s.env);
    bad.jurisdiction = String::from_str(&s.env, "gb");
    assert_eq!(
        s.issuers.try_add_issuer(&issuer, &bad),
        Err(Ok(IssuerRegistryError::InvalidJurisdiction))
    );
    // Direct upgrade of the member with its own admin, through its timelock.
    s.issuers.schedule_upgrade(&s.issuers_hash);
    assert_eq!(
        s.issuers.try_upgrade(&s.issuers_hash),
        Err(Ok(IssuerRegistryError::UpgradeNotReady))
    );
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + super::UPGRADE_DELAY);
    s.issuers.upgrade(&s.issuers_hash);
    assert_eq!(s.issuers.admin(), s.admin);
}

#[test]
fn two_transaction_consent_on_wasm() {
    let (s, issuer, patient) = with_issuer();
    let id = s
        .studies
        .propose_release(&issuer, &patient, &release(&s.env, 1));
    assert_eq!(s.studies.consent_status(&id).status, TokenStatus::Pending);
    assert_eq!(s.studies.access(&id, &patient), None);
    s.studies.approve_release(&patient, &id);
    assert_eq!(s.studies.consent_status(&id).status, TokenStatus::Active);
    assert_eq!(s.studies.access(&id, &issuer).unwrap().role, Role::Viewer);
    assert!(s.studies.verify(&id, &release(&s.env, 1).commitment));
    let rejected = s
        .studies
        .propose_release(&issuer, &patient, &release(&s.env, 2));
    s.studies
        .reject_release(&patient, &rejected, &RejectReason::Declined);
    assert_eq!(
        s.studies.consent_status(&rejected).status,
        TokenStatus::Rejected
    );
    let lapsing = s
        .studies
        .propose_release(&issuer, &patient, &release(&s.env, 3));
    s.env
        .ledger()
        .set_sequence_number(s.studies.token(&lapsing).pending_until + 1);
    assert_eq!(
        s.studies.try_approve_release(&patient, &lapsing),
        Err(Ok(E::ReleaseLapsed))
    );
}

#[test]
fn one_transaction_mint_on_wasm_needs_both() {
    let (s, issuer, patient) = with_issuer();
    let r = release(&s.env, 1);
    let id = s.studies.mint(&issuer, &patient, &r);
    let inv = AuthorizedInvocation {
        function: AuthorizedFunction::Contract((
            s.studies.address.clone(),
            Symbol::new(&s.env, "mint"),
            (&issuer, &patient, r.clone()).into_val(&s.env),
        )),
        sub_invocations: std::vec![],
    };
    assert_eq!(
        s.env.auths(),
        std::vec![(issuer.clone(), inv.clone()), (patient.clone(), inv)]
    );
    assert_eq!(s.studies.owner_of(&id), patient);
    assert_eq!(
        s.studies.try_mint(&issuer, &patient, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    let stranger = Address::generate(&s.env);
    assert_eq!(
        s.studies.try_mint(&stranger, &patient, &release(&s.env, 2)),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.issuers.suspend_issuer(&issuer);
    assert_eq!(
        s.studies.try_mint(&issuer, &patient, &release(&s.env, 2)),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.studies.try_mint(
        &issuer,
        &patient,
        &release(&s.env, 3)
    )));
}

#[test]
fn roles_and_audit_on_wasm() {
    let (s, issuer, patient) = with_issuer();
    let id = s.studies.mint(&issuer, &patient, &release(&s.env, 1));
    let now = s.env.ledger().timestamp();
    let sharer = Address::generate(&s.env);
    let viewer = Address::generate(&s.env);
    s.studies
        .grant(&patient, &id, &sharer, &Role::Sharer, &Some(now + 100));
    assert_eq!(
        s.studies
            .try_grant(&sharer, &id, &viewer, &Role::Sharer, &Some(now + 50)),
        Err(Ok(E::SharerCannotGrantSharer))
    );
    assert_eq!(
        s.studies
            .try_grant(&sharer, &id, &viewer, &Role::Viewer, &Some(now + 101)),
        Err(Ok(E::ExpiryBeyondGranter))
    );
    s.studies
        .grant(&sharer, &id, &viewer, &Role::Viewer, &Some(now + 50));
    s.studies.record_access(&viewer, &id, &AccessKind::Download);
    assert_eq!(
        s.studies.try_revoke(&sharer, &id, &issuer),
        Err(Ok(E::NotGranter))
    );
    s.env.ledger().set_timestamp(now + 50);
    assert_eq!(
        s.studies.try_record_access(&viewer, &id, &AccessKind::View),
        Err(Ok(E::NoAccess))
    );
    s.studies.revoke(&sharer, &id, &viewer);
    // Only the sharer's grant is stored; the issuer views by being the issuer.
    assert_eq!(s.studies.grants(&id, &0, &10).len(), 1);
    assert_eq!(s.studies.access(&id, &issuer).unwrap().role, Role::Viewer);
    s.studies.revoke(&patient, &id, &issuer);
    assert_eq!(s.studies.access(&id, &issuer), None);
    let new = Address::generate(&s.env);
    s.studies.rotate_owner(&id, &patient, &new);
    assert_eq!(s.studies.owner_of(&id), new);
    assert_eq!(
        s.studies.try_transfer(&new, &patient, &id),
        Err(Ok(E::NonTransferable))
    );
    assert_eq!(s.studies.tokens_of(&new, &0, &5).len(), 1);
    assert_eq!(
        s.studies.try_tokens_of(&new, &0, &0),
        Err(Ok(E::InvalidPageLimit))
    );
    // The token upgrades itself to its own WASM with the admin's authorization, once the
    // scheduled upgrade's delay has passed.
    assert_eq!(
        s.studies.try_upgrade(&s.studies_hash),
        Err(Ok(E::NoScheduledUpgrade))
    );
    s.studies.schedule_upgrade(&s.studies_hash);
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + super::UPGRADE_DELAY);
    s.studies.upgrade(&s.studies_hash);
    assert_eq!(s.studies.owner_of(&id), new);
}
