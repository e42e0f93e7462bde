//! A bounds check over the encoded header, run before dicom-object sees the bytes.
//!
//! dicom-parser reserves and zero-fills a buffer of each element's declared length before
//! reading it, so a forged length of 4 GiB would make it allocate 4 GiB. This walk reads only
//! element headers and refuses any declared length larger than what remains of the file (or
//! of the bounded header buffer), so what dicom-object later allocates is bounded by the
//! buffer.

use crate::header::HeaderError;

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
        if matches!(
            &vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        ) {
            Ok((tag, Some(vr), self.u32(pos + 8, enc)?, 12))
        } else {
            Ok((tag, Some(vr), u32::from(self.u16(pos + 6, enc)?), 8))
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

/// Walks the file meta group and the data set's element headers up to the pixel data.
/// `buf` holds the first bytes of a file of `file_size` bytes.
pub(crate) fn scan(buf: &[u8], file_size: u64) -> Result<Scan, HeaderError> {
    if buf.len() < 132 || &buf[128..132] != b"DICM" {
        return Err(HeaderError::NotPart10);
    }
    let mut cur = Cursor {
        buf,
        file_size,
        enc: Encoding::ExplicitLe,
    };
    let mut pos = 132;
    let mut transfer_syntax = None;
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
        if tag == (0x0002, 0x0010) {
            let raw = &buf[pos + hdr..pos + hdr + len as usize];
            let uid = String::from_utf8_lossy(raw)
                .trim_end_matches(['\0', ' '])
                .to_owned();
            transfer_syntax = Some(uid);
        }
        pos += hdr + len as usize;
    }
    let transfer_syntax = transfer_syntax.ok_or_else(|| {
        HeaderError::Malformed("the file meta group has no Transfer Syntax UID".into())
    })?;
    cur.enc = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding::ImplicitLe,
        "1.2.840.10008.1.2.2" => Encoding::ExplicitBe,
        "1.2.840.10008.1.2.1.99" => {
            return Err(HeaderError::UnsupportedTransferSyntax(transfer_syntax));
        }
        _ => Encoding::ExplicitLe,
    };
    walk_data_set(&cur, pos)?;
    Ok(Scan { transfer_syntax })
}

fn walk_data_set(cur: &Cursor<'_>, mut pos: usize) -> Result<(), HeaderError> {
    // Open containers: Some(end) for a defined length, None for one closed by a delimiter.
    let mut open: Vec<Option<usize>> = Vec::new();
    let enc = cur.enc;
    loop {
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
            return Ok(()); // a data set without pixel data
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
            }
            return Ok(());
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
