//! The chain adapter and the deployment against the real contracts on a devnet.

mod common;

use std::sync::Arc;

use common::{operators, Operators};
use medimint_chain::clients::{IssuerKind, IssuerProfile, IssuerRegistry, StudyToken};
use medimint_chain::Rpc;
use medimint_ingest::{Chain, IssuerStatus, Proposal};
use medimint_sdk::keys::{Keypair, Mnemonic};
use medimint_stack::{deploy_suite, Deployment, RelayerChain};

#[test]
fn deploy_and_chain_adapter_on_the_devnet() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    let rpc_url = devnet.rpc_url();
    common::runtime().block_on(async {
        let Operators {
            rpc,
            network,
            relayer,
            admin,
            plan,
            ..
        } = operators(&devnet, 1).await;

        // Deploy: ids as planned, idempotent, and the file round-trips.
        let d = deploy_suite(&relayer, admin.signing_key(), &rpc_url)
            .await
            .unwrap();
        assert_eq!(d.issuer_registry.id, plan.issuer_registry);
        assert_eq!(d.study_token.id, plan.study_token);
        assert_eq!(d.registry.id, plan.registry);
        assert_eq!(d.network_passphrase, network.passphrase());
        assert_eq!(
            d.study_token.wasm_hash,
            hex::encode(medimint_chain::tx::wasm_hash(
                medimint_contract_wasm::STUDY_TOKEN
            ))
        );
        let again = deploy_suite(&relayer, admin.signing_key(), &rpc_url)
            .await
            .unwrap();
        assert_eq!(again, d);
        let dir = tempfile::tempdir().unwrap();
        d.write(&dir.path().join("d.json")).unwrap();
        assert_eq!(Deployment::read(&dir.path().join("d.json")).unwrap(), d);
        let err = Deployment::read(&dir.path().join("missing.json")).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");

        // The adapter.
        let seed = Arc::new(Mnemonic::generate().to_seed(""));
        let (chain, issuer) = RelayerChain::new(
            relayer.clone(),
            rpc.clone(),
            seed,
            d.issuer_registry.id.clone(),
            d.study_token.id.clone(),
        )
        .with_custodial_issuer(1_000)
        .unwrap();
        assert_eq!(
            chain.issuer_status(&issuer).await.unwrap(),
            IssuerStatus::Unknown
        );
        let issuer_key = chain.keypair(1_000).unwrap();
        assert_eq!(issuer_key.address(), issuer);
        relayer
            .create_sponsored_account("issuer", issuer_key.signing_key())
            .await
            .unwrap();
        let registry = IssuerRegistry::new(&relayer, d.issuer_registry.id.clone());
        let profile = IssuerProfile {
            name: "Test Hospital".into(),
            kind: IssuerKind::Hospital,
            jurisdiction: "US-CA".into(),
            evidence: [5; 32],
        };
        registry
            .add_issuer("add", admin.signing_key(), &issuer, &profile)
            .await
            .unwrap();
        assert_eq!(
            chain.issuer_status(&issuer).await.unwrap(),
            IssuerStatus::Trusted
        );
        registry
            .suspend_issuer("suspend", admin.signing_key(), &issuer)
            .await
            .unwrap();
        assert_eq!(
            chain.issuer_status(&issuer).await.unwrap(),
            IssuerStatus::Suspended
        );
        registry
            .reinstate_issuer("reinstate", admin.signing_key(), &issuer)
            .await
            .unwrap();
        assert_eq!(
            chain.issuer_status(&issuer).await.unwrap(),
            IssuerStatus::Trusted
        );

        // Patient accounts: derived at the index, created once.
        let patient = chain.ensure_patient_account(0).await.unwrap();
        assert_eq!(patient, chain.keypair(0).unwrap().address());
        assert!(rpc.account_sequence(&patient).await.unwrap().is_some());
        assert_eq!(chain.ensure_patient_account(0).await.unwrap(), patient);
        assert_ne!(chain.ensure_patient_account(1).await.unwrap(), patient);

        // Proposal and lookup by root.
        let root = hex::encode([9u8; 32]);
        assert_eq!(chain.token_by_root(&root).await.unwrap(), None);
        let proposal = Proposal {
            issuer: issuer.clone(),
            patient: patient.clone(),
            checksum_root: root.clone(),
            metadata_uri: format!("ipfs://b{}", "a".repeat(58)),
            file_count: 3,
        };
        let id = chain.propose_release(&proposal).await.unwrap();
        assert_eq!(chain.token_by_root(&root).await.unwrap(), Some(id.clone()));
        let token = StudyToken::new(&relayer, d.study_token.id.clone());
        let pending = token.page("pending_of", &patient, 0, 10).await.unwrap();
        assert_eq!(pending, vec![id.parse::<u32>().unwrap()]);

        // Errors name the step; no panic on bad input.
        let err = chain.token_by_root("zz").await.unwrap_err().to_string();
        assert!(err.contains("checksum root"), "{err}");
        let stranger = Proposal {
            issuer: Keypair::generate().address(),
            ..proposal
        };
        let err = chain
            .propose_release(&stranger)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no custodial key"), "{err}");
    });
}
