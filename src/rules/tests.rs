//! Table-driven tests of the rule engine: one per numbered validation rule, and every edit at
//! its boundaries, on the small in-memory folder of [`super::fixture`].

use super::fixture::{self, with};
use super::*;
use crate::claim::{
    reject, Action, Date, Decision, DurPps, Edit, Fill, Ndc, RejectCode, RequestHeader, Status,
    Transaction, TransactionCode, Transmission,
};
use crate::claim::{Code2, Patient};

// ---- helpers ----------------------------------------------------------------------------------

pub(super) const SERTRALINE: u64 = 1;
pub(super) const FLUOXETINE: u64 = 2;
pub(super) const SIMVASTATIN: u64 = 3;
pub(super) const CLARITHROMYCIN: u64 = 4;
pub(super) const OXYCODONE: u64 = 5;
pub(super) const HYDROCODONE_APAP: u64 = 6;
pub(super) const ALPRAZOLAM: u64 = 7;
pub(super) const FENTANYL_25: u64 = 8;
pub(super) const APAP_500: u64 = 9;
pub(super) const AMITRIPTYLINE: u64 = 10;
pub(super) const WARFARIN: u64 = 11;
pub(super) const ASPIRIN: u64 = 12;
pub(super) const ESCITALOPRAM: u64 = 13;
pub(super) const APAP_SOLUTION: u64 = 14;
pub(super) const ATORVASTATIN_G: u64 = 15;
pub(super) const GABAPENTIN: u64 = 16;
pub(super) const LAMOTRIGINE: u64 = 17;
pub(super) const LEVETIRACETAM: u64 = 18;
pub(super) const FENTANYL_50: u64 = 19;

pub(super) const PHARMACY: u64 = 0xA;
pub(super) const PRESCRIBER: u64 = 0xB;

pub(super) fn dos() -> Date {
    Date::from_ymd(2026, 6, 15).unwrap()
}

pub(super) fn rules() -> RuleSet {
    compile(&fixture::source()).unwrap_or_else(|errors| panic!("fixture refused:\n{errors}"))
}

pub(super) fn rules_from(source: &RuleSource) -> RuleSet {
    compile(source).unwrap_or_else(|errors| panic!("refused:\n{errors}"))
}

/// Born so that the date of service is the patient's `age`-th birthday.
pub(super) fn born_aged(age: i32) -> Date {
    Date::from_ymd(2026 - age, 6, 15).unwrap()
}

pub(super) fn tx(ndc: u64, rx: u64, quantity: u64, days: u16) -> Transaction {
    Transaction {
        rx_number: rx,
        product_qualifier: "03".into(),
        product_id: format!("{ndc:011}"),
        ndc: Ndc::from_value(ndc),
        quantity_milli: quantity * 1000,
        days_supply: days,
        compound_code: 1,
        ..Transaction::default()
    }
}

pub(super) fn fill(ndc: u64, rx: u64, days_ago: i32, quantity: u64, days: u16) -> Fill {
    Fill {
        ndc: Ndc::from_value(ndc).unwrap(),
        rx_number: rx,
        date_of_service: dos().add_days(-days_ago),
        quantity_milli: quantity * 1000,
        days_supply: days,
        fill_number: 0,
        pharmacy: PHARMACY,
        prescriber: PRESCRIBER,
        overridden: crate::claim::Overridden::NONE,
    }
}

pub(super) fn dur(counter: u8, reason: &str, professional: &str, result: &str) -> DurPps {
    DurPps {
        counter,
        reason: Code2::parse(reason.as_bytes()),
        professional: Code2::parse(professional.as_bytes()),
        result: Code2::parse(result.as_bytes()),
        ..DurPps::default()
    }
}

pub(super) fn run_with(
    rules: &RuleSet,
    transaction: &Transaction,
    fills: &[Fill],
    born: Option<Date>,
) -> Decision {
    let ctx = ClaimContext {
        transaction,
        date_of_service: dos(),
        date_of_birth: born,
        pharmacy: PHARMACY,
        prescriber: PRESCRIBER,
    };
    adjudicate_claim(&ctx, rules, fills, dos())
}

pub(super) fn run(transaction: &Transaction, fills: &[Fill]) -> Decision {
    run_with(&rules(), transaction, fills, Some(born_aged(40)))
}

pub(super) fn edits_of(decision: &Decision) -> Vec<Edit> {
    decision
        .conflicts
        .iter()
        .map(|conflict| conflict.edit)
        .collect()
}

pub(super) fn has(decision: &Decision, edit: Edit) -> bool {
    edits_of(decision).contains(&edit)
}

pub(super) fn errors_of(source: &RuleSource) -> Vec<String> {
    match compile(source) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn refused_with(source: &RuleSource, expected: &str) {
    let errors = errors_of(source);
    assert!(
        errors.iter().any(|error| error == expected),
        "expected {expected:?} in {errors:#?}"
    );
}

// ---- loading ----------------------------------------------------------------------------------

#[test]
fn the_fixture_compiles_into_indexes() {
    let rules = rules();
    assert_eq!(&*rules.stamp(), "test@1");
    assert_eq!((rules.lookback_days(), rules.active_grace_days()), (180, 0));
    let counts = rules.counts();
    assert_eq!(
        (
            counts.products,
            counts.classes,
            counts.ddi,
            counts.duplication
        ),
        (19, 6, 4, 3)
    );
    assert_eq!(
        (counts.dose_limits, counts.elderly_high_risk, counts.mme),
        (8, 1, 3)
    );
    assert_eq!(rules.classes_of("atorvastatin"), vec!["STATIN"]);
    assert_eq!(
        rules.class_members("class:STATIN"),
        Some(vec!["simvastatin", "atorvastatin"])
    );
    assert_eq!(rules.class_members("NOPE"), None);
    let combination = rules
        .product(Ndc::from_value(HYDROCODONE_APAP).unwrap())
        .unwrap();
    assert_eq!(combination.ingredients.len(), 2);
    assert!(combination.opioid && !combination.benzodiazepine);
    let schema_one_edits: Vec<Edit> = Edit::ALL
        .into_iter()
        .filter(|e| *e != Edit::AgeLimit)
        .collect();
    assert_eq!(rules.enabled_edits(), schema_one_edits);
}

#[test]
fn unknown_toml_key_is_refused_with_its_location() {
    let text = fixture::RULESET.replace("mme_warn = 90", "mme_warn = 90\nmme_block = 300");
    let errors = errors_of(&with("ruleset.toml", &text));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("ruleset.toml:50:1: ") && errors[0].contains("mme_block"),
        "{errors:?}"
    );
}

