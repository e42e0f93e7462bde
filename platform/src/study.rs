//! A stored study from its holder's side: re-wrapping the study key to a grantee, and
//! opening the study (unwrap the key, check the metadata object against its CID, read the
//! file list). The demo and the platform both read studies this way.

use bytes::Bytes;
use medimint_ingest::layout::{metadata_key, wrapped_key_key};
use medimint_ingest::FileChecksum;
use medimint_sdk::crypto::{decrypt, open_key, rewrap_key, StudyKey};
use medimint_sdk::keys::Keypair;
use medimint_storage::ObjectStore;
use serde::Deserialize;

/// Largest wrapped key read back.
const MAX_WRAPPED_KEY: u64 = 64 * 1024;
/// Largest metadata object read back.
const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// The part of the metadata object a holder of the key reads.
#[derive(Deserialize)]
pub struct Metadata {
    /// Hex SHA-256 Merkle root over the original files.
    #[serde(default)]
    pub checksum_root: String,
    /// Opens the chain's commitment (see `medimint_ingest::commitment`).
    #[serde(default)]
    pub commitment_salt: String,
    /// Every original file.
    pub files: Vec<MetaFile>,
    /// The de-identified summary (DICOM PS3.15 Annex E), as the pipeline wrote it.
    #[serde(default)]
    pub summary: serde_json::Value,
}

/// One original file of a study: its checksum entry and where its ciphertext is.
#[derive(Deserialize)]
pub struct MetaFile {
    /// Its name in the release and the SHA-256 of its original bytes.
    #[serde(flatten)]
    pub checksum: FileChecksum,
    /// Where its ciphertext is stored (`studies/<study-id>/…`).
    pub object_key: String,
    /// Its header as DICOM JSON (PS3.18 Annex F; no file meta group, no pixel data), as
    /// the pipeline wrote it: the DICOMweb index reads it (`crate::dicomweb`).
    #[serde(default)]
    pub header: serde_json::Value,
}

/// The holder re-wraps the study key to `grantee` (`keys/<study>/<grantee>`).
pub async fn share_key(
    store: &dyn ObjectStore,
    study_id: &str,
    holder: &Keypair,
    grantee: &str,
) -> Result<(), String> {
    let sealed = store
        .get_bytes(
            &wrapped_key_key(study_id, &holder.address()),
            MAX_WRAPPED_KEY,
        )
        .await
        .map_err(|e| format!("reading the holder's wrapped key: {e}"))?;
    let wrapped = rewrap_key(&sealed, holder, grantee)
        .map_err(|e| format!("re-wrapping the study key: {e}"))?;
    store
        .put_bytes(&wrapped_key_key(study_id, grantee), Bytes::from(wrapped))
        .await
        .map_err(|e| format!("storing the grantee's wrapped key: {e}"))
}

/// Unwraps the study key with `viewer`'s keypair and reads the file list from the metadata
/// object `cid` (checked against its CID first).
pub async fn open_study(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
) -> Result<(StudyKey, Vec<MetaFile>), String> {
    let (key, meta) = open_metadata(store, study_id, cid, viewer).await?;
    Ok((key, meta.files))
}

/// Unwraps the study key with `viewer`'s keypair and reads the whole metadata object `cid`
/// (checked against its CID first): the file list and the de-identified summary.
pub async fn open_metadata(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
) -> Result<(StudyKey, Metadata), String> {
    let wrapped = store
        .get_bytes(
            &wrapped_key_key(study_id, &viewer.address()),
            MAX_WRAPPED_KEY,
        )
        .await
        .map_err(|e| {
            format!(
                "{} holds no key to this study ({e}); ask the owner to share it",
                viewer.address()
            )
        })?;
    let key = open_key(&wrapped, viewer).map_err(|e| format!("unwrapping the study key: {e}"))?;
    let sealed = store
        .get_bytes(&metadata_key(cid), MAX_METADATA)
        .await
        .map_err(|e| format!("reading the metadata object: {e}"))?;
    if !medimint_sdk::cid::verify(cid, &sealed).map_err(|e| e.to_string())? {
        return Err("the metadata object does not match its CID".into());
    }
    let mut plain = Vec::new();
    decrypt(&key, &sealed[..], &mut plain)
        .map_err(|e| format!("decrypting the metadata object: {e}"))?;
    let meta: Metadata =
        serde_json::from_slice(&plain).map_err(|e| format!("reading the metadata object: {e}"))?;
    Ok((key, meta))
}
