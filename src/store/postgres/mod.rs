//! The shared claim store on PostgreSQL: several gateway nodes on one database.
//!
//! [`PgStore::open`] starts the store's own thread, which runs a single-threaded tokio runtime
//! for every database conversation of the store: it connects, creates the `schema=` schema when
//! the url names one, applies the migrations (under an advisory lock, so nodes starting together
//! do not race), then runs the group-commit writer (`writer`, on `store::queue`) on one connection. History
//! reads ([`ClaimStore::load_patient`], [`ClaimStore::load_claims`]) run on the same runtime
//! over a pool of [`PG_READ_CONNECTIONS_MAX`] connections, so the store works the same whatever
//! runtime (or none) its caller uses, and closing it is joining one thread, as for SQLite.
//!
//! Must never: log a row's values or a server's DETAIL (see `rows::describe`), print the url
//! (it may carry a password), or hold a pooled connection across a claim's commit.

use crate::claim::{id_hash, Date, Fill, Ndc, PatientKey};
use crate::limits::{
    FILLS_PER_PATIENT_MAX, PG_CONNECT_TIMEOUT, PG_HISTORY_ROWS_BUFFERED,
    PG_IDLE_IN_TRANSACTION_TIMEOUT, PG_LOCK_TIMEOUT, PG_OPEN_TIMEOUT, PG_POOL_WAIT,
    PG_READ_CONNECTIONS_MAX, PG_READ_DEADLINE, PG_STATEMENT_TIMEOUT, PG_TCP_USER_TIMEOUT,
    STORE_BATCH_RECORDS_MAX, STORE_ENQUEUE_DEADLINE, STORE_HISTORY_ROWS_MAX, STORE_QUEUE_DEPTH_MAX,
};
use crate::store::queue::{Counters, Job, Queue};
use crate::store::record::TransmissionRecord;
use crate::store::{
    BatchObserver, ClaimKeys, ClaimStore, Committing, HistoryRow, PatientRows, StoreError,
    StoreKind, StoreStats, PG_SCHEMA_SQL,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::future::BoxFuture;
use futures::StreamExt;
use rows::{describe, int8, PgDate};
use std::str::FromStr;
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;
use tls::PgTls;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_postgres::Row;

/// Schema migrations in order; migration N brings the schema to version N.
mod analyze;
pub mod lifecycle;
mod rows;
mod tls;
mod writer;

const MIGRATIONS: &[&str] = &[
    PG_SCHEMA_SQL,
    super::PG_SCHEMA_2_SQL,
    super::PG_SCHEMA_3_SQL,
    super::PG_SCHEMA_4_SQL,
];
const _: () = assert!(MIGRATIONS.len() as i64 == super::SCHEMA_VERSION);

const SCHEMA_VERSION_SQL: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version integer PRIMARY KEY, applied_at_ms bigint NOT NULL)";

/// Serializes the migrations of nodes starting together on the same schema.
const MIGRATION_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtext('durgate migrations ' || current_schema()))";

/// The columns a [`HistoryRow`] is read from, in `history_row` order.
/// The last column lists the claim's overridden rejecting conflicts
/// ([`super::OVERRIDDEN_SEPARATORS`]).
/// A macro so that the statements below can `concat!` it; named so that a subquery of them can
/// be read as `c.reversed`, `c.overridden`.
macro_rules! history_columns {
    () => {
        "id, patient_key, ndc, rx_number, date_of_service, quantity_milli, days_supply, \
         fill_number, pharmacy_id, prescriber_id, reversed_at_ms IS NOT NULL AS reversed, \
         (SELECT string_agg(o.edit || chr(31) || o.rule_id, chr(30)) FROM conflicts o \
         WHERE o.claim_id = claims.id AND o.action = 'reject' \
         AND o.overridden_by IS NOT NULL) AS overridden"
    };
}
const HISTORY_COLUMNS: &str = history_columns!();

/// [`HISTORY_COLUMNS`] read from a subquery named `c`.
macro_rules! history_columns_of_c {
    () => {
        "c.id, c.patient_key, c.ndc, c.rx_number, c.date_of_service, c.quantity_milli, \
         c.days_supply, c.fill_number, c.pharmacy_id, c.prescriber_id, c.reversed, c.overridden"
    };
}

