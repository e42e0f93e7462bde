//! The API over the platform (`medimint-platform`): custodial accounts from the application
//! database, roles read from the chain (cached for at most one ledger), and the mapping of
//! the platform's typed errors to problems. The studies and issuers routes call the platform
//! through [`AppState::platform`](crate::state::AppState::platform).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use medimint_chain::clients::{IssuerRegistry, StudyToken};
use medimint_platform::{ErrorKind, Platform, PlatformError};

use crate::accounts::{Accounts, AccountsError};
use crate::error::ApiError;
use crate::roles::{Roles, RolesError};

/// How long a role read from the chain is believed: one ledger (5 s on the public networks).
const ROLE_CACHE: Duration = Duration::from_secs(5);

/// Maps a platform failure to the problem a caller sees. Details never carry PHI: the
/// platform's messages name ids, addresses and what to do next only.
pub fn from_platform(e: PlatformError) -> ApiError {
    let contract = e.contract_error();
    let detail = match contract {
        Some((code, name)) => format!("{name} (contract error {code}): {e}"),
        None => e.to_string(),
    };
    match (e.kind(), &e) {
        (_, PlatformError::InvalidInput { field, message }) => {
            ApiError::invalid(*field, message.clone())
        }
        (ErrorKind::Invalid, _) => ApiError::invalid("body", detail),
        (ErrorKind::NotFound, _) => ApiError::NotFound(detail),
        (ErrorKind::Forbidden, _) => ApiError::Forbidden(detail),
        (ErrorKind::Conflict, _) => ApiError::Conflict(detail),
        (ErrorKind::Gone, _) => ApiError::StudyErased(detail),
        (ErrorKind::Unavailable, _) => ApiError::unavailable("the platform", e),
        (ErrorKind::Setup, _) => ApiError::Internal(Box::new(e)),
    }
}

/// [`Accounts`] over the platform's database: an email's custodial account is made (with a
/// sponsored Stellar account) on first sign-in.
pub struct PlatformAccounts(pub Arc<Platform>);

#[async_trait]
impl Accounts for PlatformAccounts {
    async fn custodial_address(&self, email: &str) -> Result<String, AccountsError> {
        self.0
            .ensure_custodial_account(email)
            .await
            .map(|a| a.address)
            .map_err(|e| AccountsError(Box::new(e)))
    }

    async fn email_of(&self, address: &str) -> Result<Option<String>, AccountsError> {
        let account = self
            .0
            .db()
            .account_by_address(address)
            .await
            .map_err(|e| AccountsError(Box::new(e)))?;
        Ok(account
            .filter(|a| a.custody == medimint_storage::Custody::Custodial)
            .map(|a| a.email))
    }
}

/// [`Roles`] from the chain: an issuer is trusted in the issuer registry now, the admin is
/// the study token's admin. Each answer is kept for at most [`ROLE_CACHE`].
pub struct PlatformRoles {
    platform: Arc<Platform>,
    cache: Mutex<HashMap<(String, bool), (bool, Instant)>>,
}

impl PlatformRoles {
    /// Roles of this platform's suite.
    pub fn new(platform: Arc<Platform>) -> Self {
        Self {
            platform,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, address: &str, admin: bool) -> Option<bool> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&(address.to_owned(), admin))
            .filter(|(_, at)| at.elapsed() < ROLE_CACHE)
            .map(|(v, _)| *v)
    }

    fn remember(&self, address: &str, admin: bool, value: bool) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < ROLE_CACHE);
        }
        cache.insert((address.to_owned(), admin), (value, Instant::now()));
    }
}

#[async_trait]
impl Roles for PlatformRoles {
    async fn is_issuer(&self, address: &str) -> Result<bool, RolesError> {
        if let Some(v) = self.cached(address, false) {
            return Ok(v);
        }
        let d = self
            .platform
            .deployment()
            .map_err(|e| RolesError(Box::new(e)))?;
        let v = IssuerRegistry::new(self.platform.relayer(), d.issuer_registry.id)
            .is_trusted(address)
            .await
            .map_err(|e| RolesError(Box::new(e)))?;
        self.remember(address, false, v);
        Ok(v)
    }

    async fn is_admin(&self, address: &str) -> Result<bool, RolesError> {
        if let Some(v) = self.cached(address, true) {
            return Ok(v);
        }
        let d = self
            .platform
            .deployment()
            .map_err(|e| RolesError(Box::new(e)))?;
        let admin = StudyToken::new(self.platform.relayer(), d.study_token.id)
            .admin()
            .await
            .map_err(|e| RolesError(Box::new(e)))?;
        let v = admin == address;
        self.remember(address, true, v);
        Ok(v)
    }
}
