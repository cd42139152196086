//! `durgate loadgen`: paced claim load against a gateway, with an echo baseline in the same run.
//!
//! Tier 3. [`engine`] drives framed requests (closed loop `--conns`×`--depth`, or open loop at
//! `--rate`) and measures latency into HDR histograms; the sources decide what is sent: a corpus
//! file of STX/ETX frames replayed in order ([`CorpusSource`]), or a synthetic claim workload
//! built from a rule-table folder. With `--echo-baseline` the same load first runs against a
//! bare framed echo server started in-process (`server::echo`), then against the gateway, and
//! the report gives both and the ratio gateway/echo — the physical limit of this machine,
//! measured in the same run.
//!
//! Must never: target anything but the address given (loopback in every documented command),
//! or run without a bound (every run ends at `--count` or `--duration`).

pub mod engine;
pub mod workload;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub use engine::{Pace, Plan, Progress, Report, Source, Stop};

use crate::wire;

/// Replays the transmissions of a corpus file (STX/ETX frames), cycling when the run is longer.
/// A second pass over the same claims meets duplicates (status D): that is what it measures.
pub struct CorpusSource {
    frames: Vec<Vec<u8>>,
    classify: fn(&[u8]) -> &'static str,
}

impl CorpusSource {
    /// `None` when the bytes hold no usable frame.
    pub fn new(corpus: &[u8], classify: fn(&[u8]) -> &'static str) -> Option<CorpusSource> {
        let frames = wire::split_file_frames(corpus).ok()?;
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .filter(|f| !f.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        (!frames.is_empty()).then_some(CorpusSource { frames, classify })
    }
}

impl Source for CorpusSource {
    fn write_request(&self, seq: u64, out: &mut Vec<u8>) {
        let frame = &self.frames[(seq % self.frames.len() as u64) as usize];
        out.extend_from_slice(frame);
    }

    fn classify(&self, reply: &[u8]) -> &'static str {
        (self.classify)(reply)
    }
}

/// The echo side of a baseline: sends what the real source sends, labels every reply "echo".
pub struct EchoOf(pub Arc<dyn Source>);

impl Source for EchoOf {
    fn write_request(&self, seq: u64, out: &mut Vec<u8>) {
        self.0.write_request(seq, out);
    }

    fn classify(&self, _reply: &[u8]) -> &'static str {
        "echo"
    }
}

/// Prints a live progress line to stderr once a second until `done` resolves.
pub async fn with_progress<F: std::future::Future<Output = Report>>(
    label: &str,
    progress: Arc<Progress>,
    run: F,
) -> Report {
    let printer = {
        let (label, progress) = (label.to_string(), progress.clone());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.tick().await;
            let mut last = 0u64;
            // Bounded: aborted when the run ends.
            loop {
                ticker.tick().await;
                let completed = progress.completed.load(Ordering::Relaxed);
                let sent = progress.sent.load(Ordering::Relaxed);
                eprint!(
                    "\r{label}: sent {sent} completed {completed} ({}/s)   ",
                    completed.saturating_sub(last)
                );
                let _ = std::io::stderr().flush();
                last = completed;
            }
        })
    };
    let report = run.await;
    printer.abort();
    eprintln!();
    report
}

/// Renders a report as a small human table.
pub fn render_report(label: &str, report: &Report) -> String {
    let latency = &report.latency_micros;
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(status, n)| format!("{status}={n}"))
        .collect();
    format!(
        "{label:<8} {:>10.0} req/s  completed {:>9}  p50 {:>7}µs  p90 {:>7}µs  p99 {:>7}µs  p99.9 {:>7}µs  max {:>8}µs  errors {}  skipped {}  [{}]",
        report.throughput_per_sec,
        report.completed,
        latency.p50,
        latency.p90,
        latency.p99,
        latency.p999,
        latency.max,
        report.connection_errors,
        report.skipped,
        statuses.join(" ")
    )
}
