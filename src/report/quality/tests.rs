//! Hand-computed cases of the quality measures on the sample rule tables. Period 2018-01-01 to
//! 2018-06-30: day 0 to day 180 (181 days).

use super::*;
use crate::report::testing::{half_year, paid, sample_rules, with_product};
use crate::report::Settings;

const ATORVASTATIN_10: u64 = 67_877_051_190;
const ATORVASTATIN_40: u64 = 67_877_051_390;
const ROSUVASTATIN: u64 = 99_999_000_501;
const ROSUVASTATIN_BRAND: u64 = 99_999_000_601;
const METFORMIN: u64 = 65_841_080_901;
const GLYBURIDE: u64 = 99_999_011_101;
const GLYBURIDE_METFORMIN: u64 = 99_999_011_201;
const GLIPIZIDE_5: u64 = 99_999_013_601;
const GLIPIZIDE_10: u64 = 99_999_013_701;
const GLIMEPIRIDE: u64 = 99_999_013_801;
const SITAGLIPTIN: u64 = 99_999_013_901;
const LINAGLIPTIN: u64 = 99_999_014_001;
const PIOGLITAZONE: u64 = 99_999_014_101;
const INSULIN_GLARGINE: u64 = 99_999_014_601;
const LISINOPRIL: u64 = 50_090_298_800;
const ALBUTEROL: u64 = 99_999_015_301;
const FLUTICASONE: u64 = 99_999_015_501;
const UNKNOWN_NDC: u64 = 12_345_678_901;
const ALBUTEROL_NEBULIZER: u64 = 99_999_015_401;
const AMLODIPINE: u64 = 904_637_061;
const EMTRICITABINE_TENOFOVIR: u64 = 99_999_017_101;
const DOLUTEGRAVIR: u64 = 99_999_017_201;
const EFAVIRENZ: u64 = 99_999_017_301;
/// The sample's albuterol inhaler holds 8.5 g (products.csv `package_quantity`).
const INHALER_GRAMS_MILLI: u64 = 8_500;

/// A paid fill: claim ids follow the order rows are made in.
struct Rows {
    rows: Vec<ClaimRow>,
}

impl Rows {
    fn new() -> Rows {
        Rows { rows: Vec::new() }
    }

    fn fill(&mut self, pharmacy: &str, patient: u32, age: u8, ndc: u64, day: i32, days: u16) {
        let id = self.rows.len() as u64 + 1;
        let mut row = with_product(paid(id, pharmacy, patient, day), ndc, days);
        row.patient_age_years = Some(age);
        self.rows.push(row);
    }

    /// A fill of `quantity_milli` (inhalers: grams).
    fn fill_quantity(&mut self, patient: u32, ndc: u64, day: i32, quantity_milli: u64) {
        self.fill("A", patient, 30, ndc, day, 25);
        if let Some(row) = self.rows.last_mut() {
            row.quantity_milli = quantity_milli;
        }
    }

    fn report(self) -> QualityReport {
        self.report_with_min(1)
    }

    /// The report with stars from `stars_min_denominator` patients on (the cases here are
    /// hand-sized: one or two patients).
    fn report_with_min(self, stars_min_denominator: u64) -> QualityReport {
        let mut settings = Settings::default().quality;
        settings.stars_min_denominator = stars_min_denominator;
        quality_report(self.rows, &settings, sample_rules(), half_year()).unwrap()
    }
}

fn result(results: &[MeasureResult], measure: Measure) -> &MeasureResult {
    results
        .iter()
        .find(|r| r.measure == measure.as_str())
        .unwrap()
}

fn pharmacy<'r>(report: &'r QualityReport, id: &str) -> &'r [MeasureResult] {
    let found = report.pharmacies.iter().find(|p| p.pharmacy_id == id);
    &found.unwrap().measures
}

fn fill(day: i32, days_supply: u16, drug: u32) -> MeasureFill {
    MeasureFill {
        patient: 1,
        day,
        claim_id: day as u64,
        days_supply,
        age: Some(50),
        drug,
        classes: 1,
        pharmacy: 0,
        canisters: 0,
        arv_unit: false,
    }
}

