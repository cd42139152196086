//! Loading a rule-table folder from its file contents: validate every rule of
//! `docs/rule-tables.md`, then build the hot-path indexes of [`RuleSet`].
//!
//! Place in the data flow: the shell reads the folder into a [`RuleSource`] (bytes per file
//! name) and calls [`compile`]; the result is swapped in by [`super::LiveRules`]. Must never do
//! I/O, and never return a partial `RuleSet`: any error refuses the whole folder.
//!
//! Choices where the format is silent:
//! - classes.csv may write its class cell as `NAME` or `class:NAME`; duplication.csv must write
//!   `class:NAME`.
//! - A repeated class membership, or a repeated ddi pair with the *same* severity, is
//!   harmless and kept once. A class with two duplication rows, an (ingredient, route) with two
//!   MME factors, or an ingredient named twice in one product is an error (rule 2).
//! - Well-formedness (rule 2) covers everything that cannot be read; rule 5 covers values that
//!   can be read but are out of range (severity, allowance, grace days, zero strengths, doses
//!   and factors). An age band whose `min_age` is above its `max_age` breaks rule 6.
//! - An elderly list naming an ingredient twice keeps the lowest `min_age`. A row may name a
//!   combination (`glyburide/metformin`): it then applies to products holding all of them.

use super::csv_table::{optional, read, required, Column, Row};
use super::error::{TableError, TableErrors};
use super::policy::{self, PolicyDraft};
use super::ruleset::*;
use super::units::{parse_decimal_micro, DoseUnit, Route, StrengthUnit};
use crate::claim::Ndc;
use crate::limits;
use rustc_hash::{FxHashMap, FxHashSet};

/// The files of one rule-table folder, by name. Files not named in the format are ignored.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RuleSource {
    pub files: Vec<(String, Vec<u8>)>,
}

impl RuleSource {
    /// The contents of `name`, if present.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(file, _)| file == name)
            .map(|(_, bytes)| bytes.as_slice())
    }

    /// Adds or replaces one file.
    pub fn set(&mut self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.files.retain(|(file, _)| file != name);
        self.files.push((name.to_string(), bytes.into()));
    }
}

pub const RULESET_FILE: &str = "ruleset.toml";
pub const PRODUCTS_FILE: &str = "products.csv";
pub const CLASSES_FILE: &str = "classes.csv";
pub const DDI_FILE: &str = "ddi.csv";
pub const DUPLICATION_FILE: &str = "duplication.csv";
pub const DOSE_LIMITS_FILE: &str = "dose_limits.csv";
pub const ELDERLY_FILE: &str = "elderly_high_risk.csv";
pub const MME_FILE: &str = "mme.csv";
pub const AGE_LIMITS_FILE: &str = "age_limits.csv";

/// Files a folder may hold or leave out (schema 2): an absent file has no rows.
pub const OPTIONAL_FILES: [&str; 1] = [AGE_LIMITS_FILE];

/// Every file a folder must hold (rule 1).
pub const FILES: [&str; 8] = [
    RULESET_FILE,
    PRODUCTS_FILE,
    CLASSES_FILE,
    DDI_FILE,
    DUPLICATION_FILE,
    DOSE_LIMITS_FILE,
    ELDERLY_FILE,
    MME_FILE,
];

/// An error located at the start of `file`.
pub fn file_error(file: &str, rule: u8, message: String) -> TableError {
    TableError {
        file: file.to_string(),
        line: 1,
        column: 1,
        rule,
        message,
    }
}

/// Reads one CSV table into the builder.
type TableStep = fn(&mut Builder, &[u8], &mut TableErrors);

/// Validates every file of `source` and compiles them; all-or-nothing.
pub fn compile(source: &RuleSource) -> Result<RuleSet, TableErrors> {
    let mut errors = TableErrors::default();
    let file = |name: &str, errors: &mut TableErrors| present(source, name, errors);
    let draft = file(RULESET_FILE, &mut errors).and_then(|text| policy::parse(text, &mut errors));
    let mut builder = Builder::default();
    let steps: [(&str, TableStep); 7] = [
        (CLASSES_FILE, Builder::classes),
        (PRODUCTS_FILE, Builder::products),
        (DDI_FILE, Builder::ddi),
        (DUPLICATION_FILE, Builder::duplication),
        (DOSE_LIMITS_FILE, Builder::dose_limits),
        (ELDERLY_FILE, Builder::elderly),
        (MME_FILE, Builder::mme),
    ];
    for (name, step) in steps {
        if let Some(bytes) = file(name, &mut errors) {
            step(&mut builder, bytes, &mut errors);
        }
    }
    if source.file(AGE_LIMITS_FILE).is_some() {
        if let Some(bytes) = file(AGE_LIMITS_FILE, &mut errors) {
            builder.age_limits(bytes, &mut errors);
        }
    }
    if let Some(draft) = &draft {
        builder.check_benzodiazepine(draft, &mut errors);
        builder.check_opioids(draft, &mut errors);
    }
    match draft {
        Some(draft) if errors.is_empty() => Ok(builder.finish(draft)),
        _ => Err(errors),
    }
}

