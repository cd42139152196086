//! The quality report card: adherence (PDC), statin use in persons with diabetes, asthma
//! control and the generic dispensing rate, per pharmacy and overall, with star ratings.
//!
//! Pure core: [`QualityTally`] folds the paid, unreversed [`ClaimRow`]s of the period (any
//! order) with the rule tables' classes; [`QualityTally::finish`] groups the fills per patient,
//! evaluates every measure and returns the typed [`QualityReport`]. Must never read the store
//! or the clock, or keep anything about a patient but the pseudonymous number. The algorithms
//! (index fill, shifting overlapping same-drug fills, truncation at the period end, canister
//! windows, attribution to a pharmacy) are in `REPORTS.md`.

use super::catalog::{Catalog, ProductFacts};
use super::settings::{cut_points, Direction, PdcSettings, QualitySettings};
use super::{ClaimRow, Period, ReportError, ScanDates};
use crate::limits::{REPORT_CLAIMS_MAX, REPORT_FILLS_PER_PATIENT_MAX, REPORT_PHARMACIES_MAX};
use crate::rules::RuleSet;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::sync::Arc;

/// The measures of the report card, in report order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Measure {
    PdcDiabetes,
    PdcRas,
    PdcStatins,
    StatinUseInDiabetes,
    AsthmaSuboptimalControl,
    AsthmaNoController,
    GenericDispensing,
}

impl Measure {
    pub const ALL: [Measure; 7] = [
        Measure::PdcDiabetes,
        Measure::PdcRas,
        Measure::PdcStatins,
        Measure::StatinUseInDiabetes,
        Measure::AsthmaSuboptimalControl,
        Measure::AsthmaNoController,
        Measure::GenericDispensing,
    ];

    /// The measures computed per patient (all but the generic dispensing rate).
    const PATIENT: [Measure; 6] = [
        Measure::PdcDiabetes,
        Measure::PdcRas,
        Measure::PdcStatins,
        Measure::StatinUseInDiabetes,
        Measure::AsthmaSuboptimalControl,
        Measure::AsthmaNoController,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::PdcDiabetes => "pdc_diabetes",
            Measure::PdcRas => "pdc_ras",
            Measure::PdcStatins => "pdc_statins",
            Measure::StatinUseInDiabetes => "statin_use_in_diabetes",
            Measure::AsthmaSuboptimalControl => "asthma_suboptimal_control",
            Measure::AsthmaNoController => "asthma_no_controller",
            Measure::GenericDispensing => "generic_dispensing",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Measure::PdcDiabetes => "PDC diabetes",
            Measure::PdcRas => "PDC RAS antagonists",
            Measure::PdcStatins => "PDC statins",
            Measure::StatinUseInDiabetes => "Statin use in persons with diabetes",
            Measure::AsthmaSuboptimalControl => "Asthma: suboptimal control",
            Measure::AsthmaNoController => "Asthma: absence of controller",
            Measure::GenericDispensing => "Generic dispensing rate",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Measure::AsthmaSuboptimalControl | Measure::AsthmaNoController => {
                Direction::LowerIsBetter
            }
            _ => Direction::HigherIsBetter,
        }
    }
}

/// One measure's result for one pharmacy or overall.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct MeasureResult {
    pub measure: &'static str,
    pub title: &'static str,
    /// Patients (claims, for the generic dispensing rate) the measure counts.
    pub denominator: u64,
    pub numerator: u64,
    /// `numerator / denominator` in percent rounded half up to 0.1; none without patients.
    pub rate_percent: Option<f64>,
    /// 1..=5 from the program's cut points; none without patients or below
    /// `stars_min_denominator`.
    pub stars: Option<u8>,
    /// Why `stars` (or the rate) is absent: "no patients", "too few patients (N < MIN)".
    pub no_stars_reason: Option<String>,
    pub lower_is_better: bool,
}

/// One pharmacy's report card.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct PharmacyQuality {
    pub pharmacy_id: String,
    pub measures: Vec<MeasureResult>,
}

/// The quality report card of one period.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct QualityReport {
    pub period: Period,
    /// Every patient once, every claim once.
    pub overall: Vec<MeasureResult>,
    /// Ordered by pharmacy id; a patient counts at the pharmacy the measure attributes them to.
    pub pharmacies: Vec<PharmacyQuality>,
    pub notes: Vec<String>,
}

