//! A real Prometheus server scrapes the gateway's admin address on loopback every second; the
//! claim counters are read back through its HTTP query API (`/api/v1/query`) and must hold the
//! exact number of claims sent.
//!
//! When the `prometheus` binary is absent (Debian package `prometheus`; `.ci/run` installs it)
//! the test skips with the reason (`support::skip`; a failure under
//! `DURGATE_REQUIRE_SERVICES=1`). The Prometheus child is killed by a guard, also when an
//! assertion fails. The metrics recorder is process-global: this binary starts one gateway.

mod observe;
mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use durgate::ncpdp::build::ClaimBuilder;
use support::{start_gateway, statuses, Client, ATORVASTATIN_10MG, SIMVASTATIN_20MG};

/// How long a value may take to show up in Prometheus (start-up, first scrape, query).
const SHOW_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two queries while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A Prometheus server running as a child process; dropping it kills the child.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` scraping `target` every second, with its data in a temp folder.
    fn start(binary: &Path, target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(target)).expect("write prometheus.yml");
        let log = dir.path().join("prometheus.log");
        let addr = free_loopback_addr();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    /// The value of an instant query that returns one sample; `None` while there is none
    /// (Prometheus not up yet, not scraped yet, or the series does not exist).
    async fn query(&self, promql: &str) -> Option<f64> {
        let path = format!(
            "/api/v1/query?query={}",
            observe::http::encode_query(promql)
        );
        let reply = observe::http::get(self.addr, &path).await.ok()?;
        let answer: serde_json::Value = serde_json::from_str(&reply.body).ok()?;
        let result = answer.pointer("/data/result")?.as_array()?;
        match result.as_slice() {
            [sample] => sample.pointer("/value/1")?.as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Polls `promql` until it has a value satisfying `ready` (bounded by [`SHOW_UP_TIMEOUT`]).
    async fn wait_for(&self, promql: &str, ready: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + SHOW_UP_TIMEOUT;
        loop {
            match self.query(promql).await {
                Some(value) if ready(value) => return value,
                _ if Instant::now() >= deadline => panic!(
                    "{promql} did not show up within {SHOW_UP_TIMEOUT:?}; prometheus said:\n{}",
                    self.log_tail()
                ),
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Polls until `promql` shows a value at all.
    async fn value(&self, promql: &str) -> f64 {
        self.wait_for(promql, |_| true).await
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scrape_config(target: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: durgate\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

fn log_file(path: &Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("prometheus log file");
    Stdio::from(file)
}

/// A loopback port free a moment ago (Prometheus binds it right after).
fn free_loopback_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

fn b1(cardholder: &str, rx: u64, ndc: &str) -> Vec<u8> {
    ClaimBuilder::b1()
        .cardholder(cardholder)
        .rx(rx)
        .ndc(ndc)
        .encode()
}

async fn expect(client: &mut Client, transmission: Vec<u8>, want: &str) {
    let reply = client.send(&transmission).await;
    assert_eq!(statuses(&reply), want, "reply {reply:?}");
}

/// Three paid, one duplicate, one DUR reject, one approved reversal.
async fn first_claims(client: &mut Client) {
    expect(client, b1("PROM0001", 700_001, ATORVASTATIN_10MG), "P").await;
    expect(client, b1("PROM0002", 700_002, ATORVASTATIN_10MG), "P").await;
    expect(client, b1("PROM0003", 700_003, ATORVASTATIN_10MG), "P").await;
    expect(client, b1("PROM0001", 700_001, ATORVASTATIN_10MG), "D").await;
    expect(client, b1("PROM0001", 700_004, SIMVASTATIN_20MG), "R").await;
    let reversal = ClaimBuilder::b2()
        .cardholder("PROM0003")
        .rx(700_003)
        .ndc(ATORVASTATIN_10MG);
    expect(client, reversal.encode(), "A").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_exact_claim_counts() {
    let Some(binary) = observe::find_program("prometheus") else {
        support::skip::skip("the prometheus binary is not on PATH (Debian package `prometheus`)");
        return;
    };
    let gateway = start_gateway().await;
    let mut client = gateway.client().await;
    first_claims(&mut client).await;
    let prometheus = Prometheus::start(&binary, gateway.admin);
    let paid = r#"durgate_claims_total{job="durgate",transaction_code="B1",status="paid"}"#;
    assert_eq!(prometheus.value(paid).await, 3.0);
    let counts = [
        // Summed: every code's series exists from start-up, at zero until used.
        (r#"sum(durgate_claims_total{status="duplicate"})"#, 1.0),
        (r#"sum(durgate_claims_total{status="rejected"})"#, 1.0),
        (
            r#"durgate_claims_total{transaction_code="B2",status="approved"}"#,
            1.0,
        ),
        (r#"durgate_duplicates_total"#, 1.0),
        (r#"durgate_reject_codes_total{family="dur"}"#, 1.0),
        (
            r#"durgate_dur_conflicts_total{edit="duplication",action="reject"}"#,
            1.0,
        ),
        (r#"durgate_reversals_total{outcome="approved"}"#, 1.0),
        (r#"sum(durgate_claim_latency_seconds_count)"#, 6.0),
        (
            r#"durgate_rules_info{id="open-dur-sample",version="2026.12.2"}"#,
            1.0,
        ),
        (r#"up{job="durgate"}"#, 1.0),
    ];
    for (promql, want) in counts {
        assert_eq!(prometheus.value(promql).await, want, "{promql}");
    }
    // A claim sent while Prometheus is scraping shows up in a later scrape.
    expect(&mut client, b1("PROM0004", 700_005, ATORVASTATIN_10MG), "P").await;
    assert_eq!(prometheus.wait_for(paid, |value| value > 3.0).await, 4.0);
    drop(prometheus);
    gateway.stop().await;
}