/// Where a PostgreSQL store lives: the connection settings and the schema its tables are in.
#[derive(Clone)]
pub struct PgLocation {
    config: tokio_postgres::Config,
    schema: Option<String>,
    tls: PgTls,
}

impl std::fmt::Debug for PgLocation {
    // The connection settings may hold a password: only the schema is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLocation")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgLocation {
    /// A `postgres://` or `postgresql://` url as libpq reads it, plus one parameter of ours:
    /// `schema=NAME` (lowercase letters, digits and `_`, at most 63) puts the tables in that
    /// schema, created if missing (`search_path` is set to it on every connection). Each
    /// connection also gets `statement_timeout`, `lock_timeout`,
    /// `idle_in_transaction_session_timeout` (see `limits`), `synchronous_commit=on`, a TCP
    /// user timeout and keepalives. `sslmode` and `sslrootcert` are read as libpq reads them
    /// (`tls`: `verify-ca` and `verify-full` too).
    pub fn parse(url: &str) -> Result<PgLocation, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.strip_prefix("schema=") {
                Some(name) => schema = Some(schema_name(name)?),
                None => kept.push(pair),
            }
        }
        let tls = PgTls::take(&mut kept)?;
        let libpq = match kept.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", kept.join("&")),
        };
        let mut config = tokio_postgres::Config::from_str(&libpq)
            .map_err(|error| StoreError::Url(describe(&error)))?;
        settle(&mut config, schema.as_deref());
        config.ssl_mode(tls.driver_mode());
        Ok(PgLocation {
            config,
            schema,
            tls,
        })
    }

    /// What the url asked of the link: the connector every connection goes through.
    pub fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
        self.tls.connector()
    }

    /// The schema named by `schema=`, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The connection settings, `search_path` and `statement_timeout` included. They may hold
    /// a password: never print them.
    pub fn connection_config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

/// A schema name safe to put in SQL unquoted.
fn schema_name(name: &str) -> Result<String, StoreError> {
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == b'_');
    let rest_well =
        bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if starts_well && rest_well && name.len() <= 63 {
        return Ok(name.to_owned());
    }
    Err(StoreError::Url(
        "schema= takes lowercase letters, digits and _ (at most 63, not starting with a digit)"
            .into(),
    ))
}

/// Connection settings every store connection gets.
fn settle(config: &mut tokio_postgres::Config, schema: Option<&str>) {
    let mut options = config.get_options().unwrap_or_default().to_owned();
    // Ours come last, so they win over the url's: durability is not a tuning knob.
    let settings = [
        ("statement_timeout", PG_STATEMENT_TIMEOUT.as_millis()),
        ("lock_timeout", PG_LOCK_TIMEOUT.as_millis()),
        (
            "idle_in_transaction_session_timeout",
            PG_IDLE_IN_TRANSACTION_TIMEOUT.as_millis(),
        ),
    ];
    for (name, value_ms) in settings {
        options.push_str(&format!(" -c {name}={value_ms}"));
    }
    options.push_str(" -c synchronous_commit=on");
    if let Some(schema) = schema {
        options.push_str(&format!(" -c search_path={schema}"));
    }
    config.options(options.trim_start());
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(PG_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("durgate");
    }
    config
        .tcp_user_timeout(PG_TCP_USER_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(PG_TCP_USER_TIMEOUT / 2)
        .keepalives_interval(PG_TCP_USER_TIMEOUT / 10)
        .keepalives_retries(3);
}

/// A pool of `size` connections to `location`, created on the store's runtime.
fn pool(location: &PgLocation, size: usize) -> Result<Pool, StoreError> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let connector = location.tls_connector()?;
    let manager = Manager::from_config(location.config.clone(), connector, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(PG_POOL_WAIT))
        .create_timeout(Some(PG_CONNECT_TIMEOUT))
        .build()
        .map_err(|error| StoreError::Postgres(error.to_string()))
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => StoreError::Postgres(describe(&error)),
        other => StoreError::Postgres(other.to_string()),
    }
}

