use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, BytesN, Event as _, IntoVal, String, Symbol, TryFromVal,
};

use super::{is_host_abort, profile, setup};
use crate::{
    IssuerAdded, IssuerKind, IssuerRegistryError as E, IssuerReinstated, IssuerRemoved,
    IssuerStatus, IssuerSuspended,
};

#[test]
fn add_issuer_records_profile_and_emits_event() {
    let s = setup();
    s.env.mock_all_auths();
    s.env.ledger().set_sequence_number(42);
    let issuer = Address::generate(&s.env);
    let p = profile(&s.env, "St. Elsewhere Hospital");
    s.client.add_issuer(&issuer, &p);

    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.admin.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.client.address.clone(),
                    Symbol::new(&s.env, "add_issuer"),
                    (&issuer, p.clone()).into_val(&s.env),
                )),
                sub_invocations: std::vec![],
            }
        )]
    );
    assert_eq!(
        s.env.events().all(),
        std::vec![IssuerAdded {
            issuer: issuer.clone(),
            kind: IssuerKind::Hospital,
            profile: p.clone()
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    let rec = s.client.issuer(&issuer);
    assert_eq!(rec.status, IssuerStatus::Active);
    assert_eq!(rec.profile, p);
    assert_eq!(
        (rec.added_ledger, rec.changed_ledger, rec.index),
        (42, 42, 0)
    );
    assert!(s.client.is_trusted(&issuer));
    assert_eq!(s.client.issuer_count(), 1);
}

#[test]
fn add_issuer_without_admin_signature_fails() {
    let s = setup();
    let issuer = Address::generate(&s.env);
    let r = s.client.try_add_issuer(&issuer, &profile(&s.env, "A"));
    assert!(is_host_abort(r));
    assert!(!s.client.is_trusted(&issuer));
    assert_eq!(s.client.issuer_count(), 0);
}

#[test]
fn add_issuer_twice_fails() {
    let s = setup();
    s.env.mock_all_auths();
    let issuer = Address::generate(&s.env);
    s.client.add_issuer(&issuer, &profile(&s.env, "A"));
    assert_eq!(
        s.client.try_add_issuer(&issuer, &profile(&s.env, "B")),
        Err(Ok(E::IssuerExists))
    );
    assert_eq!(
        s.client.issuer(&issuer).profile.name,
        String::from_str(&s.env, "A")
    );
}

#[test]
fn invalid_profiles_are_rejected_with_named_errors() {
    let s = setup();
    s.env.mock_all_auths();
    let issuer = Address::generate(&s.env);
    let env = &s.env;
    let cases = [
        ("", "US", [1u8; 32], E::InvalidProfileName),
        (&"x".repeat(65)[..], "US", [1u8; 32], E::InvalidProfileName),
        ("A", "U", [1u8; 32], E::InvalidJurisdiction),
        ("A", "US-CALIFORNIA-XXX", [1u8; 32], E::InvalidJurisdiction),
        ("A", "us", [1u8; 32], E::InvalidJurisdiction),
        ("A", "US CA", [1u8; 32], E::InvalidJurisdiction),
        ("A", "US", [0u8; 32], E::InvalidEvidence),
    ];
    for (name, jurisdiction, evidence, err) in cases {
        let mut p = profile(env, "x");
        p.name = String::from_str(env, name);
        p.jurisdiction = String::from_str(env, jurisdiction);
        p.evidence = BytesN::from_array(env, &evidence);
        assert_eq!(
            s.client.try_add_issuer(&issuer, &p),
            Err(Ok(err)),
            "{name:?} {jurisdiction:?}"
        );
    }
    let mut p = profile(env, &"y".repeat(64));
    p.jurisdiction = String::from_str(env, "DE-0123456789-AB");
    s.client.add_issuer(&issuer, &p);
    assert_eq!(s.client.issuer_count(), 1);
}

#[test]
fn suspend_and_reinstate_change_trust() {
    let s = setup();
    s.env.mock_all_auths();
    let issuer = Address::generate(&s.env);
    s.client.add_issuer(&issuer, &profile(&s.env, "A"));
    s.env.ledger().set_sequence_number(100);
    s.client.suspend_issuer(&issuer);
    assert_eq!(
        s.env.events().all(),
        std::vec![IssuerSuspended {
            issuer: issuer.clone()
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    assert!(!s.client.is_trusted(&issuer));
    let rec = s.client.issuer(&issuer);
    assert_eq!(
        (rec.status, rec.changed_ledger),
        (IssuerStatus::Suspended, 100)
    );
    assert_eq!(
        s.client.try_suspend_issuer(&issuer),
        Err(Ok(E::IssuerAlreadySuspended))
    );

    s.env.ledger().set_sequence_number(200);
    s.client.reinstate_issuer(&issuer);
    assert_eq!(
        s.env.events().all(),
        std::vec![IssuerReinstated {
            issuer: issuer.clone()
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    assert!(s.client.is_trusted(&issuer));
    assert_eq!(s.client.issuer(&issuer).changed_ledger, 200);
    assert_eq!(
        s.client.try_reinstate_issuer(&issuer),
        Err(Ok(E::IssuerNotSuspended))
    );
}

#[test]
fn suspend_reinstate_remove_need_admin() {
    let s = setup();
    s.env.mock_all_auths();
    let issuer = Address::generate(&s.env);
    s.client.add_issuer(&issuer, &profile(&s.env, "A"));
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.client.try_suspend_issuer(&issuer)));
    assert!(is_host_abort(s.client.try_remove_issuer(&issuer)));
    s.env.mock_all_auths();
    s.client.suspend_issuer(&issuer);
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.client.try_reinstate_issuer(&issuer)));
    assert_eq!(s.client.issuer(&issuer).status, IssuerStatus::Suspended);
}

#[test]
fn unknown_issuer_errors() {
    let s = setup();
    s.env.mock_all_auths();
    let who = Address::generate(&s.env);
    assert!(!s.client.is_trusted(&who));
    assert_eq!(s.client.try_issuer(&who), Err(Ok(E::IssuerNotFound)));
    assert_eq!(
        s.client.try_suspend_issuer(&who),
        Err(Ok(E::IssuerNotFound))
    );
    assert_eq!(
        s.client.try_reinstate_issuer(&who),
        Err(Ok(E::IssuerNotFound))
    );
    assert_eq!(s.client.try_remove_issuer(&who), Err(Ok(E::IssuerNotFound)));
}

#[test]
fn remove_keeps_enumeration_dense() {
    let s = setup();
    s.env.mock_all_auths();
    let a: std::vec::Vec<Address> = (0..4).map(|_| Address::generate(&s.env)).collect();
    for (i, addr) in a.iter().enumerate() {
        s.client
            .add_issuer(addr, &profile(&s.env, &std::format!("H{i}")));
    }
    s.client.remove_issuer(&a[1]);
    assert_eq!(
        s.env.events().all(),
        std::vec![IssuerRemoved {
            issuer: a[1].clone()
        }
        .to_xdr(&s.env, &s.client.address)]
    );
    assert!(!s.client.is_trusted(&a[1]));
    assert_eq!(s.client.try_issuer(&a[1]), Err(Ok(E::IssuerNotFound)));
    let page: std::vec::Vec<Address> = s
        .client
        .issuers(&0, &10)
        .iter()
        .map(|i| i.address)
        .collect();
    assert_eq!(page, std::vec![a[0].clone(), a[3].clone(), a[2].clone()]);
    assert_eq!(s.client.issuer(&a[3]).index, 1);
    // Removing the last slot moves nothing.
    s.client.remove_issuer(&a[2]);
    let page: std::vec::Vec<Address> = s
        .client
        .issuers(&0, &10)
        .iter()
        .map(|i| i.address)
        .collect();
    assert_eq!(page, std::vec![a[0].clone(), a[3].clone()]);
    // A removed issuer can be added again.
    s.client.add_issuer(&a[1], &profile(&s.env, "again"));
    assert_eq!(s.client.issuer(&a[1]).index, 2);
    assert_eq!(s.client.issuer_count(), 3);
}

#[test]
fn issuers_pagination_edges() {
    let s = setup();
    s.env.mock_all_auths();
    assert_eq!(s.client.issuers(&0, &crate::MAX_PAGE).len(), 0);
    let all: std::vec::Vec<Address> = (0..5).map(|_| Address::generate(&s.env)).collect();
    for addr in &all {
        s.client.add_issuer(addr, &profile(&s.env, "H"));
    }
    assert_eq!(s.client.try_issuers(&0, &0), Err(Ok(E::InvalidPageLimit)));
    assert_eq!(
        s.client.try_issuers(&0, &(crate::MAX_PAGE + 1)),
        Err(Ok(E::InvalidPageLimit))
    );
    let first = s.client.issuers(&0, &2);
    assert_eq!(first.len(), 2);
    assert_eq!(first.get_unchecked(0).address, all[0]);
    let last = s.client.issuers(&4, &2);
    assert_eq!(last.len(), 1);
    assert_eq!(last.get_unchecked(0).address, all[4]);
    assert_eq!(s.client.issuers(&5, &2).len(), 0);
    assert_eq!(s.client.issuers(&u32::MAX, &crate::MAX_PAGE).len(), 0);
    assert_eq!(s.client.issuers(&0, &crate::MAX_PAGE).len(), 5);
}

#[test]
fn a_full_page_reads_one_entry_per_issuer() {
    let s = setup();
    s.env.mock_all_auths();
    for _ in 0..crate::MAX_PAGE {
        s.client
            .add_issuer(&Address::generate(&s.env), &profile(&s.env, "H"));
    }
    s.client
        .suspend_issuer(&s.client.issuers(&0, &1).get_unchecked(0).address);
    let page = s.client.issuers(&0, &crate::MAX_PAGE);
    assert_eq!(page.len(), crate::MAX_PAGE);
    // The slot copy follows every change of the record.
    assert_eq!(page.get_unchecked(0).status, IssuerStatus::Suspended);
    let resources = s.env.cost_estimate().resources();
    // One slot per issuer, the instance and the contract's code entry, within a 100-entry
    // footprint (the first version read a slot and a record per issuer: 102 for 50).
    assert!(
        resources.disk_read_entries + resources.memory_read_entries <= crate::MAX_PAGE + 2,
        "{resources:?}"
    );
}

#[test]
fn a_full_page_of_the_largest_records_fits_the_return_value_limit() {
    use soroban_sdk::xdr::{Limits, ScVal, WriteXdr};
    let s = setup();
    s.env.mock_all_auths();
    // The largest profile the registry accepts, suspended (the longer status name); ledger
    // numbers are fixed-size in XDR.
    for n in 0..crate::MAX_PAGE {
        let issuer = Address::generate(&s.env);
        let profile = crate::IssuerProfile {
            name: String::from_str(&s.env, &std::format!("{n:02}{}", "x".repeat(62))),
            kind: IssuerKind::ImagingCentre,
            jurisdiction: String::from_str(&s.env, "US-CA-0123456789"),
            evidence: BytesN::from_array(&s.env, &[9; 32]),
        };
        s.client.add_issuer(&issuer, &profile);
        s.client.suspend_issuer(&issuer);
    }
    let page = s.client.issuers(&0, &crate::MAX_PAGE);
    assert_eq!(page.len(), crate::MAX_PAGE);
    let bytes = ScVal::try_from_val(&s.env, &page.to_val())
        .unwrap()
        .to_xdr(Limits::none())
        .unwrap()
        .len();
    // The network's limit on a transaction's events plus return value (reading emits no
    // events); a page of 50 would not fit.
    assert!(bytes <= 16 * 1024, "a full page is {bytes} bytes");
    assert!(bytes * 50 / crate::MAX_PAGE as usize > 16 * 1024, "{bytes}");
}
