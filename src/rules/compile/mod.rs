//! Loading a rule-table folder from its file contents: validate every rule of
//! `docs/rule-tables.md`, then build the hot-path indexes of [`RuleSet`].
//!
//! Place in the data flow: the shell reads the folder into a [`RuleSource`] (bytes per file
//! name) and calls [`compile`]; the result is swapped in by [`super::LiveRules`]. Must never do
//! I/O, and never return a partial `RuleSet`: any error refuses the whole folder.
//!
//! This file holds the entry point, [`RuleSource`] with the file names, and the `Builder` the
//! table steps fill. The steps are `impl Builder` blocks in submodules, one per table or
//! family of tables: `names` (ingredient and class names, references), `classes`, `products`,
//! `interactions` (ddi and duplication), `doses` (dose limits and MME factors), `ages` (elderly
//! list and age limits) and `finish` (cross-file checks, the final indexes); `cells` holds the
//! cell readers they share.
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

mod ages;
mod cells;
mod classes;
mod doses;
mod finish;
mod interactions;
mod names;
mod products;

use super::error::{TableError, TableErrors};
use super::policy;
use super::ruleset::{
    ClassId, ClassInfo, DdiRule, DoseBand, DuplicationRule, IngredientId, IngredientInfo, Product,
    RuleSet, TableCounts,
};
use super::units::Route;
use crate::limits;
use rustc_hash::FxHashMap;

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

/// The tables read so far: each table step fills it, and `finish` turns it into a `RuleSet`.
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
