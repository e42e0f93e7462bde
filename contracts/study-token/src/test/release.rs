use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, BytesN, Event as _, IntoVal, String, Symbol,
};

use super::{is_host_abort, only_signer, release, setup, CID};
use crate::{
    Mint, Minted, RejectReason, ReleaseApproved, ReleaseProposed, ReleaseRejected, Role,
    StudyTokenError as E, TokenStatus, DEFAULT_PENDING_WINDOW, MAX_FILE_COUNT,
};

#[test]
fn propose_creates_pending_token() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    // Ids come from a counter that starts at 1, never from the commitment.
    assert_eq!(id, 1);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.issuer.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "propose_release"),
                    (&s.issuer, &s.patient, r.clone()).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![ReleaseProposed {
            token_id: id,
            issuer: s.issuer.clone(),
            patient: s.patient.clone(),
            pending_until: 1_000 + DEFAULT_PENDING_WINDOW,
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    let t = s.token.token(&id);
    assert_eq!(
        (t.status, t.owner.clone(), t.issuer.clone()),
        (TokenStatus::Pending, s.patient.clone(), s.issuer.clone())
    );
    assert_eq!((t.minted_ledger, t.minted_at), (1_000, 1_700_000_000));
    assert_eq!(t.release, r);
    let c = s.token.consent_status(&id);
    assert_eq!(
        (c.status, c.by, c.ledger),
        (TokenStatus::Pending, s.issuer.clone(), 1_000)
    );
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 1);
    assert_eq!(s.token.balance(&s.patient), 0);
    // Nobody has access to a pending token, not even the owner or the issuer.
    assert_eq!(s.token.access(&id, &s.patient), None);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(s.token.try_owner_of(&id), Err(Ok(E::TokenNotActive)));
    assert!(!s.token.verify(&id, &r.commitment));
    assert_eq!(s.token.token_uri(&id), r.metadata_uri);
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(id));
}

#[test]
fn approve_activates_and_gives_issuer_implicit_viewer() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    s.env.ledger().set_sequence_number(1_500);
    s.env.ledger().set_timestamp(1_700_000_500);
    s.token.approve_release(&s.patient, &id);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.patient.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "approve_release"),
                    (&s.patient, id).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![
            Mint {
                to: s.patient.clone(),
                token_id: id
            }
            .to_xdr(&s.env, &s.token.address),
            ReleaseApproved {
                token_id: id,
                patient: s.patient.clone()
            }
            .to_xdr(&s.env, &s.token.address),
        ]
    );
    let c = s.token.consent_status(&id);
    assert_eq!(
        (c.status, c.by, c.ledger, c.timestamp),
        (TokenStatus::Active, s.patient.clone(), 1_500, 1_700_000_500)
    );
    assert_eq!(s.token.owner_of(&id), s.patient);
    assert_eq!(s.token.balance(&s.patient), 1);
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 0);
    assert!(s.token.verify(&id, &r.commitment));
    assert!(!s.token.verify(&id, &BytesN::from_array(&s.env, &[2; 32])));
    assert_eq!(s.token.access(&id, &s.patient).unwrap().role, Role::Owner);
    let issuer_access = s.token.access(&id, &s.issuer).unwrap();
    assert_eq!(
        (issuer_access.role, issuer_access.granter),
        (Role::Viewer, s.patient.clone())
    );
    // A second decision on the same token fails.
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::TokenNotPending))
    );
    assert_eq!(
        s.token
            .try_reject_release(&s.patient, &id, &RejectReason::Declined),
        Err(Ok(E::TokenNotPending))
    );
}

