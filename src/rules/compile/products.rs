//! products.csv: one `Product` per NDC (ingredients, canonical strengths, unit, dose form,
//! route, schedule, flags, patch wear hours, package quantity); a repeated NDC is rule 3.
//!
//! Place in the flow: the table step after classes.csv; `finish` later groups the products
//! into drug products and flags them. Must never keep a row that raised any error.

use super::cells::{
    known_yes_no_cell, package_quantity_cell, route_cell, schedule_cell, strengths,
    wear_hours_cell, yes_no_cell,
};
use super::names::is_ingredient_name;
use super::{Builder, PRODUCTS_FILE};
use crate::claim::Ndc;
use crate::limits;
use crate::rules::csv_table::{optional, read, required, Column, Row};
use crate::rules::error::TableErrors;
use crate::rules::ruleset::{IngredientId, Product, ProductIngredient};
use crate::rules::units::StrengthUnit;

impl Builder {
    pub(super) fn products(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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
}