#[test]
fn overlapping_fills_of_one_drug_are_shifted() {
    // Days 36-95, then day 66 for 60 days shifted to 96-155: 120 covered days.
    assert_eq!(
        covered_days(&[fill(36, 60, 7), fill(66, 60, 7)], 36, 180),
        120
    );
    // A third fill inside the shifted supply moves again: 156-185, truncated at 180.
    let three = [fill(36, 60, 7), fill(66, 60, 7), fill(100, 30, 7)];
    assert_eq!(covered_days(&three, 36, 180), 145);
}

#[test]
fn two_drugs_of_one_class_overlap_without_shifting() {
    // Atorvastatin 36-95 and rosuvastatin 66-125 cover 36-125: 90 days, counted once.
    assert_eq!(
        covered_days(&[fill(36, 60, 1), fill(66, 60, 2)], 36, 180),
        90
    );
}

#[test]
fn supply_past_the_period_end_is_truncated() {
    // 120-149 and 150-239 over a treatment period 120-180: all 61 days, not 120.
    assert_eq!(
        covered_days(&[fill(120, 30, 1), fill(150, 90, 1)], 120, 180),
        61
    );
    // 120-149 and 170-199: 30 + 11 = 41 days.
    assert_eq!(
        covered_days(&[fill(120, 30, 1), fill(170, 30, 1)], 120, 180),
        41
    );
}

#[test]
fn pdc_statins_end_to_end() {
    let mut rows = Rows::new();
    // Patient 1: same drug shifted: 120 / 145 = 82.8 % → adherent.
    rows.fill("A", 1, 60, ATORVASTATIN_10, 36, 60);
    rows.fill("A", 1, 60, ATORVASTATIN_40, 66, 60);
    // Patient 2: two statins overlapping: 90 / 145 = 62.1 % → not adherent.
    rows.fill("A", 2, 60, ATORVASTATIN_10, 36, 60);
    rows.fill("B", 2, 60, ROSUVASTATIN, 66, 60);
    // Patient 3: supply past the period end, truncated: 61 / 61 → adherent.
    rows.fill("B", 3, 60, ROSUVASTATIN, 120, 30);
    rows.fill("B", 3, 60, ROSUVASTATIN, 150, 90);
    // Patient 4: 41 / 61 = 67.2 % → not adherent.
    rows.fill("B", 4, 60, ROSUVASTATIN, 120, 30);
    rows.fill("B", 4, 60, ROSUVASTATIN, 170, 30);
    // Left out: one fill only; two fills on one date; 17 years old on the index fill.
    rows.fill("A", 5, 60, ATORVASTATIN_10, 10, 90);
    rows.fill("A", 6, 60, ATORVASTATIN_10, 10, 30);
    rows.fill("A", 6, 60, ROSUVASTATIN, 10, 30);
    rows.fill("A", 7, 17, ATORVASTATIN_10, 0, 90);
    rows.fill("A", 7, 18, ATORVASTATIN_10, 90, 90);
    let report = rows.report();
    let overall = result(&report.overall, Measure::PdcStatins);
    assert_eq!((overall.numerator, overall.denominator), (2, 4));
    assert_eq!((overall.rate_percent, overall.stars), (Some(50.0), Some(1)));
    // Patient 2 had one fill at A and one at B: the tie goes to the latest fill (B).
    let a = result(pharmacy(&report, "A"), Measure::PdcStatins);
    let b = result(pharmacy(&report, "B"), Measure::PdcStatins);
    assert_eq!((a.numerator, a.denominator), (1, 1));
    assert_eq!((b.numerator, b.denominator), (1, 3));
    let none = result(&report.overall, Measure::PdcRas);
    assert_eq!(
        (none.denominator, none.rate_percent, none.stars),
        (0, None, None)
    );
}

