//! Tests of the schema-2 clinical model: warning tiers of high dose, patches at their effective
//! rate, cumulative sums one fill per prescription, opioid-naive history, DDI washout,
//! per-severity override lists, early refill by drug product with its three tests and its 420-DK
//! override, and the validation rules of the new keys and columns. The last section pins the
//! remaining precise readings of `docs/behaviour.md` at their boundaries: the same-drug-product
//! test, early refill by pharmacy + Rx, accumulation, later-dated fills, the latest fill per
//! prescription in cumulative sums, class-based opioid membership and patch rates in high dose.

use super::fixture;
use super::tests::*;
use super::*;
use crate::claim::{
    reject, Action, Conflict, Decision, Edit, Fill, Ndc, Status, Transaction,
    OVERRIDDEN_BY_CLARIFICATION,
};

/// A second NDC of the SERTRALINE 50 tablet (same drug product) and a 100 mg tablet.
const SERTRALINE_OTHER_LABELER: u64 = 20;
const SERTRALINE_100: u64 = 21;

/// The fixture as a schema-2 folder with every new key set.
fn v2_ruleset() -> String {
    let age_limit = "[edits.age_limit]\nenabled = true\nreason = \"PA\"\naction = \"reject\"\n\
                     override_professional = [\"M0\"]\noverride_result = [\"1G\"]\n\n[edits.early_refill]";
    let by_age = "max_daily_mg = 4000\nmax_daily_mg_by_age = [\n\
                  { min_age = 0, max_age = 1, max_daily_mg = 600 },\n\
                  { min_age = 2, max_age = 3, max_daily_mg = 800 },\n]";
    fixture::RULESET
        .replace("[edits.early_refill]", age_limit)
        .replace("max_daily_mg = 4000", by_age)
        .replace("schema = 1", "schema = 2")
        .replace(
            "with_benzodiazepine = \"class:BENZODIAZEPINE\"",
            "with_benzodiazepine = \"class:BENZODIAZEPINE\"\nopioids = \"class:OPIOID\"",
        )
        .replace(
            "min_elapsed_percent = 75",
            "min_elapsed_percent = 75\n\
             min_elapsed_percent_by_schedule = { 2 = 90 }\n\
             accumulation_lookback_days = 180\n\
             accumulation_max_days = 14\n\
             override_clarification = [\"03\", \"4\"]",
        )
        .replace(
            "reason = \"HD\"\naction = \"reject\"\noverride_professional = [\"M0\"]\noverride_result = [\"1G\"]\n\n[edits.elderly",
            "reason = \"HD\"\naction = \"reject\"\nreject_multiple = 2.0\noverride_professional = [\"M0\"]\noverride_result = [\"1G\"]\n\n[edits.elderly",
        )
        .replace(
            "never_override = [1]",
            "never_override = []\n\n[edits.ddi.severity.1]\noverride_professional = [\"M0\"]\noverride_result = [\"1G\"]",
        )
}

fn v2_products() -> String {
    format!(
        "{}00000000020,sertraline,50,mg,tablet,oral,,N,SERTRALINE 50 OTHER LABELER\n\
         00000000021,sertraline,100,mg,tablet,oral,,N,SERTRALINE 100\n",
        fixture::PRODUCTS
    )
}

const AGE_LIMITS: &str = "ingredient,min_age,max_age,message\naspirin,0,11,Reye syndrome\n";

fn v2_source() -> RuleSource {
    let mut source = fixture::source();
    source.set("age_limits.csv", AGE_LIMITS);
    source.set("ruleset.toml", v2_ruleset());
    source.set("products.csv", v2_products());
    source
}

fn v2() -> RuleSet {
    rules_from(&v2_source())
}

fn v2_with(name: &str, text: &str) -> RuleSet {
    let mut source = v2_source();
    source.set(name, text);
    rules_from(&source)
}

fn run_v2(transaction: &Transaction, fills: &[Fill]) -> Decision {
    run_with(&v2(), transaction, fills, Some(born_aged(40)))
}

fn conflict_of(decision: &Decision, edit: Edit) -> &Conflict {
    decision
        .conflicts
        .iter()
        .find(|conflict| conflict.edit == edit)
        .unwrap_or_else(|| panic!("no {edit:?} conflict in {:#?}", decision.conflicts))
}

fn from_other_pharmacy(mut fill: Fill) -> Fill {
    fill.pharmacy = PHARMACY + 1;
    fill
}

/// `table` with a `column` added: `cell(row)` for each row.
fn add_column(table: &str, column: &str, cell: impl Fn(&str) -> &'static str) -> String {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let mut out = format!("{header},{column}\n");
    for row in lines {
        out.push_str(&format!("{row},{}\n", cell(row)));
    }
    out
}

// ---- the fixture itself ---------------------------------------------------------------------

#[test]
fn the_schema_two_fixture_compiles_and_sets_every_new_key() {
    let rules = v2();
    let params = rules.params();
    assert_eq!(params.early_refill_percent_by_schedule[2], Some(90));
    assert_eq!(params.early_refill_accumulation, Some((180, 14)));
    assert_eq!(params.early_refill_override_clarification, vec![3, 4]);
    assert_eq!(params.high_dose_reject_multiple_micro, 2_000_000);
}

// ---- high dose: warning tier up to reject_multiple ------------------------------------------

#[test]
fn a_dose_above_the_limit_up_to_the_multiple_warns_and_above_it_rejects() {
    // SERTRALINE 50 tablets, adult limit 200 mg/day, reject_multiple 2.
    for (quantity, expected) in [
        (180, Action::Warn),
        (240, Action::Warn),
        (241, Action::Reject),
    ] {
        let decision = run_v2(&tx(SERTRALINE, 1, quantity, 30), &[]);
        let high = conflict_of(&decision, Edit::HighDose);
        assert_eq!(high.action, expected, "quantity {quantity}");
    }
    let within = run_v2(&tx(SERTRALINE, 1, 120, 30), &[]);
    assert!(!has(&within, Edit::HighDose));
}

#[test]
fn a_dose_limit_rows_reject_multiple_replaces_the_tables() {
    let rows = add_column(fixture::DOSE_LIMITS, "reject_multiple", |row| {
        if row.starts_with("sertraline,oral,18") {
            "3"
        } else {
            ""
        }
    });
    let rules = v2_with("dose_limits.csv", &rows);
    let at = |quantity| {
        run_with(
            &rules,
            &tx(SERTRALINE, 1, quantity, 30),
            &[],
            Some(born_aged(40)),
        )
    };
    assert_eq!(conflict_of(&at(360), Edit::HighDose).action, Action::Warn);
    assert_eq!(conflict_of(&at(361), Edit::HighDose).action, Action::Reject);
}

#[test]
fn schema_one_without_reject_multiple_rejects_just_above_the_limit() {
    let decision = run(&tx(SERTRALINE, 1, 121, 30), &[]);
    assert_eq!(
        conflict_of(&decision, Edit::HighDose).action,
        Action::Reject
    );
}

