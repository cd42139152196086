//! Reads claim rows for a date range out of a PostgreSQL claim store, read-only, for the report
//! cores: the PostgreSQL twin of [`SqliteSource`](super::SqliteSource).
//!
//! Place in the data flow: [`open`](super::open) builds a [`PgSource`] for a
//! `postgres://` or `postgresql://` url (as `durgate serve --store` takes it, `schema=`
//! included); the CLI hands each [`ClaimRow`] it streams to a report tally. The trait is
//! synchronous, so the source owns a small current-thread tokio runtime and drives
//! tokio-postgres on it, one connection for the whole run.
//!
//! Same rows, same order (claim id), same patient numbers (rank of the key's first claim id),
//! same bounds and errors as the SQLite reader. A scan runs in one `REPEATABLE READ READ ONLY`
//! transaction, so the patient ranking and the rows come from one snapshot while gateway nodes
//! keep committing; its four ordered cursors (claims, reject codes, conflicts, DUR/PPS) are
//! portals of that transaction, fetched [`REPORT_PG_FETCH_ROWS`] rows at a time, so memory
//! stays flat however large the period. The session is `default_transaction_read_only`, so
//! every other query is read-only too.
//!
//! Choices where the store leaves room: an unreachable server or a failed login is a problem
//! with the store named (like a missing SQLite file, exit status 2); a schema without a
//! `schema_version` table is no claim store; a failure after connecting is a read failure.
//! Statements may run up to [`REPORT_PG_STATEMENT_TIMEOUT`] (the gateway's own timeout is
//! sized for single claims, not for ranking every patient of the store).
//!
//! Must never: write to the store or create its schema, print the url or the connection
//! settings (they may hold a password), repeat a server's DETAIL (it may quote a row, patient
//! key included), or read a row beyond [`REPORT_CLAIMS_MAX`].

use super::super::{ClaimRow, ConflictRow, DurPpsRow, ReportError, ScanDates};
use super::{
    conflict, corrupt, join_rows, reject_code, ChildCursors, ClaimColumns, ClaimSource,
    DurPpsColumns, PatientNumbers, Pharmacies, SCHEMA_VERSION_KNOWN,
};
use crate::claim::{Date, RejectCode};
#[cfg(doc)]
use crate::limits::REPORT_CLAIMS_MAX;
use crate::limits::{REPORT_PG_FETCH_ROWS, REPORT_PG_STATEMENT_TIMEOUT};
use crate::store::PgLocation;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, IsolationLevel, Portal, Row, Transaction};

/// The rows a report reads: claims and rebills with a date of service in `$1..=$2` (days
/// since 1970-01-01, so the bounds travel as plain integers).
const ROW_FILTER: &str = "c.kind IN ('claim', 'rebill') \
     AND c.date_of_service BETWEEN DATE '1970-01-01' + $1::integer \
     AND DATE '1970-01-01' + $2::integer";

/// A date column as days since 1970-01-01 (`Date::from_days`).
const EPOCH: &str = "DATE '1970-01-01'";

impl From<tokio_postgres::Error> for ReportError {
    fn from(error: tokio_postgres::Error) -> ReportError {
        ReportError::Postgres(describe(&error))
    }
}

/// A PostgreSQL error as the reports may show it: SQLSTATE and message, never the DETAIL.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// A PostgreSQL claim store, read through one connection.
pub struct PgSource {
    runtime: Runtime,
    client: Mutex<Client>,
    /// The schema named by `schema=` (for messages), or the server's default search path.
    schema: String,
}

