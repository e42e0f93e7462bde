//! The DICOMweb frame locator and renderer over pydicom's real test files: every frame the
//! locator finds equals what dicom-rs's own parser reads from the whole file, and every
//! transfer syntax with a pure-Rust decoder renders (JPEG-LS is refused as unsupported).

use dicom_core::value::Value as DicomValue;
use dicom_dictionary_std::tags;
use dicom_object::{open_file, OpenFileOptions};
use medimint_platform::dicomweb::pixels::{locate, read_ranges};
use medimint_platform::dicomweb::render::{can_decode, decode_frame, decode_native, encode};
use medimint_platform::dicomweb::{FrameError, ImageFormat, RenderError, RenderOptions};

const FILES: &[&str] = &[
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "JPEG-lossy.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_small_odd.dcm",
    "examples_palette.dcm",
    "examples_ybr_color.dcm",
    "rtdose.dcm",
    "liver_1frame.dcm",
    "693_J2KI.dcm",
];

/// What is not rendered (the API answers 406): JPEG-LS (no decoder without CharLS, C++),
/// 12-bit JPEG Extended (`jpeg-decoder` reads 8-bit baseline and lossless only) and 32-bit
/// pixels (dicom-pixeldata's images take 1, 8 or 16 bits). Their frames are still located
/// and served as stored.
const REFUSED: &[&str] = &[
    "MR_small_jpeg_ls_lossless.dcm",
    "JPGExtended.dcm",
    "JPEG-lossy.dcm",
    "rtdose.dcm",
];

/// The header as the ingest pipeline stores it: DICOM JSON of the data set without pixel
/// data.
fn header_json(path: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .unwrap();
    match dicom_json::to_value(&*obj).unwrap() {
        serde_json::Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn frames_of(header: &serde_json::Map<String, serde_json::Value>) -> (u32, u64) {
    let n = |t: &str| -> u64 {
        header
            .get(t)
            .and_then(|e| e.get("Value")?.get(0).cloned())
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
            .unwrap_or(0)
    };
    let frames = n("00280008").max(1) as u32;
    let bytes = n("00280010") * n("00280011") * n("00280002").max(1) * n("00280100") / 8;
    (frames, bytes)
}

#[tokio::test]
async fn every_frame_located_equals_dicom_rs_and_renders_where_a_decoder_is() {
    let mut rendered = 0;
    let mut refused = Vec::new();
    for name in FILES {
        let path = medimint_testkit::pydicom_file(name).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let layout = locate(&bytes[..])
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let whole = open_file(&path).unwrap();
        assert_eq!(
            layout.transfer_syntax,
            whole.meta().transfer_syntax().trim_end_matches('\0'),
            "{name}"
        );
        let header = header_json(&path);
        let (frames, frame_bytes) = frames_of(&header);
        let pixel = whole.element(tags::PIXEL_DATA).unwrap();
        let mut wanted = Vec::new();
        for f in 1..=frames {
            wanted.push(layout.frame_ranges(f, frames, frame_bytes).unwrap());
        }
        let got = read_ranges(&bytes[..], &wanted).await.unwrap();
        match pixel.value() {
            DicomValue::PixelSequence(seq) => {
                let fragments = seq.fragments();
                if fragments.len() == frames as usize {
                    for (i, f) in fragments.iter().enumerate() {
                        assert_eq!(&got[i], f, "{name}: frame {}", i + 1);
                    }
                } else {
                    assert_eq!(frames, 1, "{name}");
                    assert_eq!(got[0], fragments.concat(), "{name}");
                }
            }
            _ => {
                let raw = pixel.to_bytes().unwrap();
                let mut got = got.clone();
                let bits = header["00280100"]["Value"][0].as_u64().unwrap() as usize;
                if layout.transfer_syntax == "1.2.840.10008.1.2.2" && bits > 8 {
                    // dicom-rs hands big endian words back in little endian.
                    for g in &mut got {
                        for w in g.chunks_exact_mut(bits / 8) {
                            w.reverse();
                        }
                    }
                }
                for (i, g) in got.iter().enumerate() {
                    let at = i * frame_bytes as usize;
                    assert_eq!(
                        &g[..],
                        &raw[at..at + frame_bytes as usize],
                        "{name}: frame {}",
                        i + 1
                    );
                }
            }
        }
        assert!(matches!(
            layout.frame_ranges(frames + 1, frames, frame_bytes),
            Err(FrameError::NoSuchFrame { .. })
        ));
        let last = got.last().unwrap().clone();
        let options = RenderOptions::default();
        match decode_frame(&header, &layout.transfer_syntax, last, &options) {
            Ok(img) => {
                let rows = header["00280010"]["Value"][0].as_u64().unwrap() as u32;
                let cols = header["00280011"]["Value"][0].as_u64().unwrap() as u32;
                assert_eq!((img.width(), img.height()), (cols, rows), "{name}");
                let jpeg = encode(img.clone(), ImageFormat::Jpeg, &options, false).unwrap();
                assert_eq!(&jpeg[..2], b"\xff\xd8", "{name}");
                let thumb = encode(img, ImageFormat::Png, &options, true).unwrap();
                let decoded = image::load_from_memory(&thumb).unwrap();
                assert!(decoded.width() <= 128 && decoded.height() <= 128, "{name}");
                rendered += 1;
            }
            Err(RenderError::Unsupported(ts)) => {
                assert!(!can_decode(&ts), "{name}");
                refused.push(*name);
                continue;
            }
            Err(RenderError::Decode(e)) => {
                // A decoder here that does not handle this variant (the API answers 406).
                refused.push(*name);
                eprintln!("{name}: {e}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        }
        if !medimint_platform::dicomweb::pixels::is_native(&layout.transfer_syntax) {
            let native = decode_native(&header, &layout.transfer_syntax, got[0].clone()).unwrap();
            assert_eq!(
                native.len() as u64,
                frame_bytes,
                "{name}: a decoded frame's size"
            );
        }
    }
    assert_eq!(refused, REFUSED, "the files not rendered");
    assert_eq!(rendered, FILES.len() - REFUSED.len());
}

#[tokio::test]
async fn files_without_pixel_data_or_truncated_are_named() {
    for name in ["rtplan.dcm", "test-SR.dcm"] {
        let bytes = std::fs::read(medimint_testkit::pydicom_file(name).unwrap()).unwrap();
        assert!(
            matches!(locate(&bytes[..]).await, Err(FrameError::NoPixelData)),
            "{name}"
        );
    }
    let bytes = std::fs::read(medimint_testkit::pydicom_file("CT_small.dcm").unwrap()).unwrap();
    for cut in [10, 200, 1000] {
        assert!(locate(&bytes[..cut]).await.is_err(), "cut at {cut}");
    }
    let deflated = std::fs::read(medimint_testkit::pydicom_file("image_dfl.dcm").unwrap()).unwrap();
    assert!(matches!(
        locate(&deflated[..]).await,
        Err(FrameError::Unsupported(_))
    ));
}
