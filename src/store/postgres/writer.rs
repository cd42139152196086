//! The PostgreSQL store's writer task: group commit in one pipelined round trip.
//!
//! Runs on the store's own runtime thread (see `postgres`). `store::queue` gathers the batch
//! and answers it (as for SQLite); this writer gives every row its id from ids reserved in
//! blocks ([`PG_IDS_RESERVED`]), and writes the whole batch in one transaction: `BEGIN` and one
//! statement per table pipelined in one round trip, then `COMMIT`. Each submitter is answered
//! only after the `COMMIT` returned.
//!
//! When the server refuses the batch as a whole (another node paid the same claim a moment
//! earlier and the unique index `claims_paid_once` fired, a reversal's claim was reversed
//! meanwhile, a deadlock or lock timeout), the batch is rolled back and written again record by
//! record, each under its own savepoint, so that one refused transmission does not fail its
//! neighbours; the refused one gets [`StoreError::AlreadyPaid`] (with the claim that won),
//! [`StoreError::AlreadyReversed`] or [`StoreError::NotReversible`]. When the connection fails,
//! every record of the batch gets [`StoreError::Commit`] (a `COMMIT` whose answer was lost may
//! have committed: the claims are answered 99, and a retry then finds them paid, answered D).
//!
//! Must never answer a submitter before its batch committed, log a row's values (only
//! SQLSTATEs and counts), or block the runtime thread.

use super::analyze::Analyzer;
use super::rows::{describe, int8, Assigned, AssignedTransaction, Columns, Failure, PgDate};
use crate::claim::Authorization;
use crate::claim::Status;
use crate::limits::{PG_BATCH_DEADLINE, PG_IDS_RESERVED, PG_RULESET_TOUCH_INTERVAL};
use crate::store::queue::{self, BatchFailed, BatchResult, BatchWriter, Counters, Job, Pending};
use crate::store::record::{TransactionRecord, TransmissionRecord};
use crate::store::{CommitReceipt, StoreError};
use deadpool_postgres::{Object, Pool};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_postgres::types::ToSql;

/// A batch's results per record, or why the batch as a whole failed.
type Committed = Result<Vec<Result<CommitReceipt, StoreError>>, StoreError>;

/// The writer task's body: runs until the queue is closed and drained.
pub(super) async fn run(
    pool: Pool,
    analyzer: Analyzer,
    jobs: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    batch_records_max: usize,
) {
    let mut writer = Writer {
        pool,
        ids: Ids::default(),
        touched: None,
        touch_due: None,
        analyzer,
    };
    queue::serve(jobs, counters, batch_records_max, &mut writer).await;
}

/// Ids reserved from the three sequences and not yet given to a row.
#[derive(Default)]
struct Ids {
    transmissions: VecDeque<i64>,
    claims: VecDeque<i64>,
    conflicts: VecDeque<i64>,
}

/// How many ids of each kind a batch needs.
#[derive(Clone, Copy, Default)]
struct IdsNeeded {
    transmissions: usize,
    claims: usize,
    conflicts: usize,
}

impl IdsNeeded {
    fn of(batch: &[Pending]) -> IdsNeeded {
        let mut needed = IdsNeeded::default();
        for pending in batch {
            needed.transmissions += 1;
            for transaction in recorded(&pending.record) {
                needed.claims += 1;
                needed.conflicts += transaction.conflicts.len();
            }
        }
        needed
    }
}

/// The transactions of a record that are written (D and S point at an earlier row).
fn recorded(record: &TransmissionRecord) -> impl Iterator<Item = &TransactionRecord> {
    record
        .transactions
        .iter()
        .filter(|transaction| transaction.is_recorded())
}

const RESERVE_TRANSMISSIONS_SQL: &str =
    "SELECT nextval('transmission_ids') FROM generate_series(1, $1::int)";
const RESERVE_CLAIMS_SQL: &str = "SELECT nextval('claim_ids') FROM generate_series(1, $1::int)";
const RESERVE_CONFLICTS_SQL: &str =
    "SELECT nextval('conflict_ids') FROM generate_series(1, $1::int)";

/// Tops `ids` up to at least `needed`, reserving at least [`PG_IDS_RESERVED`] at a time.
async fn reserve(
    client: &Object,
    sql: &str,
    ids: &mut VecDeque<i64>,
    needed: usize,
) -> Result<(), tokio_postgres::Error> {
    if ids.len() >= needed {
        return Ok(());
    }
    let count = i32::try_from(needed.max(PG_IDS_RESERVED)).unwrap_or(i32::MAX);
    let statement = client.prepare_cached(sql).await?;
    let rows = client.query(&statement, &[&count]).await?;
    let mut fresh = rows
        .iter()
        .map(|row| row.try_get::<_, i64>(0))
        .collect::<Result<Vec<i64>, _>>()?;
    fresh.sort_unstable();
    ids.extend(fresh);
    Ok(())
}

