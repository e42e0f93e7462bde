//! One file of a study streamed decrypted to a caller (the HTTP API's downloads), and the
//! access record a viewing leaves on chain.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::*;
use crate::study::open_metadata;

/// Bytes of plaintext buffered between the decrypting task and the reader: one chunk of the
/// stream format, so memory stays bounded whatever the file's size.
const PIPE_BYTES: usize = 64 * 1024;

/// A file of a study being decrypted as it is read. A decryption failure (a tampered or
/// truncated object) surfaces as a read error, never as a short file that ends cleanly.
pub struct FileStream {
    /// The file as the metadata lists it (its size and digest are known before the bytes).
    pub file: StudyFile,
    reader: tokio::io::DuplexStream,
    task: Option<tokio::task::JoinHandle<Result<u64, String>>>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("path", &self.file.path)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for FileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.reader).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before => {
                // End of the pipe: only a clean end if the decryption finished cleanly.
                let Some(task) = self.task.as_mut() else {
                    return Poll::Ready(Ok(()));
                };
                match Pin::new(task).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(result) => {
                        self.task = None;
                        match result {
                            Ok(Ok(_)) => Poll::Ready(Ok(())),
                            Ok(Err(message)) => Poll::Ready(Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                message,
                            ))),
                            Err(join) => Poll::Ready(Err(std::io::Error::other(join))),
                        }
                    }
                }
            }
            other => other,
        }
    }
}

impl FileStream {
    /// `object` (a study file's ciphertext) decrypted under `key` as it is read, through a
    /// pipe of [`PIPE_BYTES`]: the DICOMweb service streams instances and reads frames this
    /// way.
    pub(crate) fn decrypting(
        file: StudyFile,
        key: StudyKey,
        object: medimint_storage::ObjectReader,
    ) -> Self {
        let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
        let task = tokio::spawn(async move {
            let n = decrypt_async(&key, object, &mut writer)
                .await
                .map_err(|e| format!("decrypting the file: {e}"))?;
            tokio::io::AsyncWriteExt::shutdown(&mut writer)
                .await
                .map_err(|e| e.to_string())?;
            Ok(n)
        });
        FileStream {
            file,
            reader,
            task: Some(task),
        }
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

    /// The file `path` of the token, decrypted as it is read, for the holder `email` (whose
    /// role the caller has checked, e.g. with [`Platform::record_access`]).
    ///
    /// # Errors
    /// `NotFound` for a path the study does not list; no key for this holder; storage.
    pub async fn file_stream(
        &self,
        email: &str,
        token: u32,
        path: &str,
    ) -> Result<FileStream, PlatformError> {
        let record = self.token(&token.to_string()).await?;
        let holder = self.keypair_of(email).await?;
        let sid = study_of(&record)?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri);
        let (key, meta) = open_metadata(self.store.as_ref(), &sid, cid, &holder)
            .await
            .map_err(|e| PlatformError::Forbidden(format!("token {token}: {e}")))?;
        let listed = meta
            .files
            .into_iter()
            .find(|f| f.checksum.path == path)
            .ok_or_else(|| {
                PlatformError::NotFound(format!("study {token} has no file {path:?}"))
            })?;
        let object = self
            .store
            .get_stream(&listed.object_key)
            .await
            .map_err(storage("reading a study file"))?;
        let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
        let task = tokio::spawn(async move {
            let n = decrypt_async(&key, object, &mut writer)
                .await
                .map_err(|e| format!("decrypting the file: {e}"))?;
            tokio::io::AsyncWriteExt::shutdown(&mut writer)
                .await
                .map_err(|e| e.to_string())?;
            Ok(n)
        });
        Ok(FileStream {
            file: StudyFile {
                path: listed.checksum.path,
                size: listed.checksum.size,
                sha256: listed.checksum.sha256,
            },
            reader,
            task: Some(task),
        })
    }
}
