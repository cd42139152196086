//! Stories of the durable claim store on a real SQLite file: what a commit leaves on disk,
//! group commit, back-pressure, a locked database, reversals, rebills, and the history rebuilt
//! from the store.

mod support;

use durgate::claim::{id_hash, Authorization, Ndc, Status};
use durgate::history::{ClaimMatch, History, PaidClaim, PaidLookup};
use durgate::store::{
    self, ClaimStore, CommitReceipt, RecordKind, SqliteStore, StoreError, StoreOptions,
    TransactionRecord, TransmissionRecord,
};
use rusqlite::types::Value;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::records::*;
use tempfile::TempDir;

fn temp_store(options: StoreOptions) -> (TempDir, PathBuf, SqliteStore) {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("claims.db");
    let store = SqliteStore::open(&path, options).expect("open store");
    (folder, path, store)
}

fn count(path: &Path, sql: &str) -> i64 {
    let connection = Connection::open(path).expect("analyst connection");
    connection.query_row(sql, [], |row| row.get(0)).expect(sql)
}

/// The rows of a query about one claim, every column as a SQLite value.
fn rows(db: &Connection, sql: &str, claim_id: i64) -> Vec<Vec<Value>> {
    let mut statement = db.prepare(sql).expect(sql);
    let columns = statement.column_count();
    let values = statement.query_map([claim_id], |row| {
        (0..columns)
            .map(|column| row.get::<_, Value>(column))
            .collect()
    });
    values.and_then(|rows| rows.collect()).expect(sql)
}

#[tokio::test]
async fn a_committed_decision_is_on_disk_whole_after_the_gateway_stops() {
    let (_folder, path, store) = temp_store(StoreOptions::default());
    let receipt = store.commit(b1_from_request()).await.expect("commit");
    let mut rejected = b1(2, 777, day(0), Status::Rejected);
    rejected.transactions[0].reject_codes = vec![
        durgate::claim::reject::DUR_REJECT,
        durgate::claim::reject::REFILL_TOO_SOON,
    ];
    store.commit(rejected).await.expect("commit rejected");
    store.close().expect("close");
    drop(store);

    let db = Connection::open(&path).expect("reopen");
    let id = claim_id(&receipt) as i64;
    let row: Vec<Value> = db
        .query_row(
            "SELECT kind, pharmacy_id, patient_key, patient_age_years, rx_number, ndc, \
             quantity_milli, days_supply, date_of_service, prescriber_id, status, ruleset, \
             authorization, gross_amount_due_cents, message, reverses FROM claims WHERE id = ?1",
            [id],
            |r| (0..16).map(|column| r.get::<_, Value>(column)).collect(),
        )
        .expect("claim row");
    let authorization = Authorization::for_claim(claim_id(&receipt));
    assert_eq!(
        receipt.transaction(1).and_then(|t| t.authorization),
        Some(authorization)
    );
    let text = |value: &str| Value::Text(value.to_owned());
    let expected = vec![
        text("claim"),
        text(PHARMACY),
        text(patient(1).as_str()),
        Value::Integer(75),
        Value::Integer(555_001),
        text("00378611201"),
        Value::Integer(30_000),
        Value::Integer(30),
        text("2025-03-01"),
        text(PRESCRIBER),
        text("paid"),
        text("sample@2025.03"),
        text(&authorization.to_string()),
        Value::Integer(2_000),
        text("DUR OVERRIDE ACCEPTED"),
        Value::Null,
    ];
    assert_eq!(row, expected);
    let conflicts = rows(
        &db,
        "SELECT id, edit, rule_id, reason, severity, action, clinical_significance, \
         previous_fill_date, other_pharmacy, other_prescriber, overridden_by \
         FROM conflicts WHERE claim_id = ?1 ORDER BY position",
        id,
    );
    let text = |value: &str| Value::Text(value.to_owned());
    let int = Value::Integer;
    let conflict_ids: Vec<Value> = conflicts
        .iter()
        .filter_map(|row| row.first().cloned())
        .collect();
    let conflict_facts: Vec<&[Value]> = conflicts.iter().map(|row| &row[1..]).collect();
    let conflict_row = |edit: &str, reason: &str, overridden_by: Value| {
        [
            text(edit),
            text(&format!("{edit}:17")),
            text(reason),
            int(1),
            text("reject"),
            int(1),
            text("2025-02-09"),
            int(3),
            int(2),
            overridden_by,
        ]
    };
    let ddi = conflict_row("ddi", "DD", int(1));
    let duplication = conflict_row("duplication", "TD", Value::Null);
    assert_eq!(conflict_facts, vec![&ddi[..], &duplication[..]]);
    let dur_pps = rows(
        &db,
        "SELECT counter, reason, professional, result, matched_conflict_id, overrode \
         FROM dur_pps WHERE claim_id = ?1 ORDER BY counter",
        id,
    );
    let overrode_ddi = vec![
        int(1),
        text("DD"),
        text("M0"),
        text("1G"),
        conflict_ids[0].clone(),
        int(1),
    ];
    let answered_nothing = vec![
        int(2),
        text("HD"),
        text("R0"),
        text("1A"),
        Value::Null,
        int(0),
    ];
    assert_eq!(dur_pps, vec![overrode_ddi, answered_nothing]);
    let codes: Vec<String> = db
        .prepare("SELECT code FROM claim_reject_codes ORDER BY claim_id, position")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("reject codes");
    assert_eq!(codes, vec!["88".to_string(), "79".to_string()]);
    let rulesets = count(
        &path,
        "SELECT count(*) FROM rulesets WHERE stamp = 'sample@2025.03'",
    );
    assert_eq!(rulesets, 1);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM claims WHERE status = 'rejected' AND authorization IS NULL"
        ),
        1
    );
}

