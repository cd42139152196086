//! Request validation: a raw [`Message`] → typed [`claim`](crate::claim) values plus every
//! problem found.
//!
//! Tier 2, inside `ncpdp`: runs right after [`parse`](super::parse()) on each inbound request;
//! the server turns the problems into 511-FB reject codes and hands the typed transactions to
//! `rules`. Pure: no I/O, no clock (so "claim too old" and "post-dated" are the caller's).
//!
//! This file holds the entry points and the walk: [`validate_request`] runs the steps in
//! order. The steps live in submodules along the request's parts: `results` (the public
//! [`Problem`], [`ProblemKind`], [`Validated`]), `matrix` (what each code requires),
//! `problems` (the bounded collector), `decoders` and `reading` (field rules and the field
//! reader), then `header`, `segments`, `patient`, `transaction` (count, groups, claim),
//! `dur_pps`, `repetitions`, `pricing`, `cob` and `compound`.
//!
//! Three rules shape it:
//! - **Collect everything.** Every problem of every transaction is reported at once (up to
//!   `PROBLEMS_PER_TRANSMISSION_MAX`), never just the first. Problems of the header, the
//!   transmission-level segments and the transaction count apply to every transaction and are
//!   kept apart in [`Validated::transmission_problems`].
//! - **One code per problem.** Each [`Problem`] has a [`ProblemKind`], and
//!   [`ProblemKind::reject_code`] — one exhaustive `match` — is the only place a kind becomes a
//!   reject code. Which kind a bad value of a given field raises is likewise one table
//!   ([`field_kind`]).
//! - **One mandatory matrix.** What each transaction code requires is the `REQUIREMENTS`
//!   table in `matrix.rs` (the Implementation Guide's matrix is not public, so the table is
//!   the gateway's payer sheet):
//!
//!   | code | AM04 Insurance | AM01 Patient | per transaction group |
//!   |---|---|---|---|
//!   | B1, B3 | required, with 302-C2 | required, with 304-C4 | AM07 with 455-EM 402-D2 436-E1 407-D7 442-E7 403-D3 405-D5; AM11 Pricing |
//!   | B2 | optional | optional | AM07 with 402-D2 407-D7 403-D3 (401-D1 is always required) |
//!   | E1 | required, with 302-C2 | required, with 304-C4 | no groups (109-A9 = 1) |
//!
//! Readings where the spec is silent (a demanding processor's choices):
//! - An empty field value counts as absent. Alphanumeric values lose trailing spaces; numeric
//!   values must be plain digits (no spaces, no signs) within their DD07 width.
//! - 455-EM must be `1` (Rx billing); 436-E1 must be `03` (NDC, then 407-D7 is 11 digits) or
//!   `00` (multi-ingredient compound, then 407-D7 is `0`, 406-D6 is `2` and the Compound
//!   segment is present). 402-D2 must be 1..=999999999999; 405-D5 at least 1 and 442-E7
//!   above zero on B1/B3.
//! - A date of birth after the date of service is invalid (09).
//! - Fields the gateway decodes but whose own reject code is not in the team's code list
//!   (names, other amounts, COB payer ids, compound ingredient quantity/cost) raise
//!   [`ProblemKind::FieldFormat`] → `R8` syntax error. Fields the gateway does not decode are
//!   kept in the raw message and not judged, except that a non-repeatable field sent twice is
//!   `P9` and a control byte inside any value is `R8`.
//! - A segment in the wrong level (a Claim before the first group, an Insurance inside one) is
//!   `R8`; an unknown or response segment id is `AM`; a segment sent twice at one level `R7`.
//! - An E1 carries no transaction group: a group there is `1U`; its 109-A9 must be 1 (`PB`).
//! - More than four transaction groups is `1U` (the extra groups were dropped by the reader).
//!
//! Must never: panic or allocate beyond the limits on any message, echo a patient
//! identifier, name or date of birth into a problem message (messages name fields, not
//! values), or decide anything clinical.

mod cob;
mod compound;
mod decoders;
mod dur_pps;
mod header;
mod matrix;
mod patient;
mod pricing;
mod problems;
mod reading;
mod repetitions;
mod results;
mod segments;
mod transaction;

pub use results::{field_kind, Problem, ProblemKind, Validated};

use super::parse::{parse, Message, Place};
use super::{Kind, ParseError};
use header::read_header;
use matrix::requirements;
use patient::read_patient;
use problems::Collector;
use segments::check_all_segments;
use transaction::{check_group_count, check_repeated_claim_keys, read_transactions};

/// Parses and validates a request in one call.
pub fn read_request(bytes: &[u8]) -> Result<(Message<'_>, Validated), ParseError> {
    let message = parse(bytes)?;
    if message.kind != Kind::Request {
        return Err(ParseError::WrongKind {
            expected: Kind::Request,
        });
    }
    let validated = validate_request(&message);
    Ok((message, validated))
}

/// Validates a parsed request: every problem, and typed values where they could be read.
pub fn validate_request(message: &Message<'_>) -> Validated {
    let mut c = Collector::new();
    report_structure(&mut c, message);
    if message.kind != Kind::Request {
        c.add(ProblemKind::Syntax, None, "a response is not a request");
    }
    let (header, code, date_of_service) = read_header(&mut c, &message.header);
    let needs = requirements(code);
    check_all_segments(&mut c, message, needs);
    let patient = read_patient(&mut c, message, needs, date_of_service);
    check_group_count(&mut c, message, needs);
    let transactions = read_transactions(&mut c, message, needs);
    check_repeated_claim_keys(&mut c, &transactions);
    let transmission_problems = c.take(Place::Transmission);
    let transactions = transactions
        .into_iter()
        .enumerate()
        .map(|(index, transaction)| {
            let problems = c.take(Place::Transaction(index));
            if problems.is_empty() {
                Ok(transaction)
            } else {
                Err(problems)
            }
        })
        .collect();
    Validated {
        header,
        patient,
        transmission_problems,
        transactions,
    }
}

/// The reader's structural flaws, each at its group (or the transmission).
fn report_structure(c: &mut Collector, message: &Message<'_>) {
    for problem in &message.problems {
        c.place = match problem.place {
            Place::Transaction(index) if index < message.groups.len() => problem.place,
            _ => Place::Transmission,
        };
        let kind = ProblemKind::of_structure(problem.structure);
        c.add(kind, None, problem.structure.describe());
    }
    c.place = Place::Transmission;
}

#[cfg(test)]
mod tests;
