//! The reports over a PostgreSQL store equal the reports over a SQLite store given the same
//! claims: one story is committed through the real store API into both (a fresh schema of its
//! own on the server, a temporary SQLite file), then both are read back by the report readers
//! and compared row by row and report by report (JSON output).
//!
//! The story, period 2018-03-01..2018-03-31: patients are first seen out of their key order
//! (so the pseudonymous numbering is exercised), a payable override, a DUR reject dispensed
//! later at another pharmacy, a warning answered, a reversed claim, a replaced claim (B3), a
//! compound without NDC, amounts missing, statin adherence, an opioid pattern over four
//! prescribers and pharmacies, an MTM target, and claims outside the period on both sides.
//!
//! Skipped, with the reason printed, when no PostgreSQL server answers
//! (`tests/support/pg.rs`).

mod support;

use durgate::claim::{Action, Conflict, DurPps, Edit, RejectCode, Status, TransactionCode};
use durgate::report::render::Format;
use durgate::report::source::ClaimSource;
use durgate::report::{self, source, ClaimRow, Kind, Report, ReportError, ScanDates};
use durgate::store::{self, ClaimStore, RecordKind, TransactionRecord, TransmissionRecord};
use std::path::Path;
use support::pg::PgSchema;
use support::report_story::{
    day, patient, period, A, B, C, D, MTM_DRUGS, OXYCODONE, ROSUVASTATIN, UNKNOWN,
};

fn claim(rx_number: u64, offset: i32, ndc: u64, days: u16) -> TransactionRecord {
    support::report_story::paid(rx_number, offset, ndc, days, -40)
}

/// A conflict that names the fill before it, 30 days earlier.
fn conflict(edit: Edit, reason: &str, action: Action, overridden_by: Option<u8>) -> Conflict {
    Conflict {
        previous_fill_date: Some(day(-30)),
        previous_quantity_milli: Some(30_000),
        ..support::report_story::conflict(edit, reason, action, overridden_by)
    }
}

fn codes(counter: u8, professional: Option<&str>, result: &str) -> DurPps {
    support::report_story::codes(counter, "DD", professional, result)
}

fn transmission(
    code: TransactionCode,
    pharmacy: &str,
    patient_number: Option<u32>,
    transaction: TransactionRecord,
) -> TransmissionRecord {
    TransmissionRecord {
        received_at_ms: 1_520_000_000_000,
        transaction_code: code,
        bin: "610011".into(),
        pcn: "DURGATE".into(),
        pharmacy_id: pharmacy.into(),
        patient_key: patient_number.map(patient),
        patient_age_years: Some(60),
        transactions: vec![transaction],
        patient_head: None,
    }
}

fn b1(pharmacy: &str, patient_number: u32, transaction: TransactionRecord) -> TransmissionRecord {
    transmission(
        TransactionCode::B1,
        pharmacy,
        Some(patient_number),
        transaction,
    )
}

/// The story's records up to the reversal and the rebill, which name claim ids.
fn first_records() -> Vec<TransmissionRecord> {
    let mut payable = claim(1, 0, UNKNOWN, 30);
    payable.conflicts = vec![conflict(Edit::Ddi, "DD", Action::Reject, Some(1))];
    payable.dur_pps = vec![codes(1, Some("R0"), "1G"), codes(2, None, "1B")];
    let mut refused = claim(2, 3, UNKNOWN, 30);
    refused.status = Status::Rejected;
    refused.reject_codes = vec![RejectCode::new("88"), RejectCode::new("79")];
    refused.conflicts = vec![
        conflict(Edit::Duplication, "TD", Action::Reject, None),
        conflict(Edit::HighDose, "HD", Action::Warn, None),
    ];
    let mut warned = claim(4, 2, UNKNOWN, 30);
    warned.conflicts = vec![conflict(Edit::HighDose, "HD", Action::Warn, None)];
    warned.dur_pps = vec![codes(1, Some("M0"), "1A")];
    let mut unmatched = claim(5, 6, UNKNOWN, 30);
    unmatched.dur_pps = vec![codes(1, Some("PE"), "1B")];
    unmatched.unmatched_dur_pps = vec![1];
    let mut compound = claim(6, 7, UNKNOWN, 10);
    (compound.product_qualifier, compound.product_id) = ("00".into(), "0".into());
    (compound.ndc, compound.compound_code) = (None, 2);
    compound.gross_amount_due_cents = None;
    let mut unaged = b1(C, 1, compound);
    unaged.patient_age_years = None;
    vec![
        b1(A, 12, claim(90, -200, UNKNOWN, 30)),
        b1(A, 5, payable),
        b1(A, 3, refused),
        b1(B, 3, claim(3, 7, UNKNOWN, 30)),
        b1(B, 1, warned),
        b1(A, 4, unmatched),
        unaged,
    ]
}

