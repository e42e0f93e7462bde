//! Share links (docs/share-links.md): a patient shows a study to someone without an account.
//!
//! - `POST /v1/studies/{token}/links` (the owner) makes a link: a Viewer grant on chain to
//!   an address the platform holds for the link, until the link's expiry. The answer holds
//!   the `shlink:/…` link (SMART Health Links style: base64url JSON with the link's URL, its
//!   key, `exp` and the `P` flag; no PHI), the viewer URL (the web app with the link in the
//!   fragment, which browsers never send), the passcode (shown once, to be given
//!   separately) and the link as a QR code.
//! - `GET /v1/studies/{token}/links` lists them with their openings;
//!   `DELETE /v1/studies/{token}/links/{id}` revokes one like any grant, and every session
//!   opened with it ends at its next request.
//! - `POST /v1/links/open` takes the link and the passcode in the body (never in a URL)
//!   and answers a read-only viewing session: a bearer token whose `amr` is `["shlink"]`,
//!   accepted by the study, file and DICOMweb reads (GET) only.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use base64::Engine;
use medimint_platform::{PlatformError, ShareLinkSpec, ShareLinkView};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// The `amr` of a session opened with a share link.
pub const LINK_AMR: &str = "shlink";
/// How a link starts (SMART Health Links).
pub const SHLINK_PREFIX: &str = "shlink:/";

/// The share-link routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/studies/{token}/links", post(create).get(list))
        .route("/v1/studies/{token}/links/{id}", delete(revoke))
        .route("/v1/links/open", post(open))
}

/// A request by a share-link session: reads only (GET, HEAD), and only while its link is
/// neither revoked nor expired. Other sessions pass unchanged.
///
/// # Errors
/// 403 for a write; 401 `session-ended` once the link was revoked or expired.
pub async fn link_session_may(state: &AppState, caller: &Caller, method: &Method) -> ApiResult<()> {
    if caller.amr != LINK_AMR {
        return Ok(());
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::Forbidden(
            "a share-link session only reads: it may view and download the shared study".into(),
        ));
    }
    let live = state
        .platform()?
        .share_link_live(&caller.address, state.now())
        .await
        .map_err(from_platform)?;
    if live == Some(true) {
        Ok(())
    } else {
        Err(ApiError::SessionEnded(
            "the share link was revoked or has expired; ask the patient for a new link".into(),
        ))
    }
}

/// Body of `POST /v1/studies/{token}/links`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Unix seconds when the link and its grant end (at most 90 days ahead).
    pub expires_at: u64,
    /// How many openings it allows, 1 to 100 (default 1).
    pub max_uses: Option<u32>,
    /// A passcode of 6 to 64 characters; a random one of 10 when absent.
    pub passcode: Option<String>,
}

/// Answer of `POST /v1/studies/{token}/links`. The passcode and the link are shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedLink {
    /// The link as listed.
    pub link: ShareLinkView,
    /// `shlink:/…`: base64url JSON `{url, key, exp, flag: "P", v: 1}` (no PHI).
    pub shlink: String,
    /// The web app's page that opens it (the link in the URL's fragment).
    pub viewer_url: String,
    /// The passcode, to give separately (by phone, in person).
    pub passcode: String,
    /// `viewer_url` as a QR code (PNG, base64).
    pub qr_png_base64: String,
}

/// Body of `POST /v1/links/open`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLink {
    /// The link: `shlink:/…`, or the viewer URL holding it after `#`.
    pub link: String,
    /// The passcode the patient gave.
    pub passcode: String,
}

/// Answer of `POST /v1/links/open`: a read-only viewing session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkSession {
    /// The access token (JWT, `amr: ["shlink"]`) for `Authorization: Bearer …`.
    pub token: String,
    /// Seconds until `token` expires (refresh with `POST /auth/refresh`).
    pub expires_in: u64,
    /// The refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// The study it shows.
    pub token_id: u32,
    /// Unix seconds when the link ends (no session outlives it).
    pub link_expires_at: u64,
}

/// The JSON a `shlink:/` carries.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    url: String,
    key: String,
    exp: u64,
    flag: String,
    v: u32,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The `shlink:/…` of link `id` with its secret (hex) on the API at `base_url`.
