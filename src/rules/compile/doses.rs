//! dose_limits.csv and mme.csv: daily dose bands per (ingredient, route) and age, which may not
//! overlap (rule 6), and one MME factor per (ingredient, route).
//!
//! Place in the flow: table steps; `finish` keeps the bands and puts each factor on the
//! products holding the ingredient. Must never compare amounts but as exact integers.

use super::cells::{age_cell, positive_amount, reject_multiple_cell, route_cell};
use super::{Builder, DOSE_LIMITS_FILE, MME_FILE};
use crate::rules::csv_table::{optional, read, required, Column, Row};
use crate::rules::error::{TableError, TableErrors};
use crate::rules::ruleset::DoseBand;
use crate::rules::units::DoseUnit;

impl Builder {
    // ---- dose_limits.csv ----

    pub(super) fn dose_limits(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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

    // ---- mme.csv ----

    pub(super) fn mme(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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
}
