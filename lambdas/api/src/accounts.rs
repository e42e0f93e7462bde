//! Custodial accounts as sign-in sees them: the address of an email and back. The platform
//! implements [`Accounts`] over the application database (accounts are created with an HD
//! index from the vault's seed).

use async_trait::async_trait;

/// Why the accounts could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("the account directory failed: {0}")]
pub struct AccountsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Email ↔ custodial address.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// The custodial `G…` address of `email` (normalised: trimmed, lower case), creating the
    /// account if it has none.
    async fn custodial_address(&self, email: &str) -> Result<String, AccountsError>;
    /// The email of a custodial address; `None` for an external wallet.
    async fn email_of(&self, address: &str) -> Result<Option<String>, AccountsError>;
}

/// Accounts in memory, each a fresh random key (feature `testutils`).
#[cfg(any(test, feature = "testutils"))]
#[derive(Debug, Default)]
pub struct MemoryAccounts {
    by_email: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

#[cfg(any(test, feature = "testutils"))]
#[async_trait]
impl Accounts for MemoryAccounts {
    async fn custodial_address(&self, email: &str) -> Result<String, AccountsError> {
        let mut map = self.by_email.lock().expect("not poisoned");
        Ok(map
            .entry(email.to_string())
            .or_insert_with(|| {
                let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                stellar_strkey::ed25519::PublicKey(key.verifying_key().to_bytes()).to_string()
            })
            .clone())
    }

    async fn email_of(&self, address: &str) -> Result<Option<String>, AccountsError> {
        let map = self.by_email.lock().expect("not poisoned");
        Ok(map
            .iter()
            .find(|(_, a)| a.as_str() == address)
            .map(|(e, _)| e.clone()))
    }
}
