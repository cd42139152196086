//! `durgate backup` and `durgate purge` on a SQLite store file, beside a gateway that may be
//! serving it.
//!
//! Tier 2, called through `store::lifecycle`. The backup holds one read transaction on the
//! source for the whole copy (in WAL mode that never blocks the gateway's writer, and it keeps
//! the copy one consistent snapshot: the online backup API does not restart on the writer's
//! commits), copies [`BACKUP_PAGES_PER_STEP`] pages a step with a pause between steps into a
//! partial file beside `--out`, checks the copy (`integrity_check`), and only then renames it
//! into place. The purge plans in temporary tables inside one read transaction, then deletes
//! chunk by chunk, each chunk an `IMMEDIATE` transaction of its own.
//!
//! Must never: open the source for writing during a backup; replace `--out` with an unchecked
//! or partial copy; delete a row a claim committed after the plan references (the chunk is then
//! refused whole); put a row value in an error.

use super::super::lifecycle::{
    add_deleted, empty_transmissions_sql, next_chunk_sql, old_transmissions_sql, planned_counts,
    too_many_passes, written_meanwhile, BackupSummary, Cutoff, LifecycleError, PurgeCounts,
    CHUNK_CLOSURE_SQL, COUNT_SQL, DELETE_CHUNK_SQL, PIN_SQL, PLAN_CLAIMS_SQL, PLAN_TABLES_SQL,
    UNPLAN_CLAIMS_SQL,
};
use crate::limits::{
    BACKUP_BUSY_RETRIES_MAX, BACKUP_PAGES_PER_STEP, BACKUP_STEP_PAUSE, PURGE_CHUNK_PAUSE,
    PURGE_CHUNK_TRANSMISSIONS, PURGE_LINK_PASSES_MAX, PURGE_LOCK_WAIT,
};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};

// ---- backup --------------------------------------------------------------------------------

/// Copies the store file `source` to `out` (refused when `out` exists, unless `force`).
pub fn backup(source: &Path, out: &Path, force: bool) -> Result<BackupSummary, LifecycleError> {
    refuse_existing(out, force)?;
    std::fs::metadata(source).map_err(|error| LifecycleError::file(source, error))?;
    let partial = partial_path(out)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|error| LifecycleError::file(out, error))?;
    let copied = copy(source, &partial).and_then(|()| check_copy(&partial));
    match copied {
        Ok(summary) => {
            std::fs::rename(&partial, out).map_err(|error| LifecycleError::file(out, error))?;
            sync_parent(out)?;
            Ok(summary)
        }
        Err(error) => {
            remove_partial(&partial);
            Err(error)
        }
    }
}

fn refuse_existing(out: &Path, force: bool) -> Result<(), LifecycleError> {
    match std::fs::symlink_metadata(out) {
        Ok(found) if found.is_dir() => Err(LifecycleError::Usage(format!(
            "{}: is a directory; --out names the backup file",
            out.display()
        ))),
        Ok(_) if !force => Err(LifecycleError::Usage(format!(
            "{}: already exists; pass --force to replace it",
            out.display()
        ))),
        _ => Ok(()),
    }
}

/// `.NAME.PID.partial` in the folder of `out`: renamed over `out` once complete.
fn partial_path(out: &Path) -> Result<PathBuf, LifecycleError> {
    let name = out
        .file_name()
        .ok_or_else(|| LifecycleError::Usage(format!("{}: --out names no file", out.display())))?;
    let partial = format!(".{}.{}.partial", name.to_string_lossy(), std::process::id());
    Ok(out.with_file_name(partial))
}

