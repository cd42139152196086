//! Reading one rule-table CSV: headers mapped by name, cells located for error messages.
//!
//! Place in the data flow: each table parser in [`super::compile`] hands its file and its
//! column list to [`read`] and gets back located [`Row`]s. Must never stop at the first bad
//! row (every problem is reported) nor read more than [`limits::RULE_TABLE_ROWS_MAX`] rows or
//! [`limits::RULE_TABLE_COLUMNS_MAX`] columns.
//!
//! Choices where the format is silent: cells are trimmed of surrounding spaces; header names
//! match exactly (case-sensitive); a duplicated header, or a row with more cells than the
//! header, is an error (rule 2); a row with fewer cells has its missing cells empty; blank
//! lines are skipped; a UTF-8 byte-order mark is ignored.

use super::error::{count_chars, to_u32, TableError, TableErrors};
use crate::limits;
use csv::{ReaderBuilder, StringRecord, Trim};

/// One column a table expects.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub required: bool,
}

pub(crate) const fn required(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

pub(crate) const fn optional(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

/// One data row, its cells addressed by the index of the [`Column`] in the table's list.
pub(crate) struct Row<'a> {
    file: &'a str,
    bytes: &'a [u8],
    record: &'a StringRecord,
    /// Record index per expected column, `None` for an absent optional column.
    columns: &'a [Option<usize>],
    start_byte: usize,
    start_line: u32,
}

impl Row<'_> {
    /// The trimmed cell of expected column `column` ("" when absent).
    pub fn text(&self, column: usize) -> &str {
        self.record_index(column)
            .and_then(|index| self.record.get(index))
            .unwrap_or("")
    }

    /// 1-based line of the row's first cell.
    pub fn line(&self) -> u32 {
        self.start_line
    }

    /// An error located at expected column `column` (at the row start when it is absent).
    pub fn error(&self, column: usize, rule: u8, message: String) -> TableError {
        let index = self.record_index(column).unwrap_or(0);
        let (line, column) = self.locate(index);
        TableError {
            file: self.file.into(),
            line,
            column,
            rule,
            message,
        }
    }

    fn record_index(&self, column: usize) -> Option<usize> {
        self.columns.get(column).copied().flatten()
    }

    /// Line and character column where record cell `index` starts.
    fn locate(&self, index: usize) -> (u32, u32) {
        let offset = cell_offset(self.bytes, self.start_byte, index);
        let within = self.bytes.get(self.start_byte..offset).unwrap_or_default();
        let newlines = within.iter().filter(|byte| **byte == b'\n').count();
        let line_start = within
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |at| at + 1);
        let column = count_chars(within.get(line_start..).unwrap_or_default()) + 1;
        (
            self.start_line.saturating_add(to_u32(newlines)),
            to_u32(column),
        )
    }
}

/// Byte offset where cell `index` of the record starting at `start` begins (RFC 4180 quoting).
fn cell_offset(bytes: &[u8], start: usize, index: usize) -> usize {
    let mut at = start;
    for _ in 0..index.min(limits::RULE_TABLE_COLUMNS_MAX) {
        at = field_end(bytes, at).saturating_add(1);
    }
    at.min(bytes.len())
}

/// Offset of the delimiter (or line end) after the field starting at `at`.
fn field_end(bytes: &[u8], mut at: usize) -> usize {
    if bytes.get(at) == Some(&b'"') {
        at = quoted_end(bytes, at + 1);
    }
    // Bounded by the byte length: each step advances by one.
    while let Some(byte) = bytes.get(at) {
        if matches!(byte, b',' | b'\n' | b'\r') {
            return at;
        }
        at += 1;
    }
    at
}

/// Offset just after the closing quote of a quoted field whose content starts at `at`.
fn quoted_end(bytes: &[u8], mut at: usize) -> usize {
    // Bounded by the byte length: each step advances by one or two.
    while let Some(byte) = bytes.get(at) {
        match (byte, bytes.get(at + 1)) {
            (b'"', Some(b'"')) => at += 2,
            (b'"', _) => return at + 1,
            _ => at += 1,
        }
    }
    at
}

