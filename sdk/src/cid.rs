//! Content addresses: CIDv1, codec `raw` (0x55), multihash sha2-256 (0x12), multibase base32
//! lower-case (`b…`), and the `ipfs://` URI built on it.
//!
//! An object stored under a CID is a single raw block. IPFS chunks files larger than its
//! block limit into a DAG whose root CID differs from the raw-block CID, so objects above
//! [`MAX_OBJECT_SIZE`] are refused: that way pinning `meta/<cid>` to IPFS later yields the
//! very same CID.

use cid::multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec code of `raw` binary.
pub const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// Largest object addressed as one block: 1 MiB.
pub const MAX_OBJECT_SIZE: usize = 1 << 20;

/// Why an object has no CID here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    /// The object is larger than one block.
    #[error("object is {size} bytes; a content-addressed object must be at most {max} bytes (1 MiB, one IPFS block)")]
    TooLarge {
        /// Size of the refused object.
        size: usize,
        /// The limit, [`MAX_OBJECT_SIZE`].
        max: usize,
    },
    /// A string that is not a CIDv1 raw sha2-256.
    #[error("not a CIDv1 raw sha2-256 content address: {0}")]
    Invalid(String),
}

/// The CIDv1 (raw, sha2-256, base32 lower) of `bytes`, e.g. `bafkrei…`.
pub fn cid_v1(bytes: &[u8]) -> Result<String, CidError> {
    if bytes.len() > MAX_OBJECT_SIZE {
        return Err(CidError::TooLarge {
            size: bytes.len(),
            max: MAX_OBJECT_SIZE,
        });
    }
    let digest = Sha256::digest(bytes);
    let hash = Multihash::<64>::wrap(SHA2_256, &digest).expect("32 bytes fit a 64-byte multihash");
    Ok(cid::Cid::new_v1(RAW_CODEC, hash).to_string())
}

/// `ipfs://<cid>` of `bytes`.
pub fn ipfs_uri(bytes: &[u8]) -> Result<String, CidError> {
    Ok(format!("ipfs://{}", cid_v1(bytes)?))
}

/// Whether `bytes` is the object addressed by `cid` (a CIDv1 raw sha2-256 string, or an
/// `ipfs://` URI of one).
pub fn verify(cid: &str, bytes: &[u8]) -> Result<bool, CidError> {
    let text = cid.strip_prefix("ipfs://").unwrap_or(cid);
    let parsed: cid::Cid = text
        .parse()
        .map_err(|_| CidError::Invalid(text.chars().take(80).collect()))?;
    if parsed.version() != cid::Version::V1
        || parsed.codec() != RAW_CODEC
        || parsed.hash().code() != SHA2_256
    {
        return Err(CidError::Invalid(text.chars().take(80).collect()));
    }
    if bytes.len() > MAX_OBJECT_SIZE {
        return Ok(false);
    }
    Ok(parsed.hash().digest() == &Sha256::digest(bytes)[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers: the well-known CID of the empty raw block, and "hello world" as computed
    // independently (Python: b"\x01\x55\x12\x20" + sha256, base32 lower, "b" prefix).
    #[test]
    fn known_cids() {
        assert_eq!(
            cid_v1(b"").unwrap(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(
            cid_v1(b"hello world").unwrap(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
    }

    #[test]
    fn uri_and_verify() {
        let uri = ipfs_uri(b"abc").unwrap();
        assert!(uri.starts_with("ipfs://bafkrei"));
        assert!(verify(&uri, b"abc").unwrap());
        assert!(!verify(&uri, b"abd").unwrap());
        assert!(matches!(verify("Qm123", b"x"), Err(CidError::Invalid(_))));
    }

    #[test]
    fn one_mib_is_allowed_and_one_more_byte_is_refused() {
        let ok = vec![0u8; MAX_OBJECT_SIZE];
        assert!(cid_v1(&ok).is_ok());
        let big = vec![0u8; MAX_OBJECT_SIZE + 1];
        let err = cid_v1(&big).unwrap_err();
        assert_eq!(
            err,
            CidError::TooLarge {
                size: MAX_OBJECT_SIZE + 1,
                max: MAX_OBJECT_SIZE
            }
        );
        assert!(err.to_string().contains("1048577 bytes"));
    }
}
