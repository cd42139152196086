//! The load engine: drives framed requests at a server and measures what comes back.
//!
//! Closed loop: `conns` connections each keep `depth` requests in flight, sending the next as
//! soon as a reply arrives — the throughput a fixed client population gets. Open loop: requests
//! are scheduled at a fixed total `rate` whatever the replies do, and latency is measured from
//! each request's *scheduled* send time, so a stalled server shows up as latency instead of
//! being hidden by the client slowing down (no coordinated omission). Latencies go into HDR
//! histograms (1 µs .. 60 s, 3 significant digits) merged at the end.
//!
//! Must never: send to anything but the address it is given, run unbounded (every loop ends at
//! the request count or the deadline), or buffer replies beyond the frame limit.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::limits;
use crate::wire::{self, FrameCodec, Framing};

/// Highest latency the histograms hold (µs).
const LATENCY_MAX_MICROS: u64 = 60_000_000;
/// Requests one open-loop connection may have outstanding; beyond it a scheduled request is
/// counted as `skipped` rather than queued without bound.
pub const OPEN_LOOP_IN_FLIGHT_MAX: usize = 4_096;
/// A request with no reply after this long fails its connection ("no reply within ...").
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Distinct failure reasons a run keeps; later new reasons are counted under "other".
pub const FAILURE_REASONS_MAX: usize = 16;

/// Where requests come from and how replies are labelled.
pub trait Source: Send + Sync + 'static {
    /// Appends the unframed transmission for request number `seq` to `out`.
    fn write_request(&self, seq: u64, out: &mut Vec<u8>);
    /// A fixed label for a reply (e.g. the transaction status), for the status counts.
    fn classify(&self, reply: &[u8]) -> &'static str;
}

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    Closed { conns: usize, depth: usize },
    Open { rate_per_sec: u64, conns: usize },
}

/// When the run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    After(Duration),
    Count(u64),
}

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct Plan {
    pub addr: SocketAddr,
    pub framing: Framing,
    pub pace: Pace,
    pub stop: Stop,
    /// TLS (or mutual TLS) on every connection; `None` = plain TCP.
    pub tls: Option<ClientTls>,
}

/// The client side of TLS: the connector (trust anchors, client certificate) and the name the
/// gateway's certificate must carry.
#[derive(Clone)]
pub struct ClientTls {
    pub connector: tokio_rustls::TlsConnector,
    pub server_name: tokio_rustls::rustls::pki_types::ServerName<'static>,
}

impl ClientTls {
    /// The client side of the handshake on a connected socket.
    pub async fn connect(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        self.connector
            .connect(self.server_name.clone(), stream)
            .await
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The read half of a connection, plain or TLS.
trait ReadHalf: AsyncRead + Unpin + Send + 'static {}
impl<T: AsyncRead + Unpin + Send + 'static> ReadHalf for T {}
/// The write half of a connection, plain or TLS.
trait WriteHalf: AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncWrite + Unpin + Send + 'static> WriteHalf for T {}

/// What a run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub target: String,
    pub sent: u64,
    pub completed: u64,
    pub skipped: u64,
    pub connection_errors: u64,
    /// Why connections failed, e.g. `connect: connection refused` → 3.
    pub failures: BTreeMap<String, u64>,
    pub elapsed_secs: f64,
    pub throughput_per_sec: f64,
    pub latency_micros: Percentiles,
    pub statuses: BTreeMap<String, u64>,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// Shared counters of a run (also read by the progress line).
#[derive(Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub completed: AtomicU64,
    pub skipped: AtomicU64,
    pub connection_errors: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Progress {
    /// Counts one failed connection and why (at most [`FAILURE_REASONS_MAX`] reasons).
    pub fn fail(&self, reason: String) {
        self.connection_errors.fetch_add(1, Ordering::Relaxed);
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|held| held.into_inner());
        let known = failures.contains_key(&reason) || failures.len() < FAILURE_REASONS_MAX;
        let key = if known { reason } else { "other".to_string() };
        *failures.entry(key).or_default() += 1;
    }

    fn failures(&self) -> BTreeMap<String, u64> {
        self.failures
            .lock()
            .unwrap_or_else(|held| held.into_inner())
            .clone()
    }
}

/// Why a connection stopped early, in words an operator can act on.
fn io_failure(step: &str, error: &std::io::Error) -> String {
    format!("{step}: {}", error.kind())
}

/// What waiting for one reply gave, as a failure reason when it gave no reply.
fn reply_failure<T, E: std::fmt::Display>(
    waited: Result<Option<Result<T, E>>, tokio::time::error::Elapsed>,
) -> Result<T, String> {
    match waited {
        Ok(Some(Ok(reply))) => Ok(reply),
        Ok(Some(Err(error))) => Err(format!("unreadable reply: {error}")),
        Ok(None) => Err("connection closed by the server".into()),
        Err(_) => Err(format!("no reply within {}s", REPLY_TIMEOUT.as_secs())),
    }
}

/// Per-connection results, merged at the end.
struct ConnStats {
    latency: Histogram<u64>,
    statuses: BTreeMap<&'static str, u64>,
}

impl ConnStats {
    fn new() -> ConnStats {
        // invariant: the bounds are constants (1 ≤ max, 3 significant digits), which hdrhistogram accepts.
        let latency = Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, 3)
            .expect("static histogram bounds are valid");
        ConnStats {
            latency,
            statuses: BTreeMap::new(),
        }
    }

