//! The records-request endpoints over the real platform on an in-process devnet: 401, the
//! wrong role (a patient asking), a stranger's request (404), bad input naming its field,
//! the wrong code, the lockout after 5, the single use, an expired request, and the happy
//! path: the institution's upload runs through the ingest and becomes a release pending
//! Jane's consent with the requesting issuer as issuer and the request's id; a request
//! naming another patient is refused with a report.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
#[path = "outside_common/mod.rs"]
mod outside;
mod suite_common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Reply;
use medimint_api::clock::Clock;
use medimint_ingest::{Outcome, ReleaseRef};
use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};
use outside::Chain;
use serde_json::{json, Value};
use suite_common::expect;

fn request_body(c: &Chain, family: &str) -> Value {
    json!({
        "patient": {"email": "jane@example.org", "family_name": family, "given_names": "JANE",
                    "birth_date": "1980-01-02", "patient_id": "MRN-7"},
        "requested": "CT of the abdomen, March 2025",
        "institution": "Valley Imaging",
        "deadline": c.clock.now() + 86_400,
    })
}

async fn create(c: &Chain, issuer: &str, body: Value) -> Value {
    let r = c.api.post("/v1/requests", body, Some(issuer)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn open(c: &Chain, made: &Value, code: &str) -> Reply {
    c.api
        .post(
            "/v1/requests/open",
            json!({"link": made["upload_url"], "code": code}),
            None,
        )
        .await
}

/// Files of a new study of Jane's (the hospital's own release holds the set-up's).
fn janes_other_study(uid: &str) -> Vec<(String, Vec<u8>)> {
    generate_study(
        &SyntheticPatient {
            name: "DOE^JANE".into(),
            birth_date: "19800102".into(),
            id: "MRN-7".into(),
        },
        uid,
        1,
        2,
    )
    .unwrap()
}

/// Lists `files`, uploads each to its URL and completes; returns the completion.
async fn upload_all(c: &Chain, id: &str, token: &str, study: &[(String, Vec<u8>)]) -> Reply {
    let files: Vec<Value> = study
        .iter()
        .map(|(name, bytes)| json!({"path": name, "size": bytes.len()}))
        .collect();
    let r = c
        .api
        .post(
            &format!("/v1/requests/{id}/files"),
            json!({ "files": files }),
            Some(token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for (upload, (_, bytes)) in r.body["uploads"].as_array().unwrap().iter().zip(study) {
        let url = upload["url"].as_str().unwrap();
        let path = &url[url.find("/v1/uploads/").unwrap()..];
        let put = c
            .api
            .send(
                Request::builder()
                    .method(Method::PUT)
                    .uri(path)
                    .body(Body::from(bytes.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    c.api
        .post(
            &format!("/v1/requests/{id}/complete"),
            json!(null),
            Some(token),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_requests_upload_once_with_the_code_and_release_to_the_named_patient() {
    let c = outside::chain().await;
    let api = &c.api;
    let (pacs, _) = api.sign_in_as("pacs@general.example").await;
    let (jane, _) = api.sign_in_as("jane@example.org").await;

    // 401 without a token; 403 for a patient (not an issuer).
    let rid = format!("rr-{}", "0".repeat(64));
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/requests".to_string(),
            Some(request_body(&c, "DOE")),
        ),
        (Method::GET, "/v1/requests".to_string(), None),
        (Method::GET, format!("/v1/requests/{rid}"), None),
    ] {
        let r = api.call(method.clone(), &path, body.clone(), None).await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {path}"),
        );
        let r = api
            .call(method.clone(), &path, body.clone(), Some(&jane))
            .await;
        expect(
            &r,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("{method} {path} as a patient"),
        );
    }
    let r = api.get("/v1/requests/nope", Some(&pacs)).await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "a malformed id",
    );
    assert_eq!(r.body["field"], "id");
    // Bad input names its field.
    for (path, value, field) in [
        ("/patient/email", json!("nope"), "patient.email"),
        (
            "/patient/birth_date",
            json!("02/01/1980"),
            "patient.birth_date",
        ),
        ("/patient/family_name", json!(""), "patient.family_name"),
        ("/requested", json!(""), "requested"),
        ("/deadline", json!(1), "deadline"),
    ] {
        let mut body = request_body(&c, "DOE");
        *body.pointer_mut(path).unwrap() = value;
        let r = api.post("/v1/requests", body, Some(&pacs)).await;
        expect(&r, StatusCode::BAD_REQUEST, "invalid-request", path);
        assert_eq!(r.body["field"], field, "{path}: {}", r.text);
    }

    // The happy path.
    let made = create(&c, &pacs, request_body(&c, "DOE")).await;
    let id = made["request"]["id"].as_str().unwrap().to_string();
    let code = made["code"].as_str().unwrap().to_string();
    assert!(code.len() >= 8, "{code}");
    let url = made["upload_url"].as_str().unwrap();
    assert!(url.contains(&format!("#/request/{id}/")), "{url}");
    for phi in ["DOE", "JANE", "MRN-7", "jane@", "1980"] {
        assert!(!url.contains(phi), "{phi} in {url}");
        assert!(
            !made["request"].to_string().contains(phi),
            "{phi} in the request"
        );
    }
    assert!(!url.contains(&code), "the code is not in the link");
    assert_eq!(made["request"]["status"], "awaiting_institution");
    // Nobody else sees it: another issuer gets 404 (the admin adds one).
    let other = c
        .platform
        .add_issuer(&medimint_platform::IssuerSpec {
            email: "lab@other.example".into(),
            address: None,
            profile: medimint_chain::clients::IssuerProfile {
                name: "Other Lab".into(),
                kind: medimint_chain::clients::IssuerKind::Laboratory,
                jurisdiction: "US-NY".into(),
                evidence: [3; 32],
            },
        })
        .await
        .unwrap();
    let _ = other;
    let (lab, _) = api.sign_in_as("lab@other.example").await;
    let r = api.get(&format!("/v1/requests/{id}"), Some(&lab)).await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "not-found",
        "another issuer's request",
    );

    // The link alone is not enough; a wrong code counts.
    let r = open(&c, &made, "WRONGCODE1").await;
    expect(&r, StatusCode::UNAUTHORIZED, "code-invalid", "wrong code");
    assert!(r.text.contains("4 tries left"), "{}", r.text);
    let r = api
        .post(
            "/v1/requests/open",
            json!({"link": "https://x/#/request/rr-1/2", "code": code}),
            None,
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "not a link");
    assert_eq!(r.body["field"], "link");
    // Without an upload token, the upload routes refuse.
    let r = api
        .post(
            &format!("/v1/requests/{id}/files"),
            json!({"files": []}),
            None,
        )
        .await;
    expect(
        &r,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "files without a token",
    );
    let r = api
        .post(
            &format!("/v1/requests/{id}/complete"),
            json!(null),
            Some(&"ab".repeat(32)),
        )
        .await;
    expect(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "complete with a wrong token",
    );

    let r = open(&c, &made, &code.to_lowercase()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["requested"], "CT of the abdomen, March 2025");
    assert_eq!(r.body["patient_id"], "MRN-7");
    let upload_token = r.body["upload_token"].as_str().unwrap().to_string();
    // Single use.
    let r = open(&c, &made, &code).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "the code again");
    assert!(r.text.contains("used already"), "{}", r.text);
    // Bad files name the field.
    let r = api
        .post(
            &format!("/v1/requests/{id}/files"),
            json!({"files": []}),
            Some(&upload_token),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid-request", "no files");
    assert_eq!(r.body["field"], "files");
    let done = upload_all(&c, &id, &upload_token, &janes_other_study("2.25.3002")).await;
    assert_eq!(done.status, StatusCode::ACCEPTED, "{}", done.text);
    // The ingest (`medimint up`'s watched inbox does this on its own).
    let outcome = c
        .platform
        .process(&ReleaseRef {
            issuer: c.issuer.clone(),
            release_id: id.clone(),
        })
        .await
        .unwrap();
    let token_id = match outcome {
        Outcome::Released { token_id, .. } => token_id,
        other => panic!("not released: {other:?}"),
    };
    let record = c.platform.token(&token_id).await.unwrap();
    assert_eq!(
        record.issuer, c.issuer,
        "the requesting issuer is the issuer"
    );
    assert_eq!(record.status, "Pending", "pending Jane's consent");
    let jane_address = c
        .platform
        .db()
        .account_by_email("jane@example.org")
        .await
        .unwrap()
        .unwrap()
        .address;
    assert_eq!(record.owner, jane_address);
    let r = api.get(&format!("/v1/requests/{id}"), Some(&pacs)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["request"]["status"], "submitted");
    assert_eq!(r.body["release"]["release_id"], id.as_str());
    assert_eq!(r.body["release"]["token_id"], token_id.as_str());
    // On chain: the request's creation and, now that it is a token, its fulfilment (no
    // PHI: the request's random bytes, the issuer, the patient's address, the token).
    assert_eq!(
        r.body["request"]["fulfilled_token"]
            .as_u64()
            .unwrap()
            .to_string(),
        token_id
    );
    let trail = c.platform.history(None, Some(&c.issuer)).await.unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"records_requested"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "records_request_fulfilled")
            .count(),
        1,
        "{kinds:?}"
    );
    let text = serde_json::to_string(&trail).unwrap();
    for phi in ["DOE", "JANE", "MRN-7", "jane@example.org"] {
        assert!(!text.contains(phi), "{phi} on chain");
    }
    // Reading it again records nothing twice.
    let r = api.get(&format!("/v1/requests/{id}"), Some(&pacs)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let again = c.platform.history(None, Some(&c.issuer)).await.unwrap();
    assert_eq!(
        again
            .iter()
            .filter(|e| e.kind == "records_request_fulfilled")
            .count(),
        1
    );
    let r = api.get("/v1/requests", Some(&pacs)).await;
    assert_eq!(r.body[0]["id"], id.as_str());
    let r = api
        .get(&format!("/v1/studies/{token_id}"), Some(&jane))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "Jane sees the pending study: {}",
        r.text
    );

    // A request naming another patient: the headers say Jane, so it is refused.
    let wrong = create(&c, &pacs, request_body(&c, "ROE")).await;
    let wid = wrong["request"]["id"].as_str().unwrap().to_string();
    let r = open(&c, &wrong, wrong["code"].as_str().unwrap()).await;
    let wtoken = r.body["upload_token"].as_str().unwrap().to_string();
    let done = upload_all(&c, &wid, &wtoken, &janes_other_study("2.25.3003")).await;
    assert_eq!(done.status, StatusCode::ACCEPTED, "{}", done.text);
    let outcome = c
        .platform
        .process(&ReleaseRef {
            issuer: c.issuer.clone(),
            release_id: wid.clone(),
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Rejected { .. }), "{outcome:?}");
    let r = api.get(&format!("/v1/requests/{wid}"), Some(&pacs)).await;
    assert_eq!(r.body["release"]["status"], "refused", "{}", r.text);
    assert!(
        r.body["release"]["refusal"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "patient_name_mismatch"),
        "{}",
        r.text
    );
    assert!(
        !r.text.contains("ROE") && !r.text.contains("DOE"),
        "no PHI in the report: {}",
        r.text
    );

    // Lockout after 5 wrong codes, even for the right one afterwards.
    let locked = create(&c, &pacs, request_body(&c, "DOE")).await;
    for i in 1..=5 {
        let r = open(&c, &locked, "WRONGCODE1").await;
        expect(
            &r,
            StatusCode::UNAUTHORIZED,
            "code-invalid",
            &format!("wrong try {i}"),
        );
    }
    let r = open(&c, &locked, locked["code"].as_str().unwrap()).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "locked");
    assert!(r.text.contains("locked"), "{}", r.text);

    // Expired: past its deadline the code no longer opens it.
    let late = create(&c, &pacs, request_body(&c, "DOE")).await;
    c.clock.advance(86_401);
    let r = open(&c, &late, late["code"].as_str().unwrap()).await;
    expect(&r, StatusCode::FORBIDDEN, "forbidden", "expired");
    assert!(r.text.contains("deadline"), "{}", r.text);
}
