//! MediMint SDK: what the ingest function, the API and the CLI share.
//!
//! - [`allocator`]: glibc malloc's settings for a process that streams studies.
//! - [`keys`]: BIP-39 mnemonics, SEP-0005 account keys (`m/44'/148'/i'`), [`keys::Keypair`].
//! - [`strkey`]: Stellar StrKey encoding of accounts (G), secrets (S), contracts (C) and muxed
//!   accounts (M).
//! - [`vault`]: where the platform's master mnemonic lives (env, file, AWS Secrets Manager) and
//!   custodial keys derived from it on demand.
//! - [`crypto`]: study keys, the chunked AES-256-GCM stream format, and study keys sealed to a
//!   Stellar address with HPKE.
//! - [`cid`]: CIDv1 content addresses of stored objects.
//! - [`unixfs`]: content of any size behind one CID (a UnixFS file DAG of one-block leaves).
//! - [`chain`]: Stellar transactions, the RPC client, contract clients, the relayer.
//! - [`operators`]: the sponsor and channel accounts derived from the seed, and the relayer
//!   over them.
//! - [`storage`]: object storage and the application database, with their adapters.
//!
//! The byte formats are specified in `docs/formats.md`; key handling in `docs/keys.md`.

pub mod allocator;
pub mod cid;
pub mod crypto;
pub mod keys;
pub mod operators;
pub mod strkey;
pub mod unixfs;
pub mod vault;

pub use medimint_chain as chain;
pub use medimint_storage as storage;

/// Custodial keys sign transactions and authorization entries through the relayer.
impl chain::Signer for keys::Keypair {
    fn public_key(&self) -> [u8; 32] {
        keys::Keypair::public_key(self)
    }

    fn sign(&self, payload: &[u8]) -> chain::Result<[u8; 64]> {
        Ok(keys::Keypair::sign(self, payload))
    }
}