/// Reads `bytes` as the CSV file `file` expecting `columns`; calls `each` for every data row
/// whose required cells are all present. Header and shape problems go to `errors`.
pub(crate) fn read(
    file: &str,
    bytes: &[u8],
    columns: &[Column],
    errors: &mut TableErrors,
    mut each: impl FnMut(&Row, &mut TableErrors),
) {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = ReaderBuilder::new()
        .flexible(true)
        .trim(Trim::All)
        .from_reader(bytes);
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(problem) => return errors.push(reader_error(file, &problem)),
    };
    let Some(mapping) = map_columns(file, &header, columns, errors) else {
        return;
    };
    let mut record = StringRecord::new();
    for row_number in 0..=limits::RULE_TABLE_ROWS_MAX {
        match reader.read_record(&mut record) {
            Ok(false) => return,
            Ok(true) if row_number == limits::RULE_TABLE_ROWS_MAX => {
                let message = format!("more than {} rows", limits::RULE_TABLE_ROWS_MAX);
                return errors.push(located(file, &record, 2, message));
            }
            Ok(true) => row(
                file, bytes, &record, &header, &mapping, columns, errors, &mut each,
            ),
            Err(problem) => errors.push(reader_error(file, &problem)),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    file: &str,
    bytes: &[u8],
    record: &StringRecord,
    header: &StringRecord,
    mapping: &[Option<usize>],
    columns: &[Column],
    errors: &mut TableErrors,
    each: &mut impl FnMut(&Row, &mut TableErrors),
) {
    let position = record.position();
    let start_byte = position.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
    let start_line = position.map_or(0, |p| to_u32(usize::try_from(p.line()).unwrap_or(0)));
    let row = Row {
        file,
        bytes,
        record,
        columns: mapping,
        start_byte,
        start_line,
    };
    if record.len() > header.len() {
        let message = format!(
            "row has {} cells but the header has {}",
            record.len(),
            header.len()
        );
        let (line, column) = row.locate(header.len());
        return errors.push(shape_error(file, line, column, message));
    }
    let mut complete = true;
    for (index, column) in columns
        .iter()
        .enumerate()
        .filter(|(_, column)| column.required)
    {
        if row.text(index).is_empty() {
            complete = false;
            let present = mapping
                .get(index)
                .copied()
                .flatten()
                .is_some_and(|at| at < record.len());
            let cell = if present { index } else { 0 };
            errors.push(row.error(cell, 2, format!("{} is empty", column.name)));
        }
    }
    if complete {
        each(&row, errors);
    }
}

/// Record index of every expected column; `None` (after reporting) when a required one is
/// missing or a header name repeats.
fn map_columns(
    file: &str,
    header: &StringRecord,
    columns: &[Column],
    errors: &mut TableErrors,
) -> Option<Vec<Option<usize>>> {
    let before = errors.total();
    if header.len() > limits::RULE_TABLE_COLUMNS_MAX {
        let message = format!("more than {} columns", limits::RULE_TABLE_COLUMNS_MAX);
        errors.push(shape_error(file, 1, 1, message));
        return None;
    }
    for (index, name) in header.iter().enumerate() {
        if header.iter().take(index).any(|earlier| earlier == name) && !name.is_empty() {
            let column = header_column(header, index);
            let message = format!("column {name} appears twice in the header");
            errors.push(shape_error(file, 1, column, message));
        }
    }
    let mapping: Vec<Option<usize>> = columns
        .iter()
        .map(|column| header.iter().position(|name| name == column.name))
        .collect();
    for (column, _) in columns
        .iter()
        .zip(&mapping)
        .filter(|(c, at)| c.required && at.is_none())
    {
        let message = format!("required column {} is missing", column.name);
        errors.push(shape_error(file, 1, 1, message));
    }
    (errors.total() == before).then_some(mapping)
}

/// Character column of header cell `index`, assuming an unquoted header.
fn header_column(header: &StringRecord, index: usize) -> u32 {
    let before: usize = header
        .iter()
        .take(index)
        .map(|name| name.chars().count() + 1)
        .sum();
    to_u32(before + 1)
}

/// A table-shape error (rule 2) at `line`, `column` of `file`.
fn shape_error(file: &str, line: u32, column: u32, message: String) -> TableError {
    TableError {
        file: file.into(),
        line,
        column,
        rule: 2,
        message,
    }
}

fn located(file: &str, record: &StringRecord, rule: u8, message: String) -> TableError {
    let line = record
        .position()
        .map_or(0, |p| to_u32(usize::try_from(p.line()).unwrap_or(0)));
    TableError {
        file: file.into(),
        line,
        column: 1,
        rule,
        message,
    }
}

fn reader_error(file: &str, problem: &csv::Error) -> TableError {
    let line = problem
        .position()
        .map_or(1, |p| to_u32(usize::try_from(p.line()).unwrap_or(1)));
    let message = match problem.kind() {
        csv::ErrorKind::Utf8 { .. } => "row is not valid UTF-8".to_string(),
        _ => format!("unreadable CSV: {problem}"),
    };
    shape_error(file, line, 1, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [required("id"), required("name"), optional("note")];

    fn collect(text: &str) -> (Vec<(String, String, u32)>, TableErrors) {
        let mut errors = TableErrors::default();
        let mut rows = Vec::new();
        read("t.csv", text.as_bytes(), &COLUMNS, &mut errors, |row, _| {
            rows.push((row.text(0).to_string(), row.text(2).to_string(), row.line()));
        });
        (rows, errors)
    }

    #[test]
    fn columns_map_by_name_in_any_order_and_extras_are_ignored() {
        let (rows, errors) = collect("extra,name,id\nx,alpha,1\ny,beta,2\n");
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(
            rows,
            vec![("1".into(), "".into(), 2), ("2".into(), "".into(), 3)]
        );
    }

    #[test]
    fn missing_required_column_is_refused() {
        let (rows, errors) = collect("id,note\n1,x\n");
        assert!(rows.is_empty());
        assert_eq!(
            errors.to_string(),
            "t.csv:1:1: required column name is missing (rule 2)"
        );
    }

    #[test]
    fn quoted_cells_may_hold_commas_quotes_and_newlines() {
        let text = "id,name,note\n1,\"a, \"\"b\"\"\nc\",\"n\"\n2,,x\n";
        let (rows, errors) = collect(text);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, "n");
        // The empty name of row 2 is on line 4 (the quoted cell spans lines 2 and 3), column 3.
        assert_eq!(errors.to_string(), "t.csv:4:3: name is empty (rule 2)");
    }

    #[test]
    fn error_columns_point_at_the_cell_after_multiline_quotes() {
        let mut errors = TableErrors::default();
        let text = "note,id,name\n\"x\ny\",é7,z\n";
        read(
            "t.csv",
            text.as_bytes(),
            &COLUMNS,
            &mut errors,
            |row, errors| {
                errors.push(row.error(0, 3, "bad id".into()));
                errors.push(row.error(1, 3, "bad name".into()));
            },
        );
        assert_eq!(
            errors.to_string(),
            "t.csv:3:4: bad id (rule 3)\nt.csv:3:7: bad name (rule 3)"
        );
    }

    #[test]
    fn too_many_cells_and_duplicate_headers_are_errors() {
        let (_, errors) = collect("id,name\n1,a,b\n");
        assert_eq!(
            errors.to_string(),
            "t.csv:2:5: row has 3 cells but the header has 2 (rule 2)"
        );
        let (_, errors) = collect("id,name,id\n1,a,b\n");
        assert_eq!(
            errors.to_string(),
            "t.csv:1:9: column id appears twice in the header (rule 2)"
        );
    }
}
