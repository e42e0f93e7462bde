use soroban_sdk::{
    testutils::{Address as _, AuthorizedFunction, AuthorizedInvocation, Events as _, Ledger as _},
    Address, BytesN, Event as _, IntoVal, Symbol, Vec,
};

use super::{env, is_host_abort, suite, wasm};
use crate::{MemberUpgraded, RegistryError as E, SuiteRegistry, SuiteRegistryClient, MAX_PAGE};

#[test]
fn deploys_members_at_predicted_addresses() {
    let s = suite();
    let issuers = Symbol::new(&s.env, "issuers");
    let studies = Symbol::new(&s.env, "studies");
    assert_eq!(s.registry.address_of(&issuers), s.issuers.address);
    assert_eq!(s.registry.address_of(&studies), s.studies.address);
    let m = s.registry.member(&issuers);
    assert_eq!(
        (m.contract.clone(), m.wasm_hash.clone(), m.version, m.index),
        (s.issuers.address.clone(), s.issuers_hash.clone(), 1, 0)
    );
    assert_eq!(s.registry.member(&studies).wasm_hash, s.studies_hash);
    // Constructor arguments reached the members.
    assert_eq!(s.issuers.admin(), s.admin);
    assert_eq!(s.studies.issuer_registry(), s.issuers.address);
    let names: std::vec::Vec<Symbol> = s
        .registry
        .members(&0, &MAX_PAGE)
        .iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, std::vec![issuers.clone(), studies]);
    assert_eq!(s.registry.members(&1, &1).len(), 1);
    assert_eq!(s.registry.members(&2, &1).len(), 0);
    assert_eq!(s.registry.try_members(&0, &0), Err(Ok(E::InvalidPageLimit)));
    assert_eq!(
        s.registry.try_members(&0, &(MAX_PAGE + 1)),
        Err(Ok(E::InvalidPageLimit))
    );
    assert_eq!(
        s.registry.try_member(&Symbol::new(&s.env, "nope")),
        Err(Ok(E::MemberNotFound))
    );
    assert_eq!(s.registry.admin(), s.admin);
}

#[test]
fn a_name_is_deployed_once_and_only_by_the_admin() {
    let s = suite();
    let args: Vec<soroban_sdk::Val> = (&s.admin,).into_val(&s.env);
    assert_eq!(
        s.registry
            .try_deploy(&Symbol::new(&s.env, "issuers"), &s.issuers_hash, &args),
        Err(Ok(E::MemberExists))
    );
    s.env.set_auths(&[]);
    assert!(is_host_abort(s.registry.try_deploy(
        &Symbol::new(&s.env, "other"),
        &s.issuers_hash,
        &args
    )));
    assert_eq!(s.registry.members(&0, &10).len(), 2);
}

#[test]
fn admin_upgrades_a_member_through_the_registry() {
    let s = suite();
    let name = Symbol::new(&s.env, "issuers");
    // The member's own timelock applies: nothing scheduled, nothing runs.
    assert!(s
        .registry
        .try_upgrade_member(&name, &s.issuers_hash)
        .is_err());
    s.issuers.schedule_upgrade(&s.issuers_hash);
    s.env
        .ledger()
        .set_sequence_number(s.env.ledger().sequence() + super::UPGRADE_DELAY);
    // Re-installing the same code still exercises the whole upgrade path.
    let version = s.registry.upgrade_member(&name, &s.issuers_hash);
    assert_eq!(version, 2);
    assert_eq!(
        s.env.auths(),
        std::vec![(
            s.admin.clone(),
            AuthorizedInvocation {
                function: AuthorizedFunction::Contract((
                    s.registry.address.clone(),
                    Symbol::new(&s.env, "upgrade_member"),
                    (&name, &s.issuers_hash).into_val(&s.env),
                )),
                sub_invocations: std::vec![AuthorizedInvocation {
                    function: AuthorizedFunction::Contract((
                        s.issuers.address.clone(),
                        Symbol::new(&s.env, "upgrade"),
                        (&s.issuers_hash,).into_val(&s.env),
                    )),
                    sub_invocations: std::vec![],
                }],
            }
        )]
    );
    let events = s.env.events().all().filter_by_contract(&s.registry.address);
    assert_eq!(
        events,
        std::vec![MemberUpgraded {
            name: name.clone(),
            contract: s.issuers.address.clone(),
            wasm_hash: s.issuers_hash.clone(),
            version: 2
        }
        .to_xdr(&s.env, &s.registry.address)]
    );
    assert_eq!(s.registry.member(&name).version, 2);
    assert_eq!(
        s.registry
            .try_upgrade_member(&Symbol::new(&s.env, "x"), &s.issuers_hash),
        Err(Ok(E::MemberNotFound))
    );
    // An unscheduled hash fails in the member and nothing is recorded.
    assert!(s
        .registry
        .try_upgrade_member(&name, &BytesN::from_array(&s.env, &[4; 32]))
        .is_err());
    assert_eq!(s.registry.member(&name).version, 2);
    s.env.set_auths(&[]);
    assert!(is_host_abort(
        s.registry.try_upgrade_member(&name, &s.issuers_hash)
    ));
}

#[test]
fn registry_upgrades_itself_to_its_wasm() {
    let env = env();
    env.mock_all_auths();
    let admin = Address::generate(&env);
    let id = env.register(wasm("medimint-registry").as_slice(), (&admin, None::<u32>));
    let client = SuiteRegistryClient::new(&env, &id);
    let hash = env
        .deployer()
        .upload_contract_wasm(wasm("medimint-registry").as_slice());
    assert_eq!(client.upgrade_delay(), crate::DEFAULT_UPGRADE_DELAY);
    client.schedule_upgrade(&hash);
    env.ledger()
        .set_sequence_number(env.ledger().sequence() + crate::DEFAULT_UPGRADE_DELAY - 1);
    assert_eq!(client.try_upgrade(&hash), Err(Ok(E::UpgradeNotReady)));
    env.ledger()
        .set_sequence_number(env.ledger().sequence() + 1);
    client.upgrade(&hash);
    assert_eq!(client.admin(), admin);
    assert_eq!(client.scheduled_upgrade(), None);
    client.schedule_upgrade(&hash);
    env.set_auths(&[]);
    assert!(is_host_abort(client.try_upgrade(&hash)));
    let _ = SuiteRegistry;
}
