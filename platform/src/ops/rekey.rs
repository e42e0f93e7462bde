//! Re-key (the stronger revoke): a new study key, every stored object re-encrypted under it,
//! the key wrapped again for those who keep access, and the token's metadata pointer moved
//! on chain (`rekey`; the commitment is unchanged, so `verify` still holds).
//!
//! The steps, each resumable (docs/re-key.md):
//! 1. A progress record in the database (`rekey:<token>`): the metadata CID the run starts
//!    from, the old and the new study key sealed to the owner, the new objects' generation
//!    tag and who is excluded. A second run reads it and continues.
//! 2. Every file re-encrypted, streamed chunk for chunk (one chunk in memory), under
//!    `studies/<id>/files/<sha256>.<generation>`. Its plaintext's SHA-256 must be the one its
//!    entry names, or nothing is stored (the store's writes are all-or-nothing). A file whose
//!    new object is there at the expected length was done by an earlier run.
//! 3. The metadata object written again (the same lines, the new object keys) under the new
//!    key, and read back: every line, every new object present. Its CID goes in the record.
//! 4. The new key wrapped for the owner and every address that holds a key and still has
//!    access on chain (not the excluded ones); any other wrapped key is deleted.
//! 5. `rekey` on chain with the new metadata pointer, signed by the owner.
//! 6. Only then the old objects (files of other generations, the old metadata's blocks) are
//!    deleted, every version, and the record is removed.

use super::*;
use medimint_ingest::layout::metadata_key;
use medimint_ingest::metadata::{blocks, MetadataReader};
use medimint_ingest::rekey::{
    ciphertext_len, new_object_key, rewrite_metadata, Reencryptor, RekeyError,
};
use medimint_sdk::crypto::{open_key, seal_key};
use medimint_storage::{KvExpect, StorageError};

/// The database record of a re-key under way (`rekey:<token>`).
const RECORD: &str = "rekey";
pub(crate) fn record_key(token: u32) -> String {
    format!("{RECORD}:{token}")
}

/// A re-key under way, as the database keeps it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct RekeyRecord {
    token_id: u32,
    study_id: String,
    /// The metadata CID the run started from (the chain's pointer then).
    old_cid: String,
    /// Tag of the new objects' keys (`…/files/<sha256>.<generation>`).
    generation: String,
    /// The old and the new study key, each sealed to the owner (hex): a restart continues
    /// with them, even after the owner's wrapped key was replaced by the new one.
    old_key: String,
    new_key: String,
    /// Addresses that get no new key (the revoked grantees).
    excluded: Vec<String>,
    /// The new metadata CID, once written and read back.
    new_cid: Option<String>,
    /// The old metadata's blocks, listed before the first is deleted.
    old_blocks: Option<Vec<String>>,
}

/// What a re-key did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RekeyReport {
    /// The token.
    pub token_id: u32,
    /// The new metadata object's CID (the token's pointer on chain is `ipfs://` it).
    pub metadata_cid: String,
    /// Files of the study (each has a new object).
    pub files: u64,
    /// Files this call re-encrypted (the rest were done by an interrupted earlier call).
    pub files_reencrypted: u64,
    /// Plaintext bytes this call re-encrypted.
    pub bytes_reencrypted: u64,
    /// Addresses that hold the new key: the owner and those who keep access.
    pub key_holders: Vec<String>,
    /// Whether this call continued an interrupted re-key.
    pub resumed: bool,
}

fn rekey_failed(e: RekeyError) -> PlatformError {
    match e {
        RekeyError::Storage { step, source } => PlatformError::Storage { step, source },
        RekeyError::Invalid(m) => PlatformError::Invalid(m),
    }
}

