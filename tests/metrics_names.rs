//! Metric names and labels, read from the real `/metrics` of a gateway that has handled traffic
//! of every kind: paid, rejected, duplicate, DUR conflicts (reject and warn), overrides accepted
//! and refused, reversals (approved, already reversed, not found), a rebill, an eligibility
//! check, unreadable and refused frames, a refused connection, and rule reloads that succeed and
//! fail.
//!
//! Proves: every family the issue lists exists with its type (histograms, not summaries);
//! names start with `durgate_` and follow Prometheus conventions; `promtool check metrics`
//! accepts the exposition; no label carries a BIN, NDC, pharmacy, prescriber or patient value;
//! every metric the Grafana dashboard queries is exported.
//!
//! The recorder is process-global, so this binary starts exactly one gateway: the exposition is
//! taken once (on a thread with its own runtime) and every test reads it.

mod observe;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use durgate::claim::Date;
use durgate::ncpdp::build::{self, ClaimBuilder};
use support::{start_gateway_with, statuses, Client, TestGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ATORVASTATIN_10MG: &str = "67877051190";
const SIMVASTATIN_20MG: &str = "99999000301";
const CLOPIDOGREL_75MG: &str = "99999000201";
const OMEPRAZOLE_20MG: &str = "99999001001";
/// Eleven digits, not in the sample products table.
const UNKNOWN_NDC: &str = "12345678901";
const BIN_SENT: &str = "610011";
const PHARMACY_SENT: &str = "1457392018";
const PRESCRIBER_SENT: &str = "1629071538";
const CARDHOLDER_SENT: &str = "OBSNAMES01";
const PATIENT_FIRST_NAME: &str = "QUILLON";
const PATIENT_LAST_NAME: &str = "VARDEMOSS";

/// Largest `/metrics` poll before the gauges that refresh on a timer must have appeared.
const GAUGE_WAIT: Duration = Duration::from_secs(15);

/// The families the issue requires, with their Prometheus type.
const REQUIRED: &[(&str, &str)] = &[
    ("durgate_claims_total", "counter"),
    ("durgate_reject_codes_total", "counter"),
    ("durgate_dur_conflicts_total", "counter"),
    ("durgate_overrides_total", "counter"),
    ("durgate_duplicates_total", "counter"),
    ("durgate_reversals_total", "counter"),
    ("durgate_frames_refused_total", "counter"),
    ("durgate_connections_closed_total", "counter"),
    ("durgate_connections_total", "counter"),
    ("durgate_rule_reloads_total", "counter"),
    ("durgate_claim_latency_seconds", "histogram"),
    ("durgate_store_commit_seconds", "histogram"),
    ("durgate_store_batch_records", "histogram"),
    ("durgate_adjudication_seconds", "histogram"),
    ("durgate_open_connections", "gauge"),
    ("durgate_in_flight_claims", "gauge"),
    ("durgate_store_queue_depth", "gauge"),
    ("durgate_history_patients", "gauge"),
    ("durgate_history_fills", "gauge"),
    ("durgate_rules_info", "gauge"),
    ("durgate_build_info", "gauge"),
    ("durgate_process_cpu_seconds_total", "counter"),
    ("durgate_process_resident_memory_bytes", "gauge"),
    ("durgate_process_open_fds", "gauge"),
];

/// Every label name the gateway may use, with the values it may take (`None`: open but
/// bounded by something other than claim data, e.g. the rule tables' id and version).
fn allowed_labels() -> BTreeMap<&'static str, Option<Vec<&'static str>>> {
    let codes = vec!["B1", "B2", "B3", "E1"];
    let statuses = vec![
        "paid",
        "rejected",
        "duplicate",
        "approved",
        "duplicate_of_approved",
    ];
    let families = vec![
        "dur",
        "early_refill",
        "not_covered",
        "reversal",
        "host",
        "validation",
    ];
    let edits = vec![
        "ddi",
        "duplication",
        "high_dose",
        "elderly_high_risk",
        "age_limit",
        "early_refill",
        "opioid",
        "acetaminophen",
    ];
    let mut professional: Vec<&'static str> = durgate::claim::codes::PROFESSIONAL_SERVICE.to_vec();
    professional.push("other");
    let outcomes = vec![
        "accepted",
        "refused",
        "not_allowed",
        "accept_failed",
        "ok",
        "approved",
        "already_reversed",
        "not_found",
        "rejected",
    ];
    let reasons = vec![
        "not_d0",
        "oversize",
        "garbage",
        "truncated",
        "io",
        "read_timeout",
        "tls_handshake",
        // A PROXY protocol v2 listener: a missing or invalid header; a header's client outside
        // the allow-list (durgate_connections_closed_total).
        "proxy_header",
        "not_allowed",
        "failed",
        "timeout",
        // durgate_connections_closed_total
        "client",
        "shutdown",
        "idle_timeout",
        "write_timeout",
        "writer_gone",
        // durgate_scope_refusals_total
        "unknown_certificate",
        "bin",
        "pharmacy",
        "bin_and_pharmacy",
    ];
    BTreeMap::from([
        ("endpoint", Some(vec!["claims", "admin"])),
        ("transaction_code", Some(codes)),
        ("status", Some(statuses)),
        ("family", Some(families)),
        ("edit", Some(edits)),
        ("action", Some(vec!["reject", "warn"])),
        ("professional_service", Some(professional)),
        ("outcome", Some(outcomes)),
        ("reason", Some(reasons)),
        ("id", None),
        // The rule tables' version, or the build's version and commit (durgate_build_info).
        ("version", None),
        ("commit", None),
        ("le", None),
    ])
}

/// Series (one label each) the workload must have produced.
const WANTED_SERIES: &[&str] = &[
    "durgate_claims_total{status=paid}",
    "durgate_claims_total{status=rejected}",
    "durgate_claims_total{status=duplicate}",
    "durgate_claims_total{status=approved}",
    "durgate_claims_total{status=duplicate_of_approved}",
    "durgate_claims_total{transaction_code=B3}",
    "durgate_claims_total{transaction_code=E1}",
    "durgate_reject_codes_total{family=dur}",
    "durgate_reject_codes_total{family=not_covered}",
    "durgate_reject_codes_total{family=validation}",
    "durgate_reject_codes_total{family=early_refill}",
    "durgate_reject_codes_total{family=reversal}",
    "durgate_dur_conflicts_total{action=reject}",
    "durgate_dur_conflicts_total{action=warn}",
    "durgate_overrides_total{outcome=accepted}",
    "durgate_overrides_total{outcome=refused}",
    "durgate_overrides_total{professional_service=M0}",
    "durgate_reversals_total{outcome=approved}",
    "durgate_reversals_total{outcome=already_reversed}",
    "durgate_reversals_total{outcome=not_found}",
    "durgate_frames_refused_total{reason=not_d0}",
    "durgate_frames_refused_total{reason=oversize}",
    "durgate_frames_refused_total{reason=garbage}",
    "durgate_frames_refused_total{reason=truncated}",
    "durgate_connections_total{outcome=accepted}",
    "durgate_connections_total{outcome=refused}",
    "durgate_rule_reloads_total{outcome=ok}",
    "durgate_rule_reloads_total{outcome=refused}",
];

/// Gauges once the workload is over and the refresh timer has run: one patient in the
/// history, nothing open, queued or in flight.
const SETTLED_GAUGES: &[(&str, f64)] = &[
    ("durgate_history_patients", 1.0),
    ("durgate_open_connections", 0.0),
    ("durgate_in_flight_claims", 0.0),
    ("durgate_store_queue_depth", 0.0),
];

/// The exposition after the workload (taken once per test binary; a failed workload is not
/// run again: the first test to need it shows its panic, the others say it failed).
fn exposition() -> &'static str {
    static EXPOSITION: OnceLock<Option<String>> = OnceLock::new();
    let taken = EXPOSITION.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(run_workload())
        })
        .join()
        .ok()
    });
    taken
        .as_deref()
        .expect("the workload failed (its panic is printed above)")
}

