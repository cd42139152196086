//! Report settings: `config/p4p.toml`, every figure of the program a setting, not a constant.
//!
//! Place in the data flow: the CLI reads the file, [`Settings::from_toml`] parses and validates
//! it, and the report cores take the parts they need. Every key is optional and defaults to the
//! reference program's figure ([`Settings::default`], equal to the shipped file); unknown keys
//! are refused (`deny_unknown_fields`), so a misspelt key can never silently fall back to a
//! default. Must never read files itself or hold anything but plain settings.

use crate::claim::{codes, Edit};
use crate::limits::{REPORT_SETTINGS_CLASSES_MAX, REPORT_WINDOW_DAYS_MAX};
use crate::report::ReportError;
use serde::Deserialize;
use std::collections::BTreeSet;

/// All report settings.
#[derive(Clone, PartialEq, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub p4p: P4pSettings,
    pub quality: QualitySettings,
    pub safety: SafetySettings,
}

/// `[p4p]`: pools, codes, threshold, windows and eligibility of the payment report.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P4pSettings {
    /// DUR intervention pool per year, cents.
    pub intervention_pool_cents_per_year: u64,
    /// DUR bonus pool per year, cents.
    pub bonus_pool_cents_per_year: u64,
    /// 440-E5 codes whose override answering a raised conflict earns the intervention payment.
    pub payable_professional_codes: Vec<String>,
    /// 440-E5 codes recorded as overrides that earn nothing (normal duty).
    pub unpaid_professional_codes: Vec<String>,
    /// Share of paid claims carrying DUR/PPS codes (basis points of the pharmacy's paid claims)
    /// *below* which a pharmacy qualifies for the bonus.
    pub bonus_threshold_basis_points: u32,
    /// Count DUR rejects not dispensed within the follow-up window in the bonus weight, next to
    /// the paid claims without DUR alerts.
    pub bonus_counts_not_dispensed: bool,
    /// Days after a DUR reject (the reject's day included as day 0) in which a paid claim for
    /// the same patient and product means it was dispensed after all.
    pub follow_up_days: u32,
    /// Paid claims a pharmacy needs per half year to be eligible, prorated to the period.
    pub eligibility_paid_claims_per_half_year: u64,
    /// Premier designation: the top this-many percent of ranked pharmacies.
    pub premier_percentile: u32,
    /// Edits whose rejecting conflicts, overridden, can earn intervention credit (names as in
    /// `ruleset.toml`).
    pub credit_edits: Vec<String>,
    /// Alerts (credited-edit overrides plus not-dispensed episodes) a pharmacy needs to be
    /// ranked for premier.
    pub premier_min_alerts: u64,
}

impl Default for P4pSettings {
    fn default() -> P4pSettings {
        P4pSettings {
            intervention_pool_cents_per_year: 500_000_000,
            bonus_pool_cents_per_year: 300_000_000,
            payable_professional_codes: strings(&["R0", "SW", "M0"]),
            unpaid_professional_codes: strings(&["PE", "P0"]),
            bonus_threshold_basis_points: 500,
            bonus_counts_not_dispensed: true,
            follow_up_days: 7,
            eligibility_paid_claims_per_half_year: 500,
            premier_percentile: 10,
            credit_edits: strings(&["ddi", "duplication", "high_dose", "elderly_high_risk"]),
            premier_min_alerts: 10,
        }
    }
}

impl P4pSettings {
    /// The credit edits (names that are no edit are refused by validation).
    pub fn credit_edits(&self) -> Vec<Edit> {
        self.credit_edits
            .iter()
            .filter_map(|name| Edit::parse(name))
            .collect()
    }

    pub fn is_payable(&self, professional: &str) -> bool {
        self.payable_professional_codes
            .iter()
            .any(|code| code == professional)
    }

    pub fn is_unpaid(&self, professional: &str) -> bool {
        self.unpaid_professional_codes
            .iter()
            .any(|code| code == professional)
    }

