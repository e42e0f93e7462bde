//! The tests' harness: the real router over in-memory adapters, the local outbox mailer in a
//! temporary directory, and a manual clock.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use medimint_api::clock::ManualClock;
use medimint_api::config::ApiConfig;
use medimint_api::testutils::{manual_clock, memory_state, MemoryParts};
use medimint_api::AppState;
use medimint_sdk::keys::Seed;
use serde_json::Value;
use tower::ServiceExt;

pub const NETWORK: &str = "Test SDF Network ; September 2015";
pub const BASE: &str = "https://api.medimint.test";

pub struct TestApi {
    pub app: Router,
    pub state: AppState,
    pub parts: MemoryParts,
    pub clock: Arc<ManualClock>,
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The problem type's slug (`urn:medimint:problem:<slug>`).
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:medimint:problem:"))
            .unwrap_or_else(|| panic!("not a problem: {} {}", self.status, self.text))
    }
}

pub fn config() -> ApiConfig {
    let mut c = ApiConfig::new(BASE, NETWORK).unwrap();
    c.cors_origins = vec!["https://app.medimint.test".into()];
    c
}

impl TestApi {
    pub fn new() -> Self {
        Self::with_config(config())
    }

    pub fn with_config(config: ApiConfig) -> Self {
        Self::with_config_and_clock(config, manual_clock())
    }

    pub fn with_config_and_clock(config: ApiConfig, clock: Arc<ManualClock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let (state, parts) =
            memory_state(config, &Seed::from_bytes([42; 64]), &outbox, clock.clone());
        Self {
            app: medimint_api::app(state.clone()),
            state,
            parts,
            clock,
            outbox,
            _dir: dir,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(v) => builder
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.call(Method::GET, path, None, bearer).await
    }

    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> Reply {
        self.call(Method::POST, path, Some(body), bearer).await
    }

    /// The code in the newest message to `email` in the outbox.
    pub fn last_code(&self, email: &str) -> String {
        let mut files: Vec<_> = std::fs::read_dir(&self.outbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let text = files
            .iter()
            .rev()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .find(|t| t.starts_with(&format!("To: {email}\n")))
            .unwrap_or_else(|| panic!("no message to {email}"));
        let at = text.find("code is ").expect("the message holds the code") + "code is ".len();
        text[at..at + 6].to_string()
    }

    pub async fn request_code(&self, email: &str) -> String {
        let r = self
            .post("/auth/email", serde_json::json!({ "email": email }), None)
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        self.last_code(email)
    }

    /// Signs in by email code; returns (access token, refresh token).
    pub async fn email_sign_in(&self, email: &str) -> (String, String) {
        let code = self.request_code(email).await;
        let r = self
            .post(
                "/auth/email/verify",
                serde_json::json!({ "email": email, "code": code }),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        tokens(&r)
    }
}

pub fn tokens(r: &Reply) -> (String, String) {
    (
        r.body["token"].as_str().unwrap().to_string(),
        r.body["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// A platform over a temporary directory (local objects, SQLite) whose RPC points nowhere:
/// enough for what needs only storage and the database (releases through the API).
pub async fn offline_platform(dir: &std::path::Path) -> Arc<medimint_platform::Platform> {
    use medimint_platform::{Config, Parts, Platform, RelayScope};
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let db = medimint_storage::SqliteDb::open(&dir.join("db.sqlite3"))
        .await
        .unwrap();
    medimint_storage::AppDb::migrate(&db).await.unwrap();
    let rpc =
        medimint_chain::StellarRpc::new("http://127.0.0.1:9", std::time::Duration::from_secs(1))
            .unwrap();
    Arc::new(
        Platform::from_parts(Parts {
            network: medimint_chain::Network::new(config.network.passphrase.clone()),
            config,
            seed: Arc::new(Seed::from_bytes([7; 64])),
            rpc: Arc::new(rpc),
            store: Arc::new(medimint_storage::LocalDirStore::new(dir.join("objects")).unwrap()),
            db: Arc::new(db),
            scope: RelayScope::Suite,
        })
        .unwrap(),
    )
}

impl TestApi {
    /// The router over a state the test built (its outbox in `outbox`).
    pub fn from_state(state: AppState, outbox: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (_, parts) = memory_state(
            config(),
            &Seed::from_bytes([42; 64]),
            &outbox,
            manual_clock(),
        );
        Self {
            app: medimint_api::app(state.clone()),
            state,
            parts,
            clock: manual_clock(),
            outbox,
            _dir: dir,
        }
    }

    /// The router over in-memory sign-in adapters and `platform`.
    pub fn with_platform(platform: Arc<medimint_platform::Platform>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let clock = manual_clock();
        let (state, parts) = medimint_api::testutils::memory_state_with_platform(
            config(),
            &Seed::from_bytes([42; 64]),
            &outbox,
            clock.clone(),
            Some(platform),
        );
        Self {
            app: medimint_api::app(state.clone()),
            state,
            parts,
            clock,
            outbox,
            _dir: dir,
        }
    }

    /// Signs in by email code; returns (access token, address).
    pub async fn sign_in_as(&self, email: &str) -> (String, String) {
        let (token, _) = self.email_sign_in(email).await;
        let me = self.get("/v1/me", Some(&token)).await;
        (token, me.body["address"].as_str().unwrap().to_string())
    }
}
