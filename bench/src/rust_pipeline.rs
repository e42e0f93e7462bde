//! Measure (a): the release pipeline end to end, as the local stack runs it —
//! `medimint_ingest::Ingest` over `LocalDirStore`, `SqliteDb` and the production
//! `SdkSealer` — with a minimal in-process chain that records the proposal. Run in a child
//! process so that its peak RSS is the pipeline's alone.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use medimint_ingest::SdkSealer;
use medimint_ingest::{Chain, Ingest, IngestConfig, IngestError, IssuerStatus, Outcome, Proposal};
use medimint_sdk::keys::Keypair;
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};
use serde::{Deserialize, Serialize};

use crate::gen::Study;

/// The issuer's secret seed (a fixed, throwaway key).
const ISSUER_SEED: [u8; 32] = [0x11; 32];

/// The release id the benchmark's release gets.
pub const RELEASE_ID: &str = "bench-0001";

/// The issuer's keypair (the study key is wrapped to it, so the download measurement opens
/// the study as the issuer).
pub fn issuer_keypair() -> Keypair {
    Keypair::from_seed_bytes(&ISSUER_SEED)
}

/// The issuer's G-address.
pub fn issuer_address() -> String {
    issuer_keypair().address()
}

/// The chain step, reduced to what the pipeline needs: the issuer is trusted, a patient
/// account is a derived address, and a proposal is recorded and gets token id 1, 2, ...
/// It is one transaction per release whatever the study size, so the benchmark leaves the
/// devnet and the relayer out (their throughput is measured in docs/performance.md).
#[derive(Default)]
pub struct RecordingChain {
    tokens: Mutex<HashMap<String, String>>,
    /// Every proposal made, in order.
    pub proposals: Mutex<Vec<Proposal>>,
}

#[async_trait]
impl Chain for RecordingChain {
    async fn issuer_status(&self, issuer: &str) -> Result<IssuerStatus, IngestError> {
        Ok(if issuer == issuer_address() {
            IssuerStatus::Trusted
        } else {
            IssuerStatus::Unknown
        })
    }

    async fn ensure_patient_account(&self, hd_index: u32) -> Result<String, IngestError> {
        let mut seed = [0x22u8; 32];
        seed[..4].copy_from_slice(&hd_index.to_be_bytes());
        Ok(Keypair::from_seed_bytes(&seed).address())
    }

    fn commitment(&self, root: &str) -> Result<medimint_ingest::Commitment, IngestError> {
        let root =
            medimint_ingest::commitment::parse_hex32("checksum root", root).map_err(|message| {
                IngestError::Transient {
                    step: "reading the checksum root",
                    message,
                }
            })?;
        Ok(medimint_ingest::commitment::commitment(&[9; 32], &root))
    }

    async fn token_by_root(&self, checksum_root: &str) -> Result<Option<String>, IngestError> {
        Ok(self
            .tokens
            .lock()
            .expect("lock")
            .get(checksum_root)
            .cloned())
    }

    async fn propose_release(&self, proposal: &Proposal) -> Result<String, IngestError> {
        let mut proposals = self.proposals.lock().expect("lock");
        proposals.push(proposal.clone());
        let id = proposals.len().to_string();
        self.tokens
            .lock()
            .expect("lock")
            .insert(proposal.checksum_root.clone(), id.clone());
        Ok(id)
    }
}

/// What one pipeline run reports (a JSON line on the child's stdout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRun {
    /// Wall time of `Ingest::process`, seconds.
    pub seconds: f64,
    /// Bytes of the original files.
    pub bytes: u64,
    /// Files released.
    pub files: usize,
    /// Tokens proposed on the chain.
    pub tokens: usize,
    /// Encrypted study files found in storage afterwards.
    pub stored_files: usize,
    /// Peak RSS of the process (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// CPU time of the process (user + system, every thread) over the pipeline, seconds:
    /// unlike the wall time, not moved by other sessions' load.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// The outcome, for the record.
    pub outcome: String,
}

