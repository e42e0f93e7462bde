//! The built Lambda bootstraps, run as Lambda runs them: each `bootstrap` from
//! `cargo lambda build --profile lambda` (target/lambda/<function>/bootstrap; `scripts/test`
//! builds them with `scripts/build-lambdas --arm64`, the Graviton build that
//! infra/template.yaml deploys, and runs them under `qemu-aarch64` on an x86_64 machine; an
//! x86_64 build runs directly) is started as its own process with only the
//! environment Lambda and infra/template.yaml give it, against the Runtime API emulator of
//! `medimint-testkit`, moto's S3, DynamoDB and Secrets Manager, and the devnet. Each is fed
//! the real event JSON of its trigger (an SQS batch of S3 notifications; API Gateway HTTP
//! API payload 2.0 requests) and its answers are checked. The time from the start of the
//! process to its first `next` call is its init duration (cold start), printed for
//! docs/performance.md (`--nocapture`), never asserted.
//!
//! The indexer's bootstrap is fed EventBridge scheduled events, and the API function reads
//! the index it wrote.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use medimint_chain::clients::{IssuerKind, IssuerProfile};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use medimint_stack::platform::{
    Config, DatabaseConfig, IssuerSpec, PatientSpec, ReleaseSpec, StorageConfig,
};
use medimint_stack::Platform;
use medimint_storage::ReleaseStatus;
use medimint_testkit::runtime_api::{NotReady, Outcome, RuntimeApi};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use serde_json::{json, Value};

const BUCKET: &str = "medimint-bootstraps";
const TABLE: &str = "medimint-bootstraps";
const SECRET_ID: &str = "medimint/platform-seed";
const INDEX_TABLE: &str = "medimint-bootstraps-index";
const STANDALONE: &str = "Standalone Network ; February 2017";
const BASE_URL: &str = "https://medimint.example.org";
const INVOKE: Duration = Duration::from_secs(300);
const INIT: Duration = Duration::from_secs(120);

/// Where `cargo lambda build` put the function's bootstrap: `MEDIMINT_LAMBDA_DIR`, else
/// `$CARGO_TARGET_DIR/lambda`, else the workspace's target/lambda.
fn bootstrap(function: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("MEDIMINT_LAMBDA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| workspace.join(t).join("lambda")))
        .unwrap_or_else(|| workspace.join("target").join("lambda"));
    let path = dir.join(function).join("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: build the Lambda bootstraps first with `scripts/build-lambdas` \
         (cargo lambda build --profile lambda), as scripts/test and CI do",
        path.display()
    );
    path
}

/// The CPU a bootstrap was built for, from its ELF header's `e_machine`.
fn elf_machine(path: &Path) -> u16 {
    let mut head = [0u8; 20];
    let mut file = std::fs::File::open(path).unwrap();
    std::io::Read::read_exact(&mut file, &mut head).unwrap();
    assert_eq!(
        &head[..4],
        b"\x7fELF",
        "{} is not an ELF executable",
        path.display()
    );
    u16::from_le_bytes([head[18], head[19]])
}

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// How to start a bootstrap: directly when it is built for this machine's CPU; an arm64
/// build on another CPU under qemu-user with Debian's arm64 C library (`apt-get install
/// qemu-user libc6-arm64-cross`, which CI's `.ci/run` installs).
fn runner(path: &Path) -> Command {
    let machine = elf_machine(path);
    let native = if cfg!(target_arch = "aarch64") {
        EM_AARCH64
    } else {
        EM_X86_64
    };
    if machine == native {
        return Command::new(path);
    }
    assert_eq!(
        machine,
        EM_AARCH64,
        "{} is built for ELF machine {machine}, neither this machine's nor arm64",
        path.display()
    );
    let libc = Path::new("/usr/aarch64-linux-gnu");
    assert!(
        libc.join("lib/ld-linux-aarch64.so.1").is_file(),
        "{} is an arm64 build: running it here needs Debian's arm64 C library \
         (`apt-get install -y libc6-arm64-cross`)",
        path.display()
    );
    let qemu = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("qemu-aarch64"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{} is an arm64 build: running it here needs qemu-user \
                 (`apt-get install -y qemu-user`)",
                path.display()
            )
        });
    let mut cmd = Command::new(qemu);
    cmd.arg("-L").arg(libc).arg(path);
    cmd
}