#[test]
fn extra_csv_columns_are_ignored_and_columns_map_by_name() {
    let reordered = "source,ingredient,min_age,message\nS09,amitriptyline,65,anticholinergic\n";
    let rules = rules_from(&with("elderly_high_risk.csv", reordered));
    assert_eq!(rules.counts().elderly_high_risk, 1);
}

#[test]
fn missing_csv_column_is_refused() {
    let text = "ingredient,route\noxycodone,oral\n";
    refused_with(
        &with("mme.csv", text),
        "mme.csv:1:1: required column factor is missing (rule 2)",
    );
}

#[test]
fn optional_edit_files_may_hold_only_a_header() {
    let rules = rules_from(&with("mme.csv", "ingredient,route,factor\n"));
    assert!(
        !rules
            .product(Ndc::from_value(OXYCODONE).unwrap())
            .unwrap()
            .opioid
    );
}

/// One case per numbered validation rule of `docs/rule-tables.md` (rules 1–3 here, 4–8 below):
/// (file, contents, expected error).
#[test]
fn validation_rules_1_to_3_are_enforced_with_file_line_and_column() {
    let schema_two = fixture::RULESET.replace("schema = 1", "schema = 3");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "ruleset.toml",
            schema_two,
            "ruleset.toml:3:10: schema = 3 is not supported (1 or 2) (rule 1)",
        ),
        (
            "products.csv",
            format!(
                "{}00000000020,aspirin,,mg,tablet,oral,,N,\n",
                fixture::PRODUCTS
            ),
            "products.csv:21:21: strengths is empty (rule 2)",
        ),
        (
            "products.csv",
            format!(
                "{}00000000020,aspirin,81,mg,tablet,by mouth,,N,\n",
                fixture::PRODUCTS
            ),
            "products.csv:21:34: route \"by mouth\" is not a known route (rule 2)",
        ),
        (
            "products.csv",
            format!(
                "{}0000000020,aspirin,81,mg,tablet,oral,,N,\n",
                fixture::PRODUCTS
            ),
            "products.csv:21:1: ndc \"0000000020\" is not 11 digits (rule 3)",
        ),
        (
            "products.csv",
            format!(
                "{}00000000012,aspirin,325,mg,tablet,oral,,N,\n",
                fixture::PRODUCTS
            ),
            "products.csv:21:1: ndc 00000000012 repeats line 13 (rule 3)",
        ),
        (
            "products.csv",
            format!(
                "{}00000000020,oxycodone/acetaminophen,5,mg,tablet,oral,2,N,\n",
                fixture::PRODUCTS
            ),
            "products.csv:21:37: strengths has 1 value for 2 ingredients (rule 3)",
        ),
    ];
    for (file, text, expected) in cases {
        refused_with(&with(file, &text), expected);
    }
}

/// Validation rules 4–8 of `docs/rule-tables.md`, as above.
#[test]
fn validation_rules_4_to_8_are_enforced_with_file_line_and_column() {
    let bad_code = fixture::RULESET.replace(
        "override_professional = [\"M0\", \"R0\"]",
        "override_professional = [\"M0\", \"ZZ\"]",
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "ddi.csv",
            format!("{}D5,class:ANTACID,warfarin,2,chelation\n", fixture::DDI),
            "ddi.csv:6:4: class:ANTACID is not in classes.csv (rule 4)",
        ),
        (
            "ddi.csv",
            format!("{}D5,warfarin,simvastatin,4,x\n", fixture::DDI),
            "ddi.csv:6:25: severity \"4\" is not 1, 2 or 3 (rule 5)",
        ),
        (
            "duplication.csv",
            format!("{}class:MACROLIDE,1.5,,x\n", fixture::DUPLICATION),
            "duplication.csv:5:17: allowance \"1.5\" is not a whole number >= 0 (rule 5)",
        ),
        (
            "dose_limits.csv",
            format!("{}warfarin,oral,18,150,0,mg\n", fixture::DOSE_LIMITS),
            "dose_limits.csv:10:22: max_daily must be greater than 0 (rule 5)",
        ),
        (
            "mme.csv",
            format!("{}codeine,oral,0\n", fixture::MME),
            "mme.csv:5:14: factor must be greater than 0 (rule 5)",
        ),
        (
            "dose_limits.csv",
            format!("{}fluoxetine,oral,60,70,60,mg\n", fixture::DOSE_LIMITS),
            "dose_limits.csv:10:17: fluoxetine oral band 60..70 overlaps 18..64 on line 4 (rule 6)",
        ),
        (
            "ddi.csv",
            format!(
                "{}D5,class:MACROLIDE,simvastatin,2,reversed pair\n",
                fixture::DDI
            ),
            "ddi.csv:6:32: pair repeats line 2 with severity 1 instead of 2 (rule 7)",
        ),
        (
            "ddi.csv",
            format!("{}D2,warfarin,fluoxetine,2,x\n", fixture::DDI),
            "ddi.csv:6:1: id D2 repeats line 3 (rule 7)",
        ),
        (
            "ruleset.toml",
            bad_code,
            "ruleset.toml:13:32: 440-E5 \"ZZ\" is not a valid NCPDP code (rule 8)",
        ),
    ];
    for (file, text, expected) in cases {
        refused_with(&with(file, &text), expected);
    }
}

