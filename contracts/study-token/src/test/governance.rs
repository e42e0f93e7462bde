//! M3, I5, L5: the study token's two-step admin transfer (cancel, bounded expiry), its
//! upgrade timelock and its emergency pause — each admin function also signed by the wrong
//! party (patient, issuer, third party), not only with authorization removed.
use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, BytesN, Event as _, IntoVal, Symbol, Val, Vec,
};

use super::{is_host_abort, only_signer, release, setup, Setup};
use crate::{
    AccessKind, AdminChanged, AdminProposed, AdminTransferCancelled, Paused, PendingAdmin,
    RejectReason, Role, ScheduledUpgrade, StudyTokenError as E, UpgradeCancelled, UpgradeScheduled,
    DEFAULT_UPGRADE_DELAY,
};

/// Every admin function with its arguments, for the wrong-signer sweep.
fn admin_calls(s: &Setup) -> std::vec::Vec<(&'static str, Vec<Val>)> {
    let env = &s.env;
    let other = Address::generate(env);
    let hash = BytesN::from_array(env, &[3; 32]);
    std::vec![
        ("set_pending_window", (5u32,).into_val(env)),
        ("set_pending_cap", (5u32,).into_val(env)),
        ("propose_admin", (other, 2_000u32).into_val(env)),
        ("cancel_admin", ().into_val(env)),
        ("schedule_upgrade", (hash.clone(),).into_val(env)),
        ("cancel_upgrade", ().into_val(env)),
        ("upgrade", (hash,).into_val(env)),
        ("pause", ().into_val(env)),
        ("unpause", ().into_val(env)),
    ]
}

#[test]
fn every_admin_function_refuses_the_patient_the_issuer_and_a_third_party() {
    let s = setup();
    let third = Address::generate(&s.env);
    for (function, args) in admin_calls(&s) {
        for who in [&s.patient, &s.issuer, &third] {
            only_signer(&s.env, who, &s.token.address, function, args.clone());
            let result = s.env.try_invoke_contract::<Val, soroban_sdk::Error>(
                &s.token.address,
                &Symbol::new(&s.env, function),
                args.clone(),
            );
            assert!(
                result.is_err(),
                "{function} signed by a non-admin succeeded"
            );
        }
    }
    // Nothing changed.
    s.env.mock_all_auths();
    assert_eq!(s.token.pending_window(), crate::DEFAULT_PENDING_WINDOW);
    assert_eq!(s.token.pending_admin(), None);
    assert_eq!(s.token.scheduled_upgrade(), None);
    assert!(!s.token.paused());
}

