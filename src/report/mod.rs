//! Analyst reports over the claim store: the P4P payment report, the quality report card and
//! the safety report (`durgate report p4p|quality|safety`).
//!
//! Tier 3: imports `claim`, `limits`, `rules` and `store` types, never `server` or `loadgen`.
//! Data flow: [`source`] streams the claim rows of a date range out of the store (read-only) as
//! plain [`ClaimRow`]s; the pure cores [`p4p`], [`quality`] and [`safety`] fold those rows with
//! the [`settings`] (`config/p4p.toml`) and the rule tables into typed reports; [`render`] writes
//! a report as CSV, JSON or one self-contained HTML page. The CLI wires them together.
//!
//! Must never: write to the store, read the clock (the period is an argument), or print a
//! cardholder id, name or date of birth. Patients appear only as the reader's pseudonymous
//! [`PatientNumber`]: the rank of the patient's first claim id in the store (stable while rows
//! are only ever added), derived by [`source`] and never stored.
//!
//! Formulas in short (every one is spelled out below, from `REPORTS.md`):
//!
//! - period pool = yearly pool × days in the period / days in the year of the period start,
//!   rounded down to the cent;
//! - intervention share: pro rata to paid claims with a payable override (R0/SW/M0 with a
//!   result code, answering a conflict raised on that claim), among eligible pharmacies;
//! - bonus share: pro rata to paid claims without DUR alerts (plus DUR rejects not dispensed
//!   within the follow-up window, a setting), among eligible pharmacies whose share of paid
//!   claims carrying DUR/PPS codes is below the threshold;
//! - largest-remainder rounding, ties to the lower pharmacy id, so the shares sum to the pool;
//! - premier score = (payable overrides + not dispensed after review) / alerts, where a DUR
//!   reject dispensed within the follow-up window is one alert with the claim that followed;
//! - PDC with index fill, same-drug overlap shifting and truncation at the period end; star
//!   ratings from the program's cut points on rates rounded to 0.1 %.
#![doc = ""]
#![doc = include_str!("REPORTS.md")]

mod catalog;
pub mod money;
pub mod p4p;
pub mod quality;
pub mod render;
pub mod run;
pub mod safety;
pub mod settings;
pub mod source;

#[cfg(test)]
pub(crate) mod testing;

pub use run::{run, Kind, Report};
pub use settings::Settings;

use crate::claim::{reject, Action, Code2, Date, Edit, Ndc, RejectCode};
use crate::limits::REPORT_PERIOD_DAYS_MAX;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a rendered report came from: the foot of every HTML page and `provenance` in JSON
/// (CSV holds rows only).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// When the report was generated, `YYYY-MM-DD HH:MM:SS UTC`.
    pub generated_at: String,
    /// `durgate VERSION (COMMIT)`.
    pub generated_by: String,
    /// The settings file read.
    pub settings: String,
    /// The rule tables read, `id@version`.
    pub rules: String,
    /// The store's engine (`sqlite` or `postgres`; never its url or path).
    pub store: String,
}

impl Provenance {
    /// The provenance of a report generated at `now_ms` (Unix milliseconds).
    pub fn new(now_ms: i64, settings: &std::path::Path, rules: &str, store: &str) -> Provenance {
        let version = crate::version::VERSION;
        Provenance {
            generated_at: utc_text(now_ms),
            generated_by: format!("durgate {version} ({})", crate::version::COMMIT),
            settings: settings.display().to_string(),
            rules: rules.to_owned(),
            store: store.to_owned(),
        }
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_text(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1_000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let date = Date::from_days(i32::try_from(days).unwrap_or(i32::MAX));
    let (hour, minute, second) = (of_day / 3_600, of_day / 60 % 60, of_day % 60);
    format!("{date} {hour:02}:{minute:02}:{second:02} UTC")
}

/// A report period: `from` to `to`, both days included.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Period {
    from: Date,
    to: Date,
}

impl Period {
    /// A period of 1..=[`REPORT_PERIOD_DAYS_MAX`] days.
    pub fn new(from: Date, to: Date) -> Result<Period, ReportError> {
        if from > to {
            return Err(ReportError::EmptyPeriod { from, to });
        }
        let period = Period { from, to };
        if period.days() > REPORT_PERIOD_DAYS_MAX {
            return Err(ReportError::PeriodTooLong {
                days: period.days(),
                max: REPORT_PERIOD_DAYS_MAX,
            });
        }
        Ok(period)
    }

    pub fn from(self) -> Date {
        self.from
    }

    pub fn to(self) -> Date {
        self.to
    }

    /// Days in the period, both ends included.
    pub fn days(self) -> u32 {
        u32::try_from(self.to.days_since(self.from) + 1).unwrap_or(0)
    }

