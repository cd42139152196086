//! Admin HTTP stories: `/healthz`, `/readyz` (200 while the store commits, 503 once a commit
//! failed — another connection held it locked — until the writer's probe commits again), `GET /admin/status` (version, commit, rule tables, store kind
//! without its path, uptime, readiness), `POST /admin/reload` (200 with the new `id@version` and claims
//! stamped with it, `(unchanged)` when the folder holds the live bytes; 422 with `file:line:column` errors for a broken folder while the old tables
//! stay live), 404 for an unknown path, 405 for a wrong method.
//!
//! The metrics recorder is process-global and these stories run side by side: each one that
//! reads `durgate_rules_info` uses rule-table versions of its own.

mod observe;
mod support;

use std::path::Path;
use std::time::Duration;

use durgate::ncpdp::build::ClaimBuilder;
use observe::http::{self, Reply};
use support::{start_gateway, start_gateway_with, statuses, TestGateway};

const RULESET_ID: &str = "open-dur-sample";

async fn get(gateway: &TestGateway, path: &str) -> Reply {
    http::get(gateway.admin, path).await.expect("admin answers")
}

async fn reload(gateway: &TestGateway) -> Reply {
    http::post(gateway.admin, "/admin/reload")
        .await
        .expect("admin answers")
}

/// A gateway on a temp copy of the sample tables carrying `version`.
async fn gateway_on_copy(version: &str) -> (TestGateway, tempfile::TempDir) {
    let rules = observe::sample_rules_as(version);
    let dir = rules.path().to_path_buf();
    let gateway = start_gateway_with(move |config| config.rules = dir).await;
    (gateway, rules)
}

/// Sends a paid claim with this Rx number and returns the rule-table stamp the store recorded.
async fn claim_stamp(gateway: &TestGateway, rx: u64) -> String {
    let mut client = gateway.client().await;
    let claim = ClaimBuilder::b1().cardholder(&format!("ADM{rx}")).rx(rx);
    let reply = client.send(&claim.encode()).await;
    assert_eq!(statuses(&reply), "P", "{reply:?}");
    stored_ruleset(&gateway.store_path, rx)
}

fn stored_ruleset(store: &Path, rx: u64) -> String {
    let connection = rusqlite::Connection::open(store).expect("open the store");
    connection
        .query_row(
            "SELECT ruleset FROM claims WHERE rx_number = ?1",
            [rx as i64],
            |row| row.get(0),
        )
        .expect("the claim is recorded")
}