// ---- patches at their effective rate --------------------------------------------------------

#[test]
fn two_patches_worn_at_once_count_twice_the_rate() {
    // 20 FENTANYL 50 patches over 30 days at 72 h each: two at a time, 100 mcg/h, 240 MME.
    let two_at_once = run_v2(
        &tx(FENTANYL_50, 1, 20, 30),
        &[fill(FENTANYL_50, 1, 27, 20, 30)],
    );
    let mme = conflict_of(&two_at_once, Edit::Opioid);
    assert_eq!(mme.action, Action::Reject);
    assert!(mme.message.contains("MME 240"), "{}", mme.message);
    // 10 patches over 30 days: one at a time, 120 MME: a warning.
    let one_at_a_time = run_v2(
        &tx(FENTANYL_50, 1, 10, 30),
        &[fill(FENTANYL_50, 1, 27, 10, 30)],
    );
    let mme = conflict_of(&one_at_a_time, Edit::Opioid);
    assert_eq!(mme.action, Action::Warn);
    assert!(mme.message.contains("MME 120"), "{}", mme.message);
}

#[test]
fn a_products_wear_hours_change_its_effective_rate() {
    let products = add_column(&v2_products(), "wear_hours", |row| {
        if row.starts_with("00000000019") {
            "144"
        } else {
            ""
        }
    });
    let rules = v2_with("products.csv", &products);
    // 10 patches of 144 h over 30 days: two at a time, 240 MME.
    let decision = run_with(
        &rules,
        &tx(FENTANYL_50, 1, 10, 30),
        &[fill(FENTANYL_50, 1, 27, 10, 30)],
        Some(born_aged(40)),
    );
    assert!(conflict_of(&decision, Edit::Opioid)
        .message
        .contains("MME 240"));
}

// ---- cumulative sums: one fill per prescription ---------------------------------------------

#[test]
fn a_refill_of_the_same_prescription_replaces_its_previous_fill_in_the_mme_sum() {
    // OXYCODONE 10 mg, 8 a day: 120 MME; the previous fill of Rx 1 is not added.
    let decision = run_v2(
        &tx(OXYCODONE, 1, 240, 30),
        &[fill(OXYCODONE, 1, 28, 240, 30)],
    );
    let mme = conflict_of(&decision, Edit::Opioid);
    assert_eq!(mme.action, Action::Warn);
    assert!(mme.message.contains("MME 120"), "{}", mme.message);
    assert_eq!(decision.status, Status::Paid);
}

#[test]
fn another_prescription_of_the_same_opioid_is_added_to_the_mme_sum() {
    let other_rx = run_v2(
        &tx(OXYCODONE, 1, 240, 30),
        &[fill(OXYCODONE, 2, 28, 240, 30)],
    );
    let mme = conflict_of(&other_rx, Edit::Opioid);
    assert_eq!(mme.action, Action::Reject);
    assert!(mme.message.contains("MME 240"), "{}", mme.message);
    // The same Rx number at another pharmacy is another prescription.
    let elsewhere = from_other_pharmacy(fill(OXYCODONE, 1, 28, 240, 30));
    let decision = run_v2(&tx(OXYCODONE, 1, 240, 30), &[elsewhere]);
    assert_eq!(conflict_of(&decision, Edit::Opioid).action, Action::Reject);
}

#[test]
fn a_refill_of_hydrocodone_apap_on_time_is_not_summed_with_itself() {
    // 5/325, 8 a day: 2600 mg acetaminophen; the previous fill of the same Rx is replaced.
    let decision = run_v2(
        &tx(HYDROCODONE_APAP, 1, 240, 30),
        &[fill(HYDROCODONE_APAP, 1, 28, 240, 30)],
    );
    assert!(
        !has(&decision, Edit::Acetaminophen),
        "{:#?}",
        decision.conflicts
    );
    let two_prescriptions = run_v2(
        &tx(HYDROCODONE_APAP, 1, 240, 30),
        &[fill(HYDROCODONE_APAP, 2, 28, 240, 30)],
    );
    assert!(has(&two_prescriptions, Edit::Acetaminophen));
}

// ---- opioid-naive history -------------------------------------------------------------------

fn naive(decision: &Decision) -> bool {
    decision.conflicts.iter().any(|conflict| {
        conflict.edit == Edit::Opioid && conflict.rule_id.starts_with("opioid_naive")
    })
}

#[test]
fn an_earlier_opioid_of_the_same_transmission_does_not_make_the_patient_tolerant() {
    let primer = tx(HYDROCODONE_APAP, 7, 4, 1);
    let long_supply = tx(OXYCODONE, 8, 60, 30);
    let decisions = adjudicate(&transmission(vec![primer, long_supply]), &v2(), &[], dos());
    assert_eq!(decisions[0].status, Status::Paid);
    assert!(naive(&decisions[1]), "{:#?}", decisions[1].conflicts);
}

#[test]
fn an_opioid_filled_the_same_day_does_not_count_and_one_ten_days_ago_does() {
    let same_day = run_v2(
        &tx(OXYCODONE, 8, 60, 30),
        &[fill(HYDROCODONE_APAP, 7, 0, 4, 1)],
    );
    assert!(naive(&same_day));
    let ten_days_ago = run_v2(
        &tx(OXYCODONE, 8, 60, 30),
        &[fill(HYDROCODONE_APAP, 7, 10, 4, 1)],
    );
    assert!(!naive(&ten_days_ago), "{:#?}", ten_days_ago.conflicts);
}

// ---- a fill dated after the claim -----------------------------------------------------------

#[test]
fn a_claim_backdated_before_a_fill_is_checked_against_it() {
    // Warfarin filled 5 days after the date of service, inside the aspirin claim's supply.
    let decision = run_v2(&tx(ASPIRIN, 1, 30, 30), &[fill(WARFARIN, 2, -5, 30, 30)]);
    assert!(has(&decision, Edit::Ddi), "{:#?}", decision.conflicts);
    // Dated after the claim's supply: not seen.
    let later = run_v2(&tx(ASPIRIN, 1, 30, 30), &[fill(WARFARIN, 2, -31, 30, 30)]);
    assert!(!has(&later, Edit::Ddi));
}

// ---- DDI washout ----------------------------------------------------------------------------

fn ddi_with_washout(days: &str) -> RuleSet {
    let table = format!(
        "id,left,right,severity,message,washout_days\n\
         D2,warfarin,aspirin,2,bleeding risk,{days}\n"
    );
    v2_with("ddi.csv", &table)
}

