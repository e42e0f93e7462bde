//! Studies of realistic size: 2,000 and 10,000 files, whose metadata is several IPFS blocks
//! (a 2,000-file study used to be refused: "metadata object 3,298,404 bytes > 1 MiB"),
//! release, read back file by file, and verify, while the heap of the whole process stays
//! bounded: neither the release nor the reading holds the metadata, or every header, at once.
//!
//! One test in this binary: the allocation counter is process-wide.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use common::*;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use medimint_ingest::checksum::{checksum_root, verify, FileChecksum, PresentedFile};
use medimint_ingest::metadata::{ciphertext, MetadataReader};
use medimint_ingest::{Ingest, IngestConfig, Outcome, ReleaseRef};
use medimint_storage::{AppDb, LocalDirStore, ObjectStore, SqliteDb};
use medimint_testkit::pydicom_file;
use sha2::{Digest, Sha256};

/// Counts the bytes the process holds, and the most held at once since a reset.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn add(n: isize) {
    let now = HELD.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
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

/// Starts a measurement: the peak from now on, above what is held now.
fn reset() -> isize {
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    base
}

fn peak_since(base: isize) -> usize {
    (PEAK.load(Ordering::Relaxed) - base).max(0) as usize
}

const MIB: usize = 1024 * 1024;

/// A real CT header (pydicom's CT_small, Jane's ids) with a 64-byte pixel element, and a SOP
/// instance UID of fixed width that [`instance`] rewrites in place.
fn template() -> (Vec<u8>, String) {
    let sop = format!("{STUDY_UID}.1.000000000");
    let bytes = instance_from(
        &pydicom_file("CT_small.dcm").expect("pydicom test data"),
        &JANE,
        STUDY_UID,
        &format!("{STUDY_UID}.1"),
        &sop,
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let mut obj = dicom_object::open_file(file.path()).expect("template");
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::from(vec![0u8; 64]),
    ));
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("write");
    (out, sop)
}

/// Instance `i`: the template with its SOP instance UID (in the meta group and the data
/// set) ending in `i`.
fn instance(template: &(Vec<u8>, String), i: usize) -> Vec<u8> {
    let (bytes, sop) = template;
    let new = format!("{STUDY_UID}.1.{i:09}");
    assert_eq!(new.len(), sop.len());
    let mut out = bytes.clone();
    let mut at = 0;
    let mut replaced = 0;
    while let Some(pos) = out[at..]
        .windows(sop.len())
        .position(|w| w == sop.as_bytes())
    {
        out[at + pos..at + pos + sop.len()].copy_from_slice(new.as_bytes());
        at += pos + sop.len();
        replaced += 1;
    }
    assert_eq!(
        replaced, 2,
        "the meta group's and the data set's SOP instance UID"
    );
    out
}

/// Unseals what [`TestSealer`] sealed, as it streams.
struct Unseal {
    inner: medimint_storage::ObjectReader,
    header: usize,
    key: u8,
}

