//! The object storage trait.

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::StorageError;

/// A stream of an object's bytes.
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// What a listing or `head` tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A request a client makes without the platform's credentials: a presigned upload (S3's
/// query-string SigV4). The client sends `method` to `url` with every one of `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// The HTTP method (`PUT`).
    pub method: String,
    /// The signed URL.
    pub url: String,
    /// Headers the client must send as they are (they are part of the signature).
    pub headers: Vec<(String, String)>,
}

/// Streaming object storage. Writes are all-or-nothing: a reader never sees a half-written
/// object, and a failed `put_stream` leaves no object behind.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes the whole of `body` under `key`, replacing any object there, in bounded memory
    /// whatever its size. Returns the number of bytes written.
    async fn put_stream(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError>;

    /// Opens `key` for streaming; [`StorageError::NotFound`] if absent.
    async fn get_stream(&self, key: &str) -> Result<ObjectReader, StorageError>;

    /// Size of `key`, or `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError>;

    /// Every object whose key starts with `prefix`, in lexicographic key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;

    /// Deletes `key`; deleting an absent object succeeds (retries stay harmless).
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Deletes `key` for good: in a versioned store (S3 with versioning on) every version
    /// and delete marker under exactly this key too, so nothing of it can be restored. In a
    /// store without versions it is [`ObjectStore::delete`]. Deleting an absent key succeeds.
    async fn delete_all_versions(&self, key: &str) -> Result<(), StorageError> {
        self.delete(key).await
    }

    /// Deletes every object under `prefix` as [`ObjectStore::delete_all_versions`] does
    /// (every version of every key, in a versioned store); returns how many keys were
    /// deleted. An empty prefix is refused: it would empty the store.
    async fn purge_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::Backend {
                context: "purging a prefix".into(),
                message: "an empty prefix would delete everything; name a study's prefix".into(),
                transient: false,
            });
        }
        let listed = self.list(prefix).await?;
        for info in &listed {
            self.delete_all_versions(&info.key).await?;
        }
        Ok(listed.len())
    }

    /// Copies `from` to `to`, replacing any object at `to`.
    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError>;

    /// Moves `from` to `to`. Copy first, delete after: an interrupted move leaves both, never
    /// neither, and a retry completes it.
    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.copy(from, to).await?;
        self.delete(from).await
    }

    /// A URL through which a client uploads exactly `size` bytes to `key` without
    /// credentials, valid for `expires_in`; `Ok(None)` for a store that has no such URLs
    /// (the local directory: its host serves uploads itself).
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        expires_in: std::time::Duration,
    ) -> Result<Option<PresignedRequest>, StorageError> {
        let _ = (key, size, expires_in);
        Ok(None)
    }

    /// A URL through which a client reads `key` without credentials, valid for
    /// `expires_in`; `Ok(None)` for a store that has no such URLs (the local directory).
    async fn presign_get(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<Option<PresignedRequest>, StorageError> {
        let _ = (key, expires_in);
        Ok(None)
    }

    /// Writes a small object held in memory.
    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let mut reader: &[u8] = &bytes;
        self.put_stream(key, &mut reader).await.map(|_| ())
    }

    /// Reads a whole object into memory, refusing one larger than `limit` bytes rather than
    /// allocating for it.
    async fn get_bytes(&self, key: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let reader = self.get_stream(key).await?;
        let mut out = Vec::new();
        let read = reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .await
            .map_err(|e| StorageError::io(format!("reading {key}"), e))?;
        if read as u64 > limit {
            return Err(StorageError::Backend {
                context: format!("reading {key}"),
                message: format!("object is larger than the {limit}-byte limit"),
                transient: false,
            });
        }
        Ok(out)
    }
}
