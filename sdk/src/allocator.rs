//! The C allocator's settings for a process that streams studies: call [`tune`] first thing
//! in `main`.
//!
//! Sealing, opening and storing a file allocate buffers of up to a few MiB (1 MiB pieces,
//! their ciphertext, a store's write pieces), used for one file and freed. With glibc's
//! defaults a freed buffer that leaves more than 128 KiB free at the top of a thread's heap
//! is handed back to the kernel at once (the trim threshold, which also follows the dynamic
//! mmap threshold), and the next file's buffer faults its pages in again and has them zeroed
//! by the kernel. For a study of 2,000 files of 512 KiB, `perf` put page faults, page
//! clearing and the `madvise` that returns the pages at about half of the release's CPU
//! time; with the settings below the release took 2.46 CPU-seconds instead of 4.9, for 2 MiB
//! more peak RSS (docs/performance.md, "One-pass release").
//!
//! Set in code rather than through `GLIBC_TUNABLES`, so that every way of starting the
//! process (a Lambda's bootstrap, the CLI, a test harness) gets them.

/// Allocations of at least this many bytes are mapped on their own (and unmapped when freed).
pub const MMAP_THRESHOLD: usize = 2 * 1024 * 1024;

/// Free memory at the top of a heap is handed back to the kernel only beyond this.
pub const TRIM_THRESHOLD: usize = 8 * 1024 * 1024;

/// Applies [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`] to glibc's malloc. Returns whether they
/// were taken: `false` on another C library, where nothing is changed.
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let (mmap, trim) = (MMAP_THRESHOLD as libc::c_int, TRIM_THRESHOLD as libc::c_int);
        // SAFETY: `mallopt` only changes malloc's parameters (it takes malloc's own lock);
        // these two parameters accept any non-negative value.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, trim) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_settings() {
        let taken = super::tune();
        assert_eq!(taken, cfg!(all(target_os = "linux", target_env = "gnu")));
        // A buffer of the pipeline's size still allocates and frees.
        let v = vec![1u8; super::MMAP_THRESHOLD / 2];
        assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), v.len());
    }
}
