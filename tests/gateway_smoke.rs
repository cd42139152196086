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

/// `durgate send` on `dirs` against `addr`: (exit success, stdout).
async fn send_binary(addr: std::net::SocketAddr, paths: &[&str]) -> (bool, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_durgate"));
    command.args(["send", "--addr", &addr.to_string(), "--timeout-ms", "3000"]);
    command.args(paths.iter().map(|path| root.join(path)));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("durgate send runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout)
}

/// The quick start's demo folder walks one patient through a DUR reject, an accepted override
/// and a reversal, exactly as the README shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_folder_shows_a_dur_reject_an_accepted_override_and_a_reversal() {
    let gateway = start_gateway().await;
    let (success, stdout) = send_binary(gateway.addr, &["ncpdp-samples/demo"]).await;
    assert!(success, "{stdout}");
    let transactions: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("transaction 1: "))
        .map(|rest| rest.split(" authorization").next().unwrap_or(rest))
        .collect();
    assert_eq!(transactions, ["P", "R rejects 88", "P", "A"], "{stdout}");
    assert!(stdout.contains("DUR 1 DD significance 2"), "{stdout}");
    gateway.stop().await;
}

/// A response sample is not sent (the gateway would not answer it): no wait, no failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_skips_response_samples_instead_of_waiting_for_a_reply() {
    let gateway = start_gateway().await;
    let paths = [
        "ncpdp-samples/ok/response-b1-paid.d0",
        "ncpdp-samples/ok/b1-single.d0",
    ];
    let (success, stdout) = send_binary(gateway.addr, &paths).await;
    assert!(success, "{stdout}");
    assert!(
        stdout.contains("a response, not a request: not sent"),
        "{stdout}"
    );
    assert!(stdout.contains("transaction 1: P"), "{stdout}");
    gateway.stop().await;
}
