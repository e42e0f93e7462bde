//! The Stellar RPC methods, with the request and response shapes of Stellar RPC's OpenRPC
//! specification (numbers that may exceed 2^53 as strings, XDR as base64).

use serde_json::{json, Value};
use soroban_env_host::xdr::{ContractEventBody, LedgerKey, Limits, ReadXdr, TransactionEnvelope};

use super::jsonrpc::{RpcError, METHOD_NOT_FOUND};
use crate::node::{EventRecord, SubmitError, TxRecord};
use crate::settings::PROTOCOL_VERSION;
use crate::simulate::{b64, simulate, AuthMode};
use crate::Shared;

/// Most keys one `getLedgerEntries` call may ask for (Stellar RPC's limit).
const MAX_LEDGER_KEYS: usize = 200;
/// Default and maximum page sizes of `getEvents` / `getTransactions`.
const DEFAULT_LIMIT: usize = 100;
const MAX_EVENTS_LIMIT: usize = 10_000;
const MAX_TXS_LIMIT: usize = 200;
/// Maximum page size of `getLedgers` (Stellar RPC's), and its default.
const MAX_LEDGERS_LIMIT: usize = 200;
const DEFAULT_LEDGERS_LIMIT: usize = 5;

/// Dispatches one method call.
pub fn call(shared: &Shared, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "getHealth" => get_health(shared),
        "getNetwork" => get_network(shared),
        "getVersionInfo" => Ok(get_version_info()),
        "getLatestLedger" => get_latest_ledger(shared),
        "getLedgerEntries" => get_ledger_entries(shared, &params),
        "getFeeStats" => get_fee_stats(shared),
        "simulateTransaction" => simulate_transaction(shared, &params),
        "sendTransaction" => send_transaction(shared, &params),
        "getTransaction" => get_transaction(shared, &params),
        "getTransactions" => get_transactions(shared, &params),
        "getEvents" => get_events(shared, &params),
        "getLedgers" => get_ledgers(shared, &params),
        other => Err(RpcError {
            code: METHOD_NOT_FOUND,
            message: format!("method `{other}` not found"),
        }),
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, crate::node::Node> {
    // A panic while holding the lock cannot leave the node half-updated in a way later
    // calls could observe worse than an error, so a poisoned lock is recovered.
    shared.node.lock().unwrap_or_else(|p| p.into_inner())
}

fn iso8601(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

fn get_health(shared: &Shared) -> Result<Value, RpcError> {
    let node = lock(shared);
    Ok(json!({
        "status": "healthy",
        "latestLedger": node.latest_ledger(),
        "oldestLedger": node.oldest_ledger(),
        "ledgerRetentionWindow": node.retention_ledgers,
    }))
}

fn get_network(shared: &Shared) -> Result<Value, RpcError> {
    let node = lock(shared);
    Ok(json!({
        "friendbotUrl": shared.friendbot_url,
        "passphrase": node.passphrase,
        "protocolVersion": PROTOCOL_VERSION,
    }))
}

fn get_version_info() -> Value {
    json!({
        "version": concat!("medimint-devnet ", env!("CARGO_PKG_VERSION")),
        "commitHash": "",
        "buildTimestamp": "",
        "captiveCoreVersion": "none (medimint-devnet embeds soroban-env-host 29.0.1)",
        "protocolVersion": PROTOCOL_VERSION,
    })
}

fn get_latest_ledger(shared: &Shared) -> Result<Value, RpcError> {
    let node = lock(shared);
    let seq = node.latest_ledger();
    Ok(json!({
        "id": hex::encode(node.latest_hash()),
        "protocolVersion": PROTOCOL_VERSION,
        "sequence": seq,
        "closeTime": node.latest_close_time().to_string(),
    }))
}

fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params(format!("missing or non-string parameter `{name}`")))
}

fn decode<T: ReadXdr>(b64: &str, what: &str) -> Result<T, RpcError> {
    T::from_xdr_base64(
        b64,
        Limits {
            depth: 500,
            len: 1 << 22,
        },
    )
    .map_err(|e| RpcError::params(format!("invalid {what}: not valid base64 XDR ({e})")))
}

