//! The object layout: where uploads, studies, metadata, keys and reports live.

use crate::manifest::MANIFEST_NAME;

/// Where PACS exports land.
pub const INBOX: &str = "inbox";
/// Where rejected uploads and their reports go.
pub const QUARANTINE: &str = "quarantine";

/// Where a release's files wait, sealed, between the pass that reads them and the study they
/// join once the release is validated (each attempt in a folder of its own).
pub const STAGING: &str = "staging";

/// One release: the issuer's address and its release id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    /// The issuer's G-address.
    pub issuer: String,
    /// The issuer's release id.
    pub release_id: String,
}

impl ReleaseRef {
    /// `inbox/<issuer>/<release-id>/`.
    pub fn inbox_prefix(&self) -> String {
        format!("{INBOX}/{}/{}/", self.issuer, self.release_id)
    }

    /// `quarantine/<issuer>/<release-id>/`.
    pub fn quarantine_prefix(&self) -> String {
        format!("{QUARANTINE}/{}/{}/", self.issuer, self.release_id)
    }

    /// `staging/<issuer>/<release-id>/`: every attempt's staging folder is under it.
    pub fn staging_prefix(&self) -> String {
        format!("{STAGING}/{}/{}/", self.issuer, self.release_id)
    }

    /// The manifest's key.
    pub fn manifest_key(&self) -> String {
        format!("{}{MANIFEST_NAME}", self.inbox_prefix())
    }
}

/// Issuer addresses are Stellar G-addresses; release ids are the issuer's choice within
/// `[A-Za-z0-9._-]`, 1 to 128 characters.
fn is_release_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_g_address(s: &str) -> bool {
    s.len() == 56
        && s.starts_with('G')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

/// The release a key `inbox/<issuer>/<release-id>/release.json` triggers, or why the key is
/// not one (other keys are ignored: the files of a release arrive before its manifest).
pub fn parse_manifest_key(key: &str) -> Result<ReleaseRef, String> {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [INBOX, issuer, release_id, name] if *name == MANIFEST_NAME => {
            if !is_g_address(issuer) {
                return Err("the issuer folder is not a Stellar G-address".into());
            }
            if !is_release_id(release_id) {
                return Err("the release id must be 1-128 characters of [A-Za-z0-9._-]".into());
            }
            Ok(ReleaseRef {
                issuer: (*issuer).to_owned(),
                release_id: (*release_id).to_owned(),
            })
        }
        _ => Err("not inbox/<issuer>/<release-id>/release.json".into()),
    }
}

/// Study id: derived from the study's checksum root, which the token carries on chain and
/// which can be released once. Anyone holding the token finds the study's objects, and every
/// attempt at one release writes the same keys.
///
/// # Errors
/// A root that is not 64 hex digits.
pub fn study_id(checksum_root_hex: &str) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let root: [u8; 32] = hex::decode(checksum_root_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("checksum root {checksum_root_hex:?} is not 64 hex digits"))?;
    let mut h = Sha256::new();
    h.update(b"medimint/study-id/v2\0");
    h.update(root);
    Ok(hex::encode(&h.finalize()[..16]))
}

/// Where an encrypted original goes: named by the plaintext digest, never by the exported
/// file name (which may hold PHI).
pub fn study_file_key(study_id: &str, sha256_hex: &str) -> String {
    format!("studies/{study_id}/files/{sha256_hex}")
}

/// Where the study key wrapped to `address` goes.
pub fn wrapped_key_key(study_id: &str, address: &str) -> String {
    format!("keys/{study_id}/{address}")
}

/// Where the encrypted metadata object goes.
pub fn metadata_key(cid: &str) -> String {
    format!("meta/{cid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "GCEZWKCA5VLDNRLN3RPRJMRZOX3Z6G5CHCGSNFHEYVXM3XOJMDS674JZ";

    #[test]
    fn manifest_keys() {
        let r = parse_manifest_key(&format!("inbox/{G}/rel-2024.01_a/release.json")).unwrap();
        assert_eq!(r.issuer, G);
        assert_eq!(r.release_id, "rel-2024.01_a");
        assert_eq!(
            r.manifest_key(),
            format!("inbox/{G}/rel-2024.01_a/release.json")
        );
        for bad in [
            format!("inbox/{G}/r1/IM0001.dcm"),
            format!("inbox/{G}/r1/sub/release.json"),
            "inbox/notanaddress/r1/release.json".to_owned(),
            format!("inbox/{G}/r 1/release.json"),
            format!("quarantine/{G}/r1/release.json"),
        ] {
            assert!(parse_manifest_key(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn study_ids_are_stable_and_distinct() {
        let a = "ab".repeat(32);
        let b = "cd".repeat(32);
        assert_eq!(study_id(&a).unwrap(), study_id(&a.to_uppercase()).unwrap());
        assert_ne!(study_id(&a).unwrap(), study_id(&b).unwrap());
        assert_eq!(study_id(&a).unwrap().len(), 32);
        let err = study_id("abc").unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
    }
}

/// Decodes an object key as S3 event notifications spell it (URL-encoded, `+` for space).
/// Malformed escapes are kept as they are.
pub fn decode_s3_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.map(|h| u8::from_str_radix(h, 16)) {
                    Some(Ok(b)) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod decode_tests {
    use super::decode_s3_key;

    #[test]
    fn decodes_notification_keys() {
        assert_eq!(
            decode_s3_key("inbox/G/r1/a+b%2Bc.dcm"),
            "inbox/G/r1/a b+c.dcm"
        );
        assert_eq!(decode_s3_key("x%"), "x%");
        assert_eq!(decode_s3_key("x%zz"), "x%zz");
        assert_eq!(decode_s3_key("%C3%A9"), "é");
    }
}
