//! The pipeline as the ingest Lambda function runs it: S3 for objects, DynamoDB for the
//! application database, the platform seed from AWS Secrets Manager, and the suite on a
//! Stellar network through the fee-sponsoring relayer.
//!
//! The function is opened by the platform's shared opener
//! ([`medimint_platform::Platform::open_with_vault`]) from a configuration read from the
//! environment only ([`medimint_platform::Config::for_lambda`]), with the variable names
//! the CLI's configuration file uses for its overrides (docs/configuration.md), so one set
//! of settings and one set of bounds serve every binary. Contract ids are not configured:
//! the suite is deployed at deterministic ids computed from the network and the admin key
//! (`medimint_chain::suite`), which is derived from the seed like every operator key. The
//! relayer may submit `propose_release` only.

use medimint_ingest::Ingest;
use medimint_platform::config::ConfigError;
use medimint_platform::{Config, Platform, PlatformError, RelayScope};
use medimint_sdk::vault::{SecretsManagerVault, Vault};

/// Channel accounts the ingest function submits from, unless `MEDIMINT_CHANNELS` says
/// otherwise.
pub const DEFAULT_CHANNELS: u32 = 2;

/// Why the function could not start. Each message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ProductionError {
    /// Required variables are missing or invalid.
    #[error(transparent)]
    Setting(#[from] ConfigError),
    /// The seed, the RPC, storage or the database are unusable.
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// The ingest function's settings: the platform configuration from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionConfig {
    /// The platform configuration (S3, DynamoDB, Secrets Manager, derived deployment).
    pub config: Config,
    /// The Secrets Manager secret holding the platform's BIP-39 mnemonic
    /// (`MEDIMINT_SEED_SECRET_ID`).
    pub seed_secret_id: String,
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
        let channels_set = get("MEDIMINT_CHANNELS").is_some_and(|v| !v.trim().is_empty());
        let mut config = Config::for_lambda(&get)?;
        if !channels_set {
            config.relayer.channels = DEFAULT_CHANNELS;
        }
        let seed_secret_id = match &config.vault {
            medimint_platform::VaultConfig::SecretsManager { secret_id } => secret_id.clone(),
            _ => String::new(),
        };
        Ok(Self {
            config,
            seed_secret_id,
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
        Ok(self.open_function_with_vault(vault).await?.ingest)
    }

    /// Opens the pipeline and keeps the relayer it submits through (for the function's
    /// metrics), with the seed from Secrets Manager.
    ///
    /// # Errors
    /// As [`ProductionConfig::open`].
    pub async fn open_function(&self) -> Result<Opened, ProductionError> {
        let vault = SecretsManagerVault::from_env(self.seed_secret_id.clone()).await;
        self.open_function_with_vault(&vault).await
    }

    async fn open_function_with_vault(&self, vault: &dyn Vault) -> Result<Opened, ProductionError> {
        let platform =
            Platform::open_with_vault(self.config.clone(), vault, RelayScope::IngestOnly).await?;
        Ok(Opened {
            ingest: platform.ingest()?,
            relayer: platform.relayer().clone(),
        })
    }
}

/// The opened function: the pipeline, and the relayer it submits through (whose counters
/// go into each invocation's metric line).
pub struct Opened {
    /// The release pipeline.
    pub ingest: Ingest,
    /// The relayer of its chain adapter.
    pub relayer: std::sync::Arc<medimint_chain::Relayer>,
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
        use medimint_platform::{DatabaseConfig, DeploymentConfig, StorageConfig};
        let c = ProductionConfig::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(
            c.config.storage,
            StorageConfig::S3 {
                bucket: "mm-objects".into(),
                endpoint: None
            }
        );
        assert_eq!(
            c.config.database,
            DatabaseConfig::Dynamodb {
                table: "mm-table".into(),
                endpoint: None
            }
        );
        assert_eq!(c.config.network.rpc_url, "https://rpc.example");
        assert_eq!(
            c.config.network.passphrase,
            "Test SDF Network ; September 2015"
        );
        assert_eq!(c.seed_secret_id, "medimint/seed");
        assert_eq!(c.config.relayer.channels, DEFAULT_CHANNELS);
        assert_eq!(c.config.deployment, DeploymentConfig::Derived);
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
        use medimint_platform::{DatabaseConfig, StorageConfig};
        let c = ProductionConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.config.relayer.channels, 8);
        assert!(matches!(
            &c.config.storage,
            StorageConfig::S3 { endpoint: Some(e), .. } if e == "http://127.0.0.1:5000"
        ));
        assert!(matches!(
            &c.config.database,
            DatabaseConfig::Dynamodb { endpoint: Some(e), .. } if e == "http://127.0.0.1:5001"
        ));
        for bad in ["0", "65", "two", "-1"] {
            let mut pairs = FULL.to_vec();
            pairs.push(("MEDIMINT_CHANNELS", bad));
            let err = ProductionConfig::from_lookup(lookup(&pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains("MEDIMINT_CHANNELS"), "{bad}: {err}");
        }
    }
}
