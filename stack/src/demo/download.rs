//! The viewer's side: share the study key with a grantee, and download, decrypt and verify
//! a study with one's own keypair.

use bytes::Bytes;
use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::{FileChecksum, PresentedFile};
use medimint_sdk::crypto::{decrypt, decrypt_async, open_key, rewrap_key};
use medimint_sdk::keys::Keypair;
use medimint_storage::ObjectStore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Largest wrapped key read back.
const MAX_WRAPPED_KEY: u64 = 64 * 1024;
/// Largest metadata object read back.
const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// The part of the metadata object the viewer needs.
#[derive(Deserialize)]
struct Metadata {
    files: Vec<MetaFile>,
}

#[derive(Deserialize)]
struct MetaFile {
    #[serde(flatten)]
    checksum: FileChecksum,
    object_key: String,
}

/// The holder re-wraps the study key to `grantee` (`keys/<study>/<grantee>`).
pub(super) async fn share_key(
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
    let wrapped = rewrap_key(&sealed, holder, grantee).map_err(|e| e.to_string())?;
    store
        .put_bytes(&wrapped_key_key(study_id, grantee), Bytes::from(wrapped))
        .await
        .map_err(|e| format!("storing the grantee's wrapped key: {e}"))
}

/// Unwraps the study key with `viewer`'s keypair, decrypts the metadata object and every
/// file, and checks each file's SHA-256 and the checksum root. Returns (files, bytes).
pub(super) async fn download_and_verify(
    store: &dyn ObjectStore,
    study_id: &str,
    metadata_key: &str,
    cid: &str,
    viewer: &Keypair,
    expected_root: &str,
) -> Result<(usize, u64), String> {
    let wrapped = store
        .get_bytes(
            &wrapped_key_key(study_id, &viewer.address()),
            MAX_WRAPPED_KEY,
        )
        .await
        .map_err(|e| format!("reading the viewer's wrapped key: {e}"))?;
    let key = open_key(&wrapped, viewer).map_err(|e| format!("unwrapping the key: {e}"))?;
    let sealed_meta = store
        .get_bytes(metadata_key, MAX_METADATA)
        .await
        .map_err(|e| format!("reading the metadata object: {e}"))?;
    if !medimint_sdk::cid::verify(cid, &sealed_meta).map_err(|e| e.to_string())? {
        return Err("the metadata object does not match its CID".into());
    }
    let mut plain = Vec::new();
    decrypt(&key, &sealed_meta[..], &mut plain)
        .map_err(|e| format!("decrypting the metadata object: {e}"))?;
    let meta: Metadata =
        serde_json::from_slice(&plain).map_err(|e| format!("reading the metadata object: {e}"))?;
    drop(plain);
    let mut presented = Vec::new();
    let mut total = 0u64;
    for f in &meta.files {
        let reader = store
            .get_stream(&f.object_key)
            .await
            .map_err(|e| format!("downloading a file: {e}"))?;
        let mut out: Vec<u8> = Vec::new();
        let n = decrypt_async(&key, reader, &mut out)
            .await
            .map_err(|e| format!("decrypting a file: {e}"))?;
        total += n;
        presented.push(PresentedFile {
            name: f.checksum.path.clone(),
            sha256: Sha256::digest(&out).into(),
        });
    }
    let listed: Vec<FileChecksum> = meta.files.iter().map(|f| f.checksum.clone()).collect();
    let v = medimint_ingest::verify(&presented, expected_root, &listed);
    if !v.root_matches || !v.is_intact() {
        return Err(format!(
            "verification failed: {} differ, {} missing, {} extra",
            v.differs.len(),
            v.missing.len(),
            v.extra.len()
        ));
    }
    Ok((presented.len(), total))
}
