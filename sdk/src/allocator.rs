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
//! Keeping freed memory per heap costs resident memory per heap, and glibc makes up to eight
//! heaps (arenas) per core for a process's threads: on two cores the release of a study of
//! 100 files of 10 MiB peaked at 58 MiB instead of 45. At most one arena per core (and two at
//! least) brought it to 38 MiB at the same speed.
//!
//! Set in code rather than through `GLIBC_TUNABLES`, so that every way of starting the
//! process (a Lambda's bootstrap, the CLI, a test harness) gets them; a process started with
//! `GLIBC_TUNABLES` set keeps what that says instead (an operator's own choice, or a
//! measurement of another setting).

/// Allocations of at least this many bytes are mapped on their own (and unmapped when freed).
pub const MMAP_THRESHOLD: usize = 2 * 1024 * 1024;

/// Free memory at the top of a heap is handed back to the kernel only beyond this.
pub const TRIM_THRESHOLD: usize = 8 * 1024 * 1024;

/// The most heaps (arenas) malloc makes: one per core, two at least.
pub fn arenas() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Applies [`MMAP_THRESHOLD`], [`TRIM_THRESHOLD`] and [`arenas`] to glibc's malloc, unless
/// `GLIBC_TUNABLES` is set. Returns whether they were taken: `false` on another C library or
/// with `GLIBC_TUNABLES`, where nothing is changed.
pub fn tune() -> bool {
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = libc::c_int::try_from(arenas()).unwrap_or(libc::c_int::MAX);
        [
            (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int),
            (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int),
            (libc::M_ARENA_MAX, arenas),
        ]
        .into_iter()
        // SAFETY: `mallopt` only changes malloc's parameters (under malloc's own lock);
        // these three accept any positive value.
        .all(|(param, value)| unsafe { libc::mallopt(param, value) } == 1)
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
        let expected = cfg!(all(target_os = "linux", target_env = "gnu"))
            && std::env::var_os("GLIBC_TUNABLES").is_none();
        assert_eq!(taken, expected);
        assert!(super::arenas() >= 2);
        // A buffer of the pipeline's size still allocates and frees.
        let v = vec![1u8; super::MMAP_THRESHOLD / 2];
        assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), v.len());
    }
}
