//! The store's single writer thread: group commit.
//!
//! Takes jobs from the bounded queue, gathers up to the batch bound of commit jobs that are
//! already waiting, writes each transmission under its own savepoint in one `BEGIN IMMEDIATE`
//! transaction, commits (one WAL fsync with `synchronous=FULL`) and only then answers every
//! submitter. A flush marker is answered after everything queued before it; the shutdown marker
//! closes the queue, so the loop drains what is buffered (at most the queue depth) and ends.
//! Must never answer a submitter before its batch committed, or block on anything but the
//! queue and the database.

use crate::store::record::TransmissionRecord;
use crate::store::{sql, CommitReceipt, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the writer answers a commit with.
pub(super) type Reply = oneshot::Sender<Result<CommitReceipt, StoreError>>;

/// One queued item.
pub(super) enum Job {
    Commit {
        record: TransmissionRecord,
        reply: Reply,
    },
    Flush(oneshot::Sender<()>),
    Shutdown,
}

/// A commit waiting in the current batch.
struct Pending {
    record: TransmissionRecord,
    reply: Reply,
}

/// A marker that ended the gathering of a batch.
enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown,
}

/// Counters the store reads for [`crate::store::StoreStats`].
#[derive(Default)]
pub(super) struct Counters {
    /// Told the size and commit time of every batch (set once by the embedding server).
    pub observer: std::sync::OnceLock<crate::store::BatchObserver>,
    pub batches_committed: AtomicU64,
    pub batches_failed: AtomicU64,
    pub records_committed: AtomicU64,
    pub records_refused: AtomicU64,
}

/// The writer thread's body: runs until the queue is closed and drained.
pub(super) fn run(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    batch_records_max: usize,
) {
    let mut batch = Vec::with_capacity(batch_records_max);
    while let Some(first) = jobs.blocking_recv() {
        let control = gather(&mut jobs, first, &mut batch, batch_records_max);
        commit_and_answer(&mut conn, &mut batch, &counters);
        match control {
            Some(Control::Flush(reply)) => drop(reply.send(())),
            Some(Control::Shutdown) => jobs.close(),
            None => {}
        }
    }
}

/// Moves commit jobs into `batch` until it is full, the queue is empty, or a marker arrives.
fn gather(
    jobs: &mut mpsc::Receiver<Job>,
    first: Job,
    batch: &mut Vec<Pending>,
    batch_records_max: usize,
) -> Option<Control> {
    let mut next = Some(first);
    while let Some(job) = next {
        match job {
            Job::Commit { record, reply } => batch.push(Pending { record, reply }),
            Job::Flush(reply) => return Some(Control::Flush(reply)),
            Job::Shutdown => return Some(Control::Shutdown),
        }
        if batch.len() >= batch_records_max {
            return None;
        }
        next = jobs.try_recv().ok();
    }
    None
}

/// Commits the batch and answers each submitter; a failed commit fails every record in it.
fn commit_and_answer(conn: &mut Connection, batch: &mut Vec<Pending>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let committed = commit_batch(conn, batch);
    if let Some(observer) = counters.observer.get() {
        observer(batch.len(), started.elapsed());
    }
    match committed {
        Ok(results) => {
            count_committed(counters, &results);
            for (pending, result) in batch.drain(..).zip(results) {
                drop(pending.reply.send(result));
            }
        }
        Err(error) => {
            counters.batches_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(records = batch.len(), %error, "claim store batch failed");
            let reason = error.to_string();
            for pending in batch.drain(..) {
                drop(pending.reply.send(Err(StoreError::Commit(reason.clone()))));
            }
        }
    }
}

fn count_committed(counters: &Counters, results: &[Result<CommitReceipt, StoreError>]) {
    let committed = results.iter().filter(|result| result.is_ok()).count() as u64;
    let refused = results.len() as u64 - committed;
    counters.batches_committed.fetch_add(1, Ordering::Relaxed);
    counters
        .records_committed
        .fetch_add(committed, Ordering::Relaxed);
    counters
        .records_refused
        .fetch_add(refused, Ordering::Relaxed);
}

/// One write transaction for the whole batch; each record under its own savepoint.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Pending],
) -> rusqlite::Result<Vec<Result<CommitReceipt, StoreError>>> {
    let mut transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for pending in batch {
        results.push(write_atomically(&mut transaction, &pending.record));
        if transaction.is_autocommit() {
            return Err(rolled_back());
        }
    }
    transaction.commit()?;
    Ok(results)
}

/// SQLite rolls the whole transaction back on some errors (disk full, I/O); the records
/// written before would be lost, so the batch as a whole fails.
fn rolled_back() -> rusqlite::Error {
    let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT);
    rusqlite::Error::SqliteFailure(code, Some("write transaction rolled back by SQLite".into()))
}

/// Writes one transmission, all of its rows or none.
fn write_atomically(
    transaction: &mut Transaction<'_>,
    record: &TransmissionRecord,
) -> Result<CommitReceipt, StoreError> {
    let savepoint = transaction.savepoint().map_err(commit_error)?;
    // On `Err` the savepoint is dropped, which rolls it back.
    let receipt = sql::write_transmission(&savepoint, record).map_err(|error| match error {
        StoreError::Sqlite(error) => commit_error(error),
        refused => refused,
    })?;
    savepoint.commit().map_err(commit_error)?;
    Ok(receipt)
}

fn commit_error(error: rusqlite::Error) -> StoreError {
    StoreError::Commit(error.to_string())
}
