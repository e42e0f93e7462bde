//! Object storage in an S3 bucket (or anything that speaks its API, such as moto).

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::key::{validate_key, validate_prefix};
use crate::{ObjectInfo, ObjectReader, ObjectStore, PresignedRequest, StorageError};

/// Size of each multipart part, and so the most a `put_stream` holds in memory. S3 wants
/// parts of at least 5 MiB (but the last); 8 MiB is the AWS CLI's default.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Objects in one S3 bucket. Objects up to [`PART_SIZE`] go up in one `PutObject`; larger
/// ones in a multipart upload that is aborted if any part fails, so nothing half-written is
/// ever visible under the key.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// Wraps a configured client.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// A client from the environment's AWS configuration; `endpoint` (e.g. moto's) switches
    /// to path-style addressing against that URL.
    pub async fn from_env(bucket: impl Into<String>, endpoint: Option<&str>) -> Self {
        let shared = aws_config::load_from_env().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        Self::new(Client::from_conf(builder.build()), bucket)
    }

    /// A client for an S3-compatible endpoint with static credentials (moto, MinIO).
    pub fn for_endpoint(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        bucket: impl Into<String>,
    ) -> Self {
        let creds = aws_sdk_s3::config::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "medimint-static",
        );
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .credentials_provider(creds)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        Self::new(Client::from_conf(conf), bucket)
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket if it does not exist yet (tests and local setups).
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou") | Some("BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(format!("creating bucket {}", self.bucket), e)),
        }
    }

    async fn put_multipart(
        &self,
        key: &str,
        first: Vec<u8>,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(format!("starting the upload of {key}"), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(key, &upload_id, first, body).await;
        if result.is_err() {
            // Best effort: a leftover upload is invisible and bucket lifecycle rules reap it.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut chunk = first;
        let mut number = 1i32;
        loop {
            total += chunk.len() as u64;
            let done = chunk.len() < PART_SIZE;
            let sent = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(chunk))
                .send()
                .await
                .map_err(|e| sdk_error(format!("uploading part {number} of {key}"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag().map(str::to_owned))
                    .build(),
            );
            if done {
                break;
            }
            chunk = read_chunk(body, key).await?;
            if chunk.is_empty() {
                break;
            }
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error(format!("completing the upload of {key}"), e))?;
        Ok(total)
    }
}

/// Reads up to [`PART_SIZE`] bytes; shorter only at the end of the stream.
async fn read_chunk(
    body: &mut (dyn AsyncRead + Send + Unpin),
    key: &str,
) -> Result<Vec<u8>, StorageError> {
    let mut buf = Vec::with_capacity(PART_SIZE);
    body.take(PART_SIZE as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StorageError::io(format!("reading the body of {key}"), e))?;
    Ok(buf)
}

impl S3Store {
    /// Deletes every version and delete marker whose key starts with `prefix` (only those
    /// equal to it when `exact`), in batches of at most 1,000 (`DeleteObjects`); returns how
    /// many distinct keys had any. In a bucket without versioning the listing holds each
    /// object once (version `null`), so this is a plain delete there.
    async fn delete_versions(&self, prefix: &str, exact: bool) -> Result<usize, StorageError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut keys = std::collections::BTreeSet::new();
        // Listing and deleting alternate: each round lists from the start again, since the
        // deletions change what a continuation would see.
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| sdk_error(format!("listing the versions under {prefix}"), e))?;
            let mut batch = Vec::new();
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            for (key, version) in versions {
                let Some(key) = key else { continue };
                if exact && key != prefix {
                    continue;
                }
                let mut id = ObjectIdentifier::builder().key(key);
                if let Some(v) = version {
                    id = id.version_id(v);
                }
                batch.push(id.build().map_err(|e| StorageError::Backend {
                    context: format!("deleting the versions of {key}"),
                    message: e.to_string(),
                    transient: false,
                })?);
                keys.insert(key.to_owned());
            }
            if batch.is_empty() {
                return Ok(keys.len());
            }
            let n = batch.len();
            let delete = Delete::builder()
                .set_objects(Some(batch))
                .quiet(true)
                .build()
                .map_err(|e| StorageError::Backend {
                    context: format!("deleting the versions under {prefix}"),
                    message: e.to_string(),
                    transient: false,
                })?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| sdk_error(format!("deleting the versions under {prefix}"), e))?;
            if let Some(failed) = out.errors().first() {
                return Err(StorageError::Backend {
                    context: format!("deleting the versions under {prefix}"),
                    message: format!(
                        "{} of {n} not deleted, the first {}: {}",
                        out.errors().len(),
                        failed.key().unwrap_or("?"),
                        failed.message().unwrap_or("no reason given")
                    ),
                    transient: true,
                });
            }
            if exact && n < 1000 && !page.is_truncated().unwrap_or(false) {
                return Ok(keys.len());
            }
        }
    }
}