    fn record(&mut self, since: Instant, label: &'static str) {
        let micros = since
            .elapsed()
            .as_micros()
            .clamp(1, u128::from(LATENCY_MAX_MICROS)) as u64;
        let _ = self.latency.record(micros);
        *self.statuses.entry(label).or_default() += 1;
    }
}

/// Hands out request numbers until the stop condition.
struct Budget {
    next_seq: AtomicU64,
    count: Option<u64>,
    deadline: Instant,
}

impl Budget {
    fn new(stop: Stop) -> Budget {
        let (count, run_for) = match stop {
            Stop::Count(count) => (Some(count), Duration::from_secs(24 * 3600)),
            Stop::After(duration) => (None, duration),
        };
        Budget {
            next_seq: AtomicU64::new(0),
            count,
            deadline: Instant::now() + run_for,
        }
    }

    fn take(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.count.is_none_or(|count| seq < count).then_some(seq)
    }
}

/// Runs one plan to its end and reports.
pub async fn run(plan: &Plan, source: Arc<dyn Source>, progress: Arc<Progress>) -> Report {
    let budget = Arc::new(Budget::new(plan.stop));
    let started = Instant::now();
    let conns = match plan.pace {
        Pace::Closed { conns, .. } | Pace::Open { conns, .. } => {
            conns.clamp(1, limits::CONNECTIONS_MAX)
        }
    };
    let tasks: Vec<_> = (0..conns)
        .map(|index| {
            let (plan, source, budget, progress) = (
                plan.clone(),
                source.clone(),
                budget.clone(),
                progress.clone(),
            );
            tokio::spawn(async move {
                drive_connection(&plan, index, conns, source, budget, progress).await
            })
        })
        .collect();
    let mut merged = ConnStats::new();
    for task in tasks {
        if let Ok(stats) = task.await {
            let _ = merged.latency.add(&stats.latency);
            stats
                .statuses
                .into_iter()
                .for_each(|(label, n)| *merged.statuses.entry(label).or_default() += n);
        }
    }
    report(plan, &merged, &progress, started.elapsed())
}

fn report(plan: &Plan, merged: &ConnStats, progress: &Progress, elapsed: Duration) -> Report {
    let completed = progress.completed.load(Ordering::Relaxed);
    let quantile = |q: f64| {
        if completed == 0 {
            0
        } else {
            merged.latency.value_at_quantile(q)
        }
    };
    Report {
        target: plan.addr.to_string(),
        sent: progress.sent.load(Ordering::Relaxed),
        completed,
        skipped: progress.skipped.load(Ordering::Relaxed),
        connection_errors: progress.connection_errors.load(Ordering::Relaxed),
        failures: progress.failures(),
        elapsed_secs: elapsed.as_secs_f64(),
        throughput_per_sec: completed as f64 / elapsed.as_secs_f64().max(1e-9),
        latency_micros: Percentiles {
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: merged.latency.max(),
            mean: merged.latency.mean(),
        },
        statuses: merged
            .statuses
            .iter()
            .map(|(label, n)| (label.to_string(), *n))
            .collect(),
    }
}

