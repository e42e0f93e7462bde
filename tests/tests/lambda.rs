//! The ingest Lambda function's library path end to end, as AWS would run it: configured
//! from the environment only (`ProductionConfig::from_env`), the seed read from Secrets
//! Manager, objects in S3 and records in DynamoDB (all three on moto's server with the real
//! AWS SDK clients), the suite on the devnet; S3 notifications delivered through SQS.
//! The CLI's platform deploys the suite, whitelists the issuer and uploads the exports, as
//! an admin and a PACS export rule would.

use medimint_chain::clients::{IssuerKind, IssuerProfile, StudyToken};
use medimint_ingest_lambda::{handle_notification, NotificationError, ProductionConfig};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use medimint_stack::platform::{
    Config, DatabaseConfig, IssuerSpec, PatientSpec, ReleaseSpec, StorageConfig,
};
use medimint_stack::Platform;
use medimint_storage::ReleaseStatus;
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use serde_json::{json, Value};

const BUCKET: &str = "medimint-lambda";
const TABLE: &str = "medimint-lambda";
const SECRET_ID: &str = "medimint/seed";

/// An SQS batch as Lambda delivers it, one message per S3 notification body.
fn sqs_batch(bodies: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body.to_string(),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:medimint-ingest",
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An S3 notification for `keys` as S3 sends it (keys URL-encoded, spaces as `+`).
fn s3_notification(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|key| {
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-22T10:00:00.000Z",
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
            })
        })
        .collect();
    json!({ "Records": records })
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("an SQS batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn patient(email: &str, id: &str) -> PatientSpec {
    PatientSpec {
        email: email.into(),
        family_name: "Roe".into(),
        given_names: "Richard".into(),
        birth_date: "1975-06-30".into(),
        patient_id: id.into(),
    }
}

