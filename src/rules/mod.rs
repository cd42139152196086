//! The rule engine: open DUR rule tables (`docs/rule-tables.md`) loaded, validated and compiled into
//! hot-path indexes, and the DUR edits that turn a claim and the patient's fills into a
//! [`crate::claim::Decision`].
//!
//! Tier 2: imports only `claim` and `limits`. Data flow: the shell reads a folder into a
//! [`RuleSource`], [`compile`] validates it all-or-nothing into a [`RuleSet`], [`LiveRules`]
//! holds the current one, and [`adjudicate`] runs the edits with a snapshot of it.
//! Must never do I/O, read the clock (`today` is an argument) or see a socket; a rejected claim
//! is a `Decision`, never an `Err`.

mod adjudicate;
mod compile;
mod csv_table;
mod edits;
mod error;
mod live;
mod policy;
mod ruleset;
pub mod seal;
pub mod units;

pub use adjudicate::{adjudicate, adjudicate_claim, ClaimContext};
pub use compile::{compile, file_error, RuleSource, FILES, OPTIONAL_FILES};
pub use error::{TableError, TableErrors};
pub use live::{LiveRules, Reloaded};
pub use policy::{EditParams, EditPolicy};
pub use ruleset::{
    ClassId, DdiRule, DoseBand, DuplicationRule, ElderlyRule, IngredientId, Product,
    ProductIngredient, RuleSet, TableCounts,
};

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_remembered;
#[cfg(test)]
mod tests_v2;
