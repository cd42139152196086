//! Units, routes and exact dose arithmetic of the rule tables.
//!
//! Place in the data flow: the table loader parses strengths, limits and factors into the
//! canonical integer amounts defined here; the edits compare claim doses with them. Must never
//! use floating point for a threshold: a dose exactly at a limit must compare equal.
//!
//! Canonical amounts: every decimal is read with at most 6 fractional digits into millionths
//! of its written unit, then scaled to a base unit: mass in picograms (1 mcg = 10^6 pg), mass
//! per mL in picograms per mL, patch rates in picograms per hour, `unit` in micro-units.

/// Largest number of fractional digits a table decimal may have.
pub const DECIMAL_PLACES_MAX: usize = 6;
const MICRO: u64 = 1_000_000;
const PICOGRAMS_PER_MG: u128 = 1_000_000_000;

/// What a canonical amount measures; only amounts of compatible kinds are compared.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AmountKind {
    /// Picograms per dispensed unit (tablet, capsule, gram of cream...).
    Mass,
    /// Picograms per mL (liquids: quantity dispensed is in mL).
    MassPerMl,
    /// Picograms per hour (patches: compared by their hourly rate).
    Rate,
    /// Micro-units (insulin and the like).
    Units,
}

/// `strength_unit` of products.csv.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum StrengthUnit {
    Mg,
    Mcg,
    G,
    MgPerMl,
    McgPerHr,
    Unit,
}

impl StrengthUnit {
    pub fn parse(text: &str) -> Option<StrengthUnit> {
        match text {
            "mg" => Some(StrengthUnit::Mg),
            "mcg" => Some(StrengthUnit::Mcg),
            "g" => Some(StrengthUnit::G),
            "mg/mL" => Some(StrengthUnit::MgPerMl),
            "mcg/hr" => Some(StrengthUnit::McgPerHr),
            "unit" => Some(StrengthUnit::Unit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StrengthUnit::Mg => "mg",
            StrengthUnit::Mcg => "mcg",
            StrengthUnit::G => "g",
            StrengthUnit::MgPerMl => "mg/mL",
            StrengthUnit::McgPerHr => "mcg/hr",
            StrengthUnit::Unit => "unit",
        }
    }

    pub fn kind(self) -> AmountKind {
        match self {
            StrengthUnit::Mg | StrengthUnit::Mcg | StrengthUnit::G => AmountKind::Mass,
            StrengthUnit::MgPerMl => AmountKind::MassPerMl,
            StrengthUnit::McgPerHr => AmountKind::Rate,
            StrengthUnit::Unit => AmountKind::Units,
        }
    }

    /// Base units per millionth of this unit.
    fn scale(self) -> u64 {
        match self {
            StrengthUnit::Mg | StrengthUnit::MgPerMl => 1_000,
            StrengthUnit::G => 1_000_000,
            StrengthUnit::Mcg | StrengthUnit::McgPerHr | StrengthUnit::Unit => 1,
        }
    }

    /// The canonical amount of a decimal written in this unit.
    pub fn canonical(self, micro: u64) -> Option<u64> {
        micro.checked_mul(self.scale())
    }
}

/// `unit` of dose_limits.csv.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DoseUnit {
    Mg,
    Mcg,
    G,
    McgPerHr,
    Unit,
}

