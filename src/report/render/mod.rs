//! Writes a typed report as CSV (the `csv` crate), JSON (serde_json) or one self-contained HTML
//! page with inline SVG charts and a tiny inline sortable-table script ([`html`]).
//!
//! Place in the data flow: last step of `durgate report`, after a core built the report. Must
//! never compute a figure (every number comes from the report as it is), fetch anything over
//! the network, or print more about a patient than the report's patient number.

mod help;
mod html;

use super::p4p::{P4pReport, PharmacyP4p};
use super::quality::{MeasureResult, QualityReport};
use super::safety::{MtmTarget, OpioidOverutilization, SafetyReport};
use super::{Period, Provenance, ReportError};
use serde::Serialize;
use std::io::Write;
use std::str::FromStr;

/// Output format of a report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Csv,
    Json,
    Html,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown format {other:?}: expected csv, json or html"
            )),
        }
    }
}

/// Writes the P4P report.
pub fn p4p(
    report: &P4pReport,
    format: Format,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        Format::Csv => p4p_csv(report, out),
        Format::Json => json(report, provenance, out),
        Format::Html => Ok(out.write_all(html::p4p(report, provenance).as_bytes())?),
    }
}

/// Writes the quality report card.
pub fn quality(
    report: &QualityReport,
    format: Format,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        Format::Csv => quality_csv(report, out),
        Format::Json => json(report, provenance, out),
        Format::Html => Ok(out.write_all(html::quality(report, provenance).as_bytes())?),
    }
}

/// Writes the safety report.
pub fn safety(
    report: &SafetyReport,
    format: Format,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        Format::Csv => safety_csv(report, out),
        Format::Json => json(report, provenance, out),
        Format::Html => Ok(out.write_all(html::safety(report, provenance).as_bytes())?),
    }
}

/// A report's JSON: its own fields, then `provenance`.
#[derive(Serialize)]
struct WithProvenance<'a, T: Serialize> {
    #[serde(flatten)]
    report: &'a T,
    provenance: &'a Provenance,
}

fn json(
    report: &impl Serialize,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let document = WithProvenance { report, provenance };
    serde_json::to_writer_pretty(&mut *out, &document)
        .map_err(|error| ReportError::Write(error.to_string()))?;
    Ok(out.write_all(b"\n")?)
}

fn csv_error(error: csv::Error) -> ReportError {
    ReportError::Write(error.to_string())
}

/// Basis points as a percent with two decimals (`483` → `4.83`).
pub(crate) fn percent_of_basis_points(basis_points: u32) -> String {
    format!("{}.{:02}", basis_points / 100, basis_points % 100)
}

const P4P_COLUMNS: [&str; 22] = [
    "period_from",
    "period_to",
    "pharmacy_id",
    "paid_claims",
    "claims_with_conflicts",
    "paid_claims_without_alerts",
    "payable_overrides",
    "unpaid_overrides",
    "other_overrides",
    "unmatched_code_claims",
    "coded_paid_claims",
    "code_share_percent",
    "below_threshold",
    "dur_rejects",
    "not_dispensed_after_review",
    "eligible",
    "intervention_cents",
    "bonus_cents",
    "premier_score_percent",
    "premier",
    "intervention_pool_cents",
    "bonus_pool_cents",
];

/// One row per pharmacy, then a `TOTAL` row carrying the period's pools.
fn p4p_csv(report: &P4pReport, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(P4P_COLUMNS).map_err(csv_error)?;
    for line in &report.pharmacies {
        let mut record = period_cells(report.period);
        record.extend(p4p_cells(line));
        record.extend([String::new(), String::new()]);
        writer.write_record(&record).map_err(csv_error)?;
    }
    writer.write_record(p4p_total(report)).map_err(csv_error)?;
    writer.flush()?;
    Ok(())
}

fn period_cells(period: Period) -> Vec<String> {
    vec![period.from().to_string(), period.to().to_string()]
}

/// The `TOTAL` row: sums where a sum means something, counts of eligible and premier
/// pharmacies in their columns, and the pools in the last two.
fn p4p_total(report: &P4pReport) -> Vec<String> {
    let totals = &report.totals;
    let text = |value: u64| value.to_string();
    let mut record = period_cells(report.period);
    record.push("TOTAL".into());
    let counts = [
        totals.paid_claims,
        totals.claims_with_conflicts,
        totals.paid_claims_without_alerts,
        totals.payable_overrides,
        totals.unpaid_overrides,
        totals.other_overrides,
        totals.unmatched_code_claims,
    ];
    record.extend(counts.map(text));
    record.extend(["", "", ""].map(String::from));
    record.extend([totals.dur_rejects, totals.not_dispensed_after_review].map(text));
    record.push(text(totals.eligible_pharmacies));
    record.extend([totals.intervention_cents, totals.bonus_cents].map(text));
    record.extend([String::new(), text(totals.premier_pharmacies)]);
    record.extend([totals.intervention_pool_cents, totals.bonus_pool_cents].map(text));
    record
}

