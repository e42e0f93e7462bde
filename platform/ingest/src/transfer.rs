//! A study's files out of storage and back onto a disk, at the speed of the disk and the
//! cores: each file decrypted straight to its destination and hashed as it is written,
//! several files at once; and files on disk hashed several at once, for `verify`.
//! docs/performance.md ("Download and verify") has the figures.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use medimint_sdk::crypto::{decrypt_async, StudyKey};
use medimint_storage::{ObjectStore, StorageError};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use crate::checksum::PresentedFile;

/// Bytes read from storage, or written to disk, at a time: each read or write of a file
/// through tokio is a round trip to its blocking pool, and the stream format reads a 4-byte
/// frame word before each 64 KiB chunk.
pub const IO_BUFFER: usize = 1024 * 1024;

/// Files downloaded or hashed at once: the cores, at least 2 (one file's storage round trips
/// overlap another's decryption) and at most 8.
pub fn parallel_files() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

/// Why a transfer failed. Messages name files by their name in the study or their path on
/// the caller's disk.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Reading or writing a file on disk.
    #[error("cannot {what} {}: {source}", path.display())]
    Disk {
        /// `read`, `write`, `create`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading a stored object.
    #[error("downloading {name}: {source}")]
    Storage {
        /// The file's name in the study.
        name: String,
        /// Why.
        #[source]
        source: StorageError,
    },
    /// The object does not decrypt to a whole file (tampered, truncated, another key), or
    /// reading it or writing the plaintext failed on the way.
    #[error("decrypting {name}: {source}")]
    Decrypt {
        /// The file's name in the study.
        name: String,
        /// Why.
        #[source]
        source: medimint_sdk::crypto::Error,
    },
    /// A worker task ended abnormally.
    #[error("a transfer task ended abnormally: {0}")]
    Task(String),
}

/// One file to download.
#[derive(Debug, Clone)]
pub struct Download {
    /// Where it goes (its parent folders are made).
    pub dest: PathBuf,
    /// Its stored ciphertext.
    pub object_key: String,
    /// Its name in the study, for messages and the result.
    pub name: String,
}

/// One downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Its name in the study.
    pub name: String,
    /// SHA-256 of the bytes written.
    pub sha256: [u8; 32],
    /// Bytes written.
    pub bytes: u64,
}

/// Decrypts every file of `files` into its destination, `limit` at once, hashing each as it
/// is written; `done(n)` after the n-th. Results in `files`' order. The first failure stops
/// the rest (a file being written when it does is left partial: keep the folder only on
/// success).
///
/// # Errors
/// See [`TransferError`].
pub async fn download_files(
    store: Arc<dyn ObjectStore>,
    key: &StudyKey,
    files: Vec<Download>,
    limit: usize,
    done: impl FnMut(usize),
) -> Result<Vec<Downloaded>, TransferError> {
    let key = Arc::new(key.clone());
    in_order(files, limit, done, move |d: Download| {
        let (store, key) = (store.clone(), key.clone());
        async move { download_one(&*store, &key, d).await }
    })
    .await
}

/// SHA-256 of each file (name, path), `limit` at once, each read on the blocking pool in
/// [`IO_BUFFER`] pieces. Results in `files`' order.
///
/// # Errors
/// A file that cannot be read.
pub async fn hash_files(
    files: Vec<(String, PathBuf)>,
    limit: usize,
) -> Result<Vec<PresentedFile>, TransferError> {
    in_order(
        files,
        limit,
        |_| {},
        |(name, path): (String, PathBuf)| async move {
            tokio::task::spawn_blocking(move || {
                let sha256 = hash_path(&path)?;
                Ok(PresentedFile { name, sha256 })
            })
            .await
            .map_err(|e| TransferError::Task(e.to_string()))?
        },
    )
    .await
}

/// SHA-256 of the file at `path`, read in [`IO_BUFFER`] pieces (blocking).
fn hash_path(path: &Path) -> Result<[u8; 32], TransferError> {
    use std::io::Read;
    let unreadable = |source| TransferError::Disk {
        what: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; IO_BUFFER];
    loop {
        let n = f.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            return Ok(h.finalize().into());
        }
        h.update(&buf[..n]);
    }
}

/// Runs `work` over `items`, at most `limit` at once, each on its own task; calls `done(n)`
/// as the n-th finishes; returns the results in the items' order. The first error stops the
/// rest (their tasks are aborted when the set drops).
async fn in_order<I, T, F, Fut>(
    items: Vec<I>,
    limit: usize,
    mut done: impl FnMut(usize),
    work: F,
) -> Result<Vec<T>, TransferError>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, TransferError>> + Send + 'static,
{
    type Joined<T> = Result<(usize, Result<T, TransferError>), tokio::task::JoinError>;
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let mut running = tokio::task::JoinSet::new();
    let mut finished = 0;
    let mut take = |r: Joined<T>, results: &mut Vec<Option<T>>| -> Result<(), TransferError> {
        let (i, t) = r.map_err(|e| TransferError::Task(e.to_string()))?;
        results[i] = Some(t?);
        finished += 1;
        done(finished);
        Ok(())
    };
    for (i, item) in items.into_iter().enumerate() {
        if running.len() >= limit.max(1) {
            if let Some(r) = running.join_next().await {
                take(r, &mut results)?;
            }
        }
        let fut = work(item);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(r) = running.join_next().await {
        take(r, &mut results)?;
    }
    Ok(results.into_iter().flatten().collect())
}

/// Decrypts one object into its destination, hashing the plaintext as it is written.
async fn download_one(
    store: &dyn ObjectStore,
    key: &StudyKey,
    d: Download,
) -> Result<Downloaded, TransferError> {
    let disk = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| TransferError::Disk { what, path, source }
    };
    if let Some(parent) = d.dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(disk("create", parent))?;
    }
    let reader =
        store
            .get_stream(&d.object_key)
            .await
            .map_err(|source| TransferError::Storage {
                name: d.name.clone(),
                source,
            })?;
    let reader = tokio::io::BufReader::with_capacity(IO_BUFFER, reader);
    let out = tokio::fs::File::create(&d.dest)
        .await
        .map_err(disk("write", &d.dest))?;
    let mut out = HashingWriter {
        inner: tokio::io::BufWriter::with_capacity(IO_BUFFER, out),
        hasher: Sha256::new(),
    };
    let bytes = decrypt_async(key, reader, &mut out)
        .await
        .map_err(|source| TransferError::Decrypt {
            name: d.name.clone(),
            source,
        })?;
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(disk("write", &d.dest))?;
    Ok(Downloaded {
        name: d.name,
        sha256: out.hasher.finalize().into(),
        bytes,
    })
}

/// Hashes every byte the inner writer accepts.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.hasher.update(&buf[..n]);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