    pub fn contains(self, date: Date) -> bool {
        (self.from..=self.to).contains(&date)
    }

    /// 365 or 366: the length of the calendar year the period starts in.
    pub fn days_in_year_of_start(self) -> u32 {
        let (year, _, _) = self.from.ymd();
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if leap {
            366
        } else {
            365
        }
    }
}

impl serde::Serialize for Period {
    /// `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut period = serializer.serialize_struct("Period", 2)?;
        period.serialize_field("from", &self.from.to_string())?;
        period.serialize_field("to", &self.to.to_string())?;
        period.end()
    }
}

/// The dates of service one scan of the store covers (a report's period widened by the
/// windows it looks at: follow-up after the period, opioid lookback before it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ScanDates {
    pub first: Date,
    pub last: Date,
}

/// The report reader's pseudonym for a patient: the rank (from 1) of the patient's first claim
/// id among every patient in the store. Never the cardholder id, name or date of birth.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct PatientNumber(pub u32);

/// What became of a claim row, as the reports see it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RowStatus {
    /// Answered paid and not reversed since.
    Paid,
    /// Answered paid, later reversed (B2) or replaced (B3): it counts nowhere.
    Reversed,
    Rejected,
}

/// One DUR conflict raised on a claim.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ConflictRow {
    pub edit: Edit,
    pub action: Action,
}

/// One DUR/PPS occurrence submitted on a claim.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DurPpsRow {
    /// 440-E5.
    pub professional: Option<Code2>,
    /// 441-E6.
    pub result: Option<Code2>,
    /// It answered a conflict the gateway raised on this claim (`matched_conflict_id`).
    pub answered: bool,
    /// It overrode that conflict.
    pub overrode: bool,
    /// The edit and action of the conflict it answered (`None` when it answered none).
    pub answered_conflict: Option<ConflictRow>,
}

impl ConflictRow {
    /// A stored conflict's `edit` and `action` columns; `None` when either is unreadable.
    pub fn from_columns(edit: Option<&str>, action: Option<&str>) -> Option<ConflictRow> {
        let action = match action? {
            "reject" => Action::Reject,
            "warn" => Action::Warn,
            _ => return None,
        };
        Some(ConflictRow {
            edit: Edit::parse(edit?)?,
            action,
        })
    }
}

impl DurPpsRow {
    /// It was accepted as the override of a rejecting conflict of one of `edits`: the only
    /// occurrence that can earn intervention credit (with a payable code).
    pub fn overrode_rejecting(&self, edits: &[Edit]) -> bool {
        self.overrode
            && self
                .answered_conflict
                .is_some_and(|c| c.action == Action::Reject && edits.contains(&c.edit))
    }

    /// 440-E5 as text.
    pub fn professional_code(&self) -> Option<&str> {
        self.professional.as_ref().map(Code2::as_str)
    }

    /// It carries a professional service or a result of service code.
    pub fn carries_codes(&self) -> bool {
        self.professional.is_some() || self.result.is_some()
    }
}

/// One recorded B1 claim or B3 rebill, as the reports read it (no PHI: the patient is a
/// [`PatientNumber`], the prescriber an `id_hash`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClaimRow {
    pub claim_id: u64,
    /// 201-B1 as stored.
    pub pharmacy: Arc<str>,
    pub patient: Option<PatientNumber>,
    /// Age in whole years on the date of service.
    pub patient_age_years: Option<u8>,
    /// 407-D7 as stored.
    pub product_id: Box<str>,
    pub ndc: Option<Ndc>,
    pub quantity_milli: u64,
    pub days_supply: u16,
    pub date_of_service: Date,
    /// `claim::id_hash` of 411-DB: equality is all the reports need.
    pub prescriber: u64,
    pub status: RowStatus,
    pub reject_codes: Vec<RejectCode>,
    pub conflicts: Vec<ConflictRow>,
    pub dur_pps: Vec<DurPpsRow>,
    pub gross_amount_due_cents: Option<i64>,
    pub ingredient_cost_cents: Option<i64>,
    pub dispensing_fee_cents: Option<i64>,
}

impl ClaimRow {
    pub fn is_paid(&self) -> bool {
        self.status == RowStatus::Paid
    }

    /// Rejected for a DUR conflict: 88 (DUR reject) or 79 (refill too soon).
    pub fn is_dur_rejected(&self) -> bool {
        let dur_codes = [reject::DUR_REJECT, reject::REFILL_TOO_SOON];
        self.status == RowStatus::Rejected
            && self
                .reject_codes
                .iter()
                .any(|code| dur_codes.contains(code))
    }