fn present<'s>(source: &'s RuleSource, name: &str, errors: &mut TableErrors) -> Option<&'s [u8]> {
    let Some(bytes) = source.file(name) else {
        errors.push(file_error(name, 1, "required file is missing".into()));
        return None;
    };
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits::RULE_TABLE_FILE_BYTES_MAX {
        let message = format!(
            "file is larger than {} bytes",
            limits::RULE_TABLE_FILE_BYTES_MAX
        );
        errors.push(file_error(name, 2, message));
        return None;
    }
    Some(bytes)
}

// ---- names and references -------------------------------------------------------------------

/// A lower-case ingredient name: not empty, no `/`, no upper case, no control characters.
fn is_ingredient_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with("class:")
        && !text
            .chars()
            .any(|c| c == '/' || c.is_uppercase() || c.is_control())
}

/// An upper snake case class name.
fn is_class_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A reference cell resolved against the classes read so far.
enum Reference {
    Ingredient(IngredientId),
    Class(ClassId),
}

fn whole(text: &str) -> Option<u32> {
    (text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

// ---- the builder ----------------------------------------------------------------------------

#[derive(Default)]
struct Builder {
    ingredients: Vec<IngredientInfo>,
    ingredient_ids: FxHashMap<Box<str>, IngredientId>,
    classes: Vec<ClassInfo>,
    class_ids: FxHashMap<Box<str>, ClassId>,
    products: Vec<Product>,
    product_lines: FxHashMap<u64, u32>,
    ddi_rules: Vec<DdiRule>,
    ddi_pairs: FxHashMap<u64, u32>,
    ddi_lines: Vec<u32>,
    ddi_ids: FxHashMap<String, u32>,
    duplication: Vec<DuplicationRule>,
    duplication_lines: FxHashMap<ClassId, u32>,
    dose_bands: FxHashMap<(IngredientId, Route), Vec<(DoseBand, TableError)>>,
    mme: FxHashMap<(IngredientId, Route), (u64, u32)>,
    counts: TableCounts,
}

impl Builder {
    fn ingredient(&mut self, name: &str) -> IngredientId {
        if let Some(id) = self.ingredient_ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.ingredients.len()).unwrap_or(u32::MAX);
        self.ingredients.push(IngredientInfo {
            name: name.into(),
            ..IngredientInfo::default()
        });
        self.ingredient_ids.insert(name.into(), id);
        id
    }

    fn class(&mut self, name: &str) -> ClassId {
        if let Some(id) = self.class_ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.classes.len()).unwrap_or(u32::MAX);
        self.classes.push(ClassInfo {
            name: name.into(),
            members: Vec::new(),
        });
        self.class_ids.insert(name.into(), id);
        id
    }

    /// An ingredient cell (rule 2 when malformed).
    fn ingredient_cell(
        &mut self,
        row: &Row,
        column: usize,
        errors: &mut TableErrors,
    ) -> Option<IngredientId> {
        let text = row.text(column);
        if is_ingredient_name(text) {
            return Some(self.ingredient(text));
        }
        errors.push(row.error(
            column,
            2,
            format!("{text:?} is not a lower-case ingredient name"),
        ));
        None
    }

    /// An ingredient or `class:NAME` cell; the class must exist (rule 4).
    fn reference_cell(
        &mut self,
        row: &Row,
        column: usize,
        errors: &mut TableErrors,
    ) -> Option<Reference> {
        let text = row.text(column);
        let Some(name) = text.strip_prefix("class:") else {
            return self
                .ingredient_cell(row, column, errors)
                .map(Reference::Ingredient);
        };
        if !is_class_name(name) {
            errors.push(row.error(column, 2, format!("{text:?} is not class:UPPER_SNAKE_CASE")));
            return None;
        }
        let Some(id) = self.class_ids.get(name) else {
            errors.push(row.error(column, 4, format!("{text} is not in classes.csv")));
            return None;
        };
        Some(Reference::Class(*id))
    }

    // ---- classes.csv ----

    fn classes(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 2] = [required("class"), required("ingredient")];
        read(CLASSES_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.class_row(row, errors)
        });
    }

    fn class_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let text = row.text(0);
        let name = text.strip_prefix("class:").unwrap_or(text);
        if !is_class_name(name) {
            return errors.push(row.error(
                0,
                2,
                format!("{text:?} is not an UPPER_SNAKE_CASE class name"),
            ));
        }
        let Some(ingredient) = self.ingredient_cell(row, 1, errors) else {
            return;
        };
        let class = self.class(name);
        let Some(info) = self.ingredients.get_mut(ingredient as usize) else {
            return;
        };
        if info.classes.contains(&class) {
            return;
        }
        if info.classes.len() >= limits::CLASSES_PER_INGREDIENT_MAX {
            let message = format!(
                "ingredient is in more than {} classes",
                limits::CLASSES_PER_INGREDIENT_MAX
            );
            return errors.push(row.error(1, 2, message));
        }
        info.classes.push(class);
        if let Some(class_info) = self.classes.get_mut(class as usize) {
            class_info.members.push(ingredient);
        }
        self.counts.class_memberships += 1;
    }

    // ---- products.csv ----

    fn products(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 12] = [
            required("ndc"),
            required("ingredients"),
            required("strengths"),
            required("strength_unit"),
            optional("dose_form"),
            required("route"),
            optional("dea_schedule"),
            optional("long_acting"),
            optional("name"),
            optional("generic"),
            optional("wear_hours"),
            optional("package_quantity"),
        ];
        read(PRODUCTS_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.product_row(row, errors)
        });
    }

    fn product_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let before = errors.total();
        let ndc = self.ndc_cell(row, errors);
        let ingredients = self.product_ingredients(row, errors);
        let unit = StrengthUnit::parse(row.text(3));
        if unit.is_none() {
            errors.push(row.error(
                3,
                2,
                format!(
                    "strength_unit {:?} is not one of mg, mcg, g, mg/mL, mcg/hr, unit",
                    row.text(3)
                ),
            ));
        }
        let strengths = unit.and_then(|unit| strengths(row, unit, ingredients.len(), errors));
        let route = route_cell(row, 5, errors);
        let dea_schedule = schedule_cell(row, errors);
        let long_acting = yes_no_cell(row, 7, errors);
        let generic = known_yes_no_cell(row, 9, errors);
        let wear_hours = unit.and_then(|unit| wear_hours_cell(row, 10, unit, errors));
        let package_quantity_micro = package_quantity_cell(row, 11, errors);
        let (Some(ndc), Some(unit), Some(strengths), Some(route), Some(generic), Some(wear_hours)) =
            (ndc, unit, strengths, route, generic, wear_hours)
        else {
            return;
        };
        if errors.total() != before {
            return;
        }
        let parts = ingredients
            .iter()
            .zip(strengths)
            .map(|(id, strength)| ProductIngredient {
                ingredient: *id,
                strength,
                mme_factor_micro: None,
            });
        let mut ingredient_set = ingredients.clone();
        ingredient_set.sort_unstable();
        self.products.push(Product {
            ndc,
            name: row.text(8).to_string(),
            dose_form: row.text(4).to_string(),
            ingredients: parts.collect(),
            ingredient_set: ingredient_set.into(),
            unit,
            route,
            dea_schedule: dea_schedule.flatten(),
            long_acting: long_acting.unwrap_or(false),
            generic,
            opioid: false,
            benzodiazepine: false,
            interacts: false,
            wear_hours,
            package_quantity_micro,
            drug_product: 0,
        });
    }

    fn ndc_cell(&mut self, row: &Row, errors: &mut TableErrors) -> Option<Ndc> {
        let text = row.text(0);
        let Some(ndc) = Ndc::parse(text.as_bytes()) else {
            errors.push(row.error(0, 3, format!("ndc {text:?} is not 11 digits")));
            return None;
        };
        if let Some(line) = self.product_lines.get(&ndc.value()) {
            errors.push(row.error(0, 3, format!("ndc {ndc} repeats line {line}")));
            return None;
        }
        self.product_lines.insert(ndc.value(), row.line());
        Some(ndc)
    }

    fn product_ingredients(&mut self, row: &Row, errors: &mut TableErrors) -> Vec<IngredientId> {
        let text = row.text(1);
        let names: Vec<&str> = text
            .split('/')
            .map(str::trim)
            .take(limits::PRODUCT_INGREDIENTS_MAX + 1)
            .collect();
        if names.len() > limits::PRODUCT_INGREDIENTS_MAX {
            errors.push(row.error(
                1,
                2,
                format!("more than {} ingredients", limits::PRODUCT_INGREDIENTS_MAX),
            ));
            return Vec::new();
        }
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            if !is_ingredient_name(name) {
                errors.push(row.error(
                    1,
                    2,
                    format!("{name:?} is not a lower-case ingredient name"),
                ));
            } else if ids.contains(&self.ingredient(name)) {
                errors.push(row.error(1, 2, format!("ingredient {name} appears twice")));
            } else {
                ids.push(self.ingredient(name));
            }
        }
        ids
    }

    // ---- ddi.csv ----

    fn ddi(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 6] = [
            required("id"),
            required("left"),
            required("right"),
            required("severity"),
            required("message"),
            optional("washout_days"),
        ];
        read(DDI_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.ddi_row(row, errors)
        });
    }

    fn ddi_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let id = row.text(0);
        if let Some(line) = self.ddi_ids.get(id) {
            errors.push(row.error(0, 7, format!("id {id} repeats line {line}")));
        }
        let left = self.reference_cell(row, 1, errors);
        let right = self.reference_cell(row, 2, errors);
        let severity = whole(row.text(3)).filter(|s| (1..=3).contains(s));
        if severity.is_none() {
            errors.push(row.error(3, 5, format!("severity {:?} is not 1, 2 or 3", row.text(3))));
        }
        let washout_days =
            optional_days(row, 5, "washout_days", limits::DDI_WASHOUT_DAYS_MAX, errors);
        let (Some(left), Some(right), Some(severity), Some(washout_days)) =
            (left, right, severity, washout_days)
        else {
            return;
        };
        if self.ddi_ids.contains_key(id) {
            return;
        }
        self.ddi_ids.insert(id.to_string(), row.line());
        let key = pair_key(reference(&left), reference(&right));
        if let Some(index) = self.ddi_pairs.get(&key) {
            return self.repeated_pair(row, *index, severity as u8, errors);
        }
        let index = u32::try_from(self.ddi_rules.len()).unwrap_or(u32::MAX);
        self.ddi_pairs.insert(key, index);
        self.ddi_lines.push(row.line());
        let message = row.text(4).to_string();
        self.ddi_rules.push(DdiRule {
            id: id.to_string(),
            severity: severity as u8,
            message,
            washout_days,
        });
    }

    fn repeated_pair(&mut self, row: &Row, index: u32, severity: u8, errors: &mut TableErrors) {
        let Some(held) = self.ddi_rules.get(index as usize) else {
            return;
        };
        if held.severity != severity {
            let line = self.ddi_lines.get(index as usize).copied().unwrap_or(0);
            let message = format!(
                "pair repeats line {line} with severity {} instead of {severity}",
                held.severity
            );
            errors.push(row.error(3, 7, message));
        }
    }

    // ---- duplication.csv ----

    fn duplication(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 4] = [
            required("class"),
            required("allowance"),
            optional("grace_days"),
            required("message"),
        ];
        read(DUPLICATION_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.duplication_row(row, errors)
        });
    }

    fn duplication_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let class = if row.text(0).starts_with("class:") {
            self.reference_cell(row, 0, errors)
        } else {
            errors.push(row.error(
                0,
                2,
                format!("class {:?} must be written class:NAME", row.text(0)),
            ));
            None
        };
        let allowance = whole_cell(row, 1, "allowance", errors);
        let grace_days = if row.text(2).is_empty() {
            Some(0)
        } else {
            whole_cell(row, 2, "grace_days", errors)
        };
        let (Some(Reference::Class(class)), Some(allowance), Some(grace_days)) =
            (class, allowance, grace_days)
        else {
            return;
        };
        if let Some(line) = self.duplication_lines.get(&class) {
            return errors.push(row.error(
                0,
                2,
                format!("{} already has a row on line {line}", row.text(0)),
            ));
        }
        self.duplication_lines.insert(class, row.line());
        self.duplication.push(DuplicationRule {
            class,
            rule_id: row.text(0).to_string(),
            allowance,
            grace_days,
            message: row.text(3).to_string(),
        });
    }

    // ---- dose_limits.csv ----

    fn dose_limits(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 7] = [
            required("ingredient"),
            required("route"),
            required("min_age"),
            required("max_age"),
            required("max_daily"),
            required("unit"),
            optional("reject_multiple"),
        ];
        read(DOSE_LIMITS_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.dose_row(row, errors)
        });
        self.check_band_overlaps(errors);
    }

    fn dose_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let ingredient = self.ingredient_cell(row, 0, errors);
        let route = route_cell(row, 1, errors);
        let min_age = age_cell(row, 2, errors);
        let max_age = age_cell(row, 3, errors);
        let unit = DoseUnit::parse(row.text(5));
        if unit.is_none() {
            errors.push(row.error(
                5,
                2,
                format!(
                    "unit {:?} is not one of mg, mcg, g, mcg/hr, unit",
                    row.text(5)
                ),
            ));
        }
        let max_daily = unit
            .and_then(|unit| positive_amount(row, 4, "max_daily", |m| unit.canonical(m), errors));
        let reject_multiple = reject_multiple_cell(row, 6, errors);
        let (
            Some(ingredient),
            Some(route),
            Some(min_age),
            Some(max_age),
            Some(unit),
            Some(max_daily),
            Some(reject_multiple_micro),
        ) = (
            ingredient,
            route,
            min_age,
            max_age,
            unit,
            max_daily,
            reject_multiple,
        )
        else {
            return;
        };
        if min_age > max_age {
            return errors.push(row.error(2, 6, format!("age band {min_age}..{max_age} is empty")));
        }
        let band = DoseBand {
            min_age,
            max_age,
            max_daily,
            unit,
            max_daily_text: row.text(4).to_string(),
            reject_multiple_micro,
        };
        let at = row.error(2, 6, String::new());
        self.dose_bands
            .entry((ingredient, route))
            .or_default()
            .push((band, at));
        self.counts.dose_limits += 1;
    }

    fn check_band_overlaps(&mut self, errors: &mut TableErrors) {
        let mut overlaps = Vec::new();
        for ((ingredient, route), bands) in &mut self.dose_bands {
            bands.sort_by_key(|(band, at)| (band.min_age, at.line));
            for pair in bands.windows(2) {
                let [(earlier, earlier_at), (later, later_at)] = pair else {
                    continue;
                };
                if later.min_age <= earlier.max_age {
                    let name = self
                        .ingredients
                        .get(*ingredient as usize)
                        .map_or("", |info| &info.name);
                    let message = format!(
                        "{name} {} band {}..{} overlaps {}..{} on line {}",
                        route.as_str(),
                        later.min_age,
                        later.max_age,
                        earlier.min_age,
                        earlier.max_age,
                        earlier_at.line
                    );
                    overlaps.push(TableError {
                        message,
                        ..later_at.clone()
                    });
                }
            }
        }
        overlaps.sort_by_key(|error| error.line);
        overlaps.into_iter().for_each(|error| errors.push(error));
    }

    // ---- elderly_high_risk.csv ----

    fn elderly(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 3] = [
            required("ingredient"),
            required("min_age"),
            required("message"),
        ];
        read(ELDERLY_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.elderly_row(row, errors)
        });
    }

    fn elderly_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let ingredients = self.ingredient_set_cell(row, 0, errors);
        let min_age = age_cell(row, 1, errors);
        let (Some(ingredients), Some(min_age)) = (ingredients, min_age) else {
            return;
        };
        let first = ingredients.first().copied().unwrap_or(0);
        let Some(info) = self.ingredients.get_mut(first as usize) else {
            return;
        };
        let rule_id = row.text(0).to_string();
        let message = row.text(2).to_string();
        let rule = ElderlyRule {
            ingredients,
            rule_id,
            min_age,
            message,
        };
        match info
            .elderly
            .iter_mut()
            .find(|held| held.ingredients == rule.ingredients)
        {
            Some(held) if held.min_age > min_age => *held = rule,
            Some(_) => {}
            None => {
                info.elderly.push(rule);
                self.counts.elderly_high_risk += 1;
            }
        }
    }

    // ---- age_limits.csv ----

    fn age_limits(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 4] = [
            required("ingredient"),
            required("min_age"),
            required("max_age"),
            required("message"),
        ];
        read(AGE_LIMITS_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.age_limit_row(row, errors)
        });
    }

    fn age_limit_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let ingredient = self.ingredient_cell(row, 0, errors);
        let min_age = age_cell(row, 1, errors);
        let max_age = age_cell(row, 2, errors);
        let (Some(ingredient), Some(min_age), Some(max_age)) = (ingredient, min_age, max_age)
        else {
            return;
        };
        if min_age > max_age {
            return errors.push(row.error(1, 6, format!("age band {min_age}..{max_age} is empty")));
        }
        let Some(info) = self.ingredients.get_mut(ingredient as usize) else {
            return;
        };
        if info.age_limits.len() >= limits::AGE_LIMITS_PER_INGREDIENT_MAX {
            let message = format!(
                "more than {} rows for {}",
                limits::AGE_LIMITS_PER_INGREDIENT_MAX,
                row.text(0)
            );
            return errors.push(row.error(0, 2, message));
        }
        info.age_limits.push(AgeLimitRule {
            rule_id: format!("{}:{min_age}-{max_age}", row.text(0)),
            min_age,
            max_age,
            message: row.text(3).to_string(),
        });
        self.counts.age_limits += 1;
    }

    /// An ingredient, or a `/`-joined combination, as a sorted set of ids.
    fn ingredient_set_cell(
        &mut self,
        row: &Row,
        column: usize,
        errors: &mut TableErrors,
    ) -> Option<Box<[IngredientId]>> {
        let names: Vec<&str> = row
            .text(column)
            .split('/')
            .map(str::trim)
            .take(limits::PRODUCT_INGREDIENTS_MAX + 1)
            .collect();
        if names.len() > limits::PRODUCT_INGREDIENTS_MAX
            || !names.iter().all(|name| is_ingredient_name(name))
        {
            let message = format!(
                "{:?} is not a lower-case ingredient or a/b combination",
                row.text(column)
            );
            errors.push(row.error(column, 2, message));
            return None;
        }
        let mut ids: Vec<IngredientId> = names
            .into_iter()
            .map(|name| self.ingredient(name))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Some(ids.into())
    }

    // ---- mme.csv ----

    fn mme(&mut self, bytes: &[u8], errors: &mut TableErrors) {
        const COLUMNS: [Column; 3] = [
            required("ingredient"),
            required("route"),
            required("factor"),
        ];
        read(MME_FILE, bytes, &COLUMNS, errors, |row, errors| {
            self.mme_row(row, errors)
        });
    }

    fn mme_row(&mut self, row: &Row, errors: &mut TableErrors) {
        let ingredient = self.ingredient_cell(row, 0, errors);
        let route = route_cell(row, 1, errors);
        let factor = positive_amount(row, 2, "factor", Some, errors);
        let (Some(ingredient), Some(route), Some(factor)) = (ingredient, route, factor) else {
            return;
        };
        if let Some((_, line)) = self.mme.get(&(ingredient, route)) {
            return errors.push(row.error(
                0,
                2,
                format!("ingredient and route repeat line {line}"),
            ));
        }
        self.mme.insert((ingredient, route), (factor, row.line()));
    }

    // ---- cross-file checks and the final indexes ----

    fn check_benzodiazepine(&mut self, draft: &PolicyDraft, errors: &mut TableErrors) {
        let Some(at) = draft.benzodiazepine_at else {
            return;
        };
        self.check_reference(&draft.policies.params.with_benzodiazepine, at, errors);
    }

    /// Rule 10: with the opioid edit enabled, a schema-2 folder names its opioids, and every
    /// product holding an opioid has an MME factor for that ingredient and the product's route
    /// (fail closed at load, never silently at the counter).
    fn check_opioids(&mut self, draft: &PolicyDraft, errors: &mut TableErrors) {
        let params = &draft.policies.params;
        if let (Some(text), Some(at)) = (&params.opioids, draft.opioids_at) {
            self.check_reference(text, at, errors);
        }
        let Some((line, column)) = draft.opioid_enabled_at else {
            return;
        };
        if draft.policies.schema >= 2 && params.opioids.is_none() {
            let message = "a schema-2 folder with the opioid edit enabled must set opioids".into();
            let file = policy::FILE.to_string();
            errors.push(TableError {
                file,
                line,
                column,
                rule: 10,
                message,
            });
        }
        let opioids = self.opioid_ingredients(params.opioids.as_deref());
        for product in &self.products {
            let line = self
                .product_lines
                .get(&product.ndc.value())
                .copied()
                .unwrap_or(1);
            for part in product
                .ingredients
                .iter()
                .filter(|p| opioids.contains(&p.ingredient))
            {
                if !self.mme.contains_key(&(part.ingredient, product.route)) {
                    let name = self
                        .ingredients
                        .get(part.ingredient as usize)
                        .map_or("", |i| &*i.name);
                    let message = format!(
                        "opioid {name} has no mme.csv factor for route {}",
                        product.route.as_str()
                    );
                    let file = PRODUCTS_FILE.to_string();
                    errors.push(TableError {
                        file,
                        line,
                        column: 1,
                        rule: 10,
                        message,
                    });
                }
            }
        }
    }

    /// The opioid ingredients: members of `opioids`, or (schema 1 without it) mme.csv's.
    fn opioid_ingredients(&self, opioids: Option<&str>) -> FxHashSet<IngredientId> {
        match opioids {
            Some(reference) => self.members(reference).into_iter().collect(),
            None => self.mme.keys().map(|(ingredient, _)| *ingredient).collect(),
        }
    }

    /// Checks that `text` is `class:NAME` of an existing class (rule 4) or an ingredient name.
    fn check_reference(&self, text: &str, (line, column): (u32, u32), errors: &mut TableErrors) {
        let problem = match text.strip_prefix("class:") {
            Some(name) if !self.class_ids.contains_key(name) => {
                Some((4, format!("{text} is not in classes.csv")))
            }
            None if !is_ingredient_name(text) => {
                Some((2, format!("{text:?} is not class:NAME or an ingredient")))
            }
            _ => None,
        };
        if let Some((rule, message)) = problem {
            let file = policy::FILE.to_string();
            errors.push(TableError {
                file,
                line,
                column,
                rule,
                message,
            });
        }
    }

    fn finish(mut self, draft: PolicyDraft) -> RuleSet {
        self.index_ingredients();
        group_drug_products(&mut self.products);
        let params = &draft.policies.params;
        let benzodiazepines = self.members(&params.with_benzodiazepine);
        let opioids = self.opioid_ingredients(params.opioids.as_deref());
        self.flag_products(&benzodiazepines, &opioids);
        self.counts.products = self.products.len();
        self.counts.classes = self.classes.len();
        self.counts.ddi = self.ddi_rules.len();
        self.counts.duplication = self.duplication.len();
        self.counts.mme = self.mme.len();
        let policies = draft.policies;
        let stamp = format!("{}@{}", policies.id, policies.version).into();
        let product_index = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.ndc.value(), i as u32))
            .collect();
        RuleSet {
            stamp,
            acetaminophen: self.ingredient_ids.get("acetaminophen").copied(),
            policies,
            ingredients: self.ingredients,
            ingredient_ids: self.ingredient_ids,
            classes: self.classes,
            class_ids: self.class_ids,
            products: self.products,
            product_index,
            ddi_rules: self.ddi_rules,
            ddi_pairs: self.ddi_pairs,
            duplication: self.duplication,
            dose_bands: self
                .dose_bands
                .into_iter()
                .map(|(key, bands)| (key, bands.into_iter().map(|(b, _)| b).collect()))
                .collect(),
            counts: self.counts,
        }
    }

    /// Per ingredient: the interaction references it carries and its duplication rules.
    fn index_ingredients(&mut self) {
        let mut in_ddi = FxHashSet::default();
        for key in self.ddi_pairs.keys() {
            in_ddi.insert((key >> 32) as u32);
            in_ddi.insert(*key as u32);
        }
        let rules_of_class: FxHashMap<ClassId, u32> = self
            .duplication
            .iter()
            .enumerate()
            .map(|(index, rule)| (rule.class, index as u32))
            .collect();
        for (id, info) in self.ingredients.iter_mut().enumerate() {
            let own = reference_of_ingredient(id as u32);
            let classes = info.classes.iter().map(|class| reference_of_class(*class));
            info.ddi_refs = std::iter::once(own)
                .chain(classes)
                .filter(|r| in_ddi.contains(r))
                .collect();
            info.duplication = info
                .classes
                .iter()
                .filter_map(|class| rules_of_class.get(class).copied())
                .collect();
        }
    }

    /// Ingredients matching a `class:NAME` or ingredient reference of `ruleset.toml`.
    fn members(&self, reference: &str) -> Vec<IngredientId> {
        match reference.strip_prefix("class:") {
            Some(name) => self
                .class_ids
                .get(name)
                .and_then(|id| self.classes.get(*id as usize))
                .map_or_else(Vec::new, |class| class.members.clone()),
            None => self
                .ingredient_ids
                .get(reference)
                .map_or_else(Vec::new, |id| vec![*id]),
        }
    }

    fn flag_products(
        &mut self,
        benzodiazepines: &[IngredientId],
        opioids: &FxHashSet<IngredientId>,
    ) {
        for product in &mut self.products {
            for part in product.ingredients.iter_mut() {
                part.mme_factor_micro = self
                    .mme
                    .get(&(part.ingredient, product.route))
                    .map(|(factor, _)| *factor);
            }
            let ids = || product.ingredients.iter().map(|part| part.ingredient);
            product.opioid = ids().any(|id| opioids.contains(&id));
            product.benzodiazepine = ids().any(|id| benzodiazepines.contains(&id));
            product.interacts = ids().any(|id| {
                self.ingredients
                    .get(id as usize)
                    .is_some_and(|info| !info.ddi_refs.is_empty())
            });
        }
    }
}

