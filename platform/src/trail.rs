//! The audit trail as the chain tells it: the suite's contract events read back with
//! Stellar RPC's `getEvents`.

use medimint_chain::{EventsFrom, Rpc};
use serde::Serialize;
use stellar_xdr::ScVal;

/// One event of the audit trail. Holds no PHI: addresses, ids and event names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrailEntry {
    /// The ledger it was recorded in.
    pub ledger: u32,
    /// `issuer-registry` or `study-token` (or the contract id for another one).
    pub contract: String,
    /// The event's name (topic 0), e.g. `release_proposed`.
    pub kind: String,
    /// The token it concerns (topic 1 of the study token's events), if any.
    pub token_id: Option<u32>,
    /// The other addresses in its topics (issuer, patient, granter, grantee, viewer…).
    pub parties: Vec<String>,
    /// The transaction that emitted it (hex hash), when the RPC says.
    pub tx_hash: Option<String>,
    /// When its ledger closed (RFC 3339).
    pub closed_at: String,
}

fn topic_text(v: &ScVal) -> Option<String> {
    match v {
        ScVal::Symbol(s) => Some(String::from_utf8_lossy(s.0.as_slice()).into_owned()),
        ScVal::String(s) => Some(String::from_utf8_lossy(s.0.as_slice()).into_owned()),
        ScVal::Address(_) => medimint_chain::scval::decode::<medimint_chain::scval::Address>(v)
            .ok()
            .map(|a| a.0),
        _ => None,
    }
}

/// Reads every contract event of `contracts` (`(id, label)`) from `start_ledger` on, in
/// chain order, through `rpc`.
///
/// # Errors
/// The RPC's failure.
pub async fn read_trail(
    rpc: &dyn Rpc,
    start_ledger: u32,
    contracts: &[(String, &str)],
) -> Result<Vec<TrailEntry>, medimint_chain::Error> {
    let ids: Vec<String> = contracts.iter().map(|(id, _)| id.clone()).collect();
    let mut out = Vec::new();
    let mut from = EventsFrom::Ledger(start_ledger);
    // Pages of 100 until a page comes back short.
    for _ in 0..100 {
        let page = rpc.events(from, &ids, 100).await?;
        let n = page.events.len();
        for e in page.events {
            let label = contracts
                .iter()
                .find(|(id, _)| *id == e.contract_id)
                .map(|(_, l)| (*l).to_owned())
                .unwrap_or_else(|| e.contract_id.clone());
            let token_id = match e.topics.get(1) {
                Some(ScVal::U32(id)) => Some(*id),
                _ => None,
            };
            out.push(TrailEntry {
                ledger: e.ledger,
                contract: label,
                kind: e.topics.first().and_then(topic_text).unwrap_or_default(),
                token_id,
                parties: e
                    .topics
                    .iter()
                    .skip(1)
                    .filter(|t| matches!(t, ScVal::Address(_)))
                    .filter_map(topic_text)
                    .collect(),
                tx_hash: e.tx_hash,
                closed_at: e.ledger_closed_at,
            });
        }
        if n < 100 || page.cursor.is_empty() {
            break;
        }
        from = EventsFrom::Cursor(page.cursor);
    }
    Ok(out)
}