#[test]
fn generic_column_is_optional_and_yes_no() {
    let product = |rules: &RuleSet, value| {
        Ndc::from_value(value)
            .and_then(|ndc| rules.product(ndc))
            .map(|product| product.generic)
    };
    assert_eq!(
        product(&rules(), SERTRALINE),
        Some(None),
        "no column: unknown"
    );
    let products = fixture::PRODUCTS
        .replacen(",name\n", ",name,generic\n", 1)
        .replacen("SERTRALINE 50\n", "SERTRALINE 50,Y\n", 1)
        .replacen("FLUOXETINE 20\n", "FLUOXETINE 20,N\n", 1);
    let rules = rules_from(&with("products.csv", &products));
    assert_eq!(product(&rules, SERTRALINE), Some(Some(true)));
    assert_eq!(product(&rules, FLUOXETINE), Some(Some(false)));
    assert_eq!(
        product(&rules, SIMVASTATIN),
        Some(None),
        "empty cell: unknown"
    );
    let bad = format!("{products}00000000020,aspirin,81,mg,tablet,oral,,N,ASPIRIN,yes\n");
    refused_with(
        &with("products.csv", &bad),
        "products.csv:21:50: \"yes\" is not Y or N (rule 2)",
    );
}

#[test]
fn missing_file_is_refused_naming_it() {
    let mut source = fixture::source();
    source.files.retain(|(name, _)| name != "ddi.csv");
    assert_eq!(
        errors_of(&source),
        vec!["ddi.csv:1:1: required file is missing (rule 1)".to_string()]
    );
}

#[test]
fn unknown_benzodiazepine_class_is_refused() {
    let text = fixture::RULESET.replace("class:BENZODIAZEPINE", "class:BENZO");
    refused_with(
        &with("ruleset.toml", &text),
        "ruleset.toml:53:23: class:BENZO is not in classes.csv (rule 4)",
    );
}

#[test]
fn same_pair_with_same_severity_is_kept_once() {
    let text = format!("{}D5,aspirin,warfarin,2,again\n", fixture::DDI);
    assert_eq!(rules_from(&with("ddi.csv", &text)).counts().ddi, 4);
}

#[test]
fn several_errors_in_several_files_are_reported_at_once() {
    let mut source = with(
        "ddi.csv",
        &format!("{}D5,warfarin,class:NOPE,9,x\n", fixture::DDI),
    );
    source.set("mme.csv", "ingredient,route,factor\nOxycodone,oral,1.5\n");
    let errors = errors_of(&source);
    let expected = [
        "ddi.csv:6:13: class:NOPE is not in classes.csv (rule 4)",
        "ddi.csv:6:24: severity \"9\" is not 1, 2 or 3 (rule 5)",
        "mme.csv:2:1: \"Oxycodone\" is not a lower-case ingredient name (rule 2)",
    ];
    assert_eq!(errors, expected.map(String::from).to_vec());
}

// ---- product coverage and the clean claim --------------------------------------------------------

#[test]
fn product_not_in_the_tables_is_rejected_70_without_edits() {
    let decision = run(
        &tx(99_999, 1, 30, 30),
        &[fill(CLARITHROMYCIN, 2, 1, 30, 30)],
    );
    assert_eq!(
        (decision.status, decision.reject_codes.clone()),
        (Status::Rejected, vec![reject::NOT_COVERED])
    );
    assert!(decision.conflicts.is_empty());
    assert_eq!(&*decision.ruleset, "test@1");
}

#[test]
fn clean_claim_is_paid_and_stamped() {
    let decision = run(&tx(SIMVASTATIN, 1, 30, 30), &[]);
    assert_eq!(decision.status, Status::Paid);
    assert!(decision.reject_codes.is_empty() && decision.conflicts.is_empty());
    assert_eq!(&*decision.ruleset, "test@1");
}

// ---- drug-drug interaction -------------------------------------------------------------------

#[test]
fn ddi_fires_in_both_directions_and_carries_the_conflicting_fill() {
    let cases = [(SIMVASTATIN, CLARITHROMYCIN), (CLARITHROMYCIN, SIMVASTATIN)];
    for (claimed, filled) in cases {
        let mut other = fill(filled, 7, 5, 28, 30);
        other.pharmacy = 0xFF;
        let decision = run(&tx(claimed, 1, 30, 30), &[other]);
        assert_eq!(decision.reject_codes, vec![reject::DUR_REJECT], "{claimed}");
        let conflict = &decision.conflicts[0];
        assert_eq!(
            (conflict.edit, conflict.rule_id.as_str(), conflict.severity),
            (Edit::Ddi, "D1", 1)
        );
        assert_eq!(
            (conflict.clinical_significance, conflict.reason.as_str()),
            (1, "DD")
        );
        assert_eq!(conflict.previous_fill_date, Some(dos().add_days(-5)));
        assert_eq!(conflict.previous_quantity_milli, Some(28_000));
        assert_eq!((conflict.other_pharmacy, conflict.other_prescriber), (3, 1));
        assert!(!conflict.overridable, "severity 1 is never_override");
    }
}

#[test]
fn ddi_action_follows_severity_and_class_references_match_members() {
    // SSRI (class) + aspirin is severity 3 -> warn: paid with the conflict as information.
    let decision = run(&tx(ESCITALOPRAM, 1, 30, 30), &[fill(ASPIRIN, 2, 3, 30, 30)]);
    assert_eq!(decision.status, Status::Paid);
    assert_eq!(decision.conflicts[0].action, Action::Warn);
    assert_eq!(decision.conflicts[0].clinical_significance, 3);
    // warfarin + aspirin is severity 2 -> reject, overridable.
    let decision = run(&tx(WARFARIN, 1, 30, 30), &[fill(ASPIRIN, 2, 3, 30, 30)]);
    assert_eq!(decision.status, Status::Rejected);
    assert!(decision.conflicts[0].overridable);
}

