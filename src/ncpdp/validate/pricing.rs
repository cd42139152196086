//! AM11 Pricing: the claimed amounts, and the qualifier/amount repetitions (478-H7 other
//! amounts) that COB reads the same way (`qualified_amounts`, `amounts_or_report`, the money
//! rules).
//!
//! Place in the flow: one step of reading a transaction group. The gateway records prices, it
//! does not price: must never judge an amount beyond its format.

use super::decoders::{alnum, money, Decoder, Expect, Rule};
use super::problems::Collector;
use super::reading::Reader;
use super::repetitions::{check_count, repetitions};
use super::results::ProblemKind;
use crate::claim::{Pricing, QualifiedAmount};
use crate::limits::PRICING_OTHER_AMOUNTS_MAX;
use crate::ncpdp::numbers;
use crate::ncpdp::parse::{Field, Segment};

pub(super) fn read_pricing(c: &mut Collector, segment: &Segment<'_>) -> Pricing {
    let mut r = Reader::segment(c, segment, &[]);
    let mut pricing = Pricing {
        ingredient_cost_cents: r.get(*b"D9", money()),
        dispensing_fee_cents: r.get(*b"DC", money()),
        patient_paid_cents: r.get(*b"DX", money()),
        incentive_cents: r.get(*b"E3", money()),
        usual_and_customary_cents: r.get(*b"DQ", money()),
        gross_amount_due_cents: r.get(*b"DU", money()),
        basis_of_cost: r.get(*b"DN", alnum(2)),
        other_amounts: Vec::new(),
    };
    let count = r.value(*b"H7");
    let other = repetitions(&segment.fields, *b"H8", PRICING_OTHER_AMOUNTS_MAX);
    let complete = !other.overflow && !other.head.iter().any(|field| &field.id == b"H9");
    let what = "478-H7 other amount claimed count";
    let amounts = qualified_amounts(c, &other.items, (*b"11", [*b"H8", *b"H9"]), money_rule);
    pricing.other_amounts =
        amounts_or_report(c, amounts, complete, (ProblemKind::OtherAmountCount, what));
    check_count(
        c,
        count,
        other.items.len(),
        1,
        (ProblemKind::OtherAmountCount, what),
    );
    pricing
}

/// Qualifier/amount repetitions (each starts at `ids[0]`). `None` in the list marks a
/// repetition without its amount.
pub(super) fn qualified_amounts(
    c: &mut Collector,
    items: &[&[Field<'_>]],
    (segment, ids): ([u8; 2], [[u8; 2]; 2]),
    amount: fn() -> Rule<Decoder<i64>>,
) -> Vec<Option<QualifiedAmount>> {
    let mut read = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let mut r = Reader::repetition(c, segment, item, index + 1);
        let qualifier = r.get(ids[0], alnum(2)).unwrap_or_default();
        let present = r.value(ids[1]).is_some();
        let cents = r.get(ids[1], amount()).unwrap_or_default();
        read.push(present.then_some(QualifiedAmount { qualifier, cents }));
    }
    read
}

/// The amounts, reporting `problem` when a repetition lacks its amount or `complete` is
/// false (stray or too many repetitions).
pub(super) fn amounts_or_report(
    c: &mut Collector,
    amounts: Vec<Option<QualifiedAmount>>,
    complete: bool,
    (kind, what): (ProblemKind, &str),
) -> Vec<QualifiedAmount> {
    let whole = complete && amounts.iter().all(Option::is_some);
    if !whole {
        c.add(
            kind,
            None,
            format!("{what}: repetitions incomplete, stray or too many"),
        );
    }
    amounts.into_iter().flatten().collect()
}

/// `s9(6)v99` money as a plain function (for [`qualified_amounts`]).
pub(super) fn money_rule() -> Rule<Decoder<i64>> {
    Rule {
        decode: |v| numbers::overpunch(v, 8),
        expect: Expect::Money,
    }
}

/// `s9(8)v99` money (352-NQ).
pub(super) fn wide_money_rule() -> Rule<Decoder<i64>> {
    Rule {
        decode: |v| numbers::overpunch(v, 10),
        expect: Expect::Say("must be signed overpunch money s9(8)v99"),
    }
}
