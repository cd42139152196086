//! The live rule tables: one `ArcSwap` holding the current [`RuleSet`], swapped whole.
//!
//! Place in the data flow: the server loads a snapshot once per claim and uses it throughout,
//! so every decision is stamped with exactly one `id@version`; the reload shell swaps in a
//! newly compiled set. Must never block a claim (no lock on the hot path) and never hold a
//! half-loaded set: only a compiled `RuleSet` can be swapped in.

use super::RuleSet;
use crate::claim::RulesetStamp;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The current rule tables and reload counters.
pub struct LiveRules {
    current: ArcSwap<RuleSet>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl LiveRules {
    pub fn new(rules: RuleSet) -> LiveRules {
        LiveRules {
            current: ArcSwap::from_pointee(rules),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        }
    }

    /// A snapshot of the current tables; keep it for the whole claim.
    pub fn load(&self) -> Arc<RuleSet> {
        self.current.load_full()
    }

    /// Makes `rules` current and counts a successful reload; returns its stamp.
    pub fn swap(&self, rules: RuleSet) -> RulesetStamp {
        let stamp = rules.stamp();
        self.current.store(Arc::new(rules));
        self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        stamp
    }

    /// Counts a refused reload (the current tables stay).
    pub fn count_failed_reload(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// `id@version` of the current tables.
    pub fn stamp(&self) -> RulesetStamp {
        self.current.load().stamp()
    }

    pub fn reloads_ok(&self) -> u64 {
        self.reloads_ok.load(Ordering::Relaxed)
    }

    pub fn reloads_failed(&self) -> u64 {
        self.reloads_failed.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for LiveRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRules")
            .field("stamp", &self.stamp())
            .finish_non_exhaustive()
    }
}