#[test]
fn ddi_raises_one_conflict_per_rule_naming_the_latest_fill() {
    let fills = [
        fill(CLARITHROMYCIN, 2, 10, 30, 30),
        fill(CLARITHROMYCIN, 3, 4, 20, 30),
    ];
    let decision = run(&tx(SIMVASTATIN, 1, 30, 30), &fills);
    assert_eq!(decision.conflicts.len(), 1);
    assert_eq!(
        decision.conflicts[0].previous_fill_date,
        Some(dos().add_days(-4))
    );
}

/// The last active day of a fill versus the day after, with and without grace days.
#[test]
fn active_window_ends_on_dos_plus_supply_minus_one_plus_grace() {
    let graced = fixture::RULESET.replace("active_grace_days = 0", "active_grace_days = 2");
    let cases = [
        (0, 29, true),  // filled 29 days ago for 30 days: today is its last day
        (0, 30, false), // the day after
        (2, 31, true),  // grace 2: still active on day 31
        (2, 32, false),
    ];
    for (grace, days_ago, fires) in cases {
        let source = if grace == 0 {
            fixture::source()
        } else {
            with("ruleset.toml", &graced)
        };
        let fills = [fill(CLARITHROMYCIN, 2, days_ago, 30, 30)];
        let decision = run_with(
            &rules_from(&source),
            &tx(SIMVASTATIN, 1, 30, 30),
            &fills,
            Some(born_aged(40)),
        );
        assert_eq!(
            has(&decision, Edit::Ddi),
            fires,
            "grace {grace}, {days_ago} days ago"
        );
    }
}

#[test]
fn fills_beyond_lookback_are_ignored_even_when_their_supply_runs() {
    for (days_ago, fires) in [(180, true), (181, false)] {
        let decision = run(
            &tx(SIMVASTATIN, 1, 30, 30),
            &[fill(CLARITHROMYCIN, 2, days_ago, 300, 300)],
        );
        assert_eq!(has(&decision, Edit::Ddi), fires, "{days_ago} days ago");
    }
}

#[test]
fn a_fill_dated_inside_the_claims_supply_counts_and_a_later_one_does_not() {
    // Revised reading: a claim backdated before an existing fill meets that fill when it is
    // dated within the claim's own supply (day 29 of a 30-day claim); day 30 is beyond it.
    let overlapping = fill(CLARITHROMYCIN, 2, -29, 30, 30);
    assert!(has(
        &run(&tx(SIMVASTATIN, 1, 30, 30), &[overlapping]),
        Edit::Ddi
    ));
    let beyond = fill(CLARITHROMYCIN, 2, -30, 30, 30);
    assert!(!has(
        &run(&tx(SIMVASTATIN, 1, 30, 30), &[beyond]),
        Edit::Ddi
    ));
}

// ---- therapeutic duplication ------------------------------------------------------------------

#[test]
fn duplication_allowance_zero_counts_other_drugs_and_the_same_drug_on_another_rx() {
    let cases = [
        (FLUOXETINE, 2, PHARMACY, true),  // another SSRI
        (SERTRALINE, 2, PHARMACY, true),  // same ingredient, different Rx number
        (SERTRALINE, 1, PHARMACY, false), // refill of the same Rx: never a duplicate of itself
        (SERTRALINE, 1, 0xFF, true),      // same Rx number at another pharmacy is another Rx
    ];
    for (filled, rx, pharmacy, fires) in cases {
        let mut previous = fill(filled, rx, 5, 30, 30);
        previous.pharmacy = pharmacy;
        let decision = run(&tx(SERTRALINE, 1, 30, 30), &[previous]);
        assert_eq!(has(&decision, Edit::Duplication), fires, "{filled} rx {rx}");
        if fires {
            let conflict = decision
                .conflicts
                .iter()
                .find(|c| c.edit == Edit::Duplication)
                .unwrap();
            assert_eq!(
                (conflict.rule_id.as_str(), conflict.reason.as_str()),
                ("class:SSRI", "TD")
            );
        }
    }
}

#[test]
fn duplication_allowance_n_fires_only_above_n() {
    let lamotrigine = fill(LAMOTRIGINE, 2, 5, 30, 30);
    let levetiracetam = fill(LEVETIRACETAM, 3, 5, 30, 30);
    let two = run(&tx(GABAPENTIN, 1, 90, 30), &[lamotrigine]);
    assert!(!has(&two, Edit::Duplication), "2 distinct with allowance 2");
    let three = run(&tx(GABAPENTIN, 1, 90, 30), &[lamotrigine, levetiracetam]);
    assert!(
        has(&three, Edit::Duplication),
        "3 distinct with allowance 2"
    );
    // allowance 1: the same statin again under another Rx is one distinct ingredient.
    let same = run(
        &tx(SIMVASTATIN, 1, 30, 30),
        &[fill(SIMVASTATIN, 2, 5, 30, 30)],
    );
    assert!(!has(&same, Edit::Duplication));
    let other = run(
        &tx(SIMVASTATIN, 1, 30, 30),
        &[fill(ATORVASTATIN_G, 2, 5, 30, 30)],
    );
    assert!(has(&other, Edit::Duplication));
}

#[test]
fn duplication_grace_days_ignore_a_tapering_fill() {
    // SSRI grace is 7: a fill whose last active day is 6 days after the DOS is ignored, 7 is not.
    for (last_active_in, fires) in [(6, false), (7, true)] {
        let days_ago = 29 - last_active_in; // 30-day fill: last day = dos - days_ago + 29
        let decision = run(
            &tx(SERTRALINE, 1, 30, 30),
            &[fill(FLUOXETINE, 2, days_ago, 30, 30)],
        );
        assert_eq!(
            has(&decision, Edit::Duplication),
            fires,
            "last active day in {last_active_in}"
        );
    }
}

