//! Header reading on pydicom's real files: every transfer syntax the field sends (explicit
//! and implicit VR, big endian, deflated, JPEG, JPEG-LS, JPEG 2000, RLE), structured
//! reports, segmentations, waveforms, private tags and undefined-length sequences, files
//! without the preamble; and the failures a header can have.

mod common;

use common::*;
use medimint_ingest::header::{parse_header, read_file};
use medimint_ingest::HeaderError;
use medimint_testkit::{pydicom_file, pydicom_test_files};
use sha2::{Digest, Sha256};

async fn load(name: &str, limit: usize) -> (Vec<u8>, medimint_ingest::header::ReadFile) {
    let bytes = std::fs::read(pydicom_file(name).unwrap()).unwrap();
    let read = read_file(&mut &bytes[..], limit).await.unwrap();
    (bytes, read)
}

/// pydicom's files, one or more per transfer syntax and kind of object:
/// (file, transfer syntax, modality, frames).
const FIELD_FILES: &[(&str, &str, Option<&str>, u32)] = &[
    ("CT_small.dcm", "1.2.840.10008.1.2.1", Some("CT"), 1),
    (
        "MR_small_bigendian.dcm",
        "1.2.840.10008.1.2.2",
        Some("MR"),
        1,
    ),
    ("ExplVR_BigEnd.dcm", "1.2.840.10008.1.2.2", Some("US"), 1),
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2", Some("MR"), 1),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99", Some("OT"), 1),
    (
        "SC_rgb_jpeg_dcmtk.dcm",
        "1.2.840.10008.1.2.4.50",
        Some("OT"),
        1,
    ),
    ("JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51", Some("NM"), 1),
    (
        "SC_rgb_jpeg_gdcm.dcm",
        "1.2.840.10008.1.2.4.70",
        Some("OT"),
        1,
    ),
    (
        "MR_small_jpeg_ls_lossless.dcm",
        "1.2.840.10008.1.2.4.80",
        Some("MR"),
        1,
    ),
    (
        "SC_rgb_jls_lossy_line.dcm",
        "1.2.840.10008.1.2.4.81",
        None,
        1,
    ),
    (
        "MR_small_jp2klossless.dcm",
        "1.2.840.10008.1.2.4.90",
        Some("MR"),
        1,
    ),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91", Some("NM"), 1),
    (
        "JPEG2000-embedded-sequence-delimiter.dcm",
        "1.2.840.10008.1.2.4.91",
        Some("NM"),
        1,
    ),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5", Some("MR"), 1),
    (
        "SC_rgb_rle_2frame.dcm",
        "1.2.840.10008.1.2.5",
        Some("OT"),
        2,
    ),
    ("rtplan.dcm", "1.2.840.10008.1.2", Some("RTPLAN"), 1),
    // Structured reports (undefined-length content sequences four levels deep).
    ("reportsi.dcm", "1.2.840.10008.1.2.1", Some("SR"), 1),
    ("test-SR.dcm", "1.2.840.10008.1.2.1", Some("SR"), 1),
    ("liver_1frame.dcm", "1.2.840.10008.1.2.1", Some("SEG"), 1),
    // A waveform with private tags.
    ("waveform_ecg.dcm", "1.2.840.10008.1.2.1", Some("ECG"), 1),
];

#[tokio::test]
async fn reads_headers_in_every_transfer_syntax_the_field_sends() {
    for &(name, ts, modality, frames) in FIELD_FILES {
        let (bytes, read) = load(name, 8 << 20).await;
        assert_eq!(read.digest.size, bytes.len() as u64, "{name}");
        assert_eq!(
            read.digest.sha256,
            <[u8; 32]>::from(Sha256::digest(&bytes)),
            "{name}"
        );
        let h = read.header.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h.fields.transfer_syntax, ts, "{name}");
        assert_eq!(h.fields.modality.as_deref(), modality, "{name}");
        assert_eq!(h.fields.frames, frames, "{name}");
        assert!(h.fields.sop_instance_uid.is_some(), "{name}");
        assert!(h.fields.sop_class_uid.is_some(), "{name}");
        let json = h.to_dicom_json().unwrap();
        assert!(
            json.get("7FE00010").is_none(),
            "{name}: pixel data was read"
        );
        if let Some(m) = modality {
            assert_eq!(json["00080060"]["Value"][0], m, "{name}");
        }
    }
}