#[test]
fn an_interaction_counts_the_other_fill_through_its_washout() {
    // Warfarin 30 days filled 40 days ago: last active 11 days ago.
    let stopped = [fill(WARFARIN, 2, 40, 30, 30)];
    let aspirin = tx(ASPIRIN, 1, 30, 30);
    let with_washout = run_with(
        &ddi_with_washout("14"),
        &aspirin,
        &stopped,
        Some(born_aged(40)),
    );
    assert!(has(&with_washout, Edit::Ddi));
    let without = run_with(
        &ddi_with_washout(""),
        &aspirin,
        &stopped,
        Some(born_aged(40)),
    );
    assert!(!has(&without, Edit::Ddi));
    let washed_out = [fill(WARFARIN, 2, 50, 30, 30)];
    let after = run_with(
        &ddi_with_washout("14"),
        &aspirin,
        &washed_out,
        Some(born_aged(40)),
    );
    assert!(!has(&after, Edit::Ddi));
}

// ---- per-severity override lists ------------------------------------------------------------

#[test]
fn a_severity_table_replaces_the_edits_override_lists_for_that_severity() {
    // D1 simvastatin + clarithromycin is severity 1: only M0/1G answer it.
    let history = [fill(CLARITHROMYCIN, 2, 2, 20, 10)];
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "R0", "1A")];
    let refused = run_v2(&claim, &history);
    assert_eq!(refused.status, Status::Rejected);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let accepted = run_v2(&claim, &history);
    assert_eq!(accepted.status, Status::Paid, "{:#?}", accepted.conflicts);
    // Severity 2 still takes the edit's own lists (R0/1A).
    let mut warfarin = tx(ASPIRIN, 1, 30, 30);
    warfarin.dur_pps = vec![dur(1, "DD", "R0", "1A")];
    let other_severity = run_v2(&warfarin, &[fill(WARFARIN, 2, 2, 30, 30)]);
    assert_eq!(
        other_severity.status,
        Status::Paid,
        "{:#?}",
        other_severity.conflicts
    );
}

// ---- early refill ---------------------------------------------------------------------------

fn early(decision: &Decision) -> bool {
    has(decision, Edit::EarlyRefill)
}

#[test]
fn early_refill_follows_the_drug_product_across_ndcs_and_prescriptions() {
    let earlier = [fill(SERTRALINE, 1, 10, 30, 30)];
    let same_drug = run_v2(&tx(SERTRALINE_OTHER_LABELER, 2, 30, 30), &earlier);
    assert!(early(&same_drug), "{:#?}", same_drug.conflicts);
    // A new strength on a new prescription is a dose change, not an early refill.
    let dose_change = run_v2(&tx(SERTRALINE_100, 2, 30, 30), &earlier);
    assert!(!early(&dose_change), "{:#?}", dose_change.conflicts);
}

#[test]
fn a_controlled_drug_takes_its_schedules_percent() {
    // OXYCODONE is C-II: 90 %. Day 26 of 30 (86.7 %) is early; day 27 (90 %) is not.
    let day = |elapsed| {
        run_v2(
            &tx(OXYCODONE, 1, 60, 30),
            &[fill(OXYCODONE, 1, elapsed, 60, 30)],
        )
    };
    assert!(early(&day(26)));
    assert!(!early(&day(27)), "{:#?}", day(27).conflicts);
    // Sertraline has no schedule: 75 %, day 23 (76.7 %) is on time.
    let sertraline = run_v2(
        &tx(SERTRALINE, 1, 30, 30),
        &[fill(SERTRALINE, 1, 23, 30, 30)],
    );
    assert!(!early(&sertraline));
}

/// Asserts `decision` paid and returns what overrode its early-refill conflict.
fn paid_over_early_refill(decision: &Decision) -> Option<u8> {
    assert_eq!(decision.status, Status::Paid, "{:#?}", decision.conflicts);
    conflict_of(decision, Edit::EarlyRefill).overridden_by
}

#[test]
fn a_listed_clarification_code_overrides_an_early_refill_and_others_do_not() {
    let lost_supply = |code: u8| {
        let mut claim = tx(LAMOTRIGINE, 1, 30, 30);
        claim.clarification_codes = vec![code];
        run_v2(&claim, &[fill(LAMOTRIGINE, 1, 5, 30, 30)])
    };
    assert_eq!(
        paid_over_early_refill(&lost_supply(4)),
        Some(OVERRIDDEN_BY_CLARIFICATION)
    );
    let not_listed = lost_supply(8);
    assert_eq!(not_listed.status, Status::Rejected);
}

#[test]
fn a_fill_dated_inside_the_claims_supply_is_an_early_refill() {
    let decision = run_v2(
        &tx(SERTRALINE, 1, 30, 30),
        &[fill(SERTRALINE, 1, -5, 30, 30)],
    );
    let refill = conflict_of(&decision, Edit::EarlyRefill);
    assert!(
        refill.message.contains("overlaps a fill of 2026-06-20"),
        "{}",
        refill.message
    );
}

#[test]
fn supply_accumulated_by_refills_each_on_time_is_an_early_refill() {
    // Three 30-day fills 23 days apart: each passes 75 %, yet 21 days are on hand at the claim.
    let fills = [
        fill(SERTRALINE, 1, 69, 30, 30),
        fill(SERTRALINE, 1, 46, 30, 30),
        fill(SERTRALINE, 1, 23, 30, 30),
    ];
    let decision = run_v2(&tx(SERTRALINE, 1, 30, 30), &fills);
    let refill = conflict_of(&decision, Edit::EarlyRefill);
    assert!(
        refill.message.contains("21 days on hand > 14"),
        "{}",
        refill.message
    );
    // The schema-1 fixture has no accumulation test.
    assert!(!early(&run(&tx(SERTRALINE, 1, 30, 30), &fills)));
}

// ---- age limits -----------------------------------------------------------------------------

#[test]
fn an_ingredient_is_refused_inside_its_age_limit_and_paid_outside_it() {
    let at = |age| run_with(&v2(), &tx(ASPIRIN, 1, 30, 30), &[], Some(born_aged(age)));
    for (age, limited) in [(0, true), (8, true), (11, true), (12, false), (40, false)] {
        assert_eq!(has(&at(age), Edit::AgeLimit), limited, "age {age}");
    }
    let eight = at(8);
    let limit = conflict_of(&eight, Edit::AgeLimit);
    assert_eq!(
        (limit.rule_id.as_str(), limit.action),
        ("aspirin:0-11", Action::Reject)
    );
    assert_eq!(eight.status, Status::Rejected);
}

#[test]
fn age_limits_are_optional_and_off_without_their_edit() {
    let mut absent = v2_source();
    absent.files.retain(|(name, _)| name != "age_limits.csv");
    let rules = rules_from(&absent);
    let child = run_with(&rules, &tx(ASPIRIN, 1, 30, 30), &[], Some(born_aged(8)));
    assert!(!has(&child, Edit::AgeLimit));
    // The schema-1 fixture has no [edits.age_limit]: the file alone fires nothing.
    let mut schema_one = fixture::source();
    schema_one.set("age_limits.csv", AGE_LIMITS);
    let rules = rules_from(&schema_one);
    let child = run_with(&rules, &tx(ASPIRIN, 1, 30, 30), &[], Some(born_aged(8)));
    assert!(!has(&child, Edit::AgeLimit));
}

