//! Erasure (crypto-shredding): the owner deletes a study from MediMint for good.
//!
//! Every encrypted object of the study (its files, its metadata blocks, any re-key's
//! unfinished objects) and every wrapped copy of its key are deleted, with every version in
//! a versioned store, then the token moves to the terminal `Erased` state on chain (`erase`,
//! which ends every grant and emergency access). The share links of the study are marked
//! revoked. What to delete is written to the database before anything is deleted, so a
//! second call after a crash (or any second call) finishes the job; docs/erasure.md.

use super::*;
use medimint_ingest::metadata::blocks;
use medimint_storage::KvExpect;

/// The database record of an erasure under way (`erasure:<token>`).
const RECORD: &str = "erasure";

/// What an erasure deletes, written before the first deletion.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct ErasureRecord {
    token_id: u32,
    /// `studies/<id>/…` and `keys/<id>/…`.
    study_id: String,
    /// Every metadata block (`meta/<cid>`): the current object's and a re-key's.
    blocks: Vec<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErasureReport {
    /// The token.
    pub token_id: u32,
    /// `erased` (the chain's terminal state).
    pub status: String,
    /// Encrypted files deleted by this call (every version of each).
    pub files_deleted: usize,
    /// Metadata blocks deleted by this call (every version of each).
    pub metadata_blocks_deleted: usize,
    /// Wrapped study keys deleted by this call (every version of each).
    pub keys_deleted: usize,
    /// Share links of the study this call marked revoked.
    pub links_ended: usize,
    /// Whether the token was already erased on chain before this call (a repeated call:
    /// what a crash had left was finished, if anything).
    pub already_erased: bool,
}

fn record_key(token: u32) -> String {
    format!("{RECORD}:{token}")
}

impl Platform {
    /// `email` (the owner, whose key the platform holds) erases study `token` at `now`:
    /// share links ended, every object and wrapped key deleted (every version), then the
    /// token erased on chain. Calling it again (after a crash, or at all) finishes what is
    /// left and answers the same.
    ///
    /// # Errors
    /// Not the owner ([`PlatformError::Forbidden`]); a study that is not active (pending,
    /// rejected: [`PlatformError::Conflict`]); storage and chain failures (call again).
    pub async fn erase_study(
        &self,
        email: &str,
        token: &str,
        now: u64,
    ) -> Result<ErasureReport, PlatformError> {
        let d = self.deployment()?;
        let owner = self.keypair_of(email).await?;
        let record = self.token_record(token).await?;
        if record.owner != owner.address() {
            return Err(PlatformError::Forbidden(format!(
                "only the owner of study {} may erase it",
                record.id
            )));
        }
        let key = record_key(record.id);
        let saved = self
            .db
            .kv_get(&key)
            .await
            .map_err(storage("reading the erasure record"))?
            .map(|r| serde_json::from_str::<ErasureRecord>(&r.value))
            .transpose()
            .map_err(|e| {
                PlatformError::Invalid(format!("the erasure record is unreadable: {e}"))
            })?;
        let mut report = ErasureReport {
            token_id: record.id,
            status: "erased".into(),
            files_deleted: 0,
            metadata_blocks_deleted: 0,
            keys_deleted: 0,
            links_ended: 0,
            already_erased: record.status == ERASED,
        };
        if record.status == ERASED {
            // Erased on chain: finish what a crash after the chain call left, if anything.
            if let Some(plan) = saved {
                self.shred(&plan, &mut report).await?;
                self.db
                    .kv_delete(&key, KvExpect::Any)
                    .await
                    .map_err(storage("removing the erasure record"))?;
            }
            return Ok(report);
        }
        if record.status != "Active" {
            return Err(PlatformError::Conflict(format!(
                "study {} is {}: only an active study can be erased (a pending one is \
                 rejected instead, which deletes nothing on chain)",
                record.id,
                record.status.to_lowercase()
            )));
        }
        let plan = match saved {
            Some(plan) => plan,
            None => {
                let plan = self.erasure_plan(&record).await?;
                let text = serde_json::to_string(&plan)
                    .map_err(|e| PlatformError::Invalid(e.to_string()))?;
                match self.db.kv_put(&key, &text, KvExpect::Absent, None).await {
                    Ok(_) => plan,
                    // Another call wrote it meanwhile: theirs lists the same objects.
                    Err(medimint_storage::StorageError::Conflict(_)) => {
                        let r = self
                            .db
                            .kv_get(&key)
                            .await
                            .map_err(storage("reading the erasure record"))?
                            .ok_or_else(|| {
                                PlatformError::Conflict(
                                    "another erasure of this study finished meanwhile".into(),
                                )
                            })?;
                        serde_json::from_str(&r.value).map_err(|e| {
                            PlatformError::Invalid(format!("the erasure record is unreadable: {e}"))
                        })?
                    }
                    Err(e) => return Err(storage("writing the erasure record")(e)),
                }
            }
        };
        report.links_ended = self.end_share_links(record.id, now).await?;
        // Nothing opened before is served from the cache while (and after) the objects go.
        self.forget_opened(record.id);
        self.shred(&plan, &mut report).await?;
        // A re-key under way has nothing left to finish.
        self.db
            .kv_delete(&super::rekey::record_key(record.id), KvExpect::Any)
            .await
            .map_err(storage("removing the re-key record"))?;
        let landed = self
            .token_client(&d)
            .erase(
                &format!("erase/{}", record.id),
                owner.signing_key(),
                record.id,
            )
            .await;
        if let Err(e) = landed {
            // Erased meanwhile by another call: the same end.
            let now_status = self.token_record(token).await.map(|r| r.status);
            if now_status.as_deref().ok() != Some(ERASED) {
                return Err(chain(format!("erasing token {} on chain", record.id))(e));
            }
        }
        self.db
            .kv_delete(&key, KvExpect::Any)
            .await
            .map_err(storage("removing the erasure record"))?;
        tracing::info!(token = record.id, "study erased");
        Ok(report)
    }