/// The dates of service the report reads: the period only.
pub fn scan_dates(period: Period) -> ScanDates {
    ScanDates {
        first: period.from(),
        last: period.to(),
    }
}

/// The report over an iterator of claim rows.
pub fn quality_report(
    rows: impl IntoIterator<Item = ClaimRow>,
    settings: &QualitySettings,
    rules: &RuleSet,
    period: Period,
) -> Result<QualityReport, ReportError> {
    let mut tally = QualityTally::new(settings, rules, period)?;
    for row in rows {
        tally.add(&row)?;
    }
    tally.finish()
}

/// A paid fill of a product in some measure class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct MeasureFill {
    patient: u32,
    day: i32,
    claim_id: u64,
    days_supply: u16,
    age: Option<u8>,
    drug: u32,
    classes: u64,
    pharmacy: u32,
}

/// Class masks of each measure.
#[derive(Clone, Copy, Debug, Default)]
struct Masks {
    pdc: [(u64, u64); 3],
    supd_diabetes: u64,
    supd_statin: u64,
    saba: u64,
    controller: u64,
}

impl Masks {
    fn new(catalog: &Catalog, settings: &QualitySettings) -> Masks {
        let pdc = |measure: &PdcSettings| {
            let exclude = catalog.mask(&measure.exclude_classes);
            (catalog.mask(&measure.classes), exclude)
        };
        let supd = &settings.statin_use_in_diabetes;
        Masks {
            pdc: [
                pdc(&settings.pdc_diabetes),
                pdc(&settings.pdc_ras),
                pdc(&settings.pdc_statins),
            ],
            supd_diabetes: catalog.mask(&supd.diabetes_classes),
            supd_statin: catalog.mask(&supd.statin_classes),
            saba: catalog.mask(&settings.asthma.saba_classes),
            controller: catalog.mask(&settings.asthma.controller_classes),
        }
    }

    fn any(&self) -> u64 {
        let pdc = self
            .pdc
            .iter()
            .fold(0, |mask, (classes, ex)| mask | classes | ex);
        pdc | self.supd_diabetes | self.supd_statin | self.saba | self.controller
    }
}

/// Numerator and denominator of one measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ratio {
    numerator: u64,
    denominator: u64,
}

impl Ratio {
    fn count(&mut self, hit: bool) {
        self.denominator += 1;
        self.numerator += u64::from(hit);
    }
}

/// A patient's result in one measure, attributed to a pharmacy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    pharmacy: u32,
    hit: bool,
}

/// The running fold of the quality report.
pub struct QualityTally<'s> {
    settings: &'s QualitySettings,
    period: Period,
    catalog: Catalog,
    masks: Masks,
    pharmacy_names: Vec<Arc<str>>,
    pharmacy_index: FxHashMap<Arc<str>, u32>,
    fills: Vec<MeasureFill>,
    /// Per pharmacy: (generic paid claims, paid claims with a known generic flag).
    generic: Vec<Ratio>,
    unknown_products: u64,
    unknown_generic: u64,
}

