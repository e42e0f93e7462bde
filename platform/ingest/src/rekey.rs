//! The storage half of a re-key: a study's objects re-encrypted under a new study key, in
//! bounded memory. The platform's re-key (`medimint-platform`, `ops/rekey.rs`) runs these
//! between its progress record, the wrapped keys and the chain; the benchmark
//! (`medimint-bench rekey`) runs them on a 1 GiB study. docs/re-key.md.

use std::sync::Arc;

use medimint_sdk::crypto::stream::{CHUNK_SIZE, FRAME_LEN, HEADER_LEN, TAG_LEN};
use medimint_sdk::crypto::{seal_key, DigestMismatch, RekeyReader, SealReader, StudyKey};
use medimint_storage::{ObjectReader, ObjectStore, StorageError};

use crate::metadata::{for_each_file, MetadataReader, MetadataWriter, VERSION};
use crate::pipeline::io_inner;
use crate::{IngestError, StudySeal};

/// Read-ahead on the object being re-encrypted: the cipher reads a 4-byte frame word, then a
/// chunk; unbuffered, each would be a trip to a file store's blocking pool. Only for a store
/// whose reader does not buffer (the local store's reads 1 MiB ahead already).
const READ_BYTES: usize = 1024 * 1024;

/// Why a re-key step failed.
#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    /// The store failed (retry: the step is idempotent).
    #[error("{step}: {source}")]
    Storage {
        /// What was being done.
        step: &'static str,
        /// The store's error.
        #[source]
        source: StorageError,
    },
    /// An object or the metadata is not what it should be.
    #[error("{0}")]
    Invalid(String),
}

fn storage(step: &'static str) -> impl Fn(StorageError) -> RekeyError {
    move |source| RekeyError::Storage { step, source }
}

/// The key of a re-encrypted file's new object: `studies/<id>/files/<sha256>.<generation>`.
pub fn new_object_key(study_id: &str, sha256: &str, generation: &str) -> String {
    format!("studies/{study_id}/files/{sha256}.{generation}")
}

/// The length of a stream-format ciphertext of `plain` bytes (a re-encrypted object is as
/// long as the one it replaces).
pub fn ciphertext_len(plain: u64) -> u64 {
    let chunk = CHUNK_SIZE as u64;
    let chunks = plain.div_ceil(chunk).max(1);
    HEADER_LEN as u64 + chunks * (FRAME_LEN + TAG_LEN) as u64 + plain
}

/// A study key as the metadata writer's seal.
pub struct KeySeal(pub Arc<StudyKey>);

impl StudySeal for KeySeal {
    fn encrypt(&self, plaintext: ObjectReader) -> ObjectReader {
        Box::new(SealReader::new(&self.0, plaintext))
    }

    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError> {
        seal_key(&self.0, address).map_err(|e| IngestError::Transient {
            step: "wrapping the study key",
            message: e.to_string(),
        })
    }
}

/// Re-encrypts the object `from` (under `old`) into `to` (under `new`), streamed: the store
/// reads the new object from the sdk's [`RekeyReader`] over the old one (no task, no pipe),
/// a few MiB in memory whatever the size. The plaintext must hash to `sha256` (hex), or
/// nothing is stored (the reader fails before its end, and the store's writes are
/// all-or-nothing). `size` is the plaintext's length (it sizes the buffers of a small file).
/// Returns the bytes stored.
///
/// # Errors
/// The object is missing or does not decrypt under `old`; the digest differs; the store.
pub async fn reencrypt_object(
    store: &dyn ObjectStore,
    from: &str,
    to: &str,
    old: &StudyKey,
    new: &Arc<StudyKey>,
    sha256: &str,
    size: Option<u64>,
) -> Result<u64, RekeyError> {
    let mut expect = [0u8; 32];
    hex::decode_to_slice(sha256, &mut expect).map_err(|_| {
        RekeyError::Invalid(format!(
            "{from}: its entry's digest {sha256:?} is not a hex SHA-256"
        ))
    })?;
    let input = store
        .get_stream(from)
        .await
        .map_err(storage("reading a file to re-encrypt"))?;
    let input = tokio::io::BufReader::with_capacity(READ_BYTES, input);
    let mut reader = RekeyReader::new(old, new, input).expect_sha256(expect);
    if let Some(size) = size {
        reader = reader.size_hint(size);
    }
    match store.put_stream(to, &mut reader).await {
        Ok(n) => Ok(n),
        Err(e) if io_inner::<DigestMismatch>(&e).is_some() => Err(RekeyError::Invalid(
            "the file's plaintext is not the one its entry names; nothing was stored".to_owned(),
        )),
        Err(e) => match io_inner::<medimint_sdk::crypto::Error>(&e) {
            Some(inner) => Err(RekeyError::Invalid(format!(
                "re-encrypting a file: {inner}; nothing was stored"
            ))),
            None => Err(storage("storing a re-encrypted file")(e)),
        },
    }
}

