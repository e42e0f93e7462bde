//! A bounds check over the encoded header, run before dicom-object sees the bytes.
//!
//! dicom-parser reserves and zero-fills a buffer of each element's declared length before
//! reading it, so a forged length of 4 GiB would make it allocate 4 GiB. This walk reads only
//! element headers and refuses any declared length larger than what remains of the file (or
//! of the bounded header buffer), so what dicom-object later allocates is bounded by the
//! buffer. It also refuses sequences nested deeper than [`MAX_NESTING`] (dicom-object and
//! the DICOM JSON writer recurse once per level).
//!
//! The walk also learns the file's layout, so that files dicom-object would not read as they
//! are can still be checked (their stored bytes are never changed):
//! - the file meta group may start at byte 132 (after the preamble and `DICM`, as PS3.10
//!   writes it), at byte 4 (`DICM` without the preamble) or at byte 0 (the meta group
//!   alone), and may lack its group length;
//! - a Deflated Explicit VR Little Endian data set (1.2.840.10008.1.2.1.99) is inflated,
//!   into at most [`max_inflated`] bytes, for the walk and the parse.

use std::borrow::Cow;

use crate::header::{HeaderError, DEFAULT_MAX_HEADER_BYTES};

/// Deflated Explicit VR Little Endian.
pub(crate) const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VR Little Endian, what an inflated data set is read as.
const EXPLICIT_LE: &[u8] = b"1.2.840.10008.1.2.1\0";

/// Deepest nesting of open sequences and items accepted (a sequence and its item count one
/// each, so 24 levels of sequences). The DICOM JSON of a header this deep stays under the
/// 128 levels serde_json reads back (four JSON levels per sequence, four around the header
/// in the metadata object); real exports nest a few levels.
pub(crate) const MAX_NESTING: usize = 48;

/// The most bytes a deflated header is inflated into.
pub(crate) fn max_inflated(buffer: usize) -> usize {
    buffer.max(DEFAULT_MAX_HEADER_BYTES)
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

/// An element header: tag, VR (explicit VR only), declared length, header size.
type ElementHeader = ((u16, u16), Option<[u8; 2]>, u32, usize);

/// First root-level tag that is no longer header: (7FE0,0008) Float Pixel Data, then Double
/// Float Pixel Data and Pixel Data.
pub(crate) const STOP_TAG: (u16, u16) = (0x7FE0, 0x0008);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    ExplicitLe,
    ExplicitBe,
    ImplicitLe,
}

/// Where the scan ended and what it learned.
pub(crate) struct Scan {
    /// The transfer syntax UID from the file meta group.
    pub transfer_syntax: String,
    /// Where the first meta element starts: 132, 4 (no preamble) or 0 (no `DICM` either).
    meta_start: usize,
    /// Where the data set starts (after the meta group).
    data_start: usize,
    /// Each meta element's tag element number and byte range.
    meta: Vec<(u16, std::ops::Range<usize>)>,
    /// The group length the meta group declares, if it has one.
    group_length: Option<u32>,
    /// The inflated data set of a deflated file.
    inflated: Option<Vec<u8>>,
    /// Where the fragments of encapsulated pixel data start in the file, if it has them.
    pub fragments_at: Option<usize>,
}

impl Scan {
    /// The header as dicom-object reads it: `head` itself when it is a standard Part 10
    /// file, otherwise a copy with the preamble, `DICM` and a meta group with its group
    /// length, and an inflated data set read as Explicit VR Little Endian.
    pub(crate) fn parseable<'a>(&self, head: &'a [u8]) -> Cow<'a, [u8]> {
        let meta_len: usize = self
            .meta
            .iter()
            .map(|(e, r)| if *e == 0 { 0 } else { r.len() })
            .sum();
        let standard = self.meta_start == 132
            && self.inflated.is_none()
            && self.group_length == Some(meta_len as u32);
        if standard {
            return Cow::Borrowed(head);
        }
        let data: &[u8] = match &self.inflated {
            Some(d) => d,
            None => &head[self.data_start.min(head.len())..],
        };
        let mut meta = Vec::with_capacity(meta_len + 32);
        for (elem, range) in &self.meta {
            match *elem {
                0x0000 => {}
                0x0010 if self.inflated.is_some() => {
                    meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
                    meta.extend_from_slice(&(EXPLICIT_LE.len() as u16).to_le_bytes());
                    meta.extend_from_slice(EXPLICIT_LE);
                }
                _ => meta.extend_from_slice(&head[range.clone()]),
            }
        }
        let mut out = Vec::with_capacity(132 + 12 + meta.len() + data.len());
        out.extend_from_slice(&[0u8; 128]);
        out.extend_from_slice(b"DICM");
        out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(data);
        Cow::Owned(out)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    file_size: u64,
    enc: Encoding,
}

