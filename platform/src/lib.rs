//! medimint-platform: the service layer every entry point calls (the CLI, the local stack,
//! the HTTP API and the ingest Lambda). It links no Stellar node: it reaches the network
//! through Stellar RPC and the relayer only.
//!
//! - [`Platform`] ([`config`]): opened from a [`Config`]: the network through the relayer,
//!   object storage, the application database and the platform seed;
//! - `ops`: one method per operation, one file per concern;
//! - [`uploads`]: releases through the HTTP API (a manifest, one upload URL per file,
//!   then completion); [`wallet`]: a study's wrapped key for an external wallet;
//! - [`deploy`]: the suite's deployment and where it lives; [`study`]: opening a study's
//!   encrypted metadata and keys; [`trail`]: the audit trail from chain events;
//! - [`emf`]: the Lambdas' CloudWatch metrics (embedded metric format).
//!
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
pub mod deploy;
pub mod dicomweb;
pub mod emf;
mod ops;
pub mod study;
pub mod trail;
pub mod uploads;
pub mod wallet;

use std::sync::Arc;
use std::time::Duration;

use medimint_chain::{Backoff, Network, Relayer, RelayerConfig, Rpc, StellarRpc};
use medimint_sdk::keys::{derive_keypair, Keypair, Mnemonic, Seed};
use medimint_sdk::operators::operator_relayer;
use medimint_sdk::vault::{EnvVault, FileVault, SecretsManagerVault, Vault};
use medimint_storage::{AppDb, DynamoDb, LocalDirStore, ObjectStore, RelayerDb, S3Store, SqliteDb};

pub use config::{Config, DatabaseConfig, DeploymentConfig, StorageConfig, VaultConfig};
pub use ops::{
    check_request_id, NewRecordsRequest, OpenedRequest, RecordsRequestSpec, RecordsRequestView,
    RequestEvent, MAX_CODE_FAILURES, MAX_REQUEST_FILES,
};
pub use ops::{parse_reason, EmergencyPage, EmergencyRecord, EMERGENCY_REASONS, MAX_NOTE_CHARS};
pub use ops::{
    AccessReport, DownloadReport, FileStream, IssuerSpec, OpenedStudy, PatientSpec, Relation,
    ReleaseSpec, SharedWith, StudyFile, StudyItem, StudyPage, StudyView, Target, MAX_PAGE,
    ROLE_TTL,
};
pub use ops::{ErasureReport, RekeyReport};
pub use ops::{
    NewShareLink, OpenedLink, PendingAuthorization, ShareLinkSpec, ShareLinkView,
    SignedAuthorization, WalletAction, WalletAuthError, WalletOutcome, LINK_EMAIL_DOMAIN,
    MAX_LINK_USES, MAX_PASSCODE_FAILURES, WALLET_AUTH_LEDGERS,
};

use crate::deploy::{suite_policy, Deployment, SuitePlan};

pub use medimint_sdk::keys::{ADMIN_INDEX, CHANNEL_BASE_INDEX, SPONSOR_INDEX};
/// XLM (in stroops) each operator account starts with on a network with a funder.
const OPERATOR_BALANCE: i64 = 10_000 * 10_000_000;

