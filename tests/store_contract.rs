//! The store contract: every behaviour of the claim record that both backends promise, proved
//! by one test body run against a real SQLite file and against a real PostgreSQL schema
//! (`contract!` makes a `sqlite` and a `postgres` test of each). Reversals and their refusals,
//! rebills paid and rejected, all-or-nothing transmissions, the second paid claim refused with
//! the original, duplicates answered and not recorded, a record never matched against its own
//! rows, and the claim lookup by pharmacy, Rx, fill and date of service (`load_claims`) that
//! reversal and duplicate matching falls back to.
//!
//! The PostgreSQL half prints why it skips when no server answers (and fails under
//! `DURGATE_REQUIRE_SERVICES=1`). Backend-specific stories (what lands in which column, group
//! commit, locks, races between two nodes) stay in `tests/store.rs` and `tests/postgres.rs`.

mod support;

use durgate::claim::{Authorization, Status};
use durgate::store::{
    ClaimKeys, ClaimStore, PgLocation, PgStore, RecordKind, SqliteStore, StoreError, StoreOptions,
};
use support::pg::PgSchema;
use support::records::*;
use tempfile::TempDir;

/// A fresh store of one backend, and a way to count rows in it.
struct Backend {
    store: Box<dyn ClaimStore>,
    place: Place,
}

enum Place {
    Sqlite {
        _folder: TempDir,
        path: std::path::PathBuf,
    },
    Postgres(PgSchema),
}

impl Backend {
    fn sqlite() -> Backend {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("claims.db");
        let store =
            SqliteStore::open(&path, StoreOptions::default()).expect("open the SQLite store");
        Backend {
            store: Box::new(store),
            place: Place::Sqlite {
                _folder: folder,
                path,
            },
        }
    }

    /// `None` (the skip printed) when no PostgreSQL server answers.
    fn postgres(test: &str) -> Option<Backend> {
        let schema = PgSchema::create(test)?;
        let location = PgLocation::parse(&schema.url()).expect("store url");
        let store = PgStore::open(&location).expect("open the PostgreSQL store");
        Some(Backend {
            store: Box::new(store),
            place: Place::Postgres(schema),
        })
    }

    /// The number a `SELECT count(*) ...` query answers (the same SQL on both backends).
    fn count(&self, sql: &str) -> i64 {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("analyst connection");
                connection.query_row(sql, [], |row| row.get(0)).expect(sql)
            }
            Place::Postgres(schema) => schema.number(sql),
        }
    }
}

/// A `sqlite` and a `postgres` test running the contract story `$story`.
macro_rules! contract {
    ($story:ident) => {
        mod $story {
            #[tokio::test]
            async fn sqlite() {
                super::$story(super::Backend::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(backend) = super::Backend::postgres("contract") {
                    super::$story(backend).await;
                }
            }
        }
    };
}

contract!(a_reversal_links_both_rows_and_a_second_one_is_refused);
contract!(a_paid_rebill_replaces_the_original_in_one_commit);
contract!(a_rejected_rebill_leaves_the_original_paid);
contract!(a_transmission_is_recorded_all_or_nothing);
contract!(a_second_paid_claim_for_the_same_rx_fill_and_date_is_refused_with_the_original);
contract!(duplicates_are_answered_from_the_original_and_not_recorded);
contract!(a_transmission_repeating_one_claim_is_never_matched_against_itself);
contract!(a_claim_is_found_by_its_keys_unreversed_first_then_the_latest_reversed);

async fn a_reversal_links_both_rows_and_a_second_one_is_refused(backend: Backend) {
    let store = &backend.store;
    let original = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    let reversal = store
        .commit(b2(42, day(0), original))
        .await
        .expect("reversal");
    let reversal_id = claim_id(&reversal);
    assert!(
        reversal
            .transaction(1)
            .and_then(|t| t.authorization)
            .is_some(),
        "an approved reversal is authorized"
    );
    let links = format!("SELECT count(*) FROM claims WHERE id = {original} AND reversed_by = {reversal_id} AND reversed_at_ms IS NOT NULL AND status = 'paid'");
    assert_eq!(backend.count(&links), 1);
    let back = format!("SELECT count(*) FROM claims WHERE id = {reversal_id} AND reverses = {original} AND matched_claim_id = {original} AND kind = 'reversal' AND status = 'approved'");
    assert_eq!(backend.count(&back), 1);
    let again = store.commit(b2(42, day(0), original)).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyReversed { index: 1, claim_id }) if claim_id == original),
        "{again:?}"
    );
    let elsewhere = store.commit(b2(43, day(0), original)).await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotReversible { .. })),
        "another Rx cannot reverse it: {elsewhere:?}"
    );
    assert_eq!(backend.count("SELECT count(*) FROM claims"), 2);
    assert_eq!(store.stats().records_refused, 2);
}

