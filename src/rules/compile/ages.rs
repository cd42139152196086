//! elderly_high_risk.csv and age_limits.csv: the elderly list per ingredient or combination (a
//! repeat keeps the lowest `min_age`) and the age bands per ingredient (the optional file).
//!
//! Place in the flow: table steps; their rules are kept on the ingredients. Must never accept
//! an empty age band or an age beyond `AGE_YEARS_MAX`.

use super::cells::age_cell;
use super::names::is_ingredient_name;
use super::{Builder, AGE_LIMITS_FILE, ELDERLY_FILE};
use crate::limits;
use crate::rules::csv_table::{read, required, Column, Row};
use crate::rules::error::TableErrors;
use crate::rules::ruleset::{AgeLimitRule, ElderlyRule, IngredientId};

impl Builder {
    // ---- elderly_high_risk.csv ----

    pub(super) fn elderly(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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

    pub(super) fn age_limits(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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
}
