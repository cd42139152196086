//! Cell readers: one typed value from one CSV cell (strengths, route, schedule, Y/N, ages, whole
//! numbers, days, package quantity, wear hours, reject multiple, positive amounts), each
//! reporting its own error with the rule it breaks.
//!
//! Place in the flow: called by the table steps, row by row. Must never touch the `Builder`:
//! a cell reader knows its cell, not the tables.

use super::names::whole;
use crate::limits;
use crate::rules::csv_table::Row;
use crate::rules::error::TableErrors;
use crate::rules::policy;
use crate::rules::units::{parse_decimal_micro, Route, StrengthUnit};

pub(super) fn strengths(
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

pub(super) fn route_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<Route> {
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

pub(super) fn schedule_cell(row: &Row, errors: &mut TableErrors) -> Option<Option<u8>> {
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

pub(super) fn yes_no_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<bool> {
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
pub(super) fn known_yes_no_cell(
    row: &Row,
    column: usize,
    errors: &mut TableErrors,
) -> Option<Option<bool>> {
    match row.text(column) {
        "" => Some(None),
        _ => yes_no_cell(row, column, errors).map(Some),
    }
}

pub(super) fn age_cell(row: &Row, column: usize, errors: &mut TableErrors) -> Option<u32> {
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

pub(super) fn whole_cell(
    row: &Row,
    column: usize,
    name: &str,
    errors: &mut TableErrors,
) -> Option<u32> {
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
pub(super) fn optional_days(
    row: &Row,
    column: usize,
    name: &str,
    max: u32,
    errors: &mut TableErrors,
) -> Option<u32> {
    optional_cell(
        row,
        column,
        errors,
        |text| whole(text).filter(|days| *days <= max),
        |text| format!("{name} {text:?} is not a whole number 0..={max}"),
    )
}

/// `package_quantity`: empty, or a decimal > 0 (rule 5; unreadable: rule 2), in millionths.
pub(super) fn package_quantity_cell(
    row: &Row,
    column: usize,
    errors: &mut TableErrors,
) -> Option<u64> {
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
pub(super) fn wear_hours_cell(
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
pub(super) fn reject_multiple_cell(
    row: &Row,
    column: usize,
    errors: &mut TableErrors,
) -> Option<u64> {
    optional_cell(
        row,
        column,
        errors,
        |text| text.parse::<f64>().ok().and_then(policy::multiple_micro),
        |text| format!("reject_multiple {text:?} must be a number >= 1"),
    )
}

/// An optional cell: empty is 0; otherwise what `read` makes of it, or a rule 5 error at
/// `column` saying `problem` when it makes nothing.
fn optional_cell<T: Default>(
    row: &Row,
    column: usize,
    errors: &mut TableErrors,
    read: impl FnOnce(&str) -> Option<T>,
    problem: impl FnOnce(&str) -> String,
) -> Option<T> {
    let text = row.text(column);
    if text.is_empty() {
        return Some(T::default());
    }
    let value = read(text);
    if value.is_none() {
        errors.push(row.error(column, 5, problem(text)));
    }
    value
}

/// A decimal cell converted by `canonical`; rule 2 when unreadable, rule 5 when zero.
pub(super) fn positive_amount(
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