impl DoseUnit {
    pub fn parse(text: &str) -> Option<DoseUnit> {
        match text {
            "mg" => Some(DoseUnit::Mg),
            "mcg" => Some(DoseUnit::Mcg),
            "g" => Some(DoseUnit::G),
            "mcg/hr" => Some(DoseUnit::McgPerHr),
            "unit" => Some(DoseUnit::Unit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.as_strength().as_str()
    }

    fn as_strength(self) -> StrengthUnit {
        match self {
            DoseUnit::Mg => StrengthUnit::Mg,
            DoseUnit::Mcg => StrengthUnit::Mcg,
            DoseUnit::G => StrengthUnit::G,
            DoseUnit::McgPerHr => StrengthUnit::McgPerHr,
            DoseUnit::Unit => StrengthUnit::Unit,
        }
    }

    pub fn kind(self) -> AmountKind {
        self.as_strength().kind()
    }

    /// The canonical amount of a decimal written in this unit.
    pub fn canonical(self, micro: u64) -> Option<u64> {
        self.as_strength().canonical(micro)
    }

    /// Whether a daily limit in this unit applies to a product strength of `kind`.
    pub fn applies_to(self, kind: AmountKind) -> bool {
        match self.kind() {
            AmountKind::Mass => matches!(kind, AmountKind::Mass | AmountKind::MassPerMl),
            own => own == kind,
        }
    }
}

/// `route` of products.csv and dose_limits.csv.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Route {
    Oral,
    Topical,
    Transdermal,
    Injection,
    Ophthalmic,
    Inhalation,
    Nasal,
    Otic,
    Rectal,
    Other,
}

impl Route {
    pub const ALL: [Route; 10] = [
        Route::Oral,
        Route::Topical,
        Route::Transdermal,
        Route::Injection,
        Route::Ophthalmic,
        Route::Inhalation,
        Route::Nasal,
        Route::Otic,
        Route::Rectal,
        Route::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Topical => "topical",
            Route::Transdermal => "transdermal",
            Route::Injection => "injection",
            Route::Ophthalmic => "ophthalmic",
            Route::Inhalation => "inhalation",
            Route::Nasal => "nasal",
            Route::Otic => "otic",
            Route::Rectal => "rectal",
            Route::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.as_str() == text)
    }
}

/// A non-negative decimal (`325`, `0.125`, `2.4`) in millionths; `None` when malformed, with
/// more than [`DECIMAL_PLACES_MAX`] fractional digits, or too large.
pub fn parse_decimal_micro(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let well_formed = !(whole.is_empty() && fraction.is_empty())
        && digits_ok(whole)
        && digits_ok(fraction)
        && fraction.len() <= DECIMAL_PLACES_MAX
        && !(text.ends_with('.'));
    if !well_formed {
        return None;
    }
    let whole_value = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    let padded = format!("{fraction:0<width$}", width = DECIMAL_PLACES_MAX);
    let fraction_value = padded.parse::<u64>().ok()?;
    whole_value.checked_mul(MICRO)?.checked_add(fraction_value)
}

/// Daily amount of one ingredient, as a fraction `numerator / denominator` of base units per
/// day (patches: base units per hour, denominator 1). Exact: no rounding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DailyAmount {
    pub numerator: u128,
    pub denominator: u128,
}

impl DailyAmount {
    /// Quantity × strength / days supply (liquids: quantity in mL); patches: the strength.
    pub fn of(kind: AmountKind, strength: u64, quantity_milli: u64, days_supply: u16) -> Self {
        if kind == AmountKind::Rate {
            return DailyAmount {
                numerator: u128::from(strength),
                denominator: 1,
            };
        }
        DailyAmount {
            numerator: u128::from(quantity_milli) * u128::from(strength),
            denominator: 1_000 * u128::from(days_supply.max(1)),
        }
    }

    /// The effective rate of a patch (`mcg/hr` strength, base units per hour): strength x patches
    /// worn at once, where patches worn at once = max(1, quantity x wear hours / (days x 24)),
    /// not rounded (50 mcg/hr, 20 patches, 30 days, 72 hours: 2 at once, 100 mcg/hr).
    pub fn patch_rate(
        strength: u64,
        quantity_milli: u64,
        days_supply: u16,
        wear_hours: u32,
    ) -> Self {
        let hours_milli = 1_000 * 24 * u128::from(days_supply.max(1));
        let worn_milli = u128::from(quantity_milli) * u128::from(wear_hours.max(1));
        DailyAmount {
            numerator: u128::from(strength) * worn_milli.max(hours_milli),
            denominator: hours_milli,
        }
    }

    /// Strictly above `limit` x `multiple_micro` / 10^6 base units.
    pub fn exceeds_multiple(self, limit: u64, multiple_micro: u64) -> bool {
        let scaled = u128::from(limit) * u128::from(multiple_micro);
        self.numerator.saturating_mul(1_000_000) > scaled.saturating_mul(self.denominator)
    }

    /// Strictly above `limit` base units (exactly at the limit is not above).
    pub fn exceeds(self, limit: u64) -> bool {
        self.numerator > u128::from(limit).saturating_mul(self.denominator)
    }

