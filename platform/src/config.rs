//! The configuration of a MediMint platform: one TOML file, every value overridable by an
//! environment variable, defaults that give the embedded local stack under one data
//! directory (`docs/configuration.md` lists every key).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The local devnet's default RPC port.
pub const DEFAULT_DEVNET_PORT: u16 = 8000;
/// The passphrase of the devnet and of the Stellar quickstart's local network.
pub const STANDALONE_PASSPHRASE: &str = "Standalone Network ; February 2017";

/// Most channel accounts a relayer may use (each is one transaction in flight). One bound
/// for every binary: the CLI, `medimint up`, the API and the ingest function.
pub const MAX_CHANNELS: u32 = 64;

/// The variables a Lambda function must be given ([`Config::for_lambda`]); it reads no file.
pub const LAMBDA_REQUIRED: &[&str] = &[
    "MEDIMINT_BUCKET",
    "MEDIMINT_TABLE",
    "MEDIMINT_RPC_URL",
    "MEDIMINT_NETWORK_PASSPHRASE",
    "MEDIMINT_SEED_SECRET_ID",
];

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML of this shape.
    #[error("the configuration file {path} is invalid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (key and line, from the TOML parser).
        reason: String,
    },
    /// Variables a Lambda function needs are missing or bad (all of them named at once).
    #[error(
        "the function is not configured: {0} (infra/template.yaml sets them; \
         docs/configuration.md lists them)"
    )]
    Lambda(String),
    /// An environment override has a bad value.
    #[error("environment variable {var}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Everything a platform needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where local state lives (devnet ledger, objects, database, seed, deployment file).
    pub data_dir: PathBuf,
    /// The Stellar network.
    pub network: NetworkConfig,
    /// Object storage.
    pub storage: StorageConfig,
    /// The application database.
    pub database: DatabaseConfig,
    /// Where the platform's master mnemonic comes from.
    pub vault: VaultConfig,
    /// Transaction relaying.
    pub relayer: RelayerSettings,
    /// Where the suite's contract ids come from.
    pub deployment: DeploymentConfig,
}

/// Where the suite's contract ids come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeploymentConfig {
    /// The file `medimint deploy` (or `up`) writes (default `<data_dir>/deployment.json`).
    File {
        /// The file.
        path: Option<PathBuf>,
    },
    /// Computed from the network and the admin key: the suite is deployed at deterministic
    /// ids (`medimint_chain::suite`), so a host with no data directory (a Lambda) needs
    /// nothing but the seed and the network (`MEDIMINT_DEPLOYMENT=derived`).
    Derived,
}

/// The Stellar network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Stellar RPC endpoint.
    pub rpc_url: String,
    /// Network passphrase (checked against the RPC's `getNetwork`).
    pub passphrase: String,
    /// Secret key (`S…`) of an account that funds the operator accounts; by default the
    /// root account of a standalone network (the devnet's and the quickstart's).
    pub funder_secret: Option<String>,
}

/// Object storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StorageConfig {
    /// A local directory (default `<data_dir>/objects`).
    Local {
        /// The directory.
        dir: Option<PathBuf>,
    },
    /// An S3 bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// A non-AWS endpoint (moto, MinIO); AWS otherwise.
        endpoint: Option<String>,
    },
}

/// The application database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatabaseConfig {
    /// SQLite (default `<data_dir>/medimint.sqlite3`).
    Sqlite {
        /// The file.
        path: Option<PathBuf>,
    },
    /// A DynamoDB table (created by `migrate` if missing).
    Dynamodb {
        /// The table.
        table: String,
        /// A non-AWS endpoint (moto); AWS otherwise.
        endpoint: Option<String>,
    },
}

/// Where the master mnemonic comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultConfig {
    /// A file readable only by its owner (default `<data_dir>/seed`, created on first use
    /// of the local stack).
    File {
        /// The file.
        path: Option<PathBuf>,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
    /// AWS Secrets Manager.
    SecretsManager {
        /// The secret's id or ARN.
        secret_id: String,
    },
}

/// Transaction relaying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayerSettings {
    /// Channel accounts (transactions in flight at once), 1..=[`MAX_CHANNELS`].
    pub channels: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            network: NetworkConfig::default(),
            storage: StorageConfig::Local { dir: None },
            database: DatabaseConfig::Sqlite { path: None },
            vault: VaultConfig::File { path: None },
            relayer: RelayerSettings::default(),
            deployment: DeploymentConfig::File { path: None },
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            rpc_url: format!("http://127.0.0.1:{DEFAULT_DEVNET_PORT}"),
            passphrase: STANDALONE_PASSPHRASE.into(),
            funder_secret: None,
        }
    }
}

impl Default for RelayerSettings {
    fn default() -> Self {
        Self { channels: 2 }
    }
}

