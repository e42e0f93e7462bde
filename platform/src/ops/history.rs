//! The audit trail from chain events.

use super::*;

impl Platform {
    /// The audit trail from chain events: every event of the suite, or those of one token,
    /// or those naming one address.
    ///
    /// # Errors
    /// RPC failures.
    pub async fn history(
        &self,
        token: Option<&str>,
        address: Option<&str>,
    ) -> Result<Vec<TrailEntry>, PlatformError> {
        let d = self.deployment()?;
        let token = token.map(parse_token).transpose()?;
        let latest = medimint_chain::Rpc::latest_ledger(self.rpc.as_ref())
            .await
            .map_err(chain("reading the latest ledger"))?;
        let start = latest.saturating_sub(HISTORY_LEDGERS - 1).max(1);
        let trail = read_trail(
            self.rpc.as_ref(),
            start,
            &[
                (d.issuer_registry.id.clone(), "issuer-registry"),
                (d.study_token.id.clone(), "study-token"),
            ],
        )
        .await
        .map_err(chain("reading events"))?;
        Ok(trail
            .into_iter()
            .filter(|e| token.is_none_or(|t| e.token_id == Some(t)))
            .filter(|e| address.is_none_or(|a| e.parties.iter().any(|p| p == a)))
            .collect())
    }
}
