//! Stories of the shared claim store on the PostgreSQL server: what a commit leaves in the
//! database, two stores (two gateway nodes) racing on the same claim or the same reversal, a
//! refused transmission in a batch of good ones, rebills, the per-claim history reads, and the
//! migrations.
//!
//! Each test works in a schema of its own (`tests/support/pg.rs`), dropped at the end, and
//! prints why it is skipped when no server answers on 127.0.0.1:5432.

mod support;

use durgate::claim::{Authorization, Status};
use durgate::store::{self, ClaimKeys, ClaimStore, HistoryRow, PgLocation, PgStore, StoreError};
use std::sync::Arc;
use support::pg::PgSchema;
use support::records::*;

fn open(schema: &PgSchema) -> PgStore {
    let location = PgLocation::parse(&schema.url()).expect("store url");
    PgStore::open(&location).expect("open the PostgreSQL store")
}

fn texts(row: &[Option<String>]) -> Vec<&str> {
    row.iter()
        .map(|cell| cell.as_deref().unwrap_or("NULL"))
        .collect()
}

#[tokio::test]
async fn a_committed_claim_is_in_the_database_whole_with_its_conflicts_and_dur_pps() {
    let Some(schema) = PgSchema::create("whole") else {
        return;
    };
    let store = open(&schema);
    let receipt = store.commit(b1_from_request()).await.expect("commit");
    let id = claim_id(&receipt);
    let authorization = Authorization::for_claim(id).to_string();
    assert_eq!(
        receipt
            .transaction(1)
            .and_then(|committed| committed.authorization),
        Some(Authorization::for_claim(id))
    );
    let claims = schema.rows(&format!(
        "SELECT kind, status, \"authorization\", rx_number, ndc, date_of_service, pharmacy_id, \
         transmission_id, ruleset, message FROM claims WHERE id = {id}"
    ));
    assert_eq!(claims.len(), 1);
    let transmission_id = receipt.transmission_id.to_string();
    assert_eq!(
        texts(&claims[0]),
        [
            "claim",
            "paid",
            authorization.as_str(),
            "555001",
            "00378611201",
            "2025-03-01",
            PHARMACY,
            transmission_id.as_str(),
            "sample@2025.03",
            "DUR OVERRIDE ACCEPTED"
        ]
    );
    let conflicts = schema.rows(&format!(
        "SELECT id, position, edit, reason, overridable, overridden_by, previous_fill_date \
         FROM conflicts WHERE claim_id = {id} ORDER BY position"
    ));
    let shown: Vec<Vec<&str>> = conflicts.iter().map(|row| texts(&row[1..])).collect();
    assert_eq!(
        shown,
        [
            ["1", "ddi", "DD", "t", "1", "2025-02-09"],
            ["2", "duplication", "TD", "t", "NULL", "2025-02-09"]
        ]
    );
    let ddi_id = conflicts[0][0].clone();
    let dur_pps = schema.rows(&format!(
        "SELECT counter, professional, matched_conflict_id, overrode FROM dur_pps \
         WHERE claim_id = {id} ORDER BY counter"
    ));
    let ddi = ddi_id.as_deref().unwrap_or("?");
    let shown: Vec<Vec<&str>> = dur_pps.iter().map(|row| texts(row)).collect();
    assert_eq!(shown, [["1", "M0", ddi, "t"], ["2", "R0", "NULL", "f"]]);
    let ruleset = schema.rows("SELECT first_seen_ms, last_seen_ms FROM rulesets");
    assert_eq!(
        ruleset,
        [[
            Some("1740000000000".to_owned()),
            Some("1740000000000".to_owned())
        ]]
    );
}