#[test]
fn insulin_users_leave_pdc_diabetes_but_count_for_statin_use() {
    let mut rows = Rows::new();
    // Patient 1: metformin 0-89, 90-179 → 180 / 181 adherent; gets a statin.
    rows.fill("A", 1, 50, METFORMIN, 0, 90);
    rows.fill("A", 1, 50, METFORMIN, 90, 90);
    rows.fill("A", 1, 50, ROSUVASTATIN, 5, 30);
    // Patient 2: metformin twice plus insulin: out of PDC diabetes, in SUPD, no statin.
    rows.fill("A", 2, 50, METFORMIN, 0, 30);
    rows.fill("A", 2, 50, INSULIN_GLARGINE, 10, 30);
    // Patient 3: 35 years old: out of SUPD (40-75), in PDC diabetes (not adherent: 60/181).
    rows.fill("A", 3, 35, METFORMIN, 0, 30);
    rows.fill("A", 3, 35, METFORMIN, 30, 30);
    // Patient 4: a RAS antagonist, 0-179 of 181 days → adherent.
    rows.fill("A", 4, 70, LISINOPRIL, 0, 90);
    rows.fill("A", 4, 70, LISINOPRIL, 60, 90);
    let report = rows.report();
    let pdc = result(&report.overall, Measure::PdcDiabetes);
    assert_eq!((pdc.numerator, pdc.denominator), (1, 2));
    let supd = result(&report.overall, Measure::StatinUseInDiabetes);
    assert_eq!((supd.numerator, supd.denominator), (1, 2));
    let ras = result(&report.overall, Measure::PdcRas);
    assert_eq!((ras.numerator, ras.denominator, ras.stars), (1, 1, Some(5)));
}

#[test]
fn asthma_windows_hold_more_than_three_canisters_in_ninety_days() {
    let mut rows = Rows::new();
    let saba = |rows: &mut Rows, patient, days: [i32; 4]| {
        for day in days {
            let age = if patient == 6 { 70 } else { 30 };
            rows.fill("A", patient, age, ALBUTEROL, day, 25);
            if let Some(row) = rows.rows.last_mut() {
                row.quantity_milli = INHALER_GRAMS_MILLI; // one canister each
            }
        }
    };
    saba(&mut rows, 1, [0, 20, 40, 60]); // suboptimal, no controller
    saba(&mut rows, 2, [0, 20, 40, 60]); // suboptimal, controller in the window
    rows.fill("A", 2, 30, FLUTICASONE, 10, 30);
    saba(&mut rows, 3, [0, 50, 100, 150]); // four canisters over 150 days: controlled
    saba(&mut rows, 4, [0, 30, 60, 89]); // the fourth on the window's last day: suboptimal
    saba(&mut rows, 5, [0, 30, 60, 90]); // the fourth one day past the window: controlled
    saba(&mut rows, 6, [0, 20, 40, 60]); // 70 years old: outside 5-64
    let report = rows.report();
    let suboptimal = result(&report.overall, Measure::AsthmaSuboptimalControl);
    assert_eq!((suboptimal.numerator, suboptimal.denominator), (3, 5));
    let absent = result(&report.overall, Measure::AsthmaNoController);
    assert_eq!((absent.numerator, absent.denominator), (2, 3));
    assert_eq!((absent.rate_percent, absent.stars), (Some(66.7), Some(1)));
    assert!(absent.lower_is_better);
}

#[test]
fn generic_rate_counts_only_products_with_a_known_flag() {
    let mut rows = Rows::new();
    for patient in 1..=3 {
        rows.fill("A", patient, 40, ROSUVASTATIN, 3, 30);
    }
    rows.fill("A", 4, 40, ROSUVASTATIN_BRAND, 3, 30);
    rows.fill("A", 6, 40, UNKNOWN_NDC, 3, 30);
    let report = rows.report();
    let rate = result(pharmacy(&report, "A"), Measure::GenericDispensing);
    assert_eq!((rate.numerator, rate.denominator), (3, 4));
    assert_eq!((rate.rate_percent, rate.stars), (Some(75.0), Some(1)));
    assert!(report
        .notes
        .iter()
        .any(|note| note.starts_with("1 paid claims of products not")));
}

