//! SEP-10 v3 challenge transactions, built and verified on `stellar-xdr` and `ed25519-dalek`.
//!
//! No maintained Rust crate implements SEP-10, so this module does, following the rules of
//! the Stellar SDKs' `read_challenge_transaction` and
//! `verify_challenge_transaction_signed_by_client_master_key`; the crate's tests prove it
//! against the Python `stellar-sdk` in both directions.
//!
//! A challenge is a transaction that can never be submitted (sequence number 0) whose source
//! is the server's `SIGNING_KEY`, with time bounds of [`crate::config::Lifetimes::challenge`],
//! a `manage_data` operation sourced by the client account named `<home_domain> auth` holding
//! a 48-byte random nonce in base64 (64 bytes), and a `manage_data` operation sourced by the
//! server named `web_auth_domain` holding the host of the auth endpoint. The server signs it;
//! the client signs it with the account's master key and posts it back. Verification is
//! stateless (any instance accepts a challenge any instance built); the caller keeps the
//! replay store.

use base64::Engine;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use medimint_chain::tx::{sign_tx, tx_hash};
use medimint_chain::Network;
use stellar_xdr::{
    DataValue, DecoratedSignature, Limits, ManageDataOp, Memo, MuxedAccount, Operation,
    OperationBody, Preconditions, ReadXdr, SequenceNumber, String64, TimeBounds, TimePoint,
    Transaction, TransactionEnvelope, TransactionExt, Uint256, WriteXdr,
};

use crate::error::ApiError;

/// The largest challenge accepted back, in base64 characters (ours are about 500).
pub const MAX_CHALLENGE_LEN: usize = 8 * 1024;
/// How far before a challenge's `min_time` a clock may be (as the SDKs allow).
pub const GRACE_SECONDS: u64 = 5 * 60;

/// What a challenge is checked against.
#[derive(Clone, Debug)]
pub struct Sep10Params<'a> {
    /// The network the signatures commit to.
    pub network: &'a Network,
    /// `<home_domain> auth` is the first operation's name.
    pub home_domain: &'a str,
    /// The value of the `web_auth_domain` operation.
    pub web_auth_domain: &'a str,
}

/// A challenge verified and signed by its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The client's `G…` account.
    pub account: String,
    /// The transaction hash (hex): the replay-store key and the token's `jti`.
    pub tx_hash: String,
    /// The end of the challenge's time bounds.
    pub max_time: u64,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn account_key(address: &str) -> Result<[u8; 32], ApiError> {
    if address.starts_with('S') {
        return Err(ApiError::invalid(
            "account",
            "this looks like a secret seed: never send it; send the account's G… address",
        ));
    }
    match stellar_strkey::Strkey::from_string(address) {
        Ok(stellar_strkey::Strkey::PublicKeyEd25519(pk)) => Ok(pk.0),
        Ok(stellar_strkey::Strkey::MuxedAccountEd25519(_)) => Err(ApiError::invalid(
            "account",
            "muxed (M…) accounts are not supported; send the G… address",
        )),
        _ => Err(ApiError::invalid(
            "account",
            "expected a Stellar account address (G…, 56 characters)",
        )),
    }
}

fn address(key: &[u8; 32]) -> String {
    stellar_strkey::ed25519::PublicKey(*key).to_string()
}

fn manage_data(source: [u8; 32], name: &str, value: &[u8]) -> Result<Operation, ApiError> {
    let data_name = String64(
        name.try_into()
            .map_err(|_| ApiError::invalid("home_domain", "longer than 59 bytes"))?,
    );
    let value = DataValue(
        value
            .to_vec()
            .try_into()
            .map_err(|_| ApiError::invalid("web_auth_domain", "longer than 64 bytes"))?,
    );
    Ok(Operation {
        source_account: Some(MuxedAccount::Ed25519(Uint256(source))),
        body: OperationBody::ManageData(ManageDataOp {
            data_name,
            data_value: Some(value),
        }),
    })
}

