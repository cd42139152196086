//! Adjudication of one transaction or a whole transmission: resolve the product, window the
//! fills, run the edits, match DUR/PPS overrides, decide the status.
//!
//! Place in the data flow: the server calls [`adjudicate`] (or [`adjudicate_claim`]) with a
//! snapshot of the live [`RuleSet`] and the patient's paid, unreversed fills; the returned
//! [`Decision`]s are recorded and encoded. Must never do I/O or read the clock (`today` is an
//! argument), and never return an error: a rejection is a `Decision`.
//!
//! Override matching (where the specs are silent): a DUR/PPS occurrence answers a conflict when
//! its E4 equals the conflict's reason, the conflict is overridable, and E5/E6 are in the
//! override lists of the edit that raised it. Occurrences are first paired one-to-one with
//! conflicts in order; a conflict still unanswered is then covered by any occurrence that
//! qualifies for it (one DD override may answer two DD conflicts). Warning conflicts can be
//! answered too, so that codes sent for them are not reported as unmatched.
//!
//! Remembered overrides (`remember_override_days`): see [`remember_overrides`]. A remembered
//! conflict is a warning with `remembered_from` set; its claim's own overrides are what a later
//! fill remembers, so a remembered conflict is never remembered again.
//!
//! Reject codes: 88 when a DUR conflict other than early refill rejects, 79 when early refill
//! does, both (88 first) when both do. A claim whose conflicts overflow
//! [`crate::limits::CONFLICTS_PER_TRANSACTION_MAX`] with a rejecting one unlisted is rejected.
//! A transaction without an NDC (compounds) is not covered (70).

use super::edits::{run_all, Claim, Conflicts, Input, Seen};
use super::RuleSet;
use crate::claim::{
    reject, Action, Conflict, Date, Decision, DurPps, Edit, Fill, Overridden, Status, Transaction,
    Transmission, OVERRIDDEN_BY_CLARIFICATION,
};
use crate::limits;

/// One claim to adjudicate, with the identities the edits compare.
#[derive(Clone, Copy, Debug)]
pub struct ClaimContext<'a> {
    pub transaction: &'a Transaction,
    pub date_of_service: Date,
    pub date_of_birth: Option<Date>,
    /// [`crate::claim::id_hash`] of 201-B1 (see [`crate::claim::RequestHeader::pharmacy_hash`]).
    pub pharmacy: u64,
    /// [`crate::claim::id_hash`] of 411-DB (see [`Transaction::prescriber_hash`]).
    pub prescriber: u64,
}

/// Adjudicates one claim against the patient's paid, unreversed `fills` (any age: the lookback
/// and active windows are applied here).
pub fn adjudicate_claim(
    ctx: &ClaimContext,
    rules: &RuleSet,
    fills: &[Fill],
    today: Date,
) -> Decision {
    let _ = today; // every window is relative to the date of service (see `window`)
    adjudicate_with(ctx, rules, fills, &[])
}

/// Adjudicates every transaction of `transmission` in order (B1 and B3 transmissions: B2
/// reversals, E1 eligibility and duplicate detection are the server's); an earlier transaction
/// that was paid counts as a fill for the later ones, a rejected one does not. At most
/// [`limits::TRANSACTIONS_MAX`] transactions are read (the parser refuses more).
pub fn adjudicate(
    transmission: &Transmission,
    rules: &RuleSet,
    fills: &[Fill],
    today: Date,
) -> Vec<Decision> {
    let _ = today; // every window is relative to the date of service (see `window`)
    let date_of_service = transmission.header.date_of_service;
    let date_of_birth = transmission
        .patient
        .as_ref()
        .and_then(|patient| patient.date_of_birth);
    let pharmacy = transmission.header.pharmacy_hash();
    let transactions = transmission
        .transactions
        .iter()
        .take(limits::TRANSACTIONS_MAX);
    let mut earlier_paid: Vec<Fill> = Vec::with_capacity(limits::TRANSACTIONS_MAX);
    let mut decisions = Vec::with_capacity(limits::TRANSACTIONS_MAX);
    for transaction in transactions {
        let prescriber = transaction.prescriber_hash();
        let ctx = ClaimContext {
            transaction,
            date_of_service,
            date_of_birth,
            pharmacy,
            prescriber,
        };
        let decision = adjudicate_with(&ctx, rules, fills, &earlier_paid);
        if decision.status == Status::Paid {
            earlier_paid.extend(Fill::of(transaction, date_of_service, pharmacy, prescriber));
        }
        decisions.push(decision);
    }
    decisions
}

