//! Custodial sign-in: a 6-digit code by email, then TOTP once enrolled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::limits::per_account;
use crate::mailer::Message;
use crate::mfa;
use crate::session::{self, SignedIn, TokenResponse};
use crate::state::AppState;
use crate::store::{CodeRecord, Expect, MfaRecord, StoreError, Versioned};

const CODE_DOMAIN: &str = "email-code";
const EMAIL_DOMAIN: &str = "email";

/// The normalised email (trimmed, lower case), or the reason it is not one.
pub fn normalise_email(email: &str) -> ApiResult<String> {
    let e = email.trim().to_lowercase();
    let bad = |why: &str| ApiError::invalid("email", why.to_string());
    if e.is_empty() {
        return Err(bad("empty; send the address the code should go to"));
    }
    if e.len() > 254 {
        return Err(bad("longer than 254 characters"));
    }
    let Some((local, domain)) = e.rsplit_once('@') else {
        return Err(bad("not an email address (no @)"));
    };
    if local.is_empty()
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad("not an email address (expected name@domain.tld)"));
    }
    if e.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, ':' | '<' | '>' | ',' | ';' | '"' | '\\')
    }) || domain.contains('@')
    {
        return Err(bad("contains characters an address may not have here"));
    }
    Ok(e)
}

/// `POST /auth/email` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// Where to send the code.
    pub email: String,
}

/// `POST /auth/email` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CodeSent {
    /// Always `sent` (also for an address with no account: one is made at first sign-in).
    pub status: String,
    /// Seconds the code is valid.
    pub expires_in: u64,
}

/// Sends a 6-digit sign-in code to an email address (replacing any earlier code).
#[utoipa::path(
    post,
    path = "/auth/email",
    tag = "sign-in",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "code sent", body = CodeSent),
        (status = 400, description = "not an email address (`field`: `email`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many codes for this address or from this IP", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the mailer or store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_code(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<EmailRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let email = normalise_email(&body.email)?;
    let key = state.keys().keyed_hash(EMAIL_DOMAIN, &email);
    per_account(&state, &format!("email:{key}"))?;
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let life = state.config().lifetimes.code;
    let record = CodeRecord {
        code_hash: state
            .keys()
            .keyed_hash(CODE_DOMAIN, &format!("{key}:{code}")),
        expires_at: state.now() + life,
        failures: 0,
    };
    state
        .inner()
        .store
        .put_code(&key, &record, Expect::Any)
        .await
        .map_err(|e| ApiError::unavailable("the sign-in store", e))?;
    let message = Message {
        to: email,
        subject: "Your MediMint sign-in code".into(),
        text: format!(
            "Your MediMint sign-in code is {code}\n\nIt expires in {} minutes and works once. If you did not ask for it, ignore this message.",
            life / 60
        ),
    };
    state
        .inner()
        .mailer
        .send(&message)
        .await
        .map_err(|e| ApiError::unavailable("the mailer", e))?;
    tracing::info!("sign-in code sent");
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            status: "sent".into(),
            expires_in: life,
        }),
    ))
}

/// `POST /auth/email/verify` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The email the code was sent to.
    pub email: String,
    /// The 6-digit code.
    pub code: String,
    /// The authenticator's 6-digit code, once TOTP is enrolled.
    pub totp: Option<String>,
    /// A recovery code instead of `totp` (single use).
    pub recovery_code: Option<String>,
}

fn six_digits(field: &str, value: &str) -> ApiResult<String> {
    let v = value.trim();
    if v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(ApiError::invalid(field, "expected 6 digits"))
    }
}

async fn count_failure(
    state: &AppState,
    key: &str,
    current: &Versioned<CodeRecord>,
) -> ApiResult<u32> {
    let mut record = current.value.clone();
    record.failures += 1;
    match state
        .inner()
        .store
        .put_code(key, &record, Expect::Version(current.version))
        .await
    {
        Ok(_) => Ok(record.failures),
        // Another attempt raced this one: refuse this one too, without counting twice.
        Err(StoreError::Conflict) => Err(ApiError::CodeInvalid(
            "the code was used or changed meanwhile; request a new one with POST /auth/email"
                .into(),
        )),
        Err(e) => Err(ApiError::unavailable("the sign-in store", e)),
    }
}