/// Builds a challenge for `account`, signed by `server`, valid from `now` for `lifetime`
/// seconds; returns the envelope in base64.
///
/// # Errors
/// [`ApiError::Invalid`] naming `account` if it is not a `G…` address.
pub fn build_challenge(
    server: &SigningKey,
    params: &Sep10Params<'_>,
    account: &str,
    now: u64,
    lifetime: u64,
    nonce: [u8; 48],
) -> Result<String, ApiError> {
    let client = account_key(account)?;
    let server_key = server.verifying_key().to_bytes();
    let nonce_b64 = b64().encode(nonce);
    let operations = vec![
        manage_data(
            client,
            &format!("{} auth", params.home_domain),
            nonce_b64.as_bytes(),
        )?,
        manage_data(
            server_key,
            "web_auth_domain",
            params.web_auth_domain.as_bytes(),
        )?,
    ];
    let tx = Transaction {
        source_account: MuxedAccount::Ed25519(Uint256(server_key)),
        fee: 100 * operations.len() as u32,
        seq_num: SequenceNumber(0),
        cond: Preconditions::Time(TimeBounds {
            min_time: TimePoint(now),
            max_time: TimePoint(now + lifetime),
        }),
        memo: Memo::None,
        operations: operations.try_into().expect("two operations fit"),
        ext: TransactionExt::V0,
    };
    let envelope = sign_tx(params.network, tx, &[server as &dyn medimint_chain::Signer])
        .map_err(|e| ApiError::Internal(e.into()))?;
    envelope
        .to_xdr_base64(Limits::none())
        .map_err(|e| ApiError::Internal(e.into()))
}

fn invalid(reason: impl Into<String>) -> ApiError {
    ApiError::ChallengeInvalid(reason.into())
}