/// The next `count` ids (the caller reserved enough).
fn take(ids: &mut VecDeque<i64>, count: usize) -> Vec<i64> {
    ids.drain(..count.min(ids.len())).collect()
}

/// The writer's connection pool (one connection), reserved ids and the last ruleset touch.
struct Writer {
    pool: Pool,
    ids: Ids,
    /// The stamp whose `last_seen_ms` was last brought forward, and when.
    touched: Option<(String, Instant)>,
    /// The stamp and time of the last committed batch, when its `last_seen_ms` is due.
    touch_due: Option<(String, i64)>,
    /// Keeps the tables' statistics fresh (`analyze`).
    analyzer: Analyzer,
}

/// The writer's probe in one transaction: every table a batch writes locked as a batch locks
/// it, then [`queue::PROBE_SQL`].
static PROBE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "BEGIN; LOCK TABLE transmissions, rulesets, claims, claim_reject_codes, conflicts, \
         dur_pps IN ROW EXCLUSIVE MODE; {}; COMMIT",
        queue::PROBE_SQL
    )
});

impl BatchWriter for Writer {
    async fn commit(&mut self, batch: &[Pending]) -> BatchResult {
        let committed = self.commit_batch(batch).await;
        self.touch_due = committed.is_ok().then(|| self.touch_due(batch)).flatten();
        if committed.is_ok() {
            self.analyzer.written(batch.len());
        }
        committed.map_err(|error| BatchFailed(error.to_string()))
    }

    /// Brings the rule-table stamp's last use forward after the replies left.
    async fn after_answer(&mut self) {
        if let Some((stamp, at_ms)) = self.touch_due.take() {
            self.touch(stamp, at_ms).await;
        }
    }

    /// Takes the lock every batch takes on each table it writes (`ROW EXCLUSIVE`, which only
    /// another session's `SHARE` or stronger lock blocks), then rewrites one `schema_version`
    /// cell with its own value, on the writer's connection.
    async fn probe(&mut self) -> Result<(), BatchFailed> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|error| BatchFailed(pool_error(error).to_string()))?;
        let probe = client.batch_execute(&PROBE_SQL);
        let probed = match tokio::time::timeout(PG_BATCH_DEADLINE, probe).await {
            Ok(result) => result.map_err(|error| describe(&error)),
            Err(_) => Err(missed_deadline().to_string()),
        };
        if probed.is_err() {
            // As after a failed batch: a connection in doubt is not given back.
            drop(Object::take(client));
        }
        probed.map_err(BatchFailed)
    }
}

impl Writer {
    async fn commit_batch(&mut self, batch: &[Pending]) -> Committed {
        let client = self.pool.get().await.map_err(pool_error)?;
        let result = tokio::time::timeout(PG_BATCH_DEADLINE, self.commit_on(&client, batch))
            .await
            .unwrap_or_else(|_| Err(missed_deadline()));
        if result.is_err() {
            // The connection may be in any state: do not give it back to the pool.
            drop(Object::take(client));
        }
        result
    }

    async fn commit_on(&mut self, client: &Object, batch: &[Pending]) -> Committed {
        let needed = IdsNeeded::of(batch);
        self.reserve(client, needed).await.map_err(lost)?;
        let assigned: Vec<Assigned<'_>> = batch
            .iter()
            .map(|pending| assign(&mut self.ids, &pending.record))
            .collect();
        match super::rows::write(client, "BEGIN", &Columns::of(&assigned)).await {
            Ok(()) => match client.batch_execute("COMMIT").await {
                Ok(()) => return Ok(assigned.iter().map(|each| Ok(each.receipt())).collect()),
                Err(error) => refused_or_lost(Failure::of(error))?,
            },
            Err(failure) => {
                refused_or_lost(failure)?;
                client.batch_execute("ROLLBACK").await.map_err(lost)?;
            }
        }
        one_by_one(client, &assigned).await
    }

    async fn reserve(
        &mut self,
        client: &Object,
        needed: IdsNeeded,
    ) -> Result<(), tokio_postgres::Error> {
        let ids = &mut self.ids;
        reserve(
            client,
            RESERVE_TRANSMISSIONS_SQL,
            &mut ids.transmissions,
            needed.transmissions,
        )
        .await?;
        reserve(client, RESERVE_CLAIMS_SQL, &mut ids.claims, needed.claims).await?;
        reserve(
            client,
            RESERVE_CONFLICTS_SQL,
            &mut ids.conflicts,
            needed.conflicts,
        )
        .await
    }

