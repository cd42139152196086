//! Readiness on the PostgreSQL store tells the truth, through the real binary and a real server.
//!
//! Lost database: the gateway reaches PostgreSQL through a TCP relay the test owns. Cutting the
//! relay (every open connection dropped, new ones refused) is a lost database: claims are
//! answered 99, none is answered paid, `/readyz` answers 503. Restoring it, the gateway recovers
//! by itself (the writer's probe reconnects) without a restart.
//!
//! Wedged writer: another session holds a share lock on the `claims` table (reads pass, writes
//! wait), so the writer's batch cannot finish: `/readyz` answers 503 while it hangs; once the
//! lock is gone readiness returns and claims are paid.
//!
//! Each test has a schema of its own and skips (saying why) without a PostgreSQL server.

mod observe;
mod support;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use observe::http::readiness_becomes;
use support::pg::{server_url, PgSchema};
use support::{
    days_ago, rejects, spawn_gateway_process, statuses, Client, GatewayProcess, Person,
    ProcessOptions,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const WARFARIN_5MG: &str = "99999000101";
/// How long readiness may take to change after a fault appears or goes (the writer's probe
/// runs every second; a hung commit counts as stalled after 5 s).
const READINESS_WAIT: Duration = Duration::from_secs(15);
/// How long the test session holds the table lock.
const LOCK_HELD: Duration = Duration::from_secs(8);

/// A TCP relay to the PostgreSQL server that the test can cut and restore.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accepting: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let cut = Arc::new(AtomicBool::new(false));
        let links = Arc::new(Mutex::new(Vec::new()));
        let accepting = tokio::spawn(relay(listener, upstream, cut.clone(), links.clone()));
        Relay {
            addr,
            cut,
            links,
            _accepting: accepting,
        }
    }

    /// Drops every open link and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

async fn relay(
    listener: TcpListener,
    upstream: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while let Ok((mut client, _)) = listener.accept().await {
        if cut.load(Ordering::SeqCst) {
            continue; // dropped: the connection is closed at once
        }
        let link = tokio::spawn(async move {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        links.lock().expect("links").push(link);
    }
}

/// The test server's address, user and database, from its url.
fn server_parts() -> (SocketAddr, String, String) {
    let config = tokio_postgres::Config::from_str(&server_url()).expect("a PostgreSQL url");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .expect("resolve the PostgreSQL host")
        .next()
        .expect("an address");
    let user = config.get_user().unwrap_or("postgres").to_owned();
    let dbname = config.get_dbname().unwrap_or("test").to_owned();
    (addr, user, dbname)
}

/// Warfarin for patient `n` (each its own patient and Rx).
fn claim(n: u64) -> Vec<u8> {
    let patient = Person::adult(&format!("PGF{n:05}"));
    patient.b1(50_000 + n, WARFARIN_5MG, days_ago(1)).encode()
}

fn gateway_on(store_url: String) -> GatewayProcess {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut options = ProcessOptions::new(&folder.path().join("unused.db"));
    options.store_url = Some(store_url);
    tokio::task::block_in_place(|| spawn_gateway_process(&options))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_answers_99_turns_readiness_off_and_recovers_without_restart() {
    let Some(schema) = PgSchema::create("lost") else {
        return;
    };
    let (upstream, user, dbname) = server_parts();
    let relay = Relay::start(upstream).await;
    let url = format!(
        "postgres://{user}@{}/{dbname}?schema={}",
        relay.addr, schema.name
    );
    let gateway = gateway_on(url);
    let mut client = Client::connect(gateway.addr).await;
    assert_eq!(statuses(&client.send(&claim(0)).await), "P");

    relay.cut();
    let during = client.send(&claim(1)).await;
    assert_eq!(
        (statuses(&during), rejects(&during, 0)),
        ("R".to_owned(), vec!["99".to_owned()]),
        "{during:?}"
    );
    assert!(
        readiness_becomes(gateway.admin, 503, READINESS_WAIT).await,
        "ready without a database"
    );

    relay.restore();
    assert!(
        readiness_becomes(gateway.admin, 200, READINESS_WAIT).await,
        "not ready again after the database returned; log:\n{}",
        gateway.logs()
    );
    assert_eq!(statuses(&client.send(&claim(2)).await), "P");
    let paid = schema.number("SELECT count(*) FROM claims WHERE rx_number IN (50000, 50002)");
    assert_eq!(paid, 2, "both paid claims are in the database");
    let lost = schema.number("SELECT count(*) FROM claims WHERE rx_number = 50001");
    assert_eq!(lost, 0, "the claim answered 99 left no row");
}

/// Holds `SHARE` (reads pass, writes wait) on the schema's `claims` table for [`LOCK_HELD`] on
/// a session of its own; the returned handle ends when the lock is released.
async fn hold_claims_lock(schema: &PgSchema) -> JoinHandle<()> {
    let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .expect("connect the locking session");
    tokio::spawn(connection);
    let lock = format!("BEGIN; LOCK TABLE {}.claims IN SHARE MODE", schema.name);
    client.batch_execute(&lock).await.expect("take the lock");
    tokio::spawn(async move {
        tokio::time::sleep(LOCK_HELD).await;
        client
            .batch_execute("COMMIT")
            .await
            .expect("release the lock");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_writer_turns_readiness_off_until_its_commit_can_finish() {
    let Some(schema) = PgSchema::create("wedged") else {
        return;
    };
    let gateway = gateway_on(schema.url());
    let mut client = Client::connect(gateway.addr).await;
    assert_eq!(statuses(&client.send(&claim(0)).await), "P");

    let lock = hold_claims_lock(&schema).await;
    client.send_only(&claim(1)).await;
    assert!(
        readiness_becomes(gateway.admin, 503, READINESS_WAIT).await,
        "ready while the writer cannot commit"
    );
    let during = client.reply().await;
    let status = statuses(&during);
    assert!(
        status == "P" || rejects(&during, 0) == ["99"],
        "a claim caught by the lock is paid late or answered 99: {during:?}"
    );
    lock.await.expect("the lock was released");
    assert!(
        readiness_becomes(gateway.admin, 200, READINESS_WAIT).await,
        "not ready again after the lock went; log:\n{}",
        gateway.logs()
    );
    assert_eq!(statuses(&client.send(&claim(2)).await), "P");
    let rows = schema.number("SELECT count(*) FROM claims WHERE rx_number = 50001");
    assert_eq!(rows, i64::from(status == "P"), "a row exactly when paid");
}
