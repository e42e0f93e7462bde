//! Emergency access (break-glass): an issuer opens a study without the patient's consent,
//! stating a reason from the contract's closed list; the patient is mailed at once (no PHI in
//! the message); the patient and the admin review every break-glass and end it early. See
//! docs/emergency-access.md.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use medimint_platform::{parse_reason, EmergencyPage, EmergencyRecord, MAX_NOTE_CHARS};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::mailer::Message;
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// Longest emergency access an issuer may ask for, in hours (the contract's bound; the
/// admin may set a lower one on chain).
pub const MAX_HOURS: u32 = 72;

/// Body of `POST /v1/studies/{token}/emergency`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    /// `unconscious`, `life_threatening`, `patient_unreachable` or `other` (on chain).
    pub reason: String,
    /// Why, in the issuer's words (off chain only; at most 1,000 characters; required).
    pub note: String,
    /// How long, in hours (1..=72, and within the admin's bound; default 24).
    pub hours: Option<u32>,
}

/// Query of `GET /v1/emergency`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// Items per page, 1 to 50 (default 20).
    pub limit: Option<u32>,
}

/// Answer of ending an emergency access.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmergencyEnded {
    /// The token.
    pub token_id: u32,
    /// The issuer whose emergency access ended.
    pub issuer: String,
}

fn token_id(token: &str) -> ApiResult<u32> {
    token.parse().map_err(|_| {
        ApiError::invalid(
            "token",
            format!("{token:?} is not a token id (a whole number)"),
        )
    })
}

async fn is_admin(state: &AppState, caller: &Caller) -> ApiResult<bool> {
    state
        .inner()
        .roles
        .is_admin(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))
}

async fn email_of(state: &AppState, address: &str) -> ApiResult<Option<String>> {
    state
        .inner()
        .accounts
        .email_of(address)
        .await
        .map_err(|e| ApiError::unavailable("the account directory", e))
}

