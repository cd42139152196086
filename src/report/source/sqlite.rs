//! The SQLite claim store, read-only, for the reports: the [`ClaimSource`] of a `sqlite:` url.
//!
//! Place in the data flow: [`open`](super::open) builds a [`SqliteSource`] for a `sqlite:PATH`
//! url. The file is opened with `SQLITE_OPEN_READ_ONLY` (safe next to a running gateway: WAL
//! readers never block the writer); a scan reads one snapshot (one read transaction) through
//! four prepared cursors ordered by claim id, and hands their columns to the shared decoding
//! of [`super`]. Must never write to the store or create the file.

use super::super::{ClaimRow, ConflictRow, DurPpsRow, ReportError, ScanDates};
use super::{
    conflict, corrupt, join_rows, parse_iso_date, reject_code, ChildCursors, ClaimColumns,
    ClaimSource, DurPpsColumns, PatientNumbers, Pharmacies, SCHEMA_VERSION_KNOWN,
};
use crate::claim::{Date, RejectCode};
use crate::limits::STORE_BUSY_TIMEOUT;
use rusqlite::types::ValueRef;
use rusqlite::{named_params, Connection, ErrorCode, OpenFlags, Row};
use std::path::Path;

/// The SQLite claim store, opened read-only.
pub struct SqliteSource {
    connection: Connection,
}

const ROW_FILTER: &str = "c.kind IN ('claim', 'rebill') \
     AND c.date_of_service BETWEEN :first AND :last";

impl SqliteSource {
    /// Opens an existing store file read-only and checks it is a claim store this reader
    /// understands. Never creates a file.
    pub fn open(path: &Path) -> Result<SqliteSource, ReportError> {
        if !path.is_file() {
            return Err(ReportError::NoStore(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(STORE_BUSY_TIMEOUT)?;
        check_schema(&connection, path)?;
        Ok(SqliteSource { connection })
    }
}

fn check_schema(connection: &Connection, path: &Path) -> Result<(), ReportError> {
    let found: rusqlite::Result<Option<i64>> =
        connection.query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        });
    match found {
        Ok(Some(found)) if found > SCHEMA_VERSION_KNOWN => Err(ReportError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION_KNOWN,
        }),
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ReportError::NotAStore(path.to_owned())),
        Err(error) if not_a_store(&error) => Err(ReportError::NotAStore(path.to_owned())),
        Err(error) => Err(error.into()),
    }
}

fn not_a_store(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            failure.code == ErrorCode::NotADatabase
                || message
                    .as_deref()
                    .is_some_and(|text| text.contains("no such table"))
        }
        _ => false,
    }
}

impl ClaimSource for SqliteSource {
    fn has_claims(&self, dates: ScanDates) -> Result<bool, ReportError> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM claims c WHERE {ROW_FILTER})");
        let (first, last) = bounds(dates);
        let params = named_params! { ":first": first, ":last": last };
        Ok(self.connection.query_row(&sql, params, |row| row.get(0))?)
    }

    /// Counted on the `claims_status_dos` index alone: paid and rejected rows of the dates,
    /// rejected reversals included.
    fn estimate(&self, dates: ScanDates) -> Result<u64, ReportError> {
        let sql = "SELECT count(*) FROM claims WHERE status IN ('paid', 'rejected') \
                   AND date_of_service BETWEEN :first AND :last";
        let (first, last) = bounds(dates);
        let params = named_params! { ":first": first, ":last": last };
        Ok(self.connection.query_row(sql, params, |row| row.get(0))?)
    }

    fn latest_paid_date(&self) -> Result<Option<Date>, ReportError> {
        let latest: Option<String> = self.connection.query_row(
            "SELECT max(date_of_service) FROM claims WHERE status = 'paid'",
            [],
            |row| row.get(0),
        )?;
        let corrupt = || corrupt(0, "date_of_service");
        latest
            .map(|text| parse_iso_date(&text).ok_or_else(corrupt))
            .transpose()
    }

    fn scan(
        &self,
        dates: ScanDates,
        visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
    ) -> Result<u64, ReportError> {
        // One read transaction: the patient ranking and the rows come from one snapshot, even
        // while a gateway keeps committing.
        let snapshot = self.connection.unchecked_transaction()?;
        let visited = scan_rows(&snapshot, dates, visit)?;
        snapshot.finish()?;
        Ok(visited)
    }
}

fn scan_rows(
    connection: &Connection,
    dates: ScanDates,
    visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
) -> Result<u64, ReportError> {
    let (first, last) = bounds(dates);
    let params = named_params! { ":first": first, ":last": last };
    let mut statements = Statements::prepare(connection)?;
    let patients = patient_numbers(connection)?;
    let mut pharmacies = Pharmacies::default();
    let children_of = ChildCursors {
        rejects: statements.rejects.query_map(params, reject_code_row)?,
        conflicts: statements.conflicts.query_map(params, conflict_row)?,
        dur_pps: statements.dur_pps.query_map(params, dur_pps_row)?,
    };
    let claims = statements.claims.query_map(params, |row| {
        Ok(claim_columns(row)?.decode(&patients, &mut pharmacies))
    })?;
    join_rows(
        claims.map(|claim| claim.map_err(ReportError::from).and_then(|decoded| decoded)),
        children_of,
        visit,
    )
}

