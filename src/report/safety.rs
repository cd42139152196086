//! The safety report: patients meeting the MTM targeting criteria, and patients with opioid
//! fills from several prescribers and several pharmacies within a window.
//!
//! Pure core: [`SafetyTally`] folds paid, unreversed [`ClaimRow`]s (any order);
//! [`SafetyTally::finish`] groups them per patient. Patients are shown only as the reader's
//! [`PatientNumber`]. Rows dated before the period (the opioid window's lookback, see
//! [`scan_dates`]) serve only the opioid check. Must never read the store or the clock, or
//! print a cardholder id, name or date of birth.

use super::catalog::Catalog;
use super::settings::SafetySettings;
use super::{ClaimRow, PatientNumber, Period, ReportError, ScanDates};
use crate::claim::{id_hash, Date};
use crate::limits::{REPORT_CLAIMS_MAX, REPORT_FILLS_PER_PATIENT_MAX};
use crate::rules::RuleSet;
use serde::Serialize;

/// A patient meeting every MTM targeting criterion in the period.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct MtmTarget {
    pub patient_number: PatientNumber,
    /// Chronic classes with a paid fill in the period.
    pub chronic_classes: u32,
    /// Distinct drugs (ingredient sets; unknown products by product id).
    pub distinct_drugs: u32,
    /// Submitted amounts of the period's paid claims, cents.
    pub submitted_cents: u64,
    /// `submitted × days in the year of the period start / days in the period`, cents.
    pub annualized_cost_cents: u64,
}

/// A patient whose opioid fills in one window came from enough prescribers and pharmacies.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct OpioidOverutilization {
    pub patient_number: PatientNumber,
    pub prescribers: u32,
    pub pharmacies: u32,
    pub opioid_fills: u32,
    /// The window shown: the one with the most prescribers (then pharmacies, then earliest).
    pub window_from: String,
    pub window_to: String,
}

/// The settings' thresholds, echoed in the report.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct SafetyCriteria {
    pub mtm_annual_cost_cents: u64,
    pub mtm_chronic_classes_min: u32,
    pub mtm_distinct_drugs_min: u32,
    pub opioid_prescribers_min: u32,
    pub opioid_pharmacies_min: u32,
    pub opioid_window_days: u32,
}

/// The safety report of one period.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct SafetyReport {
    pub period: Period,
    pub criteria: SafetyCriteria,
    /// Patients with a paid claim in the period.
    pub patients: u64,
    /// Ordered by patient number.
    pub mtm_targets: Vec<MtmTarget>,
    /// Ordered by patient number.
    pub opioid_overutilization: Vec<OpioidOverutilization>,
    pub notes: Vec<String>,
}

/// The dates of service the report reads: the period, and the opioid window before it so
/// that a window ending early in the period is whole.
pub fn scan_dates(period: Period, settings: &SafetySettings) -> ScanDates {
    let lookback = i32::try_from(settings.opioid.window_days).unwrap_or(i32::MAX) - 1;
    ScanDates {
        first: period.from().add_days(-lookback),
        last: period.to(),
    }
}

/// The report over an iterator of claim rows.
pub fn safety_report(
    rows: impl IntoIterator<Item = ClaimRow>,
    settings: &SafetySettings,
    rules: &RuleSet,
    period: Period,
) -> Result<SafetyReport, ReportError> {
    let mut tally = SafetyTally::new(settings, rules, period)?;
    for row in rows {
        tally.add(&row)?;
    }
    Ok(tally.finish())
}

/// One paid claim of the period, as MTM targeting needs it.
#[derive(Clone, Copy, Debug)]
struct MtmFill {
    patient: u32,
    drug: u64,
    chronic: u64,
    cents: u64,
}

/// One paid opioid fill.
#[derive(Clone, Copy, Debug)]
struct OpioidFill {
    patient: u32,
    day: i32,
    prescriber: u64,
    pharmacy: u64,
}

impl OpioidFill {
    fn of(row: &ClaimRow, patient: PatientNumber) -> OpioidFill {
        OpioidFill {
            patient: patient.0,
            day: row.date_of_service.days(),
            prescriber: row.prescriber,
            pharmacy: id_hash(row.pharmacy.as_bytes()),
        }
    }
}

