//! Every error the API returns: RFC 9457 `application/problem+json` with a stable `type`.
//!
//! A handler returns [`ApiError`]; its variants map one-to-one to a problem type
//! (`urn:medimint:problem:<slug>`, listed in `docs/api.md`) and an HTTP status. Details say
//! what to do next and never hold a code, a token, an email or PHI; causes that may carry
//! such things (a store or mailer error) are logged by kind only and answered as
//! `unavailable`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why a request failed, as the caller may know it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request is missing or wrong (400, `invalid-request`); `field` names it.
    #[error("{field}: {detail}")]
    Invalid {
        /// The request field (JSON member, query parameter or header) that is wrong.
        field: String,
        /// What is wrong with it and what is expected.
        detail: String,
    },
    /// No valid bearer token (401, `unauthenticated`).
    #[error("{0}")]
    Unauthenticated(String),
    /// The session behind the token ended: signed out, signed out everywhere, or idle too
    /// long (401, `session-ended`).
    #[error("{0}")]
    SessionEnded(String),
    /// A signed-in caller whose role does not allow this (403, `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing the caller may see is there (404, `not-found`); also what a caller gets for
    /// something that exists but is not theirs.
    #[error("{0}")]
    NotFound(String),
    /// The path exists but not with this method (405, `method-not-allowed`).
    #[error("this endpoint does not take that method; see GET /v1/openapi.json")]
    MethodNotAllowed,
    /// The request conflicts with the current state (409, `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests from this address or for this account (429, `rate-limited`).
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until a retry can succeed (the `Retry-After` header).
        retry_after: u64,
    },
    /// The one-time code is wrong or there is none (401, `code-invalid`).
    #[error("{0}")]
    CodeInvalid(String),
    /// The one-time code expired (401, `code-expired`).
    #[error("the code expired; request a new one with POST /auth/email")]
    CodeExpired,
    /// Too many wrong codes: the code is locked (401, `code-locked`).
    #[error("too many wrong codes; request a new one with POST /auth/email")]
    CodeLocked,
    /// The account has TOTP enrolled and the request lacked a valid one (401,
    /// `totp-required` when missing, `totp-invalid` when wrong).
    #[error("{detail}")]
    Totp {
        /// Whether a value was sent at all.
        missing: bool,
        /// What to do.
        detail: String,
    },
    /// A SEP-10 challenge that is malformed, for another network or home domain, or not
    /// signed by this server (400, `challenge-invalid`).
    #[error("{0}")]
    ChallengeInvalid(String),
    /// A SEP-10 challenge past its time bounds (401, `challenge-expired`).
    #[error("the challenge expired; request a new one with GET /auth")]
    ChallengeExpired,
    /// A SEP-10 challenge already exchanged for a token (401, `challenge-replayed`).
    #[error("this challenge was already used; request a new one with GET /auth")]
    ChallengeReplayed,
    /// A SEP-10 challenge not (or not only) signed by the client account's master key (401,
    /// `challenge-unsigned`).
    #[error("{0}")]
    ChallengeUnsigned(String),
    /// A wallet's signed authorization came after its signature expiration ledger (410,
    /// `authorization-expired`): repeat the request for a new entry.
    #[error("{0}")]
    AuthorizationExpired(String),
    /// The study was erased by its owner (410, `study-erased`): its files and keys are gone
    /// for good; only its non-PHI history remains (`GET /v1/studies/{token}/history`).
    #[error("{0}")]
    StudyErased(String),
    /// A wallet's signed authorization was already submitted (409, `authorization-used`).
    #[error("{0}")]
    AuthorizationUsed(String),
    /// The request body is larger than the limit (413, `too-large`).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request took longer than the API allows (503, `timeout`).
    #[error("the request took too long; retry later")]
    Timeout,
    /// A service behind the API (store, mailer, chain) failed (503, `unavailable`). The
    /// cause is logged, not returned.
    #[error("{what} is unavailable; retry later")]
    Unavailable {
        /// Which service, in words the caller may see ("the session store").
        what: &'static str,
        /// The cause, for the log only.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug (500, `internal`). The cause is logged, not returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A result with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An invalid field.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// A failed service behind the API.
    pub fn unavailable(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what,
            source: Box::new(source),
        }
    }

    /// The stable slug of the problem type (the part after `urn:medimint:problem:`).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid-request",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::SessionEnded(_) => "session-ended",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict(_) => "conflict",
            Self::RateLimited { .. } => "rate-limited",
            Self::CodeInvalid(_) => "code-invalid",
            Self::CodeExpired => "code-expired",
            Self::CodeLocked => "code-locked",
            Self::Totp { missing: true, .. } => "totp-required",
            Self::Totp { missing: false, .. } => "totp-invalid",
            Self::ChallengeInvalid(_) => "challenge-invalid",
            Self::ChallengeExpired => "challenge-expired",
            Self::ChallengeReplayed => "challenge-replayed",
            Self::ChallengeUnsigned(_) => "challenge-unsigned",
            Self::AuthorizationExpired(_) => "authorization-expired",
            Self::AuthorizationUsed(_) => "authorization-used",
            Self::StudyErased(_) => "study-erased",
            Self::TooLarge { .. } => "too-large",
            Self::Timeout => "timeout",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } | Self::ChallengeInvalid(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_)
            | Self::SessionEnded(_)
            | Self::CodeInvalid(_)
            | Self::CodeExpired
            | Self::CodeLocked
            | Self::Totp { .. }
            | Self::ChallengeExpired
            | Self::ChallengeReplayed
            | Self::ChallengeUnsigned(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::AuthorizationUsed(_) => StatusCode::CONFLICT,
            Self::AuthorizationExpired(_) | Self::StudyErased(_) => StatusCode::GONE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable { .. } | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "Invalid request",
            Self::Unauthenticated(_) => "Sign-in required",
            Self::SessionEnded(_) => "Session ended",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict(_) => "Conflict",
            Self::RateLimited { .. } => "Too many requests",
            Self::CodeInvalid(_) => "Wrong code",
            Self::CodeExpired => "Code expired",
            Self::CodeLocked => "Code locked",
            Self::Totp { missing: true, .. } => "Authenticator code required",
            Self::Totp { missing: false, .. } => "Wrong authenticator code",
            Self::ChallengeInvalid(_) => "Invalid challenge",
            Self::ChallengeExpired => "Challenge expired",
            Self::ChallengeReplayed => "Challenge already used",
            Self::ChallengeUnsigned(_) => "Challenge not signed by the account",
            Self::AuthorizationExpired(_) => "Authorization expired",
            Self::AuthorizationUsed(_) => "Authorization already used",
            Self::StudyErased(_) => "Study erased",
            Self::TooLarge { .. } => "Request too large",
            Self::Timeout => "Timeout",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal(_) => "Internal error",
        }
    }
}

