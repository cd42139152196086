//! The embedded SQLite claim store: one file, WAL, `synchronous=FULL`, one writer thread.
//!
//! Opening applies the schema migrations, starts the writer (`writer::run`) with its own
//! connection and keeps a second connection for reads: the history rebuild at start, and the
//! few claims a full history dropped (`load_claims`, index probes on a blocking thread). Must
//! never write outside the writer thread, or hold the reader's lock across an await.

use crate::claim::{id_hash, Date, Fill, Ndc, PatientKey};
use crate::limits::{
    STORE_BATCH_RECORDS_MAX, STORE_BUSY_TIMEOUT, STORE_ENQUEUE_DEADLINE, STORE_HISTORY_ROWS_MAX,
    STORE_QUEUE_DEPTH_MAX, STORE_STATEMENTS_CACHED_MAX, TRANSACTIONS_MAX,
};
use crate::store::queue::{Counters, Job, Queue};
use crate::store::record::TransmissionRecord;
use crate::store::{
    ClaimKeys, ClaimStore, Committing, HistoryRow, StoreError, StoreKind, StoreStats, SCHEMA_SQL,
};
use futures::future::BoxFuture;
use rusqlite::{named_params, Connection, Row, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// Schema migrations in order; migration N brings the file to version N.
pub mod lifecycle;
mod sql;
mod writer;

const MIGRATIONS: &[&str] = &[
    SCHEMA_SQL,
    super::SCHEMA_2_SQL,
    super::SCHEMA_3_SQL,
    super::SCHEMA_4_SQL,
];
const _: () = assert!(MIGRATIONS.len() as i64 == super::SCHEMA_VERSION);

const SCHEMA_VERSION_SQL: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)";

/// The `SELECT ... FROM claims` of a [`HistoryRow`], its columns in `history_row` order. The
/// last one lists the claim's overridden rejecting conflicts ([`super::OVERRIDDEN_SEPARATORS`]).
macro_rules! history_select {
    () => {
        "SELECT id, patient_key, ndc, rx_number, date_of_service, quantity_milli, days_supply, \
         fill_number, pharmacy_id, prescriber_id, reversed_at_ms IS NOT NULL, \
         (SELECT group_concat(o.edit || char(31) || o.rule_id, char(30)) FROM conflicts o \
         WHERE o.claim_id = claims.id AND o.action = 'reject' AND o.overridden_by IS NOT NULL) \
         FROM claims "
    };
}

const HISTORY_SQL: &str = concat!(
    history_select!(),
    "WHERE status = 'paid' AND date_of_service >= :since \
     AND patient_key IS NOT NULL AND ndc IS NOT NULL"
);

/// One probe of `claims_match` (all four columns equal): the unreversed paid claim, else the
/// latest reversed one.
const CLAIM_SQL: &str = concat!(
    history_select!(),
    "WHERE pharmacy_id = :pharmacy_id AND rx_number = :rx_number \
     AND fill_number = :fill_number AND date_of_service = :date_of_service AND status = 'paid' \
     AND patient_key IS NOT NULL AND ndc IS NOT NULL \
     ORDER BY reversed_at_ms IS NULL DESC, id DESC LIMIT 1"
);

/// Tunables of a [`SqliteStore`]; each is lowered to its bound in [`crate::limits`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StoreOptions {
    /// Records waiting for the writer (1..=[`STORE_QUEUE_DEPTH_MAX`]).
    pub queue_depth: usize,
    /// Records per commit (1..=[`STORE_BATCH_RECORDS_MAX`]).
    pub batch_records_max: usize,
    /// How long a commit waits for room in a full queue.
    pub enqueue_deadline: Duration,
    /// How long a statement waits for another connection's lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            queue_depth: STORE_QUEUE_DEPTH_MAX,
            batch_records_max: STORE_BATCH_RECORDS_MAX,
            enqueue_deadline: STORE_ENQUEUE_DEADLINE,
            busy_timeout: STORE_BUSY_TIMEOUT,
        }
    }
}

impl StoreOptions {
    fn bounded(self) -> StoreOptions {
        StoreOptions {
            queue_depth: self.queue_depth.clamp(1, STORE_QUEUE_DEPTH_MAX),
            batch_records_max: self.batch_records_max.clamp(1, STORE_BATCH_RECORDS_MAX),
            enqueue_deadline: self.enqueue_deadline.min(STORE_ENQUEUE_DEADLINE),
            busy_timeout: self.busy_timeout.min(STORE_BUSY_TIMEOUT),
        }
    }
}

