//! What a scrape shows before the first claim: the build, the process, and every counter and
//! histogram an alert or dashboard needs, at zero — so `rate()` and alerts have series from
//! start-up instead of appearing on first use.

mod observe;
mod support;

use support::start_gateway;

/// The value of the sample written exactly as `series` (name and labels as exported).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_gateway_exports_its_build_process_and_zeroed_series() {
    let gateway = start_gateway().await;
    let reply = observe::http::get(gateway.admin, "/metrics")
        .await
        .expect("metrics");
    assert_eq!(reply.status, 200);
    let text = &reply.body;
    let build = format!(
        "durgate_build_info{{version=\"{}\",commit=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{text}");
    let zero = [
        "durgate_claims_total{transaction_code=\"B1\",status=\"paid\"}",
        "durgate_claims_total{transaction_code=\"B2\",status=\"approved\"}",
        "durgate_reject_codes_total{family=\"host\"}",
        "durgate_dur_conflicts_total{edit=\"ddi\",action=\"reject\"}",
        "durgate_dur_conflicts_total{edit=\"age_limit\",action=\"warn\"}",
        "durgate_frames_refused_total{reason=\"garbage\"}",
        "durgate_rule_reloads_total{outcome=\"refused\"}",
        "durgate_duplicates_total",
        "durgate_claim_latency_seconds_count",
        "durgate_store_commit_seconds_count",
    ];
    for series in zero {
        assert_eq!(sample(text, series), Some(0.0), "{series} in\n{text}");
    }
    let positive = [
        "durgate_process_resident_memory_bytes",
        "durgate_process_open_fds",
        "durgate_process_max_fds",
        "durgate_process_threads",
    ];
    for series in positive {
        let value = sample(text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
        assert!(value > 0.0, "{series} = {value}");
    }
    gateway.stop().await;
}

/// The `durgate_*` names an alert expression uses.
fn alert_metric_names(rules: &str) -> Vec<String> {
    let mut names: Vec<String> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr:"))
        .flat_map(|expr| {
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("durgate_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_alert_rules_are_valid_and_query_exported_series() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/prometheus/alerts.yml");
    let rules = std::fs::read_to_string(path).expect("alerts.yml");
    let gateway = start_gateway().await;
    let ready = observe::http::get(gateway.admin, "/readyz")
        .await
        .expect("readyz");
    assert_eq!(ready.status, 200);
    let text = observe::http::get(gateway.admin, "/metrics")
        .await
        .expect("metrics")
        .body;
    gateway.stop().await;
    let names = alert_metric_names(&rules);
    assert!(names.len() >= 5, "{names:?}");
    for name in &names {
        let exported = text.lines().any(|line| {
            !line.starts_with('#')
                && line.starts_with(name.as_str())
                && line[name.len()..].starts_with(['{', ' '])
        });
        assert!(
            exported,
            "alerts.yml queries {name}, which /metrics does not export"
        );
    }
    assert_eq!(sample(&text, "durgate_ready"), Some(1.0));
    let Some(promtool) = observe::find_program("promtool") else {
        support::skip::skip("promtool is not installed (Debian package `prometheus`)");
        return;
    };
    let checked = std::process::Command::new(promtool)
        .args(["check", "rules", path])
        .output()
        .expect("promtool runs");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
