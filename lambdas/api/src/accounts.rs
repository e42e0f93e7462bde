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

/// Most addresses [`CachedAccounts`] remembers (then it starts again from empty).
const EMAILS_KEPT: usize = 10_000;

/// [`Accounts`] that remembers the email of each custodial address it has read. That pair
/// never changes: an account is inserted once (its address derived from its own HD index)
/// and never updated or deleted, so a remembered email cannot outlive its account. Only
/// found emails are kept: an address without a custodial account (an external wallet) may
/// still get one, and is read again every time. Every file of a download asks for the
/// caller's email: this saves the application database one read a request.
pub struct CachedAccounts<A> {
    inner: A,
    emails: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl<A> CachedAccounts<A> {
    /// `inner`'s emails, remembered.
    pub fn new(inner: A) -> Self {
        Self {
            inner,
            emails: std::sync::Mutex::default(),
        }
    }

    fn emails(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.emails.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl<A: Accounts> Accounts for CachedAccounts<A> {
    async fn custodial_address(&self, email: &str) -> Result<String, AccountsError> {
        self.inner.custodial_address(email).await
    }

    async fn email_of(&self, address: &str) -> Result<Option<String>, AccountsError> {
        if let Some(email) = self.emails().get(address) {
            return Ok(Some(email.clone()));
        }
        let found = self.inner.email_of(address).await?;
        if let Some(email) = &found {
            let mut emails = self.emails();
            if emails.len() >= EMAILS_KEPT {
                emails.clear();
            }
            emails.insert(address.to_owned(), email.clone());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// One custodial account, `GA…` ↔ `jane@example.org`, counting the reads.
    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
        external_gets_account: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl Accounts for Counting {
        async fn custodial_address(&self, _email: &str) -> Result<String, AccountsError> {
            Ok("GA".into())
        }

        async fn email_of(&self, address: &str) -> Result<Option<String>, AccountsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(match address {
                "GA" => Some("jane@example.org".into()),
                "GB" if self.external_gets_account.load(Ordering::SeqCst) => {
                    Some("bob@example.org".into())
                }
                _ => None,
            })
        }
    }

    #[tokio::test]
    async fn a_custodial_email_is_read_once_an_unknown_address_every_time() {
        let accounts = CachedAccounts::new(Counting::default());
        for _ in 0..3 {
            assert_eq!(
                accounts.email_of("GA").await.unwrap().as_deref(),
                Some("jane@example.org")
            );
        }
        assert_eq!(accounts.inner.reads.load(Ordering::SeqCst), 1);
        // No account yet: not remembered, so an account made later is found.
        assert_eq!(accounts.email_of("GB").await.unwrap(), None);
        accounts
            .inner
            .external_gets_account
            .store(true, Ordering::SeqCst);
        assert_eq!(
            accounts.email_of("GB").await.unwrap().as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(accounts.inner.reads.load(Ordering::SeqCst), 3);
        // Bounded: a full map starts again from empty.
        {
            let mut emails = accounts.emails();
            emails.clear();
            for i in 0..EMAILS_KEPT {
                emails.insert(format!("G{i}"), String::new());
            }
        }
        assert_eq!(
            accounts.email_of("GA").await.unwrap().as_deref(),
            Some("jane@example.org")
        );
        assert_eq!(accounts.emails().len(), 1);
    }
}
