//! Readiness on the PostgreSQL store tells the truth, through the real binary and a real server.
//!
//! Lost database: the gateway reaches PostgreSQL through a TCP relay the test owns. Cutting the
//! relay (every open connection dropped, new ones refused) is a lost database; silencing it
//! (connections held open, nothing forwarded, no reset) is a silent partition. Either way claims
//! are answered 99 within seconds (the client's own deadlines), none is answered paid, `/readyz`
//! answers 503; restoring the relay, the gateway recovers by itself without a restart.
//!
//! Another session's lock: a session holds a share lock on the `claims` table (reads pass,
//! writes wait). The claim caught by it is answered 99 after the lock timeout, not after the
//! statement timeout; `/readyz` answers 503 while the lock is held (every write would fail),
//! and once the lock is gone readiness returns by itself and claims are paid.
//!
//! Each test has a schema of its own and skips (saying why) without a PostgreSQL server.

mod observe;
mod support;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use observe::http::{readiness_becomes, readyz};
use support::pg::{server_url, PgSchema};
use support::{
    days_ago, rejects, spawn_gateway_process, statuses, Client, GatewayProcess, Person,
    ProcessOptions,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const WARFARIN_5MG: &str = "99999000101";
/// How long readiness may take to change after a fault appears or goes (the writer's probe
/// runs every second; a hung commit counts as stalled after 5 s).
const READINESS_WAIT: Duration = Duration::from_secs(15);
/// A claim sent during a fault is answered within this (`PG_POOL_WAIT` + `PG_READ_DEADLINE`,
/// with room).
const ANSWER_IN_FAULT_MAX: Duration = Duration::from_secs(9);
/// A claim whose write meets another session's lock is answered within this: the batch waits
/// `PG_LOCK_TIMEOUT` (1 s) and fails whole, far below the 5 s statement timeout.
const LOCKED_ANSWER_MAX: Duration = Duration::from_millis(4_000);
/// How soon readiness must turn off once a claim met the lock: the batch's failure sets it at
/// once; the margin is for the poll.
const LOCKED_READINESS_WAIT: Duration = Duration::from_secs(2);
/// How long readiness is watched under the lock (several probe rounds, well inside
/// [`LOCK_HELD`]).
const PROBES_UNDER_LOCK: Duration = Duration::from_secs(3);
/// How long the test session holds the table lock.
const LOCK_HELD: Duration = Duration::from_secs(8);

/// Relay modes: forwarding, cut (links closed, new ones refused), silent (links held open but
/// nothing forwarded: a network partition that sends no reset).
const OPEN: u8 = 0;
const CUT: u8 = 1;
const SILENT: u8 = 2;

/// A TCP relay to the PostgreSQL server that the test can cut, silence and restore.
struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<u8>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    _accepting: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let (mode, _) = watch::channel(OPEN);
        let held = Arc::new(Mutex::new(Vec::new()));
        let accepting = tokio::spawn(relay(listener, upstream, mode.clone(), held.clone()));
        Relay {
            addr,
            mode,
            held,
            _accepting: accepting,
        }
    }

    /// Closes every open link and refuses new ones.
    fn cut(&self) {
        self.mode.send_replace(CUT);
    }

    /// Keeps every link open and forwards nothing, on old links and new ones.
    fn silence(&self) {
        self.mode.send_replace(SILENT);
    }

    fn restore(&self) {
        self.mode.send_replace(OPEN);
        self.held.lock().expect("held").clear();
    }
}

async fn relay(
    listener: TcpListener,
    upstream: SocketAddr,
    mode: watch::Sender<u8>,
    held: Arc<Mutex<Vec<TcpStream>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        match *mode.borrow() {
            CUT => continue, // dropped: the connection is closed at once
            SILENT => {
                held.lock().expect("held").push(client);
                continue;
            }
            _ => {}
        }
        tokio::spawn(link(client, upstream, mode.subscribe(), held.clone()));
    }
}

/// Forwards one connection until the relay leaves `OPEN`; silenced, both sockets are held.
async fn link(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<u8>,
    held: Arc<Mutex<Vec<TcpStream>>>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let changed = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        now = mode.wait_for(|now| *now != OPEN) => now.ok().map(|now| *now),
    };
    if changed == Some(SILENT) {
        held.lock().expect("held").extend([client, server]);
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
    lose_the_database_and_recover("lost", Relay::cut).await;
}

/// A partition that sends no reset: without the client's own deadlines the claim would wait
/// for the kernel's TCP timeout (~15 minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_partition_answers_99_within_the_read_deadline_and_recovers() {
    lose_the_database_and_recover("silent", Relay::silence).await;
}

/// The story of both: a paid claim, the fault, a claim answered 99 in time, readiness off,
/// the relay restored, readiness on and a claim paid, with the rows to match.
async fn lose_the_database_and_recover(name: &str, fault: fn(&Relay)) {
    let Some(schema) = PgSchema::create(name) else {
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

    fault(&relay);
    let sent = std::time::Instant::now();
    let during = client.send(&claim(1)).await;
    assert!(sent.elapsed() < ANSWER_IN_FAULT_MAX, "{:?}", sent.elapsed());
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
async fn another_sessions_table_lock_costs_a_claim_the_lock_timeout_not_the_batch() {
    let Some(schema) = PgSchema::create("locked") else {
        return;
    };
    let gateway = gateway_on(schema.url());
    let mut client = Client::connect(gateway.addr).await;
    assert_eq!(statuses(&client.send(&claim(0)).await), "P");

    let lock = hold_claims_lock(&schema).await;
    let sent = std::time::Instant::now();
    let during = client.send(&claim(1)).await;
    let waited = sent.elapsed();
    assert_eq!(rejects(&during, 0), ["99"], "{during:?}");
    assert!(waited < LOCKED_ANSWER_MAX, "answered after {waited:?}");
    assert!(
        readiness_becomes(gateway.admin, 503, LOCKED_READINESS_WAIT).await,
        "ready while every write waits for another session's lock; log:\n{}",
        gateway.logs()
    );
    // Probes run every second while failing; none may turn readiness on under the lock.
    tokio::time::sleep(PROBES_UNDER_LOCK).await;
    assert_eq!(
        readyz(gateway.admin).await,
        503,
        "a probe passed under the lock"
    );
    assert!(
        !lock.is_finished(),
        "the lock was held while readiness was read"
    );
    lock.await.expect("the lock was released");
    assert!(
        readiness_becomes(gateway.admin, 200, READINESS_WAIT).await,
        "not ready after the lock went; log:\n{}",
        gateway.logs()
    );
    assert_eq!(statuses(&client.send(&claim(2)).await), "P");
    let rows = schema.number("SELECT count(*) FROM claims WHERE rx_number = 50001");
    assert_eq!(rows, 0, "the claim answered 99 left no row");
}
