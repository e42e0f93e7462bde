//! Object keys shared by every adapter, so that a key valid for S3 is valid on disk too.

use crate::StorageError;

/// Longest key accepted (S3's limit is 1024 bytes).
pub const MAX_KEY_LEN: usize = 1024;

/// The reserved top-level folder the local adapter writes temporary files into.
pub(crate) const TMP_DIR: &str = ".medimint-tmp";

/// Checks that `key` is a relative, `/`-separated path without empty, `.` or `..` segments,
/// control characters or backslashes, so that no adapter can be led outside its root.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let bad = |reason| {
        Err(StorageError::InvalidKey {
            key: key.chars().take(200).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return bad("contains a control character or a backslash");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("has an empty segment (leading, trailing or double '/')"),
            "." | ".." => return bad("has a '.' or '..' segment"),
            _ => {}
        }
    }
    if key == TMP_DIR || key.starts_with(&format!("{TMP_DIR}/")) {
        return bad("uses the reserved temporary folder");
    }
    Ok(())
}

/// Checks a listing prefix: empty, or a key prefix (it may end with `/`).
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), StorageError> {
    if prefix.is_empty() {
        return Ok(());
    }
    validate_key(prefix.strip_suffix('/').unwrap_or(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for k in ["a", "inbox/GABC/r1/IM0001.dcm", "meta/bafy", "x y/z.dcm"] {
            validate_key(k).unwrap();
        }
    }

    #[test]
    fn rejects_escaping_keys() {
        for k in [
            "",
            "/abs",
            "a//b",
            "a/",
            "../x",
            "a/./b",
            "a\\b",
            "a\nb",
            ".medimint-tmp/x",
        ] {
            assert!(
                matches!(validate_key(k), Err(StorageError::InvalidKey { .. })),
                "{k:?}"
            );
        }
        assert!(validate_key(&"a".repeat(1025)).is_err());
    }
}
