//! Bad input ends in a named error within bounded memory: every allocation made while a
//! header is read is counted (on this thread), and arbitrary bytes never panic.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use medimint_ingest::header::{parse_header, read_file};
use medimint_ingest::HeaderError;
use medimint_testkit::pydicom_file;
use proptest::prelude::*;

/// Counts the bytes allocated by each thread, and the most held at once since a reset.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    let _ = HELD.try_with(|h| {
        let now = h.get() + n;
        h.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most bytes `f` held at once beyond what the thread held before, and its result.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = HELD.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (peak.max(0) as usize, out)
}

/// Reads `bytes` as an uploaded file on this thread; the peak it needed and the header's
/// verdict.
fn read_counted(bytes: &[u8]) -> (usize, Result<(), HeaderError>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    peak_of(|| {
        rt.block_on(async {
            let read = read_file(&mut &bytes[..], 8 << 20).await.unwrap();
            read.header.map(|_| ())
        })
    })
}

/// What reading any header may hold at once: the 8 MiB header cap (or the as large inflated
/// header), the 1 MiB read buffer, and dicom-object's copy of a header.
const BOUND: usize = 32 << 20;

#[test]
fn a_4_gib_length_in_a_1_kib_file_is_refused_without_allocating_it() {
    let mut f = part10(&meta_with_ts("1.2.840.10008.1.2.1"), &[]);
    f.extend_from_slice(&[0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
    f.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    f.resize(1024, 0);
    let (peak, verdict) = read_counted(&f);
    assert!(
        matches!(
            verdict,
            Err(HeaderError::LengthBeyondEnd {
                declared: 0xFFFF_FFF0,
                ..
            })
        ),
        "{verdict:?}"
    );
    assert!(peak < BOUND, "{peak} bytes held");
}

#[test]
fn sequences_nested_100000_deep_are_refused_without_recursing() {
    for ts in ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"] {
        let mut data = nested_sequences(100_000);
        if ts == "1.2.840.10008.1.2" {
            // Implicit VR: the same nesting without VRs (tag, then a 4-byte length).
            data = implicit(&data);
        }
        let f = part10(&meta_with_ts(ts), &data);
        let (peak, verdict) = read_counted(&f);
        match verdict {
            Err(HeaderError::Malformed(m)) => assert!(m.contains("nested"), "{m}"),
            other => panic!("{ts}: {other:?}"),
        }
        assert!(peak < BOUND, "{peak} bytes held");
    }
}

/// [`nested_sequences`] in Implicit VR Little Endian.
fn implicit(explicit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(explicit.len());
    let mut pos = 0;
    while pos < explicit.len() {
        if explicit[pos..pos + 2] == [0xFE, 0xFF] {
            out.extend_from_slice(&explicit[pos..pos + 8]);
            pos += 8;
        } else {
            // (0040,A730) SQ with a 12-byte explicit header: tag, then the 4-byte length.
            out.extend_from_slice(&explicit[pos..pos + 4]);
            out.extend_from_slice(&explicit[pos + 8..pos + 12]);
            pos += 12;
        }
    }
    out
}

#[test]
fn a_deflate_bomb_is_inflated_only_up_to_the_cap() {
    // 64 MiB of zeros in one element deflates to about 64 KiB; the cap is 8 MiB.
    let mut data = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
    data.extend_from_slice(&(64u32 << 20).to_le_bytes());
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    use std::io::Write;
    z.write_all(&data).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        z.write_all(&zeros).unwrap();
    }
    let f = part10(
        &meta_with_ts("1.2.840.10008.1.2.1.99"),
        &z.finish().unwrap(),
    );
    drop(zeros);
    let (peak, verdict) = read_counted(&f);
    assert!(
        matches!(verdict, Err(HeaderError::HeaderTooLarge { .. })),
        "{verdict:?}"
    );
    assert!(peak < BOUND, "{peak} bytes held");
}

#[test]
fn real_files_read_within_the_bound() {
    for name in [
        "CT_small.dcm",
        "image_dfl.dcm",
        "reportsi.dcm",
        "waveform_ecg.dcm",
    ] {
        let bytes = std::fs::read(pydicom_file(name).unwrap()).unwrap();
        let (peak, verdict) = read_counted(&bytes);
        assert!(verdict.is_ok(), "{name}: {verdict:?}");
        assert!(peak < BOUND, "{name}: {peak} bytes held");
    }
}

/// The first bytes of a real file, to mutate (read once: finding pydicom runs Python).
fn seed() -> Vec<u8> {
    static SEED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let bytes = std::fs::read(pydicom_file("CT_small.dcm").unwrap()).unwrap();
        bytes[..4096].to_vec()
    })
    .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (peak, _) = read_counted(&bytes);
        prop_assert!(peak < BOUND, "{} bytes held", peak);
        let _ = parse_header(&bytes, bytes.len() as u64);
    }

    #[test]
    fn a_real_header_with_bytes_changed_never_panics(
        edits in proptest::collection::vec((132usize..4096, any::<u8>()), 1..16),
        cut in 132usize..=4096,
        deflate in any::<bool>(),
    ) {
        let mut bytes = seed();
        for (at, b) in edits {
            bytes[at] = b;
        }
        bytes.truncate(cut);
        if deflate && cut > 400 {
            // The same bytes after a deflated file's meta group.
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut z, &bytes[400..]).unwrap();
            bytes = part10(&meta_with_ts("1.2.840.10008.1.2.1.99"), &z.finish().unwrap());
        }
        let (peak, _) = read_counted(&bytes);
        prop_assert!(peak < BOUND, "{} bytes held", peak);
    }

    #[test]
    fn files_without_a_preamble_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        dicm in any::<bool>(),
    ) {
        let mut bytes = if dicm { b"DICM".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        bytes.extend_from_slice(&body);
        let (peak, _) = read_counted(&bytes);
        prop_assert!(peak < BOUND, "{} bytes held", peak);
    }
}
