//! Where the frames of a stored file are: one walk over the decrypted bytes that reads
//! element headers only (never a value, except the transfer syntax), records where the
//! pixel data starts and, for encapsulated pixel data, where each fragment is. The frames
//! of later requests are then read by skipping to their bytes, so memory stays at one frame
//! whatever the file's size.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Deepest nesting of sequences and items walked through.
const MAX_NESTING: usize = 64;
/// Longest transfer syntax UID value read.
const MAX_UID: u32 = 64;
/// Most fragments of one file's encapsulated pixel data recorded.
const MAX_FRAGMENTS: usize = 1 << 20;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Implicit VR Little Endian.
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian.
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Explicit VR Big Endian (retired).
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
/// Deflated Explicit VR Little Endian.
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Why a file's frames cannot be located. Messages name tags and offsets, never values.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The decrypted stream failed or ended early.
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not laid out as DICOM Part 10.
    #[error("not a DICOM Part 10 file: {0}")]
    Malformed(String),
    /// No (7FE0,0010) Pixel Data at the top level.
    #[error("the instance has no pixel data (7FE0,0010)")]
    NoPixelData,
    /// A layout this service does not cut into frames.
    #[error("{0}")]
    Unsupported(String),
    /// A frame number outside 1..=frames.
    #[error("frame {asked} does not exist: the instance has {frames} frame(s), numbered from 1")]
    NoSuchFrame {
        /// The frame asked for.
        asked: u32,
        /// How many frames there are.
        frames: u32,
    },
}

/// Where the pixel data of one stored file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelLayout {
    /// The file's transfer syntax UID.
    pub transfer_syntax: String,
    /// Native pixel data: where its value starts and its length.
    pub native: Option<(u64, u64)>,
    /// Encapsulated pixel data: the Basic Offset Table and each fragment's (value offset,
    /// length).
    pub offsets: Vec<u32>,
    /// The fragments after the offset table.
    pub fragments: Vec<(u64, u32)>,
}

