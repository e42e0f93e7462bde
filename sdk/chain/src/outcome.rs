//! Reading what happened to a transaction: result codes, polling to a final state with
//! backoff, and the landed transaction's return value and events.

use std::time::{Duration, Instant};

use stellar_rpc_client::GetTransactionResponse;
use stellar_xdr::{
    InnerTransactionResultResult, OperationResult, OperationResultTr, ScVal, TransactionMeta,
    TransactionResult, TransactionResultResult,
};

use crate::error::{Error, Result};
use crate::rpc::Rpc;
use crate::scval::Event;
use crate::tx::hex_hash;

/// How long and how often to poll.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// First wait.
    pub initial: Duration,
    /// Longest single wait; waits double up to it.
    pub max: Duration,
    /// Give up after this long.
    pub deadline: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        }
    }
}

/// A transaction that was applied successfully.
#[derive(Clone, Debug)]
pub struct Landed {
    /// Its hash (of the fee-bump, when wrapped).
    pub hash: [u8; 32],
    /// The ledger it was applied in.
    pub ledger: u32,
    /// What the fee payer was charged, in stroops.
    pub fee_charged: i64,
    /// The contract function's return value (Soroban transactions only).
    pub return_value: Option<ScVal>,
    /// The contract events it emitted.
    pub events: Vec<Event>,
}

