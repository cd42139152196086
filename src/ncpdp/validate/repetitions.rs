//! Counted repetitions: a segment's fields split into repetitions at a trigger field (at most a
//! bound), a count field checked against the repetitions sent, and a field's first value.
//!
//! Place in the flow: shared by the clarification-code, pricing, COB and compound steps. Must
//! never let more repetitions through than its bound.

use super::problems::Collector;
use super::results::ProblemKind;
use crate::ncpdp::numbers;
use crate::ncpdp::parse::Field;

/// `fields` split into repetitions that each start at a trigger field, the fields before the
/// first trigger apart, at most `max` repetitions (`overflow` when more were sent).
pub(super) struct Repetitions<'s, 'a> {
    pub(super) head: &'s [Field<'a>],
    pub(super) items: Vec<&'s [Field<'a>]>,
    pub(super) overflow: bool,
}

pub(super) fn repetitions<'s, 'a>(
    fields: &'s [Field<'a>],
    trigger: [u8; 2],
    max: usize,
) -> Repetitions<'s, 'a> {
    let first = fields
        .iter()
        .position(|field| field.id == trigger)
        .unwrap_or(fields.len());
    let (head, mut rest) = fields.split_at(first);
    let mut items = Vec::new();
    while !rest.is_empty() {
        if items.len() == max {
            return Repetitions {
                head,
                items,
                overflow: true,
            };
        }
        let next = rest.iter().skip(1).position(|field| field.id == trigger);
        let (item, tail) = rest.split_at(next.map_or(rest.len(), |position| position + 1));
        items.push(item);
        rest = tail;
    }
    Repetitions {
        head,
        items,
        overflow: false,
    }
}

/// Reports `problem` (a kind and what is counted) unless the count field (`width` digits,
/// absent when nothing repeats) equals the repetitions sent.
pub(super) fn check_count(
    c: &mut Collector,
    count: Option<&[u8]>,
    sent: usize,
    width: usize,
    problem: (ProblemKind, &str),
) {
    let matches = match count {
        None => sent == 0,
        Some(value) => sent > 0 && numbers::digits(value, width) == Some(sent as u64),
    };
    if !matches {
        let (kind, what) = problem;
        c.add(
            kind,
            None,
            format!("{what} does not match the repetitions sent ({sent})"),
        );
    }
}

/// The first value of `id` among `fields`.
pub(super) fn first_value<'a>(fields: &[Field<'a>], id: [u8; 2]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|field| field.id == id)
        .map(|field| field.value)
}
