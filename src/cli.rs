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
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckRules { dir } => check_rules(&dir),
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
