//! The durable claim record: every decision the gateway made, committed before any paid,
//! approved or duplicate reply leaves.
//!
//! Tier 2, the one core module that does I/O. The server builds a [`TransmissionRecord`] from
//! the typed request and its decisions, awaits [`ClaimStore::commit`], and only then answers and
//! updates the in-memory history; at start it rebuilds that history with
//! [`ClaimStore::load_history`], and it asks [`ClaimStore::load_claims`] for a claim that
//! history may have dropped for want of room. Reports read the same tables later. Must never: decide a claim,
//! read the history, log a patient key or a cardholder id, or answer before the fsync.
//!
//! # Embedded SQLite with group commit
//!
//! [`open`] with `sqlite:PATH` gives a [`SqliteStore`]: one file in WAL mode with
//! `synchronous=FULL`. One writer thread takes records from a bounded queue
//! ([`STORE_QUEUE_DEPTH_MAX`](crate::limits::STORE_QUEUE_DEPTH_MAX)) and commits up to
//! [`STORE_BATCH_RECORDS_MAX`](crate::limits::STORE_BATCH_RECORDS_MAX) of them in one
//! transaction, so one fsync covers the batch; each submitter's future resolves only after its
//! batch committed. Within a batch each transmission is written under its own savepoint: all of a
//! transmission's rows are written or none (a B3's reversal and new claim together), and one
//! refused transmission does not fail its neighbours. A failed batch fails every record in it
//! with [`StoreError::Commit`]; the server answers those claims 99 and records nothing as paid.
//!
//! # Ids and authorization numbers
//!
//! The writer assigns claim ids (SQLite `AUTOINCREMENT`, never reused) and gives every paid
//! claim and approved reversal the authorization number
//! [`Authorization::for_claim`]`(claim_id)`: the id in at least 12 digits plus a Luhn check
//! digit. Eligibility checks and rejected transactions get none.
//!
//! # What is recorded
//!
//! Per transaction: kind, pharmacy, patient key and age, Rx and fill number, product, quantity,
//! days supply, dates, prescriber, status, reject codes, every conflict raised (edit, rule id,
//! reason, severity, action, overridden by), every DUR/PPS occurrence with the conflict it
//! answered and whether it overrode it, the rule-table `id@version`, pricing, and the reversal
//! links. Transactions answered D or S are not recorded again. See `SCHEMA.md` (below) for the
//! tables and [`SCHEMA_SQL`] for the DDL.
//!
//! # Reversals and the store's own checks
//!
//! A B2 approved ([`RecordKind::Reversal`]) or a B3 paid ([`RecordKind::Rebill`]) sets the
//! original row's `reversed_at_ms` and `reversed_by` in the same transaction as the new row's
//! `reverses`; the original keeps the status it was answered with. A rejected B3 leaves the
//! original untouched. The writer re-checks what the history said, because two requests can
//! race past it: a second paid claim for the same pharmacy, Rx, fill and date of service is
//! refused with [`StoreError::AlreadyPaid`] (a unique index backs this up), a reversal of a claim
//! reversed meanwhile with [`StoreError::AlreadyReversed`].
//!
//! # PostgreSQL: one database for several gateways
//!
//! [`open`] with `postgres://...` gives a [`PgStore`] (`postgres/`: `mod.rs`, `writer.rs`, `tls.rs`,
//! `rows.rs`, DDL in `pg_schema.sql`; operations in `POSTGRES.md`). Its
//! [`ClaimStore::shared_history`] is true: the server then keeps no in-memory history and reads
//! the patient's fills and the transmission's claims from the database for every transmission
//! ([`ClaimStore::load_patient`], [`ClaimStore::load_claims`]), so each node sees every other
//! node's fills. The unique index and row locks of the database, not a node's memory, decide
//! races between nodes.
#![doc = ""]
#![doc = include_str!("SCHEMA.md")]

pub mod lifecycle;
mod postgres;
mod queue;
mod record;
mod sqlite;

pub use postgres::lifecycle::purge as purge_postgres;
pub use postgres::{PgLocation, PgStore};
pub use record::{DurPpsMatch, RecordKind, TransactionRecord, TransmissionRecord};
pub use sqlite::lifecycle::{backup as backup_sqlite, purge as purge_sqlite};
pub use sqlite::{SqliteStore, StoreOptions};

