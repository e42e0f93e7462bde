//! The metadata object of a study, of any size, written and read in bounded memory.
//!
//! **Plaintext, version 2**: JSON lines. The first line is the study's [`Head`] (ids, checksum
//! root, commitment salt, file count, de-identified summary); then one line per file, in path
//! order: its [`Entry`] (path, SHA-256, size, object key, header as DICOM JSON). Version 1 (one
//! JSON object with a `files` array, written before this module) is still read.
//!
//! **Stored**: the plaintext is encrypted under the study key in the sdk's stream format, and
//! the ciphertext is stored as a UnixFS file DAG (medimint-sdk's [`medimint_sdk::unixfs`]):
//! leaves of at most 1 MiB and, over more than one leaf, dag-pb nodes, each block under
//! `meta/<its cid>`. The root CID is the study's metadata CID (on chain as `ipfs://<cid>`):
//! the raw block for a ciphertext of one block or less, as version 1 objects always were,
//! else a dag-pb node, and in both cases what `ipfs add --cid-version 1 --raw-leaves
//! --chunker size-1048576` gives for the ciphertext.
//!
//! The writer holds one block and a line at a time; the reader one block, one stream chunk
//! and one line. docs/formats.md ("The metadata object") has the layout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use medimint_sdk::crypto::{decrypt_async, StudyKey};
use medimint_sdk::unixfs::{self, FileBuilder, BLOCK_SIZE};
use medimint_storage::{ObjectReader, ObjectStore};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream, ReadBuf};

use crate::layout::metadata_key;
use crate::{FileChecksum, IngestError, StudySeal};

/// The plaintext version this module writes.
pub const VERSION: u32 = 2;
/// Longest line read back: one file's entry (a header is at most 8 MiB before it is
/// expressed as JSON; binary values grow by a third in base64).
pub const MAX_LINE: u64 = 64 * 1024 * 1024;
/// Deepest DAG read back (174^8 leaves is far beyond any study).
const MAX_DEPTH: usize = 8;
/// Pipe between the plaintext lines and the encryption.
const PIPE_BYTES: usize = 256 * 1024;

/// Why a metadata object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A block is missing, unreadable, or not what its CID names; or the ciphertext does not
    /// decrypt under the key.
    #[error("reading the metadata object: {0}")]
    Read(#[source] std::io::Error),
    /// The plaintext is not a metadata object this reader knows.
    #[error("the metadata object is malformed: {0}")]
    Format(String),
    /// The caller's handler of a file stopped the read ([`for_each_file`]).
    #[error("{0}")]
    Stopped(String),
}

/// The first line: the study, without its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// 2 (1 for objects written before version 2).
    pub version: u32,
    /// The study id under `studies/`.
    #[serde(default)]
    pub study_id: String,
    /// The issuer's address.
    #[serde(default)]
    pub issuer: String,
    /// The issuer's release id.
    #[serde(default)]
    pub release_id: String,
    /// Hex Merkle root over the original files.
    #[serde(default)]
    pub checksum_root: String,
    /// Opens the chain's commitment (see [`crate::commitment`]).
    #[serde(default)]
    pub commitment_salt: String,
    /// How many file lines follow (version 2).
    #[serde(default)]
    pub file_count: u64,
    /// The de-identified summary (DICOM PS3.15 Annex E).
    #[serde(default)]
    pub summary: serde_json::Value,
    /// Version 1 only: the files, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<Entry>>,
}

/// One file of the study.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its name in the release, SHA-256 and size.
    #[serde(flatten)]
    pub checksum: FileChecksum,
    /// Where its ciphertext is stored (`studies/<study-id>/files/<sha256>`).
    pub object_key: String,
    /// Its header without pixel data, as DICOM JSON (PS3.18 Annex F); PHI.
    #[serde(default)]
    pub header: serde_json::Value,
}

/// Writes a study's metadata: [`MetadataWriter::head`] once, [`MetadataWriter::file`] per
/// file, then [`MetadataWriter::finish`] for the root CID. Blocks are stored as the ciphertext
/// fills them.
pub struct MetadataWriter {
    plain: DuplexStream,
    task: tokio::task::JoinHandle<Result<String, IngestError>>,
}

