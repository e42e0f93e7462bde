//! Real parts for tests: moto's AWS server on a loopback port, and the real DICOM files that
//! pydicom's wheel carries. Both come from PyPI, pinned in `scripts/requirements-test.txt`:
//! `scripts/setup` installs them into `target/venv` and `scripts/test` puts its `bin` first on
//! `PATH`, where `moto_server` and `python3` are looked up. Also an emulator of the Lambda
//! Runtime API ([`runtime_api`]), to run the built Lambda bootstraps on this machine.

pub mod runtime_api;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to do when moto or pydicom is missing.
const SETUP_HINT: &str = "run the tests with `scripts/test`, which installs moto and pydicom into \
target/venv and puts its bin first on PATH (or run `scripts/setup && . target/setup.env` before \
`cargo test`)";

/// A moto server (S3, DynamoDB, Secrets Manager, SQS...) on 127.0.0.1, stopped on drop.
/// Each instance has its own port and so its own empty state.
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Region and dummy credentials the AWS SDK clients should use against moto.
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

impl MotoServer {
    /// Starts `moto_server` (or `python3 -m moto.server`) and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self, String> {
        let port = free_port()?;
        let mut child = spawn_moto(port)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        while Instant::now() < deadline {
            // Ready means answering HTTP, not only accepting: under load the server has been
            // seen to accept and then reset the first connection.
            if answers_http(&addr) {
                return Ok(Self { child, port });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("moto server exited with {status}; {SETUP_HINT}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        Err("moto server did not accept connections within 30 s".into())
    }

    /// The endpoint URL to give the AWS SDK (`endpoint_url`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_moto(port: u16) -> Result<Child, String> {
    let port = port.to_string();
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    };
    let mut direct = Command::new("moto_server");
    direct.args(["-H", "127.0.0.1", "-p", &port]);
    quiet(&mut direct);
    if let Ok(child) = direct.spawn() {
        return Ok(child);
    }
    let mut module = Command::new("python3");
    module.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port]);
    quiet(&mut module);
    module
        .spawn()
        .map_err(|e| format!("cannot start moto's server ({e}); {SETUP_HINT}"))
}

/// Whether an HTTP request to `addr` gets an HTTP response.
fn answers_http(addr: &SocketAddrV4) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(&(*addr).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 7];
    s.read_exact(&mut head).is_ok() && &head == b"HTTP/1."
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

/// The folder of real DICOM files in pydicom's installed wheel (`pydicom/data/test_files`).
pub fn pydicom_test_files() -> Result<PathBuf, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, pydicom.data; print(os.path.join(os.path.dirname(pydicom.data.__file__), 'test_files'))",
        ])
        .output()
        .map_err(|e| format!("cannot run python3 ({e}); {SETUP_HINT}"))?;
    if !out.status.success() {
        return Err(format!("python3 cannot import pydicom; {SETUP_HINT}"));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!("{} is not a directory", dir.display()))
    }
}

/// One named file of pydicom's test data, e.g. `CT_small.dcm`.
pub fn pydicom_file(name: &str) -> Result<PathBuf, String> {
    let path = pydicom_test_files()?.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing from pydicom's test data",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_answers_http_on_its_port() {
        use std::io::{Read, Write};
        let moto = MotoServer::start().expect("moto");
        let mut s = TcpStream::connect(("127.0.0.1", moto.port())).unwrap();
        s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1."), "{reply}");
    }

    #[test]
    fn pydicom_ships_ct_small() {
        let p = pydicom_file("CT_small.dcm").unwrap();
        let bytes = std::fs::read(p).unwrap();
        assert_eq!(&bytes[128..132], b"DICM");
    }
}
