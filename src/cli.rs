//! Command line: clap subcommands, each a thin shell over a library module.
//!
//! Tier 4, the outermost layer: parses arguments, reads files, prints, and maps outcomes to exit
//! statuses. The only place besides `main` where `anyhow` is used. Must never hold domain logic:
//! a subcommand calls into `ncpdp`, `rules`, `server`, `loadgen` or `report` and prints the result.

use crate::limits::DECODE_FILE_BYTES_MAX;
use crate::ncpdp::{dump, ETX, STX};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::io::Read as _;
use std::path::{Path, PathBuf};
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
    /// Show D.0 transmissions with NCPDP field names and every problem found.
    ///
    /// Each FILE holds one bare transmission or one or more STX…ETX frames. Exit status: 0 no
    /// problems, 1 some message has problems, 2 some input is not a D.0 message at all.
    Decode(DecodeArgs),
}

#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// Print one JSON object per transmission per line instead of the readable dump.
    #[arg(long)]
    pub json: bool,
    /// Files to decode.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(args) => decode(&args),
    }
}

// ---- decode -------------------------------------------------------------------------------

/// What the worst input of a `decode` run was; the exit status follows it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Outcome {
    Clean = 0,
    Problems = 1,
    NotD0 = 2,
}

fn decode(args: &DecodeArgs) -> ExitCode {
    let mut worst = Outcome::Clean;
    for path in &args.files {
        let outcome = decode_file(path, args.json).unwrap_or_else(|error| {
            eprintln!("durgate decode: {error:#}");
            Outcome::NotD0
        });
        worst = worst.max(outcome);
    }
    ExitCode::from(worst as u8)
}

fn decode_file(path: &Path, json: bool) -> anyhow::Result<Outcome> {
    let bytes = read_bounded(path)?;
    let transmissions = split_frames(&bytes).with_context(|| format!("{}", path.display()))?;
    let mut worst = Outcome::Clean;
    let several = transmissions.len() > 1;
    for (index, transmission) in transmissions.iter().enumerate() {
        if !json {
            let frame = if several {
                format!(" frame {}", index + 1)
            } else {
                String::new()
            };
            println!("== {}{frame}", path.display());
        }
        worst = worst.max(show(transmission, json, path, index));
    }
    Ok(worst)
}

fn show(transmission: &[u8], json: bool, path: &Path, index: usize) -> Outcome {
    match dump::decode(transmission) {
        Ok(decoded) => {
            if json {
                println!("{}", decoded.json());
            } else {
                print!("{}", decoded.text());
            }
            if decoded.problems.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Problems
            }
        }
        Err(error) => {
            eprintln!(
                "durgate decode: {} transmission {}: not D.0: {error}",
                path.display(),
                index + 1
            );
            Outcome::NotD0
        }
    }
}

fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut bytes = Vec::new();
    let limit = DECODE_FILE_BYTES_MAX as u64 + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    anyhow::ensure!(
        bytes.len() <= DECODE_FILE_BYTES_MAX,
        "{}: larger than {DECODE_FILE_BYTES_MAX} bytes",
        path.display()
    );
    Ok(bytes)
}

/// The transmissions in a file: the STX…ETX frame payloads when the file starts with STX
/// (ASCII whitespace between frames is skipped), else the whole file as one bare transmission
/// without a final line break.
fn split_frames(bytes: &[u8]) -> anyhow::Result<Vec<&[u8]>> {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if bytes.get(start) != Some(&STX) {
        let bare = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        return Ok(vec![bare.strip_suffix(b"\r").unwrap_or(bare)]);
    }
    let mut frames = Vec::new();
    let mut rest = bytes.get(start..).unwrap_or_default();
    while let Some(after_stx) = rest.strip_prefix(&[STX]) {
        let end = memchr::memchr(ETX, after_stx).context("a frame has no ETX")?;
        frames.push(after_stx.get(..end).unwrap_or_default());
        let after = after_stx.get(end + 1..).unwrap_or_default();
        let next = after
            .iter()
            .position(|byte| !byte.is_ascii_whitespace())
            .unwrap_or(after.len());
        rest = after.get(next..).unwrap_or_default();
    }
    anyhow::ensure!(rest.is_empty(), "bytes outside any STX…ETX frame");
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_files_are_one_transmission_without_the_line_break() {
        assert_eq!(split_frames(b"ABC\r\n").ok(), Some(vec![&b"ABC"[..]]));
        assert_eq!(split_frames(b"ABC").ok(), Some(vec![&b"ABC"[..]]));
    }

    #[test]
    fn frames_are_split_and_whitespace_between_them_skipped() {
        let frames = split_frames(b"\x02ONE\x03\n\x02TWO\x03\r\n").ok();
        assert_eq!(frames, Some(vec![&b"ONE"[..], &b"TWO"[..]]));
    }

    #[test]
    fn broken_framing_is_an_error() {
        assert!(split_frames(b"\x02ONE").is_err());
        assert!(split_frames(b"\x02ONE\x03junk").is_err());
    }
}
