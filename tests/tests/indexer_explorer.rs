//! The public explorer over the index of the demo: every `/v1/explorer` answer, scanned for
//! the demo patient's email, name, birth date and id (no hit), and what the answers say.

#[path = "indexer_common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::runtime;
use medimint_indexer_lambda::{open, Settings};
use medimint_platform::{Config, Platform};
use medimint_stack::demo::{run_demo_against, DemoOptions};
use serde_json::Value;
use tower::ServiceExt;

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Option<String>, String) {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let lag = response
        .headers()
        .get("x-index-lag-ledgers")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, lag, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn no_explorer_answer_of_the_demo_holds_the_patients_phi() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    runtime().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let report = run_demo_against(
            DemoOptions {
                data_dir: Some(data.path().to_path_buf()),
                ..DemoOptions::default()
            },
            &devnet.rpc_url(),
        )
        .await
        .expect("demo");
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        config.network.rpc_url = devnet.rpc_url();
        let platform = Arc::new(Platform::open(config, false).await.unwrap());
        let index = open::open_index(platform.config()).await.unwrap();
        let indexer = open::indexer(&platform, index.clone(), Settings::default()).unwrap();
        let run = indexer.run_once().await.unwrap();
        assert!(run.caught_up && run.applied > 0, "{run:?}");

        // The demo patient's PHI, as the demo wrote it (docs/demo.md).
        let email = platform
            .db()
            .account_by_address(&report.patient)
            .await
            .unwrap()
            .expect("the demo patient's account")
            .email;
        let tag = email
            .trim_start_matches("demo-patient-")
            .trim_end_matches("@example.org")
            .to_owned();
        let phi = [
            email.clone(),
            format!("DEMO-{tag}"),
            "DEMO^PATIENT".into(),
            "Demo Patient".into(),
            "Patient Demo".into(),
            "Demo^Patient".into(),
            "1970-01-01".into(),
            "19700101".into(),
        ];

        let api_config = medimint_api::ApiConfig::new(
            "http://127.0.0.1:8080",
            &platform.config().network.passphrase,
        )
        .unwrap();
        let state = medimint_api::opener::with_platform(
            api_config,
            platform.seed(),
            platform.clone(),
            Arc::new(medimint_api::mailer::OutboxMailer::new(
                data.path().join("outbox"),
            )),
        );
        state.set_index(index);
        let app = medimint_api::app(state);

        let token = report.token_id;
        let paths = [
            "/v1/explorer/totals".to_owned(),
            "/v1/explorer/days".to_owned(),
            "/v1/explorer/issuers".to_owned(),
            format!("/v1/explorer/tokens/{token}"),
            "/v1/explorer/tokens/999999".to_owned(),
            "/v1/explorer/tokens/abc".to_owned(),
            "/v1/explorer/days?from=2026-13-01".to_owned(),
        ];
        let mut answers = Vec::new();
        for p in &paths {
            let (status, lag, body) = get(&app, p).await;
            for secret in &phi {
                assert!(
                    !body.contains(secret.as_str()),
                    "{p} answered PHI {secret:?}: {body}"
                );
            }
            answers.push((p.clone(), status, lag, body));
        }

        // Nor does the index itself (its database file and journal), which does hold the
        // patient's address (so the scan reads what was written).
        let mut stored = Vec::new();
        for name in ["index.sqlite3", "index.sqlite3-wal"] {
            stored.extend(std::fs::read(data.path().join(name)).unwrap_or_default());
        }
        let stored = String::from_utf8_lossy(&stored);
        assert!(
            stored.contains(&report.patient),
            "the index holds the patient's address"
        );
        for secret in &phi {
            assert!(
                !stored.contains(secret.as_str()),
                "the index holds PHI {secret:?}"
            );
        }

        let json = |i: usize| -> Value { serde_json::from_str(&answers[i].3).unwrap() };
        assert_eq!(answers[0].1, StatusCode::OK);
        assert_eq!(answers[0].2.as_deref(), Some("0"), "the lag header");
        let totals = json(0);
        assert_eq!(totals["totals"]["releases"], 1, "{totals}");
        assert_eq!(totals["totals"]["consents"], 1, "{totals}");
        assert_eq!(totals["totals"]["shares"], 1, "{totals}");
        assert_eq!(totals["totals"]["revokes"], 1, "{totals}");
        assert!(
            totals["totals"]["accesses"].as_i64().unwrap() >= 1,
            "{totals}"
        );
        assert_eq!(totals["issuers"], 1);
        // Today's counts hold the demo's events.
        let days = json(1);
        let days = days.as_array().unwrap();
        assert_eq!(days.len(), 30);
        let sum: i64 = days.iter().map(|d| d["releases"].as_i64().unwrap()).sum();
        assert_eq!(sum, 1);
        let issuers = json(2);
        assert_eq!(issuers[0]["name"], "MediMint Demo Hospital");
        assert_eq!(issuers[0]["address"], report.issuer.as_str());
        let timeline = json(3);
        assert_eq!(timeline["token_id"], token);
        assert_eq!(timeline["status"], "active");
        let kinds: Vec<&str> = timeline["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            report.token_event_kinds().into_iter().collect::<Vec<_>>(),
            "the timeline is the demo's trail"
        );
        assert_eq!(answers[4].1, StatusCode::NOT_FOUND);
        assert_eq!(answers[5].1, StatusCode::BAD_REQUEST);
        assert!(answers[5].3.contains("token"), "{}", answers[5].3);
        assert_eq!(answers[6].1, StatusCode::BAD_REQUEST);
        assert!(answers[6].3.contains("from"), "{}", answers[6].3);

        // The patient's history of the token comes from the index, with its lag.
        let post = |path: &str, body: Value| {
            Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        // The demo mailed this patient before (its own sign-in code among them): the code
        // is in the one message this request adds, whatever order the directory lists.
        let outbox = data.path().join("outbox");
        let listed = || -> std::collections::BTreeSet<std::path::PathBuf> {
            std::fs::read_dir(&outbox)
                .map(|d| d.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default()
        };
        let before = listed();
        let (status, _, body) = send(
            &app,
            post("/auth/email", serde_json::json!({ "email": email })),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let message = listed()
            .difference(&before)
            .map(|p| std::fs::read_to_string(p).unwrap())
            .find(|m| m.starts_with(&format!("To: {email}\n")) && m.contains("code"))
            .expect("the sign-in code in the outbox");
        let code = message
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a 6-digit code")
            .to_owned();
        let (status, _, body) = send(
            &app,
            post(
                "/auth/email/verify",
                serde_json::json!({ "email": email, "code": code }),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let bearer: Value = serde_json::from_str(&body).unwrap();
        let bearer = bearer["token"].as_str().unwrap().to_owned();
        let response = app
            .clone()
            .oneshot(
                Request::get(format!("/v1/studies/{token}/history"))
                    .header("authorization", format!("Bearer {bearer}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-history-source"], "index");
        assert_eq!(response.headers()["x-index-lag-ledgers"], "0");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let trail: Value = serde_json::from_slice(&bytes).unwrap();
        let kinds: Vec<&str> = trail
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            report.token_event_kinds(),
            "the index's trail is the chain's"
        );
        let authed = |path: String| {
            Request::get(path)
                .header("authorization", format!("Bearer {bearer}"))
                .body(Body::empty())
                .unwrap()
        };
        let response = app
            .clone()
            .oneshot(authed("/v1/studies".into()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-list-source"], "index");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["items"][0]["token_id"], token);
        assert_eq!(page["items"][0]["relation"], "owned");
        assert_eq!(page["items"][0]["status"], "active");
        assert_eq!(page["items"][0]["my_role"], "owner");
        assert!(page["next_cursor"].is_null(), "{page}");

        // A write the indexer has not read yet: the history still has it (the chain's tail
        // after the index), the list comes from the chain.
        let nurse = platform
            .share(
                &email,
                &token.to_string(),
                &medimint_platform::Target::parse("nurse@clinic.example").unwrap(),
                medimint_chain::clients::Role::Viewer,
                None,
            )
            .await
            .unwrap();
        let response = app
            .clone()
            .oneshot(authed(format!("/v1/studies/{token}/history")))
            .await
            .unwrap();
        assert_eq!(response.headers()["x-history-source"], "index");
        assert_ne!(response.headers()["x-index-lag-ledgers"], "0");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let trail: Value = serde_json::from_slice(&bytes).unwrap();
        let last = trail.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["kind"], "role_granted", "{trail}");
        assert_eq!(last["parties"][1], nurse.as_str(), "{trail}");
        assert_eq!(trail.as_array().unwrap().len(), kinds.len() + 1);
        let response = app
            .clone()
            .oneshot(authed("/v1/studies".into()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-list-source"], "chain");
    });
}