/// `$MEDIMINT_DATA_DIR`, else `$XDG_DATA_HOME/medimint`, else `~/.local/share/medimint`,
/// else `./.medimint`.
fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("medimint");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/medimint"),
        None => PathBuf::from(".medimint"),
    }
}

/// The environment variables that override the file, with the key each one sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("MEDIMINT_DATA_DIR", "data_dir"),
    ("MEDIMINT_RPC_URL", "network.rpc_url"),
    ("MEDIMINT_NETWORK_PASSPHRASE", "network.passphrase"),
    ("MEDIMINT_FUNDER_SECRET", "network.funder_secret"),
    ("MEDIMINT_BUCKET", "storage = s3, storage.bucket"),
    (
        "MEDIMINT_S3_ENDPOINT",
        "storage.endpoint (with MEDIMINT_BUCKET)",
    ),
    ("MEDIMINT_TABLE", "database = dynamodb, database.table"),
    (
        "MEDIMINT_DYNAMODB_ENDPOINT",
        "database.endpoint (with MEDIMINT_TABLE)",
    ),
    (
        "MEDIMINT_SEED_SECRET_ID",
        "vault = secrets_manager, vault.secret_id",
    ),
    ("MEDIMINT_MNEMONIC_VAR", "vault = env, vault.var"),
    ("MEDIMINT_CHANNELS", "relayer.channels"),
    (
        "MEDIMINT_DEPLOYMENT",
        "deployment: `derived`, or the deployment file's path",
    ),
];

