//! The study endpoints' reads from the audit index, with the chain as the fallback.
//!
//! - A token's history: the index's rows plus the chain's events since the index's cursor
//!   (one `getEvents` scan of the few ledgers it is behind), when it is at most
//!   [`MAX_LAG_LEDGERS`] behind; else chain events only.
//! - A user's lists: from the index when it has read every ledger the chain has now (a
//!   caller must see the write they just made), else from the chain. A page started in the
//!   index continues there. Index-backed items say `pending` for a lapsed release (the
//!   chain computes lapse).
//!
//! Answers say which in `X-History-Source` / `X-List-Source` (`index` or `chain`) and carry
//! the index's lag (ledgers, at the time of the request) in `X-Index-Lag-Ledgers` when the
//! index answered.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use medimint_platform::trail::{read_trail, TrailEntry};
use medimint_platform::{Relation, StudyItem, StudyPage, MAX_PAGE};
use medimint_storage::index::{HistoryOf, ListKind};
use medimint_storage::Index;

use crate::error::{ApiError, ApiResult};
use crate::platform::from_platform;
use crate::routes::explorer::LAG_HEADER;
use crate::state::AppState;

/// Which source answered a list.
pub const LIST_SOURCE_HEADER: HeaderName = HeaderName::from_static("x-list-source");

/// Which source answered a history.
pub const SOURCE_HEADER: HeaderName = HeaderName::from_static("x-history-source");

/// A history comes from the index (plus the chain's events since its cursor) when the index
/// is at most this many ledgers behind the chain now.
pub const MAX_LAG_LEDGERS: u32 = 120;

/// Most events a history answer holds from the index.
pub const MAX_EVENTS: u32 = 1_000;

/// The index, where it has read up to (its cursor's ledger) and how far behind the chain's
/// latest ledger it is now; `None` without an index, a cursor or an answering RPC.
async fn index_now(state: &AppState) -> Option<(&Index, u32, u32)> {
    let index = state.index()?;
    let platform = state.platform().ok()?;
    let cursor = match index.cursor().await {
        Ok(Some(c)) => c,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "the audit index is unreadable; reading the chain");
            return None;
        }
    };
    let latest = platform.rpc().latest_ledger().await.ok()?;
    Some((
        index,
        cursor.ledger,
        (latest + 1).saturating_sub(cursor.ledger),
    ))
}

fn lag_header(headers: &mut HeaderMap, lag: u32) {
    if let Ok(v) = HeaderValue::from_str(&lag.to_string()) {
        headers.insert(LAG_HEADER, v);
    }
}

/// A token's history in chain order: the index's, then the chain's events since the index's
/// cursor (so a write just made is in it), when the index is at most [`MAX_LAG_LEDGERS`]
/// behind; else all from chain events.
///
/// # Errors
/// The chain's failure.
pub async fn token_history(
    state: &AppState,
    token: u32,
) -> ApiResult<(HeaderMap, Vec<TrailEntry>)> {
    let mut headers = HeaderMap::new();
    let platform = state.platform()?;
    if let Some((index, from, lag)) = index_now(state)
        .await
        .filter(|(_, _, l)| *l <= MAX_LAG_LEDGERS)
    {
        match index
            .history(&HistoryOf::Token(token), None, MAX_EVENTS)
            .await
        {
            Ok(rows) => {
                let mut trail: Vec<TrailEntry> = rows
                    .into_iter()
                    .rev()
                    .map(|h| TrailEntry {
                        ledger: h.ledger,
                        contract: h.contract,
                        kind: h.kind,
                        token_id: h.token_id,
                        parties: h.parties,
                        tx_hash: h.tx_hash,
                        closed_at: h.closed_at,
                    })
                    .collect();
                if lag > 0 {
                    let d = platform.deployment().map_err(from_platform)?;
                    let tail = read_trail(
                        platform.rpc().as_ref(),
                        from,
                        &[
                            (d.issuer_registry.id.clone(), "issuer-registry"),
                            (d.study_token.id.clone(), "study-token"),
                        ],
                    )
                    .await
                    .map_err(|e| ApiError::unavailable("the chain's events", e))?;
                    for e in tail.into_iter().filter(|e| e.token_id == Some(token)) {
                        if !trail.contains(&e) {
                            trail.push(e);
                        }
                    }
                }
                headers.insert(SOURCE_HEADER, HeaderValue::from_static("index"));
                lag_header(&mut headers, lag);
                return Ok((headers, trail));
            }
            Err(e) => tracing::warn!(error = %e, "the audit index failed; reading the chain"),
        }
    }
    headers.insert(SOURCE_HEADER, HeaderValue::from_static("chain"));
    let trail = platform
        .history(Some(&token.to_string()), None)
        .await
        .map_err(from_platform)?;
    Ok((headers, trail))
}

