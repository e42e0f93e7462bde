//! The RPC boundary: the few Stellar RPC calls this crate makes, behind a trait so tests
//! can inject faults, and its implementation on SDF's `stellar-rpc-client`.

use std::time::Duration;

use async_trait::async_trait;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::params::ObjectParams;
use stellar_rpc_client::{
    Client, GetTransactionResponse, SendTransactionResponse, SimulateTransactionResponse,
};
use stellar_xdr::{Hash, Limits, ReadXdr, ScVal, TransactionEnvelope, TransactionResult, WriteXdr};

use crate::error::{Error, Result};

/// What `sendTransaction` said about a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum SendStatus {
    /// Accepted into the queue; poll for the outcome.
    Pending,
    /// Already known to the server (a resend of the same envelope); poll for the outcome.
    Duplicate,
    /// The server is saturated; the transaction was not accepted, send it again later.
    TryAgainLater,
    /// Refused at validation (it consumed nothing); the result says why.
    Error(Option<Box<TransactionResult>>),
}

impl SendStatus {
    /// Reads the JSON-RPC response.
    ///
    /// # Errors
    /// [`Error::Rpc`] for an unknown status or an unreadable error result.
    pub fn from_response(response: &SendTransactionResponse) -> Result<Self> {
        Ok(match response.status.as_str() {
            "PENDING" => Self::Pending,
            "DUPLICATE" => Self::Duplicate,
            "TRY_AGAIN_LATER" => Self::TryAgainLater,
            "ERROR" => Self::Error(
                response
                    .error_result_xdr
                    .as_deref()
                    .map(|x| TransactionResult::from_xdr_base64(x, Limits::depth(500)))
                    .transpose()
                    .map_err(|e| Error::Rpc(format!("unreadable errorResultXdr: {e}")))?
                    .map(Box::new),
            ),
            other => {
                return Err(Error::Rpc(format!(
                    "unknown sendTransaction status {other:?}"
                )))
            }
        })
    }
}

/// Where a page of [`Rpc::events`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsFrom {
    /// The first ledger to read (inside the server's retention window).
    Ledger(u32),
    /// Just after the event with this paging token (a page's `cursor`).
    Cursor(String),
}

/// One contract event as `getEvents` serves it, its topics and value decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct ContractEvent {
    /// The event's paging token (unique, in chain order).
    pub id: String,
    /// The ledger it was emitted in.
    pub ledger: u32,
    /// When that ledger closed (RFC 3339, as the server says it).
    pub ledger_closed_at: String,
    /// The emitting contract (`C…`).
    pub contract_id: String,
    /// The transaction's hash (hex), when the server gives it.
    pub tx_hash: Option<String>,
    /// Its topics.
    pub topics: Vec<ScVal>,
    /// Its data.
    pub value: ScVal,
}

/// A page of contract events.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPage {
    /// The events, in chain order.
    pub events: Vec<ContractEvent>,
    /// Where the next page starts (save it even after an empty page).
    pub cursor: String,
    /// The latest ledger the server has.
    pub latest_ledger: u32,
    /// The oldest ledger the server still keeps events for (its retention window).
    pub oldest_ledger: u32,
}

/// The Stellar RPC calls the chain layer needs.
#[async_trait]
pub trait Rpc: Send + Sync {
    /// The network passphrase (`getNetwork`).
    async fn network_passphrase(&self) -> Result<String>;
    /// The latest closed ledger (`getLatestLedger`).
    async fn latest_ledger(&self) -> Result<u32>;
    /// The account's current sequence number, `None` if it does not exist.
    async fn account_sequence(&self, address: &str) -> Result<Option<i64>>;
    /// `simulateTransaction` (auth recorded when the transaction carries none).
    async fn simulate(&self, tx: &TransactionEnvelope) -> Result<SimulateTransactionResponse>;
    /// `sendTransaction`, with its full status.
    async fn send(&self, tx: &TransactionEnvelope) -> Result<SendTransactionResponse>;
    /// `getTransaction` by hash (status SUCCESS, FAILED or NOT_FOUND).
    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse>;
    /// The inclusion fee per operation a classic transaction should bid now: the 90th
    /// percentile of recent ledgers' classic inclusion fees (`getFeeStats`), which is the
    /// network's base fee when nothing was surge-priced. `None` when the server does not say.
    async fn classic_inclusion_fee(&self) -> Result<Option<u32>> {
        Ok(None)
    }
    /// The close time of the latest ledger, Unix seconds: the clock the contracts judge
    /// expiry by (`getLedgers`' `latestLedgerCloseTime`).
    async fn latest_close_time(&self) -> Result<u64> {
        Err(Error::Rpc(
            "this RPC does not report ledger close times".into(),
        ))
    }
    /// Contract events of `contracts` (`getEvents`), at most `limit` from `from`.
    async fn events(
        &self,
        from: EventsFrom,
        contracts: &[String],
        limit: u32,
    ) -> Result<EventPage> {
        let _ = (from, contracts, limit);
        Err(Error::Rpc("this RPC does not serve getEvents".into()))
    }
}

