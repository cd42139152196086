//! The compiled rule tables: immutable hot-path indexes built once per folder by
//! [`super::compile`] and shared by every claim through an `Arc`.
//!
//! Place in the data flow: [`super::LiveRules`] holds the current `RuleSet`; the edits read it;
//! reports ask it about class membership. Must never change after it is built (a new folder
//! makes a new `RuleSet`) and never do I/O.
//!
//! Ingredients and classes are interned to dense `u32` ids. Interactions are kept per unordered
//! pair of *references* (an ingredient or a class); a pair of ingredients is resolved by
//! looking up the few references each one carries (itself and its classes that take part in
//! some interaction), so the table never grows with class sizes.

use super::policy::{EditParams, EditPolicy, Policies};
use super::units::{DoseUnit, Route, StrengthUnit};
use crate::claim::{Date, Edit, Ndc, RulesetStamp};
use rustc_hash::FxHashMap;

/// Dense id of an ingredient name.
pub type IngredientId = u32;
/// Dense id of a class name.
pub type ClassId = u32;

/// One ingredient of a product with its strength per unit in the canonical base unit
/// (see [`super::units`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProductIngredient {
    pub ingredient: IngredientId,
    pub strength: u64,
    /// MME factor (millionths) for this ingredient and the product's route, when it is an opioid.
    pub mme_factor_micro: Option<u64>,
}

/// One row of products.csv, compiled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Product {
    pub ndc: Ndc,
    pub name: String,
    pub dose_form: String,
    /// In the file's order (strengths follow it).
    pub ingredients: Box<[ProductIngredient]>,
    /// The ingredient ids, sorted and distinct: the product's ingredient *set*.
    pub ingredient_set: Box<[IngredientId]>,
    pub unit: StrengthUnit,
    pub route: Route,
    pub dea_schedule: Option<u8>,
    pub long_acting: bool,
    /// The optional `generic` column: `Some(true)` for a generic product, `Some(false)` for a
    /// brand, `None` when the cell is empty or the column absent (the generic dispensing rate
    /// of `durgate report quality` leaves such products out).
    pub generic: Option<bool>,
    /// Some ingredient has an MME factor for this route.
    pub opioid: bool,
    /// Some ingredient matches the opioid edit's `with_benzodiazepine`.
    pub benzodiazepine: bool,
    /// Some ingredient takes part in an interaction.
    pub interacts: bool,
    /// `mcg/hr` products: hours one unit is worn (default 72); 0 for other units.
    pub wear_hours: u32,
    /// Schema 2 `package_quantity` (442-E7 units in one package) in millionths: validated
    /// and kept for reporting; no edit reads it.
    pub package_quantity_micro: Option<u64>,
    /// The product's *same drug product* group: equal for every NDC of one drug (same
    /// ingredients and strengths, unit, route and dose form), whatever the labeler or package.
    pub drug_product: u32,
}

/// One row of ddi.csv.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DdiRule {
    pub id: String,
    pub severity: u8,
    pub message: String,
    /// Days past its last active day a fill matching the other side still counts (schema 2).
    pub washout_days: u32,
}

/// One row of duplication.csv.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DuplicationRule {
    pub class: ClassId,
    /// `class:NAME`, the conflict's rule id.
    pub rule_id: String,
    pub allowance: u32,
    pub grace_days: u32,
    pub message: String,
}

/// One age band of dose_limits.csv.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DoseBand {
    pub min_age: u32,
    pub max_age: u32,
    /// Canonical amount per day (patch limits: per hour).
    pub max_daily: u64,
    pub unit: DoseUnit,
    /// The limit as written, for messages.
    pub max_daily_text: String,
    /// This row's `reject_multiple` in millionths; 0 = the edit's.
    pub reject_multiple_micro: u64,
}

/// One row of elderly_high_risk.csv (the lowest `min_age` when a row repeats).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ElderlyRule {
    /// The ingredient, or every ingredient of a combination row, sorted.
    pub ingredients: Box<[IngredientId]>,
    /// The cell as written (`zolpidem`, `glyburide/metformin`): the conflict's rule id.
    pub rule_id: String,
    pub min_age: u32,
    pub message: String,
}

/// One row of age_limits.csv: the ingredient is contraindicated at these ages.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgeLimitRule {
    /// `ingredient:min-max`: the conflict's rule id.
    pub rule_id: String,
    pub min_age: u32,
    pub max_age: u32,
    pub message: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct IngredientInfo {
    pub name: Box<str>,
    pub classes: Vec<ClassId>,
    /// References (see [`reference_of_ingredient`]) that appear in some interaction.
    pub ddi_refs: Vec<u32>,
    /// Indexes into `duplication` of the rules of this ingredient's classes.
    pub duplication: Vec<u32>,
    /// Elderly rows whose first (lowest id) ingredient is this one.
    pub elderly: Vec<ElderlyRule>,
    /// age_limits.csv rows of this ingredient.
    pub age_limits: Vec<AgeLimitRule>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct ClassInfo {
    pub name: Box<str>,
    pub members: Vec<IngredientId>,
}

/// Rows per table, for summaries and metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TableCounts {
    pub products: usize,
    pub classes: usize,
    pub class_memberships: usize,
    pub ddi: usize,
    pub duplication: usize,
    pub dose_limits: usize,
    pub elderly_high_risk: usize,
    pub age_limits: usize,
    pub mme: usize,
}