fn reference(reference: &Reference) -> u32 {
    match reference {
        Reference::Ingredient(id) => reference_of_ingredient(*id),
        Reference::Class(id) => reference_of_class(*id),
    }
}

// ---- cell readers ---------------------------------------------------------------------------

fn strengths(
    row: &Row,
    unit: StrengthUnit,
    ingredients: usize,
    errors: &mut TableErrors,
) -> Option<Vec<u64>> {
    let texts: Vec<&str> = row
        .text(2)
        .split('/')
        .map(str::trim)
        .take(limits::PRODUCT_INGREDIENTS_MAX + 1)
        .collect();
    if texts.len() != ingredients {
        let plural = if texts.len() == 1 { "value" } else { "values" };
        let message = format!(
            "strengths has {} {plural} for {ingredients} ingredients",
            texts.len()
        );
        errors.push(row.error(2, 3, message));
        return None;
    }
    let values: Vec<Option<u64>> = texts
        .iter()
        .map(|text| parse_decimal_micro(text).and_then(|m| unit.canonical(m)))
        .collect();
    if let Some(bad) = texts.iter().zip(&values).find(|(_, value)| value.is_none()) {
        errors.push(row.error(
            2,
            2,
            format!("strength {:?} is not a decimal number", bad.0),
        ));
        return None;
    }
    if values.contains(&Some(0)) {
        errors.push(row.error(2, 5, "strengths must be greater than 0".into()));
        return None;
    }
    values.into_iter().collect()
}

