//! Data lifecycle of a claim store: the online backup of a SQLite file and the retention purge
//! of old transmissions, on either engine.
//!
//! Tier 2, beside the writer: `cli::lifecycle` calls the engines' `backup` and `purge`
//! (re-exported by `store` as `backup_sqlite`, `purge_sqlite`, `purge_postgres`) while a gateway
//! may be serving the same store. This file holds what both engines share (the plan of a purge
//! in SQL over temporary tables, the counts, the errors) and imports neither engine;
//! `sqlite/lifecycle.rs` and `postgres/lifecycle.rs` run it. A purge deletes a transmission only when every claim of it
//! is dated before the cut-off and no kept claim references one of its claims (a newer reversal
//! keeps the claim it reversed), and deletes in bounded chunks, each its own transaction, each
//! holding every purged claim linked to it, so no committed state has a dangling reference.
//!
//! Must never: print, log or return a patient key, cardholder id, name or date of birth (only
//! counts and dates of service leave this module); delete a row a kept row references; hold a
//! write transaction for longer than one chunk; write to a backup's destination path before
//! the copy is complete and checked.

use crate::claim::Date;
use crate::store::StoreError;
use std::path::{Path, PathBuf};

/// What a purge deletes, or would delete (`--dry-run`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub transmissions: u64,
    pub claims: u64,
    pub claim_reject_codes: u64,
    pub conflicts: u64,
    pub dur_pps: u64,
    /// Transmissions dated before the cut-off that are kept because a kept claim references
    /// one of their claims (a newer reversal or rebill, a claim that matched it).
    pub kept_for_links: u64,
    /// Earliest and latest date of service of the claims purged, when any are.
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub claims: u64,
    pub transmissions: u64,
    pub bytes: u64,
}

/// Why a backup or a purge stopped.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The command was asked something it refuses (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written (exit 1).
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// The database answered an error (exit 1).
    #[error("{0}")]
    Database(String),
}

impl LifecycleError {
    pub fn is_usage(&self) -> bool {
        matches!(self, LifecycleError::Usage(_))
    }

