//! E1 against probing: every check is recorded in the store, and a pharmacy over its
//! per-minute limit is answered R 85 (recorded too) while other pharmacies go on.

mod support;

use durgate::ncpdp::build::ClaimBuilder;
use support::{rejects, start_gateway_with, statuses, today, Client, Person, StoreView};

/// The limit the story sets (`[limits] eligibility_per_pharmacy_per_minute`).
const PER_MINUTE: u32 = 3;
/// Bursts tried before giving up: the limit counts per clock minute, and a burst the minute
/// turned in is tried again (one burst takes well under a second, so two always suffice).
const BURSTS_MAX: u32 = 3;

fn e1(cardholder: &str, pharmacy: &str) -> Vec<u8> {
    let check: ClaimBuilder = Person::adult(cardholder).e1(today());
    check.provider_id(pharmacy).encode()
}

/// The clock minute the gateway counts in (`server::pipeline::eligibility`).
fn minute() -> i64 {
    durgate::clock::unix_ms().div_euclid(60_000)
}

/// `PER_MINUTE + 1` checks from `pharmacy`, then one from another pharmacy: the status and
/// reject codes of each, and whether all of them fell inside one clock minute.
async fn burst(
    client: &mut Client,
    pharmacy: &str,
    other: &str,
) -> (Vec<(String, Vec<String>)>, bool) {
    let started = minute();
    let mut answers = Vec::new();
    for n in 0..=PER_MINUTE {
        let reply = client.send(&e1(&format!("PROBE{n:04}"), pharmacy)).await;
        answers.push((statuses(&reply), rejects(&reply, 0)));
    }
    let reply = client.send(&e1("PROBE9999", other)).await;
    answers.push((statuses(&reply), rejects(&reply, 0)));
    (answers, minute() == started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e1_checks_are_recorded_and_limited_per_pharmacy() {
    let gateway = start_gateway_with(|config| {
        config.limits.eligibility_per_pharmacy_per_minute = PER_MINUTE;
    })
    .await;
    let mut client = gateway.client().await;
    let mut sent = 0;
    let mut refused = 0;
    let mut answers = None;
    // A fresh pair of pharmacies for each burst, so an earlier burst's count cannot carry over.
    for attempt in 0..BURSTS_MAX {
        let (pharmacy, other) = (format!("123456780{attempt}"), format!("987654320{attempt}"));
        let (got, one_minute) = burst(&mut client, &pharmacy, &other).await;
        sent += got.len();
        refused += got.iter().filter(|(status, _)| status == "R").count();
        if one_minute {
            answers = Some(got);
            break;
        }
    }
    let answers = answers.expect("every burst straddled a minute boundary");
    let accepted = ("A".to_string(), Vec::<String>::new());
    let over = ("R".to_string(), vec!["85".to_string()]);
    let mut wanted = vec![accepted.clone(); PER_MINUTE as usize];
    wanted.push(over);
    // The other pharmacy has its own count.
    wanted.push(accepted);
    assert_eq!(answers, wanted);
    let store = StoreView::open(&gateway.store_path);
    let recorded = store.number("SELECT count(*) FROM claims WHERE kind = 'eligibility'");
    assert_eq!(recorded, sent as i64, "every check is recorded");
    let refused_rows = store.number(
        "SELECT count(*) FROM claims c JOIN claim_reject_codes r ON r.claim_id = c.id \
         WHERE c.kind = 'eligibility' AND r.code = '85'",
    );
    assert_eq!(refused_rows, refused as i64);
    gateway.stop().await;
}
