//! `/rendered` and `/thumbnail`: one frame decoded with `dicom-pixeldata` (pure-Rust
//! decoders only: native, RLE, JPEG baseline/extended/lossless, JPEG 2000 through
//! openjp2) and encoded as JPEG or PNG. The frame is decoded from an object made of the
//! instance's header (from the metadata) and that frame's bytes alone, so a multi-frame
//! file is never decoded whole.

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags as t;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};
use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption, WindowLevel};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use image::DynamicImage;
use serde_json::{Map, Value};

use super::pixels::{EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE};

/// Largest side of a `/thumbnail` (pixels).
pub const THUMBNAIL_SIDE: u32 = 128;
/// Largest viewport side asked.
const MAX_VIEWPORT: u32 = 4096;

/// What a rendering cannot do.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A transfer syntax without a pure-Rust decoder here (JPEG-LS, HTJ2K, MPEG…): 406.
    #[error(
        "transfer syntax {0} cannot be decoded by this service (no pure-Rust decoder); \
         retrieve the instance or its frames in the stored transfer syntax and decode them \
         in the viewer"
    )]
    Unsupported(String),
    /// A query parameter (`window`, `viewport`, `quality`) is bad: 400.
    #[error("{field}: {message}")]
    BadParameter {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The header or the frame cannot be decoded.
    #[error("decoding the frame: {0}")]
    Decode(String),
}

/// The image format out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
}

impl ImageFormat {
    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// `window=center,width[,function]`; from the header when absent.
    pub window: Option<(f64, f64)>,
    /// `viewport=width,height`: the image is scaled to fit.
    pub viewport: Option<(u32, u32)>,
    /// JPEG quality, 1 to 100 (default 90).
    pub quality: Option<u8>,
}

impl RenderOptions {
    /// From the query's `window`, `viewport` and `quality`.
    ///
    /// # Errors
    /// [`RenderError::BadParameter`].
    pub fn parse(
        window: Option<&str>,
        viewport: Option<&str>,
        quality: Option<&str>,
    ) -> Result<Self, RenderError> {
        let mut o = RenderOptions::default();
        if let Some(w) = window {
            let parts: Vec<&str> = w.split(',').collect();
            let num = |s: &str| s.trim().parse::<f64>().ok().filter(|f| f.is_finite());
            match (
                parts.first().and_then(|s| num(s)),
                parts.get(1).and_then(|s| num(s)),
            ) {
                (Some(c), Some(wd)) if wd > 0.0 && parts.len() <= 3 => o.window = Some((c, wd)),
                _ => {
                    return Err(RenderError::BadParameter {
                        field: "window",
                        message: "expected center,width[,function] with a positive width".into(),
                    })
                }
            }
        }
        if let Some(v) = viewport {
            let parts: Vec<Option<u32>> = v.split(',').map(|s| s.trim().parse().ok()).collect();
            match parts.as_slice() {
                [Some(w), Some(h), ..]
                    if (1..=MAX_VIEWPORT).contains(w) && (1..=MAX_VIEWPORT).contains(h) =>
                {
                    o.viewport = Some((*w, *h))
                }
                _ => {
                    return Err(RenderError::BadParameter {
                        field: "viewport",
                        message: format!("expected width,height from 1 to {MAX_VIEWPORT}"),
                    })
                }
            }
        }
        if let Some(q) = quality {
            o.quality = Some(
                q.trim()
                    .parse()
                    .ok()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or(RenderError::BadParameter {
                        field: "quality",
                        message: "expected 1 to 100".into(),
                    })?,
            );
        }
        Ok(o)
    }
}

/// Whether frames in `transfer_syntax` can be decoded here.
pub fn can_decode(transfer_syntax: &str) -> bool {
    matches!(transfer_syntax, IMPLICIT_LE | EXPLICIT_LE | EXPLICIT_BE)
        || TransferSyntaxRegistry
            .get(transfer_syntax)
            .map(|ts| ts.is_encapsulated_pixel_data() && ts.can_decode_all())
            .unwrap_or(false)
}

