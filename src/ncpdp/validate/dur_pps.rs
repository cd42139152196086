//! AM08 DUR/PPS: occurrences, each started by its 473-7E counter, read into `DurPps` values,
//! with the counters' sequence and limit and each occurrence's repeated fields checked.
//!
//! Place in the flow: one step of reading a transaction group; `rules` later matches these
//! overrides against its conflicts. Must never judge a code beyond its external code list.

use super::decoders::{alnum, digits_in, listed, Expect, Rule};
use super::problems::{describe_field, Collector};
use super::reading::Reader;
use super::results::ProblemKind;
use super::segments::SeenFields;
use crate::claim::{codes, DurPps};
use crate::limits::DUR_PPS_OCCURRENCES_MAX;
use crate::ncpdp::numbers;
use crate::ncpdp::parse::{Field, Segment};

/// DUR/PPS occurrences: each starts at its 473-7E counter (1, 2, 3...); the other fields
/// belong to the occurrence they follow, each at most once.
pub(super) fn read_dur_pps(c: &mut Collector, segment: &Segment<'_>) -> Vec<DurPps> {
    let mut reader = DurReader::default();
    for field in &segment.fields {
        reader.field(c, field);
    }
    reader.occurrences
}

#[derive(Default)]
struct DurReader {
    occurrences: Vec<DurPps>,
    seen: SeenFields,
    /// After an unusable counter or the occurrence limit: fields are skipped until the next
    /// usable counter.
    skipping: bool,
    /// 9W and 488 are reported once per segment.
    reported_exceeds: bool,
    reported_not_first: bool,
}

impl DurReader {
    fn field(&mut self, c: &mut Collector, field: &Field<'_>) {
        if &field.id == b"7E" {
            return self.counter(c, field);
        }
        if self.skipping || !is_dur_field(field.id) {
            return;
        }
        let occurrence = self.occurrences.len();
        let Some(current) = self.occurrences.last_mut() else {
            return self.not_first(c, field.id);
        };
        if !self.seen.insert(field.id) {
            return c.not_repeatable(*b"08", field.id, u8::try_from(occurrence).ok());
        }
        let mut reader = Reader::repetition(c, *b"08", &[], occurrence);
        set_dur_field(&mut reader, field, current);
    }

    fn counter(&mut self, c: &mut Collector, field: &Field<'_>) {
        let next = self.occurrences.len() + 1;
        let mut reader = Reader::repetition(c, *b"08", &[], next);
        let Some(counter) = reader.decode(field, digits_in(2, 1, 99)) else {
            self.skipping = true;
            return;
        };
        if counter > DUR_PPS_OCCURRENCES_MAX as u64 || next > DUR_PPS_OCCURRENCES_MAX {
            return self.exceeds(c, next);
        }
        if counter != next as u64 {
            let message = format!("473-7E counter {counter} where {next} was due");
            c.add_at(
                ProblemKind::DurCounterSequence,
                Some(*b"7E"),
                reader_occurrence(next),
                message,
            );
        }
        self.skipping = false;
        self.seen = SeenFields::default();
        self.occurrences.push(DurPps {
            counter: counter as u8,
            ..DurPps::default()
        });
    }

    fn exceeds(&mut self, c: &mut Collector, next: usize) {
        self.skipping = true;
        if !std::mem::replace(&mut self.reported_exceeds, true) {
            let message = "more than 9 DUR/PPS occurrences";
            c.add_at(
                ProblemKind::DurCounterExceeds,
                Some(*b"7E"),
                reader_occurrence(next),
                message,
            );
        }
    }

    fn not_first(&mut self, c: &mut Collector, field: [u8; 2]) {
        if !std::mem::replace(&mut self.reported_not_first, true) {
            let name = describe_field(*b"08", field);
            let message = format!("{name} comes before any 473-7E counter");
            c.add(ProblemKind::DurCounterNotFirst, Some(field), message);
        }
    }
}

fn reader_occurrence(occurrence: usize) -> Option<u8> {
    u8::try_from(occurrence).ok()
}

fn is_dur_field(id: [u8; 2]) -> bool {
    matches!(&id, b"E4" | b"E5" | b"E6" | b"8E" | b"J9" | b"H6")
}

fn set_dur_field(r: &mut Reader<'_, '_, '_>, field: &Field<'_>, dur: &mut DurPps) {
    if field.value.is_empty() {
        return;
    }
    match &field.id {
        b"E4" => dur.reason = r.decode(field, listed(codes::is_reason_for_service)),
        b"E5" => dur.professional = r.decode(field, listed(codes::is_professional_service)),
        b"E6" => dur.result = r.decode(field, listed(codes::is_result_of_service)),
        b"8E" => dur.level_of_effort = r.decode(field, level_of_effort()).map(|e| e as u8),
        b"J9" => dur.co_agent_qualifier = r.decode(field, alnum(2)),
        _ => set_co_agent_id(r, field, dur),
    }
}

/// 474-8E: `0` not specified, `11`..`15` levels 1 to 5.
fn level_of_effort() -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = |v: &[u8]| numbers::digits(v, 2).filter(|e| *e == 0 || (11..=15).contains(e));
    Rule {
        decode,
        expect: Expect::Say("must be 0 or 11 to 15"),
    }
}

/// 476-H6, which must follow its 475-J9 qualifier.
fn set_co_agent_id(r: &mut Reader<'_, '_, '_>, field: &Field<'_>, dur: &mut DurPps) {
    dur.co_agent_id = r.decode(field, alnum(19));
    if dur.co_agent_id.is_some() && dur.co_agent_qualifier.is_none() {
        let message = "475-J9 co-agent id qualifier must precede 476-H6";
        r.c.add_at(
            ProblemKind::CoAgentQualifierOrder,
            Some(*b"H6"),
            r.occurrence,
            message,
        );
    }
}