/// The running fold of the safety report.
pub struct SafetyTally<'s> {
    settings: &'s SafetySettings,
    period: Period,
    catalog: Catalog,
    chronic_mask: u64,
    opioid_mask: u64,
    mtm: Vec<MtmFill>,
    opioid: Vec<OpioidFill>,
}

impl<'s> SafetyTally<'s> {
    /// Resolves the settings' classes against the rule tables.
    pub fn new(
        settings: &'s SafetySettings,
        rules: &RuleSet,
        period: Period,
    ) -> Result<SafetyTally<'s>, ReportError> {
        let classes = settings
            .mtm
            .chronic_classes
            .iter()
            .chain(&settings.opioid.classes);
        let catalog = Catalog::new(rules, classes)?;
        Ok(SafetyTally {
            chronic_mask: catalog.mask(&settings.mtm.chronic_classes),
            opioid_mask: catalog.mask(&settings.opioid.classes),
            settings,
            period,
            catalog,
            mtm: Vec::new(),
            opioid: Vec::new(),
        })
    }

    /// Folds one row: paid, unreversed claims with a patient.
    pub fn add(&mut self, row: &ClaimRow) -> Result<(), ReportError> {
        let (true, Some(patient)) = (row.is_paid(), row.patient) else {
            return Ok(());
        };
        if (self.mtm.len() + self.opioid.len()) as u64 >= REPORT_CLAIMS_MAX {
            let max = REPORT_CLAIMS_MAX;
            return Err(ReportError::TooLarge {
                what: "claims",
                max,
            });
        }
        let facts = self.catalog.facts(row.ndc);
        let classes = facts.map_or(0, |facts| facts.classes);
        if classes & self.opioid_mask != 0 {
            self.opioid.push(OpioidFill::of(row, patient));
        }
        if self.period.contains(row.date_of_service) {
            // Unknown products are told apart by product id, kept apart from ingredient sets.
            let unknown = id_hash(row.product_id.as_bytes()) | 1 << 63;
            self.mtm.push(MtmFill {
                patient: patient.0,
                drug: facts.map_or(unknown, |facts| u64::from(facts.drug)),
                chronic: classes & self.chronic_mask,
                cents: row.submitted_cents(),
            });
        }
        Ok(())
    }

    /// Groups per patient and applies the criteria.
    pub fn finish(mut self) -> SafetyReport {
        self.mtm
            .sort_unstable_by_key(|fill| (fill.patient, fill.drug));
        self.opioid
            .sort_unstable_by_key(|fill| (fill.patient, fill.day));
        let patients = self.mtm.chunk_by(|a, b| a.patient == b.patient).count() as u64;
        let mtm_targets = self
            .mtm
            .chunk_by(|a, b| a.patient == b.patient)
            .filter_map(|group| self.mtm_target(group))
            .collect();
        let opioid_overutilization = self
            .opioid
            .chunk_by(|a, b| a.patient == b.patient)
            .filter_map(|group| self.opioid_finding(group))
            .collect();
        SafetyReport {
            period: self.period,
            criteria: self.criteria(),
            patients,
            mtm_targets,
            opioid_overutilization,
            notes: notes(),
        }
    }

    fn criteria(&self) -> SafetyCriteria {
        let (mtm, opioid) = (&self.settings.mtm, &self.settings.opioid);
        SafetyCriteria {
            mtm_annual_cost_cents: mtm.annual_cost_cents,
            mtm_chronic_classes_min: mtm.chronic_classes_min,
            mtm_distinct_drugs_min: mtm.distinct_drugs_min,
            opioid_prescribers_min: opioid.prescribers_min,
            opioid_pharmacies_min: opioid.pharmacies_min,
            opioid_window_days: opioid.window_days,
        }
    }

    fn mtm_target(&self, group: &[MtmFill]) -> Option<MtmTarget> {
        let first = group.first()?;
        let chronic = group.iter().fold(0u64, |mask, fill| mask | fill.chronic);
        let distinct_drugs = group.chunk_by(|a, b| a.drug == b.drug).count();
        let submitted: u64 = group.iter().map(|fill| fill.cents).sum();
        let annualized = u128::from(submitted) * u128::from(self.period.days_in_year_of_start())
            / u128::from(self.period.days());
        let target = MtmTarget {
            patient_number: PatientNumber(first.patient),
            chronic_classes: chronic.count_ones(),
            distinct_drugs: u32::try_from(distinct_drugs).unwrap_or(u32::MAX),
            submitted_cents: submitted,
            annualized_cost_cents: u64::try_from(annualized).unwrap_or(u64::MAX),
        };
        let mtm = &self.settings.mtm;
        let meets = target.chronic_classes >= mtm.chronic_classes_min
            && target.distinct_drugs >= mtm.distinct_drugs_min
            && target.annualized_cost_cents >= mtm.annual_cost_cents;
        meets.then_some(target)
    }

    /// The worst window ending on a fill dated in the period, if it meets both minimums.
    fn opioid_finding(&self, group: &[OpioidFill]) -> Option<OpioidOverutilization> {
        let settings = &self.settings.opioid;
        let window = i32::try_from(settings.window_days).unwrap_or(i32::MAX);
        let group = group.get(..REPORT_FILLS_PER_PATIENT_MAX).unwrap_or(group);
        let mut worst: Option<(u32, u32, usize, usize)> = None;
        for (end, last) in group.iter().enumerate() {
            if !self.period.contains(Date::from_days(last.day)) {
                continue;
            }
            let start = group.partition_point(|fill| fill.day <= last.day - window);
            let fills = group.get(start..=end).unwrap_or_default();
            let prescribers = distinct(fills.iter().map(|fill| fill.prescriber));
            let pharmacies = distinct(fills.iter().map(|fill| fill.pharmacy));
            let meets =
                prescribers >= settings.prescribers_min && pharmacies >= settings.pharmacies_min;
            let better = worst.is_none_or(|(p, q, _, _)| (prescribers, pharmacies) > (p, q));
            if meets && better {
                worst = Some((prescribers, pharmacies, start, end));
            }
        }
        let (prescribers, pharmacies, start, end) = worst?;
        let last_day = group.get(end)?.day;
        Some(OpioidOverutilization {
            patient_number: PatientNumber(group.first()?.patient),
            prescribers,
            pharmacies,
            opioid_fills: u32::try_from(end + 1 - start).unwrap_or(u32::MAX),
            window_from: Date::from_days(last_day - window + 1).to_string(),
            window_to: Date::from_days(last_day).to_string(),
        })
    }
}