/// The embedded claim store. See the [module docs](crate::store).
pub struct SqliteStore {
    queue: Queue,
    reader: Arc<Mutex<Connection>>,
    /// The store file, exclusively locked while this store is open: a second gateway on the
    /// same file is refused at start instead of sharing it.
    _serving: std::fs::File,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the store file, brings its schema up to date and starts the
    /// writer thread.
    pub fn open(path: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let options = options.bounded();
        let serving = claim_file(path)?;
        let mut writer_connection = connect(path, options.busy_timeout)?;
        migrate(&mut writer_connection)?;
        let reader = connect(path, options.busy_timeout)?;
        let (queue, jobs) = Queue::new(options.queue_depth, options.enqueue_deadline)?;
        let counters = queue.counters();
        queue.attach_writer(spawn_writer(
            writer_connection,
            jobs,
            counters,
            options.batch_records_max,
        )?);
        Ok(SqliteStore {
            queue,
            reader: Arc::new(Mutex::new(reader)),
            _serving: serving,
        })
    }
}

/// Permissions of a store file the gateway creates: it holds PHI. SQLite gives its `-wal`
/// and `-shm` files the database file's permissions.
const STORE_FILE_MODE: u32 = 0o600;

/// Opens (creating if needed, mode [`STORE_FILE_MODE`]) the store file as SQLite will, so
/// that a failure names the path and the operating system's reason (SQLite says only
/// "unable to open database file").
fn open_file(path: &Path) -> Result<std::fs::File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(STORE_FILE_MODE)
        .open(path);
    opened.map_err(|error| open_error(path, error.to_string()))
}

fn open_error(path: &Path, reason: String) -> StoreError {
    StoreError::Open {
        path: path.display().to_string(),
        reason,
    }
}

fn probe_file(path: &Path) -> Result<(), StoreError> {
    open_file(path).map(drop)
}

/// The store file, exclusively locked for this process (an advisory lock, independent of
/// SQLite's own locks); refused when another store holds it.
fn claim_file(path: &Path) -> Result<std::fs::File, StoreError> {
    let file = open_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(open_error(
            path,
            "another gateway process is already serving this store file".into(),
        )),
        Err(std::fs::TryLockError::Error(error)) => Err(open_error(path, error.to_string())),
    }
}

/// Page cache per connection: 64 MiB (SQLite reads a negative `cache_size` as KiB).
const STORE_PAGE_CACHE_KIB_NEGATIVE: i64 = -64 * 1024;

fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    probe_file(path)?;
    let connection = Connection::open(path)?;
    connection.busy_timeout(busy_timeout)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal(mode));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Keep the hot index pages of a large claim file in memory (negative = KiB).
    connection.pragma_update(None, "cache_size", STORE_PAGE_CACHE_KIB_NEGATIVE)?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    connection.set_prepared_statement_cache_capacity(STORE_STATEMENTS_CACHED_MAX);
    Ok(connection)
}

/// Applies the missing migrations in one write transaction (safe against a second gateway
/// opening the same new file).
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(SCHEMA_VERSION_SQL)?;
    let found: i64 = transaction.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, sql) in (1i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        transaction.execute_batch(sql)?;
        transaction.execute(
            "INSERT INTO schema_version (version, applied_at_ms) VALUES (:version, :at)",
            named_params! { ":version": version, ":at": crate::clock::unix_ms() },
        )?;
    }
    transaction.commit()?;
    Ok(())
}

fn spawn_writer(
    connection: Connection,
    queue: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    batch_records_max: usize,
) -> Result<JoinHandle<()>, StoreError> {
    let timer = writer::timer().map_err(StoreError::Writer)?;
    std::thread::Builder::new()
        .name("durgate-store-writer".into())
        .spawn(move || writer::run(connection, queue, counters, batch_records_max, timer))
        .map_err(StoreError::Writer)
}

