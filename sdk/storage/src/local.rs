//! Object storage in a local directory: the embedded default, and the dead-letter folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use std::io::Write;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::key::{validate_key, validate_prefix, TMP_DIR};
use crate::{ObjectInfo, ObjectReader, ObjectStore, StorageError};

/// Objects as files under a root directory, key `a/b/c` at `<root>/a/b/c`. Every write goes to
/// a temporary file in `<root>/.medimint-tmp/` and is renamed into place, so a crash never
/// leaves a half-written object under its key.
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Bytes per write when streaming an object to its file (two buffers per write in flight:
/// one being written, one being filled).
const WRITE_PIECE: usize = crate::pool::PIECE;

/// Bytes read from an object's file at a time when it is streamed (as [`WRITE_PIECE`] for
/// writes). `tokio::fs::File` reads on the blocking pool exactly what each read asks, so a
/// reader of the stream format (a 4-byte frame word, then a 64 KiB chunk) would cost two
/// thread hand-offs a chunk; read ahead in pieces of this size it costs one for sixteen
/// chunks (docs/performance.md, "Download of a 100 MB study").
const READ_PIECE: usize = 1024 * 1024;

/// Reads until `buf` is full or `body` ends; returns the bytes read.
async fn read_full(
    body: &mut (dyn AsyncRead + Send + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match body.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    key: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| joined(key, e))
}

fn joined(key: &str, e: tokio::task::JoinError) -> StorageError {
    StorageError::Backend {
        context: format!("writing {key}"),
        message: e.to_string(),
        transient: true,
    }
}

impl LocalDirStore {
    /// Uses (and creates if needed) `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        std::fs::create_dir_all(root.join(TMP_DIR))
            .map_err(|e| StorageError::io(format!("creating {}", root.display()), e))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn tmp_path(&self) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.root
            .join(TMP_DIR)
            .join(format!("{}-{n}-{nanos}.part", std::process::id()))
    }

    /// Writes `body` to the new file `tmp` with `std::fs` on the blocking pool, in pieces of
    /// [`WRITE_PIECE`]: while one piece is written, the next is read from `body` (two buffers
    /// per write in flight). Returns the file, not yet synced, and the bytes written.
    async fn write_tmp(
        &self,
        tmp: &Path,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<(std::fs::File, u64), StorageError> {
        let path = tmp.to_owned();
        let mut file = Some(
            blocking(key, move || std::fs::File::create(path))
                .await?
                .map_err(|e| StorageError::io(format!("creating a temporary file for {key}"), e))?,
        );
        let writing = |e: std::io::Error| StorageError::io(format!("writing {key}"), e);
        let mut filling = crate::pool::take();
        let mut spare = Vec::new();
        let mut pending: Option<tokio::task::JoinHandle<_>> = None;
        let mut written = 0u64;
        loop {
            let n = read_full(body, &mut filling).await.map_err(writing)?;
            if let Some(task) = pending.take() {
                let (f, buf, result): (std::fs::File, Vec<u8>, std::io::Result<()>) =
                    task.await.map_err(|e| joined(key, e))?;
                result.map_err(writing)?;
                file = Some(f);
                spare = buf;
            }
            if n == 0 {
                break;
            }
            written += n as u64;
            let last = n < filling.len();
            if spare.len() < WRITE_PIECE && !last {
                spare = crate::pool::take();
            }
            let piece = std::mem::replace(&mut filling, std::mem::take(&mut spare));
            let mut f = file
                .take()
                .expect("the file is back from the previous write");
            pending = Some(tokio::task::spawn_blocking(move || {
                let result = f.write_all(&piece[..n]);
                (f, piece, result)
            }));
            if last {
                let task = pending.take().expect("just started");
                let (f, buf, result) = task.await.map_err(|e| joined(key, e))?;
                result.map_err(writing)?;
                file = Some(f);
                spare = buf;
                break;
            }
        }
        crate::pool::give(filling);
        crate::pool::give(spare);
        Ok((file.expect("no write under way"), written))
    }

    async fn ensure_parent(&self, path: &Path, key: &str) -> Result<(), StorageError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StorageError::io(format!("creating the folder of {key}"), e))?;
        }
        Ok(())
    }

    /// Walks the tree under `dir` collecting files; `rel` is `dir` relative to the root.
    fn walk(dir: &Path, rel: &str, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue; // not a key this store could have written
            };
            if rel.is_empty() && name == TMP_DIR {
                continue;
            }
            let key = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = entry.metadata()?;
            if meta.is_dir() {
                Self::walk(&entry.path(), &key, out)?;
            } else if meta.is_file() {
                out.push(ObjectInfo {
                    key,
                    size: meta.len(),
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for LocalDirStore {
    async fn put_stream(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let path = self.path_of(key)?;
        let tmp = self.tmp_path();
        let (file, written) = match self.write_tmp(&tmp, key, body).await {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        // One fsync per object (not per piece), then the folder and the rename: one trip to
        // the blocking pool.
        let owned = key.to_owned();
        blocking(key, move || {
            let published = file
                .sync_all()
                .map_err(|e| StorageError::io(format!("syncing {owned}"), e))
                .and_then(|()| {
                    drop(file);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            StorageError::io(format!("creating the folder of {owned}"), e)
                        })?;
                    }
                    std::fs::rename(&tmp, &path)
                        .map_err(|e| StorageError::io(format!("publishing {owned}"), e))
                });
            if published.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            published
        })
        .await??;
        Ok(written)
    }

    async fn get_stream(&self, key: &str) -> Result<ObjectReader, StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::File::open(&path).await {
            Ok(f) => Ok(Box::new(tokio::io::BufReader::with_capacity(READ_PIECE, f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(key.to_owned()))
            }
            Err(e) => Err(StorageError::io(format!("opening {key}"), e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: m.len(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(format!("inspecting {key}"), e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        // Walk only the deepest folder the prefix names entirely, then filter.
        let folder = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let root = self.root.clone();
        let folder = folder.to_owned();
        let prefix_owned = prefix.to_owned();
        let mut found = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let dir = if folder.is_empty() {
                root
            } else {
                root.join(&folder)
            };
            Self::walk(&dir, &folder, &mut out).map(|_| out)
        })
        .await
        .map_err(|e| StorageError::Backend {
            context: format!("listing {prefix}"),
            message: e.to_string(),
            transient: true,
        })?
        .map_err(|e| StorageError::io(format!("listing {prefix}"), e))?;
        found.retain(|o| o.key.starts_with(&prefix_owned));
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StorageError::io(format!("deleting {key}"), e)),
        }
        // Prune folders the delete emptied, so listings and the inbox stay tidy.
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == self.root || tokio::fs::remove_dir(&d).await.is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let mut reader = self.get_stream(from).await?;
        self.put_stream(to, &mut reader).await.map(|_| ())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let src = self.path_of(from)?;
        let dst = self.path_of(to)?;
        self.ensure_parent(&dst, to).await?;
        match tokio::fs::rename(&src, &dst).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound(from.to_owned()))
            }
            Err(e) => return Err(StorageError::io(format!("moving {from} to {to}"), e)),
        }
        // Prune the emptied source folders.
        let mut dir = src.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == self.root || tokio::fs::remove_dir(&d).await.is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Yields `data` in uneven pieces, then fails if `fail` is set.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.at == self.data.len() {
                return Poll::Ready(if self.fail {
                    Err(std::io::Error::other("the body broke"))
                } else {
                    Ok(())
                });
            }
            let n = buf.remaining().min(77_777).min(self.data.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    fn body(len: usize, fail: bool) -> Pieces {
        Pieces {
            data: (0..len).map(|i| (i * 7 % 253) as u8).collect(),
            at: 0,
            fail,
        }
    }

    #[tokio::test]
    async fn objects_of_every_piece_count_are_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path()).unwrap();
        for len in [
            0,
            1,
            WRITE_PIECE - 1,
            WRITE_PIECE,
            WRITE_PIECE + 1,
            3 * WRITE_PIECE,
            2 * WRITE_PIECE + 12_345,
        ] {
            let key = format!("a/b/{len}");
            let mut reader = body(len, false);
            let written = store.put_stream(&key, &mut reader).await.unwrap();
            assert_eq!(written, len as u64);
            let back = std::fs::read(store.path_of(&key).unwrap()).unwrap();
            assert!(back == reader.data, "{len} bytes came back different");
            // Streamed back, read whole and in the stream format's sizes (a 4-byte word,
            // then up to 64 KiB), and read again after its end.
            let mut whole = Vec::new();
            store
                .get_stream(&key)
                .await
                .unwrap()
                .read_to_end(&mut whole)
                .await
                .unwrap();
            assert!(whole == reader.data, "{len} bytes streamed back different");
            let mut stream = store.get_stream(&key).await.unwrap();
            let mut pieces = Vec::new();
            let mut buf = vec![0u8; 65_536 + 16];
            for i in 0.. {
                let want = if i % 2 == 0 { 4 } else { buf.len() };
                let n = stream.read(&mut buf[..want]).await.unwrap();
                if n == 0 {
                    break;
                }
                pieces.extend_from_slice(&buf[..n]);
            }
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0, "EOF stays EOF");
            assert!(
                pieces == reader.data,
                "{len} bytes read in pieces different"
            );
        }
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join(TMP_DIR))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    }

    #[tokio::test]
    async fn a_body_that_fails_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path()).unwrap();
        for len in [0, WRITE_PIECE, 2 * WRITE_PIECE + 5] {
            let err = store
                .put_stream("k", &mut body(len, true))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("writing k"), "{err}");
            assert!(store.head("k").await.unwrap().is_none());
        }
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join(TMP_DIR))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    }
}
