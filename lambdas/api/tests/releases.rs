//! Releases through the API, over a platform with local storage and SQLite: who may start
//! one, the manifest's rules, the API's own signed upload URLs (expired, tampered, too long,
//! too short), completion writing the manifest last, retries, another issuer's release
//! (404), the list and a refused release's report.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{offline_platform, Reply, TestApi, BASE};
use medimint_storage::{Release, ReleaseStatus};
use serde_json::{json, Value};

const DCM_A: &[u8] = b"not really DICOM, but the API only stores bytes: the pipeline checks them";
const DCM_B: &[u8] = b"second file";

struct Setup {
    api: TestApi,
    platform: std::sync::Arc<medimint_platform::Platform>,
    issuer: String,
    token: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let platform = offline_platform(dir.path()).await;
    let api = TestApi::with_platform(platform.clone());
    let (token, issuer) = api.sign_in_as("pacs@general.example").await;
    api.parts
        .roles
        .issuers
        .lock()
        .unwrap()
        .insert(issuer.clone());
    Setup {
        api,
        platform,
        issuer,
        token,
        _dir: dir,
    }
}

fn release_body(id: &str) -> Value {
    json!({
        "release_id": id,
        "patient": {
            "email": "jane@example.org",
            "family_name": "Doe",
            "given_names": "Jane",
            "birth_date": "1980-01-02",
            "patient_id": "MRN-7"
        },
        "study_instance_uid": "2.25.4242",
        "files": [
            {"path": "S01/IM1.dcm", "size": DCM_A.len()},
            {"path": "S01/IM2.dcm", "size": DCM_B.len()}
        ]
    })
}

/// PUT `bytes` to an upload URL of an answer (the API's own: strip the base).
async fn put(api: &TestApi, url: &str, bytes: &[u8], content_length: bool) -> Reply {
    let path = url.strip_prefix(BASE).expect("a URL of this API");
    let mut b = Request::builder().method(Method::PUT).uri(path);
    if content_length {
        b = b.header("content-length", bytes.len());
    }
    api.send(b.body(Body::from(bytes.to_vec())).unwrap()).await
}

