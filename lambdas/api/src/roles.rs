//! Who may do what, read from the chain rather than trusted from a token: every signed-in
//! account is a patient; issuers and the admin are looked up per request through [`Roles`].
//! The platform implements it over the issuer registry (caching at most one ledger).

use async_trait::async_trait;

/// Why roles could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading roles from the chain failed: {0}")]
pub struct RolesError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The roles the chain grants an address.
#[async_trait]
pub trait Roles: Send + Sync {
    /// Whether `address` is an active issuer in the issuer registry.
    async fn is_issuer(&self, address: &str) -> Result<bool, RolesError>;
    /// Whether `address` is the suite's admin.
    async fn is_admin(&self, address: &str) -> Result<bool, RolesError>;
}

/// Fixed roles (feature `testutils`).
#[cfg(any(test, feature = "testutils"))]
#[derive(Debug, Default)]
pub struct FakeRoles {
    /// Active issuers.
    pub issuers: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The admin, if any.
    pub admin: std::sync::Mutex<Option<String>>,
}

#[cfg(any(test, feature = "testutils"))]
#[async_trait]
impl Roles for FakeRoles {
    async fn is_issuer(&self, address: &str) -> Result<bool, RolesError> {
        Ok(self.issuers.lock().expect("not poisoned").contains(address))
    }
    async fn is_admin(&self, address: &str) -> Result<bool, RolesError> {
        Ok(self.admin.lock().expect("not poisoned").as_deref() == Some(address))
    }
}