#[test]
fn age_limit_rows_are_validated() {
    let empty_band = "ingredient,min_age,max_age,message\naspirin,12,11,backwards\n";
    v2_refused("age_limits.csv", empty_band, "age_limits.csv:2:");
    v2_refused("age_limits.csv", empty_band, "(rule 6)");
    let too_old = "ingredient,min_age,max_age,message\naspirin,0,151,x\n";
    v2_refused(
        "age_limits.csv",
        too_old,
        "age_limits.csv:2:11: age 151 is outside 0..150 (rule 6)",
    );
    let not_a_number = "ingredient,min_age,max_age,message\naspirin,zero,11,x\n";
    v2_refused("age_limits.csv", not_a_number, "(rule 2)");
    let upper_case = "ingredient,min_age,max_age,message\nAspirin,0,11,x\n";
    v2_refused("age_limits.csv", upper_case, "age_limits.csv:2:1:");
}

// ---- acetaminophen by age -------------------------------------------------------------------

#[test]
fn a_childs_acetaminophen_is_held_to_the_band_of_its_age() {
    // APAP 160 mg/5 mL (32 mg/mL), 60 mL a day: 1920 mg/day.
    let claim = tx(APAP_SOLUTION, 1, 600, 10);
    let two = run_with(&v2(), &claim, &[], Some(born_aged(2)));
    let apap = conflict_of(&two, Edit::Acetaminophen);
    assert!(apap.message.contains("> 800"), "{}", apap.message);
    // An adult is held to max_daily_mg (4000): paid.
    let adult = run_with(&v2(), &claim, &[], Some(born_aged(40)));
    assert!(!has(&adult, Edit::Acetaminophen));
    // 20 mL a day (640 mg) is within the 2..3 band.
    let within = run_with(
        &v2(),
        &tx(APAP_SOLUTION, 1, 200, 10),
        &[],
        Some(born_aged(3)),
    );
    assert!(!has(&within, Edit::Acetaminophen));
}

#[test]
fn acetaminophen_age_bands_are_validated() {
    let ruleset = v2_ruleset();
    let overlapping = ruleset.replace("{ min_age = 2, max_age = 3", "{ min_age = 1, max_age = 3");
    v2_refused("ruleset.toml", &overlapping, "overlaps 0..1 (rule 6)");
    let zero = ruleset.replace(
        "max_age = 3, max_daily_mg = 800",
        "max_age = 3, max_daily_mg = 0",
    );
    v2_refused("ruleset.toml", &zero, "(rule 6)");
    let backwards = ruleset.replace("{ min_age = 2, max_age = 3", "{ min_age = 3, max_age = 2");
    v2_refused("ruleset.toml", &backwards, "is empty (rule 6)");
}

// ---- validation of the new keys and columns -------------------------------------------------

fn v2_refused(name: &str, text: &str, expected: &str) {
    let mut source = v2_source();
    source.set(name, text);
    let errors = errors_of(&source);
    assert!(
        errors.iter().any(|error| error.contains(expected)),
        "expected {expected:?} in {errors:#?}"
    );
}

#[test]
fn each_new_ruleset_key_is_validated_with_its_rule() {
    let cases = [
        (
            "min_elapsed_percent_by_schedule = { 2 = 90 }",
            "min_elapsed_percent_by_schedule = { 1 = 90 }",
            "(rule 9)",
        ),
        (
            "min_elapsed_percent_by_schedule = { 2 = 90 }",
            "min_elapsed_percent_by_schedule = { 2 = 0 }",
            "(rule 9)",
        ),
        (
            "accumulation_max_days = 14\n",
            "",
            "must be set together (rule 9)",
        ),
        (
            "accumulation_lookback_days = 180",
            "accumulation_lookback_days = 181",
            "(rule 9)",
        ),
        (
            "override_clarification = [\"03\", \"4\"]",
            "override_clarification = [\"00\"]",
            "(rule 8)",
        ),
        ("reject_multiple = 2.0", "reject_multiple = 0.5", "(rule 5)"),
        (
            "[edits.ddi.severity.1]",
            "[edits.ddi.severity.4]",
            "(rule 9)",
        ),
        ("opioids = \"class:OPIOID\"\n", "", "(rule 10)"),
    ];
    for (from, to, expected) in cases {
        let ruleset = v2_ruleset();
        assert!(ruleset.contains(from), "fixture lacks {from:?}");
        v2_refused("ruleset.toml", &ruleset.replacen(from, to, 1), expected);
    }
}

#[test]
fn an_opioid_product_without_an_mme_row_for_its_route_is_refused_at_its_row() {
    let products = format!(
        "{}00000000022,oxycodone,5,mg,suppository,rectal,2,N,OXYCODONE RECTAL\n",
        v2_products()
    );
    let line = products.lines().count();
    v2_refused("products.csv", &products, &format!("products.csv:{line}:"));
    v2_refused("products.csv", &products, "(rule 10)");
}

#[test]
fn wear_hours_only_on_patch_rates_and_washout_never_negative() {
    let products = add_column(&v2_products(), "wear_hours", |row| {
        if row.starts_with("00000000001,") {
            "24"
        } else {
            ""
        }
    });
    v2_refused("products.csv", &products, "(rule 5)");
    let ddi = "id,left,right,severity,message,washout_days\nD2,warfarin,aspirin,2,bleeding,-1\n";
    v2_refused("ddi.csv", ddi, "(rule 5)");
}

#[test]
fn package_quantity_is_kept_and_must_be_positive() {
    let products = add_column(&v2_products(), "package_quantity", |row| {
        if row.starts_with("00000000001,") {
            "8.5"
        } else {
            ""
        }
    });
    let rules = v2_with("products.csv", &products);
    let sertraline = rules.product(Ndc::from_value(SERTRALINE).unwrap()).unwrap();
    assert_eq!(sertraline.package_quantity_micro, Some(8_500_000));
    let zero = add_column(&v2_products(), "package_quantity", |row| {
        if row.starts_with("00000000001,") {
            "0"
        } else {
            ""
        }
    });
    v2_refused("products.csv", &zero, "(rule 5)");
}

#[test]
fn a_severity_table_makes_its_conflicts_overridable_even_when_the_edits_lists_are_empty() {
    let ruleset = v2_ruleset()
        .replacen(
            "override_professional = [\"M0\", \"R0\"]\noverride_result = [\"1A\", \"1G\"]\nnever_override = []",
            "override_professional = []\noverride_result = []\nnever_override = []",
            1,
        );
    assert_ne!(ruleset, v2_ruleset(), "the fixture's ddi lists moved");
    let rules = v2_with("ruleset.toml", &ruleset);
    let history = [fill(CLARITHROMYCIN, 2, 2, 20, 10)];
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let decision = run_with(&rules, &claim, &history, Some(born_aged(40)));
    assert_eq!(decision.status, Status::Paid, "{:#?}", decision.conflicts);
    // Severity 2 (no table) keeps the edit's empty lists: not overridable.
    let mut warfarin = tx(ASPIRIN, 1, 30, 30);
    warfarin.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let refused = run_with(
        &rules,
        &warfarin,
        &[fill(WARFARIN, 2, 2, 30, 30)],
        Some(born_aged(40)),
    );
    assert_eq!(refused.status, Status::Rejected);
    assert!(!conflict_of(&refused, Edit::Ddi).overridable);
}

