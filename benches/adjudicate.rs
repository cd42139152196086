//! Adjudication speed: one claim against a patient with 10 active fills, on the shipped sample
//! tables (`config/rules/sample`, or a generated folder when it is absent), compared with the
//! same claim and no history. Prints human lines, then one JSON line last.

#[path = "support/synthetic.rs"]
mod synthetic;

use durgate::claim::{Date, Fill, Transaction};
use durgate::rules::units::AmountKind;
use durgate::rules::{adjudicate_claim, compile, ClaimContext, RuleSet};
use durgate::server::reload::read_rule_folder;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const FILLS: usize = 10;
const BATCHES: usize = 31;
const CLAIMS_PER_BATCH: usize = 20_000;
const TARGET_NS: f64 = 2_000.0;

fn tables() -> (RuleSet, &'static str) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample");
    if let Ok(source) = read_rule_folder(&sample) {
        match compile(&source) {
            Ok(rules) => return (rules, "sample"),
            Err(errors) => {
                eprintln!("config/rules/sample refused, using generated tables:\n{errors}")
            }
        }
    } else {
        eprintln!("config/rules/sample absent: using generated tables");
    }
    let sizes = synthetic::Sizes {
        products: 10_000,
        interactions: 5_000,
        classes: 200,
        ingredients: 2_000,
    };
    (
        compile(&synthetic::generate(&sizes)).expect("generated tables compile"),
        "generated",
    )
}

fn date_of_service() -> Date {
    Date::from_ymd(2026, 6, 15).expect("valid date")
}

/// The claim (first oral mass product) and 10 active fills of the next ones.
fn claim_and_fills(rules: &RuleSet) -> (Transaction, Vec<Fill>) {
    let mut products = rules
        .products()
        .iter()
        .filter(|p| p.unit.kind() == AmountKind::Mass);
    let claimed = products.next().expect("a product to claim");
    let transaction = Transaction {
        rx_number: 1,
        ndc: Some(claimed.ndc),
        product_id: claimed.ndc.to_string(),
        product_qualifier: "03".into(),
        quantity_milli: 30_000,
        days_supply: 30,
        ..Transaction::default()
    };
    let fills = products
        .take(FILLS)
        .enumerate()
        .map(|(index, product)| Fill {
            ndc: product.ndc,
            rx_number: 100 + index as u64,
            date_of_service: date_of_service().add_days(-(index as i32) - 1),
            quantity_milli: 30_000,
            days_supply: 30,
            fill_number: 0,
            pharmacy: 1 + index as u64 % 2,
            prescriber: 7,
            overridden: durgate::claim::Overridden::NONE,
        })
        .collect();
    (transaction, fills)
}

/// Median nanoseconds per claim over [`BATCHES`] batches.
fn median_ns(rules: &RuleSet, transaction: &Transaction, fills: &[Fill]) -> f64 {
    let ctx = ClaimContext {
        transaction,
        date_of_service: date_of_service(),
        date_of_birth: Date::from_ymd(1958, 3, 2),
        pharmacy: 1,
        prescriber: 7,
    };
    let mut per_claim: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..CLAIMS_PER_BATCH {
                black_box(adjudicate_claim(
                    black_box(&ctx),
                    rules,
                    black_box(fills),
                    date_of_service(),
                ));
            }
            started.elapsed().as_nanos() as f64 / CLAIMS_PER_BATCH as f64
        })
        .collect();
    per_claim.sort_by(f64::total_cmp);
    per_claim[BATCHES / 2]
}

fn main() {
    let (rules, tables) = tables();
    let (transaction, fills) = claim_and_fills(&rules);
    let sample = adjudicate_claim(
        &ClaimContext {
            transaction: &transaction,
            date_of_service: date_of_service(),
            date_of_birth: Date::from_ymd(1958, 3, 2),
            pharmacy: 1,
            prescriber: 7,
        },
        &rules,
        &fills,
        date_of_service(),
    );
    let with_history = median_ns(&rules, &transaction, &fills);
    let no_history = median_ns(&rules, &transaction, &[]);
    let ratio = with_history / no_history;
    println!(
        "tables: {tables} ({}), {} products",
        rules.stamp(),
        rules.counts().products
    );
    println!(
        "claim with {} active fills: {} conflicts, status {:?}",
        fills.len(),
        sample.conflicts.len(),
        sample.status
    );
    println!("median per claim, {FILLS} active fills: {with_history:.0} ns (target <= {TARGET_NS:.0} ns)");
    println!("median per claim, no history: {no_history:.0} ns; ratio {ratio:.2}");
    println!(
        "{{\"bench\":\"adjudicate\",\"tables\":\"{tables}\",\"fills\":{FILLS},\"median_ns\":{with_history:.0},\"median_ns_no_history\":{no_history:.0},\"ratio\":{ratio:.2},\"target_ns\":{TARGET_NS:.0},\"conflicts\":{}}}",
        sample.conflicts.len()
    );
}
