//! `durgate check-rules DIR`: validate a rule-table folder as the gateway would load it, and
//! `durgate rules seal DIR`: validate it, then write its seal (`SHA256SUMS`).
//!
//! `check-rules` prints a summary (counts per table, `id@version`, enabled edits, whether the
//! folder is sealed) and exits 0, or prints every error as `file:line:column: message (rule N)`
//! and exits 1; a path that is not a folder is one line and exit 2. `check-rules` never changes
//! the folder; `seal` writes only `SHA256SUMS` (a temp file renamed over it, so a watching
//! gateway sees the old seal or the new one), and only for a valid folder.

use std::process::ExitCode;

/// `durgate rules ...`.
#[derive(clap::Subcommand, Debug)]
pub enum RulesCommand {
    /// Validate the folder, then write SHA256SUMS (the seal a gateway requires by default);
    /// run it after the last change, as the final step of publishing.
    Seal {
        /// The folder holding ruleset.toml and the CSV tables.
        dir: std::path::PathBuf,
    },
}

pub fn main(command: RulesCommand) -> ExitCode {
    match command {
        RulesCommand::Seal { dir } => seal(&dir),
    }
}

/// `rules seal DIR`: exit 0 sealed, 1 the folder is refused (nothing written), 2 no folder or
/// the seal cannot be written.
fn seal(dir: &std::path::Path) -> ExitCode {
    use crate::server::reload::{read_table_files, write_seal};
    if !dir.is_dir() {
        eprintln!("durgate rules seal: {}: no such folder", dir.display());
        return ExitCode::from(2);
    }
    let source = match read_table_files(dir).and_then(|source| {
        crate::rules::compile(&source).map(|rules| (source, rules.stamp().to_string()))
    }) {
        Ok(valid) => valid,
        Err(errors) => {
            println!("{errors}");
            eprintln!(
                "{}: refused, not sealed ({} errors)",
                dir.display(),
                errors.total()
            );
            return ExitCode::FAILURE;
        }
    };
    match write_seal(dir, &source.0) {
        Ok(()) => {
            println!("sealed {} files of {}", source.0.files.len(), source.1);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("durgate rules seal: {}: {error}", dir.display());
            ExitCode::from(2)
        }
    }
}

/// `check-rules DIR`.
pub fn check_rules(dir: &std::path::Path) -> ExitCode {
    use crate::server::reload::read_rule_folder;
    if !dir.is_dir() {
        eprintln!("durgate check-rules: {}: no such folder", dir.display());
        return ExitCode::from(2);
    }
    match read_rule_folder(dir).and_then(|source| crate::rules::compile(&source)) {
        Ok(rules) => {
            print!("{}", rules_summary(&rules));
            println!("{}", seal_state(dir));
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

/// Whether the folder (which matched any seal it holds) is sealed.
fn seal_state(dir: &std::path::Path) -> &'static str {
    match dir.join(crate::rules::seal::SEAL_FILE).exists() {
        true => "sealed: SHA256SUMS matches every table",
        false => "not sealed: a gateway requiring a seal refuses it; run `durgate rules seal DIR`",
    }
}

/// The summary `check-rules` prints for a valid folder.
pub fn rules_summary(rules: &crate::rules::RuleSet) -> String {
    use std::fmt::Write;
    let counts = rules.counts();
    let mut text = format!("ruleset {} (schema {})\n", rules.stamp(), rules.schema());
    let rows = [
        ("products", counts.products),
        ("classes", counts.classes),
        ("class memberships", counts.class_memberships),
        ("ddi", counts.ddi),
        ("duplication", counts.duplication),
        ("dose_limits", counts.dose_limits),
        ("elderly_high_risk", counts.elderly_high_risk),
        ("age_limits", counts.age_limits),
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