#[test]
fn ingest_function_releases_from_sqs_notifications() {
    let moto = MotoServer::start().expect("moto's server (pip install 'moto[server]')");
    let endpoint = moto.endpoint();
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    // What the function's execution role and SAM template give it.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ("MEDIMINT_BUCKET", BUCKET),
        ("MEDIMINT_TABLE", TABLE),
        ("MEDIMINT_RPC_URL", devnet.rpc_url().as_str()),
        (
            "MEDIMINT_NETWORK_PASSPHRASE",
            "Standalone Network ; February 2017",
        ),
        ("MEDIMINT_SEED_SECRET_ID", SECRET_ID),
        ("MEDIMINT_S3_ENDPOINT", endpoint.as_str()),
        ("MEDIMINT_DYNAMODB_ENDPOINT", endpoint.as_str()),
    ] {
        std::env::set_var(k, v);
    }
    medimint_e2e::runtime().block_on(async {
        // The admin side: the CLI's platform on the same bucket, table and network.
        let data = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        config.network.rpc_url = devnet.rpc_url();
        config.storage = StorageConfig::S3 {
            bucket: BUCKET.into(),
            endpoint: Some(endpoint.clone()),
        };
        config.database = DatabaseConfig::Dynamodb {
            table: TABLE.into(),
            endpoint: Some(endpoint.clone()),
        };
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

        // The platform's mnemonic goes into Secrets Manager, where the function reads it.
        let mnemonic = std::fs::read_to_string(config.seed_file().unwrap()).unwrap();
        let secrets = aws_sdk_secretsmanager::Client::new(
            &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        );
        secrets
            .create_secret()
            .name(SECRET_ID)
            .secret_string(mnemonic.trim())
            .send()
            .await
            .expect("create the secret on moto");

        // Cold start: everything from the environment.
        let ingest = ProductionConfig::from_env()
            .expect("configured")
            .open()
            .await
            .expect("the function starts");

        // A PACS export rule uploads two releases: one good, one for the wrong patient id.
        let export = tempfile::tempdir().unwrap();
        let synthetic = SyntheticPatient {
            name: "ROE^RICHARD".into(),
            birth_date: "19750630".into(),
            id: "MRN-31".into(),
        };
        let files = generate_study(&synthetic, "2.25.3131", 2, 2).unwrap();
        for (name, bytes) in &files {
            let path = export.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let spec = |release_id: &str, patient_id: &str| ReleaseSpec {
            issuer: issuer.clone(),
            release_id: release_id.into(),
            patient: patient("richard@example.org", patient_id),
            study_instance_uid: Some("2.25.3131".into()),
            paths: vec![export.path().to_path_buf()],
        };
        let good = platform
            .upload(&spec("ct-2026-11-22", "MRN-31"), |_, _| {})
            .await
            .unwrap();
        let wrong = platform
            .upload(&spec("mismatch", "MRN-99"), |_, _| {})
            .await
            .unwrap();
        let good_key = good.manifest_key();
        let wrong_key = wrong.manifest_key();
        let first_file = format!("{}{}", good.inbox_prefix(), files[0].0);

        // One batch: S3's test event, the good release (with a file record that triggers
        // nothing), the mismatch, and a message that is no S3 notification. Only the last
        // comes back (to end in the dead-letter queue); a rejection is an outcome, not a
        // failure.
        let batch = sqs_batch(&[
            (
                "m-test",
                json!({"Service": "Amazon S3", "Event": "s3:TestEvent"}),
            ),
            ("m-good", s3_notification(&[&first_file, &good_key])),
            ("m-wrong", s3_notification(&[&wrong_key])),
            ("m-junk", json!({"hello": "world"})),
        ]);
        let response = handle_notification(&ingest, batch.clone()).await.unwrap();
        assert_eq!(failures(&response), vec!["m-junk".to_owned()]);

        let db = platform.db();
        let released = db
            .get_release(&issuer, "ct-2026-11-22")
            .await
            .unwrap()
            .expect("the release is recorded");
        assert_eq!(released.status, ReleaseStatus::Confirmed);
        let token_id = released.token_id.clone().expect("a token");
        let richard = db
            .account_by_email("richard@example.org")
            .await
            .unwrap()
            .expect("the patient's custodial account");
        let token = platform.token(&token_id).await.unwrap();
        assert_eq!(token.status, "Pending");
        assert_eq!(token.owner, richard.address);
        assert_eq!(token.issuer, issuer);
        assert_eq!(token.file_count as usize, files.len());
        // The upload is gone once the chain confirmed; the encrypted study is stored.
        let store = platform.store();
        assert!(store.list(&good.inbox_prefix()).await.unwrap().is_empty());
        let study = released.study_id.clone().unwrap();
        let stored = store.list(&format!("studies/{study}/")).await.unwrap();
        assert_eq!(stored.len(), files.len());

        let rejected = db
            .get_release(&issuer, "mismatch")
            .await
            .unwrap()
            .expect("the rejection is recorded");
        assert_eq!(rejected.status, ReleaseStatus::Rejected);
        assert_eq!(rejected.token_id, None);
        let report_key = rejected.report_key.clone().expect("a report");
        let report = store.get_bytes(&report_key, 1 << 20).await.unwrap();
        let report = String::from_utf8_lossy(&report);
        assert!(report.contains("patient_id_mismatch"), "{report}");
        assert!(!report.contains("MRN-99"), "no PHI in the report: {report}");

        // SQS delivers at least once: the same batch again changes nothing.
        let again = handle_notification(&ingest, batch).await.unwrap();
        assert_eq!(failures(&again), vec!["m-junk".to_owned()]);
        let same = db
            .get_release(&issuer, "ct-2026-11-22")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(same.token_id, Some(token_id.clone()));
        let study_token = StudyToken::new(
            platform.relayer(),
            platform.deployment().unwrap().study_token.id,
        );
        let pending = study_token
            .page("pending_of", &richard.address, 0, 10)
            .await
            .unwrap();
        assert_eq!(pending, vec![token_id.parse::<u32>().unwrap()]);

        // A payload of another shape is an error naming what it is not.
        let err = handle_notification(&ingest, json!({"hello": "world"}))
            .await
            .unwrap_err();
        assert!(matches!(err, NotificationError::Malformed(_)), "{err}");
        assert!(err.to_string().contains("neither an SQS batch"), "{err}");
    });
}
