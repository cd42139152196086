//! Transaction groups: 109-A9 against the groups sent; each group read into a typed
//! `Transaction` (AM07 Claim with its product and clarification codes, AM03 Prescriber, then
//! the DUR/PPS, pricing, COB and compound steps); and Rx and fill numbers repeated within one
//! transmission (83).
//!
//! Place in the flow: the walk's last steps, each group at its own place. Must never decide
//! anything clinical: it reads and checks, `rules` decides.

use super::cob::read_cob;
use super::compound::{check_compound_consistency, read_compound};
use super::decoders::{alnum, date, digits_in, one_of, quantity};
use super::dur_pps::read_dur_pps;
use super::matrix::{Need, Requirements};
use super::patient::require;
use super::pricing::read_pricing;
use super::problems::Collector;
use super::reading::Reader;
use super::repetitions::check_count;
use super::results::ProblemKind;
use crate::claim::{Ndc, Transaction};
use crate::limits::{CLARIFICATION_CODES_MAX, TRANSACTIONS_MAX};
use crate::ncpdp::numbers;
use crate::ncpdp::parse::{Field, Message, Place, Segment, Structure};

// ---- transaction count --------------------------------------------------------------------

/// 109-A9 against the groups sent (skipped when A9 itself is unusable, and when the reader
/// already dropped groups beyond the limit: that is reported as 1U by the structure).
pub(super) fn check_group_count(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let Some(count) = numbers::digits(message.header.transaction_count, 1) else {
        return;
    };
    let sent = message.groups.len();
    if !needs.groups {
        if count != 1 {
            c.add(
                ProblemKind::CountInvalidForCode,
                None,
                "109-A9 must be 1 for E1",
            );
        }
        if sent > 0 {
            c.add(
                ProblemKind::TransactionCountMismatch,
                None,
                "E1 carries no transaction group",
            );
        }
        return;
    }
    let overflowed = message
        .problems
        .iter()
        .any(|p| p.structure == Structure::TooManyGroups);
    let count_ok = (1..=TRANSACTIONS_MAX as u64).contains(&count);
    if count_ok && !overflowed && sent as u64 != count {
        let message = format!("109-A9 says {count} transactions, {sent} sent");
        c.add(ProblemKind::TransactionCountMismatch, None, message);
    }
}

// ---- transactions -------------------------------------------------------------------------

pub(super) fn read_transactions(
    c: &mut Collector,
    message: &Message<'_>,
    needs: &Requirements,
) -> Vec<Transaction> {
    let mut transactions = Vec::with_capacity(message.groups.len());
    for (index, group) in message.groups.iter().enumerate() {
        c.place = Place::Transaction(index);
        transactions.push(read_transaction(c, group, needs));
    }
    c.place = Place::Transmission;
    transactions
}

/// A transaction whose Rx number and fill number repeat an earlier one's (one pharmacy per
/// transmission) is rejected 83 and never adjudicated; the earlier one is processed normally.
/// Transactions whose Rx number was unreadable (0) are left to their own problems.
pub(super) fn check_repeated_claim_keys(c: &mut Collector, transactions: &[Transaction]) {
    for (index, transaction) in transactions.iter().enumerate() {
        let key = (transaction.rx_number, transaction.fill_number);
        let earlier = transactions.get(..index).unwrap_or_default();
        let Some(first) = earlier
            .iter()
            .position(|other| key.0 != 0 && (other.rx_number, other.fill_number) == key)
        else {
            continue;
        };
        c.place = Place::Transaction(index);
        let message = format!(
            "Rx number and fill number repeat transaction {} of this transmission",
            first + 1
        );
        c.add(ProblemKind::RepeatedClaimKey, Some(*b"D2"), message);
    }
    c.place = Place::Transmission;
}

fn find<'s, 'a>(group: &'s [Segment<'a>], id: &[u8; 2]) -> Option<&'s Segment<'a>> {
    group.iter().find(|segment| &segment.id == id)
}