fn pg_error(error: tokio_postgres::Error) -> StoreError {
    StoreError::Postgres(describe(&error))
}

/// The shared claim store. See the [store module docs](crate::store) and `src/store/POSTGRES.md`.
pub struct PgStore {
    queue: Queue,
    runtime: Handle,
    readers: Pool,
}

/// What the store thread hands back once the database is ready.
type Opened = Result<(Handle, Pool), StoreError>;

impl PgStore {
    /// Connects, creates the schema if the url names one, applies the missing migrations and
    /// starts the writer. Blocks up to [`PG_OPEN_TIMEOUT`].
    pub fn open(location: &PgLocation) -> Result<PgStore, StoreError> {
        let (queue, jobs) = Queue::new(STORE_QUEUE_DEPTH_MAX, STORE_ENQUEUE_DEADLINE)?;
        let (opened_tx, opened_rx) = std_mpsc::sync_channel::<Opened>(1);
        let thread = spawn_store_thread(location.clone(), jobs, queue.counters(), opened_tx)?;
        queue.attach_writer(thread);
        let (runtime, readers) = match opened_rx.recv_timeout(PG_OPEN_TIMEOUT) {
            Ok(opened) => opened?,
            // The thread ends by itself once it sees the queue closed.
            Err(_) => return Err(StoreError::Postgres("timed out opening the store".into())),
        };
        Ok(PgStore {
            queue,
            runtime,
            readers,
        })
    }

    /// Runs `work` on the store's runtime; `Closed` once the store is closed.
    fn on_runtime<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let task = self.runtime.spawn(work);
        Box::pin(async move { task.await.map_err(|_| StoreError::Closed)? })
    }
}

fn spawn_store_thread(
    location: PgLocation,
    queue: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    opened: std_mpsc::SyncSender<Opened>,
) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("durgate-pg".into())
        .spawn(move || serve(location, queue, counters, opened))
        .map_err(StoreError::Writer)
}

/// The store thread: a runtime that opens the database, then runs the writer until the queue
/// is closed and drained (read tasks still running then are dropped with the runtime).
fn serve(
    location: PgLocation,
    queue: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    opened: std_mpsc::SyncSender<Opened>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => return drop(opened.send(Err(StoreError::Writer(error)))),
    };
    runtime.block_on(async move {
        match prepare(&location).await {
            Ok((writer, readers)) => {
                drop(opened.send(Ok((Handle::current(), readers.clone()))));
                let analyzer = analyze::Analyzer::new(readers);
                writer::run(writer, analyzer, queue, counters, STORE_BATCH_RECORDS_MAX).await;
            }
            Err(error) => drop(opened.send(Err(error))),
        }
    });
}

/// The writer's pool (one connection) and the readers' pool, after the migrations.
async fn prepare(location: &PgLocation) -> Result<(Pool, Pool), StoreError> {
    let writer = pool(location, 1)?;
    let readers = pool(location, PG_READ_CONNECTIONS_MAX)?;
    let mut client = writer.get().await.map_err(pool_error)?;
    if let Some(schema) = location.schema() {
        let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
        client.batch_execute(&create).await.map_err(pg_error)?;
    }
    migrate(&mut client).await?;
    Ok((writer, readers))
}

/// Applies the missing migrations in one transaction, under an advisory lock.
async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(pg_error)?;
    transaction
        .batch_execute(MIGRATION_LOCK_SQL)
        .await
        .map_err(pg_error)?;
    transaction
        .batch_execute(SCHEMA_VERSION_SQL)
        .await
        .map_err(pg_error)?;
    let found: i32 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_error)?;
    let known = MIGRATIONS.len() as i32;
    if found > known {
        let (found, known) = (i64::from(found), i64::from(known));
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, sql) in (1i32..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        transaction.batch_execute(sql).await.map_err(pg_error)?;
        transaction
            .execute(
                "INSERT INTO schema_version (version, applied_at_ms) VALUES ($1, $2)",
                &[&version, &crate::clock::unix_ms()],
            )
            .await
            .map_err(pg_error)?;
    }
    transaction.commit().await.map_err(pg_error)
}

