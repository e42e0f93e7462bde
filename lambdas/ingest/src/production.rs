//! The pipeline as the ingest Lambda function runs it: S3 for objects, DynamoDB for the
//! application database, the platform seed from AWS Secrets Manager, and the suite on a
//! Stellar network through the fee-sponsoring relayer.
//!
//! Everything comes from the environment (`ProductionConfig::from_env`) with the variable
//! names the CLI's configuration file uses for its overrides (docs/configuration.md), so
//! one set of settings serves both. Contract ids are not configured: the suite is deployed
//! at deterministic ids computed from the network and the admin key (`medimint_chain::suite`),
//! which is derived from the seed like every operator key.

use std::sync::Arc;
use std::time::Duration;

use medimint_chain::suite::{ingest_policy, SuitePlan};
use medimint_chain::{Network, RelayerConfig, Rpc, StellarRpc};
use medimint_sdk::keys::{derive_keypair, Keypair, Seed, ADMIN_INDEX};
use medimint_sdk::operators::operator_relayer;
use medimint_sdk::vault::{SecretsManagerVault, Vault};
use medimint_storage::{AppDb, DynamoDb, ObjectStore, RelayerDb, S3Store};

use crate::{Ingest, IngestConfig, RelayerChain, SdkSealer};

/// Channel accounts the ingest function submits from, unless `MEDIMINT_CHANNELS` says
/// otherwise. The function runs with a reserved concurrency of one (infra/template.yaml);
/// other users of the same channels (the CLI) are re-synchronised on `txBAD_SEQ`.
pub const DEFAULT_CHANNELS: u32 = 2;
/// Most channel accounts a relayer may use (each is a sequence number in flight).
const MAX_CHANNELS: u32 = 64;
/// How long one RPC request may take before it counts as unreachable.
const RPC_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the function could not start. Each message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ProductionError {
    /// A required variable is missing or invalid.
    #[error("{0}")]
    Setting(String),
    /// The platform seed could not be read.
    #[error("the platform seed: {0}")]
    Seed(String),
    /// The Stellar RPC is unreachable or serves another network.
    #[error("{0}")]
    Network(String),
}

/// The ingest function's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ProductionConfig {
    /// The bucket holding `inbox/`, `studies/`, `meta/`, `keys/` and `reports/`
    /// (`MEDIMINT_BUCKET`).
    pub bucket: String,
    /// The DynamoDB table of the application database (`MEDIMINT_TABLE`).
    pub table: String,
    /// Stellar RPC URL (`MEDIMINT_RPC_URL`).
    pub rpc_url: String,
    /// The network passphrase the RPC must serve (`MEDIMINT_NETWORK_PASSPHRASE`).
    pub passphrase: String,
    /// The Secrets Manager secret holding the platform's BIP-39 mnemonic
    /// (`MEDIMINT_SEED_SECRET_ID`).
    pub seed_secret_id: String,
    /// How many channel accounts to submit from (`MEDIMINT_CHANNELS`).
    pub channels: u32,
    /// An S3 endpoint other than AWS's, e.g. moto or MinIO (`MEDIMINT_S3_ENDPOINT`).
    pub s3_endpoint: Option<String>,
    /// A DynamoDB endpoint other than AWS's (`MEDIMINT_DYNAMODB_ENDPOINT`).
    pub dynamodb_endpoint: Option<String>,
}

impl std::fmt::Debug for ProductionConfig {
    // Nothing here is secret (the seed is only named by its secret id), but keep the shape
    // explicit so a future secret field cannot slip into logs through a derive.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductionConfig")
            .field("bucket", &self.bucket)
            .field("table", &self.table)
            .field("rpc_url", &self.rpc_url)
            .field("passphrase", &self.passphrase)
            .field("seed_secret_id", &self.seed_secret_id)
            .field("channels", &self.channels)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .finish()
    }
}