impl PgSource {
    /// Connects to an existing store read-only and checks it is a claim store this reader
    /// understands. Never creates the schema or a table. Blocks (as every call of the source
    /// does): call it outside an async runtime, e.g. through `spawn_blocking`.
    pub fn open(location: &PgLocation) -> Result<PgSource, ReportError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ReportError::Postgres(
                "the PostgreSQL report reader blocks: open it outside an async runtime".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| ReportError::Postgres(error.to_string()))?;
        let connector = location
            .tls_connector()
            .map_err(|error| ReportError::PgUrl(error.to_string()))?;
        let client = runtime.block_on(connect(location.connection_config(), connector))?;
        let schema = location.schema().unwrap_or("of the default search_path");
        let source = PgSource {
            runtime,
            client: Mutex::new(client),
            schema: schema.to_owned(),
        };
        source.check_schema()?;
        Ok(source)
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One row of a query that returns exactly one.
    fn one(&self, sql: &str, dates: Option<ScanDates>) -> Result<Row, ReportError> {
        let client = self.client();
        let row = match dates.map(bounds) {
            Some((first, last)) => self
                .runtime
                .block_on(client.query_one(sql, &[&first, &last])),
            None => self.runtime.block_on(client.query_one(sql, &[])),
        };
        Ok(row?)
    }

    fn check_schema(&self) -> Result<(), ReportError> {
        let sql = "SELECT max(version)::bigint FROM schema_version";
        let answer = self.runtime.block_on(self.client().query_one(sql, &[]));
        let found = match answer {
            Ok(row) => row.try_get::<_, Option<i64>>(0)?,
            Err(error) if error.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
            Err(error) => return Err(error.into()),
        };
        match found {
            Some(found) if found > SCHEMA_VERSION_KNOWN => Err(ReportError::SchemaTooNew {
                found,
                known: SCHEMA_VERSION_KNOWN,
            }),
            Some(_) => Ok(()),
            None => Err(ReportError::PgNotAStore(self.schema.clone())),
        }
    }
}

/// Connects, starts the connection's driver on the current runtime and makes the session
/// read-only with the report's statement timeout.
async fn connect(
    config: &tokio_postgres::Config,
    connector: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<Client, ReportError> {
    let mut config = config.clone();
    config.application_name("durgate report");
    let (client, connection) = config
        .connect(connector)
        .await
        .map_err(|error| ReportError::PgConnect(describe(&error)))?;
    tokio::spawn(async move {
        // Its end is seen by the next query as a closed connection.
        let _ = connection.await;
    });
    let timeout_ms = REPORT_PG_STATEMENT_TIMEOUT.as_millis();
    let session =
        format!("SET default_transaction_read_only = on; SET statement_timeout = {timeout_ms}");
    client.batch_execute(&session).await?;
    Ok(client)
}

impl ClaimSource for PgSource {
    fn has_claims(&self, dates: ScanDates) -> Result<bool, ReportError> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM claims c WHERE {ROW_FILTER})");
        Ok(self.one(&sql, Some(dates))?.try_get(0)?)
    }

    /// Counted on the `claims_status_dos` index alone: paid and rejected rows of the dates,
    /// rejected reversals included (as the SQLite reader counts).
    fn estimate(&self, dates: ScanDates) -> Result<u64, ReportError> {
        let sql = "SELECT count(*) FROM claims WHERE status IN ('paid', 'rejected') \
                   AND date_of_service BETWEEN DATE '1970-01-01' + $1::integer \
                   AND DATE '1970-01-01' + $2::integer";
        let count: i64 = self.one(sql, Some(dates))?.try_get(0)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn latest_paid_date(&self) -> Result<Option<Date>, ReportError> {
        let sql =
            format!("SELECT max(date_of_service) - {EPOCH} FROM claims WHERE status = 'paid'");
        let days: Option<i32> = self.one(&sql, None)?.try_get(0)?;
        Ok(days.map(Date::from_days))
    }

    fn scan(
        &self,
        dates: ScanDates,
        visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
    ) -> Result<u64, ReportError> {
        let mut client = self.client();
        let runtime = &self.runtime;
        let start = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start();
        let snapshot = runtime.block_on(start)?;
        // On an error the transaction is dropped, which rolls it back.
        let visited = scan_rows(runtime, &snapshot, dates, visit)?;
        runtime.block_on(snapshot.commit())?;
        Ok(visited)
    }
}