impl ClaimStore for PgStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn submit(
        &self,
        record: TransmissionRecord,
    ) -> BoxFuture<'static, Result<Committing, StoreError>> {
        match record.validate().and_then(|()| rows::check_ranges(&record)) {
            Ok(()) => self.queue.submit(record),
            Err(refused) => Box::pin(std::future::ready(Err(refused))),
        }
    }

    fn load_history(
        &self,
        since: Date,
        visit: &mut dyn FnMut(HistoryRow),
    ) -> Result<(), StoreError> {
        let (rows_tx, mut rows_rx) = mpsc::channel(PG_HISTORY_ROWS_BUFFERED);
        let readers = self.readers.clone();
        let task = self.runtime.spawn(stream_history(readers, since, rows_tx));
        let mut visited = 0u64;
        // Blocks this thread (not a runtime's: futures' executor works from any context).
        while let Some(row) = futures::executor::block_on(rows_rx.recv()) {
            visited += 1;
            if visited > STORE_HISTORY_ROWS_MAX {
                task.abort();
                return Err(StoreError::HistoryTooLarge(STORE_HISTORY_ROWS_MAX));
            }
            visit(row?);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        self.queue.check_health()?;
        let (done_tx, done_rx) = std_mpsc::sync_channel(1);
        let readers = self.readers.clone();
        self.runtime.spawn(async move {
            drop(done_tx.send(writable(&readers).await));
        });
        done_rx
            .recv_timeout(PG_POOL_WAIT + PG_CONNECT_TIMEOUT)
            .unwrap_or_else(|_| Err(StoreError::Postgres("readiness check timed out".into())))
    }

    fn stats(&self) -> StoreStats {
        self.queue.stats()
    }

    fn observe_batches(&self, observer: BatchObserver) {
        self.queue.observe_batches(observer);
    }

    fn flush(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.queue.flush()
    }

    fn close(&self) -> Result<(), StoreError> {
        self.queue.close()
    }

    fn shared_history(&self) -> bool {
        true
    }

    fn load_patient(
        &self,
        key: &PatientKey,
        since: Date,
    ) -> BoxFuture<'static, Result<PatientRows, StoreError>> {
        let (readers, key) = (self.readers.clone(), key.clone());
        self.on_runtime(async move { read_patient(&readers, &key, since).await })
    }

    fn load_claims(
        &self,
        keys: &ClaimKeys,
    ) -> BoxFuture<'static, Result<Vec<HistoryRow>, StoreError>> {
        let (readers, keys) = (self.readers.clone(), keys.clone());
        self.on_runtime(async move { read_claims(&readers, &keys).await })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::warn!(%error, "claim store did not close cleanly");
        }
    }
}

/// Ready to take claims: a connection answers and the database accepts writes (a hot standby
/// or a read-only engine does not).
async fn writable(readers: &Pool) -> Result<(), StoreError> {
    let client = readers.get().await.map_err(pool_error)?;
    let row = client
        .query_one("SELECT current_setting('transaction_read_only')", &[])
        .await
        .map_err(pg_error)?;
    let read_only: String = row.try_get(0).map_err(pg_error)?;
    if read_only == "on" {
        return Err(StoreError::Postgres("the database is read-only".into()));
    }
    Ok(())
}

/// The patient's head version and fills in one statement, so in one snapshot: the writer
/// advances the head in the same transaction as the claim rows it counts, so the rows hold
/// every claim the version counts. One row with NULL claim columns when there is no fill.
const PATIENT_SQL: &str = concat!(
    "SELECT ",
    history_columns_of_c!(),
    ", h.version FROM (SELECT coalesce((SELECT version FROM patient_heads \
     WHERE patient_key = $1), 0) AS version) AS h LEFT JOIN LATERAL (SELECT ",
    history_columns!(),
    " FROM claims WHERE patient_key = $1 AND date_of_service >= $2 AND status = 'paid' \
     AND ndc IS NOT NULL \
     ORDER BY reversed_at_ms IS NULL DESC, date_of_service DESC, id DESC LIMIT $3) AS c ON true"
);

/// Column of [`PATIENT_SQL`] holding the head version.
const PATIENT_HEAD_COLUMN: usize = 12;

