//! Figures the engine keeps about itself, for `wavedeck bench engine` and `wavedeck status`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Stats {
    /// CPU time spent in the engine's decisions, in nanoseconds.
    cpu_ns: AtomicU64,
    /// Events the engine appended (commands' decisions included).
    events: AtomicU64,
}

impl Stats {
    pub fn add_cpu(&self, d: Duration) {
        self.cpu_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
    pub fn add_events(&self, n: usize) {
        self.events.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(self.cpu_ns.load(Ordering::Relaxed))
    }
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

/// CPU time of the calling thread so far.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID is
    // supported on Linux, and on failure the zeroed value is returned.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_moves_forward_with_work() {
        let a = thread_cpu();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = thread_cpu();
        assert!(b > a, "{a:?} -> {b:?}");
        let s = Stats::default();
        s.add_cpu(Duration::from_millis(3));
        s.add_events(5);
        assert_eq!((s.cpu(), s.events()), (Duration::from_millis(3), 5));
    }
}
