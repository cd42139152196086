//! The wall clock: the one place that reads the system time (milliseconds since 1970-01-01 UTC).
//!
//! Tier 0, imports nothing of the crate. The shell (`server`, `store`, `cli`) asks it for the
//! time and hands `today` and timestamps to the pure core as arguments. Must never be called
//! from `ncpdp`, `rules` or `history`, which take the time as an argument; monotonic deadlines
//! (`Instant`) are not wall-clock reads and stay where they are used.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01 UTC (0 if the clock is before it).
#[allow(clippy::disallowed_methods)] // the one permitted reader (clippy.toml)
pub fn unix_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Days since 1970-01-01 UTC.
pub fn unix_days() -> i32 {
    i32::try_from(unix_ms() / 86_400_000).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_after_2026() {
        // 2026-01-01 is day 20,454 since the epoch.
        assert!(unix_days() >= 20_454);
        assert_eq!(i64::from(unix_days()), unix_ms() / 86_400_000);
    }
}