impl<'s> QualityTally<'s> {
    /// Resolves the settings' classes against the rule tables.
    pub fn new(
        settings: &'s QualitySettings,
        rules: &RuleSet,
        period: Period,
    ) -> Result<QualityTally<'s>, ReportError> {
        let catalog = Catalog::new(rules, settings_classes(settings))?;
        let masks = Masks::new(&catalog, settings);
        Ok(QualityTally {
            settings,
            period,
            catalog,
            masks,
            pharmacy_names: Vec::new(),
            pharmacy_index: FxHashMap::default(),
            fills: Vec::new(),
            generic: Vec::new(),
            unknown_products: 0,
            unknown_generic: 0,
        })
    }

    /// Folds one row: only paid, unreversed claims dated in the period count.
    pub fn add(&mut self, row: &ClaimRow) -> Result<(), ReportError> {
        if !row.is_paid() || !self.period.contains(row.date_of_service) {
            return Ok(());
        }
        let pharmacy = self.pharmacy(&row.pharmacy)?;
        let Some(facts) = self.catalog.facts(row.ndc) else {
            self.unknown_products += 1;
            return Ok(());
        };
        self.count_generic(pharmacy, facts.generic);
        if facts.classes & self.masks.any() != 0 {
            self.keep_fill(row, facts, pharmacy)?;
        }
        Ok(())
    }

    fn pharmacy(&mut self, id: &Arc<str>) -> Result<u32, ReportError> {
        if let Some(index) = self.pharmacy_index.get(id) {
            return Ok(*index);
        }
        if self.pharmacy_names.len() >= REPORT_PHARMACIES_MAX {
            let max = REPORT_PHARMACIES_MAX as u64;
            return Err(ReportError::TooLarge {
                what: "pharmacies",
                max,
            });
        }
        let index = u32::try_from(self.pharmacy_names.len()).unwrap_or(u32::MAX);
        self.pharmacy_names.push(Arc::clone(id));
        self.pharmacy_index.insert(Arc::clone(id), index);
        self.generic.push(Ratio::default());
        Ok(index)
    }

    fn count_generic(&mut self, pharmacy: u32, generic: Option<bool>) {
        match (generic, self.generic.get_mut(pharmacy as usize)) {
            (Some(generic), Some(ratio)) => ratio.count(generic),
            _ => self.unknown_generic += 1,
        }
    }

    fn keep_fill(
        &mut self,
        row: &ClaimRow,
        facts: ProductFacts,
        pharmacy: u32,
    ) -> Result<(), ReportError> {
        let Some(patient) = row.patient else {
            return Ok(());
        };
        if self.fills.len() as u64 >= REPORT_CLAIMS_MAX {
            let max = REPORT_CLAIMS_MAX;
            return Err(ReportError::TooLarge {
                what: "measure fills",
                max,
            });
        }
        self.fills.push(MeasureFill {
            patient: patient.0,
            day: row.date_of_service.days(),
            claim_id: row.claim_id,
            days_supply: row.days_supply,
            age: row.patient_age_years,
            drug: facts.drug,
            classes: facts.classes,
            pharmacy,
        });
        Ok(())
    }

    /// Evaluates every measure and builds the report.
    pub fn finish(mut self) -> Result<QualityReport, ReportError> {
        self.fills
            .sort_unstable_by_key(|fill| (fill.patient, fill.day, fill.claim_id));
        let pharmacies = self.pharmacy_names.len();
        let mut overall = [Ratio::default(); 6];
        let mut per_pharmacy = vec![[Ratio::default(); 6]; pharmacies];
        let mut capped_patients = 0u64;
        for group in self.fills.chunk_by(|a, b| a.patient == b.patient) {
            let kept = group.get(..REPORT_FILLS_PER_PATIENT_MAX).unwrap_or(group);
            capped_patients += u64::from(kept.len() < group.len());
            for (slot, measure) in Measure::PATIENT.iter().enumerate() {
                let Some(outcome) = self.evaluate(*measure, kept) else {
                    continue;
                };
                overall[slot].count(outcome.hit);
                if let Some(ratios) = per_pharmacy.get_mut(outcome.pharmacy as usize) {
                    ratios[slot].count(outcome.hit);
                }
            }
        }
        self.build(overall, per_pharmacy, capped_patients)
    }

    fn evaluate(&self, measure: Measure, fills: &[MeasureFill]) -> Option<Outcome> {
        let end = self.period.to().days();
        let threshold = self.settings.pdc_threshold_percent;
        let pdc = |slot: usize, settings: &PdcSettings| {
            let (classes, exclude) = self.masks.pdc.get(slot).copied().unwrap_or_default();
            let rule = PdcRule {
                classes,
                exclude,
                min_age_years: settings.min_age_years,
                threshold_percent: threshold,
                end_day: end,
            };
            pdc_outcome(fills, &rule, &self.pharmacy_names)
        };
        match measure {
            Measure::PdcDiabetes => pdc(0, &self.settings.pdc_diabetes),
            Measure::PdcRas => pdc(1, &self.settings.pdc_ras),
            Measure::PdcStatins => pdc(2, &self.settings.pdc_statins),
            Measure::StatinUseInDiabetes => self.supd(fills),
            Measure::AsthmaSuboptimalControl => {
                self.asthma(fills).map(|(suboptimal, _)| suboptimal)
            }
            Measure::AsthmaNoController => self.asthma(fills).and_then(|(_, absent)| absent),
            Measure::GenericDispensing => None,
        }
    }

    fn supd(&self, fills: &[MeasureFill]) -> Option<Outcome> {
        let settings = &self.settings.statin_use_in_diabetes;
        let diabetes = of_classes(fills, self.masks.supd_diabetes);
        let last = diabetes.last()?;
        let ages = settings.min_age_years..=settings.max_age_years;
        if !on_two_dates(&diabetes) || !last.age.is_some_and(|age| ages.contains(&age)) {
            return None;
        }
        let statin = fills
            .iter()
            .any(|fill| fill.classes & self.masks.supd_statin != 0);
        Some(Outcome {
            pharmacy: attributed(&diabetes, &self.pharmacy_names),
            hit: statin,
        })
    }

    /// Suboptimal control, and absence of controller among the suboptimal (none otherwise).
    fn asthma(&self, fills: &[MeasureFill]) -> Option<(Outcome, Option<Outcome>)> {
        let settings = &self.settings.asthma;
        let asthma = of_classes(fills, self.masks.saba | self.masks.controller);
        let first = asthma.first()?;
        let ages = settings.min_age_years..=settings.max_age_years;
        if !on_two_dates(&asthma) || !first.age.is_some_and(|age| ages.contains(&age)) {
            return None;
        }
        let pharmacy = attributed(&asthma, &self.pharmacy_names);
        let saba = of_classes(fills, self.masks.saba);
        let controller = of_classes(fills, self.masks.controller);
        let windows = saba_windows(&saba, settings.canisters_max, settings.window_days);
        let suboptimal = Outcome {
            pharmacy,
            hit: !windows.is_empty(),
        };
        let no_controller = windows.iter().any(|window| !covers(&controller, *window));
        let absent = suboptimal.hit.then_some(Outcome {
            pharmacy,
            hit: no_controller,
        });
        Some((suboptimal, absent))
    }

    fn build(
        self,
        overall: [Ratio; 6],
        per_pharmacy: Vec<[Ratio; 6]>,
        capped_patients: u64,
    ) -> Result<QualityReport, ReportError> {
        let generic_overall = self
            .generic
            .iter()
            .fold(Ratio::default(), |sum, ratio| Ratio {
                numerator: sum.numerator + ratio.numerator,
                denominator: sum.denominator + ratio.denominator,
            });
        let overall = self.results(&overall, generic_overall)?;
        let mut pharmacies = Vec::with_capacity(per_pharmacy.len());
        for (index, ratios) in per_pharmacy.iter().enumerate() {
            let generic = self.generic.get(index).copied().unwrap_or_default();
            let name = self.pharmacy_names.get(index).map_or("", |name| &**name);
            pharmacies.push(PharmacyQuality {
                pharmacy_id: name.to_owned(),
                measures: self.results(ratios, generic)?,
            });
        }
        pharmacies.sort_by(|a, b| a.pharmacy_id.cmp(&b.pharmacy_id));
        let notes = self.notes(capped_patients);
        Ok(QualityReport {
            period: self.period,
            overall,
            pharmacies,
            notes,
        })
    }

    fn results(
        &self,
        ratios: &[Ratio; 6],
        generic: Ratio,
    ) -> Result<Vec<MeasureResult>, ReportError> {
        let all = ratios.iter().copied().chain([generic]);
        Measure::ALL
            .iter()
            .zip(all)
            .map(|(measure, ratio)| {
                let cuts = cut_points(measure.as_str(), self.stars(*measure), measure.direction())?;
                let min = self.settings.stars_min_denominator;
                Ok(measure_result(*measure, ratio, &cuts, min))
            })
            .collect()
    }

    fn stars(&self, measure: Measure) -> &[f64; 4] {
        let settings = self.settings;
        match measure {
            Measure::PdcDiabetes => &settings.pdc_diabetes.stars,
            Measure::PdcRas => &settings.pdc_ras.stars,
            Measure::PdcStatins => &settings.pdc_statins.stars,
            Measure::StatinUseInDiabetes => &settings.statin_use_in_diabetes.stars,
            Measure::AsthmaSuboptimalControl => &settings.asthma.suboptimal_stars,
            Measure::AsthmaNoController => &settings.asthma.no_controller_stars,
            Measure::GenericDispensing => &settings.generic_dispensing.stars,
        }
    }

    fn notes(&self, capped_patients: u64) -> Vec<String> {
        let mut notes = vec![
            "Measures count paid, unreversed claims dated in the period; supply from fills \
             before the period start is not counted."
                .to_owned(),
            "Each paid SABA fill counts as one canister (claims do not carry the package size)."
                .to_owned(),
            format!(
                "{} paid claims of products not in the rule tables are left out of every measure; \
                 {} paid claims of products with no generic flag are left out of the generic \
                 dispensing rate.",
                self.unknown_products, self.unknown_generic
            ),
        ];
        if capped_patients > 0 {
            notes.push(format!(
                "{capped_patients} patients have more than {REPORT_FILLS_PER_PATIENT_MAX} measure \
                 fills; only their first {REPORT_FILLS_PER_PATIENT_MAX} are used."
            ));
        }
        notes
    }
}

