//! Collecting problems: the [`Collector`] every step reports into, bounded by
//! `PROBLEMS_PER_TRANSMISSION_MAX` and tagged with the place (transmission or group) being
//! read, and the field and segment names problem messages use.
//!
//! Place in the flow: created by the walk, handed down to every step, emptied place by place at
//! the end. Must never exceed its bound, or name a value in a message (fields, not values).

use super::results::{field_kind, Problem, ProblemKind};
use crate::limits::PROBLEMS_PER_TRANSMISSION_MAX;
use crate::ncpdp::fields;
use crate::ncpdp::parse::Place;

/// Gathers problems with where they apply, bounded by `PROBLEMS_PER_TRANSMISSION_MAX`.
pub(super) struct Collector {
    found: Vec<(Place, Problem)>,
    pub(super) place: Place,
}

impl Collector {
    pub(super) fn new() -> Collector {
        Collector {
            found: Vec::new(),
            place: Place::Transmission,
        }
    }

    fn full(&self) -> bool {
        self.found.len() >= PROBLEMS_PER_TRANSMISSION_MAX
    }

    pub(super) fn add(
        &mut self,
        kind: ProblemKind,
        field: Option<[u8; 2]>,
        message: impl Into<String>,
    ) {
        self.add_at(kind, field, None, message);
    }

    pub(super) fn add_at(
        &mut self,
        kind: ProblemKind,
        field: Option<[u8; 2]>,
        occurrence: Option<u8>,
        message: impl Into<String>,
    ) {
        if !self.full() {
            let problem = Problem {
                occurrence,
                ..Problem::new(kind, field, message.into())
            };
            self.found.push((self.place, problem));
        }
    }

    /// A problem with a field, raised as the field's own kind ([`field_kind`]).
    pub(super) fn field(&mut self, at: FieldAt, what: &dyn std::fmt::Display) {
        if !self.full() {
            let message = format!("{} {what}", describe_field(at.segment, at.field));
            self.add_at(field_kind(at.field), Some(at.field), at.occurrence, message);
        }
    }

    pub(super) fn not_repeatable(
        &mut self,
        segment: [u8; 2],
        field: [u8; 2],
        occurrence: Option<u8>,
    ) {
        let message = format!("{} is not repeatable", describe_field(segment, field));
        self.add_at(
            ProblemKind::NonRepeatableField,
            Some(field),
            occurrence,
            message,
        );
    }

    /// Takes out the problems found at `place`.
    pub(super) fn take(&mut self, place: Place) -> Vec<Problem> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.found)
            .into_iter()
            .partition(|(at, _)| *at == place);
        self.found = kept;
        taken.into_iter().map(|(_, problem)| problem).collect()
    }
}

/// Which field a value came from: segment, field, repetition.
#[derive(Clone, Copy)]
pub(super) struct FieldAt {
    pub(super) segment: [u8; 2],
    pub(super) field: [u8; 2],
    pub(super) occurrence: Option<u8>,
}

/// `402-D2 prescription reference number`, or the bare id for a field the table lacks.
pub(super) fn describe_field(segment: [u8; 2], field: [u8; 2]) -> String {
    match fields::field(segment, field) {
        Some(info) => format!("{} {}", info.number, info.name),
        None => String::from_utf8_lossy(&field).into_owned(),
    }
}

pub(super) fn describe_segment(id: [u8; 2]) -> String {
    let name = fields::segment(id).map_or("unknown segment", |info| info.name);
    format!("AM{} {name}", String::from_utf8_lossy(&id))
}