// ---- high dose ------------------------------------------------------------------------------

#[test]
fn high_dose_at_the_limit_is_allowed_above_it_conflicts() {
    // (product, quantity, days, age, fires)
    let cases = [
        (SERTRALINE, 120, 30, 40, false), // 200 mg/day, adult max 200
        (SERTRALINE, 121, 30, 40, true),  // 201.7 mg/day
        (SERTRALINE, 60, 30, 17, false),  // 100 mg/day, pediatric max 100
        (SERTRALINE, 61, 30, 17, true),
        (ATORVASTATIN_G, 60, 30, 40, false), // 0.04 g x 60 / 30 = 80 mg, max 80 mg
        (ATORVASTATIN_G, 61, 30, 40, true),
        (APAP_SOLUTION, 3750, 30, 40, false), // 32 mg/mL x 3750 mL / 30 = 4 g, max 4 g
        (APAP_SOLUTION, 3751, 30, 40, true),
        (FENTANYL_25, 10, 30, 40, false), // 25 mcg/hr patch, max 25 mcg/hr
        (FENTANYL_50, 10, 30, 40, true),  // 50 mcg/hr, whatever the quantity
        (OXYCODONE, 900, 30, 40, false),  // no band: not checked
    ];
    for (product, quantity, days, age, fires) in cases {
        let decision = run_with(
            &rules(),
            &tx(product, 1, quantity, days),
            &[],
            Some(born_aged(age)),
        );
        assert_eq!(
            has(&decision, Edit::HighDose),
            fires,
            "{product} x {quantity} / {days} at {age}"
        );
    }
}

#[test]
fn high_dose_bands_switch_on_the_65th_birthday() {
    // fluoxetine 20 mg x 90 / 30 = 60 mg/day: under the 18-64 max (80), over the 65+ max (40).
    let day_before = Date::from_ymd(1961, 6, 16).unwrap();
    let birthday = Date::from_ymd(1961, 6, 15).unwrap();
    let claim = tx(FLUOXETINE, 1, 90, 30);
    assert!(!has(
        &run_with(&rules(), &claim, &[], Some(day_before)),
        Edit::HighDose
    ));
    let decision = run_with(&rules(), &claim, &[], Some(birthday));
    let conflict = &decision.conflicts[0];
    assert_eq!(
        (conflict.edit, conflict.rule_id.as_str()),
        (Edit::HighDose, "fluoxetine:oral:65-150")
    );
    assert_eq!(
        (
            conflict.severity,
            conflict.clinical_significance,
            conflict.other_pharmacy
        ),
        (1, 1, 0)
    );
    assert!(
        !has(&run_with(&rules(), &claim, &[], None), Edit::HighDose),
        "no date of birth: not checked"
    );
}

#[test]
fn high_dose_checks_each_ingredient_of_a_combination() {
    let bands = format!("{}hydrocodone,oral,18,150,40,mg\n", fixture::DOSE_LIMITS);
    let rules = rules_from(&with("dose_limits.csv", &bands));
    // 5 mg x 240 / 30 = 40 mg hydrocodone (at max); acetaminophen 325 x 240 / 30 = 2600 mg.
    let at = run_with(
        &rules,
        &tx(HYDROCODONE_APAP, 1, 240, 30),
        &[],
        Some(born_aged(40)),
    );
    assert!(!has(&at, Edit::HighDose));
    let above = run_with(
        &rules,
        &tx(HYDROCODONE_APAP, 1, 241, 30),
        &[],
        Some(born_aged(40)),
    );
    assert!(above
        .conflicts
        .iter()
        .any(|c| c.rule_id == "hydrocodone:oral:18-150"));
}

// ---- elderly ------------------------------------------------------------------------------------

#[test]
fn elderly_list_applies_from_the_65th_birthday() {
    let claim = tx(AMITRIPTYLINE, 1, 30, 30);
    for (born, fires) in [
        (Date::from_ymd(1961, 6, 16).unwrap(), false),
        (born_aged(65), true),
    ] {
        let decision = run_with(&rules(), &claim, &[], Some(born));
        assert_eq!(has(&decision, Edit::ElderlyHighRisk), fires, "born {born}");
    }
    let decision = run_with(&rules(), &claim, &[], Some(born_aged(65)));
    assert_eq!(decision.conflicts[0].reason.as_str(), "PA");
}

#[test]
fn elderly_combination_rows_apply_to_products_holding_every_ingredient() {
    let list = "ingredient,min_age,message\nhydrocodone/acetaminophen,65,combination\nacetaminophen/codeine,65,other\n";
    let rules = rules_from(&with("elderly_high_risk.csv", list));
    assert_eq!(rules.counts().elderly_high_risk, 2);
    let combination = run_with(
        &rules,
        &tx(HYDROCODONE_APAP, 1, 7, 7),
        &[],
        Some(born_aged(70)),
    );
    let ids: Vec<&str> = combination
        .conflicts
        .iter()
        .filter(|c| c.edit == Edit::ElderlyHighRisk)
        .map(|c| c.rule_id.as_str())
        .collect();
    assert_eq!(ids, vec!["hydrocodone/acetaminophen"]);
    let single = run_with(&rules, &tx(APAP_500, 1, 30, 30), &[], Some(born_aged(70)));
    assert!(!has(&single, Edit::ElderlyHighRisk));
}

// ---- early refill ---------------------------------------------------------------------------------