    /// Rounded down to whole base units.
    pub fn floor(self) -> u128 {
        self.numerator / self.denominator.max(1)
    }

    /// Morphine milligram equivalents in billionths of an MME, rounded down: daily mg (patch
    /// mcg/hr) × `factor_micro` / 10^6. `kind` decides whether the base is picograms (mass) or
    /// picograms per hour (patch rate).
    pub fn mme_nano(self, kind: AmountKind, factor_micro: u64) -> u128 {
        let factor = u128::from(factor_micro);
        let scaled = self.numerator.saturating_mul(factor);
        let per_unit = if kind == AmountKind::Rate {
            // pg/hr -> mcg/hr is 10^-6, factor is 10^-6, result in 10^-9: divide by 10^3.
            1_000
        } else {
            // pg -> mg is 10^-9, factor 10^-6, result 10^-9: divide by 10^6.
            PICOGRAMS_PER_MG / 1_000
        };
        scaled / self.denominator.max(1).saturating_mul(per_unit)
    }
}

/// Picograms in `mg` milligrams.
pub fn picograms_of_mg(mg: u64) -> u128 {
    u128::from(mg) * PICOGRAMS_PER_MG
}

/// Billionths of an MME in `mme` whole MME.
pub fn mme_nano_of(mme: u64) -> u128 {
    u128::from(mme) * 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_exactly() {
        let cases = [
            ("325", Some(325_000_000)),
            ("0.125", Some(125_000)),
            (".5", Some(500_000)),
            ("2.4", Some(2_400_000)),
            ("1.1234567", None),
            ("", None),
            ("-1", None),
            ("1e3", None),
            ("5.", None),
            ("1.2.3", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_decimal_micro(text), expected, "{text:?}");
        }
    }

    #[test]
    fn units_convert_between_g_mg_and_mcg() {
        let one = parse_decimal_micro("1").unwrap();
        let g = StrengthUnit::G.canonical(one).unwrap();
        let mg = StrengthUnit::Mg.canonical(one).unwrap();
        let mcg = StrengthUnit::Mcg.canonical(one).unwrap();
        assert_eq!((g / mg, mg / mcg), (1_000, 1_000));
        assert_eq!(DoseUnit::Mg.canonical(one), Some(mg));
    }

    #[test]
    fn daily_dose_is_exact_at_the_limit() {
        // 90 tablets of 10 mg over 30 days = 30 mg/day.
        let strength = StrengthUnit::Mg.canonical(10 * MICRO).unwrap();
        let daily = DailyAmount::of(AmountKind::Mass, strength, 90_000, 30);
        let limit = |mg: u64| DoseUnit::Mg.canonical(mg * MICRO).unwrap();
        assert!(!daily.exceeds(limit(30)));
        assert!(daily.exceeds(limit(29)));
        assert_eq!(daily.floor(), picograms_of_mg(30));
    }

    #[test]
    fn patches_compare_their_hourly_rate() {
        let rate = StrengthUnit::McgPerHr.canonical(25 * MICRO).unwrap();
        let daily = DailyAmount::of(AmountKind::Rate, rate, 10_000, 30);
        assert!(!daily.exceeds(DoseUnit::McgPerHr.canonical(25 * MICRO).unwrap()));
        // fentanyl 25 mcg/hr x 2.4 = 60 MME.
        assert_eq!(daily.mme_nano(AmountKind::Rate, 2_400_000), mme_nano_of(60));
    }

    #[test]
    fn mme_of_oral_tablets() {
        // oxycodone 10 mg x 120 over 20 days = 60 mg/day x 1.5 = 90 MME.
        let strength = StrengthUnit::Mg.canonical(10 * MICRO).unwrap();
        let daily = DailyAmount::of(AmountKind::Mass, strength, 120_000, 20);
        assert_eq!(daily.mme_nano(AmountKind::Mass, 1_500_000), mme_nano_of(90));
    }

    #[test]
    fn mass_limits_apply_to_liquids_but_not_to_patches() {
        assert!(DoseUnit::Mg.applies_to(AmountKind::MassPerMl));
        assert!(!DoseUnit::Mg.applies_to(AmountKind::Rate));
        assert!(DoseUnit::McgPerHr.applies_to(AmountKind::Rate));
    }
}
