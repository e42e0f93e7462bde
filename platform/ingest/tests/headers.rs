//! Header reading on pydicom's real files: several transfer syntaxes, compressed,
//! multi-frame, big endian, implicit VR; and the failures a header can have.

use medimint_ingest::header::{parse_header, read_file};
use medimint_ingest::HeaderError;
use medimint_testkit::{pydicom_file, pydicom_test_files};
use sha2::{Digest, Sha256};

async fn load(name: &str, limit: usize) -> (Vec<u8>, medimint_ingest::header::ReadFile) {
    let bytes = std::fs::read(pydicom_file(name).unwrap()).unwrap();
    let read = read_file(&mut &bytes[..], limit).await.unwrap();
    (bytes, read)
}

#[tokio::test]
async fn reads_headers_in_many_transfer_syntaxes() {
    // (file, transfer syntax, modality, frames)
    let cases = [
        ("CT_small.dcm", "1.2.840.10008.1.2.1", "CT", 1),
        ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", "MR", 1),
        ("MR_small_implicit.dcm", "1.2.840.10008.1.2", "MR", 1),
        ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91", "NM", 1),
        ("JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51", "NM", 1),
        ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5", "MR", 1),
        ("SC_rgb_rle_2frame.dcm", "1.2.840.10008.1.2.5", "OT", 2),
        ("rtplan.dcm", "1.2.840.10008.1.2", "RTPLAN", 1),
    ];
    for (name, ts, modality, frames) in cases {
        let (bytes, read) = load(name, 8 << 20).await;
        assert_eq!(read.digest.size, bytes.len() as u64, "{name}");
        assert_eq!(
            read.digest.sha256,
            <[u8; 32]>::from(Sha256::digest(&bytes)),
            "{name}"
        );
        let h = read.header.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h.fields.transfer_syntax, ts, "{name}");
        assert_eq!(h.fields.modality.as_deref(), Some(modality), "{name}");
        assert_eq!(h.fields.frames, frames, "{name}");
        assert!(h.fields.sop_instance_uid.is_some(), "{name}");
        assert!(h.fields.study_instance_uid.is_some(), "{name}");
        let json = h.to_dicom_json().unwrap();
        assert!(
            json.get("7FE00010").is_none(),
            "{name}: pixel data was read"
        );
        assert_eq!(json["00080060"]["Value"][0], modality, "{name}");
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
async fn deflated_and_headerless_files_are_refused_by_name() {
    let (_, read) = load("image_dfl.dcm", 8 << 20).await;
    assert_eq!(
        read.header.unwrap_err(),
        HeaderError::UnsupportedTransferSyntax("1.2.840.10008.1.2.1.99".into())
    );
    let (_, read) = load("no_meta.dcm", 8 << 20).await;
    assert_eq!(read.header.unwrap_err(), HeaderError::NotPart10);
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
