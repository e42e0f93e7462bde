//! The ledger state in the data directory: one snapshot file, written whole to a temporary
//! file, synced, then renamed over the old one, so a crash leaves either the old or the new
//! state and never a mix (see docs/devnet.md for why not an embedded database).
//!
//! History (transactions, events, ledger headers within the retention window) is kept beside
//! it in `history.xdr.b64`: one line per closed ledger holding its `LedgerCloseMeta` as
//! base64 XDR, appended as ledgers close and rewritten (atomically, like the snapshot) when
//! the node starts or when the file holds twice the retention window.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use soroban_env_host::xdr::{LedgerCloseMeta, LedgerEntry, Limits, ReadXdr, WriteXdr};

use crate::state::{key_of, LedgerState, StoredEntry};

const FILE: &str = "ledger.json";
const HISTORY: &str = "history.xdr.b64";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    passphrase: String,
    sequence: u32,
    close_time: u64,
    entries: Vec<SnapshotEntry>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotEntry {
    /// Base64 XDR of the LedgerEntry.
    entry: String,
    live_until: Option<u32>,
}

/// Errors reading or writing the data directory.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// I/O on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a snapshot this version understands.
    #[error("{path}: not a devnet ledger snapshot: {reason}")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The directory holds another network.
    #[error("{path} holds the network `{found}`, not `{wanted}`: use another data directory")]
    OtherNetwork {
        /// The path.
        path: PathBuf,
        /// Passphrase on disk.
        found: String,
        /// Passphrase asked for.
        wanted: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads the state from `dir`, or `None` if the directory holds no snapshot yet.
pub fn load(dir: &Path, passphrase: &str) -> Result<Option<LedgerState>, PersistError> {
    let path = dir.join(FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let corrupt = |reason: String| PersistError::Corrupt {
        path: path.clone(),
        reason,
    };
    let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if snap.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {} (expected {FORMAT_VERSION})",
            snap.version
        )));
    }
    if snap.passphrase != passphrase {
        return Err(PersistError::OtherNetwork {
            path,
            found: snap.passphrase,
            wanted: passphrase.to_string(),
        });
    }
    let mut entries = BTreeMap::new();
    for e in snap.entries {
        let entry = LedgerEntry::from_xdr_base64(&e.entry, Limits::none())
            .map_err(|x| corrupt(x.to_string()))?;
        let key = key_of(&entry).ok_or_else(|| corrupt("entry of an unsupported type".into()))?;
        entries.insert(
            key,
            StoredEntry {
                entry,
                live_until: e.live_until,
            },
        );
    }
    Ok(Some(LedgerState {
        sequence: snap.sequence,
        close_time: snap.close_time,
        entries,
    }))
}

/// Writes `state` to `dir` atomically.
pub fn save(dir: &Path, passphrase: &str, state: &LedgerState) -> Result<(), PersistError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let snap = Snapshot {
        version: FORMAT_VERSION,
        passphrase: passphrase.to_string(),
        sequence: state.sequence,
        close_time: state.close_time,
        entries: state
            .entries
            .values()
            .map(|e| SnapshotEntry {
                entry: e.entry.to_xdr_base64(Limits::none()).unwrap_or_default(),
                live_until: e.live_until,
            })
            .collect(),
    };
    let json = serde_json::to_vec(&snap).map_err(|e| PersistError::Corrupt {
        path: dir.join(FILE),
        reason: e.to_string(),
    })?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&json).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let path = dir.join(FILE);
    fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

/// Reads the ledgers of the history file, oldest first; a torn last line (a crash while
/// appending) is skipped. No file: no history.
pub fn load_history(dir: &Path) -> Result<Vec<LedgerCloseMeta>, PersistError> {
    let path = dir.join(HISTORY);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io(&path)(e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| LedgerCloseMeta::from_xdr_base64(l, Limits::none()).ok())
        .collect())
}

fn history_lines(metas: &[LedgerCloseMeta]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in metas {
        if let Ok(b) = m.to_xdr_base64(Limits::none()) {
            out.extend_from_slice(b.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// Appends ledgers to the history file (synced).
pub fn append_history(dir: &Path, metas: &[LedgerCloseMeta]) -> Result<(), PersistError> {
    if metas.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(HISTORY);
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    f.write_all(&history_lines(metas)).map_err(io(&path))?;
    f.sync_data().map_err(io(&path))?;
    Ok(())
}

/// Replaces the history file with `metas`, atomically.
pub fn rewrite_history(dir: &Path, metas: &[LedgerCloseMeta]) -> Result<(), PersistError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!("{HISTORY}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&history_lines(metas)).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let path = dir.join(HISTORY);
    fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = std::env::temp_dir().join(format!("devnet-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(load(&dir, "P").unwrap().is_none());
        let state = LedgerState {
            sequence: 42,
            close_time: 7,
            entries: BTreeMap::new(),
        };
        save(&dir, "P", &state).unwrap();
        let back = load(&dir, "P").unwrap().unwrap();
        assert_eq!((back.sequence, back.close_time), (42, 7));
        let err = load(&dir, "Q").err().unwrap();
        assert!(matches!(err, PersistError::OtherNetwork { .. }), "{err}");
        fs::write(dir.join(FILE), b"{ torn").unwrap();
        let err = load(&dir, "P").err().unwrap();
        assert!(
            err.to_string().contains("not a devnet ledger snapshot"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
