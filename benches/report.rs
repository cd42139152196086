//! Time of the three analyst reports over a million-claim store.
//!
//! Fills a fresh SQLite store under `target/tmp` with synthetic claims **through the store
//! API** (`SqliteStore::commit` of `TransmissionRecord`s, many submitters so the writer groups
//! them), then times `durgate report p4p`, `quality` and `safety` (the library's
//! `report::run`, as the command runs them) over a six-month period. The claims: 2,000
//! pharmacies, 200,000 patients, 5,000 prescribers, the products of `config/rules/sample`,
//! 12 % of claims with a DUR conflict (paid with override codes or rejected 88), 2 % carrying
//! codes that answer nothing, dates spread over 2018-01-01 to 2018-07-07 (the period plus its
//! follow-up window). Prints the timings (for information, never asserted); the last stdout
//! line is JSON.
//!
//! Run: `cargo bench --bench report` (`REPORT_BENCH_CLAIMS=N` for another size).

use durgate::claim::{
    Action, Code2, Conflict, Date, DurPps, Edit, Ndc, PatientKey, RejectCode, Status,
    TransactionCode,
};
use durgate::report::{self, source, Kind, Period, Report, Settings};
use durgate::store::{
    ClaimStore, RecordKind, SqliteStore, StoreOptions, TransactionRecord, TransmissionRecord,
};
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const CLAIMS_DEFAULT: u64 = 1_000_000;
const PHARMACIES: u64 = 2_000;
const PATIENTS: u64 = 200_000;
const PRESCRIBERS: u64 = 5_000;
const DAYS: u64 = 188;
const SUBMITTERS: usize = 1_024;

/// splitmix64: a deterministic stream of well-mixed numbers from a claim number.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn conflict(edit: Edit, reason: &str, overridden_by: Option<u8>) -> Conflict {
    Conflict {
        edit,
        rule_id: "bench".into(),
        reason: Code2::new(reason),
        severity: 2,
        action: Action::Reject,
        clinical_significance: 1,
        previous_fill_date: None,
        previous_quantity_milli: None,
        other_pharmacy: 0,
        other_prescriber: 0,
        message: "bench conflict".into(),
        overridable: true,
        overridden_by,
        remembered_from: None,
    }
}

fn codes(reason: &str, professional: &str, result: &str) -> DurPps {
    DurPps {
        counter: 1,
        reason: Some(Code2::new(reason)),
        professional: Some(Code2::new(professional)),
        result: Some(Code2::new(result)),
        ..DurPps::default()
    }
}

/// Claim `number`: who, what, when, and what the DUR edits made of it.
fn record(number: u64, products: &[Ndc], ruleset: &Arc<str>) -> TransmissionRecord {
    let random = mix(number);
    let patient = random % PATIENTS;
    let start = Date::from_ymd(2018, 1, 1).unwrap_or_default();
    let date_of_service = start.add_days(((random >> 20) % DAYS) as i32);
    let ndc = products[((random >> 40) as usize) % products.len()];
    let born = Date::from_ymd(1930 + (patient % 70) as i32, 1, 1).unwrap_or_default();
    let mut transaction = TransactionRecord {
        index: 1,
        kind: RecordKind::Claim,
        rx_number: number,
        fill_number: 0,
        product_qualifier: "03".into(),
        product_id: ndc.to_string(),
        ndc: Some(ndc),
        quantity_milli: 30_000,
        days_supply: [30, 30, 30, 90, 7][(random % 5) as usize],
        compound_code: 1,
        daw_code: Some(0),
        date_written: Some(date_of_service),
        date_of_service,
        prescriber_id: format!("{:010}", mix(number ^ 7) % PRESCRIBERS),
        status: Status::Paid,
        reject_codes: Vec::new(),
        conflicts: Vec::new(),
        dur_pps: Vec::new(),
        unmatched_dur_pps: Vec::new(),
        ruleset: Arc::clone(ruleset),
        message: None,
        ingredient_cost_cents: Some(1_000 + (random % 20_000) as i64),
        dispensing_fee_cents: Some(150),
        usual_and_customary_cents: None,
        patient_paid_cents: None,
        gross_amount_due_cents: Some(1_150 + (random % 20_000) as i64),
    };
    dur_outcome(&mut transaction, (random >> 8) % 100);
    TransmissionRecord {
        received_at_ms: 1_520_000_000_000 + number as i64,
        transaction_code: TransactionCode::B1,
        bin: "610011".into(),
        pcn: "DURGATE".into(),
        pharmacy_id: format!("{:010}", mix(patient ^ (random & 3)) % PHARMACIES),
        patient_key: Some(PatientKey::new(&format!("ZZ{patient:09}"), "01", born)),
        patient_age_years: u8::try_from(born.age_years_on(date_of_service)).ok(),
        transactions: vec![transaction],
        patient_head: None,
    }
}

