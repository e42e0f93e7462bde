//! Opening the API from the environment (the Lambda's cold start).
//!
//! Reads [`ApiConfig`] and derives [`AuthKeys`] from the vault: AWS Secrets Manager when
//! `MEDIMINT_SEED_SECRET_ID` is set (as the ingest function does), else the mnemonic in
//! `MEDIMINT_MASTER_MNEMONIC`. [`from_env`] opens the platform with the shared opener and
//! keeps the sign-in state in its database, so every Lambda instance shares it;
//! [`with_platform`] is the same over a platform the caller opened (`medimint up`).

use std::sync::Arc;

use medimint_platform::{Platform, PlatformError, RelayScope};
use medimint_sdk::vault::{EnvVault, SecretsManagerVault, Vault, VaultError};

use crate::accounts::CachedAccounts;
use crate::clock::SystemClock;
use crate::mailer::{MailError, Mailer, Message};
use crate::platform::{PlatformAccounts, PlatformRoles};
use crate::state::Adapters;
use crate::store::{appdb::AppDbKv, KvAuthStore};

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
    /// The platform could not be opened.
    #[error(transparent)]
    Platform(#[from] PlatformError),
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

/// The API's state over an opened platform: the sign-in store in the platform's database
/// (SQLite locally, DynamoDB in AWS), accounts and roles from the platform, keys from `seed`.
pub fn with_platform(
    config: ApiConfig,
    seed: &medimint_sdk::keys::Seed,
    platform: Arc<Platform>,
    mailer: Arc<dyn Mailer>,
) -> AppState {
    AppState::new(
        config,
        AuthKeys::derive(seed),
        Adapters {
            store: Arc::new(KvAuthStore::new(AppDbKv(platform.db().clone()))),
            mailer,
            // A custodial address's email never changes: read once per address.
            accounts: Arc::new(CachedAccounts::new(PlatformAccounts(platform.clone()))),
            roles: Arc::new(PlatformRoles::new(platform.clone())),
            clock: Arc::new(SystemClock),
            platform: Some(platform),
        },
    )
}

/// The API's state from the environment (the Lambda's cold start): the platform opened by
/// the shared opener from `Config::for_lambda`, the seed from Secrets Manager.
///
/// Email codes go out through SES when `MEDIMINT_MAIL_FROM` is set (a verified identity;
/// `MEDIMINT_SES_ENDPOINT` for a local SES); without it `POST /auth/email` answers 503 and
/// wallet sign-in (SEP-10) is the way in.
///
/// # Errors
/// As [`config_and_keys`]; the platform's configuration and opening errors.
pub async fn from_env() -> Result<AppState, OpenError> {
    let config = ApiConfig::from_lookup(|k| std::env::var(k).ok())?;
    let platform_config = medimint_platform::Config::for_lambda(|k| std::env::var(k).ok())
        .map_err(|e| OpenError::Platform(e.into()))?;
    let secret_id = std::env::var("MEDIMINT_SEED_SECRET_ID").unwrap_or_default();
    let vault = SecretsManagerVault::from_env(secret_id).await;
    let seed = vault.master_seed().await?;
    let index = index_from_env(&platform_config).await;
    let platform = Platform::open_with_vault(platform_config, &vault, RelayScope::Suite)
        .await
        .map_err(OpenError::Platform)?;
    let mailer: Arc<dyn Mailer> =
        match medimint_storage::SesSettings::from_lookup(|k| std::env::var(k).ok()).map_err(
            |e| {
                OpenError::Config(ConfigError {
                    problems: vec![e.to_string()],
                })
            },
        )? {
            Some(settings) => Arc::new(medimint_storage::SesMailer::from_settings(&settings).await),
            None => Arc::new(NoMailer),
        };
    let state = with_platform(config, &seed, Arc::new(platform), mailer);
    if let Some(index) = index {
        state.set_index(index);
    }
    Ok(state)
}

/// The audit index the indexer function writes (`MEDIMINT_INDEX_TABLE`, a DynamoDB table
/// beside the platform's): the explorer and the list and history routes read it. Without
/// it the explorer answers 503 and lists and histories are read from the chain. The API only
/// reads the table: the indexer creates it.
async fn index_from_env(config: &medimint_platform::Config) -> Option<medimint_storage::Index> {
    let table = std::env::var("MEDIMINT_INDEX_TABLE")
        .ok()
        .filter(|t| !t.trim().is_empty())?;
    let medimint_platform::DatabaseConfig::Dynamodb { endpoint, .. } = &config.database else {
        return None;
    };
    let store = medimint_storage::DynamoIndex::from_env(table, endpoint.as_deref()).await;
    Some(medimint_storage::Index::new(Arc::new(store)))
}

/// The mailer of a function that has none configured: every send fails, saying so.
struct NoMailer;

#[async_trait::async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _message: &Message) -> Result<(), MailError> {
        Err(MailError(Box::new(std::io::Error::other(
            "no mailer is configured for this function (set MEDIMINT_MAIL_FROM to send \
             through SES); sign in with a Stellar wallet",
        ))))
    }
}