/// A bootstrap process under the emulator, killed on drop; its output goes to a file.
struct Function {
    child: Child,
    log: PathBuf,
    name: &'static str,
}

impl Function {
    /// Starts `function`'s bootstrap with exactly `env` plus what Lambda itself sets.
    fn start(
        function: &'static str,
        api: &RuntimeApi,
        env: &[(&str, String)],
        logs: &Path,
    ) -> Function {
        let log = logs.join(format!("{function}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = runner(&bootstrap(function));
        cmd.env_clear()
            .current_dir(logs)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            // What the Lambda service sets for provided.al2023 (the documented variables).
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/medimint/test/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/06/[$LATEST]0001")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("TZ", ":UTC")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            // The execution role's credentials.
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", "testing");
        for (k, v) in env {
            cmd.env(k, v);
        }
        api.reset_clock();
        let child = cmd.spawn().unwrap();
        Function {
            child,
            log,
            name: function,
        }
    }

    /// Waits for the first `next` call and prints the init duration.
    fn ready(&mut self, api: &RuntimeApi) -> Duration {
        match api.wait_ready(INIT) {
            Ok(init) => {
                println!(
                    "init duration (cold start) of {}: {} ms",
                    self.name,
                    init.as_millis()
                );
                init
            }
            Err(e) => panic!(
                "{} did not start: {e}; its output:\n{}",
                self.name,
                self.output()
            ),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment infra/template.yaml gives every function (Globals), pointed at moto and
/// the devnet (the two `*_ENDPOINT` variables and the Secrets Manager endpoint are the only
/// additions).
fn template_env(moto: &str, rpc: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MEDIMINT_BUCKET", BUCKET.into()),
        ("MEDIMINT_TABLE", TABLE.into()),
        ("MEDIMINT_SEED_SECRET_ID", SECRET_ID.into()),
        ("MEDIMINT_RPC_URL", rpc.into()),
        ("MEDIMINT_NETWORK_PASSPHRASE", STANDALONE.into()),
        ("MEDIMINT_CHANNELS", "2".into()),
        ("RUST_LOG", "info".into()),
        ("MEDIMINT_S3_ENDPOINT", moto.into()),
        ("MEDIMINT_DYNAMODB_ENDPOINT", moto.into()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.into()),
    ]
}

/// An SQS batch as Lambda delivers it, one message per S3 notification body.
fn sqs_batch(bodies: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("AQEB{id}"),
                "body": body.to_string(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1796565600000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1796565600001"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{REGION}:000000000000:medimint-ingest"),
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An S3 `ObjectCreated` notification for `keys` as S3 writes it (keys URL-encoded).
fn s3_notification(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|key| {
            json!({
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
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": { "principalId": "A3NL1KOZZKExample" },
                        "arn": format!("arn:aws:s3:::{BUCKET}")
                    },
                    "object": {
                        "key": key.replace(' ', "+"),
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5"
                    },
                },
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An API Gateway HTTP API request (payload format 2.0) as the `$default` route sends it.
fn http_request(method: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let raw_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let params: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query.join("&"),
        "headers": {
            "accept": "application/json",
            "host": "medimint.example.org",
            "user-agent": "Mozilla/5.0",
            "via": "2.0 0123456789abcdef.cloudfront.net (CloudFront)",
            "x-amzn-trace-id": "Root=1-6757f1a0-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.5, 130.176.1.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "130.176.1.1",
                "userAgent": "Mozilla/5.0"
            },
            "requestId": "cTnyMjYXoAMEPzw=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "06/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1796565600000u64
        },
        "isBase64Encoded": false
    });
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    event
}

fn invoke(api: &RuntimeApi, function: &Function, event: &Value) -> Value {
    let outcome = api.invoke(&event.to_string(), INVOKE).unwrap();
    let body = match outcome {
        Outcome::Response(body) => body,
        other => panic!(
            "{} answered {other:?}; its output:\n{}",
            function.name,
            function.output()
        ),
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not an SQS batch response: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// Status, one header and the body of an HTTP API response (payload 2.0).
fn http_parts(response: &Value) -> (u64, String, String) {
    let status = response["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no statusCode: {response}"));
    let content_type = response["headers"]["content-type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = response["body"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        response["isBase64Encoded"],
        Value::Bool(false),
        "{response}"
    );
    (status, content_type, body)
}

/// The operator's platform configuration over moto's S3 and DynamoDB and the devnet, with
/// the AWS settings of this process pointed at moto.
fn operator_config(data: &Path, rpc: &str, moto: &str) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    config.network.rpc_url = rpc.to_owned();
    config.storage = StorageConfig::S3 {
        bucket: BUCKET.into(),
        endpoint: Some(moto.to_owned()),
    };
    config.database = DatabaseConfig::Dynamodb {
        table: TABLE.into(),
        endpoint: Some(moto.to_owned()),
    };
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
    std::env::set_var("AWS_REGION", REGION);
    std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto);
    config
}

/// The platform's seed (written by `Platform::open`) into moto's Secrets Manager, where the
/// functions read it, as docs/deploy.md does.
async fn seed_into_secrets_manager(config: &Config) {
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
        .expect("the seed into Secrets Manager (moto)");
}

#[test]
fn built_bootstraps_of_ingest_and_api_serve_real_events() {
    let ingest_bin = bootstrap("medimint-ingest");
    let api_bin = bootstrap("medimint-api");
    let indexer_bin = bootstrap("medimint-indexer");
    assert_ne!(ingest_bin, api_bin);
    assert_ne!(api_bin, indexer_bin);
    let moto = MotoServer::start().expect("moto's server (scripts/setup installs it)");
    let endpoint = moto.endpoint();
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    let rpc = devnet.rpc_url();
    let logs = tempfile::tempdir().unwrap();
    let export = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();

    // The operator's side, as docs/deploy.md runs it: `medimint deploy` (the platform over
    // the same bucket, table and network), the first issuer, the seed into Secrets Manager,
    // and a PACS export rule's upload into the inbox.
    let rt = medimint_e2e::runtime();
    let config = operator_config(data.path(), &rpc, &endpoint);
    let synthetic = SyntheticPatient {
        name: "ROE^RICHARD".into(),
        birth_date: "19750630".into(),
        id: "MRN-4242".into(),
    };
    let files = generate_study(&synthetic, "2.25.4242", 2, 2).unwrap();
    for (name, bytes) in &files {
        let path = export.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let (platform, issuer, good_key, wrong_key, first_file) = rt.block_on(async {
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
                    evidence: [4; 32],
                },
            })
            .await
            .expect("add issuer");
        seed_into_secrets_manager(&config).await;
        let spec = |release_id: &str, patient_id: &str| ReleaseSpec {
            issuer: issuer.clone(),
            release_id: release_id.into(),
            patient: PatientSpec {
                email: "richard@example.org".into(),
                family_name: "Roe".into(),
                given_names: "Richard".into(),
                birth_date: "1975-06-30".into(),
                patient_id: patient_id.into(),
            },
            study_instance_uid: Some("2.25.4242".into()),
            paths: vec![export.path().to_path_buf()],
        };
        let good = platform
            .upload(&spec("ct-2026-12-06", "MRN-4242"), |_, _| {})
            .await
            .unwrap();
        let wrong = platform
            .upload(&spec("wrong-patient", "MRN-9999"), |_, _| {})
            .await
            .unwrap();
        let first_file = format!("{}{}", good.inbox_prefix(), files[0].0);
        (
            platform,
            issuer,
            good.manifest_key(),
            wrong.manifest_key(),
            first_file,
        )
    });

    // --- The ingest function: SQS-wrapped S3 notifications ---------------------------------
    let ingest_api = RuntimeApi::start().unwrap();
    let mut ingest = Function::start(
        "medimint-ingest",
        &ingest_api,
        &template_env(&endpoint, &rpc),
        logs.path(),
    );
    ingest.ready(&ingest_api);
    let batch = sqs_batch(&[
        (
            "m-test",
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        ),
        ("m-good", s3_notification(&[&first_file, &good_key])),
        ("m-wrong", s3_notification(&[&wrong_key])),
        ("m-junk", json!({"hello": "world"})),
    ]);
    let response = invoke(&ingest_api, &ingest, &batch);
    // Only the unreadable message comes back (to end in the dead-letter queue); a rejection
    // is an outcome, not a failure.
    assert_eq!(failures(&response), vec!["m-junk".to_owned()]);
    // At least once: the same batch again changes nothing.
    let again = invoke(&ingest_api, &ingest, &batch);
    assert_eq!(failures(&again), vec!["m-junk".to_owned()]);
    // A payload of another shape is an error reply naming what it is not; the instance
    // keeps serving.
    let err = ingest_api
        .invoke(r#"{"hello":"world"}"#, INVOKE)
        .unwrap()
        .response()
        .unwrap_err();
    assert!(err.contains("neither an SQS batch"), "{err}");

    let (token_id, richard) = rt.block_on(async {
        let db = platform.db();
        let released = db
            .get_release(&issuer, "ct-2026-12-06")
            .await
            .unwrap()
            .expect("the release is recorded");
        assert_eq!(released.status, ReleaseStatus::Confirmed);
        let token_id = released.token_id.clone().expect("a token");
        let token = platform.token(&token_id).await.unwrap();
        assert_eq!(token.status, "Pending");
        assert_eq!(token.issuer, issuer);
        assert_eq!(token.file_count as usize, files.len());
        let stored = platform
            .store()
            .list(&format!("studies/{}/", released.study_id.unwrap()))
            .await
            .unwrap();
        assert_eq!(stored.len(), files.len());
        let rejected = db
            .get_release(&issuer, "wrong-patient")
            .await
            .unwrap()
            .expect("the rejection is recorded");
        assert_eq!(rejected.status, ReleaseStatus::Rejected);
        let richard = db
            .account_by_email("richard@example.org")
            .await
            .unwrap()
            .expect("the patient's account");
        assert_eq!(token.owner, richard.address);
        (token_id, richard.address)
    });

    // --- The API function: HTTP API payload 2.0 -------------------------------------------
    let http_api = RuntimeApi::start().unwrap();
    let mut env = template_env(&endpoint, &rpc);
    env.push(("MEDIMINT_API_BASE_URL", BASE_URL.into()));
    env.push(("MEDIMINT_API_CORS_ORIGINS", String::new()));
    env.push(("MEDIMINT_INDEX_TABLE", INDEX_TABLE.into()));
    let mut api = Function::start("medimint-api", &http_api, &env, logs.path());
    api.ready(&http_api);

    let (status, content_type, body) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", "/v1/health", &[]),
    ));
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let (status, _, toml) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", "/.well-known/stellar.toml", &[]),
    ));
    assert_eq!(status, 200);
    assert!(
        toml.contains(&format!("NETWORK_PASSPHRASE = \"{STANDALONE}\"")),
        "{toml}"
    );
    assert!(
        toml.contains(&format!("WEB_AUTH_ENDPOINT = \"{BASE_URL}/auth\"")),
        "{toml}"
    );
    assert!(toml.contains("SIGNING_KEY = \"G"), "{toml}");

    // A SEP-10 challenge for the patient's account, signed with the key the function derived
    // from the seed it read from Secrets Manager.
    let (status, _, body) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", "/auth", &[("account", richard.as_str())]),
    ));
    assert_eq!(status, 200, "{body}");
    let challenge: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(challenge["network_passphrase"], STANDALONE, "{body}");
    assert!(
        challenge["transaction"]
            .as_str()
            .is_some_and(|t| t.len() > 100),
        "{body}"
    );

    // The released study is not shown without a session.
    let (status, _, body) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", &format!("/v1/studies/{token_id}"), &[]),
    ));
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", "/v1/no-such-route", &[]),
    ));
    assert_eq!(status, 404);

    // --- The indexer function: EventBridge scheduled events ---------------------------------
    let schedule = RuntimeApi::start().unwrap();
    let mut env = template_env(&endpoint, &rpc);
    env.push(("MEDIMINT_INDEX_TABLE", INDEX_TABLE.into()));
    let mut indexer = Function::start("medimint-indexer", &schedule, &env, logs.path());
    indexer.ready(&schedule);
    let scheduled: Value = serde_json::from_str(include_str!(
        "../../lambdas/indexer/tests/data/eventbridge_scheduled.json"
    ))
    .unwrap();
    // One bounded batch per scheduled run, until it has caught up with the chain.
    let mut applied = 0;
    let mut runs = 0;
    loop {
        let run = invoke(&schedule, &indexer, &scheduled);
        runs += 1;
        applied += run["applied"]
            .as_u64()
            .unwrap_or_else(|| panic!("not a run report: {run}"));
        if run["caught_up"] == Value::Bool(true) {
            break;
        }
        assert!(
            runs < 20,
            "the indexer did not catch up in {runs} runs: {run}"
        );
    }
    // The deployment's issuer and the release (a proposal) at least.
    assert!(applied >= 2, "{applied} events applied in {runs} runs");
    // Each event is applied once: the next run applies nothing.
    let again = invoke(&schedule, &indexer, &scheduled);
    assert_eq!(again["applied"], 0, "{again}");
    // A trigger of another kind is an error reply naming what it got.
    let err = schedule
        .invoke(&sqs_batch(&[("m-1", json!({}))]).to_string(), INVOKE)
        .unwrap()
        .response()
        .unwrap_err();
    assert!(err.contains("EventBridge scheduled events"), "{err}");

    // The API function reads the index the indexer function wrote (the same table).
    let (status, _, body) = http_parts(&invoke(
        &http_api,
        &api,
        &http_request("GET", "/v1/explorer/totals", &[]),
    ));
    assert_eq!(status, 200, "{body}");
    let totals: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(totals["totals"]["releases"], 1, "{body}");
    assert_eq!(totals["issuers"], 1, "{body}");

    // Each function's metrics, as CloudWatch embedded-metric-format lines (the template's
    // alarms read them): the first batch released one study and refused one.
    let emf = |f: &Function| -> Vec<Value> {
        f.output()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MediMint")
            .collect()
    };
    let ingest_metrics = emf(&ingest);
    assert!(
        ingest_metrics
            .iter()
            .any(|m| m["Function"] == "ingest" && m["Released"] == 1.0 && m["Rejected"] == 1.0),
        "{ingest_metrics:?}"
    );
    // The release was proposed through the relayer, which paid its fee.
    assert!(
        ingest_metrics
            .iter()
            .any(|m| m["RelaySubmissions"].as_f64() >= Some(1.0)
                && m["RelayFeesStroops"].as_f64() > Some(0.0)),
        "{ingest_metrics:?}"
    );
    let api_metrics = emf(&api);
    assert!(
        api_metrics
            .iter()
            .any(|m| m["Function"] == "api" && m["Status4xx"] == 1.0),
        "{api_metrics:?}"
    );
    let indexer_metrics = emf(&indexer);
    assert!(
        indexer_metrics.iter().any(|m| m["Function"] == "indexer"
            && m["SponsorBalanceXlm"].as_f64() > Some(0.0)
            && m["IndexLagLedgers"].is_number()),
        "{indexer_metrics:?}"
    );

    // No PHI in any function's logs.
    for f in [&ingest, &api, &indexer] {
        let out = f.output();
        for phi in [
            "ROE^RICHARD",
            "Richard",
            "richard@example.org",
            "MRN-4242",
            "MRN-9999",
            "19750630",
            "1975-06-30",
        ] {
            assert!(!out.contains(phi), "{} logged {phi:?}:\n{out}", f.name);
        }
    }
}