    fn validate(&self) -> Result<(), ReportError> {
        let all = self
            .payable_professional_codes
            .iter()
            .chain(&self.unpaid_professional_codes);
        for code in all {
            check(
                codes::is_professional_service(code),
                format!("p4p: {code:?} is not an NCPDP 440-E5 professional service code"),
            )?;
        }
        let overlap = self
            .payable_professional_codes
            .iter()
            .find(|code| self.is_unpaid(code));
        if let Some(code) = overlap {
            return invalid(format!("p4p: {code:?} is both payable and unpaid"));
        }
        check(
            self.bonus_threshold_basis_points <= 10_000,
            "p4p: bonus_threshold_basis_points is above 10000 (100 %)".into(),
        )?;
        check_window("p4p.follow_up_days", self.follow_up_days, 0)?;
        for name in &self.credit_edits {
            check(
                Edit::parse(name).is_some(),
                format!("p4p: credit_edits: {name:?} is not an edit"),
            )?;
        }
        check(
            self.premier_percentile <= 100,
            "p4p: premier_percentile is above 100".into(),
        )
    }
}

/// `[quality]`: the report card's measures.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualitySettings {
    /// A patient is adherent when PDC ≥ this percent.
    pub pdc_threshold_percent: u32,
    /// Fewer patients (claims, for generic dispensing) than this: the rate is shown, no stars.
    pub stars_min_denominator: u64,
    pub pdc_diabetes: PdcSettings,
    pub pdc_ras: PdcSettings,
    pub pdc_statins: PdcSettings,
    pub statin_use_in_diabetes: SupdSettings,
    pub asthma: AsthmaSettings,
    pub generic_dispensing: GenericSettings,
    /// Rates without stars: PDC of each diabetes class alone.
    pub pdc_biguanides: PdcRateSettings,
    pub pdc_sulfonylureas: PdcRateSettings,
    pub pdc_thiazolidinediones: PdcRateSettings,
    pub pdc_dpp4_inhibitors: PdcRateSettings,
    pub pdc_antiretrovirals: ArvSettings,
    pub diabetes_hypertension: DiabetesHypertensionSettings,
}

impl Default for QualitySettings {
    fn default() -> QualitySettings {
        QualitySettings {
            pdc_threshold_percent: 80,
            stars_min_denominator: 30,
            pdc_diabetes: PdcSettings {
                classes: strings(&[
                    "BIGUANIDE",
                    "SULFONYLUREA",
                    "TZD",
                    "DPP4I",
                    "GLP1RA",
                    "MEGLITINIDE",
                    "SGLT2I",
                ]),
                exclude_classes: strings(&["INSULIN"]),
                min_age_years: 18,
                stars: [80.4, 85.4, 90.3, 94.3],
            },
            pdc_ras: PdcSettings {
                classes: strings(&["ACEI", "ARB", "DIRECT_RENIN_INHIB"]),
                exclude_classes: Vec::new(),
                min_age_years: 18,
                stars: [80.3, 84.3, 88.0, 90.0],
            },
            pdc_statins: PdcSettings {
                classes: strings(&["STATIN"]),
                exclude_classes: Vec::new(),
                min_age_years: 18,
                stars: [78.3, 82.3, 87.0, 91.0],
            },
            statin_use_in_diabetes: SupdSettings::default(),
            asthma: AsthmaSettings::default(),
            generic_dispensing: GenericSettings {
                stars: [83.0, 84.0, 85.1, 88.1],
            },
            pdc_biguanides: PdcRateSettings::of_class("BIGUANIDE"),
            pdc_sulfonylureas: PdcRateSettings::of_class("SULFONYLUREA"),
            pdc_thiazolidinediones: PdcRateSettings::of_class("TZD"),
            pdc_dpp4_inhibitors: PdcRateSettings::of_class("DPP4I"),
            pdc_antiretrovirals: ArvSettings::default(),
            diabetes_hypertension: DiabetesHypertensionSettings::default(),
        }
    }
}

/// A PDC reported as a rate without stars (the program gives no cut points).
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdcRateSettings {
    pub classes: Vec<String>,
    #[serde(default)]
    pub exclude_classes: Vec<String>,
    /// Age on the index fill.
    pub min_age_years: u8,
}

impl PdcRateSettings {
    /// One class, insulin users left out as in PDC diabetes, adults.
    fn of_class(class: &str) -> PdcRateSettings {
        PdcRateSettings {
            classes: strings(&[class]),
            exclude_classes: strings(&["INSULIN"]),
            min_age_years: 18,
        }
    }
}

