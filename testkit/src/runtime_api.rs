//! An emulator of the AWS Lambda Runtime API (version 2018-06-01) on 127.0.0.1, to run a
//! built Lambda bootstrap on this machine as Lambda runs it: the test starts the bootstrap
//! with `AWS_LAMBDA_RUNTIME_API` set to [`RuntimeApi::address`], queues an event with
//! [`RuntimeApi::invoke`] and gets back what the function posted.
//!
//! The four documented calls are served:
//!
//! | call | what the emulator does |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | waits for a queued event; answers it with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | records the response of that invocation, `202` |
//! | `POST /2018-06-01/runtime/invocation/{id}/error` | records the error (body and `Lambda-Runtime-Function-Error-Type`), `202` |
//! | `POST /2018-06-01/runtime/init/error` | records the initialization error, `202` |
//!
//! An unknown request id is answered `400` (`InvalidRequestID`) as Lambda does, and so is a
//! second answer to the same invocation. The first `next` call marks the end of the
//! function's initialization: [`RuntimeApi::wait_ready`] gives the time from the emulator's
//! start (or [`RuntimeApi::reset_clock`]) to that call, what Lambda reports as
//! `Init Duration`.
//!
//! Only the standard library is used: one thread accepts, one thread serves each connection
//! (the runtime clients keep their connection alive), bodies are bounded.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Largest request body accepted (Lambda's synchronous response limit is 6 MB).
pub const MAX_BODY: usize = 6 * 1024 * 1024;

/// The function ARN the emulator reports.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:medimint-test";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function posted a response: the body as it sent it.
    Response(String),
    /// The function posted an error: `Lambda-Runtime-Function-Error-Type` and the body
    /// (`{"errorType": ..., "errorMessage": ...}`).
    Error {
        /// The header's value, if sent.
        error_type: Option<String>,
        /// The error document.
        body: String,
    },
}