fn read_transaction(c: &mut Collector, group: &[Segment<'_>], needs: &Requirements) -> Transaction {
    let mut t = Transaction::default();
    let claim = find(group, b"07");
    require(
        c,
        claim.is_some(),
        Need::Required,
        ProblemKind::ClaimSegmentMissing,
        *b"07",
    );
    if let Some(claim) = claim {
        read_claim(
            &mut Reader::segment(c, claim, needs.claim_fields),
            needs,
            &mut t,
        );
    }
    if let Some(prescriber) = find(group, b"03") {
        read_prescriber(&mut Reader::segment(c, prescriber, &[]), &mut t);
    }
    if let Some(dur) = find(group, b"08") {
        t.dur_pps = read_dur_pps(c, dur);
    }
    let pricing = find(group, b"11");
    require(
        c,
        pricing.is_some(),
        needs.pricing,
        ProblemKind::PricingSegmentMissing,
        *b"11",
    );
    if let Some(pricing) = pricing {
        t.pricing = read_pricing(c, pricing);
    }
    if let Some(cob) = find(group, b"05") {
        t.cob = read_cob(c, cob);
    }
    let compound = find(group, b"10");
    if let Some(segment) = compound {
        t.compound = read_compound(c, segment);
    }
    check_compound_consistency(c, &t, compound.is_some());
    t
}

/// Largest 402-D2 (9(12)).
const RX_NUMBER_MAX: u64 = 999_999_999_999;

fn read_claim(r: &mut Reader<'_, '_, '_>, needs: &Requirements, t: &mut Transaction) {
    r.get(*b"EM", one_of(&[b"1"], "must be 1 (Rx billing)"));
    t.rx_number = r
        .get(*b"D2", digits_in(12, 1, RX_NUMBER_MAX))
        .unwrap_or_default();
    t.fill_number = r.get(*b"D3", digits_in(2, 0, 99)).unwrap_or_default() as u8;
    read_product(r, t);
    let billing = u64::from(needs.positive_quantities);
    t.quantity_milli = r.get(*b"E7", quantity(billing)).unwrap_or_default();
    t.days_supply = r
        .get(*b"D5", digits_in(3, billing, 999))
        .unwrap_or_default() as u16;
    t.compound_code = r.get(*b"D6", digits_in(1, 0, 2)).unwrap_or_default() as u8;
    t.daw_code = r.get(*b"D8", digits_in(1, 0, 9)).map(|daw| daw as u8);
    t.date_written = r.get(*b"DE", date());
    t.refills_authorized = r
        .get(*b"DF", digits_in(2, 0, 99))
        .map(|refills| refills as u8);
    t.clarification_codes = read_clarification(r);
}

/// 436-E1 and 407-D7: the qualifier decides what the product id must look like.
fn read_product(r: &mut Reader<'_, '_, '_>, t: &mut Transaction) {
    let qualifier = r.get(
        *b"E1",
        one_of(&[b"03", b"00"], "must be 03 (NDC) or 00 (compound)"),
    );
    let product_id = r.get(*b"D7", alnum(19));
    let at = r.at(*b"D7");
    match (qualifier.as_deref(), product_id.as_deref()) {
        (Some("03"), Some(id)) => {
            t.ndc = Ndc::parse(id.as_bytes());
            if t.ndc.is_none() {
                r.c.field(at, &"must be an 11-digit NDC when 436-E1 is 03");
            }
        }
        (Some("00"), Some(id)) if id != "0" => {
            r.c.field(at, &"must be 0 for a multi-ingredient compound (436-E1 00)");
        }
        _ => {}
    }
    t.product_qualifier = qualifier.unwrap_or_default();
    t.product_id = product_id.unwrap_or_default();
}

/// 354-NX count and its 420-DK repetitions.
fn read_clarification(r: &mut Reader<'_, '_, '_>) -> Vec<u8> {
    let sent: Vec<&Field<'_>> = r.fields.iter().filter(|field| &field.id == b"DK").collect();
    if sent.len() > CLARIFICATION_CODES_MAX {
        let message = "more than 3 420-DK submission clarification codes";
        r.c.add(ProblemKind::ClarificationCount, Some(*b"DK"), message);
    }
    let mut codes = Vec::with_capacity(sent.len().min(CLARIFICATION_CODES_MAX));
    for (index, field) in sent.iter().enumerate().take(CLARIFICATION_CODES_MAX) {
        r.occurrence = u8::try_from(index + 1).ok();
        codes.extend(r.decode(field, digits_in(2, 1, 99)).map(|code| code as u8));
    }
    r.occurrence = None;
    let what = "354-NX submission clarification code count";
    check_count(
        r.c,
        r.value(*b"NX"),
        sent.len(),
        1,
        (ProblemKind::ClarificationCount, what),
    );
    codes
}

fn read_prescriber(r: &mut Reader<'_, '_, '_>, t: &mut Transaction) {
    r.get(*b"EZ", alnum(2));
    t.prescriber_id = r.get(*b"DB", alnum(15)).unwrap_or_default();
}
