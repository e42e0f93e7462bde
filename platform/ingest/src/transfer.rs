//! A study's files out of storage and back onto a disk, at the speed of the disk and the
//! cores: each file decrypted straight to its destination and hashed as it is written,
//! several files at once; and files on disk hashed several at once, for `verify`.
//! docs/performance.md ("Download and verify") has the figures.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use medimint_sdk::crypto::stream::CHUNK_SIZE;
use medimint_sdk::crypto::{ChunkDecryptor, StudyKey};
use medimint_storage::{ObjectStore, StorageError};
use sha2::{Digest, Sha256};

use crate::checksum::PresentedFile;

/// Bytes read from storage, or written to disk, at a time: each read or write of a file
/// through tokio is a round trip to its blocking pool, and the stream format reads a 4-byte
/// frame word before each 64 KiB chunk.
pub const IO_BUFFER: usize = 1024 * 1024;

/// Files downloaded or hashed at once: one more than the cores (at least 2, at most 8), so
/// that while one file waits on a read or a write the others keep every core busy. On two
/// cores a third file took the 1 GiB download from 1.0–1.06 s to 0.88 s and its verify from
/// 0.53 to 0.44 s, for 7 MiB more peak RSS (docs/performance.md, "One-pass release").
pub fn parallel_files() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
        + 1
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
    thread_local! {
        // One read buffer per blocking thread, reused from file to file: a fresh 1 MiB
        // buffer per file costs 256 page faults, which a study of 2,000 small files notices.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    let mut h = Sha256::new();
    BUF.with_borrow_mut(|buf| {
        buf.resize(IO_BUFFER, 0);
        loop {
            let n = f.read(buf).map_err(unreadable)?;
            if n == 0 {
                return Ok(h.finalize().into());
            }
            h.update(&buf[..n]);
        }
    })
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

/// Decrypts one object into its destination. The plaintext is gathered into [`IO_BUFFER`]
/// pieces; each piece is hashed and written with `std::fs` on the blocking pool while the
/// next one is decrypted, so a single file's SHA-256 and its decryption run on two cores, and
/// each byte is copied once between the decryption and the kernel (through tokio's `File`
/// and a `BufWriter` it was copied three times).
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
    let dest = d.dest.clone();
    let file = tokio::task::spawn_blocking(move || std::fs::File::create(&dest))
        .await
        .map_err(|e| TransferError::Task(e.to_string()))?
        .map_err(disk("write", &d.dest))?;
    let mut out = PieceWriter {
        idle: Some((file, Sha256::new())),
        busy: None,
    };
    let mut chunks = ChunkDecryptor::new(key, reader);
    let mut piece = Vec::with_capacity(IO_BUFFER);
    let mut bytes = 0u64;
    let decrypt = |source| TransferError::Decrypt {
        name: d.name.clone(),
        source,
    };
    while let Some(plain) = chunks.next_chunk().await.map_err(decrypt)? {
        bytes += plain.len() as u64;
        piece.extend_from_slice(plain);
        if piece.len() + CHUNK_SIZE > IO_BUFFER {
            piece = out.write(piece).await.map_err(disk("write", &d.dest))?;
        }
    }
    if !piece.is_empty() {
        out.write(piece).await.map_err(disk("write", &d.dest))?;
    }
    let (_, hasher) = out.finish().await.map_err(disk("write", &d.dest))?;
    Ok(Downloaded {
        name: d.name,
        sha256: hasher.finalize().into(),
        bytes,
    })
}

/// The file being written and its running hash, with at most one piece in flight on the
/// blocking pool.
struct PieceWriter {
    /// The file and hash when no piece is in flight.
    idle: Option<(std::fs::File, Sha256)>,
    /// The piece in flight: it hands back the file, the hash and the emptied buffer.
    busy: Option<tokio::task::JoinHandle<WriteResult>>,
}

type WriteResult = std::io::Result<(std::fs::File, Sha256, Vec<u8>)>;

impl PieceWriter {
    /// Waits for the piece in flight, then hashes and writes `piece` on the blocking pool;
    /// returns an empty buffer for the next piece (the one the previous piece came in).
    async fn write(&mut self, piece: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let back = self.settle().await?;
        let (mut file, mut hasher) = self.idle.take().expect("settled");
        self.busy = Some(tokio::task::spawn_blocking(move || {
            use std::io::Write;
            hasher.update(&piece);
            file.write_all(&piece)?;
            let mut piece = piece;
            piece.clear();
            Ok((file, hasher, piece))
        }));
        Ok(back.unwrap_or_else(|| Vec::with_capacity(IO_BUFFER)))
    }