#[tokio::test]
async fn the_store_url_opens_the_same_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("by-url.db");
    let store = store::open(&format!("sqlite:{}", path.display())).expect("open by url");
    store
        .commit(b1(1, 1, day(0), Status::Paid))
        .await
        .expect("commit");
    store.close().expect("close");
    assert_eq!(count(&path, "SELECT count(*) FROM claims"), 1);
}

#[tokio::test]
async fn concurrent_commits_share_batches() {
    let (_folder, path, store) = temp_store(StoreOptions::default());
    let commits =
        (0..200u64).map(|rx| store.commit(b1((rx % 7) as u32, 10_000 + rx, day(0), Status::Paid)));
    let receipts = futures::future::join_all(commits).await;
    let mut ids: Vec<u64> = receipts
        .iter()
        .map(|r| claim_id(r.as_ref().expect("committed")))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every claim got its own id");
    let stats = store.stats();
    assert_eq!(stats.records_committed, 200);
    assert!(
        stats.batches_committed < 200,
        "group commit: {} batches for 200 records",
        stats.batches_committed
    );
    assert_eq!((stats.batches_failed, stats.queue_depth), (0, 0));
    assert_eq!(
        count(&path, "SELECT count(DISTINCT authorization) FROM claims"),
        200
    );
}

#[tokio::test]
async fn a_queue_still_full_at_the_deadline_is_refused() {
    let options = StoreOptions {
        queue_depth: 1,
        batch_records_max: 1,
        enqueue_deadline: Duration::from_millis(50),
        ..StoreOptions::default()
    };
    let (_folder, path, store) = temp_store(options);
    let lock = Connection::open(&path).expect("second connection");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    // The writer takes the first record and waits on the lock; the second fills the queue.
    let first = tokio::spawn(store.commit(b1(1, 1, day(0), Status::Paid)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = tokio::spawn(store.commit(b1(1, 2, day(0), Status::Paid)));
    let mut waited = 0;
    while store.stats().queue_depth < 1 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        waited += 1;
    }
    assert_eq!(store.stats().queue_depth, 1, "the queue of one is full");
    let third = store.commit(b1(1, 3, day(0), Status::Paid)).await;
    assert!(matches!(third, Err(StoreError::QueueFull)), "{third:?}");
    lock.execute_batch("ROLLBACK").expect("release");
    for queued in [first, second] {
        // Queued records commit once the lock is gone (or fail with 99 if it outlived the timeout).
        let result = queued.await.expect("task");
        assert!(
            matches!(result, Ok(_) | Err(StoreError::Commit(_))),
            "{result:?}"
        );
    }
    store
        .commit(b1(1, 4, day(0), Status::Paid))
        .await
        .expect("room again");
}

#[tokio::test]
async fn a_locked_database_fails_the_commit_and_recovers_when_released() {
    let (_folder, path, store) = temp_store(StoreOptions::default());
    let lock = Connection::open(&path).expect("second connection");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    let asked = std::time::Instant::now();
    assert!(store.check_writable().is_ok(), "ready until a commit fails");
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "readiness does not wait for the write lock: {:?}",
        asked.elapsed()
    );
    let refused = store.commit(b1(1, 1, day(0), Status::Paid)).await;
    assert!(matches!(refused, Err(StoreError::Commit(_))), "{refused:?}");
    assert!(
        store.check_writable().is_err(),
        "not ready after a failed commit"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        store.check_writable().is_err(),
        "the probes fail while locked"
    );
    lock.execute_batch("ROLLBACK").expect("release");
    // No claim arrives: the writer's own probe finds the store writable again.
    assert!(ready_within(&store, Duration::from_secs(5)).await);
    assert_eq!(count(&path, "SELECT count(*) FROM claims"), 0);
    let receipt = store
        .commit(b1(1, 1, day(0), Status::Paid))
        .await
        .expect("commit after release");
    let stats = store.stats();
    assert_eq!((stats.batches_failed, stats.records_committed), (1, 1));
    assert_eq!(
        count(&path, "SELECT count(*) FROM claims"),
        1,
        "nothing of the failed batch was recorded"
    );
    assert_eq!(
        count(&path, "SELECT min(id) FROM claims"),
        claim_id(&receipt) as i64
    );
}

