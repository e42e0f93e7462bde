//! The OpenAPI 3.1 document: served, checked in as docs/openapi.json, valid according to
//! `openapi-spec-validator` (PyPI), and covering every route.
//!
//! After changing an endpoint: `MEDIMINT_UPDATE_OPENAPI=1 cargo test -p medimint-api --test openapi`.

mod common;

use std::process::Command;

use axum::http::StatusCode;
use common::TestApi;

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[test]
fn docs_openapi_json_is_the_generated_document() {
    let generated = medimint_api::openapi::document_json();
    if std::env::var_os("MEDIMINT_UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/openapi.json differs from the code's document; run \
         `MEDIMINT_UPDATE_OPENAPI=1 cargo test -p medimint-api --test openapi` and commit it"
    );
}

#[tokio::test]
async fn the_document_is_served_and_lists_every_route() {
    let api = TestApi::new();
    let r = api.get("/v1/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.1.0");
    let paths = r.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/.well-known/stellar.toml", "get"),
        ("/auth", "get"),
        ("/auth", "post"),
        ("/auth/email", "post"),
        ("/auth/email/verify", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/logout/everywhere", "post"),
        ("/v1/me", "get"),
        ("/v1/me/totp", "post"),
        ("/v1/me/totp/confirm", "post"),
        ("/v1/me/totp", "delete"),
        ("/v1/health", "get"),
        ("/v1/openapi.json", "get"),
        ("/v1/studies", "get"),
        ("/v1/studies/{token}", "get"),
        ("/v1/studies/{token}/consent", "post"),
        ("/v1/studies/{token}/access", "get"),
        ("/v1/studies/{token}/shares", "post"),
        ("/v1/studies/{token}/shares/{grantee}", "delete"),
        ("/v1/studies/{token}/history", "get"),
        ("/v1/studies/{token}/files", "get"),
        ("/v1/studies/{token}/files/{path}", "get"),
        ("/v1/studies/{token}/verify", "post"),
        ("/v1/studies/{token}/rekey", "post"),
        ("/v1/studies/{token}/erase", "post"),
        ("/v1/studies/{token}/key", "get"),
        ("/v1/objects/{key}", "get"),
        ("/v1/authorizations/{id}/submit", "post"),
        ("/v1/issuers", "get"),
        ("/v1/explorer/totals", "get"),
        ("/v1/explorer/days", "get"),
        ("/v1/explorer/issuers", "get"),
        ("/v1/explorer/tokens/{token}", "get"),
        ("/v1/issuers", "post"),
        ("/v1/issuers/{address}", "delete"),
        ("/v1/issuers/{address}/suspend", "post"),
        ("/v1/issuers/{address}/reinstate", "post"),
        ("/v1/releases", "get"),
        ("/v1/releases", "post"),
        ("/v1/releases/{id}", "get"),
        ("/v1/releases/{id}/uploads", "get"),
        ("/v1/releases/{id}/complete", "post"),
        ("/v1/uploads/{issuer}/{release_id}/{index}", "put"),
        ("/v1/studies/{token}/links", "post"),
        ("/v1/studies/{token}/links", "get"),
        ("/v1/studies/{token}/links/{id}", "delete"),
        ("/v1/links/open", "post"),
        ("/v1/requests", "post"),
        ("/v1/requests", "get"),
        ("/v1/requests/{id}", "get"),
        ("/v1/requests/open", "post"),
        ("/v1/requests/{id}/files", "post"),
        ("/v1/requests/{id}/complete", "post"),
        ("/v1/studies/{token}/emergency", "post"),
        ("/v1/studies/{token}/emergency/{issuer}", "delete"),
        ("/v1/emergency", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        paths.len(),
        51,
        "a documented path without a route, or the reverse"
    );
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn openapi_spec_validator_accepts_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, medimint_api::openapi::document_json()).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys\n\
try:\n    from openapi_spec_validator import validate\n    from openapi_spec_validator.readers import read_from_filename\n\
except ImportError as e:\n    sys.exit(f'openapi-spec-validator is missing ({e}); run: python3 -m pip install openapi-spec-validator')\n\
spec, _ = read_from_filename(sys.argv[1])\nvalidate(spec)\nprint('valid')",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid");
}