#[test]
fn early_refill_fires_below_the_percentage_and_rejects_79() {
    // 30-day supply at 75 %: 22.5 days must pass. Day 22 is early, day 23 is not.
    for (days_ago, fires) in [(22, true), (23, false)] {
        let decision = run(
            &tx(SERTRALINE, 1, 30, 30),
            &[fill(SERTRALINE, 1, days_ago, 30, 30)],
        );
        assert_eq!(has(&decision, Edit::EarlyRefill), fires, "{days_ago} days");
        if fires {
            assert_eq!(decision.reject_codes, vec![reject::REFILL_TOO_SOON]);
            assert_eq!(decision.conflicts[0].reason.as_str(), "ER");
            assert!(!decision.conflicts[0].overridable, "empty override lists");
        } else {
            assert_eq!(decision.status, Status::Paid);
        }
    }
}

#[test]
fn early_refill_uses_the_most_recent_fill_with_the_same_ingredient_set() {
    let fills = [
        fill(SERTRALINE, 5, 60, 30, 30),
        fill(SERTRALINE, 6, 10, 60, 60), // most recent, any Rx: day 10 of 60 is early
    ];
    let decision = run(&tx(SERTRALINE, 1, 30, 30), &fills);
    let conflict = decision
        .conflicts
        .iter()
        .find(|c| c.edit == Edit::EarlyRefill)
        .unwrap();
    assert_eq!(conflict.previous_fill_date, Some(dos().add_days(-10)));
    // acetaminophen alone is not the same set as hydrocodone/acetaminophen.
    let decision = run(
        &tx(APAP_500, 1, 30, 30),
        &[fill(HYDROCODONE_APAP, 2, 1, 30, 30)],
    );
    assert!(!has(&decision, Edit::EarlyRefill));
}

#[test]
fn early_refill_and_dur_reject_together_give_88_and_79() {
    let fills = [fill(SERTRALINE, 1, 5, 30, 30), fill(WARFARIN, 2, 5, 30, 30)];
    let decision = run(&tx(SERTRALINE, 1, 30, 30), &fills);
    assert_eq!(
        decision.reject_codes,
        vec![reject::DUR_REJECT, reject::REFILL_TOO_SOON]
    );
}

// ---- opioid -----------------------------------------------------------------------------------------

/// An older opioid fill, inactive today but inside the naive lookback: the patient is not naive.
fn not_naive() -> Fill {
    fill(OXYCODONE, 90, 40, 10, 5)
}

#[test]
fn cumulative_mme_warns_at_mme_warn_and_rejects_at_mme_reject() {
    // oxycodone 10 mg x q / 30 days x 1.5 = q / 2 MME.
    let cases: [(u64, Option<Action>, u8); 5] = [
        (179, None, 0),                 // 89.5
        (180, Some(Action::Warn), 3),   // 90
        (399, Some(Action::Warn), 3),   // 199.5
        (400, Some(Action::Reject), 1), // 200
        (401, Some(Action::Reject), 1),
    ];
    for (quantity, action, significance) in cases {
        let decision = run(&tx(OXYCODONE, 1, quantity, 30), &[not_naive()]);
        let conflict = decision.conflicts.iter().find(|c| c.edit == Edit::Opioid);
        assert_eq!(conflict.map(|c| c.action), action, "quantity {quantity}");
        if let Some(conflict) = conflict {
            assert_eq!(
                (conflict.clinical_significance, conflict.reason.as_str()),
                (significance, "HD")
            );
        }
        let paid = action != Some(Action::Reject);
        assert_eq!(decision.status == Status::Paid, paid, "quantity {quantity}");
    }
}

#[test]
fn cumulative_mme_sums_active_opioid_fills_including_patches() {
    // claim 60 MME (oxycodone 120 x 10 / 30 x 1.5) + fentanyl 25 mcg/hr x 2.4 = 60 -> 120: warn.
    let fills = [not_naive(), fill(FENTANYL_25, 2, 3, 10, 30)];
    let decision = run(&tx(OXYCODONE, 1, 120, 30), &fills);
    let conflict = decision
        .conflicts
        .iter()
        .find(|c| c.edit == Edit::Opioid)
        .unwrap();
    assert_eq!(
        (conflict.action, conflict.rule_id.as_str()),
        (Action::Warn, "mme>=90")
    );
    assert_eq!(conflict.previous_fill_date, Some(dos().add_days(-3)));
    assert!(conflict.message.contains("120"), "{}", conflict.message);
}

#[test]
fn opioid_naive_patients_are_limited_to_the_naive_days_supply() {
    // (history, days supply, fires)
    let cases = [
        (vec![], 7u16, false),
        (vec![], 8, true),
        (vec![fill(OXYCODONE, 9, 60, 10, 5)], 8, false), // opioid 60 days ago: not naive
        (vec![fill(OXYCODONE, 9, 61, 10, 5)], 8, true),  // 61 days ago: naive
        (vec![fill(SERTRALINE, 9, 10, 30, 30)], 8, true), // other drugs do not count
    ];
    for (history, days, fires) in cases {
        let decision = run(&tx(OXYCODONE, 1, u64::from(days), days), &history);
        let naive = decision
            .conflicts
            .iter()
            .any(|c| c.rule_id == "opioid_naive>7");
        assert_eq!(naive, fires, "{history:?} days {days}");
    }
}

#[test]
fn opioid_with_benzodiazepine_fires_on_either_claim_with_reason_dd() {
    let cases = [(OXYCODONE, ALPRAZOLAM), (ALPRAZOLAM, OXYCODONE)];
    for (claimed, filled) in cases {
        let decision = run(
            &tx(claimed, 1, 7, 7),
            &[not_naive(), fill(filled, 2, 2, 30, 30)],
        );
        let conflict = decision
            .conflicts
            .iter()
            .find(|c| c.reason.as_str() == "DD")
            .unwrap();
        assert_eq!(
            (conflict.edit, conflict.action),
            (Edit::Opioid, Action::Reject),
            "{claimed}"
        );
        assert_eq!(decision.reject_codes, vec![reject::DUR_REJECT]);
    }
}

