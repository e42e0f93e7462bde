//! [`SecretBuf`]: a byte buffer for plaintext and keys' neighbours, wiped when dropped.
//!
//! `zeroize::Zeroizing<Vec<u8>>` wipes a `Vec` element by element with volatile writes
//! (zeroize 1.9's `Vec<Z>` impl goes through each `Z`), about one byte a cycle: for the
//! pipeline's 1 MiB pieces, `perf` put that at a tenth of a release of 2,000 small files
//! (docs/performance.md, "One-pass release"). A byte slice is wiped in bulk (zeroize's
//! `[u8]` impl: `memset`, then an optimisation barrier), which is what this buffer does, for
//! its contents and its spare capacity.

use zeroize::Zeroize;

/// Bytes wiped in bulk when dropped. Derefs to a slice: it never grows (a reallocation would
/// leave an unwiped copy behind).
#[derive(Default)]
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        Self(vec![0u8; len])
    }
}

impl std::ops::Deref for SecretBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for SecretBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl std::fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBuf({} bytes)", self.0.len())
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
        self.0.spare_capacity_mut().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_wiped_in_bulk_before_it_is_freed() {
        let mut b = SecretBuf::zeroed(1000);
        b[..3].copy_from_slice(b"abc");
        assert_eq!(&b[..4], b"abc\0");
        // What drop runs, on a buffer we still own.
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"secret");
        let mut kept = SecretBuf(v);
        kept.0.as_mut_slice().zeroize();
        kept.0.spare_capacity_mut().zeroize();
        assert!(kept.iter().all(|&x| x == 0));
        assert_eq!(format!("{kept:?}"), "SecretBuf(6 bytes)");
        assert!(SecretBuf::default().is_empty());
    }
}