async fn drive_connection(
    plan: &Plan,
    index: usize,
    conns: usize,
    source: Arc<dyn Source>,
    budget: Arc<Budget>,
    progress: Arc<Progress>,
) -> ConnStats {
    let stream = match TcpStream::connect(plan.addr).await {
        Ok(stream) => stream,
        Err(error) => {
            progress.fail(io_failure("connect", &error));
            return ConnStats::new();
        }
    };
    let _ = stream.set_nodelay(true);
    let Some(tls) = &plan.tls else {
        let (read, write) = stream.into_split();
        return drive_halves(
            plan,
            (index, conns),
            (read, write),
            source,
            budget,
            progress,
        )
        .await;
    };
    match tls.connect(stream).await {
        Ok(secured) => {
            let halves = tokio::io::split(secured);
            drive_halves(plan, (index, conns), halves, source, budget, progress).await
        }
        Err(error) => {
            progress.fail(io_failure("tls handshake", &error));
            ConnStats::new()
        }
    }
}

/// Runs the plan's pace on one connection's halves (`place`: this connection's index of all).
async fn drive_halves(
    plan: &Plan,
    (index, conns): (usize, usize),
    (read, write): (impl ReadHalf, impl WriteHalf),
    source: Arc<dyn Source>,
    budget: Arc<Budget>,
    progress: Arc<Progress>,
) -> ConnStats {
    let result = match plan.pace {
        Pace::Closed { depth, .. } => {
            closed_loop(
                read,
                write,
                plan.framing,
                depth,
                &*source,
                &budget,
                &progress,
            )
            .await
        }
        Pace::Open { rate_per_sec, .. } => {
            let interval = open_loop_interval(rate_per_sec, conns);
            let offset = interval.mul_f64(index as f64 / conns as f64);
            open_loop(
                (read, write),
                plan.framing,
                interval,
                offset,
                source,
                &budget,
                progress.clone(),
            )
            .await
        }
    };
    result.unwrap_or_else(|(stats, reason)| {
        progress.fail(reason);
        *stats
    })
}

fn open_loop_interval(rate_per_sec: u64, conns: usize) -> Duration {
    let per_conn = (rate_per_sec.max(1) as f64 / conns as f64).max(1e-3);
    Duration::from_secs_f64(1.0 / per_conn)
}

fn frame_request(
    source: &dyn Source,
    framing: Framing,
    seq: u64,
    scratch: &mut Vec<u8>,
    out: &mut BytesMut,
) {
    scratch.clear();
    source.write_request(seq, scratch);
    wire::encode_frame(framing, scratch, out);
}

fn reply_reader<R: ReadHalf>(read: R, framing: Framing) -> FramedRead<R, FrameCodec> {
    FramedRead::new(read, FrameCodec::new(framing, limits::FRAME_BYTES_MAX, 0))
}

/// What a connection measured, and why it stopped early.
type Failed = (Box<ConnStats>, String);

/// Keeps `depth` requests in flight; `Err` carries what was measured before a socket failed.
async fn closed_loop(
    read: impl ReadHalf,
    mut write: impl WriteHalf,
    framing: Framing,
    depth: usize,
    source: &dyn Source,
    budget: &Budget,
    progress: &Progress,
) -> Result<ConnStats, Failed> {
    let mut replies = reply_reader(read, framing);
    let mut stats = ConnStats::new();
    let (mut scratch, mut out) = (Vec::new(), BytesMut::new());
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let mut refill = depth.clamp(1, limits::IN_FLIGHT_PER_CONNECTION_MAX);
    // Bounded by the budget: each pass sends at most `refill` and then consumes one reply.
    loop {
        let mut just_sent = 0u64;
        for _ in 0..refill {
            let Some(seq) = budget.take() else { break };
            frame_request(source, framing, seq, &mut scratch, &mut out);
            sent_at.push_back(Instant::now());
            just_sent += 1;
        }
        if just_sent > 0 {
            if let Err(error) = write.write_all(&out).await {
                return Err((Box::new(stats), io_failure("send", &error)));
            }
            progress.sent.fetch_add(just_sent, Ordering::Relaxed);
            out.clear();
        }
        let Some(since) = sent_at.pop_front() else {
            return Ok(stats);
        };
        match reply_failure(tokio::time::timeout(REPLY_TIMEOUT, replies.next()).await) {
            Ok(reply) => stats.record(since, source.classify(&reply)),
            Err(reason) => return Err((Box::new(stats), reason)),
        }
        progress.completed.fetch_add(1, Ordering::Relaxed);
        refill = 1;
    }
}

