//! MediMint SDK: the key and crypto half.
//!
//! - [`keys`]: BIP-39 mnemonics, SEP-0005 account keys (`m/44'/148'/i'`), [`keys::Keypair`].
//! - [`strkey`]: Stellar StrKey encoding of accounts (G), secrets (S), contracts (C) and muxed
//!   accounts (M).
//! - [`vault`]: where the platform's master mnemonic lives (env, file, AWS Secrets Manager) and
//!   custodial keys derived from it on demand.
//! - [`crypto`]: study keys, the chunked AES-256-GCM stream format, and study keys sealed to a
//!   Stellar address with HPKE.
//! - [`cid`]: CIDv1 content addresses of stored objects.
//!
//! The byte formats are specified in `docs/formats.md`; key handling in `docs/keys.md`.

pub mod cid;
pub mod crypto;
pub mod keys;
pub mod strkey;
pub mod vault;