/// Lays the upload out in the store's inbox (hard links to the study's files, `release.json`
/// written last), then runs the pipeline on it and checks the result.
pub fn run(study_dir: &Path, run_dir: &Path, buffered_put: bool) -> Result<PipelineRun, String> {
    let study = Study::load(study_dir).map_err(|e| format!("reading the study: {e}"))?;
    let issuer = issuer_address();
    let release_id = RELEASE_ID;
    let objects = run_dir.join("objects");
    let upload = objects.join("inbox").join(&issuer).join(release_id);
    for (rel, _) in &study.files {
        let to = upload.join(rel);
        std::fs::create_dir_all(to.parent().expect("a parent"))
            .map_err(|e| format!("creating the inbox: {e}"))?;
        let from = study.dir.join(rel);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| format!("copying {rel}: {e}"))?;
        }
    }
    std::fs::copy(study.dir.join("release.json"), upload.join("release.json"))
        .map_err(|e| format!("writing release.json: {e}"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    runtime.block_on(async {
        let local = LocalDirStore::new(&objects).map_err(|e| e.to_string())?;
        let store: Arc<dyn ObjectStore> = if buffered_put {
            Arc::new(BufferedPutStore(local))
        } else {
            Arc::new(local)
        };
        let db: Arc<dyn AppDb> = Arc::new(
            SqliteDb::open(run_dir.join("medimint.sqlite3"))
                .await
                .map_err(|e| e.to_string())?,
        );
        let chain = Arc::new(RecordingChain::default());
        let ingest = Ingest::new(
            store.clone(),
            db,
            Arc::new(SdkSealer),
            chain.clone(),
            IngestConfig::default(),
        );
        let key = format!("inbox/{issuer}/{release_id}/release.json");
        let cpu = crate::rekey::process_cpu_seconds();
        let started = Instant::now();
        let outcome = medimint_ingest::process_key(&ingest, &key)
            .await
            .map_err(|e| format!("the pipeline failed: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu_seconds = crate::rekey::process_cpu_seconds() - cpu;
        let outcome = match outcome {
            Some(Outcome::Released { token_id, .. }) => format!("released token {token_id}"),
            Some(Outcome::Rejected { report, .. }) => {
                return Err(format!(
                    "the pipeline rejected the study: {:?}",
                    report.codes()
                ))
            }
            None => return Err("the manifest key was not taken for a release".into()),
        };
        let stored = store
            .list("studies/")
            .await
            .map_err(|e| e.to_string())?
            .len();
        let tokens = chain.proposals.lock().expect("lock").len();
        Ok(PipelineRun {
            seconds,
            bytes: study.bytes,
            files: study.files.len(),
            tokens,
            stored_files: stored,
            peak_rss_kib: crate::peak_rss_kib(),
            cpu_seconds,
            outcome,
        })
    })
}

/// Diagnostic only (`--buffered-put`): `LocalDirStore` with `put_stream` copying in 1 MiB
/// pieces instead of `tokio::io::copy`'s 8 KiB, to show what the store's write path costs.
/// Same steps otherwise: temporary file, write, fsync, rename.
pub struct BufferedPutStore(pub LocalDirStore);

#[async_trait]
impl ObjectStore for BufferedPutStore {
    async fn put_stream(
        &self,
        key: &str,
        body: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
    ) -> Result<u64, medimint_storage::StorageError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let io = |e: std::io::Error| medimint_storage::StorageError::Backend {
            context: format!("writing {key}"),
            message: e.to_string(),
            transient: true,
        };
        let path = self.0.path_of(key)?;
        let tmp = path.with_extension("part");
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                let n = body.read(&mut buf[filled..]).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            file.write_all(&buf[..filled]).await.map_err(io)?;
            total += filled as u64;
        }
        file.flush().await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(total)
    }

    async fn get_stream(
        &self,
        key: &str,
    ) -> Result<medimint_storage::ObjectReader, medimint_storage::StorageError> {
        self.0.get_stream(key).await
    }

    async fn head(
        &self,
        key: &str,
    ) -> Result<Option<medimint_storage::ObjectInfo>, medimint_storage::StorageError> {
        self.0.head(key).await
    }

    async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<medimint_storage::ObjectInfo>, medimint_storage::StorageError> {
        self.0.list(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<(), medimint_storage::StorageError> {
        self.0.delete(key).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), medimint_storage::StorageError> {
        self.0.copy(from, to).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), medimint_storage::StorageError> {
        self.0.rename(from, to).await
    }
}
