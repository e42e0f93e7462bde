//! Downloads and verification of a study's files.

use super::*;

impl Platform {
    /// The study key and the file list of a token, for the holder `viewer`.
    async fn open_study(
        &self,
        record: &TokenRecord,
        viewer: &Keypair,
    ) -> Result<(StudyKey, Vec<MetaFile>), PlatformError> {
        let sid = study_id(&hex::encode(record.checksum_root)).map_err(PlatformError::Invalid)?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri);
        open_study(self.store.as_ref(), &sid, cid, viewer)
            .await
            .map_err(|e| PlatformError::Invalid(format!("token {}: {e}", record.id)))
    }

    /// `email` downloads the token's files into `out_dir`: the access is recorded on chain
    /// first (refused without a live grant), then each file is decrypted to disk and
    /// checked against the checksum root. `progress` gets (done, total) per file.
    ///
    /// # Errors
    /// `NoAccess`; a file that fails decryption or verification.
    pub async fn download(
        &self,
        email: &str,
        token: &str,
        out_dir: &Path,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<DownloadReport, PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let viewer = self.keypair_of(email).await?;
        self.token_client(&d)
            .record_access(
                &fresh_key(&format!("access/{}/{}", record.id, viewer.address())),
                viewer.signing_key(),
                record.id,
                AccessKind::Download,
            )
            .await
            .map_err(chain(format!(
                "recording the download of token {}",
                record.id
            )))?;
        let (key, files) = self.open_study(&record, &viewer).await?;
        let mut presented = Vec::new();
        let mut bytes = 0u64;
        for (i, f) in files.iter().enumerate() {
            let rel = safe_relative(&f.checksum.path)?;
            let dest = out_dir.join(&rel);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(|e| {
                    PlatformError::Invalid(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let reader = self
                .store
                .get_stream(&f.object_key)
                .await
                .map_err(storage("downloading a file"))?;
            let out = tokio::fs::File::create(&dest).await.map_err(|e| {
                PlatformError::Invalid(format!("cannot write {}: {e}", dest.display()))
            })?;
            let mut out = tokio::io::BufWriter::new(out);
            bytes += decrypt_async(&key, reader, &mut out).await.map_err(|e| {
                PlatformError::Invalid(format!("decrypting {}: {e}", f.checksum.path))
            })?;
            tokio::io::AsyncWriteExt::flush(&mut out)
                .await
                .map_err(|e| {
                    PlatformError::Invalid(format!("cannot write {}: {e}", dest.display()))
                })?;
            presented.push(PresentedFile {
                name: f.checksum.path.clone(),
                sha256: sha256_file(&dest).await?,
            });
            progress(i + 1, files.len());
        }
        let listed: Vec<FileChecksum> = files.iter().map(|f| f.checksum.clone()).collect();
        let verification = verify(&presented, &hex::encode(record.checksum_root), &listed);
        if !verification.is_intact() {
            return Err(PlatformError::Invalid(format!(
                "the downloaded files do not verify: {} differ, {} missing, {} extra",
                verification.differs.len(),
                verification.missing.len(),
                verification.extra.len()
            )));
        }
        Ok(DownloadReport {
            files: presented.len(),
            bytes,
            out_dir: out_dir.to_path_buf(),
            verification,
        })
    }

    /// Recomputes the checksum root of `files` and compares it with the token's. With
    /// `holder` (an email whose account holds a key to the token) the per-file digests of
    /// the encrypted metadata name each file that differs, is missing or is extra.
    ///
    /// # Errors
    /// Unreadable files; `TokenNotFound`.
    pub async fn verify(
        &self,
        token: &str,
        files: &[PathBuf],
        holder: Option<&str>,
    ) -> Result<Verification, PlatformError> {
        let mut presented = Vec::new();
        for (name, path) in collect_files(files)? {
            presented.push(PresentedFile {
                name,
                sha256: sha256_file(&path).await?,
            });
        }
        self.verify_digests(token, presented, holder).await
    }

    /// [`Platform::verify`] of files the caller has hashed itself (the HTTP API's verify,
    /// which takes digests rather than the files).
    ///
    /// # Errors
    /// `TokenNotFound`; a holder without a key to the study.
    pub async fn verify_digests(
        &self,
        token: &str,
        presented: Vec<PresentedFile>,
        holder: Option<&str>,
    ) -> Result<Verification, PlatformError> {
        let record = self.token(token).await?;
        let listed = match holder {
            Some(email) => {
                let kp = self.keypair_of(email).await?;
                let (_, files) = self.open_study(&record, &kp).await?;
                files.into_iter().map(|f| f.checksum).collect()
            }
            None => Vec::new(),
        };
        Ok(verify(
            &presented,
            &hex::encode(record.checksum_root),
            &listed,
        ))
    }
}