impl ClaimStore for SqliteStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn submit(
        &self,
        record: TransmissionRecord,
    ) -> BoxFuture<'static, Result<Committing, StoreError>> {
        match record.validate() {
            Ok(()) => self.queue.submit(record),
            Err(refused) => Box::pin(std::future::ready(Err(refused))),
        }
    }

    fn load_history(
        &self,
        since: Date,
        visit: &mut dyn FnMut(HistoryRow),
    ) -> Result<(), StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare_cached(HISTORY_SQL)?;
        let mut rows = statement.query(named_params! { ":since": since.to_string() })?;
        let mut visited = 0u64;
        while let Some(row) = rows.next()? {
            visited += 1;
            if visited > STORE_HISTORY_ROWS_MAX {
                return Err(StoreError::HistoryTooLarge(STORE_HISTORY_ROWS_MAX));
            }
            visit(history_row(row)?);
        }
        Ok(())
    }

    fn load_claims(
        &self,
        keys: &ClaimKeys,
    ) -> BoxFuture<'static, Result<Vec<HistoryRow>, StoreError>> {
        let (reader, keys) = (self.reader.clone(), keys.clone());
        let read = move || read_claims(&lock(&reader), &keys);
        match tokio::runtime::Handle::try_current() {
            // Off the caller's async workers: a probe may wait for a page from disk.
            Ok(runtime) => Box::pin(async move {
                let joined = runtime.spawn_blocking(read).await;
                joined.map_err(|error| StoreError::Commit(error.to_string()))?
            }),
            Err(_) => Box::pin(std::future::ready(read())),
        }
    }

    fn observe_batches(&self, observer: crate::store::BatchObserver) {
        self.queue.observe_batches(observer);
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        // What the writer last found: never the write lock itself, which readiness probes
        // would take from the writer.
        self.queue.check_health()
    }

    fn stats(&self) -> StoreStats {
        self.queue.stats()
    }

    fn flush(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.queue.flush()
    }

    fn close(&self) -> Result<(), StoreError> {
        self.queue.close()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::warn!(%error, "claim store did not close cleanly");
        }
    }
}

/// For each (Rx, fill) of `keys` (at most [`TRANSACTIONS_MAX`]), the paid claim a duplicate or
/// a reversal would match: one indexed probe each ([`CLAIM_SQL`]).
fn read_claims(reader: &Connection, keys: &ClaimKeys) -> Result<Vec<HistoryRow>, StoreError> {
    let mut statement = reader.prepare_cached(CLAIM_SQL)?;
    let date_of_service = keys.date_of_service.to_string();
    let mut found = Vec::with_capacity(keys.rx_fills.len().min(TRANSACTIONS_MAX));
    for (rx_number, fill_number) in keys.rx_fills.iter().take(TRANSACTIONS_MAX) {
        let mut rows = statement.query(named_params! {
            ":pharmacy_id": keys.pharmacy_id,
            ":rx_number": rx_number,
            ":fill_number": fill_number,
            ":date_of_service": date_of_service,
        })?;
        if let Some(row) = rows.next()? {
            found.push(history_row(row)?);
        }
    }
    Ok(found)
}

/// A paid claim row as the history needs it.
fn history_row(row: &Row<'_>) -> Result<HistoryRow, StoreError> {
    let claim_id: u64 = row.get(0)?;
    let corrupt = |column| StoreError::Corrupt { claim_id, column };
    let ndc: String = row.get(2)?;
    let date_of_service: String = row.get(4)?;
    let pharmacy_id: String = row.get(8)?;
    let prescriber_id: String = row.get(9)?;
    let fill = Fill {
        ndc: Ndc::parse(ndc.as_bytes()).ok_or_else(|| corrupt("ndc"))?,
        rx_number: row.get(3)?,
        date_of_service: parse_iso_date(&date_of_service)
            .ok_or_else(|| corrupt("date_of_service"))?,
        quantity_milli: row.get(5)?,
        days_supply: row.get(6)?,
        fill_number: row.get(7)?,
        pharmacy: id_hash(pharmacy_id.as_bytes()),
        prescriber: id_hash(prescriber_id.as_bytes()),
        overridden: super::overridden_of(row.get(11)?),
    };
    let patient_key = PatientKey::from_stored(row.get(1)?);
    Ok(HistoryRow {
        patient_key,
        fill,
        claim_id,
        reversed: row.get(10)?,
    })
}

