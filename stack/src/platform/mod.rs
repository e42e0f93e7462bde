//! A MediMint platform opened from its [`Config`]: the network through the relayer, object
//! storage, the application database and the platform seed. Each operation the CLI offers
//! (deploy, issuers, release, consent, share, revoke, access, download, verify, history)
//! is one method here, so the local stack, the CLI and the end-to-end tests run the same
//! code against local or AWS adapters.
//!
//! Operator keys (sponsor, admin, channel accounts) are derived from the platform seed at
//! reserved HD indexes at the top of the range ([`SPONSOR_INDEX`], [`ADMIN_INDEX`],
//! [`CHANNEL_BASE_INDEX`]); custodial users and issuers count up from 0, so the two never
//! meet. Keys are derived when used and zeroized when dropped.

pub mod config;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use medimint_chain::{Backoff, Network, Relayer, RelayerConfig, Rpc, StellarRpc};
use medimint_sdk::keys::{derive_keypair, Keypair, Mnemonic, Seed};
use medimint_sdk::operators::operator_relayer;
use medimint_sdk::vault::{EnvVault, FileVault, SecretsManagerVault, Vault};
use medimint_storage::{AppDb, DynamoDb, LocalDirStore, ObjectStore, RelayerDb, S3Store, SqliteDb};

pub use config::{Config, DatabaseConfig, StorageConfig, VaultConfig};
pub use ops::{
    AccessReport, DownloadReport, IssuerSpec, PatientSpec, ReleaseSpec, SharedWith, Target,
};

use crate::deploy::{suite_policy, Deployment, SuitePlan};

pub use medimint_sdk::keys::{ADMIN_INDEX, CHANNEL_BASE_INDEX, SPONSOR_INDEX};
/// XLM (in stroops) each operator account starts with on a network with a funder.
const OPERATOR_BALANCE: i64 = 10_000 * 10_000_000;

/// Why a platform operation failed. Each message says what to do next where there is
/// something to do.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The Stellar RPC cannot be reached or serves another network.
    #[error("{0}")]
    Network(String),
    /// The suite is not deployed on this network yet.
    #[error("no deployment at {0}; run `medimint deploy` (or `medimint up` for the local stack)")]
    NotDeployed(String),
    /// The platform seed is missing or unreadable.
    #[error("{0}")]
    Seed(String),
    /// Storage or database.
    #[error("{step}: {message}")]
    Storage {
        /// What was being done.
        step: &'static str,
        /// The adapter's message.
        message: String,
    },
    /// A chain call failed (contract errors are named by the relayer's message).
    #[error("{step}: {message}")]
    Chain {
        /// What was being done.
        step: String,
        /// Why.
        message: String,
    },
    /// Bad input from the caller.
    #[error("{0}")]
    Invalid(String),
}

fn storage(step: &'static str) -> impl Fn(medimint_storage::StorageError) -> PlatformError {
    move |e| PlatformError::Storage {
        step,
        message: e.to_string(),
    }
}

fn chain(step: impl Into<String>) -> impl FnOnce(medimint_chain::Error) -> PlatformError {
    let step = step.into();
    move |e| PlatformError::Chain {
        step,
        message: e.to_string(),
    }
}

