//! When validation runs on two threads ([`crate::threads`]). At module level, phase 1
//! of a large BTF is split in two halves of the ids, and its string section's
//! identifier map in two halves of the bytes. Strict validation instead runs phases 1
//! and 2 on one thread and the graph walk (`graph`) on the other, which then searches
//! the few types left to phase 3 while the walk's arrays are still in its cache
//! (searching them on the calling thread, which must first fetch them from the other
//! CPU, made validation of vmlinux about 0.1 ms slower).

pub(super) use crate::threads::join2;
pub use crate::threads::{max_threads, set_max_threads};

/// Fewer own types than this are validated on the calling thread only.
pub const PARALLEL_MIN_TYPES: usize = 16_384;

/// Smaller string sections are classified on the calling thread only.
pub const PARALLEL_MIN_STRING_BYTES: usize = 1 << 19;

/// Whether a per-type pass over `n` own types runs on two threads.
pub(super) fn split(n: usize, threads: usize) -> bool {
    n >= PARALLEL_MIN_TYPES && threads >= 2
}

/// Whether the identifier map of a string section of `len` bytes is built on two
/// threads.
pub(super) fn split_strings(len: usize, threads: usize) -> bool {
    len >= PARALLEL_MIN_STRING_BYTES && threads >= 2
}