/// [`Rpc`] over HTTP JSON-RPC with `stellar-rpc-client`.
#[derive(Clone, Debug)]
pub struct StellarRpc {
    client: Client,
    timeout: Duration,
}

impl StellarRpc {
    /// A client for the server at `url` (e.g. `http://127.0.0.1:8000/rpc`), each call
    /// bounded by `timeout`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unusable URL.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let client = Client::new(url)
            .map_err(|e| Error::InvalidArgument(format!("rpc url {url:?}: {e}")))?;
        Ok(Self { client, timeout })
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = std::result::Result<T, stellar_rpc_client::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map_err(map_error),
            Err(_) => Err(Error::RpcUnavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

/// Transport failures mean the server's state is unknown to us; anything else is an
/// answer we could not use.
fn map_error(e: stellar_rpc_client::Error) -> Error {
    match e {
        stellar_rpc_client::Error::JsonRpc(inner) => map_jsonrpc(inner),
        other => Error::Rpc(other.to_string()),
    }
}

fn map_jsonrpc(e: jsonrpsee_core::ClientError) -> Error {
    use jsonrpsee_core::ClientError as C;
    match e {
        C::Transport(_) | C::RequestTimeout | C::RestartNeeded(_) => {
            Error::RpcUnavailable(e.to_string())
        }
        other => Error::Rpc(other.to_string()),
    }
}

#[async_trait]
impl Rpc for StellarRpc {
    async fn network_passphrase(&self) -> Result<String> {
        Ok(self.bounded(self.client.get_network()).await?.passphrase)
    }

    async fn latest_ledger(&self) -> Result<u32> {
        Ok(self
            .bounded(self.client.get_latest_ledger())
            .await?
            .sequence)
    }

    async fn account_sequence(&self, address: &str) -> Result<Option<i64>> {
        let call = self.client.get_account(address);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(entry)) => Ok(Some(entry.seq_num.0)),
            Ok(Err(stellar_rpc_client::Error::NotFound(..))) => Ok(None),
            Ok(Err(e)) => Err(map_error(e)),
            Err(_) => Err(Error::RpcUnavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn simulate(&self, tx: &TransactionEnvelope) -> Result<SimulateTransactionResponse> {
        self.bounded(self.client.simulate_transaction_envelope(tx, None))
            .await
    }

    async fn send(&self, tx: &TransactionEnvelope) -> Result<SendTransactionResponse> {
        // The client's own send_transaction reports TRY_AGAIN_LATER and DUPLICATE as
        // success; the relayer must tell them apart, so read the raw response.
        let mut params = ObjectParams::new();
        params
            .insert("transaction", tx.to_xdr_base64(Limits::depth(500))?)
            .map_err(|e| Error::Rpc(e.to_string()))?;
        let call = self
            .client
            .client()
            .request::<SendTransactionResponse, _>("sendTransaction", params);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map_err(map_jsonrpc),
            Err(_) => Err(Error::RpcUnavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn transaction(&self, hash: &[u8; 32]) -> Result<GetTransactionResponse> {
        self.bounded(self.client.get_transaction(&Hash(*hash)))
            .await
    }

    async fn classic_inclusion_fee(&self) -> Result<Option<u32>> {
        let stats = self.bounded(self.client.get_fee_stats()).await?;
        Ok(stats.inclusion_fee.p90.parse().ok())
    }

    async fn latest_close_time(&self) -> Result<u64> {
        let latest = self.latest_ledger().await?;
        let page = self
            .bounded(self.client.get_ledgers(
                stellar_rpc_client::LedgerStart::Ledger(latest),
                Some(1),
                None,
            ))
            .await?;
        u64::try_from(page.latest_ledger_close_time)
            .map_err(|_| Error::Rpc("getLedgers: a negative latestLedgerCloseTime".into()))
    }

    async fn events(
        &self,
        from: EventsFrom,
        contracts: &[String],
        limit: u32,
    ) -> Result<EventPage> {
        let start = match from {
            EventsFrom::Ledger(l) => stellar_rpc_client::EventStart::Ledger(l),
            EventsFrom::Cursor(c) => stellar_rpc_client::EventStart::Cursor(c),
        };
        let page = self
            .bounded(self.client.get_events(
                start,
                Some(stellar_rpc_client::EventType::Contract),
                contracts,
                &[],
                Some(limit as usize),
            ))
            .await?;
        let mut events = Vec::with_capacity(page.events.len());
        for e in page.events {
            let topics = e
                .topic
                .iter()
                .map(|t| ScVal::from_xdr_base64(t, Limits::depth(100)))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| Error::Rpc(format!("event {}: unreadable topic: {err}", e.id)))?;
            let value = ScVal::from_xdr_base64(&e.value, Limits::depth(100))
                .map_err(|err| Error::Rpc(format!("event {}: unreadable value: {err}", e.id)))?;
            events.push(ContractEvent {
                id: e.id,
                ledger: e.ledger,
                ledger_closed_at: e.ledger_closed_at,
                contract_id: e.contract_id,
                tx_hash: e.tx_hash,
                topics,
                value,
            });
        }
        Ok(EventPage {
            events,
            cursor: page.cursor,
            latest_ledger: page.latest_ledger,
            oldest_ledger: page.oldest_ledger,
        })
    }
}