async fn run_workload() -> String {
    let rules = tempfile::tempdir().expect("temp dir");
    observe::copy_folder(&support::sample_rules(), rules.path());
    let rules_dir = rules.path().to_path_buf();
    let gateway = start_gateway_with(move |config| {
        config.rules = rules_dir;
        config.limits.connections_max = 2;
        config.limits.garbage_bytes_max = 16;
        config.limits.frame_bytes_max = 4096;
    })
    .await;
    claims_of_every_kind(&gateway).await;
    no_connection_open(&gateway).await;
    refused_frames(&gateway).await;
    refused_connection(&gateway).await;
    reloads(&gateway, rules.path()).await;
    let text = metrics_once_settled(&gateway).await;
    gateway.stop().await;
    text
}

/// The patient and prescriber every claim of the workload carries.
fn claim(builder: ClaimBuilder) -> ClaimBuilder {
    builder
        .provider_id(PHARMACY_SENT)
        .cardholder(CARDHOLDER_SENT)
        .name(PATIENT_FIRST_NAME, PATIENT_LAST_NAME)
        .dob(Date::from_ymd(1961, 9, 14).expect("date"))
        .edit(|transaction| transaction.prescriber_id = PRESCRIBER_SENT.to_owned())
}

fn b1(rx: u64, ndc: &str) -> ClaimBuilder {
    claim(ClaimBuilder::b1()).rx(rx).ndc(ndc)
}