/// Re-encrypts objects `parallel` at a time ([`reencrypt_object`] each): while one waits for
/// the store (a read, an fsync, an upload), others use the cores. Memory: `parallel`
/// re-keying readers and read-aheads (about 4 MiB each) plus the store's write buffers.
pub struct Reencryptor {
    store: Arc<dyn ObjectStore>,
    old: Arc<StudyKey>,
    new: Arc<StudyKey>,
    parallel: usize,
    running: tokio::task::JoinSet<Result<u64, RekeyError>>,
    files: u64,
    bytes: u64,
}

impl Reencryptor {
    /// Objects of `store` from `old` to `new`, `parallel` (at least 1) at a time.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        old: &StudyKey,
        new: Arc<StudyKey>,
        parallel: usize,
    ) -> Self {
        Self {
            store,
            old: Arc::new(old.clone()),
            new,
            parallel: parallel.max(1),
            running: tokio::task::JoinSet::new(),
            files: 0,
            bytes: 0,
        }
    }

    /// The parallelism for this machine: two objects per core, at most 8.
    pub fn default_parallel() -> usize {
        std::thread::available_parallelism().map_or(2, |n| (n.get() * 2).min(8))
    }

    /// Starts re-encrypting `from` into `to` (a file of `size` plaintext bytes hashing to
    /// `sha256`), after one under way ends if `parallel` are.
    ///
    /// # Errors
    /// An earlier object's failure (the first one, after the others under way ended).
    pub async fn push(
        &mut self,
        from: String,
        to: String,
        sha256: String,
        size: u64,
    ) -> Result<(), RekeyError> {
        while self.running.len() >= self.parallel {
            self.join_one().await?;
        }
        let (store, old, new) = (self.store.clone(), self.old.clone(), self.new.clone());
        self.running.spawn(async move {
            let written =
                reencrypt_object(store.as_ref(), &from, &to, &old, &new, &sha256, Some(size))
                    .await?;
            let want = ciphertext_len(size);
            if written != want {
                return Err(RekeyError::Invalid(format!(
                    "the re-encrypted object {to} holds {written} bytes, {want} expected; \
                     run the re-key again to write it anew"
                )));
            }
            Ok(size)
        });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), RekeyError> {
        match self.running.join_next().await {
            Some(Ok(Ok(size))) => {
                self.files += 1;
                self.bytes += size;
                Ok(())
            }
            // The others under way finish (each writes all or nothing) before the failure is
            // answered: nothing is cut off half-way, and a second run finds what they wrote.
            Some(Ok(Err(e))) => {
                self.drain().await;
                Err(e)
            }
            Some(Err(join)) => {
                self.drain().await;
                Err(RekeyError::Invalid(format!(
                    "a re-encryption task failed: {join}"
                )))
            }
            None => Ok(()),
        }
    }

    async fn drain(&mut self) {
        while let Some(r) = self.running.join_next().await {
            if let Ok(Ok(size)) = r {
                self.files += 1;
                self.bytes += size;
            }
        }
    }

    /// Waits for every object; returns how many were re-encrypted and their plaintext bytes.
    ///
    /// # Errors
    /// The first failure.
    pub async fn finish(mut self) -> Result<(u64, u64), RekeyError> {
        while !self.running.is_empty() {
            self.join_one().await?;
        }
        Ok((self.files, self.bytes))
    }
}

