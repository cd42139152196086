//! The store's single writer thread: group commit.
//!
//! Takes jobs from the bounded queue and gathers up to the batch bound of commit jobs: those
//! already waiting, then — while the next one arrives within `STORE_GATHER_LINGER`, and for at
//! most `STORE_GATHER_WINDOW` in all — those arriving. A disk flush costs milliseconds on
//! ordinary disks, while the replies of one batch bring the clients' next requests within a few
//! hundred microseconds: the short linger lets them share the next flush instead of splitting
//! the in-flight claims into small alternating batches. Writes the batch in one `BEGIN IMMEDIATE`
//! transaction — first without savepoints; if some record is refused (a race caught by the
//! store), the batch is rolled back and written again with each record under its own savepoint,
//! so the refused one leaves no rows and the others still commit — commits (one WAL fsync with `synchronous=FULL`) and only then answers every
//! submitter. A flush marker is answered after everything queued before it; the shutdown marker
//! closes the queue, so the loop drains what is buffered (at most the queue depth) and ends.
//! Must never answer a submitter before its batch committed, or block on anything but the
//! queue and the database.

use crate::limits::{STORE_GATHER_LINGER, STORE_GATHER_WINDOW};
use crate::store::record::TransmissionRecord;
use crate::store::{sql, CommitReceipt, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
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
    // A timer for bounded waits on the queue; without one the writer only takes what is there.
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok();
    let mut batch = Vec::with_capacity(batch_records_max);
    while let Some(first) = jobs.blocking_recv() {
        let mut gathering = Gathering {
            jobs: &mut jobs,
            batch: &mut batch,
            batch_records_max,
            timer: timer.as_ref(),
        };
        let control = gathering.gather(first);
        commit_and_answer(&mut conn, &mut batch, &counters);
        match control {
            Some(Control::Flush(reply)) => drop(reply.send(())),
            Some(Control::Shutdown) => jobs.close(),
            None => {}
        }
    }
}

/// Collects one batch.
struct Gathering<'a> {
    jobs: &'a mut mpsc::Receiver<Job>,
    batch: &'a mut Vec<Pending>,
    batch_records_max: usize,
    timer: Option<&'a tokio::runtime::Runtime>,
}

impl Gathering<'_> {
    /// Moves commit jobs into the batch until it is full, a marker arrives, or nothing more
    /// arrives within the linger (bounded by the window).
    fn gather(&mut self, first: Job) -> Option<Control> {
        let window_end = Instant::now() + STORE_GATHER_WINDOW;
        let mut next = Some(first);
        // Bounded: each pass takes one job; the batch bound and the window end it.
        while let Some(job) = next {
            match job {
                Job::Commit { record, reply } => self.batch.push(Pending { record, reply }),
                Job::Flush(reply) => return Some(Control::Flush(reply)),
                Job::Shutdown => return Some(Control::Shutdown),
            }
            if self.batch.len() >= self.batch_records_max {
                return None;
            }
            next = self
                .jobs
                .try_recv()
                .ok()
                .or_else(|| self.linger(window_end));
        }
        None
    }

    /// The next job if one arrives within the linger and before the window ends.
    fn linger(&mut self, window_end: Instant) -> Option<Job> {
        let timer = self.timer?;
        let wait = STORE_GATHER_LINGER.min(window_end.saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            return None;
        }
        let jobs = &mut *self.jobs;
        // The timeout is created inside the timer's runtime, which owns the clock it needs.
        timer
            .block_on(async { tokio::time::timeout(wait, jobs.recv()).await })
            .ok()
            .flatten()
    }
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

/// One write transaction for the whole batch: optimistically without savepoints; if a record
/// is refused, again with each record under its own savepoint.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Pending],
) -> rusqlite::Result<Vec<Result<CommitReceipt, StoreError>>> {
    match commit_optimistically(conn, batch)? {
        Some(results) => Ok(results),
        None => commit_record_by_record(conn, batch),
    }
}

/// The fast path: every record written straight into the batch transaction, no savepoints
/// (each costs a sub-journal copy of every page it touches). `None` when some record was
/// refused (already paid, already reversed, ...): the transaction is rolled back untouched and
/// the caller writes the batch again record by record.
fn commit_optimistically(
    conn: &mut Connection,
    batch: &[Pending],
) -> rusqlite::Result<Option<Vec<Result<CommitReceipt, StoreError>>>> {
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for pending in batch {
        match sql::write_transmission(&transaction, &pending.record) {
            Ok(receipt) => results.push(Ok(receipt)),
            // Dropping the transaction rolls it back.
            Err(_) => return Ok(None),
        }
        if transaction.is_autocommit() {
            return Err(rolled_back());
        }
    }
    transaction.commit()?;
    Ok(Some(results))
}

/// The careful path: each record under its own savepoint, so a refused one leaves no rows and
/// its neighbours still commit.
fn commit_record_by_record(
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
