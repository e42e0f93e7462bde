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
    s.client.propose_admin(&next, &11);
    s.env.ledger().set_sequence_number(12);
    assert_eq!(
        s.client.try_accept_admin(),
        Err(Ok(E::AdminTransferExpired))
    );
    assert_eq!(s.client.admin(), s.admin);
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
    // `upgrade` returns no contract error, so the host's failure comes back as-is.
    assert_eq!(s.client.try_upgrade(&hash), Err(Ok(super::AUTH_FAILED)));
    // A successful upgrade is tested against the built WASM (tests/wasm.rs).
}