/// Where an index-backed list continues: `i:<relation>:<last token id>` (ids ascend; the
/// chain's cursors are offsets into an order that changes on removal, so the two never mix).
fn parse_index_cursor(cursor: &str) -> Option<(Relation, u32)> {
    let rest = cursor.strip_prefix("i:")?;
    let (rel, after) = rest.split_once(':')?;
    Some((Relation::parse(rel).ok()?, after.parse().ok()?))
}

fn tag(r: Relation) -> &'static str {
    match r {
        Relation::Owned => "owned",
        Relation::Shared => "shared",
        Relation::Pending => "pending",
    }
}

fn list_kind(r: Relation) -> ListKind {
    match r {
        Relation::Owned => ListKind::Owned,
        Relation::Shared => ListKind::Shared,
        Relation::Pending => ListKind::Pending,
    }
}

async fn item(
    index: &Index,
    address: &str,
    id: u32,
    relation: Relation,
) -> Result<Option<StudyItem>, medimint_storage::StorageError> {
    let Some(t) = index.token(id).await? else {
        return Ok(None);
    };
    let (my_role, my_access_until) = match relation {
        Relation::Owned => (Some("owner".to_owned()), None),
        Relation::Pending => (None, None),
        Relation::Shared => match index
            .roles(id)
            .await?
            .into_iter()
            .find(|r| r.grantee == address)
        {
            Some(r) => (Some(r.role), r.expires_at),
            None => (None, None),
        },
    };
    Ok(Some(StudyItem {
        token_id: id,
        relation,
        status: t.status,
        issuer: t.issuer,
        owner: t.owner,
        file_count: t.file_count,
        minted_ledger: t.minted_ledger,
        my_role,
        my_access_until,
    }))
}

/// A page of `address`'s studies, from the index when it is fresh (or when `cursor` is one
/// of its cursors), else from the chain. `X-List-Source` says which.
///
/// # Errors
/// A bad cursor or limit; the chain's or the index's failure.
pub async fn studies_of(
    state: &AppState,
    address: &str,
    relation: Option<Relation>,
    cursor: Option<&str>,
    limit: u32,
) -> ApiResult<(HeaderMap, StudyPage)> {
    let mut headers = HeaderMap::new();
    let index_cursor = cursor.and_then(parse_index_cursor);
    // Lists come from the index only when it has read everything the chain has now (a
    // list must show the write its caller just made).
    let fresh = index_now(state).await.filter(|(_, _, lag)| *lag == 0);
    let usable = match (fresh, index_cursor, state.index()) {
        (Some((index, _, lag)), _, _) => Some((index, Some(lag))),
        // A page of the index continues in the index even when it fell behind.
        (None, Some(_), Some(index)) => Some((index, None)),
        _ => None,
    };
    let Some((index, lag)) = usable else {
        if cursor.is_some_and(|c| c.starts_with("i:")) {
            return Err(ApiError::invalid(
                "cursor",
                "this cursor belongs to the index, which is not available now; start again without one",
            ));
        }
        headers.insert(LIST_SOURCE_HEADER, HeaderValue::from_static("chain"));
        let page = state
            .platform()?
            .studies_of(address, relation, cursor, limit)
            .await
            .map_err(from_platform)?;
        return Ok((headers, page));
    };
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("{limit} is not from 1 to {MAX_PAGE}"),
        ));
    }
    let relations: Vec<Relation> = match relation {
        Some(r) => vec![r],
        None => vec![Relation::Owned, Relation::Shared, Relation::Pending],
    };
    let (mut at, mut after) = match (cursor, index_cursor) {
        (None, _) => (0, None),
        (Some(_), Some((rel, after))) => (
            relations.iter().position(|r| *r == rel).ok_or_else(|| {
                ApiError::invalid("cursor", "the cursor belongs to another role filter")
            })?,
            Some(after),
        ),
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "cursor",
                "not a cursor this API returned; start again without one",
            ))
        }
    };
    headers.insert(LIST_SOURCE_HEADER, HeaderValue::from_static("index"));
    if let Some(v) = lag.and_then(|l| HeaderValue::from_str(&l.to_string()).ok()) {
        headers.insert(LAG_HEADER, v);
    }
    let failed = |e: medimint_storage::StorageError| ApiError::unavailable("the audit index", e);
    let mut items = Vec::new();
    while at < relations.len() {
        let rel = relations[at];
        let want = limit - u32::try_from(items.len()).unwrap_or(limit);
        let ids = index
            .list(address, list_kind(rel), after, want)
            .await
            .map_err(failed)?;
        let got = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        let last = ids.last().copied();
        for id in ids {
            if let Some(i) = item(index, address, id, rel).await.map_err(failed)? {
                items.push(i);
            }
        }
        if got == want {
            let next = last.map(|l| format!("i:{}:{l}", tag(rel)));
            return Ok((
                headers,
                StudyPage {
                    items,
                    next_cursor: next,
                },
            ));
        }
        at += 1;
        after = None;
    }
    Ok((
        headers,
        StudyPage {
            items,
            next_cursor: None,
        },
    ))
}