// ---- precise readings the first v2 tests left open ------------------------------------------

/// The v2 folder with `rows` added to products.csv (NDCs 30.. below).
fn v2_with_products(rows: &str) -> RuleSet {
    v2_with("products.csv", &format!("{}{rows}", v2_products()))
}

fn drug_product_of(rules: &RuleSet, ndc: u64) -> u32 {
    let ndc = Ndc::from_value(ndc).unwrap();
    rules.product(ndc).unwrap().drug_product
}

fn adult() -> Option<crate::claim::Date> {
    Some(born_aged(40))
}

#[test]
fn one_drug_product_ignores_the_dose_forms_case_and_spaces_and_compares_strengths_as_numbers() {
    let rules = v2_with_products(
        "00000000030,sertraline,50.0,mg,TABLET,oral,,N,SERTRALINE 50 UPPER CASE\n\
         00000000031,sertraline,50.000,mg,\"  Tablet \",oral,,N,SERTRALINE 50 SPACED\n\
         00000000032,acetaminophen/hydrocodone,325/5,mg,tablet,oral,2,N,APAP-HYDROCODONE\n",
    );
    let tablet = drug_product_of(&rules, SERTRALINE);
    assert_eq!(drug_product_of(&rules, 30), tablet);
    assert_eq!(drug_product_of(&rules, 31), tablet);
    // Ingredients and strengths are compared pairwise, in any order.
    assert_eq!(
        drug_product_of(&rules, 32),
        drug_product_of(&rules, HYDROCODONE_APAP)
    );
    // Through the edit: a new prescription of the other spelling is an early refill.
    let earlier = [fill(SERTRALINE, 1, 10, 30, 30)];
    let refill = run_with(&rules, &tx(31, 2, 30, 30), &earlier, adult());
    assert!(early(&refill), "{:#?}", refill.conflicts);
}

#[test]
fn another_route_unit_form_or_pairing_of_strengths_is_another_drug_product() {
    let rules = v2_with_products(
        "00000000033,sertraline,50,mg,tablet,other,,N,SERTRALINE 50 OTHER ROUTE\n\
         00000000034,sertraline,0.05,g,tablet,oral,,N,SERTRALINE 0.05 G\n\
         00000000035,sertraline,50,mg,capsule,oral,,N,SERTRALINE 50 CAPSULE\n\
         00000000036,sertraline,50,mg,,oral,,N,SERTRALINE 50 NO FORM\n\
         00000000037,sertraline,50,mg,,oral,,N,SERTRALINE 50 NO FORM OTHER LABELER\n\
         00000000038,hydrocodone/acetaminophen,325/5,mg,tablet,oral,2,N,SWAPPED STRENGTHS\n",
    );
    let tablet = drug_product_of(&rules, SERTRALINE);
    for other in [33, 34, 35, 36, SERTRALINE_100] {
        assert_ne!(drug_product_of(&rules, other), tablet, "NDC {other}");
    }
    assert_ne!(
        drug_product_of(&rules, 38),
        drug_product_of(&rules, HYDROCODONE_APAP)
    );
    // An empty dose form equals only an empty one.
    assert_eq!(drug_product_of(&rules, 36), drug_product_of(&rules, 37));
    let no_form = [fill(36, 1, 10, 30, 30)];
    let twin = run_with(&rules, &tx(37, 2, 30, 30), &no_form, adult());
    assert!(early(&twin), "{:#?}", twin.conflicts);
    let tablet_claim = run_with(&rules, &tx(SERTRALINE, 2, 30, 30), &no_form, adult());
    assert!(!early(&tablet_claim), "{:#?}", tablet_claim.conflicts);
}

#[test]
fn early_refill_follows_the_pharmacys_prescription_to_another_product() {
    // Rx 1 filled 10 days ago as the 100 mg tablet, now as the 50 mg one.
    let claim = tx(SERTRALINE, 1, 30, 30);
    let same_rx = run_v2(&claim, &[fill(SERTRALINE_100, 1, 10, 30, 30)]);
    let refill = conflict_of(&same_rx, Edit::EarlyRefill);
    assert_eq!(refill.previous_fill_date, Some(dos().add_days(-10)));
    assert_eq!(same_rx.reject_codes, vec![reject::REFILL_TOO_SOON]);
    // The same Rx number at another pharmacy is another prescription: not its fill.
    let elsewhere = [from_other_pharmacy(fill(SERTRALINE_100, 1, 10, 30, 30))];
    assert!(!early(&run_v2(&claim, &elsewhere)));
    // On time (day 23 of 30) the other product's fill passes.
    let on_time = run_v2(&claim, &[fill(SERTRALINE_100, 1, 23, 30, 30)]);
    assert!(!early(&on_time), "{:#?}", on_time.conflicts);
}

fn with_accumulation_lookback(days: u32) -> RuleSet {
    let ruleset = v2_ruleset().replacen(
        "accumulation_lookback_days = 180",
        &format!("accumulation_lookback_days = {days}"),
        1,
    );
    v2_with("ruleset.toml", &ruleset)
}

/// 30-day fills of SERTRALINE on Rx 1, filled the given numbers of days ago.
fn monthly_refills(days_ago: &[i32]) -> Vec<Fill> {
    days_ago
        .iter()
        .map(|days| fill(SERTRALINE, 1, *days, 30, 30))
        .collect()
}

#[test]
fn exactly_the_allowed_days_on_hand_is_not_an_early_refill() {
    // 30-day fills 46 and 23 days ago: 7 days left at the second, 37 in all, 14 on hand today.
    let decision = run_v2(&tx(SERTRALINE, 1, 30, 30), &monthly_refills(&[46, 23]));
    assert!(!early(&decision), "{:#?}", decision.conflicts);
    // 45 and 23 days ago: 8 days left at the second, 15 on hand.
    let decision = run_v2(&tx(SERTRALINE, 1, 30, 30), &monthly_refills(&[45, 23]));
    let refill = conflict_of(&decision, Edit::EarlyRefill);
    assert_eq!(
        (refill.rule_id.as_str(), refill.message.as_str()),
        ("accumulation>14", "15 days on hand > 14")
    );
}

#[test]
fn accumulation_counts_only_the_fills_inside_its_lookback() {
    let fills = monthly_refills(&[45, 23]);
    let claim = tx(SERTRALINE, 1, 30, 30);
    // 45 days back is inside a 45-day lookback: 15 days on hand.
    let inside = run_with(&with_accumulation_lookback(45), &claim, &fills, adult());
    assert!(early(&inside), "{:#?}", inside.conflicts);
    // With 44 days only the fill of 23 days ago counts: 7 days on hand.
    let outside = run_with(&with_accumulation_lookback(44), &claim, &fills, adult());
    assert!(!early(&outside), "{:#?}", outside.conflicts);
}