/// 12 % raise a conflict: 7 % paid with R0/SW/M0/PE/P0, 5 % rejected 88; 2 % carry codes
/// that answer nothing.
fn dur_outcome(transaction: &mut TransactionRecord, roll: u64) {
    const PROFESSIONAL: [&str; 5] = ["R0", "SW", "M0", "PE", "P0"];
    match roll {
        0..=6 => {
            transaction.conflicts = vec![conflict(Edit::Duplication, "TD", Some(1))];
            transaction.dur_pps = vec![codes("TD", PROFESSIONAL[roll as usize % 5], "1B")];
        }
        7..=11 => {
            transaction.status = Status::Rejected;
            transaction.reject_codes = vec![RejectCode::new("88")];
            transaction.conflicts = vec![conflict(Edit::Ddi, "DD", None)];
        }
        12..=13 => {
            transaction.dur_pps = vec![codes("DD", "PE", "1B")];
            transaction.unmatched_dur_pps = vec![1];
        }
        _ => {}
    }
}

fn sample_rules() -> durgate::rules::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample");
    let source = durgate::server::reload::read_rule_folder(&dir).expect("sample folder");
    durgate::rules::compile(&source).expect("sample tables")
}

async fn fill(store: &Arc<SqliteStore>, claims: u64, products: &[Ndc]) -> u64 {
    let ruleset: Arc<str> = Arc::from("open-dur-sample@bench");
    let commits = futures::stream::iter(0..claims).map(|number| {
        let record = record(number, products, &ruleset);
        let store = Arc::clone(store);
        async move { store.commit(record).await.is_ok() }
    });
    let results: Vec<bool> = commits.buffer_unordered(SUBMITTERS).collect().await;
    results.iter().filter(|ok| !**ok).count() as u64
}

fn time_report(kind: Kind, url: &str, rules: &durgate::rules::RuleSet) -> (f64, Report) {
    let period = Period::new(
        Date::from_ymd(2018, 1, 1).unwrap_or_default(),
        Date::from_ymd(2018, 6, 30).unwrap_or_default(),
    )
    .expect("period");
    let started = Instant::now();
    let source = source::open(url).expect("open source");
    let mut progress = |_: u64, _: u64| {};
    let report = report::run(
        kind,
        &*source,
        &Settings::default(),
        Some(rules),
        period,
        &mut progress,
    )
    .expect("report");
    (started.elapsed().as_secs_f64(), report)
}

fn summary(report: &Report) -> String {
    match report {
        Report::P4p(p4p) => format!(
            "{} pharmacies, {} paid claims, {} eligible, intervention {} of {} cents",
            p4p.pharmacies.len(),
            p4p.totals.paid_claims,
            p4p.totals.eligible_pharmacies,
            p4p.totals.intervention_cents,
            p4p.totals.intervention_pool_cents
        ),
        Report::Quality(quality) => format!(
            "{} pharmacies, PDC statins over {} patients",
            quality.pharmacies.len(),
            quality
                .overall
                .get(2)
                .map_or(0, |result| result.denominator)
        ),
        Report::Safety(safety) => format!(
            "{} patients, {} MTM targets, {} opioid findings",
            safety.patients,
            safety.mtm_targets.len(),
            safety.opioid_overutilization.len()
        ),
    }
}

/// Fills a new store at `path`; returns the seconds it took.
fn fill_store(path: &Path, claims: u64, products: &[Ndc]) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(SqliteStore::open(path, StoreOptions::default()).expect("open store"));
    let started = Instant::now();
    let failed = runtime.block_on(fill(&store, claims, products));
    store.close().expect("close");
    let seconds = started.elapsed().as_secs_f64();
    println!("filled {claims} claims through the store API in {seconds:.1} s ({failed} refused)");
    seconds
}

fn main() {
    let claims = std::env::var("REPORT_BENCH_CLAIMS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(CLAIMS_DEFAULT);
    let rules = sample_rules();
    let products: Vec<Ndc> = rules.products().iter().map(|product| product.ndc).collect();
    let folder =
        tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir under target/tmp");
    // REPORT_BENCH_STORE=PATH keeps the filled store there and reuses it when it exists.
    let kept = std::env::var_os("REPORT_BENCH_STORE").map(PathBuf::from);
    let path = kept.unwrap_or_else(|| folder.path().join("report-bench.db"));
    let fill_seconds = if path.exists() {
        println!("reusing the store at {}", path.display());
        0.0
    } else {
        fill_store(&path, claims, &products)
    };

    let url = format!("sqlite:{}", path.display());
    let mut seconds = Vec::new();
    for kind in [Kind::P4p, Kind::Quality, Kind::Safety] {
        let (elapsed, report) = time_report(kind, &url, &rules);
        println!(
            "report {}: {elapsed:.2} s: {}",
            kind.as_str(),
            summary(&report)
        );
        seconds.push(elapsed);
    }
    println!(
        "{{\"bench\":\"report\",\"claims\":{claims},\"fill_s\":{fill_seconds:.1},\
         \"p4p_s\":{:.2},\"quality_s\":{:.2},\"safety_s\":{:.2}}}",
        seconds[0], seconds[1], seconds[2]
    );
}
