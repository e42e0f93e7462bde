//! The object store and database suites over every adapter: local directory and SQLite on
//! disk, S3 and DynamoDB through moto's server with the real AWS SDK clients.

mod common;

use std::sync::Arc;

use medimint_storage::{
    AppDb, DynamoDb, LocalDirStore, ObjectStore, S3Store, SqliteDb, StorageError,
};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

#[tokio::test]
async fn local_dir_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::new(dir.path()).unwrap();
    common::object_store_suite(&store, true).await;
    // No temporary file survives, failed or not.
    let tmp: Vec<_> = std::fs::read_dir(dir.path().join(".medimint-tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_on_moto() {
    let moto = MotoServer::start().expect("moto server");
    let store = S3Store::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-test",
    );
    store.ensure_bucket().await.unwrap();
    store.ensure_bucket().await.unwrap();
    // Multipart completion needs moto < 5.2 (scripts/requirements-test.txt pins it): 5.2
    // answers with the wrong XML root element.
    common::object_store_suite(&store, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_reports_a_missing_bucket() {
    let moto = MotoServer::start().expect("moto server");
    let store = S3Store::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "no-such-bucket",
    );
    let err = store.list("inbox/").await.unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Backend {
                transient: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_db_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = SqliteDb::open(&path).await.unwrap();
    common::app_db_suite(Arc::new(db), common::Races::Concurrent).await;
    // Reopening keeps the data and the schema version.
    let db = SqliteDb::open(&path).await.unwrap();
    assert!(db.get_release("GISSUER", "rel-1").await.unwrap().is_some());
    assert_eq!(db.allocate_hd_index().await.unwrap(), 18);
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    drop(SqliteDb::open(&path).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteDb::open(&path).await.unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_db_on_moto() {
    let moto = MotoServer::start().expect("moto server");
    let db = DynamoDb::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-app",
    );
    assert_eq!(db.schema_version().await.unwrap(), 0);
    common::app_db_suite(Arc::new(db), common::Races::Sequential).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_put_and_get_work_without_credentials_and_the_put_signs_the_length() {
    let moto = MotoServer::start().expect("moto server");
    let store = S3Store::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-presign",
    );
    store.ensure_bucket().await.unwrap();
    let body = b"an uploaded DICOM file".to_vec();
    let key = "inbox/GISSUER/rel-1/S01/IM1.dcm";
    let signed = store
        .presign_put(key, body.len() as u64, std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .expect("S3 presigns");
    assert_eq!(signed.method, "PUT");
    assert!(signed.url.starts_with(&moto.endpoint()), "{}", signed.url);
    for part in [
        "X-Amz-Signature=",
        "X-Amz-Expires=600",
        "X-Amz-SignedHeaders=",
    ] {
        assert!(signed.url.contains(part), "{part} missing: {}", signed.url);
    }
    let signed_headers = signed
        .url
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        signed_headers.contains("content-length"),
        "{signed_headers}"
    );
    // A client without credentials (curl) sends the body with the named headers.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let mut curl = std::process::Command::new("curl");
    // (An octet-stream type: moto's web server would read a form-encoded body as a form.)
    curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args(["-H", "content-type: application/octet-stream"]);
    for (k, v) in &signed.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            curl.args(["-H", &format!("{k}: {v}")]);
        }
    }
    curl.arg("--data-binary")
        .arg(format!("@{}", file.path().display()))
        .arg(&signed.url);
    let out = curl.output().expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    assert_eq!(store.get_bytes(key, 1 << 20).await.unwrap(), body);
    // And read back through a presigned GET.
    let get = store
        .presign_get(key, std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .expect("S3 presigns");
    assert_eq!(get.method, "GET");
    let out = std::process::Command::new("curl")
        .args(["-s", "-f", &get.url])
        .output()
        .expect("curl runs");
    assert!(out.status.success());
    assert_eq!(out.stdout, body);
    // A local directory has no presigned URLs: its host serves uploads itself.
    let dir = tempfile::tempdir().unwrap();
    let local = LocalDirStore::new(dir.path()).unwrap();
    assert!(local
        .presign_put(key, 1, std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .is_none());
    assert!(local
        .presign_get(key, std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .is_none());
}

/// Every version and delete marker of a key (or under a prefix), as S3 lists them.
async fn versions_under(store: &S3Store, prefix: &str) -> Vec<String> {
    let page = store
        .client()
        .list_object_versions()
        .bucket(store.bucket())
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out: Vec<String> = page
        .versions()
        .iter()
        .filter_map(|v| {
            v.key()
                .map(|k| format!("{k}@{}", v.version_id().unwrap_or("-")))
        })
        .chain(
            page.delete_markers()
                .iter()
                .filter_map(|m| m.key().map(|k| format!("{k}@marker"))),
        )
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_deletes_every_version_of_a_key_and_under_a_prefix() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let moto = MotoServer::start().expect("moto server");
    let store = S3Store::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "medimint-versions",
    );
    store.ensure_bucket().await.unwrap();
    store
        .client()
        .put_bucket_versioning()
        .bucket(store.bucket())
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Two versions of a file, one deleted (a delete marker over two versions), a neighbour
    // whose key only starts like it, and a key elsewhere.
    for (key, body) in [
        ("studies/s1/files/a", "v1"),
        ("studies/s1/files/a", "v2"),
        ("studies/s1/files/b", "b1"),
        ("studies/s1/files/ab", "keep"),
        ("keys/s1/GX", "w1"),
        ("keys/s1/GX", "w2"),
        ("studies/s2/files/a", "other study"),
    ] {
        store
            .put_bytes(key, bytes::Bytes::from(body))
            .await
            .unwrap();
    }
    store.delete("studies/s1/files/b").await.unwrap();
    assert_eq!(versions_under(&store, "studies/s1/files/a").await.len(), 3);
    assert_eq!(versions_under(&store, "studies/s1/files/b").await.len(), 2);

    // One key: its two versions go, the neighbour `…/ab` stays.
    store
        .delete_all_versions("studies/s1/files/a")
        .await
        .unwrap();
    let left = versions_under(&store, "studies/s1/files/a").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("studies/s1/files/ab@"), "{left:?}");
    // A plain delete would have left versions: the marker over `b` hides two of them.
    assert_eq!(
        store.get_bytes("studies/s1/files/ab", 10).await.unwrap(),
        b"keep"
    );

    // A prefix: every key under it with all its versions and markers; the other study stays.
    assert_eq!(store.purge_prefix("studies/s1/").await.unwrap(), 2);
    assert_eq!(store.purge_prefix("keys/s1/").await.unwrap(), 1);
    assert!(versions_under(&store, "studies/s1/").await.is_empty());
    assert!(versions_under(&store, "keys/s1/").await.is_empty());
    assert_eq!(versions_under(&store, "studies/s2/").await.len(), 1);
    // Again: nothing left, nothing to do (a resumed erasure).
    assert_eq!(store.purge_prefix("studies/s1/").await.unwrap(), 0);
    store
        .delete_all_versions("studies/s1/files/a")
        .await
        .unwrap();
    let err = store.purge_prefix("").await.unwrap_err().to_string();
    assert!(err.contains("empty prefix"), "{err}");
}

#[tokio::test]
async fn local_store_purges_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::new(dir.path()).unwrap();
    for key in [
        "studies/s1/files/a",
        "studies/s1/files/b",
        "studies/s2/files/a",
    ] {
        store.put_bytes(key, bytes::Bytes::from("x")).await.unwrap();
    }
    assert_eq!(store.purge_prefix("studies/s1/").await.unwrap(), 2);
    store
        .delete_all_versions("studies/s1/files/a")
        .await
        .unwrap();
    assert!(store.list("studies/s1/").await.unwrap().is_empty());
    assert_eq!(store.list("studies/").await.unwrap().len(), 1);
    assert!(store.purge_prefix("").await.is_err());
}
