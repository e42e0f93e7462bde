//! The contract reads the indexer needs besides events: a new token's release (its metadata
//! CID and file count are not in the events), and the whole state for a rebuild.

use std::sync::Arc;

use async_trait::async_trait;
use medimint_chain::clients::{
    contract_error, GrantRecord, IssuerRecord, IssuerRegistry, StudyToken, TokenRecord,
    ISSUERS_PAGE,
};
use medimint_chain::{Error, Relayer};

/// Reads of the suite's contracts (simulations; nothing is sent).
#[async_trait]
pub trait ChainReads: Send + Sync {
    /// The token, `None` if it does not exist.
    async fn token(&self, id: u32) -> Result<Option<TokenRecord>, Error>;
    /// Every stored grant of a token.
    async fn grants(&self, id: u32) -> Result<Vec<GrantRecord>, Error>;
    /// Every issuer of the registry.
    async fn issuers(&self) -> Result<Vec<IssuerRecord>, Error>;
    /// One issuer, `None` if it is not registered.
    async fn issuer(&self, address: &str) -> Result<Option<IssuerRecord>, Error>;
}

/// [`ChainReads`] through the relayer's simulations.
pub struct SuiteReads {
    relayer: Arc<Relayer>,
    study_token: String,
    issuer_registry: String,
}

impl SuiteReads {
    /// Reads of the suite whose contracts are `study_token` and `issuer_registry`.
    pub fn new(relayer: Arc<Relayer>, study_token: String, issuer_registry: String) -> Self {
        Self {
            relayer,
            study_token,
            issuer_registry,
        }
    }
}

/// A contract's "not found" refusal as `None`.
fn absent<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match contract_error(&e) {
            Some((_, "TokenNotFound" | "IssuerNotFound")) => Ok(None),
            _ => Err(e),
        },
    }
}

#[async_trait]
impl ChainReads for SuiteReads {
    async fn token(&self, id: u32) -> Result<Option<TokenRecord>, Error> {
        absent(
            StudyToken::new(&self.relayer, self.study_token.clone())
                .token(id)
                .await,
        )
    }

    async fn grants(&self, id: u32) -> Result<Vec<GrantRecord>, Error> {
        let client = StudyToken::new(&self.relayer, self.study_token.clone());
        let mut out = Vec::new();
        loop {
            let start = u32::try_from(out.len()).unwrap_or(u32::MAX);
            let page = client.grants(id, start, 50).await?;
            let n = page.len();
            out.extend(page);
            if n < ISSUERS_PAGE as usize {
                return Ok(out);
            }
        }
    }

    async fn issuers(&self) -> Result<Vec<IssuerRecord>, Error> {
        let client = IssuerRegistry::new(&self.relayer, self.issuer_registry.clone());
        let mut out = Vec::new();
        loop {
            let start = u32::try_from(out.len()).unwrap_or(u32::MAX);
            let page = client.issuers(start, ISSUERS_PAGE).await?;
            let n = page.len();
            out.extend(page);
            if n < ISSUERS_PAGE as usize {
                return Ok(out);
            }
        }
    }

    async fn issuer(&self, address: &str) -> Result<Option<IssuerRecord>, Error> {
        absent(
            IssuerRegistry::new(&self.relayer, self.issuer_registry.clone())
                .issuer(address)
                .await,
        )
    }
}