fn settings_classes(settings: &QualitySettings) -> Vec<&String> {
    let pdc = [
        &settings.pdc_diabetes,
        &settings.pdc_ras,
        &settings.pdc_statins,
    ];
    let supd = &settings.statin_use_in_diabetes;
    pdc.into_iter()
        .flat_map(|measure| measure.classes.iter().chain(&measure.exclude_classes))
        .chain(&supd.diabetes_classes)
        .chain(&supd.statin_classes)
        .chain(&settings.asthma.saba_classes)
        .chain(&settings.asthma.controller_classes)
        .collect()
}

/// `numerator / denominator` in tenths of a percent, rounded half up.
pub fn rate_tenths(numerator: u64, denominator: u64) -> Option<u32> {
    let numerator = u128::from(numerator);
    let tenths =
        (2_000 * numerator + u128::from(denominator)).checked_div(2 * u128::from(denominator))?;
    u32::try_from(tenths).ok()
}

/// Stars of a rate: 1 plus the cut points it reaches (at or above when higher is better, at or
/// below when lower is better).
pub fn stars(rate_tenths: u32, cut_tenths: &[u32; 4], direction: Direction) -> u8 {
    let reached = cut_tenths
        .iter()
        .filter(|cut| match direction {
            Direction::HigherIsBetter => rate_tenths >= **cut,
            Direction::LowerIsBetter => rate_tenths <= **cut,
        })
        .count();
    1 + reached as u8
}

