//! JSON logs: `durgate serve --log-format json` as a child process writes one JSON object per
//! stderr line, and every answered transaction is logged inside its transmission span with the
//! pharmacy id and transaction code, with the status as an event field.
//!
//! The child is started by a small launcher of this file ([`Served`]): it reads the claim
//! address from the "gateway serving" line, collects stderr on a thread, stops the child with
//! SIGTERM and kills it from `Drop` if a test fails first.

mod observe;
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use durgate::ncpdp::build::{self, ClaimBuilder};
use serde_json::Value;
use support::{statuses, Client, ATORVASTATIN_10MG, SIMVASTATIN_20MG};

/// How long the child may take to start serving, or to stop after SIGTERM.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of stderr kept (far more than the story writes).
const LINES_MAX: usize = 10_000;
const PHARMACY_SENT: &str = "1992741836";

/// A `durgate serve` child process and the stderr lines it wrote so far.
struct Served {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// `durgate serve` on loopback port 0 with a temp store, the sample rules and `extra` flags.
    fn start(extra: &[&str]) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = format!("sqlite:{}", dir.path().join("claims.db").display());
        let rules = support::sample_rules();
        let mut command = Command::new(env!("CARGO_BIN_EXE_durgate"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .args(["--store", &store])
            .arg("--rules")
            .arg(&rules)
            .args(extra)
            .env("RUST_LOG", "info,durgate::server::pipeline=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("durgate serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        Served {
            child,
            lines: read_lines(stderr),
            seen: Vec::new(),
            _dir: dir,
        }
    }

    /// Waits for the first line that `wanted` picks something out of.
    fn wait_for<T>(&mut self, what: &str, wanted: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let mut checked = 0;
        loop {
            if let Some(found) = self.seen[checked..].iter().find_map(|line| wanted(line)) {
                return found;
            }
            checked = self.seen.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.keep(line),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {CHILD_TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("stderr closed before {what}"),
            }
        }
    }

    fn keep(&mut self, line: String) {
        if self.seen.len() < LINES_MAX {
            self.seen.push(line);
        }
    }

    /// SIGTERM, then every line written until the child exited.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(signalled.is_ok_and(|status| status.success()), "kill -TERM");
        let deadline = Instant::now() + CHILD_TIMEOUT;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.keep(line),
                Err(_) => break,
            }
        }
        let status = self.child.wait().expect("the child ends");
        assert!(status.success(), "durgate serve exited with {status}");
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Already reaped after `stop`; otherwise a failed test must not leave it running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Forwards each stderr line to the receiver until EOF (the thread ends with the child).
fn read_lines(stderr: std::process::ChildStderr) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The claim address from the JSON "gateway serving" line (`claims` is `[addr, ...]`).
fn serving_address(line: &str) -> Option<SocketAddr> {
    let event: Value = serde_json::from_str(line).ok()?;
    let fields = event.get("fields")?;
    if fields.get("message")?.as_str()? != "gateway serving" {
        return None;
    }
    let claims = fields.get("claims")?.as_str()?;
    let first = claims.trim_matches(['[', ']']).split(',').next()?;
    first.trim().parse().ok()
}

fn b1(cardholder: &str, rx: u64, ndc: &str) -> ClaimBuilder {
    ClaimBuilder::b1()
        .provider_id(PHARMACY_SENT)
        .cardholder(cardholder)
        .rx(rx)
        .ndc(ndc)
}

async fn expect(client: &mut Client, builder: ClaimBuilder, want: &str) {
    let reply = client.send(&builder.encode()).await;
    assert_eq!(statuses(&reply), want, "reply {reply:?}");
}

/// Paid, duplicate, DUR reject, approved reversal, eligibility: (code, status) of each.
async fn send_claims(addr: SocketAddr) -> Vec<(String, String)> {
    let mut client = Client::connect(addr).await;
    let client = &mut client;
    expect(client, b1("LOGJ0001", 910_001, ATORVASTATIN_10MG), "P").await;
    expect(client, b1("LOGJ0001", 910_001, ATORVASTATIN_10MG), "D").await;
    expect(client, b1("LOGJ0001", 910_002, SIMVASTATIN_20MG), "R").await;
    let reversal = ClaimBuilder::b2()
        .provider_id(PHARMACY_SENT)
        .cardholder("LOGJ0001")
        .rx(910_001)
        .ndc(ATORVASTATIN_10MG);
    expect(client, reversal, "A").await;
    let eligibility = ClaimBuilder::e1()
        .provider_id(PHARMACY_SENT)
        .cardholder("LOGJ0002");
    expect(client, eligibility, "A").await;
    [
        ("B1", "paid"),
        ("B1", "duplicate"),
        ("B1", "rejected"),
        ("B2", "approved"),
        ("E1", "approved"),
    ]
    .map(|(code, status)| (code.to_string(), status.to_string()))
    .to_vec()
}

/// (code, status) of an "transaction answered" event, after checking its span.
fn answered(event: &Value) -> Option<(String, String)> {
    let fields = event.get("fields")?;
    if fields.get("message")?.as_str()? != "transaction answered" {
        return None;
    }
    let span = event
        .get("span")
        .expect("an answer is logged inside a span");
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(String::from);
    assert_eq!(
        text(span, "name").as_deref(),
        Some("transmission"),
        "{event}"
    );
    assert_eq!(
        text(span, "pharmacy").as_deref(),
        Some(PHARMACY_SENT),
        "{event}"
    );
    let code = text(span, "code").expect("the span carries the transaction code");
    let status = text(fields, "status").expect("the event carries the status");
    Some((code, status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_transmission_span() {
    // Not the builder's default: the span's pharmacy must come from the claims sent.
    assert_ne!(PHARMACY_SENT, build::PHARMACY_ID);
    let mut served = Served::start(&["--log-format", "json"]);
    let addr = served.wait_for("gateway serving line", serving_address);
    let sent = send_claims(addr).await;
    let lines = served.stop();
    let events: Vec<Value> = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(events.iter().all(Value::is_object), "{lines:?}");
    let logged: Vec<(String, String)> = events.iter().filter_map(answered).collect();
    assert_eq!(logged, sent);
    let stopped = events.iter().any(|event| {
        event.pointer("/fields/message").and_then(Value::as_str)
            == Some("claim store committed and closed")
    });
    assert!(stopped, "no clean shutdown line in {lines:?}");
}

#[test]
fn the_launcher_reads_the_claim_address() {
    let line = r#"{"level":"INFO","fields":{"message":"gateway serving","claims":"[127.0.0.1:4100, 127.0.0.1:4101]","admin":"Some(127.0.0.1:4102)"}}"#;
    assert_eq!(
        serving_address(line),
        Some("127.0.0.1:4100".parse().unwrap())
    );
    assert_eq!(serving_address(r#"{"fields":{"message":"other"}}"#), None);
}

/// A peer sending unreadable frames at will gets no log line per frame: the "not a D.0
/// request" line is sampled (at most one a second, with the count left out), the metric counts
/// them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_frames_do_not_write_one_log_line_each() {
    use tokio::io::AsyncWriteExt;
    const FRAMES_SENT: usize = 2_000;
    let mut served = Served::start(&["--log-format", "json"]);
    let addr = served.wait_for("gateway serving line", serving_address);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let junk: Vec<u8> = (0..FRAMES_SENT)
        .flat_map(|_| *b"\x02not a claim at all\x03")
        .collect();
    stream.write_all(&junk).await.expect("send");
    // A readable claim afterwards proves every junk frame before it was read.
    let mut client = Client::connect(addr).await;
    expect(&mut client, b1("ZZ000777001", 1, ATORVASTATIN_10MG), "P").await;
    drop(stream);
    let lines = served.stop();
    let junk_lines = lines
        .iter()
        .filter(|line| line.contains("not a D.0 request"))
        .count();
    assert!(
        (1..=5).contains(&junk_lines),
        "{junk_lines} log lines for {FRAMES_SENT} unreadable frames"
    );
}