/// PDC antiretrovirals: days on which at least `ingredients_min` distinct antiretroviral
/// ingredients are on hand.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArvSettings {
    pub classes: Vec<String>,
    pub min_age_years: u8,
    pub threshold_percent: u32,
    pub ingredients_min: u32,
}

impl Default for ArvSettings {
    fn default() -> ArvSettings {
        ArvSettings {
            classes: strings(&["ANTIRETROVIRAL"]),
            min_age_years: 18,
            threshold_percent: 90,
            ingredients_min: 2,
        }
    }
}

/// Diabetes: appropriate treatment of hypertension.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiabetesHypertensionSettings {
    /// Diabetes drugs (insulin included).
    pub diabetes_classes: Vec<String>,
    /// Antihypertensives that put a patient with diabetes in the denominator.
    pub antihypertensive_classes: Vec<String>,
    /// The numerator: a fill of one of these.
    pub ras_classes: Vec<String>,
    /// Age on the patient's first diabetes or antihypertensive fill of the period.
    pub min_age_years: u8,
}

impl Default for DiabetesHypertensionSettings {
    fn default() -> DiabetesHypertensionSettings {
        DiabetesHypertensionSettings {
            diabetes_classes: SupdSettings::default().diabetes_classes,
            antihypertensive_classes: strings(&[
                "ACEI",
                "ARB",
                "DIRECT_RENIN_INHIB",
                "BETA_BLOCKER",
                "CCB",
            ]),
            ras_classes: strings(&["ACEI", "ARB", "DIRECT_RENIN_INHIB"]),
            min_age_years: 18,
        }
    }
}

/// One proportion-of-days-covered measure.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdcSettings {
    /// Rule-table classes whose fills count (any of them: "all class").
    pub classes: Vec<String>,
    /// A patient with any paid fill of these classes in the period is left out.
    #[serde(default)]
    pub exclude_classes: Vec<String>,
    /// Age on the index fill.
    pub min_age_years: u8,
    /// Rates (percent, 0.1 steps) at or above which 2, 3, 4 and 5 stars are earned.
    pub stars: [f64; 4],
}

/// Statin use in persons with diabetes.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupdSettings {
    pub diabetes_classes: Vec<String>,
    pub statin_classes: Vec<String>,
    /// Age range on the patient's last diabetes fill of the period, both ends included.
    pub min_age_years: u8,
    pub max_age_years: u8,
    /// Rates at or above which 2..5 stars are earned.
    pub stars: [f64; 4],
}

impl Default for SupdSettings {
    fn default() -> SupdSettings {
        SupdSettings {
            diabetes_classes: strings(&[
                "BIGUANIDE",
                "SULFONYLUREA",
                "TZD",
                "DPP4I",
                "GLP1RA",
                "MEGLITINIDE",
                "SGLT2I",
                "INSULIN",
            ]),
            statin_classes: strings(&["STATIN"]),
            min_age_years: 40,
            max_age_years: 75,
            stars: [60.6, 65.5, 71.0, 75.0],
        }
    }
}

/// Asthma: suboptimal control and absence of controller therapy (lower is better).
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsthmaSettings {
    pub saba_classes: Vec<String>,
    pub controller_classes: Vec<String>,
    /// Age range on the patient's first asthma fill of the period, both ends included.
    pub min_age_years: u8,
    pub max_age_years: u8,
    /// Suboptimal control is *more than* this many SABA canisters within `window_days`.
    pub canisters_max: u32,
    pub window_days: u32,
    /// Rates at or *below* which 2, 3, 4 and 5 stars are earned.
    pub suboptimal_stars: [f64; 4],
    pub no_controller_stars: [f64; 4],
    /// Dose forms (products.csv, compared ignoring case) whose SABA fills count canisters:
    /// ceil(quantity / package_quantity), 1 without a package quantity; other forms count none.
    pub canister_dose_forms: Vec<String>,
}

impl Default for AsthmaSettings {
    fn default() -> AsthmaSettings {
        AsthmaSettings {
            saba_classes: strings(&["SABA"]),
            controller_classes: strings(&["ASTHMA_CONTROLLER"]),
            min_age_years: 5,
            max_age_years: 64,
            canisters_max: 3,
            window_days: 90,
            suboptimal_stars: [15.7, 13.8, 9.5, 7.9],
            no_controller_stars: [54.3, 45.3, 38.1, 31.9],
            canister_dose_forms: strings(&["aerosol, metered"]),
        }
    }
}

