use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, BytesN, Event as _, IntoVal, Symbol,
};

use super::{is_host_abort, setup};
use crate::{AdminChanged, AdminProposed, IssuerRegistryError as E, PendingAdmin};

#[test]
fn two_step_admin_transfer() {
    let s = setup();
    s.env.mock_all_auths();
    s.env.ledger().set_sequence_number(10);
    let next = Address::generate(&s.env);
    s.client.propose_admin(&next, &20);
    assert_eq!(
        s.env.events().all(),
        std::vec![AdminProposed {
            admin: s.admin.clone(),
            proposed: next.clone(),
            live_until_ledger: 20
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    assert_eq!(
        s.client.pending_admin(),
        Some(PendingAdmin {
            admin: next.clone(),
            live_until_ledger: 20
        })
    );
    assert_eq!(s.client.admin(), s.admin);

    s.env.ledger().set_sequence_number(20);
    s.client.accept_admin();
    assert_eq!(
        s.env.auths(),
        std::vec![(
            next.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.client.address.clone(),
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
        .to_xdr(&s.env, &s.client.address)]
    );
    assert_eq!(s.client.admin(), next);
    assert_eq!(s.client.pending_admin(), None);
    assert_eq!(s.client.try_accept_admin(), Err(Ok(E::NoPendingAdmin)));
}

#[test]
fn admin_transfer_expires() {
    let s = setup();
    s.env.mock_all_auths();
    s.env.ledger().set_sequence_number(10);
    let next = Address::generate(&s.env);
    assert_eq!(
        s.client.try_propose_admin(&next, &10),
        Err(Ok(E::InvalidExpiry))
    );
    let too_far = s.env.ledger().max_live_until_ledger() + 1;
    assert_eq!(
        s.client.try_propose_admin(&next, &too_far),
        Err(Ok(E::InvalidExpiry))
    );
    s.client.propose_admin(&next, &11);
    s.env.ledger().set_sequence_number(12);
    assert!(matches!(
        s.client.try_accept_admin(),
        Err(Ok(E::AdminTransferExpired | E::NoPendingAdmin))
    ));
    assert_eq!(s.client.pending_admin(), None);
    assert_eq!(s.client.admin(), s.admin);
}

#[test]
fn admin_transfer_can_be_cancelled() {
    let s = setup();
    s.env.mock_all_auths();
    let next = Address::generate(&s.env);
    assert_eq!(s.client.try_cancel_admin(), Err(Ok(E::NoPendingAdmin)));
    s.client.propose_admin(&next, &100);
    s.client.cancel_admin();
    assert_eq!(
        s.env.events().all(),
        std::vec![crate::AdminTransferCancelled {
            admin: s.admin.clone(),
            proposed: next.clone()
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    assert_eq!(s.client.pending_admin(), None);
    assert_eq!(s.client.try_accept_admin(), Err(Ok(E::NoPendingAdmin)));
    assert_eq!(s.client.admin(), s.admin);
}

#[test]
fn every_admin_function_refuses_an_issuer_and_a_third_party() {
    use soroban_sdk::{testutils::MockAuth, testutils::MockAuthInvoke, Val, Vec};
    let s = setup();
    s.env.mock_all_auths();
    let issuer = Address::generate(&s.env);
    s.client.add_issuer(&issuer, &super::profile(&s.env, "H"));
    let third = Address::generate(&s.env);
    let hash = BytesN::from_array(&s.env, &[1; 32]);
    let calls: std::vec::Vec<(&str, Vec<Val>)> = std::vec![
        (
            "add_issuer",
            (third.clone(), super::profile(&s.env, "X")).into_val(&s.env)
        ),
        ("suspend_issuer", (issuer.clone(),).into_val(&s.env)),
        ("reinstate_issuer", (issuer.clone(),).into_val(&s.env)),
        ("remove_issuer", (issuer.clone(),).into_val(&s.env)),
        ("propose_admin", (third.clone(), 100u32).into_val(&s.env)),
        ("cancel_admin", ().into_val(&s.env)),
        ("schedule_upgrade", (hash.clone(),).into_val(&s.env)),
        ("cancel_upgrade", ().into_val(&s.env)),
        ("upgrade", (hash.clone(),).into_val(&s.env)),
    ];
    for (function, args) in calls {
        for who in [&issuer, &third] {
            s.env.mock_auths(&[MockAuth {
                address: who,
                invoke: &MockAuthInvoke {
                    contract: &s.client.address,
                    fn_name: function,
                    args: args.clone(),
                    sub_invokes: &[],
                },
            }]);
            let result = s.env.try_invoke_contract::<Val, soroban_sdk::Error>(
                &s.client.address,
                &Symbol::new(&s.env, function),
                args.clone(),
            );
            assert!(
                result.is_err(),
                "{function} signed by a non-admin succeeded"
            );
        }
    }
    s.env.mock_all_auths();
    assert!(s.client.is_trusted(&issuer));
    assert_eq!(s.client.issuer_count(), 1);
    assert_eq!(s.client.pending_admin(), None);
    assert_eq!(s.client.scheduled_upgrade(), None);
}

#[test]
fn upgrades_wait_for_the_timelock() {
    let s = setup();
    s.env.mock_all_auths();
    let hash = BytesN::from_array(&s.env, &[1; 32]);
    assert_eq!(s.client.upgrade_delay(), crate::DEFAULT_UPGRADE_DELAY);
    assert_eq!(s.client.try_upgrade(&hash), Err(Ok(E::NoScheduledUpgrade)));
    let plan = s.client.schedule_upgrade(&hash);
    assert_eq!(
        plan.ready_ledger,
        s.env.ledger().sequence() + crate::DEFAULT_UPGRADE_DELAY
    );
    assert_eq!(s.client.try_upgrade(&hash), Err(Ok(E::UpgradeNotReady)));
    s.client.cancel_upgrade();
    assert_eq!(s.client.scheduled_upgrade(), None);
    assert_eq!(s.client.try_upgrade(&hash), Err(Ok(E::NoScheduledUpgrade)));
}

#[test]
fn admin_transfer_needs_both_signatures() {
    let s = setup();
    let next = Address::generate(&s.env);
    assert!(is_host_abort(s.client.try_propose_admin(&next, &100)));
    s.env.mock_all_auths();
    s.client.propose_admin(&next, &100);
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.client.try_accept_admin()));
    assert_eq!(s.client.admin(), s.admin);
}

#[test]
fn upgrade_needs_admin() {
    let s = setup();
    let hash = BytesN::from_array(&s.env, &[1; 32]);
    assert!(is_host_abort(s.client.try_upgrade(&hash)));
    // A successful upgrade is tested against the built WASM (tests/wasm.rs).
}
