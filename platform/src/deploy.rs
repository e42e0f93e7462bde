//! Deploying the suite (issuer-registry, study-token, registry) through the relayer, with
//! deterministic salts: the contract ids follow from the network, the admin's address and
//! the salt alone, so they are known before anything is submitted (the relayer's policy is
//! built from them) and a second deployment finds the first.

use std::path::Path;

use medimint_chain::scval::arg;
pub use medimint_chain::suite::{
    suite_policy, SuitePlan, ISSUER_REGISTRY_FUNCTIONS, STUDY_TOKEN_FUNCTIONS,
};
use medimint_chain::suite::{ISSUER_REGISTRY_SALT, REGISTRY_SALT, STUDY_TOKEN_SALT};
use medimint_chain::{tx, Relayer, Signer};
use serde::{Deserialize, Serialize};
use stellar_xdr::ScVal;

/// The study token's name and symbol.
const TOKEN_NAME: &str = "MediMint Study";
const TOKEN_SYMBOL: &str = "MMS";

/// A deployment went wrong; names the step.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A chain call failed.
    #[error("deploy: {step}: {source}")]
    Chain {
        /// The step.
        step: String,
        /// Why.
        source: medimint_chain::Error,
    },
    /// The deployment file could not be read or written.
    #[error("deployment file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// One deployed contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRef {
    /// Its `C…` id.
    pub id: String,
    /// Hex SHA-256 of its WASM.
    pub wasm_hash: String,
}

/// Where the suite lives: written to a JSON file that the other commands read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The network passphrase.
    pub network_passphrase: String,
    /// The Stellar RPC URL.
    pub rpc_url: String,
    /// The admin's `G…` address (deployer of every contract).
    pub admin: String,
    /// The issuer registry.
    pub issuer_registry: ContractRef,
    /// The study token.
    pub study_token: ContractRef,
    /// The suite registry.
    pub registry: ContractRef,
}

impl Deployment {
    /// The deployment at the suite's deterministic ids, as `plan` computes them, with the
    /// hashes of the WASM this code deploys (what is there unless it was upgraded since).
    pub fn planned(plan: &SuitePlan, network_passphrase: &str, rpc_url: &str, admin: &str) -> Self {
        let contract = |id: &str, wasm: &[u8]| ContractRef {
            id: id.to_owned(),
            wasm_hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(wasm)),
        };
        Self {
            network_passphrase: network_passphrase.to_owned(),
            rpc_url: rpc_url.to_owned(),
            admin: admin.to_owned(),
            issuer_registry: contract(
                &plan.issuer_registry,
                medimint_contract_wasm::ISSUER_REGISTRY,
            ),
            study_token: contract(&plan.study_token, medimint_contract_wasm::STUDY_TOKEN),
            registry: contract(&plan.registry, medimint_contract_wasm::REGISTRY),
        }
    }

    /// Writes the deployment as pretty JSON.
    ///
    /// # Errors
    /// [`DeployError::File`].
    pub fn write(&self, path: &Path) -> Result<(), DeployError> {
        let file_err = |message: String| DeployError::File {
            path: path.display().to_string(),
            message,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| file_err(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| file_err(e.to_string()))
    }

    /// Reads a deployment written by [`Deployment::write`].
    ///
    /// # Errors
    /// [`DeployError::File`] if missing or malformed.
    pub fn read(path: &Path) -> Result<Self, DeployError> {
        let file_err = |message: String| DeployError::File {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| file_err(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| file_err(e.to_string()))
    }
}

/// Deploys whatever of the suite is missing, as `admin`, through `relayer` (whose policy
/// must allow deployment), and returns where it is. Idempotent: a contract that already
/// answers at its planned id is left alone.
///
/// # Errors
/// [`DeployError::Chain`] naming the step.
pub async fn deploy_suite(
    relayer: &Relayer,
    admin: &dyn Signer,
    rpc_url: &str,
) -> Result<Deployment, DeployError> {
    let network = relayer.network().clone();
    let admin_address = admin.address();
    let plan = SuitePlan::new(&network, &admin_address).map_err(|source| DeployError::Chain {
        step: "planning contract ids".into(),
        source,
    })?;
    let admin_arg = || {
        arg::address(&admin_address).map_err(|source| DeployError::Chain {
            step: "encoding the admin address".into(),
            source,
        })
    };
    let issuer_registry = deploy_one(
        relayer,
        admin,
        "issuer-registry",
        medimint_contract_wasm::ISSUER_REGISTRY,
        ISSUER_REGISTRY_SALT,
        &plan.issuer_registry,
        "issuer_count",
        vec![admin_arg()?],
    )
    .await?;
    let token_args = vec![
        admin_arg()?,
        arg::address(&plan.issuer_registry).map_err(|source| DeployError::Chain {
            step: "encoding the registry address".into(),
            source,
        })?,
        arg::string(TOKEN_NAME).map_err(|source| DeployError::Chain {
            step: "encoding the token name".into(),
            source,
        })?,
        arg::string(TOKEN_SYMBOL).map_err(|source| DeployError::Chain {
            step: "encoding the token symbol".into(),
            source,
        })?,
    ];
    let study_token = deploy_one(
        relayer,
        admin,
        "study-token",
        medimint_contract_wasm::STUDY_TOKEN,
        STUDY_TOKEN_SALT,
        &plan.study_token,
        "name",
        token_args,
    )
    .await?;
    let registry = deploy_one(
        relayer,
        admin,
        "registry",
        medimint_contract_wasm::REGISTRY,
        REGISTRY_SALT,
        &plan.registry,
        "admin",
        vec![admin_arg()?],
    )
    .await?;
    Ok(Deployment {
        network_passphrase: network.passphrase().to_owned(),
        rpc_url: rpc_url.to_owned(),
        admin: admin_address,
        issuer_registry,
        study_token,
        registry,
    })
}

/// Uploads `wasm` and creates the contract at `planned` unless `probe` (a read-only
/// function) already answers there.
#[allow(clippy::too_many_arguments)]
async fn deploy_one(
    relayer: &Relayer,
    admin: &dyn Signer,
    name: &str,
    wasm: &[u8],
    salt: &[u8],
    planned: &str,
    probe: &str,
    args: Vec<ScVal>,
) -> Result<ContractRef, DeployError> {
    let hash = tx::wasm_hash(wasm);
    let out = ContractRef {
        id: planned.to_owned(),
        wasm_hash: hex::encode(hash),
    };
    if relayer.read(planned, probe, vec![]).await.is_ok() {
        return Ok(out);
    }
    let chain_err = |step: String| move |source| DeployError::Chain { step, source };
    let admin_address = admin.address();
    let upload = tx::upload_wasm(wasm).map_err(chain_err(format!("building the {name} upload")))?;
    relayer
        .submit(
            &format!("deploy/{planned}/upload/{}", out.wasm_hash),
            &admin_address,
            upload,
            &[],
        )
        .await
        .map_err(chain_err(format!("uploading the {name} WASM")))?;
    let create = tx::create_contract(&admin_address, hash, tx::salt(salt), args)
        .map_err(chain_err(format!("building the {name} creation")))?;
    relayer
        .submit(
            &format!("deploy/{planned}/create"),
            &admin_address,
            create,
            &[admin],
        )
        .await
        .map_err(chain_err(format!("creating the {name} contract")))?;
    Ok(out)
}
