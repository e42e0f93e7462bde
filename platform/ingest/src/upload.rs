//! Where a release's files and manifest are read from, and what becomes of them after the
//! release: the inbox ([`InboxUpload`], what a PACS export writes and the ingest function
//! reads), or files on the local disk read in place ([`LocalUpload`], `medimint release`
//! against a local stack: each file read by the pipeline only, never copied first).

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use medimint_storage::local::open_file;
use medimint_storage::{ObjectReader, ObjectStore, StorageError};

use crate::layout::ReleaseRef;
use crate::manifest::{MANIFEST_NAME, MAX_MANIFEST_BYTES};
use crate::IngestError;

/// A release's files and manifest.
#[async_trait]
pub trait Upload: Send + Sync {
    /// The manifest's bytes (empty if it is over [`MAX_MANIFEST_BYTES`], which the
    /// manifest check refuses), or `None` if there is none (yet, or any more).
    async fn manifest(&self) -> Result<Option<Vec<u8>>, IngestError>;
    /// The files, manifest excluded: (path in the release, key to [`Upload::open`]), sorted
    /// by path.
    async fn files(&self) -> Result<Vec<(String, String)>, IngestError>;
    /// One file's bytes.
    async fn open(&self, key: &str) -> Result<ObjectReader, IngestError>;
    /// [`Upload::open`], and the file's size where it comes for free (a hint for buffers).
    async fn open_sized(&self, key: &str) -> Result<(ObjectReader, Option<u64>), IngestError> {
        Ok((self.open(key).await?, None))
    }
    /// The release is on chain: what is left of the upload goes (inbox), or stays where its
    /// owner keeps it (local files).
    async fn remove(&self) -> Result<(), IngestError>;
    /// The release was refused: the upload moves beside its report under the quarantine
    /// prefix `q` (`q` + `upload/…`), the manifest last, or stays where its owner keeps it.
    async fn quarantine(&self, q: &str) -> Result<(), IngestError>;
}

/// `inbox/<issuer>/<release-id>/` in the object store.
pub struct InboxUpload {
    store: std::sync::Arc<dyn ObjectStore>,
    release: ReleaseRef,
}

impl InboxUpload {
    /// The inbox folder of `release`.
    pub fn new(store: std::sync::Arc<dyn ObjectStore>, release: ReleaseRef) -> Self {
        Self { store, release }
    }

    async fn listed(&self) -> Result<Vec<medimint_storage::ObjectInfo>, IngestError> {
        self.store
            .list(&self.release.inbox_prefix())
            .await
            .map_err(IngestError::storage("listing the upload"))
    }
}

#[async_trait]
impl Upload for InboxUpload {
    async fn manifest(&self) -> Result<Option<Vec<u8>>, IngestError> {
        match self
            .store
            .get_bytes(&self.release.manifest_key(), MAX_MANIFEST_BYTES)
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(StorageError::NotFound(_)) => Ok(None),
            Err(StorageError::Backend {
                transient: false,
                message,
                ..
            }) if message.contains("limit") => Ok(Some(Vec::new())),
            Err(e) => Err(IngestError::storage("reading release.json")(e)),
        }
    }

    async fn files(&self) -> Result<Vec<(String, String)>, IngestError> {
        let prefix = self.release.inbox_prefix();
        Ok(self
            .listed()
            .await?
            .into_iter()
            .map(|obj| (obj.key[prefix.len()..].to_owned(), obj.key))
            .filter(|(path, _)| path != MANIFEST_NAME)
            .collect())
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, IngestError> {
        self.store
            .get_stream(key)
            .await
            .map_err(IngestError::storage("opening an uploaded file"))
    }

    async fn remove(&self) -> Result<(), IngestError> {
        let manifest = self.release.manifest_key();
        for obj in self.listed().await?.iter().filter(|o| o.key != manifest) {
            self.store
                .delete(&obj.key)
                .await
                .map_err(IngestError::storage("removing the original upload"))?;
        }
        self.store
            .delete(&manifest)
            .await
            .map_err(IngestError::storage("removing the original upload"))
    }

    async fn quarantine(&self, q: &str) -> Result<(), IngestError> {
        let prefix = self.release.inbox_prefix();
        let objects = self.listed().await?;
        let manifest = self.release.manifest_key();
        let mut ordered: Vec<_> = objects.iter().filter(|o| o.key != manifest).collect();
        ordered.extend(objects.iter().filter(|o| o.key == manifest));
        for obj in ordered {
            let to = format!("{q}upload/{}", &obj.key[prefix.len()..]);
            self.store
                .rename(&obj.key, &to)
                .await
                .map_err(IngestError::storage("moving the upload to quarantine"))?;
        }
        Ok(())
    }
}

