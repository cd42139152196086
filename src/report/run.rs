//! One report from end to end: checks the period has claims, scans the store once, folds the
//! rows into the chosen core and returns the typed report for [`super::render`].
//!
//! Place in the data flow: between the CLI (which opens the source, reads the settings and the
//! rule folder) and the cores. Must never open files itself or print: progress goes to the
//! caller's callback as `(rows visited, rows expected)`.

use super::p4p::{self, P4pReport, P4pTally};
use super::quality::{self, QualityReport, QualityTally};
use super::render::{self, Format};
use super::safety::{self, SafetyReport, SafetyTally};
use super::source::ClaimSource;
use super::{ClaimRow, Period, Provenance, ReportError, ScanDates, Settings};
use crate::rules::RuleSet;
use std::io::Write;

/// Which report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    P4p,
    Quality,
    Safety,
}

impl Kind {
    /// The subcommand name: `p4p`, `quality`, `safety`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::P4p => "p4p",
            Kind::Quality => "quality",
            Kind::Safety => "safety",
        }
    }
}

/// A finished report of any kind.
#[derive(Clone, PartialEq, Debug)]
pub enum Report {
    P4p(P4pReport),
    Quality(QualityReport),
    Safety(SafetyReport),
}

impl Report {
    /// Writes it in the given format (JSON and HTML also say where it came from).
    pub fn render(
        &self,
        format: Format,
        provenance: &Provenance,
        out: &mut dyn Write,
    ) -> Result<(), ReportError> {
        match self {
            Report::P4p(report) => render::p4p(report, format, provenance, out),
            Report::Quality(report) => render::quality(report, format, provenance, out),
            Report::Safety(report) => render::safety(report, format, provenance, out),
        }
    }
}

/// Progress of a scan: `(rows visited, rows expected)`.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Runs one report. The quality and safety reports need the rule tables
/// ([`ReportError::Rules`] without them). A period without any claim row is refused with
/// [`ReportError::NoClaims`].
pub fn run(
    kind: Kind,
    source: &dyn ClaimSource,
    settings: &Settings,
    rules: Option<&RuleSet>,
    period: Period,
    progress: Progress<'_>,
) -> Result<Report, ReportError> {
    let in_period = ScanDates {
        first: period.from(),
        last: period.to(),
    };
    if !source.has_claims(in_period)? {
        let (from, to) = (period.from(), period.to());
        return Err(ReportError::NoClaims { from, to });
    }
    let required = || rules.ok_or_else(|| ReportError::Rules("no rule tables given".into()));
    match kind {
        Kind::P4p => {
            // With rule tables, the NDCs of one drug product are one drug for the
            // not-dispensed follow-up (without them, each product is its own).
            let drugs = rules.map(p4p::DrugProducts::of).unwrap_or_default();
            let mut tally = P4pTally::new(&settings.p4p, period, drugs);
            if let Some(latest) = source.latest_paid_date()? {
                tally.note_store_latest_paid(latest);
            }
            let dates = p4p::scan_dates(period, &settings.p4p);
            scan(source, dates, progress, &mut |row| tally.add(&row))?;
            Ok(Report::P4p(tally.finish()))
        }
        Kind::Quality => {
            let mut tally = QualityTally::new(&settings.quality, required()?, period)?;
            let dates = quality::scan_dates(period);
            scan(source, dates, progress, &mut |row| tally.add(&row))?;
            tally.finish().map(Report::Quality)
        }
        Kind::Safety => {
            let mut tally = SafetyTally::new(&settings.safety, required()?, period)?;
            let dates = safety::scan_dates(period, &settings.safety);
            scan(source, dates, progress, &mut |row| tally.add(&row))?;
            Ok(Report::Safety(tally.finish()))
        }
    }
}

/// Scans `dates`, reporting progress every 65,536 rows and at the end.
fn scan(
    source: &dyn ClaimSource,
    dates: ScanDates,
    progress: Progress<'_>,
    fold: &mut dyn FnMut(ClaimRow) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let expected = source.estimate(dates)?;
    let mut visited = 0u64;
    progress(0, expected);
    let total = source.scan(dates, &mut |row| {
        visited += 1;
        if visited.is_multiple_of(65_536) {
            progress(visited, expected);
        }
        fold(row)
    })?;
    // The store may have grown since the count: the last call always reads as complete.
    progress(total, total.max(expected).max(1));
    Ok(())
}