fn measure_result(
    measure: Measure,
    ratio: Ratio,
    cut_tenths: &[u32; 4],
    stars_min_denominator: u64,
) -> MeasureResult {
    let tenths = rate_tenths(ratio.numerator, ratio.denominator);
    let enough = ratio.denominator >= stars_min_denominator;
    let no_stars_reason = match (tenths, enough) {
        (None, _) => Some("no patients".to_string()),
        (Some(_), false) => Some(format!(
            "too few patients ({} < {stars_min_denominator})",
            ratio.denominator
        )),
        (Some(_), true) => None,
    };
    MeasureResult {
        measure: measure.as_str(),
        title: measure.title(),
        denominator: ratio.denominator,
        numerator: ratio.numerator,
        rate_percent: tenths.map(|tenths| f64::from(tenths) / 10.0),
        stars: tenths
            .filter(|_| enough)
            .map(|tenths| stars(tenths, cut_tenths, measure.direction())),
        no_stars_reason,
        lower_is_better: measure.direction() == Direction::LowerIsBetter,
    }
}

/// What one PDC measure needs to evaluate a patient.
struct PdcRule {
    classes: u64,
    exclude: u64,
    min_age_years: u8,
    threshold_percent: u32,
    /// Last day of the period (days since 1970-01-01).
    end_day: i32,
}

fn of_classes(fills: &[MeasureFill], mask: u64) -> Vec<MeasureFill> {
    fills
        .iter()
        .filter(|fill| fill.classes & mask != 0)
        .copied()
        .collect()
}

/// Fills (sorted by day) on at least two different dates of service.
fn on_two_dates(fills: &[MeasureFill]) -> bool {
    match (fills.first(), fills.last()) {
        (Some(first), Some(last)) => first.day != last.day,
        _ => false,
    }
}