    /// Waits for the piece in flight, if any; its emptied buffer.
    async fn settle(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(busy) = self.busy.take() else {
            return Ok(None);
        };
        let (file, hasher, buf) = busy.await.map_err(std::io::Error::other)??;
        self.idle = Some((file, hasher));
        Ok(Some(buf))
    }

    /// Waits for the last piece; the file (flushed to the kernel) and the hash of every byte.
    async fn finish(mut self) -> std::io::Result<(std::fs::File, Sha256)> {
        self.settle().await?;
        Ok(self.idle.take().expect("settled"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medimint_sdk::crypto::encrypt;
    use medimint_storage::LocalDirStore;

    /// A store holding `files` (name, plaintext) encrypted under `key`, as `objects/<name>`.
    async fn stored(
        key: &StudyKey,
        files: &[(&str, Vec<u8>)],
    ) -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalDirStore::new(dir.path().join("store")).unwrap());
        for (name, plain) in files {
            let mut sealed = Vec::new();
            encrypt(key, &plain[..], &mut sealed).unwrap();
            store
                .put_stream(&format!("objects/{name}"), &mut &sealed[..])
                .await
                .unwrap();
        }
        (dir, store)
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_of_every_size_come_back_whole_with_their_digests() {
        let key = StudyKey::generate();
        let sizes = [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            IO_BUFFER - 3,
            IO_BUFFER,
            3 * IO_BUFFER + 5,
        ];
        let files: Vec<(String, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("f{i}.dcm"), bytes(*n, i as u8)))
            .collect();
        let named: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let (dir, store) = stored(&key, &named).await;
        let jobs = files
            .iter()
            .map(|(name, _)| Download {
                dest: dir.path().join("out").join("S1").join(name),
                object_key: format!("objects/{name}"),
                name: name.clone(),
            })
            .collect();
        let mut seen = 0;
        let got = download_files(store, &key, jobs, 3, |n| seen = n)
            .await
            .unwrap();
        assert_eq!(seen, files.len());
        for ((name, plain), d) in files.iter().zip(&got) {
            assert_eq!(&d.name, name);
            assert_eq!(d.bytes, plain.len() as u64);
            let on_disk = std::fs::read(dir.path().join("out").join("S1").join(name)).unwrap();
            assert!(on_disk == *plain, "{name}: the bytes written differ");
            assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(plain)), "{name}");
        }
        // verify's hashing agrees.
        let hashed = hash_files(
            files
                .iter()
                .map(|(n, _)| (n.clone(), dir.path().join("out").join("S1").join(n)))
                .collect(),
            2,
        )
        .await
        .unwrap();
        for (h, d) in hashed.iter().zip(&got) {
            assert_eq!(h.sha256, d.sha256);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_object_or_the_wrong_key_is_named() {
        let key = StudyKey::generate();
        let (dir, store) = stored(&key, &[("good.dcm", bytes(IO_BUFFER * 2, 1))]).await;
        // Flip a byte in the middle of the stored ciphertext.
        let path = dir.path().join("store").join("objects").join("good.dcm");
        let mut sealed = std::fs::read(&path).unwrap();
        let mid = sealed.len() / 2;
        sealed[mid] ^= 1;
        std::fs::write(
            dir.path().join("store").join("objects").join("bad.dcm"),
            &sealed,
        )
        .unwrap();
        let job = |name: &str| Download {
            dest: dir.path().join("out").join(name),
            object_key: format!("objects/{name}"),
            name: name.to_owned(),
        };
        let err = download_files(store.clone(), &key, vec![job("bad.dcm")], 2, |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TransferError::Decrypt { name, .. } if name == "bad.dcm"),
            "{err}"
        );
        let err = download_files(
            store.clone(),
            &StudyKey::generate(),
            vec![job("good.dcm")],
            2,
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(&err, TransferError::Decrypt { .. }), "{err}");
        let err = download_files(store, &key, vec![job("missing.dcm")], 2, |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TransferError::Storage { name, .. } if name == "missing.dcm"),
            "{err}"
        );
    }
}