/// `YYYY-MM-DD` as the store writes it.
fn parse_iso_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let widths = (year.len(), month.len(), day.len());
    if parts.next().is_some() || widths != (4, 2, 2) {
        return None;
    }
    Date::parse_ccyymmdd(format!("{year}{month}{day}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_file_is_private_and_served_by_one_store_at_a_time() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claims.db");
        let first = SqliteStore::open(&path, StoreOptions::default()).expect("first open");
        for file in ["claims.db", "claims.db-wal", "claims.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, STORE_FILE_MODE, "{file}");
        }
        let second = SqliteStore::open(&path, StoreOptions::default());
        let refused = second
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            refused.contains("already serving this store file"),
            "{refused:?}"
        );
        assert!(refused.contains("claims.db"), "{refused:?}");
        drop(first);
        SqliteStore::open(&path, StoreOptions::default()).expect("open again once closed");
    }

    /// A store file created and migrated by a store that is closed again, and an analyst's
    /// connection to it.
    fn closed_store_file() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("claims.db");
        drop(SqliteStore::open(&path, StoreOptions::default()).unwrap());
        let connection = Connection::open(&path).unwrap();
        (folder, path, connection)
    }

    #[test]
    fn the_claim_lookup_is_one_probe_of_the_match_index() {
        let (_folder, _, connection) = closed_store_file();
        let explain = format!("EXPLAIN QUERY PLAN {CLAIM_SQL}");
        let mut statement = connection.prepare(&explain).unwrap();
        let params = named_params! {
            ":pharmacy_id": "1234567890",
            ":rx_number": 1,
            ":fill_number": 0,
            ":date_of_service": "2025-03-01",
        };
        let steps: Vec<String> = statement
            .query_map(params, |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let claims = steps.iter().find(|step| step.contains(" claims ")).unwrap();
        assert!(
            claims.contains("USING INDEX claims_match (pharmacy_id=? AND rx_number=? AND fill_number=? AND date_of_service=?)"),
            "{steps:?}"
        );
    }

    #[test]
    fn iso_dates_read_back_what_the_store_writes() {
        let date = Date::from_ymd(2025, 2, 28).unwrap();
        assert_eq!(parse_iso_date(&date.to_string()), Some(date));
        for bad in [
            "2025-02-30",
            "20250228",
            "2025-2-28",
            "2025-02-28-1",
            "",
            "abcd-ef-gh",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn options_are_lowered_to_the_limits() {
        let wide = StoreOptions {
            queue_depth: usize::MAX,
            batch_records_max: 0,
            enqueue_deadline: Duration::from_secs(3_600),
            busy_timeout: Duration::from_secs(3_600),
        };
        let bounded = wide.bounded();
        assert_eq!(bounded.queue_depth, STORE_QUEUE_DEPTH_MAX);
        assert_eq!(bounded.batch_records_max, 1);
        assert_eq!(bounded.enqueue_deadline, STORE_ENQUEUE_DEADLINE);
        assert_eq!(bounded.busy_timeout, STORE_BUSY_TIMEOUT);
    }

    #[test]
    fn a_file_from_a_newer_gateway_is_refused() {
        let (_folder, path, connection) = closed_store_file();
        connection
            .execute("INSERT INTO schema_version VALUES (99, 0)", [])
            .unwrap();
        let refused = SqliteStore::open(&path, StoreOptions::default()).err();
        assert!(matches!(
            refused,
            Some(StoreError::SchemaTooNew {
                found: 99,
                known: super::super::SCHEMA_VERSION
            })
        ));
    }

    #[test]
    fn a_version_1_file_is_migrated_to_the_current_schema() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("claims.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA_VERSION_SQL).unwrap();
        old.execute_batch(SCHEMA_SQL).unwrap();
        old.execute("INSERT INTO schema_version VALUES (1, 0)", [])
            .unwrap();
        drop(old);
        drop(SqliteStore::open(&path, StoreOptions::default()).unwrap());
        let connection = Connection::open(&path).unwrap();
        let version: i64 = connection
            .query_row("SELECT max(version) FROM schema_version", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(version, super::super::SCHEMA_VERSION);
        connection
            .execute_batch("SELECT remembered_from FROM conflicts")
            .expect("migration 2 added the column");
    }

    #[test]
    fn reopening_applies_no_migration_twice() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("claims.db");
        drop(SqliteStore::open(&path, StoreOptions::default()).unwrap());
        drop(SqliteStore::open(&path, StoreOptions::default()).unwrap());
        let connection = Connection::open(&path).unwrap();
        let versions: i64 = connection
            .query_row("SELECT count(*) FROM schema_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(versions, super::super::SCHEMA_VERSION);
    }
}
