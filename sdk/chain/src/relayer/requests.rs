//! Idempotent submission: a request key maps to exactly one transaction. The record is
//! written before the transaction is sent, so a retry after a timeout finds the hash and
//! looks it up instead of paying for a second transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use stellar_xdr::TransactionEnvelope;

/// What is remembered about a request key.
#[derive(Clone, Debug)]
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

/// Where request records live. In memory here; the API backs it with its database.
pub trait RequestStore: Send + Sync {
    /// The record for `key`, if any.
    fn get(&self, key: &str) -> Option<RequestRecord>;
    /// Stores (or replaces) the record for `key`.
    fn put(&self, key: &str, record: RequestRecord);
}

/// A [`RequestStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryRequestStore {
    records: Mutex<HashMap<String, RequestRecord>>,
}

impl RequestStore for MemoryRequestStore {
    fn get(&self, key: &str) -> Option<RequestRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn put(&self, key: &str, record: RequestRecord) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), record);
    }
}
