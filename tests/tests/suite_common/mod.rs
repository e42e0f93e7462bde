//! The set-up the API tests over a real suite share: an in-process devnet, the platform
//! deployed on it with General Hospital as a trusted issuer, synthetic studies released to a
//! patient, and the API as `medimint up` serves it.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use medimint_api::mailer::OutboxMailer;
use medimint_chain::clients::{IssuerKind, IssuerProfile};
use medimint_platform::{Config, IssuerSpec, PatientSpec, Platform, ReleaseSpec};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};

use axum::http::StatusCode;

use crate::common::{self, Reply, TestApi};

/// The devnet, the deployed platform and its first issuer; the devnet is dropped outside
/// the test's runtime.
pub struct Suite {
    pub platform: Arc<Platform>,
    /// General Hospital's address.
    pub issuer: String,
    devnet: Option<medimint_devnet::Devnet>,
    dir: tempfile::TempDir,
}

impl Drop for Suite {
    fn drop(&mut self) {
        // The devnet owns a runtime, which may not be dropped inside the test's.
        if let Some(devnet) = self.devnet.take() {
            let _ = std::thread::spawn(move || drop(devnet)).join();
        }
    }
}

impl Suite {
    pub fn devnet(&self) -> &medimint_devnet::Devnet {
        self.devnet.as_ref().unwrap()
    }

    /// The data directory (exports and the outbox live here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Releases a generated study (`series` × `per_series` files) of `patient` by `issuer`
    /// under release id `R-<uid>`: its token id and its files.
    pub async fn release(
        &self,
        issuer: &str,
        patient: &Patient,
        uid: &str,
        series: u32,
        per_series: u32,
    ) -> (String, Vec<(String, Vec<u8>)>) {
        let files = generate_study(
            &SyntheticPatient {
                name: patient.dicom_name.into(),
                birth_date: patient.dicom_birth_date.into(),
                id: patient.id.into(),
            },
            uid,
            series,
            per_series,
        )
        .unwrap();
        let export = self.dir().join(uid);
        for (name, bytes) in &files {
            let p = export.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        let outcome = self
            .platform
            .release(
                &ReleaseSpec {
                    issuer: issuer.to_string(),
                    release_id: format!("R-{uid}"),
                    patient: PatientSpec {
                        email: patient.email.into(),
                        family_name: patient.family_name.into(),
                        given_names: patient.given_names.into(),
                        birth_date: patient.birth_date.into(),
                        patient_id: patient.id.into(),
                    },
                    study_instance_uid: Some(uid.to_string()),
                    paths: vec![export],
                },
                |_, _| {},
            )
            .await
            .unwrap();
        match outcome {
            medimint_ingest::Outcome::Released { token_id, .. } => (token_id, files),
            other => panic!("not released: {other:?}"),
        }
    }

    /// Funds `address` on the devnet from its root account, as a wallet's owner would.
    pub async fn fund(&self, address: &str) {
        let network = medimint_chain::Network::new(self.devnet().passphrase());
        let root = medimint_sdk::keys::Keypair::from_secret(&self.devnet().root_keypair().secret())
            .unwrap();
        let rpc = medimint_chain::StellarRpc::new(
            &self.devnet().rpc_url(),
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        medimint_chain::accounts::ensure_funded_accounts(
            &rpc,
            &network,
            root.signing_key(),
            &[address.to_owned()],
            100 * 10_000_000,
            medimint_chain::Backoff::default(),
        )
        .await
        .unwrap();
    }

    /// An external wallet's account: funded on the devnet (as its owner would) and linked to
    /// `email` in the platform's database (only its public key is known).
    pub async fn link_wallet(&self, email: &str, wallet: &medimint_sdk::keys::Keypair) {
        self.fund(&wallet.address()).await;
        self.platform
            .db()
            .insert_account(&medimint_storage::Account {
                email: email.into(),
                address: wallet.address(),
                custody: medimint_storage::Custody::External,
                hd_index: None,
                created_at: medimint_storage::now(),
            })
            .await
            .unwrap();
    }

    /// The patient approves the release.
    pub async fn approve(&self, email: &str, token: &str) {
        self.platform
            .consent_with(
                email,
                token,
                true,
                medimint_chain::clients::RejectReason::Declined,
            )
            .await
            .unwrap();
    }

    /// The API as `medimint up` serves it (accounts and roles from the platform and chain),
    /// mailing into the data directory's outbox.
    pub fn api(&self) -> TestApi {
        let outbox = self.dir().join("outbox");
        let state = medimint_api::opener::with_platform(
            self.api_config(),
            self.platform.seed(),
            self.platform.clone(),
            Arc::new(OutboxMailer::new(&outbox)),
        );
        TestApi::from_state(state, outbox)
    }

    /// The API tests' configuration on this suite's network.
    pub fn api_config(&self) -> medimint_api::ApiConfig {
        let mut config = common::config();
        config.network_passphrase = self.platform.config().network.passphrase.clone();
        config
    }
}

/// A patient of the synthetic studies, in the DICOM header's and the release's spellings.
pub struct Patient {
    pub email: &'static str,
    pub dicom_name: &'static str,
    pub family_name: &'static str,
    pub given_names: &'static str,
    pub dicom_birth_date: &'static str,
    pub birth_date: &'static str,
    pub id: &'static str,
}

pub const JANE: Patient = Patient {
    email: "jane@example.org",
    dicom_name: "DOE^JANE",
    family_name: "DOE",
    given_names: "JANE",
    dicom_birth_date: "19800102",
    birth_date: "1980-01-02",
    id: "MRN-7",
};

/// A hospital's issuer record.
pub fn issuer(email: &str, name: &str) -> IssuerSpec {
    IssuerSpec {
        email: email.into(),
        address: None,
        profile: IssuerProfile {
            name: name.into(),
            kind: IssuerKind::Hospital,
            jurisdiction: "US-CA".into(),
            evidence: [7; 32],
        },
    }
}

/// A devnet with the suite deployed and General Hospital trusted.
pub async fn suite() -> Suite {
    let dir = tempfile::tempdir().unwrap();
    let devnet = tokio::task::spawn_blocking(|| {
        medimint_devnet::Devnet::start(medimint_devnet::Config::default())
    })
    .await
    .unwrap()
    .unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = devnet.rpc_url();
    config.network.passphrase = devnet.passphrase();
    let platform = Arc::new(Platform::open(config, true).await.unwrap());
    platform.ensure_operators().await.unwrap();
    platform.deploy().await.unwrap();
    let issuer = platform
        .add_issuer(&issuer("pacs@general.example", "General Hospital"))
        .await
        .unwrap();
    Suite {
        platform,
        issuer,
        devnet: Some(devnet),
        dir,
    }
}

/// Asserts an answer's status and problem type, saying `what` was asked.
pub fn expect(r: &Reply, status: StatusCode, problem: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.problem(), problem, "{what}: {}", r.text);
}
