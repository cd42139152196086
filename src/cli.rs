//! Command line: clap subcommands, each a thin shell over a library module.
//!
//! Tier 4, the outermost layer: parses arguments, reads files, prints, and maps outcomes to exit
//! statuses. The only place besides `main` where `anyhow` is used. Must never hold domain logic:
//! a subcommand calls into `ncpdp`, `rules`, `server`, `loadgen` or `report` and prints the result.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Real-time point-of-sale DUR claim gateway for NCPDP Telecommunication D.0.
#[derive(Parser, Debug)]
#[command(name = "durgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
