//! Reads claim rows for a date range out of the claim store, read-only, for the report cores.
//!
//! Place in the data flow: the CLI opens a [`ClaimSource`] from the `--store` url and hands
//! each [`ClaimRow`] it streams to a report tally. [`SqliteSource`] opens the SQLite file with
//! `SQLITE_OPEN_READ_ONLY` (safe next to a running gateway: WAL readers never block the
//! writer) and joins four ordered cursors (claims, reject codes, conflicts, DUR/PPS) by claim
//! id, so memory stays flat however large the period. [`PgSource`] (in `pg_source`) reads a
//! PostgreSQL store the same way (four cursors of one read-only snapshot) and yields the same
//! rows in the same order with the same patient numbers; [`open`] picks the reader by url.
//!
//! Patients leave the reader only as a [`PatientNumber`]: the rank of the patient key's first
//! claim id among every patient key in the store. Before a scan one `GROUP BY` query ranks the
//! keys; the reader keeps only a 128-bit hash of each key (SipHash and FNV-1a side by side) with
//! its number, and maps every row's key through it as the row is read, so no cardholder id,
//! name or date of birth outlives the row being decoded. Must never write to the store, create
//! it, or read a row beyond [`REPORT_CLAIMS_MAX`].

use super::pg_source::PgSource;
use super::{ClaimRow, ConflictRow, DurPpsRow, PatientNumber, ReportError, RowStatus, ScanDates};
use crate::claim::{id_hash, Action, Code2, Date, Edit, Ndc, RejectCode};
use crate::limits::{
    CONFLICTS_PER_TRANSACTION_MAX, DUR_PPS_OCCURRENCES_MAX, REJECT_CODES_MAX, REPORT_CLAIMS_MAX,
    REPORT_PATIENTS_MAX, REPORT_PHARMACIES_MAX, STORE_BUSY_TIMEOUT,
};
use rusqlite::types::ValueRef;
use rusqlite::{named_params, Connection, ErrorCode, OpenFlags, Row};
use rustc_hash::FxHashMap;
use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store schema versions this reader understands.
pub const SCHEMA_VERSION_KNOWN: i64 = crate::store::SCHEMA_VERSION;

/// A claim store the reports can read.
pub trait ClaimSource {
    /// Whether any claim row (B1 claim or B3 rebill) has a date of service in `dates`.
    fn has_claims(&self, dates: ScanDates) -> Result<bool, ReportError>;

    /// About how many rows a scan of `dates` visits (for progress; may differ a little).
    fn estimate(&self, dates: ScanDates) -> Result<u64, ReportError>;

    /// The latest date of service of any paid claim in the store.
    fn latest_paid_date(&self) -> Result<Option<Date>, ReportError>;

    /// Visits every claim row with a date of service in `dates`, in claim id order; returns
    /// how many were visited. Stops at the first error `visit` returns.
    fn scan(
        &self,
        dates: ScanDates,
        visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
    ) -> Result<u64, ReportError>;
}