/// Sends one transmission and checks the status letters of its reply.
async fn expect(client: &mut Client, builder: ClaimBuilder, want: &str) {
    let reply = client.send(&builder.encode()).await;
    assert_eq!(statuses(&reply), want, "reply {reply:?}");
}

async fn claims_of_every_kind(gateway: &TestGateway) {
    let mut client = gateway.client().await;
    let client = &mut client;
    expect(client, b1(1, ATORVASTATIN_10MG), "P").await;
    expect(client, b1(1, ATORVASTATIN_10MG), "D").await;
    // A second statin: duplicate therapy rejected, then refused and accepted overrides.
    expect(client, b1(2, SIMVASTATIN_20MG), "R").await;
    expect(client, b1(3, SIMVASTATIN_20MG).dur("TD", "MA", "1G"), "R").await;
    expect(client, b1(4, SIMVASTATIN_20MG).dur("TD", "M0", "1G"), "P").await;
    // A severity-3 interaction only warns.
    expect(client, b1(5, CLOPIDOGREL_75MG), "P").await;
    expect(client, b1(6, OMEPRAZOLE_20MG), "P").await;
    expect(client, b1(7, UNKNOWN_NDC), "R").await;
    expect(client, claim(ClaimBuilder::b1()).bin("61001X").rx(8), "R").await;
    expect(client, b1(1, ATORVASTATIN_10MG).fill(1), "R").await;
    let reversal = |rx| claim(ClaimBuilder::b2()).rx(rx).ndc(ATORVASTATIN_10MG);
    expect(client, reversal(1), "A").await;
    expect(client, reversal(1), "S").await;
    expect(client, reversal(99), "R").await;
    let rebill = claim(ClaimBuilder::b3()).rx(5).ndc(CLOPIDOGREL_75MG);
    expect(client, rebill.quantity_milli(60_000), "P").await;
    expect(client, claim(ClaimBuilder::e1()), "A").await;
}

/// An unreadable transmission, an oversize frame, garbage between frames, a truncated frame.
async fn refused_frames(gateway: &TestGateway) {
    let mut unreadable = gateway.client().await;
    unreadable.send_only(b"this is not a D.0 request").await;
    // No reply is owed; a good claim on the same connection proves it was read past.
    expect(&mut unreadable, claim(ClaimBuilder::e1()), "A").await;
    drop(unreadable);
    let mut oversize = vec![durgate::wire::STX];
    oversize.extend(std::iter::repeat_n(b'A', 5000));
    let garbage = vec![b'~'; 64];
    let truncated = b"\x02B1 truncated".to_vec();
    for (bytes, end_sending) in [(oversize, false), (garbage, false), (truncated, true)] {
        // With a limit of two, a connection still closing could take the place of the next.
        no_connection_open(gateway).await;
        let closed = closed_without_reply(gateway.addr, &bytes, end_sending).await;
        assert_eq!(closed, Ok(()));
    }
}