/// The body of an error response (RFC 9457), as documented in the OpenAPI document.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable problem type, `urn:medimint:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong for this request and what to do next.
    pub detail: String,
    /// The request field that is wrong (validation errors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds until a retry may succeed (rate limits only; also the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The same text as `detail`, for SEP-10 clients that read `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Unavailable { what, source } => {
                tracing::error!(what, cause = %source, "service unavailable");
            }
            Self::Internal(source) => tracing::error!(cause = %source, "internal error"),
            _ => tracing::info!(problem = self.slug(), status = status.as_u16(), "refused"),
        }
        let sep10 = matches!(
            self,
            Self::ChallengeInvalid(_)
                | Self::ChallengeExpired
                | Self::ChallengeReplayed
                | Self::ChallengeUnsigned(_)
        );
        let detail = self.to_string();
        let problem = Problem {
            kind: format!("urn:medimint:problem:{}", self.slug()),
            title: self.title().to_string(),
            status: status.as_u16(),
            error: sep10.then(|| detail.clone()),
            detail,
            field: match &self {
                Self::Invalid { field, .. } => Some(field.clone()),
                _ => None,
            },
            retry_after: match &self {
                Self::RateLimited { retry_after } => Some(*retry_after),
                _ => None,
            },
        };
        let body = serde_json::to_vec(&problem).expect("a problem serializes");
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Self::RateLimited { retry_after } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"medimint\""),
            );
        }
        response
    }
}

/// Turns axum's own rejections (bad JSON, wrong content type, bad query) into problems that
/// name the field where axum says which one.
pub fn from_json_rejection(
    rejection: axum::extract::rejection::JsonRejection,
    limit: usize,
) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    match rejection {
        R::JsonDataError(e) => {
            // serde_path_to_error's text starts with the path: "email: missing field ..."
            let text = e.body_text();
            let field = field_from_serde(&text);
            ApiError::invalid(field, text)
        }
        R::JsonSyntaxError(e) => ApiError::invalid("body", e.body_text()),
        R::MissingJsonContentType(_) => ApiError::invalid(
            "content-type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        R::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge { limit }
        }
        R::BytesRejection(e) => ApiError::invalid("body", e.body_text()),
        other => ApiError::invalid("body", other.body_text()),
    }
}

/// The field a serde data error names: "email: invalid type …" gives it before the colon;
/// "missing field `email`" and "unknown field `x`" in backquotes.
pub(crate) fn field_from_serde(text: &str) -> String {
    let rest = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .or_else(|| text.strip_prefix("Failed to deserialize query string: "))
        .unwrap_or(text);
    // "code: invalid type: …": the path comes first.
    if let Some((path, _)) = rest.split_once(": ") {
        if !path.is_empty() && !path.contains([' ', '`']) {
            return path.to_string();
        }
    }
    // "missing field `email` at …", "unknown field `x`, expected …".
    if let Some(start) = rest.find('`') {
        if let Some(len) = rest[start + 1..].find('`') {
            return rest[start + 1..start + 1 + len].to_string();
        }
    }
    "body".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_read_from_serdes_messages() {
        let p = "Failed to deserialize the JSON body into the target type: ";
        assert_eq!(
            field_from_serde(&format!(
                "{p}code: invalid type: integer `5`, expected a string at line 1 column 9"
            )),
            "code"
        );
        assert_eq!(
            field_from_serde(&format!("{p}missing field `email` at line 1 column 2")),
            "email"
        );
        assert_eq!(
            field_from_serde(&format!(
                "{p}unknown field `extra`, expected `email` at line 1 column 8"
            )),
            "extra"
        );
        assert_eq!(
            field_from_serde("Failed to deserialize query string: missing field `account`"),
            "account"
        );
        assert_eq!(field_from_serde("something else"), "body");
    }

    #[test]
    fn a_rate_limit_problem_has_retry_after() {
        let r = ApiError::RateLimited { retry_after: 7 }.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
