//! The patient's decision on a pending release.

use super::*;

impl Platform {
    /// The patient `email` approves (or rejects, as declined) the pending token.
    ///
    /// # Errors
    /// Not the owner, not pending (named by the contract).
    pub async fn consent(
        &self,
        email: &str,
        token: &str,
        approve: bool,
    ) -> Result<(), PlatformError> {
        self.consent_with(email, token, approve, RejectReason::Declined)
            .await
    }

    /// [`Platform::consent`] with the reason a rejection records on chain.
    ///
    /// # Errors
    /// Not the owner, not pending (named by the contract).
    pub async fn consent_with(
        &self,
        email: &str,
        token: &str,
        approve: bool,
        reason: RejectReason,
    ) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let id = parse_token(token)?;
        let patient = self.keypair_of(email).await?;
        let client = self.token_client(&d);
        if approve {
            client
                .approve_release(&format!("approve/{id}"), patient.signing_key(), id)
                .await
                .map_err(chain(format!("approving token {id}")))?;
        } else {
            client
                .reject_release(&format!("reject/{id}"), patient.signing_key(), id, reason)
                .await
                .map_err(chain(format!("rejecting token {id}")))?;
        }
        Ok(())
    }
}