fn route_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<Route> {
    let route = Route::parse(row.text(column));
    if route.is_none() {
        errors.push(row.error(
            column,
            2,
            format!("route {:?} is not a known route", row.text(column)),
        ));
    }
    route
}

fn schedule_cell(row: &Row, errors: &mut TableErrors) -> Option<Option<u8>> {
    let text = row.text(6);
    match text {
        "" => Some(None),
        "2" | "3" | "4" | "5" => Some(text.parse().ok()),
        _ => {
            errors.push(row.error(6, 2, format!("dea_schedule {text:?} is not 2..5 or empty")));
            None
        }
    }
}

fn yes_no_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<bool> {
    match row.text(column) {
        "" | "N" => Some(false),
        "Y" => Some(true),
        other => {
            errors.push(row.error(column, 2, format!("{other:?} is not Y or N")));
            None
        }
    }
}

/// A `Y`/`N` cell where empty means "not known": `Some(None)`; `None` after an error.
fn known_yes_no_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<Option<bool>> {
    match row.text(column) {
        "" => Some(None),
        _ => yes_no_cell(row, column, errors).map(Some),
    }
}

fn age_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<u32> {
    let text = row.text(column);
    let Some(age) = whole(text) else {
        let message = format!("age {text:?} is not a whole number of years");
        errors.push(row.error(column, 2, message));
        return None;
    };
    if age > limits::AGE_YEARS_MAX {
        let message = format!("age {age} is outside 0..{}", limits::AGE_YEARS_MAX);
        errors.push(row.error(column, 6, message));
        return None;
    }
    Some(age)
}

