//! Tests of remembered overrides (`remember_override_days`): a refill of an Rx whose rejecting
//! conflict was overridden is answered with a warning carrying the earlier date; every
//! condition (same pharmacy, same Rx, the same edit and rule, inside the window, a real override,
//! never an earlier transaction of the same transmission) is needed, and the key is validated.

use super::fixture;
use super::tests::*;
use super::*;
use crate::claim::{Action, Decision, Edit, Fill, Overridden, Status};

const REMEMBER_DAYS: u32 = 60;

/// The fixture with duplication remembering overrides for [`REMEMBER_DAYS`].
fn remembering() -> RuleSet {
    rules_from(&remembering_source(&format!(
        "remember_override_days = {REMEMBER_DAYS}"
    )))
}

fn remembering_source(setting: &str) -> RuleSource {
    let mut source = fixture::source();
    let duplication = "reason = \"TD\"\naction = \"reject\"\n";
    let ruleset = fixture::RULESET.replace(duplication, &format!("{duplication}{setting}\n"));
    source.set("ruleset.toml", ruleset);
    source
}

/// The active escitalopram fill that makes a sertraline claim a duplicate SSRI.
fn escitalopram() -> Fill {
    fill(ESCITALOPRAM, 2, 10, 30, 30)
}

/// The earlier sertraline fill of Rx 1, `days_ago`, that had the duplication overridden.
fn overridden_sertraline(days_ago: i32) -> Fill {
    let mut earlier = fill(SERTRALINE, 1, days_ago, 30, 30);
    earlier
        .overridden
        .insert(Overridden::mark(Edit::Duplication, "class:SSRI"));
    earlier
}

fn sertraline_refill(rules: &RuleSet, fills: &[Fill]) -> Decision {
    run_with(
        rules,
        &tx(SERTRALINE, 1, 30, 30),
        fills,
        Some(born_aged(40)),
    )
}

fn duplication(decision: &Decision) -> &crate::claim::Conflict {
    decision
        .conflicts
        .iter()
        .find(|conflict| conflict.edit == Edit::Duplication)
        .unwrap_or_else(|| panic!("no duplication conflict in {decision:#?}"))
}

#[test]
fn a_remembered_override_turns_the_conflict_into_a_paid_warning() {
    let fills = [escitalopram(), overridden_sertraline(30)];
    let decision = sertraline_refill(&remembering(), &fills);
    assert_eq!(decision.status, Status::Paid, "{decision:#?}");
    let conflict = duplication(&decision);
    assert_eq!(conflict.action, Action::Warn);
    assert_eq!(conflict.remembered_from, Some(dos().add_days(-30)));
    assert_eq!((conflict.severity, conflict.clinical_significance), (3, 3));
    assert_eq!(
        conflict.overridden_by, None,
        "a remembered conflict needs no code"
    );
}

#[test]
fn the_window_is_inclusive_and_ends_there() {
    let rules = remembering();
    let at = |days_ago: i32| {
        sertraline_refill(&rules, &[escitalopram(), overridden_sertraline(days_ago)])
    };
    assert_eq!(at(REMEMBER_DAYS as i32).status, Status::Paid);
    let beyond = at(REMEMBER_DAYS as i32 + 1);
    assert_eq!(beyond.status, Status::Rejected);
    assert_eq!(duplication(&beyond).remembered_from, None);
}

#[test]
fn the_latest_remembering_fill_is_the_one_named() {
    let fills = [
        escitalopram(),
        overridden_sertraline(50),
        overridden_sertraline(20),
    ];
    let decision = sertraline_refill(&remembering(), &fills);
    assert_eq!(
        duplication(&decision).remembered_from,
        Some(dos().add_days(-20))
    );
}

#[test]
fn another_pharmacy_another_rx_or_another_rule_is_not_remembered() {
    let rules = remembering();
    let mut elsewhere = overridden_sertraline(30);
    elsewhere.pharmacy = PHARMACY + 1;
    let mut other_rx = overridden_sertraline(30);
    other_rx.rx_number = 9;
    let mut other_rule = fill(SERTRALINE, 1, 30, 30, 30);
    other_rule
        .overridden
        .insert(Overridden::mark(Edit::Duplication, "class:STATIN"));
    let mut other_edit = fill(SERTRALINE, 1, 30, 30, 30);
    other_edit
        .overridden
        .insert(Overridden::mark(Edit::HighDose, "class:SSRI"));
    let unmarked = fill(SERTRALINE, 1, 30, 30, 30);
    for earlier in [elsewhere, other_rx, other_rule, other_edit, unmarked] {
        let decision = sertraline_refill(&rules, &[escitalopram(), earlier]);
        assert_eq!(decision.status, Status::Rejected, "{earlier:?}");
        assert_eq!(duplication(&decision).action, Action::Reject);
    }
}

#[test]
fn an_edit_that_does_not_remember_rejects_again() {
    let fills = [escitalopram(), overridden_sertraline(30)];
    let decision = sertraline_refill(&rules(), &fills);
    assert_eq!(decision.status, Status::Rejected);
    assert_eq!(duplication(&decision).remembered_from, None);
}

#[test]
fn an_earlier_transaction_of_the_transmission_is_not_remembered() {
    // Transaction 1 overrides the duplication, transaction 2 (same Rx, next fill) must too.
    let rules = remembering();
    let mut first = tx(SERTRALINE, 1, 30, 30);
    first.dur_pps = vec![dur(1, "TD", "M0", "1G")];
    let mut second = tx(SERTRALINE, 1, 30, 30);
    second.fill_number = 1;
    let decisions = adjudicate(
        &transmission(vec![first, second]),
        &rules,
        &[escitalopram()],
        dos(),
    );
    assert_eq!(decisions[0].status, Status::Paid, "{:#?}", decisions[0]);
    assert_eq!(duplication(&decisions[1]).remembered_from, None);
}

#[test]
fn only_overridden_rejecting_conflicts_are_marked_for_later() {
    let fills = [escitalopram(), overridden_sertraline(30)];
    let remembered = sertraline_refill(&remembering(), &fills);
    assert!(Overridden::of_conflicts(&remembered.conflicts).is_empty());
    let mut answered = tx(SERTRALINE, 1, 30, 30);
    answered.dur_pps = vec![dur(1, "TD", "M0", "1G")];
    let overridden = run_with(
        &remembering(),
        &answered,
        &[escitalopram()],
        Some(born_aged(40)),
    );
    let marks = Overridden::of_conflicts(&overridden.conflicts);
    assert!(marks.contains(Overridden::mark(Edit::Duplication, "class:SSRI")));
    let open = sertraline_refill(&remembering(), &[escitalopram()]);
    assert!(Overridden::of_conflicts(&open.conflicts).is_empty());
}

#[test]
fn remember_override_days_is_zero_through_the_lookback() {
    assert!(errors_of(&remembering_source("remember_override_days = 180")).is_empty());
    assert!(errors_of(&remembering_source("remember_override_days = 0")).is_empty());
    for bad in [
        "remember_override_days = 181",
        "remember_override_days = -1",
    ] {
        let errors = errors_of(&remembering_source(bad));
        let located = errors.iter().any(|error| {
            error.starts_with("ruleset.toml:")
                && error.contains("remember_override_days")
                && error.contains("(rule 9)")
        });
        assert!(located, "{bad}: {errors:#?}");
    }
}