/// How deep sequences nest in a DICOM JSON data set.
fn sequence_depth(json: &serde_json::Value) -> usize {
    let Some(obj) = json.as_object() else {
        return 0;
    };
    obj.values()
        .filter(|e| e["vr"] == "SQ")
        .flat_map(|e| e["Value"].as_array().into_iter().flatten())
        .map(|item| 1 + sequence_depth(item))
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn undefined_length_sequences_and_private_tags_come_through() {
    // reportsi.dcm: 19 undefined-length sequences, four levels deep.
    let (_, read) = load("reportsi.dcm", 8 << 20).await;
    let json = read.header.unwrap().to_dicom_json().unwrap();
    assert_eq!(sequence_depth(&json), 4);
    // waveform_ecg.dcm: private tags are kept.
    let (_, read) = load("waveform_ecg.dcm", 8 << 20).await;
    let json = read.header.unwrap().to_dicom_json().unwrap();
    let private = json
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| u16::from_str_radix(&k[..4], 16).unwrap() % 2 == 1)
        .count();
    assert!(private > 0, "no private tag in the JSON");
    // Private undefined-length sequences ten levels deep, written by dicom-object, and
    // pydicom's nested private sequences in implicit VR.
    let bytes = with_nested_private_sequences(&ct(), &JANE, STUDY_UID, "1.2.3", "1.2.3.4", 10);
    let read = read_file(&mut &bytes[..], 8 << 20).await.unwrap();
    let json = read.header.unwrap().to_dicom_json().unwrap();
    let mut level = &json;
    let mut depth = 0;
    while let Some(next) = level.get("00291010").and_then(|s| s["Value"].get(0)) {
        depth += 1;
        level = next;
    }
    assert_eq!(depth, 10);
    assert_eq!(sequence_depth(&json), 10);
    assert_eq!(level["00291001"]["Value"][0], "level 10");
    for name in ["nested_priv_SQ.dcm", "priv_SQ.dcm"] {
        let (_, read) = load(name, 8 << 20).await;
        let h = read.header.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(h.to_dicom_json().is_ok(), "{name}");
    }
}

#[tokio::test]
async fn an_encapsulated_pdf_reads_with_its_document() {
    let bytes = encapsulated_pdf(&JANE, STUDY_UID, "1.2.3", "1.2.3.4");
    let read = read_file(&mut &bytes[..], 8 << 20).await.unwrap();
    let h = read.header.unwrap();
    assert_eq!(
        h.fields.sop_class_uid.as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.104.1")
    );
    assert_eq!(h.fields.patient_id.as_deref(), Some(JANE.id));
    let json = h.to_dicom_json().unwrap();
    assert_eq!(json["00420012"]["Value"][0], "application/pdf");
}

fn ct() -> std::path::PathBuf {
    pydicom_file("CT_small.dcm").unwrap()
}

#[tokio::test]
async fn files_without_the_preamble_read_like_the_original() {
    let bytes = std::fs::read(ct()).unwrap();
    let whole = parse_header(&bytes, bytes.len() as u64).unwrap();
    let want = whole.to_dicom_json().unwrap();
    // `DICM` and the meta group without the preamble; the meta group alone.
    for cut in [128, 132] {
        let rest = &bytes[cut..];
        let read = read_file(&mut &rest[..], 8 << 20).await.unwrap();
        assert_eq!(
            read.digest.sha256,
            <[u8; 32]>::from(Sha256::digest(rest)),
            "the digest covers the file as sent"
        );
        let h = read.header.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(h.fields, whole.fields, "cut {cut}");
        assert_eq!(h.to_dicom_json().unwrap(), want, "cut {cut}");
    }
    // A meta group without its group length (pydicom's no_meta_group_length.dcm).
    let (_, read) = load("no_meta_group_length.dcm", 8 << 20).await;
    assert_eq!(
        read.header.unwrap().fields.transfer_syntax,
        "1.2.840.10008.1.2"
    );
}

