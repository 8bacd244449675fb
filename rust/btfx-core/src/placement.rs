//! Getting a helper thread onto a CPU of its own ([`crate::threads::join2`]).
//!
//! Linux places a new thread with its parent's CPU in mind. On the 2-CPU virtual
//! machines btfx is developed on, once the process has been idle for a millisecond or
//! more, the new thread was usually queued on the parent's CPU, busy with the other
//! half of the work, while the second CPU stayed idle: it ran only when the parent was
//! preempted or done, 1.5-3 ms later, so a two-way split took as long as one thread
//! (strict validation of vmlinux, 5-20 ms idle before each call, medians: 5.2-7.7 ms
//! split, 6.5-7.3 ms on one thread, 3.6-4.1 ms split with the remedy; 2.5-2.7 ms back
//! to back, the second CPU being slower for a while after it wakes). The remedy: the
//! parent yields its CPU once after the spawn, so a helper queued behind it starts at
//! once; the helper, finding itself on the parent's CPU, moves to another allowed CPU
//! (an affinity mask without the parent's CPU, then its own mask back, so the
//! scheduler stays free to move it afterwards). A helper placed elsewhere does nothing.

/// The CPU the calling thread runs on (None where that is not known).
pub(crate) fn current_cpu() -> Option<usize> {
    imp::current_cpu()
}

/// Lets a helper just spawned, if it is queued behind the calling thread, start now.
pub(crate) fn let_helper_start() {
    std::thread::yield_now();
}

/// Moves the calling thread off `cpu` if it runs there and its affinity mask allows
/// another CPU; whether it did. A failure to move leaves it where it is; a failure to
/// restore its mask afterwards leaves it the narrower one (the caller is a helper that
/// ends with its call).
pub(crate) fn leave_cpu(cpu: usize) -> bool {
    imp::leave_cpu(cpu)
}

#[cfg(target_os = "linux")]
mod imp {
    use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;

    pub(super) fn current_cpu() -> Option<usize> {
        sched_getcpu().ok()
    }

    pub(super) fn leave_cpu(cpu: usize) -> bool {
        if current_cpu() != Some(cpu) {
            return false;
        }
        let me = Pid::from_raw(0);
        let Ok(allowed) = sched_getaffinity(me) else { return false };
        let mut others = allowed;
        if others.unset(cpu).is_err() {
            return false;
        }
        // The first call moves this thread (the kernel migrates a running task before
        // it returns); the second restores the mask it had.
        if others == CpuSet::new() || sched_setaffinity(me, &others).is_err() {
            return false;
        }
        let _ = sched_setaffinity(me, &allowed);
        true
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn current_cpu() -> Option<usize> {
        None
    }

    pub(super) fn leave_cpu(_cpu: usize) -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use nix::sched::sched_getaffinity;
    use nix::unistd::Pid;

    fn mask() -> Vec<bool> {
        let m = sched_getaffinity(Pid::from_raw(0)).expect("affinity");
        (0..nix::sched::CpuSet::count()).map(|c| m.is_set(c).unwrap_or(false)).collect()
    }

    #[test]
    fn leaving_a_cpu_keeps_the_affinity_mask() {
        let before = mask();
        let allowed = before.iter().filter(|&&b| b).count();
        std::thread::spawn(move || {
            // (A preemption between the two reads of the CPU may move it first.)
            let moved = (0..100).any(|_| leave_cpu(current_cpu().expect("sched_getcpu")));
            assert_eq!(mask(), before, "the mask is restored");
            // Where it runs now is the scheduler's choice again: not asserted.
            assert_eq!(moved, allowed >= 2, "{allowed} CPUs allowed");
        })
        .join()
        .expect("helper");
    }

    #[test]
    fn leaving_another_cpu_does_nothing() {
        let cpu = current_cpu().expect("sched_getcpu");
        let before = mask();
        assert!(!leave_cpu(cpu + 1_000_000));
        assert_eq!(mask(), before);
    }
}