#[test]
fn reject_gives_nobody_access() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    s.token
        .reject_release(&s.patient, &id, &RejectReason::NotMine);
    assert_eq!(
        s.env.events().all(),
        std::vec![ReleaseRejected {
            token_id: id,
            patient: s.patient.clone(),
            reason: RejectReason::NotMine
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    let c = s.token.consent_status(&id);
    assert_eq!((c.status, c.by), (TokenStatus::Rejected, s.patient.clone()));
    assert_eq!(s.token.access(&id, &s.patient), None);
    assert_eq!(s.token.access(&id, &s.issuer), None);
    assert_eq!(s.token.balance(&s.patient), 0);
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 0);
    assert!(!s.token.verify(&id, &r.commitment));
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::TokenNotPending))
    );
    let viewer = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_grant(&s.patient, &id, &viewer, &Role::Viewer, &None),
        Err(Ok(E::TokenNotActive))
    );
    assert_eq!(
        s.token
            .try_record_access(&s.patient, &id, &crate::AccessKind::View),
        Err(Ok(E::TokenNotActive))
    );
    // Rejection frees the commitment: the study can be released again (to the right
    // patient, say), under a new id.
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
    let again = s.token.propose_release(&s.issuer, &s.patient, &r);
    assert_ne!(again, id);
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(again));
}

#[test]
fn pending_token_lapses_after_window() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    let until = 1_000 + DEFAULT_PENDING_WINDOW;
    s.env.ledger().set_sequence_number(until);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Pending);
    s.env.ledger().set_sequence_number(until + 1);
    let c = s.token.consent_status(&id);
    assert_eq!(
        (c.status, c.ledger, c.by),
        (TokenStatus::Lapsed, until, s.issuer.clone())
    );
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::ReleaseLapsed))
    );
    assert_eq!(s.token.access(&id, &s.patient), None);
    assert_eq!(s.token.try_owner_of(&id), Err(Ok(E::TokenNotActive)));
    let new = Address::generate(&s.env);
    assert_eq!(
        s.token.try_rotate_owner(&id, &s.patient, &new),
        Err(Ok(E::TokenNotActive))
    );
    // The patient can clear a lapsed release from the pending list by rejecting it.
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 1);
    s.token
        .reject_release(&s.patient, &id, &RejectReason::Other);
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 0);
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Rejected);
}

#[test]
fn approval_window_uses_setting_at_proposal() {
    let s = setup();
    s.token.set_pending_window(&10);
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    assert_eq!(s.token.token(&id).pending_until, 1_010);
    s.env.ledger().set_sequence_number(1_011);
    assert_eq!(
        s.token.try_approve_release(&s.patient, &id),
        Err(Ok(E::ReleaseLapsed))
    );
}

#[test]
fn approve_and_reject_need_the_patient() {
    let s = setup();
    let id = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 1));
    let other = Address::generate(&s.env);
    assert_eq!(
        s.token.try_approve_release(&other, &id),
        Err(Ok(E::NotOwner))
    );
    assert_eq!(
        s.token
            .try_reject_release(&other, &id, &RejectReason::Declined),
        Err(Ok(E::NotOwner))
    );
    assert_eq!(
        s.token.try_approve_release(&s.patient, &99),
        Err(Ok(E::TokenNotFound))
    );
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_approve_release(&s.patient, &id)));
    assert!(is_host_abort(s.token.try_reject_release(
        &s.patient,
        &id,
        &RejectReason::Declined
    )));
    // The issuer's signature does not stand in for the patient's.
    only_signer(
        &s.env,
        &s.issuer,
        &s.token.address,
        "approve_release",
        (&s.patient, id).into_val(&s.env),
    );
    assert!(is_host_abort(s.token.try_approve_release(&s.patient, &id)));
    assert_eq!(s.token.consent_status(&id).status, TokenStatus::Pending);
}

#[test]
fn propose_needs_the_issuer() {
    let s = setup();
    s.env.set_auths(&[]);
    let r = release(&s.env, 1);
    assert!(is_host_abort(
        s.token.try_propose_release(&s.issuer, &s.patient, &r)
    ));
    only_signer(
        &s.env,
        &s.patient,
        &s.token.address,
        "propose_release",
        (&s.issuer, &s.patient, r.clone()).into_val(&s.env),
    );
    assert!(is_host_abort(
        s.token.try_propose_release(&s.issuer, &s.patient, &r)
    ));
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
}

