//! Deploying the suite and recording where it lives.

use super::*;

impl Platform {
    /// Deploys the suite (idempotent: contracts already there are kept) after making sure
    /// the operator accounts exist; writes the deployment file.
    ///
    /// # Errors
    /// Funding or deployment failures.
    pub async fn deploy(&self) -> Result<Deployment, PlatformError> {
        self.ensure_operators().await?;
        let admin = self.operator(crate::ADMIN_INDEX)?;
        if self
            .rpc
            .account_sequence(&admin.address())
            .await
            .map_err(chain("looking up the admin account"))?
            .is_none()
        {
            self.relayer
                .create_sponsored_account("platform/admin-account", admin.signing_key())
                .await
                .map_err(chain("creating the admin account"))?;
        }
        let d = deploy_suite(
            &self.relayer,
            admin.signing_key(),
            &self.config.network.rpc_url,
        )
        .await?;
        if d.study_token.id != self.plan.study_token {
            return Err(PlatformError::Invalid(
                "the deployed study token differs from the planned id".into(),
            ));
        }
        std::fs::create_dir_all(&self.config.data_dir).map_err(|source| PlatformError::Io {
            step: format!(
                "creating the data directory {}",
                self.config.data_dir.display()
            ),
            source,
        })?;
        d.write(&self.config.deployment_path())?;
        let _ = self.deployment.set(d.clone());
        Ok(d)
    }
}
