//! Sharing: grants, revokes and who may see a token.

use super::*;

impl Platform {
    /// The address of a share's grantee: an address as given; an email's account, made
    /// custodial for a new person on a share (`create`), refused on a revoke when there is
    /// none.
    pub(crate) async fn grantee_address(
        &self,
        target: &Target,
        create: bool,
    ) -> Result<String, PlatformError> {
        Ok(match target {
            Target::Address(a) => a.clone(),
            Target::Email(e) if create => self.ensure_custodial_account(e).await?.address,
            Target::Email(e) => {
                self.db
                    .account_by_email(e)
                    .await
                    .map_err(storage("reading the account"))?
                    .ok_or_else(|| PlatformError::Invalid(format!("no account for {e}")))?
                    .address
            }
        })
    }

    /// `email` (owner or sharer) grants `role` on the token to `to` until `until` (Unix
    /// seconds), and wraps the study key to the grantee. Returns the grantee's address.
    ///
    /// # Errors
    /// Contract refusals (not authorized, sharer granting sharer, expiry beyond the
    /// granter's…); storage failures.
    pub async fn share(
        &self,
        email: &str,
        token: &str,
        to: &Target,
        role: Role,
        until: Option<u64>,
    ) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let granter = self.keypair_of(email).await?;
        let grantee = self.grantee_address(to, true).await?;
        self.token_client(&d)
            .grant(
                &fresh_key(&format!("grant/{}/{grantee}", record.id)),
                granter.signing_key(),
                record.id,
                &grantee,
                role,
                until,
            )
            .await
            .map_err(chain(format!("granting {role:?} on token {}", record.id)))?;
        let sid = study_of(&record)?;
        share_key(self.store.as_ref(), &sid, &granter, &grantee)
            .await
            .map_err(PlatformError::Invalid)?;
        Ok(grantee)
    }

    /// `email` revokes `from`'s grant on the token and removes their wrapped key.
    ///
    /// # Errors
    /// `GrantNotFound`, `NotGranter`.
    pub async fn revoke(
        &self,
        email: &str,
        token: &str,
        from: &Target,
    ) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let revoker = self.keypair_of(email).await?;
        let grantee = self.grantee_address(from, false).await?;
        self.token_client(&d)
            .revoke(
                &fresh_key(&format!("revoke/{}/{grantee}", record.id)),
                revoker.signing_key(),
                record.id,
                &grantee,
            )
            .await
            .map_err(chain(format!("revoking {grantee} on token {}", record.id)))?;
        // The grantee's next download reads its role from the chain again (ops/files.rs).
        self.forget_opened(record.id);
        let sid = study_of(&record)?;
        self.store
            .delete(&wrapped_key_key(&sid, &grantee))
            .await
            .map_err(storage("removing the grantee's wrapped key"))?;
        Ok(grantee)
    }

    /// Who may see the token.
    ///
    /// # Errors
    /// `TokenNotFound`.
    pub async fn access(&self, token: &str) -> Result<AccessReport, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let mut grants = Vec::new();
        loop {
            let page = self
                .token_client(&d)
                .grants(
                    record.id,
                    u32::try_from(grants.len()).unwrap_or(u32::MAX),
                    50,
                )
                .await
                .map_err(chain("listing grants"))?;
            let n = page.len();
            grants.extend(page.into_iter().map(SharedWith::from));
            if n < 50 {
                break;
            }
        }
        Ok(AccessReport {
            token_id: record.id,
            status: record.status,
            owner: record.owner,
            issuer: record.issuer,
            file_count: record.file_count,
            grants,
        })
    }
}