#[test]
fn products_without_a_generic_flag_are_left_out_of_the_rate() {
    let products = "ndc,ingredients,strengths,strength_unit,route,generic\n\
                    99999000501,rosuvastatin,10,mg,oral,Y\n\
                    99999000601,rosuvastatin,20,mg,oral,\n";
    let rules = crate::report::testing::sample_rules_with("products.csv", products);
    let mut rows = Rows::new();
    rows.fill("A", 1, 40, ROSUVASTATIN, 3, 30);
    rows.fill("A", 2, 40, ROSUVASTATIN_BRAND, 3, 30);
    let mut settings = Settings::default().quality;
    settings.stars_min_denominator = 1;
    let report = quality_report(rows.rows, &settings, &rules, half_year()).unwrap();
    let rate = result(&report.overall, Measure::GenericDispensing);
    assert_eq!((rate.numerator, rate.denominator), (1, 1));
    assert!(report
        .notes
        .iter()
        .any(|note| note.contains("1 paid claims of products with no generic flag")));
}

#[test]
fn rejected_and_reversed_claims_are_not_fills() {
    let mut rows = Rows::new();
    rows.fill("A", 1, 60, ROSUVASTATIN, 0, 90);
    rows.fill("A", 1, 60, ROSUVASTATIN, 90, 90);
    rows.fill("A", 1, 60, ROSUVASTATIN, 100, 90);
    rows.rows[1].status = crate::report::RowStatus::Reversed;
    rows.rows[2].status = crate::report::RowStatus::Rejected;
    let report = rows.report();
    assert_eq!(result(&report.overall, Measure::PdcStatins).denominator, 0);
    assert_eq!(
        result(&report.overall, Measure::GenericDispensing).denominator,
        1
    );
}

#[test]
fn rates_round_half_up_to_tenths() {
    assert_eq!(rate_tenths(2, 3), Some(667));
    assert_eq!(rate_tenths(1, 16), Some(63));
    assert_eq!(rate_tenths(1, 8), Some(125));
    assert_eq!(rate_tenths(0, 0), None);
}

#[test]
fn stars_at_the_cut_points() {
    let higher = Direction::HigherIsBetter;
    let pdc_diabetes = [804, 854, 903, 943];
    let cases = [(803, 1), (804, 2), (853, 2), (854, 3), (942, 4), (943, 5)];
    for (rate, expected) in cases {
        assert_eq!(stars(rate, &pdc_diabetes, higher), expected, "{rate}");
    }
    let generic = [830, 840, 851, 881];
    assert_eq!(stars(850, &generic, higher), 3, "85.0 is not above 85");
    assert_eq!(stars(851, &generic, higher), 4);
    let lower = Direction::LowerIsBetter;
    let suboptimal = [157, 138, 95, 79];
    let cases = [(158, 1), (157, 2), (96, 3), (95, 4), (80, 4), (79, 5)];
    for (rate, expected) in cases {
        assert_eq!(stars(rate, &suboptimal, lower), expected, "{rate}");
    }
}

#[test]
fn below_the_minimum_denominator_a_rate_has_no_stars_and_says_why() {
    let rows = || {
        let mut rows = Rows::new();
        rows.fill("A", 1, 40, ROSUVASTATIN, 0, 30);
        rows.fill("A", 1, 40, ROSUVASTATIN, 30, 30);
        rows
    };
    let few = rows().report_with_min(2);
    let pdc = result(&few.overall, Measure::PdcStatins);
    assert_eq!((pdc.denominator, pdc.stars), (1, None));
    assert!(pdc.rate_percent.is_some());
    assert_eq!(
        pdc.no_stars_reason.as_deref(),
        Some("too few patients (1 < 2)")
    );
    let enough = rows().report_with_min(1);
    let pdc = result(&enough.overall, Measure::PdcStatins);
    assert!(pdc.stars.is_some() && pdc.no_stars_reason.is_none());
    let none = result(&enough.overall, Measure::AsthmaNoController);
    assert_eq!(none.no_stars_reason.as_deref(), Some("no patients"));
}

