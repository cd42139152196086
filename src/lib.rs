#![doc = include_str!("ARCHITECTURE.md")]
#![forbid(unsafe_code)]

pub mod claim;
pub mod cli;
pub mod history;
pub mod limits;
pub mod store;