/// Generic dispensing rate.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericSettings {
    /// Rates at or above which 2..5 stars are earned.
    pub stars: [f64; 4],
}

impl QualitySettings {
    fn validate(&self) -> Result<(), ReportError> {
        check(
            (1..=100).contains(&self.pdc_threshold_percent),
            "quality: pdc_threshold_percent is not 1..100".into(),
        )?;
        let pdc = [
            ("pdc_diabetes", &self.pdc_diabetes),
            ("pdc_ras", &self.pdc_ras),
            ("pdc_statins", &self.pdc_statins),
        ];
        for (name, measure) in pdc {
            non_empty(name, &measure.classes)?;
            cut_points(name, &measure.stars, Direction::HigherIsBetter)?;
        }
        self.validate_supd()?;
        self.validate_asthma()?;
        self.validate_rates()?;
        cut_points(
            "generic_dispensing",
            &self.generic_dispensing.stars,
            Direction::HigherIsBetter,
        )
        .map(drop)
    }

    fn validate_supd(&self) -> Result<(), ReportError> {
        let supd = &self.statin_use_in_diabetes;
        non_empty("statin_use_in_diabetes", &supd.diabetes_classes)?;
        non_empty("statin_use_in_diabetes", &supd.statin_classes)?;
        ages(
            "statin_use_in_diabetes",
            supd.min_age_years,
            supd.max_age_years,
        )?;
        cut_points(
            "statin_use_in_diabetes",
            &supd.stars,
            Direction::HigherIsBetter,
        )
        .map(drop)
    }

    fn validate_asthma(&self) -> Result<(), ReportError> {
        let asthma = &self.asthma;
        non_empty("asthma", &asthma.saba_classes)?;
        non_empty("asthma", &asthma.controller_classes)?;
        ages("asthma", asthma.min_age_years, asthma.max_age_years)?;
        check_window("quality.asthma.window_days", asthma.window_days, 1)?;
        check(
            (1..=1_000).contains(&asthma.canisters_max),
            "quality.asthma: canisters_max is not 1..1000".into(),
        )?;
        let lower = Direction::LowerIsBetter;
        cut_points("asthma.suboptimal_stars", &asthma.suboptimal_stars, lower)?;
        cut_points(
            "asthma.no_controller_stars",
            &asthma.no_controller_stars,
            lower,
        )
        .map(drop)
    }

    fn validate_rates(&self) -> Result<(), ReportError> {
        for (name, measure) in self.pdc_rates() {
            non_empty(name, &measure.classes)?;
            ages(name, measure.min_age_years, 150)?;
        }
        let arv = &self.pdc_antiretrovirals;
        non_empty("pdc_antiretrovirals", &arv.classes)?;
        ages("pdc_antiretrovirals", arv.min_age_years, 150)?;
        check(
            (1..=100).contains(&arv.threshold_percent),
            "quality.pdc_antiretrovirals: threshold_percent is not 1..100".into(),
        )?;
        check(
            (1..=ARV_INGREDIENTS_MIN_MAX).contains(&arv.ingredients_min),
            format!(
                "quality.pdc_antiretrovirals: ingredients_min is not 1..{ARV_INGREDIENTS_MIN_MAX}"
            ),
        )?;
        let treated = &self.diabetes_hypertension;
        non_empty("diabetes_hypertension", &treated.diabetes_classes)?;
        non_empty("diabetes_hypertension", &treated.antihypertensive_classes)?;
        non_empty("diabetes_hypertension", &treated.ras_classes)?;
        ages("diabetes_hypertension", treated.min_age_years, 150)
    }

