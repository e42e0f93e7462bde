use soroban_sdk::{testutils::Address as _, Address};

use super::{release, setup};
use crate::{Role, StudyTokenError as E, MAX_PAGE};

#[test]
fn page_limits_are_bounded() {
    let s = setup();
    let id = s.mint(1);
    for limit in [0, MAX_PAGE + 1] {
        assert_eq!(
            s.token.try_tokens_of(&s.patient, &0, &limit),
            Err(Ok(E::InvalidPageLimit))
        );
        assert_eq!(
            s.token.try_pending_of(&s.patient, &0, &limit),
            Err(Ok(E::InvalidPageLimit))
        );
        assert_eq!(
            s.token.try_shared_with(&s.issuer, &0, &limit),
            Err(Ok(E::InvalidPageLimit))
        );
        assert_eq!(
            s.token.try_grants(&id, &0, &limit),
            Err(Ok(E::InvalidPageLimit))
        );
    }
    assert_eq!(s.token.tokens_of(&s.patient, &0, &MAX_PAGE).len(), 1);
}

#[test]
fn owned_tokens_page_by_page() {
    let s = setup();
    let ids: std::vec::Vec<u32> = (1..=7).map(|n| s.mint(n)).collect();
    let empty = Address::generate(&s.env);
    assert_eq!(s.token.tokens_of(&empty, &0, &5).len(), 0);
    let mut seen = std::vec::Vec::new();
    let mut start = 0;
    loop {
        let page = s.token.tokens_of(&s.patient, &start, &3);
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        seen.extend(page.iter());
        start += page.len();
    }
    assert_eq!(seen, ids);
    assert_eq!(s.token.tokens_of(&s.patient, &6, &3).len(), 1);
    assert_eq!(s.token.tokens_of(&s.patient, &7, &3).len(), 0);
    assert_eq!(s.token.tokens_of(&s.patient, &u32::MAX, &MAX_PAGE).len(), 0);
}

#[test]
fn pending_list_stays_dense_as_decisions_arrive() {
    let s = setup();
    let ids: std::vec::Vec<u32> = (1..=4)
        .map(|n| {
            s.token
                .propose_release(&s.issuer, &s.patient, &release(&s.env, n))
        })
        .collect();
    s.token.approve_release(&s.patient, &ids[0]);
    let pending: std::vec::Vec<u32> = s.token.pending_of(&s.patient, &0, &10).iter().collect();
    assert_eq!(pending, std::vec![ids[3], ids[1], ids[2]]);
    s.token
        .reject_release(&s.patient, &ids[2], &crate::RejectReason::Duplicate);
    let pending: std::vec::Vec<u32> = s.token.pending_of(&s.patient, &0, &10).iter().collect();
    assert_eq!(pending, std::vec![ids[3], ids[1]]);
    // Every listed token knows its slot, so further removals stay correct.
    s.token.approve_release(&s.patient, &ids[3]);
    s.token.approve_release(&s.patient, &ids[1]);
    assert_eq!(s.token.pending_of(&s.patient, &0, &10).len(), 0);
    assert_eq!(s.token.balance(&s.patient), 3);
}

#[test]
fn grants_and_shared_lists_stay_consistent() {
    let s = setup();
    let a = s.mint(1);
    let b = s.mint(2);
    let c = s.mint(3);
    let viewer = Address::generate(&s.env);
    for id in [a, b, c] {
        s.token
            .grant(&s.patient, &id, &viewer, &Role::Viewer, &None);
    }
    let others: std::vec::Vec<Address> = (0..3).map(|_| s.grantee(a, Role::Viewer, None)).collect();
    assert_eq!(s.token.grants(&a, &0, &50).len(), 4); // viewer, three others (not the issuer)
    s.token.revoke(&s.patient, &a, &viewer);
    let shared: std::vec::Vec<u32> = s.token.shared_with(&viewer, &0, &10).iter().collect();
    assert_eq!(shared, std::vec![c, b]);
    let grantees: std::vec::Vec<Address> = s
        .token
        .grants(&a, &0, &50)
        .iter()
        .map(|g| g.grantee)
        .collect();
    assert_eq!(
        grantees,
        std::vec![others[2].clone(), others[0].clone(), others[1].clone()]
    );
    // Slots recorded in moved grants were updated: revoking them works and empties the lists.
    for who in &others {
        s.token.revoke(&s.patient, &a, who);
    }
    s.token.revoke(&s.patient, &c, &viewer);
    s.token.revoke(&s.patient, &b, &viewer);
    assert_eq!(s.token.shared_with(&viewer, &0, &10).len(), 0);
    let grantees: std::vec::Vec<Address> = s
        .token
        .grants(&a, &0, &50)
        .iter()
        .map(|g| g.grantee)
        .collect();
    assert!(grantees.is_empty());
    assert_eq!(s.token.grants(&a, &1, &50).len(), 0);
    // The issuer's implicit Viewer roles are not listed.
    assert_eq!(s.token.shared_with(&s.issuer, &0, &50).len(), 0);
    assert_eq!(s.token.access(&a, &s.issuer).unwrap().role, Role::Viewer);
}

#[test]
fn long_lists_span_chunks_and_stay_dense() {
    let s = setup();
    let n = 2 * crate::CHUNK + 5;
    let ids: std::vec::Vec<u32> = (1..=n as u8).map(|k| s.mint(k)).collect();
    let all = |who: &Address| {
        let mut out = std::vec::Vec::new();
        let mut start = 0;
        loop {
            let page = s.token.tokens_of(who, &start, &7);
            if page.is_empty() {
                return out;
            }
            start += page.len();
            out.extend(page.iter());
        }
    };
    assert_eq!(all(&s.patient), ids);
    assert_eq!(s.token.balance(&s.patient), n);
    let page = s.token.tokens_of(&s.patient, &(crate::CHUNK - 2), &4);
    assert_eq!(page.len(), 4);
    assert_eq!(page.get_unchecked(0), ids[crate::CHUNK as usize - 2]);
    // Remove from the head chunk, a middle chunk and the last one.
    let new = Address::generate(&s.env);
    for i in [0usize, 20, n as usize - 1, 3] {
        s.token.rotate_owner(&ids[i], &s.patient, &new);
    }
    let mut left = all(&s.patient);
    left.sort();
    let mut expected: std::vec::Vec<u32> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| ![0usize, 20, n as usize - 1, 3].contains(i))
        .map(|(_, id)| *id)
        .collect();
    expected.sort();
    assert_eq!(left, expected);
    // Every moved token learned its slot: rotating all of them back empties the list.
    for id in all(&s.patient) {
        s.token.rotate_owner(&id, &s.patient, &new);
    }
    assert_eq!(s.token.balance(&s.patient), 0);
    assert_eq!(all(&s.patient).len(), 0);
    assert_eq!(s.token.balance(&new), n);
}