fn p4p_cells(line: &PharmacyP4p) -> Vec<String> {
    let yes_no = |value: bool| if value { "Y" } else { "N" }.to_owned();
    vec![
        line.pharmacy_id.clone(),
        line.paid_claims.to_string(),
        line.claims_with_conflicts.to_string(),
        line.paid_claims_without_alerts.to_string(),
        line.payable_overrides.to_string(),
        line.unpaid_overrides.to_string(),
        line.other_overrides.to_string(),
        line.unmatched_code_claims.to_string(),
        line.coded_paid_claims.to_string(),
        percent_of_basis_points(line.code_share_basis_points),
        yes_no(line.below_threshold),
        line.dur_rejects.to_string(),
        line.not_dispensed_after_review.to_string(),
        yes_no(line.eligible),
        line.intervention_cents.to_string(),
        line.bonus_cents.to_string(),
        line.premier_score_basis_points
            .map(percent_of_basis_points)
            .unwrap_or_default(),
        yes_no(line.premier),
    ]
}

const QUALITY_COLUMNS: [&str; 9] = [
    "period_from",
    "period_to",
    "pharmacy_id",
    "measure",
    "denominator",
    "numerator",
    "rate_percent",
    "stars",
    "lower_is_better",
];

/// One row per pharmacy (and `ALL`) and measure.
fn quality_csv(report: &QualityReport, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(QUALITY_COLUMNS).map_err(csv_error)?;
    let all = std::iter::once(("ALL", &report.overall));
    let pharmacies = report
        .pharmacies
        .iter()
        .map(|pharmacy| (pharmacy.pharmacy_id.as_str(), &pharmacy.measures));
    for (pharmacy, measures) in all.chain(pharmacies) {
        for result in measures {
            let record = quality_record(report.period, pharmacy, result);
            writer.write_record(&record).map_err(csv_error)?;
        }
    }
    writer.flush()?;
    Ok(())
}

fn quality_record(period: Period, pharmacy: &str, result: &MeasureResult) -> Vec<String> {
    let mut record = period_cells(period);
    record.extend([
        pharmacy.to_owned(),
        result.measure.to_owned(),
        result.denominator.to_string(),
        result.numerator.to_string(),
        result
            .rate_percent
            .map(|rate| format!("{rate:.1}"))
            .unwrap_or_default(),
        result
            .stars
            .map(|stars| stars.to_string())
            .unwrap_or_default(),
        if result.lower_is_better { "Y" } else { "N" }.to_owned(),
    ]);
    record
}

const SAFETY_COLUMNS: [&str; 12] = [
    "period_from",
    "period_to",
    "finding",
    "patient_number",
    "chronic_classes",
    "distinct_drugs",
    "annualized_cost_cents",
    "opioid_prescribers",
    "opioid_pharmacies",
    "opioid_fills",
    "window_from",
    "window_to",
];

/// One row per finding: `mtm` targets, then `opioid` overutilization.
fn safety_csv(report: &SafetyReport, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(SAFETY_COLUMNS).map_err(csv_error)?;
    for target in &report.mtm_targets {
        writer
            .write_record(mtm_record(report.period, target))
            .map_err(csv_error)?;
    }
    for finding in &report.opioid_overutilization {
        writer
            .write_record(opioid_record(report.period, finding))
            .map_err(csv_error)?;
    }
    writer.flush()?;
    Ok(())
}

fn mtm_record(period: Period, target: &MtmTarget) -> Vec<String> {
    let mut record = period_cells(period);
    record.extend([
        "mtm".to_owned(),
        target.patient_number.0.to_string(),
        target.chronic_classes.to_string(),
        target.distinct_drugs.to_string(),
        target.annualized_cost_cents.to_string(),
    ]);
    record.extend(["", "", "", "", ""].map(String::from));
    record
}

fn opioid_record(period: Period, finding: &OpioidOverutilization) -> Vec<String> {
    let mut record = period_cells(period);
    record.extend(["opioid".to_owned(), finding.patient_number.0.to_string()]);
    record.extend(["", "", ""].map(String::from));
    record.extend([
        finding.prescribers.to_string(),
        finding.pharmacies.to_string(),
        finding.opioid_fills.to_string(),
        finding.window_from.clone(),
        finding.window_to.clone(),
    ]);
    record
}

#[cfg(test)]
mod tests;
