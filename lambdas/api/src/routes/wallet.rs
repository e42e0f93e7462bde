//! Wallet sign-in: SEP-1 discovery and SEP-10 challenges.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::QueryParams;
use crate::limits::per_account;
use crate::sep10::{build_challenge, verify_challenge, Sep10Params};
use crate::session::{self, SignedIn, TokenResponse};
use crate::state::AppState;

fn params(state: &AppState) -> Sep10Params<'_> {
    Sep10Params {
        network: &state.inner().network,
        home_domain: &state.config().home_domain,
        web_auth_domain: &state.config().web_auth_domain,
    }
}

fn toml_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

/// SEP-1: the stellar.toml wallets read to find the SEP-10 endpoint and signing key.
#[utoipa::path(
    get,
    path = "/.well-known/stellar.toml",
    tag = "sign-in",
    responses((status = 200, description = "SEP-1 stellar.toml (CORS `*`)", content_type = "text/plain", body = String))
)]
pub async fn stellar_toml(State(state): State<AppState>) -> Response {
    let c = state.config();
    let body = format!(
        "# MediMint API (SEP-1)\nVERSION = \"2.0.0\"\nNETWORK_PASSPHRASE = {}\nSIGNING_KEY = {}\nWEB_AUTH_ENDPOINT = {}\n# The MediMint API's base URL (not a SEP-1 field; wallets ignore it).\nMEDIMINT_API_URL = {}\n",
        toml_string(&c.network_passphrase),
        toml_string(&state.keys().signing_address()),
        toml_string(&c.web_auth_endpoint()),
        toml_string(&c.base_url),
    );
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /auth` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChallengeQuery {
    /// The client's Stellar account (`G…`).
    pub account: String,
    /// If given, must be this server's home domain.
    pub home_domain: Option<String>,
    /// Not supported (SEP-10 client domain verification); refused if given.
    pub client_domain: Option<String>,
    /// Not supported (memos); refused if given.
    pub memo: Option<String>,
}

/// A SEP-10 challenge.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChallengeResponse {
    /// The challenge transaction envelope (base64 XDR), signed by `SIGNING_KEY`.
    pub transaction: String,
    /// The network passphrase the signatures commit to.
    pub network_passphrase: String,
}

/// SEP-10: a challenge for an account to sign.
#[utoipa::path(
    get,
    path = "/auth",
    tag = "sign-in",
    params(ChallengeQuery),
    responses(
        (status = 200, description = "challenge", body = ChallengeResponse),
        (status = 400, description = "bad account or unsupported parameter", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn challenge(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ChallengeQuery>,
) -> ApiResult<Json<ChallengeResponse>> {
    if let Some(home) = &q.home_domain {
        if home != &state.config().home_domain {
            return Err(ApiError::invalid(
                "home_domain",
                format!(
                    "this server's home domain is `{}`",
                    state.config().home_domain
                ),
            ));
        }
    }
    if q.client_domain.is_some() {
        return Err(ApiError::invalid(
            "client_domain",
            "client domain verification is not supported; leave it out",
        ));
    }
    if q.memo.is_some() {
        return Err(ApiError::invalid(
            "memo",
            "memos are not supported; leave it out",
        ));
    }
    let now = state.now();
    let nonce: [u8; 48] = {
        let mut n = [0u8; 48];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut n);
        n
    };
    let transaction = build_challenge(
        state.keys().signing_key(),
        &params(&state),
        q.account.trim(),
        now,
        state.config().lifetimes.challenge,
        nonce,
    )?;
    per_account(&state, &format!("sep10:{}", q.account.trim()))?;
    Ok(Json(ChallengeResponse {
        transaction,
        network_passphrase: state.config().network_passphrase.clone(),
    }))
}

/// `POST /auth` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignedChallenge {
    /// The challenge from `GET /auth`, signed by the account's master key (base64 XDR).
    pub transaction: String,
}

/// The body as JSON or, as SEP-10 also allows, a form.
pub struct ChallengeBody(SignedChallenge);

impl FromRequest<AppState> for ChallengeBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            let axum::Form(body) = axum::Form::<SignedChallenge>::from_request(req, state)
                .await
                .map_err(|e| ApiError::invalid("transaction", e.body_text()))?;
            Ok(Self(body))
        } else {
            let crate::extract::JsonBody(body) =
                crate::extract::JsonBody::from_request(req, state).await?;
            Ok(Self(body))
        }
    }
}

/// SEP-10: exchanges a signed challenge for tokens (one token per challenge).
#[utoipa::path(
    post,
    path = "/auth",
    tag = "sign-in",
    request_body(content = SignedChallenge, description = "JSON or application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "signed in; the refresh token is also set as the `medimint_refresh` cookie (HttpOnly, Secure, SameSite=Strict, Path=/auth)", body = TokenResponse,
            headers(("set-cookie" = String, description = "`medimint_refresh=<refresh token>; Path=/auth; Max-Age=…; HttpOnly; Secure; SameSite=Strict`"))),
        (status = 400, description = "malformed challenge, another network, home domain or server (`challenge-invalid`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "expired, replayed or not signed by the account (`challenge-expired`, `challenge-replayed`, `challenge-unsigned`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    ChallengeBody(body): ChallengeBody,
) -> ApiResult<SignedIn> {
    let now = state.now();
    let verified = verify_challenge(
        body.transaction.trim(),
        &state.keys().signing_key().verifying_key(),
        &params(&state),
        now,
    )?;
    per_account(&state, &format!("sep10:{}", verified.account))?;
    let first = state
        .inner()
        .store
        .consume_challenge(&verified.tx_hash, verified.max_time)
        .await
        .map_err(|e| ApiError::unavailable("the session store", e))?;
    if !first {
        return Err(ApiError::ChallengeReplayed);
    }
    session::start(&state, &verified.account, "sep10", Some(verified.tx_hash)).await
}
