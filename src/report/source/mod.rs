//! Reads claim rows for a date range out of the claim store, read-only, for the report cores.
//!
//! Place in the data flow: the CLI opens a [`ClaimSource`] from the `--store` url (parsed by
//! [`StoreUrl`], the gateway's own parser) and hands each [`ClaimRow`] it streams to a report
//! tally. [`SqliteSource`] (`sqlite.rs`) opens the SQLite file with `SQLITE_OPEN_READ_ONLY`
//! (safe next to a running gateway: WAL readers never block the writer); [`PgSource`]
//! (`postgres.rs`) reads a PostgreSQL store in one read-only snapshot. Both join four ordered
//! cursors (claims, reject codes, conflicts, DUR/PPS) by claim id, so memory stays flat however
//! large the period, and both decode their columns through this module ([`ClaimColumns`],
//! [`join_rows`]): the same rows in the same order with the same patient numbers and errors.
//!
//! Patients leave the reader only as a [`PatientNumber`]: the rank of the patient key's first
//! claim id among every patient key in the store. Before a scan one `GROUP BY` query ranks the
//! keys; the reader keeps only a 128-bit hash of each key (SipHash and FNV-1a side by side) with
//! its number ([`PatientNumbers`]), and maps every row's key through it as the row is read, so
//! no cardholder id, name or date of birth outlives the row being decoded. Must never write to
//! the store, create it, or read a row beyond [`REPORT_CLAIMS_MAX`].

mod postgres;
mod sqlite;

pub use postgres::PgSource;
pub use sqlite::SqliteSource;

use super::{ClaimRow, ConflictRow, DurPpsRow, PatientNumber, ReportError, RowStatus, ScanDates};
use crate::claim::{id_hash, Code2, Date, Ndc, RejectCode};
use crate::limits::{
    CONFLICTS_PER_TRANSACTION_MAX, DUR_PPS_OCCURRENCES_MAX, REJECT_CODES_MAX, REPORT_CLAIMS_MAX,
    REPORT_PATIENTS_MAX, REPORT_PHARMACIES_MAX,
};
use crate::store::{StoreError, StoreUrl};
use rustc_hash::FxHashMap;
use std::iter::Peekable;
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
    match StoreUrl::parse(url) {
        Ok(StoreUrl::Sqlite(path)) => Ok(Box::new(SqliteSource::open(&path)?)),
        Ok(StoreUrl::Postgres(location)) => Ok(Box::new(PgSource::open(&location)?)),
        // A refusal of a PostgreSQL url says why without repeating it (it may hold a password).
        Err(StoreError::Url(reason)) if StoreUrl::names_postgres(url) => {
            Err(ReportError::PgUrl(reason))
        }
        Err(other) if StoreUrl::names_postgres(url) => Err(ReportError::PgUrl(other.to_string())),
        Err(_) => Err(ReportError::StoreUrl(url.to_owned())),
    }
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

/// The columns of one claim row as a backend read them, before decoding.
struct ClaimColumns<'r> {
    claim_id: u64,
    pharmacy: &'r str,
    patient_key: Option<&'r str>,
    age_years: Option<i64>,
    product_id: &'r str,
    ndc: Option<&'r str>,
    quantity_milli: i64,
    days_supply: i64,
    /// `None` when the stored date is unreadable.
    date_of_service: Option<Date>,
    prescriber: &'r str,
    status: &'r str,
    reversed: bool,
    gross_amount_due_cents: Option<i64>,
    ingredient_cost_cents: Option<i64>,
    dispensing_fee_cents: Option<i64>,
}

impl ClaimColumns<'_> {
    /// The decoded row, its patient numbered and its pharmacy interned; children empty.
    fn decode(
        self,
        patients: &PatientNumbers,
        pharmacies: &mut Pharmacies,
    ) -> Result<ClaimRow, ReportError> {
        let corrupt = |column| corrupt(self.claim_id, column);
        let patient = self
            .patient_key
            .map(|key| patients.number_of(self.claim_id, key))
            .transpose()?;
        let ndc = self
            .ndc
            .map(|ndc| Ndc::parse(ndc.as_bytes()).ok_or_else(|| corrupt("ndc")))
            .transpose()?;
        Ok(ClaimRow {
            claim_id: self.claim_id,
            pharmacy: pharmacies.intern(self.pharmacy)?,
            patient,
            patient_age_years: self.age_years.and_then(|age| u8::try_from(age).ok()),
            product_id: self.product_id.into(),
            ndc,
            quantity_milli: u64::try_from(self.quantity_milli)
                .map_err(|_| corrupt("quantity_milli"))?,
            days_supply: u16::try_from(self.days_supply).map_err(|_| corrupt("days_supply"))?,
            date_of_service: self
                .date_of_service
                .ok_or_else(|| corrupt("date_of_service"))?,
            prescriber: id_hash(self.prescriber.as_bytes()),
            status: row_status(self.status, self.reversed).ok_or_else(|| corrupt("status"))?,
            reject_codes: Vec::new(),
            conflicts: Vec::new(),
            dur_pps: Vec::new(),
            gross_amount_due_cents: self.gross_amount_due_cents,
            ingredient_cost_cents: self.ingredient_cost_cents,
            dispensing_fee_cents: self.dispensing_fee_cents,
        })
    }
}

