#![doc = include_str!("ARCHITECTURE.md")]
#![forbid(unsafe_code)]

pub mod claim;
pub mod cli;
pub mod config;
pub mod history;
pub mod limits;
pub mod loadgen;
pub mod ncpdp;
pub mod report;
pub mod rules;
pub mod server;
pub mod store;
pub mod wire;
