//! Keeps the planner's statistics of the gateway's tables fresh, whatever the server's
//! autovacuum does.
//!
//! Part of the PostgreSQL store, beside the writer. Each connection prepares its statements
//! once, and PostgreSQL keeps a prepared statement's plan until the table's statistics
//! change; a plan made while `claims` was nearly empty scans where it should look up an index,
//! and throughput falls as the table grows. The writer tells [`Analyzer`] how many records
//! each committed batch held; once [`PG_ANALYZE_RECORDS_MIN`] records, or a
//! [`PG_ANALYZE_GROWTH_DIVISOR`]th of all written since the store opened (whichever is more),
//! came in since the last `ANALYZE`, one runs on a reader connection in a task of its own,
//! never on the writer's connection and never more than one at a time. `ANALYZE` takes a lock
//! batches do not wait for (`SHARE UPDATE EXCLUSIVE`); a node whose `ANALYZE` meets another
//! node's gives up after the session's lock timeout and tries again at the next threshold.
//!
//! Must never: run on the writer's connection or delay a batch; log anything but the error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::limits::{PG_ANALYZE_GROWTH_DIVISOR, PG_ANALYZE_RECORDS_MIN};

/// Every table the per-claim reads and the batches touch.
const ANALYZE_SQL: &str =
    "ANALYZE transmissions, claims, claim_reject_codes, conflicts, dur_pps, patient_heads";

/// Counts written records and starts `ANALYZE` when they are due.
pub(super) struct Analyzer {
    readers: Pool,
    records_since: usize,
    records_total: usize,
    running: Arc<AtomicBool>,
}

impl Analyzer {
    pub(super) fn new(readers: Pool) -> Analyzer {
        Analyzer {
            readers,
            records_since: 0,
            records_total: 0,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A batch of `records` committed; starts an `ANALYZE` task when one is due.
    pub(super) fn written(&mut self, records: usize) {
        self.records_since += records;
        self.records_total += records;
        if !due(self.records_since, self.records_total) || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.records_since = 0;
        let (readers, running) = (self.readers.clone(), self.running.clone());
        tokio::spawn(async move {
            analyze(&readers).await;
            running.store(false, Ordering::Release);
        });
    }
}

/// Whether `since` records written since the last `ANALYZE` make one due.
fn due(since: usize, total: usize) -> bool {
    since >= PG_ANALYZE_RECORDS_MIN.max(total / PG_ANALYZE_GROWTH_DIVISOR)
}

async fn analyze(readers: &Pool) {
    let analyzed = match readers.get().await {
        Ok(client) => client
            .batch_execute(ANALYZE_SQL)
            .await
            .map_err(|error| super::rows::describe(&error)),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = analyzed {
        tracing::warn!(%error, "ANALYZE of the claim tables failed; tried again later");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyze_is_due_after_a_minimum_then_after_a_fifth_more() {
        assert!(!due(999, 999));
        assert!(due(1_000, 1_000));
        assert!(due(1_000, 5_000));
        assert!(!due(1_999, 10_000));
        assert!(due(2_000, 10_000));
    }
}