impl Cursor<'_> {
    /// The error for needing `need` bytes at `pos` that the buffer lacks.
    fn short(&self, pos: usize) -> HeaderError {
        if self.buf.len() as u64 >= self.file_size {
            HeaderError::Truncated { offset: pos as u64 }
        } else {
            HeaderError::HeaderTooLarge {
                limit: self.buf.len() as u64,
            }
        }
    }

    fn bytes<const N: usize>(&self, pos: usize) -> Result<[u8; N], HeaderError> {
        self.buf
            .get(pos..pos + N)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| self.short(pos))
    }

    fn u16(&self, pos: usize, enc: Encoding) -> Result<u16, HeaderError> {
        let b = self.bytes::<2>(pos)?;
        Ok(match enc {
            Encoding::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        })
    }

    fn u32(&self, pos: usize, enc: Encoding) -> Result<u32, HeaderError> {
        let b = self.bytes::<4>(pos)?;
        Ok(match enc {
            Encoding::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        })
    }

    /// Reads an element header at `pos`: (tag, VR if explicit, length, header size).
    fn element(&self, pos: usize, enc: Encoding) -> Result<ElementHeader, HeaderError> {
        let tag = (self.u16(pos, enc)?, self.u16(pos + 2, enc)?);
        if tag.0 == 0xFFFE || enc == Encoding::ImplicitLe {
            return Ok((tag, None, self.u32(pos + 4, enc)?, 8));
        }
        let vr = self.bytes::<2>(pos + 4)?;
        // As dicom-encoding decodes it: these VRs have a 2-byte length; every other one,
        // unknown VRs too (read as UN), 2 reserved bytes and a 4-byte length.
        if matches!(
            &vr,
            b"AE"
                | b"AS"
                | b"AT"
                | b"CS"
                | b"DA"
                | b"DS"
                | b"DT"
                | b"FL"
                | b"FD"
                | b"IS"
                | b"LO"
                | b"LT"
                | b"PN"
                | b"SH"
                | b"SL"
                | b"SS"
                | b"ST"
                | b"TM"
                | b"UI"
                | b"UL"
                | b"US"
        ) {
            Ok((tag, Some(vr), u32::from(self.u16(pos + 6, enc)?), 8))
        } else {
            Ok((tag, Some(vr), self.u32(pos + 8, enc)?, 12))
        }
    }

    /// Checks that `len` bytes of value starting at `start` lie within the file, then within
    /// the buffer.
    fn check_len(&self, tag: (u16, u16), start: usize, len: u32) -> Result<(), HeaderError> {
        let remaining = self.file_size.saturating_sub(start as u64);
        if u64::from(len) > remaining {
            return Err(HeaderError::LengthBeyondEnd {
                tag,
                declared: u64::from(len),
                remaining,
            });
        }
        if start + len as usize > self.buf.len() {
            return Err(HeaderError::HeaderTooLarge {
                limit: self.buf.len() as u64,
            });
        }
        Ok(())
    }
}

/// Where the file meta group starts, or `None` if the bytes do not open a Part 10 file.
fn meta_start(buf: &[u8]) -> Option<usize> {
    // A meta element: group 0002 in Explicit VR Little Endian, a VR of two capitals.
    let meta_at = |pos: usize| {
        buf.get(pos..pos + 6)
            .is_some_and(|b| b[..2] == [0x02, 0x00] && b[4..6].iter().all(u8::is_ascii_uppercase))
    };
    if buf.get(128..132) == Some(b"DICM") {
        Some(132)
    } else if buf.starts_with(b"DICM") && meta_at(4) {
        Some(4)
    } else if meta_at(0) {
        Some(0)
    } else {
        None
    }
}

