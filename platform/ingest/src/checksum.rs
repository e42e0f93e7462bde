//! The study checksum root and `verify`.
//!
//! The root is the RFC 6962 (Certificate Transparency) Merkle Tree Hash over the SHA-256
//! digests of the study's original files, sorted ascending as bytes. Sorting by digest makes
//! the root independent of file names and export order, so files restored under other names
//! still verify; the per-file digests with their paths live in the encrypted metadata so that
//! [`verify`] can name what differs. See docs/ingest.md.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// One file's digest under its path in the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChecksum {
    /// Path relative to the release folder.
    pub path: String,
    /// Hex SHA-256 of the original file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The Merkle root over `digests` (any order; sorted here). Duplicates count once each.
pub fn checksum_root(digests: &[[u8; 32]]) -> [u8; 32] {
    let mut sorted = digests.to_vec();
    sorted.sort_unstable();
    mth(&sorted)
}

/// RFC 6962 section 2.1: leaf = H(0x00 || d), node = H(0x01 || left || right), split at the
/// largest power of two below n.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(leaves[0]);
            h.finalize().into()
        }
        n => {
            // Largest power of two strictly below n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

/// SHA-256 and size of a stream, read in 64 KiB chunks.
pub async fn hash_reader(
    reader: &mut (dyn AsyncRead + Send + Unpin),
) -> std::io::Result<([u8; 32], u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((h.finalize().into(), size))
}

/// A file presented to [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedFile {
    /// How the caller names it (a path on their disk).
    pub name: String,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    /// Hex root recomputed over the presented files.
    pub computed_root: String,
    /// Whether it equals the expected root.
    pub root_matches: bool,
    /// Presented files whose digest is one of the study's: (presented name, listed path).
    pub matching: Vec<(String, String)>,
    /// Presented files named like a listed file whose content differs.
    pub differs: Vec<String>,
    /// Listed files no presented file matches.
    pub missing: Vec<String>,
    /// Presented files that match nothing listed.
    pub extra: Vec<String>,
}

impl Verification {
    /// Whether the files are exactly the study.
    pub fn is_intact(&self) -> bool {
        self.root_matches
            && self.differs.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
    }
}

/// Compares presented files with the study's root and (when known) its per-file digests.
/// A file is matched by content first, so a renamed file still matches; a file not matched
/// by content but named like a listed file (same path, or same last path component) differs.
pub fn verify(
    files: &[PresentedFile],
    expected_root: &str,
    listed: &[FileChecksum],
) -> Verification {
    let digests: Vec<[u8; 32]> = files.iter().map(|f| f.sha256).collect();
    let computed_root = hex::encode(checksum_root(&digests));
    let root_matches = computed_root.eq_ignore_ascii_case(expected_root.trim());
    let mut by_digest: HashMap<String, usize> = HashMap::new();
    for (i, l) in listed.iter().enumerate() {
        by_digest.insert(l.sha256.to_ascii_lowercase(), i);
    }
    let mut used = vec![false; listed.len()];
    let mut v = Verification {
        computed_root,
        root_matches,
        matching: Vec::new(),
        differs: Vec::new(),
        missing: Vec::new(),
        extra: Vec::new(),
    };
    let mut unmatched = Vec::new();
    for f in files {
        match by_digest.get(&hex::encode(f.sha256)) {
            Some(&i) if !used[i] => {
                used[i] = true;
                v.matching.push((f.name.clone(), listed[i].path.clone()));
            }
            _ => unmatched.push(f),
        }
    }
    let last = |p: &str| p.rsplit(['/', '\\']).next().unwrap_or(p).to_owned();
    for f in unmatched {
        let same_name = (0..listed.len()).find(|&i| {
            !used[i] && (listed[i].path == f.name || last(&listed[i].path) == last(&f.name))
        });
        match same_name {
            Some(i) => {
                used[i] = true;
                v.differs.push(f.name.clone());
            }
            None => v.extra.push(f.name.clone()),
        }
    }
    v.missing = listed
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(l, _)| l.path.clone())
        .collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> [u8; 32] {
        [b; 32]
    }

    fn leaf(x: [u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(x);
        h.finalize().into()
    }

    fn node(l: [u8; 32], r: [u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    }

    #[test]
    fn root_follows_rfc6962_shape() {
        assert_eq!(checksum_root(&[d(1)]), leaf(d(1)));
        assert_eq!(checksum_root(&[d(2), d(1)]), node(leaf(d(1)), leaf(d(2))));
        // Three leaves: split 2 + 1.
        assert_eq!(
            checksum_root(&[d(3), d(1), d(2)]),
            node(node(leaf(d(1)), leaf(d(2))), leaf(d(3)))
        );
        // Five leaves: split 4 + 1.
        let four = node(node(leaf(d(1)), leaf(d(2))), node(leaf(d(3)), leaf(d(4))));
        assert_eq!(
            checksum_root(&[d(5), d(4), d(3), d(2), d(1)]),
            node(four, leaf(d(5)))
        );
    }

    #[test]
    fn root_is_order_independent_and_content_sensitive() {
        let a = checksum_root(&[d(1), d(2), d(3)]);
        assert_eq!(a, checksum_root(&[d(3), d(2), d(1)]));
        assert_ne!(a, checksum_root(&[d(1), d(2), d(4)]));
        assert_ne!(a, checksum_root(&[d(1), d(2)]));
    }

    fn listed(path: &str, b: u8) -> FileChecksum {
        FileChecksum {
            path: path.into(),
            sha256: hex::encode(d(b)),
            size: 1,
        }
    }

    fn presented(name: &str, b: u8) -> PresentedFile {
        PresentedFile {
            name: name.into(),
            sha256: d(b),
        }
    }

    #[test]
    fn verify_names_what_differs_is_missing_or_extra() {
        let study = [
            listed("s/a.dcm", 1),
            listed("s/b.dcm", 2),
            listed("s/c.dcm", 3),
        ];
        let root = hex::encode(checksum_root(&[d(1), d(2), d(3)]));
        // Intact, renamed and reordered.
        let ok = verify(
            &[
                presented("/r/x", 3),
                presented("/r/y", 1),
                presented("/r/z", 2),
            ],
            &root,
            &study,
        );
        assert!(ok.is_intact(), "{ok:?}");
        assert_eq!(ok.matching.len(), 3);
        // b changed, c gone, an extra file.
        let bad = verify(
            &[
                presented("/r/a.dcm", 1),
                presented("/restore/b.dcm", 9),
                presented("/r/new.dcm", 7),
            ],
            &root,
            &study,
        );
        assert!(!bad.root_matches);
        assert_eq!(bad.differs, ["/restore/b.dcm"]);
        assert_eq!(bad.missing, ["s/c.dcm"]);
        assert_eq!(bad.extra, ["/r/new.dcm"]);
        assert!(!bad.is_intact());
    }
}