    /// The latest stamp of the batch and its latest time, when its `last_seen_ms` is due.
    fn touch_due(&self, batch: &[Pending]) -> Option<(String, i64)> {
        let (stamp, at_ms) = batch
            .iter()
            .flat_map(|pending| {
                let at_ms = pending.record.received_at_ms;
                recorded(&pending.record).map(move |transaction| (&transaction.ruleset, at_ms))
            })
            .max_by_key(|(_, at_ms)| *at_ms)?;
        let fresh = self.touched.as_ref().is_some_and(|(last, when)| {
            **last == **stamp && when.elapsed() < PG_RULESET_TOUCH_INTERVAL
        });
        (!fresh).then(|| (stamp.to_string(), at_ms))
    }

    /// Brings a stamp's `last_seen_ms` forward in a transaction of its own (the row is shared
    /// by every node: it is never locked inside a claim batch). A failure only logs.
    async fn touch(&mut self, stamp: String, at_ms: i64) {
        const TOUCH_SQL: &str = "UPDATE rulesets SET last_seen_ms = greatest(last_seen_ms, $2) \
             WHERE stamp = $1";
        let touched = async {
            let client = self.pool.get().await.map_err(pool_error)?;
            let statement = client.prepare_cached(TOUCH_SQL).await.map_err(lost)?;
            client
                .execute(&statement, &[&stamp, &at_ms])
                .await
                .map_err(lost)
        };
        match touched.await {
            Ok(_) => self.touched = Some((stamp, Instant::now())),
            Err(error) => tracing::warn!(%error, "rule-table stamp last use not recorded"),
        }
    }
}

/// Gives a record's rows their ids.
fn assign<'a>(ids: &mut Ids, record: &'a TransmissionRecord) -> Assigned<'a> {
    let transmission_id = take(&mut ids.transmissions, 1)
        .first()
        .copied()
        .unwrap_or(0);
    let transactions = recorded(record)
        .map(|transaction| AssignedTransaction {
            transaction,
            claim_id: take(&mut ids.claims, 1).first().copied().unwrap_or(0),
            conflict_ids: take(&mut ids.conflicts, transaction.conflicts.len()),
        })
        .collect();
    Assigned {
        record,
        transmission_id,
        transactions,
    }
}

/// `Ok` when the server refused over the rows (worth retrying record by record), `Err` when
/// it cannot take writes now or the connection is gone.
fn refused_or_lost(failure: Failure) -> Result<(), StoreError> {
    match failure {
        Failure::Refused(error) => {
            tracing::debug!(error = %describe(&error), "batch refused whole: writing record by record");
            Ok(())
        }
        Failure::ReversalMissed | Failure::HeadMoved => Ok(()),
        Failure::Unwritable(error) | Failure::Lost(error) => Err(lost(error)),
    }
}

/// The batch (or probe) missed [`PG_BATCH_DEADLINE`]: its connection is in doubt.
fn missed_deadline() -> StoreError {
    StoreError::Commit(format!(
        "no answer within {} ms",
        PG_BATCH_DEADLINE.as_millis()
    ))
}

fn lost(error: tokio_postgres::Error) -> StoreError {
    StoreError::Commit(describe(&error))
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => lost(error),
        other => StoreError::Commit(other.to_string()),
    }
}

