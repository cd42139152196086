//! The live rule tables: one `ArcSwap` holding the current [`RuleSet`], swapped whole.
//!
//! Place in the data flow: the server loads a snapshot once per claim and uses it throughout,
//! so every decision is stamped with exactly one `id@version`; the reload shell hands
//! [`LiveRules::reload`] a way to read the folder, and a folder whose bytes differ from the
//! live tables' is compiled and swapped in. Reloads are serialized (one at a time, read and
//! swapped under one lock, so they never swap out of order); an unchanged folder swaps nothing
//! and is not counted. Must never block a claim (no lock on the hot path: the lock is only
//! taken by reloads) and never hold a half-loaded set: only a compiled `RuleSet` is swapped in.

use super::{compile, RuleSet, RuleSource, TableErrors};
use crate::claim::RulesetStamp;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The current rule tables, the folder contents they were compiled from, and reload counters.
pub struct LiveRules {
    current: ArcSwap<RuleSet>,
    /// The bytes the current tables came from (`None` when built without them); held while a
    /// reload reads, compares and swaps, so reloads run one at a time.
    published: Mutex<Option<RuleSource>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// Whether a folder must carry a seal to go live (set once at start).
    seal_required: AtomicBool,
}

/// What a reload did.
#[derive(Clone)]
pub enum Reloaded {
    /// The folder changed: the tables stamped `stamp` are live now, `retired` no longer.
    Swapped {
        stamp: RulesetStamp,
        retired: Arc<RuleSet>,
    },
    /// The folder holds the bytes of the live tables: nothing was swapped or counted.
    Unchanged(RulesetStamp),
}

impl Reloaded {
    /// `id@version` of the tables live after the reload.
    pub fn stamp(&self) -> &RulesetStamp {
        match self {
            Reloaded::Swapped { stamp, .. } | Reloaded::Unchanged(stamp) => stamp,
        }
    }

    /// Whether new tables went live.
    pub fn swapped(&self) -> bool {
        matches!(self, Reloaded::Swapped { .. })
    }
}

impl std::fmt::Debug for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reloaded::Swapped { stamp, .. } => write!(f, "Swapped({stamp})"),
            Reloaded::Unchanged(stamp) => write!(f, "Unchanged({stamp})"),
        }
    }
}

impl LiveRules {
    /// Live tables without their source: the first reload always compiles and swaps.
    pub fn new(rules: RuleSet) -> LiveRules {
        LiveRules {
            current: ArcSwap::from_pointee(rules),
            published: Mutex::new(None),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            seal_required: AtomicBool::new(false),
        }
    }

    /// Live tables compiled from `source`; a later reload of the same bytes is `Unchanged`.
    pub fn from_source(source: RuleSource) -> Result<LiveRules, TableErrors> {
        let live = LiveRules::new(compile(&source)?);
        *live.published_lock() = Some(source);
        Ok(live)
    }

    /// A snapshot of the current tables; keep it for the whole claim.
    pub fn load(&self) -> Arc<RuleSet> {
        self.current.load_full()
    }

    /// Makes `rules` current and counts a successful reload; returns its stamp. The recorded
    /// source is forgotten, so the next [`LiveRules::reload`] compiles whatever it reads.
    pub fn swap(&self, rules: RuleSet) -> RulesetStamp {
        let mut published = self.published_lock();
        *published = None;
        self.store(rules)
    }

    /// Reads the folder with `read` and, when its bytes differ from the live tables', compiles
    /// and swaps it in — all under the reload lock. A refused folder is counted and the live
    /// tables stay.
    pub fn reload(
        &self,
        read: impl FnOnce() -> Result<RuleSource, TableErrors>,
    ) -> Result<Reloaded, TableErrors> {
        let mut published = self.published_lock();
        let outcome = read().and_then(|source| {
            if published.as_ref() == Some(&source) {
                return Ok(Reloaded::Unchanged(self.stamp()));
            }
            let rules = compile(&source)?;
            *published = Some(source);
            let retired = self.load();
            let stamp = self.store(rules);
            Ok(Reloaded::Swapped { stamp, retired })
        });
        if outcome.is_err() {
            self.count_failed_reload();
        }
        outcome
    }

    fn store(&self, rules: RuleSet) -> RulesetStamp {
        let stamp = rules.stamp();
        self.current.store(Arc::new(rules));
        self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        stamp
    }

    fn published_lock(&self) -> std::sync::MutexGuard<'_, Option<RuleSource>> {
        // A reload that panicked mid-way left no partial state behind (the swap is atomic),
        // so a poisoned lock is still safe to use.
        self.published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a refused reload (the current tables stay).
    pub fn count_failed_reload(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// `id@version` of the current tables.
    pub fn stamp(&self) -> RulesetStamp {
        self.current.load().stamp()
    }

    /// Makes every later reload refuse a folder without a seal (`rules::seal`).
    pub fn require_seal(&self, required: bool) {
        self.seal_required.store(required, Ordering::Relaxed);
    }

    pub fn seal_required(&self) -> bool {
        self.seal_required.load(Ordering::Relaxed)
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