use crate::claim::{Authorization, Date, Edit, Fill, Overridden, PatientKey};
use futures::future::BoxFuture;
use std::path::PathBuf;

/// The store used when the configuration names none.
pub const DEFAULT_URL: &str = "sqlite:durgate.db";

/// The DDL of schema version 1 (migration 1).
pub const SCHEMA_SQL: &str = include_str!("schema.sql");

/// The same schema for PostgreSQL (migration 1 of a [`PgStore`]).
pub const PG_SCHEMA_SQL: &str = include_str!("pg_schema.sql");

/// Migration 2 (SQLite): a conflict answered as a warning because an earlier fill's override
/// is remembered records that fill's date of service.
pub const SCHEMA_2_SQL: &str = "ALTER TABLE conflicts ADD COLUMN remembered_from TEXT;";

/// Migration 2 (PostgreSQL), as [`SCHEMA_2_SQL`].
pub const PG_SCHEMA_2_SQL: &str = "ALTER TABLE conflicts ADD COLUMN remembered_from date;";

/// Migration 3 (SQLite): nothing. PostgreSQL's migration 3 adds the patient head rows that
/// serialize a patient's claims across nodes; the embedded store's one node serializes them
/// in memory.
pub const SCHEMA_3_SQL: &str = "SELECT 1;";

/// Migration 3 (PostgreSQL): one row per patient whose version every committed paid claim of
/// the patient advances (`POSTGRES.md`, "One patient, several nodes").
pub const PG_SCHEMA_3_SQL: &str = "CREATE TABLE patient_heads (\
     patient_key text PRIMARY KEY, version bigint NOT NULL);";

/// Migration 4 (SQLite): drops the two secondary indexes of `claims` no query of the embedded
/// store needs (its history lives in memory; reports scan by date and rank patients in one
/// sort). Each indexed a random key, so every claim dirtied two more random pages per commit
/// (measured in `benches/README.md`, "Store group commit").
pub const SCHEMA_4_SQL: &str = "DROP INDEX IF EXISTS claims_pharmacy_dos; \
     DROP INDEX IF EXISTS claims_patient_dos;";

/// Migration 4 (PostgreSQL): drops `claims_pharmacy_dos`, which no query reads. The shared
/// store keeps `claims_patient_dos`: its per-claim history reads use it.
pub const PG_SCHEMA_4_SQL: &str = "DROP INDEX IF EXISTS claims_pharmacy_dos;";

/// The schema version this build writes (the number of migrations); a reader refuses a newer one.
pub const SCHEMA_VERSION: i64 = 4;

/// The durable claim record, as the server uses it.
pub trait ClaimStore: Send + Sync {
    /// Queues a transmission's records, waiting at most the enqueue deadline for room in the
    /// queue ([`StoreError::QueueFull`]), and resolves as soon as they are queued with a
    /// [`Committing`] that resolves once they are durably committed. Records commit in the
    /// order they were queued, so a caller that queues in request order and awaits later keeps
    /// pipelined requests in order and lets them share batches. A queued record is never
    /// withdrawn: await its `Committing` to keep the history in step with the store.
    fn submit(
        &self,
        record: TransmissionRecord,
    ) -> BoxFuture<'static, Result<Committing, StoreError>>;