/// The scan's first and last date of service as the store writes them.
fn bounds(dates: ScanDates) -> (String, String) {
    (dates.first.to_string(), dates.last.to_string())
}

/// The four cursors of a scan, each ordered by claim id.
struct Statements<'c> {
    claims: rusqlite::Statement<'c>,
    rejects: rusqlite::Statement<'c>,
    conflicts: rusqlite::Statement<'c>,
    dur_pps: rusqlite::Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(connection: &'c Connection) -> Result<Statements<'c>, ReportError> {
        let child = |columns: &str, table: &str, order: &str| {
            format!(
                "SELECT {columns} FROM {table} JOIN claims c ON c.id = x.claim_id \
                 WHERE {ROW_FILTER} ORDER BY x.claim_id, x.{order}"
            )
        };
        Ok(Statements {
            claims: connection.prepare(&claims_sql())?,
            rejects: connection.prepare(&child(
                "x.claim_id, x.code",
                "claim_reject_codes x",
                "position",
            ))?,
            conflicts: connection.prepare(&child(
                "x.claim_id, x.edit, x.action",
                "conflicts x",
                "position",
            ))?,
            dur_pps: connection.prepare(&child(
                "x.claim_id, x.professional, x.result, \
                 x.matched_conflict_id IS NOT NULL, x.overrode, m.edit, m.action",
                "dur_pps x LEFT JOIN conflicts m ON m.id = x.matched_conflict_id",
                "counter",
            ))?,
        })
    }
}

fn claims_sql() -> String {
    format!(
        "SELECT c.id, c.pharmacy_id, c.patient_key, c.patient_age_years, c.product_id, \
             c.ndc, c.quantity_milli, c.days_supply, c.date_of_service, c.prescriber_id, \
             c.status, c.reversed_at_ms IS NOT NULL, c.gross_amount_due_cents, \
             c.ingredient_cost_cents, c.dispensing_fee_cents \
         FROM claims c WHERE {ROW_FILTER} ORDER BY c.id"
    )
}

/// Every patient key of the store ranked by its first claim id.
fn patient_numbers(connection: &Connection) -> Result<PatientNumbers, ReportError> {
    let mut statement = connection.prepare(
        "SELECT patient_key FROM claims WHERE patient_key IS NOT NULL \
         GROUP BY patient_key ORDER BY min(id)",
    )?;
    let mut rows = statement.query([])?;
    let mut numbers = PatientNumbers::default();
    while let Some(row) = rows.next()? {
        numbers.add(text(row, 0)?.unwrap_or(""))?;
    }
    Ok(numbers)
}

fn text<'r>(row: &'r Row<'_>, column: usize) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        value => value.as_str().map(Some).map_err(rusqlite::Error::from),
    }
}

type Child<T> = rusqlite::Result<(u64, Result<T, ReportError>)>;

fn reject_code_row(row: &Row<'_>) -> Child<RejectCode> {
    Ok(reject_code(row.get(0)?, text(row, 1)?))
}

fn conflict_row(row: &Row<'_>) -> Child<ConflictRow> {
    Ok(conflict(row.get(0)?, text(row, 1)?, text(row, 2)?))
}

fn dur_pps_row(row: &Row<'_>) -> Child<DurPpsRow> {
    let columns = DurPpsColumns {
        claim_id: row.get(0)?,
        professional: text(row, 1)?,
        result: text(row, 2)?,
        answered: row.get(3)?,
        overrode: row.get(4)?,
        answered_edit: text(row, 5)?,
        answered_action: text(row, 6)?,
    };
    Ok(columns.decode())
}

/// The columns of [`claims_sql`], in its order.
fn claim_columns<'r>(row: &'r Row<'_>) -> rusqlite::Result<ClaimColumns<'r>> {
    Ok(ClaimColumns {
        claim_id: row.get(0)?,
        pharmacy: text(row, 1)?.unwrap_or(""),
        patient_key: text(row, 2)?,
        age_years: row.get(3)?,
        product_id: text(row, 4)?.unwrap_or(""),
        ndc: text(row, 5)?,
        quantity_milli: row.get(6)?,
        days_supply: row.get(7)?,
        date_of_service: text(row, 8)?.and_then(parse_iso_date),
        prescriber: text(row, 9)?.unwrap_or(""),
        status: text(row, 10)?.unwrap_or(""),
        reversed: row.get(11)?,
        gross_amount_due_cents: row.get(12)?,
        ingredient_cost_cents: row.get(13)?,
        dispensing_fee_cents: row.get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_not_created() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("absent.db");
        assert!(matches!(
            SqliteSource::open(&path),
            Err(ReportError::NoStore(_))
        ));
        assert!(!path.exists());
    }

    #[test]
    fn a_file_that_is_no_claim_store_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let text_file = folder.path().join("notes.db");
        std::fs::write(&text_file, "not a database at all, just some text here").unwrap();
        assert!(matches!(
            SqliteSource::open(&text_file),
            Err(ReportError::NotAStore(_))
        ));
        let other = folder.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            SqliteSource::open(&other),
            Err(ReportError::NotAStore(_))
        ));
    }
}