/// A validated, compiled rule-table folder.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) policies: Policies,
    pub(crate) stamp: RulesetStamp,
    pub(crate) ingredients: Vec<IngredientInfo>,
    pub(crate) ingredient_ids: FxHashMap<Box<str>, IngredientId>,
    pub(crate) classes: Vec<ClassInfo>,
    pub(crate) class_ids: FxHashMap<Box<str>, ClassId>,
    pub(crate) products: Vec<Product>,
    pub(crate) product_index: FxHashMap<u64, u32>,
    pub(crate) ddi_rules: Vec<DdiRule>,
    /// Unordered reference pair ([`pair_key`]) → index into `ddi_rules`.
    pub(crate) ddi_pairs: FxHashMap<u64, u32>,
    pub(crate) duplication: Vec<DuplicationRule>,
    pub(crate) dose_bands: FxHashMap<(IngredientId, Route), Vec<DoseBand>>,
    pub(crate) acetaminophen: Option<IngredientId>,
    pub(crate) counts: TableCounts,
}

/// Reference of an ingredient in the interaction index.
pub(crate) fn reference_of_ingredient(id: IngredientId) -> u32 {
    id.saturating_mul(2)
}

/// Reference of a class in the interaction index.
pub(crate) fn reference_of_class(id: ClassId) -> u32 {
    id.saturating_mul(2).saturating_add(1)
}

/// Key of an unordered reference pair.
pub(crate) fn pair_key(a: u32, b: u32) -> u64 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    (u64::from(low) << 32) | u64::from(high)
}

impl RuleSet {
    /// `id@version`, stamped on every decision made with these tables.
    pub fn stamp(&self) -> RulesetStamp {
        self.stamp.clone()
    }

    pub fn id(&self) -> &str {
        &self.policies.id
    }

    pub fn version(&self) -> &str {
        &self.policies.version
    }

    pub fn effective_from(&self) -> Option<Date> {
        self.policies.effective_from
    }

    /// The folder's `schema` (1 or 2).
    pub fn schema(&self) -> u8 {
        self.policies.schema
    }

    /// Fills older than this (by date of service, relative to the claim's) are ignored.
    pub fn lookback_days(&self) -> u32 {
        self.policies.lookback_days
    }

    /// Extra days a fill counts as active after its supply runs out.
    pub fn active_grace_days(&self) -> u32 {
        self.policies.active_grace_days
    }

    /// The policy of `edit`, `None` when its (optional) table is absent.
    pub fn policy(&self, edit: Edit) -> Option<&EditPolicy> {
        self.policies
            .edits
            .get(edit as usize)
            .and_then(Option::as_ref)
    }

    /// Edits that run (enabled and not `off`), in edit order.
    pub fn enabled_edits(&self) -> Vec<Edit> {
        Edit::ALL
            .into_iter()
            .filter(|edit| self.policy(*edit).is_some_and(EditPolicy::runs))
            .collect()
    }

    /// Parameters of the optional edits.
    pub fn params(&self) -> &EditParams {
        &self.policies.params
    }

    pub fn product(&self, ndc: Ndc) -> Option<&Product> {
        let index = *self.product_index.get(&ndc.value())?;
        self.products.get(index as usize)
    }

    /// Every product, in file order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn counts(&self) -> TableCounts {
        self.counts
    }

    pub fn ingredient_name(&self, id: IngredientId) -> &str {
        self.ingredients
            .get(id as usize)
            .map_or("", |info| &info.name)
    }

    pub fn ingredient_id(&self, name: &str) -> Option<IngredientId> {
        self.ingredient_ids.get(name).copied()
    }

    /// Names of the classes `ingredient` belongs to (without the `class:` prefix).
    pub fn classes_of(&self, ingredient: &str) -> Vec<&str> {
        let Some(info) = self
            .ingredient_id(ingredient)
            .and_then(|id| self.ingredients.get(id as usize))
        else {
            return Vec::new();
        };
        info.classes
            .iter()
            .filter_map(|class| self.classes.get(*class as usize))
            .map(|c| &*c.name)
            .collect()
    }

    /// Ingredient names of a class (`STATIN` or `class:STATIN`); `None` for an unknown class.
    pub fn class_members(&self, class: &str) -> Option<Vec<&str>> {
        let name = class.strip_prefix("class:").unwrap_or(class);
        let info = self.classes.get(*self.class_ids.get(name)? as usize)?;
        Some(
            info.members
                .iter()
                .map(|id| self.ingredient_name(*id))
                .collect(),
        )
    }

    /// Every class name, in first-seen order.
    pub fn class_names(&self) -> Vec<&str> {
        self.classes.iter().map(|class| &*class.name).collect()
    }

    pub(crate) fn info(&self, id: IngredientId) -> Option<&IngredientInfo> {
        self.ingredients.get(id as usize)
    }

    /// Index into `ddi_rules` of the interaction between two ingredients: the most severe when
    /// several rows match, the earlier row on a tie.
    pub(crate) fn interaction(&self, a: IngredientId, b: IngredientId) -> Option<u32> {
        let (left, right) = (self.info(a)?, self.info(b)?);
        let mut best: Option<(u8, u32)> = None;
        for left_ref in &left.ddi_refs {
            for right_ref in &right.ddi_refs {
                let Some(index) = self.ddi_pairs.get(&pair_key(*left_ref, *right_ref)) else {
                    continue;
                };
                let severity = self
                    .ddi_rules
                    .get(*index as usize)
                    .map_or(u8::MAX, |rule| rule.severity);
                if best.is_none_or(|held| (severity, *index) < held) {
                    best = Some((severity, *index));
                }
            }
        }
        best.map(|(_, index)| index)
    }
}