/// Waits until the gateway counts no open claim connection (its places are free by then).
async fn no_connection_open(gateway: &TestGateway) {
    let deadline = Instant::now() + GAUGE_WAIT;
    loop {
        let reply = observe::http::get(gateway.admin, "/metrics").await;
        let text = reply.map(|reply| reply.body).unwrap_or_default();
        if gauge(&text, "durgate_open_connections") == Some(0.0) {
            return;
        }
        assert!(Instant::now() < deadline, "connections stay open:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `bytes` (then ends the sending side when asked) and waits for the gateway to close
/// without a reply.
async fn closed_without_reply(
    addr: SocketAddr,
    bytes: &[u8],
    end_sending: bool,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    // The gateway may close before everything is written: only the close matters.
    let _ = stream.write_all(bytes).await;
    if end_sending {
        let _ = stream.shutdown().await;
    }
    let mut got = Vec::new();
    let read = tokio::time::timeout(support::REPLY_TIMEOUT, stream.read_to_end(&mut got)).await;
    match read {
        Err(_) => Err("still open".to_string()),
        Ok(_) if got.is_empty() => Ok(()),
        Ok(_) => Err(format!("a reply: {got:?}")),
    }
}

/// With a limit of two connections held, a third is accepted and closed at once.
async fn refused_connection(gateway: &TestGateway) {
    no_connection_open(gateway).await;
    let mut held = [gateway.client().await, gateway.client().await];
    for client in &mut held {
        // An answer proves the connection holds a place.
        expect(client, claim(ClaimBuilder::e1()), "A").await;
    }
    assert_eq!(closed_without_reply(gateway.addr, b"", false).await, Ok(()));
    drop(held);
}

/// One reload through the admin endpoint that succeeds, one that is refused.
async fn reloads(gateway: &TestGateway, rules: &Path) {
    // A reload of an unchanged folder swaps and counts nothing, so the good reload is of a
    // new version (the watcher may take it first; either way it counts as `ok`).
    let ruleset = rules.join("ruleset.toml");
    let text = std::fs::read_to_string(&ruleset).expect("ruleset");
    let bumped: Vec<String> = text
        .lines()
        .map(|line| match line.starts_with("version") {
            true => "version = \"metrics-names-test\"".to_string(),
            false => line.to_string(),
        })
        .collect();
    let bumped = bumped.join("\n");
    assert_ne!(bumped, text, "the sample ruleset has no version line");
    std::fs::write(&ruleset, &bumped).expect("bump ruleset");
    observe::reseal(ruleset.parent().expect("the rule folder"));
    let ok = observe::http::post(gateway.admin, "/admin/reload")
        .await
        .expect("reload");
    assert_eq!(ok.status, 200, "{ok:?}");
    let text = bumped;
    let broken: Vec<&str> = text
        .lines()
        .map(|line| {
            if line.starts_with("schema") {
                "schema = 9"
            } else {
                line
            }
        })
        .collect();
    std::fs::write(&ruleset, broken.join("\n")).expect("break ruleset");
    let refused = observe::http::post(gateway.admin, "/admin/reload")
        .await
        .expect("reload");
    assert_eq!(refused.status, 422, "{refused:?}");
}

/// `/metrics` once the timer-refreshed gauges have settled and the counters recorded after a
/// connection closed are in it.
async fn metrics_once_settled(gateway: &TestGateway) -> String {
    let deadline = Instant::now() + GAUGE_WAIT;
    loop {
        let reply = observe::http::get(gateway.admin, "/metrics")
            .await
            .expect("metrics");
        assert_eq!(reply.status, 200);
        let families = families(&reply.body);
        let seen = series_seen(&reply.body);
        let complete = REQUIRED
            .iter()
            .all(|(name, _)| families.contains_key(*name))
            && WANTED_SERIES.iter().all(|series| seen.contains(*series))
            && SETTLED_GAUGES
                .iter()
                .all(|(name, value)| gauge(&reply.body, name) == Some(*value));
        if complete {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "series missing or gauges unsettled in:\n{}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every `name{label=value}` pair of the samples, one label at a time.
fn series_seen(text: &str) -> BTreeSet<String> {
    samples(text)
        .into_iter()
        .flat_map(|(name, labels)| {
            labels
                .into_iter()
                .map(move |(key, value)| format!("{name}{{{key}={value}}}"))
        })
        .collect()
}

/// The value of an unlabelled gauge.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
}

/// Family name → type, from the `# TYPE` lines.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.trim().to_string()))
        .collect()
}

/// Sample lines as (metric name, labels).
fn samples(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = line
                .get(name_end..)
                .and_then(|rest| rest.strip_prefix('{'))
                .and_then(|rest| rest.split_once('}'))
                .map(|(inside, _)| parse_labels(inside))
                .unwrap_or_default();
            (line[..name_end].to_string(), labels)
        })
        .collect()
}

/// `a="x",b="y"` → pairs (the gateway's values hold no quotes or commas).
fn parse_labels(inside: &str) -> Vec<(String, String)> {
    inside
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
        .collect()
}

#[test]
fn every_required_family_is_exported_with_its_type() {
    let families = families(exposition());
    for (name, kind) in REQUIRED {
        assert_eq!(
            families.get(*name).map(String::as_str),
            Some(*kind),
            "{name}"
        );
    }
}

#[test]
fn gauges_settle_with_the_history_filled_and_nothing_in_flight() {
    let text = exposition();
    for (name, value) in SETTLED_GAUGES {
        assert_eq!(gauge(text, name), Some(*value), "{name}");
    }
    let fills = gauge(text, "durgate_history_fills").expect("history fills");
    // Simvastatin, clopidogrel (rebilled) and omeprazole stay paid; atorvastatin was reversed.
    assert_eq!(fills, 3.0);
}

#[test]
fn histograms_use_the_explicit_buckets() {
    let text = exposition();
    let buckets = |name: &str| {
        samples(text)
            .into_iter()
            .filter(|(sample, _)| sample == &format!("{name}_bucket"))
            .filter_map(|(_, labels)| labels.into_iter().find(|(key, _)| key == "le"))
            .map(|(_, bound)| bound)
            .collect::<Vec<_>>()
    };
    assert_eq!(buckets("durgate_claim_latency_seconds").len(), 16);
    assert_eq!(buckets("durgate_store_commit_seconds").len(), 16);
    assert_eq!(buckets("durgate_adjudication_seconds").len(), 10);
    let batch = buckets("durgate_store_batch_records");
    assert_eq!(batch.first().map(String::as_str), Some("1"));
    assert_eq!(batch.last().map(String::as_str), Some("+Inf"));
}

#[test]
fn the_workload_reached_every_label_it_aimed_at() {
    let seen = series_seen(exposition());
    let missing: Vec<&&str> = WANTED_SERIES
        .iter()
        .filter(|series| !seen.contains(**series))
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?} in\n{}",
        exposition()
    );
}

