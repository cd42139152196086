//! `durgate report p4p|quality|safety`: the analyst reports over the claim store (read-only).
//!
//! Reads the settings, opens the store read-only, compiles the rule tables the quality and
//! safety reports take drug classes from, runs the report with a progress line on a terminal,
//! and renders CSV, JSON or HTML to stdout or `--out`. Exit 2 for input problems (unknown store,
//! empty period, unknown settings key, refused rule folder), 1 for read or write failures. Must
//! never compute a figure itself: that is `report`'s.

use clap::Subcommand;
use std::path::PathBuf;

/// `durgate report ...`.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// P4P payment report: DUR alerts, overrides, intervention and bonus payments, premier.
    P4p(ReportArgs),
    /// Quality report card: PDC, statin use in diabetes, asthma, generic rate, star ratings.
    Quality(ReportArgs),
    /// Safety report: MTM targeting and opioid overutilization (patient numbers only).
    Safety(ReportArgs),
}

/// Options every report takes.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Claim store url: sqlite:PATH, or postgres://... as `serve --store` takes it (schema=
    /// included); read-only either way.
    #[arg(long)]
    pub store: String,
    /// First date of service of the period, YYYY-MM-DD (included).
    #[arg(long, value_parser = parse_date)]
    pub from: crate::claim::Date,
    /// Last date of service of the period, YYYY-MM-DD (included).
    #[arg(long, value_parser = parse_date)]
    pub to: crate::claim::Date,
    /// Rule-table folder the quality and safety reports take drug classes from.
    #[arg(long, default_value = "config/rules/sample")]
    pub rules: PathBuf,
    /// Report settings (pools, codes, thresholds, windows, cut points).
    #[arg(long, default_value = "config/p4p.toml")]
    pub settings: PathBuf,
    /// csv, json or html.
    #[arg(long, default_value = "json")]
    pub format: crate::report::render::Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_date(text: &str) -> Result<crate::claim::Date, String> {
    crate::report::source::parse_iso_date(text)
        .ok_or_else(|| format!("{text:?} is not a date YYYY-MM-DD"))
}

use crate::limits::REPORT_SETTINGS_BYTES_MAX;
use crate::report::{self, source, Kind, Period, Provenance, ReportError, Settings};
use crate::rules::RuleSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

pub fn main(command: ReportCommand) -> ExitCode {
    let (kind, args) = match command {
        ReportCommand::P4p(args) => (Kind::P4p, args),
        ReportCommand::Quality(args) => (Kind::Quality, args),
        ReportCommand::Safety(args) => (Kind::Safety, args),
    };
    match run(kind, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("durgate report: {error}");
            ExitCode::from(if error.is_input() { 2 } else { 1 })
        }
    }
}

fn run(kind: Kind, args: &ReportArgs) -> Result<(), ReportError> {
    let period = Period::new(args.from, args.to)?;
    let settings = read_settings(&args.settings)?;
    let source = source::open(&args.store)?;
    // Every report reads the rule tables: P4P for the same-drug-product follow-up.
    let rules = Some(read_rules(&args.rules)?);
    let mut progress = progress_line(kind);
    let report = report::run(
        kind,
        &*source,
        &settings,
        rules.as_ref(),
        period,
        &mut progress,
    )?;
    let rules_stamp = rules.as_ref().map(|rules| rules.stamp().to_string());
    let provenance = Provenance::new(
        crate::clock::unix_ms(),
        &args.settings,
        rules_stamp.as_deref().unwrap_or("none"),
        store_kind(&args.store),
    );
    match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|error| ReportError::Write(format!("{}: {error}", path.display())))?;
            let mut out = std::io::BufWriter::new(file);
            report.render(args.format, &provenance, &mut out)?;
            out.flush()?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report.render(args.format, &provenance, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The engine a store url names (for the report's provenance; never the url itself).
fn store_kind(url: &str) -> &'static str {
    if crate::store::StoreUrl::names_postgres(url) {
        "postgres"
    } else {
        "sqlite"
    }
}

fn read_settings(path: &Path) -> Result<Settings, ReportError> {
    let shown = path.display();
    let failed = |message: String| ReportError::Settings(format!("{shown}: {message}"));
    let size = std::fs::metadata(path)
        .map_err(|error| failed(error.to_string()))?
        .len();
    if size > REPORT_SETTINGS_BYTES_MAX {
        return Err(failed(format!(
            "larger than {REPORT_SETTINGS_BYTES_MAX} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|error| failed(error.to_string()))?;
    Settings::from_toml(&text).map_err(|error| match error {
        ReportError::Settings(message) => failed(message),
        other => other,
    })
}

fn read_rules(dir: &Path) -> Result<RuleSet, ReportError> {
    use crate::server::reload::read_rule_folder;
    read_rule_folder(dir)
        .and_then(|source| crate::rules::compile(&source))
        .map_err(|errors| {
            let first = errors
                .errors
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            let count = errors.total();
            ReportError::Rules(format!(
                "{}: refused ({count} errors; first: {first})",
                dir.display()
            ))
        })
}

/// An in-place progress line on stderr while a terminal watches; nothing otherwise.
fn progress_line(kind: Kind) -> impl FnMut(u64, u64) {
    let shown = std::io::stderr().is_terminal();
    move |visited: u64, expected: u64| {
        if !shown {
            return;
        }
        let percent = (visited * 100)
            .checked_div(expected)
            .unwrap_or(100)
            .min(100);
        let name = kind.as_str();
        eprint!("\rdurgate report {name}: {visited} of {expected} claims ({percent} %)");
        if visited >= expected {
            eprintln!();
        }
    }
}