fn distinct(values: impl Iterator<Item = u64>) -> u32 {
    let mut values: Vec<u64> = values.collect();
    values.sort_unstable();
    values.dedup();
    u32::try_from(values.len()).unwrap_or(u32::MAX)
}

fn notes() -> Vec<String> {
    vec![
        "Patients are shown only as the report reader's patient number: the rank of the \
         patient's first claim in the store."
            .to_owned(),
        "MTM cost is annualised from the submitted amounts (430-DU gross amount due, else \
         ingredient cost plus dispensing fee) of the period's paid claims."
            .to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{half_year, paid, sample_rules, with_product};
    use crate::report::Settings;

    const OXYCODONE: u64 = 378_611_201;
    const METFORMIN: u64 = 65_841_080_901;
    const LISINOPRIL: u64 = 50_090_298_800;
    const ROSUVASTATIN: u64 = 99_999_000_501;
    const SERTRALINE: u64 = 99_999_001_701;

    fn report(rows: Vec<ClaimRow>) -> SafetyReport {
        let settings = Settings::default().safety;
        safety_report(rows, &settings, sample_rules(), half_year()).unwrap()
    }

    fn opioid(id: u64, patient: u32, day: i32, prescriber: u64, pharmacy: &str) -> ClaimRow {
        let mut row = with_product(paid(id, pharmacy, patient, day), OXYCODONE, 5);
        row.prescriber = prescriber;
        row
    }

    #[test]
    fn four_prescribers_and_four_pharmacies_within_the_window() {
        let rows = vec![
            // Patient 1: 4 prescribers, 4 pharmacies within 180 days (days 10..100).
            opioid(1, 1, 10, 1, "A"),
            opioid(2, 1, 40, 2, "B"),
            opioid(3, 1, 70, 3, "C"),
            opioid(4, 1, 100, 4, "D"),
            // Patient 2: 4 prescribers but 3 pharmacies.
            opioid(5, 2, 10, 1, "A"),
            opioid(6, 2, 40, 2, "B"),
            opioid(7, 2, 70, 3, "C"),
            opioid(8, 2, 100, 4, "C"),
            // Patient 3: 4 of each, but the first fill is 180 days before the fourth.
            opioid(9, 3, -80, 1, "A"),
            opioid(10, 3, 20, 2, "B"),
            opioid(11, 3, 60, 3, "C"),
            opioid(12, 3, 100, 4, "D"),
            // Patient 4: the same, 179 days apart: the lookback before the period counts.
            opioid(13, 4, -79, 1, "A"),
            opioid(14, 4, 20, 2, "B"),
            opioid(15, 4, 60, 3, "C"),
            opioid(16, 4, 100, 4, "D"),
        ];
        let found = report(rows).opioid_overutilization;
        let patients: Vec<u32> = found.iter().map(|f| f.patient_number.0).collect();
        assert_eq!(patients, vec![1, 4]);
        let first = &found[0];
        assert_eq!(
            (first.prescribers, first.pharmacies, first.opioid_fills),
            (4, 4, 4)
        );
        assert_eq!(
            (first.window_from.as_str(), first.window_to.as_str()),
            ("2017-10-14", "2018-04-11")
        );
    }

    #[test]
    fn windows_end_in_the_period() {
        // Every fill before the period: nothing to report for this period.
        let rows = (0..4)
            .map(|n| opioid(n + 1, 1, -40 + n as i32, n, &format!("P{n}")))
            .collect();
        let safety = report(rows);
        assert!(safety.opioid_overutilization.is_empty());
        assert_eq!(safety.patients, 0);
    }

    fn mtm_rows(patient: u32, drugs: &[u64], cents: i64) -> Vec<ClaimRow> {
        drugs
            .iter()
            .enumerate()
            .map(|(n, ndc)| {
                let mut row = with_product(paid(n as u64, "A", patient, 5), *ndc, 30);
                row.gross_amount_due_cents = Some(cents);
                row
            })
            .collect()
    }

    #[test]
    fn mtm_needs_classes_drugs_and_cost() {
        // Four chronic classes; eight distinct drugs (four known ingredient sets, four unknown
        // NDCs); 8 × $245 = $1,960 in 181 days → $3,952.48 a year: below $3,967.
        let known = [METFORMIN, LISINOPRIL, ROSUVASTATIN, SERTRALINE];
        let unknown = [11, 12, 13, 14];
        let drugs: Vec<u64> = known.iter().chain(&unknown).copied().collect();
        let mut rows = mtm_rows(1, &drugs, 24_500);
        // Patient 2: the same at $246 → $3,968.61: a target.
        rows.extend(mtm_rows(2, &drugs, 24_600));
        // Patient 3: $500 each but seven drugs.
        rows.extend(mtm_rows(3, &drugs[..7], 50_000));
        // Patient 4: eight fills of two chronic drugs (a repeat drug counts once).
        let repeats = [METFORMIN, METFORMIN, LISINOPRIL, 11, 12, 13, 14, 15];
        rows.extend(mtm_rows(4, &repeats, 50_000));
        let safety = report(rows);
        let targets: Vec<(u32, u32, u32, u64)> = safety
            .mtm_targets
            .iter()
            .map(|t| {
                (
                    t.patient_number.0,
                    t.chronic_classes,
                    t.distinct_drugs,
                    t.annualized_cost_cents,
                )
            })
            .collect();
        assert_eq!(targets, vec![(2, 4, 8, 396_861)]);
        assert_eq!(safety.patients, 4);
    }
}