/// The reversal of `original` (claim `claim_id`).
fn b2(original: &TransactionRecord, claim_id: u64) -> TransmissionRecord {
    let mut reversal = original.clone();
    reversal.kind = RecordKind::Reversal {
        of_claim_id: Some(claim_id),
    };
    reversal.status = Status::Approved;
    let mut record = transmission(TransactionCode::B2, B, None, reversal);
    record.patient_age_years = None;
    record
}

/// The rebill replacing `original` (claim `claim_id`) with twice the quantity.
fn b3(original: &TransactionRecord, claim_id: u64) -> TransmissionRecord {
    let mut rebill = original.clone();
    rebill.kind = RecordKind::Rebill {
        reversed_claim_id: Some(claim_id),
    };
    rebill.quantity_milli = 60_000;
    transmission(TransactionCode::B3, A, Some(7), rebill)
}

/// The records after the reversal and the rebill: adherence, opioids, MTM, and a claim after
/// the period.
fn last_records() -> Vec<TransmissionRecord> {
    let mut records = Vec::new();
    for (rx, patient, offset, days) in [(9, 8, 0, 30), (10, 8, 15, 30), (11, 9, 0, 10)] {
        records.push(b1(A, patient, claim(rx, offset, ROSUVASTATIN, days)));
    }
    records.push(b1(A, 9, claim(12, 20, ROSUVASTATIN, 5)));
    for (n, pharmacy) in [A, B, C, D].into_iter().enumerate() {
        let mut opioid = claim(13 + n as u64, 1 + 4 * n as i32, OXYCODONE, 5);
        opioid.prescriber_id = format!("PRESCRIBER{n}");
        records.push(b1(pharmacy, 10, opioid));
    }
    for (n, ndc) in MTM_DRUGS.into_iter().enumerate() {
        let mut drug = claim(17 + n as u64, 10, ndc, 30);
        drug.gross_amount_due_cents = Some(10_000);
        records.push(b1(A, 11, drug));
    }
    records.push(b1(D, 2, claim(91, 45, UNKNOWN, 30)));
    records
}

/// Commits the story into `store`, one record at a time; the claim id of each record.
async fn write_story(store: &dyn ClaimStore) -> Vec<u64> {
    let mut ids = Vec::new();
    for record in first_records() {
        ids.push(commit(store, record).await);
    }
    let reversed = claim(7, 8, UNKNOWN, 30);
    let reversed_id = commit(store, b1(B, 6, reversed.clone())).await;
    ids.extend([reversed_id, commit(store, b2(&reversed, reversed_id)).await]);
    let replaced = claim(8, 9, UNKNOWN, 30);
    let replaced_id = commit(store, b1(A, 7, replaced.clone())).await;
    ids.extend([replaced_id, commit(store, b3(&replaced, replaced_id)).await]);
    for record in last_records() {
        ids.push(commit(store, record).await);
    }
    ids
}

async fn commit(store: &dyn ClaimStore, record: TransmissionRecord) -> u64 {
    let receipt = store.commit(record).await.expect("commit");
    receipt.transactions[0].claim_id
}

/// Opens the store `url` names, writes the story, closes it.
fn store_story(url: &str) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = store::open(url).expect("open the store");
    let ids = runtime.block_on(write_story(&*store));
    store.close().expect("close");
    ids
}

fn every_row(source: &dyn ClaimSource, dates: ScanDates) -> Vec<ClaimRow> {
    let mut rows = Vec::new();
    let visited = source
        .scan(dates, &mut |row| {
            rows.push(row);
            Ok(())
        })
        .expect("scan");
    assert_eq!(visited, rows.len() as u64);
    rows
}

fn report_json(kind: Kind, source: &dyn ClaimSource) -> (Report, String) {
    let mut settings = report::Settings::default();
    settings.p4p.eligibility_paid_claims_per_half_year = 1;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample");
    let rules = durgate::server::reload::read_rule_folder(&dir).expect("sample folder");
    let rules = durgate::rules::compile(&rules).expect("sample tables");
    let mut progress = |_: u64, _: u64| {};
    let report = report::run(
        kind,
        source,
        &settings,
        Some(&rules),
        period(),
        &mut progress,
    )
    .expect("report");
    let mut json = Vec::new();
    let provenance = durgate::report::Provenance::default();
    report
        .render(Format::Json, &provenance, &mut json)
        .expect("render");
    (report, String::from_utf8(json).expect("utf-8"))
}