#[tokio::test]
async fn two_nodes_racing_on_the_same_claim_pay_it_once() {
    let Some(schema) = PgSchema::create("race_paid") else {
        return;
    };
    let (node_a, node_b) = (open(&schema), open(&schema));
    for round in 0..20u64 {
        let claim = b1(round as u32, 7_000 + round, day(0), Status::Paid);
        let (a, b) = tokio::join!(node_a.commit(claim.clone()), node_b.commit(claim));
        let (winner, loser) = match (a, b) {
            (Ok(receipt), Err(error)) | (Err(error), Ok(receipt)) => (receipt, error),
            other => panic!("round {round}: one commit must win and one lose: {other:?}"),
        };
        let won = claim_id(&winner);
        match loser {
            StoreError::AlreadyPaid {
                index,
                claim_id,
                authorization,
                product_id,
            } => {
                assert_eq!((index, claim_id), (1, won));
                assert_eq!(authorization, Authorization::for_claim(won));
                assert_eq!(product_id, "00378611201");
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    let paid = schema.number("SELECT count(*) FROM claims WHERE status = 'paid'");
    assert_eq!(paid, 20);
    let stats = (node_a.stats(), node_b.stats());
    assert_eq!(stats.0.records_refused + stats.1.records_refused, 20);
}

#[tokio::test]
async fn a_refused_transmission_does_not_fail_the_others_of_its_batch() {
    let Some(schema) = PgSchema::create("batch_refusal") else {
        return;
    };
    let (node_a, node_b) = (open(&schema), open(&schema));
    let first = node_a
        .commit(b1(1, 1, day(0), Status::Paid))
        .await
        .expect("paid on node A");
    let first_id = claim_id(&first);
    // Queued together, so that node B's writer takes them in one batch.
    let queued = futures::future::join_all(
        [
            b1(1, 1, day(0), Status::Paid),
            b1(2, 2, day(0), Status::Paid),
            b1(3, 3, day(0), Status::Paid),
        ]
        .map(|record| node_b.submit(record)),
    )
    .await;
    let mut results = Vec::new();
    for committing in queued {
        results.push(committing.expect("queued").await);
    }
    assert!(
        matches!(results[0], Err(StoreError::AlreadyPaid { claim_id, .. }) if claim_id == first_id),
        "{:?}",
        results[0]
    );
    assert!(results[1].is_ok() && results[2].is_ok(), "{results:?}");
    let stats = node_b.stats();
    assert_eq!((stats.records_committed, stats.records_refused), (2, 1));
    assert_eq!(stats.batches_committed, 1, "one batch: {stats:?}");
    let recorded = schema.number("SELECT count(*) FROM claims");
    assert_eq!(recorded, 3, "the refused transmission left no row");
    let transmissions = schema.number("SELECT count(*) FROM transmissions");
    assert_eq!(transmissions, 3);
}

#[tokio::test]
async fn two_reversals_racing_on_two_nodes_approve_once() {
    let Some(schema) = PgSchema::create("race_reversal") else {
        return;
    };
    let (node_a, node_b) = (open(&schema), open(&schema));
    for round in 0..10u64 {
        let rx = 8_000 + round;
        let paid = node_a
            .commit(b1(round as u32, rx, day(0), Status::Paid))
            .await
            .expect("paid");
        let original = claim_id(&paid);
        let reversal = b2(rx, day(0), original);
        let (a, b) = tokio::join!(node_a.commit(reversal.clone()), node_b.commit(reversal));
        let (approved, refused) = match (a, b) {
            (Ok(receipt), Err(error)) | (Err(error), Ok(receipt)) => (receipt, error),
            other => panic!("round {round}: one reversal must win: {other:?}"),
        };
        assert!(
            matches!(refused, StoreError::AlreadyReversed { index: 1, claim_id } if claim_id == original),
            "{refused:?}"
        );
        let reversed_by = schema.number(&format!(
            "SELECT reversed_by FROM claims WHERE id = {original}"
        ));
        assert_eq!(reversed_by as u64, claim_id(&approved));
    }
    let approvals = schema.number("SELECT count(*) FROM claims WHERE kind = 'reversal'");
    assert_eq!(approvals, 10);
}

#[tokio::test]
async fn a_paid_rebill_replaces_the_original_and_a_reversal_of_nothing_is_refused() {
    let Some(schema) = PgSchema::create("rebill") else {
        return;
    };
    let store = open(&schema);
    let original = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    let rebill = store
        .commit(b3(1, 42, day(0), original, Status::Paid))
        .await
        .expect("rebilled");
    let new_id = claim_id(&rebill);
    let rows = schema.rows(
        "SELECT id, status, reversed_by, reverses, quantity_milli FROM claims \
         WHERE rx_number = 42 ORDER BY id",
    );
    let (original_text, new_text) = (original.to_string(), new_id.to_string());
    let shown: Vec<Vec<&str>> = rows.iter().map(|row| texts(row)).collect();
    assert_eq!(
        shown,
        [
            [
                original_text.as_str(),
                "paid",
                new_text.as_str(),
                "NULL",
                "30000"
            ],
            [
                new_text.as_str(),
                "paid",
                "NULL",
                original_text.as_str(),
                "60000"
            ]
        ]
    );
    // The original is reversed now: a second rebill of it, or a reversal of it, is refused.
    let again = store
        .commit(b3(1, 42, day(0), original, Status::Paid))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyReversed { .. })),
        "{again:?}"
    );
    let stranger = store.commit(b2(43, day(0), new_id)).await;
    assert!(
        matches!(stranger, Err(StoreError::NotReversible { claim_id, .. }) if claim_id == new_id),
        "a reversal must match the claim's Rx: {stranger:?}"
    );
}