/// Writes the metadata object `old_cid` (under `old`) again under `new`: the same head and
/// lines, each file's object key replaced by `object_key(sha256)`. Then reads it back under
/// `new` and checks every line and every object it names (present, at the expected
/// length). Returns the new root CID.
///
/// # Errors
/// Unreadable metadata; a line or an object missing after the write; the store.
pub async fn rewrite_metadata(
    store: Arc<dyn ObjectStore>,
    old_cid: &str,
    old: &StudyKey,
    new: Arc<StudyKey>,
    object_key: impl Fn(&str) -> String,
) -> Result<String, RekeyError> {
    let failed = |e: String| RekeyError::Invalid(format!("re-keying the metadata object: {e}"));
    let mut reader = MetadataReader::open_stored(store.clone(), old_cid, old)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut head = reader.head().clone();
    head.version = VERSION;
    head.files = None;
    let count = head.file_count;
    let mut writer = MetadataWriter::start(store.clone(), &KeySeal(new.clone()));
    writer
        .head(&head)
        .await
        .map_err(|e| failed(e.to_string()))?;
    while let Some(entry) = reader
        .next_file()
        .await
        .map_err(|e| failed(e.to_string()))?
    {
        let header = if entry.header.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&entry.header).map_err(|e| failed(e.to_string()))?
        };
        writer
            .file(
                &entry.checksum,
                &object_key(&entry.checksum.sha256),
                &header,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    let cid = writer.finish().await.map_err(|e| failed(e.to_string()))?;
    let mut named = Vec::new();
    let back = for_each_file(store.as_ref(), &cid, &new, |e| {
        named.push((e.object_key, e.checksum.size));
        Ok(())
    })
    .await
    .map_err(|e| failed(format!("reading it back: {e}")))?;
    if back.file_count != count || named.len() as u64 != count {
        return Err(failed(format!(
            "read back {} of {count} files",
            named.len()
        )));
    }
    for (key, size) in named {
        let there = store
            .head(&key)
            .await
            .map_err(storage("checking a re-encrypted file"))?;
        if there.map(|i| i.size) != Some(ciphertext_len(size)) {
            return Err(failed(format!("{key} is missing or incomplete")));
        }
    }
    Ok(cid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn ciphertext_lengths_match_the_stream_format() {
        let key = StudyKey::generate();
        for len in [
            0usize,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE,
        ] {
            let mut out = Vec::new();
            medimint_sdk::crypto::encrypt(&key, vec![7u8; len].as_slice(), &mut out).unwrap();
            assert_eq!(ciphertext_len(len as u64), out.len() as u64, "{len}");
        }
        assert_eq!(new_object_key("s", "ab", "k01"), "studies/s/files/ab.k01");
    }

    #[tokio::test]
    async fn an_object_is_reencrypted_only_when_its_digest_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = medimint_storage::LocalDirStore::new(dir.path()).unwrap();
        let (old, new) = (StudyKey::generate(), Arc::new(StudyKey::generate()));
        let plain = vec![5u8; 3 * CHUNK_SIZE + 7];
        let mut sealed = Vec::new();
        medimint_sdk::crypto::encrypt(&old, plain.as_slice(), &mut sealed).unwrap();
        store.put_bytes("a", sealed.into()).await.unwrap();
        let sha = hex::encode(Sha256::digest(&plain));
        let n = reencrypt_object(&store, "a", "b", &old, &new, &sha, Some(plain.len() as u64))
            .await
            .unwrap();
        assert_eq!(n, ciphertext_len(plain.len() as u64));
        let got = store.get_bytes("b", 1 << 20).await.unwrap();
        let mut out = Vec::new();
        medimint_sdk::crypto::decrypt(&new, got.as_slice(), &mut out).unwrap();
        assert!(out == plain);
        // A wrong digest: nothing stored.
        let err = reencrypt_object(&store, "a", "c", &old, &new, &"00".repeat(32), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not the one its entry names"), "{err}");
        assert!(store.head("c").await.unwrap().is_none());
        // The wrong old key: nothing stored either.
        let err = reencrypt_object(&store, "a", "c", &new, &new, &sha, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("re-encrypting"), "{err}");
        assert!(store.head("c").await.unwrap().is_none());
    }
}
