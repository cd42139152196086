//! E1 against probing: every check is recorded in the store, and a pharmacy over its
//! per-minute limit is answered R 85 (recorded too) while other pharmacies go on.

mod support;

use durgate::ncpdp::build::ClaimBuilder;
use support::{rejects, start_gateway_with, statuses, today, Person, StoreView};

/// The limit the story sets (`[limits] eligibility_per_pharmacy_per_minute`).
const PER_MINUTE: u32 = 3;

fn e1(cardholder: &str, pharmacy: &str) -> Vec<u8> {
    let check: ClaimBuilder = Person::adult(cardholder).e1(today());
    check.provider_id(pharmacy).encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e1_checks_are_recorded_and_limited_per_pharmacy() {
    let gateway = start_gateway_with(|config| {
        config.limits.eligibility_per_pharmacy_per_minute = PER_MINUTE;
    })
    .await;
    let mut client = gateway.client().await;
    let mut answers = Vec::new();
    for n in 0..=PER_MINUTE {
        let reply = client
            .send(&e1(&format!("PROBE{n:04}"), "1234567890"))
            .await;
        answers.push((statuses(&reply), rejects(&reply, 0)));
    }
    // The minute may turn during the loop; then the count restarts and all four pass.
    let refused = answers.iter().filter(|(status, _)| status == "R").count();
    assert!(refused <= 1, "{answers:?}");
    if refused == 1 {
        assert_eq!(
            answers[PER_MINUTE as usize],
            ("R".into(), vec!["85".into()])
        );
    }
    let other = client.send(&e1("PROBE9999", "9876543210")).await;
    assert_eq!(statuses(&other), "A", "another pharmacy has its own count");
    let store = StoreView::open(&gateway.store_path);
    let recorded = store.number("SELECT count(*) FROM claims WHERE kind = 'eligibility'");
    assert_eq!(
        recorded,
        i64::from(PER_MINUTE) + 2,
        "every check is recorded"
    );
    let refused_rows = store.number(
        "SELECT count(*) FROM claims c JOIN claim_reject_codes r ON r.claim_id = c.id \
         WHERE c.kind = 'eligibility' AND r.code = '85'",
    );
    assert_eq!(refused_rows, refused as i64);
    gateway.stop().await;
}