/// Copies every page of `source` into `partial`, in one read snapshot of the source.
fn copy(source: &Path, partial: &Path) -> Result<(), LifecycleError> {
    let from = open(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // The snapshot starts at the first read after BEGIN and lasts until COMMIT.
    from.execute_batch("BEGIN")?;
    check_store(&from, source)?;
    let pages: i64 = from.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let mut to = open(partial, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    copy_pages(&from, &mut to, pages)?;
    from.execute_batch("COMMIT")?;
    Ok(())
}

fn copy_pages(from: &Connection, to: &mut Connection, pages: i64) -> Result<(), LifecycleError> {
    let backup = Backup::new(from, to)?;
    let steps = pages / i64::from(BACKUP_PAGES_PER_STEP) + 1;
    let mut busy = 0;
    for _ in 0..steps + i64::from(BACKUP_BUSY_RETRIES_MAX) {
        match backup.step(BACKUP_PAGES_PER_STEP)? {
            StepResult::Done => return Ok(()),
            StepResult::More => busy = 0,
            _ if busy >= BACKUP_BUSY_RETRIES_MAX => break,
            _ => busy += 1,
        }
        std::thread::sleep(BACKUP_STEP_PAUSE);
    }
    Err(LifecycleError::Database(
        "the copy did not finish (the source stayed busy or locked)".into(),
    ))
}

/// Makes the copy one self-contained file (rollback journal, no `-wal`), runs
/// `integrity_check` on it, counts its rows and flushes it to disk.
fn check_copy(partial: &Path) -> Result<BackupSummary, LifecycleError> {
    let copy = open(partial, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let _: String = copy.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))?;
    let verdict: String = copy.query_row("PRAGMA integrity_check(1)", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(LifecycleError::Database(format!(
            "{}: integrity_check of the copy answered {verdict:?}",
            partial.display()
        )));
    }
    let claims = count(&copy, "SELECT count(*) FROM claims")?;
    let transmissions = count(&copy, "SELECT count(*) FROM transmissions")?;
    drop(copy);
    let file =
        std::fs::File::open(partial).map_err(|error| LifecycleError::file(partial, error))?;
    file.sync_all()
        .map_err(|error| LifecycleError::file(partial, error))?;
    let bytes = file
        .metadata()
        .map_err(|error| LifecycleError::file(partial, error))?
        .len();
    Ok(BackupSummary {
        claims,
        transmissions,
        bytes,
    })
}

/// Makes the rename of the backup durable.
fn sync_parent(out: &Path) -> Result<(), LifecycleError> {
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|folder| folder.sync_all())
        .map_err(|error| LifecycleError::file(parent, error))
}

