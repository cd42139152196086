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

/// Canisters one SABA fill can count (a quantity beyond it is a data error, not asthma).
const CANISTERS_PER_FILL_MAX: u32 = 1_000;

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
    PdcBiguanides,
    PdcSulfonylureas,
    PdcThiazolidinediones,
    PdcDpp4Inhibitors,
    PdcAntiretrovirals,
    DiabetesHypertension,
}

/// How many measures are computed per patient.
const PATIENT_MEASURES: usize = Measure::ALL.len() - 1;

impl Measure {
    /// Star-rated measures first, then the rates the program lists without cut points.
    pub const ALL: [Measure; 13] = [
        Measure::PdcDiabetes,
        Measure::PdcRas,
        Measure::PdcStatins,
        Measure::StatinUseInDiabetes,
        Measure::AsthmaSuboptimalControl,
        Measure::AsthmaNoController,
        Measure::GenericDispensing,
        Measure::PdcBiguanides,
        Measure::PdcSulfonylureas,
        Measure::PdcThiazolidinediones,
        Measure::PdcDpp4Inhibitors,
        Measure::PdcAntiretrovirals,
        Measure::DiabetesHypertension,
    ];

    /// The measures computed per patient (all but the generic dispensing rate), in order.
    fn patient() -> impl Iterator<Item = Measure> {
        Measure::ALL
            .into_iter()
            .filter(|measure| *measure != Measure::GenericDispensing)
    }

    /// The slot of a per-patient measure in a ratio array.
    fn slot(self) -> Option<usize> {
        Measure::patient().position(|measure| measure == self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::PdcDiabetes => "pdc_diabetes",
            Measure::PdcRas => "pdc_ras",
            Measure::PdcStatins => "pdc_statins",
            Measure::StatinUseInDiabetes => "statin_use_in_diabetes",
            Measure::AsthmaSuboptimalControl => "asthma_suboptimal_control",
            Measure::AsthmaNoController => "asthma_no_controller",
            Measure::GenericDispensing => "generic_dispensing",
            Measure::PdcBiguanides => "pdc_biguanides",
            Measure::PdcSulfonylureas => "pdc_sulfonylureas",
            Measure::PdcThiazolidinediones => "pdc_thiazolidinediones",
            Measure::PdcDpp4Inhibitors => "pdc_dpp4_inhibitors",
            Measure::PdcAntiretrovirals => "pdc_antiretrovirals",
            Measure::DiabetesHypertension => "diabetes_hypertension",
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
            Measure::PdcBiguanides => "PDC biguanides",
            Measure::PdcSulfonylureas => "PDC sulfonylureas",
            Measure::PdcThiazolidinediones => "PDC thiazolidinediones",
            Measure::PdcDpp4Inhibitors => "PDC DPP-4 inhibitors",
            Measure::PdcAntiretrovirals => "PDC antiretrovirals",
            Measure::DiabetesHypertension => "Diabetes: treatment of hypertension",
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
    /// SABA canisters of the fill (see `canister_dose_forms`); 0 for other forms and classes.
    canisters: u32,
    /// An antiretroviral unit: one fill of one antiretroviral ingredient (`classes` is then 0,
    /// `drug` the ingredient), so combination products count each ingredient.
    arv_unit: bool,
}

/// PDC measures by their slot in [`Masks::pdc`]: the three rated ones, then the four
/// per-class diabetes rates.
const PDC_SLOTS: usize = 7;

/// Class masks of each measure.
#[derive(Clone, Copy, Debug, Default)]
struct Masks {
    /// (classes, excluded classes) per PDC slot.
    pdc: [(u64, u64); PDC_SLOTS],
    supd_diabetes: u64,
    supd_statin: u64,
    saba: u64,
    controller: u64,
    arv: u64,
    /// Diabetes: treatment of hypertension: (diabetes, antihypertensive, RAS).
    treated: (u64, u64, u64),
}

impl Masks {
    fn new(catalog: &Catalog, settings: &QualitySettings) -> Masks {
        let pair =
            |classes: &[String], exclude: &[String]| (catalog.mask(classes), catalog.mask(exclude));
        let pdc = |measure: &PdcSettings| pair(&measure.classes, &measure.exclude_classes);
        let [biguanides, sulfonylureas, tzds, dpp4] = settings
            .pdc_rates()
            .map(|(_, measure)| pair(&measure.classes, &measure.exclude_classes));
        let supd = &settings.statin_use_in_diabetes;
        let treated = &settings.diabetes_hypertension;
        Masks {
            pdc: [
                pdc(&settings.pdc_diabetes),
                pdc(&settings.pdc_ras),
                pdc(&settings.pdc_statins),
                biguanides,
                sulfonylureas,
                tzds,
                dpp4,
            ],
            supd_diabetes: catalog.mask(&supd.diabetes_classes),
            supd_statin: catalog.mask(&supd.statin_classes),
            saba: catalog.mask(&settings.asthma.saba_classes),
            controller: catalog.mask(&settings.asthma.controller_classes),
            arv: catalog.mask(&settings.pdc_antiretrovirals.classes),
            treated: (
                catalog.mask(&treated.diabetes_classes),
                catalog.mask(&treated.antihypertensive_classes),
                catalog.mask(&treated.ras_classes),
            ),
        }
    }

    fn any(&self) -> u64 {
        let pdc = self
            .pdc
            .iter()
            .fold(0, |mask, (classes, ex)| mask | classes | ex);
        let (diabetes, antihypertensive, ras) = self.treated;
        pdc | self.supd_diabetes
            | self.supd_statin
            | self.saba
            | self.controller
            | diabetes
            | antihypertensive
            | ras
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
        let catalog = Catalog::new(rules, settings.classes())?;
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
        if facts.classes & self.masks.arv != 0 {
            self.keep_arv_units(row, facts, pharmacy)?;
        }
        Ok(())
    }

    /// One antiretroviral unit per antiretroviral ingredient of the product.
    fn keep_arv_units(
        &mut self,
        row: &ClaimRow,
        facts: ProductFacts,
        pharmacy: u32,
    ) -> Result<(), ReportError> {
        for ingredient in self.catalog.ingredients_in(&facts, self.masks.arv) {
            let unit = ProductFacts {
                classes: 0,
                drug: ingredient,
                ..facts
            };
            self.keep(row, unit, pharmacy, true)?;
        }
        Ok(())
    }

    /// Canisters of a SABA fill: ceil(quantity / package quantity) for a canister dose form
    /// (1 without a package quantity), none for other forms.
    fn canisters(&self, row: &ClaimRow, facts: &ProductFacts) -> u32 {
        let forms = &self.settings.asthma.canister_dose_forms;
        let form = self.catalog.dose_form(facts);
        if facts.classes & self.masks.saba == 0
            || !forms
                .iter()
                .any(|canister| canister.eq_ignore_ascii_case(form))
        {
            return 0;
        }
        let Some(package_micro) = facts.package_quantity_micro.filter(|micro| *micro > 0) else {
            return 1;
        };
        let quantity_micro = u128::from(row.quantity_milli) * 1_000;
        let canisters = quantity_micro.div_ceil(u128::from(package_micro));
        u32::try_from(canisters.min(u128::from(CANISTERS_PER_FILL_MAX))).unwrap_or(0)
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
        self.keep(row, facts, pharmacy, false)
    }

    fn keep(
        &mut self,
        row: &ClaimRow,
        facts: ProductFacts,
        pharmacy: u32,
        arv_unit: bool,
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
            canisters: if arv_unit {
                0
            } else {
                self.canisters(row, &facts)
            },
            arv_unit,
        });
        Ok(())
    }

