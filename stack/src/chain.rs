//! The production [`Chain`] of the ingest pipeline: the issuer registry and the study
//! token through the fee-sponsoring relayer. Custodial keys (patients, and issuers whose
//! keys the platform holds) are derived from the platform seed on demand and dropped
//! (zeroized) after use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use medimint_chain::clients::{IssuerRegistry, Release, StudyToken};
use medimint_chain::scval::arg;
use medimint_chain::{Relayer, Rpc};
use medimint_ingest::{Chain, IngestError, IssuerStatus, Proposal};
use medimint_sdk::keys::{derive_keypair, Keypair, Seed};
use stellar_xdr::ScVal;

/// The chain through the relayer, over the suite at `issuer_registry` / `study_token`.
pub struct StackChain {
    relayer: Arc<Relayer>,
    rpc: Arc<dyn Rpc>,
    seed: Arc<Seed>,
    issuer_registry: String,
    study_token: String,
    /// Custodial issuers: address → HD index under the platform seed.
    issuers: HashMap<String, u32>,
    /// File counts of releases about to be proposed, by hex checksum root (the pipeline's
    /// `Proposal` carries no file count; see [`StackChain::expect_release`]).
    file_counts: Mutex<HashMap<String, u32>>,
}

fn transient(step: &'static str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Transient {
        step,
        message: e.to_string(),
    }
}

impl StackChain {
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
            file_counts: Mutex::new(HashMap::new()),
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

    /// Tells the adapter how many files the release with this checksum root has. The
    /// contract requires a file count and the pipeline's [`Proposal`] does not carry one:
    /// whoever triggers a release notes it here first (the demo computes the root from the
    /// files it uploads). A release not noted is proposed with a file count of 1.
    pub fn expect_release(&self, checksum_root_hex: &str, file_count: u32) {
        self.file_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(checksum_root_hex.to_owned(), file_count);
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
impl Chain for StackChain {
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
        let index = *self.issuers.get(&proposal.issuer).ok_or_else(|| {
            transient(
                "proposing the release",
                format!("no custodial key for issuer {}", proposal.issuer),
            )
        })?;
        let issuer = self.keypair(index)?;
        let file_count = self
            .file_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&proposal.checksum_root)
            .copied()
            .unwrap_or(1);
        let release = Release {
            metadata_uri: proposal.metadata_uri.clone(),
            checksum_root: parse_root(&proposal.checksum_root)?,
            file_count,
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