#[test]
fn opioid_conflicts_are_overridable_only_with_the_opioid_lists() {
    let fills = [not_naive(), fill(ALPRAZOLAM, 2, 2, 30, 30)];
    // R0/1A is in the ddi lists but not in the opioid edit's lists.
    let mut claim = tx(OXYCODONE, 1, 7, 7);
    claim.dur_pps = vec![dur(1, "DD", "R0", "1A")];
    let refused = run(&claim, &fills);
    assert_eq!(
        (refused.status, refused.unmatched_dur_pps.clone()),
        (Status::Rejected, vec![1])
    );
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let accepted = run(&claim, &fills);
    assert_eq!(accepted.status, Status::Paid);
    assert_eq!(accepted.conflicts[0].overridden_by, Some(1));
}

// ---- acetaminophen ------------------------------------------------------------------------------------

#[test]
fn acetaminophen_at_the_max_is_allowed_above_conflicts_cumulatively() {
    let single = |quantity| run(&tx(APAP_500, 1, quantity, 30), &[]);
    assert!(!has(&single(240), Edit::Acetaminophen), "4000 mg/day");
    assert!(has(&single(241), Edit::Acetaminophen), "4016.7 mg/day");
    // 3000 mg/day claimed + hydrocodone/apap 325 x 120 / 30 = 1300 mg/day active.
    let with_combination = [not_naive(), fill(HYDROCODONE_APAP, 2, 3, 120, 30)];
    let decision = run(&tx(APAP_500, 1, 180, 30), &with_combination);
    let conflict = decision
        .conflicts
        .iter()
        .find(|c| c.edit == Edit::Acetaminophen)
        .unwrap();
    assert_eq!(conflict.message, "acetaminophen 4300 mg/day > 4000");
    assert_eq!(conflict.previous_fill_date, Some(dos().add_days(-3)));
}

// ---- overrides ------------------------------------------------------------------------------------------

#[test]
fn overrides_are_accepted_or_refused_by_reason_professional_and_result() {
    let fills = [fill(ASPIRIN, 2, 3, 30, 30)];
    // (E4, E5, E6, overridden)
    let cases = [
        ("DD", "M0", "1G", true),
        ("DD", "R0", "1A", true),
        ("DD", "PE", "1G", false), // wrong E5
        ("DD", "M0", "1B", false), // wrong E6
        ("TD", "M0", "1G", false), // wrong reason
    ];
    for (reason, professional, result, overridden) in cases {
        let mut claim = tx(WARFARIN, 1, 30, 30);
        claim.dur_pps = vec![dur(1, reason, professional, result)];
        let decision = run(&claim, &fills);
        let label = format!("{reason}/{professional}/{result}");
        assert_eq!(decision.status == Status::Paid, overridden, "{label}");
        assert_eq!(
            decision.conflicts[0].overridden_by.is_some(),
            overridden,
            "{label}"
        );
        assert_eq!(decision.unmatched_dur_pps.is_empty(), overridden, "{label}");
    }
}

#[test]
fn never_override_severities_cannot_be_overridden() {
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let decision = run(&claim, &[fill(CLARITHROMYCIN, 2, 3, 30, 30)]);
    assert_eq!(decision.status, Status::Rejected);
    assert_eq!(
        (
            decision.conflicts[0].overridden_by,
            decision.unmatched_dur_pps.clone()
        ),
        (None, vec![1])
    );
}

