//! `multipart/related` answers (RFC 2387, PS3.18 §8.7.3.1): instances streamed from the
//! store as they are decrypted, and frames.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use medimint_platform::dicomweb::StudyIndex;
use medimint_platform::{FileStream, Platform};
use tokio::io::AsyncReadExt;

/// Bytes read from a decrypting file per body chunk.
const CHUNK: usize = 64 * 1024;

fn boundary() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn multipart_response(body: Body, kind: &str, boundary: &str, extra: &str) -> Response {
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "multipart/related; type=\"{kind}\"{extra}; boundary={boundary}"
    )) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The state of an instance stream.
struct Parts {
    platform: Arc<Platform>,
    index: Arc<StudyIndex>,
    todo: VecDeque<usize>,
    current: Option<FileStream>,
    boundary: String,
    closed: bool,
}

impl Parts {
    async fn next(mut self) -> std::io::Result<Option<(Bytes, Self)>> {
        if let Some(stream) = self.current.as_mut() {
            let mut buf = vec![0u8; CHUNK];
            let n = stream.read(&mut buf).await?;
            if n > 0 {
                buf.truncate(n);
                return Ok(Some((Bytes::from(buf), self)));
            }
            self.current = None;
            return Ok(Some((Bytes::from_static(b"\r\n"), self)));
        }
        if let Some(i) = self.todo.pop_front() {
            let stream = self
                .platform
                .instance_stream(&self.index, i)
                .await
                .map_err(std::io::Error::other)?;
            let head = format!(
                "--{}\r\nContent-Type: application/dicom\r\nContent-Length: {}\r\n\r\n",
                self.boundary, stream.file.size
            );
            self.current = Some(stream);
            return Ok(Some((Bytes::from(head), self)));
        }
        if !self.closed {
            self.closed = true;
            let end = format!("--{}--\r\n", self.boundary);
            return Ok(Some((Bytes::from(end), self)));
        }
        Ok(None)
    }
}

/// Instances `which` of a study, each decrypted as it streams (memory: one chunk). A file
/// that fails its decryption ends the body with an error, so the client sees a broken
/// message, never a shorter file.
pub fn instances(platform: Arc<Platform>, index: Arc<StudyIndex>, which: Vec<usize>) -> Response {
    let b = boundary();
    let parts = Parts {
        platform,
        index,
        todo: which.into(),
        current: None,
        boundary: b.clone(),
        closed: false,
    };
    let stream = futures_util::stream::try_unfold(parts, Parts::next);
    multipart_response(Body::from_stream(stream), "application/dicom", &b, "")
}

/// Frames, one part each.
pub fn frames(frames: Vec<Vec<u8>>, media_type: &str, transfer_syntax: &str) -> Response {
    let b = boundary();
    let mut body = Vec::with_capacity(frames.iter().map(Vec::len).sum::<usize>() + 256);
    for f in &frames {
        body.extend_from_slice(
            format!(
                "--{b}\r\nContent-Type: {media_type}; transfer-syntax={transfer_syntax}\r\nContent-Length: {}\r\n\r\n",
                f.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    multipart_response(
        Body::from(body),
        media_type,
        &b,
        &format!("; transfer-syntax={transfer_syntax}"),
    )
}