fn get_ledger_entries(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let keys = params
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            RpcError::params("missing parameter `keys` (an array of base64 LedgerKey XDR)")
        })?;
    if keys.is_empty() || keys.len() > MAX_LEDGER_KEYS {
        return Err(RpcError::params(format!(
            "`keys` must hold 1 to {MAX_LEDGER_KEYS} keys, got {}",
            keys.len()
        )));
    }
    let mut decoded = Vec::new();
    for k in keys {
        let s = k
            .as_str()
            .ok_or_else(|| RpcError::params("each key must be a base64 string"))?;
        let key: LedgerKey = decode(s, "ledger key")?;
        if matches!(key, LedgerKey::Ttl(_)) {
            return Err(RpcError::params("TTL keys are not queryable; ask for the entry itself (its liveUntilLedgerSeq is returned)"));
        }
        decoded.push((s.to_string(), key));
    }
    let node = lock(shared);
    let entries: Vec<Value> = decoded
        .into_iter()
        .filter_map(|(s, key)| {
            let e = node.entry(&key)?;
            let mut v = json!({
                "key": s,
                "xdr": b64(&e.entry.data),
                "lastModifiedLedgerSeq": e.entry.last_modified_ledger_seq,
            });
            if let Some(until) = e.live_until {
                v["liveUntilLedgerSeq"] = json!(until);
            }
            Some(v)
        })
        .collect();
    Ok(json!({"entries": entries, "latestLedger": node.latest_ledger()}))
}

/// Ledgers of inclusion fees `getFeeStats` summarizes: stellar-rpc's default windows
/// (`CLASSIC_FEE_STATS_RETENTION_WINDOW` 10, `SOROBAN_FEE_STATS_RETENTION_WINDOW` 50).
const CLASSIC_FEE_WINDOW: u32 = 10;
const SOROBAN_FEE_WINDOW: u32 = 50;

/// A fee distribution as Stellar RPC serves it: the inclusion fees charged per operation in
/// the window (nearest-rank percentiles, the most frequent value as mode; ties the lowest).
/// With no transactions every figure is the base fee.
fn fee_distribution(mut fees: Vec<i64>, base_fee: i64, ledgers: u32) -> Value {
    fees.sort_unstable();
    let n = fees.len();
    let pick = |p: usize| -> i64 {
        if n == 0 {
            base_fee
        } else {
            fees[(n * p).div_ceil(100).clamp(1, n) - 1]
        }
    };
    let mut mode = (base_fee, 0usize);
    let mut i = 0;
    while i < n {
        let j = fees[i..].iter().take_while(|f| **f == fees[i]).count();
        if j > mode.1 {
            mode = (fees[i], j);
        }
        i += j;
    }
    let s = |v: i64| v.to_string();
    json!({
        "max": s(if n == 0 { base_fee } else { fees[n - 1] }),
        "min": s(if n == 0 { base_fee } else { fees[0] }),
        "mode": s(mode.0),
        "p10": s(pick(10)), "p20": s(pick(20)), "p30": s(pick(30)), "p40": s(pick(40)),
        "p50": s(pick(50)), "p60": s(pick(60)), "p70": s(pick(70)), "p80": s(pick(80)),
        "p90": s(pick(90)), "p95": s(pick(95)), "p99": s(pick(99)),
        "transactionCount": n.to_string(), "ledgerCount": ledgers,
    })
}

fn get_fee_stats(shared: &Shared) -> Result<Value, RpcError> {
    let node = lock(shared);
    let latest = node.latest_ledger();
    let oldest = node.oldest_ledger();
    let window = |size: u32| latest.saturating_sub(size - 1).max(oldest);
    let (classic_from, soroban_from) = (window(CLASSIC_FEE_WINDOW), window(SOROBAN_FEE_WINDOW));
    let (mut classic, mut soroban) = (Vec::new(), Vec::new());
    for t in node.transactions() {
        if t.result.fee_charged == 0 {
            continue; // refused when its ledger applied it: nothing was charged
        }
        let per_op = t.inclusion_fee / t.fee_ops.max(1);
        if t.soroban && t.ledger >= soroban_from {
            soroban.push(per_op);
        } else if !t.soroban && t.ledger >= classic_from {
            classic.push(per_op);
        }
    }
    let base = node.settings.base_fee;
    Ok(json!({
        "sorobanInclusionFee": fee_distribution(soroban, base, latest - soroban_from + 1),
        "inclusionFee": fee_distribution(classic, base, latest - classic_from + 1),
        "latestLedger": latest,
    }))
}

