//! The gateway's contract on the PostgreSQL store, through a real socket: with a shared store the
//! history is read from the database for every transmission, so duplicates, interactions,
//! reversals (with and without patient segments), rebills, eligibility and remembered overrides
//! must come out as they do on the embedded store; a claim whose history cannot be read is answered 99; and the admin
//! status names the store `postgres` without its url.
//!
//! Each test has a schema of its own and skips (saying why) without a PostgreSQL server.

mod support;

use support::pg::PgSchema;
use support::{
    authorization, days_ago, dur_reasons, expect, message_text, start_gateway_with, Person,
    TestGateway,
};

const WARFARIN_5MG: &str = "99999000101";
const IBUPROFEN_800MG: &str = "99999007101";
const ATORVASTATIN_10MG: &str = "67877051190";

/// A gateway on the schema; E1 replies say whether the patient is known, so the story can see
/// the shared history answer them.
async fn gateway_on(schema: &PgSchema) -> TestGateway {
    let url = schema.url();
    start_gateway_with(move |config| {
        config.store = url;
        config.eligibility_reveals_history = true;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_with_the_history_read_from_the_database() {
    let Some(schema) = PgSchema::create("gateway") else {
        return;
    };
    let gateway = gateway_on(&schema).await;
    let mut client = gateway.client().await;
    let patient = Person::adult("PGGW000001");
    let first_day = days_ago(4);

    let warfarin = patient.b1(1, WARFARIN_5MG, first_day);
    let paid = client.send(&warfarin.clone().encode()).await;
    expect(&paid, "P", &[]);
    let duplicate = client.send(&warfarin.encode()).await;
    expect(&duplicate, "D", &[]);
    assert_eq!(authorization(&duplicate, 0), authorization(&paid, 0));

    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(1));
    let conflict = client.send(&nsaid.clone().encode()).await;
    expect(&conflict, "R", &["88"]);
    assert_eq!(dur_reasons(&conflict, 0), ["DD"]);
    assert_eq!(
        conflict.transactions[0].dur[0].previous_fill_date,
        Some(first_day)
    );

    // A switch may send a B2 without the patient segments: the claim is found by its keys.
    let reversal = patient.b2(1, WARFARIN_5MG, first_day).no_patient();
    expect(&client.send(&reversal.clone().encode()).await, "A", &[]);
    expect(&client.send(&reversal.encode()).await, "S", &[]);
    let nothing = patient.b2(99, WARFARIN_5MG, first_day);
    expect(&client.send(&nothing.encode()).await, "R", &["87"]);
    expect(&client.send(&nsaid.encode()).await, "P", &[]);

    let statin_day = days_ago(2);
    let statin = patient.b1(3, ATORVASTATIN_10MG, statin_day);
    expect(&client.send(&statin.encode()).await, "P", &[]);
    let rebill = patient
        .b3(3, ATORVASTATIN_10MG, statin_day)
        .quantity_milli(60_000)
        .days_supply(60);
    let rebilled = client.send(&rebill.encode()).await;
    expect(&rebilled, "P", &[]);
    assert!(rebilled.transactions[0].dur.is_empty(), "{rebilled:?}");

    let known = client.send(&patient.e1(days_ago(1)).encode()).await;
    let stranger = Person::adult("PGGW000002").e1(days_ago(1));
    let unknown = client.send(&stranger.encode()).await;
    assert_ne!(message_text(&known, 0), message_text(&unknown, 0));
    assert!(message_text(&unknown, 0).contains("NOT"));

    let paid_now = schema
        .number("SELECT count(*) FROM claims WHERE status = 'paid' AND reversed_at_ms IS NULL");
    assert_eq!(paid_now, 2, "ibuprofen and the rebilled statin");
    assert_eq!(
        gateway
            .gateway
            .as_ref()
            .map(|running| running.history().fills_len()),
        Some(0),
        "a gateway on a shared store keeps no history of its own"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_override_is_read_back_from_the_shared_history() {
    let Some(schema) = PgSchema::create("remembered") else {
        return;
    };
    let rules = support::sample_remembering_ddi(90);
    let (url, rules_path) = (schema.url(), rules.path().to_path_buf());
    let gateway = start_gateway_with(move |config| {
        config.store = url;
        config.rules = rules_path;
    })
    .await;
    let mut client = gateway.client().await;
    let patient = Person::adult("PGGW000004");
    let warfarin = patient.b1(1, WARFARIN_5MG, days_ago(40)).days_supply(90);
    expect(&client.send(&warfarin.encode()).await, "P", &[]);
    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(35));
    expect(&client.send(&nsaid.clone().encode()).await, "R", &["88"]);
    let overridden = nsaid.dur("DD", "M0", "1G");
    expect(&client.send(&overridden.encode()).await, "P", &[]);
    let refill = patient.b1(2, IBUPROFEN_800MG, days_ago(5)).fill(1);
    let remembered = client.send(&refill.encode()).await;
    expect(&remembered, "P", &[]);
    assert_eq!(dur_reasons(&remembered, 0), ["DD"]);
    let expected = format!("previously overridden {}", days_ago(35));
    assert_eq!(remembered.transactions[0].dur[0].additional_text, expected);
    assert_eq!(
        schema.number("SELECT count(*) FROM conflicts WHERE remembered_from IS NOT NULL"),
        1
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_history_cannot_be_read_is_answered_99_and_not_paid() {
    let Some(schema) = PgSchema::create("unreadable") else {
        return;
    };
    let gateway = gateway_on(&schema).await;
    let mut client = gateway.client().await;
    let patient = Person::adult("PGGW000003");
    let claim = patient.b1(1, WARFARIN_5MG, days_ago(1));
    schema.execute("ALTER TABLE claims RENAME TO claims_away");
    let refused = client.send(&claim.clone().encode()).await;
    expect(&refused, "R", &["99"]);
    assert!(authorization(&refused, 0).is_empty());
    schema.execute("ALTER TABLE claims_away RENAME TO claims");
    expect(&client.send(&claim.encode()).await, "P", &[]);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_names_the_store_postgres_without_its_url() {
    let Some(schema) = PgSchema::create("status") else {
        return;
    };
    let gateway = gateway_on(&schema).await;
    let (status, body) = support::http_get(gateway.admin, "/admin/status").expect("admin answers");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("the status is JSON");
    assert_eq!(
        json["store"],
        serde_json::json!({"kind": "postgres"}),
        "{body}"
    );
    assert_eq!(json["ready"], true, "{body}");
    for secret in [schema.url(), schema.name.clone(), support::pg::server_url()] {
        assert!(!body.contains(&secret), "{secret} in {body}");
    }
    gateway.stop().await;
}