/// Signs in with the emailed code (plus TOTP or a recovery code once enrolled).
#[utoipa::path(
    post,
    path = "/auth/email/verify",
    tag = "sign-in",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "signed in; the refresh token is also set as the `medimint_refresh` cookie (HttpOnly, Secure, SameSite=Strict, Path=/auth)", body = TokenResponse,
            headers(("set-cookie" = String, description = "`medimint_refresh=<refresh token>; Path=/auth; Max-Age=…; HttpOnly; Secure; SameSite=Strict`"))),
        (status = 400, description = "bad field (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`code-invalid`, `code-expired`, `code-locked`, `totp-required`, `totp-invalid`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_code(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<VerifyRequest>,
) -> ApiResult<SignedIn> {
    let email = normalise_email(&body.email)?;
    let code = six_digits("code", &body.code)?;
    let totp_code = body
        .totp
        .as_deref()
        .map(|t| six_digits("totp", t))
        .transpose()?;
    let key = state.keys().keyed_hash(EMAIL_DOMAIN, &email);
    per_account(&state, &format!("email:{key}"))?;
    let store = &state.inner().store;
    let sign_in_err = |e| ApiError::unavailable("the sign-in store", e);
    let Some(current) = store.code(&key).await.map_err(sign_in_err)? else {
        return Err(ApiError::CodeInvalid(
            "no code is pending for this email (none sent, or already used); request one with POST /auth/email".into(),
        ));
    };
    let tries = state.config().lifetimes.code_tries;
    if state.now() > current.value.expires_at {
        return Err(ApiError::CodeExpired);
    }
    if current.value.failures >= tries {
        return Err(ApiError::CodeLocked);
    }
    let presented = state
        .keys()
        .keyed_hash(CODE_DOMAIN, &format!("{key}:{code}"));
    if !bool::from(
        presented
            .as_bytes()
            .ct_eq(current.value.code_hash.as_bytes()),
    ) {
        let failures = count_failure(&state, &key, &current).await?;
        if failures >= tries {
            return Err(ApiError::CodeLocked);
        }
        return Err(ApiError::CodeInvalid(format!(
            "wrong code; {} tries left before it locks",
            tries - failures
        )));
    }
    // The code is right. Custodial account (made now if new) and its second factor.
    let address = state
        .inner()
        .accounts
        .custodial_address(&email)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))?;
    let mfa_state = store.mfa(&address).await.map_err(sign_in_err)?;
    let mut amr = "email";
    let mut mfa_update: Option<(MfaRecord, u64)> = None;
    if let Some(Versioned {
        value: record,
        version,
    }) = mfa_state.filter(|m| m.value.confirmed)
    {
        let mut record = record;
        if let Some(t) = &totp_code {
            if let Err(e) = mfa::verify(state.keys(), &address, &mut record, t, state.now()) {
                let failures = count_failure(&state, &key, &current).await?;
                if failures >= tries {
                    return Err(ApiError::CodeLocked);
                }
                return Err(e);
            }
            amr = "email+totp";
        } else if let Some(r) = &body.recovery_code {
            if !mfa::use_recovery(state.keys(), &mut record, r) {
                let failures = count_failure(&state, &key, &current).await?;
                if failures >= tries {
                    return Err(ApiError::CodeLocked);
                }
                return Err(ApiError::Totp {
                    missing: false,
                    detail: "the recovery code is wrong or was already used".into(),
                });
            }
            amr = "email+recovery";
        } else {
            return Err(ApiError::Totp {
                missing: true,
                detail: "this account has an authenticator: send `totp` (or a `recovery_code`) with the email code".into(),
            });
        }
        mfa_update = Some((record, version));
    }
    // Consume the code: exactly one sign-in per code, even under concurrent attempts.
    match store
        .delete_code(&key, Expect::Version(current.version))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::CodeInvalid(
                "the code was used or changed meanwhile; request a new one with POST /auth/email"
                    .into(),
            ))
        }
        Err(e) => return Err(sign_in_err(e)),
    }
    if let Some((record, version)) = mfa_update {
        match store
            .put_mfa(&address, &record, Expect::Version(version))
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::Totp {
                    missing: false,
                    detail: "the authenticator code was just used; wait for the next one".into(),
                })
            }
            Err(e) => return Err(sign_in_err(e)),
        }
    }
    session::start(&state, &address, amr, None).await
}