#[test]
fn saba_canisters_come_from_the_package_quantity_and_nebulizer_solution_counts_none() {
    let mut rows = Rows::new();
    // Two fills of 17 g (two canisters each) 30 days apart: 4 canisters in 90 days.
    rows.fill_quantity(1, ALBUTEROL, 0, 2 * INHALER_GRAMS_MILLI);
    rows.fill_quantity(1, ALBUTEROL, 30, 2 * INHALER_GRAMS_MILLI);
    // 9 g is more than one canister: ceil(9 / 8.5) = 2; 2 + 1 = 3 canisters: controlled.
    rows.fill_quantity(2, ALBUTEROL, 0, 9_000);
    rows.fill_quantity(2, ALBUTEROL, 30, INHALER_GRAMS_MILLI);
    // Five nebulizer fills in 90 days count no canister at all.
    for day in [0, 15, 30, 45, 60] {
        rows.fill_quantity(3, ALBUTEROL_NEBULIZER, day, 75_000);
    }
    let report = rows.report();
    let suboptimal = result(&report.overall, Measure::AsthmaSuboptimalControl);
    assert_eq!((suboptimal.numerator, suboptimal.denominator), (1, 3));
}

/// Patients of every diabetes class (period day 0..180: 181 days; adherent when covered × 100
/// ≥ 80 × treatment days). Each line says what the hand count gives per class.
fn diabetes_class_rows() -> Rows {
    let mut rows = Rows::new();
    // 1: metformin every 30 days from day 0: 0-179, 180 / 181 → biguanides adherent.
    //    Glipizide on days 100 and 130 for 30: sulfonylureas index 100, 81 treatment days,
    //    covered 100-159 = 60: 6000 < 6480 → not adherent.
    for day in (0..180).step_by(30) {
        rows.fill("A", 1, 50, METFORMIN, day, 30);
    }
    rows.fill("A", 1, 50, GLIPIZIDE_5, 100, 30);
    rows.fill("A", 1, 50, GLIPIZIDE_5, 130, 30);
    // 2: metformin twice, 0-59: 60 / 181 → biguanides not adherent.
    rows.fill("A", 2, 50, METFORMIN, 0, 30);
    rows.fill("A", 2, 50, METFORMIN, 30, 30);
    // 3: glipizide 5 mg 0-59, then 10 mg on day 30 for 90: the same drug, shifted to 60-149:
    //    150 / 181: 15000 ≥ 14480 → sulfonylureas adherent (unshifted it would be 120).
    rows.fill("A", 3, 50, GLIPIZIDE_5, 0, 60);
    rows.fill("A", 3, 50, GLIPIZIDE_10, 30, 90);
    // 4: glimepiride 0-59 and glipizide from day 30 for 90: two drugs, not shifted: 0-119 =
    //    120 / 181: 12000 < 14480 → sulfonylureas not adherent.
    rows.fill("A", 4, 50, GLIMEPIRIDE, 0, 60);
    rows.fill("A", 4, 50, GLIPIZIDE_5, 30, 90);
    // 5: pioglitazone from day 81 for 40 (81-120) and day 141 for 40 (141-180): 80 of the 100
    //    days 81-180: 8000 ≥ 8000 → thiazolidinediones adherent, exactly at 80 %.
    rows.fill("A", 5, 50, PIOGLITAZONE, 81, 40);
    rows.fill("A", 5, 50, PIOGLITAZONE, 141, 40);
    // 6: the same with 39 days from day 142 (142-180): 79 / 100 → not adherent.
    rows.fill("A", 6, 50, PIOGLITAZONE, 81, 40);
    rows.fill("A", 6, 50, PIOGLITAZONE, 142, 39);
    // 7: glyburide/metformin 0-89 and 90-179: 180 / 181 → adherent in biguanides and in
    //    sulfonylureas (the combination is in both classes).
    rows.fill("A", 7, 50, GLYBURIDE_METFORMIN, 0, 90);
    rows.fill("A", 7, 50, GLYBURIDE_METFORMIN, 90, 90);
    // 8: glyburide 0-179 with insulin: left out of sulfonylureas and PDC diabetes.
    rows.fill("A", 8, 50, GLYBURIDE, 0, 90);
    rows.fill("A", 8, 50, GLYBURIDE, 90, 90);
    rows.fill("A", 8, 50, INSULIN_GLARGINE, 10, 30);
    // 9: sitagliptin from day 20 for 90, again on day 100 (shifted to 110, truncated at 180):
    //    20-180 = 161 / 161 → DPP-4 inhibitors adherent.
    rows.fill("A", 9, 50, SITAGLIPTIN, 20, 90);
    rows.fill("A", 9, 50, SITAGLIPTIN, 100, 90);
    // 10: sitagliptin 0-29 and linagliptin 100-129: 60 / 181 → not adherent.
    rows.fill("A", 10, 50, SITAGLIPTIN, 0, 30);
    rows.fill("A", 10, 50, LINAGLIPTIN, 100, 30);
    // 11: linagliptin 0-29 and 60-89: 60 / 181 → not adherent.
    rows.fill("A", 11, 50, LINAGLIPTIN, 0, 30);
    rows.fill("A", 11, 50, LINAGLIPTIN, 60, 30);
    rows
}