impl Config {
    /// Reads `path` if given (an error if it is missing), else `<data_dir>/medimint.toml`
    /// if it exists, else the defaults; then applies the environment overrides.
    ///
    /// # Errors
    /// An unreadable or invalid file, or a bad override.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(path, |k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`Config::load`] with the environment given as a lookup function (for tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let data_dir = env("MEDIMINT_DATA_DIR").map(PathBuf::from);
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let dir = data_dir.clone().unwrap_or_else(default_data_dir);
                Some(dir.join("medimint.toml")).filter(|p| p.exists())
            }
        };
        let mut config = match &file {
            Some(p) => Self::parse_file(p)?,
            None => Self::default(),
        };
        if let Some(d) = data_dir {
            config.data_dir = d;
        }
        config.apply_env(&env)?;
        Ok(config)
    }

    fn parse_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| ConfigError::Invalid {
            path: shown,
            reason,
        })
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The parser's message (it names the key and line).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The configuration as TOML (what `medimint config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("MEDIMINT_RPC_URL") {
            self.network.rpc_url = v;
        }
        if let Some(v) = env("MEDIMINT_NETWORK_PASSPHRASE") {
            self.network.passphrase = v;
        }
        if let Some(v) = env("MEDIMINT_FUNDER_SECRET") {
            self.network.funder_secret = Some(v);
        }
        if let Some(bucket) = env("MEDIMINT_BUCKET") {
            self.storage = StorageConfig::S3 {
                bucket,
                endpoint: env("MEDIMINT_S3_ENDPOINT"),
            };
        }
        if let Some(table) = env("MEDIMINT_TABLE") {
            self.database = DatabaseConfig::Dynamodb {
                table,
                endpoint: env("MEDIMINT_DYNAMODB_ENDPOINT"),
            };
        }
        if let Some(secret_id) = env("MEDIMINT_SEED_SECRET_ID") {
            self.vault = VaultConfig::SecretsManager { secret_id };
        } else if let Some(var) = env("MEDIMINT_MNEMONIC_VAR") {
            self.vault = VaultConfig::Env { var };
        }
        if let Some(v) = env("MEDIMINT_CHANNELS") {
            self.relayer.channels = v.parse().map_err(|_| ConfigError::Env {
                var: "MEDIMINT_CHANNELS",
                reason: format!("{v:?} is not a number"),
            })?;
        }
        if !(1..=MAX_CHANNELS).contains(&self.relayer.channels) {
            return Err(ConfigError::Env {
                var: "MEDIMINT_CHANNELS",
                reason: format!(
                    "relayer.channels is {}; it must be 1 to {MAX_CHANNELS}",
                    self.relayer.channels
                ),
            });
        }
        if let Some(v) = env("MEDIMINT_DEPLOYMENT") {
            self.deployment = if v == "derived" {
                DeploymentConfig::Derived
            } else {
                DeploymentConfig::File {
                    path: Some(PathBuf::from(v)),
                }
            };
        }
        Ok(())
    }

    /// A Lambda function's configuration: the defaults, then the environment through `get`
    /// (no file is read), with the suite's ids derived unless `MEDIMINT_DEPLOYMENT` says
    /// otherwise. Every variable of [`LAMBDA_REQUIRED`] must be set.
    ///
    /// # Errors
    /// [`ConfigError::Lambda`] naming every missing or bad variable at once.
    pub fn for_lambda(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut problems: Vec<String> = LAMBDA_REQUIRED
            .iter()
            .filter(|name| get(name).is_none())
            .map(|name| format!("{name} is not set"))
            .collect();
        let mut config = Self {
            data_dir: PathBuf::from("/tmp/medimint"),
            deployment: DeploymentConfig::Derived,
            ..Self::default()
        };
        if let Err(e) = config.apply_env(&get) {
            problems.push(e.to_string());
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Lambda(problems.join("; ")))
        }
    }

    /// The deployment file the commands share.
    pub fn deployment_path(&self) -> PathBuf {
        match &self.deployment {
            DeploymentConfig::File { path: Some(p) } => p.clone(),
            _ => self.data_dir.join("deployment.json"),
        }
    }

    /// Where releases that kept failing transiently are dead-lettered (one JSON per release,
    /// `docs/ingest.md`).
    pub fn dead_letter_dir(&self) -> PathBuf {
        self.data_dir.join("dead-letters")
    }

    /// Where the local devnet keeps its ledger.
    pub fn devnet_dir(&self) -> PathBuf {
        self.data_dir.join("devnet")
    }

    /// The local object directory, if storage is local.
    pub fn local_objects_dir(&self) -> Option<PathBuf> {
        match &self.storage {
            StorageConfig::Local { dir } => {
                Some(dir.clone().unwrap_or_else(|| self.data_dir.join("objects")))
            }
            StorageConfig::S3 { .. } => None,
        }
    }

    /// The mnemonic file, if the vault is a file.
    pub fn seed_file(&self) -> Option<PathBuf> {
        match &self.vault {
            VaultConfig::File { path } => {
                Some(path.clone().unwrap_or_else(|| self.data_dir.join("seed")))
            }
            _ => None,
        }
    }

    /// Whether the RPC URL is on this machine (then the local stack may start a devnet).
    pub fn is_local_network(&self) -> bool {
        let url = self.network.rpc_url.as_str();
        url.contains("://127.0.0.1") || url.contains("://localhost")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_are_the_embedded_local_stack() {
        let c = Config::load_with(None, env_of(&[("MEDIMINT_DATA_DIR", "/tmp/mm")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/mm"));
        assert_eq!(c.network.rpc_url, "http://127.0.0.1:8000");
        assert_eq!(c.network.passphrase, STANDALONE_PASSPHRASE);
        assert_eq!(
            c.local_objects_dir(),
            Some(PathBuf::from("/tmp/mm/objects"))
        );
        assert_eq!(c.seed_file(), Some(PathBuf::from("/tmp/mm/seed")));
        assert_eq!(
            c.deployment_path(),
            PathBuf::from("/tmp/mm/deployment.json")
        );
        assert!(c.is_local_network());
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            r#"
data_dir = "/srv/medimint"
[network]
rpc_url = "https://soroban-testnet.stellar.org"
passphrase = "Test SDF Network ; September 2015"
[storage]
kind = "s3"
bucket = "studies"
[database]
kind = "dynamodb"
table = "medimint"
[vault]
kind = "secrets_manager"
secret_id = "medimint/seed"
[relayer]
channels = 4
"#,
        )
        .unwrap();
        let c = Config::load_with(Some(&path), env_of(&[])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/medimint"));
        assert_eq!(
            c.storage,
            StorageConfig::S3 {
                bucket: "studies".into(),
                endpoint: None
            }
        );
        assert_eq!(c.relayer.channels, 4);
        assert!(!c.is_local_network());
        assert_eq!(c.seed_file(), None);
        // The environment wins over the file.
        let c = Config::load_with(
            Some(&path),
            env_of(&[
                ("MEDIMINT_RPC_URL", "http://localhost:9"),
                ("MEDIMINT_TABLE", "other"),
                ("MEDIMINT_DYNAMODB_ENDPOINT", "http://127.0.0.1:5000"),
                ("MEDIMINT_CHANNELS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(c.network.rpc_url, "http://localhost:9");
        assert_eq!(
            c.database,
            DatabaseConfig::Dynamodb {
                table: "other".into(),
                endpoint: Some("http://127.0.0.1:5000".into())
            }
        );
        assert_eq!(c.relayer.channels, 3);
        // Round trip through TOML.
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn bad_input_is_named() {
        let err = Config::parse("[network]\nrpc = 1\n").unwrap_err();
        assert!(err.contains("rpc"), "{err}");
        let err = Config::load_with(None, env_of(&[("MEDIMINT_CHANNELS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MEDIMINT_CHANNELS") && err.contains("many"),
            "{err}"
        );
        let err = Config::load_with(None, env_of(&[("MEDIMINT_CHANNELS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 to 64"), "{err}");
        let missing = Path::new("/nonexistent/medimint.toml");
        let err = Config::load_with(Some(missing), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/medimint.toml"), "{err}");
    }
}
