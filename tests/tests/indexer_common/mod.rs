//! A suite on a devnet with real releases, consents, shares, downloads and revokes through
//! the platform, for the indexer's tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use medimint_chain::clients::{IssuerKind, IssuerProfile, Role};
use medimint_ingest::Outcome;
use medimint_platform::{Config, IssuerSpec, PatientSpec, Platform, ReleaseSpec, Target};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The platform on a fresh data directory against `rpc_url`, deployed, with one issuer.
pub async fn platform(data: &Path, rpc_url: &str) -> (Arc<Platform>, String) {
    platform_with_channels(data, rpc_url, Config::default().relayer.channels).await
}

/// As [`platform`], relaying over `channels` channel accounts.
pub async fn platform_with_channels(
    data: &Path,
    rpc_url: &str,
    channels: u32,
) -> (Arc<Platform>, String) {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = rpc_url.to_owned();
    config.relayer.channels = channels;
    let platform = Platform::open(config, true).await.expect("open");
    platform.deploy().await.expect("deploy");
    let issuer = platform
        .add_issuer(&IssuerSpec {
            email: "pacs@general.example".into(),
            address: None,
            profile: IssuerProfile {
                name: "General Hospital".into(),
                kind: IssuerKind::ImagingCentre,
                jurisdiction: "US-CA".into(),
                evidence: [5; 32],
            },
        })
        .await
        .expect("add issuer");
    (Arc::new(platform), issuer)
}

/// The patient's PHI used by [`release`] (what no index output may contain).
pub struct Phi {
    pub email: String,
    pub family: &'static str,
    pub given: &'static str,
    pub birth_date: &'static str,
    pub mrn: String,
}

pub fn phi(n: u32) -> Phi {
    Phi {
        email: format!("patient{n}@example.org"),
        family: "Quixotic",
        given: "Wilhelmina",
        birth_date: "1961-03-04",
        mrn: format!("MRN-{n}-778899"),
    }
}

/// Releases a generated study to the patient `p`; returns the token id.
pub async fn release(
    platform: &Platform,
    issuer: &str,
    p: &Phi,
    release_id: &str,
    uid: &str,
) -> u32 {
    let export = tempfile::tempdir().unwrap();
    let patient = SyntheticPatient {
        name: format!("{}^{}", p.family.to_uppercase(), p.given.to_uppercase()),
        birth_date: p.birth_date.replace('-', ""),
        id: p.mrn.clone(),
    };
    for (name, bytes) in generate_study(&patient, uid, 1, 2).expect("study") {
        let path = export.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let outcome = platform
        .release(
            &ReleaseSpec {
                issuer: issuer.to_owned(),
                release_id: release_id.into(),
                patient: PatientSpec {
                    email: p.email.clone(),
                    family_name: p.family.into(),
                    given_names: p.given.into(),
                    birth_date: p.birth_date.into(),
                    patient_id: p.mrn.clone(),
                },
                study_instance_uid: Some(uid.into()),
                paths: vec![export.path().to_path_buf()],
            },
            |_, _| {},
        )
        .await
        .expect("release");
    match outcome {
        Outcome::Released { token_id, .. } => token_id.parse().unwrap(),
        other => panic!("not released: {other:?}"),
    }
}

pub async fn share(platform: &Platform, owner: &str, token: u32, to: &str) -> String {
    platform
        .share(
            owner,
            &token.to_string(),
            &Target::parse(to).unwrap(),
            Role::Viewer,
            Some(medimint_storage::now() + 30 * 86_400),
        )
        .await
        .expect("share")
}

pub async fn download(platform: &Platform, who: &str, token: u32) {
    let out = tempfile::tempdir().unwrap();
    platform
        .download(who, &token.to_string(), out.path(), |_, _| {})
        .await
        .expect("download");
}

pub async fn revoke(platform: &Platform, owner: &str, token: u32, to: &str) {
    platform
        .revoke(owner, &token.to_string(), &Target::parse(to).unwrap())
        .await
        .expect("revoke");
}

pub async fn address_of(platform: &Platform, email: &str) -> String {
    platform
        .db()
        .account_by_email(email)
        .await
        .unwrap()
        .expect("account")
        .address
}
