//! Reading one DICOM file from a stream: its SHA-256 and size over every byte, and its
//! header (everything before the pixel data) parsed by dicom-object, in bounded memory.
//!
//! Any transfer syntax is read (the pixel data is never decoded): explicit and implicit VR
//! little endian, explicit VR big endian, deflated (inflated for the checks; the stored
//! bytes stay the original), and every encapsulated one (JPEG, JPEG-LS, JPEG 2000, RLE,
//! MPEG, HTJ2K...). See docs/ingest.md.

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::scan::{scan, Fragments, STOP_TAG};

/// Default cap on the bytes kept for a header (everything before the pixel data).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024 * 1024;

/// Bytes asked of the reader at a time. Large, because each read of a local file is one
/// round trip to tokio's blocking pool (docs/performance.md, "Ingest").
const CHUNK: usize = 1024 * 1024;

/// Why a file's header could not be read. Messages name tags and offsets, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No file meta group: neither `DICM` after a 128-byte preamble nor a meta group at
    /// the start of the file.
    #[error("not a DICOM Part 10 file (no file meta group: neither 'DICM' after a 128-byte preamble nor a meta group at the start)")]
    NotPart10,
    /// The file ends inside an element header or an open sequence.
    #[error("the file is truncated: it ends inside the header at byte {offset}")]
    Truncated {
        /// Where the file ended.
        offset: u64,
    },
    /// The file ends inside its encapsulated pixel data (a fragment or the sequence
    /// delimiter is missing).
    #[error("the file is truncated: it ends inside the encapsulated pixel data, in the fragment that starts at byte {offset}")]
    TruncatedPixelData {
        /// Where the unfinished fragment (or the missing delimiter) starts.
        offset: u64,
    },
    /// An element declares more bytes than the file has left.
    #[error(
        "element ({:04X},{:04X}) declares {declared} bytes but only {remaining} remain in the file",
        tag.0, tag.1
    )]
    LengthBeyondEnd {
        /// The element's tag.
        tag: (u16, u16),
        /// Its declared length.
        declared: u64,
        /// Bytes left in the file after its header.
        remaining: u64,
    },
    /// The header (before the pixel data) is larger than the configured cap.
    #[error("the header before the pixel data is larger than the {limit}-byte limit")]
    HeaderTooLarge {
        /// The cap.
        limit: u64,
    },
    /// A transfer syntax this pipeline does not read.
    #[error("transfer syntax {0} is not accepted")]
    UnsupportedTransferSyntax(String),
    /// dicom-object or the bounds scan rejected the encoding.
    #[error("malformed DICOM: {0}")]
    Malformed(String),
}

/// The header fields the pipeline checks and summarises. PHI: never log these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// Transfer Syntax UID (0002,0010).
    pub transfer_syntax: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: Option<String>,
    /// SOP Instance UID (0008,0018).
    pub sop_instance_uid: Option<String>,
    /// Study Instance UID (0020,000D).
    pub study_instance_uid: Option<String>,
    /// Series Instance UID (0020,000E).
    pub series_instance_uid: Option<String>,
    /// Patient's Name (0010,0010), as stored.
    pub patient_name: Option<String>,
    /// Patient's Birth Date (0010,0030), as stored.
    pub patient_birth_date: Option<String>,
    /// Patient ID (0010,0020).
    pub patient_id: Option<String>,
    /// Modality (0008,0060).
    pub modality: Option<String>,
    /// Body Part Examined (0018,0015).
    pub body_part: Option<String>,
    /// Study Date (0008,0020).
    pub study_date: Option<String>,
    /// Number of Frames (0028,0008), 1 if absent.
    pub frames: u32,
}

/// A file's digest and size, over every byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
}

/// The outcome of reading one file.
#[derive(Debug)]
pub struct ReadFile {
    /// Digest and size (always computed, whatever the header).
    pub digest: FileDigest,
    /// The parsed header, or why it could not be parsed.
    pub header: Result<ParsedHeader, HeaderError>,
}

/// A parsed header.
#[derive(Debug)]
pub struct ParsedHeader {
    /// Fields the pipeline uses.
    pub fields: HeaderFields,
    /// The header as parsed (file meta group and data set, without pixel data).
    pub object: DefaultDicomObject,
}

impl ParsedHeader {
    /// The header as DICOM JSON (PS3.18 Annex F), file meta group excluded.
    pub fn to_dicom_json(&self) -> Result<serde_json::Value, HeaderError> {
        dicom_json::to_value(&*self.object)
            .map_err(|e| HeaderError::Malformed(format!("cannot express as DICOM JSON: {e}")))
    }
}