/// An object of the instance's header and one frame's bytes, ready for the decoder.
fn frame_object(
    header: &Map<String, Value>,
    transfer_syntax: &str,
    mut bytes: Vec<u8>,
) -> Result<FileDicomObject<InMemDicomObject>, RenderError> {
    if !can_decode(transfer_syntax) {
        return Err(RenderError::Unsupported(transfer_syntax.to_owned()));
    }
    let decode = |e: &dyn std::fmt::Display| RenderError::Decode(e.to_string());
    let mut obj: InMemDicomObject =
        dicom_json::from_value(Value::Object(header.clone())).map_err(|e| decode(&e))?;
    obj.put(DataElement::new(
        t::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    let native = matches!(transfer_syntax, IMPLICIT_LE | EXPLICIT_LE | EXPLICIT_BE);
    let ts = if native {
        let bits = obj
            .get(t::BITS_ALLOCATED)
            .and_then(|e| e.to_int::<u16>().ok())
            .unwrap_or(8);
        if transfer_syntax == EXPLICIT_BE && bits > 8 {
            let step = usize::from(bits / 8);
            for chunk in bytes.chunks_exact_mut(step) {
                chunk.reverse();
            }
        }
        obj.put(DataElement::new(
            Tag(0x7FE0, 0x0010),
            if bits > 8 { VR::OW } else { VR::OB },
            PrimitiveValue::U8(bytes.into()),
        ));
        EXPLICIT_LE
    } else {
        obj.put(DataElement::new(
            Tag(0x7FE0, 0x0010),
            VR::OB,
            dicom_core::value::Value::PixelSequence(PixelFragmentSequence::new(
                Vec::<u32>::new(),
                vec![bytes],
            )),
        ));
        transfer_syntax
    };
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .map_err(|e| decode(&e))?;
    Ok(file)
}

/// Decodes one frame (`bytes`: the native frame, or the frame's fragments concatenated)
/// of an instance whose header is `header`.
///
/// # Errors
/// [`RenderError::Unsupported`] for a transfer syntax without a decoder here.
pub fn decode_frame(
    header: &Map<String, Value>,
    transfer_syntax: &str,
    bytes: Vec<u8>,
    options: &RenderOptions,
) -> Result<DynamicImage, RenderError> {
    let file = frame_object(header, transfer_syntax, bytes)?;
    let decode = |e: &dyn std::fmt::Display| RenderError::Decode(e.to_string());
    let px = file.decode_pixel_data().map_err(|e| decode(&e))?;
    let voi = match options.window {
        Some((center, width)) => VoiLutOption::Custom(WindowLevel { center, width }),
        None => VoiLutOption::First,
    };
    let img = px
        .to_dynamic_image_with_options(0, &ConvertOptions::new().with_voi_lut(voi).force_8bit())
        .map_err(|e| decode(&e))?;
    Ok(img)
}

/// Decodes one compressed frame to native pixels (Explicit VR Little Endian, interleaved
/// samples), as a frames request without a transfer syntax asks.
///
/// # Errors
/// [`RenderError::Unsupported`] for a transfer syntax without a decoder here.
pub fn decode_native(
    header: &Map<String, Value>,
    transfer_syntax: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, RenderError> {
    let file = frame_object(header, transfer_syntax, bytes)?;
    let px = file
        .decode_pixel_data()
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    Ok(px.data().to_vec())
}

/// Scales `img` to fit `viewport` (or the thumbnail size) and encodes it.
///
/// # Errors
/// [`RenderError::Decode`] if the encoder fails.
pub fn encode(
    img: DynamicImage,
    format: ImageFormat,
    options: &RenderOptions,
    thumbnail: bool,
) -> Result<Vec<u8>, RenderError> {
    let fit = options
        .viewport
        .or(thumbnail.then_some((THUMBNAIL_SIDE, THUMBNAIL_SIDE)));
    let img = match fit {
        Some((w, h)) if img.width() > w || img.height() > h || !thumbnail => {
            img.resize(w, h, image::imageops::FilterType::Triangle)
        }
        _ => img,
    };
    let img = match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => img,
        other if other.color().has_color() => DynamicImage::ImageRgb8(other.to_rgb8()),
        other => DynamicImage::ImageLuma8(other.to_luma8()),
    };
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => img
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .map_err(|e| RenderError::Decode(e.to_string()))?,
        ImageFormat::Jpeg => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out,
                options.quality.unwrap_or(90),
            );
            img.write_with_encoder(enc)
                .map_err(|e| RenderError::Decode(e.to_string()))?
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_and_named() {
        let o = RenderOptions::parse(Some("40,400"), Some("64,64"), Some("80")).unwrap();
        assert_eq!(o.window, Some((40.0, 400.0)));
        assert_eq!(o.viewport, Some((64, 64)));
        assert_eq!(o.quality, Some(80));
        for (w, v, q, field) in [
            (Some("40"), None, None, "window"),
            (Some("40,-1"), None, None, "window"),
            (None, Some("0,10"), None, "viewport"),
            (None, Some("9999,10"), None, "viewport"),
            (None, None, Some("0"), "quality"),
        ] {
            match RenderOptions::parse(w, v, q).unwrap_err() {
                RenderError::BadParameter { field: f, .. } => assert_eq!(f, field),
                e => panic!("{e}"),
            }
        }
    }

    #[test]
    fn decodable_transfer_syntaxes() {
        for ok in [
            EXPLICIT_LE,
            IMPLICIT_LE,
            EXPLICIT_BE,
            "1.2.840.10008.1.2.4.50",
            "1.2.840.10008.1.2.4.70",
            "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.4.90",
            "1.2.840.10008.1.2.4.91",
        ] {
            assert!(can_decode(ok), "{ok}");
        }
        // JPEG-LS needs CharLS (C++), which this service does not link.
        assert!(!can_decode("1.2.840.10008.1.2.4.80"));
        assert!(!can_decode("1.2.840.10008.1.2.1.99"));
    }
}
