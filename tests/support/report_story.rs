//! The claims the report stories (`tests/report.rs`, `tests/report_postgres.rs`) commit: four
//! pharmacies, the drugs of the statin, opioid and MTM measures, dates in March 2018, patients
//! by number, and paid B1 transactions and DUR conflicts and codes to build their story from.

use durgate::claim::{Action, Code2, Conflict, Date, DurPps, Edit, Ndc, PatientKey, Status};
use durgate::report::Period;
use durgate::store::{RecordKind, TransactionRecord};
use std::sync::Arc;

pub const A: &str = "1111111111";
pub const B: &str = "2222222222";
pub const C: &str = "3333333333";
pub const D: &str = "4444444444";
pub const UNKNOWN: u64 = 777;
pub const ROSUVASTATIN: u64 = 99_999_000_501;
pub const OXYCODONE: u64 = 378_611_201;
pub const MTM_DRUGS: [u64; 8] = [
    65_841_080_901, // metformin
    50_090_298_800, // lisinopril
    62_980_050_202, // losartan
    ROSUVASTATIN,
    67_877_051_190, // atorvastatin
    99_999_001_701, // sertraline
    99_999_015_701, // montelukast
    99_999_015_301, // albuterol
];
/// The birth date of every patient of the story, as NCPDP writes it.
pub const BIRTH: &str = "19310719";

/// `offset` days after 2018-03-01, the first day of the period.
pub fn day(offset: i32) -> Date {
    Date::from_ymd(2018, 3, 1).expect("date").add_days(offset)
}

/// March 2018, 31 days.
pub fn period() -> Period {
    Period::new(day(0), day(30)).expect("period")
}

pub fn patient(number: u32) -> PatientKey {
    let born = Date::parse_ccyymmdd(BIRTH.as_bytes()).expect("date");
    PatientKey::new(&format!("CARDHOLDER{number:03}"), "01", born)
}

/// One paid B1 transaction of `ndc` for `days` days on day `offset`, written on day `written`
/// (the store stories' transaction, with this story's drug, dates, tables and prices).
pub fn paid(rx_number: u64, offset: i32, ndc: u64, days: u16, written: i32) -> TransactionRecord {
    let ndc = Ndc::from_value(ndc).expect("ndc");
    TransactionRecord {
        product_id: ndc.to_string(),
        ndc: Some(ndc),
        days_supply: days,
        date_written: Some(day(written)),
        ruleset: Arc::from("open-dur-sample@test"),
        ingredient_cost_cents: Some(1_000),
        gross_amount_due_cents: Some(1_150),
        ..super::records::transaction(RecordKind::Claim, rx_number, day(offset), Status::Paid)
    }
}

/// An overridable severity-2 conflict that names no previous fill.
pub fn conflict(edit: Edit, reason: &str, action: Action, overridden_by: Option<u8>) -> Conflict {
    Conflict {
        edit,
        rule_id: "test".into(),
        reason: Code2::new(reason),
        severity: 2,
        action,
        clinical_significance: 2,
        previous_fill_date: None,
        previous_quantity_milli: None,
        other_pharmacy: 0,
        other_prescriber: 0,
        message: "test conflict".into(),
        overridable: true,
        overridden_by,
        remembered_from: None,
    }
}

/// One DUR/PPS occurrence.
pub fn codes(counter: u8, reason: &str, professional: Option<&str>, result: &str) -> DurPps {
    DurPps {
        counter,
        reason: Some(Code2::new(reason)),
        professional: professional.map(Code2::new),
        result: Some(Code2::new(result)),
        ..DurPps::default()
    }
}
