//! A suite on an in-process devnet with Jane's approved study released by General
//! Hospital, and the API over it on a clock the test moves: the set-up of the tests of the
//! people outside MediMint (share links, records requests; issue 17).

#![allow(dead_code)]

use std::sync::Arc;

use medimint_api::clock::{Clock, ManualClock, SystemClock};
use medimint_api::keys::AuthKeys;
use medimint_api::mailer::OutboxMailer;
use medimint_api::platform::{PlatformAccounts, PlatformRoles};
use medimint_api::state::{Adapters, AppState};
use medimint_api::store::{appdb::AppDbKv, KvAuthStore};
use medimint_chain::clients::{IssuerKind, IssuerProfile};
use medimint_platform::{Config, IssuerSpec, PatientSpec, Platform, ReleaseSpec};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};

use crate::common::{self, TestApi};

pub struct Chain {
    pub api: TestApi,
    pub clock: Arc<ManualClock>,
    pub token: String,
    /// The study's first file as released.
    pub file: (String, Vec<u8>),
    pub platform: Arc<Platform>,
    pub issuer: String,
    /// Jane's files as generated.
    pub files: Vec<(String, Vec<u8>)>,
    devnet: Option<medimint_devnet::Devnet>,
    _dir: tempfile::TempDir,
}

impl Drop for Chain {
    fn drop(&mut self) {
        if let Some(devnet) = self.devnet.take() {
            let _ = std::thread::spawn(move || drop(devnet)).join();
        }
    }
}

pub async fn chain() -> Chain {
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
        .add_issuer(&IssuerSpec {
            email: "pacs@general.example".into(),
            address: None,
            profile: IssuerProfile {
                name: "General Hospital".into(),
                kind: IssuerKind::Hospital,
                jurisdiction: "US-CA".into(),
                evidence: [7; 32],
            },
        })
        .await
        .unwrap();
    let uid = "2.25.3001";
    let export = dir.path().join(uid);
    let files = generate_study(
        &SyntheticPatient {
            name: "DOE^JANE".into(),
            birth_date: "19800102".into(),
            id: "MRN-7".into(),
        },
        uid,
        1,
        1,
    )
    .unwrap();
    for (name, bytes) in &files {
        let p = export.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let outcome = platform
        .release(
            &ReleaseSpec {
                issuer: issuer.clone(),
                release_id: "R-outside".into(),
                patient: PatientSpec {
                    email: "jane@example.org".into(),
                    family_name: "DOE".into(),
                    given_names: "JANE".into(),
                    birth_date: "1980-01-02".into(),
                    patient_id: "MRN-7".into(),
                },
                study_instance_uid: Some(uid.into()),
                paths: vec![export],
            },
            |_, _| {},
        )
        .await
        .unwrap();
    let token = match outcome {
        medimint_ingest::Outcome::Released { token_id, .. } => token_id,
        other => panic!("not released: {other:?}"),
    };
    platform
        .consent_with(
            "jane@example.org",
            &token,
            true,
            medimint_chain::clients::RejectReason::Declined,
        )
        .await
        .unwrap();
    // The API as `medimint up` serves it, on a clock the test moves.
    let outbox = dir.path().join("outbox");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut api_config = common::config();
    api_config.network_passphrase = platform.config().network.passphrase.clone();
    let state = AppState::new(
        api_config,
        AuthKeys::derive(platform.seed()),
        Adapters {
            store: Arc::new(KvAuthStore::new(AppDbKv(platform.db().clone()))),
            mailer: Arc::new(OutboxMailer::new(&outbox)),
            accounts: Arc::new(PlatformAccounts(platform.clone())),
            roles: Arc::new(PlatformRoles::new(platform.clone())),
            clock: clock.clone(),
            platform: Some(platform.clone()),
        },
    );
    let (name, bytes) = files[0].clone();
    Chain {
        platform,
        issuer,
        files,
        api: TestApi::from_state(state, outbox),
        clock,
        token,
        file: (name, bytes),
        devnet: Some(devnet),
        _dir: dir,
    }
}