///
/// # Errors
/// A secret that is not hex.
pub fn shlink(base_url: &str, id: &str, secret_hex: &str, exp: u64) -> ApiResult<String> {
    let key = hex::decode(secret_hex).map_err(|e| ApiError::Internal(e.into()))?;
    let payload = Payload {
        url: format!("{}/v1/links/{id}", base_url.trim_end_matches('/')),
        key: b64().encode(key),
        exp,
        flag: "P".into(),
        v: 1,
    };
    let json = serde_json::to_vec(&payload).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(format!("{SHLINK_PREFIX}{}", b64().encode(json)))
}

/// The link's id and secret (hex) from a `shlink:/…` or a URL holding one after `#`.
///
/// # Errors
/// `invalid-request` on `link`, saying what is wrong.
pub fn parse_link(text: &str) -> ApiResult<(String, String)> {
    let bad = |why: &str| ApiError::invalid("link", format!("{why}; paste the whole link"));
    let text = text.trim();
    if text.len() > 4096 {
        return Err(bad("too long for a share link"));
    }
    let start = text
        .find(SHLINK_PREFIX)
        .ok_or_else(|| bad("not a share link (it starts with `shlink:/`)"))?;
    let encoded = &text[start + SHLINK_PREFIX.len()..];
    let json = b64()
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| bad("the link is damaged (not base64url)"))?;
    let payload: Payload =
        serde_json::from_slice(&json).map_err(|_| bad("the link is damaged (not JSON)"))?;
    let id = payload
        .url
        .rsplit('/')
        .next()
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("the link names no share link"))?
        .to_string();
    let key = b64()
        .decode(&payload.key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| bad("the link's key is damaged"))?;
    Ok((id, hex::encode(key)))
}

/// The caller's email if the platform holds its key (owners act through it).
async fn owner_email(state: &AppState, caller: &Caller) -> ApiResult<String> {
    state
        .inner()
        .accounts
        .email_of(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?
        .ok_or_else(|| {
            ApiError::Forbidden(
                "a share link is granted with the owner's signature, and a wallet account signs \
                 for itself: sign in with your email to make links"
                    .into(),
            )
        })
}

fn token_id(token: &str) -> ApiResult<u32> {
    token.parse().map_err(|_| {
        ApiError::invalid(
            "token",
            format!("{token:?} is not a token id (a whole number)"),
        )
    })
}

/// `POST /v1/studies/{token}/links`: the owner makes a share link.
#[utoipa::path(post, path = "/v1/studies/{token}/links", operation_id = "create_share_link", params(("token" = String, Path, description = "token id")),
    request_body = NewLink, security(("bearer" = [])), tag = "share-links",
    responses((status = 201, description = "the link, its passcode (shown once) and QR code", body = CreatedLink),
              (status = 400, description = "bad expiry, use limit or passcode (`field` names it)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "a wallet account, or a share-link session", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study owned by the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the study is not active, or has too many links", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<NewLink>,
) -> ApiResult<(StatusCode, Json<CreatedLink>)> {
    let id = token_id(&token)?;
    let email = owner_email(&state, &caller).await?;
    let made = state
        .platform()?
        .create_share_link(
            &email,
            &id.to_string(),
            &ShareLinkSpec {
                expires_at: body.expires_at,
                max_uses: body.max_uses.unwrap_or(1),
                passcode: body.passcode,
            },
            state.now(),
        )
        .await
        .map_err(from_platform)?;
    let shlink = shlink(
        &state.config().base_url,
        &made.link.id,
        &made.secret,
        made.link.expires_at,
    )?;
    let viewer_url = format!(
        "{}/#{shlink}",
        state.config().base_url.trim_end_matches('/')
    );
    let png = qrcodegen_image::draw_png(&viewer_url)
        .map_err(|e| ApiError::Internal(std::io::Error::other(e).into()))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedLink {
            link: made.link,
            shlink,
            viewer_url,
            passcode: made.passcode,
            qr_png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        }),
    ))
}

