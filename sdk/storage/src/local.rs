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
/// Runs `work` on the blocking pool; `context` (e.g. "opening KEY") names it if the task
/// cannot be joined.
async fn blocking<T: Send + 'static>(
    context: impl FnOnce() -> String,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| joined(context(), e))
}

fn joined(context: String, e: tokio::task::JoinError) -> StorageError {
    StorageError::Backend {
        context,
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
    /// [`WRITE_PIECE`] (while one piece is written, the next is read from `body`: two buffers
    /// per write in flight), then syncs it once and renames it to `path`. The file is
    /// created by the first piece's trip to the blocking pool, and the last piece's trip also
    /// syncs and publishes it: an object of one piece costs one trip, not three. Returns the
    /// bytes written; on failure `tmp` may be left for the caller to remove.
    async fn write_object(
        &self,
        tmp: &Path,
        path: &Path,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let mut filling = crate::pool::take();
        let mut spare = Vec::new();
        let mut file: Option<std::fs::File> = None;
        let mut pending: Option<tokio::task::JoinHandle<Piece>> = None;
        let mut written = 0u64;
        loop {
            let read = read_full(body, &mut filling).await;
            if let Some(task) = pending.take() {
                let (f, buf, result) = task
                    .await
                    .map_err(|e| joined(format!("writing {key}"), e))?;
                spare = buf;
                result?;
                file = f;
            }
            let n = read.map_err(|e| StorageError::io(format!("writing {key}"), e))?;
            written += n as u64;
            let job = WriteJob {
                file: file.take(),
                tmp: tmp.to_owned(),
                key: key.to_owned(),
            };
            if n < filling.len() {
                // The last piece (perhaps empty): written, synced and published in one trip.
                let path = path.to_owned();
                let piece = std::mem::take(&mut filling);
                let (_, buf, result) = blocking(
                    || format!("writing {key}"),
                    move || job.finish(piece, n, &path),
                )
                .await?;
                crate::pool::give(buf);
                crate::pool::give(spare);
                return result.map(|()| written);
            }
            if spare.len() < WRITE_PIECE {
                spare = crate::pool::take();
            }
            let piece = std::mem::replace(&mut filling, std::mem::take(&mut spare));
            pending = Some(tokio::task::spawn_blocking(move || job.write(piece, n)));
        }
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
        let written = self.write_object(&tmp, &path, key, body).await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }

    async fn get_stream(&self, key: &str) -> Result<ObjectReader, StorageError> {
        let path = self.path_of(key)?;
        // Opened and, if small, read whole in one trip to the blocking pool.
        let opened = blocking(|| format!("opening {key}"), move || open_file(&path)).await?;
        match opened {
            Ok((reader, _)) => Ok(reader),
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
        let mut found = blocking(
            || format!("listing {prefix}"),
            move || {
                let mut out = Vec::new();
                let dir = if folder.is_empty() {
                    root
                } else {
                    root.join(&folder)
                };
                Self::walk(&dir, &folder, &mut out).map(|_| out)
            },
        )
        .await?
        .map_err(|e| StorageError::io(format!("listing {prefix}"), e))?;
        found.retain(|o| o.key.starts_with(&prefix_owned));
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        let root = self.root.clone();
        let owned = key.to_owned();
        blocking(
            || format!("deleting {key}"),
            move || {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(StorageError::io(format!("deleting {owned}"), e)),
                }
                // Prune folders the delete emptied, so listings and the inbox stay tidy.
                prune_empty_parents(&root, &path);
                Ok(())
            },
        )
        .await?
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let mut reader = self.get_stream(from).await?;
        self.put_stream(to, &mut reader).await.map(|_| ())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let src = self.path_of(from)?;
        let dst = self.path_of(to)?;
        let root = self.root.clone();
        let context = || format!("moving {from} to {to}");
        let (from, to) = (from.to_owned(), to.to_owned());
        // The folder, the move and the pruning in one trip to the blocking pool.
        blocking(context, move || {
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StorageError::io(format!("creating the folder of {to}"), e))?;
            }
            match std::fs::rename(&src, &dst) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StorageError::NotFound(from))
                }
                Err(e) => return Err(StorageError::io(format!("moving {from} to {to}"), e)),
            }
            // Prune the emptied source folders.
            prune_empty_parents(&root, &src);
            Ok(())
        })
        .await?
    }
}