/// The `durgate_rules_info` value for this version, if the series exists.
async fn rules_info(gateway: &TestGateway, version: &str) -> Option<String> {
    let series = format!("durgate_rules_info{{id=\"{RULESET_ID}\",version=\"{version}\"}} ");
    let metrics = get(gateway, "/metrics").await;
    metrics
        .body
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_unknown_paths_and_wrong_methods() {
    let gateway = start_gateway().await;
    assert_eq!(get(&gateway, "/healthz").await, reply(200, "ok\n"));
    assert_eq!(get(&gateway, "/readyz").await, reply(200, "ready\n"));
    assert_eq!(get(&gateway, "/nowhere").await.status, 404);
    assert_eq!(get(&gateway, "/healthz/extra").await.status, 404);
    let wrong = [
        ("POST", "/healthz"),
        ("DELETE", "/readyz"),
        ("GET", "/admin/reload"),
        ("POST", "/admin/status"),
        ("PUT", "/metrics"),
    ];
    for (method, path) in wrong {
        let answer = http::request(gateway.admin, method, path).await;
        assert_eq!(
            answer.expect("admin answers").status,
            405,
            "{method} {path}"
        );
    }
    gateway.stop().await;
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_lost_while_the_store_is_locked_and_comes_back() {
    let gateway = start_gateway().await;
    assert_eq!(get(&gateway, "/readyz").await.status, 200);
    let locker = lock_store(&gateway.store_path);
    // Readiness reports what the writer found; it never takes the write lock itself.
    assert_eq!(get(&gateway, "/readyz").await.status, 200);
    let claim = ClaimBuilder::b1().cardholder("ADMLOCK").rx(77).encode();
    let mut client = fail_a_commit(&gateway, &claim).await;
    let locked = get(&gateway, "/readyz").await;
    assert_eq!(locked.status, 503, "{locked:?}");
    assert!(
        locked
            .body
            .starts_with("not ready: claim store not writable"),
        "{locked:?}"
    );
    // Liveness does not depend on the store.
    assert_eq!(get(&gateway, "/healthz").await.status, 200);
    locker.execute_batch("ROLLBACK").expect("release the lock");
    // With no traffic at all, the writer's probe brings readiness back.
    assert_eq!(ready_again(&gateway).await, reply(200, "ready\n"));
    let paid = client.send(&claim).await;
    assert_eq!(statuses(&paid), "P", "{paid:?}");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_change_reloads_and_later_claims_carry_the_new_version() {
    let (gateway, rules) = gateway_on_copy("2026.11.31").await;
    let before = claim_stamp(&gateway, 810_001).await;
    assert_eq!(before, format!("{RULESET_ID}@2026.11.31"));
    let unchanged = reload(&gateway).await;
    assert_eq!(
        unchanged,
        reply(200, &format!("{RULESET_ID}@2026.11.31 (unchanged)\n"))
    );
    observe::set_version(rules.path(), "2026.11.32");
    let answer = reload(&gateway).await;
    // The folder watch may have swapped the new version in first; then this reload finds the
    // folder unchanged. Either way the new version is live.
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body.starts_with(&format!("{RULESET_ID}@2026.11.32")),
        "{answer:?}"
    );
    let after = claim_stamp(&gateway, 810_002).await;
    assert_eq!(after, format!("{RULESET_ID}@2026.11.32"));
    assert_eq!(
        rules_info(&gateway, "2026.11.32").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        rules_info(&gateway, "2026.11.31").await.as_deref(),
        Some("0")
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_folder_is_refused_with_positions_and_the_old_tables_stay_live() {
    let (gateway, rules) = gateway_on_copy("2026.11.41").await;
    let products = rules.path().join("products.csv");
    let mut text = std::fs::read_to_string(&products).expect("products.csv");
    text.push_str("0000000020,aspirin,81,mg,tablet,oral,,N,\n");
    // Broken products first: the folder watch never sees the new version with valid tables.
    std::fs::write(&products, &text).expect("break products.csv");
    observe::set_version(rules.path(), "2026.11.49");
    let broken_line = text.lines().count();
    let answer = reload(&gateway).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(
        has_position(&answer.body, "products.csv", broken_line),
        "no products.csv:{broken_line}:COLUMN in {answer:?}"
    );
    let stamp = claim_stamp(&gateway, 820_001).await;
    assert_eq!(stamp, format!("{RULESET_ID}@2026.11.41"));
    assert_eq!(
        rules_info(&gateway, "2026.11.41").await.as_deref(),
        Some("1")
    );
    assert_eq!(rules_info(&gateway, "2026.11.49").await, None);
    gateway.stop().await;
}

/// Whether some line of `body` starts with `file:line:column:`.
fn has_position(body: &str, file: &str, line: usize) -> bool {
    let prefix = format!("{file}:{line}:");
    body.lines().any(|text| {
        text.strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(column, _)| column.parse::<u32>().is_ok_and(|column| column >= 1))
    })
}

/// `GET /admin/status` as JSON, with its raw body.
async fn status(gateway: &TestGateway) -> (serde_json::Value, String) {
    let answer = get(gateway, "/admin/status").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let json = serde_json::from_str(&answer.body).expect("the status is JSON");
    (json, answer.body)
}

/// The store locked by another connection, as an analyst's long transaction would hold it.
/// Sends `claim` while the store is locked: its commit fails (99), which readiness then reports.
async fn fail_a_commit(gateway: &TestGateway, claim: &[u8]) -> support::Client {
    let mut client = gateway.client().await;
    let refused = client.send(claim).await;
    assert_eq!(statuses(&refused), "R", "{refused:?}");
    client
}

/// Polls `/readyz` for up to 5 s until it answers 200; returns the last answer.
async fn ready_again(gateway: &TestGateway) -> Reply {
    let mut ready = get(gateway, "/readyz").await;
    for _ in 0..50 {
        if ready.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = get(gateway, "/readyz").await;
    }
    ready
}

fn lock_store(path: &Path) -> rusqlite::Connection {
    let locker = rusqlite::Connection::open(path).expect("open the store");
    locker
        .busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    locker
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("take the lock");
    locker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_build_the_tables_the_store_the_uptime_and_readiness() {
    let (gateway, _rules) = gateway_on_copy("2026.11.51").await;
    let (first, body) = status(&gateway).await;
    let mut keys: Vec<&str> = first
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let wanted = [
        "commit",
        "ready",
        "rules",
        "store",
        "uptime_seconds",
        "version",
    ];
    assert_eq!(keys, wanted, "{body}");
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"), "{body}");
    assert_eq!(first["commit"], durgate::version::COMMIT, "{body}");
    assert_eq!(first["rules"], format!("{RULESET_ID}@2026.11.51"), "{body}");
    assert_eq!(
        first["store"],
        serde_json::json!({"kind": "sqlite"}),
        "{body}"
    );
    let store_file = gateway.store_path.file_name().expect("a file name");
    assert!(!body.contains(&*store_file.to_string_lossy()), "{body}");
    assert_eq!(first["ready"], true, "{body}");
    let started = first["uptime_seconds"].as_u64().expect("whole seconds");
    assert!(started < 60, "{body}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let locker = lock_store(&gateway.store_path);
    let claim = ClaimBuilder::b1().cardholder("ADMSTATUS").rx(78).encode();
    fail_a_commit(&gateway, &claim).await;
    let (locked, body) = status(&gateway).await;
    assert_eq!(locked["ready"], false, "{body}");
    let later = locked["uptime_seconds"].as_u64().expect("whole seconds");
    assert!(later > started, "uptime {started} s, then {later} s");
    locker.execute_batch("ROLLBACK").expect("release the lock");
    assert_eq!(ready_again(&gateway).await.status, 200);
    assert_eq!(status(&gateway).await.0["ready"], true);
    gateway.stop().await;
}
