//! Opening the API from the environment (the Lambda's cold start).
//!
//! Reads [`ApiConfig`] and derives [`AuthKeys`] from the vault: AWS Secrets Manager when
//! `MEDIMINT_SEED_SECRET_ID` is set (as the ingest function does), else the mnemonic in
//! `MEDIMINT_MASTER_MNEMONIC`. The production adapters (the sign-in store over the
//! application database, accounts and roles from the platform) are not wired here yet:
//! [`from_env`] says so instead of starting with in-memory state that would not be shared
//! between Lambda instances.

use medimint_sdk::vault::{EnvVault, SecretsManagerVault, Vault, VaultError};

use crate::config::{ApiConfig, ConfigError};
use crate::keys::AuthKeys;
use crate::state::AppState;

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The configuration is incomplete.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The master seed could not be read.
    #[error("reading the master seed: {0}")]
    Vault(#[from] VaultError),
    /// A production adapter is not wired yet.
    #[error("the API's {0} has no production adapter yet; run the API under `medimint up` until it is wired")]
    NotWired(&'static str),
}

/// The configuration and keys from the environment.
///
/// # Errors
/// [`OpenError::Config`], [`OpenError::Vault`].
pub async fn config_and_keys() -> Result<(ApiConfig, AuthKeys), OpenError> {
    let config = ApiConfig::from_lookup(|k| std::env::var(k).ok())?;
    let seed = match std::env::var("MEDIMINT_SEED_SECRET_ID") {
        Ok(id) => {
            SecretsManagerVault::from_env(id)
                .await
                .master_seed()
                .await?
        }
        Err(_) => EnvVault::default().master_seed().await?,
    };
    Ok((config, AuthKeys::derive(&seed)))
}

/// The API's state from the environment.
///
/// # Errors
/// As [`config_and_keys`]; then [`OpenError::NotWired`] until the platform provides the
/// sign-in store, accounts and roles.
pub async fn from_env() -> Result<AppState, OpenError> {
    let (_config, _keys) = config_and_keys().await?;
    Err(OpenError::NotWired(
        "sign-in store, account directory and roles",
    ))
}