async fn a_paid_rebill_replaces_the_original_in_one_commit(backend: Backend) {
    let store = &backend.store;
    let original = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    let rebill = claim_id(
        &store
            .commit(b3(1, 42, day(0), original, Status::Paid))
            .await
            .expect("rebill"),
    );
    let sql = format!(
        "SELECT count(*) FROM claims o JOIN claims n ON n.reverses = o.id \
         WHERE o.id = {original} AND o.reversed_by = {rebill} AND n.id = {rebill} AND n.kind = 'rebill' \
         AND n.status = 'paid' AND n.reversed_at_ms IS NULL AND n.quantity_milli = 60000"
    );
    assert_eq!(backend.count(&sql), 1);
    assert_eq!(
        backend
            .count("SELECT count(*) FROM claims WHERE status = 'paid' AND reversed_at_ms IS NULL"),
        1
    );
}

async fn a_rejected_rebill_leaves_the_original_paid(backend: Backend) {
    let store = &backend.store;
    let original = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    let receipt = store
        .commit(b3(1, 42, day(0), original, Status::Rejected))
        .await
        .expect("rejected rebill");
    assert_eq!(receipt.transaction(1).and_then(|t| t.authorization), None);
    let untouched = format!("SELECT count(*) FROM claims WHERE id = {original} AND reversed_by IS NULL AND reversed_at_ms IS NULL");
    assert_eq!(backend.count(&untouched), 1);
    let attempt = format!("SELECT count(*) FROM claims WHERE kind = 'rebill' AND status = 'rejected' AND reverses IS NULL AND matched_claim_id = {original}");
    assert_eq!(backend.count(&attempt), 1);
}

async fn a_transmission_is_recorded_all_or_nothing(backend: Backend) {
    let store = &backend.store;
    let original = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    store
        .commit(b2(42, day(0), original))
        .await
        .expect("reversed");
    let before = backend.count("SELECT count(*) FROM claims")
        + backend.count("SELECT count(*) FROM transmissions");
    // A B3 whose original was reversed meanwhile: neither its new claim nor anything else lands.
    let stale = store
        .commit(b3(1, 42, day(0), original, Status::Paid))
        .await;
    assert!(
        matches!(stale, Err(StoreError::AlreadyReversed { .. })),
        "{stale:?}"
    );
    // Two transactions, the second refused (Rx 42 is paid already on day 1): the first is not
    // recorded either.
    store
        .commit(b1(1, 42, day(1), Status::Paid))
        .await
        .expect("paid");
    let before = before + 2;
    let mut pair = b1(1, 100, day(0), Status::Paid);
    let mut repeat = transaction(RecordKind::Claim, 42, day(1), Status::Paid);
    repeat.index = 2;
    pair.transactions.push(repeat);
    let refused = store.commit(pair).await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyPaid { index: 2, .. })),
        "{refused:?}"
    );
    let after = backend.count("SELECT count(*) FROM claims")
        + backend.count("SELECT count(*) FROM transmissions");
    assert_eq!(after, before);
    assert_eq!(
        backend.count("SELECT count(*) FROM claims WHERE rx_number = 100"),
        0
    );
}

async fn a_second_paid_claim_for_the_same_rx_fill_and_date_is_refused_with_the_original(
    backend: Backend,
) {
    let store = &backend.store;
    let first = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    let second = store.commit(b1(1, 42, day(0), Status::Paid)).await;
    match second {
        Err(StoreError::AlreadyPaid {
            index: 1,
            claim_id,
            authorization,
            product_id,
        }) => {
            assert_eq!(
                (claim_id, authorization),
                (first, Authorization::for_claim(first))
            );
            assert_eq!(product_id, "00378611201");
        }
        other => panic!("expected AlreadyPaid, got {other:?}"),
    }
    store
        .commit(b1(1, 42, day(1), Status::Paid))
        .await
        .expect("another date is another claim");
    store
        .commit(b1(1, 42, day(0), Status::Rejected))
        .await
        .expect("a rejected resubmission is recorded");
}

