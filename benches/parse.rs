//! Codec throughput on one core: raw parse, parse + validate, and request encoding, each
//! against a plain byte scan of the same bytes (counting separators with a simple loop).
//!
//! Input: `DURGATE_CORPUS=FILE` (STX…ETX frames; the requests among them are used), else
//! the requests in `ncpdp-samples/ok`. Each measurement loops over the messages for about
//! 1.5 s and keeps the best of five 0.3 s windows. The last stdout line is JSON:
//! `{"n_messages":N,"parse_msgs_per_sec":X,"serialize_msgs_per_sec":Y,"byte_scan_ratio":Z}`
//! where `byte_scan_ratio` = time to parse / time to byte-scan the same messages.
//!
//! Run: `cargo bench --bench parse`.

use durgate::claim::Transmission;
use durgate::ncpdp::{encode_request, parse, read_request, Kind};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// One measurement: the best of `WINDOWS` windows of `WINDOW` each (about 1.5 s in all), so
/// a burst of other work on a shared machine does not count as the codec's cost.
const WINDOW: Duration = Duration::from_millis(300);
const WINDOWS: usize = 5;

fn main() {
    let messages = load();
    assert!(!messages.is_empty(), "no request to measure");
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "{} requests, {:.0} bytes on average",
        messages.len(),
        bytes as f64 / messages.len() as f64
    );
    let typed: Vec<Transmission> = messages
        .iter()
        .filter_map(|m| read_request(m).ok()?.1.into_transmission().ok())
        .collect();

    let scan = measure(&messages, |m| {
        m.iter().filter(|b| matches!(**b, 0x1c..=0x1e)).count()
    });
    let parsed = measure(&messages, |m| {
        parse(m).map_or(0, |message| message.groups.len())
    });
    let validated = measure(&messages, |m| {
        read_request(m).map_or(0, |(_, v)| v.transactions.len())
    });
    let mut out = Vec::with_capacity(8 * 1024);
    let serialized = measure(&typed, |t| {
        out.clear();
        encode_request(t, &mut out);
        out.len()
    });
    report("byte scan", scan);
    report("parse", parsed);
    report("parse + validate", validated);
    report("serialize (encode_request)", serialized);
    if std::env::var_os("DURGATE_CORPUS").is_none() {
        typical_b1();
    }
    let ratio = scan / parsed;
    println!(
        "{{\"n_messages\":{},\"parse_msgs_per_sec\":{:.0},\"serialize_msgs_per_sec\":{:.0},\"byte_scan_ratio\":{:.2}}}",
        messages.len(),
        parsed,
        serialized,
        ratio
    );
}

/// The single-transaction B1 sample alone (the "typical B1" of the target).
fn typical_b1() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ncpdp-samples/ok/b1-single.d0");
    let Ok(b1) = std::fs::read(path) else { return };
    let one = vec![b1];
    report(
        "typical B1: parse",
        measure(&one, |m| parse(m).map_or(0, |message| message.groups.len())),
    );
    let validate = measure(&one, |m| {
        read_request(m).map_or(0, |(_, v)| v.transactions.len())
    });
    report("typical B1: parse + validate", validate);
}

/// Items processed per second in the best of `WINDOWS` windows.
fn measure<T>(items: &[T], mut work: impl FnMut(&T) -> usize) -> f64 {
    (0..WINDOWS)
        .map(|_| window(items, &mut work))
        .fold(0.0, f64::max)
}

/// Items processed per second, looping over `items` until `WINDOW` has passed.
fn window<T>(items: &[T], work: &mut impl FnMut(&T) -> usize) -> f64 {
    let mut done = 0u64;
    let start = Instant::now();
    while start.elapsed() < WINDOW {
        for _ in 0..64 {
            for item in items {
                black_box(work(black_box(item)));
            }
        }
        done += 64 * items.len() as u64;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn report(what: &str, per_second: f64) {
    println!(
        "{what:>32}: {:>12.0} msgs/s  {:>8.1} ns/msg",
        per_second,
        1e9 / per_second
    );
}

fn load() -> Vec<Vec<u8>> {
    match std::env::var_os("DURGATE_CORPUS") {
        Some(path) => frames(&std::fs::read(path).expect("readable corpus")),
        None => ok_samples(),
    }
    .into_iter()
    .filter(|m| parse(m).is_ok_and(|message| message.kind == Kind::Request))
    .collect()
}

/// The payloads of the STX…ETX frames in a corpus file.
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut rest = bytes;
    while let Some(start) = rest.iter().position(|b| *b == 0x02) {
        let after = &rest[start + 1..];
        let Some(end) = after.iter().position(|b| *b == 0x03) else {
            break;
        };
        found.push(after[..end].to_vec());
        rest = &after[end + 1..];
    }
    found
}

fn ok_samples() -> Vec<Vec<u8>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("ncpdp-samples/ok");
    let mut paths: Vec<_> = std::fs::read_dir(folder)
        .expect("samples")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "d0"))
        .map(|p| std::fs::read(p).expect("sample"))
        .collect()
}