fn simulate_transaction(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let envelope: TransactionEnvelope = decode(str_param(params, "transaction")?, "transaction")?;
    let auth_mode = match params.get("authMode").and_then(Value::as_str) {
        None | Some("") => None,
        Some(s) => Some(AuthMode::parse(s).map_err(RpcError::params)?),
    };
    let (state, settings, network_id) = {
        let node = lock(shared);
        (node.state.clone(), node.settings.clone(), node.network_id)
    };
    let latest = state.sequence;
    let sim = match simulate(envelope, state, &settings, network_id, auth_mode) {
        Ok(s) => s,
        Err(e) => return Ok(json!({"error": e, "latestLedger": latest})),
    };
    let mut out = json!({
        "latestLedger": latest,
        "minResourceFee": sim.min_resource_fee.to_string(),
        "cost": {"cpuInsns": sim.cost.0.to_string(), "memBytes": sim.cost.1.to_string()},
        "events": sim.events.iter().map(b64).collect::<Vec<_>>(),
    });
    if let Some(err) = sim.error {
        out["error"] = json!(err);
        return Ok(out);
    }
    if let Some(data) = &sim.transaction_data {
        out["transactionData"] = json!(b64(data));
    }
    if let Some((ret, auth)) = &sim.result {
        out["results"] =
            json!([{ "auth": auth.iter().map(b64).collect::<Vec<_>>(), "xdr": b64(ret) }]);
    }
    if let Some((data, fee)) = &sim.restore_preamble {
        out["restorePreamble"] =
            json!({"transactionData": b64(data), "minResourceFee": fee.to_string()});
    }
    if !sim.state_changes.is_empty() {
        out["stateChanges"] = sim
            .state_changes
            .iter()
            .map(|(k, before, after)| {
                let kind = match (before, after) {
                    (None, _) => "created",
                    (_, None) => "deleted",
                    _ => "updated",
                };
                json!({
                    "type": kind,
                    "key": b64(k),
                    "before": before.as_ref().map(b64),
                    "after": after.as_ref().map(b64),
                })
            })
            .collect();
    }
    Ok(out)
}

fn send_transaction(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let envelope: TransactionEnvelope = decode(str_param(params, "transaction")?, "transaction")?;
    let mut node = lock(shared);
    let latest = node.latest_ledger();
    let close_time = node.latest_close_time();
    let (status, hash, error) = match node.submit(envelope) {
        Ok(hash) => ("PENDING", hash, None),
        Err(SubmitError::Duplicate(hash)) => ("DUPLICATE", hash, None),
        Err(SubmitError::TryAgainLater(hash)) => ("TRY_AGAIN_LATER", hash, None),
        Err(SubmitError::Invalid { hash, result, .. }) => {
            ("ERROR", hash, Some(b64(result.as_ref())))
        }
    };
    let mut out = json!({
        "status": status,
        "hash": hash,
        "latestLedger": latest,
        "latestLedgerCloseTime": close_time.to_string(),
    });
    if let Some(e) = error {
        out["errorResultXdr"] = json!(e);
    }
    if status == "PENDING" && shared.close_on_submit {
        drop(node);
        crate::close_and_save(shared);
    }
    Ok(out)
}

