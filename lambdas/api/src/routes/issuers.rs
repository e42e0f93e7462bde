//! The issuer registry, for the suite's admin: list, add (with evidence), suspend,
//! reinstate, remove. Roles come from the chain on every request, not from the token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use medimint_chain::clients::{IssuerKind, IssuerProfile};
use medimint_platform::IssuerSpec;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::platform::from_platform;
use crate::session::Caller;
use crate::state::AppState;

/// One registered issuer (public profile; no PHI).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuerItem {
    /// The issuer's `G…` address.
    pub address: String,
    /// `Active` or `Suspended`.
    pub status: String,
    /// Display name.
    pub name: String,
    /// `hospital`, `imaging_centre`, `physician` or `laboratory`.
    pub kind: String,
    /// Jurisdiction code, e.g. `US-CA`.
    pub jurisdiction: String,
    /// Hex commitment to the off-chain verification evidence.
    pub evidence: String,
    /// Ledger of registration.
    pub added_ledger: u32,
}

/// Body of `POST /v1/issuers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIssuer {
    /// Contact email of the issuer's IT (its account key).
    pub email: String,
    /// The issuer's own `G…` address; a custodial key of the platform when absent.
    pub address: Option<String>,
    /// Display name (public).
    pub name: String,
    /// `hospital`, `imaging_centre`, `physician` or `laboratory`.
    pub kind: String,
    /// Jurisdiction code, e.g. `US-CA`.
    pub jurisdiction: String,
    /// The verification evidence (e.g. the NPI record); only a keyed hash goes on chain.
    pub evidence: String,
}

/// Answer of an issuer change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuerChanged {
    /// The issuer's address.
    pub address: String,
    /// What was done: `added`, `suspended`, `reinstated`, `removed`.
    pub action: String,
}

async fn require_admin(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let admin = state
        .inner()
        .roles
        .is_admin(&caller.address)
        .await
        .map_err(|e| ApiError::unavailable("the role lookup", e))?;
    if admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the suite's admin manages issuers".into(),
        ))
    }
}

fn kind_name(kind: IssuerKind) -> String {
    match kind {
        IssuerKind::Hospital => "hospital",
        IssuerKind::ImagingCentre => "imaging_centre",
        IssuerKind::Physician => "physician",
        IssuerKind::Laboratory => "laboratory",
    }
    .to_owned()
}

/// `GET /v1/issuers`
#[utoipa::path(get, path = "/v1/issuers", security(("bearer" = [])), tag = "issuers",
    responses((status = 200, description = "every registered issuer", body = [IssuerItem]),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the admin", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list_issuers(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<IssuerItem>>> {
    require_admin(&state, &caller).await?;
    let issuers = state.platform()?.issuers().await.map_err(from_platform)?;
    Ok(Json(
        issuers
            .into_iter()
            .map(|i| IssuerItem {
                address: i.address,
                status: i.status,
                name: i.name,
                kind: kind_name(i.kind),
                jurisdiction: i.jurisdiction,
                evidence: hex::encode(i.evidence),
                added_ledger: i.added_ledger,
            })
            .collect(),
    ))
}

/// `POST /v1/issuers`
#[utoipa::path(post, path = "/v1/issuers", request_body = AddIssuer, security(("bearer" = [])), tag = "issuers",
    responses((status = 201, description = "trusted", body = IssuerChanged),
              (status = 400, description = "bad field", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the admin", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<AddIssuer>,
) -> ApiResult<(StatusCode, Json<IssuerChanged>)> {
    let kind = match body.kind.as_str() {
        "hospital" => IssuerKind::Hospital,
        "imaging_centre" | "imaging_center" => IssuerKind::ImagingCentre,
        "physician" => IssuerKind::Physician,
        "laboratory" => IssuerKind::Laboratory,
        other => {
            return Err(ApiError::invalid(
                "kind",
                format!("{other:?} is not hospital, imaging_centre, physician or laboratory"),
            ))
        }
    };
    if !body.email.contains('@') {
        return Err(ApiError::invalid("email", "not an email address"));
    }
    if body.evidence.trim().is_empty() {
        return Err(ApiError::invalid(
            "evidence",
            "the verification evidence is empty",
        ));
    }
    if let Some(address) = &body.address {
        if stellar_strkey::ed25519::PublicKey::from_string(address).is_err() {
            return Err(ApiError::invalid(
                "address",
                "not a Stellar account address (G… and 56 characters); omit it for a key the platform holds",
            ));
        }
    }
    require_admin(&state, &caller).await?;
    let platform = state.platform()?;
    let spec = IssuerSpec {
        email: body.email,
        address: body.address,
        profile: IssuerProfile {
            name: body.name,
            kind,
            jurisdiction: body.jurisdiction,
            evidence: platform
                .evidence_commitment(&body.evidence)
                .map_err(from_platform)?,
        },
    };
    let address = platform.add_issuer(&spec).await.map_err(from_platform)?;
    Ok((
        StatusCode::CREATED,
        Json(IssuerChanged {
            address,
            action: "added".into(),
        }),
    ))
}

async fn change(
    state: AppState,
    caller: Caller,
    address: String,
    action: &str,
) -> ApiResult<Json<IssuerChanged>> {
    if stellar_strkey::ed25519::PublicKey::from_string(&address).is_err() {
        return Err(ApiError::invalid("address", "not a G-address"));
    }
    require_admin(&state, &caller).await?;
    state
        .platform()?
        .set_issuer(&address, action)
        .await
        .map_err(from_platform)?;
    let done = match action {
        "suspend" => "suspended",
        "reinstate" => "reinstated",
        _ => "removed",
    };
    Ok(Json(IssuerChanged {
        address,
        action: done.into(),
    }))
}

/// `POST /v1/issuers/{address}/suspend`
#[utoipa::path(post, path = "/v1/issuers/{address}/suspend", params(("address" = String, Path, description = "the issuer's G-address")),
    security(("bearer" = [])), tag = "issuers",
    responses((status = 200, description = "suspended: no longer trusted, its access cut", body = IssuerChanged),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the admin", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such issuer", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "already suspended", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    Path(address): Path<String>,
) -> ApiResult<Json<IssuerChanged>> {
    change(state, caller, address, "suspend").await
}

/// `POST /v1/issuers/{address}/reinstate`
#[utoipa::path(post, path = "/v1/issuers/{address}/reinstate", params(("address" = String, Path, description = "the issuer's G-address")),
    security(("bearer" = [])), tag = "issuers",
    responses((status = 200, description = "trusted again", body = IssuerChanged),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the admin", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such issuer", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "not suspended", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn reinstate(
    State(state): State<AppState>,
    caller: Caller,
    Path(address): Path<String>,
) -> ApiResult<Json<IssuerChanged>> {
    change(state, caller, address, "reinstate").await
}

/// `DELETE /v1/issuers/{address}`
#[utoipa::path(delete, path = "/v1/issuers/{address}", params(("address" = String, Path, description = "the issuer's G-address")),
    security(("bearer" = [])), tag = "issuers",
    responses((status = 200, description = "removed", body = IssuerChanged),
              (status = 400, description = "a malformed token id, address or body (`field` names it)", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, description = "not signed in, or the session ended", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 403, description = "not the admin", body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such issuer", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(address): Path<String>,
) -> ApiResult<Json<IssuerChanged>> {
    change(state, caller, address, "remove").await
}