fn remove_partial(partial: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = partial.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

// ---- purge ---------------------------------------------------------------------------------

/// Plans the purge of the store file `path`, and unless `dry_run` deletes the plan chunk by
/// chunk.
pub fn purge(path: &Path, cutoff: &Cutoff, dry_run: bool) -> Result<PurgeCounts, LifecycleError> {
    std::fs::metadata(path).map_err(|error| LifecycleError::file(path, error))?;
    let flags = match dry_run {
        true => OpenFlags::SQLITE_OPEN_READ_ONLY,
        false => OpenFlags::SQLITE_OPEN_READ_WRITE,
    };
    let mut connection = purge_connection(path, flags)?;
    let (planned, newest_claim) = plan(&connection, cutoff)?;
    if dry_run || planned.transmissions == 0 {
        return Ok(planned);
    }
    let deleted = delete_plan(&mut connection, planned.transmissions, newest_claim)?;
    Ok(PurgeCounts {
        kept_for_links: planned.kept_for_links,
        first_date: planned.first_date,
        last_date: planned.last_date,
        ..deleted
    })
}

/// A connection to the store with the plan's temporary tables.
fn purge_connection(path: &Path, flags: OpenFlags) -> Result<Connection, LifecycleError> {
    let connection = open(path, flags)?;
    check_store(&connection, path)?;
    // The deletes follow the plan, which has every link; the engine's own checks would scan
    // the claims (no index on the link columns) once per deleted row.
    connection.pragma_update(None, "foreign_keys", "OFF")?;
    connection.execute_batch(PLAN_TABLES_SQL)?;
    Ok(connection)
}

/// Fills the plan tables in one read snapshot; the counts, and the newest claim id the plan
/// saw.
fn plan(connection: &Connection, cutoff: &Cutoff) -> Result<(PurgeCounts, i64), LifecycleError> {
    connection.execute_batch("BEGIN")?;
    let newest_claim = count(connection, "SELECT coalesce(max(id), 0) FROM claims")? as i64;
    connection.execute(&old_transmissions_sql("?1"), [&cutoff.date])?;
    connection.execute(&empty_transmissions_sql("?1"), [cutoff.received_ms])?;
    connection.execute(PLAN_CLAIMS_SQL, [])?;
    let kept_for_links = pin(connection)?;
    let mut numbers = [0; 5];
    for (number, sql) in numbers.iter_mut().zip(COUNT_SQL) {
        *number = count(connection, sql)?;
    }
    let mut counts = planned_counts(numbers, kept_for_links);
    (counts.first_date, counts.last_date) = connection.query_row(
        "SELECT min(c.date_of_service), max(c.date_of_service) \
         FROM claims c JOIN purge_claims p ON p.id = c.id",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    connection.execute_batch("COMMIT")?;
    Ok((counts, newest_claim))
}

/// Drops from the plan the transmissions kept claims reference, until none is left; how many.
fn pin(connection: &Connection) -> Result<u64, LifecycleError> {
    let mut pinned = 0;
    for _ in 0..PURGE_LINK_PASSES_MAX {
        let dropped = connection.execute(PIN_SQL, [])? as u64;
        if dropped == 0 {
            return Ok(pinned);
        }
        pinned += dropped;
        connection.execute(UNPLAN_CLAIMS_SQL, [])?;
    }
    Err(too_many_passes())
}

/// Deletes the plan chunk by chunk; the rows deleted.
fn delete_plan(
    connection: &mut Connection,
    planned: u64,
    newest_claim: i64,
) -> Result<PurgeCounts, LifecycleError> {
    let mut counts = PurgeCounts::default();
    let chunks = planned.div_ceil(PURGE_CHUNK_TRANSMISSIONS as u64);
    for _ in 0..chunks {
        if count(connection, "SELECT count(*) FROM purge_tx")? == 0 {
            break;
        }
        let deleted = delete_chunk(connection, newest_claim)?;
        add_deleted(&mut counts, &deleted);
        std::thread::sleep(PURGE_CHUNK_PAUSE);
    }
    Ok(counts)
}

/// One chunk in one write transaction: refused whole when a claim committed after the plan
/// references one of its claims.
fn delete_chunk(
    connection: &mut Connection,
    newest_claim: i64,
) -> Result<Vec<u64>, LifecycleError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(&next_chunk_sql())?;
    close_chunk(&transaction)?;
    let referenced: i64 = transaction.query_row(
        "SELECT count(*) FROM claims x \
         JOIN purge_claims p ON p.id IN (x.matched_claim_id, x.reverses, x.reversed_by) \
         JOIN purge_chunk k ON k.id = p.tx WHERE x.id > ?1",
        [newest_claim],
        |row| row.get(0),
    )?;
    if referenced > 0 {
        return Err(written_meanwhile());
    }
    let mut deleted = Vec::with_capacity(DELETE_CHUNK_SQL.len());
    for sql in DELETE_CHUNK_SQL {
        deleted.push(transaction.execute(sql, [])? as u64);
    }
    transaction.commit()?;
    Ok(deleted)
}

/// Adds to the chunk every planned transmission linked to it.
fn close_chunk(connection: &Connection) -> Result<(), LifecycleError> {
    for _ in 0..PURGE_LINK_PASSES_MAX {
        let mut added = 0;
        for sql in CHUNK_CLOSURE_SQL {
            added += connection.execute(sql, [])?;
        }
        if added == 0 {
            return Ok(());
        }
    }
    Err(too_many_passes())
}

// ---- both ----------------------------------------------------------------------------------

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, LifecycleError> {
    let connection = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|error| LifecycleError::file(path, error))?;
    connection.busy_timeout(PURGE_LOCK_WAIT)?;
    Ok(connection)
}

/// Refuses a file that is not a claim store (no `schema_version`).
fn check_store(connection: &Connection, path: &Path) -> Result<(), LifecycleError> {
    let found: Result<i64, _> =
        connection.query_row("SELECT count(*) FROM schema_version", [], |row| row.get(0));
    match found {
        Ok(_) => Ok(()),
        Err(error) => Err(LifecycleError::Usage(format!(
            "{}: not a durgate claim store ({error})",
            path.display()
        ))),
    }
}