/// The scan's first and last date of service as days since 1970-01-01.
fn bounds(dates: ScanDates) -> (i32, i32) {
    (dates.first.days(), dates.last.days())
}

fn scan_rows(
    runtime: &Runtime,
    snapshot: &Transaction<'_>,
    dates: ScanDates,
    visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
) -> Result<u64, ReportError> {
    let patients = patient_numbers(runtime, snapshot)?;
    let (first, last) = bounds(dates);
    let open = |sql: &str| Cursor::open(runtime, snapshot, sql, &[&first, &last]);
    let [claims_sql, rejects_sql, conflicts_sql, dur_pps_sql] = statements();
    let children_of = ChildCursors {
        rejects: open(&rejects_sql)?.map(|row| reject_code_row(&row?)),
        conflicts: open(&conflicts_sql)?.map(|row| conflict_row(&row?)),
        dur_pps: open(&dur_pps_sql)?.map(|row| dur_pps_row(&row?)),
    };
    let mut pharmacies = Pharmacies::default();
    let claims =
        open(&claims_sql)?.map(|row| claim_columns(&row?)?.decode(&patients, &mut pharmacies));
    join_rows(claims, children_of, visit)
}

/// The four queries of a scan (claims, reject codes, conflicts, DUR/PPS), each ordered by
/// claim id.
fn statements() -> [String; 4] {
    let child = |columns: &str, table: &str, order: &str| {
        format!(
            "SELECT {columns} FROM {table} JOIN claims c ON c.id = x.claim_id \
             WHERE {ROW_FILTER} ORDER BY x.claim_id, x.{order}"
        )
    };
    let claims = format!(
        "SELECT c.id, c.pharmacy_id, c.patient_key, c.patient_age_years, c.product_id, \
             c.ndc, c.quantity_milli, c.days_supply, c.date_of_service - {EPOCH}, \
             c.prescriber_id, c.status, c.reversed_at_ms IS NOT NULL, \
             c.gross_amount_due_cents, c.ingredient_cost_cents, c.dispensing_fee_cents \
         FROM claims c WHERE {ROW_FILTER} ORDER BY c.id"
    );
    [
        claims,
        child("x.claim_id, x.code", "claim_reject_codes x", "position"),
        child("x.claim_id, x.edit, x.action", "conflicts x", "position"),
        child(
            "x.claim_id, x.professional, x.result, \
             x.matched_conflict_id IS NOT NULL, x.overrode, m.edit, m.action",
            "dur_pps x LEFT JOIN conflicts m ON m.id = x.matched_conflict_id",
            "counter",
        ),
    ]
}

/// An open portal of the scan's transaction, read [`REPORT_PG_FETCH_ROWS`] rows at a time.
struct Cursor<'s, 'c> {
    runtime: &'s Runtime,
    snapshot: &'s Transaction<'c>,
    portal: Portal,
    fetched: VecDeque<Row>,
    exhausted: bool,
}

impl<'s, 'c> Cursor<'s, 'c> {
    fn open(
        runtime: &'s Runtime,
        snapshot: &'s Transaction<'c>,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Cursor<'s, 'c>, ReportError> {
        let portal = runtime.block_on(snapshot.bind(sql, params))?;
        Ok(Cursor {
            runtime,
            snapshot,
            portal,
            fetched: VecDeque::new(),
            exhausted: false,
        })
    }

    fn fetch(&mut self) -> Result<(), ReportError> {
        let fetch = self
            .snapshot
            .query_portal(&self.portal, REPORT_PG_FETCH_ROWS);
        let rows = self.runtime.block_on(fetch)?;
        let full = usize::try_from(REPORT_PG_FETCH_ROWS).unwrap_or(usize::MAX);
        self.exhausted = rows.len() < full;
        self.fetched = rows.into();
        Ok(())
    }
}

impl Iterator for Cursor<'_, '_> {
    type Item = Result<Row, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.fetched.is_empty() && !self.exhausted {
            if let Err(error) = self.fetch() {
                self.exhausted = true;
                return Some(Err(error));
            }
        }
        self.fetched.pop_front().map(Ok)
    }
}