/// Why a platform operation failed. Each message says what to do next where there is
/// something to do, and carries no PHI; causes stay typed as `source`s, and
/// [`PlatformError::kind`] sorts every failure into what a caller can act on (the HTTP API
/// maps it to a status without reading message text).
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
    #[error("{step}: {source}")]
    Storage {
        /// What was being done.
        step: &'static str,
        /// The adapter's error.
        #[source]
        source: medimint_storage::StorageError,
    },
    /// A chain call failed; a contract's refusal is named in the message and typed by
    /// [`PlatformError::contract_error`].
    #[error("{step}: {source}")]
    Chain {
        /// What was being done.
        step: String,
        /// The chain client's error.
        #[source]
        source: medimint_chain::Error,
    },
    /// A local file or directory could not be read or written.
    #[error("{step}: {source}")]
    Io {
        /// What was being done (names the path).
        step: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The release pipeline failed transiently; `hint` says what to do.
    #[error("{step}: {source}{hint}")]
    Ingest {
        /// What was being done.
        step: &'static str,
        /// The pipeline's error.
        #[source]
        source: medimint_ingest::IngestError,
        /// What to do next (may be empty).
        hint: String,
    },
    /// Deploying the suite failed.
    #[error(transparent)]
    Deploy(#[from] deploy::DeployError),
    /// A value the caller gave is unusable; `field` names it.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The input's name (`token`, `to`, `until`, `email`, …).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Something the caller named does not exist, or the caller may not know it does.
    #[error("{0}")]
    NotFound(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (already decided, already released…).
    #[error("{0}")]
    Conflict(String),
    /// Bad input from the caller, or a file or state that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The study was erased by its owner: its files and keys are gone for good.
    #[error("{0}")]
    Erased(String),
}

/// What kind of failure a [`PlatformError`] is, for callers that answer other programs
/// (the HTTP API's statuses, a Lambda's retry decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong; retrying the same input fails again.
    Invalid,
    /// Not there (or not visible to the caller).
    NotFound,
    /// Not allowed for this caller.
    Forbidden,
    /// Conflicts with the current state.
    Conflict,
    /// The study was erased: gone for good (HTTP 410).
    Gone,
    /// A dependency (RPC, storage, database) failed; retrying later may work.
    Unavailable,
    /// The platform is misconfigured or not deployed; an operator must act.
    Setup,
}

impl PlatformError {
    /// The contract error behind a chain failure: its code and name (e.g. `(201,
    /// "NotOwner")`).
    pub fn contract_error(&self) -> Option<(u32, &'static str)> {
        match self {
            PlatformError::Chain { source, .. } => medimint_chain::clients::contract_error(source),
            _ => None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlatformError::Config(_) | PlatformError::NotDeployed(_) | PlatformError::Seed(_) => {
                ErrorKind::Setup
            }
            PlatformError::Network(_)
            | PlatformError::Io { .. }
            | PlatformError::Ingest { .. }
            | PlatformError::Deploy(_) => ErrorKind::Unavailable,
            PlatformError::Storage { source, .. } => match source {
                medimint_storage::StorageError::NotFound(_) => ErrorKind::NotFound,
                medimint_storage::StorageError::Conflict(_) => ErrorKind::Conflict,
                _ => ErrorKind::Unavailable,
            },
            PlatformError::Chain { source, .. } => match self.contract_error() {
                Some((_, name)) => contract_error_kind(name),
                None => match source {
                    medimint_chain::Error::InvalidAddress { .. }
                    | medimint_chain::Error::InvalidArgument(_) => ErrorKind::Invalid,
                    medimint_chain::Error::Refused(_) => ErrorKind::Forbidden,
                    _ => ErrorKind::Unavailable,
                },
            },
            PlatformError::InvalidInput { .. } | PlatformError::Invalid(_) => ErrorKind::Invalid,
            PlatformError::NotFound(_) => ErrorKind::NotFound,
            PlatformError::Forbidden(_) => ErrorKind::Forbidden,
            PlatformError::Conflict(_) => ErrorKind::Conflict,
            PlatformError::Erased(_) => ErrorKind::Gone,
        }
    }
}

/// Sorts a contract error (by its name in the contracts' enums) into an [`ErrorKind`].
fn contract_error_kind(name: &str) -> ErrorKind {
    if name.ends_with("NotFound") {
        ErrorKind::NotFound
    } else if name.starts_with("Not")
        || name.ends_with("NotTrusted")
        || name.contains("Unauthorized")
        || name == "NoAccess"
        || name == "SelfRelease"
    {
        ErrorKind::Forbidden
    } else if name.starts_with("Invalid") || name.ends_with("TooLong") || name.contains("Expiry") {
        ErrorKind::Invalid
    } else {
        ErrorKind::Conflict
    }
}

fn storage(step: &'static str) -> impl Fn(medimint_storage::StorageError) -> PlatformError {
    move |source| PlatformError::Storage { step, source }
}

fn chain(step: impl Into<String>) -> impl FnOnce(medimint_chain::Error) -> PlatformError {
    let step = step.into();
    move |source| PlatformError::Chain { step, source }
}

/// An opened platform.
pub struct Platform {
    config: Config,
    seed: Arc<Seed>,
    rpc: Arc<dyn Rpc>,
    relayer: Arc<Relayer>,
    store: Arc<dyn ObjectStore>,
    db: Arc<dyn AppDb>,
    plan: SuitePlan,
    /// The deployment file, read once.
    deployment: std::sync::OnceLock<Deployment>,
    /// Studies opened for their holders' downloads (`ops/files.rs`).
    opened: ops::OpenedStudies,
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
                std::fs::create_dir_all(parent).map_err(|source| PlatformError::Io {
                    step: format!("creating the data directory {}", parent.display()),
                    source,
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

/// Which contract functions the platform's relayer may submit: the whole suite (the CLI,
/// the local stack, the HTTP API) or only what a release needs (the ingest function, least
/// privilege).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayScope {
    /// Every function of the issuer registry and the study token, and deployments.
    Suite,
    /// `propose_release` only.
    IngestOnly,
}

/// What a platform is made of. [`Platform::open`] builds it from a [`Config`]; tests and
/// other hosts pass their own adapters (in-memory stores, a fake RPC) to
/// [`Platform::from_parts`].
pub struct Parts {
    /// The configuration (data directory, network settings, deployment source).
    pub config: Config,
    /// The platform's master seed.
    pub seed: Arc<Seed>,
    /// Stellar RPC.
    pub rpc: Arc<dyn Rpc>,
    /// The network the RPC serves (already checked).
    pub network: Network,
    /// Object storage.
    pub store: Arc<dyn ObjectStore>,
    /// The application database (already migrated).
    pub db: Arc<dyn AppDb>,
    /// What the relayer may submit.
    pub scope: RelayScope,
}

/// The Stellar RPC at the configured URL, checked to serve the configured network.
async fn open_rpc(config: &Config) -> Result<(Arc<dyn Rpc>, Network), PlatformError> {
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
    Ok((rpc, Network::new(served)))
}

impl Platform {
    /// Opens the platform: reads the seed (creating the seed file first if `create_seed`),
    /// connects to the RPC and checks its network, opens storage and the database.
    ///
    /// # Errors
    /// Each names what failed and what to do.
    pub async fn open(config: Config, create_seed: bool) -> Result<Self, PlatformError> {
        let seed = open_seed(&config, create_seed).await?;
        Self::open_with_seed(config, seed, RelayScope::Suite).await
    }

    /// Opens the platform with the seed from `vault` instead of the configured one (a
    /// Lambda reads it from Secrets Manager; tests pass their own), relaying only what
    /// `scope` allows.
    ///
    /// # Errors
    /// As [`Platform::open`].
    pub async fn open_with_vault(
        config: Config,
        vault: &dyn Vault,
        scope: RelayScope,
    ) -> Result<Self, PlatformError> {
        let seed = vault
            .master_seed()
            .await
            .map_err(|e| PlatformError::Seed(format!("the platform seed: {e}")))?;
        Self::open_with_seed(config, seed, scope).await
    }

    async fn open_with_seed(
        config: Config,
        seed: Seed,
        scope: RelayScope,
    ) -> Result<Self, PlatformError> {
        let (rpc, network) = open_rpc(&config).await?;
        let store = open_store(&config).await?;
        let db = open_db(&config).await?;
        Self::from_parts(Parts {
            config,
            seed: Arc::new(seed),
            rpc,
            network,
            store,
            db,
            scope,
        })
    }

    /// A platform over the given adapters. The relayer keeps its request records, daily
    /// spend and channel state in `parts.db`, shared by every process relaying for this
    /// platform (the CLI, the watched inbox, the Lambdas).
    ///
    /// # Errors
    /// The seed cannot derive the operator keys.
    pub fn from_parts(parts: Parts) -> Result<Self, PlatformError> {
        let Parts {
            config,
            seed,
            rpc,
            network,
            store,
            db,
            scope,
        } = parts;
        let admin =
            derive_keypair(&seed, ADMIN_INDEX).map_err(|e| PlatformError::Seed(e.to_string()))?;
        let plan =
            SuitePlan::new(&network, &admin.address()).map_err(chain("planning the suite"))?;
        drop(admin);
        let policy = match scope {
            RelayScope::Suite => suite_policy(&plan, true),
            RelayScope::IngestOnly => medimint_chain::suite::ingest_policy(&plan),
        };
        let relayer_db = Arc::new(RelayerDb::new(db.clone()));
        let relayer = Arc::new(
            operator_relayer(
                &seed,
                rpc.clone(),
                network,
                config.relayer.channels,
                policy,
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
            opened: ops::OpenedStudies::default(),
        })
    }

    /// The platform's master seed, for hosts in this process that derive their own keys
    /// from it (the HTTP API's token and challenge keys). Never serialize or log it.
    pub fn seed(&self) -> &Arc<Seed> {
        &self.seed
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
    pub fn rpc(&self) -> &Arc<dyn Rpc> {
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
        let d = match &self.config.deployment {
            DeploymentConfig::Derived => Deployment::planned(
                &self.plan,
                self.relayer.network().passphrase(),
                &self.config.network.rpc_url,
                &self.admin_address()?,
            ),
            DeploymentConfig::File { .. } => {
                let path = self.config.deployment_path();
                if !path.exists() {
                    return Err(PlatformError::NotDeployed(path.display().to_string()));
                }
                Deployment::read(&path).map_err(|e| PlatformError::Invalid(e.to_string()))?
            }
        };
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
            None => Keypair::from_seed_bytes(
                &Network::new(self.config.network.passphrase.clone()).root_secret_seed(),
            ),
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
