//! One file of a study streamed decrypted to a caller (the HTTP API's downloads), the access
//! record a viewing leaves on chain, and the studies opened for their holders.
//!
//! A download of a study is many requests, one per file. Each needs the caller's live role
//! (two chain reads) and the study key with the file list (the encrypted metadata, opened
//! with the holder's key). [`Platform::opened_study`] keeps both per holder and token: the
//! role for at most [`ROLE_TTL`] (one ledger, as the API's roles) and never past the role's
//! own expiry, the opened metadata as long as the role is re-read unchanged; a revoke through
//! this platform drops the token's entries at once ([`Platform::forget_opened`]). The bytes
//! are decrypted chunk by chunk in the reader's own task (no pipe, no second task, one copy
//! of each chunk into the buffer handed on).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use medimint_sdk::crypto::stream::CHUNK_SIZE;
use medimint_sdk::crypto::ChunkDecryptor;
use medimint_storage::ObjectReader;
use tokio::io::{AsyncRead, ReadBuf};

use super::*;
use crate::study::MetaFile;

/// How long a role read from the chain is believed for downloads: one ledger (5 s on the
/// public networks), as the API's cached roles.
pub const ROLE_TTL: Duration = Duration::from_secs(5);
/// Plaintext handed on at a time (four chunks of the stream format): an HTTP body's frame.
const FRAME_BYTES: usize = 4 * CHUNK_SIZE;
/// Most opened studies kept (each holds a study key and its file list).
const OPENED_MAX: usize = 1_024;
/// How long an opened study is kept without use (then it is dropped at the next insertion).
const OPENED_IDLE: Duration = Duration::from_secs(300);

/// A study opened for one holder: the key and the files, by path.
pub struct OpenedStudy {
    /// Token id.
    pub token: u32,
    key: StudyKey,
    files: HashMap<String, MetaFile>,
}

impl std::fmt::Debug for OpenedStudy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStudy")
            .field("token", &self.token)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

struct Opened {
    /// When the role was last read from the chain.
    role_read: Instant,
    /// When this entry was last used.
    used: Instant,
    /// Unix seconds when the role ends, if it does.
    until: Option<u64>,
    /// The metadata object the study was opened from.
    metadata_uri: String,
    study: Arc<OpenedStudy>,
}

/// The platform's opened studies, by holder address and token.
#[derive(Default)]
pub(crate) struct OpenedStudies {
    map: Mutex<HashMap<(String, u32), Opened>>,
    /// Counts the revokes seen: a role read before one is not kept after it.
    revokes: std::sync::atomic::AtomicU64,
}

impl OpenedStudies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Opened>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the revokes stand: pass it to [`OpenedStudies::put`] with what was read after.
    fn revokes(&self) -> u64 {
        self.revokes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The study if its role was read less than [`ROLE_TTL`] ago and has not ended.
    fn fresh(&self, address: &str, token: u32, now: u64) -> Option<Arc<OpenedStudy>> {
        let mut map = self.lock();
        let entry = map.get_mut(&(address.to_owned(), token))?;
        if entry.role_read.elapsed() >= ROLE_TTL || entry.until.is_some_and(|u| now >= u) {
            return None;
        }
        entry.used = Instant::now();
        Some(entry.study.clone())
    }

    /// The opened study kept for this metadata object, whatever the age of its role (not
    /// one idle for [`OPENED_IDLE`]).
    fn opened(&self, address: &str, token: u32, metadata_uri: &str) -> Option<Arc<OpenedStudy>> {
        let map = self.lock();
        map.get(&(address.to_owned(), token))
            .filter(|e| e.metadata_uri == metadata_uri && e.used.elapsed() < OPENED_IDLE)
            .map(|e| e.study.clone())
    }

    /// Keeps `study` with its role just read, unless a revoke came since `revokes` (then the
    /// next request reads the role again). Drops the studies idle for [`OPENED_IDLE`], and
    /// the least recently used beyond [`OPENED_MAX`].
    fn put(
        &self,
        address: &str,
        until: Option<u64>,
        metadata_uri: String,
        study: Arc<OpenedStudy>,
        revokes: u64,
    ) {
        let mut map = self.lock();
        if self.revokes() != revokes {
            return;
        }
        map.retain(|_, e| e.used.elapsed() < OPENED_IDLE);
        if map.len() >= OPENED_MAX {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let now = Instant::now();
        map.insert(
            (address.to_owned(), study.token),
            Opened {
                role_read: now,
                used: now,
                until,
                metadata_uri,
                study,
            },
        );
    }

    fn forget(&self, address: &str, token: u32) {
        self.lock().remove(&(address.to_owned(), token));
    }

    fn forget_token(&self, token: u32) {
        let mut map = self.lock();
        self.revokes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.retain(|(_, t), _| *t != token);
    }
}

/// One step of the decryption: the decryptor handed back with the next chunk.
type Step = Pin<
    Box<
        dyn Future<
                Output = (
                    Box<ChunkDecryptor<ObjectReader>>,
                    std::io::Result<Option<Bytes>>,
                ),
            > + Send,
    >,
>;

/// A file of a study being decrypted as it is read, a few chunks of the stream format at a
/// time (memory: [`FRAME_BYTES`] and one chunk, whatever the file's size). A decryption failure (a tampered or
/// truncated object) surfaces as a read error, never as a short file that ends cleanly.
pub struct FileStream {
    /// The file as the metadata lists it (its size and digest are known before the bytes).
    pub file: StudyFile,
    decryptor: Option<Box<ChunkDecryptor<ObjectReader>>>,
    step: Option<Step>,
    /// Plaintext handed out but not read yet (by [`AsyncRead`]).
    pending: Bytes,
    finished: bool,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("path", &self.file.path)
            .finish_non_exhaustive()
    }
}

