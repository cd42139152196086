//! durgate: a real-time point-of-sale DUR claim gateway for NCPDP Telecommunication D.0. The
//! library holds every module; the `durgate` binary is a thin shell over `cli`. The rest of these
//! docs is the architecture map (`src/ARCHITECTURE.md`).
#![doc = include_str!("ARCHITECTURE.md")]
#![forbid(unsafe_code)]

pub mod claim;
pub mod cli;
pub mod clock;
pub mod config;
pub mod history;
pub mod limits;
pub mod loadgen;
pub mod ncpdp;
pub mod report;
pub mod rules;
pub mod server;
pub mod store;
pub mod version;
pub mod wire;

/// Honest skips for unit tests that need an outside service (the stories' helper, one file).
#[cfg(test)]
#[path = "../tests/support/skip.rs"]
pub(crate) mod test_skip;
