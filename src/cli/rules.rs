//! `durgate check-rules DIR`: validate a rule-table folder as the gateway would load it.
//!
//! Prints a summary (counts per table, `id@version`, enabled edits) and exits 0, or prints every
//! error as `file:line:column: message (rule N)` and exits 1; a path that is not a folder is
//! one line and exit 2. Must never change the folder.

use std::process::ExitCode;

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
