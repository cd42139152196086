//! Stories of the data lifecycle commands through the real binary: `durgate backup` of a store
//! a gateway is serving, and `durgate purge` (dry run, exact deletes, links kept, no dangling
//! rows) on SQLite and PostgreSQL, and the refusals of both.

mod support;

use durgate::claim::Status;
use durgate::store::{ClaimStore, SqliteStore, StoreOptions, TransmissionRecord};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use support::pg::PgSchema;
use support::records::*;
use support::{days_ago, spawn_gateway_process, statuses, Person, ProcessOptions};

const WARFARIN_5MG: &str = "99999000101";
/// Claims acknowledged before the backup starts.
const ACKED_BEFORE_BACKUP: usize = 20;
/// Padding written into the store so the copy takes several backup steps.
const PADDING_BYTES: usize = 24 * 1024 * 1024;
/// Old B1s of the purge story: more than one purge chunk.
const BULK_OLD: u64 = 600;

fn durgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sqlite_number(path: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(path).expect("open");
    connection.query_row(sql, [], |row| row.get(0)).expect(sql)
}

// ---- backup --------------------------------------------------------------------------------

/// A new store file with the schema and no claims, in a folder of its own.
fn empty_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("claims.db");
    create_store(&path);
    (folder, path)
}

fn create_store(path: &Path) {
    let store = SqliteStore::open(path, StoreOptions::default()).expect("create store");
    store.close().expect("close");
}

/// A store file with the schema and a padding table that makes the copy span many steps.
fn padded_store(path: &Path) {
    create_store(path);
    let connection = rusqlite::Connection::open(path).expect("open");
    connection
        .execute_batch(&format!(
            "CREATE TABLE padding (b BLOB); INSERT INTO padding VALUES (zeroblob({PADDING_BYTES}))"
        ))
        .expect("padding");
}