impl MetadataWriter {
    /// Starts the encryption under `seal` and the storing of its blocks into `store`.
    pub fn start(store: Arc<dyn ObjectStore>, seal: &dyn StudySeal) -> Self {
        let (plain, reader) = tokio::io::duplex(PIPE_BYTES);
        let ciphertext = seal.encrypt_metadata(Box::new(reader));
        let task = tokio::spawn(store_blocks(store, ciphertext));
        Self { plain, task }
    }

    /// The first line.
    ///
    /// # Errors
    /// The encryption or the storing of a block failed.
    pub async fn head(&mut self, head: &Head) -> Result<(), IngestError> {
        let mut line = serde_json::to_vec(head).map_err(|e| IngestError::Transient {
            step: "building the metadata object",
            message: e.to_string(),
        })?;
        line.push(b'\n');
        self.write(&line).await
    }

    /// One file's line; `header_json` is its header as DICOM JSON, already serialized
    /// (`null` if there is none).
    ///
    /// # Errors
    /// The encryption or the storing of a block failed.
    pub async fn file(
        &mut self,
        checksum: &FileChecksum,
        object_key: &str,
        header_json: &[u8],
    ) -> Result<(), IngestError> {
        #[derive(Serialize)]
        struct Fields<'a> {
            #[serde(flatten)]
            checksum: &'a FileChecksum,
            object_key: &'a str,
        }
        let mut line = serde_json::to_vec(&Fields {
            checksum,
            object_key,
        })
        .map_err(|e| IngestError::Transient {
            step: "building the metadata object",
            message: e.to_string(),
        })?;
        // `{…}` becomes `{…,"header":<json>}`.
        line.pop();
        line.extend_from_slice(b",\"header\":");
        line.extend_from_slice(if header_json.is_empty() {
            b"null"
        } else {
            header_json
        });
        line.extend_from_slice(b"}\n");
        self.write(&line).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
        if self.plain.write_all(bytes).await.is_err() {
            // The other end stopped: its error says why.
            return Err(self.failure().await);
        }
        Ok(())
    }

    async fn failure(&mut self) -> IngestError {
        match (&mut self.task).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => IngestError::Transient {
                step: "storing the metadata object",
                message: "the encryption ended before the metadata did".into(),
            },
            Err(e) => IngestError::Transient {
                step: "storing the metadata object",
                message: format!("the task ended abnormally: {e}"),
            },
        }
    }

    /// Ends the plaintext, stores the last blocks, and returns the root CID.
    ///
    /// # Errors
    /// The encryption or the storing of a block failed.
    pub async fn finish(mut self) -> Result<String, IngestError> {
        let _ = self.plain.shutdown().await;
        drop(self.plain);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(IngestError::Transient {
                step: "storing the metadata object",
                message: format!("the task ended abnormally: {e}"),
            }),
        }
    }
}

