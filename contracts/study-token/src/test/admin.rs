use soroban_sdk::{testutils::Events as _, BytesN, Event as _};

use super::{is_host_abort, setup};
use crate::{PendingWindowSet, StudyTokenError as E, DEFAULT_PENDING_WINDOW, MAX_PENDING_WINDOW};

#[test]
fn pending_window_is_admin_set_and_bounded() {
    let s = setup();
    assert_eq!(s.token.pending_window(), DEFAULT_PENDING_WINDOW);
    assert_eq!(
        s.token.try_set_pending_window(&0),
        Err(Ok(E::InvalidPendingWindow))
    );
    assert_eq!(
        s.token.try_set_pending_window(&(MAX_PENDING_WINDOW + 1)),
        Err(Ok(E::InvalidPendingWindow))
    );
    s.token.set_pending_window(&MAX_PENDING_WINDOW);
    assert_eq!(
        s.env.events().all(),
        std::vec![PendingWindowSet {
            window: MAX_PENDING_WINDOW
        }
        .to_xdr(&s.env, &s.token.address)]
    );
    assert_eq!(s.token.pending_window(), MAX_PENDING_WINDOW);
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.token.try_set_pending_window(&5)));
    assert_eq!(s.token.pending_window(), MAX_PENDING_WINDOW);
}

#[test]
fn upgrade_needs_admin() {
    let s = setup();
    s.env.set_auths(&[]);
    assert!(is_host_abort(
        s.token.try_upgrade(&BytesN::from_array(&s.env, &[3; 32]))
    ));
    // A successful upgrade runs against the built WASM (medimint-registry's WASM tests).
}