impl FileStream {
    /// `object` (a study file's ciphertext) decrypted under `key` as it is read.
    pub(crate) fn decrypting(file: StudyFile, key: &StudyKey, object: ObjectReader) -> Self {
        FileStream {
            file,
            decryptor: Some(Box::new(ChunkDecryptor::new(key, object))),
            step: None,
            pending: Bytes::new(),
            finished: false,
        }
    }

    /// The next piece of plaintext (at most 256 KiB), `None` at the clean end: what an HTTP
    /// body sends as it is, without copying it again. An error ends the stream.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.pending))));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        if self.step.is_none() {
            let Some(mut d) = self.decryptor.take() else {
                self.finished = true;
                return Poll::Ready(None);
            };
            self.step = Some(Box::pin(async move {
                // Chunks of the format, decrypted straight into one buffer until it holds
                // [`FRAME_BYTES`] (or the file ends): one copy of each byte, and a quarter of
                // the frames (writes, wake-ups) that one frame a chunk would cost.
                let mut frame = bytes::BytesMut::new();
                let next = loop {
                    match d.next_chunk().await {
                        Ok(Some(plain)) => {
                            if frame.is_empty() {
                                frame.reserve(FRAME_BYTES.max(plain.len()));
                            }
                            frame.extend_from_slice(plain);
                            if frame.len() + CHUNK_SIZE > FRAME_BYTES {
                                break Ok(Some(frame.freeze()));
                            }
                        }
                        Ok(None) if frame.is_empty() => break Ok(None),
                        Ok(None) => break Ok(Some(frame.freeze())),
                        Err(e) => {
                            break Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!("decrypting the file: {e}"),
                            ))
                        }
                    }
                };
                (d, next)
            }));
        }
        let Some(step) = self.step.as_mut() else {
            return Poll::Ready(None);
        };
        let (d, next) = match step.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.step = None;
        self.decryptor = Some(d);
        match next {
            Ok(Some(chunk)) => Poll::Ready(Some(Ok(chunk))),
            Ok(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Err(e) => {
                self.finished = true;
                self.decryptor = None;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl AsyncRead for FileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let chunk = match this.poll_chunk(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(Some(Ok(chunk))) => chunk,
        };
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        this.pending = chunk.slice(n..);
        Poll::Ready(Ok(()))
    }
}

impl Platform {
    /// Records on chain that `email` viewed or downloaded the token (refused without a live
    /// role, or for an issuer no longer trusted).
    ///
    /// # Errors
    /// The contract's refusal (`NoAccess`, …), chain failures.
    pub async fn record_access(
        &self,
        email: &str,
        token: u32,
        kind: AccessKind,
    ) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let record = self.token(&token.to_string()).await?;
        let viewer = self.keypair_of(email).await?;
        self.token_client(&d)
            .record_access(
                &fresh_key(&format!("access/{token}/{}", viewer.address())),
                viewer.signing_key(),
                token,
                kind,
            )
            .await
            .map_err(|e| self.access_refused(&record, &viewer.address(), e))?;
        Ok(())
    }

    /// The token opened for the custodial account `email` at `address`: `NotFound` unless
    /// the account owns it, issued it or holds a role on it now (as
    /// [`Platform::study_view`]); `Forbidden` when its key does not open the metadata. Kept
    /// per holder and token (see the module's documentation): within [`ROLE_TTL`] no chain
    /// read, then two (the token and the role) and the metadata again only if it changed.
    ///
    /// # Errors
    /// As above; chain and storage failures.
    pub async fn opened_study(
        &self,
        address: &str,
        email: &str,
        token: u32,
    ) -> Result<Arc<OpenedStudy>, PlatformError> {
        let now = medimint_storage::now();
        if let Some(study) = self.opened.fresh(address, token, now) {
            return Ok(study);
        }
        let revokes = self.opened.revokes();
        let d = self.deployment()?;
        let client = self.token_client(&d);
        let not_found = || PlatformError::NotFound(format!("no study {token} for this account"));
        let record = match client.token(token).await {
            Ok(r) => r,
            Err(e) if medimint_chain::clients::contract_error(&e).is_some() => {
                self.opened.forget(address, token);
                return Err(not_found());
            }
            Err(e) => return Err(chain(format!("reading token {token}"))(e)),
        };
        // An erased study's files are gone for good: 410 for anyone, as its view says (the
        // chain says so publicly).
        if let Err(e) = super::not_erased(&record) {
            self.opened.forget(address, token);
            return Err(e);
        }
        let access = client
            .access(token, address)
            .await
            .map_err(chain(format!("reading access to token {token}")))?;
        if access.is_none() && record.owner != address && record.issuer != address {
            self.opened.forget(address, token);
            return Err(not_found());
        }
        let until = access.and_then(|a| a.expires_at);
        let study = match self.opened.opened(address, token, &record.metadata_uri) {
            Some(study) => study,
            None => {
                let holder = self.keypair_of(email).await?;
                if holder.address() != address {
                    return Err(PlatformError::Forbidden(format!(
                        "{email} is not the account {address}"
                    )));
                }
                let (key, meta) = self.open_token(&record, &holder).await?;
                Arc::new(OpenedStudy {
                    token,
                    key,
                    files: meta
                        .files
                        .into_iter()
                        .map(|f| (f.checksum.path.clone(), f))
                        .collect(),
                })
            }
        };
        self.opened
            .put(address, until, record.metadata_uri, study.clone(), revokes);
        Ok(study)
    }

    /// Drops every opened study of `token` (after a revoke: the next download reads the
    /// role from the chain again), and its DICOMweb indexes (an erased study's key and
    /// headers leave memory at once; a re-keyed one's old key too).
    pub fn forget_opened(&self, token: u32) {
        self.opened.forget_token(token);
        crate::dicomweb::ViewCache::global().forget_token(token);
    }

    /// The file `path` of an opened study, decrypted as it is read (the caller checked the
    /// role with [`Platform::opened_study`], and recorded the access).
    ///
    /// # Errors
    /// `NotFound` for a path the study does not list; storage.
    pub async fn file_stream(
        &self,
        study: &OpenedStudy,
        path: &str,
    ) -> Result<FileStream, PlatformError> {
        let listed = study.files.get(path).ok_or_else(|| {
            PlatformError::NotFound(format!("study {} has no file {path:?}", study.token))
        })?;
        let object = self
            .store
            .get_stream(&listed.object_key)
            .await
            .map_err(storage("reading a study file"))?;
        Ok(FileStream::decrypting(
            StudyFile {
                path: listed.checksum.path.clone(),
                size: listed.checksum.size,
                sha256: listed.checksum.sha256.clone(),
            },
            &study.key,
            object,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study(token: u32) -> Arc<OpenedStudy> {
        Arc::new(OpenedStudy {
            token,
            key: StudyKey::generate(),
            files: HashMap::new(),
        })
    }

    #[test]
    fn kept_studies_end_with_the_role_a_revoke_and_the_bound() {
        let kept = OpenedStudies::default();
        kept.put("GA", None, "ipfs://a".into(), study(1), 0);
        kept.put("GB", Some(1_000), "ipfs://a".into(), study(1), 0);
        kept.put("GA", None, "ipfs://b".into(), study(2), 0);
        assert!(kept.fresh("GA", 1, 999).is_some());
        // A role that ended is not believed, whatever its age.
        assert!(kept.fresh("GB", 1, 999).is_some());
        assert!(kept.fresh("GB", 1, 1_000).is_none());
        // Another holder, another token: nothing.
        assert!(kept.fresh("GC", 1, 0).is_none());
        // The metadata is reused only for the same object.
        assert!(kept.opened("GA", 2, "ipfs://b").is_some());
        assert!(kept.opened("GA", 2, "ipfs://c").is_none());
        // A revoke of token 1 drops every holder's entry of it, not token 2's.
        kept.forget_token(1);
        assert!(kept.fresh("GA", 1, 0).is_none());
        assert!(kept.fresh("GB", 1, 0).is_none());
        assert!(kept.fresh("GA", 2, 0).is_some());
        // A role read before a revoke is not kept after it.
        let before = kept.revokes();
        kept.forget_token(9);
        kept.put("GA", None, "ipfs://e".into(), study(3), before);
        assert!(kept.fresh("GA", 3, 0).is_none());
        // Bounded: the least recently used goes first.
        let now = kept.revokes();
        for t in 0..OPENED_MAX as u32 + 10 {
            kept.put("GD", None, "ipfs://d".into(), study(100 + t), now);
        }
        assert!(kept.lock().len() <= OPENED_MAX);
        assert!(kept.fresh("GD", 100 + OPENED_MAX as u32 + 9, 0).is_some());
    }
}
