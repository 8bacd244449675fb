//! A buffer kept from one validation for the next. Tables sized by the number of types
//! (a megabyte for vmlinux) were otherwise given back to the system by the allocator and
//! faulted in again on every validation in a loop. Each keeps the largest buffer made,
//! for the life of the process; a validation that finds it taken makes its own.

use std::sync::Mutex;

pub(super) struct Spare<T>(Mutex<Vec<T>>);

impl<T: Clone> Spare<T> {
    pub(super) const fn new() -> Self {
        Spare(Mutex::new(Vec::new()))
    }

    /// The kept buffer (or a new one) with `n` entries: the kept entries as they were
    /// left, any others `fill`.
    pub(super) fn take(&self, n: usize, fill: T) -> Vec<T> {
        let mut v = self.0.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        v.resize(n, fill);
        v
    }

    /// Keeps `v` for the next [`Spare::take`] if it is larger than the one kept.
    pub(super) fn give_back(&self, v: Vec<T>) {
        if let Ok(mut s) = self.0.lock() {
            if s.capacity() < v.capacity() {
                *s = v;
            }
        }
    }
}