fn whole_cell(row: &Row, column: usize, name: &str, errors: &mut TableErrors) -> Option<u32> {
    let value = whole(row.text(column));
    if value.is_none() {
        errors.push(row.error(
            column,
            5,
            format!("{name} {:?} is not a whole number >= 0", row.text(column)),
        ));
    }
    value
}

/// An optional whole number of days, 0..=`max` (empty: 0); rule 5 otherwise.
fn optional_days(
    row: &Row,
    column: usize,
    name: &str,
    max: u32,
    errors: &mut TableErrors,
) -> Option<u32> {
    let text = row.text(column);
    if text.is_empty() {
        return Some(0);
    }
    let value = whole(text).filter(|days| *days <= max);
    if value.is_none() {
        errors.push(row.error(
            column,
            5,
            format!("{name} {text:?} is not a whole number 0..={max}"),
        ));
    }
    value
}

/// `package_quantity`: empty, or a decimal > 0 (rule 5; unreadable: rule 2), in millionths.
fn package_quantity_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<u64> {
    let text = row.text(column);
    if text.is_empty() {
        return None;
    }
    let parsed = parse_decimal_micro(text);
    match parsed {
        Some(micro) if micro > 0 => Some(micro),
        Some(_) => {
            errors.push(row.error(column, 5, "package_quantity must be > 0".into()));
            None
        }
        None => {
            let message = format!("package_quantity {text:?} is not a decimal number");
            errors.push(row.error(column, 2, message));
            None
        }
    }
}

