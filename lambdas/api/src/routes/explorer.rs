//! The public explorer (no sign-in): totals and per-day counts of the suite's events, the
//! trusted issuers' public profiles, and a token's timeline by id. Everything comes from the
//! audit index the indexer builds; nothing here is PHI (counts, addresses, token ids, event
//! names, institutions' public profiles). Every answer carries the index's lag in
//! `X-Index-Lag-Ledgers` (absent before the index's first run).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::Json;
use medimint_storage::index::{Count, HistoryOf};
use medimint_storage::Index;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The header with the index's lag behind the chain, in ledgers.
pub const LAG_HEADER: HeaderName = HeaderName::from_static("x-index-lag-ledgers");

/// Most days one `GET /v1/explorer/days` covers.
pub const MAX_DAYS: u32 = 92;

/// Counts of the suite's events by what they mean.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tally {
    /// Studies released (proposed, or minted with consent).
    pub releases: i64,
    /// Releases a patient consented to (approved, or minted with consent).
    pub consents: i64,
    /// Releases a patient rejected.
    pub rejections: i64,
    /// Releases an issuer withdrew.
    pub withdrawals: i64,
    /// Roles granted (shares).
    pub shares: i64,
    /// Views and downloads recorded.
    pub accesses: i64,
    /// Roles revoked.
    pub revokes: i64,
}

impl Tally {
    fn from_counts(counts: &[Count]) -> Self {
        let n = |k: &str| {
            counts
                .iter()
                .filter(|c| c.kind == k)
                .map(|c| c.n)
                .sum::<i64>()
        };
        Self {
            releases: n("release_proposed") + n("minted"),
            consents: n("release_approved") + n("minted"),
            rejections: n("release_rejected"),
            withdrawals: n("release_withdrawn"),
            shares: n("role_granted"),
            accesses: n("access_recorded"),
            revokes: n("role_revoked"),
        }
    }
}

/// `GET /v1/explorer/totals`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// All-time counts.
    pub totals: Tally,
    /// Trusted issuers registered now (active or suspended).
    pub issuers: usize,
    /// The ledger the index has read up to.
    pub indexed_ledger: u32,
    /// The chain's latest ledger at the index's last run.
    pub latest_ledger: u32,
}

/// One day of `GET /v1/explorer/days`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Day {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Tally,
}

/// Query of `GET /v1/explorer/days`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DaysQuery {
    /// The first day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// The last day, `YYYY-MM-DD` (default: today, UTC).
    pub to: Option<String>,
}

/// One trusted issuer's public profile.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicIssuer {
    /// Its `G…` address.
    pub address: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Public name of the institution.
    pub name: String,
    /// `hospital`, `imaging_centre`, `physician` or `laboratory`.
    pub kind: String,
    /// Jurisdiction code.
    pub jurisdiction: String,
    /// Ledger it was registered in.
    pub added_ledger: u32,
}

/// One event of a token's timeline.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    /// Its ledger.
    pub ledger: u32,
    /// When the ledger closed (RFC 3339).
    pub closed_at: String,
    /// The event's name, e.g. `release_proposed`.
    pub kind: String,
    /// The addresses in it (issuer, patient, granter, grantee, viewer).
    pub parties: Vec<String>,
    /// The role granted, the access kind or the reject reason.
    pub detail: Option<String>,
    /// The transaction's hash.
    pub tx_hash: Option<String>,
}

/// `GET /v1/explorer/tokens/{token}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timeline {
    /// The token id.
    pub token_id: u32,
    /// `pending`, `active`, `rejected` or `withdrawn`.
    pub status: String,
    /// The releasing issuer's address.
    pub issuer: String,
    /// Ledger of the release.
    pub minted_ledger: u32,
    /// Views and downloads recorded.
    pub accesses: i64,
    /// Its events, oldest first (up to 200).
    pub events: Vec<TimelineEvent>,
}

fn index(state: &AppState) -> ApiResult<&Index> {
    state.index().ok_or_else(|| {
        ApiError::unavailable(
            "the explorer",
            std::io::Error::other("this API instance was started without the audit index"),
        )
    })
}

fn store_failure(e: medimint_storage::StorageError) -> ApiError {
    ApiError::unavailable("the audit index", e)
}