/// Cuts the ciphertext into blocks, stores each under `meta/<cid>`, then the DAG's nodes;
/// returns the root CID.
async fn store_blocks(
    store: Arc<dyn ObjectStore>,
    mut ciphertext: ObjectReader,
) -> Result<String, IngestError> {
    let failed = |e: std::io::Error| IngestError::Transient {
        step: "encrypting the metadata object",
        message: e.to_string(),
    };
    let mut builder = FileBuilder::new();
    let mut block = vec![0u8; BLOCK_SIZE];
    loop {
        let mut filled = 0;
        while filled < BLOCK_SIZE {
            let n = ciphertext
                .read(&mut block[filled..])
                .await
                .map_err(failed)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 && builder.leaves() > 0 {
            break;
        }
        let cid = builder
            .add_leaf(&block[..filled])
            .map_err(|e| IngestError::Transient {
                step: "addressing the metadata object",
                message: e.to_string(),
            })?;
        store
            .put_bytes(
                &metadata_key(&cid),
                Bytes::copy_from_slice(&block[..filled]),
            )
            .await
            .map_err(IngestError::storage("storing the metadata object"))?;
        if filled < BLOCK_SIZE {
            break;
        }
    }
    let (root, nodes) = builder.finish();
    for node in nodes {
        store
            .put_bytes(&metadata_key(&node.cid), Bytes::from(node.bytes))
            .await
            .map_err(IngestError::storage("storing the metadata object"))?;
    }
    Ok(root)
}

/// The ciphertext of the metadata object `cid` as one stream: the block itself for a raw
/// CID, the leaves of its DAG in order for a dag-pb one. Each block is checked against its
/// CID as it is read; a missing or altered block is a read error, never a short stream.
pub fn ciphertext(store: Arc<dyn ObjectStore>, cid: &str) -> ObjectReader {
    let cid = cid.strip_prefix("ipfs://").unwrap_or(cid).to_owned();
    let (mut tx, rx) = tokio::io::duplex(PIPE_BYTES);
    let task = tokio::spawn(async move { walk(&*store, &cid, &mut tx).await });
    Box::new(TaskReader {
        inner: rx,
        task: Some(task),
    })
}

/// Fetches one block (at most one IPFS block) and checks it against its CID.
async fn block(store: &dyn ObjectStore, cid: &str) -> Result<Vec<u8>, String> {
    let bytes = store
        .get_bytes(&metadata_key(cid), BLOCK_SIZE as u64)
        .await
        .map_err(|e| format!("block {cid}: {e}"))?;
    match unixfs::verify_block(cid, &bytes) {
        Ok(true) => Ok(bytes),
        Ok(false) => Err(format!("block {cid} does not match its CID")),
        Err(e) => Err(format!("block {cid}: {e}")),
    }
}

/// The CIDs of every block of the metadata object `cid` (its root first, then its nodes and
/// leaves depth first), each checked against its CID as it is read: what erasing a study or
/// cleaning up after a re-key deletes. Reads the DAG's nodes, not its leaves' content.
///
/// # Errors
/// A block missing, unreadable or not what its CID names.
pub async fn blocks(store: &dyn ObjectStore, cid: &str) -> Result<Vec<String>, String> {
    let root = cid.strip_prefix("ipfs://").unwrap_or(cid).to_owned();
    let mut out = vec![root.clone()];
    if unixfs::codec_of(&root).map_err(|e| e.to_string())? == medimint_sdk::cid::RAW_CODEC {
        return Ok(out);
    }
    let first = block(store, &root).await?;
    let parse = |cid: &str, bytes: &[u8]| {
        unixfs::parse_file_node(bytes).map_err(|e| format!("block {cid}: {e}"))
    };
    let mut stack = vec![parse(&root, &first)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(link) = top.next() else {
            stack.pop();
            continue;
        };
        let cid = link.cid_string();
        out.push(cid.clone());
        if !link.is_leaf() {
            if stack.len() >= MAX_DEPTH {
                return Err(format!("the DAG is deeper than {MAX_DEPTH} levels"));
            }
            let bytes = block(store, &cid).await?;
            stack.push(parse(&cid, &bytes)?.into_iter());
        }
    }
    Ok(out)
}

/// Writes the content under `root` into `out`, depth first.
async fn walk(store: &dyn ObjectStore, root: &str, out: &mut DuplexStream) -> Result<(), String> {
    let closed = |_| "the reader stopped".to_owned();
    let first = block(store, root).await?;
    if unixfs::codec_of(root).map_err(|e| e.to_string())? == medimint_sdk::cid::RAW_CODEC {
        return out.write_all(&first).await.map_err(closed);
    }
    let parse = |cid: &str, bytes: &[u8]| {
        unixfs::parse_file_node(bytes).map_err(|e| format!("block {cid}: {e}"))
    };
    let mut stack = vec![parse(root, &first)?.into_iter()];
    drop(first);
    while let Some(top) = stack.last_mut() {
        let Some(link) = top.next() else {
            stack.pop();
            continue;
        };
        let cid = link.cid_string();
        let bytes = block(store, &cid).await?;
        if link.is_leaf() {
            if bytes.len() as u64 != link.content {
                return Err(format!(
                    "block {cid} holds {} bytes, its parent says {}",
                    bytes.len(),
                    link.content
                ));
            }
            out.write_all(&bytes).await.map_err(closed)?;
        } else {
            if stack.len() >= MAX_DEPTH {
                return Err(format!("the DAG is deeper than {MAX_DEPTH} levels"));
            }
            stack.push(parse(&cid, &bytes)?.into_iter());
        }
    }
    out.shutdown().await.map_err(closed)
}

/// Reads the metadata object `cid` in `store` with the study key, handing each file to
/// `each` as it is read (in path order), and returns the head. Memory: one block, one stream
/// chunk and one line, whatever the study's size. The first error of `each` stops the read.
///
/// # Errors
/// A block missing, unreadable or not what its CID names; not under this key; not a
/// metadata object; `each`'s error (as [`MetadataError::Stopped`]).
pub async fn for_each_file(
    store: &dyn ObjectStore,
    cid: &str,
    key: &StudyKey,
    mut each: impl FnMut(Entry) -> Result<(), String>,
) -> Result<Head, MetadataError> {
    let cid = cid.strip_prefix("ipfs://").unwrap_or(cid);
    let (mut ct_tx, ct_rx) = tokio::io::duplex(PIPE_BYTES);
    let (mut pt_tx, pt_rx) = tokio::io::duplex(PIPE_BYTES);
    // Three stages in one task: blocks into the first pipe, their decryption into the second,
    // lines out of it. A stage that stops drops its pipe ends, which stops the others.
    let walking = async move {
        let r = walk(store, cid, &mut ct_tx).await;
        drop(ct_tx);
        r
    };
    let decrypting = async move {
        let r = decrypt_async(key, ct_rx, &mut pt_tx).await;
        drop(pt_tx);
        r
    };
    let parsing = async move {
        let mut reader = MetadataReader::open(Box::new(pt_rx)).await?;
        while let Some(f) = reader.next_file().await? {
            each(f).map_err(MetadataError::Stopped)?;
        }
        Ok::<Head, MetadataError>(reader.head)
    };
    let (walked, decrypted, parsed) = tokio::join!(walking, decrypting, parsing);
    // The earliest stage's failure is the cause of the later ones'.
    walked.map_err(|m| {
        MetadataError::Read(std::io::Error::new(std::io::ErrorKind::InvalidData, m))
    })?;
    if let Err(MetadataError::Stopped(_)) = &parsed {
        return parsed;
    }
    decrypted.map_err(|e| {
        MetadataError::Read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("decrypting the metadata object: {e}"),
        ))
    })?;
    parsed
}