/// Opens the file at `path` for streaming, and its size when opened: one of less than
/// [`READ_PIECE`] bytes read whole into a pooled buffer in this call (a fresh buffer per file
/// would cost page faults), a larger one (or one that grew to fill the buffer while it was
/// read) streamed in pieces of [`READ_PIECE`] from where the read stopped. Blocking: what
/// [`ObjectStore::get_stream`] runs on the blocking pool, and what a release of files on disk
/// (the ingest pipeline's `LocalUpload`) opens its files with, so that a small file costs
/// one trip to the pool, not three (open, read, end).
pub fn open_file(path: &Path) -> std::io::Result<(ObjectReader, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let streamed = |file: std::fs::File| {
        tokio::io::BufReader::with_capacity(READ_PIECE, tokio::fs::File::from_std(file))
    };
    if size >= READ_PIECE as u64 {
        return Ok((Box::new(streamed(file)), size));
    }
    let mut whole = PooledBytes {
        buf: crate::pool::take(),
        len: 0,
        pos: 0,
    };
    while whole.len < whole.buf.len() {
        match file.read(&mut whole.buf[whole.len..]) {
            Ok(0) => return Ok((Box::new(whole), size)),
            Ok(n) => whole.len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let reader = tokio::io::AsyncReadExt::chain(whole, streamed(file));
    Ok((Box::new(reader), size))
}

/// The first `len` bytes of a pooled buffer, read from `pos` on; the buffer goes back to the
/// pool when the reader is dropped.
struct PooledBytes {
    buf: Vec<u8>,
    len: usize,
    pos: usize,
}

impl AsyncRead for PooledBytes {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let n = (this.len - this.pos).min(out.remaining());
        out.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        std::task::Poll::Ready(Ok(()))
    }
}

impl Drop for PooledBytes {
    fn drop(&mut self) {
        crate::pool::give(std::mem::take(&mut self.buf));
    }
}

/// Removes the folders above `path` that are empty, up to (not including) `root`.
fn prune_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// What a trip to the blocking pool gives back: the file (once created), the piece's buffer
/// and how the write went.
type Piece = (Option<std::fs::File>, Vec<u8>, Result<(), StorageError>);

/// One trip of [`LocalDirStore::write_object`] to the blocking pool.
struct WriteJob {
    /// `None` until the first trip creates it.
    file: Option<std::fs::File>,
    tmp: PathBuf,
    key: String,
}

impl WriteJob {
    /// Writes `bytes` to the temporary file, which the first call creates.
    fn put(&mut self, bytes: &[u8]) -> Result<&mut std::fs::File, StorageError> {
        let f = match &mut self.file {
            Some(f) => f,
            empty => empty.insert(std::fs::File::create(&self.tmp).map_err(|e| {
                StorageError::io(format!("creating a temporary file for {}", self.key), e)
            })?),
        };
        f.write_all(bytes)
            .map_err(|e| StorageError::io(format!("writing {}", self.key), e))?;
        Ok(f)
    }

    /// Writes `piece[..n]`.
    fn write(mut self, piece: Vec<u8>, n: usize) -> Piece {
        let result = self.put(&piece[..n]).map(|_| ());
        (self.file, piece, result)
    }

    /// Writes `piece[..n]`, syncs the file (one fsync per object, not per piece) and renames
    /// it to `path`.
    fn finish(mut self, piece: Vec<u8>, n: usize, path: &Path) -> Piece {
        let key = self.key.clone();
        let result = self
            .put(&piece[..n])
            .and_then(|f| {
                f.sync_all()
                    .map_err(|e| StorageError::io(format!("syncing {key}"), e))
            })
            .and_then(|()| {
                drop(self.file.take());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StorageError::io(format!("creating the folder of {key}"), e)
                    })?;
                }
                std::fs::rename(&self.tmp, path)
                    .map_err(|e| StorageError::io(format!("publishing {key}"), e))
            });
        if result.is_err() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
        (None, piece, result)
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

    #[tokio::test]
    async fn rename_and_delete_move_in_one_step_and_prune_emptied_folders() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path()).unwrap();
        for (k, v) in [("staging/a/b/0", "x"), ("staging/a/b/1", "y")] {
            store
                .put_bytes(k, bytes::Bytes::from_static(v.as_bytes()))
                .await
                .unwrap();
        }
        store
            .rename("staging/a/b/0", "studies/s/files/h0")
            .await
            .unwrap();
        assert_eq!(
            store.get_bytes("studies/s/files/h0", 10).await.unwrap(),
            b"x"
        );
        assert!(store.head("staging/a/b/0").await.unwrap().is_none());
        assert!(dir.path().join("staging/a/b").is_dir(), "1 is still there");
        store
            .rename("staging/a/b/1", "studies/s/files/h1")
            .await
            .unwrap();
        assert!(
            !dir.path().join("staging").exists(),
            "emptied folders pruned"
        );
        match store.rename("staging/a/b/1", "elsewhere").await {
            Err(StorageError::NotFound(k)) => assert_eq!(k, "staging/a/b/1"),
            other => panic!("{other:?}"),
        }
        for k in [
            "studies/s/files/h0",
            "studies/s/files/h1",
            "studies/s/files/h1",
        ] {
            store.delete(k).await.unwrap();
        }
        assert!(
            !dir.path().join("studies").exists(),
            "emptied folders pruned"
        );
        assert!(dir.path().is_dir(), "the root stays");
    }
}