/// Every patient key of the store ranked by its first claim id (the SQLite reader's
/// numbering, same query).
fn patient_numbers(
    runtime: &Runtime,
    snapshot: &Transaction<'_>,
) -> Result<PatientNumbers, ReportError> {
    let sql = "SELECT patient_key FROM claims WHERE patient_key IS NOT NULL \
               GROUP BY patient_key ORDER BY min(id)";
    let mut numbers = PatientNumbers::default();
    for row in Cursor::open(runtime, snapshot, sql, &[])? {
        numbers.add(row?.try_get(0)?)?;
    }
    Ok(numbers)
}

/// A `bigint` claim id (never negative in a claim store).
fn claim_id(row: &Row) -> Result<u64, ReportError> {
    let id: i64 = row.try_get(0)?;
    u64::try_from(id).map_err(|_| corrupt(0, "claim id"))
}

type Child<T> = Result<(u64, Result<T, ReportError>), ReportError>;

fn reject_code_row(row: &Row) -> Child<RejectCode> {
    Ok(reject_code(claim_id(row)?, row.try_get(1)?))
}

fn conflict_row(row: &Row) -> Child<ConflictRow> {
    Ok(conflict(claim_id(row)?, row.try_get(1)?, row.try_get(2)?))
}

fn dur_pps_row(row: &Row) -> Child<DurPpsRow> {
    let columns = DurPpsColumns {
        claim_id: claim_id(row)?,
        professional: row.try_get(1)?,
        result: row.try_get(2)?,
        answered: row.try_get(3)?,
        overrode: row.try_get(4)?,
        answered_edit: row.try_get(5)?,
        answered_action: row.try_get(6)?,
    };
    Ok(columns.decode())
}

/// The columns of the claims query of [`statements`], in its order.
fn claim_columns(row: &Row) -> Result<ClaimColumns<'_>, ReportError> {
    Ok(ClaimColumns {
        claim_id: claim_id(row)?,
        pharmacy: row.try_get(1)?,
        patient_key: row.try_get(2)?,
        age_years: row.try_get::<_, Option<i32>>(3)?.map(i64::from),
        product_id: row.try_get(4)?,
        ndc: row.try_get(5)?,
        quantity_milli: row.try_get(6)?,
        days_supply: row.try_get::<_, i32>(7)?.into(),
        date_of_service: Some(Date::from_days(row.try_get(8)?)),
        prescriber: row.try_get(9)?,
        status: row.try_get(10)?,
        reversed: row.try_get(11)?,
        gross_amount_due_cents: row.try_get(12)?,
        ingredient_cost_cents: row.try_get(13)?,
        dispensing_fee_cents: row.try_get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        let url = "postgres://analyst:s3cret@127.0.0.1/claims?schema=Not-Safe";
        let refused = super::super::open(url).err().expect("a bad schema name");
        assert!(matches!(refused, ReportError::PgUrl(_)), "{refused}");
        assert!(refused.is_input());
        assert!(!refused.to_string().contains("s3cret"), "{refused}");
    }

    #[test]
    fn opening_inside_an_async_runtime_is_an_error_not_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        let location = PgLocation::parse("postgres://127.0.0.1:1/claims").unwrap();
        let refused = PgSource::open(&location).err();
        assert!(matches!(refused, Some(ReportError::Postgres(_))));
    }

    #[test]
    fn every_cursor_reads_claims_and_rebills_of_the_dates_in_claim_id_order() {
        for sql in statements() {
            assert!(sql.contains(ROW_FILTER), "{sql}");
            let order = sql.split("ORDER BY ").nth(1).unwrap_or("");
            assert!(
                order.starts_with("c.id") || order.starts_with("x.claim_id,"),
                "{sql}"
            );
        }
        let march = ScanDates {
            first: Date::from_ymd(2018, 3, 1).unwrap(),
            last: Date::from_ymd(2018, 3, 31).unwrap(),
        };
        assert_eq!(bounds(march), (17_591, 17_621));
    }
}
