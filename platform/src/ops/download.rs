//! Downloads and verification of a study's files.

use medimint_ingest::transfer;

use super::*;

impl Platform {
    /// A refused access record, explained: an issuer no longer trusted (its implicit access
    /// to what it released is cut while it is suspended or removed), or a grantee without a
    /// live role. The contract's error stays the typed source.
    pub(crate) fn access_refused(
        &self,
        record: &TokenRecord,
        address: &str,
        source: medimint_chain::Error,
    ) -> PlatformError {
        let step = match medimint_chain::clients::contract_error(&source) {
            Some((_, "NoAccess")) if record.issuer == address => format!(
                "refused: the issuer {address} is not trusted now (suspended or removed from \
                 the issuer registry), so its access to the studies it released is cut until \
                 the admin reinstates it; token {}",
                record.id
            ),
            Some((_, "NoAccess")) => format!(
                "refused: {address} holds no live role on token {} (revoked, expired, or its \
                 sharer's access ended); ask the owner to share it again",
                record.id
            ),
            _ => format!("recording the access to token {}", record.id),
        };
        PlatformError::Chain { step, source }
    }

    /// The study key and the metadata of a token, for the holder `viewer`, checked to
    /// belong to the token: its checksum root and salt give the token's commitment.
    pub(crate) async fn open_token(
        &self,
        record: &TokenRecord,
        viewer: &Keypair,
    ) -> Result<(StudyKey, Metadata), PlatformError> {
        self.open_token_keeping(record, viewer, false).await
    }

    /// As [`Platform::open_token`], with each file's header (the DICOMweb index).
    pub(crate) async fn open_token_with_headers(
        &self,
        record: &TokenRecord,
        viewer: &Keypair,
    ) -> Result<(StudyKey, Metadata), PlatformError> {
        self.open_token_keeping(record, viewer, true).await
    }

    async fn open_token_keeping(
        &self,
        record: &TokenRecord,
        viewer: &Keypair,
        headers: bool,
    ) -> Result<(StudyKey, Metadata), PlatformError> {
        let sid = study_of(record)?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri);
        let opened = if headers {
            open_metadata_with_headers(self.store.as_ref(), &sid, cid, viewer).await
        } else {
            open_metadata(self.store.as_ref(), &sid, cid, viewer).await
        };
        let (key, meta) =
            opened.map_err(|e| PlatformError::Forbidden(format!("token {}: {e}", record.id)))?;
        let opens = parse_hex32("checksum root", &meta.checksum_root)
            .and_then(|root| {
                parse_hex32("commitment salt", &meta.commitment_salt).map(|salt| (root, salt))
            })
            .map(|(root, salt)| commit(&salt, &root) == record.commitment)
            .unwrap_or(false);
        if !opens {
            return Err(PlatformError::Invalid(format!(
                "token {}: the metadata object does not open the token's commitment",
                record.id
            )));
        }
        Ok((key, meta))
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
            .map_err(|e| self.access_refused(&record, &viewer.address(), e))?;
        let (key, meta) = self.open_token(&record, &viewer).await?;
        let root = meta.checksum_root;
        let files = meta.files;
        // Every name is checked before anything is written.
        let mut jobs = Vec::with_capacity(files.len());
        for f in &files {
            jobs.push(transfer::Download {
                dest: out_dir.join(safe_relative(&f.checksum.path)?),
                object_key: f.object_key.clone(),
                name: f.checksum.path.clone(),
            });
        }
        // Several files at once, each decrypted straight to disk and hashed as it is
        // written (docs/performance.md, "Download and verify").
        let total = jobs.len();
        let results = transfer::download_files(
            self.store.clone(),
            &key,
            jobs,
            transfer::parallel_files(),
            |done| progress(done, total),
        )
        .await
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let mut presented = Vec::with_capacity(results.len());
        let mut bytes = 0u64;
        for d in results {
            bytes += d.bytes;
            presented.push(PresentedFile {
                name: d.name,
                sha256: d.sha256,
            });
        }
        let listed: Vec<FileChecksum> = files.iter().map(|f| f.checksum.clone()).collect();
        let verification = verify(&presented, &root, &listed);
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
        let presented = transfer::hash_files(collect_files(files)?, transfer::parallel_files())
            .await
            .map_err(|e| PlatformError::Invalid(e.to_string()))?;
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
                let (_, meta) = self.open_token(&record, &kp).await?;
                meta.files.into_iter().map(|f| f.checksum).collect()
            }
            None => Vec::new(),
        };
        // The platform holds the commitment key: it checks the presented files' root
        // against the token's commitment without reading the metadata.
        let digests: Vec<[u8; 32]> = presented.iter().map(|p| p.sha256).collect();
        let computed = medimint_ingest::checksum_root(&digests);
        let matches = commitment(&commitment_key(&self.seed), &computed).value == record.commitment;
        let mut v = verify(&presented, &hex::encode(computed), &listed);
        v.root_matches = matches;
        Ok(v)
    }
}