#[test]
fn the_reports_over_postgresql_equal_the_reports_over_sqlite() {
    let Some(schema) = PgSchema::create("report") else {
        return;
    };
    let folder = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite:{}", folder.path().join("claims.db").display());
    let ids = store_story(&sqlite_url);
    assert_eq!(
        store_story(&schema.url()),
        ids,
        "the same claim ids in both stores"
    );
    let sqlite = source::open(&sqlite_url).expect("open the SQLite source");
    let postgres = source::open(&schema.url()).expect("open the PostgreSQL source");

    let everything = ScanDates {
        first: day(-400),
        last: day(400),
    };
    let rows = every_row(&*sqlite, everything);
    assert_eq!(
        rows.len(),
        27,
        "claims and the rebill; the reversal left out"
    );
    assert_eq!(every_row(&*postgres, everything), rows);
    let march = ScanDates {
        first: day(0),
        last: day(30),
    };
    let in_march = every_row(&*postgres, march);
    assert_eq!(in_march, every_row(&*sqlite, march));
    assert_eq!(
        in_march.len(),
        25,
        "the claims before and after March left out"
    );
    let first_seen: Vec<u32> = rows
        .iter()
        .filter_map(|row| row.patient)
        .map(|p| p.0)
        .collect();
    assert_eq!(
        &first_seen[..4],
        &[1, 2, 3, 3],
        "numbered by first claim, not by key"
    );
    for dates in [march, everything] {
        assert_eq!(
            postgres.has_claims(dates).ok(),
            sqlite.has_claims(dates).ok()
        );
        assert_eq!(postgres.estimate(dates).ok(), sqlite.estimate(dates).ok());
    }
    let empty = ScanDates {
        first: day(1000),
        last: day(1001),
    };
    assert_eq!(postgres.has_claims(empty).ok(), Some(false));
    let latest = postgres.latest_paid_date().expect("latest");
    assert_eq!(
        (latest, sqlite.latest_paid_date().ok()),
        (Some(day(45)), Some(latest))
    );

    for kind in [Kind::P4p, Kind::Quality, Kind::Safety] {
        let (report, from_postgres) = report_json(kind, &*postgres);
        let (_, from_sqlite) = report_json(kind, &*sqlite);
        assert_eq!(from_postgres, from_sqlite, "{kind:?}");
        assert_story_shows(&report);
        assert!(!from_postgres.contains("CARDHOLDER") && !from_postgres.contains("PRESCRIBER"));
    }
    assert_eq!(
        schema.number("SELECT count(*) FROM claims"),
        28,
        "nothing written"
    );
    assert_eq!(command_json(&schema.url()), command_json(&sqlite_url));
}

/// What `durgate report safety --store URL` writes (JSON), checked to be a report.
fn command_json(url: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(["report", "safety", "--store", url])
        .args(["--from", "2018-03-01", "--to", "2018-03-31"])
        .output()
        .expect("run durgate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json = String::from_utf8(output.stdout).expect("utf-8");
    assert!(json.contains("opioid_overutilization"), "{json}");
    // The provenance names the store's engine and the time: the rest must be equal.
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let provenance = value
        .as_object_mut()
        .and_then(|fields| fields.remove("provenance"))
        .expect("provenance");
    let engine = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(provenance["store"], engine);
    assert!(
        !provenance.to_string().contains(url),
        "the store url is never shown"
    );
    value.to_string()
}

/// The reports compared are not empty ones: each finds what the story put in.
fn assert_story_shows(report: &Report) {
    match report {
        Report::P4p(p4p) => {
            assert_eq!(p4p.pharmacies.len(), 4);
            assert_eq!(p4p.totals.paid_claims, 22);
        }
        Report::Quality(quality) => {
            let pdc = quality.overall.iter().find(|r| r.measure == "pdc_statins");
            assert_eq!(pdc.map(|r| (r.numerator, r.denominator)), Some((1, 2)));
        }
        Report::Safety(safety) => {
            let flagged: Vec<u32> = safety
                .opioid_overutilization
                .iter()
                .map(|flag| flag.patient_number.0)
                .collect();
            let targets: Vec<u32> = safety
                .mtm_targets
                .iter()
                .map(|t| t.patient_number.0)
                .collect();
            assert_eq!((flagged, targets), (vec![10], vec![11]));
        }
    }
}

#[test]
fn a_schema_without_a_claim_store_or_with_a_newer_one_is_refused() {
    let Some(schema) = PgSchema::create("report_empty") else {
        return;
    };
    let refused = source::open(&schema.url()).err();
    assert!(matches!(refused, Some(ReportError::PgNotAStore(ref name)) if *name == schema.name));
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()";
    assert_eq!(schema.number(tables), 0, "the reader creates nothing");
    schema.execute(
        "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at_ms bigint); \
         INSERT INTO schema_version VALUES (99, 0)",
    );
    let refused = source::open(&schema.url()).err();
    assert!(
        matches!(
            refused,
            Some(ReportError::SchemaTooNew {
                found: 99,
                known: durgate::store::SCHEMA_VERSION
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn an_unreachable_server_is_an_input_error_without_the_password() {
    let port = support::free_port();
    let url = format!("postgres://analyst:s3cret@127.0.0.1:{port}/claims?connect_timeout=2");
    let refused = source::open(&url).err().expect("no server listens there");
    assert!(matches!(refused, ReportError::PgConnect(_)), "{refused}");
    assert!(refused.is_input());
    assert!(!refused.to_string().contains("s3cret"), "{refused}");
}
