//! How many threads one core call (validation, shift rebase) may use, and the two-way
//! split they use.
//!
//! Large inputs (vmlinux: ~126 000 types) are cut in two halves, the upper half run on
//! a scoped thread; smaller inputs stay on the calling thread, where a spawn (tens of
//! microseconds) would cost more than it saves. No pool is kept, so nothing survives a
//! `fork`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Caps the threads one call uses: 1 never spawns, 0 restores the default (the
/// `BTFX_THREADS` environment variable as read at first use, else the CPUs available,
/// at most 2).
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n, Ordering::Relaxed);
}

/// The current cap (see [`set_max_threads`]).
pub fn max_threads() -> usize {
    match MAX_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let env = std::env::var("BTFX_THREADS").ok().and_then(|v| v.trim().parse().ok());
        env.filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(2)))
    })
}

/// Runs `lo` on the calling thread and `hi` on a scoped thread, or on the calling thread
/// too when no thread can be started. `hi`'s result is `None` only if it panicked (a
/// bug: it is reported as an error, never unwound into the caller).
pub(crate) fn join2<A, B: Send>(
    lo: impl FnOnce() -> A,
    hi: impl FnOnce() -> B + Send,
) -> (A, Option<B>) {
    let hi = std::sync::Mutex::new(Some(hi));
    let take = || hi.lock().ok().and_then(|mut f| f.take());
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new().spawn_scoped(scope, move || take().map(|f| f()));
        let a = lo();
        let b = match worker {
            Ok(handle) => {
                wait_briefly(&handle);
                handle.join().ok().flatten()
            }
            Err(_) => take().map(|f| f()),
        };
        (a, b)
    })
}

/// Longest time [`join2`] spins for the worker before it blocks in the join.
const SPIN_LIMIT: Duration = Duration::from_millis(2);

/// Spins until `handle`'s thread has ended, for at most [`SPIN_LIMIT`]. A join that
/// blocks at once is woken only after the worker's exit is signalled, which took
/// 100-300 us on the 2-CPU virtual machines btfx is developed on (the sleeping CPU
/// must be woken first); validation of vmlinux waits on the worker for about that
/// long, so the spin costs one CPU for a few hundred microseconds at most.
fn wait_briefly<T>(handle: &std::thread::ScopedJoinHandle<'_, T>) {
    let start = Instant::now();
    while !handle.is_finished() && start.elapsed() < SPIN_LIMIT {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    }
}
