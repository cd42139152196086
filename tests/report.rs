//! The three reports end to end: claims written through the real store API into a temporary
//! SQLite file, read back by the report reader, checked number by number; then the `durgate
//! report` command on the same file, its output formats and its refusals.
//!
//! The story, period 2018-03-01..2018-03-31 (31 days), patient numbers in order of first claim:
//!
//! | claim | pharmacy | patient | what |
//! |---|---|---|---|
//! | 1 | A | 1 | paid, DD conflict overridden with R0/1G: payable override |
//! | 2 | A | 2 | rejected 88 (duplication), never dispensed |
//! | 3 | A | 3 | rejected 88 on day 5 ... |
//! | 4 | B | 3 | ... paid for the same product on day 12 (day 7 of the window): dispensed |
//! | 5 | A | 4 | paid without conflict, PE/1B answering nothing: no credit |
//! | 6 | B | 5 | paid, HD warning answered with M0/1A: codes on a warning earn nothing |
//! | 7, 8 | B | 6 | paid, then reversed by a B2 (row 8): counts nowhere |
//! | 9-12 | A | 7, 8 | rosuvastatin: patient 7 adherent (31/31 days), patient 8 not (15/31) |
//! | 13-16 | A-D | 9 | oxycodone from 4 prescribers at 4 pharmacies: opioid overutilization |
//! | 17-24 | A | 10 | 8 drugs of 5 chronic classes, $100 each: an MTM target |

mod support;

use durgate::claim::{Action, Edit, RejectCode, Status, TransactionCode};
use durgate::report::render::Format;
use durgate::report::{self, source, Kind, Report, Settings};
use durgate::rules::RuleSet;
use durgate::store::{
    ClaimStore, RecordKind, SqliteStore, StoreOptions, TransactionRecord, TransmissionRecord,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::report_story::{
    codes, conflict, patient, period, A, B, BIRTH, C, D, MTM_DRUGS, OXYCODONE, ROSUVASTATIN,
    UNKNOWN,
};
use tempfile::TempDir;

const OTHER_UNKNOWN: u64 = 888;

/// One paid B1 transaction of `ndc` for `days` days.
fn claim(rx_number: u64, offset: i32, ndc: u64, days: u16) -> TransactionRecord {
    support::report_story::paid(rx_number, offset, ndc, days, -20)
}

fn rejected(mut transaction: TransactionRecord) -> TransactionRecord {
    transaction.status = Status::Rejected;
    transaction.reject_codes = vec![RejectCode::new("88")];
    let duplication = conflict(Edit::Duplication, "TD", Action::Reject, None);
    transaction.conflicts = vec![duplication];
    transaction
}

fn b1(pharmacy: &str, patient_number: u32, transaction: TransactionRecord) -> TransmissionRecord {
    TransmissionRecord {
        received_at_ms: 1_520_000_000_000,
        transaction_code: TransactionCode::B1,
        bin: "610011".into(),
        pcn: "DURGATE".into(),
        pharmacy_id: pharmacy.into(),
        patient_key: Some(patient(patient_number)),
        patient_age_years: Some(60),
        transactions: vec![transaction],
        patient_head: None,
    }
}

fn b2(pharmacy: &str, original: &TransactionRecord, claim_id: u64) -> TransmissionRecord {
    let mut reversal = original.clone();
    reversal.kind = RecordKind::Reversal {
        of_claim_id: Some(claim_id),
    };
    reversal.status = Status::Approved;
    TransmissionRecord {
        transaction_code: TransactionCode::B2,
        patient_key: None,
        patient_age_years: None,
        ..b1(pharmacy, 0, reversal)
    }
}

/// Commits the story above; returns the claim id of each committed transaction.
async fn write_story(store: &SqliteStore) -> Vec<u64> {
    let mut ids = Vec::new();
    let commit = |record: TransmissionRecord| {
        let future = store.commit(record);
        async move { future.await.expect("commit").transactions[0].claim_id }
    };
    let mut payable = claim(1, 0, UNKNOWN, 30);
    payable.conflicts = vec![conflict(Edit::Ddi, "DD", Action::Reject, Some(1))];
    payable.dur_pps = vec![codes(1, "DD", Some("R0"), "1G")];
    ids.push(commit(b1(A, 1, payable)).await);
    ids.push(commit(b1(A, 2, rejected(claim(2, 3, UNKNOWN, 30)))).await);
    ids.push(commit(b1(A, 3, rejected(claim(3, 5, OTHER_UNKNOWN, 30)))).await);
    ids.push(commit(b1(B, 3, claim(4, 12, OTHER_UNKNOWN, 30))).await);
    let mut unmatched = claim(5, 6, UNKNOWN, 30);
    unmatched.dur_pps = vec![codes(1, "DD", Some("PE"), "1B")];
    unmatched.unmatched_dur_pps = vec![1];
    ids.push(commit(b1(A, 4, unmatched)).await);
    let mut warned = claim(6, 2, UNKNOWN, 30);
    warned.conflicts = vec![conflict(Edit::HighDose, "HD", Action::Warn, None)];
    warned.dur_pps = vec![codes(1, "HD", Some("M0"), "1A")];
    ids.push(commit(b1(B, 5, warned)).await);
    let reversed = claim(7, 8, UNKNOWN, 30);
    let reversed_id = commit(b1(B, 6, reversed.clone())).await;
    ids.push(reversed_id);
    ids.push(commit(b2(B, &reversed, reversed_id)).await);
    for (rx, patient, offset, days) in [
        (9, 7, 0, 30),
        (10, 7, 15, 30),
        (11, 8, 0, 10),
        (12, 8, 20, 5),
    ] {
        ids.push(commit(b1(A, patient, claim(rx, offset, ROSUVASTATIN, days))).await);
    }
    for (n, pharmacy) in [A, B, C, D].into_iter().enumerate() {
        let mut opioid = claim(13 + n as u64, 1 + 4 * n as i32, OXYCODONE, 5);
        opioid.prescriber_id = format!("PRESCRIBER{n}");
        ids.push(commit(b1(pharmacy, 9, opioid)).await);
    }
    for (n, ndc) in MTM_DRUGS.into_iter().enumerate() {
        let mut drug = claim(17 + n as u64, 10, ndc, 30);
        drug.gross_amount_due_cents = Some(10_000);
        ids.push(commit(b1(A, 10, drug)).await);
    }
    ids
}

/// A temporary store holding the story.
async fn story_store() -> (TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("claims.db");
    let store = SqliteStore::open(&path, StoreOptions::default()).expect("open store");
    let ids = write_story(&store).await;
    assert_eq!(
        ids,
        (1..=24).collect::<Vec<u64>>(),
        "claim ids as the story numbers them"
    );
    store.close().expect("close");
    (folder, path)
}

fn settings() -> Settings {
    let mut settings = Settings::default();
    // No volume is required (0 claims), so one paid claim is over it; two alerts rank.
    settings.p4p.eligibility_paid_claims_per_half_year = 0;
    settings.p4p.premier_min_alerts = 1;
    settings
}

fn sample_rules() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample");
    let source = durgate::server::reload::read_rule_folder(&dir).expect("sample folder");
    durgate::rules::compile(&source).expect("sample tables")
}