    pub(crate) fn file(path: &Path, reason: impl ToString) -> LifecycleError {
        LifecycleError::File {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl From<StoreError> for LifecycleError {
    fn from(error: StoreError) -> LifecycleError {
        LifecycleError::Usage(error.to_string())
    }
}

impl From<rusqlite::Error> for LifecycleError {
    fn from(error: rusqlite::Error) -> LifecycleError {
        LifecycleError::Database(error.to_string())
    }
}

/// The cut-off of a purge: a date of service, and its midnight (UTC) for transmissions that
/// recorded no claim.
pub struct Cutoff {
    pub(crate) date: String,
    pub(crate) received_ms: i64,
}

impl Cutoff {
    pub fn new(before: Date) -> Cutoff {
        Cutoff {
            date: before.to_string(),
            received_ms: i64::from(before.days()) * 86_400_000,
        }
    }
}

/// The temporary tables of a purge (per connection, gone when it closes): the transmissions
/// to delete, their claims with the links between them, and the chunk being deleted.
pub(crate) const PLAN_TABLES_SQL: &str = "
    CREATE TEMP TABLE purge_tx (id bigint PRIMARY KEY);
    CREATE TEMP TABLE purge_claims (
        id bigint PRIMARY KEY, tx bigint NOT NULL,
        matched bigint, reverses bigint, reversed_by bigint);
    CREATE INDEX purge_claims_tx ON purge_claims (tx);
    CREATE INDEX purge_claims_matched ON purge_claims (matched);
    CREATE INDEX purge_claims_reverses ON purge_claims (reverses);
    CREATE INDEX purge_claims_reversed_by ON purge_claims (reversed_by);
    CREATE TEMP TABLE purge_chunk (id bigint PRIMARY KEY);";

/// Transmissions with claims all dated before `{date}` (an engine's placeholder).
pub(crate) fn old_transmissions_sql(date: &str) -> String {
    format!(
        "INSERT INTO purge_tx (id) SELECT transmission_id FROM claims \
         GROUP BY transmission_id HAVING max(date_of_service) < {date}"
    )
}

/// Transmissions that recorded no claim, received before `{received}`.
pub(crate) fn empty_transmissions_sql(received: &str) -> String {
    format!(
        "INSERT INTO purge_tx (id) SELECT t.id FROM transmissions t \
         LEFT JOIN claims c ON c.transmission_id = t.id \
         WHERE c.id IS NULL AND t.received_at_ms < {received}"
    )
}

/// The claims of the planned transmissions, with their links.
pub(crate) const PLAN_CLAIMS_SQL: &str = "
    INSERT INTO purge_claims (id, tx, matched, reverses, reversed_by)
    SELECT c.id, c.transmission_id, c.matched_claim_id, c.reverses, c.reversed_by
    FROM claims c JOIN purge_tx p ON p.id = c.transmission_id";

/// One pinning pass: drops from the plan every transmission a claim outside the plan
/// references. Repeated until it drops none.
pub(crate) const PIN_SQL: &str = "
    DELETE FROM purge_tx WHERE id IN (
        SELECT p.tx FROM claims x
        JOIN purge_claims p ON p.id IN (x.matched_claim_id, x.reverses, x.reversed_by)
        WHERE (x.matched_claim_id IS NOT NULL OR x.reverses IS NOT NULL
               OR x.reversed_by IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM purge_claims q WHERE q.id = x.id))";

/// After a pinning pass: the claims of the dropped transmissions leave the plan too.
pub(crate) const UNPLAN_CLAIMS_SQL: &str = "
    DELETE FROM purge_claims
    WHERE NOT EXISTS (SELECT 1 FROM purge_tx t WHERE t.id = purge_claims.tx)";

/// Per-table counts of the plan (transmissions, claims, reject codes, conflicts, DUR/PPS).
pub(crate) const COUNT_SQL: [&str; 5] = [
    "SELECT count(*) FROM purge_tx",
    "SELECT count(*) FROM purge_claims",
    "SELECT count(*) FROM claim_reject_codes r JOIN purge_claims p ON p.id = r.claim_id",
    "SELECT count(*) FROM conflicts r JOIN purge_claims p ON p.id = r.claim_id",
    "SELECT count(*) FROM dur_pps r JOIN purge_claims p ON p.id = r.claim_id",
];

/// The next chunk: the first transmissions of the plan.
pub(crate) fn next_chunk_sql() -> String {
    format!(
        "DELETE FROM purge_chunk; INSERT INTO purge_chunk (id) \
         SELECT id FROM purge_tx ORDER BY id LIMIT {}",
        crate::limits::PURGE_CHUNK_TRANSMISSIONS
    )
}

macro_rules! closure_sql {
    ($column:literal) => {
        concat!(
            "INSERT INTO purge_chunk (id) SELECT DISTINCT q.tx FROM purge_chunk k ",
            "JOIN purge_claims p ON p.tx = k.id JOIN purge_claims q ON q.",
            $column,
            " = p.id WHERE NOT EXISTS (SELECT 1 FROM purge_chunk k2 WHERE k2.id = q.tx)"
        )
    };
}

/// One closure pass per link column: planned transmissions outside the chunk whose claims
/// reference a claim of the chunk join it (deleting one without the other would leave the
/// reference dangling between two chunks).
pub(crate) const CHUNK_CLOSURE_SQL: [&str; 3] = [
    closure_sql!("matched"),
    closure_sql!("reverses"),
    closure_sql!("reversed_by"),
];

/// The deletes of one chunk, children first, then the chunk leaves the plan.
pub(crate) const DELETE_CHUNK_SQL: [&str; 7] = [
    "DELETE FROM dur_pps WHERE claim_id IN (SELECT p.id FROM purge_claims p JOIN purge_chunk k ON k.id = p.tx)",
    "DELETE FROM conflicts WHERE claim_id IN (SELECT p.id FROM purge_claims p JOIN purge_chunk k ON k.id = p.tx)",
    "DELETE FROM claim_reject_codes WHERE claim_id IN (SELECT p.id FROM purge_claims p JOIN purge_chunk k ON k.id = p.tx)",
    "DELETE FROM claims WHERE id IN (SELECT p.id FROM purge_claims p JOIN purge_chunk k ON k.id = p.tx)",
    "DELETE FROM transmissions WHERE id IN (SELECT id FROM purge_chunk)",
    "DELETE FROM purge_claims WHERE tx IN (SELECT id FROM purge_chunk)",
    "DELETE FROM purge_tx WHERE id IN (SELECT id FROM purge_chunk)",
];

/// Adds the rows one chunk deleted (the first five of [`DELETE_CHUNK_SQL`]) to `counts`.
pub(crate) fn add_deleted(counts: &mut PurgeCounts, deleted: &[u64]) {
    let [dur_pps, conflicts, reject_codes, claims, transmissions, ..] = deleted else {
        return;
    };
    counts.dur_pps += dur_pps;
    counts.conflicts += conflicts;
    counts.claim_reject_codes += reject_codes;
    counts.claims += claims;
    counts.transmissions += transmissions;
}

/// Fills the per-table counts of a plan from [`COUNT_SQL`]'s answers.
pub(crate) fn planned_counts(numbers: [u64; 5], kept_for_links: u64) -> PurgeCounts {
    let [transmissions, claims, claim_reject_codes, conflicts, dur_pps] = numbers;
    PurgeCounts {
        transmissions,
        claims,
        claim_reject_codes,
        conflicts,
        dur_pps,
        kept_for_links,
        first_date: None,
        last_date: None,
    }
}

/// The refusal when links keep pinning transmissions past [`PURGE_LINK_PASSES_MAX`].
///
/// [`PURGE_LINK_PASSES_MAX`]: crate::limits::PURGE_LINK_PASSES_MAX
pub(crate) fn too_many_passes() -> LifecycleError {
    LifecycleError::Database(format!(
        "reversal links still changed the plan after {} passes; nothing more was deleted",
        crate::limits::PURGE_LINK_PASSES_MAX
    ))
}

/// The refusal of a chunk a claim committed after the plan references.
pub(crate) fn written_meanwhile() -> LifecycleError {
    LifecycleError::Database(
        "a claim recorded during the purge references a claim being purged; this chunk was \
         left whole (run the purge again: the new claim keeps the old one)"
            .into(),
    )
}