#[test]
fn names_follow_prometheus_conventions() {
    for (name, kind) in families(exposition()) {
        assert!(name.starts_with("durgate_"), "{name}");
        let snake = name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        assert!(snake && !name.contains("__"), "{name} is not snake_case");
        match kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "{name}"),
            "histogram" => assert!(
                name.ends_with("_seconds") || name.ends_with("_records"),
                "{name} names no unit"
            ),
            "gauge" => assert!(!name.ends_with("_total"), "{name}"),
            other => panic!("{name} is a {other}: summaries and untyped are not used"),
        }
        for reserved in ["_bucket", "_sum", "_count"] {
            assert!(!name.ends_with(reserved), "{name}");
        }
    }
}

#[test]
fn every_family_has_help_text() {
    let text = exposition();
    let helped: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# HELP "))
        .filter_map(|rest| rest.split_once(' '))
        .filter(|(_, help)| !help.trim().is_empty())
        .map(|(name, _)| name)
        .collect();
    for name in families(text).keys() {
        assert!(helped.contains(name.as_str()), "{name} has no HELP");
    }
}

#[test]
fn labels_never_carry_claim_data() {
    let text = exposition();
    let allowed = allowed_labels();
    for (name, labels) in samples(text) {
        for (key, value) in labels {
            let Some(values) = allowed.get(key.as_str()) else {
                panic!("{name} has an unexpected label {key}");
            };
            if let Some(values) = values {
                assert!(values.contains(&value.as_str()), "{name}{{{key}={value}}}");
            }
        }
    }
    let sent = [
        BIN_SENT,
        build::PCN,
        PHARMACY_SENT,
        PRESCRIBER_SENT,
        CARDHOLDER_SENT,
        PATIENT_FIRST_NAME,
        PATIENT_LAST_NAME,
        "19610914",
        ATORVASTATIN_10MG,
        SIMVASTATIN_20MG,
        CLOPIDOGREL_75MG,
        OMEPRAZOLE_20MG,
        UNKNOWN_NDC,
    ];
    for value in sent {
        assert!(!text.contains(value), "{value} appears in /metrics");
    }
}

#[test]
fn promtool_accepts_the_exposition() {
    let Some(promtool) = observe::find_program("promtool") else {
        support::skip::skip("promtool is not installed (Debian package `prometheus`)");
        return;
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(exposition().as_bytes())
            .expect("write exposition");
    }
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool: {said}");
    assert_eq!(said.trim(), "", "promtool lint findings");
}

#[test]
fn every_metric_the_dashboard_queries_is_exported() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grafana/durgate.json");
    let text = std::fs::read_to_string(&path).expect("dashboard file");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut queries = Vec::new();
    collect_exprs(&dashboard, &mut queries);
    assert!(!queries.is_empty(), "the dashboard has no queries");
    let used: BTreeSet<String> = queries.iter().flat_map(|expr| metric_names(expr)).collect();
    let exported = families(exposition());
    let missing: Vec<&String> = used
        .iter()
        .filter(|name| !exported.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "dashboard queries unknown {missing:?}");
    assert!(used.len() >= 15, "only {used:?}");
}

/// Every `expr` string anywhere in the dashboard.
fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match inner {
                    serde_json::Value::String(expr) if key == "expr" => out.push(expr.clone()),
                    _ => collect_exprs(inner, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, out)),
        _ => {}
    }
}

/// `durgate_[a-z_]+` names in a query, histogram series suffixes stripped.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("durgate_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.push(family.to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn dashboard_names_are_read_as_families() {
    assert_eq!(
        metric_names("sum(rate(durgate_store_batch_records_sum[1m])) / durgate_claims_total"),
        ["durgate_store_batch_records", "durgate_claims_total"]
    );
}