    /// The per-class diabetes PDC rates with their measure names.
    pub fn pdc_rates(&self) -> [(&'static str, &PdcRateSettings); 4] {
        [
            ("pdc_biguanides", &self.pdc_biguanides),
            ("pdc_sulfonylureas", &self.pdc_sulfonylureas),
            ("pdc_thiazolidinediones", &self.pdc_thiazolidinediones),
            ("pdc_dpp4_inhibitors", &self.pdc_dpp4_inhibitors),
        ]
    }

    /// Every class the quality measures name.
    pub fn classes(&self) -> impl Iterator<Item = &String> {
        let supd = &self.statin_use_in_diabetes;
        let pdc = [&self.pdc_diabetes, &self.pdc_ras, &self.pdc_statins];
        let rates = self.pdc_rates().map(|(_, measure)| measure);
        let treated = &self.diabetes_hypertension;
        pdc.into_iter()
            .flat_map(|measure| measure.classes.iter().chain(&measure.exclude_classes))
            .chain(
                rates
                    .into_iter()
                    .flat_map(|m| m.classes.iter().chain(&m.exclude_classes)),
            )
            .chain(&supd.diabetes_classes)
            .chain(&supd.statin_classes)
            .chain(&self.asthma.saba_classes)
            .chain(&self.asthma.controller_classes)
            .chain(&self.pdc_antiretrovirals.classes)
            .chain(&treated.diabetes_classes)
            .chain(&treated.antihypertensive_classes)
            .chain(&treated.ras_classes)
    }
}

/// `[safety]`: MTM targeting and opioid overutilization.
#[derive(Clone, PartialEq, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetySettings {
    pub mtm: MtmSettings,
    pub opioid: OpioidSettings,
}

/// Part D MTM targeting criteria (all three must be met).
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtmSettings {
    /// Annualised submitted drug cost at or above which a patient qualifies, cents.
    pub annual_cost_cents: u64,
    /// Chronic classes (each standing for one chronic disease) with a paid fill in the period.
    pub chronic_classes: Vec<String>,
    pub chronic_classes_min: u32,
    /// Distinct drugs (ingredient sets) with a paid fill in the period.
    pub distinct_drugs_min: u32,
}

impl Default for MtmSettings {
    fn default() -> MtmSettings {
        MtmSettings {
            annual_cost_cents: 396_700,
            chronic_classes: strings(&[
                "DIABETES",
                "RAS_ANTAGONIST",
                "STATIN",
                "ASTHMA_CONTROLLER",
                "SSRI",
            ]),
            chronic_classes_min: 3,
            distinct_drugs_min: 8,
        }
    }
}

/// Opioid overutilization: several prescribers and several pharmacies within a window.
#[derive(Clone, PartialEq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpioidSettings {
    pub classes: Vec<String>,
    pub prescribers_min: u32,
    pub pharmacies_min: u32,
    pub window_days: u32,
}

impl Default for OpioidSettings {
    fn default() -> OpioidSettings {
        OpioidSettings {
            classes: strings(&["OPIOID"]),
            prescribers_min: 4,
            pharmacies_min: 4,
            window_days: 180,
        }
    }
}

impl SafetySettings {
    fn validate(&self) -> Result<(), ReportError> {
        non_empty("safety.mtm.chronic_classes", &self.mtm.chronic_classes)?;
        non_empty("safety.opioid.classes", &self.opioid.classes)?;
        check_window("safety.opioid.window_days", self.opioid.window_days, 1)?;
        check(
            self.opioid.prescribers_min >= 1 && self.opioid.pharmacies_min >= 1,
            "safety.opioid: prescribers_min and pharmacies_min must be at least 1".into(),
        )
    }
}