impl ProductionConfig {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// [`ProductionError::Setting`] naming every missing or invalid variable at once.
    pub fn from_env() -> Result<Self, ProductionError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get` (the environment, or a map in tests). Empty values
    /// count as missing.
    ///
    /// # Errors
    /// [`ProductionError::Setting`] naming every missing or invalid variable at once.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ProductionError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut missing = Vec::new();
        let mut required = |name: &'static str| {
            get(name).unwrap_or_else(|| {
                missing.push(name);
                String::new()
            })
        };
        let bucket = required("MEDIMINT_BUCKET");
        let table = required("MEDIMINT_TABLE");
        let rpc_url = required("MEDIMINT_RPC_URL");
        let passphrase = required("MEDIMINT_NETWORK_PASSPHRASE");
        let seed_secret_id = required("MEDIMINT_SEED_SECRET_ID");
        let mut problems: Vec<String> = missing
            .iter()
            .map(|name| format!("{name} is not set"))
            .collect();
        let channels = match get("MEDIMINT_CHANNELS") {
            None => DEFAULT_CHANNELS,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_CHANNELS).contains(&n) => n,
                _ => {
                    problems.push(format!(
                        "MEDIMINT_CHANNELS must be a whole number from 1 to {MAX_CHANNELS}, not {v:?}"
                    ));
                    DEFAULT_CHANNELS
                }
            },
        };
        if !problems.is_empty() {
            return Err(ProductionError::Setting(format!(
                "the ingest function is not configured: {} (infra/template.yaml sets them; \
                 docs/configuration.md lists them)",
                problems.join("; ")
            )));
        }
        Ok(Self {
            bucket,
            table,
            rpc_url,
            passphrase,
            seed_secret_id,
            channels,
            s3_endpoint: get("MEDIMINT_S3_ENDPOINT"),
            dynamodb_endpoint: get("MEDIMINT_DYNAMODB_ENDPOINT"),
        })
    }

    /// Opens the pipeline, reading the seed from Secrets Manager with the environment's AWS
    /// configuration.
    ///
    /// # Errors
    /// The seed, the RPC or the network are unusable; each names what to fix.
    pub async fn open(&self) -> Result<Ingest, ProductionError> {
        let vault = SecretsManagerVault::from_env(self.seed_secret_id.clone()).await;
        self.open_with_vault(&vault).await
    }

    /// Opens the pipeline with the seed from `vault`.
    ///
    /// # Errors
    /// The seed, the RPC or the network are unusable; each names what to fix.
    pub async fn open_with_vault(&self, vault: &dyn Vault) -> Result<Ingest, ProductionError> {
        let seed = Arc::new(
            vault
                .master_seed()
                .await
                .map_err(|e| ProductionError::Seed(e.to_string()))?,
        );
        let rpc = Arc::new(StellarRpc::new(&self.rpc_url, RPC_TIMEOUT).map_err(|e| {
            ProductionError::Setting(format!("MEDIMINT_RPC_URL {:?}: {e}", self.rpc_url))
        })?);
        let network = checked_network(rpc.as_ref(), &self.rpc_url, &self.passphrase).await?;
        let admin = operator(&seed, ADMIN_INDEX)?;
        let plan = SuitePlan::new(&network, &admin.address())
            .map_err(|e| ProductionError::Seed(e.to_string()))?;
        drop(admin);
        let store: Arc<dyn ObjectStore> =
            Arc::new(S3Store::from_env(self.bucket.clone(), self.s3_endpoint.as_deref()).await);
        let db: Arc<dyn AppDb> = Arc::new(
            DynamoDb::from_env(self.table.clone(), self.dynamodb_endpoint.as_deref()).await,
        );
        // Request records and spend in the table: a redelivered message finds the
        // transaction an earlier invocation sent instead of paying for another.
        let relayer_db = Arc::new(RelayerDb::new(db.clone()));
        let relayer = Arc::new(
            operator_relayer(
                &seed,
                rpc.clone(),
                network,
                self.channels,
                ingest_policy(&plan),
                RelayerConfig::default(),
            )
            .map_err(|e| ProductionError::Setting(format!("MEDIMINT_CHANNELS: {e}")))?
            .with_request_store(relayer_db.clone())
            .with_lease_store(relayer_db.clone())
            .with_spend_store(relayer_db),
        );
        let chain = RelayerChain::new(relayer, rpc, seed, plan.issuer_registry, plan.study_token)
            .with_accounts(db.clone());
        Ok(Ingest::new(
            store,
            db,
            Arc::new(SdkSealer),
            Arc::new(chain),
            IngestConfig::default(),
        ))
    }
}

/// The network the RPC at `url` serves, refused unless it is `expected`.
///
/// # Errors
/// [`ProductionError::Network`]: unreachable, or another network.
pub async fn checked_network(
    rpc: &dyn Rpc,
    url: &str,
    expected: &str,
) -> Result<Network, ProductionError> {
    let served = rpc.network_passphrase().await.map_err(|e| {
        ProductionError::Network(format!(
            "cannot reach Stellar RPC at {url}: {e}; check MEDIMINT_RPC_URL and the \
             function's network access"
        ))
    })?;
    if served != expected {
        return Err(ProductionError::Network(format!(
            "the RPC at {url} serves the network {served:?}, not {expected:?}; set \
             MEDIMINT_NETWORK_PASSPHRASE or MEDIMINT_RPC_URL"
        )));
    }
    Ok(Network::new(served))
}

fn operator(seed: &Seed, index: u32) -> Result<Keypair, ProductionError> {
    derive_keypair(seed, index).map_err(|e| ProductionError::Seed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("MEDIMINT_BUCKET", "mm-objects"),
        ("MEDIMINT_TABLE", "mm-table"),
        ("MEDIMINT_RPC_URL", "https://rpc.example"),
        (
            "MEDIMINT_NETWORK_PASSPHRASE",
            "Test SDF Network ; September 2015",
        ),
        ("MEDIMINT_SEED_SECRET_ID", "medimint/seed"),
    ];

    #[test]
    fn a_full_environment_gives_the_settings_with_defaults() {
        let c = ProductionConfig::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(c.bucket, "mm-objects");
        assert_eq!(c.table, "mm-table");
        assert_eq!(c.rpc_url, "https://rpc.example");
        assert_eq!(c.passphrase, "Test SDF Network ; September 2015");
        assert_eq!(c.seed_secret_id, "medimint/seed");
        assert_eq!(c.channels, DEFAULT_CHANNELS);
        assert_eq!(c.s3_endpoint, None);
        assert_eq!(c.dynamodb_endpoint, None);
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = ProductionConfig::from_lookup(lookup(&[
            ("MEDIMINT_BUCKET", "b"),
            ("MEDIMINT_TABLE", "  "),
        ]))
        .unwrap_err()
        .to_string();
        for name in [
            "MEDIMINT_TABLE",
            "MEDIMINT_RPC_URL",
            "MEDIMINT_NETWORK_PASSPHRASE",
            "MEDIMINT_SEED_SECRET_ID",
        ] {
            assert!(err.contains(&format!("{name} is not set")), "{err}");
        }
        assert!(!err.contains("MEDIMINT_BUCKET"), "{err}");
        assert!(err.contains("docs/configuration.md"), "{err}");
    }

    #[test]
    fn channels_and_endpoints_are_read_and_checked() {
        let mut pairs = FULL.to_vec();
        pairs.extend([
            ("MEDIMINT_CHANNELS", "8"),
            ("MEDIMINT_S3_ENDPOINT", "http://127.0.0.1:5000"),
            ("MEDIMINT_DYNAMODB_ENDPOINT", "http://127.0.0.1:5001"),
        ]);
        let c = ProductionConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.channels, 8);
        assert_eq!(c.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            c.dynamodb_endpoint.as_deref(),
            Some("http://127.0.0.1:5001")
        );
        for bad in ["0", "65", "two", "-1"] {
            let mut pairs = FULL.to_vec();
            pairs.push(("MEDIMINT_CHANNELS", bad));
            let err = ProductionConfig::from_lookup(lookup(&pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains("MEDIMINT_CHANNELS must be"), "{bad}: {err}");
        }
    }
}
