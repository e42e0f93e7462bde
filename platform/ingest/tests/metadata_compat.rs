//! A metadata object written by the code before version 2 (one raw block, one JSON object
//! with a `files` array; `tests/data/metadata-v1/`, see its README) opens with today's
//! readers, file by file, with the same fields.

use std::path::Path;
use std::sync::Arc;

use medimint_ingest::layout::wrapped_key_key;
use medimint_ingest::metadata::{ciphertext, decrypting, for_each_file, MetadataReader};
use medimint_sdk::crypto::open_key;
use medimint_sdk::keys::Keypair;
use medimint_storage::{LocalDirStore, ObjectStore};

const CID: &str = "bafkreibx5tm7kih4r2wagvfrupnabelucedekzhwhtosuwsphidg5yibju";
const STUDY: &str = "56578e5c220dc1b3060841c16093cca7";
const ROOT: &str = "0e605c647bc184aa91ac84d4b35dcc0e50e3e5b9d5caf98a0887c847acb9c575";

fn fixture() -> (Arc<dyn ObjectStore>, Keypair) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metadata-v1");
    (
        Arc::new(LocalDirStore::new(dir).unwrap()),
        Keypair::from_seed_bytes(&[0x11; 32]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_object_opens_file_by_file() {
    let (store, issuer) = fixture();
    let wrapped = store
        .get_bytes(&wrapped_key_key(STUDY, &issuer.address()), 1024)
        .await
        .unwrap();
    let key = open_key(&wrapped, &issuer).unwrap();
    let mut paths = Vec::new();
    let head = for_each_file(&*store, CID, &key, |f| {
        assert!(f.object_key.starts_with(&format!("studies/{STUDY}/files/")));
        assert!(f.object_key.ends_with(&f.checksum.sha256));
        assert_eq!(f.header["00100020"]["Value"][0], "MRN-BENCH-0001");
        paths.push(f.checksum.path);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(head.version, 1);
    assert_eq!(head.checksum_root, ROOT);
    assert_eq!(head.study_id, STUDY);
    assert_eq!(head.commitment_salt.len(), 64);
    assert_eq!(head.summary["instance_count"], 32);
    assert_eq!(head.file_count, 32);
    assert_eq!(paths.len(), 32);
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    // The pulling reader gives the same.
    let mut r = MetadataReader::open(decrypting(&key, ciphertext(store.clone(), CID)))
        .await
        .unwrap();
    let mut n = 0;
    while let Some(f) = r.next_file().await.unwrap() {
        assert_eq!(f.checksum.path, paths[n]);
        n += 1;
    }
    assert_eq!(n, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_object_refuses_another_key_and_a_damaged_block() {
    let (store, _) = fixture();
    let other = medimint_sdk::crypto::StudyKey::generate();
    let err = for_each_file(&*store, CID, &other, |_| Ok(()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("decrypting the metadata object"), "{err}");

    // The block under another CID: it does not match, and nothing is read.
    let dir = tempfile::tempdir().unwrap();
    let copy = LocalDirStore::new(dir.path()).unwrap();
    let bytes = store
        .get_bytes(&format!("meta/{CID}"), 1 << 20)
        .await
        .unwrap();
    let wrong = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    copy.put_bytes(&format!("meta/{wrong}"), bytes.into())
        .await
        .unwrap();
    let mut called = false;
    let err = for_each_file(&copy, wrong, &other, |_| {
        called = true;
        Ok(())
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not match its CID"), "{err}");
    assert!(!called);
}