/// Opens the store a url names, read-only: `sqlite:PATH` (or `sqlite://PATH`) or a
/// `postgres://` / `postgresql://` url as `durgate serve --store` takes it (`schema=` included).
pub fn open(url: &str) -> Result<Box<dyn ClaimSource>, ReportError> {
    if is_postgres(url) {
        return Ok(Box::new(PgSource::open(url)?));
    }
    let path = sqlite_path(url)?;
    Ok(Box::new(SqliteSource::open(&path)?))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn sqlite_path(url: &str) -> Result<PathBuf, ReportError> {
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or_else(|| ReportError::StoreUrl(url.to_owned()))?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() || path.starts_with(':') || path.contains("mode=memory") {
        return Err(ReportError::StoreUrl(url.to_owned()));
    }
    Ok(PathBuf::from(path))
}

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
    let mut rejects = statements
        .rejects
        .query_map(params, reject_code)?
        .peekable();
    let mut conflicts = statements.conflicts.query_map(params, conflict)?.peekable();
    let mut dur_pps = statements
        .dur_pps
        .query_map(params, dur_pps_row)?
        .peekable();
    let patients = patient_numbers(connection)?;
    let mut rows = statements.claims.query(params)?;
    let mut pharmacies = Pharmacies::default();
    let mut visited = 0u64;
    while let Some(row) = rows.next()? {
        visited += 1;
        if visited > REPORT_CLAIMS_MAX {
            return Err(too_large("claim rows", REPORT_CLAIMS_MAX));
        }
        let mut claim = claim_row(row, &patients, &mut pharmacies)?;
        let id = claim.claim_id;
        claim.reject_codes = children(&mut rejects, id, REJECT_CODES_MAX)?;
        claim.conflicts = children(&mut conflicts, id, CONFLICTS_PER_TRANSACTION_MAX)?;
        claim.dur_pps = children(&mut dur_pps, id, DUR_PPS_OCCURRENCES_MAX)?;
        visit(claim)?;
    }
    Ok(visited)
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

/// Every patient key of the store ranked by its first claim id, as a hash → number map.
fn patient_numbers(connection: &Connection) -> Result<FxHashMap<u128, u32>, ReportError> {
    let mut statement = connection.prepare(
        "SELECT patient_key FROM claims WHERE patient_key IS NOT NULL \
         GROUP BY patient_key ORDER BY min(id)",
    )?;
    let mut rows = statement.query([])?;
    let mut numbers = FxHashMap::default();
    while let Some(row) = rows.next()? {
        let number = u32::try_from(numbers.len() + 1).unwrap_or(u32::MAX);
        if numbers.len() >= REPORT_PATIENTS_MAX {
            return Err(too_large("patients", REPORT_PATIENTS_MAX as u64));
        }
        let key = text(row, 0)?.unwrap_or("");
        if numbers.insert(key_hash(key), number).is_some() {
            return Err(ReportError::Corrupt {
                claim_id: 0,
                column: "patient_key (two keys share a 128-bit hash)",
            });
        }
    }
    Ok(numbers)
}

/// A 128-bit hash of a patient key: SipHash-1-3 (fixed keys) beside FNV-1a.
pub(super) fn key_hash(key: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut sip = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut sip);
    (u128::from(sip.finish()) << 64) | u128::from(id_hash(key.as_bytes()))
}

/// Pharmacy ids interned: one `Arc<str>` per pharmacy for the whole scan.
#[derive(Default)]
pub(super) struct Pharmacies {
    known: FxHashMap<Arc<str>, ()>,
}

impl Pharmacies {
    pub(super) fn intern(&mut self, id: &str) -> Result<Arc<str>, ReportError> {
        if let Some((known, _)) = self.known.get_key_value(id) {
            return Ok(Arc::clone(known));
        }
        if self.known.len() >= REPORT_PHARMACIES_MAX {
            return Err(too_large("pharmacies", REPORT_PHARMACIES_MAX as u64));
        }
        let interned: Arc<str> = Arc::from(id);
        self.known.insert(Arc::clone(&interned), ());
        Ok(interned)
    }
}

pub(super) fn too_large(what: &'static str, max: u64) -> ReportError {
    ReportError::TooLarge { what, max }
}

/// Takes the children of claim `id` (skipping any of earlier claims), at most `max` of them.
/// Shared by both readers: `E` is the driver's error.
pub(super) fn children<T, E, I>(
    cursor: &mut Peekable<I>,
    id: u64,
    max: usize,
) -> Result<Vec<T>, ReportError>
where
    I: Iterator<Item = Result<(u64, Result<T, ReportError>), E>>,
    ReportError: From<E>,
{
    let mut taken = Vec::new();
    while let Some(item) = cursor.next_if(|item| !matches!(item, Ok((child, _)) if *child > id)) {
        let (child, value) = item?;
        if child == id && taken.len() < max {
            taken.push(value?);
        }
    }
    Ok(taken)
}

fn text<'r>(row: &'r Row<'_>, column: usize) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        value => value.as_str().map(Some).map_err(rusqlite::Error::from),
    }
}

type Child<T> = rusqlite::Result<(u64, Result<T, ReportError>)>;

fn reject_code(row: &Row<'_>) -> Child<RejectCode> {
    let claim_id: u64 = row.get(0)?;
    let code = text(row, 1)?.and_then(|code| RejectCode::parse(code.as_bytes()));
    Ok((claim_id, code.ok_or(corrupt(claim_id, "reject code"))))
}

fn conflict(row: &Row<'_>) -> Child<ConflictRow> {
    let claim_id: u64 = row.get(0)?;
    let edit = text(row, 1)?.and_then(Edit::parse);
    let action = match text(row, 2)? {
        Some("reject") => Some(Action::Reject),
        Some("warn") => Some(Action::Warn),
        _ => None,
    };
    let conflict = match (edit, action) {
        (Some(edit), Some(action)) => Ok(ConflictRow { edit, action }),
        (None, _) => Err(corrupt(claim_id, "conflict edit")),
        (_, None) => Err(corrupt(claim_id, "conflict action")),
    };
    Ok((claim_id, conflict))
}