#[test]
fn an_opioid_fill_dated_inside_the_claims_supply_is_not_opioid_history() {
    let claim = tx(OXYCODONE, 8, 60, 30);
    let overlapping = run_v2(&claim, &[fill(HYDROCODONE_APAP, 7, -5, 4, 1)]);
    assert!(naive(&overlapping), "{:#?}", overlapping.conflicts);
    let before = run_v2(&claim, &[fill(HYDROCODONE_APAP, 7, 5, 4, 1)]);
    assert!(!naive(&before), "{:#?}", before.conflicts);
}

/// The cumulative-MME conflict of `decision`.
fn mme_conflict(decision: &Decision) -> &Conflict {
    decision
        .conflicts
        .iter()
        .find(|conflict| conflict.edit == Edit::Opioid && conflict.rule_id.starts_with("mme>="))
        .unwrap_or_else(|| panic!("no MME conflict in {:#?}", decision.conflicts))
}

fn mme_message(decision: &Decision) -> Option<&str> {
    decision
        .conflicts
        .iter()
        .find(|conflict| conflict.rule_id.starts_with("mme>="))
        .map(|conflict| conflict.message.as_str())
}

#[test]
fn only_the_latest_fill_of_another_prescription_is_added_to_the_mme_sum() {
    // The claim: OXYCODONE 10 mg twice a day, 30 MME. Rx 2: 4 a day (60 MME) for 60 days from
    // 20 days ago, then 8 a day (120 MME) 5 days ago. Its latest fill counts: 150.
    let claim = tx(OXYCODONE, 1, 60, 30);
    let by_date = [
        fill(OXYCODONE, 2, 20, 240, 60),
        fill(OXYCODONE, 2, 5, 240, 30),
    ];
    let decision = run_v2(&claim, &by_date);
    let mme = mme_conflict(&decision);
    assert_eq!(mme.action, Action::Warn);
    assert!(mme.message.contains("MME 150"), "{}", mme.message);
    // Two fills of Rx 2 on one date: the one recorded last counts.
    let same_day = |first: u64, second: u64| {
        let fills = [
            fill(OXYCODONE, 2, 5, first, 30),
            fill(OXYCODONE, 2, 5, second, 30),
        ];
        run_v2(&claim, &fills)
    };
    assert_eq!(
        mme_message(&same_day(240, 120)),
        Some("cumulative MME 90 >= 90")
    );
    assert_eq!(
        mme_message(&same_day(120, 240)),
        Some("cumulative MME 150 >= 90")
    );
}

#[test]
fn only_the_latest_fill_of_another_prescription_is_added_to_the_acetaminophen_sum() {
    // The claim: APAP 500 twice a day, 1000 mg. Rx 2 tapered from 7 a day (3500 mg) to 2 a
    // day (1000 mg) 5 days ago: 2000 mg in all, within 4000.
    let claim = tx(APAP_500, 1, 60, 30);
    let tapered = [fill(APAP_500, 2, 20, 420, 60), fill(APAP_500, 2, 5, 60, 30)];
    let decision = run_v2(&claim, &tapered);
    assert!(
        !has(&decision, Edit::Acetaminophen),
        "{:#?}",
        decision.conflicts
    );
    // Raised from 2 a day to 7 a day: 4500 mg (not 5500: the older fill is replaced).
    let raised = [
        fill(APAP_500, 2, 20, 120, 60),
        fill(APAP_500, 2, 5, 210, 30),
    ];
    let decision = run_v2(&claim, &raised);
    let apap = conflict_of(&decision, Edit::Acetaminophen);
    assert_eq!(apap.message, "acetaminophen 4500 mg/day > 4000");
}

#[test]
fn opioid_membership_comes_from_the_opioids_class_not_from_mme_csv() {
    // OXYCODONE_ONLY leaves hydrocodone out; hydrocodone keeps its mme.csv row.
    let mut source = v2_source();
    source.set(
        "classes.csv",
        format!("{}OXYCODONE_ONLY,oxycodone\n", fixture::CLASSES),
    );
    let ruleset = v2_ruleset().replace("class:OPIOID\"", "class:OXYCODONE_ONLY\"");
    source.set("ruleset.toml", ruleset);
    let rules = rules_from(&source);
    let hydrocodone = rules
        .product(Ndc::from_value(HYDROCODONE_APAP).unwrap())
        .unwrap();
    assert!(!hydrocodone.opioid);
    // Nor does its mme.csv row give it an MME factor (a combination with a class member
    // would otherwise add it to the sum).
    assert!(hydrocodone
        .ingredients
        .iter()
        .all(|part| part.mme_factor_micro.is_none()));
    // 30 days of hydrocodone/APAP: no opioid edit runs (class:OPIOID would call it naive).
    let claim = tx(HYDROCODONE_APAP, 1, 120, 30);
    assert!(!naive(&run_with(&rules, &claim, &[], adult())));
    assert!(naive(&run_v2(&claim, &[])));
    // For oxycodone a hydrocodone fill is neither opioid history nor part of the MME sum.
    let history = [fill(HYDROCODONE_APAP, 2, 10, 240, 30)];
    let oxycodone = tx(OXYCODONE, 1, 240, 30);
    let by_class = run_with(&rules, &oxycodone, &history, adult());
    assert!(naive(&by_class), "{:#?}", by_class.conflicts);
    assert!(mme_conflict(&by_class).message.contains("MME 120"));
    // Schema 1 without `opioids`: mme.csv's ingredients are the opioids (120 + 40 MME).
    let by_mme_csv = run(&oxycodone, &history);
    assert!(!naive(&by_mme_csv), "{:#?}", by_mme_csv.conflicts);
    assert!(mme_conflict(&by_mme_csv).message.contains("MME 160"));
}

#[test]
fn a_fill_dated_inside_the_claims_supply_counts_for_duplication() {
    let claim = tx(SERTRALINE, 1, 30, 30);
    // Day 29 after the date of service is the claim's last day of supply; day 30 is past it.
    let inside = run_v2(&claim, &[fill(FLUOXETINE, 2, -29, 30, 30)]);
    assert!(has(&inside, Edit::Duplication), "{:#?}", inside.conflicts);
    let after = run_v2(&claim, &[fill(FLUOXETINE, 2, -30, 30, 30)]);
    assert!(!has(&after, Edit::Duplication), "{:#?}", after.conflicts);
}