/// `b1` that carries the patient head version its history was read at.
fn b1_read_at(rx_number: u64, status: Status, head: i64) -> store::TransmissionRecord {
    let mut record = b1(7, rx_number, day(-1), status);
    record.patient_head = Some(head);
    record
}

#[tokio::test]
async fn a_paying_record_whose_patient_head_moved_on_another_node_is_refused() {
    let Some(schema) = PgSchema::create("heads") else {
        return;
    };
    let (node_a, node_b) = (open(&schema), open(&schema));
    let first = node_a.commit(b1_read_at(700, Status::Paid, 0)).await;
    assert!(first.is_ok(), "a new patient's first paid claim: {first:?}");
    let head = || schema.number("SELECT version FROM patient_heads");
    assert_eq!(head(), 1);
    let stale = node_b.commit(b1_read_at(701, Status::Paid, 0)).await;
    assert!(
        matches!(stale, Err(StoreError::PatientChanged)),
        "read before the first claim committed: {stale:?}"
    );
    let rejected = node_b.commit(b1_read_at(702, Status::Rejected, 0)).await;
    assert!(rejected.is_ok(), "a rejection adds no fill: {rejected:?}");
    let fresh = node_b.commit(b1_read_at(703, Status::Paid, 1)).await;
    assert!(fresh.is_ok(), "read after it: {fresh:?}");
    assert_eq!(head(), 2, "each paying record advanced the head once");
    let rows = node_b
        .load_patient(&patient(7), day(-90))
        .await
        .expect("read");
    assert_eq!(rows.head_version, 2);
    assert_eq!(rows.rows.len(), 2, "the refused record left no row");
    let unknown = node_b
        .load_patient(&patient(8), day(-90))
        .await
        .expect("read");
    assert_eq!((unknown.head_version, unknown.rows.len()), (0, 0));
}

