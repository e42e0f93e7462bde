//! The headers of a release's files between the validation pass and the metadata object:
//! kept in an anonymous temporary file (no name; gone when the release's attempt ends or the
//! process dies), so memory holds a position per file, not every header.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use crate::IngestError;

/// Where one header is in the spill file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Spilled {
    at: u64,
    len: u32,
}

/// An append-only file of serialized headers.
pub(crate) struct Spill {
    file: Mutex<File>,
}

fn failed(e: std::io::Error) -> IngestError {
    IngestError::Transient {
        step: "keeping the headers in a temporary file",
        message: format!("{e} (the temporary directory, TMPDIR, must be writable)"),
    }
}

impl Spill {
    /// A new anonymous file in the temporary directory.
    pub(crate) fn new() -> Result<Self, IngestError> {
        Ok(Self {
            file: Mutex::new(tempfile::tempfile().map_err(failed)?),
        })
    }

    /// Appends `bytes`; returns where they are.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<Spilled, IngestError> {
        let len = u32::try_from(bytes.len()).map_err(|_| IngestError::Transient {
            step: "keeping the headers in a temporary file",
            message: "a header's JSON is larger than 4 GiB".into(),
        })?;
        let mut file = self.file.lock().map_err(|_| IngestError::Transient {
            step: "keeping the headers in a temporary file",
            message: "a writer panicked".into(),
        })?;
        let at = file.seek(SeekFrom::End(0)).map_err(failed)?;
        file.write_all(bytes).map_err(failed)?;
        Ok(Spilled { at, len })
    }

    /// The bytes appended at `at`.
    pub(crate) fn read(&self, at: Spilled) -> Result<Vec<u8>, IngestError> {
        let mut out = vec![0u8; at.len as usize];
        let file = self.file.lock().map_err(|_| IngestError::Transient {
            step: "keeping the headers in a temporary file",
            message: "a writer panicked".into(),
        })?;
        file.read_exact_at(&mut out, at.at).map_err(failed)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_appended() {
        let spill = Spill::new().unwrap();
        let a = spill.append(b"{\"a\":1}").unwrap();
        let empty = spill.append(b"").unwrap();
        let b = spill.append(&[7u8; 100_000]).unwrap();
        assert_eq!(spill.read(b).unwrap(), vec![7u8; 100_000]);
        assert_eq!(spill.read(a).unwrap(), b"{\"a\":1}");
        assert!(spill.read(empty).unwrap().is_empty());
    }
}
