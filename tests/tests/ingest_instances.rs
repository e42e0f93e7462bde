//! Eight ingest Lambda instances at once, as separate processes (`examples/ingest_instance.rs`,
//! configured from the environment as the function is), on moto's S3, DynamoDB and Secrets
//! Manager and a devnet closing a ledger every 250 ms: 100 S3 notifications through SQS
//! batches of five (and ten delivered twice, as SQS may) → 100 releases, each minted once.
//! Every instance relays through the same sponsor and channel accounts, shared through the
//! leases in DynamoDB (issue 24).
//!
//! Bounded for a 2-core machine: one round of eight processes, then SQS's redelivery of
//! whatever an instance handed back, at most four more rounds (the queue's
//! `maxReceiveCount` is 5: a message failing five times would be dead-lettered).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use medimint_chain::clients::{IssuerKind, IssuerProfile, StudyToken};
use medimint_devnet::{Config as DevnetConfig, Devnet};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use medimint_stack::platform::{
    Config, DatabaseConfig, IssuerSpec, PatientSpec, ReleaseSpec, StorageConfig,
};
use medimint_stack::Platform;
use medimint_storage::ReleaseStatus;
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use serde_json::{json, Value};

const BUCKET: &str = "medimint-instances";
const TABLE: &str = "medimint-instances";
const SECRET_ID: &str = "medimint/instances-seed";
const INSTANCES: usize = 8;
const RELEASES: usize = 100;
const PATIENTS: usize = 20;
const BATCH: usize = 5;
const MAX_RECEIVES: usize = 5;

/// One SQS message: its id and the S3 notification of one manifest.
fn message(id: &str, key: &str) -> Value {
    let notification = json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-12-06T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "AWS:AIDAPACSEXPORTRULE" },
        "requestParameters": { "sourceIPAddress": "10.20.30.40" },
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "inbox-manifests",
            "bucket": { "name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}") },
            "object": { "key": key.replace(' ', "+"), "size": 100, "sequencer": "0A" },
        },
    }]});
    json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": notification.to_string(),
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:medimint-ingest",
        "awsRegion": REGION,
    })
}

/// The example binary built beside this test (`cargo test` builds a package's examples).
fn instance_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("ingest_instance");
    assert!(
        bin.exists(),
        "{} missing: run `cargo test -p medimint-e2e` (which builds the examples)",
        bin.display()
    );
    bin
}