#[tokio::test]
async fn the_history_reads_see_what_any_node_committed() {
    let Some(schema) = PgSchema::create("reads") else {
        return;
    };
    let (node_a, node_b) = (open(&schema), open(&schema));
    let kept = claim_id(
        &node_a
            .commit(b1(1, 100, day(-5), Status::Paid))
            .await
            .expect("paid"),
    );
    let reversed = claim_id(
        &node_a
            .commit(b1(1, 101, day(-3), Status::Paid))
            .await
            .expect("paid"),
    );
    node_a
        .commit(b2(101, day(-3), reversed))
        .await
        .expect("reversed");
    node_a
        .commit(b1(1, 102, day(-400), Status::Paid))
        .await
        .expect("old fill");
    node_a
        .commit(b1(2, 103, day(-1), Status::Paid))
        .await
        .expect("other patient");
    let rows = node_b
        .load_patient(&patient(1), day(-90))
        .await
        .expect("read")
        .rows;
    let seen: Vec<(u64, u64, bool)> = rows
        .iter()
        .map(|row| (row.claim_id, row.fill.rx_number, row.reversed))
        .collect();
    assert_eq!(
        seen,
        [(kept, 100, false), (reversed, 101, true)],
        "unreversed first"
    );
    assert!(rows.iter().all(|row| row.patient_key == patient(1)));
    let again = node_b
        .commit(b1(1, 101, day(-3), Status::Paid))
        .await
        .expect("billed again");
    let keys = ClaimKeys {
        pharmacy_id: PHARMACY.into(),
        date_of_service: day(-3),
        rx_fills: vec![(101, 0), (999, 0)],
    };
    let matched: Vec<HistoryRow> = node_a.load_claims(&keys).await.expect("read");
    let shown: Vec<(u64, bool)> = matched
        .iter()
        .map(|row| (row.claim_id, row.reversed))
        .collect();
    assert_eq!(
        shown,
        [(claim_id(&again), false)],
        "the unreversed claim wins"
    );
    node_b
        .commit(b2(101, day(-3), claim_id(&again)))
        .await
        .expect("reversed again");
    let matched = node_a.load_claims(&keys).await.expect("read");
    let shown: Vec<(u64, bool)> = matched
        .iter()
        .map(|row| (row.claim_id, row.reversed))
        .collect();
    assert_eq!(
        shown,
        [(claim_id(&again), true)],
        "then the latest reversed one"
    );
    let mut rebuilt = Vec::new();
    node_b
        .load_history(day(-90), &mut |row| {
            rebuilt.push((row.claim_id, row.reversed))
        })
        .expect("rebuild");
    rebuilt.sort_unstable();
    assert_eq!(rebuilt.len(), 4, "{rebuilt:?}");
}

#[tokio::test]
async fn close_commits_what_is_queued_and_refuses_what_comes_after() {
    let Some(schema) = PgSchema::create("close") else {
        return;
    };
    let store = Arc::new(open(&schema));
    let mut queued = Vec::new();
    for rx in 0..50 {
        queued.push(
            store
                .submit(b1(rx as u32, rx, day(0), Status::Paid))
                .await
                .expect("queued"),
        );
    }
    let closing = store.clone();
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .expect("join")
        .expect("close");
    for committing in queued {
        committing
            .await
            .expect("committed before the close returned");
    }
    assert_eq!(schema.number("SELECT count(*) FROM claims"), 50);
    let late = store.commit(b1(99, 99, day(0), Status::Paid)).await;
    assert!(matches!(late, Err(StoreError::Closed)), "{late:?}");
    assert!(matches!(store.check_writable(), Err(StoreError::Closed)));
}