fn row_status(status: &str, reversed: bool) -> Option<RowStatus> {
    match (status, reversed) {
        ("paid", false) => Some(RowStatus::Paid),
        ("paid", true) => Some(RowStatus::Reversed),
        ("rejected", _) => Some(RowStatus::Rejected),
        _ => None,
    }
}

/// A child row (reject code, conflict, DUR/PPS occurrence) keyed by its claim id; the inner
/// error is a corrupt value, the outer one the driver's.
type Child<T, E> = Result<(u64, Result<T, ReportError>), E>;

fn reject_code(claim_id: u64, code: Option<&str>) -> (u64, Result<RejectCode, ReportError>) {
    let code = code.and_then(|code| RejectCode::parse(code.as_bytes()));
    (claim_id, code.ok_or(corrupt(claim_id, "reject code")))
}

fn conflict(
    claim_id: u64,
    edit: Option<&str>,
    action: Option<&str>,
) -> (u64, Result<ConflictRow, ReportError>) {
    let edit_readable = edit.and_then(crate::claim::Edit::parse).is_some();
    let conflict = ConflictRow::from_columns(edit, action).ok_or_else(|| match edit_readable {
        false => corrupt(claim_id, "conflict edit"),
        true => corrupt(claim_id, "conflict action"),
    });
    (claim_id, conflict)
}

/// The columns of one DUR/PPS occurrence as a backend read them.
struct DurPpsColumns<'r> {
    claim_id: u64,
    professional: Option<&'r str>,
    result: Option<&'r str>,
    answered: bool,
    overrode: bool,
    answered_edit: Option<&'r str>,
    answered_action: Option<&'r str>,
}

impl DurPpsColumns<'_> {
    fn decode(self) -> (u64, Result<DurPpsRow, ReportError>) {
        let occurrence = match (code(self.professional), code(self.result)) {
            (Some(professional), Some(result)) => Ok(DurPpsRow {
                professional,
                result,
                answered: self.answered,
                overrode: self.overrode,
                answered_conflict: ConflictRow::from_columns(
                    self.answered_edit,
                    self.answered_action,
                ),
            }),
            _ => Err(corrupt(self.claim_id, "DUR/PPS code")),
        };
        (self.claim_id, occurrence)
    }
}

/// `Some(None)` for NULL, `Some(Some(code))` for a valid code, `None` for anything else.
fn code(text: Option<&str>) -> Option<Option<Code2>> {
    match text {
        None => Some(None),
        Some(text) => Code2::parse(text.as_bytes()).map(Some),
    }
}

fn corrupt(claim_id: u64, column: &'static str) -> ReportError {
    ReportError::Corrupt { claim_id, column }
}

fn too_large(what: &'static str, max: u64) -> ReportError {
    ReportError::TooLarge { what, max }
}

/// The three child cursors of a scan, each ordered by claim id.
struct ChildCursors<R, K, D> {
    rejects: R,
    conflicts: K,
    dur_pps: D,
}

/// Joins the claim cursor with its three child cursors by claim id and visits each row, at
/// most [`REPORT_CLAIMS_MAX`] of them. Returns how many were visited.
fn join_rows<E, C, R, K, D>(
    claims: C,
    children_of: ChildCursors<R, K, D>,
    visit: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
) -> Result<u64, ReportError>
where
    C: Iterator<Item = Result<ClaimRow, ReportError>>,
    R: Iterator<Item = Child<RejectCode, E>>,
    K: Iterator<Item = Child<ConflictRow, E>>,
    D: Iterator<Item = Child<DurPpsRow, E>>,
    ReportError: From<E>,
{
    let mut rejects = children_of.rejects.peekable();
    let mut conflicts = children_of.conflicts.peekable();
    let mut dur_pps = children_of.dur_pps.peekable();
    let mut visited = 0u64;
    for claim in claims {
        visited += 1;
        if visited > REPORT_CLAIMS_MAX {
            return Err(too_large("claim rows", REPORT_CLAIMS_MAX));
        }
        let mut claim = claim?;
        let id = claim.claim_id;
        claim.reject_codes = children(&mut rejects, id, REJECT_CODES_MAX)?;
        claim.conflicts = children(&mut conflicts, id, CONFLICTS_PER_TRANSACTION_MAX)?;
        claim.dur_pps = children(&mut dur_pps, id, DUR_PPS_OCCURRENCES_MAX)?;
        visit(claim)?;
    }
    Ok(visited)
}