    /// What erasing `record`'s study deletes: its study id and every metadata block of the
    /// current object and of a re-key under way.
    async fn erasure_plan(&self, record: &TokenRecord) -> Result<ErasureRecord, PlatformError> {
        let sid = study_of(record)?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri);
        // A metadata object that cannot be walked (a block missing) must not stop an erasure:
        // its root at least is deleted, and whatever else could be found.
        let mut all = match blocks(self.store.as_ref(), cid).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(token = record.id, error = %e, "erasing a study whose metadata cannot be walked");
                vec![cid.to_owned()]
            }
        };
        for other in self.rekey_metadata_cids(record.id).await? {
            // A re-key's objects may be half written: whatever of them can be found.
            if let Ok(more) = blocks(self.store.as_ref(), &other).await {
                all.extend(more);
            }
        }
        all.sort();
        all.dedup();
        Ok(ErasureRecord {
            token_id: record.id,
            study_id: sid,
            blocks: all,
        })
    }

    /// Deletes everything `plan` names, every version; counts into `report`.
    async fn shred(
        &self,
        plan: &ErasureRecord,
        report: &mut ErasureReport,
    ) -> Result<(), PlatformError> {
        let sid = &plan.study_id;
        report.files_deleted += self
            .store
            .purge_prefix(&format!("studies/{sid}/"))
            .await
            .map_err(storage("deleting the study's encrypted files"))?;
        report.keys_deleted += self
            .store
            .purge_prefix(&format!("keys/{sid}/"))
            .await
            .map_err(storage("deleting the study's wrapped keys"))?;
        for cid in &plan.blocks {
            let key = medimint_ingest::layout::metadata_key(cid);
            let there = self
                .store
                .head(&key)
                .await
                .map_err(storage("reading a metadata block"))?
                .is_some();
            self.store
                .delete_all_versions(&key)
                .await
                .map_err(storage("deleting the study's metadata blocks"))?;
            report.metadata_blocks_deleted += usize::from(there);
        }
        Ok(())
    }
}