    /// Queues and awaits the commit: the claim id and authorization number of each recorded
    /// transaction.
    fn commit(
        &self,
        record: TransmissionRecord,
    ) -> BoxFuture<'static, Result<CommitReceipt, StoreError>> {
        let queued = self.submit(record);
        Box::pin(async move { queued.await?.await })
    }

    /// Visits every paid claim with a patient key and an NDC whose date of service is on or
    /// after `since`, reversed ones flagged, in no particular order, to rebuild the history.
    fn load_history(
        &self,
        since: crate::claim::Date,
        visit: &mut dyn FnMut(HistoryRow),
    ) -> Result<(), StoreError>;

    /// Which engine holds the record (for `GET /admin/status`; never a url or a path).
    fn kind(&self) -> StoreKind;

    /// Readiness: the writer runs, its last commit (or, after a failure, its last probe)
    /// succeeded and no commit has run beyond `limits::STORE_COMMIT_STALL`. Never takes the
    /// write lock; PostgreSQL also asks a pooled connection whether the database is read-only.
    fn check_writable(&self) -> Result<(), StoreError>;

    /// Counters for metrics.
    fn stats(&self) -> StoreStats;

    /// Has `observer` told the record count and commit time of every batch from now on (the
    /// server turns them into metrics; the store names none). Set once; later calls are ignored.
    fn observe_batches(&self, observer: BatchObserver);

    /// Resolves once every record queued before the call is committed (or failed).
    fn flush(&self) -> BoxFuture<'static, Result<(), StoreError>>;

    /// True when other gateways may write to the same store: the server then reads the history
    /// per transmission ([`ClaimStore::load_patient`], [`ClaimStore::load_claims`]) instead of
    /// keeping it in memory. False (the default) for the embedded store.
    fn shared_history(&self) -> bool {
        false
    }

    /// The patient's head version, then the patient's paid claims (reversed ones flagged) with
    /// a date of service on or after `since`, at most
    /// [`FILLS_PER_PATIENT_MAX`](crate::limits::FILLS_PER_PATIENT_MAX): unreversed before
    /// reversed, newest first.
    fn load_patient(
        &self,
        key: &PatientKey,
        since: Date,
    ) -> BoxFuture<'static, Result<PatientRows, StoreError>> {
        let _ = (key, since);
        Box::pin(futures::future::ready(Err(StoreError::Unsupported(
            "read the history per claim",
        ))))
    }

    /// For each (Rx, fill) of `keys`, the paid claim a duplicate or a reversal would match:
    /// the unreversed one, else the most recent reversed one. At most one row per pair, one
    /// probe of the `claims_match` index each. Both backends implement it: a shared store is
    /// asked for every transmission, the embedded one only for the keys of claims a full
    /// history may have dropped (`History::may_have_dropped`), so that a claim stays reversible
    /// and a duplicate stays a duplicate however many fills its patient has.
    fn load_claims(
        &self,
        keys: &ClaimKeys,
    ) -> BoxFuture<'static, Result<Vec<HistoryRow>, StoreError>> {
        let _ = keys;
        Box::pin(futures::future::ready(Err(StoreError::Unsupported(
            "read the history per claim",
        ))))
    }

    /// Stops taking records, commits what is queued and stops the writer. Blocks until the
    /// writer thread has ended: from async code call it through `spawn_blocking`. Later
    /// commits fail with [`StoreError::Closed`]. Dropping the store does the same.
    fn close(&self) -> Result<(), StoreError>;
}

/// The engine behind a [`ClaimStore`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreKind {
    /// One embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database shared by several nodes.
    Postgres,
}

impl StoreKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// Called by the writer after each batch with its record count and commit time.
pub type BatchObserver = Box<dyn Fn(usize, std::time::Duration) + Send + Sync>;

/// A queued record on its way to disk: resolves with its receipt once its batch committed.
pub struct Committing(tokio::sync::oneshot::Receiver<Result<CommitReceipt, StoreError>>);

impl Committing {
    pub(crate) fn new(
        answer: tokio::sync::oneshot::Receiver<Result<CommitReceipt, StoreError>>,
    ) -> Committing {
        Committing(answer)
    }
}

impl std::future::Future for Committing {
    type Output = Result<CommitReceipt, StoreError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(StoreError::Closed)))
    }
}

/// What a committed transmission got.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommitReceipt {
    pub transmission_id: u64,
    /// One per recorded transaction (D and S are not recorded), in transmission order.
    pub transactions: Vec<CommittedTransaction>,
}

impl CommitReceipt {
    /// The receipt of a transmission that recorded nothing (every transaction answered
    /// without a record).
    pub fn nothing() -> CommitReceipt {
        CommitReceipt {
            transmission_id: 0,
            transactions: Vec::new(),
        }
    }

    /// The receipt of the transaction at this 1-based index, if it was recorded.
    pub fn transaction(&self, index: u8) -> Option<&CommittedTransaction> {
        self.transactions
            .iter()
            .find(|committed| committed.index == index)
    }
}

/// The ids one recorded transaction got.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CommittedTransaction {
    pub index: u8,
    pub claim_id: u64,
    /// For paid claims and approved reversals.
    pub authorization: Option<Authorization>,
}

