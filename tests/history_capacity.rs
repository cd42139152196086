//! History capacity: a patient with more paid claims than the embedded history keeps per
//! patient (`FILLS_PER_PATIENT_MAX`) loses the oldest from memory, yet every one of them stays
//! reversible, rebillable and a duplicate when billed again: the match falls back to the store.
//! Through a real socket, on the embedded SQLite store (also after a restart, whose history
//! rebuild drops the same claims) and on PostgreSQL (whose per-transmission history read takes
//! the newest `FILLS_PER_PATIENT_MAX` fills, and whose claim matching must not be crowded out
//! by them).
//!
//! The PostgreSQL story skips (saying why) without a server.

mod support;

use std::path::PathBuf;

use durgate::claim::Date;
use durgate::limits::FILLS_PER_PATIENT_MAX;
use durgate::ncpdp::build::ClaimBuilder;
use support::pg::PgSchema;
use support::{
    authorization, days_ago, expect, start_gateway, start_gateway_with, statuses, Person,
    StoreView, TestGateway,
};

// Products of the sample tables (config/rules/sample/products.csv) that never conflict here.
const ATORVASTATIN_10MG: &str = "67877051190";
const AMLODIPINE_10MG: &str = "99999008101";

/// Paid claims the patient gets: four more than the history keeps, so that the four oldest
/// (Rx 1000 to 1003) are no longer in memory.
const CLAIMS: usize = FILLS_PER_PATIENT_MAX + 4;
/// Days ago of the oldest claims: inside the filing window, so the history once held them.
const OLDEST_DAYS_AGO: i32 = 300;

fn rx(index: usize) -> u64 {
    1_000 + index as u64
}

/// Claim `index`'s date of service: Rx 1000 and 1001 on the oldest day, then one claim a day.
fn date(index: usize) -> Date {
    days_ago(OLDEST_DAYS_AGO - index.saturating_sub(1) as i32)
}

/// Claim `index`: one day's supply, so that no claim is an early refill or a duplicate therapy
/// of another; Rx 1001 is another product, billed the same day as Rx 1000.
fn claim(patient: &Person, index: usize) -> ClaimBuilder {
    let product = match index {
        1 => AMLODIPINE_10MG,
        _ => ATORVASTATIN_10MG,
    };
    let billed = patient.b1(rx(index), product, date(index));
    billed.quantity_milli(1_000).days_supply(1)
}

/// Where the gateway keeps its claims, read as an analyst would.
enum Store {
    Sqlite(PathBuf),
    Postgres(PgSchema),
}

impl Store {
    fn count(&self, sql: &str) -> i64 {
        match self {
            Store::Sqlite(path) => StoreView::open(path).number(sql),
            Store::Postgres(schema) => schema.number(sql),
        }
    }

    /// Whether the paid claim of Rx `rx` is reversed, linked both ways to the approved
    /// reversal or paid rebill that reversed it.
    fn reversed(&self, rx: u64) -> bool {
        let sql = format!(
            "SELECT count(*) FROM claims o JOIN claims r ON r.id = o.reversed_by \
             AND r.reverses = o.id WHERE o.rx_number = {rx} AND o.kind = 'claim' \
             AND o.status = 'paid' AND o.reversed_at_ms IS NOT NULL \
             AND r.status IN ('approved', 'paid')"
        );
        self.count(&sql) == 1
    }
}

/// The story both stores tell: `embedded` says whether the gateway keeps a history of its own.
async fn every_claim_of_a_full_patient_stays_matchable(
    gateway: TestGateway,
    store: Store,
    embedded: bool,
) {
    let patient = Person::adult("HISTCAP001");
    let mut client = gateway.client().await;
    let mut paid = Vec::with_capacity(CLAIMS);
    for index in 0..CLAIMS {
        let response = client.send(&claim(&patient, index).encode()).await;
        expect(&response, "P", &[]);
        paid.push(authorization(&response, 0));
    }
    if embedded {
        let history = gateway.gateway.as_ref().expect("running").history();
        assert_eq!(history.fills_len(), FILLS_PER_PATIENT_MAX);
        assert_eq!(history.truncated_patients(), 1);
    }

    // Rx 1000 and 1001, both beyond what memory holds, reversed in one transmission that
    // carries the patient: both found in the store, both reversed there.
    let both = patient
        .b2(rx(0), ATORVASTATIN_10MG, date(0))
        .next_claim()
        .rx(rx(1))
        .ndc(AMLODIPINE_10MG);
    let reversed = client.send(&both.encode()).await;
    assert_eq!(statuses(&reversed), "AA", "{reversed:?}");
    assert!(store.reversed(rx(0)) && store.reversed(rx(1)));
    // Reversing it again: S, the contract's answer for an already reversed claim, not recorded.
    let again = patient.b2(rx(0), ATORVASTATIN_10MG, date(0));
    expect(&client.send(&again.encode()).await, "S", &[]);
    let rows = store.count(&format!(
        "SELECT count(*) FROM claims WHERE rx_number = {}",
        rx(0)
    ));
    assert_eq!(rows, 2, "the original and its reversal");

    // Rx 1002 billed again: a duplicate with the original number, not adjudicated or recorded.
    let duplicate = client.send(&claim(&patient, 2).encode()).await;
    expect(&duplicate, "D", &[]);
    assert_eq!(authorization(&duplicate, 0), paid[2]);
    // ...and rebilled: the original reversed by the new claim.
    let rebill = patient.b3(rx(2), ATORVASTATIN_10MG, date(2));
    let rebilled = client
        .send(&rebill.quantity_milli(2_000).days_supply(2).encode())
        .await;
    expect(&rebilled, "P", &[]);
    assert!(store.reversed(rx(2)));
    // A reversal of a claim that was never paid is still 87.
    let nothing = patient.b2(9_999, ATORVASTATIN_10MG, date(0));
    expect(&client.send(&nothing.encode()).await, "R", &["87"]);

    // After a restart (the embedded history is rebuilt from the store and drops the oldest
    // again), a B2 without the patient segments finds Rx 1003 by its keys alone.
    let gateway = gateway.restart().await;
    let mut client = gateway.client().await;
    let reversal = patient.b2(rx(3), ATORVASTATIN_10MG, date(3)).no_patient();
    expect(&client.send(&reversal.clone().encode()).await, "A", &[]);
    assert!(store.reversed(rx(3)));
    expect(&client.send(&reversal.encode()).await, "S", &[]);
    let still_paid = "SELECT count(*) FROM claims WHERE status = 'paid' AND reversed_at_ms IS NULL";
    assert_eq!(
        store.count(still_paid),
        CLAIMS as i64 - 4 + 1,
        "less 4 reversed, plus the rebill"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_store_a_claim_the_history_dropped_is_matched_in_the_store() {
    let gateway = start_gateway().await;
    let store = Store::Sqlite(gateway.store_path.clone());
    every_claim_of_a_full_patient_stays_matchable(gateway, store, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_the_claims_matched_are_not_crowded_out_by_the_patients_fills() {
    let Some(schema) = PgSchema::create("history_capacity") else {
        return;
    };
    let url = schema.url();
    let gateway = start_gateway_with(move |config| config.store = url).await;
    every_claim_of_a_full_patient_stays_matchable(gateway, Store::Postgres(schema), false).await;
}