impl PixelLayout {
    /// The byte ranges (offset, length) of `frame` (from 1), in file order. `frame_bytes`
    /// is the size of one native frame (rows × columns × samples × bits allocated / 8).
    ///
    /// # Errors
    /// [`FrameError::NoSuchFrame`]; fragments that cannot be assigned to frames.
    pub fn frame_ranges(
        &self,
        frame: u32,
        frames: u32,
        frame_bytes: u64,
    ) -> Result<Vec<(u64, u64)>, FrameError> {
        if frame == 0 || frame > frames {
            return Err(FrameError::NoSuchFrame {
                asked: frame,
                frames,
            });
        }
        let i = u64::from(frame - 1);
        if let Some((at, len)) = self.native {
            if frame_bytes == 0 {
                return Err(FrameError::Unsupported(
                    "frames of 1-bit pixel data are not byte-aligned; retrieve the instance".into(),
                ));
            }
            let start = i * frame_bytes;
            if start + frame_bytes > len {
                return Err(FrameError::Malformed(format!(
                    "the pixel data holds {len} bytes, fewer than {frames} frames of {frame_bytes}"
                )));
            }
            return Ok(vec![(at + start, frame_bytes)]);
        }
        let all = |fs: &[(u64, u32)]| -> Vec<(u64, u64)> {
            fs.iter().map(|(o, l)| (*o, u64::from(*l))).collect()
        };
        let n = self.fragments.len();
        if frames == 1 {
            return Ok(all(&self.fragments));
        }
        if n == frames as usize {
            return Ok(all(&self.fragments[i as usize..=i as usize]));
        }
        if self.offsets.len() == frames as usize && n > 0 {
            // Offsets count from the first fragment's item tag; each item has 8 bytes of
            // header before its value.
            let base = self.fragments[0].0 - 8;
            let start = u64::from(self.offsets[i as usize]);
            let end = self
                .offsets
                .get(i as usize + 1)
                .map(|o| u64::from(*o))
                .unwrap_or(u64::MAX);
            let picked: Vec<(u64, u32)> = self
                .fragments
                .iter()
                .filter(|(o, _)| {
                    let rel = o - 8 - base;
                    rel >= start && rel < end
                })
                .copied()
                .collect();
            if !picked.is_empty() {
                return Ok(all(&picked));
            }
        }
        Err(FrameError::Unsupported(format!(
            "the encapsulated pixel data has {n} fragments for {frames} frames and no usable \
             offset table, so its frames cannot be told apart; retrieve the instance"
        )))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    ExplicitLe,
    ExplicitBe,
    ImplicitLe,
}

/// Reads from a stream, counting the position.
struct Walker<R> {
    reader: R,
    pos: u64,
    scratch: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Walker<R> {
    async fn exact<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut b = [0u8; N];
        self.reader.read_exact(&mut b).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FrameError::Malformed(format!(
                    "the file ends inside an element at byte {}",
                    self.pos
                ))
            } else {
                FrameError::Io(e)
            }
        })?;
        self.pos += N as u64;
        Ok(b)
    }

    /// Discards `n` bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), FrameError> {
        if self.scratch.is_empty() {
            self.scratch = vec![0u8; 64 * 1024];
        }
        while n > 0 {
            let want = n.min(self.scratch.len() as u64) as usize;
            let got = self.reader.read(&mut self.scratch[..want]).await?;
            if got == 0 {
                return Err(FrameError::Malformed(format!(
                    "the file ends inside a value at byte {}",
                    self.pos
                )));
            }
            self.pos += got as u64;
            n -= got as u64;
        }
        Ok(())
    }

    /// Reads exactly `n` bytes into a new buffer (frames; the caller bounds `n`).
    async fn take(&mut self, n: u64) -> Result<Vec<u8>, FrameError> {
        let mut out = vec![
            0u8;
            usize::try_from(n)
                .map_err(|_| FrameError::Unsupported("frame too large".into()))?
        ];
        self.reader.read_exact(&mut out).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FrameError::Malformed(format!("the file ends inside a frame at byte {}", self.pos))
            } else {
                FrameError::Io(e)
            }
        })?;
        self.pos += n;
        Ok(out)
    }

    async fn u16(&mut self, enc: Encoding) -> Result<u16, FrameError> {
        let b = self.exact::<2>().await?;
        Ok(match enc {
            Encoding::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        })
    }

    async fn u32(&mut self, enc: Encoding) -> Result<u32, FrameError> {
        let b = self.exact::<4>().await?;
        Ok(match enc {
            Encoding::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        })
    }

    /// An element header whose tag has been read: (VR, length).
    async fn rest_of_header(
        &mut self,
        tag: (u16, u16),
        enc: Encoding,
    ) -> Result<(Option<[u8; 2]>, u32), FrameError> {
        if tag.0 == 0xFFFE || enc == Encoding::ImplicitLe {
            return Ok((None, self.u32(enc).await?));
        }
        let vr = self.exact::<2>().await?;
        let long = matches!(
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
        );
        if long {
            self.exact::<2>().await?;
            Ok((Some(vr), self.u32(enc).await?))
        } else {
            Ok((Some(vr), u32::from(self.u16(enc).await?)))
        }
    }

    async fn tag(&mut self, enc: Encoding) -> Result<(u16, u16), FrameError> {
        let g = self.u16(enc).await?;
        let e = self.u16(enc).await?;
        Ok((g, e))
    }

    /// Skips a value; an undefined-length one (a sequence, or an explicit UN holding
    /// implicit VR items) is walked to its delimiter with a stack, not recursion.
    async fn value(
        &mut self,
        vr: Option<[u8; 2]>,
        len: u32,
        enc: Encoding,
    ) -> Result<(), FrameError> {
        if len != UNDEFINED {
            return self.skip(u64::from(len)).await;
        }
        let inner = |vr: Option<[u8; 2]>, enc| {
            if vr == Some(*b"UN") {
                Encoding::ImplicitLe
            } else {
                enc
            }
        };
        // (encoding, inside an item rather than between the items of a sequence)
        let mut stack: Vec<(Encoding, bool)> = vec![(inner(vr, enc), false)];
        while let Some(&(enc, in_item)) = stack.last() {
            if stack.len() > MAX_NESTING {
                return Err(FrameError::Malformed(format!(
                    "sequences nest deeper than {MAX_NESTING} levels"
                )));
            }
            let tag = self.tag(enc).await?;
            if in_item {
                if tag == ITEM_END {
                    self.u32(enc).await?;
                    stack.pop();
                    continue;
                }
                let (vr, len) = self.rest_of_header(tag, enc).await?;
                if len == UNDEFINED {
                    stack.push((inner(vr, enc), false));
                } else {
                    self.skip(u64::from(len)).await?;
                }
                continue;
            }
            let len = self.u32(enc).await?;
            match tag {
                SEQUENCE_END => {
                    stack.pop();
                }
                ITEM if len == UNDEFINED => stack.push((enc, true)),
                ITEM => self.skip(u64::from(len)).await?,
                other => {
                    return Err(FrameError::Malformed(format!(
                        "({:04X},{:04X}) inside a sequence at byte {}, where an item was expected",
                        other.0, other.1, self.pos
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Walks a decrypted Part 10 file up to the end of its pixel data.
///
/// # Errors
/// [`FrameError`]: not Part 10, no pixel data, deflated, truncated.
pub async fn locate(reader: impl AsyncRead + Unpin) -> Result<PixelLayout, FrameError> {
    let mut w = Walker {
        reader,
        pos: 0,
        scratch: Vec::new(),
    };
    let head = w.exact::<132>().await?;
    if &head[128..132] != b"DICM" {
        if head[0..2] == [0x02, 0x00] {
            // A meta group without a preamble: restart the walk at byte 0.
            return Err(FrameError::Unsupported(
                "files without a preamble are served whole; retrieve the instance".into(),
            ));
        }
        return Err(FrameError::Malformed("no 'DICM' after the preamble".into()));
    }
    let mut transfer_syntax = None;
    let first_tag = loop {
        let tag = w.tag(Encoding::ExplicitLe).await?;
        if tag.0 != 0x0002 {
            break tag;
        }
        let (_, len) = w.rest_of_header(tag, Encoding::ExplicitLe).await?;
        if tag == (0x0002, 0x0010) && len <= MAX_UID {
            let mut v = vec![0u8; len as usize];
            w.reader.read_exact(&mut v).await?;
            w.pos += u64::from(len);
            let uid = String::from_utf8_lossy(&v)
                .trim_end_matches(['\0', ' '])
                .to_owned();
            transfer_syntax = Some(uid);
        } else if len == UNDEFINED {
            return Err(FrameError::Malformed(
                "an undefined length in the file meta group".into(),
            ));
        } else {
            w.skip(u64::from(len)).await?;
        }
    };
    let transfer_syntax = transfer_syntax.ok_or_else(|| {
        FrameError::Malformed("the file meta group has no Transfer Syntax UID (0002,0010)".into())
    })?;
    let enc = match transfer_syntax.as_str() {
        IMPLICIT_LE => Encoding::ImplicitLe,
        EXPLICIT_BE => Encoding::ExplicitBe,
        DEFLATED => {
            return Err(FrameError::Unsupported(
                "a deflated data set is not cut into frames; retrieve the instance".into(),
            ))
        }
        _ => Encoding::ExplicitLe,
    };
    // The first data set tag was read as little endian; read it again in a big endian file.
    let mut first = Some(if enc == Encoding::ExplicitBe {
        (first_tag.0.swap_bytes(), first_tag.1.swap_bytes())
    } else {
        first_tag
    });
    loop {
        let tag = match first.take() {
            Some(t) => t,
            None => match w.tag(enc).await {
                Ok(t) => t,
                Err(FrameError::Malformed(_)) => return Err(FrameError::NoPixelData),
                Err(e) => return Err(e),
            },
        };
        if tag > PIXEL_DATA {
            return Err(FrameError::NoPixelData);
        }
        let (vr, len) = w.rest_of_header(tag, enc).await?;
        if tag != PIXEL_DATA {
            w.value(vr, len, enc).await?;
            continue;
        }
        if len != UNDEFINED {
            return Ok(PixelLayout {
                transfer_syntax,
                native: Some((w.pos, u64::from(len))),
                offsets: Vec::new(),
                fragments: Vec::new(),
            });
        }
        let mut offsets = Vec::new();
        let mut fragments = Vec::new();
        let mut first_item = true;
        loop {
            let tag = w.tag(enc).await?;
            let len = w.u32(enc).await?;
            match tag {
                SEQUENCE_END => break,
                ITEM if len == UNDEFINED => {
                    return Err(FrameError::Malformed(
                        "a pixel data fragment of undefined length".into(),
                    ))
                }
                ITEM if first_item => {
                    first_item = false;
                    if len % 4 != 0 || len > 16 * 1024 * 1024 {
                        return Err(FrameError::Malformed(format!(
                            "a Basic Offset Table of {len} bytes"
                        )));
                    }
                    for _ in 0..len / 4 {
                        offsets.push(w.u32(enc).await?);
                    }
                }
                ITEM => {
                    if fragments.len() >= MAX_FRAGMENTS {
                        return Err(FrameError::Unsupported(format!(
                            "more than {MAX_FRAGMENTS} pixel data fragments"
                        )));
                    }
                    fragments.push((w.pos, len));
                    w.skip(u64::from(len)).await?;
                }
                other => {
                    return Err(FrameError::Malformed(format!(
                        "({:04X},{:04X}) in the encapsulated pixel data at byte {}",
                        other.0, other.1, w.pos
                    )))
                }
            }
        }
        return Ok(PixelLayout {
            transfer_syntax,
            native: None,
            offsets,
            fragments,
        });
    }
}

/// Reads the byte ranges `wanted` (each a list of (offset, length), all ranges in
/// ascending offset order overall) from `reader`, skipping what lies between. Returns one
/// buffer per entry of `wanted`, its ranges concatenated.
///
/// # Errors
/// Ranges out of order; the stream ends early.
pub async fn read_ranges(
    reader: impl AsyncRead + Unpin,
    wanted: &[Vec<(u64, u64)>],
) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut w = Walker {
        reader,
        pos: 0,
        scratch: Vec::new(),
    };
    // Serve in file order, answer in the order asked.
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|i| wanted[*i].first().map(|r| r.0).unwrap_or(0));
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); wanted.len()];
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for i in order {
        // The same frame asked twice is read once.
        if let Some(&(_, j)) = seen.iter().find(|(k, _)| wanted[*k] == wanted[i]) {
            out[i] = out[j].clone();
            continue;
        }
        let mut buf = Vec::new();
        for &(at, len) in &wanted[i] {
            if at < w.pos {
                return Err(FrameError::Malformed("overlapping frame ranges".into()));
            }
            w.skip(at - w.pos).await?;
            buf.extend_from_slice(&w.take(len).await?);
        }
        out[i] = buf;
        seen.push((i, i));
    }
    Ok(out)
}

/// Whether pixel data in `transfer_syntax` is native (not encapsulated).
pub fn is_native(transfer_syntax: &str) -> bool {
    matches!(
        transfer_syntax,
        IMPLICIT_LE | EXPLICIT_LE | EXPLICIT_BE | DEFLATED
    )
}