async fn duplicates_are_answered_from_the_original_and_not_recorded(backend: Backend) {
    let store = &backend.store;
    store
        .commit(b1(1, 42, day(0), Status::Paid))
        .await
        .expect("paid");
    let receipt = store
        .commit(b1(1, 42, day(0), Status::Duplicate))
        .await
        .expect("duplicate");
    assert!(receipt.transactions.is_empty());
    assert_eq!(backend.count("SELECT count(*) FROM claims"), 1);
}

/// Validation refuses a transmission that repeats one claim; should one reach the store, its
/// second transaction must not be "already paid" by the first (whose row is rolled back with
/// it): that answer would carry an authorization that is never committed.
async fn a_transmission_repeating_one_claim_is_never_matched_against_itself(backend: Backend) {
    let store = &backend.store;
    let mut pair = b1(1, 42, day(0), Status::Paid);
    let mut repeat = transaction(RecordKind::Claim, 42, day(0), Status::Paid);
    repeat.index = 2;
    pair.transactions.push(repeat);
    let refused = store.commit(pair).await;
    assert!(
        matches!(refused, Err(ref error) if !matches!(error, StoreError::AlreadyPaid { .. })),
        "{refused:?}"
    );
    assert_eq!(backend.count("SELECT count(*) FROM claims"), 0);
    assert_eq!(backend.count("SELECT count(*) FROM transmissions"), 0);
    store
        .commit(b1(1, 42, day(0), Status::Paid))
        .await
        .expect("the claim alone is paid");
}

/// What `load_claims` finds for each (Rx, fill) of a pharmacy and date: (claim id, reversed).
async fn found(store: &dyn ClaimStore, rx_fills: &[(u64, u8)]) -> Vec<(u64, bool)> {
    let keys = ClaimKeys {
        pharmacy_id: PHARMACY.into(),
        date_of_service: day(0),
        rx_fills: rx_fills.to_vec(),
    };
    let rows = store.load_claims(&keys).await.expect("claims read");
    assert!(rows.iter().all(|row| row.patient_key == patient(1)));
    rows.iter()
        .map(|row| (row.claim_id, row.reversed))
        .collect()
}

async fn a_claim_is_found_by_its_keys_unreversed_first_then_the_latest_reversed(backend: Backend) {
    let store = &*backend.store;
    let first = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("paid"),
    );
    store
        .commit(b1(1, 43, day(1), Status::Paid))
        .await
        .expect("paid");
    store
        .commit(b1(1, 44, day(0), Status::Rejected))
        .await
        .expect("rejected");
    assert_eq!(
        found(store, &[(42, 0), (43, 0), (44, 0), (42, 1)]).await,
        [(first, false)]
    );
    store.commit(b2(42, day(0), first)).await.expect("reversed");
    assert_eq!(found(store, &[(42, 0)]).await, [(first, true)]);
    let again = claim_id(
        &store
            .commit(b1(1, 42, day(0), Status::Paid))
            .await
            .expect("billed again"),
    );
    assert_eq!(
        found(store, &[(42, 0)]).await,
        [(again, false)],
        "the unreversed claim wins"
    );
    store
        .commit(b2(42, day(0), again))
        .await
        .expect("reversed again");
    assert_eq!(
        found(store, &[(42, 0)]).await,
        [(again, true)],
        "then the latest reversed one"
    );
    let fill = store.load_claims(&ClaimKeys {
        pharmacy_id: PHARMACY.into(),
        date_of_service: day(0),
        rx_fills: vec![(42, 0)],
    });
    let row = fill.await.expect("claims read").remove(0);
    assert_eq!((row.fill.rx_number, row.fill.date_of_service), (42, day(0)));
    assert_eq!(
        row.fill.pharmacy,
        durgate::claim::id_hash(PHARMACY.as_bytes())
    );
}
