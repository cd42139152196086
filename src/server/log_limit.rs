//! Rate-limited log lines for events a hostile or broken peer can repeat at will (unreadable
//! frames, a full history): at most one line per interval, saying how many were not logged.
//!
//! Tier 3, used by `server::pipeline`. The metric of each event counts every occurrence; the log
//! only samples it. Lock-free (one atomic timestamp, one atomic counter). Must never log what
//! the event carries beyond a fixed message and counts (no claim data: no PHI).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One event's limiter: `LogLimit::new(interval_ms)` in a `static`.
pub struct LogLimit {
    interval_ms: i64,
    last_logged_ms: AtomicI64,
    suppressed: AtomicU64,
}

impl LogLimit {
    pub const fn new(interval_ms: i64) -> LogLimit {
        LogLimit {
            interval_ms,
            last_logged_ms: AtomicI64::new(i64::MIN),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line is due at `now_ms` (`n` occurrences went unlogged since the last
    /// line), `None` when this occurrence is only counted.
    pub fn due(&self, now_ms: i64) -> Option<u64> {
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        let due = now_ms.saturating_sub(last) >= self.interval_ms;
        let won = due
            && self
                .last_logged_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if won {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let limit = LogLimit::new(1_000);
        assert_eq!(limit.due(10_000), Some(0));
        assert_eq!((0..500).filter_map(|at| limit.due(10_001 + at)).count(), 0);
        assert_eq!(limit.due(11_000), Some(500));
        assert_eq!(limit.due(11_001), None);
        assert_eq!(limit.due(12_500), Some(1));
    }
}