fn adjudicate_with(
    ctx: &ClaimContext,
    rules: &RuleSet,
    fills: &[Fill],
    earlier: &[Fill],
) -> Decision {
    let Some(product) = ctx.transaction.ndc.and_then(|ndc| rules.product(ndc)) else {
        let mut decision = Decision::rejected(vec![reject::NOT_COVERED], rules.stamp());
        decision.message = Some("product not covered by the rule tables".into());
        return decision;
    };
    let claim = Claim {
        product,
        date_of_service: ctx.date_of_service,
        age: ctx
            .date_of_birth
            .and_then(|born| u32::try_from(born.age_years_on(ctx.date_of_service)).ok()),
        quantity_milli: ctx.transaction.quantity_milli,
        days_supply: ctx.transaction.days_supply,
        rx_number: ctx.transaction.rx_number,
        pharmacy: ctx.pharmacy,
        prescriber: ctx.prescriber,
    };
    let input = Input {
        rules,
        fills: window(rules, &claim, fills, earlier),
        claim,
    };
    let mut conflicts = Conflicts::default();
    run_all(&input, &mut conflicts);
    clear_by_clarification(
        rules,
        &mut conflicts.list,
        &ctx.transaction.clarification_codes,
    );
    remember_overrides(rules, &input.claim, fills, &mut conflicts.list);
    decide(rules, conflicts, &ctx.transaction.dur_pps)
}

/// SCC override: an early-refill conflict is overridden when a 420-DK code of the claim is in
/// the edit's `override_clarification` (compared as numbers). No other edit reads 420-DK.
fn clear_by_clarification(rules: &RuleSet, conflicts: &mut [Conflict], clarification_codes: &[u8]) {
    let accepted = &rules.params().early_refill_override_clarification;
    if !clarification_codes
        .iter()
        .any(|code| accepted.contains(code))
    {
        return;
    }
    for conflict in conflicts.iter_mut().filter(|c| c.edit == Edit::EarlyRefill) {
        conflict.overridden_by = Some(OVERRIDDEN_BY_CLARIFICATION);
    }
}

/// Remembered overrides: a rejecting conflict still open, of an edit whose
/// `remember_override_days` N is > 0, becomes a warning when a paid fill of the same pharmacy and
/// Rx number, dated 0..=N days before the claim, had the same (edit, rule) overridden. Only the
/// patient's recorded fills count, never an earlier transaction of the same transmission.
fn remember_overrides(rules: &RuleSet, claim: &Claim, fills: &[Fill], conflicts: &mut [Conflict]) {
    let open = conflicts
        .iter_mut()
        .filter(|c| c.action == Action::Reject && c.overridden_by.is_none());
    for conflict in open {
        let days = rules
            .policy(conflict.edit)
            .map_or(0, |policy| policy.remember_override_days);
        if days > 0 {
            conflict.remembered_from = remembered_on(claim, fills, days, conflict);
        }
        if conflict.remembered_from.is_some() {
            answer_as_warning(conflict);
        }
    }
}

/// A remembered conflict warns; outside interactions (which keep their severity) it then
/// carries 3 as a warning does.
fn answer_as_warning(conflict: &mut Conflict) {
    conflict.action = Action::Warn;
    if conflict.edit != Edit::Ddi {
        conflict.severity = 3;
        conflict.clinical_significance = 3;
    }
}

/// The latest date of service of a fill that remembers `conflict`'s override for this claim.
fn remembered_on(claim: &Claim, fills: &[Fill], days: u32, conflict: &Conflict) -> Option<Date> {
    let mark = Overridden::mark(conflict.edit, &conflict.rule_id);
    let within = 0..=i64::from(days);
    fills
        .iter()
        .take(limits::FILLS_PER_PATIENT_MAX)
        .filter(|fill| fill.pharmacy == claim.pharmacy && fill.rx_number == claim.rx_number)
        .filter(|fill| {
            within.contains(&i64::from(
                claim.date_of_service.days_since(fill.date_of_service),
            ))
        })
        .filter(|fill| fill.overridden.contains(mark))
        .map(|fill| fill.date_of_service)
        .max()
}

