//! `durgate purge` on a PostgreSQL store, beside gateway nodes that may be serving it.
//!
//! Tier 2, called through `store::lifecycle`. One connection (the url's TLS, `schema=` and
//! session settings, with a longer statement timeout for the planning scan): the plan is made
//! in temporary tables inside one repeatable-read transaction, then deleted chunk by chunk,
//! each chunk a transaction of its own. The server's foreign keys back the plan up: a claim a
//! node commits during the purge that references a claim of the chunk makes the chunk fail
//! whole (23503), and the purge stops there. The server checks those keys with a scan of
//! `claims` per deleted claim (the link columns have no index), so a large purge is slow; it
//! holds locks only on the old rows it deletes.
//!
//! Must never: delete a row a kept row references; put a row value in an error (the server's
//! `DETAIL` lines name key values and are not read); backup (that is `pg_dump`'s job).

use super::super::lifecycle::{
    add_deleted, empty_transmissions_sql, next_chunk_sql, old_transmissions_sql, planned_counts,
    too_many_passes, written_meanwhile, Cutoff, LifecycleError, PurgeCounts, CHUNK_CLOSURE_SQL,
    COUNT_SQL, DELETE_CHUNK_SQL, PIN_SQL, PLAN_CLAIMS_SQL, PLAN_TABLES_SQL, UNPLAN_CLAIMS_SQL,
};
use super::PgLocation;
use crate::limits::{
    PURGE_CHUNK_PAUSE, PURGE_CHUNK_TRANSMISSIONS, PURGE_LINK_PASSES_MAX, PURGE_LOCK_WAIT,
    PURGE_PG_STATEMENT_TIMEOUT,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// Plans the purge, and unless `dry_run` deletes the plan chunk by chunk. Blocks: call it
/// outside an async runtime.
pub fn purge(
    location: &PgLocation,
    cutoff: &Cutoff,
    dry_run: bool,
) -> Result<PurgeCounts, LifecycleError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| LifecycleError::Database(error.to_string()))?;
    runtime.block_on(async {
        let mut client = connect(location).await?;
        client.batch_execute(PLAN_TABLES_SQL).await.map_err(pg)?;
        let planned = plan(&mut client, cutoff).await?;
        if dry_run || planned.transmissions == 0 {
            return Ok(planned);
        }
        let deleted = delete_plan(&mut client, planned.transmissions).await?;
        Ok(PurgeCounts {
            kept_for_links: planned.kept_for_links,
            first_date: planned.first_date,
            last_date: planned.last_date,
            ..deleted
        })
    })
}

async fn connect(location: &PgLocation) -> Result<Client, LifecycleError> {
    let connector = location.tls_connector()?;
    let mut config = location.connection_config().clone();
    config.application_name("durgate purge");
    let (client, connection) = config.connect(connector).await.map_err(pg)?;
    tokio::spawn(async move {
        // Its end is seen by the next statement as a closed connection.
        let _ = connection.await;
    });
    let session = format!(
        "SET statement_timeout = {}; SET lock_timeout = {}",
        PURGE_PG_STATEMENT_TIMEOUT.as_millis(),
        PURGE_LOCK_WAIT.as_millis()
    );
    client.batch_execute(&session).await.map_err(pg)?;
    match client
        .query_one("SELECT count(*) FROM schema_version", &[])
        .await
    {
        Ok(_) => Ok(client),
        Err(error) if error.code() == Some(&SqlState::UNDEFINED_TABLE) => Err(
            LifecycleError::Usage("the url's schema holds no durgate claim store".into()),
        ),
        Err(error) => Err(pg(error)),
    }
}