/// Per key, one index lookup on `claims_match` (all four columns equal): the unreversed paid
/// claim, else the latest reversed one.
const CLAIMS_SQL: &str = concat!(
    "SELECT ",
    history_columns_of_c!(),
    " FROM unnest($3::bigint[], $4::int[]) AS k (rx_number, fill_number) \
     CROSS JOIN LATERAL (SELECT ",
    history_columns!(),
    " FROM claims WHERE pharmacy_id = $1 AND rx_number = k.rx_number \
     AND fill_number = k.fill_number AND date_of_service = $2 AND status = 'paid' \
     AND patient_key IS NOT NULL AND ndc IS NOT NULL \
     ORDER BY reversed_at_ms IS NULL DESC, id DESC LIMIT 1) AS c"
);

/// The patient's head version and fills ([`PATIENT_SQL`], one round trip).
async fn read_patient(
    readers: &Pool,
    key: &PatientKey,
    since: Date,
) -> Result<PatientRows, StoreError> {
    let limit = FILLS_PER_PATIENT_MAX as i64;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&key.as_str(), &PgDate(since), &limit];
    let rows = query_rows(readers, PATIENT_SQL, &params).await?;
    let head_version = match rows.first() {
        Some(row) => row.try_get(PATIENT_HEAD_COLUMN).map_err(pg_error)?,
        None => 0,
    };
    let fills = rows.iter().filter(|row| !claim_column_is_null(row));
    let rows = fills.map(history_row).collect::<Result<_, _>>()?;
    Ok(PatientRows { head_version, rows })
}

/// The LEFT JOIN's row for a patient without fills.
fn claim_column_is_null(row: &Row) -> bool {
    matches!(row.try_get::<_, Option<i64>>(0), Ok(None))
}

fn read_deadline_missed() -> StoreError {
    StoreError::Postgres(format!(
        "no answer within {} ms",
        PG_READ_DEADLINE.as_millis()
    ))
}

async fn read_claims(readers: &Pool, keys: &ClaimKeys) -> Result<Vec<HistoryRow>, StoreError> {
    let bounded = keys.rx_fills.iter().take(crate::limits::TRANSACTIONS_MAX);
    let (rx_numbers, fill_numbers): (Vec<i64>, Vec<i32>) = bounded
        .map(|(rx_number, fill_number)| (int8(*rx_number), i32::from(*fill_number)))
        .unzip();
    let date = PgDate(keys.date_of_service);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&keys.pharmacy_id, &date, &rx_numbers, &fill_numbers];
    read_rows(readers, CLAIMS_SQL, &params).await
}

