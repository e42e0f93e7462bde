//! The production [`Sealer`]: medimint-sdk's crypto behind the ingest pipeline's traits.
//!
//! Each study gets a fresh random [`StudyKey`] (zeroized when the last reference drops).
//! Files are encrypted in the sdk's chunked stream format while they are read: a spawned
//! task runs [`encrypt_async`] into one end of a bounded in-memory pipe and the pipeline
//! reads the other end, so memory stays bounded whatever the file size.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::{IngestError, Sealer, StudySeal};
use medimint_sdk::crypto::{encrypt_async, seal_key, StudyKey};
use medimint_storage::ObjectReader;
use tokio::io::{AsyncRead, DuplexStream, ReadBuf};
use tokio::sync::oneshot;

/// Capacity of the pipe between the encrypting task and the reader (two stream chunks).
const PIPE_BYTES: usize = 128 * 1024;

/// The production sealer: a fresh study key per study.
#[derive(Debug, Default, Clone, Copy)]
pub struct SdkSealer;

impl Sealer for SdkSealer {
    fn new_study(&self) -> Result<Box<dyn StudySeal>, IngestError> {
        Ok(Box::new(SdkStudySeal {
            key: Arc::new(StudyKey::generate()),
        }))
    }
}

/// One study's key, shared with the encrypting tasks it spawned.
struct SdkStudySeal {
    key: Arc<StudyKey>,
}

fn failed(step: &'static str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Transient {
        step,
        message: e.to_string(),
    }
}

impl StudySeal for SdkStudySeal {
    fn encrypt(&self, plaintext: ObjectReader) -> ObjectReader {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Box::new(FailedReader(Some(
                "encryption needs a tokio runtime".to_owned(),
            )));
        };
        let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
        let (done_tx, done_rx) = oneshot::channel();
        let key = self.key.clone();
        runtime.spawn(async move {
            let result = encrypt_async(&key, plaintext, &mut writer)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            // Report before closing the pipe: the reader looks at the result at EOF.
            let _ = done_tx.send(result);
            drop(writer);
        });
        Box::new(CheckedReader {
            inner: reader,
            done: Some(done_rx),
            seen: None,
        })
    }

    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError> {
        seal_key(&self.key, address).map_err(|e| failed("wrapping the study key", e))
    }
}

/// The reading end of the pipe; at EOF it turns a failed encryption into an error, so a
/// truncated ciphertext is never taken for a complete one.
struct CheckedReader {
    inner: DuplexStream,
    /// `None` once the result was seen (a oneshot must not be polled again after it
    /// completed; a caller may read again after EOF and gets EOF again).
    done: Option<oneshot::Receiver<Result<(), String>>>,
    /// The result, once seen.
    seen: Option<Result<(), String>>,
}

impl AsyncRead for CheckedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                let result = match self.done.as_mut() {
                    Some(done) => match Pin::new(done).poll(cx) {
                        Poll::Ready(Ok(r)) => r,
                        Poll::Ready(Err(_)) => {
                            Err("encryption task ended without a result".to_owned())
                        }
                        Poll::Pending => return Poll::Pending,
                    },
                    // Read again after the end: the same answer as the first time.
                    None => self.seen.clone().unwrap_or(Ok(())),
                };
                self.done = None;
                self.seen = Some(result.clone());
                Poll::Ready(result.map_err(|m| io::Error::other(format!("encryption failed: {m}"))))
            }
            other => other,
        }
    }
}

/// A reader that fails at once (no runtime to encrypt on).
struct FailedReader(Option<String>);

impl AsyncRead for FailedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let message = self.0.take().unwrap_or_else(|| "encryption failed".into());
        Poll::Ready(Err(io::Error::other(message)))
    }
}
