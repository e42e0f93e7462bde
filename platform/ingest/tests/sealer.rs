//! The production sealer: a round trip through it decrypts with the recipient's keypair;
//! another keypair cannot unwrap; a failing input is an error, not a short ciphertext; a
//! checked encryption ends only if the plaintext's digest holds.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use medimint_ingest::SdkSealer;
use medimint_ingest::Sealer;
use medimint_sdk::crypto::{decrypt, open_key};
use medimint_sdk::keys::Keypair;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn encrypt_round_trips_for_the_recipient_only() {
    let seal = SdkSealer.new_study().unwrap();
    // Several stream chunks and a partial last one.
    let plain = plaintext(300_000);
    let mut reader = seal.encrypt(Box::new(io::Cursor::new(plain.clone())));
    let mut ct = Vec::new();
    reader.read_to_end(&mut ct).await.unwrap();
    assert!(ct.len() > plain.len());
    assert_ne!(&ct[ct.len() - 1000..], &plain[plain.len() - 1000..]);

    let patient = Keypair::generate();
    let wrapped = seal.wrap_key(&patient.address()).unwrap();
    let key = open_key(&wrapped, &patient).unwrap();
    let mut back = Vec::new();
    let n = decrypt(&key, &ct[..], &mut back).unwrap();
    assert_eq!(n, plain.len() as u64);
    assert_eq!(back, plain);

    let stranger = Keypair::generate();
    assert!(open_key(&wrapped, &stranger).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_sealed_in_blocks_and_read_back_under_its_root() {
    use medimint_ingest::metadata::{Head, MetadataReader, MetadataWriter};
    use medimint_ingest::FileChecksum;
    use medimint_storage::{LocalDirStore, ObjectStore};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalDirStore::new(dir.path()).unwrap());
    let seal = SdkSealer.new_study().unwrap();
    // 300 files of a 10 KB header each: about 3 MB of plaintext, three blocks.
    let header = serde_json::to_vec(&serde_json::json!({ "00091010": { "vr": "LO",
        "Value": ["x".repeat(10_000)] } }))
    .unwrap();
    let mut w = MetadataWriter::start(store.clone(), seal.as_ref());
    w.head(&Head {
        version: 2,
        study_id: "s1".into(),
        issuer: "G".into(),
        release_id: "r1".into(),
        checksum_root: "ab".repeat(32),
        commitment_salt: "cd".repeat(32),
        file_count: 300,
        summary: serde_json::json!({"instance_count": 300}),
        files: None,
    })
    .await
    .unwrap();
    for i in 0..300 {
        let c = FileChecksum {
            path: format!("S1/IM{i:04}.dcm"),
            sha256: format!("{i:064x}"),
            size: i,
        };
        w.file(&c, &format!("studies/s1/files/{i:064x}"), &header)
            .await
            .unwrap();
    }
    let cid = w.finish().await.unwrap();
    assert!(cid.starts_with("bafybei"), "a DAG root: {cid}");
    let blocks = store.list("meta/").await.unwrap();
    assert_eq!(blocks.len(), 4, "three leaves and their node");
    assert!(blocks.iter().all(|b| b.size <= 1 << 20));

    let viewer = Keypair::generate();
    let key = open_key(&seal.wrap_key(&viewer.address()).unwrap(), &viewer).unwrap();
    let mut r = MetadataReader::open_stored(store.clone(), &cid, &key)
        .await
        .unwrap();
    assert_eq!(r.head().file_count, 300);
    assert_eq!(r.head().checksum_root, "ab".repeat(32));
    let mut n = 0;
    while let Some(f) = r.next_file().await.unwrap() {
        assert_eq!(f.checksum.path, format!("S1/IM{n:04}.dcm"));
        assert_eq!(
            f.header["00091010"]["Value"][0].as_str().unwrap().len(),
            10_000
        );
        n += 1;
    }
    assert_eq!(n, 300);

    // Another key: refused before any file is read.
    let other = medimint_sdk::crypto::StudyKey::generate();
    let err = MetadataReader::open_stored(store.clone(), &cid, &other)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("decrypting the metadata object"), "{err}");
    // A leaf altered in storage: its CID no longer matches, named.
    let leaf = blocks.iter().find(|b| b.size == 1 << 20).unwrap();
    store
        .put_bytes(&leaf.key, bytes::Bytes::from(vec![0u8; 1 << 20]))
        .await
        .unwrap();
    let mut r = MetadataReader::open_stored(store.clone(), &cid, &key).await;
    let err = loop {
        match r {
            Err(e) => break e.to_string(),
            Ok(ref mut reader) => match reader.next_file().await {
                Err(e) => break e.to_string(),
                Ok(Some(_)) => {}
                Ok(None) => panic!("read an altered object to its end"),
            },
        }
    };
    assert!(err.contains("does not match its CID"), "{err}");
}

