//! The index and the indexer of a platform: the same wiring for `medimint up`, the Lambda
//! function and the tests.

use std::sync::Arc;

use medimint_platform::{Config, DatabaseConfig, Platform};
use medimint_storage::{DynamoIndex, Index, IndexStore, SqliteIndex};

use crate::{Contracts, Indexer, IndexerError, Settings, SuiteReads};

/// The index beside the platform's database: `index.sqlite3` in the data directory with
/// SQLite, the table `<table>-index` with DynamoDB (created if missing).
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_index(config: &Config) -> Result<Index, IndexerError> {
    let store: Arc<dyn IndexStore> = match &config.database {
        DatabaseConfig::Sqlite { path } => {
            let path = path
                .as_ref()
                .and_then(|p| p.parent().map(|d| d.join("index.sqlite3")))
                .unwrap_or_else(|| config.data_dir.join("index.sqlite3"));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    IndexerError::Invalid(format!("creating {}: {e}", dir.display()))
                })?;
            }
            Arc::new(SqliteIndex::open(&path).await?)
        }
        DatabaseConfig::Dynamodb { table, endpoint } => {
            let table = std::env::var("MEDIMINT_INDEX_TABLE")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| format!("{table}-index"));
            let store = DynamoIndex::from_env(table, endpoint.as_deref()).await;
            store.migrate().await?;
            Arc::new(store)
        }
    };
    Ok(Index::new(store))
}

/// The indexer of the platform's deployment, writing `index`.
///
/// # Errors
/// The suite is not deployed.
pub fn indexer(
    platform: &Platform,
    index: Index,
    settings: Settings,
) -> Result<Indexer, IndexerError> {
    let d = platform.deployment()?;
    let contracts = Contracts {
        study_token: d.study_token.id.clone(),
        issuer_registry: d.issuer_registry.id.clone(),
    };
    let reads = SuiteReads::new(
        platform.relayer().clone(),
        contracts.study_token.clone(),
        contracts.issuer_registry.clone(),
    );
    Ok(Indexer::new(
        platform.rpc().clone(),
        Arc::new(reads),
        index,
        contracts,
        settings,
    ))
}