#[tokio::test]
async fn a_deflated_file_reads_like_its_inflated_original() {
    let original = instance_from(&ct(), &JANE, STUDY_UID, "1.2.3", "1.2.3.4");
    let dfl = deflated(&original);
    assert!(dfl.len() < original.len());
    let want = parse_header(&original, original.len() as u64).unwrap();
    let read = read_file(&mut &dfl[..], 8 << 20).await.unwrap();
    assert_eq!(read.digest.size, dfl.len() as u64);
    let got = read.header.unwrap();
    assert_eq!(got.fields.transfer_syntax, "1.2.840.10008.1.2.1.99");
    let mut fields = got.fields.clone();
    fields.transfer_syntax = want.fields.transfer_syntax.clone();
    assert_eq!(fields, want.fields);
    assert_eq!(got.to_dicom_json().unwrap(), want.to_dicom_json().unwrap());
    // pydicom's deflated file: its SOP instance as pydicom reads it.
    let (_, read) = load("image_dfl.dcm", 8 << 20).await;
    let h = read.header.unwrap();
    assert_eq!(
        h.fields.sop_class_uid.as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.7")
    );
    // Cut anywhere, it is an error, never a panic.
    for cut in (133..dfl.len()).step_by(97) {
        let head = &dfl[..cut];
        if let Err(e) = parse_header(head, head.len() as u64) {
            assert!(
                matches!(
                    e,
                    HeaderError::Truncated { .. }
                        | HeaderError::LengthBeyondEnd { .. }
                        | HeaderError::Malformed(_)
                ),
                "cut {cut}: {e:?}"
            );
        }
    }
}

#[tokio::test]
async fn person_name_components_come_through() {
    let (_, read) = load("rtplan.dcm", 8 << 20).await;
    let h = read.header.unwrap();
    assert_eq!(h.fields.patient_name.as_deref(), Some("Last^First^mid^pre"));
    assert_eq!(
        medimint_ingest::validate::pn_components(h.fields.patient_name.as_deref().unwrap()),
        ["last", "first", "mid", "pre"]
    );
}

#[tokio::test]
async fn every_pydicom_file_reads_or_fails_cleanly() {
    let dir = pydicom_test_files().unwrap();
    let mut ok = 0;
    let mut failed = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        // Never a panic, whatever the file.
        match read_file(&mut &bytes[..], 8 << 20).await.unwrap().header {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    assert!(ok >= 40, "only {ok} of {} files parsed", ok + failed);
}

#[tokio::test]
async fn data_sets_without_a_meta_group_are_refused_by_name() {
    for name in ["no_meta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm"] {
        let (_, read) = load(name, 8 << 20).await;
        let err = read.header.unwrap_err();
        assert_eq!(err, HeaderError::NotPart10, "{name}");
        assert!(err.to_string().contains("meta group"), "{err}");
    }
}

#[tokio::test]
async fn a_header_over_the_cap_is_refused_and_the_digest_still_covers_the_file() {
    let (bytes, read) = load("CT_small.dcm", 1024).await;
    assert_eq!(
        read.header.unwrap_err(),
        HeaderError::HeaderTooLarge { limit: 1024 }
    );
    assert_eq!(read.digest.size, bytes.len() as u64);
}

#[test]
fn every_truncation_of_a_header_is_an_error_never_a_panic() {
    let bytes = std::fs::read(pydicom_file("MR_small_implicit.dcm").unwrap()).unwrap();
    let bytes_be = std::fs::read(pydicom_file("MR_small_bigendian.dcm").unwrap()).unwrap();
    let mut errors = 0;
    for whole in [&bytes, &bytes_be] {
        for cut in (0..2000).step_by(7) {
            let head = &whole[..cut];
            // A cut on an element boundary is a shorter, valid data set.
            if let Err(err) = parse_header(head, head.len() as u64) {
                errors += 1;
                assert!(
                    matches!(
                        err,
                        HeaderError::NotPart10
                            | HeaderError::Truncated { .. }
                            | HeaderError::LengthBeyondEnd { .. }
                            | HeaderError::Malformed(_)
                    ),
                    "cut {cut}: {err:?}"
                );
            }
        }
    }
    assert!(errors > 400, "{errors}");
}
