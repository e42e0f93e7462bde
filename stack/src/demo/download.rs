//! The viewer's side of the demo: download, decrypt and verify a study in memory with one's
//! own keypair.

use medimint_ingest::{FileChecksum, PresentedFile};
use medimint_sdk::crypto::decrypt_async;
use medimint_sdk::keys::Keypair;
use medimint_storage::ObjectStore;
use sha2::{Digest, Sha256};

use medimint_platform::study::open_study;

/// Unwraps the study key with `viewer`'s keypair, decrypts the metadata object and every
/// file, and checks each file's SHA-256 and the checksum root. Returns (files, bytes).
pub(super) async fn download_and_verify(
    store: &dyn ObjectStore,
    study_id: &str,
    cid: &str,
    viewer: &Keypair,
    expected_root: &str,
) -> Result<(usize, u64), String> {
    let (key, files) = open_study(store, study_id, cid, viewer).await?;
    let mut presented = Vec::new();
    let mut total = 0u64;
    for f in &files {
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
    let listed: Vec<FileChecksum> = files.iter().map(|f| f.checksum.clone()).collect();
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
