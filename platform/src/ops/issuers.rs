//! The issuer registry, as the admin manages it.

use super::*;

impl Platform {
    /// The on-chain commitment to an issuer's off-chain verification evidence (an NPI
    /// record, a licence number): SHA-256 over a label, the suite admin's address and the
    /// evidence, so equal evidence on two platforms gives different values and the chain
    /// never holds the evidence itself.
    ///
    /// # Errors
    /// The admin key cannot be derived.
    pub fn evidence_commitment(&self, evidence: &str) -> Result<[u8; 32], PlatformError> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"medimint/issuer-evidence/v1\0");
        h.update(self.admin_address()?.as_bytes());
        h.update([0]);
        h.update(evidence.as_bytes());
        Ok(h.finalize().into())
    }

    /// Registers an issuer: its account (custodial unless it brings an address) and its
    /// entry in the issuer registry. Returns the issuer's address.
    ///
    /// # Errors
    /// Invalid profile (named by the contract), chain or database failures.
    pub async fn add_issuer(&self, spec: &IssuerSpec) -> Result<String, PlatformError> {
        let d = self.deployment()?;
        let address = match &spec.address {
            Some(a) => {
                let Target::Address(a) = Target::parse(a)? else {
                    return Err(PlatformError::Invalid(format!("{a} is not a G-address")));
                };
                self.db
                    .insert_account(&Account {
                        email: normalize_email(&spec.email),
                        address: a.clone(),
                        custody: Custody::External,
                        hd_index: None,
                        created_at: medimint_storage::now(),
                    })
                    .await
                    .map_err(storage("recording the issuer"))?;
                a
            }
            None => self.ensure_custodial_account(&spec.email).await?.address,
        };
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        if registry
            .issuer(&address)
            .await
            .is_ok_and(|r| r.address == address)
        {
            return Ok(address);
        }
        let admin = self.operator(crate::ADMIN_INDEX)?;
        registry
            .add_issuer(
                &format!("issuer/add/{address}"),
                admin.signing_key(),
                &address,
                &spec.profile,
            )
            .await
            .map_err(chain("adding the issuer"))?;
        Ok(address)
    }

    /// Suspends, reinstates or removes an issuer (`action` = `suspend` | `reinstate` |
    /// `remove`).
    ///
    /// # Errors
    /// Unknown action; contract errors (not found, already suspended…).
    pub async fn set_issuer(&self, address: &str, action: &str) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        let admin = self.operator(crate::ADMIN_INDEX)?;
        let key = fresh_key(&format!("issuer/{action}/{address}"));
        let step = format!("{action} issuer {address}");
        match action {
            "suspend" => {
                registry
                    .suspend_issuer(&key, admin.signing_key(), address)
                    .await
            }
            "reinstate" => {
                registry
                    .reinstate_issuer(&key, admin.signing_key(), address)
                    .await
            }
            "remove" => {
                registry
                    .remove_issuer(&key, admin.signing_key(), address)
                    .await
            }
            other => {
                return Err(PlatformError::Invalid(format!(
                    "unknown issuer action {other}"
                )))
            }
        }
        .map_err(chain(step))?;
        Ok(())
    }

    /// Every registered issuer.
    ///
    /// # Errors
    /// Chain failures.
    pub async fn issuers(&self) -> Result<Vec<IssuerRecord>, PlatformError> {
        let d = self.deployment()?;
        let registry = IssuerRegistry::new(&self.relayer, d.issuer_registry.id.clone());
        let mut out = Vec::new();
        loop {
            let page = registry
                .issuers(u32::try_from(out.len()).unwrap_or(u32::MAX), ISSUERS_PAGE)
                .await
                .map_err(chain("listing issuers"))?;
            let n = page.len();
            out.extend(page);
            if n < ISSUERS_PAGE as usize {
                return Ok(out);
            }
        }
    }
}