fn dur_pps_row(row: &Row<'_>) -> Child<DurPpsRow> {
    let claim_id: u64 = row.get(0)?;
    let professional = code(text(row, 1)?);
    let result = code(text(row, 2)?);
    let occurrence = match (professional, result) {
        (Some(professional), Some(result)) => Ok(DurPpsRow {
            professional,
            result,
            answered: row.get(3)?,
            overrode: row.get(4)?,
            answered_conflict: ConflictRow::from_columns(text(row, 5)?, text(row, 6)?),
        }),
        _ => Err(corrupt(claim_id, "DUR/PPS code")),
    };
    Ok((claim_id, occurrence))
}

/// `Some(None)` for NULL, `Some(Some(code))` for a valid code, `None` for anything else.
pub(super) fn code(text: Option<&str>) -> Option<Option<Code2>> {
    match text {
        None => Some(None),
        Some(text) => Code2::parse(text.as_bytes()).map(Some),
    }
}

pub(super) fn corrupt(claim_id: u64, column: &'static str) -> ReportError {
    ReportError::Corrupt { claim_id, column }
}

fn claim_row(
    row: &Row<'_>,
    patients: &FxHashMap<u128, u32>,
    pharmacies: &mut Pharmacies,
) -> Result<ClaimRow, ReportError> {
    let claim_id: u64 = row.get(0)?;
    let corrupt = |column| corrupt(claim_id, column);
    let pharmacy = pharmacies.intern(text(row, 1)?.unwrap_or(""))?;
    let patient = match text(row, 2)? {
        None => None,
        Some(key) => Some(
            *patients
                .get(&key_hash(key))
                .ok_or_else(|| corrupt("patient_key"))?,
        ),
    };
    let age: Option<i64> = row.get(3)?;
    let ndc = match text(row, 5)? {
        None => None,
        Some(ndc) => Some(Ndc::parse(ndc.as_bytes()).ok_or_else(|| corrupt("ndc"))?),
    };
    let date = text(row, 8)?.and_then(parse_iso_date);
    let status = match (text(row, 10)?, row.get::<_, bool>(11)?) {
        (Some("paid"), false) => RowStatus::Paid,
        (Some("paid"), true) => RowStatus::Reversed,
        (Some("rejected"), _) => RowStatus::Rejected,
        _ => return Err(corrupt("status")),
    };
    Ok(ClaimRow {
        claim_id,
        pharmacy,
        patient: patient.map(PatientNumber),
        patient_age_years: age.and_then(|age| u8::try_from(age).ok()),
        product_id: text(row, 4)?.unwrap_or("").into(),
        ndc,
        quantity_milli: row.get(6)?,
        days_supply: row.get(7)?,
        date_of_service: date.ok_or_else(|| corrupt("date_of_service"))?,
        prescriber: id_hash(text(row, 9)?.unwrap_or("").as_bytes()),
        status,
        reject_codes: Vec::new(),
        conflicts: Vec::new(),
        dur_pps: Vec::new(),
        gross_amount_due_cents: row.get(12)?,
        ingredient_cost_cents: row.get(13)?,
        dispensing_fee_cents: row.get(14)?,
    })
}

/// `YYYY-MM-DD` as the store writes it.
pub fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let dashes = bytes.get(4) == Some(&b'-') && bytes.get(7) == Some(&b'-');
    if bytes.len() != 10 || !dashes {
        return None;
    }
    let digits: Vec<u8> = bytes.iter().copied().filter(|b| *b != b'-').collect();
    Date::parse_ccyymmdd(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_sqlite_file_or_are_refused() {
        assert_eq!(sqlite_path("sqlite:x.db").ok(), Some(PathBuf::from("x.db")));
        assert_eq!(
            sqlite_path("sqlite:///var/x.db").ok(),
            Some(PathBuf::from("/var/x.db"))
        );
        assert!(is_postgres("postgres://127.0.0.1/durgate"));
        assert!(is_postgres("postgresql://u@h/db?schema=s"));
        assert!(!is_postgres("sqlite:postgres://x") && !is_postgres("pg://h/db"));
        for bad in ["x.db", "sqlite:", "sqlite::memory:", "mysql://x"] {
            assert!(
                matches!(sqlite_path(bad), Err(ReportError::StoreUrl(_))),
                "{bad}"
            );
        }
    }

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

    #[test]
    fn iso_dates_parse_strictly() {
        let date = Date::from_ymd(2018, 2, 28).unwrap();
        assert_eq!(parse_iso_date("2018-02-28"), Some(date));
        for bad in [
            "2018-02-30",
            "20180228",
            "2018-2-28",
            "2018-02-281",
            "abcd-ef-gh",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