#[test]
fn mint_is_active_at_once_with_both_signatures() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.mint(&s.issuer, &s.patient, &r);
    let invocation = AuthorizedInvocation {
        function: AuthorizedFunction::Contract((
            s.token.address.clone(),
            Symbol::new(&s.env, "mint"),
            (&s.issuer, &s.patient, r.clone()).into_val(&s.env),
        )),
        sub_invocations: std::vec![],
    };
    // Both parties authorize the very same call and arguments (the atomic-swap pattern).
    assert_eq!(
        s.env.auths(),
        std::vec![
            (s.issuer.clone(), invocation.clone()),
            (s.patient.clone(), invocation)
        ]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![
            Mint {
                to: s.patient.clone(),
                token_id: id
            }
            .to_xdr(&s.env, &s.token.address),
            Minted {
                token_id: id,
                issuer: s.issuer.clone(),
                patient: s.patient.clone()
            }
            .to_xdr(&s.env, &s.token.address),
        ]
    );
    // The issuer views by virtue of being the issuer: no stored grant, no list entry.
    let issuer_access = s.token.access(&id, &s.issuer).unwrap();
    assert_eq!(
        (
            issuer_access.role,
            issuer_access.expires_at,
            issuer_access.granter
        ),
        (Role::Viewer, None, s.patient.clone())
    );
    assert_eq!(s.token.grants(&id, &0, &10).len(), 0);
    assert_eq!(s.token.shared_with(&s.issuer, &0, &10).len(), 0);
    assert!(!s.token.token(&id).issuer_revoked);
    let c = s.token.consent_status(&id);
    assert_eq!((c.status, c.by), (TokenStatus::Active, s.patient.clone()));
    assert_eq!(s.token.owner_of(&id), s.patient);
    assert_eq!(s.token.tokens_of(&s.patient, &0, &10).get_unchecked(0), id);
    assert!(s.token.verify(&id, &r.commitment));
}

#[test]
fn mint_fails_without_either_signature() {
    let s = setup();
    let r = release(&s.env, 1);
    let args = (&s.issuer, &s.patient, r.clone()).into_val(&s.env);
    only_signer(&s.env, &s.issuer, &s.token.address, "mint", args);
    assert!(is_host_abort(s.token.try_mint(&s.issuer, &s.patient, &r)));
    let args = (&s.issuer, &s.patient, r.clone()).into_val(&s.env);
    only_signer(&s.env, &s.patient, &s.token.address, "mint", args);
    assert!(is_host_abort(s.token.try_mint(&s.issuer, &s.patient, &r)));
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_mint(&s.issuer, &s.patient, &r)));
    assert_eq!(s.token.token_of_commitment(&r.commitment), None);
    assert_eq!(s.token.balance(&s.patient), 0);
}