async fn lag(index: &Index) -> ApiResult<(HeaderMap, u32, u32)> {
    let mut h = HeaderMap::new();
    let cursor = index.cursor().await.map_err(store_failure)?;
    let (indexed, latest) = match &cursor {
        Some(c) => {
            if let Ok(v) = HeaderValue::from_str(&c.lag_ledgers().to_string()) {
                h.insert(LAG_HEADER, v);
            }
            (c.ledger.saturating_sub(1), c.latest_ledger)
        }
        None => (0, 0),
    };
    Ok((h, indexed, latest))
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_day(field: &str, s: &str) -> ApiResult<i64> {
    let bad = || ApiError::invalid(field, format!("{s:?} is not a date YYYY-MM-DD"));
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let n = days_from_civil(y, m, d);
    if civil_from_days(n) != s {
        return Err(bad());
    }
    Ok(n)
}

/// All-time counts of releases, consents, rejections, shares, accesses and revokes.
#[utoipa::path(
    get,
    path = "/v1/explorer/totals",
    operation_id = "explorer_totals",
    tag = "explorer",
    responses(
        (status = 200, description = "the totals", body = Totals),
        (status = 503, description = "the audit index is unavailable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn totals(State(state): State<AppState>) -> ApiResult<(HeaderMap, Json<Totals>)> {
    let index = index(&state)?;
    let (headers, indexed_ledger, latest_ledger) = lag(index).await?;
    let counts = index.totals().await.map_err(store_failure)?;
    let issuers = index.issuers().await.map_err(store_failure)?.len();
    Ok((
        headers,
        Json(Totals {
            totals: Tally::from_counts(&counts),
            issuers,
            indexed_ledger,
            latest_ledger,
        }),
    ))
}

/// Counts per UTC day, oldest first (at most 92 days).
#[utoipa::path(
    get,
    path = "/v1/explorer/days",
    operation_id = "explorer_days",
    tag = "explorer",
    params(DaysQuery),
    responses(
        (status = 200, description = "one entry per day", body = [Day]),
        (status = 400, description = "a bad date or range", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit index is unavailable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn days(
    State(state): State<AppState>,
    Query(q): Query<DaysQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<Day>>)> {
    let index = index(&state)?;
    let to = match &q.to {
        Some(s) => parse_day("to", s)?,
        None => (state.now() / 86_400) as i64,
    };
    let from = match &q.from {
        Some(s) => parse_day("from", s)?,
        None => to - 29,
    };
    if from > to {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    if to - from >= i64::from(MAX_DAYS) {
        return Err(ApiError::invalid(
            "from",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    let (headers, _, _) = lag(index).await?;
    let mut out = Vec::new();
    for n in from..=to {
        let day = civil_from_days(n);
        let counts = index.day(&day).await.map_err(store_failure)?;
        out.push(Day {
            day,
            counts: Tally::from_counts(&counts),
        });
    }
    Ok((headers, Json(out)))
}

/// The trusted issuers with their public profiles.
#[utoipa::path(
    get,
    path = "/v1/explorer/issuers",
    operation_id = "explorer_issuers",
    tag = "explorer",
    responses(
        (status = 200, description = "the issuers", body = [PublicIssuer]),
        (status = 503, description = "the audit index is unavailable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issuers(
    State(state): State<AppState>,
) -> ApiResult<(HeaderMap, Json<Vec<PublicIssuer>>)> {
    let index = index(&state)?;
    let (headers, _, _) = lag(index).await?;
    let list = index
        .issuers()
        .await
        .map_err(store_failure)?
        .into_iter()
        .map(|i| PublicIssuer {
            address: i.address,
            status: i.status,
            name: i.name,
            kind: i.kind,
            jurisdiction: i.jurisdiction,
            added_ledger: i.added_ledger,
        })
        .collect();
    Ok((headers, Json(list)))
}

/// A token's timeline (addresses only).
#[utoipa::path(
    get,
    path = "/v1/explorer/tokens/{token}",
    operation_id = "explorer_token",
    tag = "explorer",
    params(("token" = u32, Path, description = "the token id")),
    responses(
        (status = 200, description = "the timeline", body = Timeline),
        (status = 400, description = "a token id that is not a number from 0 to 4294967295", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such token in the index", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit index is unavailable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<(HeaderMap, Json<Timeline>)> {
    let id: u32 = token
        .parse()
        .map_err(|_| ApiError::invalid("token", "a token id is a number from 0 to 4294967295"))?;
    let index = index(&state)?;
    let (headers, _, _) = lag(index).await?;
    let t = index
        .token(id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| ApiError::NotFound(format!("no token {id} in the index")))?;
    let mut events: Vec<TimelineEvent> = index
        .history(&HistoryOf::Token(id), None, 200)
        .await
        .map_err(store_failure)?
        .into_iter()
        .map(|h| TimelineEvent {
            ledger: h.ledger,
            closed_at: h.closed_at,
            kind: h.kind,
            parties: h.parties,
            detail: h.detail,
            tx_hash: h.tx_hash,
        })
        .collect();
    events.reverse();
    let accesses = index
        .accesses(id)
        .await
        .map_err(store_failure)?
        .iter()
        .map(|c| c.n)
        .sum();
    Ok((
        headers,
        Json(Timeline {
            token_id: id,
            status: t.status,
            issuer: t.issuer,
            minted_ledger: t.minted_ledger,
            accesses,
            events,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bad_dates_name_the_field() {
        for s in ["1970-01-01", "2000-02-29", "2026-12-06", "2100-03-01"] {
            assert_eq!(civil_from_days(parse_day("from", s).unwrap()), s);
        }
        assert_eq!(parse_day("to", "1970-01-02").unwrap(), 1);
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-1-1",
            "yesterday",
            "2026-01-01x",
        ] {
            match parse_day("to", bad).unwrap_err() {
                ApiError::Invalid { field, .. } => assert_eq!(field, "to"),
                e => panic!("{bad}: {e}"),
            }
        }
    }
}