/// Polls readiness until it holds or `timeout` passes.
async fn ready_within(store: &SqliteStore, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while store.check_writable().is_err() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test]
async fn close_commits_what_is_queued_and_refuses_what_comes_after() {
    let options = StoreOptions {
        batch_records_max: 1,
        ..StoreOptions::default()
    };
    let (_folder, path, store) = temp_store(options);
    store
        .commit(b1(1, 100, day(0), Status::Paid))
        .await
        .expect("first");
    store.flush().await.expect("flush");
    let lock = Connection::open(&path).expect("second connection");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    let queued: Vec<_> = (0..20u64)
        .map(|rx| tokio::spawn(store.commit(b1(1, rx, day(0), Status::Paid))))
        .collect();
    let mut waited = 0;
    while store.stats().queue_depth < 19 && waited < 200 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        waited += 1;
    }
    assert_eq!(
        store.stats().queue_depth,
        19,
        "one record with the writer, nineteen queued"
    );
    lock.execute_batch("ROLLBACK").expect("release");
    let store = Arc::new(store);
    let closing = Arc::clone(&store);
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .expect("join")
        .expect("close");
    let mut committed = 0;
    for task in queued {
        match task.await.expect("task") {
            Ok(_) => committed += 1,
            // The record the writer held may have outlived the busy timeout on a slow machine.
            Err(error) => assert!(matches!(error, StoreError::Commit(_)), "{error:?}"),
        }
    }
    assert!(
        committed >= 19,
        "the queued records were committed while closing: {committed}"
    );
    assert_eq!(count(&path, "SELECT count(*) FROM claims"), 1 + committed);
    let late = store.commit(b1(1, 99, day(0), Status::Paid)).await;
    assert!(matches!(late, Err(StoreError::Closed)), "{late:?}");
    assert!(matches!(store.flush().await, Err(StoreError::Closed)));
    assert!(matches!(store.check_writable(), Err(StoreError::Closed)));
    assert!(store.close().is_ok(), "closing twice is harmless");
}

/// Feeds the live history the way the server does after each commit.
struct Live {
    history: History,
}

impl Live {
    fn paid(&self, record: &TransmissionRecord, receipt: &CommitReceipt) {
        let (Some(key), Some(transaction)) = (&record.patient_key, record.transactions.first())
        else {
            return;
        };
        let Some(product) = transaction.ndc else {
            return;
        };
        if let Some(original) = transaction.reverses() {
            self.history.record_reversal(&match_of(transaction, record));
            assert!(original > 0);
        }
        if transaction.status == Status::Paid {
            let fill = fill_of(record, transaction, product);
            self.history.record_paid(
                key,
                PaidClaim {
                    fill,
                    claim_id: claim_id(receipt),
                    reversed: false,
                },
            );
        }
    }
}

fn fill_of(
    record: &TransmissionRecord,
    transaction: &TransactionRecord,
    product: Ndc,
) -> durgate::claim::Fill {
    durgate::claim::Fill {
        ndc: product,
        rx_number: transaction.rx_number,
        date_of_service: transaction.date_of_service,
        quantity_milli: transaction.quantity_milli,
        days_supply: transaction.days_supply,
        fill_number: transaction.fill_number,
        pharmacy: id_hash(record.pharmacy_id.as_bytes()),
        prescriber: id_hash(transaction.prescriber_id.as_bytes()),
        overridden: durgate::claim::Overridden::NONE,
    }
}

fn match_of(transaction: &TransactionRecord, record: &TransmissionRecord) -> ClaimMatch {
    ClaimMatch {
        pharmacy: id_hash(record.pharmacy_id.as_bytes()),
        rx_number: transaction.rx_number,
        fill_number: transaction.fill_number,
        date_of_service: transaction.date_of_service,
    }
}