#[test]
fn a_fill_dated_inside_the_claims_supply_counts_for_opioid_with_benzodiazepine() {
    let pairs = |decision: &Decision| {
        decision
            .conflicts
            .iter()
            .any(|conflict| conflict.rule_id.starts_with("opioid+"))
    };
    let opioid = run_v2(
        &tx(OXYCODONE, 1, 60, 30),
        &[fill(ALPRAZOLAM, 2, -5, 30, 30)],
    );
    assert!(pairs(&opioid), "{:#?}", opioid.conflicts);
    let benzodiazepine = run_v2(
        &tx(ALPRAZOLAM, 1, 30, 30),
        &[fill(OXYCODONE, 2, -5, 60, 30)],
    );
    assert!(pairs(&benzodiazepine), "{:#?}", benzodiazepine.conflicts);
    let after = run_v2(
        &tx(OXYCODONE, 1, 60, 30),
        &[fill(ALPRAZOLAM, 2, -30, 30, 30)],
    );
    assert!(!pairs(&after), "{:#?}", after.conflicts);
}

#[test]
fn a_fill_dated_inside_the_claims_supply_counts_in_the_cumulative_sums() {
    // OXYCODONE 10 mg 8 a day is 120 MME; another Rx of it dated 5 days later adds 120.
    let claim = tx(OXYCODONE, 1, 240, 30);
    let inside = run_v2(&claim, &[fill(OXYCODONE, 2, -5, 240, 30)]);
    assert_eq!(mme_conflict(&inside).action, Action::Reject);
    assert!(mme_conflict(&inside).message.contains("MME 240"));
    let after = run_v2(&claim, &[fill(OXYCODONE, 2, -30, 240, 30)]);
    assert!(mme_conflict(&after).message.contains("MME 120"));
    // APAP 500 6 a day (3000 mg) with another Rx of 3 a day (1500 mg) dated 5 days later.
    let claim = tx(APAP_500, 1, 180, 30);
    let inside = run_v2(&claim, &[fill(APAP_500, 2, -5, 90, 30)]);
    let apap = conflict_of(&inside, Edit::Acetaminophen);
    assert_eq!(apap.message, "acetaminophen 4500 mg/day > 4000");
    let after = run_v2(&claim, &[fill(APAP_500, 2, -30, 90, 30)]);
    assert!(!has(&after, Edit::Acetaminophen), "{:#?}", after.conflicts);
}

#[test]
fn high_dose_compares_a_patchs_effective_rate() {
    // FENTANYL 25 mcg/hr against the adult 25 mcg/hr limit, reject_multiple 2; 72 h per patch.
    let at = |quantity| run_v2(&tx(FENTANYL_25, 1, quantity, 30), &[]);
    // 5 or 10 patches in 30 days: one worn at a time, 25 mcg/hr, at the limit.
    assert!(!has(&at(5), Edit::HighDose));
    assert!(!has(&at(10), Edit::HighDose));
    // 11 patches: 1.1 at once (27.5); 20 patches: 2 at once (50 = 2x): warnings, 528-FS 3.
    for quantity in [11, 20] {
        let decision = at(quantity);
        let high = conflict_of(&decision, Edit::HighDose);
        assert_eq!(
            (high.action, high.clinical_significance),
            (Action::Warn, 3),
            "{quantity} patches"
        );
    }
    // 21 patches: 2.1 at once, 52.5 mcg/hr, above 2x: rejected, 528-FS 1.
    let decision = at(21);
    let high = conflict_of(&decision, Edit::HighDose);
    assert_eq!(
        (high.action, high.clinical_significance),
        (Action::Reject, 1)
    );
}

fn early_refill_with_lists(professional: &str, result: &str) -> RuleSet {
    let lists =
        format!("override_professional = [\"{professional}\"]\noverride_result = [\"{result}\"]");
    let ruleset = v2_ruleset().replacen(
        "override_professional = []\noverride_result = []",
        &lists,
        1,
    );
    assert_ne!(ruleset, v2_ruleset(), "the early-refill lists moved");
    v2_with("ruleset.toml", &ruleset)
}

#[test]
fn a_dur_pps_occurrence_in_the_early_refill_lists_overrides_it() {
    let rules = early_refill_with_lists("MR", "1B");
    let history = [fill(LAMOTRIGINE, 1, 5, 30, 30)];
    let mut claim = tx(LAMOTRIGINE, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "ER", "MR", "1B")];
    let overridden = run_with(&rules, &claim, &history, adult());
    assert_eq!(paid_over_early_refill(&overridden), Some(1));
    // Codes outside the lists do not override it.
    claim.dur_pps = vec![dur(1, "ER", "M0", "1G")];
    let refused = run_with(&rules, &claim, &history, adult());
    assert_eq!(refused.reject_codes, vec![reject::REFILL_TOO_SOON]);
    // With the edit's lists empty (the v2 fixture, like the sample) no code overrides it.
    claim.dur_pps = vec![dur(1, "ER", "MR", "1B")];
    let empty_lists = run_v2(&claim, &history);
    assert_eq!(empty_lists.status, Status::Rejected);
    assert!(!conflict_of(&empty_lists, Edit::EarlyRefill).overridable);
}

#[test]
fn a_clarification_code_overrides_no_edit_but_early_refill() {
    // D1 simvastatin + clarithromycin (severity 1) with 420-DK 04 (a listed code).
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.clarification_codes = vec![4];
    let decision = run_v2(&claim, &[fill(CLARITHROMYCIN, 2, 2, 20, 10)]);
    assert_eq!(decision.reject_codes, vec![reject::DUR_REJECT]);
    assert_eq!(conflict_of(&decision, Edit::Ddi).overridden_by, None);
}

#[test]
fn a_washout_counts_through_the_last_active_day_plus_its_days_exactly() {
    // Warfarin for 30 days: filled 43 days ago its last active day is 14 days ago.
    let aspirin = tx(ASPIRIN, 1, 30, 30);
    let rules = ddi_with_washout("14");
    let last_washout_day = run_with(&rules, &aspirin, &[fill(WARFARIN, 2, 43, 30, 30)], adult());
    assert!(has(&last_washout_day, Edit::Ddi));
    let day_after = run_with(&rules, &aspirin, &[fill(WARFARIN, 2, 44, 30, 30)], adult());
    assert!(!has(&day_after, Edit::Ddi), "{:#?}", day_after.conflicts);
}

#[test]
fn exactly_the_bands_acetaminophen_maximum_is_allowed() {
    // APAP 32 mg/mL at age 2 (band 800 mg): 25 mL a day is 800 mg, 25.1 mL is 803.2 mg.
    let at = |quantity| {
        let claim = tx(APAP_SOLUTION, 1, quantity, 10);
        run_with(&v2(), &claim, &[], Some(born_aged(2)))
    };
    assert!(!has(&at(250), Edit::Acetaminophen));
    let over = at(251);
    let apap = conflict_of(&over, Edit::Acetaminophen);
    assert_eq!(apap.message, "acetaminophen 803 mg/day > 800");
}

#[test]
fn never_override_wins_over_a_severity_table() {
    let ruleset = v2_ruleset().replacen("never_override = []", "never_override = [1]", 1);
    let rules = v2_with("ruleset.toml", &ruleset);
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let history = [fill(CLARITHROMYCIN, 2, 2, 20, 10)];
    let decision = run_with(&rules, &claim, &history, adult());
    assert_eq!(decision.status, Status::Rejected);
    let ddi = conflict_of(&decision, Edit::Ddi);
    assert_eq!((ddi.overridable, ddi.overridden_by), (false, None));
}