fn url_of(r: &Reply, i: usize) -> String {
    r.body["uploads"][i]["url"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_issuer_starts_uploads_and_completes_and_the_manifest_is_written_last() {
    let s = setup().await;
    let r = s
        .api
        .post("/v1/releases", release_body("ACC-1"), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["release_id"], "ACC-1");
    assert_eq!(r.body["files"], 2);
    assert_eq!(r.body["uploads"][0]["method"], "PUT");
    assert_eq!(r.body["uploads"][0]["size"], DCM_A.len());
    assert_eq!(r.body["uploads"][0]["uploaded"], false);
    assert_eq!(
        r.body["complete"]["url"],
        format!("{BASE}/v1/releases/ACC-1/complete")
    );
    assert!(r.body.get("next_uploads").is_none());
    // The URL names the file by its place, never by its name.
    assert!(!url_of(&r, 0).contains("IM1"), "{}", url_of(&r, 0));

    let manifest_key = format!("inbox/{}/ACC-1/release.json", s.issuer);
    let up = put(&s.api, &url_of(&r, 0), DCM_A, true).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    assert_eq!(up.body["size"], DCM_A.len());
    let state = s.api.get("/v1/releases/ACC-1", Some(&s.token)).await;
    assert_eq!(state.body["status"], "awaiting_upload");
    assert_eq!(state.body["uploaded"], 1);

    // Completing early names what is missing, and writes nothing.
    let early = s
        .api
        .post("/v1/releases/ACC-1/complete", json!({}), Some(&s.token))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.body["detail"].as_str().unwrap().contains("files[1]"));
    assert!(s
        .platform
        .store()
        .head(&manifest_key)
        .await
        .unwrap()
        .is_none());

    // Without content-length (chunked), as a streaming client sends it.
    let up = put(&s.api, &url_of(&r, 1), DCM_B, false).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    let done = s
        .api
        .post("/v1/releases/ACC-1/complete", json!({}), Some(&s.token))
        .await;
    assert_eq!(done.status, StatusCode::ACCEPTED, "{}", done.text);
    assert_eq!(done.body["status"], "submitted");
    let store = s.platform.store();
    let stored = store
        .get_bytes(&format!("inbox/{}/ACC-1/S01/IM1.dcm", s.issuer), 1 << 20)
        .await
        .unwrap();
    assert_eq!(stored, DCM_A);
    let manifest: Value =
        serde_json::from_slice(&store.get_bytes(&manifest_key, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["patient"]["patient_id"], "MRN-7");
    assert_eq!(manifest["files"][1]["path"], "S01/IM2.dcm");
    medimint_ingest::parse_manifest(&serde_json::to_vec(&manifest).unwrap()).unwrap();

    // Completing again is harmless; uploading after completion is refused.
    let again = s
        .api
        .post("/v1/releases/ACC-1/complete", json!({}), Some(&s.token))
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    let late = put(&s.api, &url_of(&r, 0), DCM_A, true).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(late.problem(), "conflict");
}

#[tokio::test]
async fn only_a_signed_in_active_issuer_starts_or_completes_a_release() {
    let s = setup().await;
    let r = s.api.post("/v1/releases", release_body("X-1"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.problem(), "unauthenticated");
    let (patient, _) = s.api.sign_in_as("jane@example.org").await;
    let r = s
        .api
        .post("/v1/releases", release_body("X-1"), Some(&patient))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.problem(), "forbidden");
    // An issuer suspended after starting cannot complete.
    let started = s
        .api
        .post("/v1/releases", release_body("X-1"), Some(&s.token))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    s.api.parts.roles.issuers.lock().unwrap().clear();
    let r = s
        .api
        .post("/v1/releases/X-1/complete", json!({}), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

#[tokio::test]
async fn another_issuers_release_is_404_everywhere() {
    let s = setup().await;
    let r = s
        .api
        .post("/v1/releases", release_body("MINE-1"), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (other, other_addr) = s.api.sign_in_as("pacs@other.example").await;
    s.api.parts.roles.issuers.lock().unwrap().insert(other_addr);
    for (method, path) in [
        (Method::GET, "/v1/releases/MINE-1"),
        (Method::GET, "/v1/releases/MINE-1/uploads"),
        (Method::POST, "/v1/releases/MINE-1/complete"),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let r = s.api.call(method.clone(), path, body, Some(&other)).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.problem(), "not-found");
    }
    let list = s.api.get("/v1/releases", Some(&other)).await;
    assert_eq!(list.body["items"], json!([]));
    // The same id is free for the other issuer: ids are per issuer.
    let r = s
        .api
        .post("/v1/releases", release_body("MINE-1"), Some(&other))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_retry_is_idempotent_and_another_manifest_under_the_same_id_is_409() {
    let s = setup().await;
    let first = s
        .api
        .post("/v1/releases", release_body("R-1"), Some(&s.token))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(
        put(&s.api, &url_of(&first, 0), DCM_A, true).await.status,
        StatusCode::CREATED
    );
    let retry = s
        .api
        .post("/v1/releases", release_body("R-1"), Some(&s.token))
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.body["uploads"][0]["uploaded"], true);
    assert_eq!(retry.body["uploads"][1]["uploaded"], false);
    let mut other = release_body("R-1");
    other["patient"]["patient_id"] = json!("MRN-8");
    let r = s.api.post("/v1/releases", other, Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.problem(), "conflict");
    // Listed once.
    let list = s.api.get("/v1/releases", Some(&s.token)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // Without an id, each start is a new release with a random one.
    let mut a = release_body("x");
    a.as_object_mut().unwrap().remove("release_id");
    let r1 = s.api.post("/v1/releases", a.clone(), Some(&s.token)).await;
    let r2 = s.api.post("/v1/releases", a, Some(&s.token)).await;
    assert_eq!(r1.status, StatusCode::CREATED);
    assert_eq!(r2.status, StatusCode::CREATED);
    let id = r1.body["release_id"].as_str().unwrap();
    assert!(id.starts_with("api-") && id.len() == 36, "{id}");
    assert_ne!(r1.body["release_id"], r2.body["release_id"]);
}

#[tokio::test]
async fn expired_or_tampered_upload_urls_are_refused_and_store_nothing() {
    let s = setup().await;
    let r = s
        .api
        .post("/v1/releases", release_body("T-1"), Some(&s.token))
        .await;
    let url = url_of(&r, 0);
    let key = format!("inbox/{}/T-1/S01/IM1.dcm", s.issuer);
    let tampered = [
        url.replace("/T-1/0?", "/T-1/1?"),
        url.replace(&format!("size={}", DCM_A.len()), "size=5"),
        url.replace("signature=", "signature=00"),
        url.replace(
            &s.issuer,
            "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7",
        ),
    ];
    for t in &tampered {
        let bytes: &[u8] = if t.contains("size=5&") {
            b"12345"
        } else {
            DCM_A
        };
        let r = put(&s.api, t, bytes, true).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{t}: {}", r.text);
        assert_eq!(r.problem(), "forbidden");
    }
    s.api.clock.advance(3601);
    let r = put(&s.api, &url, DCM_A, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("expired"));
    assert!(s.platform.store().head(&key).await.unwrap().is_none());
    // Fresh URLs work (asked in a new session: the old one idled out meanwhile).
    let (token, _) = s.api.sign_in_as("pacs@general.example").await;
    let fresh = s.api.get("/v1/releases/T-1/uploads", Some(&token)).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    let r = put(&s.api, &url_of(&fresh, 0), DCM_A, true).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_body_longer_or_shorter_than_signed_is_refused_and_leaves_no_object() {
    let s = setup().await;
    let r = s
        .api
        .post("/v1/releases", release_body("L-1"), Some(&s.token))
        .await;
    let url = url_of(&r, 0);
    let key = format!("inbox/{}/L-1/S01/IM1.dcm", s.issuer);
    let mut longer = DCM_A.to_vec();
    longer.extend_from_slice(b"and more");
    // Declared too long: refused before reading.
    let r = put(&s.api, &url, &longer, true).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.problem(), "too-large");
    // Streamed too long: cut at the signed size.
    let r = put(&s.api, &url, &longer, false).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(s.platform.store().head(&key).await.unwrap().is_none());
    // Too short, declared or streamed.
    let r = put(&s.api, &url, &DCM_A[..10], true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = put(&s.api, &url, &DCM_A[..10], false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "body");
    assert!(s.platform.store().head(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn the_manifest_rules_apply_and_name_the_field() {
    let s = setup().await;
    let mut bad = release_body("M-1");
    bad["patient"]["email"] = json!("not-an-email");
    let r = s.api.post("/v1/releases", bad, Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "patient.email");
    assert!(!r.text.contains("not-an-email"), "values are never echoed");
    let mut bad = release_body("M-1");
    bad["files"] = json!([]);
    let r = s.api.post("/v1/releases", bad, Some(&s.token)).await;
    assert_eq!(r.body["field"], "files");
    let r = s
        .api
        .post("/v1/releases", release_body("../etc"), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "release_id");
    let mut many = release_body("M-2");
    many["files"] = Value::Array(
        (0..10_001)
            .map(|i| json!({"path": format!("{i}.dcm"), "size": 1}))
            .collect(),
    );
    let r = s.api.post("/v1/releases", many, Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "files");
    // 10,000 files fit (the body limit of this endpoint is the manifest's, 1 MiB), and
    // their URLs come in batches.
    let mut max = release_body("M-3");
    max["files"] = Value::Array(
        (0..10_000)
            .map(|i| json!({"path": format!("{i}.dcm"), "size": 1}))
            .collect(),
    );
    let r = s.api.post("/v1/releases", max, Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.problem());
    assert_eq!(r.body["uploads"].as_array().unwrap().len(), 1000);
    assert_eq!(
        r.body["next_uploads"]["url"],
        format!("{BASE}/v1/releases/M-3/uploads?from=1000")
    );
    let next = s
        .api
        .get("/v1/releases/M-3/uploads?from=9500", Some(&s.token))
        .await;
    assert_eq!(next.body["uploads"].as_array().unwrap().len(), 500);
    assert_eq!(next.body["uploads"][0]["index"], 9500);
    assert!(next.body.get("next_uploads").is_none());
}

#[tokio::test]
async fn the_list_pages_newest_first_and_a_refusal_reads_in_words() {
    let s = setup().await;
    for id in ["P-1", "P-2", "P-3"] {
        let r = s
            .api
            .post("/v1/releases", release_body(id), Some(&s.token))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let page = s.api.get("/v1/releases?limit=2", Some(&s.token)).await;
    let ids: Vec<_> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["release_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["P-3", "P-2"]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let page = s
        .api
        .get(
            &format!("/v1/releases?limit=2&cursor={cursor}"),
            Some(&s.token),
        )
        .await;
    assert_eq!(page.body["items"][0]["release_id"], "P-1");
    assert!(page.body.get("next_cursor").is_none());
    let bad = s.api.get("/v1/releases?cursor=99", Some(&s.token)).await;
    assert_eq!(bad.body["field"], "cursor");
    let bad = s.api.get("/v1/releases?limit=0", Some(&s.token)).await;
    assert_eq!(bad.body["field"], "limit");

    // The pipeline refused P-1: its record and its report in quarantine (as it writes them).
    let report = medimint_ingest::Report::new(
        &s.issuer,
        "P-1",
        2,
        vec![medimint_ingest::Problem::file(
            medimint_ingest::ProblemCode::NotDicom,
            "S01/IM1.dcm",
            None,
            "not a DICOM file (no DICM marker and no file meta group)",
        )],
    );
    let report_key = format!("quarantine/{}/P-1/report.json", s.issuer);
    s.platform
        .store()
        .put_bytes(&report_key, report.to_json().into())
        .await
        .unwrap();
    let db = s.platform.db();
    let mut rec = db
        .insert_release(&Release::received(&s.issuer, "P-1", 1))
        .await
        .unwrap();
    rec.status = ReleaseStatus::Rejected;
    rec.report_key = Some(report_key);
    db.update_release(&rec).await.unwrap();
    let r = s.api.get("/v1/releases/P-1", Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "refused");
    assert_eq!(r.body["refusal"]["problems"][0]["code"], "not_dicom");
    assert_eq!(r.body["refusal"]["problems"][0]["file"], "S01/IM1.dcm");
    assert!(r.body["refusal"]["text"]
        .as_str()
        .unwrap()
        .contains("not a DICOM file"));
    // A refused release takes no more uploads or completions.
    let c = s
        .api
        .post("/v1/releases/P-1/complete", json!({}), Some(&s.token))
        .await;
    assert_eq!(c.status, StatusCode::ACCEPTED);
    assert_eq!(c.body["status"], "refused");
}

#[tokio::test]
async fn only_a_signed_in_issuer_lists_releases() {
    let s = setup().await;
    let r = s.api.get("/v1/releases", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.problem(), "unauthenticated");
    let (patient, _) = s.api.sign_in_as("jane@example.org").await;
    let r = s.api.get("/v1/releases", Some(&patient)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.problem(), "forbidden");
    let r = s.api.get("/v1/releases", Some(&s.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"], json!([]));
}

#[tokio::test]
async fn inbox_releases_are_listed_once_beside_api_releases_whatever_the_retries() {
    let s = setup().await;
    let r = s
        .api
        .post("/v1/releases", release_body("API-1"), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // A PACS export into the inbox, as the pipeline records and lists it: delivered three
    // times (two of them at once), and released on chain as token 7.
    let db = s.platform.db();
    let mut rec = db
        .insert_release(&Release::received(&s.issuer, "PACS-1", 1))
        .await
        .unwrap();
    let (a, b, c) = tokio::join!(
        medimint_ingest::listing::list_release(db.as_ref(), &s.issuer, "PACS-1"),
        medimint_ingest::listing::list_release(db.as_ref(), &s.issuer, "PACS-1"),
        medimint_ingest::listing::list_release(db.as_ref(), &s.issuer, "PACS-1"),
    );
    let place = a.unwrap();
    assert_eq!(b.unwrap(), place);
    assert_eq!(c.unwrap(), place);
    rec.status = ReleaseStatus::Confirmed;
    rec.token_id = Some("7".into());
    db.update_release(&rec).await.unwrap();
    // The API release's retry lists nothing new either.
    let r = s
        .api
        .post("/v1/releases", release_body("API-1"), Some(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let page = s.api.get("/v1/releases", Some(&s.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", page.text);
    assert_eq!(items[0]["release_id"], "PACS-1");
    assert_eq!(items[0]["status"], "released");
    assert_eq!(items[0]["token_id"], "7");
    assert_eq!(items[1]["release_id"], "API-1");
    assert_eq!(items[1]["status"], "awaiting_upload");
    assert!(items[1].get("token_id").is_none());
    // Another issuer sees none of them.
    let (other, other_addr) = s.api.sign_in_as("pacs@other.example").await;
    s.api.parts.roles.issuers.lock().unwrap().insert(other_addr);
    let page = s.api.get("/v1/releases", Some(&other)).await;
    assert_eq!(page.body["items"], json!([]), "{}", page.text);
}