/// Takes the children of claim `id` (skipping any of earlier claims), at most `max` of them.
fn children<T, E, I>(cursor: &mut Peekable<I>, id: u64, max: usize) -> Result<Vec<T>, ReportError>
where
    I: Iterator<Item = Child<T, E>>,
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

/// Every patient key of the store ranked by its first claim id, kept only as a 128-bit hash
/// of the key → number.
#[derive(Default)]
struct PatientNumbers {
    numbers: FxHashMap<u128, u32>,
}

impl PatientNumbers {
    /// Numbers the next key of the ranking (keys arrive in order of their first claim id).
    fn add(&mut self, key: &str) -> Result<(), ReportError> {
        if self.numbers.len() >= REPORT_PATIENTS_MAX {
            return Err(too_large("patients", REPORT_PATIENTS_MAX as u64));
        }
        let number = u32::try_from(self.numbers.len() + 1).unwrap_or(u32::MAX);
        if self.numbers.insert(key_hash(key), number).is_some() {
            let column = "patient_key (two keys share a 128-bit hash)";
            return Err(ReportError::Corrupt {
                claim_id: 0,
                column,
            });
        }
        Ok(())
    }

    fn number_of(&self, claim_id: u64, key: &str) -> Result<PatientNumber, ReportError> {
        let number = self
            .numbers
            .get(&key_hash(key))
            .ok_or_else(|| corrupt(claim_id, "patient_key"))?;
        Ok(PatientNumber(*number))
    }
}

/// A 128-bit hash of a patient key: SipHash-1-3 (fixed keys) beside FNV-1a.
fn key_hash(key: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut sip = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut sip);
    (u128::from(sip.finish()) << 64) | u128::from(id_hash(key.as_bytes()))
}

/// Pharmacy ids interned: one `Arc<str>` per pharmacy for the whole scan.
#[derive(Default)]
struct Pharmacies {
    known: FxHashMap<Arc<str>, ()>,
}

impl Pharmacies {
    fn intern(&mut self, id: &str) -> Result<Arc<str>, ReportError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_store_or_are_refused_with_the_right_error() {
        for bad in ["x.db", "sqlite:", "sqlite::memory:", "mysql://x"] {
            assert!(
                matches!(open(bad).err(), Some(ReportError::StoreUrl(_))),
                "{bad}"
            );
        }
        let secret = "postgres://analyst:s3cret@127.0.0.1/claims?schema=Not-Safe";
        let refused = open(secret).err().expect("a bad schema name");
        assert!(matches!(refused, ReportError::PgUrl(_)), "{refused}");
        assert!(!refused.to_string().contains("s3cret"), "{refused}");
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

    #[test]
    fn a_claim_row_decodes_or_names_its_corrupt_column() {
        let mut patients = PatientNumbers::default();
        patients.add("key-a").unwrap();
        let columns = |status| ClaimColumns {
            claim_id: 7,
            pharmacy: "1234567",
            patient_key: Some("key-a"),
            age_years: Some(70),
            product_id: "00093721001",
            ndc: None,
            quantity_milli: 30_000,
            days_supply: 30,
            date_of_service: Date::from_ymd(2026, 3, 1),
            prescriber: "1999999992",
            status,
            reversed: false,
            gross_amount_due_cents: Some(100),
            ingredient_cost_cents: None,
            dispensing_fee_cents: None,
        };
        let row = columns("paid")
            .decode(&patients, &mut Pharmacies::default())
            .unwrap();
        assert_eq!(
            (row.patient, row.status, row.days_supply),
            (Some(PatientNumber(1)), RowStatus::Paid, 30)
        );
        let refused = columns("lost")
            .decode(&patients, &mut Pharmacies::default())
            .err();
        assert!(matches!(
            refused,
            Some(ReportError::Corrupt {
                claim_id: 7,
                column: "status"
            })
        ));
    }
}
