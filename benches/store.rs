//! Throughput and latency of the SQLite claim store's group commit.
//!
//! Commits paid B1 records into a fresh store file under `target/tmp` (a real disk, so every
//! batch pays its fsync): first one at a time (one fsync per record), then with many submitters
//! at once, as the server's connections would. Prints records per second, batches, the mean
//! batch size, commit latency percentiles and the writer thread's CPU time per record (from
//! `/proc`; for information, never asserted). The last stdout line is JSON.
//!
//! Run: `cargo bench --bench store`.

use durgate::claim::{Status, TransactionCode};
use durgate::store::{
    ClaimStore, RecordKind, SqliteStore, StoreOptions, TransactionRecord, TransmissionRecord,
};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERIAL_RECORDS: u64 = 300;
const CONCURRENT_RECORDS: u64 = 100_000;
const SUBMITTERS: usize = 512;
/// Records per commit: near the gateway's own batches under closed 64×1 load (53 on average).
const BATCH_RECORDS: usize = 64;

/// The store stories' record builders (`tests/support/records.rs`), shared with the bench.
#[path = "../tests/support/records.rs"]
#[allow(dead_code)]
mod records;

fn record(number: u64) -> TransmissionRecord {
    let date_of_service = records::day(0);
    let transaction = TransactionRecord {
        date_written: Some(date_of_service),
        ruleset: Arc::from("sample@1"),
        ..records::transaction(RecordKind::Claim, number, date_of_service, Status::Paid)
    };
    TransmissionRecord {
        received_at_ms: 1_740_000_000_000,
        transaction_code: TransactionCode::B1,
        bin: "610011".into(),
        pcn: "DURGATE".into(),
        pharmacy_id: format!("{:010}", number % 5_000),
        patient_key: Some(records::patient((number % 200_000) as u32)),
        patient_age_years: Some(75),
        transactions: vec![transaction],
        patient_head: None,
    }
}

/// Commits records `first..first + count` with `submitters` in flight; returns latencies.
async fn commit_all(
    store: &Arc<SqliteStore>,
    first: u64,
    count: u64,
    submitters: usize,
) -> Vec<Duration> {
    let commits = futures::stream::iter(first..first + count).map(|number| {
        let store = Arc::clone(store);
        async move {
            let started = Instant::now();
            let outcome = store.commit(record(number)).await;
            (outcome.is_ok(), started.elapsed())
        }
    });
    let results: Vec<(bool, Duration)> = commits.buffer_unordered(submitters).collect().await;
    let failed = results.iter().filter(|(ok, _)| !ok).count();
    if failed > 0 {
        println!("warning: {failed} commits failed");
    }
    results.into_iter().map(|(_, latency)| latency).collect()
}

/// CPU time (user + system) of this process's store writer thread so far, from
/// `/proc/self/task/*/stat` (Linux; `None` elsewhere). The kernel keeps 15 bytes of a thread
/// name, so the writer (`durgate-store-writer`) shows as `durgate-store-w`.
fn writer_cpu() -> Option<Duration> {
    let ticks_per_second = 100.0; // USER_HZ, 100 on every Linux this runs on
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "durgate-store-w" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        return Some(Duration::from_secs_f64(ticks / ticks_per_second));
    }
    None
}

fn percentile_us(latencies: &mut [Duration], percent: usize) -> u128 {
    latencies.sort_unstable();
    let position = (latencies.len() * percent / 100).min(latencies.len().saturating_sub(1));
    latencies.get(position).map_or(0, Duration::as_micros)
}

fn main() {
    let folder =
        tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir under target/tmp");
    let store = Arc::new(
        SqliteStore::open(
            &folder.path().join("bench.db"),
            StoreOptions {
                batch_records_max: BATCH_RECORDS,
                ..StoreOptions::default()
            },
        )
        .expect("open"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let started = Instant::now();
    let mut serial = runtime.block_on(commit_all(&store, 0, SERIAL_RECORDS, 1));
    let serial_per_second = SERIAL_RECORDS as f64 / started.elapsed().as_secs_f64();
    println!(
        "one at a time: {SERIAL_RECORDS} records, {serial_per_second:.0}/s, p50 {} us",
        percentile_us(&mut serial, 50)
    );

    let batches_before = store.stats().batches_committed;
    let writer_cpu_before = writer_cpu();
    let started = Instant::now();
    let mut latencies = runtime.block_on(commit_all(
        &store,
        SERIAL_RECORDS,
        CONCURRENT_RECORDS,
        SUBMITTERS,
    ));
    let elapsed = started.elapsed();
    let batches = store.stats().batches_committed - batches_before;
    let writer_us_per_record = writer_cpu()
        .zip(writer_cpu_before)
        .map_or(0.0, |(after, before)| {
            (after - before).as_secs_f64() * 1e6 / CONCURRENT_RECORDS as f64
        });
    let per_second = CONCURRENT_RECORDS as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (
        percentile_us(&mut latencies, 50),
        percentile_us(&mut latencies, 99),
    );
    println!(
        "{SUBMITTERS} submitters: {CONCURRENT_RECORDS} records in {elapsed:.2?}, {per_second:.0}/s, \
         {batches} batches ({:.1} records each), commit p50 {p50} us, p99 {p99} us, writer CPU {writer_us_per_record:.1} us per record",
        CONCURRENT_RECORDS as f64 / batches.max(1) as f64
    );
    store.close().expect("close");
    println!(
        "{{\"records\":{CONCURRENT_RECORDS},\"batches\":{batches},\"records_per_second\":{per_second:.0},\
         \"serial_records_per_second\":{serial_per_second:.0},\"commit_p50_us\":{p50},\"commit_p99_us\":{p99},\"writer_cpu_us_per_record\":{writer_us_per_record:.1}}}"
    );
}
