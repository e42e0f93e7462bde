//! The web app (`web/`), built into `web/dist/` (checked in; CI rebuilds it and fails on
//! any difference) and embedded in the binary, so `medimint up` serves it at `/` beside the
//! API without Node. The API keeps its paths (`/auth…`, `/v1/…`, `/.well-known/…`); the app
//! routes with the URL's hash, so it needs only `/`, `/favicon.svg` and `/assets/…`.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../web/dist");

/// The app's Content-Security-Policy: scripts, styles and connections from this origin only
/// (no inline script or style), images also as `data:` (the TOTP QR code), no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// `api` with the web app's routes in front of it.
pub fn with_web(api: Router) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.svg", get(favicon))
        .route("/assets/{*path}", get(asset))
        .merge(api)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// One embedded file with the app's security headers; `cache` for its Cache-Control.
fn serve(path: &str, cache: &'static str) -> Response {
    let Some(file) = DIST.get_file(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file of the web app\n",
        )
            .into_response();
    };
    let headers: [(HeaderName, HeaderValue); 8] = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ];
    (headers, file.contents()).into_response()
}

async fn index() -> Response {
    // Always revalidated: it names the current hashed assets.
    serve("index.html", "no-cache")
}

async fn favicon() -> Response {
    serve("favicon.svg", "public, max-age=86400")
}

async fn asset(Path(path): Path<String>) -> Response {
    // File names carry a content hash, so they never change.
    serve(
        &format!("assets/{path}"),
        "public, max-age=31536000, immutable",
    )
}

/// What `medimint up --demo` prints for a newcomer to click through the mission.
const DEMO_PATIENT: &str = "jane@example.org";
const DEMO_DOCTOR: &str = "dr@clinic.example";

/// `medimint up --demo`: on a fresh data directory registers a demo issuer and releases a
/// generated two-series study to the demo patient (pending her consent); then asks the API
/// for sign-in codes for the patient and the doctor and prints them with the web app's URL.
pub async fn demo(
    platform: &medimint_platform::Platform,
    base: &str,
    outbox: &std::path::Path,
) -> anyhow::Result<()> {
    use medimint_chain::clients::{IssuerKind, IssuerProfile};
    use medimint_ingest::Outcome;
    use medimint_platform::{IssuerSpec, PatientSpec, ReleaseSpec};
    use medimint_stack::dicom_gen::{generate_study, SyntheticPatient};

    if platform.issuers().await?.is_empty() {
        let issuer = platform
            .add_issuer(&IssuerSpec {
                email: "pacs@general.example".into(),
                address: None,
                profile: IssuerProfile {
                    name: "General Hospital (demo)".into(),
                    kind: IssuerKind::Hospital,
                    jurisdiction: "US-CA".into(),
                    evidence: platform.evidence_commitment("demo evidence")?,
                },
            })
            .await?;
        let patient = SyntheticPatient {
            name: "DOE^JANE".into(),
            birth_date: "19800102".into(),
            id: "MRN-DEMO-1".into(),
        };
        let uid = format!("2.25.{}", rand::random::<u64>());
        let export = platform.config().data_dir.join("demo-export");
        for (path, bytes) in generate_study(&patient, &uid, 2, 2).map_err(anyhow::Error::msg)? {
            let dest = export.join(path);
            std::fs::create_dir_all(dest.parent().unwrap_or(&export))?;
            std::fs::write(dest, bytes)?;
        }
        let spec = ReleaseSpec {
            issuer,
            release_id: format!("DEMO-{}", rand::random::<u32>()),
            patient: PatientSpec {
                email: DEMO_PATIENT.into(),
                family_name: "Doe".into(),
                given_names: "Jane".into(),
                birth_date: "1980-01-02".into(),
                patient_id: patient.id.clone(),
            },
            study_instance_uid: Some(uid),
            paths: vec![export.clone()],
        };
        match platform.release(&spec, |_, _| {}).await? {
            Outcome::Released { token_id, .. } => {
                println!("  demo study:    token {token_id}, waiting for {DEMO_PATIENT}'s consent")
            }
            Outcome::Rejected { report_key, .. } => {
                anyhow::bail!("the demo study was refused (report at {report_key})")
            }
        }
    }
    println!("  open:          {base}/");
    for (email, who) in [(DEMO_PATIENT, "patient"), (DEMO_DOCTOR, "doctor")] {
        let before = messages_to(outbox, email);
        post_json(base, "/auth/email", &format!("{{\"email\":\"{email}\"}}")).await?;
        let code = messages_to(outbox, email)
            .into_iter()
            .find(|m| !before.contains(m))
            .and_then(|m| {
                let text = m.split_once("\n\n").map_or("", |(_, t)| t).to_owned();
                text.split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == 6)
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                anyhow::anyhow!("no sign-in code for {email} in {}", outbox.display())
            })?;
        println!(
            "  sign in:       {email} with code {code} ({who}; 10 minutes, then ask for a new one)"
        );
    }
    Ok(())
}

/// The sign-in code messages in the outbox addressed to `email` (not other mail).
fn messages_to(outbox: &std::path::Path, email: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(outbox) else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|m| {
            m.starts_with(&format!(
                "To: {email}\nSubject: Your MediMint sign-in code\n"
            ))
        })
        .collect()
}

/// One JSON POST to the local API over plain HTTP/1.1 (no client library for one request).
async fn post_json(base: &str, path: &str, body: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    if !status.starts_with("HTTP/1.1 2") {
        anyhow::bail!("POST {path} answered {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        with_web(Router::new().fallback(|| async { (StatusCode::IM_A_TEAPOT, "api") }))
    }

    async fn get_(path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let res = app()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), 16 << 20).await.unwrap().to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn the_app_is_served_with_a_strict_csp_and_its_assets_exist() {
        let (status, headers, body) = get_("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        let html = String::from_utf8(body).unwrap();
        assert!(!html.contains("<script>"), "an inline script: {html}");
        // Every asset the page names is embedded and served with its type.
        let mut named = 0;
        for part in html.split("\"/assets/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            let (status, headers, body) = get_(&format!("/assets/{name}")).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert!(!body.is_empty());
            let ct = headers[header::CONTENT_TYPE].to_str().unwrap();
            assert!(
                ct.starts_with("text/javascript") || ct.starts_with("text/css"),
                "{name}: {ct}"
            );
            assert!(headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"));
            named += 1;
        }
        assert!(named >= 2, "the page names its script and style: {html}");
    }

    #[tokio::test]
    async fn the_api_keeps_its_paths_and_unknown_assets_are_404() {
        let (status, _, body) = get_("/v1/health").await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert_eq!(body, b"api");
        let (status, _, _) = get_("/assets/none.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get_("/assets/../Cargo.toml").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