fn run(kind: Kind, path: &Path) -> Report {
    let source = source::open(&format!("sqlite:{}", path.display())).expect("open source");
    let rules = sample_rules();
    let mut progress = |_: u64, _: u64| {};
    report::run(
        kind,
        &*source,
        &settings(),
        Some(&rules),
        period(),
        &mut progress,
    )
    .expect("report")
}

#[tokio::test]
async fn the_three_reports_read_the_story_back() {
    let (_folder, path) = story_store().await;
    let Report::P4p(p4p) = run(Kind::P4p, &path) else {
        panic!("not a P4P report")
    };
    let line = |id: &str| p4p.pharmacies.iter().find(|l| l.pharmacy_id == id).unwrap();
    let (a, b, c, d) = (line(A), line(B), line(C), line(D));
    assert_eq!(
        (a.paid_claims, b.paid_claims, c.paid_claims, d.paid_claims),
        (15, 3, 1, 1)
    );
    assert_eq!(
        (
            a.payable_overrides,
            a.unmatched_code_claims,
            a.unpaid_overrides
        ),
        (1, 1, 0)
    );
    assert_eq!((a.dur_rejects, a.not_dispensed_after_review), (2, 1));
    assert_eq!((a.claims_with_conflicts, b.claims_with_conflicts), (3, 1));
    // B's M0/1A answered a warning: recorded, no intervention credit.
    assert_eq!((b.payable_overrides, b.uncredited_code_claims), (0, 1));
    // Pools: 5M × 31/365 = 42,465,753 cents, all to A (the only intervention credit);
    // 3M × 31/365 = 25,479,452 to C and D, the only pharmacies below the 5 % code share.
    let totals = &p4p.totals;
    assert_eq!(totals.intervention_pool_cents, 42_465_753);
    assert_eq!(
        (a.intervention_cents, b.intervention_cents),
        (42_465_753, 0)
    );
    assert_eq!(totals.bonus_pool_cents, 25_479_452);
    assert_eq!(
        (c.bonus_cents, d.bonus_cents, a.bonus_cents),
        (12_739_726, 12_739_726, 0)
    );
    assert_eq!(totals.intervention_cents, totals.intervention_pool_cents);
    assert_eq!(totals.bonus_cents, totals.bonus_pool_cents);
    // Premier: A has two alerts, both handled (claim 1's accepted R0 override; claim 2's
    // episode, never dispensed; claim 3 was dispensed at B). B's only answered conflict was a
    // warning: no alert, not ranked. One ranked pharmacy, n = 1: A.
    assert_eq!(a.premier_score_basis_points, Some(10_000));
    assert_eq!((a.premier, b.premier), (true, false));
    assert_eq!(b.premier_score_basis_points, None);
    let edits: Vec<(&str, u64)> = totals
        .conflicts_by_edit
        .iter()
        .filter(|count| count.conflicts > 0)
        .map(|count| (count.edit, count.conflicts))
        .collect();
    assert_eq!(
        edits,
        vec![("ddi", 1), ("duplication", 2), ("high_dose", 1)]
    );

    let Report::Quality(quality) = run(Kind::Quality, &path) else {
        panic!("not a quality report")
    };
    let pdc = quality
        .overall
        .iter()
        .find(|r| r.measure == "pdc_statins")
        .unwrap();
    assert_eq!(
        (pdc.numerator, pdc.denominator, pdc.rate_percent),
        (1, 2, Some(50.0))
    );
    let a_generic = quality
        .pharmacies
        .iter()
        .find(|p| p.pharmacy_id == A)
        .unwrap();
    let generic = a_generic
        .measures
        .iter()
        .find(|r| r.measure == "generic_dispensing");
    assert_eq!(
        generic.map(|r| (r.numerator, r.denominator)),
        Some((13, 13))
    );

    let Report::Safety(safety) = run(Kind::Safety, &path) else {
        panic!("not a safety report")
    };
    assert_eq!(
        safety.patients, 8,
        "patients with a paid claim in the period"
    );
    let opioid: Vec<(u32, u32, u32, &str)> = safety
        .opioid_overutilization
        .iter()
        .map(|f| {
            (
                f.patient_number.0,
                f.prescribers,
                f.pharmacies,
                f.window_from.as_str(),
            )
        })
        .collect();
    assert_eq!(opioid, vec![(9, 4, 4, "2017-09-16")]);
    let mtm: Vec<(u32, u32, u32, u64)> = safety
        .mtm_targets
        .iter()
        .map(|t| {
            (
                t.patient_number.0,
                t.chronic_classes,
                t.distinct_drugs,
                t.annualized_cost_cents,
            )
        })
        .collect();
    // $800 in 31 days → 80,000 × 365 / 31 = 941,935 cents a year.
    assert_eq!(mtm, vec![(10, 5, 8, 941_935)]);

    for report in [
        Report::P4p(p4p),
        Report::Quality(quality),
        Report::Safety(safety),
    ] {
        for format in [Format::Csv, Format::Json, Format::Html] {
            let mut out = Vec::new();
            let provenance = durgate::report::Provenance::default();
            report
                .render(format, &provenance, &mut out)
                .expect("render");
            let text = String::from_utf8(out).expect("utf-8");
            assert!(!text.contains("CARDHOLDER") && !text.contains(BIRTH));
            assert!(!text.contains("1931-07-19") && !text.contains("PRESCRIBER"));
        }
    }
}

