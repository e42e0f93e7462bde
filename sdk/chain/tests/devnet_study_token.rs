//! The typed study-token client against the real contracts on the devnet: an issuer is
//! whitelisted, proposes a release, the patient approves it, shares it, and the viewer's
//! access is recorded — every call sponsored.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use medimint_chain::clients::{
    AccessKind, IssuerKind, IssuerProfile, IssuerRegistry, Release, Role, StudyToken,
};
use medimint_chain::relayer::{Policy, Relayer, RelayerConfig};
use medimint_chain::scval::arg;
use medimint_chain::tx;
use medimint_chain::{Backoff, Signer};
use stellar_xdr::ScVal;
use support::deploy::{deploy, funded_operators, Operators};

#[test]
fn release_consent_share_and_access_through_the_typed_client() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config {
        port: 0,
        ..Default::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let backoff = Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        };
        let Operators {
            rpc,
            network,
            sponsor,
            channel,
        } = funded_operators(&devnet, 210, 211, backoff).await;
        let (admin, issuer, patient, viewer) = (
            SigningKey::from_bytes(&[11; 32]),
            SigningKey::from_bytes(&[12; 32]),
            SigningKey::from_bytes(&[13; 32]),
            SigningKey::from_bytes(&[14; 32]),
        );
        let registry_id =
            tx::contract_address(&network, &admin.address(), tx::salt(b"issuer-registry")).unwrap();
        let token_id =
            tx::contract_address(&network, &admin.address(), tx::salt(b"study-token")).unwrap();
        let policy = Policy::new(5_000_000_000, 10_000_000_000)
            .with_deploy()
            .allow(&registry_id, &["add_issuer", "is_trusted", "issuer_count"])
            .allow(
                &token_id,
                &[
                    "propose_release",
                    "approve_release",
                    "grant",
                    "record_access",
                ],
            );
        let config = RelayerConfig {
            backoff,
            ..RelayerConfig::default()
        };
        let relayer = Relayer::new(
            rpc.clone(),
            network.clone(),
            sponsor.clone(),
            vec![channel.clone() as Arc<dyn Signer>],
            policy,
            config,
        )
        .unwrap();
        for (k, who) in [
            ("a", &admin),
            ("i", &issuer),
            ("p", &patient),
            ("v", &viewer),
        ] {
            relayer.create_sponsored_account(k, who).await.unwrap();
        }
        // Deploy the two contracts with their constructors.
        for (package, salt, args) in [
            (
                "medimint-issuer-registry",
                "issuer-registry",
                vec![arg::address(&admin.address()).unwrap(), ScVal::Void],
            ),
            (
                "medimint-study-token",
                "study-token",
                vec![
                    arg::address(&admin.address()).unwrap(),
                    arg::address(&registry_id).unwrap(),
                    arg::string("MediMint Study").unwrap(),
                    arg::string("MMS").unwrap(),
                    ScVal::Void,
                ],
            ),
        ] {
            deploy(&relayer, &admin, package, salt, args).await;
        }
        let issuers = IssuerRegistry::new(&relayer, registry_id.clone());
        assert!(!issuers.is_trusted(&issuer.address()).await.unwrap());
        let profile = IssuerProfile {
            name: "General Hospital".into(),
            kind: IssuerKind::Hospital,
            jurisdiction: "US-CA".into(),
            evidence: [9; 32],
        };
        issuers
            .add_issuer("add-issuer", &admin, &issuer.address(), &profile)
            .await
            .unwrap();
        assert!(issuers.is_trusted(&issuer.address()).await.unwrap());
        assert_eq!(issuers.issuer_count().await.unwrap(), 1);

        let token = StudyToken::new(&relayer, token_id.clone());
        let release = Release {
            metadata_uri: format!("ipfs://b{}", "a".repeat(58)),
            commitment: [42; 32],
            file_count: 3,
            request_id: None,
        };
        let (id, landed) = token
            .propose_release("propose", &issuer, &patient.address(), &release)
            .await
            .unwrap();
        assert!(landed
            .events
            .iter()
            .any(|e| e.name().as_deref() == Some("release_proposed")));
        assert_eq!(
            token.token_of_commitment(&[42; 32]).await.unwrap(),
            Some(id)
        );
        // Pending: not yet verifiable, nobody has access.
        assert!(!token.verify(id, &[42; 32]).await.unwrap());
        assert_eq!(token.access(id, &patient.address()).await.unwrap(), None);

        token
            .approve_release("approve", &patient, id)
            .await
            .unwrap();
        assert_eq!(token.owner_of(id).await.unwrap(), patient.address());
        assert!(token.verify(id, &[42; 32]).await.unwrap());
        assert!(!token.verify(id, &[43; 32]).await.unwrap());
        assert_eq!(
            token
                .page("tokens_of", &patient.address(), 0, 10)
                .await
                .unwrap(),
            vec![id]
        );

        token
            .grant("share", &patient, id, &viewer.address(), Role::Viewer, None)
            .await
            .unwrap();
        let access = token.access(id, &viewer.address()).await.unwrap().unwrap();
        assert_eq!(access.role, Role::Viewer);
        assert_eq!(access.granter, patient.address());
        assert_eq!(access.expires_at, None);
        let landed = token
            .record_access("view", &viewer, id, AccessKind::View)
            .await
            .unwrap();
        assert!(landed
            .events
            .iter()
            .any(|e| e.name().as_deref() == Some("access_recorded")));
        // Only the owner approves: the viewer's own signature gets NotOwner (201), and
        // nothing is paid for it.
        let err = token.approve_release("bad", &viewer, id).await.unwrap_err();
        assert!(
            matches!(&err, medimint_chain::Error::Simulation(m) if m.contains("#201")),
            "{err}"
        );
    });
    drop(rt);
    drop(devnet);
}