fn pdc_outcome(fills: &[MeasureFill], rule: &PdcRule, names: &[Arc<str>]) -> Option<Outcome> {
    if fills.iter().any(|fill| fill.classes & rule.exclude != 0) {
        return None;
    }
    let fills = of_classes(fills, rule.classes);
    let index = fills.first()?;
    let adult = index.age.is_some_and(|age| age >= rule.min_age_years);
    if !on_two_dates(&fills) || !adult {
        return None;
    }
    let treatment_days = u64::try_from(rule.end_day - index.day + 1).ok()?;
    let covered = covered_days(&fills, index.day, rule.end_day);
    Some(Outcome {
        pharmacy: attributed(&fills, names),
        hit: covered * 100 >= u64::from(rule.threshold_percent) * treatment_days,
    })
}

/// Days from `start` to `end` (inclusive) covered by the fills, each drug's overlapping fills
/// shifted to start the day after its earlier supply ends, truncated at `end`.
fn covered_days(fills: &[MeasureFill], start: i32, end: i32) -> u64 {
    let length = usize::try_from(end - start + 1).unwrap_or(0);
    let mut covered = vec![0u64; length.div_ceil(64)];
    let mut next_free: Vec<(u32, i32)> = Vec::new();
    for fill in fills {
        let slot = next_free.iter().position(|(drug, _)| *drug == fill.drug);
        let free = slot
            .and_then(|slot| next_free.get(slot))
            .map_or(fill.day, |(_, day)| *day);
        let begin = fill.day.max(free);
        let supply_end = begin + i32::from(fill.days_supply) - 1;
        for day in begin.max(start)..=supply_end.min(end) {
            let offset = usize::try_from(day - start).unwrap_or(0);
            if let Some(word) = covered.get_mut(offset / 64) {
                *word |= 1 << (offset % 64);
            }
        }
        match slot.and_then(|slot| next_free.get_mut(slot)) {
            Some((_, day)) => *day = supply_end.max(*day - 1) + 1,
            None => next_free.push((fill.drug, supply_end + 1)),
        }
    }
    covered
        .iter()
        .map(|word| u64::from(word.count_ones()))
        .sum()
}

/// The pharmacy that filled most of these fills; ties go to the latest fill, then to the
/// lower pharmacy id.
fn attributed(fills: &[MeasureFill], names: &[Arc<str>]) -> u32 {
    let mut tallies: Vec<(u32, u64, i32)> = Vec::new();
    for fill in fills {
        match tallies
            .iter_mut()
            .find(|(pharmacy, _, _)| *pharmacy == fill.pharmacy)
        {
            Some((_, count, last)) => {
                *count += 1;
                *last = (*last).max(fill.day);
            }
            None => tallies.push((fill.pharmacy, 1, fill.day)),
        }
    }
    let name = |index: u32| names.get(index as usize).map_or("", |name| &**name);
    tallies
        .into_iter()
        .max_by(|a, b| {
            (a.1, a.2)
                .cmp(&(b.1, b.2))
                .then_with(|| name(b.0).cmp(name(a.0)))
        })
        .map_or(0, |(pharmacy, _, _)| pharmacy)
}

/// `(first day, last day)` of every window of `window_days` days, starting at a SABA fill,
/// holding more than `canisters_max` SABA fills (one canister each).
fn saba_windows(saba: &[MeasureFill], canisters_max: u32, window_days: u32) -> Vec<(i32, i32)> {
    let reach = usize::try_from(canisters_max).unwrap_or(usize::MAX);
    let window = i32::try_from(window_days).unwrap_or(i32::MAX);
    saba.iter()
        .zip(saba.iter().skip(reach))
        .filter(|(first, last)| last.day - first.day < window)
        .map(|(first, _)| (first.day, first.day + window - 1))
        .collect()
}

/// Some controller fill's supply overlaps the window.
fn covers(controller: &[MeasureFill], (first, last): (i32, i32)) -> bool {
    controller.iter().any(|fill| {
        let supply_end = fill.day + i32::from(fill.days_supply.max(1)) - 1;
        fill.day <= last && supply_end >= first
    })
}

#[cfg(test)]
mod tests;
