//! What an external wallet needs to read a study itself: its wrapped study key (only the
//! wallet's private key opens it) and where the encrypted objects are. The platform never
//! holds a wallet user's key, so it hands over ciphertext only.

use medimint_chain::clients::{IssuerRegistry, StudyToken};
use medimint_ingest::layout::{metadata_key, study_id, wrapped_key_key};
use medimint_storage::{ObjectInfo, StorageError};

use crate::{chain, storage, Platform, PlatformError};

/// Largest wrapped key read (an HPKE-sealed 32-byte key is far smaller).
const MAX_WRAPPED_KEY: u64 = 4096;

/// A study's key, wrapped to one address, and its encrypted objects.
#[derive(Debug, Clone)]
pub struct WrappedStudyKey {
    /// The token.
    pub token_id: u32,
    /// The study id (objects live under `studies/<study-id>/`).
    pub study_id: String,
    /// The address the key is wrapped to.
    pub address: String,
    /// The sealed study key (HPKE to the address's X25519 form; docs/formats).
    pub wrapped_key: Vec<u8>,
    /// The encrypted metadata object's CID and key.
    pub metadata_cid: String,
    /// The metadata object's key (`meta/<cid>`).
    pub metadata_key: String,
    /// Every encrypted file object (`studies/<study-id>/files/<sha256>`).
    pub files: Vec<ObjectInfo>,
}

impl Platform {
    /// The study key wrapped to `address`, for a caller who may read the study now: its
    /// owner, or a holder of a live role on an active study (an issuer while trusted).
    ///
    /// # Errors
    /// [`PlatformError::NotFound`] for a study the address may not see;
    /// [`PlatformError::Forbidden`] when it may see it but not read it now (pending, an
    /// untrusted issuer, no key wrapped to it).
    pub async fn wrapped_key_for(
        &self,
        address: &str,
        token: u32,
    ) -> Result<WrappedStudyKey, PlatformError> {
        let view = self.study_view(address, token, None).await?;
        if view.owner != address && view.status != "active" {
            return Err(PlatformError::Forbidden(format!(
                "study {token} is {}: only its owner reads it before consent",
                view.status
            )));
        }
        let d = self.deployment()?;
        if view.my_role.as_deref() == Some("issuer") {
            let trusted = IssuerRegistry::new(self.relayer(), d.issuer_registry.id.clone())
                .is_trusted(address)
                .await
                .map_err(chain("reading the issuer's trust"))?;
            if !trusted {
                return Err(PlatformError::Forbidden(format!(
                    "the issuer {address} is not trusted now (suspended or removed), so its \
                     access to study {token} is cut until the admin reinstates it"
                )));
            }
        }
        let record = StudyToken::new(self.relayer(), d.study_token.id.clone())
            .token(token)
            .await
            .map_err(chain(format!("reading token {token}")))?;
        crate::ops::not_erased(&record)?;
        let sid = study_id(&hex::encode(record.commitment)).map_err(PlatformError::Invalid)?;
        let wrapped = match self
            .store
            .get_bytes(&wrapped_key_key(&sid, address), MAX_WRAPPED_KEY)
            .await
        {
            Ok(w) => w,
            Err(StorageError::NotFound(_)) => {
                return Err(PlatformError::Forbidden(format!(
                    "{address} holds no key to study {token}; ask its owner to share it"
                )))
            }
            Err(e) => return Err(storage("reading the wrapped key")(e)),
        };
        let files = self
            .store
            .list(&format!("studies/{sid}/files/"))
            .await
            .map_err(storage("listing the study's objects"))?;
        Ok(WrappedStudyKey {
            token_id: token,
            metadata_key: metadata_key(&view.metadata_cid),
            metadata_cid: view.metadata_cid,
            study_id: sid,
            address: address.to_owned(),
            wrapped_key: wrapped,
            files,
        })
    }
}