#[test]
fn built_bootstraps_without_their_settings_stop_naming_them() {
    let runtime = RuntimeApi::start().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut ingest = Function::start(
        "medimint-ingest",
        &runtime,
        &[("MEDIMINT_BUCKET", BUCKET.into())],
        logs.path(),
    );
    let status = ingest.child.wait().unwrap();
    assert!(!status.success(), "it must not start without its settings");
    let out = ingest.output();
    for name in [
        "MEDIMINT_TABLE",
        "MEDIMINT_RPC_URL",
        "MEDIMINT_NETWORK_PASSPHRASE",
        "MEDIMINT_SEED_SECRET_ID",
    ] {
        assert!(out.contains(name), "{name} not named:\n{out}");
    }
    // It never asked for an event.
    assert!(matches!(
        runtime.wait_ready(Duration::from_millis(10)),
        Err(NotReady::Timeout(_))
    ));
}

/// The API function's cold start as a caller meets it: from spawning the bootstrap to the
/// answer of the first request (`GET /v1/health`, queued before the process starts, as
/// Lambda holds the event that caused the cold start), through the Runtime API emulator.
/// Besides, the init duration (spawn to the first `next`). `MEDIMINT_BENCH_RUNS` runs (7),
/// each a fresh process; prints every run and the median for docs/performance.md ("Lambda
/// bootstraps"). A benchmark: nothing about the times is asserted.
///
/// ```sh
/// scripts/build-lambdas && . target/setup.env
/// cargo test -p medimint-e2e --test bootstraps -- --ignored --nocapture start_to_first_response
/// ```
#[test]
#[ignore = "benchmark: run with --ignored --nocapture after scripts/build-lambdas"]
fn api_bootstrap_start_to_first_response() {
    let api_bin = bootstrap("medimint-api");
    let runs = std::env::var("MEDIMINT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7usize)
        .max(1);
    let moto = MotoServer::start().expect("moto's server (scripts/setup installs it)");
    let endpoint = moto.endpoint();
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    let rpc = devnet.rpc_url();
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = operator_config(data.path(), &rpc, &endpoint);
    medimint_e2e::runtime().block_on(async {
        let platform = Platform::open(config.clone(), true).await.expect("open");
        platform.deploy().await.expect("deploy");
        seed_into_secrets_manager(&config).await;
    });
    let mut env = template_env(&endpoint, &rpc);
    env.push(("MEDIMINT_API_BASE_URL", BASE_URL.into()));
    env.push(("MEDIMINT_API_CORS_ORIGINS", String::new()));
    let health = http_request("GET", "/v1/health", &[]).to_string();
    let mut firsts = Vec::new();
    let mut inits = Vec::new();
    for run in 1..=runs {
        let runtime = RuntimeApi::start().unwrap();
        let started = std::time::Instant::now();
        let function = Function::start("medimint-api", &runtime, &env, logs.path());
        let outcome = runtime.invoke(&health, INIT).unwrap_or_else(|e| {
            panic!("{e}; its output:\n{}", function.output());
        });
        let first = started.elapsed();
        let init = runtime
            .wait_ready(Duration::ZERO)
            .unwrap_or_else(|e| panic!("{e}"));
        let Outcome::Response(body) = outcome else {
            panic!("{outcome:?}; its output:\n{}", function.output());
        };
        let (status, _, _) = http_parts(&serde_json::from_str(&body).unwrap());
        assert_eq!(status, 200, "{body}");
        println!(
            "run {run}: start to first response {} ms (init {} ms)",
            first.as_millis(),
            init.as_millis()
        );
        firsts.push(first);
        inits.push(init);
        drop(function);
    }
    firsts.sort();
    inits.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    println!(
        "medimint-api ({}), {runs} runs: start to first response median {:.1} ms (min {:.1}, \
         max {:.1}); init median {:.1} ms",
        api_bin.display(),
        ms(&firsts[runs / 2]),
        ms(&firsts[0]),
        ms(&firsts[runs - 1]),
        ms(&inits[runs / 2]),
    );
}
