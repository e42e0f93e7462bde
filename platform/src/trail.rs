//! The audit trail as the chain tells it: the suite's contract events read back with
//! Stellar RPC's `getEvents`.

use serde::Serialize;
use stellar_rpc_client::{Client, EventStart, EventType};
use stellar_xdr::{Limits, ReadXdr, ScVal};

/// One event of the audit trail. Holds no PHI: addresses, ids and event names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
/// chain order.
pub(crate) async fn read_trail(
    rpc_url: &str,
    start_ledger: u32,
    contracts: &[(String, &str)],
) -> Result<Vec<TrailEntry>, String> {
    let client = Client::new(rpc_url).map_err(|e| e.to_string())?;
    let ids: Vec<String> = contracts.iter().map(|(id, _)| id.clone()).collect();
    let mut out = Vec::new();
    let mut start = EventStart::Ledger(start_ledger);
    // Pages of 100 until a page comes back short.
    for _ in 0..100 {
        let page = client
            .get_events(start, Some(EventType::Contract), &ids, &[], Some(100))
            .await
            .map_err(|e| e.to_string())?;
        let n = page.events.len();
        for e in page.events {
            let topics: Vec<ScVal> = e
                .topic
                .iter()
                .map(|t| ScVal::from_xdr_base64(t, Limits::depth(100)))
                .collect::<Result<_, _>>()
                .map_err(|err| format!("event {}: unreadable topic: {err}", e.id))?;
            let label = contracts
                .iter()
                .find(|(id, _)| *id == e.contract_id)
                .map(|(_, l)| (*l).to_owned())
                .unwrap_or_else(|| e.contract_id.clone());
            let token_id = match topics.get(1) {
                Some(ScVal::U32(id)) => Some(*id),
                _ => None,
            };
            out.push(TrailEntry {
                ledger: e.ledger,
                contract: label,
                kind: topics.first().and_then(topic_text).unwrap_or_default(),
                token_id,
                parties: topics
                    .iter()
                    .skip(1)
                    .filter(|t| matches!(t, ScVal::Address(_)))
                    .filter_map(topic_text)
                    .collect(),
            });
        }
        if n < 100 || page.cursor.is_empty() {
            break;
        }
        start = EventStart::Cursor(page.cursor);
    }
    Ok(out)
}
