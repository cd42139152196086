//! AM10 Compound: ingredients, each started by 488-RE and counted by 447-EC, and the check that
//! 406-D6, 436-E1 and the segment agree.
//!
//! Place in the flow: the last step of reading a transaction group. Must never accept a
//! compound code without its segment, or the segment without the code.

use super::decoders::{alnum, money, quantity, text, Expect, Rule};
use super::problems::Collector;
use super::reading::Reader;
use super::repetitions::{check_count, first_value, repetitions};
use super::results::ProblemKind;
use crate::claim::{CompoundIngredient, Ndc, Transaction};
use crate::limits::COMPOUND_INGREDIENTS_MAX;
use crate::ncpdp::parse::{Field, Segment};

/// Fields of one compound ingredient (they follow its 488-RE).
const INGREDIENT_FIELDS: [[u8; 2]; 6] = [*b"TE", *b"ED", *b"EE", *b"UE", *b"2G", *b"2H"];

/// Compound ingredients: each starts at 488-RE; 447-EC counts them (P3).
pub(super) fn read_compound(c: &mut Collector, segment: &Segment<'_>) -> Vec<CompoundIngredient> {
    let ingredients = repetitions(&segment.fields, *b"RE", COMPOUND_INGREDIENTS_MAX);
    let stray = ingredients
        .head
        .iter()
        .any(|field| INGREDIENT_FIELDS.contains(&field.id));
    if ingredients.overflow || stray {
        let message = "too many ingredients, or ingredient fields before 488-RE";
        c.add(ProblemKind::CompoundCount, Some(*b"EC"), message);
    }
    let what = (
        ProblemKind::CompoundCount,
        "447-EC compound ingredient component count",
    );
    check_count(c, segment.first(*b"EC"), ingredients.items.len(), 2, what);
    let mut read = Vec::with_capacity(ingredients.items.len());
    for (index, item) in ingredients.items.iter().enumerate() {
        read.push(read_ingredient(c, item, index + 1));
    }
    read
}

fn read_ingredient(
    c: &mut Collector,
    fields: &[Field<'_>],
    occurrence: usize,
) -> CompoundIngredient {
    let mut r = Reader::repetition(c, *b"10", fields, occurrence);
    let product_qualifier = r.need(*b"RE", alnum(2)).unwrap_or_default();
    let product = if product_qualifier == "03" {
        let decode = |v: &[u8]| Ndc::parse(v).map(|_| text(v));
        r.need(
            *b"TE",
            Rule {
                decode,
                expect: Expect::Say("must be an 11-digit NDC when 488-RE is 03"),
            },
        )
    } else {
        r.need(*b"TE", alnum(19))
    };
    let ingredient = CompoundIngredient {
        product_qualifier,
        product_id: product.unwrap_or_default(),
        quantity_milli: r.need(*b"ED", quantity(1)).unwrap_or_default(),
        cost_cents: r.get(*b"EE", money()),
        basis_of_cost: r.get(*b"UE", alnum(2)),
    };
    let modifiers = fields.iter().filter(|field| &field.id == b"2H").count();
    let what = (
        ProblemKind::CompoundCount,
        "362-2G ingredient modifier code count",
    );
    check_count(c, first_value(fields, *b"2G"), modifiers, 2, what);
    ingredient
}

/// 406-D6 = 2 ⇔ a Compound segment ⇔ 436-E1 = 00.
pub(super) fn check_compound_consistency(c: &mut Collector, t: &Transaction, segment_sent: bool) {
    let compound_code = t.compound_code == 2;
    if compound_code && !segment_sent {
        let message = "406-D6 is 2 (compound) but AM10 Compound is missing";
        return c.add(ProblemKind::CompoundSegmentMissing, None, message);
    }
    let compound_product = t.product_qualifier == "00";
    let qualifier_disagrees = !t.product_qualifier.is_empty() && compound_product != compound_code;
    if segment_sent != compound_code || qualifier_disagrees {
        let message = "406-D6 compound code, 436-E1 and the AM10 Compound segment disagree";
        c.add(ProblemKind::CompoundCode, Some(*b"D6"), message);
    }
}
