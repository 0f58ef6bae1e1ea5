//! What the DRS client saw of its own calls: errors by code and throttled answers, counted as
//! they happen. Shared by a client and its copies; the alert rules read the totals, the
//! metrics endpoint exports them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Error codes kept apart; any other code is counted as `other`, so a DRS answering with
/// unexpected codes cannot grow the label set without bound.
pub const MAX_CODES: usize = 32;

/// Receives each call's name, latency and error code (bounded as [`CallLog::by_code`]).
pub type Observer = Box<dyn Fn(&str, Duration, Option<&str>) + Send + Sync>;

#[derive(Default)]
pub struct CallLog {
    errors: AtomicU64,
    throttled: AtomicU64,
    by_code: Mutex<BTreeMap<String, u64>>,
    /// Latency observer (the metrics registry's histogram), set once when metrics are on.
    observer: std::sync::OnceLock<Observer>,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog")
            .field("errors", &self.errors())
            .field("throttled", &self.throttled())
            .finish_non_exhaustive()
    }
}

impl CallLog {
    /// One call answered (or not): `code` is DRS's error code, the HTTP status, or
    /// `transport` / `timeout`; `None` for success.
    pub fn record(&self, call: &str, elapsed: Duration, code: Option<&str>, throttled: bool) {
        let Some(code) = code else {
            if let Some(o) = self.observer.get() {
                o(call, elapsed, None);
            }
            return;
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        if throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let key = match self.by_code.lock() {
            Ok(mut m) => {
                let key = if m.contains_key(code) || m.len() < MAX_CODES {
                    code
                } else {
                    "other"
                };
                *m.entry(key.to_string()).or_default() += 1;
                key
            }
            Err(_) => "other",
        };
        if let Some(o) = self.observer.get() {
            o(call, elapsed, Some(key));
        }
    }

    /// Calls that failed, throttled ones included.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub fn by_code(&self) -> BTreeMap<String, u64> {
        self.by_code.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Send every call's latency and error code to `f` from now on (first caller wins).
    pub fn observe_latency(&self, f: Observer) {
        let _ = self.observer.set(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_bounded() {
        let l = CallLog::default();
        for i in 0..100 {
            l.record("x", Duration::ZERO, Some(&format!("DRS.{i}")), i % 10 == 0);
        }
        l.record("x", Duration::ZERO, None, false);
        assert_eq!((l.errors(), l.throttled()), (100, 10));
        let m = l.by_code();
        assert_eq!(m.len(), MAX_CODES + 1);
        assert_eq!(m["other"], 100 - MAX_CODES as u64);
    }
}