/// Sends on a fixed schedule; latency counts from the scheduled time.
async fn open_loop(
    (read, mut write): (impl ReadHalf, impl WriteHalf),
    framing: Framing,
    interval: Duration,
    offset: Duration,
    source: Arc<dyn Source>,
    budget: &Budget,
    progress: Arc<Progress>,
) -> Result<ConnStats, Failed> {
    let (times_tx, mut times_rx) = tokio::sync::mpsc::channel::<Instant>(OPEN_LOOP_IN_FLIGHT_MAX);
    let (reader_source, reader_progress) = (source.clone(), progress.clone());
    let reader = tokio::spawn(async move {
        let mut replies = reply_reader(read, framing);
        let mut stats = ConnStats::new();
        while let Some(scheduled) = times_rx.recv().await {
            let waited = tokio::time::timeout(REPLY_TIMEOUT, replies.next()).await;
            match reply_failure(waited) {
                Ok(reply) => stats.record(scheduled, reader_source.classify(&reply)),
                Err(reason) => return Err((Box::new(stats), reason)),
            }
            reader_progress.completed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(stats)
    });
    let sent = schedule_sends(
        &mut write, framing, interval, offset, &*source, budget, &progress, &times_tx,
    )
    .await;
    drop(times_tx);
    let read = reader
        .await
        .unwrap_or_else(|_| Err((Box::new(ConnStats::new()), "reply reader stopped".into())));
    match (sent, read) {
        (Ok(()), read) => read,
        (Err(reason), Ok(stats)) => Err((Box::new(stats), reason)),
        (Err(reason), Err((stats, _))) => Err((stats, reason)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn schedule_sends(
    write: &mut impl WriteHalf,
    framing: Framing,
    interval: Duration,
    offset: Duration,
    source: &dyn Source,
    budget: &Budget,
    progress: &Progress,
    times: &tokio::sync::mpsc::Sender<Instant>,
) -> Result<(), String> {
    let (mut scratch, mut out) = (Vec::new(), BytesMut::new());
    let mut scheduled = Instant::now() + offset;
    // Bounded by the budget: one request (or one skip) per scheduled slot.
    while let Some(seq) = budget.take() {
        tokio::time::sleep_until(scheduled).await;
        if times.try_send(scheduled).is_err() {
            progress.skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            frame_request(source, framing, seq, &mut scratch, &mut out);
            if let Err(error) = write.write_all(&out).await {
                return Err(io_failure("send", &error));
            }
            out.clear();
            progress.sent.fetch_add(1, Ordering::Relaxed);
        }
        scheduled += interval;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::connection::ConnectionSettings;
    use crate::server::echo::EchoServer;

    struct Numbers;

    impl Source for Numbers {
        fn write_request(&self, seq: u64, out: &mut Vec<u8>) {
            out.extend_from_slice(format!("request {seq}").as_bytes());
        }
        fn classify(&self, reply: &[u8]) -> &'static str {
            if reply.starts_with(b"request ") {
                "echoed"
            } else {
                "garbled"
            }
        }
    }

    async fn echo_server() -> EchoServer {
        let settings = ConnectionSettings {
            framing: Framing::StxEtx,
            frame_bytes_max: 1024,
            garbage_bytes_max: 0,
            in_flight: 64,
            read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            send_buffer_bytes: crate::limits::SEND_BUFFER_BYTES,
        };
        EchoServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), settings, 64)
            .await
            .unwrap()
    }

    fn plan(addr: SocketAddr, pace: Pace, stop: Stop) -> Plan {
        Plan {
            addr,
            framing: Framing::StxEtx,
            pace,
            stop,
            tls: None,
        }
    }

    #[tokio::test]
    async fn closed_loop_completes_exactly_the_count() {
        let server = echo_server().await;
        let plan = plan(
            server.addr,
            Pace::Closed { conns: 4, depth: 8 },
            Stop::Count(1_000),
        );
        let report = run(&plan, Arc::new(Numbers), Arc::new(Progress::default())).await;
        assert_eq!(
            (report.sent, report.completed, report.connection_errors),
            (1_000, 1_000, 0)
        );
        assert_eq!(report.statuses.get("echoed"), Some(&1_000));
        let latency = &report.latency_micros;
        assert!(latency.p50 >= 1 && latency.p50 <= latency.p99 && latency.p99 <= latency.max);
        server.stop().await;
    }

    #[tokio::test]
    async fn open_loop_keeps_its_schedule() {
        let server = echo_server().await;
        let plan = plan(
            server.addr,
            Pace::Open {
                rate_per_sec: 2_000,
                conns: 2,
            },
            Stop::Count(400),
        );
        let started = Instant::now();
        let report = run(&plan, Arc::new(Numbers), Arc::new(Progress::default())).await;
        assert_eq!(report.completed, 400);
        // 400 requests at 2000/s take about 200 ms of schedule; a run that ignored the
        // schedule would finish in a few milliseconds.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn an_unreachable_target_counts_connection_errors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let plan = plan(addr, Pace::Closed { conns: 3, depth: 1 }, Stop::Count(10));
        let report = run(&plan, Arc::new(Numbers), Arc::new(Progress::default())).await;
        assert_eq!((report.completed, report.connection_errors), (0, 3));
        let refused = report.failures.get("connect: connection refused");
        assert_eq!(refused, Some(&3), "{:?}", report.failures);
    }

    #[tokio::test]
    async fn a_server_that_closes_without_replying_is_a_named_failure() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = tokio::spawn(async move {
            for _ in 0..2 {
                let (socket, _) = listener.accept().await.unwrap();
                drop(socket);
            }
        });
        let plan = plan(addr, Pace::Closed { conns: 2, depth: 1 }, Stop::Count(10));
        let report = run(&plan, Arc::new(Numbers), Arc::new(Progress::default())).await;
        closer.await.unwrap();
        assert_eq!((report.completed, report.connection_errors), (0, 2));
        let reasons: Vec<&String> = report.failures.keys().collect();
        assert!(
            reasons.iter().all(
                |reason| reason.starts_with("connection closed") || reason.starts_with("send:")
            ),
            "{reasons:?}"
        );
    }

    #[test]
    fn failure_reasons_are_bounded() {
        let progress = Progress::default();
        for n in 0..FAILURE_REASONS_MAX + 5 {
            progress.fail(format!("reason {n}"));
        }
        progress.fail("reason 0".into());
        let failures = progress.failures();
        assert_eq!(failures.len(), FAILURE_REASONS_MAX + 1, "{failures:?}");
        assert_eq!(failures.get("other"), Some(&5));
        assert_eq!(failures.get("reason 0"), Some(&2));
    }

    #[tokio::test]
    async fn the_open_loop_counts_completions_as_replies_arrive() {
        let server = echo_server().await;
        let plan = plan(
            server.addr,
            Pace::Open {
                rate_per_sec: 200,
                conns: 1,
            },
            Stop::Count(100),
        );
        let progress = Arc::new(Progress::default());
        let running = {
            let (plan, progress) = (plan.clone(), progress.clone());
            tokio::spawn(async move { run(&plan, Arc::new(Numbers), progress).await })
        };
        // Half-way through the 500 ms schedule, replies have been counted already.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let midway = progress.completed.load(Ordering::Relaxed);
        let report = running.await.unwrap();
        assert!(midway > 0 && midway < 100, "midway {midway}");
        assert_eq!(report.completed, 100);
        server.stop().await;
    }
}