#[tokio::test]
async fn each_study_has_its_own_key_and_bad_addresses_are_errors() {
    let (a, b) = (
        SdkSealer.new_study().unwrap(),
        SdkSealer.new_study().unwrap(),
    );
    let who = Keypair::generate();
    let ka = open_key(&a.wrap_key(&who.address()).unwrap(), &who).unwrap();
    let kb = open_key(&b.wrap_key(&who.address()).unwrap(), &who).unwrap();
    assert_ne!(ka.as_bytes(), kb.as_bytes());
    let err = a.wrap_key("not-an-address").unwrap_err().to_string();
    assert!(err.contains("wrapping the study key"), "{err}");
}

/// Yields some bytes, then fails.
struct Failing(usize);

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.0 == 0 {
            return Poll::Ready(Err(io::Error::other("disk gone")));
        }
        let n = self.0.min(buf.remaining()).min(10_000);
        buf.put_slice(&vec![1u8; n]);
        self.0 -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failing_input_fails_the_ciphertext_stream() {
    let seal = SdkSealer.new_study().unwrap();
    let mut reader = seal.encrypt(Box::new(Failing(100_000)));
    let mut ct = Vec::new();
    let err = reader.read_to_end(&mut ct).await.unwrap_err();
    assert!(err.to_string().contains("disk gone"), "{err}");
    // Never an end after the failure.
    assert!(reader.read(&mut [0u8; 64]).await.is_err());
}

#[test]
fn without_a_runtime_encrypt_still_works() {
    // The reader is polled by its consumer; with no tokio runtime the digest runs inline.
    let seal = SdkSealer.new_study().unwrap();
    let plain = plaintext(200_000);
    let sha: [u8; 32] = Sha256::digest(&plain).into();
    let mut reader = seal.encrypt_file(Box::new(io::Cursor::new(plain.clone())), Some(200_000));
    let mut ct = Vec::new();
    futures_lite_block_on(reader.read_to_end(&mut ct)).unwrap();
    let digest = reader.plaintext_digest().unwrap();
    assert_eq!((digest.sha256, digest.size), (sha, 200_000));
    let patient = Keypair::generate();
    let key = open_key(&seal.wrap_key(&patient.address()).unwrap(), &patient).unwrap();
    let mut back = Vec::new();
    decrypt(&key, &ct[..], &mut back).unwrap();
    assert_eq!(back, plain);
}

/// Polls a future to completion on this thread, with no runtime.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_file_reports_the_digest_of_its_plaintext() {
    let seal = SdkSealer.new_study().unwrap();
    let patient = Keypair::generate();
    let key = open_key(&seal.wrap_key(&patient.address()).unwrap(), &patient).unwrap();
    // Empty, one chunk, and several 1 MiB pieces with a partial last chunk; a size hint that
    // is right, wrong or missing changes nothing but buffers.
    for len in [0usize, 65_536, 3 * 1_048_576 + 12_345] {
        for hint in [Some(len as u64), Some(1), None] {
            let plain = plaintext(len);
            let sha: [u8; 32] = Sha256::digest(&plain).into();
            let mut reader = seal.encrypt_file(Box::new(io::Cursor::new(plain.clone())), hint);
            let mut ct = Vec::new();
            reader.read_to_end(&mut ct).await.unwrap();
            let digest = reader.plaintext_digest().unwrap();
            assert_eq!(
                (digest.sha256, digest.size),
                (sha, len as u64),
                "{len} {hint:?}"
            );
            let mut back = Vec::new();
            decrypt(&key, &ct[..], &mut back).unwrap();
            assert!(back == plain, "{len}");
        }
    }
}