fn count(connection: &Connection, sql: &str) -> Result<u64, LifecycleError> {
    let number: i64 = connection.query_row(sql, [], |row| row.get(0))?;
    Ok(number.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, StoreOptions};

    /// Transmissions of the story: more than one chunk.
    const STORY_TRANSMISSIONS: i64 = PURGE_CHUNK_TRANSMISSIONS + 10;

    /// A store of one-claim transmissions dated 2020-01-01 (ids 1..=STORY_TRANSMISSIONS); the
    /// last claim reverses the first, so the two are one chunk apart.
    fn store_with_a_link_across_chunks() -> (tempfile::TempDir, PathBuf) {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("claims.db");
        let store = SqliteStore::open(&path, StoreOptions::default()).expect("store");
        crate::store::ClaimStore::close(&store).expect("close");
        drop(store);
        let connection = Connection::open(&path).expect("open");
        connection
            .execute_batch("INSERT INTO rulesets VALUES ('test@1', 0, 0)")
            .expect("ruleset");
        for id in 1..=STORY_TRANSMISSIONS {
            insert_claim(&connection, id);
        }
        connection
            .execute_batch(&format!(
                "UPDATE claims SET reversed_by = {STORY_TRANSMISSIONS}, reversed_at_ms = 1 \
                 WHERE id = 1; UPDATE claims SET reverses = 1, matched_claim_id = 1, \
                 kind = 'reversal', status = 'approved' WHERE id = {STORY_TRANSMISSIONS}"
            ))
            .expect("link");
        (folder, path)
    }

    fn insert_claim(connection: &Connection, id: i64) {
        connection
            .execute(
                "INSERT INTO transmissions VALUES (?1, 0, 'B1', '610011', 'P', '1', NULL, 1)",
                [id],
            )
            .expect("transmission");
        connection
            .execute(
                "INSERT INTO claims (id, transmission_id, transaction_index, kind, \
                 received_at_ms, pharmacy_id, rx_number, fill_number, product_qualifier, \
                 product_id, quantity_milli, days_supply, compound_code, date_of_service, \
                 prescriber_id, status, ruleset) VALUES (?1, ?1, 1, 'claim', 0, '1', ?1, 0, \
                 '03', '00378611201', 30000, 30, 1, '2020-01-01', '2', 'paid', 'test@1')",
                [id],
            )
            .expect("claim");
    }

    /// The story planned for a purge before 2021-01-01: its folder, the purge connection, the
    /// planned counts and the newest claim id the plan saw.
    fn planned_story() -> (tempfile::TempDir, Connection, PurgeCounts, i64) {
        let (folder, path) = store_with_a_link_across_chunks();
        let connection = purge_connection(&path, OpenFlags::SQLITE_OPEN_READ_WRITE).unwrap();
        let cutoff = Cutoff::new(crate::claim::Date::from_ymd(2021, 1, 1).expect("date"));
        let (planned, newest) = plan(&connection, &cutoff).expect("plan");
        (folder, connection, planned, newest)
    }

    fn number(connection: &Connection, sql: &str) -> u64 {
        count(connection, sql).expect(sql)
    }

    #[test]
    fn the_first_chunk_takes_in_the_transmission_that_reverses_one_of_its_claims() {
        let (_folder, mut connection, planned, newest) = planned_story();
        assert_eq!(planned.transmissions, STORY_TRANSMISSIONS as u64);

        let deleted = delete_chunk(&mut connection, newest).expect("chunk");
        assert_eq!(
            deleted[3],
            PURGE_CHUNK_TRANSMISSIONS as u64 + 1,
            "{deleted:?}"
        );
        let dangling = "SELECT count(*) FROM claims c WHERE \
             (c.reverses IS NOT NULL AND c.reverses NOT IN (SELECT id FROM claims)) \
             OR (c.reversed_by IS NOT NULL AND c.reversed_by NOT IN (SELECT id FROM claims)) \
             OR (c.matched_claim_id IS NOT NULL \
                 AND c.matched_claim_id NOT IN (SELECT id FROM claims))";
        assert_eq!(number(&connection, dangling), 0);
        let linked = format!("SELECT count(*) FROM claims WHERE id IN (1, {STORY_TRANSMISSIONS})");
        assert_eq!(number(&connection, &linked), 0);
    }

    #[test]
    fn a_chunk_a_claim_recorded_after_the_plan_references_is_left_whole() {
        let (_folder, mut connection, _, newest) = planned_story();
        let newer = STORY_TRANSMISSIONS + 1;
        insert_claim(&connection, newer);
        connection
            .execute(
                "UPDATE claims SET matched_claim_id = 2 WHERE id = ?1",
                [newer],
            )
            .expect("link");

        let refused = delete_chunk(&mut connection, newest).expect_err("refused");
        assert!(
            refused.to_string().contains("run the purge again"),
            "{refused}"
        );
        let left = format!("SELECT count(*) FROM claims WHERE id <= {STORY_TRANSMISSIONS}");
        assert_eq!(number(&connection, &left), STORY_TRANSMISSIONS as u64);
    }
}
