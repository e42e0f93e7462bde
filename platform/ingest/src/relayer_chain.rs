//! The production [`Chain`] of the ingest pipeline: the issuer registry and the study
//! token through the fee-sponsoring relayer. Custodial keys (patients, and issuers whose
//! keys the platform holds) are derived from the platform seed on demand and dropped
//! (zeroized) after use.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Chain, IngestError, IssuerStatus, Proposal};
use async_trait::async_trait;
use medimint_chain::clients::{IssuerRegistry, Release, StudyToken};
use medimint_chain::scval::arg;
use medimint_chain::{Relayer, Rpc};
use medimint_sdk::keys::{derive_keypair, Keypair, Seed};
use medimint_storage::AppDb;
use stellar_xdr::ScVal;

/// The chain through the relayer, over the suite at `issuer_registry` / `study_token`.
pub struct RelayerChain {
    relayer: Arc<Relayer>,
    rpc: Arc<dyn Rpc>,
    seed: Arc<Seed>,
    issuer_registry: String,
    study_token: String,
    /// Custodial issuers: address → HD index under the platform seed.
    issuers: HashMap<String, u32>,
    /// Where custodial issuers not in `issuers` are looked up (the application database).
    accounts: Option<Arc<dyn AppDb>>,
}

fn transient(step: &'static str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Transient {
        step,
        message: e.to_string(),
    }
}

impl RelayerChain {
    /// The adapter over a relayer (whose policy allows the suite's functions).
    pub fn new(
        relayer: Arc<Relayer>,
        rpc: Arc<dyn Rpc>,
        seed: Arc<Seed>,
        issuer_registry: impl Into<String>,
        study_token: impl Into<String>,
    ) -> Self {
        Self {
            relayer,
            rpc,
            seed,
            issuer_registry: issuer_registry.into(),
            study_token: study_token.into(),
            issuers: HashMap::new(),
            accounts: None,
        }
    }

    /// Registers a custodial issuer key (HD index `index` of the platform seed); returns
    /// its address.
    ///
    /// # Errors
    /// An index out of range (≥ 2^31).
    pub fn with_custodial_issuer(mut self, index: u32) -> Result<(Self, String), IngestError> {
        let address = self.keypair(index)?.address();
        self.issuers.insert(address.clone(), index);
        Ok((self, address))
    }

    /// Looks up custodial issuers' HD indexes in the application database (accounts with a
    /// custodial key), for issuers not registered with [`Self::with_custodial_issuer`].
    #[must_use]
    pub fn with_accounts(mut self, db: Arc<dyn AppDb>) -> Self {
        self.accounts = Some(db);
        self
    }

    /// The HD index of a custodial issuer's key.
    async fn issuer_index(&self, issuer: &str) -> Result<u32, IngestError> {
        if let Some(i) = self.issuers.get(issuer) {
            return Ok(*i);
        }
        if let Some(db) = &self.accounts {
            let account = db
                .account_by_address(issuer)
                .await
                .map_err(|e| transient("looking up the issuer's key", e))?;
            if let Some(i) = account.and_then(|a| a.hd_index) {
                return Ok(i);
            }
        }
        Err(transient(
            "proposing the release",
            format!("no custodial key for issuer {issuer}"),
        ))
    }

    /// The custodial keypair at `index` (derived now; zeroized when dropped).
    pub fn keypair(&self, index: u32) -> Result<Keypair, IngestError> {
        derive_keypair(&self.seed, index).map_err(|e| transient("deriving a custodial key", e))
    }

    fn token(&self) -> StudyToken<'_> {
        StudyToken::new(&self.relayer, self.study_token.clone())
    }
}

fn parse_root(hex_root: &str) -> Result<[u8; 32], IngestError> {
    let bytes = hex::decode(hex_root).map_err(|e| transient("reading the checksum root", e))?;
    bytes
        .try_into()
        .map_err(|_| transient("reading the checksum root", "not 32 bytes"))
}

/// The `status` field of an `Issuer` struct, as its variant name.
fn issuer_status_name(v: &ScVal) -> Option<String> {
    let ScVal::Map(Some(map)) = v else {
        return None;
    };
    map.iter()
        .find(|e| matches!(&e.key, ScVal::Symbol(s) if s.0.as_slice() == b"status"))
        .and_then(|e| medimint_chain::clients::variant_name(&e.val).ok())
}

#[async_trait]
impl Chain for RelayerChain {
    async fn issuer_status(&self, issuer: &str) -> Result<IssuerStatus, IngestError> {
        let registry = IssuerRegistry::new(&self.relayer, self.issuer_registry.clone());
        if registry
            .is_trusted(issuer)
            .await
            .map_err(|e| transient("checking the issuer", e))?
        {
            return Ok(IssuerStatus::Trusted);
        }
        let address = arg::address(issuer).map_err(|e| transient("checking the issuer", e))?;
        match self
            .relayer
            .read(&self.issuer_registry, "issuer", vec![address])
            .await
        {
            Ok(v) if issuer_status_name(&v).as_deref() == Some("Suspended") => {
                Ok(IssuerStatus::Suspended)
            }
            // Present but not trusted and not suspended cannot happen; treat as unknown.
            Ok(_) => Ok(IssuerStatus::Unknown),
            // IssuerNotFound (#101).
            Err(medimint_chain::Error::Simulation(m)) if m.contains("#101") => {
                Ok(IssuerStatus::Unknown)
            }
            Err(e) => Err(transient("checking the issuer", e)),
        }
    }

    async fn ensure_patient_account(&self, hd_index: u32) -> Result<String, IngestError> {
        let keypair = self.keypair(hd_index)?;
        let address = keypair.address();
        let exists = self
            .rpc
            .account_sequence(&address)
            .await
            .map_err(|e| transient("looking up the patient's account", e))?
            .is_some();
        if !exists {
            self.relayer
                .create_sponsored_account(&format!("account/{address}"), keypair.signing_key())
                .await
                .map_err(|e| transient("creating the patient's account", e))?;
        }
        Ok(address)
    }

    async fn token_by_root(&self, checksum_root: &str) -> Result<Option<String>, IngestError> {
        let root = parse_root(checksum_root)?;
        Ok(self
            .token()
            .token_of_root(&root)
            .await
            .map_err(|e| transient("looking up the token by checksum root", e))?
            .map(|id| id.to_string()))
    }

    async fn propose_release(&self, proposal: &Proposal) -> Result<String, IngestError> {
        let index = self.issuer_index(&proposal.issuer).await?;
        let issuer = self.keypair(index)?;
        let release = Release {
            metadata_uri: proposal.metadata_uri.clone(),
            checksum_root: parse_root(&proposal.checksum_root)?,
            file_count: proposal.file_count,
            request_id: None,
        };
        let (id, _) = self
            .token()
            .propose_release(
                &format!("propose/{}", proposal.checksum_root),
                issuer.signing_key(),
                &proposal.patient,
                &release,
            )
            .await
            .map_err(|e| transient("proposing the release", e))?;
        Ok(id.to_string())
    }
}