/// The decryption of `ciphertext` under `key` as a stream: a decryption failure (a wrong
/// key, a tampered or truncated object) is a read error at the point it is found.
pub fn decrypting(key: &StudyKey, ciphertext: ObjectReader) -> ObjectReader {
    let key = key.clone();
    let (mut tx, rx) = tokio::io::duplex(PIPE_BYTES);
    let task = tokio::spawn(async move {
        decrypt_async(&key, ciphertext, &mut tx)
            .await
            .map_err(|e| format!("decrypting the metadata object: {e}"))?;
        tx.shutdown().await.map_err(|e| e.to_string())
    });
    Box::new(TaskReader {
        inner: rx,
        task: Some(task),
    })
}

/// A reader of what `task` writes into the other end of the pipe `inner`: at its end, the
/// task's failure is a read error, so a stream cut short by a failure never reads as complete
/// (a store's all-or-nothing `put_stream` then keeps nothing).
pub fn task_reader(
    inner: DuplexStream,
    task: tokio::task::JoinHandle<Result<(), String>>,
) -> ObjectReader {
    Box::new(TaskReader {
        inner,
        task: Some(task),
    })
}

/// The reading end of a pipe a task writes into: at its end, the task's failure is a read
/// error, so a stream cut short by a failure never reads as complete.
struct TaskReader {
    inner: DuplexStream,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

impl AsyncRead for TaskReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                let Some(task) = self.task.as_mut() else {
                    return Poll::Ready(Ok(()));
                };
                match Pin::new(task).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(result) => {
                        self.task = None;
                        Poll::Ready(match result {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(message)) => Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                message,
                            )),
                            Err(join) => Err(std::io::Error::other(join)),
                        })
                    }
                }
            }
            other => other,
        }
    }
}

