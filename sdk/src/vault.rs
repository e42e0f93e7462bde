//! Where the platform's master mnemonic lives, and custodial keys derived from it on demand.
//!
//! The vault holds one BIP-39 mnemonic (the phrase an operator can back up on paper). A
//! custodial account `i` is SEP-0005 `m/44'/148'/i'` of its seed: derived when a signature or
//! an unwrap is needed, zeroized when dropped, never stored. Three sources:
//! [`EnvVault`] and [`FileVault`] for local runs, `SecretsManagerVault` in production (cargo
//! feature `aws`, on by default).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use zeroize::Zeroizing;

use crate::keys::{derive_keypair, KeyError, Keypair, Mnemonic, Seed};

/// Environment variable [`EnvVault::default`] reads.
pub const DEFAULT_ENV_VAR: &str = "MEDIMINT_MASTER_MNEMONIC";

/// Why the master seed could not be produced. Messages say which source failed and how; they
/// never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The source has no value (unset variable, missing file, missing secret).
    #[error("no master mnemonic in {0}")]
    Missing(String),
    /// The key file can be read by other users.
    #[error("{path}: permissions {mode:o} let other users read the master mnemonic; run `chmod 600 {path}`")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading the source failed.
    #[error("cannot read the master mnemonic from {source_name}: {reason}")]
    Unreadable {
        /// Which source.
        source_name: String,
        /// Why (an I/O or service error message).
        reason: String,
    },
    /// The stored value is not a valid mnemonic.
    #[error("the master mnemonic in {source_name} is invalid: {error}")]
    Invalid {
        /// Which source.
        source_name: String,
        /// What is wrong with it.
        error: KeyError,
    },
    /// Deriving the account key failed (index out of range).
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A boxed future, so that `Vault` can be used as `dyn Vault`.
pub type VaultFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, VaultError>> + Send + 'a>>;

/// A source of the platform's master seed.
pub trait Vault: Send + Sync {
    /// The 64-byte master seed (BIP-39 seed of the stored mnemonic).
    fn master_seed(&self) -> VaultFuture<'_, Seed>;

    /// The custodial account key `m/44'/148'/index'`, derived now.
    fn custodial_keypair(&self, index: u32) -> VaultFuture<'_, Keypair> {
        Box::pin(async move {
            let seed = self.master_seed().await?;
            Ok(derive_keypair(&seed, index)?)
        })
    }
}

fn seed_from_phrase(phrase: &str, passphrase: &str, source_name: &str) -> Result<Seed, VaultError> {
    if phrase.trim().is_empty() {
        return Err(VaultError::Missing(source_name.to_string()));
    }
    let mnemonic = Mnemonic::parse(phrase).map_err(|error| VaultError::Invalid {
        source_name: source_name.to_string(),
        error,
    })?;
    Ok(mnemonic.to_seed(passphrase))
}

/// The mnemonic in an environment variable (local development and tests).
pub struct EnvVault {
    var: String,
    passphrase: Zeroizing<String>,
}

impl EnvVault {
    /// Reads the variable `var`.
    pub fn new(var: impl Into<String>) -> Self {
        Self {
            var: var.into(),
            passphrase: Zeroizing::new(String::new()),
        }
    }

    /// Uses a BIP-39 passphrase with the mnemonic.
    pub fn with_passphrase(mut self, passphrase: &str) -> Self {
        self.passphrase = Zeroizing::new(passphrase.to_string());
        self
    }
}

impl Default for EnvVault {
    fn default() -> Self {
        Self::new(DEFAULT_ENV_VAR)
    }
}

impl Vault for EnvVault {
    fn master_seed(&self) -> VaultFuture<'_, Seed> {
        Box::pin(async move {
            let name = format!("environment variable {}", self.var);
            let phrase = Zeroizing::new(std::env::var(&self.var).map_err(|e| match e {
                std::env::VarError::NotPresent => VaultError::Missing(name.clone()),
                std::env::VarError::NotUnicode(_) => VaultError::Unreadable {
                    source_name: name.clone(),
                    reason: "value is not UTF-8".into(),
                },
            })?);
            seed_from_phrase(&phrase, &self.passphrase, &name)
        })
    }
}

/// The mnemonic in a file readable only by its owner (mode 0600 or stricter on Unix).
pub struct FileVault {
    path: PathBuf,
    passphrase: Zeroizing<String>,
}

impl FileVault {
    /// Reads the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            passphrase: Zeroizing::new(String::new()),
        }
    }

    /// Uses a BIP-39 passphrase with the mnemonic.
    pub fn with_passphrase(mut self, passphrase: &str) -> Self {
        self.passphrase = Zeroizing::new(passphrase.to_string());
        self
    }
}

impl Vault for FileVault {
    fn master_seed(&self) -> VaultFuture<'_, Seed> {
        Box::pin(async move {
            let shown = self.path.display().to_string();
            let name = format!("file {shown}");
            let meta = std::fs::metadata(&self.path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => VaultError::Missing(name.clone()),
                _ => VaultError::Unreadable {
                    source_name: name.clone(),
                    reason: e.to_string(),
                },
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(VaultError::TooOpen { path: shown, mode });
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
            let phrase = Zeroizing::new(std::fs::read_to_string(&self.path).map_err(|e| {
                VaultError::Unreadable {
                    source_name: name.clone(),
                    reason: e.to_string(),
                }
            })?);
            seed_from_phrase(&phrase, &self.passphrase, &name)
        })
    }
}

/// The mnemonic as the `SecretString` of an AWS Secrets Manager secret (production). Fetched
/// on every call, so a rotation takes effect at once and nothing is cached in memory.
#[cfg(feature = "aws")]
pub struct SecretsManagerVault {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    passphrase: Zeroizing<String>,
}

#[cfg(feature = "aws")]
impl SecretsManagerVault {
    /// Uses an already configured client (tests point it at moto's server).
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            passphrase: Zeroizing::new(String::new()),
        }
    }

    /// A client configured from the environment (region, credentials, endpoint) the way every
    /// AWS SDK does it, e.g. inside a Lambda function.
    pub async fn from_env(secret_id: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(aws_sdk_secretsmanager::Client::new(&config), secret_id)
    }

    /// Uses a BIP-39 passphrase with the mnemonic.
    pub fn with_passphrase(mut self, passphrase: &str) -> Self {
        self.passphrase = Zeroizing::new(passphrase.to_string());
        self
    }
}

#[cfg(feature = "aws")]
impl Vault for SecretsManagerVault {
    fn master_seed(&self) -> VaultFuture<'_, Seed> {
        Box::pin(async move {
            use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
            let name = format!("AWS Secrets Manager secret {}", self.secret_id);
            let out = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .send()
                .await
                .map_err(|e| {
                    if e.code() == Some("ResourceNotFoundException") {
                        VaultError::Missing(name.clone())
                    } else {
                        VaultError::Unreadable {
                            source_name: name.clone(),
                            reason: DisplayErrorContext(&e).to_string(),
                        }
                    }
                })?;
            let phrase = Zeroizing::new(out.secret_string().unwrap_or_default().to_string());
            drop(out);
            seed_from_phrase(&phrase, &self.passphrase, &name)
        })
    }
}
