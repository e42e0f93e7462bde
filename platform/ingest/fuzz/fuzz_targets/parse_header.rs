//! Any bytes as the head of a file of the same size: the bounds scan and dicom-object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medimint_ingest::header::parse_header;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_header(data, data.len() as u64) {
        let _ = h.to_dicom_json();
    }
});
