//! The shortest story: a claim is paid, its resubmission is a duplicate with the same number.

mod support;

use durgate::ncpdp::build::ClaimBuilder;
use support::{start_gateway, statuses};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_claim_resubmitted_is_a_duplicate_with_the_original_authorization() {
    let gateway = start_gateway().await;
    let mut client = gateway.client().await;
    let claim = ClaimBuilder::b1()
        .cardholder("SMOKE0001")
        .rx(900_001)
        .ndc("67877051190")
        .encode();
    let first = client.send(&claim).await;
    let second = client.send(&claim).await;
    assert_eq!(
        (statuses(&first), statuses(&second)),
        ("P".to_string(), "D".to_string())
    );
    let authorization = first.transactions[0].authorization.clone();
    assert!(authorization.is_some());
    assert_eq!(second.transactions[0].authorization, authorization);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_claim_older_than_the_lookback_can_still_be_reversed_and_is_still_a_duplicate(
) {
    let gateway = start_gateway().await;
    let patient = support::Person::adult("OLD0000001");
    let claim = patient.b1(77, "67877051190", support::days_ago(200));
    let paid = gateway.client().await.send(&claim.clone().encode()).await;
    assert_eq!(statuses(&paid), "P");

    let gateway = gateway.restart().await;
    let mut client = gateway.client().await;
    let duplicate = client.send(&claim.encode()).await;
    assert_eq!(statuses(&duplicate), "D");
    assert_eq!(
        duplicate.transactions[0].authorization,
        paid.transactions[0].authorization
    );
    let reversal = client
        .send(
            &patient
                .b2(77, "67877051190", support::days_ago(200))
                .encode(),
        )
        .await;
    assert_eq!(statuses(&reversal), "A");
    gateway.stop().await;
}
