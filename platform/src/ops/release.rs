//! Releases: the inbox upload as a PACS export does it, and the pipeline run on it.

use super::*;

impl Platform {
    /// The release pipeline over this platform's storage, database and chain.
    ///
    /// # Errors
    /// Not deployed.
    pub fn ingest(&self) -> Result<Ingest, PlatformError> {
        Ok(Ingest::new(
            self.store.clone(),
            self.db.clone(),
            Arc::new(SdkSealer),
            Arc::new(self.chain_adapter()?),
            IngestConfig::default(),
        ))
    }

    /// The pipeline's chain adapter over this platform's relayer and deployment.
    pub(crate) fn chain_adapter(&self) -> Result<RelayerChain, PlatformError> {
        let d = self.deployment()?;
        Ok(RelayerChain::new(
            self.relayer.clone(),
            self.rpc.clone(),
            self.seed.clone(),
            d.issuer_registry.id,
            d.study_token.id,
        )
        .with_accounts(self.db.clone()))
    }

    /// Uploads files into the inbox as a PACS export would (files first, `release.json`
    /// last), then runs the release pipeline on them. `progress` is called after each
    /// uploaded file with (done, total).
    ///
    /// # Errors
    /// Unreadable files, storage failures, or a transient pipeline failure (retry the same
    /// command: the release id makes it idempotent). A refused release is `Ok(Rejected)`.
    pub async fn release(
        &self,
        spec: &ReleaseSpec,
        progress: impl FnMut(usize, usize),
    ) -> Result<Outcome, PlatformError> {
        let release = self.upload(spec, progress).await?;
        self.process(&release).await
    }

    /// Uploads files into the inbox as a PACS export would (files first, `release.json`
    /// last) without processing them: what triggers the ingest function in production.
    ///
    /// # Errors
    /// Unreadable files, storage failures.
    pub async fn upload(
        &self,
        spec: &ReleaseSpec,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ReleaseRef, PlatformError> {
        let files = collect_files(&spec.paths)?;
        let release = ReleaseRef {
            issuer: spec.issuer.clone(),
            release_id: spec.release_id.clone(),
        };
        let prefix = release.inbox_prefix();
        let mut listed = Vec::new();
        for (i, (name, path)) in files.iter().enumerate() {
            let bytes = tokio::fs::read(path).await.map_err(|e| {
                PlatformError::Invalid(format!("cannot read {}: {e}", path.display()))
            })?;
            listed.push(serde_json::json!({"path": name, "size": bytes.len()}));
            self.store
                .put_bytes(&format!("{prefix}{name}"), Bytes::from(bytes))
                .await
                .map_err(storage("uploading a file to the inbox"))?;
            progress(i + 1, files.len());
        }
        let mut manifest = serde_json::json!({
            "version": 1,
            "patient": spec.patient,
            "files": listed,
        });
        if let Some(uid) = &spec.study_instance_uid {
            manifest["study_instance_uid"] = serde_json::Value::String(uid.clone());
        }
        let manifest =
            serde_json::to_vec(&manifest).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        self.store
            .put_bytes(&release.manifest_key(), Bytes::from(manifest))
            .await
            .map_err(storage("uploading release.json"))?;
        Ok(release)
    }

    /// Runs the release pipeline on an uploaded release, retrying transient failures with
    /// backoff (a release another process is handling at the same moment is one); after the
    /// last attempt the release is dead-lettered in the configuration's `dead_letter_dir`.
    ///
    /// # Errors
    /// The last transient failure; the release can be retried by the same call.
    pub async fn process(&self, release: &ReleaseRef) -> Result<Outcome, PlatformError> {
        let dead_letters = LocalDirStore::new(self.config.dead_letter_dir())
            .map_err(storage("opening the dead-letter directory"))?;
        process_with_retries(
            &self.ingest()?,
            release,
            &RetryPolicy::default(),
            &dead_letters,
        )
        .await
        .map_err(|source| PlatformError::Ingest {
            step: "processing the release",
            source,
            hint: format!(
                "; dead-lettered in {}; run the same command again to retry",
                self.config.dead_letter_dir().display()
            ),
        })
    }
}