/// Fills the plan tables in one snapshot; the counts.
async fn plan(client: &mut Client, cutoff: &Cutoff) -> Result<PurgeCounts, LifecycleError> {
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(pg)?;
    let old = old_transmissions_sql("$1::text::date");
    transaction
        .execute(&old, &[&cutoff.date])
        .await
        .map_err(pg)?;
    let empty = empty_transmissions_sql("$1::bigint");
    transaction
        .execute(&empty, &[&cutoff.received_ms])
        .await
        .map_err(pg)?;
    transaction
        .execute(PLAN_CLAIMS_SQL, &[])
        .await
        .map_err(pg)?;
    let kept_for_links = pin(&transaction).await?;
    let mut numbers = [0; 5];
    for (number, sql) in numbers.iter_mut().zip(COUNT_SQL) {
        *number = count(&transaction, sql).await?;
    }
    let mut counts = planned_counts(numbers, kept_for_links);
    let range = transaction
        .query_one(
            "SELECT min(c.date_of_service)::text, max(c.date_of_service)::text \
             FROM claims c JOIN purge_claims p ON p.id = c.id",
            &[],
        )
        .await
        .map_err(pg)?;
    (counts.first_date, counts.last_date) = (range.get(0), range.get(1));
    transaction.commit().await.map_err(pg)?;
    Ok(counts)
}

/// Drops from the plan the transmissions kept claims reference, until none is left; how many.
async fn pin(transaction: &tokio_postgres::Transaction<'_>) -> Result<u64, LifecycleError> {
    let mut pinned = 0;
    for _ in 0..PURGE_LINK_PASSES_MAX {
        let dropped = transaction.execute(PIN_SQL, &[]).await.map_err(pg)?;
        if dropped == 0 {
            return Ok(pinned);
        }
        pinned += dropped;
        transaction
            .execute(UNPLAN_CLAIMS_SQL, &[])
            .await
            .map_err(pg)?;
    }
    Err(too_many_passes())
}

/// Deletes the plan chunk by chunk; the rows deleted.
async fn delete_plan(client: &mut Client, planned: u64) -> Result<PurgeCounts, LifecycleError> {
    let mut counts = PurgeCounts::default();
    let chunks = planned.div_ceil(PURGE_CHUNK_TRANSMISSIONS as u64);
    for _ in 0..chunks {
        if count(client, "SELECT count(*) FROM purge_tx").await? == 0 {
            break;
        }
        let deleted = delete_chunk(client).await?;
        add_deleted(&mut counts, &deleted);
        tokio::time::sleep(PURGE_CHUNK_PAUSE).await;
    }
    Ok(counts)
}

/// One chunk in one transaction; a foreign-key refusal (a claim committed meanwhile that
/// references it) fails it whole.
async fn delete_chunk(client: &mut Client) -> Result<Vec<u64>, LifecycleError> {
    let transaction = client.transaction().await.map_err(pg)?;
    transaction
        .batch_execute(&next_chunk_sql())
        .await
        .map_err(pg)?;
    close_chunk(&transaction).await?;
    let mut deleted = Vec::with_capacity(DELETE_CHUNK_SQL.len());
    for sql in DELETE_CHUNK_SQL {
        match transaction.execute(sql, &[]).await {
            Ok(rows) => deleted.push(rows),
            Err(error) if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                return Err(written_meanwhile())
            }
            Err(error) => return Err(pg(error)),
        }
    }
    transaction.commit().await.map_err(pg)?;
    Ok(deleted)
}

/// Adds to the chunk every planned transmission linked to it.
async fn close_chunk(transaction: &tokio_postgres::Transaction<'_>) -> Result<(), LifecycleError> {
    for _ in 0..PURGE_LINK_PASSES_MAX {
        let mut added = 0;
        for sql in CHUNK_CLOSURE_SQL {
            added += transaction.execute(sql, &[]).await.map_err(pg)?;
        }
        if added == 0 {
            return Ok(());
        }
    }
    Err(too_many_passes())
}

async fn count(
    client: &impl tokio_postgres::GenericClient,
    sql: &str,
) -> Result<u64, LifecycleError> {
    let row = client.query_one(sql, &[]).await.map_err(pg)?;
    let number: i64 = row.get(0);
    Ok(number.max(0) as u64)
}

/// The error's SQLSTATE and message (never its `DETAIL`, which may quote row values).
fn pg(error: tokio_postgres::Error) -> LifecycleError {
    LifecycleError::Database(super::rows::describe(&error))
}