/// An opened platform.
pub struct Platform {
    config: Config,
    seed: Arc<Seed>,
    rpc: Arc<StellarRpc>,
    relayer: Arc<Relayer>,
    store: Arc<dyn ObjectStore>,
    db: Arc<dyn AppDb>,
    plan: SuitePlan,
    /// The deployment file, read once.
    deployment: std::sync::OnceLock<Deployment>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("rpc_url", &self.config.network.rpc_url)
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Reads the master seed, creating a fresh mnemonic in the seed file first if `create`
/// and the vault is a missing file.
async fn open_seed(config: &Config, create: bool) -> Result<Seed, PlatformError> {
    if let (true, Some(path)) = (create, config.seed_file()) {
        if !path.exists() {
            write_new_mnemonic(&path)?;
        }
    }
    let vault: Box<dyn Vault> = match &config.vault {
        VaultConfig::File { .. } => Box::new(FileVault::new(
            config
                .seed_file()
                .unwrap_or_else(|| config.data_dir.join("seed")),
        )),
        VaultConfig::Env { var } => Box::new(EnvVault::new(var.clone())),
        VaultConfig::SecretsManager { secret_id } => {
            Box::new(SecretsManagerVault::from_env(secret_id.clone()).await)
        }
    };
    vault.master_seed().await.map_err(|e| {
        PlatformError::Seed(format!(
            "{e}; the local stack creates one with `medimint up` or `medimint deploy`"
        ))
    })
}

fn write_new_mnemonic(path: &std::path::Path) -> Result<(), PlatformError> {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        PlatformError::Seed(format!(
            "cannot create the seed file {}: {e}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    let phrase = Mnemonic::generate().phrase();
    file.write_all(phrase.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)
}

async fn open_store(config: &Config) -> Result<Arc<dyn ObjectStore>, PlatformError> {
    Ok(match &config.storage {
        StorageConfig::Local { .. } => {
            let dir = config
                .local_objects_dir()
                .unwrap_or_else(|| config.data_dir.join("objects"));
            Arc::new(LocalDirStore::new(dir).map_err(storage("opening object storage"))?)
        }
        StorageConfig::S3 { bucket, endpoint } => {
            let s3 = S3Store::from_env(bucket.clone(), endpoint.as_deref()).await;
            if endpoint.is_some() {
                // A local S3 (moto, MinIO) starts empty; AWS buckets come from the template.
                s3.ensure_bucket()
                    .await
                    .map_err(storage("creating the bucket"))?;
            }
            Arc::new(s3)
        }
    })
}

async fn open_db(config: &Config) -> Result<Arc<dyn AppDb>, PlatformError> {
    let db: Arc<dyn AppDb> = match &config.database {
        DatabaseConfig::Sqlite { path } => {
            let path = path
                .clone()
                .unwrap_or_else(|| config.data_dir.join("medimint.sqlite3"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| PlatformError::Storage {
                    step: "creating the data directory",
                    message: e.to_string(),
                })?;
            }
            Arc::new(
                SqliteDb::open(&path)
                    .await
                    .map_err(storage("opening the database"))?,
            )
        }
        DatabaseConfig::Dynamodb { table, endpoint } => {
            Arc::new(DynamoDb::from_env(table.clone(), endpoint.as_deref()).await)
        }
    };
    db.migrate()
        .await
        .map_err(storage("migrating the database"))?;
    Ok(db)
}

impl Platform {
    /// Opens the platform: reads the seed (creating the seed file first if `create_seed`),
    /// connects to the RPC and checks its network, opens storage and the database.
    ///
    /// # Errors
    /// Each names what failed and what to do.
    pub async fn open(config: Config, create_seed: bool) -> Result<Self, PlatformError> {
        let seed = Arc::new(open_seed(&config, create_seed).await?);
        let url = config.network.rpc_url.clone();
        let rpc = Arc::new(
            StellarRpc::new(&url, Duration::from_secs(15))
                .map_err(|e| PlatformError::Network(format!("bad RPC URL {url}: {e}")))?,
        );
        let served = rpc.network_passphrase().await.map_err(|e| {
            PlatformError::Network(format!(
                "cannot reach Stellar RPC at {url}: {e}; start the local stack with \
                 `medimint up`, or set network.rpc_url (MEDIMINT_RPC_URL)"
            ))
        })?;
        if served != config.network.passphrase {
            return Err(PlatformError::Network(format!(
                "the RPC at {url} serves the network {served:?} but the configuration says \
                 {:?}; set network.passphrase (MEDIMINT_NETWORK_PASSPHRASE)",
                config.network.passphrase
            )));
        }
        let network = Network::new(served);
        let admin =
            derive_keypair(&seed, ADMIN_INDEX).map_err(|e| PlatformError::Seed(e.to_string()))?;
        let plan =
            SuitePlan::new(&network, &admin.address()).map_err(chain("planning the suite"))?;
        let store = open_store(&config).await?;
        let db = open_db(&config).await?;
        // Request records and spend in the platform's database, shared by every process
        // relaying for it (the CLI, the watched inbox, the Lambdas).
        let relayer_db = Arc::new(RelayerDb::new(db.clone()));
        let relayer = Arc::new(
            operator_relayer(
                &seed,
                rpc.clone(),
                network,
                config.relayer.channels,
                suite_policy(&plan, true),
                RelayerConfig {
                    backoff: Backoff {
                        initial: Duration::from_millis(50),
                        max: Duration::from_millis(500),
                        deadline: Duration::from_secs(60),
                    },
                    ..RelayerConfig::default()
                },
            )
            .map_err(|e| PlatformError::Seed(e.to_string()))?
            .with_request_store(relayer_db.clone())
            .with_lease_store(relayer_db.clone())
            .with_spend_store(relayer_db),
        );
        Ok(Self {
            config,
            seed,
            rpc,
            relayer,
            store,
            db,
            plan,
            deployment: std::sync::OnceLock::new(),
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Object storage.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The application database.
    pub fn db(&self) -> &Arc<dyn AppDb> {
        &self.db
    }

    /// The relayer.
    pub fn relayer(&self) -> &Arc<Relayer> {
        &self.relayer
    }

    /// The RPC client.
    pub fn rpc(&self) -> &Arc<StellarRpc> {
        &self.rpc
    }

    /// The suite's admin address.
    pub fn admin_address(&self) -> Result<String, PlatformError> {
        Ok(self.operator(ADMIN_INDEX)?.address())
    }

    /// The sponsor's address (the account that pays).
    pub fn sponsor_address(&self) -> Result<String, PlatformError> {
        Ok(self.operator(SPONSOR_INDEX)?.address())
    }

    /// The key at HD index `index` of the platform seed (an operator or a custodial user),
    /// derived now and zeroized on drop.
    fn operator(&self, index: u32) -> Result<Keypair, PlatformError> {
        derive_keypair(&self.seed, index).map_err(|e| PlatformError::Seed(e.to_string()))
    }

    /// The deployment this platform's commands act on.
    ///
    /// # Errors
    /// [`PlatformError::NotDeployed`] when the deployment file is missing.
    pub fn deployment(&self) -> Result<Deployment, PlatformError> {
        if let Some(d) = self.deployment.get() {
            return Ok(d.clone());
        }
        let path = self.config.deployment_path();
        if !path.exists() {
            return Err(PlatformError::NotDeployed(path.display().to_string()));
        }
        let d = Deployment::read(&path).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        Ok(self.deployment.get_or_init(|| d).clone())
    }

    /// Makes sure the sponsor and channel accounts exist, funding them from the funder
    /// (`network.funder_secret`, else the standalone network's root account).
    ///
    /// # Errors
    /// The funder cannot pay (then the message names the sponsor address to fund).
    pub async fn ensure_operators(&self) -> Result<(), PlatformError> {
        let mut addresses = vec![self.sponsor_address()?];
        addresses.extend(self.relayer.channel_addresses());
        let funder = match &self.config.network.funder_secret {
            Some(secret) => Keypair::from_secret(secret)
                .map_err(|e| PlatformError::Invalid(format!("network.funder_secret: {e}")))?,
            None => Keypair::from_secret(
                &medimint_devnet::Keypair::root(&self.config.network.passphrase).secret(),
            )
            .map_err(|e| PlatformError::Invalid(e.to_string()))?,
        };
        let missing_funder = self
            .rpc
            .account_sequence(&funder.address())
            .await
            .map_err(chain("looking up the funder"))?
            .is_none();
        if missing_funder {
            let mut unfunded = Vec::new();
            for a in &addresses {
                if self
                    .rpc
                    .account_sequence(a)
                    .await
                    .map_err(chain("looking up the operator accounts"))?
                    .is_none()
                {
                    unfunded.push(a.clone());
                }
            }
            if unfunded.is_empty() {
                return Ok(());
            }
            return Err(PlatformError::Network(format!(
                "the operator accounts {} do not exist and there is no funder on this network; \
                 fund them (on testnet: curl \"https://friendbot.stellar.org/?addr=<address>\") \
                 or set network.funder_secret (MEDIMINT_FUNDER_SECRET)",
                unfunded.join(", ")
            )));
        }
        medimint_chain::accounts::ensure_funded_accounts(
            self.rpc.as_ref(),
            self.relayer.network(),
            funder.signing_key(),
            &addresses,
            OPERATOR_BALANCE,
            Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
                deadline: Duration::from_secs(60),
            },
        )
        .await
        .map_err(chain("funding the operator accounts"))?;
        Ok(())
    }
}
