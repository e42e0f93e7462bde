//! A few 1 MiB buffers kept for reuse by the local store's writes and by the small files it
//! (or a release of files on disk) reads whole ([`crate::local::open_file`]). A fresh zeroed 1 MiB
//! buffer per object costs a memset and 256 page faults: for a study of 2,000 files of
//! 512 KiB, `perf` put the store's buffer allocations at about a sixth of the release
//! pipeline's samples (docs/performance.md, "Ingest end to end").
//!
//! Buffers are not wiped between uses (as freed heap memory is not): every user reads only
//! the part it filled itself.

use std::sync::Mutex;

/// The size of every pooled buffer.
pub const PIECE: usize = 1 << 20;

/// At most this many idle buffers are kept (16 MiB); more are freed.
const KEEP: usize = 16;

static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`PIECE`] bytes (contents unspecified).
pub fn take() -> Vec<u8> {
    let reused = IDLE.lock().unwrap_or_else(|p| p.into_inner()).pop();
    reused.unwrap_or_else(|| vec![0u8; PIECE])
}

/// Gives a buffer back for reuse; one of another size is dropped.
pub fn give(buf: Vec<u8>) {
    if buf.len() != PIECE {
        return;
    }
    let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
    if idle.len() < KEEP {
        idle.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_whole_pieces_and_come_back() {
        let a = take();
        assert_eq!(a.len(), PIECE);
        give(a);
        // Another test may take it in between; either way a full piece comes back.
        assert_eq!(take().len(), PIECE);
        give(vec![0u8; 10]); // not a piece: dropped, never handed out
        for _ in 0..KEEP + 4 {
            assert_eq!(take().len(), PIECE);
        }
    }
}
