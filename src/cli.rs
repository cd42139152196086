//! Command line: clap subcommands, each a thin shell over a library module.
//!
//! Tier 4, the outermost layer: parses arguments, reads files, prints, and maps outcomes to exit
//! statuses. The only place besides `main` where `anyhow` is used. Must never hold domain logic:
//! a subcommand calls into `ncpdp`, `rules`, `server`, `loadgen` or `report` and prints the result.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Real-time point-of-sale DUR claim gateway for NCPDP Telecommunication D.0.
#[derive(Parser, Debug)]
#[command(name = "durgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a rule-table folder: print a summary and exit 0, or every error and exit 1.
    CheckRules {
        /// The folder holding ruleset.toml and the CSV tables.
        dir: PathBuf,
    },
    /// Analyst reports over the claim store (read-only): P4P payments, quality, safety.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
}

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
    /// Claim store url: sqlite:PATH (postgres:// is not supported yet).
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

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckRules { dir } => check_rules(&dir),
        Command::Report { report } => report::main(report),
    }
}

/// `durgate report p4p|quality|safety`: runs the report and maps errors to exit statuses
/// (2 for input problems, 1 for failures while reading or writing).
mod report {
    use super::{ReportArgs, ReportCommand};
    use crate::limits::REPORT_SETTINGS_BYTES_MAX;
    use crate::report::{self, source, Kind, Period, ReportError, Settings};
    use crate::rules::RuleSet;
    use std::io::{IsTerminal, Write};
    use std::path::Path;
    use std::process::ExitCode;

    pub(super) fn main(command: ReportCommand) -> ExitCode {
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
        let rules = match kind {
            Kind::P4p => None,
            Kind::Quality | Kind::Safety => Some(read_rules(&args.rules)?),
        };
        let mut progress = progress_line(kind);
        let report = report::run(
            kind,
            &*source,
            &settings,
            rules.as_ref(),
            period,
            &mut progress,
        )?;
        match &args.out {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|error| ReportError::Write(format!("{}: {error}", path.display())))?;
                let mut out = std::io::BufWriter::new(file);
                report.render(args.format, &mut out)?;
                out.flush()?;
            }
            None => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                report.render(args.format, &mut out)?;
                out.flush()?;
            }
        }
        Ok(())
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
}

/// `check-rules DIR`.
fn check_rules(dir: &std::path::Path) -> ExitCode {
    use crate::server::reload::read_rule_folder;
    match read_rule_folder(dir).and_then(|source| crate::rules::compile(&source)) {
        Ok(rules) => {
            print!("{}", rules_summary(&rules));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            // The errors are the command's report: stdout, one per line.
            println!("{errors}");
            eprintln!("{}: refused ({} errors)", dir.display(), errors.total());
            ExitCode::FAILURE
        }
    }
}

/// The summary `check-rules` prints for a valid folder.
pub fn rules_summary(rules: &crate::rules::RuleSet) -> String {
    use std::fmt::Write;
    let counts = rules.counts();
    let mut text = format!("ruleset {} (schema 1)\n", rules.stamp());
    let rows = [
        ("products", counts.products),
        ("classes", counts.classes),
        ("class memberships", counts.class_memberships),
        ("ddi", counts.ddi),
        ("duplication", counts.duplication),
        ("dose_limits", counts.dose_limits),
        ("elderly_high_risk", counts.elderly_high_risk),
        ("mme", counts.mme),
    ];
    for (table, count) in rows {
        let _ = writeln!(text, "  {table:<18} {count}");
    }
    let _ = writeln!(
        text,
        "history: lookback {} days, active grace {} days",
        rules.lookback_days(),
        rules.active_grace_days()
    );
    let edits: Vec<&str> = rules
        .enabled_edits()
        .into_iter()
        .map(|edit| edit.as_str())
        .collect();
    let _ = writeln!(text, "enabled edits: {}", edits.join(", "));
    text
}