impl Platform {
    /// `email` (the owner, whose key the platform holds) re-keys study `token`: see the
    /// module docs. `exclude` are addresses that must not get the new key (a grantee just
    /// revoked). Calling it again after a failure continues where it stopped.
    ///
    /// # Errors
    /// Not the owner ([`PlatformError::Forbidden`]); erased; not active
    /// ([`PlatformError::Conflict`]); storage and chain failures (call again to continue).
    pub async fn rekey_study(
        &self,
        email: &str,
        token: &str,
        exclude: &[String],
    ) -> Result<RekeyReport, PlatformError> {
        let d = self.deployment()?;
        let owner = self.keypair_of(email).await?;
        let record = self.token_record(token).await?;
        if record.owner != owner.address() {
            return Err(PlatformError::Forbidden(format!(
                "only the owner of study {} may re-key it",
                record.id
            )));
        }
        not_erased(&record)?;
        if record.status != "Active" {
            return Err(PlatformError::Conflict(format!(
                "study {} is {}: only an active study can be re-keyed",
                record.id,
                record.status.to_lowercase()
            )));
        }
        let key = record_key(record.id);
        let (mut state, mut version, resumed) = match self
            .db
            .kv_get(&key)
            .await
            .map_err(storage("reading the re-key record"))?
        {
            Some(r) => (
                serde_json::from_str::<RekeyRecord>(&r.value).map_err(|e| {
                    PlatformError::Invalid(format!("the re-key record is unreadable: {e}"))
                })?,
                r.version,
                true,
            ),
            None => {
                let state = self.start_rekey(&record, &owner).await?;
                let text = serde_json::to_string(&state)
                    .map_err(|e| PlatformError::Invalid(e.to_string()))?;
                let version = self
                    .db
                    .kv_put(&key, &text, KvExpect::Absent, None)
                    .await
                    .map_err(|e| match e {
                        StorageError::Conflict(_) => PlatformError::Conflict(format!(
                            "another re-key of study {} started at the same moment; call \
                             again to continue it",
                            record.id
                        )),
                        e => storage("writing the re-key record")(e),
                    })?;
                (state, version, false)
            }
        };
        let mut changed = false;
        for a in exclude {
            if !state.excluded.contains(a) {
                state.excluded.push(a.clone());
                changed = true;
            }
        }
        if changed {
            version = self.save_rekey(&key, &state, version).await?;
        }
        let old_key = self.unseal(&state.old_key, &owner)?;
        let new_key = Arc::new(self.unseal(&state.new_key, &owner)?);
        let pointer = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri)
            .to_owned();
        let on_chain = state.new_cid.as_deref() == Some(pointer.as_str());
        if !on_chain && pointer != state.old_cid {
            return Err(PlatformError::Conflict(format!(
                "study {}'s metadata pointer changed while it was being re-keyed; call again \
                 after the other change finished",
                record.id
            )));
        }
        let mut report = RekeyReport {
            token_id: record.id,
            metadata_cid: String::new(),
            files: u64::from(record.file_count),
            files_reencrypted: 0,
            bytes_reencrypted: 0,
            key_holders: Vec::new(),
            resumed,
        };
        if !on_chain {
            // 2. The files.
            self.reencrypt_files(&state, &old_key, &new_key, &mut report)
                .await?;
            // 3. The metadata object.
            if state.new_cid.is_none() {
                let cid = self
                    .rewrite_metadata(&state, &old_key, new_key.clone())
                    .await?;
                state.new_cid = Some(cid);
                version = self.save_rekey(&key, &state, version).await?;
            }
        }
        let new_cid = state.new_cid.clone().unwrap_or_default();
        report.metadata_cid = new_cid.clone();
        // 4. The wrapped keys (again after a crash: the same result).
        report.key_holders = self.rewrap(&d, &state, &owner, &new_key).await?;
        // 5. The chain.
        if !on_chain {
            self.token_client(&d)
                .rekey(
                    &format!("rekey/{}/{new_cid}", record.id),
                    owner.signing_key(),
                    record.id,
                    &format!("ipfs://{new_cid}"),
                )
                .await
                .map_err(chain(format!("re-keying token {} on chain", record.id)))?;
        }
        // A study opened under the old key is not served from the cache any more.
        self.forget_opened(record.id);
        // 6. The old objects.
        if state.old_blocks.is_none() {
            state.old_blocks = Some(
                blocks(self.store.as_ref(), &state.old_cid)
                    .await
                    .unwrap_or_default(),
            );
            self.save_rekey(&key, &state, version).await?;
        }
        self.remove_old_objects(&state).await?;
        self.db
            .kv_delete(&key, KvExpect::Any)
            .await
            .map_err(storage("removing the re-key record"))?;
        tracing::info!(
            token = record.id,
            files = report.files,
            resumed,
            "study re-keyed"
        );
        Ok(report)
    }

    /// The stronger revoke: `email` (the owner) revokes `from`'s grant and removes their
    /// wrapped key, then re-keys the study without them ([`Platform::rekey_study`]). After
    /// an interrupted call the grant is already gone: calling again continues the re-key.
    /// Returns the revoked address and the re-key's report.
    ///
    /// # Errors
    /// Not the owner (a sharer revokes without re-keying); as [`Platform::revoke`] and
    /// [`Platform::rekey_study`].
    pub async fn revoke_and_rekey(
        &self,
        email: &str,
        token: &str,
        from: &Target,
    ) -> Result<(String, RekeyReport), PlatformError> {
        let record = self.token(token).await?;
        if record.owner != self.keypair_of(email).await?.address() {
            return Err(PlatformError::Forbidden(format!(
                "only the owner of study {} may re-key it (a sharer revokes without re-keying)",
                record.id
            )));
        }
        let grantee = match self.revoke(email, token, from).await {
            Ok(g) => g,
            Err(e) if matches!(e.contract_error(), Some((_, "GrantNotFound"))) => {
                // Revoked by an earlier call whose re-key stopped, or never granted: the
                // re-key still leaves them without the new key.
                self.grantee_address(from, false).await?
            }
            Err(e) => return Err(e),
        };
        let report = self
            .rekey_study(email, token, std::slice::from_ref(&grantee))
            .await?;
        Ok((grantee, report))
    }

    /// The metadata CIDs a re-key under way of `token` may have written (for an erasure).
    pub(crate) async fn rekey_metadata_cids(
        &self,
        token: u32,
    ) -> Result<Vec<String>, PlatformError> {
        let Some(r) = self
            .db
            .kv_get(&record_key(token))
            .await
            .map_err(storage("reading the re-key record"))?
        else {
            return Ok(Vec::new());
        };
        let Ok(state) = serde_json::from_str::<RekeyRecord>(&r.value) else {
            return Ok(Vec::new());
        };
        Ok([Some(state.old_cid), state.new_cid]
            .into_iter()
            .flatten()
            .collect())
    }

    /// The first step: the keys and the tag, from the owner's wrapped key.
    async fn start_rekey(
        &self,
        record: &TokenRecord,
        owner: &Keypair,
    ) -> Result<RekeyRecord, PlatformError> {
        let sid = study_of(record)?;
        let old = crate::study::study_key(self.store.as_ref(), &sid, owner)
            .await
            .map_err(PlatformError::Invalid)?;
        let new = StudyKey::generate();
        let seal = |k: &StudyKey| {
            seal_key(k, &owner.address())
                .map(hex::encode)
                .map_err(|e| PlatformError::Invalid(format!("sealing a study key: {e}")))
        };
        let tag: [u8; 6] = rand::random();
        Ok(RekeyRecord {
            token_id: record.id,
            study_id: sid,
            old_cid: record
                .metadata_uri
                .strip_prefix("ipfs://")
                .unwrap_or(&record.metadata_uri)
                .to_owned(),
            generation: format!("k{}", hex::encode(tag)),
            old_key: seal(&old)?,
            new_key: seal(&new)?,
            excluded: Vec::new(),
            new_cid: None,
            old_blocks: None,
        })
    }

    fn unseal(&self, sealed_hex: &str, owner: &Keypair) -> Result<StudyKey, PlatformError> {
        let sealed = hex::decode(sealed_hex)
            .map_err(|e| PlatformError::Invalid(format!("the re-key record's key: {e}")))?;
        open_key(&sealed, owner)
            .map_err(|e| PlatformError::Invalid(format!("opening the re-key record's key: {e}")))
    }

    async fn save_rekey(
        &self,
        key: &str,
        state: &RekeyRecord,
        version: u64,
    ) -> Result<u64, PlatformError> {
        let text =
            serde_json::to_string(state).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        self.db
            .kv_put(key, &text, KvExpect::Version(version), None)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => PlatformError::Conflict(format!(
                    "another re-key of study {} is running; wait for it, then call again",
                    state.token_id
                )),
                e => storage("updating the re-key record")(e),
            })
    }

    /// Step 2: every file's new object, streamed, a few at a time; files done by an
    /// earlier run are kept.
    async fn reencrypt_files(
        &self,
        state: &RekeyRecord,
        old_key: &StudyKey,
        new_key: &Arc<StudyKey>,
        report: &mut RekeyReport,
    ) -> Result<(), PlatformError> {
        let unreadable = |e: medimint_ingest::metadata::MetadataError| {
            PlatformError::Invalid(format!("reading the study's metadata to re-key it: {e}"))
        };
        let mut reader = MetadataReader::open_stored(self.store.clone(), &state.old_cid, old_key)
            .await
            .map_err(unreadable)?;
        let mut work = Reencryptor::new(
            self.store.clone(),
            old_key,
            new_key.clone(),
            Reencryptor::default_parallel(),
        );
        let mut started = std::collections::HashSet::new();
        while let Some(entry) = reader.next_file().await.map_err(unreadable)? {
            let to = new_object_key(&state.study_id, &entry.checksum.sha256, &state.generation);
            let done = self
                .store
                .head(&to)
                .await
                .map_err(storage("inspecting a re-encrypted file"))?
                .is_some_and(|i| i.size == ciphertext_len(entry.checksum.size));
            // Two files with the same bytes share one object.
            if done || !started.insert(to.clone()) {
                continue;
            }
            work.push(
                entry.object_key,
                to,
                entry.checksum.sha256,
                entry.checksum.size,
            )
            .await
            .map_err(rekey_failed)?;
        }
        let (files, bytes) = work.finish().await.map_err(rekey_failed)?;
        report.files_reencrypted = files;
        report.bytes_reencrypted = bytes;
        Ok(())
    }

    /// Step 3: the metadata object under the new key, naming the new objects, read back.
    async fn rewrite_metadata(
        &self,
        state: &RekeyRecord,
        old_key: &StudyKey,
        new_key: Arc<StudyKey>,
    ) -> Result<String, PlatformError> {
        rewrite_metadata(
            self.store.clone(),
            &state.old_cid,
            old_key,
            new_key,
            |sha| new_object_key(&state.study_id, sha, &state.generation),
        )
        .await
        .map_err(rekey_failed)
    }

    /// Step 4: the new key wrapped for the owner and every key holder who still has access
    /// (and is not excluded); other wrapped keys deleted. Returns the holders.
    async fn rewrap(
        &self,
        d: &Deployment,
        state: &RekeyRecord,
        owner: &Keypair,
        new_key: &StudyKey,
    ) -> Result<Vec<String>, PlatformError> {
        let prefix = format!("keys/{}/", state.study_id);
        let listed = self
            .store
            .list(&prefix)
            .await
            .map_err(storage("listing the study's wrapped keys"))?;
        let client = self.token_client(d);
        let mut holders = vec![owner.address()];
        for info in listed {
            let address = info.key[prefix.len()..].to_owned();
            if address == owner.address() {
                continue;
            }
            let keeps = !state.excluded.contains(&address)
                && client
                    .access(state.token_id, &address)
                    .await
                    .map_err(chain("reading a key holder's access"))?
                    .is_some();
            if keeps {
                holders.push(address);
            } else {
                self.store
                    .delete_all_versions(&info.key)
                    .await
                    .map_err(storage("deleting a wrapped key of a holder without access"))?;
            }
        }
        for address in &holders {
            let wrapped = seal_key(new_key, address)
                .map_err(|e| PlatformError::Invalid(format!("wrapping the new key: {e}")))?;
            self.store
                .put_bytes(
                    &wrapped_key_key(&state.study_id, address),
                    Bytes::from(wrapped),
                )
                .await
                .map_err(storage("storing a wrapped new key"))?;
        }
        Ok(holders)
    }

    /// Step 6: the old generation's files and the old metadata's blocks, every version.
    async fn remove_old_objects(&self, state: &RekeyRecord) -> Result<(), PlatformError> {
        let suffix = format!(".{}", state.generation);
        let files = self
            .store
            .list(&format!("studies/{}/files/", state.study_id))
            .await
            .map_err(storage("listing the study's files"))?;
        for info in files {
            if !info.key.ends_with(&suffix) {
                self.store
                    .delete_all_versions(&info.key)
                    .await
                    .map_err(storage("deleting an old encrypted file"))?;
            }
        }
        for cid in state.old_blocks.iter().flatten() {
            self.store
                .delete_all_versions(&metadata_key(cid))
                .await
                .map_err(storage("deleting an old metadata block"))?;
        }
        Ok(())
    }
}