/// Streams `reader` to its end: hashes every byte and keeps at most `max_header_bytes` for
/// the header. An I/O error is returned as such (transient); a bad header is in
/// [`ReadFile::header`].
pub async fn read_file(
    reader: &mut (dyn AsyncRead + Send + Unpin),
    max_header_bytes: usize,
) -> std::io::Result<ReadFile> {
    let mut hasher = Sha256::new();
    let mut head = HeaderReader::new(max_header_bytes);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
        head.feed(&chunk[..n]);
    }
    let size = head.size();
    Ok(ReadFile {
        digest: FileDigest {
            sha256: hasher.finalize().into(),
            size,
        },
        header: head.finish(),
    })
}

/// The header of a file fed to it in order, piece by piece, as it streams past (to a digest,
/// a cipher): keeps at most `max_header_bytes`, and follows the encapsulated pixel data's
/// items to the end. [`read_file`] without the reading and the hashing.
pub struct HeaderReader {
    max_header_bytes: usize,
    head: Vec<u8>,
    size: u64,
    /// Keep bytes only until the header is whole (the pixel data's element header is in the
    /// buffer): a multi-frame file would otherwise fill the buffer to its cap with pixels.
    head_complete: bool,
    /// Once the header is whole: the encapsulated pixel data's items, followed to the end.
    fragments: Option<Fragments>,
}

impl HeaderReader {
    /// Nothing fed yet.
    pub fn new(max_header_bytes: usize) -> Self {
        Self {
            max_header_bytes,
            head: Vec::with_capacity((64 * 1024).min(max_header_bytes)),
            size: 0,
            head_complete: false,
            fragments: None,
        }
    }

    /// The file's next bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        if n == 0 {
            return;
        }
        let start = self.size;
        self.size += n as u64;
        if let Some(f) = self.fragments.as_mut() {
            f.feed(start, bytes);
        }
        if !self.head_complete {
            let room = self.max_header_bytes - self.head.len();
            self.head.extend_from_slice(&bytes[..n.min(room)]);
            // The file's size is not known yet; an unbounded one only defers the size
            // checks to `parse_header`, which repeats the scan with the real size.
            match scan(&self.head, u64::MAX) {
                Ok(s) => {
                    self.head_complete = true;
                    if let Some(at) = s.fragments_at {
                        // Everything read so far: the head, then what these bytes held past it.
                        let mut f = Fragments::new(at);
                        f.feed(0, &self.head);
                        let kept = n.min(room);
                        f.feed(start + kept as u64, &bytes[kept..]);
                        self.fragments = Some(f);
                    }
                }
                Err(_) => self.head_complete = self.head.len() >= self.max_header_bytes,
            }
        }
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The header of the file fed (its whole size being what was fed), or why it cannot be
    /// read.
    pub fn finish(self) -> Result<ParsedHeader, HeaderError> {
        let size = self.size;
        parse_header(&self.head, size).and_then(|h| match self.fragments {
            Some(f) => f.finish(size).map(|()| h),
            None => Ok(h),
        })
    }
}

/// A reader that hands every byte it passes on to a [`HeaderReader`] as well: the header of
/// a file read once, for its cipher (the pipeline's one pass over each file).
pub struct HeaderTap<R> {
    inner: R,
    header: std::sync::Arc<std::sync::Mutex<HeaderReader>>,
}

impl<R> HeaderTap<R> {
    /// `inner`'s bytes, fed to `header` as they are read.
    pub fn new(inner: R, header: std::sync::Arc<std::sync::Mutex<HeaderReader>>) -> Self {
        Self { inner, header }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HeaderTap<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() {
            // Poisoned only if a feed panicked; the header is then refused at its end.
            if let Ok(mut h) = self.header.lock() {
                h.feed(fresh);
            }
        }
        std::task::Poll::Ready(Ok(()))
    }
}

/// Parses the header held in `head`, the first bytes of a file of `file_size` bytes.
pub fn parse_header(head: &[u8], file_size: u64) -> Result<ParsedHeader, HeaderError> {
    let scanned = scan(head, file_size)?;
    let parseable = scanned.parseable(head);
    let object = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .read_until(dicom_core::Tag(STOP_TAG.0, STOP_TAG.1))
        .from_reader(&parseable[..])
        .map_err(|e| HeaderError::Malformed(e.to_string()))?;
    let text = |tag| -> Option<String> {
        object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
    };
    let fields = HeaderFields {
        transfer_syntax: scanned.transfer_syntax,
        sop_class_uid: text(tags::SOP_CLASS_UID),
        sop_instance_uid: text(tags::SOP_INSTANCE_UID),
        study_instance_uid: text(tags::STUDY_INSTANCE_UID),
        series_instance_uid: text(tags::SERIES_INSTANCE_UID),
        patient_name: text(tags::PATIENT_NAME),
        patient_birth_date: text(tags::PATIENT_BIRTH_DATE),
        patient_id: text(tags::PATIENT_ID),
        modality: text(tags::MODALITY),
        body_part: text(tags::BODY_PART_EXAMINED),
        study_date: text(tags::STUDY_DATE),
        frames: text(tags::NUMBER_OF_FRAMES)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1),
    };
    Ok(ParsedHeader { fields, object })
}
