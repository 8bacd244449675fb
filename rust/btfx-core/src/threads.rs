//! How many threads one core call (validation, shift rebase) may use, and the two-way
//! split they use.
//!
//! Large inputs (vmlinux: ~126 000 types) are cut in two halves, the upper half run on
//! a scoped thread; smaller inputs stay on the calling thread, where a spawn (tens of
//! microseconds) would cost more than it saves. No pool is kept, so nothing survives a
//! `fork`.

use crate::placement;
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

/// Runs `lo` on the calling thread and `hi` on a scoped thread. `hi` runs on the
/// calling thread instead when no thread can be started, or when the worker has not
/// begun by the time `lo` is done (no CPU was free for it). `hi`'s result is `None`
/// only if it panicked (a bug: it is reported as an error, never unwound into the
/// caller).
pub(crate) fn join2<A, B: Send>(
    lo: impl FnOnce() -> A,
    hi: impl FnOnce() -> B + Send,
) -> (A, Option<B>) {
    let hi = Mutex::new(Some(hi));
    let out: Mutex<Option<B>> = Mutex::new(None);
    // Runs `hi` unless it has run already, catching its panic, and keeps its result.
    let run_hi = || {
        let Some(f) = hi.lock().ok().and_then(|mut f| f.take()) else { return };
        let b = catch_unwind(AssertUnwindSafe(f)).ok();
        if let Ok(mut slot) = out.lock() {
            *slot = b;
        }
    };
    // The worker leaves this CPU if it was queued on it ([`crate::placement`]), unless
    // `hi` has been taken by then (the caller, done with `lo`, waits for it to end).
    let parent_cpu = placement::current_cpu();
    let start_hi = || {
        let pending = hi.lock().is_ok_and(|f| f.is_some());
        if let (Some(cpu), true) = (parent_cpu, pending) {
            placement::leave_cpu(cpu);
        }
        run_hi();
    };
    let a = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new().spawn_scoped(scope, start_hi);
        if worker.is_ok() {
            placement::let_helper_start();
        }
        let a = lo();
        run_hi();
        // Not joined once it has ended: the scope then has nothing left to wait for.
        if let Ok(handle) = worker {
            if !wait_briefly(&handle) {
                drop(handle.join());
            }
        }
        a
    });
    (a, out.into_inner().ok().flatten())
}

/// Longest time [`join2`] waits for the worker before it blocks in the join.
const SPIN_LIMIT: Duration = Duration::from_millis(2);

/// How long of that it spins without giving up its CPU.
const SPIN_ONLY: Duration = Duration::from_micros(50);

/// Waits until `handle`'s thread has ended, for at most [`SPIN_LIMIT`]; whether it has.
/// A join that blocks at once is woken only after the worker's end is signalled, which
/// took 100-300 us on the 2-CPU virtual machines btfx is developed on (the sleeping
/// CPU must be woken first). So this spins, for [`SPIN_ONLY`], then yields its CPU
/// between checks: a worker that waits for a CPU (all are busy) gets this one.
fn wait_briefly<T>(handle: &std::thread::ScopedJoinHandle<'_, T>) -> bool {
    let start = Instant::now();
    while !handle.is_finished() {
        let waited = start.elapsed();
        if waited >= SPIN_LIMIT {
            return false;
        }
        if waited < SPIN_ONLY {
            for _ in 0..16 {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::join2;
    use std::time::Duration;

    #[test]
    fn join2_gives_both_results() {
        for hi_ms in [0, 1, 5] {
            let data = [1u32, 2, 3];
            let (a, b) = join2(
                || data.iter().sum::<u32>(),
                || {
                    std::thread::sleep(Duration::from_millis(hi_ms));
                    data.len()
                },
            );
            assert_eq!((a, b), (6, Some(3)), "{hi_ms} ms");
        }
    }

    #[test]
    fn join2_reports_a_panicking_worker_as_none() {
        for hi_ms in [0, 5] {
            let (a, b) = join2(
                || 7,
                || -> u32 {
                    std::thread::sleep(Duration::from_millis(hi_ms));
                    panic!("worker bug")
                },
            );
            assert_eq!((a, b), (7, None), "{hi_ms} ms");
        }
    }
}
