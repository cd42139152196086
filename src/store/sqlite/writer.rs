//! The SQLite backend's side of group commit (the queue, gathering and answering are
//! `store::queue`'s): one `BEGIN IMMEDIATE` transaction per batch — first without savepoints;
//! if some record is refused (a race caught by the store), the batch is rolled back and written
//! again with each record under its own savepoint, so the refused one leaves no rows and the
//! others still commit — then one commit (one WAL fsync with `synchronous=FULL`).
//!
//! Runs on the store's own writer thread, which drives `queue::serve` on a current-thread
//! runtime of its own (its timer bounds the linger). Must never answer a submitter (the queue
//! does, after the commit) or block on anything but the queue and the database.

use super::sql;
use crate::store::queue::{self, BatchFailed, BatchResult, BatchWriter, Counters, Job, Pending};
use crate::store::record::TransmissionRecord;
use crate::store::{CommitReceipt, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::Arc;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

/// The writer thread's body: serves the queue until it is closed and drained. `timer` is a
/// current-thread runtime with time enabled, owned by this thread.
pub(super) fn run(
    conn: Connection,
    jobs: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    batch_records_max: usize,
    timer: Runtime,
) {
    let mut writer = SqliteWriter { conn };
    timer.block_on(queue::serve(jobs, counters, batch_records_max, &mut writer));
}

/// The runtime [`run`] needs: current-thread, with a timer for the linger.
pub(super) fn timer() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
}

/// The writer's connection.
struct SqliteWriter {
    conn: Connection,
}

impl BatchWriter for SqliteWriter {
    /// Synchronous on purpose: the writer thread's runtime runs nothing else.
    async fn commit(&mut self, batch: &[Pending]) -> BatchResult {
        commit_batch(&mut self.conn, batch).map_err(|error| BatchFailed(error.to_string()))
    }

    /// [`queue::PROBE_SQL`] in its own write transaction: a real page write and commit.
    async fn probe(&mut self) -> Result<(), BatchFailed> {
        let probe = |conn: &mut Connection| {
            let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.execute_batch(queue::PROBE_SQL)?;
            transaction.commit()
        };
        probe(&mut self.conn).map_err(|error| BatchFailed(error.to_string()))
    }
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
