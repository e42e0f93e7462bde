//! The crate's one error type. Messages name what was wrong; none carries key material.

use std::time::Duration;

/// Everything that can go wrong between building a transaction and seeing it land.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A strkey (G… or C…) could not be parsed, or is of a kind not accepted here.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The text that was given (addresses are public, so echoing it is safe).
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// An argument to a builder was out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// XDR encoding or decoding failed.
    #[error("xdr: {0}")]
    Xdr(#[from] stellar_xdr::Error),
    /// The RPC server could not be reached or did not answer in time. The outcome of a
    /// request that was in flight is unknown.
    #[error("rpc unavailable: {0}")]
    RpcUnavailable(String),
    /// The RPC server answered with an error or with something we could not read.
    #[error("rpc error: {0}")]
    Rpc(String),
    /// Simulation reported an error (the contract would trap, or the call is malformed).
    #[error("simulation failed: {0}")]
    Simulation(String),
    /// The call needs the authorization of an address for which no signer was given.
    #[error("no signer for {0}, whose authorization the call requires")]
    MissingSigner(String),
    /// A Soroban credential kind this crate does not sign.
    #[error("unsupported authorization credentials: {0}")]
    UnsupportedCredentials(String),
    /// A signer refused or failed to sign.
    #[error("signer for {address} failed: {reason}")]
    Signing {
        /// Whose signer failed.
        address: String,
        /// What the signer reported.
        reason: String,
    },
    /// The network refused the transaction at submission (it was never applied and
    /// consumed no sequence number).
    #[error("transaction {hash} rejected at submission: {code}")]
    Rejected {
        /// Hex hash of the envelope that was sent.
        hash: String,
        /// The result code, e.g. `txBAD_SEQ`.
        code: String,
    },
    /// The transaction was applied but failed; its fee was charged.
    #[error("transaction {hash} failed on chain: {code}")]
    Failed {
        /// Hex hash of the envelope.
        hash: String,
        /// The result code, e.g. `txFAILED` with the operation's result.
        code: String,
    },
    /// The network kept answering TRY_AGAIN_LATER.
    #[error("network busy: TRY_AGAIN_LATER {attempts} times for transaction {hash}")]
    TryAgainLater {
        /// Hex hash of the envelope.
        hash: String,
        /// How many sends were tried.
        attempts: u32,
    },
    /// The transaction was sent but neither success nor failure could be observed in time.
    /// It may still land; retrying the same request key is safe.
    #[error(
        "outcome of transaction {hash} unknown after {waited:?}; retry with the same request key"
    )]
    OutcomeUnknown {
        /// Hex hash of the envelope.
        hash: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The relayer's policy refused the request.
    #[error("refused: {0}")]
    Refused(#[from] crate::relayer::Refusal),
    /// The relayer's store of request records or spend could not be read or written (or
    /// held something unreadable). Nothing was sent if this happened before sending.
    #[error("relayer store: {0}")]
    Store(String),
    /// A value returned by a contract did not have the expected type.
    #[error("decode: expected {expected}, got {got}")]
    Decode {
        /// The type that was expected.
        expected: &'static str,
        /// A short description of what was found.
        got: String,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether retrying the same request (with the same request key) later may succeed:
    /// the network was busy or unreachable, the outcome is unknown, a store could not be
    /// reached, the request is being submitted elsewhere, or the channels kept colliding.
    /// Contract errors, policy refusals, bad arguments and rejections a rebuild cannot fix
    /// are not: a queue should dead-letter those at once, with this error's message.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::RpcUnavailable(_)
            | Error::Rpc(_)
            | Error::TryAgainLater { .. }
            | Error::OutcomeUnknown { .. }
            | Error::Store(_)
            | Error::Refused(crate::relayer::Refusal::InFlight(_)) => true,
            Error::Rejected { code, .. } => {
                code.contains("txBAD_SEQ") || code.contains("txINSUFFICIENT_FEE")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_retry_can_fix_is_transient() {
        let rejected = |code: &str| Error::Rejected {
            hash: "ab".into(),
            code: code.into(),
        };
        assert!(rejected("txFEE_BUMP_INNER_FAILED: txBAD_SEQ").is_transient());
        assert!(!rejected("txBAD_AUTH").is_transient());
        assert!(Error::TryAgainLater {
            hash: "ab".into(),
            attempts: 5
        }
        .is_transient());
        assert!(Error::RpcUnavailable("down".into()).is_transient());
        assert!(!Error::Simulation("Error(Contract, #101)".into()).is_transient());
        assert!(!Error::Failed {
            hash: "ab".into(),
            code: "txFAILED".into()
        }
        .is_transient());
        assert!(Error::Refused(crate::relayer::Refusal::InFlight("k".into())).is_transient());
        assert!(!Error::Refused(crate::relayer::Refusal::KeyReused("k".into())).is_transient());
    }
}
