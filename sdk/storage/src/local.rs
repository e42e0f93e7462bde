//! Object storage in a local directory: the embedded default, and the dead-letter folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWriteExt};

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

/// Bytes per write when streaming an object to its file (one extra buffer per write in
/// flight).
const WRITE_PIECE: usize = 1 << 20;

/// Bytes read from an object's file at a time when it is streamed (as [`WRITE_PIECE`] for
/// writes). `tokio::fs::File` reads on the blocking pool exactly what each read asks, so a
/// reader of the stream format (a 4-byte frame word, then a 64 KiB chunk) would cost two
/// thread hand-offs a chunk; read ahead in pieces of this size it costs one for sixteen
/// chunks (docs/performance.md, "Download of a 100 MB study").
const READ_PIECE: usize = 1024 * 1024;

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

    async fn write_tmp(
        &self,
        tmp: &Path,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(|e| StorageError::io(format!("creating a temporary file for {key}"), e))?;
        // Copy in large pieces: each write to a tokio file is a trip to the blocking pool,
        // and `tokio::io::copy`'s 8 KiB pieces made that hand-off the bottleneck of the
        // whole release pipeline (docs/performance.md, "Ingest").
        let mut body = tokio::io::BufReader::with_capacity(WRITE_PIECE, body);
        let written = tokio::io::copy_buf(&mut body, &mut file)
            .await
            .map_err(|e| StorageError::io(format!("writing {key}"), e))?;
        file.flush()
            .await
            .map_err(|e| StorageError::io(format!("writing {key}"), e))?;
        file.sync_all()
            .await
            .map_err(|e| StorageError::io(format!("syncing {key}"), e))?;
        Ok(written)
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
        let written = match self.write_tmp(&tmp, key, body).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        self.ensure_parent(&path, key).await?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StorageError::io(format!("publishing {key}"), e));
        }
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