impl Outcome {
    /// The response body, or an `Err` describing the error the function posted.
    ///
    /// # Errors
    /// The function answered with an error.
    pub fn response(self) -> Result<String, String> {
        match self {
            Outcome::Response(body) => Ok(body),
            Outcome::Error { error_type, body } => Err(format!(
                "the function answered an error ({}): {body}",
                error_type.unwrap_or_else(|| "no type".into())
            )),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    in_flight: HashMap<String, ()>,
    done: HashMap<String, Outcome>,
    init_error: Option<Outcome>,
    first_poll: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closed: AtomicBool,
    deadline_ms: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator. Stops serving on drop (a runtime blocked in `next` then sees its
/// connection closed).
pub struct RuntimeApi {
    shared: Arc<Shared>,
    port: u16,
    started: Mutex<Instant>,
    next_id: AtomicU64,
}

/// Why the function did not become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// It posted an initialization error.
    InitError(Outcome),
    /// It did not ask for an event in time.
    Timeout(Duration),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::InitError(o) => write!(f, "the function posted an init error: {o:?}"),
            NotReady::Timeout(d) => write!(f, "the function did not ask for an event within {d:?}"),
        }
    }
}

impl RuntimeApi {
    /// Starts serving on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// No loopback port could be bound.
    pub fn start() -> Result<Self, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("cannot bind a loopback port for the runtime API: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound port: {e}"))?
            .port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            deadline_ms: AtomicU64::new(900_000),
        });
        let accept = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.closed.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = accept.clone();
                std::thread::spawn(move || serve(&conn, stream));
            }
        });
        Ok(Self {
            shared,
            port,
            started: Mutex::new(Instant::now()),
            next_id: AtomicU64::new(1),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The time an invocation may run, reported as `Lambda-Runtime-Deadline-Ms` (default
    /// 900 s, Lambda's largest timeout).
    pub fn set_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.shared.deadline_ms.store(ms, Ordering::SeqCst);
    }

    /// Restarts the init clock: call it just before starting the bootstrap.
    pub fn reset_clock(&self) {
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.shared.lock().first_poll = None;
    }

    /// Waits until the function asks for its first event, and gives the time since the start
    /// (or [`Self::reset_clock`]): the function's init duration.
    ///
    /// # Errors
    /// [`NotReady::InitError`] if it posted an init error first; [`NotReady::Timeout`].
    pub fn wait_ready(&self, timeout: Duration) -> Result<Duration, NotReady> {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(e) = &state.init_error {
                return Err(NotReady::InitError(e.clone()));
            }
            if let Some(at) = state.first_poll {
                return Ok(at.saturating_duration_since(started));
            }
            let now = Instant::now();
            if now >= until {
                return Err(NotReady::Timeout(timeout));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The initialization error the function posted, if any.
    pub fn init_error(&self) -> Option<Outcome> {
        self.shared.lock().init_error.clone()
    }

    /// Queues `event` (a JSON document) and waits for the function's answer.
    ///
    /// # Errors
    /// No answer within `timeout`.
    pub fn invoke(&self, event: &str, timeout: Duration) -> Result<Outcome, String> {
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        state.queue.push_back((id.clone(), event.to_owned()));
        self.shared.changed.notify_all();
        loop {
            if let Some(outcome) = state.done.get(&id) {
                return Ok(outcome.clone());
            }
            let now = Instant::now();
            if now >= until {
                return Err(format!(
                    "invocation {id} got no answer within {timeout:?} (is the bootstrap running?)"
                ));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wakes the accepting thread so that it sees `closed`.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Reads one request; `Ok(None)` when the client closed the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed in the headers".into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if headers.len() > 100 {
            return Err("more than 100 headers".into());
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("bad chunk size {size:?}"))?;
            if body.len() + size > MAX_BODY {
                return Err(format!("body over {MAX_BODY} bytes"));
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length {len}"))?;
        if len > MAX_BODY {
            return Err(format!("body of {len} bytes is over {MAX_BODY}"));
        }
        body = vec![0; len];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

fn reply(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) -> bool {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).is_ok() && stream.write_all(body).is_ok()
}

fn serve(shared: &Shared, stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let body = format!(r#"{{"errorType":"InvalidRequest","errorMessage":{e:?}}}"#);
                reply(&mut writer, "400 Bad Request", &[], body.as_bytes());
                return;
            }
        };
        if !handle(shared, &request, &mut writer) {
            return;
        }
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

/// Serves one request; false when the connection should end.
fn handle(shared: &Shared, request: &Request, writer: &mut TcpStream) -> bool {
    let route = request.path.strip_prefix(PREFIX).unwrap_or("");
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let error_type = request
        .headers
        .get("lambda-runtime-function-error-type")
        .cloned();
    match (request.method.as_str(), route) {
        ("GET", "invocation/next") => {
            let mut state = shared.lock();
            if state.first_poll.is_none() {
                state.first_poll = Some(Instant::now());
                shared.changed.notify_all();
            }
            let (id, event) = loop {
                if shared.closed.load(Ordering::SeqCst) {
                    return false;
                }
                if let Some(next) = state.queue.pop_front() {
                    break next;
                }
                state = shared
                    .changed
                    .wait_timeout(state, Duration::from_millis(200))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            };
            state.in_flight.insert(id.clone(), ());
            drop(state);
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let deadline = now_ms + u128::from(shared.deadline_ms.load(Ordering::SeqCst));
            reply(
                writer,
                "200 OK",
                &[
                    ("lambda-runtime-aws-request-id", id.clone()),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.into()),
                    (
                        "lambda-runtime-trace-id",
                        format!("Root=1-00000000-{id:0>24.24};Parent=0000000000000001;Sampled=0"),
                    ),
                ],
                event.as_bytes(),
            )
        }
        ("POST", "init/error") => {
            let mut state = shared.lock();
            state.init_error = Some(Outcome::Error { error_type, body });
            shared.changed.notify_all();
            drop(state);
            reply(writer, "202 Accepted", &[], br#"{"status":"OK"}"#)
        }
        ("POST", r) => {
            let parsed = r
                .strip_prefix("invocation/")
                .and_then(|rest| rest.split_once('/'));
            let outcome = match parsed {
                Some((id, "response")) => Some((id, Outcome::Response(body))),
                Some((id, "error")) => Some((id, Outcome::Error { error_type, body })),
                _ => None,
            };
            let Some((id, outcome)) = outcome else {
                return reply(writer, "404 Not Found", &[], br#"{"errorType":"NotFound"}"#);
            };
            let mut state = shared.lock();
            if state.in_flight.remove(id).is_none() {
                drop(state);
                return reply(
                    writer,
                    "400 Bad Request",
                    &[],
                    br#"{"errorType":"InvalidRequestID","errorMessage":"no invocation in flight with this id"}"#,
                );
            }
            state.done.insert(id.to_owned(), outcome);
            shared.changed.notify_all();
            drop(state);
            reply(writer, "202 Accepted", &[], br#"{"status":"OK"}"#)
        }
        _ => reply(writer, "404 Not Found", &[], br#"{"errorType":"NotFound"}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh connection, as a runtime client would send it.
    fn call(
        api: &RuntimeApi,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, HashMap<String, String>, String) {
        let mut s = TcpStream::connect(api.address()).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut reader = BufReader::new(s);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        (code, headers, String::from_utf8(body).unwrap())
    }

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    #[test]
    fn an_event_goes_out_through_next_and_its_response_comes_back() {
        let api = Arc::new(RuntimeApi::start().unwrap());
        let invoker = api.clone();
        let handle = std::thread::spawn(move || {
            invoker.invoke(r#"{"hello":"world"}"#, Duration::from_secs(30))
        });
        let (code, headers, event) = call(&api, "GET", NEXT, &[], "");
        assert_eq!(code, 200);
        assert_eq!(event, r#"{"hello":"world"}"#);
        assert_eq!(headers["lambda-runtime-invoked-function-arn"], FUNCTION_ARN);
        assert!(headers["lambda-runtime-trace-id"].starts_with("Root=1-"));
        let deadline: u128 = headers["lambda-runtime-deadline-ms"].parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(deadline > now, "the deadline is in the future");
        let id = headers["lambda-runtime-aws-request-id"].clone();
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        let (code, _, _) = call(&api, "POST", &path, &[], r#"{"ok":true}"#);
        assert_eq!(code, 202);
        let outcome = handle.join().unwrap().unwrap();
        assert_eq!(outcome, Outcome::Response(r#"{"ok":true}"#.into()));
        // A second answer to the same invocation is refused.
        let (code, _, body) = call(&api, "POST", &path, &[], "{}");
        assert_eq!(code, 400);
        assert!(body.contains("InvalidRequestID"), "{body}");
        assert!(api.wait_ready(Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn an_error_keeps_its_type_and_document() {
        let api = Arc::new(RuntimeApi::start().unwrap());
        let invoker = api.clone();
        let handle = std::thread::spawn(move || invoker.invoke("{}", Duration::from_secs(30)));
        let (_, headers, _) = call(&api, "GET", NEXT, &[], "");
        let id = &headers["lambda-runtime-aws-request-id"];
        let doc = r#"{"errorType":"Malformed","errorMessage":"not an SQS batch"}"#;
        let (code, _, _) = call(
            &api,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.Malformed")],
            doc,
        );
        assert_eq!(code, 202);
        let outcome = handle.join().unwrap().unwrap();
        assert_eq!(
            outcome,
            Outcome::Error {
                error_type: Some("Runtime.Malformed".into()),
                body: doc.into()
            }
        );
        let err = outcome.response().unwrap_err();
        assert!(err.contains("not an SQS batch"), "{err}");
    }

    #[test]
    fn an_init_error_is_reported_instead_of_readiness() {
        let api = RuntimeApi::start().unwrap();
        let (code, _, _) = call(
            &api,
            "POST",
            "/2018-06-01/runtime/init/error",
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")],
            r#"{"errorMessage":"MEDIMINT_TABLE is not set"}"#,
        );
        assert_eq!(code, 202);
        match api.wait_ready(Duration::from_secs(1)) {
            Err(NotReady::InitError(Outcome::Error { error_type, body })) => {
                assert_eq!(error_type.as_deref(), Some("Runtime.ConfigError"));
                assert!(body.contains("MEDIMINT_TABLE"), "{body}");
            }
            other => panic!("expected the init error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_ids_paths_and_oversized_bodies_are_refused() {
        let api = RuntimeApi::start().unwrap();
        let (code, _, body) = call(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/nope/response",
            &[],
            "{}",
        );
        assert_eq!(code, 400);
        assert!(body.contains("InvalidRequestID"), "{body}");
        let (code, _, _) = call(&api, "GET", "/2018-06-01/runtime/elsewhere", &[], "");
        assert_eq!(code, 404);
        // A declared 1 GiB body is refused before anything is allocated for it.
        let mut s = TcpStream::connect(api.address()).unwrap();
        s.write_all(
            b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\ncontent-length: 1073741824\r\n\r\n",
        )
        .unwrap();
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
        assert_eq!(api.init_error(), None);
        // Nothing asked for an event: not ready.
        assert_eq!(
            api.wait_ready(Duration::from_millis(50)),
            Err(NotReady::Timeout(Duration::from_millis(50)))
        );
    }
}
