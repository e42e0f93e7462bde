//! Request extractors whose rejections are problems: a JSON body and a query string.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{field_from_serde, from_json_rejection, ApiError};
use crate::state::AppState;

/// A JSON body; a bad one is `invalid-request` naming the field (or `too-large`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config().limits.body_bytes;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(from_json_rejection(rejection, limit)),
        }
    }
}

/// A JSON body that may be absent: no `Content-Type`, an empty body or `null` is `None` (a
/// browser posting with a cookie only); anything else is read as [`JsonBody`].
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let empty = headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        if empty || !headers.contains_key(http::header::CONTENT_TYPE) {
            return Ok(Self(None));
        }
        // `null` is no body too (the document's schema allows it).
        JsonBody::<Option<T>>::from_request(req, state)
            .await
            .map(|JsonBody(v)| Self(v))
    }
}

/// A query string; a bad one is `invalid-request` naming the parameter.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                Err(ApiError::invalid(field_from_serde(&text), text))
            }
        }
    }
}
