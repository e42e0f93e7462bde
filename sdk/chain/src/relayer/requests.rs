//! Idempotent submission: a request key maps to exactly one transaction. The record is
//! written before the transaction is sent, so a retry after a timeout (in this process or
//! another one sharing the store) finds the hash and looks it up instead of paying for a
//! second transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use stellar_xdr::{Limits, ReadXdr, TransactionEnvelope, WriteXdr};

use crate::error::{Error, Result};

/// What is remembered about a request key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Fingerprint of the request (user and host function), so a key cannot be reused for
    /// a different request.
    pub fingerprint: [u8; 32],
    /// Hash of the last envelope sent for it.
    pub hash: [u8; 32],
    /// That envelope, fully signed, so it can be resent unchanged (a resend can never land
    /// twice: it carries the same sequence number).
    pub envelope: TransactionEnvelope,
    /// Unix time after which that envelope can no longer be included.
    pub max_time: u64,
    /// The channel account that is its source.
    pub channel: String,
}

/// Tag of the text form; a store holding another version is refused, not misread.
const TEXT_VERSION: &str = "medimint-relay-request/1";

impl RequestRecord {
    /// The record as one line of text for a database: version, fingerprint and hash in
    /// hex, time bound, channel, envelope as base64 XDR. Holds no secret (the envelope is
    /// public once sent) and no PHI.
    ///
    /// # Errors
    /// [`Error::Xdr`] if the envelope cannot be encoded.
    pub fn to_text(&self) -> Result<String> {
        Ok(format!(
            "{TEXT_VERSION} {} {} {} {} {}",
            hex::encode(self.fingerprint),
            hex::encode(self.hash),
            self.max_time,
            self.channel,
            self.envelope.to_xdr_base64(Limits::none())?
        ))
    }

    /// Reads [`RequestRecord::to_text`]'s form.
    ///
    /// # Errors
    /// [`Error::Store`] naming the field that is missing or malformed.
    pub fn from_text(text: &str) -> Result<Self> {
        let bad = |what: &str| Error::Store(format!("request record: {what}"));
        let mut fields = text.split(' ');
        let mut next = |what: &str| fields.next().ok_or_else(|| bad(&format!("no {what}")));
        let version = next("version")?;
        if version != TEXT_VERSION {
            return Err(bad(&format!("unknown version {version:?}")));
        }
        let digest = |s: &str, what: &str| -> Result<[u8; 32]> {
            let bytes = hex::decode(s).map_err(|_| bad(&format!("{what} is not hex")))?;
            bytes
                .try_into()
                .map_err(|_| bad(&format!("{what} is not 32 bytes")))
        };
        let fingerprint = digest(next("fingerprint")?, "fingerprint")?;
        let hash = digest(next("hash")?, "hash")?;
        let max_time = next("time bound")?
            .parse()
            .map_err(|_| bad("time bound is not a number"))?;
        let channel = next("channel")?.to_string();
        let envelope = TransactionEnvelope::from_xdr_base64(next("envelope")?, Limits::none())
            .map_err(|e| bad(&format!("envelope: {e}")))?;
        Ok(Self {
            fingerprint,
            hash,
            envelope,
            max_time,
            channel,
        })
    }
}

/// Where request records live: [`MemoryRequestStore`] for one process; a database
/// (`medimint_storage::RelayerDb`) when several processes or Lambda invocations relay for
/// the same channels.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// The record for `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<RequestRecord>>;
    /// Stores (or replaces) the record for `key`.
    async fn put(&self, key: &str, record: &RequestRecord) -> Result<()>;
}

/// A [`RequestStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryRequestStore {
    records: Mutex<HashMap<String, RequestRecord>>,
}

#[async_trait]
impl RequestStore for MemoryRequestStore {
    async fn get(&self, key: &str) -> Result<Option<RequestRecord>> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    async fn put(&self, key: &str, record: &RequestRecord) -> Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), record.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{
        FeeBumpTransaction, FeeBumpTransactionEnvelope, FeeBumpTransactionExt,
        FeeBumpTransactionInnerTx, MuxedAccount, Transaction, TransactionV1Envelope, Uint256,
    };

    fn record() -> RequestRecord {
        let tx: Transaction = Transaction {
            source_account: MuxedAccount::Ed25519(Uint256([4; 32])),
            fee: 100,
            seq_num: stellar_xdr::SequenceNumber(42),
            cond: stellar_xdr::Preconditions::None,
            memo: stellar_xdr::Memo::None,
            operations: Default::default(),
            ext: stellar_xdr::TransactionExt::V0,
        };
        let envelope = TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
            tx: FeeBumpTransaction {
                fee_source: MuxedAccount::Ed25519(Uint256([5; 32])),
                fee: 300,
                inner_tx: FeeBumpTransactionInnerTx::Tx(TransactionV1Envelope {
                    tx,
                    signatures: Default::default(),
                }),
                ext: FeeBumpTransactionExt::V0,
            },
            signatures: Default::default(),
        });
        RequestRecord {
            fingerprint: [1; 32],
            hash: [2; 32],
            envelope,
            max_time: 1_800_000_000,
            channel: "GCHANNEL".into(),
        }
    }

    #[test]
    fn records_round_trip_through_their_text_form() {
        let r = record();
        let text = r.to_text().unwrap();
        assert!(text.starts_with("medimint-relay-request/1 0101"));
        assert_eq!(RequestRecord::from_text(&text).unwrap(), r);
    }

    #[test]
    fn a_damaged_text_form_names_what_is_wrong() {
        let text = record().to_text().unwrap();
        let cases = [
            (text.replace("request/1", "request/9"), "unknown version"),
            (text.replacen("0101", "zz01", 1), "fingerprint is not hex"),
            (text.replacen(" 0202", " 02", 1), "hash is not 32 bytes"),
            (text.replace(" 1800000000 ", " soon "), "time bound"),
            (text.rsplit_once(' ').unwrap().0.to_string(), "no envelope"),
            (format!("{text}x"), "envelope"),
        ];
        for (damaged, want) in cases {
            let err = RequestRecord::from_text(&damaged).unwrap_err().to_string();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
    }

    #[tokio::test]
    async fn the_memory_store_replaces_a_record() {
        let store = MemoryRequestStore::default();
        assert_eq!(store.get("k").await.unwrap(), None);
        let mut r = record();
        store.put("k", &r).await.unwrap();
        r.hash = [9; 32];
        store.put("k", &r).await.unwrap();
        assert_eq!(store.get("k").await.unwrap().unwrap().hash, [9; 32]);
    }
}