impl Drop for TaskReader {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Reads a metadata object's plaintext: the head at once, then the files one at a time.
pub struct MetadataReader {
    head: Head,
    source: Source,
}

enum Source {
    Lines {
        reader: tokio::io::BufReader<ObjectReader>,
        left: u64,
    },
    Inline(std::vec::IntoIter<Entry>),
}

impl MetadataReader {
    /// Reads the head of the plaintext `plain` (version 1 or 2).
    ///
    /// # Errors
    /// Unreadable, or not a metadata object.
    pub async fn open(plain: ObjectReader) -> Result<Self, MetadataError> {
        let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, plain);
        let line = read_line(&mut reader)
            .await?
            .ok_or_else(|| MetadataError::Format("it is empty".into()))?;
        let mut head: Head = serde_json::from_slice(&line)
            .map_err(|e| MetadataError::Format(format!("its first line: {e}")))?;
        drop(line);
        let source = match head.version {
            1 => {
                let files = head.files.take().unwrap_or_default();
                if read_line(&mut reader).await?.is_some() {
                    return Err(MetadataError::Format(
                        "version 1 is one JSON object, and more follows it".into(),
                    ));
                }
                head.file_count = files.len() as u64;
                Source::Inline(files.into_iter())
            }
            VERSION => Source::Lines {
                reader,
                left: head.file_count,
            },
            v => {
                return Err(MetadataError::Format(format!(
                    "version {v} is not one this reader knows (1 or {VERSION}); update medimint"
                )))
            }
        };
        Ok(Self { head, source })
    }

    /// Opens the metadata object `cid` in `store` with the study key.
    ///
    /// # Errors
    /// Unreadable, altered, not under this key, or not a metadata object.
    pub async fn open_stored(
        store: Arc<dyn ObjectStore>,
        cid: &str,
        key: &StudyKey,
    ) -> Result<Self, MetadataError> {
        Self::open(decrypting(key, ciphertext(store, cid))).await
    }

    /// The study (its files come from [`MetadataReader::next_file`]).
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The next file, in path order; `None` after the last.
    ///
    /// # Errors
    /// Unreadable, a malformed line, fewer or more lines than the head says.
    pub async fn next_file(&mut self) -> Result<Option<Entry>, MetadataError> {
        match &mut self.source {
            Source::Inline(files) => Ok(files.next()),
            Source::Lines { reader, left } => {
                let line = read_line(reader).await?;
                match (line, *left) {
                    (None, 0) => Ok(None),
                    (None, n) => Err(MetadataError::Format(format!(
                        "it ends {n} file(s) short of the {} its head lists",
                        self.head.file_count
                    ))),
                    (Some(_), 0) => Err(MetadataError::Format(format!(
                        "it has more files than the {} its head lists",
                        self.head.file_count
                    ))),
                    (Some(line), _) => {
                        *left -= 1;
                        serde_json::from_slice(&line).map(Some).map_err(|e| {
                            MetadataError::Format(format!(
                                "file line {}: {e}",
                                self.head.file_count - *left
                            ))
                        })
                    }
                }
            }
        }
    }
}

/// One line without its `\n` (at most [`MAX_LINE`] bytes), or `None` at the end.
async fn read_line(
    reader: &mut tokio::io::BufReader<ObjectReader>,
) -> Result<Option<Vec<u8>>, MetadataError> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut line)
        .await
        .map_err(MetadataError::Read)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() as u64 > MAX_LINE {
        return Err(MetadataError::Format(format!(
            "a line is longer than {MAX_LINE} bytes"
        )));
    }
    Ok(Some(line))
}