fn signed_by(sig: &DecoratedSignature, key: &[u8; 32], hash: &[u8; 32]) -> bool {
    if sig.hint.0 != key[28..32] {
        return false;
    }
    let Ok(vk) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(sig.signature.0.as_slice()) else {
        return false;
    };
    vk.verify_strict(hash, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// Verifies a client-signed challenge: built by `server` for these parameters, within its
/// time bounds at `now`, and signed by exactly the server and the client account's master
/// key. Does not check replays (see [`crate::store::AuthStore::consume_challenge`]).
///
/// # Errors
/// [`ApiError::ChallengeInvalid`] (malformed, another network, home domain or server),
/// [`ApiError::ChallengeExpired`], [`ApiError::ChallengeUnsigned`].
pub fn verify_challenge(
    transaction: &str,
    server: &VerifyingKey,
    params: &Sep10Params<'_>,
    now: u64,
) -> Result<Verified, ApiError> {
    if transaction.len() > MAX_CHALLENGE_LEN {
        return Err(ApiError::invalid(
            "transaction",
            format!("longer than {MAX_CHALLENGE_LEN} characters; send the challenge GET /auth returned, signed"),
        ));
    }
    let envelope = TransactionEnvelope::from_xdr_base64(
        transaction,
        Limits {
            depth: 100,
            len: MAX_CHALLENGE_LEN,
        },
    )
    .map_err(|_| {
        ApiError::invalid(
            "transaction",
            "not a base64 XDR transaction envelope; send the challenge GET /auth returned, signed",
        )
    })?;
    let TransactionEnvelope::Tx(env) = envelope else {
        return Err(invalid(
            "a challenge is a v1 transaction envelope, not a fee bump or v0 envelope",
        ));
    };
    let tx = &env.tx;
    let server_key = server.to_bytes();
    match &tx.source_account {
        MuxedAccount::Ed25519(Uint256(k)) if *k == server_key => {}
        _ => {
            return Err(invalid(
                "the transaction's source is not this server's SIGNING_KEY",
            ))
        }
    }
    if tx.seq_num.0 != 0 {
        return Err(invalid("a challenge has sequence number 0"));
    }
    let bounds = match &tx.cond {
        Preconditions::Time(tb) => tb.clone(),
        Preconditions::V2(v2) => v2
            .time_bounds
            .clone()
            .ok_or_else(|| invalid("the challenge has no time bounds"))?,
        Preconditions::None => return Err(invalid("the challenge has no time bounds")),
    };
    if bounds.max_time.0 == 0 {
        return Err(invalid("the challenge's time bounds have no end"));
    }
    if !matches!(tx.memo, Memo::None) {
        return Err(invalid("memos are not supported in challenges here"));
    }
    let mut ops = tx.operations.iter();
    let first = ops
        .next()
        .ok_or_else(|| invalid("the challenge has no operations"))?;
    let OperationBody::ManageData(first_data) = &first.body else {
        return Err(invalid("every challenge operation is manage_data"));
    };
    let client = match &first.source_account {
        Some(MuxedAccount::Ed25519(Uint256(k))) => *k,
        Some(MuxedAccount::MuxedEd25519(_)) => {
            return Err(invalid("muxed client accounts are not supported"))
        }
        None => return Err(invalid("the first operation has no source account")),
    };
    if client == server_key {
        return Err(invalid("the client account is the server's own key"));
    }
    let expected_name = format!("{} auth", params.home_domain);
    if first_data.data_name.0.as_slice() != expected_name.as_bytes() {
        return Err(invalid(format!(
            "the challenge is for another home domain; this server's is `{}`",
            params.home_domain
        )));
    }
    let nonce = first_data
        .data_value
        .as_ref()
        .map(|v| v.0.as_slice())
        .unwrap_or_default();
    if nonce.len() != 64 || b64().decode(nonce).map(|n| n.len()) != Ok(48) {
        return Err(invalid("the nonce is not 48 random bytes in base64"));
    }
    for op in ops {
        let OperationBody::ManageData(data) = &op.body else {
            return Err(invalid("every challenge operation is manage_data"));
        };
        match &op.source_account {
            Some(MuxedAccount::Ed25519(Uint256(k))) if *k == server_key => {}
            _ => {
                return Err(invalid(
                    "only the first operation may have the client as source (client_domain is not supported)",
                ))
            }
        }
        if data.data_name.0.as_slice() == b"web_auth_domain" {
            let value = data.data_value.as_ref().map(|v| v.0.as_slice());
            if value != Some(params.web_auth_domain.as_bytes()) {
                return Err(invalid(format!(
                    "web_auth_domain is not `{}`",
                    params.web_auth_domain
                )));
            }
        }
    }
    let hash = tx_hash(params.network, tx).map_err(|e| ApiError::Internal(e.into()))?;
    let mut used = vec![false; env.signatures.len()];
    let server_sig = env
        .signatures
        .iter()
        .position(|s| signed_by(s, &server_key, &hash));
    let Some(server_sig) = server_sig else {
        return Err(invalid(format!(
            "not signed by this server's SIGNING_KEY {} for the network `{}`: the challenge was built for another network or server, or altered",
            address(&server_key),
            params.network.passphrase()
        )));
    };
    used[server_sig] = true;
    if now + GRACE_SECONDS < bounds.min_time.0 {
        return Err(invalid(
            "the challenge's time bounds start in the future; check the clock",
        ));
    }
    if now > bounds.max_time.0 {
        return Err(ApiError::ChallengeExpired);
    }
    let client_sig = env
        .signatures
        .iter()
        .enumerate()
        .position(|(i, s)| !used[i] && signed_by(s, &client, &hash));
    let Some(client_sig) = client_sig else {
        return Err(ApiError::ChallengeUnsigned(format!(
            "not signed by the master key of {}; sign the challenge with that account's key for the network `{}`",
            address(&client),
            params.network.passphrase()
        )));
    };
    used[client_sig] = true;
    if used.iter().any(|u| !u) {
        return Err(ApiError::ChallengeUnsigned(
            "the challenge carries signatures of neither the server nor the account".into(),
        ));
    }
    Ok(Verified {
        account: address(&client),
        tx_hash: hex::encode(hash),
        max_time: bounds.max_time.0,
    })
}

/// Adds the client's signature to a challenge (what a wallet does; used by tests and tools).
///
/// # Errors
/// [`ApiError::ChallengeInvalid`] if `transaction` is not a v1 envelope.
pub fn sign_challenge(
    transaction: &str,
    client: &SigningKey,
    network: &Network,
) -> Result<String, ApiError> {
    let envelope = TransactionEnvelope::from_xdr_base64(transaction, Limits::none())
        .map_err(|_| invalid("not a transaction envelope"))?;
    let TransactionEnvelope::Tx(mut env) = envelope else {
        return Err(invalid("not a v1 envelope"));
    };
    let hash = tx_hash(network, &env.tx).map_err(|e| ApiError::Internal(e.into()))?;
    let sig = medimint_chain::tx::decorated_signature(client, &hash)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let mut sigs = env.signatures.to_vec();
    sigs.push(sig);
    env.signatures = sigs
        .try_into()
        .map_err(|_| invalid("too many signatures"))?;
    TransactionEnvelope::Tx(env)
        .to_xdr_base64(Limits::none())
        .map_err(|e| ApiError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    fn params(network: &Network) -> Sep10Params<'_> {
        Sep10Params {
            network,
            home_domain: "api.example.org",
            web_auth_domain: "api.example.org",
        }
    }

    #[test]
    fn a_challenge_signed_by_its_client_verifies() {
        let net = Network::new(Network::TESTNET);
        let (server, client) = (key(1), key(2));
        let client_addr = address(&client.verifying_key().to_bytes());
        let tx = build_challenge(&server, &params(&net), &client_addr, 1000, 900, [7; 48]).unwrap();
        let signed = sign_challenge(&tx, &client, &net).unwrap();
        let v = verify_challenge(&signed, &server.verifying_key(), &params(&net), 1500).unwrap();
        assert_eq!(v.account, client_addr);
        assert_eq!(v.max_time, 1900);
    }

    #[test]
    fn an_unsigned_or_late_or_foreign_challenge_is_refused() {
        let net = Network::new(Network::TESTNET);
        let (server, client) = (key(1), key(2));
        let client_addr = address(&client.verifying_key().to_bytes());
        let tx = build_challenge(&server, &params(&net), &client_addr, 1000, 900, [7; 48]).unwrap();
        assert!(matches!(
            verify_challenge(&tx, &server.verifying_key(), &params(&net), 1001),
            Err(ApiError::ChallengeUnsigned(_))
        ));
        let signed = sign_challenge(&tx, &client, &net).unwrap();
        assert!(matches!(
            verify_challenge(&signed, &server.verifying_key(), &params(&net), 1901),
            Err(ApiError::ChallengeExpired)
        ));
        let other = Network::new(Network::MAINNET);
        let err =
            verify_challenge(&signed, &server.verifying_key(), &params(&other), 1001).unwrap_err();
        assert!(err.to_string().contains("network"), "{err}");
        let mut p = params(&net);
        p.home_domain = "evil.example";
        let err = verify_challenge(&signed, &server.verifying_key(), &p, 1001).unwrap_err();
        assert!(err.to_string().contains("home domain"), "{err}");
        let extra = sign_challenge(&signed, &key(3), &net).unwrap();
        assert!(matches!(
            verify_challenge(&extra, &server.verifying_key(), &params(&net), 1001),
            Err(ApiError::ChallengeUnsigned(_))
        ));
    }

    #[test]
    fn garbage_is_an_invalid_transaction_field() {
        let net = Network::new(Network::TESTNET);
        let err =
            verify_challenge("AAAA!!", &key(1).verifying_key(), &params(&net), 0).unwrap_err();
        assert!(matches!(err, ApiError::Invalid { ref field, .. } if field == "transaction"));
    }
}
