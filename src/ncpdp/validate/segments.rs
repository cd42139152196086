//! The structure of segments: placement (transmission level or group), segments sent twice,
//! control bytes in values and non-repeatable fields sent twice, over every segment.
//!
//! Place in the flow: runs after the header over the whole message, before any segment is read
//! for its values. Must never decode a value; fields the spec does not list are not judged.

use super::matrix::{
    Requirements, E1_TRANSMISSION_SEGMENTS, TRANSACTION_SEGMENTS, TRANSMISSION_SEGMENTS,
};
use super::problems::{describe_field, describe_segment, Collector};
use super::results::ProblemKind;
use crate::claim::TransactionCode;
use crate::ncpdp::fields;
use crate::ncpdp::parse::{Message, Place, Segment};

/// Placement, repetition and byte checks over every segment.
pub(super) fn check_all_segments(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let transmission_allowed = match needs.code {
        Some(TransactionCode::E1) => E1_TRANSMISSION_SEGMENTS,
        _ => TRANSMISSION_SEGMENTS,
    };
    check_segments(c, &message.transmission, transmission_allowed);
    for (index, group) in message.groups.iter().enumerate() {
        c.place = Place::Transaction(index);
        check_segments(c, group, TRANSACTION_SEGMENTS);
    }
    c.place = Place::Transmission;
}

fn check_segments(c: &mut Collector, segments: &[Segment<'_>], allowed: &[[u8; 2]]) {
    for (index, segment) in segments.iter().enumerate() {
        check_placement(c, segment, allowed);
        let earlier = segments.get(..index).unwrap_or_default();
        if segment.has_id() && earlier.iter().any(|other| other.id == segment.id) {
            let message = format!("{} sent twice", describe_segment(segment.id));
            c.add(ProblemKind::RepeatedSegment, None, message);
        }
        check_fields(c, segment);
    }
}

fn check_placement(c: &mut Collector, segment: &Segment<'_>, allowed: &[[u8; 2]]) {
    if !segment.has_id() || allowed.contains(&segment.id) {
        return;
    }
    let id = segment.id;
    let name = describe_segment(id);
    if TRANSACTION_SEGMENTS.contains(&id) || TRANSMISSION_SEGMENTS.contains(&id) {
        c.add(
            ProblemKind::SegmentNotAllowedHere,
            None,
            format!("{name} is not allowed here"),
        );
    } else {
        c.add(
            ProblemKind::SegmentId,
            None,
            format!("{name} is not a request segment"),
        );
    }
}

/// Control bytes in values (R8) and non-repeatable fields sent twice (P9). The DUR/PPS
/// segment's per-occurrence repeats are checked by its own reader.
fn check_fields(c: &mut Collector, segment: &Segment<'_>) {
    let mut seen = SeenFields::default();
    for field in &segment.fields {
        if field.value.iter().any(|byte| !(0x20..=0x7e).contains(byte)) {
            let name = describe_field(segment.id, field.id);
            let message = format!("{name} holds a control or non-ASCII byte");
            c.add(ProblemKind::Syntax, Some(field.id), message);
        }
        // The field table is only consulted for a repeat (most fields are not repeated).
        if !seen.insert(field.id) && !repeatable(segment.id, field.id) {
            c.not_repeatable(segment.id, field.id, None);
        }
    }
}

/// Whether the spec lets `field` repeat in `segment` (fields it does not list: yes, they
/// are not judged).
fn repeatable(segment: [u8; 2], field: [u8; 2]) -> bool {
    fields::field(segment, field).is_none_or(|info| info.rep.repeatable())
}

/// A set of 2-character field ids of digits and upper-case letters (other ids are never
/// reported as repeats: unknown fields are not judged).
#[derive(Default)]
pub(super) struct SeenFields {
    bits: [u64; 21],
}

impl SeenFields {
    /// Inserts `id`; `false` when it was already there.
    pub(super) fn insert(&mut self, id: [u8; 2]) -> bool {
        let (Some(high), Some(low)) = (id_slot(id[0]), id_slot(id[1])) else {
            return true;
        };
        let index = high * 36 + low;
        let bit = 1u64 << (index % 64);
        let Some(word) = self.bits.get_mut(index / 64) else {
            return true;
        };
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

/// 0..=35 for `0-9A-Z`.
fn id_slot(byte: u8) -> Option<usize> {
    match byte {
        b'0'..=b'9' => Some(usize::from(byte - b'0')),
        b'A'..=b'Z' => Some(usize::from(byte - b'A') + 10),
        _ => None,
    }
}
