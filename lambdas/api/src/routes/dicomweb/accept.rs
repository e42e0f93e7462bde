//! What a DICOMweb client accepts (the `Accept` header, PS3.18 §8.7): the media types and
//! transfer syntaxes asked, in the order given (quality values are not weighed).

use axum::http::{header, HeaderMap};
use medimint_platform::dicomweb::pixels;
use medimint_platform::dicomweb::ImageFormat;

/// One media range of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    media: String,
    kind: Option<String>,
    transfer_syntax: Option<String>,
}

/// The parsed header; empty accepts anything.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    ranges: Vec<Range>,
}

/// How frames are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameAnswer {
    /// The stored bytes, as this media type.
    Stored {
        /// The part's media type.
        media_type: String,
    },
    /// Decoded to native Explicit VR Little Endian pixels.
    Decoded,
}

/// The media type of compressed frames in a transfer syntax.
fn image_media_type(transfer_syntax: &str) -> Option<&'static str> {
    Some(match transfer_syntax {
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70" => "image/jpeg",
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "image/jls",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "image/jp2",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            "image/jphc"
        }
        "1.2.840.10008.1.2.5" => "image/x-dicom-rle",
        _ => return None,
    })
}

impl Accept {
    /// From the request's `Accept` headers.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut ranges = Vec::new();
        for value in headers.get_all(header::ACCEPT) {
            let Ok(text) = value.to_str() else { continue };
            for range in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or("").to_ascii_lowercase();
                let mut r = Range {
                    media,
                    kind: None,
                    transfer_syntax: None,
                };
                for p in parts {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "type" => r.kind = Some(v.to_ascii_lowercase()),
                        "transfer-syntax" => r.transfer_syntax = Some(v),
                        _ => {}
                    }
                }
                ranges.push(r);
            }
        }
        Self { ranges }
    }

    /// Anything: `*/*`, `multipart/*`, or `multipart/related` without a type or with
    /// `type="*/*"` (what dicomweb-client sends by default).
    fn any(r: &Range) -> bool {
        matches!(r.media.as_str(), "*/*" | "multipart/*")
            || (r.media == "multipart/related"
                && matches!(r.kind.as_deref(), None | Some("*/*") | Some("*")))
    }

    /// For instance retrieval: the transfer syntax asked (`None`: as stored).
    ///
    /// # Errors
    /// The header asks for nothing `application/dicom`.
    pub fn dicom_transfer_syntax(&self) -> Result<Option<String>, String> {
        if self.ranges.is_empty() {
            return Ok(None);
        }
        for r in &self.ranges {
            let dicom = r.media == "application/dicom"
                || (r.media == "multipart/related"
                    && r.kind.as_deref() == Some("application/dicom"));
            if Self::any(r) {
                return Ok(None);
            }
            if dicom {
                return Ok(r.transfer_syntax.clone().filter(|t| t != "*"));
            }
        }
        Err("instances are served as multipart/related; type=\"application/dicom\"".into())
    }

    /// For frames stored in `stored`: what to answer.
    ///
    /// # Errors
    /// Nothing asked can be made, saying what can be asked instead.
    pub fn frames(&self, stored: &str, decodable: bool) -> Result<FrameAnswer, String> {
        let native = pixels::is_native(stored);
        let octet = || FrameAnswer::Stored {
            media_type: "application/octet-stream".into(),
        };
        // Anything accepted: the stored bytes, as their image type when compressed.
        let as_stored = || match image_media_type(stored) {
            Some(media) if !native => FrameAnswer::Stored {
                media_type: media.into(),
            },
            _ => octet(),
        };
        if self.ranges.is_empty() {
            return Ok(as_stored());
        }
        for r in &self.ranges {
            if Self::any(r) {
                return Ok(as_stored());
            }
            if r.media != "multipart/related" {
                continue;
            }
            let ts = r.transfer_syntax.as_deref();
            match r.kind.as_deref() {
                Some("application/octet-stream") => match ts {
                    Some("*") => return Ok(octet()),
                    Some(t) if t == stored => return Ok(octet()),
                    None | Some(pixels::EXPLICIT_LE) if native => return Ok(octet()),
                    None | Some(pixels::EXPLICIT_LE) if decodable => {
                        return Ok(FrameAnswer::Decoded)
                    }
                    _ => {}
                },
                Some(kind) => {
                    let media = image_media_type(stored);
                    let kind_ok = media == Some(kind) || (kind == "image/*" && media.is_some());
                    if kind_ok && ts.is_none_or(|t| t == "*" || t == stored) {
                        return Ok(FrameAnswer::Stored {
                            media_type: media.unwrap_or("application/octet-stream").into(),
                        });
                    }
                }
                None => return Ok(as_stored()),
            }
        }
        let decoded = if decodable {
            ", or application/octet-stream without a transfer syntax for pixels decoded to \
             Explicit VR Little Endian"
        } else {
            ""
        };
        Err(format!(
            "the frames are stored in transfer syntax {stored}, which cannot be made into what \
             the Accept header asks; ask for multipart/related; type=\"application/octet-stream\"; \
             transfer-syntax=* (the stored bytes){decoded}"
        ))
    }

    /// For renderings: JPEG or PNG.
    ///
    /// # Errors
    /// Neither is acceptable.
    pub fn image(&self) -> Result<ImageFormat, String> {
        if self.ranges.is_empty() {
            return Ok(ImageFormat::Jpeg);
        }
        for r in &self.ranges {
            match r.media.as_str() {
                "image/jpeg" | "image/*" | "*/*" => return Ok(ImageFormat::Jpeg),
                "image/png" => return Ok(ImageFormat::Png),
                _ => {}
            }
        }
        Err("rendered frames are image/jpeg or image/png".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> Accept {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        Accept::parse(&h)
    }

    const JPEG: &str = "1.2.840.10008.1.2.4.50";
    const JLS: &str = "1.2.840.10008.1.2.4.80";

    #[test]
    fn frames_follow_the_header() {
        let octet = FrameAnswer::Stored {
            media_type: "application/octet-stream".into(),
        };
        let plain = accept("multipart/related; type=\"application/octet-stream\"");
        assert_eq!(plain.frames(pixels::EXPLICIT_LE, true).unwrap(), octet);
        assert_eq!(plain.frames(JPEG, true).unwrap(), FrameAnswer::Decoded);
        assert!(plain
            .frames(JLS, false)
            .unwrap_err()
            .contains("transfer-syntax=*"));
        let stored = accept("multipart/related; type=application/octet-stream; transfer-syntax=*");
        assert_eq!(stored.frames(JLS, false).unwrap(), octet);
        let jpeg = accept("multipart/related; type=\"image/jpeg\"");
        assert_eq!(
            jpeg.frames(JPEG, true).unwrap(),
            FrameAnswer::Stored {
                media_type: "image/jpeg".into()
            }
        );
        assert!(jpeg.frames(JLS, false).is_err());
        let any = accept("multipart/related; type=\"*/*\"");
        assert_eq!(any.frames(pixels::EXPLICIT_LE, true).unwrap(), octet);
        assert_eq!(
            any.frames(JLS, false).unwrap(),
            FrameAnswer::Stored {
                media_type: "image/jls".into()
            }
        );
    }

    #[test]
    fn instances_and_images() {
        assert_eq!(
            accept("multipart/related; type=\"application/dicom\"")
                .dicom_transfer_syntax()
                .unwrap(),
            None
        );
        assert_eq!(
            accept("multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1")
                .dicom_transfer_syntax()
                .unwrap()
                .as_deref(),
            Some("1.2.840.10008.1.2.1")
        );
        assert!(accept("application/json").dicom_transfer_syntax().is_err());
        assert_eq!(accept("image/png").image().unwrap(), ImageFormat::Png);
        assert_eq!(Accept::default().image().unwrap(), ImageFormat::Jpeg);
        assert!(accept("image/gif").image().is_err());
    }
}
