//! Names and references: what an ingredient or a class name may look like, the `Builder`'s
//! interning of names into ids, and the ingredient and `class:NAME` reference cells.
//!
//! Place in the flow: used by the table steps as they read their cells; a class reference
//! resolves against the classes read so far (classes.csv is read first). Must never create a
//! class from a reference: only classes.csv declares classes.

use super::Builder;
use crate::rules::csv_table::Row;
use crate::rules::error::TableErrors;
use crate::rules::ruleset::{
    reference_of_class, reference_of_ingredient, ClassId, ClassInfo, IngredientId, IngredientInfo,
};

/// A lower-case ingredient name: not empty, no `/`, no upper case, no control characters.
pub(super) fn is_ingredient_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with("class:")
        && !text
            .chars()
            .any(|c| c == '/' || c.is_uppercase() || c.is_control())
}

/// An upper snake case class name.
pub(super) fn is_class_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A reference cell resolved against the classes read so far.
pub(super) enum Reference {
    Ingredient(IngredientId),
    Class(ClassId),
}

pub(super) fn whole(text: &str) -> Option<u32> {
    (text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl Builder {
    pub(super) fn ingredient(&mut self, name: &str) -> IngredientId {
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

    pub(super) fn class(&mut self, name: &str) -> ClassId {
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
    pub(super) fn ingredient_cell(
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
    pub(super) fn reference_cell(
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
}

pub(super) fn reference(reference: &Reference) -> u32 {
    match reference {
        Reference::Ingredient(id) => reference_of_ingredient(*id),
        Reference::Class(id) => reference_of_class(*id),
    }
}
