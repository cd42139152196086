//! The load generator against a real gateway: the synthetic workload has the mix it promises,
//! and every request gets an answer.

mod support;

use std::sync::Arc;

use durgate::loadgen::engine::{self, Pace, Plan, Progress, Stop};
use durgate::loadgen::workload::Synthetic;
use durgate::server::reload::read_rule_folder;
use durgate::wire::Framing;
use support::{sample_rules, start_gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synthetic_workload_hits_a_dur_conflict_about_one_claim_in_five() {
    let gateway = start_gateway().await;
    let rules = durgate::rules::compile(&read_rule_folder(&sample_rules()).unwrap()).unwrap();
    let workload = Synthetic::new(&rules, 300, durgate::server::today(), 42).unwrap();
    let plan = Plan {
        addr: gateway.addr,
        framing: Framing::StxEtx,
        pace: Pace::Closed { conns: 8, depth: 4 },
        stop: Stop::Count(3_000),
        tls: None,
    };
    let report = engine::run(&plan, Arc::new(workload), Arc::new(Progress::default())).await;
    assert_eq!(
        (report.completed, report.connection_errors),
        (3_000, 0),
        "{report:?}"
    );
    let count = |label: &str| report.statuses.get(label).copied().unwrap_or(0);
    let dur_rejected = count("rejected_dur") as f64 / 3_000.0;
    assert!(
        (0.12..=0.32).contains(&dur_rejected),
        "DUR rejections {dur_rejected:.3}: {report:?}"
    );
    assert!(
        count("paid") + count("paid_with_dur_warning") > 1_800,
        "{report:?}"
    );
    assert!(
        count("approved") > 0 && count("duplicate") > 0,
        "reversals and duplicates: {report:?}"
    );
    assert_eq!(count("rejected_99") + count("unreadable"), 0, "{report:?}");
    gateway.stop().await;
}

#[test]
fn a_run_against_nothing_fails_loudly_and_says_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args([
            "loadgen",
            "--addr",
            &addr.to_string(),
            "--count",
            "5",
            "--conns",
            "2",
        ])
        .arg("--rules")
        .arg(sample_rules())
        .arg("--patients")
        .arg("50")
        .output()
        .expect("loadgen runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 connections failed")
            && stderr.contains("connect: connection refused (x2)"),
        "{stderr}"
    );
}

#[test]
fn a_rule_folder_it_cannot_read_is_a_configuration_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(["loadgen", "--count", "1", "--rules", "/nonexistent/rules"])
        .output()
        .expect("loadgen runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ruleset.toml"), "{stderr}");
}

/// `--echo-baseline durable` runs the plain and the durable echo before the gateway, reports
/// both with their ratios, and leaves no file behind in `--echo-dir`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_durable_echo_baseline_runs_beside_the_plain_one() {
    let gateway = start_gateway().await;
    let echo_dir = tempfile::tempdir().expect("temp dir");
    let output = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_durgate"))
            .args(["loadgen", "--addr", &gateway.addr.to_string()])
            .arg("--rules")
            .arg(sample_rules())
            .args(["--conns", "4", "--count", "400", "--json"])
            .args(["--echo-baseline", "durable", "--echo-dir"])
            .arg(echo_dir.path())
            .output()
            .expect("run durgate loadgen")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON");
    for run in ["echo", "durable_echo", "gateway"] {
        assert_eq!(summary[run]["completed"], 400, "{run}: {summary}");
    }
    assert!(summary["ratio_durable_throughput"]
        .as_f64()
        .is_some_and(|ratio| ratio > 0.0));
    assert!(stdout.contains("ratio gateway/durable echo"), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(echo_dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    gateway.stop().await;
}