/// A patient's history as a shared store read it: the head version first, then the rows (so
/// the rows hold at least every claim the version counts).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PatientRows {
    /// The patient's head version (0: none yet); see [`TransmissionRecord::patient_head`].
    pub head_version: i64,
    pub rows: Vec<HistoryRow>,
}

/// One paid claim for the history rebuild.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HistoryRow {
    pub patient_key: PatientKey,
    /// Pharmacy and prescriber as `claim::id_hash` of the stored 201-B1 and 411-DB.
    pub fill: Fill,
    pub claim_id: u64,
    /// Reversed since (kept so that a second B2 is answered S).
    pub reversed: bool,
}

/// How a history read lists a claim's overridden rejecting conflicts in one text column:
/// `edit` US `rule_id`, joined by RS (a rule id holding either is merely not remembered).
pub const OVERRIDDEN_SEPARATORS: (char, char) = ('\u{1f}', '\u{1e}');

/// The remembered overrides of a history row's overridden-conflicts column (NULL: none). An
/// unknown edit name is skipped (it can only come from a newer gateway's rows).
pub fn overridden_of(listed: Option<String>) -> Overridden {
    let mut overridden = Overridden::NONE;
    let (unit, record) = OVERRIDDEN_SEPARATORS;
    let Some(listed) = listed else {
        return overridden;
    };
    let pairs = listed
        .split(record)
        .filter_map(|pair| pair.split_once(unit));
    for (edit, rule_id) in pairs.take(crate::limits::CONFLICTS_PER_TRANSACTION_MAX) {
        if let Some(edit) = Edit::parse(edit) {
            overridden.insert(Overridden::mark(edit, rule_id));
        }
    }
    overridden
}

/// The claims a transmission may duplicate or reverse: its pharmacy and date of service, and
/// each transaction's Rx and fill number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClaimKeys {
    /// 201-B1 as sent, trimmed (as the store keeps it).
    pub pharmacy_id: String,
    pub date_of_service: Date,
    /// 402-D2 and 403-D3 of each transaction, at most
    /// [`TRANSACTIONS_MAX`](crate::limits::TRANSACTIONS_MAX).
    pub rx_fills: Vec<(u64, u8)>,
}

/// Store counters, read for metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StoreStats {
    /// Transactions (one fsync each) committed.
    pub batches_committed: u64,
    /// Batches whose commit failed (every record in them got [`StoreError::Commit`]).
    pub batches_failed: u64,
    /// Transmission records committed.
    pub records_committed: u64,
    /// Transmission records refused on their own (already paid, already reversed, ...).
    pub records_refused: u64,
    /// Records waiting for the writer now.
    pub queue_depth: usize,
    /// Records the queue holds at most.
    pub queue_capacity: usize,
}

