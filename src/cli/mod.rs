//! Command line: clap subcommands, each a thin shell over a library module.
//!
//! Tier 4, the outermost layer: parses arguments, reads files, prints, and maps outcomes to exit
//! statuses. The only place besides `main` where `anyhow` is used. Must never hold domain logic:
//! a subcommand calls into `ncpdp`, `rules`, `server`, `loadgen` or `report` and prints the result.

mod client_tls;
mod decode;
mod lifecycle;
mod loadgen;
mod report;
mod rules;
mod send;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub use rules::rules_summary;

/// Real-time point-of-sale DUR claim gateway for NCPDP Telecommunication D.0.
#[derive(Parser, Debug)]
#[command(name = "durgate", version = crate::version::DISPLAY, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (default: sample rule tables, sqlite:durgate.db, 127.0.0.1:7070).
    Serve(serve::ServeArgs),
    /// Send transmissions to a gateway and print each decoded reply.
    Send(send::SendArgs),
    /// Drive claim load at a gateway (closed or open loop) and report throughput and latency.
    Loadgen(loadgen::LoadgenArgs),
    /// Analyst reports over the claim store (read-only): P4P payments, quality, safety.
    Report {
        #[command(subcommand)]
        report: report::ReportCommand,
    },
    /// Show D.0 transmissions with NCPDP field names and every problem found.
    ///
    /// Each FILE holds one bare transmission or one or more STX…ETX frames. Exit status: 0 no
    /// problems, 1 some message has problems, 2 some input is not a D.0 message at all.
    Decode(decode::DecodeArgs),
    /// Validate a rule-table folder: print a summary and exit 0, or every error and exit 1.
    CheckRules {
        /// The folder holding ruleset.toml and the CSV tables.
        dir: PathBuf,
    },
    /// Rule-folder tools.
    Rules {
        #[command(subcommand)]
        action: rules::RulesCommand,
    },
    /// Copy a SQLite claim store while a gateway serves it (online backup, integrity-checked).
    Backup(lifecycle::BackupArgs),
    /// Delete transmissions whose claims are all dated before a day (retention; --dry-run).
    Purge(lifecycle::PurgeArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::serve(&args),
        Command::Send(args) => send::send(&args),
        Command::Loadgen(args) => loadgen::loadgen(&args),
        Command::Report { report } => report::main(report),
        Command::Decode(args) => decode::decode(&args),
        Command::CheckRules { dir } => rules::check_rules(&dir),
        Command::Rules { action } => rules::main(action),
        Command::Backup(args) => lifecycle::backup(&args),
        Command::Purge(args) => lifecycle::purge(&args),
    }
}

/// Logs to stderr as text or JSON lines; levels from `RUST_LOG` (default `info`), except that
/// the database drivers never log below info, whatever `RUST_LOG` says: at debug
/// tokio-postgres logs every statement's parameters, patient keys (with dates of birth) among
/// them.
pub fn init_tracing(format: crate::config::LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        crate::config::LogFormat::Json => builder.json().finish().with(phi_safe()).try_init(),
        crate::config::LogFormat::Text => builder.finish().with(phi_safe()).try_init(),
    };
}

/// A filter over every log line: the targets that would log row values stop at info.
fn phi_safe() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::LevelFilter;
    tracing_subscriber::filter::Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("tokio_postgres", LevelFilter::INFO)
        .with_target("postgres", LevelFilter::INFO)
        .with_target("deadpool_postgres", LevelFilter::INFO)
}
