//! `durgate decode [--json] FILE...`: show D.0 transmissions with NCPDP field names.
//!
//! Each file holds one bare transmission or STX…ETX frames. Exit status: 0 no problems, 1 some
//! message has problems, 2 some input is not a D.0 message at all. Must never hold codec logic:
//! the dump and the JSON come from `ncpdp::dump`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::limits::DECODE_FILE_BYTES_MAX;
use crate::ncpdp::dump;
use crate::wire::split_file_frames;

#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// Print one JSON object per transmission per line instead of the readable dump.
    #[arg(long)]
    pub json: bool,
    /// Files to decode.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// What the worst input of a `decode` run was; the exit status follows it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Outcome {
    Clean = 0,
    Problems = 1,
    NotD0 = 2,
}

pub fn decode(args: &DecodeArgs) -> ExitCode {
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
    let transmissions = split_file_frames(&bytes).with_context(|| format!("{}", path.display()))?;
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