/// `wear_hours`: only on `mcg/hr` rows, a whole number 1..=[`limits::PATCH_WEAR_HOURS_MAX`]
/// (empty: [`limits::PATCH_WEAR_HOURS_DEFAULT`]); rule 5 otherwise. Other units read 0.
fn wear_hours_cell(
    row: &Row,
    column: usize,
    unit: StrengthUnit,
    errors: &mut TableErrors,
) -> Option<u32> {
    let text = row.text(column);
    let patch = unit == StrengthUnit::McgPerHr;
    let value = match (text.is_empty(), patch) {
        (true, true) => Some(limits::PATCH_WEAR_HOURS_DEFAULT),
        (true, false) => Some(0),
        (false, true) => whole(text).filter(|h| (1..=limits::PATCH_WEAR_HOURS_MAX).contains(h)),
        (false, false) => None,
    };
    if value.is_none() {
        let message = if patch {
            format!(
                "wear_hours {text:?} is not a whole number 1..={}",
                limits::PATCH_WEAR_HOURS_MAX
            )
        } else {
            "wear_hours is only for mcg/hr products".to_string()
        };
        errors.push(row.error(column, 5, message));
    }
    value
}

/// An optional `reject_multiple` cell in millionths (empty: 0 = the edit's); rule 5 below 1.
fn reject_multiple_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<u64> {
    let text = row.text(column);
    if text.is_empty() {
        return Some(0);
    }
    let value = text.parse::<f64>().ok().and_then(policy::multiple_micro);
    if value.is_none() {
        errors.push(row.error(
            column,
            5,
            format!("reject_multiple {text:?} must be a number >= 1"),
        ));
    }
    value
}