#[tokio::test]
async fn the_store_url_opens_postgres_and_migrations_apply_once() {
    let Some(schema) = PgSchema::create("migrations") else {
        return;
    };
    let opened = store::open(&schema.url()).expect("open by url");
    assert!(opened.shared_history());
    opened.check_writable().expect("writable");
    drop(opened);
    drop(open(&schema));
    assert_eq!(
        schema.number("SELECT count(*) FROM schema_version"),
        durgate::store::SCHEMA_VERSION
    );
    schema.execute("INSERT INTO schema_version VALUES (99, 0)");
    let location = PgLocation::parse(&schema.url()).expect("url");
    let refused = PgStore::open(&location).err();
    assert!(
        matches!(
            refused,
            Some(StoreError::SchemaTooNew {
                found: 99,
                known: durgate::store::SCHEMA_VERSION
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_refused_at_open_without_the_password() {
    let port = support::free_port();
    let url = format!("postgres://durgate:secret@127.0.0.1:{port}/test?connect_timeout=2");
    let refused = store::open(&url).err().map(|error| error.to_string());
    let shown = refused.expect("no server listens there");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("PostgreSQL"), "{shown}");
}

/// The PostgreSQL example queries of `SCHEMA.md` (its second `sql` block), in order.
fn documented_queries() -> Vec<String> {
    let doc = include_str!("../src/store/SCHEMA.md");
    support::first_sql_block(doc.split("## PostgreSQL").nth(1).unwrap_or(""))
}

#[tokio::test]
async fn the_postgresql_report_queries_in_the_schema_docs_answer_from_recorded_claims() {
    let Some(schema) = PgSchema::create("report_queries") else {
        return;
    };
    let store = open(&schema);
    let (_, abandoned) = commit_review_story(&store).await;
    drop(store);

    let queries = documented_queries();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(
        schema.rows(&queries[0]).is_empty(),
        "nothing in the 2018 example period"
    );
    let with_the_period = queries[0]
        .replace("2018-01-01", "2025-01-01")
        .replace("2018-06-30", "2025-06-30");
    let pharmacy = Some(PHARMACY.to_owned());
    assert_eq!(
        schema.rows(&with_the_period),
        [[pharmacy.clone(), Some("2".to_owned())]]
    );
    assert_eq!(schema.rows(&queries[1]), [[pharmacy, Some("1".to_owned())]]);
    assert_eq!(schema.rows(&queries[2]), [[Some(abandoned.to_string())]]);
}

/// Every store connection is durable and bounded whatever the url says: the server reports
/// `synchronous_commit=on` (over the url's `off`), the statement, lock and idle-in-transaction
/// timeouts, and the socket has a TCP user timeout and keepalives (a silent partition fails a
/// batch in seconds, not after the kernel's ~15 minutes).
#[tokio::test]
async fn store_connections_are_durable_and_bounded_whatever_the_url_says() {
    let Some(schema) = PgSchema::create("settings") else {
        return;
    };
    let url = format!(
        "{}&options=-c%20synchronous_commit%3Doff%20-c%20lock_timeout%3D0",
        schema.url()
    );
    let location = PgLocation::parse(&url).expect("store url");
    let config = location.connection_config();
    assert!(config
        .get_tcp_user_timeout()
        .is_some_and(|timeout| !timeout.is_zero()));
    assert!(config.get_keepalives());
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect with the store's settings");
    tokio::spawn(connection);
    let mut seen = Vec::new();
    for setting in [
        "synchronous_commit",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
    ] {
        let row = client
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .expect(setting);
        seen.push((setting, row.get::<_, String>(0)));
    }
    assert_eq!(
        seen,
        [
            ("synchronous_commit", "on".to_owned()),
            ("statement_timeout", "5s".to_owned()),
            ("lock_timeout", "1s".to_owned()),
            ("idle_in_transaction_session_timeout", "10s".to_owned()),
        ]
    );
}

/// Whether `ANALYZE` (not autovacuum) has run on the schema's `claims` table.
fn claims_analyzed(schema: &PgSchema) -> bool {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = '{}' \
         AND relname = 'claims' AND last_analyze IS NOT NULL",
        schema.name
    );
    schema.number(&sql) == 1
}

async fn submit_paid(store: &PgStore, patients: std::ops::Range<u32>) {
    let mut committing = Vec::new();
    for patient in patients {
        let record = b1(patient, u64::from(patient), day(0), Status::Paid);
        committing.push(store.submit(record).await.expect("queued"));
    }
    for each in committing {
        each.await.expect("committed");
    }
}

#[tokio::test]
async fn the_store_analyzes_its_tables_as_they_grow_whatever_autovacuum_does() {
    let Some(schema) = PgSchema::create("analyze") else {
        return;
    };
    let store = open(&schema);
    submit_paid(&store, 0..900).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!claims_analyzed(&schema), "analyzed before 1,000 records");
    submit_paid(&store, 900..1_100).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !claims_analyzed(&schema) {
        assert!(
            std::time::Instant::now() < deadline,
            "no ANALYZE after 1,100 records"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