/// `GET /v1/studies/{token}/links`: the study's links with their openings (the owner).
#[utoipa::path(get, path = "/v1/studies/{token}/links", operation_id = "list_share_links", params(("token" = String, Path, description = "token id")),
    security(("bearer" = [])), tag = "share-links",
    responses((status = 200, description = "the links, newest first", body = Vec<ShareLinkView>),
              (status = 400, description = "a malformed token id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "a wallet account", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study owned by the caller", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<Vec<ShareLinkView>>> {
    let id = token_id(&token)?;
    let email = owner_email(&state, &caller).await?;
    let links = state
        .platform()?
        .share_links(&email, &id.to_string(), state.now())
        .await
        .map_err(from_platform)?;
    Ok(Json(links))
}

/// `DELETE /v1/studies/{token}/links/{id}`: the owner revokes a link (its grant on chain);
/// sessions opened with it end at their next request.
#[utoipa::path(delete, path = "/v1/studies/{token}/links/{id}", operation_id = "revoke_share_link",
    params(("token" = String, Path, description = "token id"), ("id" = String, Path, description = "the link's id")),
    security(("bearer" = [])), tag = "share-links",
    responses((status = 200, description = "the link, revoked", body = ShareLinkView),
              (status = 400, description = "a malformed token or link id", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "a wallet account, or a share-link session", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such link on a study of the caller", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((token, link)): Path<(String, String)>,
) -> ApiResult<Json<ShareLinkView>> {
    let id = token_id(&token)?;
    let email = owner_email(&state, &caller).await?;
    let view = state
        .platform()?
        .revoke_share_link(&email, &id.to_string(), &link, state.now())
        .await
        .map_err(from_platform)?;
    // Its sessions end at their next request: `link_session_may` finds the link revoked.
    Ok(Json(view))
}

/// `POST /v1/links/open`: the link and its passcode in; a read-only viewing session out.
/// Each opening counts one use and is recorded on chain as a view.
#[utoipa::path(post, path = "/v1/links/open", operation_id = "open_share_link", request_body = OpenLink, tag = "share-links",
    responses((status = 200, description = "a read-only session on the shared study", body = LinkSession),
              (status = 400, description = "not a share link (`field`: `link`)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "wrong passcode (`code-invalid`, with the tries left)", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "the link was revoked, has expired, is locked after 5 wrong passcodes, or was used up", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such link", body = Problem, content_type = "application/problem+json")))]
pub async fn open(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<OpenLink>,
) -> ApiResult<Json<LinkSession>> {
    let (id, secret) = parse_link(&body.link)?;
    let opened = match state
        .platform()?
        .open_share_link(&id, &secret, &body.passcode, state.now())
        .await
    {
        Ok(o) => o,
        Err(PlatformError::InvalidInput {
            field: "passcode",
            message,
        }) => return Err(ApiError::CodeInvalid(message)),
        Err(e) => return Err(from_platform(e)),
    };
    let signed = crate::session::start(&state, &opened.address, LINK_AMR, None).await?;
    let t = signed.tokens();
    Ok(Json(LinkSession {
        token: t.token.clone(),
        expires_in: t.expires_in,
        refresh_token: t.refresh_token.clone(),
        token_type: t.token_type.clone(),
        token_id: opened.token_id,
        link_expires_at: opened.expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_from_the_shlink_or_the_viewer_url() {
        let key = [7u8; 32];
        let payload = Payload {
            url: format!("https://api.example.org/v1/links/{}", "ab".repeat(16)),
            key: b64().encode(key),
            exp: 1,
            flag: "P".into(),
            v: 1,
        };
        let link = format!(
            "{SHLINK_PREFIX}{}",
            b64().encode(serde_json::to_vec(&payload).unwrap())
        );
        let (id, secret) = parse_link(&link).unwrap();
        assert_eq!(id, "ab".repeat(16));
        assert_eq!(secret, hex::encode(key));
        let url = format!("https://app.example.org/#{link}");
        assert_eq!(parse_link(&url).unwrap().0, id);
        for bad in ["", "https://x/", "shlink:/!!!", "shlink:/e30"] {
            let e = parse_link(bad).unwrap_err();
            assert!(e.to_string().contains("link"), "{bad}: {e}");
        }
    }
}