    /// The amount the pharmacy submitted: 430-DU gross amount due, else 409-D9 ingredient
    /// cost plus 412-DC dispensing fee, else 0. Negative amounts count as 0.
    pub fn submitted_cents(&self) -> u64 {
        let fallback = match (self.ingredient_cost_cents, self.dispensing_fee_cents) {
            (None, None) => None,
            (cost, fee) => Some(cost.unwrap_or(0).saturating_add(fee.unwrap_or(0))),
        };
        let cents = self.gross_amount_due_cents.or(fallback).unwrap_or(0);
        u64::try_from(cents).unwrap_or(0)
    }
}

/// Why a report could not be produced. Input problems (see [`ReportError::is_input`]) are the
/// analyst's to fix; the rest are failures reading the store or writing the output.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the period {from} to {to} is empty: --from must not be after --to")]
    EmptyPeriod { from: Date, to: Date },
    #[error("the period is {days} days long; a report covers at most {max} days")]
    PeriodTooLong { days: u32, max: u32 },
    #[error("no claims in the store with a date of service from {from} to {to}")]
    NoClaims { from: Date, to: Date },
    #[error("settings: {0}")]
    Settings(String),
    #[error("rule tables: {0}")]
    Rules(String),
    #[error("settings name class {0:?}, which the rule tables do not define")]
    UnknownClass(String),
    #[error("store url {0:?} is not understood: expected sqlite:PATH or postgres://...")]
    StoreUrl(String),
    /// A `postgres://` url libpq cannot read (the url itself is never repeated: it may hold a
    /// password).
    #[error("PostgreSQL store url not understood: {0}")]
    PgUrl(String),
    #[error("cannot connect to the PostgreSQL claim store: {0}")]
    PgConnect(String),
    #[error("PostgreSQL schema {0} is not a durgate claim store (no schema_version table)")]
    PgNotAStore(String),
    #[error("no claim store at {0}")]
    NoStore(PathBuf),
    #[error("{0} is not a durgate claim store (no schema_version table)")]
    NotAStore(PathBuf),
    #[error("claim store schema version {found} is newer than this report reader's ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("claim store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A PostgreSQL failure while reading: SQLSTATE and message, never the server's DETAIL.
    #[error("claim store: {0}")]
    Postgres(String),
    #[error("claim store row {claim_id} has an unreadable {column}")]
    Corrupt { claim_id: u64, column: &'static str },
    #[error("more than {max} {what}: beyond what one report holds")]
    TooLarge { what: &'static str, max: u64 },
    #[error("cannot write the report: {0}")]
    Write(String),
}

impl ReportError {
    /// A problem with the command line, the settings or the store named (exit status 2), as
    /// opposed to a failure while reading or writing (exit status 1).
    pub fn is_input(&self) -> bool {
        !matches!(
            self,
            ReportError::Sqlite(_)
                | ReportError::Postgres(_)
                | ReportError::Corrupt { .. }
                | ReportError::TooLarge { .. }
                | ReportError::Write(_)
        )
    }
}

impl From<std::io::Error> for ReportError {
    fn from(error: std::io::Error) -> ReportError {
        ReportError::Write(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(year: i32, month: u32, day: u32) -> Date {
        Date::from_ymd(year, month, day).unwrap()
    }

    #[test]
    fn periods_are_inclusive_and_never_empty() {
        let half = Period::new(day(2018, 1, 1), day(2018, 6, 30)).unwrap();
        assert_eq!(half.days(), 181);
        assert_eq!(half.days_in_year_of_start(), 365);
        assert!(half.contains(day(2018, 6, 30)) && !half.contains(day(2018, 7, 1)));
        assert_eq!(
            Period::new(day(2018, 1, 1), day(2018, 1, 1))
                .unwrap()
                .days(),
            1
        );
        assert!(matches!(
            Period::new(day(2018, 1, 2), day(2018, 1, 1)),
            Err(ReportError::EmptyPeriod { .. })
        ));
        assert!(matches!(
            Period::new(day(2018, 1, 1), day(2021, 1, 3)),
            Err(ReportError::PeriodTooLong { .. })
        ));
        let leap = Period::new(day(2024, 7, 1), day(2025, 6, 30)).unwrap();
        assert_eq!(leap.days_in_year_of_start(), 366);
    }

    #[test]
    fn submitted_amount_prefers_gross_amount_due() {
        let mut row = testing::paid(1, "P1", 1, 0);
        row.gross_amount_due_cents = Some(1_400);
        row.ingredient_cost_cents = Some(1_000);
        row.dispensing_fee_cents = Some(150);
        assert_eq!(row.submitted_cents(), 1_400);
        row.gross_amount_due_cents = None;
        assert_eq!(row.submitted_cents(), 1_150);
        row.ingredient_cost_cents = None;
        row.dispensing_fee_cents = None;
        assert_eq!(row.submitted_cents(), 0);
        row.gross_amount_due_cents = Some(-5);
        assert_eq!(row.submitted_cents(), 0);
    }
}
