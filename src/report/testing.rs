//! Hand-made claim rows for the report cores' unit tests (test builds only).
//!
//! Days are offsets from 2018-01-01, the start of the reference program's first period.

use super::{ClaimRow, ConflictRow, DurPpsRow, PatientNumber, Period, RowStatus};
use crate::claim::{reject, Action, Code2, Date, Edit, Ndc, RejectCode};
use crate::rules::{compile, RuleSet, RuleSource};
use std::sync::Arc;

/// 2018-01-01 plus `offset` days.
pub(crate) fn day(offset: i32) -> Date {
    Date::from_ymd(2018, 1, 1).unwrap().add_days(offset)
}

/// 2018-01-01 to 2018-06-30 (181 days).
pub(crate) fn half_year() -> Period {
    Period::new(day(0), Date::from_ymd(2018, 6, 30).unwrap()).unwrap()
}

/// A paid claim: product 00000000001, 30 days, age 50, no conflicts or codes.
pub(crate) fn paid(claim_id: u64, pharmacy: &str, patient: u32, day_offset: i32) -> ClaimRow {
    ClaimRow {
        claim_id,
        pharmacy: Arc::from(pharmacy),
        patient: Some(PatientNumber(patient)),
        patient_age_years: Some(50),
        product_id: "00000000001".into(),
        ndc: Ndc::from_value(1),
        quantity_milli: 30_000,
        days_supply: 30,
        date_of_service: day(day_offset),
        prescriber: 7,
        status: RowStatus::Paid,
        reject_codes: Vec::new(),
        conflicts: Vec::new(),
        dur_pps: Vec::new(),
        gross_amount_due_cents: None,
        ingredient_cost_cents: None,
        dispensing_fee_cents: None,
    }
}

/// A claim rejected 88 with one rejecting duplication conflict.
pub(crate) fn dur_rejected(claim_id: u64, pharmacy: &str, patient: u32, day: i32) -> ClaimRow {
    let mut row = paid(claim_id, pharmacy, patient, day);
    row.status = RowStatus::Rejected;
    row.reject_codes = vec![reject::DUR_REJECT];
    with_conflict(row, Edit::Duplication, Action::Reject)
}

pub(crate) fn with_conflict(mut row: ClaimRow, edit: Edit, action: Action) -> ClaimRow {
    row.conflicts.push(ConflictRow { edit, action });
    row
}

/// Adds a DUR/PPS occurrence; `answered` says whether it matched (and overrode) the claim's
/// last conflict.
pub(crate) fn with_codes(
    row: ClaimRow,
    professional: &str,
    result: &str,
    answered: bool,
) -> ClaimRow {
    with_occurrence(row, professional, result, answered, answered)
}

/// Adds a DUR/PPS occurrence that answered the claim's last conflict (when `answered`) and
/// overrode it (when `overrode` too): `answered && !overrode` is a refused override.
pub(crate) fn with_occurrence(
    mut row: ClaimRow,
    professional: &str,
    result: &str,
    answered: bool,
    overrode: bool,
) -> ClaimRow {
    let answered_conflict = row.conflicts.last().copied().filter(|_| answered);
    row.dur_pps.push(DurPpsRow {
        professional: Code2::parse(professional.as_bytes()),
        result: Code2::parse(result.as_bytes()),
        answered,
        overrode: answered && overrode,
        answered_conflict,
    });
    row
}

pub(crate) fn with_product(mut row: ClaimRow, ndc: u64, days_supply: u16) -> ClaimRow {
    row.ndc = Ndc::from_value(ndc);
    row.product_id = format!("{ndc:011}").into();
    row.days_supply = days_supply;
    row
}

pub(crate) fn with_reject_code(mut row: ClaimRow, code: RejectCode) -> ClaimRow {
    row.status = RowStatus::Rejected;
    row.reject_codes = vec![code];
    row
}

/// The sample rule tables shipped in `config/rules/sample`, compiled once.
pub(crate) fn sample_rules() -> &'static RuleSet {
    static RULES: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    RULES.get_or_init(|| compiled(&sample_source()))
}

/// The sample rule tables with one file replaced.
pub(crate) fn sample_rules_with(name: &str, text: &str) -> RuleSet {
    let mut source = sample_source();
    source.set(name, text);
    compiled(&source)
}

fn compiled(source: &RuleSource) -> RuleSet {
    compile(source).unwrap_or_else(|errors| panic!("rule tables refused:\n{errors}"))
}

fn sample_source() -> RuleSource {
    let files = [
        (
            "ruleset.toml",
            &include_bytes!("../../config/rules/sample/ruleset.toml")[..],
        ),
        (
            "products.csv",
            include_bytes!("../../config/rules/sample/products.csv"),
        ),
        (
            "classes.csv",
            include_bytes!("../../config/rules/sample/classes.csv"),
        ),
        (
            "ddi.csv",
            include_bytes!("../../config/rules/sample/ddi.csv"),
        ),
        (
            "duplication.csv",
            include_bytes!("../../config/rules/sample/duplication.csv"),
        ),
        (
            "dose_limits.csv",
            include_bytes!("../../config/rules/sample/dose_limits.csv"),
        ),
        (
            "elderly_high_risk.csv",
            include_bytes!("../../config/rules/sample/elderly_high_risk.csv"),
        ),
        (
            "mme.csv",
            include_bytes!("../../config/rules/sample/mme.csv"),
        ),
    ];
    let mut source = RuleSource::default();
    for (name, bytes) in files {
        source.set(name, bytes);
    }
    source
}
