//! A schema of its own on the PostgreSQL server for one test: created empty, reachable through
//! a store url with `schema=`, dropped (with everything in it) when the test ends.
//!
//! The server is the one on 127.0.0.1:5432 (database `test`, user `postgres`, trust auth), or
//! the url in `DURGATE_TEST_PG_URL`. When none answers, [`PgSchema::create`] skips the test
//! (`super::skip`: visible, or a failure under `DURGATE_REQUIRE_SERVICES=1`) and returns
//! `None`. Every call runs on a thread of its own with its own runtime, so the helpers work from
//! plain and async tests alike.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The server tests use unless `DURGATE_TEST_PG_URL` names another.
pub const PG_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

static SCHEMAS_CREATED: AtomicUsize = AtomicUsize::new(0);

/// The server's url (without a schema).
pub fn server_url() -> String {
    std::env::var("DURGATE_TEST_PG_URL").unwrap_or_else(|_| PG_TEST_URL.to_owned())
}

/// One test's schema. Dropping it drops the schema.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    /// A fresh, empty schema, or `None` (with the reason printed) when no server answers.
    pub fn create(test: &str) -> Option<PgSchema> {
        let serial = SCHEMAS_CREATED.fetch_add(1, Ordering::Relaxed);
        let name = format!("durgate_{test}_{}_{serial}", std::process::id());
        let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}");
        match run_sql(&server_url(), &sql) {
            Ok(_) => Some(PgSchema { name }),
            Err(reason) => {
                super::skip::skip(&format!(
                    "no PostgreSQL server for this test at {} ({reason}); \
                     start one or set DURGATE_TEST_PG_URL",
                    server_url()
                ));
                None
            }
        }
    }

    /// The store url of this schema (`--store` of `durgate serve`).
    pub fn url(&self) -> String {
        let server = server_url();
        let separator = if server.contains('?') { '&' } else { '?' };
        format!("{server}{separator}schema={}", self.name)
    }

    /// Every row of a query in this schema, every column as text (NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let sql = format!("SET search_path TO {}; {sql}", self.name);
        run_sql(&server_url(), &sql).unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// The single number a query returns (a count, a max...).
    pub fn number(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        let cell = rows.first().and_then(|row| row.first()).cloned().flatten();
        let text = cell.unwrap_or_else(|| panic!("{sql}: no value"));
        text.parse()
            .unwrap_or_else(|_| panic!("{sql}: {text} is not a number"))
    }

    /// Runs statements in this schema.
    pub fn execute(&self, sql: &str) {
        self.rows(sql);
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(error) = run_sql(&server_url(), &sql) {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// Runs `sql` (several statements allowed) over one connection; the rows of every statement
/// that returned any, as text.
fn run_sql(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(simple_query(&url, &sql))
    });
    worker
        .join()
        .map_err(|_| "the query thread panicked".to_owned())?
}

async fn simple_query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|error| format!("{error}"))?;
    config.connect_timeout(std::time::Duration::from_secs(3));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|error| format!("{error}: {}", source_of(&error)))?;
    let driver = tokio::spawn(connection);
    let messages = client.simple_query(sql).await;
    drop(client);
    let _ = driver.await;
    let messages = messages.map_err(|error| format!("{error}: {}", source_of(&error)))?;
    Ok(messages
        .into_iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| row.get(index).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

fn source_of(error: &tokio_postgres::Error) -> String {
    std::error::Error::source(error)
        .map(|source| source.to_string())
        .unwrap_or_default()
}
