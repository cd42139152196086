//! `durgate backup` and `durgate purge`: the data lifecycle of a claim store
//! (`docs/data-lifecycle.md`).
//!
//! Parses the arguments, refuses a `--before` too close to today, calls `store::lifecycle` and
//! prints one summary: counts and dates of service only. Exit 2 for usage or configuration
//! problems (a PostgreSQL url given to backup, an existing `--out`, a too-recent date, a file
//! that is no claim store), 1 for failures while running. Must never print a patient key, a
//! cardholder id, a name or a date of birth, nor hold any store logic.

use crate::claim::Date;
use crate::limits::PURGE_BEFORE_DAYS_MIN;
use crate::store::lifecycle::{BackupSummary, Cutoff, LifecycleError, PurgeCounts};
use crate::store::{self, StoreUrl};
use std::path::PathBuf;
use std::process::ExitCode;

/// `durgate backup`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Claim store url: sqlite:PATH (a PostgreSQL store is backed up with pg_dump).
    #[arg(long)]
    pub store: String,
    /// The backup file to write (refused when it exists, unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing --out.
    #[arg(long)]
    pub force: bool,
}

/// `durgate purge`.
#[derive(clap::Args, Debug)]
pub struct PurgeArgs {
    /// Claim store url: sqlite:PATH or postgres://... as `serve --store` takes it.
    #[arg(long)]
    pub store: String,
    /// Purge transmissions whose claims are all dated before this day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub before: Date,
    /// Print what would be deleted and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_date(text: &str) -> Result<Date, String> {
    crate::report::source::parse_iso_date(text)
        .ok_or_else(|| format!("{text:?} is not a date YYYY-MM-DD"))
}

pub fn backup(args: &BackupArgs) -> ExitCode {
    match run_backup(args) {
        Ok(summary) => {
            println!(
                "backup {}: {} claims, {} transmissions, {} bytes, integrity_check ok",
                args.out.display(),
                summary.claims,
                summary.transmissions,
                summary.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail("backup", &error),
    }
}

pub fn purge(args: &PurgeArgs) -> ExitCode {
    let today = Date::from_days(crate::clock::unix_days());
    let latest = today.add_days(-PURGE_BEFORE_DAYS_MIN);
    if args.before > latest {
        let error = LifecycleError::Usage(format!(
            "--before {} is too recent: it must be {latest} or earlier ({PURGE_BEFORE_DAYS_MIN} \
             day(s) before today, {today} UTC); recent claims are what duplicate detection and \
             reversals match against",
            args.before
        ));
        return fail("purge", &error);
    }
    match run_purge(args) {
        Ok(counts) => {
            print_counts(&counts, args);
            ExitCode::SUCCESS
        }
        Err(error) => fail("purge", &error),
    }
}

/// A SQLite store is copied; a PostgreSQL one is refused (`pg_dump` backs those up), even
/// when its url would not parse.
fn run_backup(args: &BackupArgs) -> Result<BackupSummary, LifecycleError> {
    let refused = || {
        LifecycleError::Usage(
            "a PostgreSQL store is backed up with pg_dump (or the server's own backups), not \
             durgate backup"
                .into(),
        )
    };
    if StoreUrl::names_postgres(&args.store) {
        return Err(refused());
    }
    match StoreUrl::parse(&args.store)? {
        StoreUrl::Sqlite(path) => store::backup_sqlite(&path, &args.out, args.force),
        StoreUrl::Postgres(_) => Err(refused()),
    }
}

fn run_purge(args: &PurgeArgs) -> Result<PurgeCounts, LifecycleError> {
    let cutoff = Cutoff::new(args.before);
    match StoreUrl::parse(&args.store)? {
        StoreUrl::Sqlite(path) => store::purge_sqlite(&path, &cutoff, args.dry_run),
        StoreUrl::Postgres(location) => store::purge_postgres(&location, &cutoff, args.dry_run),
    }
}

fn print_counts(counts: &PurgeCounts, args: &PurgeArgs) {
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let range = match (&counts.first_date, &counts.last_date) {
        (Some(first), Some(last)) => format!("dates of service {first} to {last}"),
        _ => "no claims".to_owned(),
    };
    println!(
        "purge before {}: {verb} {} transmissions, {} claims, {} claim_reject_codes, {} \
         conflicts, {} dur_pps ({range})",
        args.before,
        counts.transmissions,
        counts.claims,
        counts.claim_reject_codes,
        counts.conflicts,
        counts.dur_pps
    );
    if counts.kept_for_links > 0 {
        println!(
            "kept {} older transmissions: a kept claim (a newer reversal, rebill or match) \
             references their claims",
            counts.kept_for_links
        );
    }
}

fn fail(command: &str, error: &LifecycleError) -> ExitCode {
    eprintln!("durgate {command}: {error}");
    ExitCode::from(if error.is_usage() { 2 } else { 1 })
}
