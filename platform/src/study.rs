//! A stored study from its holder's side: re-wrapping the study key to a grantee, and
//! opening the study (unwrap the key, read the metadata object block by block, each checked
//! against its CID: the file list, the headers, the summary). The demo and the platform
//! both read studies this way.

use bytes::Bytes;
use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::metadata::for_each_file;
pub use medimint_ingest::metadata::{Entry, Head};
use medimint_ingest::FileChecksum;
use medimint_sdk::crypto::{open_key, rewrap_key, StudyKey};
use medimint_sdk::keys::Keypair;
use medimint_storage::ObjectStore;
use serde::Deserialize;

/// Largest wrapped key read back.
const MAX_WRAPPED_KEY: u64 = 64 * 1024;

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
/// (each block checked against its CID): the file list and the de-identified summary. The
/// headers are not kept; [`read_metadata`] hands them out one file at a time.
pub async fn open_metadata(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
) -> Result<(StudyKey, Metadata), String> {
    open_metadata_keeping(store, study_id, cid, viewer, false).await
}

/// As [`open_metadata`], keeping each file's header (DICOM JSON) in [`MetaFile::header`]:
/// what the DICOMweb index is built from, once per study (its memory grows with the study).
pub async fn open_metadata_with_headers(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
) -> Result<(StudyKey, Metadata), String> {
    open_metadata_keeping(store, study_id, cid, viewer, true).await
}

async fn open_metadata_keeping(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
    headers: bool,
) -> Result<(StudyKey, Metadata), String> {
    let mut files = Vec::new();
    let (key, head) = read_metadata(store, study_id, cid, viewer, |entry| {
        files.push(MetaFile {
            checksum: entry.checksum,
            object_key: entry.object_key,
            header: if headers {
                entry.header
            } else {
                serde_json::Value::Null
            },
        });
        Ok(())
    })
    .await?;
    Ok((
        key,
        Metadata {
            checksum_root: head.checksum_root,
            commitment_salt: head.commitment_salt,
            files,
            summary: head.summary,
        },
    ))
}

/// Unwraps the study key with `viewer`'s keypair and reads the metadata object `cid` in
/// bounded memory, whatever the study's size: each file's entry (with its header as DICOM
/// JSON) goes to `each` as it is read, in path order; the head (root, salt, summary, file
/// count) is returned. Reads the current format (version 2, in blocks) and the one before
/// it (one block).
pub async fn read_metadata(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
    each: impl FnMut(Entry) -> Result<(), String>,
) -> Result<(StudyKey, Head), String> {
    let key = study_key(store, study_id, viewer).await?;
    let head = for_each_file(store, cid, &key, each)
        .await
        .map_err(|e| e.to_string())?;
    Ok((key, head))
}

/// The study key, unwrapped with `viewer`'s keypair.
pub async fn study_key(
    store: &dyn ObjectStore,
    study_id: &str,
    viewer: &Keypair,
) -> Result<StudyKey, String> {
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
    open_key(&wrapped, viewer).map_err(|e| format!("unwrapping the study key: {e}"))
}