    /// Evaluates every measure and builds the report.
    pub fn finish(mut self) -> Result<QualityReport, ReportError> {
        self.fills
            .sort_unstable_by_key(|fill| (fill.patient, fill.day, fill.claim_id));
        let pharmacies = self.pharmacy_names.len();
        let mut overall = [Ratio::default(); PATIENT_MEASURES];
        let mut per_pharmacy = vec![[Ratio::default(); PATIENT_MEASURES]; pharmacies];
        let mut capped_patients = 0u64;
        for group in self.fills.chunk_by(|a, b| a.patient == b.patient) {
            let kept = group.get(..REPORT_FILLS_PER_PATIENT_MAX).unwrap_or(group);
            capped_patients += u64::from(kept.len() < group.len());
            for (slot, measure) in Measure::patient().enumerate() {
                let Some(outcome) = self.evaluate(measure, kept) else {
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
        let pdc = |slot: usize, min_age_years: u8| {
            let (classes, exclude) = self.masks.pdc.get(slot).copied().unwrap_or_default();
            let rule = PdcRule {
                classes,
                exclude,
                min_age_years,
                threshold_percent: threshold,
                end_day: end,
            };
            pdc_outcome(fills, &rule, &self.pharmacy_names)
        };
        let settings = self.settings;
        let rates = settings.pdc_rates();
        let rate_age = |slot: usize| {
            let rate = slot.checked_sub(3).and_then(|index| rates.get(index));
            rate.map_or(u8::MAX, |(_, measure)| measure.min_age_years)
        };
        match measure {
            Measure::PdcDiabetes => pdc(0, settings.pdc_diabetes.min_age_years),
            Measure::PdcRas => pdc(1, settings.pdc_ras.min_age_years),
            Measure::PdcStatins => pdc(2, settings.pdc_statins.min_age_years),
            Measure::PdcBiguanides => pdc(3, rate_age(3)),
            Measure::PdcSulfonylureas => pdc(4, rate_age(4)),
            Measure::PdcThiazolidinediones => pdc(5, rate_age(5)),
            Measure::PdcDpp4Inhibitors => pdc(6, rate_age(6)),
            Measure::PdcAntiretrovirals => self.pdc_arv(fills),
            Measure::DiabetesHypertension => self.treated_hypertension(fills),
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

    /// PDC antiretrovirals: adults with at least `ingredients_min` distinct antiretroviral
    /// ingredients each filled on two dates; covered days have that many on hand.
    fn pdc_arv(&self, fills: &[MeasureFill]) -> Option<Outcome> {
        let settings = &self.settings.pdc_antiretrovirals;
        let units: Vec<MeasureFill> = fills.iter().filter(|f| f.arv_unit).copied().collect();
        let index = units.first()?;
        let min = usize::try_from(settings.ingredients_min).unwrap_or(usize::MAX);
        let adult = index.age.is_some_and(|age| age >= settings.min_age_years);
        if !adult || ingredients_on_two_dates(&units) < min {
            return None;
        }
        let end = self.period.to().days();
        let treatment_days = u64::try_from(end - index.day + 1).ok()?;
        let covered = days_with_ingredients(&units, index.day, end, min);
        Some(Outcome {
            pharmacy: attributed(&units, &self.pharmacy_names),
            hit: covered * 100 >= u64::from(settings.threshold_percent) * treatment_days,
        })
    }

    /// Diabetes: treatment of hypertension: adults with a diabetes fill and an antihypertensive
    /// fill in the period; a hit when some fill is of a RAS class.
    fn treated_hypertension(&self, fills: &[MeasureFill]) -> Option<Outcome> {
        let (diabetes, antihypertensive, ras) = self.masks.treated;
        let relevant = of_classes(fills, diabetes | antihypertensive);
        let first = relevant.first()?;
        let adult = first
            .age
            .is_some_and(|age| age >= self.settings.diabetes_hypertension.min_age_years);
        let has = |mask: u64| relevant.iter().any(|fill| fill.classes & mask != 0);
        if !adult || !has(diabetes) || !has(antihypertensive) {
            return None;
        }
        Some(Outcome {
            pharmacy: attributed(&relevant, &self.pharmacy_names),
            hit: has(ras),
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
        overall: [Ratio; PATIENT_MEASURES],
        per_pharmacy: Vec<[Ratio; PATIENT_MEASURES]>,
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
        ratios: &[Ratio; PATIENT_MEASURES],
        generic: Ratio,
    ) -> Result<Vec<MeasureResult>, ReportError> {
        let ratio_of = |measure: Measure| {
            let slot = measure.slot();
            slot.and_then(|slot| ratios.get(slot).copied())
                .unwrap_or(generic)
        };
        Measure::ALL
            .iter()
            .map(|measure| {
                let cuts = match self.stars(*measure) {
                    Some(stars) => Some(cut_points(measure.as_str(), stars, measure.direction())?),
                    None => None,
                };
                let min = self.settings.stars_min_denominator;
                Ok(measure_result(
                    *measure,
                    ratio_of(*measure),
                    cuts.as_ref(),
                    min,
                ))
            })
            .collect()
    }

    /// The cut points of a star-rated measure; `None` for the rates the program gives none.
    fn stars(&self, measure: Measure) -> Option<&[f64; 4]> {
        let settings = self.settings;
        match measure {
            Measure::PdcDiabetes => Some(&settings.pdc_diabetes.stars),
            Measure::PdcRas => Some(&settings.pdc_ras.stars),
            Measure::PdcStatins => Some(&settings.pdc_statins.stars),
            Measure::StatinUseInDiabetes => Some(&settings.statin_use_in_diabetes.stars),
            Measure::AsthmaSuboptimalControl => Some(&settings.asthma.suboptimal_stars),
            Measure::AsthmaNoController => Some(&settings.asthma.no_controller_stars),
            Measure::GenericDispensing => Some(&settings.generic_dispensing.stars),
            Measure::PdcBiguanides
            | Measure::PdcSulfonylureas
            | Measure::PdcThiazolidinediones
            | Measure::PdcDpp4Inhibitors
            | Measure::PdcAntiretrovirals
            | Measure::DiabetesHypertension => None,
        }
    }

    fn notes(&self, capped_patients: u64) -> Vec<String> {
        let mut notes = vec![
            "Measures count paid, unreversed claims dated in the period; supply from fills \
             before the period start is not counted."
                .to_owned(),
            "A SABA fill counts ceil(quantity / package quantity) canisters when its dose form is \
             a canister form (1 when the product has no package quantity); nebulizer solution \
             and other forms count none."
                .to_owned(),
            "PDC per diabetes class, PDC antiretrovirals and diabetes: treatment of hypertension \
             are rates without stars (the program gives no cut points)."
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
    cut_tenths: Option<&[u32; 4]>,
    stars_min_denominator: u64,
) -> MeasureResult {
    let tenths = rate_tenths(ratio.numerator, ratio.denominator);
    let enough = ratio.denominator >= stars_min_denominator;
    let no_stars_reason = match (tenths, enough, cut_tenths) {
        (None, _, _) => Some("no patients".to_string()),
        (Some(_), _, None) => Some("rate only (the program gives no cut points)".to_string()),
        (Some(_), false, Some(_)) => Some(format!(
            "too few patients ({} < {stars_min_denominator})",
            ratio.denominator
        )),
        (Some(_), true, Some(_)) => None,
    };
    MeasureResult {
        measure: measure.as_str(),
        title: measure.title(),
        denominator: ratio.denominator,
        numerator: ratio.numerator,
        rate_percent: tenths.map(|tenths| f64::from(tenths) / 10.0),
        stars: tenths
            .filter(|_| enough)
            .zip(cut_tenths)
            .map(|(tenths, cuts)| stars(tenths, cuts, measure.direction())),
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
    ones(&covered_bitmap(fills, start, end))
}

fn ones(bitmap: &[u64]) -> u64 {
    bitmap.iter().map(|word| u64::from(word.count_ones())).sum()
}

/// Distinct drugs (antiretroviral units: ingredients) filled on at least two dates.
fn ingredients_on_two_dates(units: &[MeasureFill]) -> usize {
    let mut drugs: Vec<u32> = units.iter().map(|unit| unit.drug).collect();
    drugs.sort_unstable();
    drugs.dedup();
    drugs
        .into_iter()
        .filter(|drug| {
            let own: Vec<MeasureFill> = units.iter().filter(|u| u.drug == *drug).copied().collect();
            on_two_dates(&own)
        })
        .count()
}

/// Days from `start` to `end` on which at least `min` distinct drugs are on hand (each drug's
/// supply shifted as in [`covered_days`]).
fn days_with_ingredients(units: &[MeasureFill], start: i32, end: i32, min: usize) -> u64 {
    let mut drugs: Vec<u32> = units.iter().map(|unit| unit.drug).collect();
    drugs.sort_unstable();
    drugs.dedup();
    let length = usize::try_from(end - start + 1).unwrap_or(0).div_ceil(64);
    // reached[k] = days with at least k + 1 drugs on hand, built one drug at a time.
    let mut reached = vec![vec![0u64; length]; min];
    for drug in drugs {
        let own: Vec<MeasureFill> = units.iter().filter(|u| u.drug == drug).copied().collect();
        let bitmap = covered_bitmap(&own, start, end);
        for level in (0..min).rev() {
            let below = if level == 0 {
                None
            } else {
                reached.get(level - 1).cloned()
            };
            if let Some(words) = reached.get_mut(level) {
                for (index, word) in words.iter_mut().enumerate() {
                    let on_hand = bitmap.get(index).copied().unwrap_or(0);
                    let lower = below
                        .as_ref()
                        .map_or(u64::MAX, |b| b.get(index).copied().unwrap_or(0));
                    *word |= on_hand & lower;
                }
            }
        }
    }
    reached.last().map_or(0, |words| ones(words))
}

/// The covered days of [`covered_days`] as a bitmap (bit `d` = day `start + d`).
fn covered_bitmap(fills: &[MeasureFill], start: i32, end: i32) -> Vec<u64> {
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

/// `(first day, last day)` of every window of `window_days` days, starting at a SABA fill
/// that counts canisters, holding more than `canisters_max` canisters.
fn saba_windows(saba: &[MeasureFill], canisters_max: u32, window_days: u32) -> Vec<(i32, i32)> {
    let window = i32::try_from(window_days).unwrap_or(i32::MAX);
    let counted: Vec<&MeasureFill> = saba.iter().filter(|fill| fill.canisters > 0).collect();
    let starts = counted.iter().enumerate();
    starts
        .filter(|(at, first)| {
            let last_day = first.day.saturating_add(window - 1);
            let inside = counted
                .iter()
                .skip(*at)
                .take_while(|fill| fill.day <= last_day);
            inside.map(|fill| u64::from(fill.canisters)).sum::<u64>() > u64::from(canisters_max)
        })
        .map(|(_, first)| (first.day, first.day.saturating_add(window - 1)))
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
