#![doc = include_str!("ARCHITECTURE.md")]
#![forbid(unsafe_code)]

pub mod claim;
pub mod cli;
pub mod limits;
pub mod ncpdp;