/// The short reason a transaction was refused or failed, e.g. `txBAD_SEQ`,
/// `txFEE_BUMP_INNER_FAILED: txBAD_SEQ` or `txFAILED: invokeHostFunction Trapped`.
pub fn result_code(result: &TransactionResult) -> String {
    fn ops(o: &[OperationResult]) -> String {
        o.iter()
            .map(|r| match r {
                OperationResult::OpInner(tr) => op_tr(tr),
                other => other.name().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn op_tr(tr: &OperationResultTr) -> String {
        match tr {
            OperationResultTr::InvokeHostFunction(r) => format!("invokeHostFunction {}", r.name()),
            OperationResultTr::CreateAccount(r) => format!("createAccount {}", r.name()),
            OperationResultTr::BeginSponsoringFutureReserves(r) => {
                format!("beginSponsoringFutureReserves {}", r.name())
            }
            OperationResultTr::EndSponsoringFutureReserves(r) => {
                format!("endSponsoringFutureReserves {}", r.name())
            }
            other => other.name().to_string(),
        }
    }
    fn inner(r: &InnerTransactionResultResult) -> String {
        match r {
            InnerTransactionResultResult::TxFailed(o) => format!("txFAILED: {}", ops(o)),
            InnerTransactionResultResult::TxSuccess(_) => "txSUCCESS".into(),
            other => tx_code_name(other.name()),
        }
    }
    match &result.result {
        TransactionResultResult::TxFeeBumpInnerFailed(p) => {
            format!("txFEE_BUMP_INNER_FAILED: {}", inner(&p.result.result))
        }
        TransactionResultResult::TxFeeBumpInnerSuccess(_) => "txFEE_BUMP_INNER_SUCCESS".into(),
        TransactionResultResult::TxFailed(o) => format!("txFAILED: {}", ops(o)),
        other => tx_code_name(other.name()),
    }
}

/// `TxBadSeq` → `txBAD_SEQ`, the spelling Stellar's docs and tools use.
fn tx_code_name(variant: &str) -> String {
    let rest = variant.strip_prefix("Tx").unwrap_or(variant);
    let mut out = String::from("tx");
    for (i, ch) in rest.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// Why a transaction was refused at submission, as far as the relayer acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The (inner) source's sequence number was not the next one.
    BadSeq,
    /// The fee bid was too low for the network's current surge price.
    InsufficientFee,
    /// The time bounds have passed.
    TooLate,
    /// Anything else: not retryable by the relayer.
    Other,
}

/// Classifies a submission-time error result.
pub fn classify(result: &TransactionResult) -> Refused {
    match &result.result {
        TransactionResultResult::TxBadSeq => Refused::BadSeq,
        TransactionResultResult::TxInsufficientFee => Refused::InsufficientFee,
        TransactionResultResult::TxTooLate => Refused::TooLate,
        TransactionResultResult::TxFeeBumpInnerFailed(p) => match &p.result.result {
            InnerTransactionResultResult::TxBadSeq => Refused::BadSeq,
            InnerTransactionResultResult::TxInsufficientFee => Refused::InsufficientFee,
            InnerTransactionResultResult::TxTooLate => Refused::TooLate,
            _ => Refused::Other,
        },
        _ => Refused::Other,
    }
}

/// The final state of a transaction as `getTransaction` reports it.
#[derive(Clone, Debug)]
pub enum Status {
    /// Applied successfully.
    Success(Box<Landed>),
    /// Applied and failed (fee charged, sequence consumed); the code says why.
    Failed(String),
    /// Not (yet) known to the server.
    NotFound,
}

/// Reads one `getTransaction` response.
///
/// # Errors
/// [`Error::Rpc`] for an unknown status.
pub fn status_of(hash: [u8; 32], r: &GetTransactionResponse) -> Result<Status> {
    match r.status.as_str() {
        "SUCCESS" => Ok(Status::Success(Box::new(landed(hash, r)))),
        "FAILED" => Ok(Status::Failed(
            r.result
                .as_ref()
                .map(result_code)
                .unwrap_or_else(|| "FAILED".into()),
        )),
        "NOT_FOUND" => Ok(Status::NotFound),
        other => Err(Error::Rpc(format!(
            "unknown getTransaction status {other:?}"
        ))),
    }
}

fn landed(hash: [u8; 32], r: &GetTransactionResponse) -> Landed {
    let mut events: Vec<Event> = Vec::new();
    let mut return_value = r.return_value().ok();
    // Read events from the meta when present: some servers leave the `events` field empty.
    match &r.result_meta {
        Some(TransactionMeta::V4(m)) => {
            for op in m.operations.iter() {
                events.extend(op.events.iter().map(Event::from_xdr));
            }
            if return_value.is_none() {
                return_value = m.soroban_meta.as_ref().and_then(|s| s.return_value.clone());
            }
        }
        Some(TransactionMeta::V3(m)) => {
            if let Some(s) = &m.soroban_meta {
                events.extend(s.events.iter().map(Event::from_xdr));
            }
        }
        _ => {}
    }
    if events.is_empty() {
        events = r
            .events
            .contract_events
            .iter()
            .flatten()
            .map(Event::from_xdr)
            .collect();
    }
    Landed {
        hash,
        ledger: r.ledger.unwrap_or_default(),
        fee_charged: r.result.as_ref().map(|x| x.fee_charged).unwrap_or_default(),
        return_value,
        events,
    }
}

/// Looks a transaction up once.
///
/// # Errors
/// Whatever the RPC reports.
pub async fn lookup(rpc: &dyn Rpc, hash: [u8; 32]) -> Result<Status> {
    status_of(hash, &rpc.transaction(&hash).await?)
}

/// Polls until the transaction is final or `backoff.deadline` passes. RPC outages while
/// polling are waited through, as the transaction may land meanwhile.
///
/// # Errors
/// [`Error::Failed`] if it failed on chain, [`Error::OutcomeUnknown`] at the deadline.
pub async fn wait_for(rpc: &dyn Rpc, hash: [u8; 32], backoff: Backoff) -> Result<Landed> {
    let start = Instant::now();
    let mut wait = backoff.initial;
    loop {
        match lookup(rpc, hash).await {
            Ok(Status::Success(l)) => return Ok(*l),
            Ok(Status::Failed(code)) => {
                return Err(Error::Failed {
                    hash: hex_hash(&hash),
                    code,
                })
            }
            Ok(Status::NotFound) | Err(Error::RpcUnavailable(_)) => {}
            Err(e) => return Err(e),
        }
        if start.elapsed() >= backoff.deadline {
            return Err(Error::OutcomeUnknown {
                hash: hex_hash(&hash),
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(wait.min(backoff.deadline.saturating_sub(start.elapsed()))).await;
        wait = (wait * 2).min(backoff.max);
    }
}

/// Sends a signed envelope directly (no relayer: the source pays its own fee) and waits for
/// its outcome. For operational accounts (funding channels, admin deploys).
///
/// # Errors
/// [`Error::Rejected`] when refused at submission, [`Error::TryAgainLater`], and the errors
/// of [`wait_for`].
pub async fn submit_envelope(
    rpc: &dyn Rpc,
    network: &crate::Network,
    envelope: &stellar_xdr::TransactionEnvelope,
    backoff: Backoff,
) -> Result<Landed> {
    let hash = crate::tx::envelope_hash(network, envelope)?;
    let mut wait = backoff.initial;
    for _ in 0..5 {
        let response = rpc.send(envelope).await?;
        match crate::rpc::SendStatus::from_response(&response)? {
            crate::rpc::SendStatus::Pending | crate::rpc::SendStatus::Duplicate => {
                return wait_for(rpc, hash, backoff).await
            }
            crate::rpc::SendStatus::TryAgainLater => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(backoff.max);
            }
            crate::rpc::SendStatus::Error(r) => {
                return Err(Error::Rejected {
                    hash: hex_hash(&hash),
                    code: r.map(|r| result_code(&r)).unwrap_or_else(|| "ERROR".into()),
                })
            }
        }
    }
    Err(Error::TryAgainLater {
        hash: hex_hash(&hash),
        attempts: 5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{
        Hash, InnerTransactionResult, InnerTransactionResultExt, InnerTransactionResultPair,
        TransactionResultExt,
    };

    fn result(r: TransactionResultResult) -> TransactionResult {
        TransactionResult {
            fee_charged: 100,
            result: r,
            ext: TransactionResultExt::V0,
        }
    }

    #[test]
    fn codes_read_like_stellar_core() {
        assert_eq!(
            result_code(&result(TransactionResultResult::TxBadSeq)),
            "txBAD_SEQ"
        );
        assert_eq!(
            result_code(&result(TransactionResultResult::TxInsufficientFee)),
            "txINSUFFICIENT_FEE"
        );
        let inner = result(TransactionResultResult::TxFeeBumpInnerFailed(
            InnerTransactionResultPair {
                transaction_hash: Hash([0; 32]),
                result: InnerTransactionResult {
                    fee_charged: 0,
                    result: InnerTransactionResultResult::TxBadSeq,
                    ext: InnerTransactionResultExt::V0,
                },
            },
        ));
        assert_eq!(result_code(&inner), "txFEE_BUMP_INNER_FAILED: txBAD_SEQ");
        assert_eq!(classify(&inner), Refused::BadSeq);
        assert_eq!(
            classify(&result(TransactionResultResult::TxInsufficientFee)),
            Refused::InsufficientFee
        );
        assert_eq!(
            classify(&result(TransactionResultResult::TxBadAuth)),
            Refused::Other
        );
    }
}