/// What makes two products the same drug product: (ingredient, strength) pairs sorted,
/// strength unit, route, dose form in lower case.
type DrugProductKey = (Vec<(IngredientId, u64)>, StrengthUnit, Route, String);

/// Numbers the products by *same drug product*: the same ingredients at the same strengths
/// (pairwise), strength unit, route and dose form (ASCII case and surrounding spaces ignored).
/// Another labeler's or package size's NDC of one drug shares the number.
fn group_drug_products(products: &mut [Product]) {
    let mut groups: FxHashMap<DrugProductKey, u32> = FxHashMap::default();
    for product in products.iter_mut() {
        let mut parts: Vec<_> = product
            .ingredients
            .iter()
            .map(|p| (p.ingredient, p.strength))
            .collect();
        parts.sort_unstable();
        let form = product.dose_form.trim().to_ascii_lowercase();
        let next = groups.len() as u32;
        product.drug_product = *groups
            .entry((parts, product.unit, product.route, form))
            .or_insert(next);
    }
}

/// A decimal cell converted by `canonical`; rule 2 when unreadable, rule 5 when zero.
fn positive_amount(
    row: &Row,
    column: usize,
    name: &str,
    canonical: impl Fn(u64) -> Option<u64>,
    errors: &mut TableErrors,
) -> Option<u64> {
    let text = row.text(column);
    match parse_decimal_micro(text).and_then(canonical) {
        None => errors.push(row.error(
            column,
            2,
            format!("{name} {text:?} is not a decimal number"),
        )),
        Some(0) => errors.push(row.error(column, 5, format!("{name} must be greater than 0"))),
        Some(value) => return Some(value),
    }
    None
}