/// Walks the file meta group and the data set's element headers up to the pixel data.
/// `buf` holds the first bytes of a file of `file_size` bytes.
pub(crate) fn scan(buf: &[u8], file_size: u64) -> Result<Scan, HeaderError> {
    let Some(meta_start) = meta_start(buf) else {
        return Err(HeaderError::NotPart10);
    };
    let mut cur = Cursor {
        buf,
        file_size,
        enc: Encoding::ExplicitLe,
    };
    let mut pos = meta_start;
    let mut transfer_syntax = None;
    let mut meta = Vec::new();
    let mut group_length = None;
    loop {
        if pos == buf.len() && buf.len() as u64 == file_size {
            break; // a meta group and nothing else: caught below
        }
        let group = cur.u16(pos, Encoding::ExplicitLe)?;
        if group != 0x0002 {
            break;
        }
        let (tag, _, len, hdr) = cur.element(pos, Encoding::ExplicitLe)?;
        if len == UNDEFINED {
            return Err(HeaderError::Malformed(
                "an element of the file meta group has an undefined length".into(),
            ));
        }
        cur.check_len(tag, pos + hdr, len)?;
        let raw = &buf[pos + hdr..pos + hdr + len as usize];
        if tag == (0x0002, 0x0010) {
            let uid = String::from_utf8_lossy(raw)
                .trim_end_matches(['\0', ' '])
                .to_owned();
            transfer_syntax = Some(uid);
        }
        if tag == (0x0002, 0x0000) && len == 4 {
            group_length = Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]));
        }
        meta.push((tag.1, pos..pos + hdr + len as usize));
        pos += hdr + len as usize;
    }
    let transfer_syntax = transfer_syntax.ok_or_else(|| {
        HeaderError::Malformed("the file meta group has no Transfer Syntax UID".into())
    })?;
    cur.enc = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding::ImplicitLe,
        "1.2.840.10008.1.2.2" => Encoding::ExplicitBe,
        _ => Encoding::ExplicitLe,
    };
    let mut scan = Scan {
        transfer_syntax,
        meta_start,
        data_start: pos,
        meta,
        group_length,
        inflated: None,
        fragments_at: None,
    };
    if scan.transfer_syntax == DEFLATED {
        let whole = buf.len() as u64 >= file_size;
        let (data, complete) = inflate(&buf[pos..], max_inflated(buf.len()))?;
        // The inflated size is known once the stream ended, or once the whole file was
        // inflated without reaching its end (a truncated stream).
        let size = if complete || (whole && data.len() < max_inflated(buf.len())) {
            data.len() as u64
        } else {
            u64::MAX
        };
        let inner = Cursor {
            buf: &data,
            file_size: size,
            enc: Encoding::ExplicitLe,
        };
        // (The fragments of a deflated file's pixel data are inside the DEFLATE stream and
        // are not followed.)
        walk_data_set(&inner, 0)?;
        scan.inflated = Some(data);
    } else {
        scan.fragments_at = walk_data_set(&cur, pos)?;
    }
    Ok(scan)
}

/// Inflates a raw DEFLATE stream (RFC 1951, as PS3.5 A.5 stores it) into at most `cap`
/// bytes; also says whether the stream ended.
fn inflate(input: &[u8], cap: usize) -> Result<(Vec<u8>, bool), HeaderError> {
    let mut z = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(cap.min(input.len().saturating_mul(4)).max(4096));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= cap {
                return Ok((out, false));
            }
            out.reserve_exact(out.len().max(4096).min(cap - out.len()));
        }
        let consumed = z.total_in() as usize;
        let status = z
            .decompress_vec(&input[consumed..], &mut out, flate2::FlushDecompress::None)
            .map_err(|e| {
                HeaderError::Malformed(format!("the deflated data set cannot be inflated: {e}"))
            })?;
        match status {
            flate2::Status::StreamEnd => return Ok((out, true)),
            // No progress with room left: the input is used up.
            flate2::Status::BufError => return Ok((out, false)),
            flate2::Status::Ok => {
                if z.total_in() as usize == input.len() && out.len() < out.capacity() {
                    return Ok((out, false));
                }
            }
        }
    }
}