/// Files on the local disk and a manifest built for them, released in place: the pipeline
/// reads each file where it is, once (checked and sealed as it passes), and never moves or
/// deletes it.
pub struct LocalUpload {
    files: Vec<(String, PathBuf)>,
    manifest: Vec<u8>,
}

impl LocalUpload {
    /// `files` as (path in the release, where it is on disk), and the manifest listing them.
    pub fn new(files: Vec<(String, PathBuf)>, manifest: Vec<u8>) -> Self {
        let mut files = files;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Self { files, manifest }
    }

    /// The files under `paths` as a release names them: a directory's files by their path
    /// relative to it (`/`-separated), a file by its name; directories are walked in sorted
    /// order, and only regular files are taken.
    ///
    /// # Errors
    /// A path that cannot be read, a name that is not valid UTF-8.
    pub fn collect(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>, String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    walk(root, &p, out)?;
                } else if p.is_file() {
                    out.push((name_of(p.strip_prefix(root).unwrap_or(&p))?, p.clone()));
                }
            }
            Ok(())
        }
        fn name_of(rel: &Path) -> Result<String, String> {
            rel.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .map(|c| {
                    c.as_os_str()
                        .to_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{} is not a UTF-8 name; rename it", rel.display()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|parts| parts.join("/"))
        }
        let mut out = Vec::new();
        for p in paths {
            if p.is_dir() {
                walk(p, p, &mut out)?;
            } else if p.is_file() {
                let name = p
                    .file_name()
                    .ok_or_else(|| format!("{} has no file name", p.display()))?;
                out.push((name_of(Path::new(name))?, p.clone()));
            } else {
                return Err(format!("{} is neither a file nor a directory", p.display()));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Upload for LocalUpload {
    async fn manifest(&self) -> Result<Option<Vec<u8>>, IngestError> {
        Ok(Some(self.manifest.clone()))
    }

    async fn files(&self) -> Result<Vec<(String, String)>, IngestError> {
        Ok(self
            .files
            .iter()
            .map(|(name, path)| (name.clone(), path.to_string_lossy().into_owned()))
            .collect())
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, IngestError> {
        self.open_sized(key).await.map(|(reader, _)| reader)
    }

    async fn open_sized(&self, key: &str) -> Result<(ObjectReader, Option<u64>), IngestError> {
        // Opened, measured and, if small, read whole in one trip to the blocking pool (the
        // local store's own way of opening a file).
        let path = PathBuf::from(key);
        let failed = |message: String| IngestError::Transient {
            step: "opening a file to release",
            message: format!("{key}: {message}"),
        };
        let (reader, size) = tokio::task::spawn_blocking(move || open_file(&path))
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))?;
        Ok((reader, Some(size)))
    }

    async fn remove(&self) -> Result<(), IngestError> {
        Ok(())
    }

    async fn quarantine(&self, _q: &str) -> Result<(), IngestError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_local_file_reads_back_whole_whatever_its_size() {
        let dir = tempfile::tempdir().unwrap();
        // Around the size up to which the store reads a file whole (1 MiB).
        let big = 1024 * 1024;
        for len in [0, 10, big - 1, big, big + 1, 3 * big + 7] {
            let path = dir.path().join(format!("f{len}"));
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let upload = LocalUpload::new(vec![], Vec::new());
            let (mut reader, size) = upload.open_sized(path.to_str().unwrap()).await.unwrap();
            assert_eq!(size, Some(len as u64));
            let mut back = Vec::new();
            reader.read_to_end(&mut back).await.unwrap();
            assert!(back == data, "{len} bytes came back different");
        }
        let missing = LocalUpload::new(vec![], Vec::new())
            .open_sized(dir.path().join("nope").to_str().unwrap())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(missing.contains("nope"), "{missing}");
    }
}