/// One history query, its rows as the history needs them.
async fn read_rows(
    readers: &Pool,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<HistoryRow>, StoreError> {
    let rows = query_rows(readers, sql, params).await?;
    rows.iter().map(history_row).collect()
}

/// One query on a pooled connection, within [`PG_READ_DEADLINE`]; a connection that missed it
/// is not given back to the pool.
async fn query_rows(
    readers: &Pool,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, StoreError> {
    let client = readers.get().await.map_err(pool_error)?;
    let query = async {
        let statement = client.prepare_cached(sql).await?;
        client.query(&statement, params).await
    };
    match tokio::time::timeout(PG_READ_DEADLINE, query).await {
        Ok(rows) => rows.map_err(pg_error),
        Err(_) => {
            drop(deadpool_postgres::Object::take(client));
            Err(read_deadline_missed())
        }
    }
}

/// Streams every paid claim since `since` to the history rebuild.
async fn stream_history(
    readers: Pool,
    since: Date,
    rows: mpsc::Sender<Result<HistoryRow, StoreError>>,
) {
    let streamed = async {
        let client = readers.get().await.map_err(pool_error)?;
        let sql = format!(
            "SELECT {HISTORY_COLUMNS} FROM claims WHERE status = 'paid' \
             AND date_of_service >= $1 AND patient_key IS NOT NULL AND ndc IS NOT NULL"
        );
        let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
        let stream = client
            .query_raw(&statement, [PgDate(since)])
            .await
            .map_err(pg_error)?;
        let mut stream = std::pin::pin!(stream);
        while let Some(row) = stream.next().await {
            let row = row.map_err(pg_error).and_then(|row| history_row(&row));
            if rows.send(row).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    };
    if let Err(error) = streamed.await {
        drop(rows.send(Err(error)).await);
    }
}

/// A paid claim row as the history needs it.
fn history_row(row: &Row) -> Result<HistoryRow, StoreError> {
    let id: i64 = row.try_get(0).map_err(pg_error)?;
    let claim_id = u64::try_from(id).unwrap_or(0);
    let corrupt = |column| StoreError::Corrupt { claim_id, column };
    let get_u64 = |index, column| {
        let value: i64 = row.try_get(index).map_err(pg_error)?;
        u64::try_from(value).map_err(|_| corrupt(column))
    };
    let ndc: String = row.try_get(2).map_err(pg_error)?;
    let date_of_service: PgDate = row.try_get(4).map_err(pg_error)?;
    let days_supply: i32 = row.try_get(6).map_err(pg_error)?;
    let fill_number: i32 = row.try_get(7).map_err(pg_error)?;
    let pharmacy_id: String = row.try_get(8).map_err(pg_error)?;
    let prescriber_id: String = row.try_get(9).map_err(pg_error)?;
    let fill = Fill {
        ndc: Ndc::parse(ndc.as_bytes()).ok_or_else(|| corrupt("ndc"))?,
        rx_number: get_u64(3, "rx_number")?,
        date_of_service: date_of_service.0,
        quantity_milli: get_u64(5, "quantity_milli")?,
        days_supply: u16::try_from(days_supply).map_err(|_| corrupt("days_supply"))?,
        fill_number: u8::try_from(fill_number).map_err(|_| corrupt("fill_number"))?,
        pharmacy: id_hash(pharmacy_id.as_bytes()),
        prescriber: id_hash(prescriber_id.as_bytes()),
        overridden: super::overridden_of(row.try_get(11).map_err(pg_error)?),
    };
    Ok(HistoryRow {
        patient_key: PatientKey::from_stored(row.try_get(1).map_err(pg_error)?),
        fill,
        claim_id,
        reversed: row.try_get(10).map_err(pg_error)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_ours_and_the_rest_goes_to_libpq() {
        let location = PgLocation::parse(
            "postgres://postgres@127.0.0.1:5432/test?schema=node_a&sslmode=disable",
        )
        .unwrap();
        assert_eq!(location.schema(), Some("node_a"));
        let options = location.config.get_options().unwrap_or_default();
        assert!(options.contains("-c search_path=node_a"), "{options}");
        assert!(options.contains("-c statement_timeout="), "{options}");
        assert_eq!(location.config.get_dbname(), Some("test"));
        let plain = PgLocation::parse("postgresql://127.0.0.1/test").unwrap();
        assert_eq!(plain.schema(), None);
        let options = plain.config.get_options().unwrap_or_default();
        assert!(!options.contains("search_path"), "{options}");
    }

    #[test]
    fn unsafe_schema_names_and_bad_urls_are_refused_without_the_url() {
        for bad in ["x;drop", "Upper", "1st", "", "a-b", &"a".repeat(64)] {
            let url = format!("postgres://user:secret@127.0.0.1/test?schema={bad}");
            let refused = PgLocation::parse(&url).err().map(|error| error.to_string());
            let shown = refused.unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(!shown.contains("secret"), "{shown}");
        }
        let refused = PgLocation::parse("postgres://user:secret@127.0.0.1/test?bogus=1").err();
        let shown = refused.map(|error| error.to_string()).unwrap_or_default();
        assert!(shown.starts_with("store url is not understood"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        let debug = format!(
            "{:?}",
            PgLocation::parse("postgres://u:secret@h/db").unwrap()
        );
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn the_statement_timeout_is_added_to_options_the_url_gave() {
        let location = PgLocation::parse("postgres://h/db?options=-c%20work_mem%3D8MB").unwrap();
        let options = location.config.get_options().unwrap_or_default();
        assert!(
            options.starts_with("-c work_mem=8MB -c statement_timeout="),
            "{options}"
        );
    }
}
