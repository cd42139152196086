//! AM05 COB: other payers, each started by 338-5C, with their nested counted repetitions
//! (amounts paid, reject codes, patient responsibility, benefit stages); every count mismatch
//! is P4.
//!
//! Place in the flow: one step of reading a transaction group. Must never read beyond the
//! payer and repetition bounds.

use super::decoders::{alnum, date};
use super::pricing::{amounts_or_report, money_rule, qualified_amounts, wide_money_rule};
use super::problems::{describe_field, Collector};
use super::reading::Reader;
use super::repetitions::{check_count, first_value, repetitions};
use super::results::ProblemKind;
use crate::claim::{CobPayer, QualifiedAmount};
use crate::limits::{COB_PAYERS_MAX, COB_PAYER_REPEATS_MAX};
use crate::ncpdp::parse::{Field, Segment};

/// COB other payers: each starts at 338-5C; inside a payer, amounts paid (HC/DV), reject
/// codes (6E), patient responsibility (NP/NQ) and benefit stages (MV/MW) each repeat under
/// their own count. Every count mismatch is P4.
pub(super) fn read_cob(c: &mut Collector, segment: &Segment<'_>) -> Vec<CobPayer> {
    let payers = repetitions(&segment.fields, *b"5C", COB_PAYERS_MAX);
    if payers.overflow || payers.head.iter().any(|field| &field.id != b"4C") {
        let message = "too many other payers, or payer fields before 338-5C";
        c.add(ProblemKind::CobCount, Some(*b"4C"), message);
    }
    let what = "337-4C other payments count";
    check_count(
        c,
        segment.first(*b"4C"),
        payers.items.len(),
        1,
        (ProblemKind::CobCount, what),
    );
    let mut read = Vec::with_capacity(payers.items.len());
    for (index, payer) in payers.items.iter().enumerate() {
        read.push(read_payer(c, payer, index + 1));
    }
    read
}

fn read_payer(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> CobPayer {
    let mut r = Reader::repetition(c, *b"05", fields, occurrence);
    let mut payer = CobPayer {
        coverage_type: r.get(*b"5C", alnum(2)).unwrap_or_default(),
        id_qualifier: r.get(*b"6C", alnum(2)).unwrap_or_default(),
        id: r.get(*b"7C", alnum(10)).unwrap_or_default(),
        date: r.get(*b"E8", date()),
        ..CobPayer::default()
    };
    payer.amounts_paid = payer_amounts(c, fields, occurrence, ([*b"HB", *b"HC", *b"DV"], 1));
    payer.reject_codes = payer_reject_codes(c, fields, occurrence);
    let responsibility = ([*b"NR", *b"NP", *b"NQ"], 2);
    payer.patient_responsibility = payer_amounts(c, fields, occurrence, responsibility);
    payer.benefit_stages = payer_amounts(c, fields, occurrence, ([*b"MU", *b"MV", *b"MW"], 1));
    payer
}

/// One nested count (`ids[0]`, `count_width` digits) with its qualifier/amount repetitions
/// (`ids[1]`, `ids[2]`) inside one payer.
fn payer_amounts(
    c: &mut Collector,
    fields: &[Field<'_>],
    occurrence: usize,
    (ids, count_width): ([[u8; 2]; 3], usize),
) -> Vec<QualifiedAmount> {
    let [count_id, qualifier_id, amount_id] = ids;
    let members: Vec<Field<'_>> = fields
        .iter()
        .filter(|f| f.id == qualifier_id || f.id == amount_id)
        .copied()
        .collect();
    let items = repetitions(&members, qualifier_id, COB_PAYER_REPEATS_MAX);
    let rule = if amount_id == *b"NQ" {
        wide_money_rule
    } else {
        money_rule
    };
    let amounts = qualified_amounts(c, &items.items, (*b"05", [qualifier_id, amount_id]), rule);
    let what = format!("payer {occurrence} {}", describe_field(*b"05", count_id));
    let complete = !items.overflow && items.head.is_empty();
    let amounts = amounts_or_report(c, amounts, complete, (ProblemKind::CobCount, &what));
    let count = first_value(fields, count_id);
    check_count(
        c,
        count,
        items.items.len(),
        count_width,
        (ProblemKind::CobCount, &what),
    );
    amounts
}

fn payer_reject_codes(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> Vec<String> {
    let sent: Vec<&Field<'_>> = fields.iter().filter(|field| &field.id == b"6E").collect();
    let mut r = Reader::repetition(c, *b"05", fields, occurrence);
    let kept = sent.iter().take(COB_PAYER_REPEATS_MAX);
    let codes: Vec<String> = kept.filter_map(|field| r.decode(field, alnum(3))).collect();
    let what = format!("payer {occurrence} 471-5E other payer reject count");
    let count = first_value(fields, *b"5E");
    check_count(c, count, sent.len(), 2, (ProblemKind::CobCount, &what));
    codes
}
