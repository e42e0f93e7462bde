//! Custodial accounts: made on first use, keys derived when needed.

use super::*;

impl Platform {
    /// Makes (or finds) the account of `email`: a custodial key at a fresh HD index, its
    /// Stellar account created with sponsored reserves.
    ///
    /// # Errors
    /// Database or chain failures.
    pub async fn ensure_custodial_account(&self, email: &str) -> Result<Account, PlatformError> {
        let email = normalize_email(email);
        let account = match self
            .db
            .account_by_email(&email)
            .await
            .map_err(storage("reading the account"))?
        {
            Some(a) => a,
            None => {
                let index = self
                    .db
                    .allocate_hd_index()
                    .await
                    .map_err(storage("allocating a key index"))?;
                let kp = self.operator(index)?;
                self.db
                    .insert_account(&Account {
                        email: email.clone(),
                        address: kp.address(),
                        custody: Custody::Custodial,
                        hd_index: Some(index),
                        created_at: medimint_storage::now(),
                    })
                    .await
                    .map_err(storage("recording the account"))?
            }
        };
        if let (Custody::Custodial, Some(index)) = (account.custody, account.hd_index) {
            // The same sponsored creation the release pipeline uses for new patients.
            medimint_ingest::Chain::ensure_patient_account(&self.chain_adapter()?, index)
                .await
                .map_err(|source| PlatformError::Ingest {
                    step: "creating the account with sponsored reserves",
                    source,
                    hint: String::new(),
                })?;
        }
        Ok(account)
    }

    /// The custodial keypair of `email`'s account.
    ///
    /// # Errors
    /// No such account, or an external wallet (whose key the platform does not hold).
    pub async fn keypair_of(&self, email: &str) -> Result<Keypair, PlatformError> {
        let account = self
            .db
            .account_by_email(email)
            .await
            .map_err(storage("reading the account"))?
            .ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "no account for {email}; accounts are made by a release to them or a share with them"
                ))
            })?;
        match account.hd_index {
            Some(i) => self.operator(i),
            None => Err(PlatformError::Invalid(format!(
                "{email} uses an external wallet ({}); sign with that wallet instead",
                account.address
            ))),
        }
    }
}