/// `POST /v1/studies/{token}/emergency`: a trusted issuer breaks the glass.
#[utoipa::path(post, path = "/v1/studies/{token}/emergency", params(("token" = String, Path, description = "token id")),
    request_body = EmergencyRequest, security(("bearer" = [])), tag = "emergency",
    responses((status = 201, description = "opened: Viewer until `expires_at`; the patient was notified", body = EmergencyRecord),
              (status = 400, description = "bad reason, note or hours (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not an active trusted issuer", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "the study is not active (pending, erased…) or the issuer already has access", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 429, description = "the issuer's emergency rate limit is reached (`Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<EmergencyRequest>,
) -> ApiResult<(StatusCode, Json<EmergencyRecord>)> {
    let id = token_id(&token)?;
    let reason = parse_reason(&body.reason).map_err(from_platform)?;
    let note = body.note.trim();
    if note.is_empty() {
        return Err(ApiError::invalid(
            "note",
            "say why the study is needed now (kept off chain, shown to the patient and the admin)",
        ));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            "note",
            format!("longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    if let Some(h) = body.hours {
        if h == 0 || h > MAX_HOURS {
            return Err(ApiError::invalid(
                "hours",
                format!("{h} is not 1 to {MAX_HOURS} hours"),
            ));
        }
    }
    let issuer = state
        .inner()
        .roles
        .is_issuer(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))?;
    if !issuer {
        return Err(ApiError::Forbidden(
            "only an active trusted issuer may open a study in an emergency".into(),
        ));
    }
    let email = email_of(&state, &caller.address).await?.ok_or_else(|| {
        ApiError::Forbidden(
            "an emergency access is signed with the issuer's custodial key: sign in with the \
             issuer's email"
                .into(),
        )
    })?;
    let platform = state.platform()?;
    let record = match platform
        .emergency_access(&email, &id.to_string(), reason, note, body.hours)
        .await
    {
        Ok(r) => r,
        Err(e) if e.contract_error().map(|(_, n)| n) == Some("EmergencyRateLimited") => {
            let retry_after = platform
                .emergency_retry_after(&caller.address)
                .await
                .unwrap_or(3_600)
                .max(1);
            return Err(ApiError::RateLimited { retry_after });
        }
        Err(e) => return Err(from_platform(e)),
    };
    notify_patient(&state, &record).await;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Mails the patient at once: the study's number, the reason's name, the issuer's address
/// and the end time. No note (free text may hold PHI) and nothing from the study.
async fn notify_patient(state: &AppState, record: &EmergencyRecord) {
    let to = match email_of(state, &record.patient).await {
        Ok(Some(email)) => email,
        // A wallet-only patient has no email: the chain's event and the review list remain.
        _ => return,
    };
    let text = format!(
        "A registered care provider ({}) opened your study #{} without your consent under \
         MediMint's emergency access.\n\nReason given: {}\nAccess ends: {} (Unix time {})\n\n\
         Sign in to MediMint to review it (Emergency access) and end it now if you did not \
         expect it.",
        record.issuer,
        record.token_id,
        record.reason.replace('_', " "),
        utc(record.expires_at),
        record.expires_at,
    );
    let message = Message {
        to,
        subject: "Emergency access to one of your studies".into(),
        text,
    };
    if let Err(e) = state.inner().mailer.send(&message).await {
        tracing::error!(error = %e, token = record.token_id, "the emergency notice could not be sent");
    }
}

/// `YYYY-MM-DD hh:mm UTC` of Unix seconds (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}

/// `GET /v1/emergency`: every break-glass for the admin; for anyone else those on their own
/// studies and those they opened; newest first, a page at a time, each with its state on
/// the ledger's clock (the one the contract ends it by).
#[utoipa::path(get, path = "/v1/emergency", params(ReviewQuery), security(("bearer" = [])), tag = "emergency",
    responses((status = 200, description = "a page of the break-glass accesses the caller may review", body = EmergencyPage),
              (status = 400, description = "bad cursor or limit (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ReviewQuery>,
) -> ApiResult<Json<EmergencyPage>> {
    let admin = is_admin(&state, &caller).await?;
    let party = (!admin).then_some(caller.address.as_str());
    let page = state
        .platform()?
        .emergency_page(party, q.cursor.as_deref(), q.limit.unwrap_or(20))
        .await
        .map_err(from_platform)?;
    Ok(Json(page))
}

/// `DELETE /v1/studies/{token}/emergency/{issuer}`: the patient or the admin ends an
/// emergency access early.
#[utoipa::path(delete, path = "/v1/studies/{token}/emergency/{issuer}",
    params(("token" = String, Path, description = "token id"), ("issuer" = String, Path, description = "the issuer's G-address")),
    security(("bearer" = [])), tag = "emergency",
    responses((status = 200, description = "ended", body = EmergencyEnded),
              (status = 400, description = "bad token id or address (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "neither the study's owner nor the admin", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such study or open emergency access", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path((token, issuer)): Path<(String, String)>,
) -> ApiResult<Json<EmergencyEnded>> {
    let id = token_id(&token)?;
    if stellar_strkey::ed25519::PublicKey::from_string(&issuer).is_err() {
        return Err(ApiError::invalid("issuer", "not a G-address"));
    }
    let platform = state.platform()?;
    let revoker = if is_admin(&state, &caller).await? {
        None
    } else {
        let record = platform
            .token(&id.to_string())
            .await
            .map_err(from_platform)?;
        if record.owner != caller.address {
            // Not the owner: the study is none of the caller's business (no existence leak).
            return Err(ApiError::NotFound(format!("no study {id} of yours")));
        }
        Some(email_of(&state, &caller.address).await?.ok_or_else(|| {
            ApiError::Forbidden(
                "a wallet account signs for itself: end it from your wallet, or sign in with \
                 your email"
                    .into(),
            )
        })?)
    };
    platform
        .revoke_emergency(revoker.as_deref(), &id.to_string(), &issuer)
        .await
        .map_err(from_platform)?;
    Ok(Json(EmergencyEnded {
        token_id: id,
        issuer,
    }))
}
