//! How many threads one core call (validation, shift rebase) may use, and the two-way
//! split they use.
//!
//! Large inputs (vmlinux: ~126 000 types) are cut in two halves, the upper half run on
//! a scoped thread; smaller inputs stay on the calling thread, where a spawn (tens of
//! microseconds) would cost more than it saves. No pool is kept, so nothing survives a
//! `fork`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
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
    let hi = Mutex::new(Some(hi));
    let take = || hi.lock().ok().and_then(|mut f| f.take());
    let out: Mutex<Option<B>> = Mutex::new(None);
    let a = std::thread::scope(|scope| {
        // The worker catches its own panic, so the scope never re-raises it.
        let work = || {
            let b = catch_unwind(AssertUnwindSafe(|| take().map(|f| f()))).ok().flatten();
            if let Ok(mut slot) = out.lock() {
                *slot = b;
            }
        };
        let worker = std::thread::Builder::new().spawn_scoped(scope, work);
        let a = lo();
        match worker {
            // Not joined once it has ended: the scope then has nothing left to wait for.
            Ok(handle) if !wait_briefly(&handle) => drop(handle.join()),
            Ok(_) => {}
            Err(_) => {
                let b = take().map(|f| f());
                if let Ok(mut slot) = out.lock() {
                    *slot = b;
                }
            }
        }
        a
    });
    (a, out.into_inner().ok().flatten())
}

/// Longest time [`join2`] spins for the worker before it blocks in the join.
const SPIN_LIMIT: Duration = Duration::from_millis(2);

/// Spins until `handle`'s work has ended, for at most [`SPIN_LIMIT`]; whether it has.
/// A waiter that sleeps is woken only after the worker's end is signalled, which took
/// 100-300 us on the 2-CPU virtual machines btfx is developed on (the sleeping CPU
/// must be woken first); validation of vmlinux waits on the worker for about that
/// long, so the spin costs one CPU for a few hundred microseconds at most.
fn wait_briefly<T>(handle: &std::thread::ScopedJoinHandle<'_, T>) -> bool {
    let start = Instant::now();
    while !handle.is_finished() {
        if start.elapsed() >= SPIN_LIMIT {
            return false;
        }
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    }
    true
}