// ---- validation of the new keys and columns, at their exact positions ------------------------

/// `file:line:column` of `marker`'s first occurrence in `text`, `skip` characters into it.
fn located(file: &str, text: &str, marker: &str, skip: usize) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in {file}"));
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1 + skip;
    format!("{file}:{line}:{column}")
}

/// The v2 folder with `name` replaced is refused with exactly `expected` among its errors.
fn v2_refused_exactly(name: &str, text: &str, expected: &str) {
    let mut source = v2_source();
    source.set(name, text);
    refused_with(&source, expected);
}

fn sertraline_adult_row_with(multiple: &'static str) -> String {
    add_column(fixture::DOSE_LIMITS, "reject_multiple", move |row| {
        if row.starts_with("sertraline,oral,18") {
            multiple
        } else {
            ""
        }
    })
}

#[test]
fn a_dose_limit_rows_reject_multiple_below_one_is_refused_at_its_cell() {
    for bad in ["0.5", "0", "0.999999", "many"] {
        let rows = sertraline_adult_row_with(bad);
        let at = located("dose_limits.csv", &rows, &format!("200,mg,{bad}"), 7);
        let expected = format!("{at}: reject_multiple \"{bad}\" must be a number >= 1 (rule 5)");
        assert_eq!(at, "dose_limits.csv:3:31");
        v2_refused_exactly("dose_limits.csv", &rows, &expected);
    }
    let exactly_one = v2_with("dose_limits.csv", &sertraline_adult_row_with("1"));
    assert_eq!(exactly_one.counts().dose_limits, 8);
}

#[test]
fn wear_hours_must_be_a_whole_number_of_hours_above_zero() {
    for bad in ["0", "1.5", "-72", "72h"] {
        let products = add_column(&v2_products(), "wear_hours", |row| {
            if row.starts_with("00000000019") {
                bad
            } else {
                ""
            }
        });
        let at = located("products.csv", &products, "FENTANYL 50,", 12);
        assert_eq!(at, "products.csv:20:66");
        let max = crate::limits::PATCH_WEAR_HOURS_MAX;
        let expected =
            format!("{at}: wear_hours \"{bad}\" is not a whole number 1..={max} (rule 5)");
        v2_refused_exactly("products.csv", &products, &expected);
    }
}

const SEVERITY_1_TABLE: &str =
    "[edits.ddi.severity.1]\noverride_professional = [\"M0\"]\noverride_result = [\"1G\"]";

/// The v2 ruleset with its `[edits.ddi.severity.1]` table replaced by `table`.
fn with_severity_table(table: &str) -> String {
    let ruleset = v2_ruleset();
    assert!(
        ruleset.contains(SEVERITY_1_TABLE),
        "the fixture's table moved"
    );
    ruleset.replacen(SEVERITY_1_TABLE, table, 1)
}

#[test]
fn a_severity_tables_codes_are_validated_at_their_position() {
    let professional = with_severity_table(
        "[edits.ddi.severity.1]\noverride_professional = [\"ZZ\"]\noverride_result = [\"1G\"]",
    );
    let at = located("ruleset.toml", &professional, "\"ZZ\"", 0);
    let expected = format!("{at}: 440-E5 \"ZZ\" is not a valid NCPDP code (rule 8)");
    v2_refused_exactly("ruleset.toml", &professional, &expected);
    let result = with_severity_table(
        "[edits.ddi.severity.1]\noverride_professional = [\"M0\"]\noverride_result = [\"1G\", \"9Z\"]",
    );
    let at = located("ruleset.toml", &result, "\"9Z\"", 0);
    let expected = format!("{at}: 441-E6 \"9Z\" is not a valid NCPDP code (rule 8)");
    v2_refused_exactly("ruleset.toml", &result, &expected);
}

#[test]
fn a_severity_table_without_both_lists_is_refused_at_its_key() {
    // Rule 9 (not a parse error under rule 2): the table must set both lists.
    for table in [
        "[edits.ddi.severity.1]\noverride_professional = [\"M0\"]",
        "[edits.ddi.severity.1]\noverride_result = [\"1G\"]",
        "[edits.ddi.severity.1]",
    ] {
        let ruleset = with_severity_table(table);
        let at = located("ruleset.toml", &ruleset, "[edits.ddi.severity.1]", 20);
        let expected = format!(
            "{at}: [edits.ddi.severity.1] must set both override_professional and \
             override_result (rule 9)"
        );
        v2_refused_exactly("ruleset.toml", &ruleset, &expected);
    }
}

#[test]
fn early_refill_and_acetaminophen_numbers_out_of_range_are_refused_at_their_values() {
    let days_max = crate::limits::HISTORY_LOOKBACK_DAYS_MAX;
    let cases = [
        (
            "accumulation_max_days = 14",
            "accumulation_max_days = -1",
            "-1",
            format!("accumulation_max_days = -1 is outside 0..={days_max} (rule 9)"),
        ),
        (
            "min_elapsed_percent_by_schedule = { 2 = 90 }",
            "min_elapsed_percent_by_schedule = { 2 = 101 }",
            "101",
            "min_elapsed_percent_by_schedule = 101 is outside 1..=100 (rule 9)".to_string(),
        ),
        (
            "{ min_age = 2, max_age = 3,",
            "{ min_age = 2, max_age = 151,",
            "151",
            "max_age = 151 is outside 0..=150 (rule 6)".to_string(),
        ),
        (
            "{ min_age = 2, max_age = 3,",
            "{ min_age = 151, max_age = 3,",
            "151",
            "min_age = 151 is outside 0..=150 (rule 6)".to_string(),
        ),
    ];
    for (from, to, value, message) in cases {
        let ruleset = v2_ruleset();
        assert!(ruleset.contains(from), "fixture lacks {from:?}");
        let broken = ruleset.replacen(from, to, 1);
        let at = located("ruleset.toml", &broken, to, to.find(value).unwrap());
        v2_refused_exactly("ruleset.toml", &broken, &format!("{at}: {message}"));
    }
}

#[test]
fn the_new_numbers_at_their_bounds_are_accepted() {
    let ruleset = v2_ruleset()
        .replacen("accumulation_max_days = 14", "accumulation_max_days = 0", 1)
        .replacen("{ 2 = 90 }", "{ 2 = 100 }", 1)
        .replacen(
            "{ min_age = 2, max_age = 3, max_daily_mg = 800 }",
            "{ min_age = 2, max_age = 150, max_daily_mg = 800 }",
            1,
        );
    let rules = v2_with("ruleset.toml", &ruleset);
    let params = rules.params();
    assert_eq!(params.early_refill_accumulation, Some((180, 0)));
    assert_eq!(params.early_refill_percent_by_schedule[2], Some(100));
}