#[test]
fn untrusted_and_suspended_issuers_cannot_release() {
    let s = setup();
    let stranger = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_propose_release(&stranger, &s.patient, &release(&s.env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
    assert_eq!(
        s.token.try_mint(&stranger, &s.patient, &release(&s.env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.suspend_issuer(&s.issuer);
    assert_eq!(
        s.token
            .try_propose_release(&s.issuer, &s.patient, &release(&s.env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.patient, &release(&s.env, 1)),
        Err(Ok(E::IssuerNotTrusted))
    );
    s.registry.reinstate_issuer(&s.issuer);
    assert_eq!(s.token.mint(&s.issuer, &s.patient, &release(&s.env, 1)), 1);
    // Removal from the registry also ends trust.
    s.registry.remove_issuer(&s.issuer);
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.patient, &release(&s.env, 2)),
        Err(Ok(E::IssuerNotTrusted))
    );
}

#[test]
fn a_commitment_is_held_by_one_pending_or_active_token() {
    let s = setup();
    let r = release(&s.env, 1);
    let id = s.token.propose_release(&s.issuer, &s.patient, &r);
    assert_eq!(
        s.token.try_propose_release(&s.issuer, &s.patient, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.patient, &r),
        Err(Ok(E::DuplicateCommitment))
    );
    // The same commitment under another URI or to another patient is still the same study.
    let mut r2 = r.clone();
    r2.file_count = 3;
    let other = Address::generate(&s.env);
    assert_eq!(
        s.token.try_mint(&s.issuer, &other, &r2),
        Err(Ok(E::DuplicateCommitment))
    );
    assert_eq!(s.token.token_of_commitment(&r.commitment), Some(id));
    assert_eq!(
        s.token
            .propose_release(&s.issuer, &s.patient, &release(&s.env, 2)),
        2
    );
}

#[test]
fn invalid_releases_are_rejected_before_any_write() {
    let s = setup();
    let env = &s.env;
    let long_cid = std::format!("ipfs://b{}", "a".repeat(100));
    let uris = [
        std::format!("https://{CID}"),
        std::format!("ipfs:/{CID}"),
        std::format!("IPFS://{CID}"),
        std::format!("ipfs://Qm{}", &CID[2..]),
        std::format!("ipfs://{}", CID.to_uppercase()),
        std::format!("ipfs://{}1", &CID[..20]),
        std::format!("ipfs://{}/x", &CID[..20]),
        "ipfs://bafy".into(),
        "ipfs://".into(),
        "".into(),
        long_cid,
    ];
    for uri in uris {
        let mut r = release(env, 1);
        r.metadata_uri = String::from_str(env, &uri);
        assert_eq!(
            s.token.try_propose_release(&s.issuer, &s.patient, &r),
            Err(Ok(E::InvalidMetadataUri)),
            "{uri}"
        );
        assert_eq!(
            s.token.try_mint(&s.issuer, &s.patient, &r),
            Err(Ok(E::InvalidMetadataUri)),
            "{uri}"
        );
    }
    let mut r = release(env, 1);
    r.commitment = BytesN::from_array(env, &[0; 32]);
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.patient, &r),
        Err(Ok(E::InvalidCommitment))
    );
    for count in [0, MAX_FILE_COUNT + 1] {
        let mut r = release(env, 1);
        r.file_count = count;
        assert_eq!(
            s.token.try_mint(&s.issuer, &s.patient, &r),
            Err(Ok(E::InvalidFileCount))
        );
    }
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.issuer, &release(env, 1)),
        Err(Ok(E::SelfRelease))
    );
    assert_eq!(
        s.token.token_of_commitment(&release(env, 1).commitment),
        None
    );
    // Bounds that are accepted: the longest CID, the largest file count, a request id.
    let mut r = release(env, 3);
    r.metadata_uri = String::from_str(env, &std::format!("ipfs://b{}", "2".repeat(99)));
    r.file_count = MAX_FILE_COUNT;
    r.request_id = Some(BytesN::from_array(env, &[5; 16]));
    let id = s.token.mint(&s.issuer, &s.patient, &r);
    assert_eq!(s.token.token(&id).release, r);
}

#[test]
fn ids_come_from_a_counter_whatever_the_commitment() {
    let s = setup();
    s.token.set_pending_cap(&40);
    let with = |head: u8| {
        let mut rel = release(&s.env, 1);
        let mut b = [head; 32];
        // Commitments that agree on their first bytes (the old id scheme) do not collide.
        b[..4].copy_from_slice(&[0, 0, 0, 7]);
        rel.commitment = BytesN::from_array(&s.env, &b);
        rel
    };
    let ids: std::vec::Vec<u32> = (1..=40u8)
        .map(|n| s.token.propose_release(&s.issuer, &s.patient, &with(n)))
        .collect();
    assert_eq!(ids, (1..=40).collect::<std::vec::Vec<u32>>());
    assert_eq!(s.token.token_of_commitment(&with(40).commitment), Some(40));
    assert_eq!(s.token.token_of_commitment(&with(41).commitment), None);
    // A withdrawn token keeps its id: the counter never hands an id out twice.
    s.token.withdraw_release(&s.issuer, &40);
    assert_eq!(s.token.mint(&s.issuer, &s.patient, &with(40)), 41);
}