/// The fills inside the lookback window whose product is known, with their active flag: a
/// fill dated on or before the claim is active through its last active day; a fill dated after
/// the claim but within the claim's own supply is an *overlapping* fill and counts as active
/// (no backdating around an edit); later fills are ignored. `earlier` are the paid
/// transactions before this one in the same transmission.
fn window<'f, 'r>(
    rules: &'r RuleSet,
    claim: &Claim,
    fills: &'f [Fill],
    earlier: &'f [Fill],
) -> Vec<Seen<'f, 'r>> {
    let bound = limits::FILLS_PER_PATIENT_MAX + limits::TRANSACTIONS_MAX;
    let lookback = i64::from(rules.lookback_days());
    let grace = i32::try_from(rules.active_grace_days()).unwrap_or(0);
    let dos = claim.date_of_service;
    let claim_last_day = dos.add_days(i32::from(claim.days_supply.max(1)) - 1);
    let mut seen = Vec::with_capacity(bound.min(fills.len() + earlier.len()));
    let marked = fills.iter().map(|fill| (fill, false));
    let all = marked.chain(earlier.iter().map(|fill| (fill, true)));
    for (order, (fill, in_transmission)) in all.take(bound).enumerate() {
        let age_days = i64::from(dos.days_since(fill.date_of_service));
        let overlapping = age_days < 0 && fill.date_of_service <= claim_last_day;
        if (age_days < 0 && !overlapping) || age_days > lookback {
            continue;
        }
        let Some(product) = rules.product(fill.ndc) else {
            continue;
        };
        let last_active = fill
            .date_of_service
            .add_days(i32::from(fill.days_supply.max(1)) - 1 + grace);
        seen.push(Seen {
            fill,
            product,
            active: overlapping || dos <= last_active,
            last_active,
            overlapping,
            in_transmission,
            order: order as u32,
        });
    }
    seen
}

/// Matches overrides and turns the conflicts into a decision.
fn decide(rules: &RuleSet, mut conflicts: Conflicts, dur_pps: &[DurPps]) -> Decision {
    let unmatched_dur_pps = match_overrides(rules, &mut conflicts.list, dur_pps);
    let open_rejects = conflicts
        .list
        .iter()
        .filter(|c| c.action == Action::Reject && c.overridden_by.is_none());
    let (mut dur, mut early) = (conflicts.dropped_reject, false);
    for conflict in open_rejects {
        match conflict.edit {
            Edit::EarlyRefill => early = true,
            _ => dur = true,
        }
    }
    let reject_codes: Vec<_> = [(dur, reject::DUR_REJECT), (early, reject::REFILL_TOO_SOON)]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, code)| code)
        .collect();
    let status = if reject_codes.is_empty() {
        Status::Paid
    } else {
        Status::Rejected
    };
    Decision {
        status,
        reject_codes,
        conflicts: conflicts.list,
        unmatched_dur_pps,
        ruleset: rules.stamp(),
        message: None,
    }
}

/// Whether `occurrence` may override `conflict`.
fn answers(rules: &RuleSet, occurrence: &DurPps, conflict: &Conflict) -> bool {
    let (Some(reason), Some(professional), Some(result)) = (
        occurrence.reason,
        occurrence.professional,
        occurrence.result,
    ) else {
        return false;
    };
    let policy = rules.policy(conflict.edit);
    conflict.overridable
        && reason == conflict.reason
        && policy.is_some_and(|p| p.accepts_for(conflict.severity, professional, result))
}

/// Sets `overridden_by` on answered conflicts; returns the counters that answered nothing.
fn match_overrides(rules: &RuleSet, conflicts: &mut [Conflict], dur_pps: &[DurPps]) -> Vec<u8> {
    let occurrences = dur_pps
        .get(..dur_pps.len().min(limits::DUR_PPS_OCCURRENCES_MAX))
        .unwrap_or_default();
    for occurrence in occurrences {
        let open = conflicts
            .iter_mut()
            .find(|c| c.overridden_by.is_none() && answers(rules, occurrence, c));
        if let Some(conflict) = open {
            conflict.overridden_by = Some(occurrence.counter);
        }
    }
    for conflict in conflicts.iter_mut().filter(|c| c.overridden_by.is_none()) {
        conflict.overridden_by = occurrences
            .iter()
            .find(|o| answers(rules, o, conflict))
            .map(|o| o.counter);
    }
    let answered_any = |o: &DurPps| conflicts.iter().any(|c| c.overridden_by == Some(o.counter));
    occurrences
        .iter()
        .filter(|o| !answered_any(o))
        .map(|o| o.counter)
        .collect()
}