impl Settings {
    /// Parses and validates the settings file's text.
    pub fn from_toml(text: &str) -> Result<Settings, ReportError> {
        let settings: Settings =
            toml::from_str(text).map_err(|error| ReportError::Settings(error.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ReportError> {
        self.p4p.validate()?;
        self.quality.validate()?;
        self.safety.validate()?;
        let distinct: BTreeSet<&String> = self
            .quality
            .classes()
            .chain(&self.safety.mtm.chronic_classes)
            .chain(&self.safety.opioid.classes)
            .collect();
        check(
            distinct.len() <= REPORT_SETTINGS_CLASSES_MAX,
            format!("more than {REPORT_SETTINGS_CLASSES_MAX} distinct classes named"),
        )
    }
}

/// Which way a measure's rate is better.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// Star cut points in tenths of a percent, validated: 0..=1000, whole tenths, strictly
/// monotonic in the measure's direction (rising when higher is better, falling otherwise).
pub fn cut_points(
    name: &str,
    percents: &[f64; 4],
    direction: Direction,
) -> Result<[u32; 4], ReportError> {
    let mut tenths = [0u32; 4];
    for (slot, percent) in tenths.iter_mut().zip(percents) {
        let scaled = percent * 10.0;
        let whole = scaled.round();
        let valid = (0.0..=1000.0).contains(&whole) && (scaled - whole).abs() < 1e-6;
        check(
            valid,
            format!("{name}: star cut point {percent} is not a percent in 0.1 steps"),
        )?;
        *slot = whole as u32;
    }
    let monotonic = tenths.windows(2).all(|pair| match direction {
        Direction::HigherIsBetter => pair[0] < pair[1],
        Direction::LowerIsBetter => pair[0] > pair[1],
    });
    check(
        monotonic,
        format!("{name}: star cut points must run from the 2-star to the 5-star bound"),
    )?;
    Ok(tenths)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

fn check(valid: bool, message: String) -> Result<(), ReportError> {
    if valid {
        Ok(())
    } else {
        invalid(message)
    }
}

fn invalid<T>(message: String) -> Result<T, ReportError> {
    Err(ReportError::Settings(message))
}

/// The largest `ingredients_min` of PDC antiretrovirals (a regimen of up to four drugs).
const ARV_INGREDIENTS_MIN_MAX: u32 = 4;

fn non_empty(name: &str, classes: &[String]) -> Result<(), ReportError> {
    check(!classes.is_empty(), format!("{name}: no class named"))
}

fn ages(name: &str, min: u8, max: u8) -> Result<(), ReportError> {
    check(
        min <= max && max <= 150,
        format!("{name}: age range {min}..{max} is not within 0..150"),
    )
}

fn check_window(name: &str, days: u32, min: u32) -> Result<(), ReportError> {
    check(
        (min..=REPORT_WINDOW_DAYS_MAX).contains(&days),
        format!("{name} = {days} is not {min}..{REPORT_WINDOW_DAYS_MAX}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../config/p4p.toml");

    #[test]
    fn the_shipped_file_holds_the_defaults() {
        let shipped = Settings::from_toml(SHIPPED).unwrap();
        assert_eq!(shipped, Settings::default());
        assert_eq!(Settings::from_toml("").unwrap(), Settings::default());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        for text in [
            "[p4p]\nfollow_up_dayz = 7\n",
            "[p4p]\nfollow_up_days = 7\n[quality.asthma]\nwindow = 90\n",
            "colour = \"blue\"\n",
        ] {
            let error = Settings::from_toml(text).unwrap_err().to_string();
            assert!(error.contains("unknown field"), "{error}");
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        let cases = [
            ("[p4p]\npayable_professional_codes = [\"R0\", \"ZZ\"]\n", "\"ZZ\""),
            ("[p4p]\nunpaid_professional_codes = [\"R0\"]\n", "both payable and unpaid"),
            ("[p4p]\nbonus_threshold_basis_points = 10001\n", "10000"),
            ("[p4p]\nfollow_up_days = 400\n", "follow_up_days"),
            ("[quality.pdc_statins]\nclasses = []\nmin_age_years = 18\nstars = [1.0, 2.0, 3.0, 4.0]\n", "no class"),
            ("[quality.generic_dispensing]\nstars = [83.0, 84.0, 85.05, 88.1]\n", "0.1 steps"),
            ("[quality.generic_dispensing]\nstars = [83.0, 84.0, 84.0, 88.1]\n", "2-star to the 5-star"),
            ("[quality.asthma]\nsuboptimal_stars = [7.9, 9.5, 13.8, 15.7]\n", "2-star to the 5-star"),
            ("[quality.statin_use_in_diabetes]\nmin_age_years = 80\n", "age range"),
        ];
        for (text, expected) in cases {
            let error = Settings::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn cut_points_become_tenths() {
        let higher = cut_points("x", &[80.4, 85.4, 90.3, 94.3], Direction::HigherIsBetter);
        assert_eq!(higher.unwrap(), [804, 854, 903, 943]);
        let lower = cut_points("x", &[15.7, 13.8, 9.5, 7.9], Direction::LowerIsBetter);
        assert_eq!(lower.unwrap(), [157, 138, 95, 79]);
    }
}