/// Maps an SDK error to ours, classifying throttling, timeouts and 5xx as transient.
pub(crate) fn sdk_error<E, R>(context: String, err: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => matches!(
            err.code(),
            Some(
                "SlowDown"
                    | "InternalError"
                    | "ServiceUnavailable"
                    | "RequestTimeout"
                    | "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
            )
        ),
        _ => false,
    };
    StorageError::Backend {
        context,
        message: DisplayErrorContext(&err).to_string(),
        transient,
    }
}

pub(crate) use sdk_error as aws_error;

/// Percent-encodes a `bucket/key` copy source, keeping `/` and unreserved characters.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + 1);
    for b in format!("{bucket}/{key}").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_stream(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        validate_key(key)?;
        let first = read_chunk(body, key).await?;
        if first.len() < PART_SIZE {
            let len = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|e| sdk_error(format!("writing {key}"), e))?;
            return Ok(len);
        }
        self.put_multipart(key, first, body).await
    }

    /// A SigV4 query-string presigned `PutObject` with `Content-Length` among the signed
    /// headers, so S3 refuses a body of another size.
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        expires_in: std::time::Duration,
    ) -> Result<Option<PresignedRequest>, StorageError> {
        validate_key(key)?;
        let config =
            aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in).map_err(|e| {
                StorageError::Backend {
                    context: format!("presigning an upload to {key}"),
                    message: e.to_string(),
                    transient: false,
                }
            })?;
        let length = i64::try_from(size).map_err(|_| StorageError::Backend {
            context: format!("presigning an upload to {key}"),
            message: format!("{size} bytes is too large"),
            transient: false,
        })?;
        let signed = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(|e| sdk_error(format!("presigning an upload to {key}"), e))?;
        Ok(Some(PresignedRequest {
            method: signed.method().to_owned(),
            url: signed.uri().to_owned(),
            headers: signed
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }))
    }

    /// A SigV4 query-string presigned `GetObject`.
    async fn presign_get(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<Option<PresignedRequest>, StorageError> {
        validate_key(key)?;
        let config =
            aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in).map_err(|e| {
                StorageError::Backend {
                    context: format!("presigning a download of {key}"),
                    message: e.to_string(),
                    transient: false,
                }
            })?;
        let signed = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| sdk_error(format!("presigning a download of {key}"), e))?;
        Ok(Some(PresignedRequest {
            method: signed.method().to_owned(),
            url: signed.uri().to_owned(),
            headers: signed
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }))
    }

    async fn get_stream(&self, key: &str) -> Result<ObjectReader, StorageError> {
        validate_key(key)?;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Box::new(out.body.into_async_read())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                Err(StorageError::NotFound(key.to_owned()))
            }
            Err(e) => Err(sdk_error(format!("reading {key}"), e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        validate_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: out.content_length().unwrap_or(0).max(0) as u64,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_error(format!("inspecting {key}"), e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(format!("listing {prefix}"), e))?;
            for obj in page.contents() {
                if let Some(key) = obj.key() {
                    out.push(ObjectInfo {
                        key: key.to_owned(),
                        size: obj.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(format!("deleting {key}"), e))?;
        Ok(())
    }

    async fn delete_all_versions(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.delete_versions(key, true).await.map(|_| ())
    }

    async fn purge_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::Backend {
                context: "purging a prefix".into(),
                message: "an empty prefix would delete everything; name a study's prefix".into(),
                transient: false,
            });
        }
        validate_prefix(prefix)?;
        self.delete_versions(prefix, false).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        validate_key(from)?;
        validate_key(to)?;
        // CopyObject copies up to 5 GB server-side; DICOM files are far below that.
        match self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(copy_source(&self.bucket, from))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchKey") => Err(StorageError::NotFound(from.to_owned())),
            Err(e) => Err(sdk_error(format!("copying {from} to {to}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_source;

    #[test]
    fn copy_source_is_percent_encoded() {
        assert_eq!(
            copy_source("b", "inbox/G1/r 1/a+b.dcm"),
            "b/inbox/G1/r%201/a%2Bb.dcm"
        );
    }
}