/// A transaction as `getTransaction(s)` serve it: XDR as base64 (`…Xdr` fields), or with
/// `xdrFormat: "json"` as the XDR's JSON form (`…Json` fields), as Stellar RPC does.
fn tx_json(t: &TxRecord, json_format: bool) -> Value {
    let mut out = json!({
        "status": if t.success { "SUCCESS" } else { "FAILED" },
        "txHash": t.hash,
        "ledger": t.ledger,
        "createdAt": t.created_at.to_string(),
        "applicationOrder": t.application_order,
        "feeBump": t.fee_bump,
    });
    if json_format {
        fn js<T: serde::Serialize>(v: &T) -> Value {
            serde_json::to_value(v).unwrap_or(Value::Null)
        }
        out["envelopeJson"] = js(&t.envelope);
        out["resultJson"] = js(&t.result);
        out["resultMetaJson"] = js(&t.meta);
        out["diagnosticEventsJson"] = t.diagnostics.iter().map(js).collect();
        out["events"] = json!({
            "contractEventsJson": t.events.iter().map(|op| op.iter().map(js).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "transactionEventsJson": t.tx_events.iter().map(js).collect::<Vec<_>>(),
            "diagnosticEventsJson": t.diagnostics.iter().map(js).collect::<Vec<_>>(),
        });
    } else {
        out["envelopeXdr"] = json!(b64(&t.envelope));
        out["resultXdr"] = json!(b64(&t.result));
        out["resultMetaXdr"] = json!(b64(&t.meta));
        out["diagnosticEventsXdr"] = json!(t.diagnostics.iter().map(b64).collect::<Vec<_>>());
        out["events"] = json!({
            "contractEventsXdr": t.events.iter().map(|op| op.iter().map(b64).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "transactionEventsXdr": t.tx_events.iter().map(b64).collect::<Vec<_>>(),
            "diagnosticEventsXdr": t.diagnostics.iter().map(b64).collect::<Vec<_>>(),
        });
    }
    out
}

fn get_transaction(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let json_format = xdr_format(params)?;
    let hash = str_param(params, "hash")?.to_ascii_lowercase();
    if hash.len() != 64 || hex::decode(&hash).is_err() {
        return Err(RpcError::params("`hash` must be 64 hex characters"));
    }
    let node = lock(shared);
    let mut out = match node.transaction(&hash) {
        Some(t) => tx_json(t, json_format),
        None => json!({"status": "NOT_FOUND", "txHash": hash}),
    };
    out["latestLedger"] = json!(node.latest_ledger());
    out["latestLedgerCloseTime"] = json!(node.latest_close_time().to_string());
    out["oldestLedger"] = json!(node.oldest_ledger());
    out["oldestLedgerCloseTime"] = json!(node
        .close_time_of(node.oldest_ledger())
        .unwrap_or(0)
        .to_string());
    Ok(out)
}

fn toid(ledger: u32, order: u32) -> u64 {
    ((ledger as u64) << 32) | ((order as u64) << 12)
}

fn page(params: &Value, max: usize) -> Result<(Option<String>, usize), RpcError> {
    let p = params.get("pagination");
    let cursor = match p.and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(RpcError::params("`pagination.cursor` must be a string")),
    };
    let limit = match p.and_then(|p| p.get("limit")) {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(v) => v
            .as_u64()
            .filter(|l| *l >= 1 && *l as usize <= max)
            .ok_or_else(|| RpcError::params(format!("`pagination.limit` must be 1 to {max}")))?
            as usize,
    };
    Ok((cursor, limit))
}

fn start_ledger(
    params: &Value,
    node: &crate::node::Node,
    cursor: &Option<String>,
) -> Result<u32, RpcError> {
    match params.get("startLedger").and_then(Value::as_u64) {
        Some(s) => {
            if cursor.is_some() {
                return Err(RpcError::params(
                    "give either `startLedger` or `pagination.cursor`, not both",
                ));
            }
            let s = s as u32;
            if s < node.oldest_ledger() || s > node.latest_ledger() {
                return Err(RpcError::params(format!(
                    "startLedger must be between the oldest ledger: {} and the latest ledger: {}",
                    node.oldest_ledger(),
                    node.latest_ledger()
                )));
            }
            Ok(s)
        }
        None if cursor.is_some() => Ok(node.oldest_ledger()),
        None => Err(RpcError::params(
            "missing `startLedger` (or `pagination.cursor`)",
        )),
    }
}

fn get_transactions(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let json_format = xdr_format(params)?;
    let (cursor, limit) = page(params, MAX_TXS_LIMIT)?;
    let node = lock(shared);
    let start = start_ledger(params, &node, &cursor)?;
    let after: u64 = match &cursor {
        Some(c) => c.parse().map_err(|_| {
            RpcError::params("`pagination.cursor` is not a cursor this server issued")
        })?,
        None => 0,
    };
    let txs: Vec<&TxRecord> = node
        .transactions()
        .filter(|t| t.ledger >= start && toid(t.ledger, t.application_order) > after)
        .take(limit)
        .collect();
    let next = txs
        .last()
        .map(|t| toid(t.ledger, t.application_order))
        .unwrap_or(after);
    Ok(json!({
        "transactions": txs.iter().map(|t| tx_json(t, json_format)).collect::<Vec<_>>(),
        "latestLedger": node.latest_ledger(),
        "latestLedgerCloseTimestamp": node.latest_close_time(),
        "oldestLedger": node.oldest_ledger(),
        "oldestLedgerCloseTimestamp": node.close_time_of(node.oldest_ledger()).unwrap_or(0),
        "cursor": next.to_string(),
    }))
}

/// One `getEvents` filter.
struct EventFilter {
    contract_ids: Vec<String>,
    topics: Vec<Vec<String>>,
    wants_contract: bool,
}

fn parse_filters(params: &Value) -> Result<Vec<EventFilter>, RpcError> {
    let Some(filters) = params.get("filters") else {
        return Ok(vec![]);
    };
    let filters = filters
        .as_array()
        .ok_or_else(|| RpcError::params("`filters` must be an array"))?;
    if filters.len() > 5 {
        return Err(RpcError::params("at most 5 filters"));
    }
    filters
        .iter()
        .map(|f| {
            let wants_contract = match f.get("type").and_then(Value::as_str) {
                None | Some("") | Some("contract") => true,
                Some("system") | Some("diagnostic") => false,
                Some(other) => {
                    return Err(RpcError::params(format!("invalid event type `{other}`")))
                }
            };
            let contract_ids = match f.get("contractIds") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|c| {
                        let s = c.as_str().unwrap_or_default();
                        stellar_strkey::Contract::from_string(s)
                            .map(|_| s.to_string())
                            .map_err(|_| RpcError::params(format!("invalid contract id `{s}`")))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(RpcError::params("`contractIds` must be an array")),
            };
            let topics = match f.get("topics") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| {
                        t.as_array()
                            .ok_or_else(|| {
                                RpcError::params("each topic filter must be an array of segments")
                            })?
                            .iter()
                            .map(|s| {
                                s.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| RpcError::params("topic segments are strings"))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(RpcError::params("`topics` must be an array")),
            };
            Ok(EventFilter {
                contract_ids,
                topics,
                wants_contract,
            })
        })
        .collect()
}

fn contract_strkey(e: &EventRecord) -> String {
    match &e.event.contract_id {
        Some(id) => stellar_strkey::Contract(id.0 .0).to_string(),
        None => String::new(),
    }
}

fn topics_of(e: &EventRecord) -> Vec<String> {
    let ContractEventBody::V0(v0) = &e.event.body;
    v0.topics.iter().map(b64).collect()
}

fn topic_matches(pattern: &[String], topics: &[String]) -> bool {
    let mut i = 0;
    for (n, seg) in pattern.iter().enumerate() {
        if seg == "**" && n == pattern.len() - 1 {
            return true;
        }
        match topics.get(i) {
            Some(t) if seg == "*" || seg == t => i += 1,
            _ => return false,
        }
    }
    i == topics.len()
}

fn matches(filters: &[EventFilter], e: &EventRecord) -> bool {
    if filters.is_empty() {
        return true;
    }
    let cid = contract_strkey(e);
    let topics = topics_of(e);
    filters.iter().any(|f| {
        f.wants_contract
            && (f.contract_ids.is_empty() || f.contract_ids.contains(&cid))
            && (f.topics.is_empty() || f.topics.iter().any(|p| topic_matches(p, &topics)))
    })
}

fn get_events(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let (cursor, limit) = page(params, MAX_EVENTS_LIMIT)?;
    let filters = parse_filters(params)?;
    let node = lock(shared);
    let start = start_ledger(params, &node, &cursor)?;
    let end = match params.get("endLedger").and_then(Value::as_u64) {
        Some(e) if (e as u32) <= start => {
            return Err(RpcError::params("`endLedger` must be after `startLedger`"))
        }
        Some(e) => e as u32,
        None => u32::MAX,
    };
    let after = cursor.unwrap_or_default();
    let mut out = Vec::new();
    let mut last_id = after.clone();
    for e in node.events() {
        if e.ledger < start || e.ledger >= end || e.id <= after {
            continue;
        }
        last_id = e.id.clone();
        if !matches(&filters, e) {
            continue;
        }
        let ContractEventBody::V0(body) = &e.event.body;
        let value = b64(&body.data);
        out.push(json!({
            "type": "contract",
            "ledger": e.ledger,
            "ledgerClosedAt": iso8601(e.ledger_closed_at),
            "contractId": contract_strkey(e),
            "id": e.id,
            "operationIndex": e.op_index,
            "transactionIndex": e.tx_index,
            "txHash": e.tx_hash,
            "inSuccessfulContractCall": true,
            "topic": topics_of(e),
            "value": value,
        }));
        if out.len() == limit {
            break;
        }
    }
    if out.len() < limit {
        // Everything up to the end of the range was scanned: the cursor points past it.
        let scanned_to = end.min(node.latest_ledger() + 1);
        let past = format!("{:019}-{:010}", (scanned_to as u64) << 32, 0);
        if past > last_id {
            last_id = past;
        }
    }
    Ok(json!({
        "events": out,
        "latestLedger": node.latest_ledger(),
        "latestLedgerCloseTime": node.latest_close_time().to_string(),
        "oldestLedger": node.oldest_ledger(),
        "oldestLedgerCloseTime": node.close_time_of(node.oldest_ledger()).unwrap_or(0).to_string(),
        "cursor": last_id,
    }))
}

fn xdr_format(params: &Value) -> Result<bool, RpcError> {
    match params.get("xdrFormat").and_then(Value::as_str) {
        None | Some("") | Some("base64") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(RpcError::params(format!(
            "invalid xdrFormat `{other}`: expected base64 or json"
        ))),
    }
}

fn get_ledgers(shared: &Shared, params: &Value) -> Result<Value, RpcError> {
    let json_format = xdr_format(params)?;
    let (cursor, limit) = page(params, MAX_LEDGERS_LIMIT)?;
    let limit = match params.get("pagination").and_then(|p| p.get("limit")) {
        None | Some(Value::Null) => DEFAULT_LEDGERS_LIMIT,
        Some(_) => limit,
    };
    let node = lock(shared);
    let start = match &cursor {
        Some(c) => {
            if params.get("startLedger").is_some_and(|v| !v.is_null()) {
                return Err(RpcError::params(
                    "give either `startLedger` or `pagination.cursor`, not both",
                ));
            }
            let after: u32 = c.parse().map_err(|_| {
                RpcError::params("`pagination.cursor` is not a cursor this server issued")
            })?;
            after.saturating_add(1).max(node.oldest_ledger())
        }
        None => start_ledger(params, &node, &None)?,
    };
    let mut ledgers = Vec::new();
    let mut last = start.saturating_sub(1);
    for seq in node.ledgers_from(start).take(limit) {
        let (Some(header), Some(meta)) = (node.header(seq), node.close_meta(seq)) else {
            continue;
        };
        let mut v = json!({
            "hash": hex::encode(header.hash.0),
            "sequence": seq,
            "ledgerCloseTime": header.header.scp_value.close_time.0.to_string(),
        });
        if json_format {
            v["headerJson"] = serde_json::to_value(header).unwrap_or(Value::Null);
            v["metadataJson"] = serde_json::to_value(&meta).unwrap_or(Value::Null);
        } else {
            v["headerXdr"] = json!(b64(header));
            v["metadataXdr"] = json!(b64(&meta));
        }
        ledgers.push(v);
        last = seq;
    }
    Ok(json!({
        "ledgers": ledgers,
        "latestLedger": node.latest_ledger(),
        "latestLedgerCloseTime": node.latest_close_time(),
        "oldestLedger": node.oldest_ledger(),
        "oldestLedgerCloseTime": node.close_time_of(node.oldest_ledger()).unwrap_or(0),
        "cursor": last.to_string(),
    }))
}