/// Sends one claim after another (each its own patient and Rx) and records the
/// authorization of every paid reply, until `stop`.
async fn send_until(
    addr: std::net::SocketAddr,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let mut client = support::Client::connect(addr).await;
    for n in 0..100_000u64 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let claim =
            Person::adult(&format!("BACKUP{n:05}")).b1(20_000 + n, WARFARIN_5MG, days_ago(2));
        let reply = client.send(&claim.encode()).await;
        assert_eq!(statuses(&reply), "P", "{reply:?}");
        let authorization = support::authorization(&reply, 0);
        acked.lock().unwrap().push(authorization);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_claims_arrive_holds_every_claim_acknowledged_before_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    let options = ProcessOptions::new(&folder.path().join("claims.db"));
    padded_store(&options.store_path);
    let gateway = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let (acked, stop) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(AtomicBool::new(false)),
    );
    let sender = tokio::spawn(send_until(gateway.addr, acked.clone(), stop.clone()));
    while acked.lock().unwrap().len() < ACKED_BEFORE_BACKUP {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let out = folder.path().join("copy.db");
    let store = format!("sqlite:{}", options.store_path.display());
    let out_arg = out.to_str().unwrap().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        durgate(&["backup", "--store", &store, "--out", &out_arg])
    })
    .await
    .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::Relaxed);
    sender.await.expect("sender");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        during > 0,
        "the gateway answered no claim while the backup ran"
    );

    let copy =
        rusqlite::Connection::open_with_flags(&out, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open copy");
    let verdict: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    for authorization in &before {
        let found: i64 = copy
            .query_row(
                "SELECT count(*) FROM claims WHERE authorization = ?1",
                [authorization],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            found, 1,
            "claim {authorization}, acknowledged before the backup, is missing"
        );
    }
    let claims: i64 = copy
        .query_row("SELECT count(*) FROM claims", [], |row| row.get(0))
        .unwrap();
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert!(bytes > PADDING_BYTES as u64, "{bytes}");
    assert!(
        stdout.contains(&format!(
            "{claims} claims, {claims} transmissions, {bytes} bytes"
        )),
        "{stdout}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_backup_refuses_an_existing_out_unless_forced_and_refuses_a_postgres_store() {
    let (folder, path) = empty_store();
    let out = folder.path().join("copy.db");
    std::fs::write(&out, b"an older backup").unwrap();
    let url = format!("sqlite:{}", path.display());
    let out_arg = out.to_str().unwrap();

    let refused = durgate(&["backup", "--store", &url, "--out", out_arg]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches(out_arg).count(), 1, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"an older backup");

    let forced = durgate(&["backup", "--store", &url, "--out", out_arg, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_eq!(sqlite_number(&out, "SELECT count(*) FROM claims"), 0);

    let postgres = durgate(&[
        "backup",
        "--store",
        "postgres://postgres@127.0.0.1/test",
        "--out",
        "x.db",
    ]);
    let stderr = text(&postgres.stderr);
    assert_eq!(postgres.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!Path::new("x.db").exists());
}

// ---- purge ---------------------------------------------------------------------------------

/// The claim ids of the purge story that the checks name.
struct Story {
    /// The old claim a newer transmission's reversal references: kept.
    pinned: u64,
}

/// A B2 transmission of two reversals: `first` (dated `first_date`) and `second`.
fn two_reversals(first: (u64, u64), second: (u64, u64), dates: (i32, i32)) -> TransmissionRecord {
    let mut record = b2(first.0, day(dates.0), first.1);
    let mut other = b2(second.0, day(dates.1), second.1).transactions.remove(0);
    other.index = 2;
    record.transactions.push(other);
    record
}

/// Cut-off day(0) = 2025-03-01. Purged (hand-counted): T1 the override B1 of day(-30)
/// (1 claim, 2 conflicts, 2 DUR/PPS), T2 a DUR reject of day(-20) (1 reject code), T3 a paid
/// claim of day(-40) and T4 its reversal (linked across the bulk, so across chunks), and
/// [`BULK_OLD`] paid claims of day(-60). Kept: T5 (day(-50)) because T6, a transmission of two
/// reversals whose second is dated day(+5), reverses it; T6; T7 the day(+5) claim T6 reverses;
/// T9 a two-claim transmission dated day(-10) and day(+1).
async fn commit_story(store: &impl ClaimStore) -> Story {
    let commit = |record: TransmissionRecord| store.commit(record);
    let mut override_b1 = b1_from_request();
    override_b1.transactions[0].date_of_service = day(-30);
    commit(override_b1).await.expect("T1");
    commit(dur_rejected(2, 20, day(-20))).await.expect("T2");
    let c3 = claim_id(&commit(b1(3, 30, day(-40), Status::Paid)).await.expect("T3"));
    for n in 0..BULK_OLD {
        commit(b1(100 + n as u32, 1_000 + n, day(-60), Status::Paid))
            .await
            .expect("bulk");
    }
    commit(b2(30, day(-40), c3)).await.expect("T4");
    let c5 = claim_id(&commit(b1(5, 50, day(-50), Status::Paid)).await.expect("T5"));
    let c7 = claim_id(&commit(b1(7, 70, day(5), Status::Paid)).await.expect("T7"));
    commit(two_reversals((50, c5), (70, c7), (-50, 5)))
        .await
        .expect("T6");
    let mut mixed = b1(9, 90, day(-10), Status::Paid);
    let mut later = b1(9, 91, day(1), Status::Paid).transactions.remove(0);
    later.index = 2;
    mixed.transactions.push(later);
    commit(mixed).await.expect("T9");
    Story { pinned: c5 }
}

const PURGED_TRANSMISSIONS: u64 = 4 + BULK_OLD;
const KEPT_TRANSMISSIONS: i64 = 4;
const KEPT_CLAIMS: i64 = 1 + 2 + 1 + 2;

/// Rows that reference a row that is not there: each query must answer 0.
const DANGLING_SQL: [&str; 9] = [
    "SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM transmissions t WHERE t.id = c.transmission_id)",
    "SELECT count(*) FROM claims c WHERE c.matched_claim_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claims o WHERE o.id = c.matched_claim_id)",
    "SELECT count(*) FROM claims c WHERE c.reverses IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claims o WHERE o.id = c.reverses)",
    "SELECT count(*) FROM claims c WHERE c.reversed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claims o WHERE o.id = c.reversed_by)",
    "SELECT count(*) FROM claim_reject_codes r WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = r.claim_id)",
    "SELECT count(*) FROM conflicts r WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = r.claim_id)",
    "SELECT count(*) FROM dur_pps r WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = r.claim_id)",
    "SELECT count(*) FROM dur_pps r WHERE r.matched_conflict_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.id = r.matched_conflict_id)",
    "SELECT count(*) FROM transmissions t WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.transmission_id = t.id)",
];

/// Every row count of the store, table by table.
const TABLE_COUNTS_SQL: &str = "SELECT (SELECT count(*) FROM transmissions) * 1000000000 \
     + (SELECT count(*) FROM claims) * 1000000 + (SELECT count(*) FROM claim_reject_codes) * 10000 \
     + (SELECT count(*) FROM conflicts) * 100 + (SELECT count(*) FROM dur_pps)";

fn expected_summary(verb: &str) -> String {
    format!(
        "purge before 2025-03-01: {verb} {PURGED_TRANSMISSIONS} transmissions, {PURGED_TRANSMISSIONS} \
         claims, 1 claim_reject_codes, 2 conflicts, 2 dur_pps (dates of service 2024-12-31 to 2025-02-09)\n\
         kept 1 older transmissions: a kept claim (a newer reversal, rebill or match) references their claims\n"
    )
}

/// The purge story on any store: a dry run that changes nothing, then the purge, then the
/// checks, every number read with `number`.
fn purge_story(url: &str, story: &Story, number: &dyn Fn(&str) -> i64) {
    let before_counts = number(TABLE_COUNTS_SQL);
    let dry = durgate(&[
        "purge",
        "--store",
        url,
        "--before",
        "2025-03-01",
        "--dry-run",
    ]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert_eq!(text(&dry.stdout), expected_summary("would delete"));
    assert_eq!(
        number(TABLE_COUNTS_SQL),
        before_counts,
        "the dry run changed the store"
    );

    let purge = durgate(&["purge", "--store", url, "--before", "2025-03-01"]);
    assert!(purge.status.success(), "{}", text(&purge.stderr));
    assert_eq!(text(&purge.stdout), expected_summary("deleted"));
    assert_eq!(
        number("SELECT count(*) FROM transmissions"),
        KEPT_TRANSMISSIONS
    );
    assert_eq!(number("SELECT count(*) FROM claims"), KEPT_CLAIMS);
    assert_eq!(number("SELECT count(*) FROM claim_reject_codes"), 0);
    assert_eq!(number("SELECT count(*) FROM conflicts"), 0);
    assert_eq!(number("SELECT count(*) FROM dur_pps"), 0);
    let pinned = format!(
        "SELECT count(*) FROM claims WHERE id = {} AND reversed_by IS NOT NULL",
        story.pinned
    );
    assert_eq!(
        number(&pinned),
        1,
        "the claim a kept reversal references was purged"
    );
    assert_eq!(
        number("SELECT count(*) FROM claims WHERE rx_number IN (50, 70, 90, 91)"),
        KEPT_CLAIMS
    );
    for sql in DANGLING_SQL {
        assert_eq!(number(sql), 0, "{sql}");
    }
    let again = durgate(&["purge", "--store", url, "--before", "2025-03-01"]);
    assert!(
        text(&again.stdout).contains("deleted 0 transmissions"),
        "{}",
        text(&again.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_deletes_exactly_the_old_transmissions_and_keeps_what_newer_claims_reference() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("claims.db");
    let store = SqliteStore::open(&path, StoreOptions::default()).expect("create store");
    let story = commit_story(&store).await;
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap()
        .expect("close");
    let url = format!("sqlite:{}", path.display());
    let number = |sql: &str| sqlite_number(&path, sql);
    tokio::task::block_in_place(|| purge_story(&url, &story, &number));
    let connection = rusqlite::Connection::open(&path).unwrap();
    let broken = connection
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |_| Ok(()))
        .unwrap()
        .count();
    assert_eq!(broken, 0, "foreign_key_check found dangling references");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_purge_on_postgresql() {
    let Some(schema) = PgSchema::create("lifecycle_purge") else {
        return;
    };
    let location = durgate::store::PgLocation::parse(&schema.url()).expect("url");
    let store = tokio::task::spawn_blocking(move || durgate::store::PgStore::open(&location))
        .await
        .unwrap()
        .expect("open the PostgreSQL store");
    let story = commit_story(&store).await;
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap()
        .expect("close");
    let url = schema.url();
    let number = |sql: &str| schema.number(sql);
    tokio::task::block_in_place(|| purge_story(&url, &story, &number));
}

#[test]
fn a_purge_refuses_a_cutoff_too_close_to_today_and_changes_nothing() {
    let (_folder, path) = empty_store();
    let url = format!("sqlite:{}", path.display());
    let today = durgate::server::today();
    for too_recent in [today, today.add_days(30)] {
        let refused = durgate(&[
            "purge",
            "--store",
            &url,
            "--before",
            &too_recent.to_string(),
        ]);
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("too recent"), "{stderr}");
        assert!(stderr.contains(&today.add_days(-1).to_string()), "{stderr}");
        assert!(refused.stdout.is_empty());
    }
    let yesterday = today.add_days(-1).to_string();
    let allowed = durgate(&[
        "purge",
        "--store",
        &url,
        "--before",
        &yesterday,
        "--dry-run",
    ]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert!(text(&allowed.stdout).contains("would delete 0 transmissions"));
}
