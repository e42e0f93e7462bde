//! Several issuers releasing to one patient within one ledger. Each proposal appends to the
//! patient's pending list, so every transaction simulated before the first of them applied
//! declares too few write bytes and fails with `ResourceLimitExceeded`, as on the network.
//! The relayer simulates such a transaction again and resubmits it: every release lands,
//! each exactly once.

mod common;

use std::sync::Arc;

use common::{operators, Operators};
use medimint_chain::clients::{IssuerKind, IssuerProfile, IssuerRegistry, StudyToken};
use medimint_ingest::{Chain, Proposal};
use medimint_sdk::keys::Mnemonic;
use medimint_stack::{deploy_suite, RelayerChain};

const ISSUERS: u32 = 4;

#[test]
fn releases_to_one_patient_in_one_ledger_all_land_once() {
    // Ledgers close on a timer, so the concurrent proposals meet in one ledger.
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        ledger_ms: 400,
        ..medimint_devnet::Config::default()
    })
    .unwrap();
    let rpc_url = devnet.rpc_url();
    common::runtime().block_on(async {
        // One channel per issuer, so all proposals are in flight at once.
        let Operators {
            rpc,
            relayer,
            admin,
            ..
        } = operators(&devnet, ISSUERS as usize).await;
        let d = deploy_suite(&relayer, admin.signing_key(), &rpc_url)
            .await
            .unwrap();

        let seed = Arc::new(Mnemonic::generate().to_seed(""));
        let mut chain = RelayerChain::new(
            relayer.clone(),
            rpc.clone(),
            seed,
            d.issuer_registry.id.clone(),
            d.study_token.id.clone(),
        );
        let registry = IssuerRegistry::new(&relayer, d.issuer_registry.id.clone());
        let mut issuers = Vec::new();
        for i in 0..ISSUERS {
            let (next, issuer) = chain.with_custodial_issuer(2_000 + i).unwrap();
            chain = next;
            let key = chain.keypair(2_000 + i).unwrap();
            relayer
                .create_sponsored_account(&format!("issuer-{i}"), key.signing_key())
                .await
                .unwrap();
            registry
                .add_issuer(
                    &format!("add-{i}"),
                    admin.signing_key(),
                    &issuer,
                    &IssuerProfile {
                        name: format!("Clinic {i}"),
                        kind: IssuerKind::Physician,
                        jurisdiction: "US-TX".into(),
                        evidence: [i as u8 + 1; 32],
                    },
                )
                .await
                .unwrap();
            issuers.push(issuer);
        }
        let patient = chain.ensure_patient_account(7).await.unwrap();

        let chain = Arc::new(chain);
        let mut tasks = tokio::task::JoinSet::new();
        for (i, issuer) in issuers.iter().enumerate() {
            let chain = chain.clone();
            let proposal = Proposal {
                issuer: issuer.clone(),
                patient: patient.clone(),
                checksum_root: hex::encode([0x40 + i as u8; 32]),
                metadata_uri: format!(
                    "ipfs://{}",
                    medimint_sdk::cid::cid_v1(format!("study {i}").as_bytes()).unwrap()
                ),
                file_count: 3,
            };
            tasks.spawn(async move { (i, chain.propose_release(&proposal).await) });
        }
        let mut ids = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.unwrap();
            ids.push(result.unwrap_or_else(|e| panic!("release {i}: {e}")));
        }

        let token = StudyToken::new(&relayer, d.study_token.id.clone());
        let mut pending = token.page("pending_of", &patient, 0, 50).await.unwrap();
        pending.sort_unstable();
        let mut expected: Vec<u32> = ids.iter().map(|id| id.parse().unwrap()).collect();
        expected.sort_unstable();
        assert_eq!(pending, expected, "each release pending once");
        assert_eq!(pending.len(), ISSUERS as usize);
        for (i, _) in issuers.iter().enumerate() {
            let root = hex::encode([0x40 + i as u8; 32]);
            let c = chain.commitment(&root).unwrap();
            assert!(token.token_of_commitment(&c.value).await.unwrap().is_some());
            assert!(chain.token_by_root(&root).await.unwrap().is_some());
        }
    });
}