#[test]
fn each_diabetes_class_has_its_own_pdc_rate_without_stars() {
    let report = diabetes_class_rows().report();
    // Biguanides: 1, 7 of 1, 2, 7. Sulfonylureas: 3, 7 of 1, 3, 4, 7 (8 is an insulin user).
    // Thiazolidinediones: 5 of 5, 6. DPP-4 inhibitors: 9 of 9, 10, 11.
    let expected = [
        (Measure::PdcBiguanides, 2, 3, 66.7),
        (Measure::PdcSulfonylureas, 2, 4, 50.0),
        (Measure::PdcThiazolidinediones, 1, 2, 50.0),
        (Measure::PdcDpp4Inhibitors, 1, 3, 33.3),
    ];
    for (measure, numerator, denominator, rate) in expected {
        let class = result(&report.overall, measure);
        let counted = (class.numerator, class.denominator, class.rate_percent);
        assert_eq!(counted, (numerator, denominator, Some(rate)), "{measure:?}");
        assert_eq!(class.stars, None, "{measure:?}");
        let reason = class.no_stars_reason.as_deref().unwrap_or_default();
        assert!(reason.contains("no cut points"), "{measure:?}: {reason}");
    }
    // PDC diabetes counts each patient once over all classes: 1 (0-179), 3, 5, 7 and 9 are
    // adherent; 2, 4, 6, 10 (0-29 and 100-129: 60 / 181) and 11 are not; 8 is left out.
    let all = result(&report.overall, Measure::PdcDiabetes);
    assert_eq!((all.numerator, all.denominator), (5, 10));
    assert_eq!((all.rate_percent, all.stars), (Some(50.0), Some(1)));
}

#[test]
fn pdc_antiretrovirals_needs_two_ingredients_on_hand() {
    let mut rows = Rows::new();
    let monthly = |rows: &mut Rows, patient, ndc| {
        for day in (0..180).step_by(30) {
            rows.fill("A", patient, 40, ndc, day, 30);
        }
    };
    // Patient 1: FTC/TDF and dolutegravir every month: 180 / 181 days with 2+ on hand.
    monthly(&mut rows, 1, EMTRICITABINE_TENOFOVIR);
    monthly(&mut rows, 1, DOLUTEGRAVIR);
    // Patient 2: the combination alone is two ingredients: covered the same way.
    monthly(&mut rows, 2, EMTRICITABINE_TENOFOVIR);
    // Patient 3: dolutegravir alone is one ingredient: not in the measure.
    monthly(&mut rows, 3, DOLUTEGRAVIR);
    // Patient 4: dolutegravir monthly, FTC/TDF only at days 0 and 30: 60 / 181 days.
    monthly(&mut rows, 4, DOLUTEGRAVIR);
    rows.fill("A", 4, 40, EMTRICITABINE_TENOFOVIR, 0, 30);
    rows.fill("A", 4, 40, EMTRICITABINE_TENOFOVIR, 30, 30);
    // Patient 5: 17 on the index fill.
    rows.fill("A", 5, 17, EMTRICITABINE_TENOFOVIR, 0, 90);
    rows.fill("A", 5, 18, EMTRICITABINE_TENOFOVIR, 90, 90);
    let report = rows.report();
    let arv = result(&report.overall, Measure::PdcAntiretrovirals);
    assert_eq!((arv.numerator, arv.denominator), (2, 3));
    assert_eq!(arv.stars, None);
}

