//! ddi.csv and duplication.csv: interaction rules keyed by unordered (ingredient | class)
//! pairs, and one therapeutic-duplication rule per class.
//!
//! Place in the flow: table steps after classes and products; `finish` indexes the references
//! per ingredient. Must never keep two rules for one pair (a repeat with the same severity is
//! kept once, with another it is rule 7) or two rows for one class.

use super::cells::{optional_days, whole_cell};
use super::names::{reference, whole, Reference};
use super::{Builder, DDI_FILE, DUPLICATION_FILE};
use crate::limits;
use crate::rules::csv_table::{optional, read, required, Column, Row};
use crate::rules::error::TableErrors;
use crate::rules::ruleset::{pair_key, DdiRule, DuplicationRule};

impl Builder {
    // ---- ddi.csv ----

    pub(super) fn ddi(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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

    pub(super) fn duplication(&mut self, bytes: &[u8], errors: &mut TableErrors) {
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
}
