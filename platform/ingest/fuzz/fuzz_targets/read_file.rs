//! Any bytes as an uploaded file: `read_file` streams them (hash, header scan, fragment
//! walk, parse) and must end in a verdict, never a panic or an allocation beyond its caps.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use medimint_ingest::header::read_file;

fuzz_target!(|data: &[u8]| {
    // A byte slice never makes the read wait: one poll completes it.
    let mut reader = data;
    let mut fut = pin!(read_file(&mut reader, 1 << 20));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(read) => {
            let read = read.expect("reading a slice cannot fail");
            assert_eq!(read.digest.size, data.len() as u64);
            if let Ok(h) = read.header {
                let _ = h.to_dicom_json();
            }
        }
        Poll::Pending => panic!("read_file waited on a byte slice"),
    }
});
