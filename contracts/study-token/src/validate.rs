//! Validation of a release before anything is written.
use crate::errors::StudyTokenError as Error;
use crate::types::Release;

/// Scheme every metadata URI starts with.
const IPFS_PREFIX: &[u8] = b"ipfs://";
/// Shortest accepted CID (multibase prefix `b` plus a minimal CIDv1).
pub const MIN_CID_LEN: u32 = 8;
/// Longest accepted CID, in characters (a sha2-256 CIDv1 in base32 has 59).
pub const MAX_CID_LEN: u32 = 100;
/// Largest file count of one study.
pub const MAX_FILE_COUNT: u32 = 1_000_000;

const MAX_URI_LEN: usize = IPFS_PREFIX.len() + MAX_CID_LEN as usize;

pub fn release(release: &Release) -> Result<(), Error> {
    metadata_uri(release)?;
    if release.commitment.to_array() == [0u8; 32] {
        return Err(Error::InvalidCommitment);
    }
    if release.file_count == 0 || release.file_count > MAX_FILE_COUNT {
        return Err(Error::InvalidFileCount);
    }
    Ok(())
}

/// `ipfs://` + `b` (multibase base32) + lower-case RFC 4648 base32 without padding.
fn metadata_uri(release: &Release) -> Result<(), Error> {
    let len = release.metadata_uri.len() as usize;
    let prefix = IPFS_PREFIX.len();
    if len < prefix + MIN_CID_LEN as usize || len > MAX_URI_LEN {
        return Err(Error::InvalidMetadataUri);
    }
    let mut buf = [0u8; MAX_URI_LEN];
    let uri = &mut buf[..len];
    release.metadata_uri.copy_into_slice(uri);
    let (scheme, cid) = uri.split_at(prefix);
    if scheme != IPFS_PREFIX || cid[0] != b'b' {
        return Err(Error::InvalidMetadataUri);
    }
    if !cid[1..]
        .iter()
        .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(c))
    {
        return Err(Error::InvalidMetadataUri);
    }
    Ok(())
}
