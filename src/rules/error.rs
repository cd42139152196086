//! Errors of the rule-table layer: one [`TableError`] per broken validation rule, collected
//! into [`TableErrors`] so that a refused folder reports everything wrong with it at once.
//!
//! Place in the data flow: produced by [`super::compile`] (and by the shell's folder reader),
//! printed by `check-rules` and logged by a refused reload. Must never carry claim data.

use crate::limits;
use std::fmt;

/// One broken rule of `docs/rule-tables.md`, located in its file.
///
/// `line` and `column` are 1-based; `column` counts characters, not bytes, from the start of
/// the line to the offending cell (for `ruleset.toml`, to the offending value or key).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message} (rule {rule})")]
pub struct TableError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The numbered validation rule of `docs/rule-tables.md` that is broken (1..=11).
    pub rule: u8,
    pub message: String,
}

/// Every error found in a refused folder, the first [`limits::RULE_TABLE_ERRORS_MAX`] listed
/// and the rest counted.
#[derive(Clone, PartialEq, Eq, Debug, Default, thiserror::Error)]
pub struct TableErrors {
    pub errors: Vec<TableError>,
    /// Errors found beyond the listed ones.
    pub more: usize,
}

impl TableErrors {
    /// Records one error, or only counts it once the list is full.
    pub fn push(&mut self, error: TableError) {
        if self.errors.len() < limits::RULE_TABLE_ERRORS_MAX {
            self.errors.push(error);
        } else {
            self.more = self.more.saturating_add(1);
        }
    }

    /// No error recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.more == 0
    }

    /// Errors found in total, listed or not.
    pub fn total(&self) -> usize {
        self.errors.len().saturating_add(self.more)
    }

    /// A list holding one error.
    pub fn single(error: TableError) -> TableErrors {
        let mut errors = TableErrors::default();
        errors.push(error);
        errors
    }

    /// Adds every error of `other` (listed while there is room, counted beyond).
    pub fn extend(&mut self, other: TableErrors) {
        let more = other.more;
        for error in other.errors {
            self.push(error);
        }
        self.more = self.more.saturating_add(more);
    }

    /// `Ok(value)` when nothing was recorded, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, TableErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for TableErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self.errors.iter();
        if let Some(first) = lines.next() {
            write!(f, "{first}")?;
        }
        for error in lines {
            write!(f, "\n{error}")?;
        }
        if self.more > 0 {
            write!(f, "\nand {} more", self.more)?;
        }
        Ok(())
    }
}

/// 1-based line and character column of byte `offset` in `text` (clamped to the text).
pub(crate) fn line_column(text: &[u8], offset: usize) -> (u32, u32) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line_start = before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |at| at + 1);
    let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
    let column = count_chars(before.get(line_start..).unwrap_or_default()) + 1;
    (to_u32(line), to_u32(column))
}

/// Characters in a UTF-8 byte run (continuation bytes do not start a character).
pub(crate) fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|byte| (**byte & 0xC0) != 0x80).count()
}

pub(crate) fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: u32) -> TableError {
        TableError {
            file: "ddi.csv".into(),
            line,
            column: 3,
            rule: 7,
            message: "dup".into(),
        }
    }

    #[test]
    fn display_names_file_line_column_and_rule() {
        assert_eq!(error(4).to_string(), "ddi.csv:4:3: dup (rule 7)");
    }

    #[test]
    fn errors_beyond_the_bound_are_counted_not_listed() {
        let mut errors = TableErrors::default();
        for line in 0..limits::RULE_TABLE_ERRORS_MAX + 3 {
            errors.push(error(to_u32(line)));
        }
        assert_eq!(errors.errors.len(), limits::RULE_TABLE_ERRORS_MAX);
        assert_eq!(errors.total(), limits::RULE_TABLE_ERRORS_MAX + 3);
        assert!(errors.to_string().ends_with("\nand 3 more"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "a,b\nné,x\n".as_bytes();
        let comma = text.iter().rposition(|b| *b == b',').unwrap();
        assert_eq!(line_column(text, comma + 1), (2, 4));
        assert_eq!(line_column(text, 0), (1, 1));
    }
}