#[test]
fn codes_sent_without_a_conflict_are_reported_unmatched() {
    let mut claim = tx(SIMVASTATIN, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G"), dur(2, "TD", "R0", "1A")];
    let decision = run(&claim, &[]);
    assert_eq!(
        (decision.status, decision.unmatched_dur_pps),
        (Status::Paid, vec![1, 2])
    );
}

#[test]
fn each_occurrence_answers_its_own_conflict_and_all_must_be_answered() {
    // sertraline claim: TD with fluoxetine (duplication) and DD with warfarin (severity 2).
    let fills = [fill(FLUOXETINE, 2, 3, 30, 30), fill(WARFARIN, 3, 3, 30, 30)];
    let mut claim = tx(SERTRALINE, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let partly = run(&claim, &fills);
    assert_eq!(partly.status, Status::Rejected, "TD still open");
    claim.dur_pps.push(dur(2, "TD", "R0", "1A"));
    let fully = run(&claim, &fills);
    assert_eq!(fully.status, Status::Paid);
    let by: Vec<(Edit, Option<u8>)> = fully
        .conflicts
        .iter()
        .map(|c| (c.edit, c.overridden_by))
        .collect();
    assert_eq!(by, vec![(Edit::Ddi, Some(1)), (Edit::Duplication, Some(2))]);
    assert!(fully.unmatched_dur_pps.is_empty());
}

#[test]
fn one_occurrence_may_cover_two_conflicts_of_its_reason() {
    let fills = [fill(WARFARIN, 2, 3, 30, 30), fill(ASPIRIN, 3, 3, 30, 30)];
    let mut claim = tx(FLUOXETINE, 1, 30, 30);
    claim.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let decision = run(&claim, &fills);
    assert_eq!(decision.conflicts.len(), 2);
    assert!(decision
        .conflicts
        .iter()
        .all(|c| c.overridden_by == Some(1)));
    assert_eq!(decision.status, Status::Paid);
}

// ---- transmissions ------------------------------------------------------------------------------------

pub(super) fn transmission(transactions: Vec<Transaction>) -> Transmission {
    Transmission {
        header: RequestHeader {
            bin: "999999".into(),
            version: "D0".into(),
            transaction_code: TransactionCode::B1,
            pcn: String::new(),
            transaction_count: transactions.len() as u8,
            provider_id_qualifier: "01".into(),
            provider_id: "1234567890".into(),
            date_of_service: dos(),
            software_vendor: String::new(),
        },
        patient: Some(Patient {
            date_of_birth: Some(born_aged(40)),
            ..Patient::default()
        }),
        transactions,
    }
}

#[test]
fn earlier_paid_transactions_count_as_fills_rejected_ones_do_not() {
    // clarithromycin 500 x 60 / 30 = 1000 mg (at max): paid, so simvastatin interacts with it.
    let paid_first = adjudicate(
        &transmission(vec![
            tx(CLARITHROMYCIN, 1, 60, 30),
            tx(SIMVASTATIN, 2, 30, 30),
        ]),
        &rules(),
        &[],
        dos(),
    );
    assert_eq!(
        paid_first.iter().map(|d| d.status).collect::<Vec<_>>(),
        vec![Status::Paid, Status::Rejected]
    );
    assert_eq!(paid_first[1].conflicts[0].other_pharmacy, 1);
    // 90 tablets = 1500 mg: rejected for high dose, so it is not a fill for the next one.
    let rejected_first = adjudicate(
        &transmission(vec![
            tx(CLARITHROMYCIN, 1, 90, 30),
            tx(SIMVASTATIN, 2, 30, 30),
        ]),
        &rules(),
        &[],
        dos(),
    );
    assert_eq!(
        rejected_first.iter().map(|d| d.status).collect::<Vec<_>>(),
        vec![Status::Rejected, Status::Paid]
    );
}

#[test]
fn an_earlier_transaction_paid_by_override_counts_as_a_fill() {
    let mut warfarin = tx(WARFARIN, 1, 30, 30);
    warfarin.dur_pps = vec![dur(1, "DD", "M0", "1G")];
    let both = transmission(vec![warfarin, tx(FLUOXETINE, 2, 30, 30)]);
    let decisions = adjudicate(&both, &rules(), &[fill(ASPIRIN, 9, 3, 30, 30)], dos());
    assert_eq!(
        decisions[0].status,
        Status::Paid,
        "warfarin + aspirin overridden"
    );
    assert_eq!(
        decisions[1].status,
        Status::Rejected,
        "fluoxetine + the warfarin just paid"
    );
    let d4 = decisions[1].conflicts.iter().find(|c| c.rule_id == "D4");
    assert_eq!(d4.map(|c| c.previous_fill_date), Some(Some(dos())));
}

#[test]
fn other_prescriber_and_pharmacy_indicators_compare_hashes() {
    let mut other = fill(CLARITHROMYCIN, 2, 3, 30, 30);
    other.prescriber = 0xEE;
    let decision = run(&tx(SIMVASTATIN, 1, 30, 30), &[other]);
    let conflict = &decision.conflicts[0];
    assert_eq!((conflict.other_pharmacy, conflict.other_prescriber), (1, 2));
}

#[test]
fn reject_codes_are_values_for_every_transaction() {
    let decisions = adjudicate(
        &transmission(vec![tx(99_999, 1, 1, 1), tx(SIMVASTATIN, 2, 30, 30)]),
        &rules(),
        &[],
        dos(),
    );
    let codes: Vec<Vec<RejectCode>> = decisions.iter().map(|d| d.reject_codes.clone()).collect();
    assert_eq!(codes, vec![vec![reject::NOT_COVERED], vec![]]);
}

// ---- edits switched off ---------------------------------------------------------------------------------

#[test]
fn disabled_or_off_edits_raise_nothing() {
    let disabled = fixture::RULESET.replacen(
        "enabled = true\nreason = \"DD\"",
        "enabled = false\nreason = \"DD\"",
        1,
    );
    let off = fixture::RULESET.replace(
        "action = { 1 = \"reject\", 2 = \"reject\", 3 = \"warn\" }",
        "action = { 1 = \"off\", 2 = \"off\", 3 = \"off\" }",
    );
    for text in [disabled, off] {
        let rules = rules_from(&with("ruleset.toml", &text));
        assert!(!rules.enabled_edits().contains(&Edit::Ddi));
        let decision = run_with(
            &rules,
            &tx(SIMVASTATIN, 1, 30, 30),
            &[fill(CLARITHROMYCIN, 2, 1, 30, 30)],
            None,
        );
        assert_eq!(decision.status, Status::Paid);
    }
}

// ---- live swap --------------------------------------------------------------------------------------------

#[test]
fn swapping_tables_while_threads_adjudicate_never_fails_a_claim() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let version_two = with(
        "ruleset.toml",
        &fixture::RULESET.replace("version = \"1\"", "version = \"2\""),
    );
    let live = Arc::new(LiveRules::new(rules()));
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (live, done) = (live.clone(), done.clone());
            std::thread::spawn(move || {
                let mut decided = 0u32;
                while !done.load(Ordering::Relaxed) || decided < 100 {
                    let snapshot = live.load();
                    let decision = run_with(&snapshot, &tx(SIMVASTATIN, 1, 30, 30), &[], None);
                    assert_eq!(decision.status, Status::Paid);
                    assert!(
                        ["test@1", "test@2"].contains(&&*decision.ruleset),
                        "{}",
                        decision.ruleset
                    );
                    assert_eq!(decision.ruleset, snapshot.stamp());
                    decided += 1;
                }
                decided
            })
        })
        .collect();
    for round in 0..200 {
        let source = if round % 2 == 0 {
            &version_two
        } else {
            &fixture::source()
        };
        live.swap(rules_from(source));
    }
    done.store(true, Ordering::Relaxed);
    let decided: u32 = workers
        .into_iter()
        .map(|worker| worker.join().expect("worker panicked"))
        .sum();
    assert!(decided >= 300);
    assert_eq!((live.reloads_ok(), live.reloads_failed()), (200, 0));
    assert_eq!(&*live.stamp(), "test@1");
}