#[test]
fn pdc_antiretrovirals_is_adherent_at_exactly_ninety_percent() {
    let mut rows = Rows::new();
    // First unit on day 81: 100 treatment days (81-180); adherent when covered × 100 ≥ 90 × 100.
    // Patient 1: FTC/TDF (two ingredients) 81-125 and 136-180: 45 + 45 = 90 days → 90 %, in.
    rows.fill("A", 1, 40, EMTRICITABINE_TENOFOVIR, 81, 45);
    rows.fill("A", 1, 40, EMTRICITABINE_TENOFOVIR, 136, 45);
    // Patient 2: the second fill one day later, 137-180: 45 + 44 = 89 days → 89 %, out.
    rows.fill("A", 2, 40, EMTRICITABINE_TENOFOVIR, 81, 45);
    rows.fill("A", 2, 40, EMTRICITABINE_TENOFOVIR, 137, 44);
    // Patients 3 and 4: dolutegravir 81-130 and 131-180 with efavirenz as the FTC/TDF of
    // patients 1 and 2: both ingredients on hand 90 days (in) and 89 days (out).
    for (patient, second_day, second_days) in [(3, 136, 45), (4, 137, 44)] {
        rows.fill("A", patient, 40, DOLUTEGRAVIR, 81, 50);
        rows.fill("A", patient, 40, DOLUTEGRAVIR, 131, 50);
        rows.fill("A", patient, 40, EFAVIRENZ, 81, 45);
        rows.fill("A", patient, 40, EFAVIRENZ, second_day, second_days);
    }
    let report = rows.report();
    let arv = result(&report.overall, Measure::PdcAntiretrovirals);
    assert_eq!((arv.numerator, arv.denominator), (2, 4));
    assert_eq!((arv.rate_percent, arv.stars), (Some(50.0), None));
}

#[test]
fn the_ingredient_threshold_of_covered_days_is_exact() {
    let unit = |day, days, drug| MeasureFill {
        classes: 0,
        arv_unit: true,
        ..fill(day, days, drug)
    };
    // Ingredient 1 on days 0-59, ingredient 2 on 30-89, ingredient 3 on 50-69.
    let units = [unit(0, 60, 1), unit(30, 60, 2), unit(50, 20, 3)];
    assert_eq!(days_with_ingredients(&units, 0, 99, 1), 90);
    assert_eq!(days_with_ingredients(&units, 0, 99, 2), 30 + 10);
    assert_eq!(days_with_ingredients(&units, 0, 99, 3), 10);
    assert_eq!(ingredients_on_two_dates(&units), 0);
}

#[test]
fn diabetes_patients_on_an_antihypertensive_should_have_a_ras_drug() {
    let mut rows = Rows::new();
    rows.fill("A", 1, 60, METFORMIN, 0, 30); // with lisinopril: treated
    rows.fill("A", 1, 60, LISINOPRIL, 10, 30);
    rows.fill("A", 2, 60, METFORMIN, 0, 30); // with amlodipine only: not
    rows.fill("A", 2, 60, AMLODIPINE, 10, 30);
    rows.fill("A", 3, 60, METFORMIN, 0, 30); // no antihypertensive: not in the measure
    rows.fill("A", 4, 60, AMLODIPINE, 0, 30); // no diabetes drug: not in the measure
    rows.fill("A", 5, 60, INSULIN_GLARGINE, 0, 30); // insulin counts as a diabetes drug
    rows.fill("A", 5, 60, LISINOPRIL, 0, 30);
    rows.fill("A", 6, 17, METFORMIN, 0, 30); // 17: not an adult
    rows.fill("A", 6, 17, LISINOPRIL, 0, 30);
    let report = rows.report();
    let treated = result(&report.overall, Measure::DiabetesHypertension);
    assert_eq!((treated.numerator, treated.denominator), (2, 3));
}