#[test]
fn two_step_admin_transfer_with_cancel_and_expiry() {
    let s = setup();
    let next = Address::generate(&s.env);
    let seq = s.env.ledger().sequence();
    // The deadline must be in the future and within the network's maximum TTL.
    assert_eq!(
        s.token.try_propose_admin(&next, &seq),
        Err(Ok(E::InvalidExpiry))
    );
    let too_far = s.env.ledger().max_live_until_ledger() + 1;
    assert_eq!(
        s.token.try_propose_admin(&next, &too_far),
        Err(Ok(E::InvalidExpiry))
    );
    assert_eq!(s.token.try_cancel_admin(), Err(Ok(E::NoPendingAdmin)));
    s.token.propose_admin(&next, &(seq + 100));
    assert_eq!(
        s.env.events().all(),
        std::vec![AdminProposed {
            admin: s.admin.clone(),
            proposed: next.clone(),
            live_until_ledger: seq + 100
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(
        s.token.pending_admin(),
        Some(PendingAdmin {
            admin: next.clone(),
            live_until_ledger: seq + 100
        })
    );
    // Cancel: nothing to accept any more.
    s.token.cancel_admin();
    assert_eq!(
        s.env.events().all(),
        std::vec![AdminTransferCancelled {
            admin: s.admin.clone(),
            proposed: next.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.try_accept_admin(), Err(Ok(E::NoPendingAdmin)));
    // Expiry: past the deadline the proposal cannot be accepted.
    s.token.propose_admin(&next, &(seq + 100));
    s.env.ledger().set_sequence_number(seq + 101);
    assert!(matches!(
        s.token.try_accept_admin(),
        Err(Ok(E::AdminTransferExpired | E::NoPendingAdmin))
    ));
    assert_eq!(s.token.pending_admin(), None);
    // Accepted in time by the proposed admin (its own authorization).
    let seq = s.env.ledger().sequence();
    s.token.propose_admin(&next, &(seq + 100));
    let third = Address::generate(&s.env);
    only_signer(
        &s.env,
        &third,
        &s.token.address,
        "accept_admin",
        ().into_val(&s.env),
    );
    assert!(is_host_abort(s.token.try_accept_admin()));
    only_signer(
        &s.env,
        &s.admin,
        &s.token.address,
        "accept_admin",
        ().into_val(&s.env),
    );
    assert!(is_host_abort(s.token.try_accept_admin()));
    s.env.mock_all_auths();
    s.token.accept_admin();
    assert_eq!(
        s.env.auths(),
        std::vec![(
            next.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "accept_admin"),
                    ().into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![AdminChanged {
            previous: s.admin.clone(),
            admin: next.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.admin(), next);
    // The old admin lost its powers.
    only_signer(
        &s.env,
        &s.admin,
        &s.token.address,
        "pause",
        ().into_val(&s.env),
    );
    assert!(is_host_abort(s.token.try_pause()));
}

#[test]
fn upgrades_wait_for_the_timelock_and_can_be_cancelled() {
    let s = setup();
    assert_eq!(s.token.upgrade_delay(), DEFAULT_UPGRADE_DELAY);
    let hash = BytesN::from_array(&s.env, &[3; 32]);
    assert_eq!(s.token.try_upgrade(&hash), Err(Ok(E::NoScheduledUpgrade)));
    assert_eq!(s.token.try_cancel_upgrade(), Err(Ok(E::NoScheduledUpgrade)));
    let seq = s.env.ledger().sequence();
    let plan = s.token.schedule_upgrade(&hash);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.admin.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.token.address.clone(),
                    Symbol::new(&s.env, "schedule_upgrade"),
                    (hash.clone(),).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        plan,
        ScheduledUpgrade {
            wasm_hash: hash.clone(),
            ready_ledger: seq + DEFAULT_UPGRADE_DELAY
        }
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![UpgradeScheduled {
            wasm_hash: hash.clone(),
            ready_ledger: seq + DEFAULT_UPGRADE_DELAY
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.scheduled_upgrade(), Some(plan));
    // Not before the delay, and not another hash.
    assert_eq!(s.token.try_upgrade(&hash), Err(Ok(E::UpgradeNotReady)));
    s.env
        .ledger()
        .set_sequence_number(seq + DEFAULT_UPGRADE_DELAY);
    let other = BytesN::from_array(&s.env, &[4; 32]);
    assert_eq!(s.token.try_upgrade(&other), Err(Ok(E::NoScheduledUpgrade)));
    // Cancelled: it never runs.
    s.token.cancel_upgrade();
    assert_eq!(
        s.env.events().all(),
        std::vec![UpgradeCancelled {
            wasm_hash: hash.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.try_upgrade(&hash), Err(Ok(E::NoScheduledUpgrade)));
    // Running a ready upgrade is in the WASM tests (medimint-registry), which hold code.
}

#[test]
fn pause_stops_releases_grants_and_access_recording_not_revokes_or_reads() {
    let s = setup();
    let active = s.mint(1);
    let viewer = s.grantee(active, Role::Viewer, None);
    let pending = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 2));
    let other = s
        .token
        .propose_release(&s.issuer, &s.patient, &release(&s.env, 3));
    s.token.pause();
    assert_eq!(
        s.env.events().all(),
        std::vec![Paused {
            admin: s.admin.clone()
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert!(s.token.paused());
    assert_eq!(s.token.try_pause(), Err(Ok(E::Paused)));
    let who = Address::generate(&s.env);
    assert_eq!(
        s.token
            .try_propose_release(&s.issuer, &s.patient, &release(&s.env, 4)),
        Err(Ok(E::Paused))
    );
    assert_eq!(
        s.token.try_mint(&s.issuer, &s.patient, &release(&s.env, 4)),
        Err(Ok(E::Paused))
    );
    assert_eq!(
        s.token.try_approve_release(&s.patient, &pending),
        Err(Ok(E::Paused))
    );
    assert_eq!(
        s.token
            .try_grant(&s.patient, &active, &who, &Role::Viewer, &None),
        Err(Ok(E::Paused))
    );
    assert_eq!(
        s.token
            .try_record_access(&viewer, &active, &AccessKind::View),
        Err(Ok(E::Paused))
    );
    // What protects patients goes on: reject, withdraw, revoke, rotate, and every read.
    s.token
        .reject_release(&s.patient, &pending, &RejectReason::Declined);
    s.token.withdraw_release(&s.issuer, &other);
    s.token.revoke(&s.patient, &active, &viewer);
    let new = Address::generate(&s.env);
    s.token.rotate_owner(&active, &s.patient, &new);
    assert_eq!(s.token.owner_of(&active), new);
    assert_eq!(s.token.access(&active, &viewer), None);
    s.token.unpause();
    assert_eq!(s.token.try_unpause(), Err(Ok(E::NotPaused)));
    s.token.grant(&new, &active, &who, &Role::Viewer, &None);
    s.token.record_access(&who, &active, &AccessKind::View);
}
