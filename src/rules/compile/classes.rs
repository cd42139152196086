//! classes.csv: the class memberships of ingredients (at most `CLASSES_PER_INGREDIENT_MAX`
//! classes per ingredient; a repeated membership is kept once).
//!
//! Place in the flow: the first table step, so that the later tables' `class:NAME` cells
//! resolve. Must never accept a class name that is not UPPER_SNAKE_CASE.

use super::names::is_class_name;
use super::{Builder, CLASSES_FILE};
use crate::limits;
use crate::rules::csv_table::{read, required, Column, Row};
use crate::rules::error::TableErrors;

impl Builder {
    pub(super) fn classes(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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
}