#[test]
fn eight_ingest_instances_release_a_hundred_notifications_each_once() {
    let bin = instance_binary();
    let moto = MotoServer::start().expect("moto's server (pip install 'moto[server]')");
    let endpoint = moto.endpoint();
    let devnet = Devnet::start(DevnetConfig {
        ledger_ms: 250,
        ..Default::default()
    })
    .unwrap();
    let env: Vec<(&str, String)> = vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.clone()),
        ("MEDIMINT_BUCKET", BUCKET.into()),
        ("MEDIMINT_TABLE", TABLE.into()),
        ("MEDIMINT_RPC_URL", devnet.rpc_url()),
        (
            "MEDIMINT_NETWORK_PASSPHRASE",
            "Standalone Network ; February 2017".into(),
        ),
        ("MEDIMINT_SEED_SECRET_ID", SECRET_ID.into()),
        ("MEDIMINT_S3_ENDPOINT", endpoint.clone()),
        ("MEDIMINT_DYNAMODB_ENDPOINT", endpoint.clone()),
        ("MEDIMINT_CHANNELS", "4".into()),
    ];
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    let rt = medimint_e2e::runtime();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = devnet.rpc_url();
    config.relayer.channels = 4;
    config.storage = StorageConfig::S3 {
        bucket: BUCKET.into(),
        endpoint: Some(endpoint.clone()),
    };
    config.database = DatabaseConfig::Dynamodb {
        table: TABLE.into(),
        endpoint: Some(endpoint.clone()),
    };
    let exports = tempfile::tempdir().unwrap();
    let (platform, issuer, keys) = rt.block_on(async {
        let platform = Platform::open(config.clone(), true).await.expect("open");
        platform.deploy().await.expect("deploy");
        let issuer = platform
            .add_issuer(&IssuerSpec {
                email: "pacs@imaging.example".into(),
                address: None,
                profile: IssuerProfile {
                    name: "Imaging Centre".into(),
                    kind: IssuerKind::ImagingCentre,
                    jurisdiction: "US-NY".into(),
                    evidence: [9; 32],
                },
            })
            .await
            .expect("add issuer");
        let mnemonic = std::fs::read_to_string(config.seed_file().unwrap()).unwrap();
        aws_sdk_secretsmanager::Client::new(
            &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        )
        .create_secret()
        .name(SECRET_ID)
        .secret_string(mnemonic.trim())
        .send()
        .await
        .expect("create the secret on moto");
        // A hundred exports: twenty patients, five studies each (distinct files, so distinct
        // checksum roots).
        let mut keys = Vec::new();
        for r in 0..RELEASES {
            let p = r % PATIENTS;
            let dir = exports.path().join(format!("r{r}"));
            let synthetic = SyntheticPatient {
                name: "ROE^RICHARD".into(),
                birth_date: "19750630".into(),
                id: format!("MRN-{p}"),
            };
            let uid = format!("2.25.2424{r}");
            for (name, bytes) in generate_study(&synthetic, &uid, 1, 1).unwrap() {
                let path = dir.join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            let spec = ReleaseSpec {
                issuer: issuer.clone(),
                release_id: format!("burst-{r}"),
                patient: PatientSpec {
                    email: format!("patient{p}@example.org"),
                    family_name: "Roe".into(),
                    given_names: "Richard".into(),
                    birth_date: "1975-06-30".into(),
                    patient_id: format!("MRN-{p}"),
                },
                study_instance_uid: Some(uid),
                paths: vec![dir],
            };
            let uploaded = platform.upload(&spec, |_, _| {}).await.unwrap();
            keys.push(uploaded.manifest_key());
        }
        (platform, issuer, keys)
    });

    // The queue: one message per manifest, and ten delivered a second time.
    let mut queue: Vec<(String, String)> = keys
        .iter()
        .enumerate()
        .map(|(r, k)| (format!("m-{r}"), k.clone()))
        .collect();
    for r in (0..RELEASES).step_by(RELEASES / 10) {
        queue.push((format!("m-{r}-again"), keys[r].clone()));
    }
    let batches_dir = tempfile::tempdir().unwrap();
    let mut receives: BTreeMap<String, usize> = BTreeMap::new();
    let started = std::time::Instant::now();
    let mut rounds = 0;
    while !queue.is_empty() {
        rounds += 1;
        assert!(
            rounds <= MAX_RECEIVES,
            "{} messages still failing: {:?}",
            queue.len(),
            queue.iter().map(|(id, _)| id).collect::<Vec<_>>()
        );
        for (id, _) in &queue {
            *receives.entry(id.clone()).or_default() += 1;
        }
        // Batches of five, dealt to the instances in turn; a message's second delivery goes
        // to another instance than its first.
        let batches: Vec<Vec<(String, String)>> = queue.chunks(BATCH).map(|c| c.to_vec()).collect();
        let mut per_instance: Vec<Vec<PathBuf>> = vec![Vec::new(); INSTANCES];
        for (b, batch) in batches.iter().enumerate() {
            let body = json!({
                "Records": batch.iter().map(|(id, key)| message(id, key)).collect::<Vec<_>>()
            });
            let path = batches_dir
                .path()
                .join(format!("round{rounds}-batch{b}.json"));
            std::fs::write(&path, body.to_string()).unwrap();
            per_instance[(b + rounds) % INSTANCES].push(path);
        }
        let children: Vec<_> = per_instance
            .iter()
            .filter(|paths| !paths.is_empty())
            .map(|paths| {
                Command::new(&bin)
                    .args(paths)
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start an ingest instance")
            })
            .collect();
        let mut failed = BTreeSet::new();
        let mut logs = String::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "an instance failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            logs.push_str(&String::from_utf8_lossy(&out.stderr));
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let response: Value = serde_json::from_str(line).unwrap();
                for f in response["batchItemFailures"].as_array().unwrap() {
                    failed.insert(f["itemIdentifier"].as_str().unwrap().to_owned());
                }
            }
        }
        queue.retain(|(id, _)| failed.contains(id));
        if !queue.is_empty() {
            let tail: String = logs.lines().rev().take(5).collect::<Vec<_>>().join("\n");
            eprintln!(
                "round {rounds}: {} handed back; last log lines:\n{tail}",
                queue.len()
            );
        }
    }
    let redelivered: usize = receives.values().map(|n| n - 1).sum();
    eprintln!(
        "{INSTANCES} instances: {} messages, {redelivered} redelivered, {rounds} rounds, {:.1} s",
        receives.len(),
        started.elapsed().as_secs_f64()
    );

    rt.block_on(async {
        let db = platform.db();
        let mut tokens = BTreeSet::new();
        for r in 0..RELEASES {
            let release = db
                .get_release(&issuer, &format!("burst-{r}"))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("release {r} is recorded"));
            assert_eq!(release.status, ReleaseStatus::Confirmed, "release {r}");
            assert!(tokens.insert(release.token_id.clone().unwrap()));
        }
        // On chain: the patients' pending lists hold exactly those hundred tokens.
        let study_token = StudyToken::new(
            platform.relayer(),
            platform.deployment().unwrap().study_token.id,
        );
        let mut pending = BTreeSet::new();
        for p in 0..PATIENTS {
            let account = db
                .account_by_email(&format!("patient{p}@example.org"))
                .await
                .unwrap()
                .expect("the patient's account");
            let page = study_token
                .page("pending_of", &account.address, 0, 50)
                .await
                .unwrap();
            assert_eq!(page.len(), RELEASES / PATIENTS, "patient {p}: {page:?}");
            for t in page {
                assert!(pending.insert(t.to_string()), "token {t} listed twice");
            }
        }
        assert_eq!(pending, tokens);
    });
}