impl tokio::io::AsyncRead for Unseal {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        while self.header > 0 {
            let mut b = [0u8; 1];
            let mut one = tokio::io::ReadBuf::new(&mut b);
            match std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut one) {
                Poll::Ready(Ok(())) if one.filled().len() == 1 => {
                    self.header -= 1;
                    if self.header == 0 {
                        self.key = b[0];
                    }
                }
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                other => return other,
            }
        }
        let before = buf.filled().len();
        let key = self.key;
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        for b in &mut buf.filled_mut()[before..] {
            *b ^= key;
        }
        r
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn studies_of_2000_and_10000_files_release_and_read_back_in_bounded_memory() {
    let template = template();
    let mut seen = Vec::new();
    for n in [2_000usize, 10_000] {
        // On tmpfs where there is one: the store writes each object with an fsync.
        let dir = match tempfile::tempdir_in("/dev/shm") {
            Ok(d) => d,
            Err(_) => tempfile::tempdir().unwrap(),
        };
        let store: Arc<dyn ObjectStore> = Arc::new(LocalDirStore::new(dir.path()).unwrap());
        let db: Arc<dyn AppDb> = Arc::new(SqliteDb::open_in_memory().await.unwrap());
        let faults = Arc::new(Faults::default());
        let chain = Arc::new(TestChain::new(faults.clone()));
        let ingest = Ingest::new(
            store.clone(),
            db.clone(),
            Arc::new(TestSealer::new(faults)),
            chain.clone(),
            IngestConfig::default(),
        );
        // A PACS export writes the files into the watched folder, the manifest last.
        let inbox = dir.path().join(format!("inbox/{ISSUER}/big-{n}"));
        let mut listed = Vec::with_capacity(n);
        let mut digests = Vec::with_capacity(n);
        for i in 0..n {
            let bytes = instance(&template, i);
            let path = format!("S{:02}/IM{:05}.dcm", i / 1000 + 1, i);
            std::fs::create_dir_all(inbox.join(&path).parent().unwrap()).unwrap();
            std::fs::write(inbox.join(&path), &bytes).unwrap();
            digests.push((path.clone(), <[u8; 32]>::from(Sha256::digest(&bytes))));
            listed.push((path, bytes.len()));
        }
        let manifest = serde_json::json!({
            "version": 1,
            "patient": { "email": "jane.doe@example.org", "family_name": "Doe",
                "given_names": "Jane", "middle_names": "Q", "birth_date": "1980-01-31",
                "patient_id": JANE.id },
            "files": listed.iter().map(|(p, s)| serde_json::json!({"path": p, "size": s}))
                .collect::<Vec<_>>(),
        });
        std::fs::write(inbox.join("release.json"), manifest.to_string()).unwrap();
        drop((manifest, listed));

        let base = reset();
        let outcome = ingest
            .process(&ReleaseRef {
                issuer: ISSUER.into(),
                release_id: format!("big-{n}"),
            })
            .await
            .unwrap();
        let released_peak = peak_since(base);
        let Outcome::Released {
            checksum_root: root,
            ..
        } = outcome
        else {
            panic!("{n} files: not released: {outcome:?}");
        };
        let proposal = chain.tokens.lock().unwrap().get(&root).unwrap().1.clone();
        assert_eq!(proposal.file_count as usize, n);
        let cid = proposal
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap()
            .to_owned();
        assert!(cid.starts_with("bafybei"), "{n} files: a DAG root: {cid}");
        let blocks = store.list("meta/").await.unwrap();
        let stored: u64 = blocks.iter().map(|b| b.size).sum();
        assert!(blocks.len() > 2, "{n} files: {} blocks", blocks.len());
        assert!(blocks.iter().all(|b| b.size <= MIB as u64));

        // Read back one file at a time; every file listed with its digest and its header.
        let base = reset();
        let mut reader = MetadataReader::open(Box::new(Unseal {
            inner: ciphertext(store.clone(), &cid),
            header: SEAL_MAGIC.len() + 1,
            key: 0,
        }))
        .await
        .unwrap();
        assert_eq!(reader.head().file_count as usize, n);
        assert_eq!(reader.head().checksum_root, root);
        assert_eq!(reader.head().summary["instance_count"], n);
        let mut listed: Vec<FileChecksum> = Vec::with_capacity(n);
        while let Some(entry) = reader.next_file().await.unwrap() {
            assert_eq!(
                entry.header["00100020"]["Value"][0], JANE.id,
                "{}",
                entry.checksum.path
            );
            assert_eq!(
                entry.object_key,
                format!(
                    "studies/{}/files/{}",
                    reader.head().study_id,
                    entry.checksum.sha256
                )
            );
            listed.push(entry.checksum);
        }
        let read_peak = peak_since(base);
        assert_eq!(listed.len(), n);
        // The per-file digests verify the files and name each by path.
        let presented: Vec<PresentedFile> = digests
            .iter()
            .map(|(p, d)| PresentedFile {
                name: p.clone(),
                sha256: *d,
            })
            .collect();
        let v = verify(&presented, &root, &listed);
        assert!(v.is_intact() && v.root_matches, "{n} files: {v:?}");
        let all: Vec<[u8; 32]> = digests.iter().map(|(_, d)| *d).collect();
        assert_eq!(hex::encode(checksum_root(&all)), root);
        println!(
            "{n} files: metadata {} blocks, {:.1} MiB; peak heap: release {:.1} MiB, read {:.1} MiB",
            blocks.len(),
            stored as f64 / MIB as f64,
            released_peak as f64 / MIB as f64,
            read_peak as f64 / MIB as f64
        );
        seen.push((n, stored as usize, released_peak, read_peak));
    }
    for (n, metadata, released, read) in seen {
        // Reading holds a block, a chunk and a line: nothing grows with the study.
        assert!(read < 8 * MIB, "{n} files: reading held {read} bytes");
        // Releasing holds a few hundred bytes per file (name, digest, summary fields), not
        // the headers: well under the metadata's size, and under 64 MiB.
        assert!(
            released < metadata / 2 && released < 64 * MIB,
            "{n} files: releasing held {released} bytes for {metadata} bytes of metadata"
        );
    }
}
