//! The study endpoints' reads from the audit index, with the chain as the fallback: a
//! token's history comes from the index when one is set and it is at most
//! [`MAX_LAG_LEDGERS`] behind the chain, else from chain events as before. Answers say
//! which in `X-History-Source` (`index` or `chain`) and carry the index's lag in
//! `X-Index-Lag-Ledgers` when the index answered.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use medimint_platform::trail::TrailEntry;
use medimint_storage::index::HistoryOf;
use medimint_storage::Index;

use crate::error::ApiResult;
use crate::platform::from_platform;
use crate::routes::explorer::LAG_HEADER;
use crate::state::AppState;

/// Which source answered.
pub const SOURCE_HEADER: HeaderName = HeaderName::from_static("x-history-source");

/// The index answers only when at most this many ledgers behind (about a minute).
pub const MAX_LAG_LEDGERS: u32 = 12;

/// Most events a history answer holds from the index.
pub const MAX_EVENTS: u32 = 1_000;

/// The index when it is usable now, with its lag.
async fn fresh_index(state: &AppState) -> Option<(&Index, u32)> {
    let index = state.index()?;
    match index.cursor().await {
        Ok(Some(c)) if c.lag_ledgers() <= MAX_LAG_LEDGERS => Some((index, c.lag_ledgers())),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the audit index is unreadable; reading the chain");
            None
        }
    }
}

/// A token's history in chain order, from the index or the chain.
///
/// # Errors
/// The chain's failure when the index cannot answer.
pub async fn token_history(
    state: &AppState,
    token: u32,
) -> ApiResult<(HeaderMap, Vec<TrailEntry>)> {
    let mut headers = HeaderMap::new();
    if let Some((index, lag)) = fresh_index(state).await {
        match index
            .history(&HistoryOf::Token(token), None, MAX_EVENTS)
            .await
        {
            Ok(rows) => {
                headers.insert(SOURCE_HEADER, HeaderValue::from_static("index"));
                if let Ok(v) = HeaderValue::from_str(&lag.to_string()) {
                    headers.insert(LAG_HEADER, v);
                }
                let trail = rows
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
                return Ok((headers, trail));
            }
            Err(e) => tracing::warn!(error = %e, "the audit index failed; reading the chain"),
        }
    }
    headers.insert(SOURCE_HEADER, HeaderValue::from_static("chain"));
    let trail = state
        .platform()?
        .history(Some(&token.to_string()), None)
        .await
        .map_err(from_platform)?;
    Ok((headers, trail))
}