#[tokio::test]
async fn reports_read_next_to_a_running_gateway_store() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("claims.db");
    let store = SqliteStore::open(&path, StoreOptions::default()).expect("open store");
    write_story(&store).await;
    let Report::P4p(p4p) = run(Kind::P4p, &path) else {
        panic!("not a P4P report")
    };
    assert_eq!(p4p.totals.paid_claims, 20);
    // The writer still commits while a report reader is open.
    let late = store.commit(b1(A, 11, claim(99, 30, UNKNOWN, 30))).await;
    assert!(late.is_ok());
    store.close().expect("close");
}

// ---- the command ----------------------------------------------------------------------------

fn durgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_durgate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run durgate")
}

fn settings_file(folder: &Path, text: &str) -> String {
    let path = folder.join("p4p.toml");
    std::fs::write(&path, text).expect("write settings");
    path.display().to_string()
}

const ANY_VOLUME_RANKED: &str =
    "[p4p]\neligibility_paid_claims_per_half_year = 0\npremier_min_alerts = 1\n";

#[tokio::test]
async fn the_command_writes_json_csv_and_a_self_contained_page() {
    let (folder, path) = story_store().await;
    let store = format!("sqlite:{}", path.display());
    let settings = settings_file(folder.path(), ANY_VOLUME_RANKED);
    let period = ["--from", "2018-03-01", "--to", "2018-03-31"];
    let mut args = vec!["report", "p4p", "--store", &store, "--settings", &settings];
    args.extend(period);
    let output = durgate(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value["period"]["from"], "2018-03-01");
    assert_eq!(value["totals"]["intervention_cents"], 42_465_753);
    assert_eq!(value["totals"]["bonus_pool_cents"], 25_479_452);
    let paid: u64 = value["pharmacies"]
        .as_array()
        .expect("pharmacies")
        .iter()
        .map(|line| line["intervention_cents"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(paid, 42_465_753);

    let html = folder.path().join("p4p.html");
    let html_arg = html.display().to_string();
    let mut args = vec!["report", "p4p", "--store", &store, "--settings", &settings];
    args.extend(period);
    args.extend(["--format", "html", "--out", &html_arg]);
    assert!(durgate(&args).status.success());
    let page = std::fs::read_to_string(&html).expect("page written");
    assert_eq!(page.matches("<svg role=\"img\"").count(), 4);
    assert!(!page.contains("http"), "the page fetches nothing");

    for kind in ["quality", "safety"] {
        let mut args = vec!["report", kind, "--store", &store, "--format", "csv"];
        args.extend(period);
        let output = durgate(&args);
        assert!(
            output.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.starts_with("period_from,period_to,"), "{kind}: {text}");
        assert!(!text.contains("CARDHOLDER"));
    }
}

fn refused(args: &[&str], status: i32, expected: &str) {
    let output = durgate(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(status), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_message() {
    let (folder, path) = story_store().await;
    let store = format!("sqlite:{}", path.display());
    let missing = format!("sqlite:{}", folder.path().join("absent.db").display());
    let march = ["--from", "2018-03-01", "--to", "2018-03-31"];
    let with = |store: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["report", "p4p", "--store", store]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let check = |args: Vec<String>, status: i32, expected: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, status, expected);
    };
    check(with(&missing, &march), 2, "no claim store at");
    assert!(
        !folder.path().join("absent.db").exists(),
        "the report creates no store"
    );
    // Nothing listens on port 1: refused at once, and the password is not repeated.
    let unreachable = with("postgres://analyst:s3cret@127.0.0.1:1/claims", &march);
    let unreachable: Vec<&str> = unreachable.iter().map(String::as_str).collect();
    refused(
        &unreachable,
        2,
        "cannot connect to the PostgreSQL claim store",
    );
    let shown = durgate(&unreachable);
    assert!(!String::from_utf8_lossy(&shown.stderr).contains("s3cret"));
    check(with("durgate.db", &march), 2, "expected sqlite:PATH");
    let backwards = ["--from", "2018-03-31", "--to", "2018-03-01"];
    check(
        with(&store, &backwards),
        2,
        "is empty: --from must not be after --to",
    );
    let no_claims = ["--from", "2019-01-01", "--to", "2019-01-31"];
    check(with(&store, &no_claims), 2, "no claims in the store");
    let unknown_key = settings_file(folder.path(), "[p4p]\nfollow_up_dayz = 7\n");
    let mut extra = march.to_vec();
    extra.extend(["--settings", &unknown_key]);
    check(with(&store, &extra), 2, "unknown field `follow_up_dayz`");
    check(
        with(&store, &["--from", "2018-02-30", "--to", "2018-03-01"]),
        2,
        "not a date",
    );
    let text = folder.path().join("notes.txt");
    std::fs::write(&text, "these are notes, not a claim store").expect("write");
    let not_a_store = format!("sqlite:{}", text.display());
    check(
        with(&not_a_store, &march),
        2,
        "is not a durgate claim store",
    );
}