/// The slow path: one transaction, each record under its own savepoint. Records are written
/// in patient-key order, the order in which a whole batch locks patient heads, so that two
/// nodes' batches never wait on each other's heads in a cycle; the results keep batch order.
async fn one_by_one(client: &Object, assigned: &[Assigned<'_>]) -> Committed {
    client.batch_execute("BEGIN").await.map_err(lost)?;
    let mut order: Vec<usize> = (0..assigned.len()).collect();
    order.sort_by_key(|index| {
        assigned[*index]
            .record
            .patient_key
            .as_ref()
            .map(|key| key.as_str())
    });
    let mut results: Vec<Option<Result<CommitReceipt, StoreError>>> =
        (0..assigned.len()).map(|_| None).collect();
    for index in order {
        results[index] = Some(write_alone(client, &assigned[index]).await?);
    }
    client.batch_execute("COMMIT").await.map_err(lost)?;
    Ok(results.into_iter().flatten().collect())
}

/// Writes one record under a savepoint: its receipt, or why it was refused. `Err` only when
/// the connection failed.
async fn write_alone(
    client: &Object,
    assigned: &Assigned<'_>,
) -> Result<Result<CommitReceipt, StoreError>, StoreError> {
    let columns = Columns::of([assigned]);
    let error = match super::rows::write(client, "SAVEPOINT record", &columns).await {
        Ok(()) => {
            client
                .batch_execute("RELEASE SAVEPOINT record")
                .await
                .map_err(lost)?;
            return Ok(Ok(assigned.receipt()));
        }
        Err(Failure::Unwritable(error) | Failure::Lost(error)) => return Err(lost(error)),
        Err(Failure::Refused(error)) => StoreError::Commit(describe(&error)),
        Err(Failure::ReversalMissed) => StoreError::Commit("a reversal missed its claim".into()),
        Err(Failure::HeadMoved) => StoreError::PatientChanged,
    };
    client
        .batch_execute("ROLLBACK TO SAVEPOINT record; RELEASE SAVEPOINT record")
        .await
        .map_err(lost)?;
    let refusal = refusal(client, assigned.record).await.map_err(lost)?;
    Ok(Err(refusal.unwrap_or(error)))
}

/// Why the database refuses this record now: a claim it reverses is no longer reversible, or
/// one it pays is already paid. `None` when neither (the original error then stands).
async fn refusal(
    client: &Object,
    record: &TransmissionRecord,
) -> Result<Option<StoreError>, tokio_postgres::Error> {
    for transaction in recorded(record) {
        if let Some(original) = transaction.reverses() {
            if let Some(refused) = reversal_refusal(client, record, transaction, original).await? {
                return Ok(Some(refused));
            }
        }
    }
    for transaction in recorded(record).filter(|transaction| transaction.status == Status::Paid) {
        if let Some(refused) = paid_refusal(client, record, transaction).await? {
            return Ok(Some(refused));
        }
    }
    Ok(None)
}

const REVERSAL_STATE_SQL: &str = "SELECT reversed_at_ms FROM claims WHERE id = $1 \
     AND status = 'paid' AND pharmacy_id = $2 AND rx_number = $3 AND fill_number = $4 \
     AND date_of_service = $5";

async fn reversal_refusal(
    client: &Object,
    record: &TransmissionRecord,
    transaction: &TransactionRecord,
    original: u64,
) -> Result<Option<StoreError>, tokio_postgres::Error> {
    let statement = client.prepare_cached(REVERSAL_STATE_SQL).await?;
    let key = MatchParams::of(record, transaction);
    let [pharmacy_id, rx_number, fill_number, date_of_service] = key.refs();
    let original_id = int8(original);
    let params = [
        &original_id as _,
        pharmacy_id,
        rx_number,
        fill_number,
        date_of_service,
    ];
    let row = client.query_opt(&statement, &params).await?;
    let (index, claim_id) = (transaction.index, original);
    let reversed_at: Option<Option<i64>> = row.map(|row| row.try_get(0)).transpose()?;
    Ok(match reversed_at {
        None => Some(StoreError::NotReversible { index, claim_id }),
        Some(Some(_)) => Some(StoreError::AlreadyReversed { index, claim_id }),
        Some(None) => None,
    })
}

const PAID_SQL: &str = "SELECT id, product_id FROM claims WHERE pharmacy_id = $1 \
     AND rx_number = $2 AND fill_number = $3 AND date_of_service = $4 AND status = 'paid' \
     AND reversed_at_ms IS NULL";

async fn paid_refusal(
    client: &Object,
    record: &TransmissionRecord,
    transaction: &TransactionRecord,
) -> Result<Option<StoreError>, tokio_postgres::Error> {
    let statement = client.prepare_cached(PAID_SQL).await?;
    let key = MatchParams::of(record, transaction);
    let row = client.query_opt(&statement, &key.refs()).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let claim_id = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
    Ok(Some(StoreError::AlreadyPaid {
        index: transaction.index,
        claim_id,
        authorization: Authorization::for_claim(claim_id),
        product_id: row.try_get(1)?,
    }))
}

/// The match key of a transaction as statement parameters (pharmacy, Rx, fill, date).
struct MatchParams<'a> {
    pharmacy_id: &'a str,
    rx_number: i64,
    fill_number: i32,
    date_of_service: PgDate,
}

impl<'a> MatchParams<'a> {
    fn of(record: &'a TransmissionRecord, transaction: &TransactionRecord) -> MatchParams<'a> {
        MatchParams {
            pharmacy_id: &record.pharmacy_id,
            rx_number: int8(transaction.rx_number),
            fill_number: i32::from(transaction.fill_number),
            date_of_service: PgDate(transaction.date_of_service),
        }
    }

    fn refs(&self) -> [&(dyn ToSql + Sync); 4] {
        [
            &self.pharmacy_id,
            &self.rx_number,
            &self.fill_number,
            &self.date_of_service,
        ]
    }
}