#[tokio::test]
async fn the_history_rebuilt_from_the_store_equals_the_one_kept_live() {
    let (_folder, _path, store) = temp_store(StoreOptions::default());
    let live = Live {
        history: History::new(),
    };
    let mut paid = Vec::new();
    for (patient_number, rx) in [(1, 1), (1, 2), (2, 3), (2, 4), (3, 5), (3, 6)] {
        let record = b1(patient_number, rx, day(rx as i32), Status::Paid);
        let receipt = store.commit(record.clone()).await.expect("paid");
        live.paid(&record, &receipt);
        paid.push(claim_id(&receipt));
    }
    let old = b1(4, 7, day(-400), Status::Paid);
    let receipt = store.commit(old.clone()).await.expect("old claim");
    live.paid(&old, &receipt);
    store
        .commit(b1(1, 8, day(3), Status::Rejected))
        .await
        .expect("rejected");
    let mut compound = b1(2, 9, day(3), Status::Paid);
    compound.transactions[0].ndc = None;
    store.commit(compound).await.expect("compound");
    let reversal = b2(2, day(2), paid[1]);
    store.commit(reversal.clone()).await.expect("reversal");
    live.history
        .record_reversal(&match_of(&reversal.transactions[0], &reversal));
    let rebill = b3(2, 3, day(3), paid[2], Status::Paid);
    let receipt = store.commit(rebill.clone()).await.expect("rebill");
    live.paid(&rebill, &receipt);

    let since = day(-365);
    live.history.prune(since);
    let rebuilt = History::new();
    store
        .load_history(since, &mut |row| {
            let claim = PaidClaim {
                fill: row.fill,
                claim_id: row.claim_id,
                reversed: row.reversed,
            };
            rebuilt.record_paid(&row.patient_key, claim);
        })
        .expect("load history");

    assert_eq!(
        (rebuilt.patients(), rebuilt.fills_len()),
        (live.history.patients(), live.history.fills_len())
    );
    assert_eq!((rebuilt.patients(), rebuilt.fills_len()), (3, 5));
    for patient_number in 1..=4 {
        let (mut expected, mut actual) = (Vec::new(), Vec::new());
        live.history.fills(&patient(patient_number), &mut expected);
        rebuilt.fills(&patient(patient_number), &mut actual);
        let order = |fill: &durgate::claim::Fill| {
            (fill.rx_number, fill.date_of_service, fill.quantity_milli)
        };
        expected.sort_by_key(order);
        actual.sort_by_key(order);
        assert_eq!(actual, expected, "patient {patient_number}");
    }
    for (rx, offset) in [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 5),
        (6, 6),
        (7, -400),
        (8, 3),
        (9, 3),
    ] {
        let key = match_of(
            &transaction(RecordKind::Claim, rx, day(offset), Status::Paid),
            &b1(1, rx, day(0), Status::Paid),
        );
        assert_eq!(
            rebuilt.find_paid(&key),
            live.history.find_paid(&key),
            "rx {rx}"
        );
    }
    let reversed = match_of(
        &transaction(RecordKind::Claim, 2, day(2), Status::Paid),
        &b1(1, 2, day(0), Status::Paid),
    );
    assert!(
        matches!(rebuilt.find_paid(&reversed), Some(PaidLookup::Reversed { claim_id, .. }) if claim_id == paid[1])
    );
}

/// The example queries of `SCHEMA.md`, in order.
fn documented_queries() -> Vec<String> {
    support::first_sql_block(include_str!("../src/store/SCHEMA.md"))
}

#[tokio::test]
async fn the_report_queries_in_the_schema_docs_answer_from_recorded_claims() {
    let (_folder, path, store) = temp_store(StoreOptions::default());
    let (paid_with_override, abandoned) = commit_review_story(&store).await;
    store.close().expect("close");

    let queries = documented_queries();
    assert_eq!(queries.len(), 3);
    let db = Connection::open(&path).expect("analyst connection");
    let answer = |sql: &str| -> Vec<Vec<Value>> {
        let mut statement = db.prepare(sql).expect(sql);
        let columns = statement.column_count();
        let rows = statement.query_map([], |row| {
            (0..columns)
                .map(|column| row.get::<_, Value>(column))
                .collect()
        });
        rows.and_then(|rows| rows.collect()).expect(sql)
    };
    assert!(
        answer(&queries[0]).is_empty(),
        "no claims in the 2018 example period"
    );
    let with_the_period = queries[0]
        .replace("2018-01-01", "2025-01-01")
        .replace("2018-06-30", "2025-06-30");
    assert_eq!(
        answer(&with_the_period),
        vec![vec![Value::Text(PHARMACY.into()), Value::Integer(2)]]
    );
    assert_eq!(
        answer(&queries[1]),
        vec![vec![Value::Text(PHARMACY.into()), Value::Integer(1)]]
    );
    assert_eq!(
        answer(&queries[2]),
        vec![vec![Value::Integer(abandoned as i64)]]
    );
    assert!(paid_with_override > 0);
}