/// Why the store could not open, take or commit a record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store url is not understood: expected sqlite:PATH or postgres://...: {0}")]
    Url(String),
    #[error("{0} stores are not supported yet: use sqlite:PATH")]
    NotSupported(&'static str),
    #[error("claim store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store file cannot be opened: its path and the operating system's reason.
    #[error("claim store: cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    /// A PostgreSQL failure: SQLSTATE and message only (a server's DETAIL may quote row
    /// values, which can be PHI).
    #[error("claim store (PostgreSQL): {0}")]
    Postgres(String),
    #[error("this claim store cannot {0}")]
    Unsupported(&'static str),
    #[error("the claim store file cannot use WAL journaling (journal mode {0})")]
    NoWal(String),
    #[error("cannot start the claim store writer: {0}")]
    Writer(#[source] std::io::Error),
    #[error("claim store schema version {found} is newer than this gateway's ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("claim record refused: {0}")]
    Invalid(&'static str),
    #[error("claim store queue still full after the enqueue deadline")]
    QueueFull,
    #[error("claim store is closed")]
    Closed,
    #[error("claim store commit failed: {0}")]
    Commit(String),
    #[error("transaction {index}: claim {claim_id} is already paid for this Rx, fill and date")]
    AlreadyPaid {
        index: u8,
        claim_id: u64,
        authorization: Authorization,
        product_id: String,
    },
    #[error("transaction {index}: claim {claim_id} is already reversed")]
    AlreadyReversed { index: u8, claim_id: u64 },
    #[error(
        "transaction {index}: claim {claim_id} is not a paid claim for this Rx, fill and date"
    )]
    NotReversible { index: u8, claim_id: u64 },
    #[error("the patient's history changed on another node since it was read")]
    PatientChanged,
    #[error("claim store row {claim_id} has an unreadable {column}")]
    Corrupt { claim_id: u64, column: &'static str },
    #[error("claim store history has more than {0} rows")]
    HistoryTooLarge(u64),
}

/// Where a claim store lives, as a `--store` url names it. The one parser of store urls: the
/// gateway ([`open`]) and the reports read the same forms.
#[derive(Debug)]
pub enum StoreUrl {
    /// `sqlite:PATH` or `sqlite://PATH`: a file (never in memory).
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...` (see [`PgLocation::parse`] for `schema=`).
    Postgres(Box<PgLocation>),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        if StoreUrl::names_postgres(url) {
            return Ok(StoreUrl::Postgres(Box::new(PgLocation::parse(url)?)));
        }
        sqlite_path(url).map(StoreUrl::Sqlite)
    }

    /// Whether `url` has a PostgreSQL scheme (valid or not).
    pub fn names_postgres(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }
}

/// Opens the store a url names ([`StoreUrl`]). Blocks while it connects and migrates: from
/// async code call it through `spawn_blocking`.
pub fn open(url: &str) -> Result<Box<dyn ClaimStore>, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Postgres(location) => Ok(Box::new(PgStore::open(&location)?)),
        StoreUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(&path, StoreOptions::default())?)),
    }
}

/// The file path of a `sqlite:` url.
fn sqlite_path(url: &str) -> Result<PathBuf, StoreError> {
    if StoreUrl::names_postgres(url) {
        return Err(StoreError::NotSupported("PostgreSQL"));
    }
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or_else(|| StoreError::Url(url.to_owned()))?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let in_memory = path.starts_with(':') || path.contains("mode=memory");
    if path.is_empty() || in_memory {
        return Err(StoreError::Url(url.to_owned()));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_rows_overridden_column_becomes_its_remembered_marks() {
        let listed = "duplication\u{1f}class:SSRI\u{1e}ddi\u{1f}D1\u{1e}no_such_edit\u{1f}x";
        let overridden = overridden_of(Some(listed.into()));
        assert!(overridden.contains(Overridden::mark(Edit::Duplication, "class:SSRI")));
        // One mark a fill (OVERRIDES_REMEMBERED_PER_FILL_MAX): the second is not remembered.
        assert!(!overridden.contains(Overridden::mark(Edit::Ddi, "D1")));
        assert!(!overridden.contains(Overridden::mark(Edit::Ddi, "class:SSRI")));
        let unknown_first = "no_such_edit\u{1f}x\u{1e}ddi\u{1f}D1";
        assert!(
            overridden_of(Some(unknown_first.into())).contains(Overridden::mark(Edit::Ddi, "D1"))
        );
        assert!(overridden_of(None).is_empty());
        assert!(overridden_of(Some(String::new())).is_empty());
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            sqlite_path("sqlite:durgate.db").ok(),
            Some(PathBuf::from("durgate.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:/var/lib/x.db").ok(),
            Some(PathBuf::from("/var/lib/x.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/x.db").ok(),
            Some(PathBuf::from("/var/lib/x.db"))
        );
        assert_eq!(
            sqlite_path(DEFAULT_URL).ok(),
            Some(PathBuf::from("durgate.db"))
        );
    }

    #[test]
    fn other_urls_are_refused_clearly() {
        assert!(matches!(
            sqlite_path("postgres://u@127.0.0.1/durgate"),
            Err(StoreError::NotSupported(_))
        ));
        assert!(matches!(
            sqlite_path("postgresql://127.0.0.1/x"),
            Err(StoreError::NotSupported(_))
        ));
        for bad in [
            "durgate.db",
            "sqlite:",
            "sqlite::memory:",
            "mysql://x",
            "file:x.db?mode=memory",
        ] {
            assert!(matches!(sqlite_path(bad), Err(StoreError::Url(_))), "{bad}");
        }
        // A PostgreSQL url goes to the PostgreSQL store, which refuses a bad schema name
        // before it connects anywhere.
        let refused = open("postgres://127.0.0.1/durgate?schema=x;drop").err();
        assert!(matches!(refused, Some(StoreError::Url(_))), "{refused:?}");
    }
}