/// Walks the data set from `pos`; returns where the value of an encapsulated (undefined
/// length) pixel data element starts, if the data set has one.
fn walk_data_set(cur: &Cursor<'_>, mut pos: usize) -> Result<Option<usize>, HeaderError> {
    // Open containers: Some(end) for a defined length, None for one closed by a delimiter.
    let mut open: Vec<Option<usize>> = Vec::new();
    let enc = cur.enc;
    loop {
        if open.len() > MAX_NESTING {
            return Err(HeaderError::Malformed(format!(
                "sequences are nested more than {} levels deep at byte {pos}",
                MAX_NESTING / 2
            )));
        }
        while let Some(Some(end)) = open.last() {
            if pos < *end {
                break;
            }
            if pos > *end {
                return Err(HeaderError::Malformed(format!(
                    "an element overruns its enclosing sequence or item at byte {pos}"
                )));
            }
            open.pop();
        }
        if pos == cur.buf.len() {
            if (cur.buf.len() as u64) < cur.file_size {
                return Err(cur.short(pos));
            }
            if !open.is_empty() {
                return Err(HeaderError::Truncated { offset: pos as u64 });
            }
            return Ok(None); // a data set without pixel data
        }
        let (tag, vr, len, hdr) = cur.element(pos, enc)?;
        if tag.0 == 0xFFFE {
            pos += hdr;
            match tag.1 {
                0xE000 if len == UNDEFINED => open.push(None),
                0xE000 => {
                    cur.check_len(tag, pos, len)?;
                    open.push(Some(pos + len as usize));
                }
                0xE00D | 0xE0DD => {
                    if matches!(open.last(), Some(None)) {
                        open.pop();
                    }
                }
                _ => {
                    return Err(HeaderError::Malformed(format!(
                        "unknown delimitation tag (FFFE,{:04X})",
                        tag.1
                    )))
                }
            }
            continue;
        }
        if open.is_empty() && tag >= STOP_TAG {
            // The pixel data: its value is never read, but a defined length must still fit.
            if len != UNDEFINED {
                let remaining = cur.file_size.saturating_sub((pos + hdr) as u64);
                if u64::from(len) > remaining {
                    return Err(HeaderError::LengthBeyondEnd {
                        tag,
                        declared: u64::from(len),
                        remaining,
                    });
                }
                return Ok(None);
            }
            // Encapsulated pixel data: its fragments are followed as the file streams by.
            return Ok((tag == (0x7FE0, 0x0010)).then_some(pos + hdr));
        }
        if len == UNDEFINED {
            match (enc, vr.as_ref()) {
                (Encoding::ImplicitLe, _) | (_, Some(b"SQ")) => {
                    open.push(None);
                    pos += hdr;
                    continue;
                }
                _ => {
                    return Err(HeaderError::Malformed(format!(
                        "element ({:04X},{:04X}) has an undefined length but is not a sequence",
                        tag.0, tag.1
                    )))
                }
            }
        }
        cur.check_len(tag, pos + hdr, len)?;
        let value = pos + hdr;
        let is_sequence = match vr {
            Some(v) => &v == b"SQ",
            // Implicit VR: a value that opens with an item tag is a sequence.
            None => len >= 8 && cur.u32(value, enc)? == 0xE000_FFFE,
        };
        if is_sequence {
            open.push(Some(value + len as usize));
            pos = value;
        } else {
            pos = value + len as usize;
        }
    }
}

/// Follows the items of encapsulated pixel data through the stream, as the file is read, up
/// to its sequence delimiter: a file cut inside its pixel data is refused rather than
/// released. Keeps at most one item header (8 bytes).
pub(crate) struct Fragments {
    /// File offset of the next item header.
    next: u64,
    /// Bytes of that header seen so far.
    partial: Vec<u8>,
    /// The sequence delimiter was reached.
    done: bool,
    /// What was wrong, once something was.
    error: Option<HeaderError>,
}

impl Fragments {
    /// Fragments starting at file offset `at`.
    pub(crate) fn new(at: usize) -> Self {
        Self {
            next: at as u64,
            partial: Vec::with_capacity(8),
            done: false,
            error: None,
        }
    }

    /// Takes the bytes of the file from offset `start`.
    pub(crate) fn feed(&mut self, start: u64, chunk: &[u8]) {
        let end = start + chunk.len() as u64;
        while !self.done && self.error.is_none() {
            let want = self.next + self.partial.len() as u64;
            if want >= end || want < start {
                return;
            }
            let off = (want - start) as usize;
            let take = (8 - self.partial.len()).min(chunk.len() - off);
            self.partial.extend_from_slice(&chunk[off..off + take]);
            if self.partial.len() < 8 {
                return;
            }
            let b = &self.partial;
            let tag = (
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
            );
            let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            self.partial.clear();
            match tag {
                (0xFFFE, 0xE000) if len != UNDEFINED => self.next += 8 + u64::from(len),
                (0xFFFE, 0xE0DD) => self.done = true,
                _ => {
                    self.error = Some(HeaderError::Malformed(format!(
                        "the encapsulated pixel data holds ({:04X},{:04X}) at byte {} where a \
                         fragment item was expected",
                        tag.0, tag.1, self.next
                    )))
                }
            }
        }
    }

    /// The verdict once the file of `size` bytes was read whole.
    pub(crate) fn finish(self, size: u64) -> Result<(), HeaderError> {
        match self.error {
            Some(e) => Err(e),
            None if self.done => Ok(()),
            None => Err(HeaderError::TruncatedPixelData {
                offset: size.min(self.next),
            }),
        }
    }
}
