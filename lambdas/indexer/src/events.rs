//! One contract event as the index records it: its history row, read from topics and data
//! (names, token ids, addresses and closed enums only).

use medimint_chain::clients::{field, variant_name};
use medimint_chain::scval::{decode, Address};
use medimint_chain::ContractEvent;
use medimint_storage::index::HistoryRow;
use stellar_xdr::ScVal;

/// The event's name (topic 0).
pub fn kind_of(e: &ContractEvent) -> String {
    match e.topics.first() {
        Some(ScVal::Symbol(s)) => String::from_utf8_lossy(s.0.as_slice()).into_owned(),
        _ => String::new(),
    }
}

/// The addresses among its topics, in order.
pub fn addresses(e: &ContractEvent) -> Vec<String> {
    e.topics
        .iter()
        .skip(1)
        .filter(|t| matches!(t, ScVal::Address(_)))
        .filter_map(|t| decode::<Address>(t).ok().map(|a| a.0))
        .collect()
}

/// A unit-enum field of the event's data, lower-cased (`Viewer` → `viewer`).
pub fn data_variant(e: &ContractEvent, name: &'static str) -> Option<String> {
    field(&e.value, name)
        .ok()
        .and_then(|v| variant_name(v).ok())
        .map(|s| snake(&s))
}

/// `ImagingCentre` → `imaging_centre`.
pub fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The history row of an event of the contract labelled `contract`.
pub fn history_row(e: &ContractEvent, contract: &str) -> HistoryRow {
    let kind = kind_of(e);
    let token_id = if contract == "study-token" {
        match e.topics.get(1) {
            Some(ScVal::U32(id)) => Some(*id),
            _ => None,
        }
    } else {
        None
    };
    let detail = match kind.as_str() {
        "role_granted" => data_variant(e, "role"),
        "access_recorded" => data_variant(e, "kind"),
        "release_rejected" => data_variant(e, "reason"),
        _ => None,
    };
    HistoryRow {
        id: e.id.clone(),
        ledger: e.ledger,
        closed_at: e.ledger_closed_at.clone(),
        contract: contract.to_owned(),
        kind,
        token_id,
        parties: addresses(e),
        detail,
        tx_hash: e.tx_hash.clone(),
    }
}

/// The UTC day (`YYYY-MM-DD`) of an RFC 3339 time.
pub fn day_of(closed_at: &str) -> String {
    closed_at.get(..10).unwrap_or("unknown").to_owned()
}

/// The ledger a `getEvents` paging token points into (its TOID's upper 32 bits), if it has
/// Stellar's `<toid>-<index>` form.
pub fn ledger_of_paging(token: &str) -> Option<u32> {
    let toid: u64 = token.split('-').next()?.parse().ok()?;
    u32::try_from(toid >> 32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_tokens_name_their_ledger_and_bad_ones_none() {
        let t = format!("{:019}-{:010}", (1234u64 << 32) | (5 << 12), 3);
        assert_eq!(ledger_of_paging(&t), Some(1234));
        assert_eq!(ledger_of_paging("not-a-token"), None);
        assert_eq!(ledger_of_paging(""), None);
    }

    #[test]
    fn names_become_snake_case_and_days_come_from_the_time() {
        assert_eq!(snake("ImagingCentre"), "imaging_centre");
        assert_eq!(snake("Viewer"), "viewer");
        assert_eq!(day_of("2026-12-06T14:00:01Z"), "2026-12-06");
        assert_eq!(day_of("bad"), "unknown");
    }
}
