//! The per-pharmacy E1 rate limit: at most `per_minute` eligibility checks per pharmacy in each
//! clock minute, so E1 cannot be used to sweep members or dates of birth at speed.
//!
//! Tier 3, consulted by `server::pipeline` before planning an E1 (the planner answers a check
//! over the limit R with 85 and records it like any other). Keyed by the pharmacy id's hash
//! (never the id itself, never a patient). Bounded by [`ELIGIBILITY_PHARMACIES_MAX`]: when the
//! map is full, windows of past minutes are dropped first; a new pharmacy that still finds no
//! room is refused (fail closed). Must never block beyond its one short lock.

use crate::limits::ELIGIBILITY_PHARMACIES_MAX;
use rustc_hash::FxHashMap;
use std::sync::{Mutex, PoisonError};

/// Counts per pharmacy in the current minute.
pub struct EligibilityLimit {
    per_minute: u32,
    windows: Mutex<FxHashMap<u64, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    minute: i64,
    checks: u32,
}

impl EligibilityLimit {
    pub fn new(per_minute: u32) -> EligibilityLimit {
        EligibilityLimit {
            per_minute,
            windows: Mutex::new(FxHashMap::default()),
        }
    }

    /// Counts one E1 of `pharmacy` at `now_ms`; false when it is over the limit.
    pub fn allow(&self, pharmacy: u64, now_ms: i64) -> bool {
        let minute = now_ms.div_euclid(60_000);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if !windows.contains_key(&pharmacy) && windows.len() >= ELIGIBILITY_PHARMACIES_MAX {
            windows.retain(|_, window| window.minute == minute);
            if windows.len() >= ELIGIBILITY_PHARMACIES_MAX {
                return false;
            }
        }
        let window = windows
            .entry(pharmacy)
            .or_insert(Window { minute, checks: 0 });
        if window.minute != minute {
            *window = Window { minute, checks: 0 };
        }
        window.checks = window.checks.saturating_add(1);
        window.checks <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pharmacy_gets_its_checks_per_minute() {
        let limit = EligibilityLimit::new(3);
        let minute = 29_000_000 * 60_000;
        assert_eq!(
            (0..4).map(|_| limit.allow(1, minute)).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert!(
            limit.allow(2, minute + 59_999),
            "another pharmacy has its own count"
        );
        assert!(!limit.allow(1, minute + 59_999));
        assert!(
            limit.allow(1, minute + 60_000),
            "a new minute starts afresh"
        );
    }

    #[test]
    fn a_full_map_drops_past_minutes_then_refuses_newcomers() {
        let limit = EligibilityLimit::new(10);
        for pharmacy in 0..ELIGIBILITY_PHARMACIES_MAX as u64 {
            assert!(limit.allow(pharmacy, 0));
        }
        assert!(!limit.allow(u64::MAX, 0), "no room in this minute");
        assert!(limit.allow(u64::MAX, 60_000), "past minutes make room");
    }
}
