//! Fault injection through the real binary (`durgate serve` as a child process).
//!
//! Disk full: the SQLite store lives on a small tmpfs the test mounts (root only; elsewhere the
//! story skips visibly and says why). While the file system is full, commits fail: claims are
//! answered 99, nothing is answered paid that is not on disk, and `/readyz` answers 503. Once
//! space returns the gateway recovers by itself, without a restart and without traffic.
//!
//! Start-up: a SIGHUP that arrives while the gateway rebuilds a large history (300,000 claims)
//! does not kill it (the signal handlers are installed before the rebuild); it then serves.
//!
//! Open-file limit: started under a `nofile` limit far below its connection cap, the gateway
//! lowers the cap to fit (and says so), and refuses connections beyond it at once instead of
//! running out of descriptors.
//!
//! Descriptors run out anyway (the limit lowered under a running gateway with `prlimit --pid`):
//! the accept loop backs off (a bounded count of failed accepts, one log line a second, not a
//! spin), the connections waiting in the backlog are served once descriptors free, and nothing
//! needs a restart.

mod observe;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use observe::http::{metric_sum, readiness_becomes};
use support::{
    authorization, days_ago, rejects, spawn_gateway_process, statuses, Client, GatewayProcess,
    Person, ProcessOptions, StoreView,
};

const WARFARIN_5MG: &str = "99999000101";
/// Size of the file system the store lives on.
const TMPFS_SIZE: &str = "8m";
/// Claims offered while the disk is full, at most, before one must fail.
const CLAIMS_WHILE_FULL_MAX: u64 = 400;
/// How long readiness may take to change after a fault appears or goes.
const READINESS_WAIT: Duration = Duration::from_secs(10);
/// The child's open-file limit in the descriptor story.
const NOFILE: u64 = 400;
/// Descriptors the gateway keeps for other files (`limits::FDS_RESERVED`).
const FDS_RESERVED: u64 = 256;
/// Connections offered beyond the fitted cap.
const CONNECTIONS_BEYOND_CAP: usize = 30;
/// Paid claims copied into the store so that the history rebuild takes a while.
const REBUILD_CLAIMS: u64 = 300_000;
/// How long the start-up story waits for the rebuild to begin.
const REBUILD_START_WAIT: Duration = Duration::from_secs(20);
/// Bytes written per step while filling the file system.
const FILL_CHUNK_BYTES: usize = 64 * 1024;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a `size` tmpfs, or says why it cannot.
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let parent = tempfile::tempdir().map_err(|error| error.to_string())?;
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .map_err(|error| format!("mount: {error}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "cannot mount a tmpfs (needs root): {}",
                stderr.trim()
            ));
        }
        Ok(Tmpfs {
            path,
            _parent: parent,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros into `path` until the file system refuses more.
fn fill(path: &Path) {
    use std::io::Write;
    let mut filler = std::fs::File::create(path).expect("create the filler");
    let chunk = vec![0u8; FILL_CHUNK_BYTES];
    // Bounded by the file system's size.
    while filler
        .write_all(&chunk)
        .and_then(|()| filler.sync_data())
        .is_ok()
    {}
}

/// Sends warfarin for patient `n` (each its own patient and Rx); returns the reply.
async fn claim(client: &mut Client, n: u64) -> durgate::ncpdp::Response {
    let patient = Person::adult(&format!("FULL{n:05}"));
    let request = patient.b1(30_000 + n, WARFARIN_5MG, days_ago(1));
    client.send(&request.encode()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_99_turns_readiness_off_and_recovers_without_restart() {
    let disk = match Tmpfs::mount(TMPFS_SIZE) {
        Ok(disk) => disk,
        Err(reason) => return support::skip::skip_optional(&reason),
    };
    let options = ProcessOptions::new(&disk.path.join("claims.db"));
    let gateway = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let mut client = Client::connect(gateway.addr).await;
    let mut paid = vec![authorization(&claim(&mut client, 0).await, 0)];

    tokio::task::block_in_place(|| fill(&disk.path.join("filler")));
    let mut failed = Vec::new();
    for n in 1..=CLAIMS_WHILE_FULL_MAX {
        let reply = claim(&mut client, n).await;
        match statuses(&reply).as_str() {
            "P" => paid.push(authorization(&reply, 0)),
            _ => {
                assert_eq!(rejects(&reply, 0), ["99"], "{reply:?}");
                failed.push(n);
                break;
            }
        }
    }
    assert!(!failed.is_empty(), "no commit failed on a full disk");
    assert!(
        readiness_becomes(gateway.admin, 503, READINESS_WAIT).await,
        "still ready on a full disk"
    );

    std::fs::remove_file(disk.path.join("filler")).expect("free the space");
    assert!(
        readiness_becomes(gateway.admin, 200, READINESS_WAIT).await,
        "not ready again after space returned; log:\n{}",
        gateway.logs()
    );
    let after = claim(&mut client, CLAIMS_WHILE_FULL_MAX + 1).await;
    assert_eq!(statuses(&after), "P", "{after:?}");
    paid.push(authorization(&after, 0));

    let store = StoreView::open(&options.store_path);
    for authorization in &paid {
        let row = store.claim_by_authorization(authorization);
        assert!(
            row.is_some_and(|row| row.counts_as_paid()),
            "{authorization}"
        );
    }
    let sql = format!(
        "SELECT count(*) FROM claims WHERE rx_number = {}",
        30_000 + failed[0]
    );
    assert_eq!(store.number(&sql), 0, "the failed claim left no row");
}

/// True when the peer closed the connection within 2 s.
async fn closed_by_peer(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut probe = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut probe)).await;
    matches!(read, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_fits_under_the_open_file_limit() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        return support::skip::skip_optional(
            "prlimit is not installed (Debian package util-linux)",
        );
    }
    let folder = tempfile::tempdir().expect("temp dir");
    let mut options = ProcessOptions::new(&folder.path().join("claims.db"));
    options.nofile = Some(NOFILE);
    let gateway = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let cap = (NOFILE - FDS_RESERVED) as usize;
    let logs = gateway.logs();
    assert!(
        logs.contains("connection cap lowered to fit the open-file limit")
            && logs.contains(&format!("connections_max={cap}")),
        "{logs}"
    );
    let mut held = Vec::with_capacity(cap);
    for _ in 0..cap {
        held.push(Client::connect(gateway.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for extra in 0..CONNECTIONS_BEYOND_CAP {
        let mut stream = tokio::net::TcpStream::connect(gateway.addr)
            .await
            .expect("the kernel completes the handshake");
        assert!(
            closed_by_peer(&mut stream).await,
            "connection {extra} beyond the cap kept open"
        );
    }
    let reply = claim(&mut held[0], 1).await;
    assert_eq!(statuses(&reply), "P", "{reply:?}");
}

/// Descriptors left free above what the running gateway holds when its limit is lowered.
const FDS_HEADROOM: usize = 4;
/// Connections offered while descriptors are exhausted (beyond the headroom).
const CONNECTIONS_WHILE_EXHAUSTED: usize = 16;
/// How long descriptors stay exhausted.
const EXHAUSTED_FOR: Duration = Duration::from_secs(2);
/// Failed accepts allowed over [`EXHAUSTED_FOR`]: one per `ACCEPT_ERROR_BACKOFF` (100 ms) and
/// room for scheduling (a loop that spins makes hundreds of thousands).
const ACCEPT_FAILURES_MAX: f64 = 40.0;
/// "accept failed" log lines allowed over [`EXHAUSTED_FOR`] (one a second, and the edges).
const ACCEPT_FAILED_LINES_MAX: usize = 3;

/// How many descriptors process `pid` holds open now.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the gateway's descriptor table")
        .count()
}

/// Sets process `pid`'s soft `nofile` limit (the hard limit stays).
fn lower_nofile(pid: u32, nofile: usize) {
    let lowered = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={nofile}:")])
        .status()
        .expect("run prlimit");
    assert!(lowered.success(), "prlimit --pid refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_accept_loop_backs_off_and_serves_the_backlog_later() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        return support::skip::skip_optional(
            "prlimit is not installed (Debian package util-linux)",
        );
    }
    let folder = tempfile::tempdir().expect("temp dir");
    let options = ProcessOptions::new(&folder.path().join("claims.db"));
    let gateway = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let mut first = Client::connect(gateway.addr).await;
    assert_eq!(statuses(&claim(&mut first, 0).await), "P");
    // Let the admin endpoint's readiness connections close before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed_before =
        metric_sum(gateway.admin, "durgate_connections_total", "accept_failed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    lower_nofile(
        gateway.pid(),
        open_descriptors(gateway.pid()) + FDS_HEADROOM,
    );
    let mut waiting = Vec::with_capacity(FDS_HEADROOM + CONNECTIONS_WHILE_EXHAUSTED);
    for _ in 0..FDS_HEADROOM + CONNECTIONS_WHILE_EXHAUSTED {
        waiting.push(Client::connect(gateway.addr).await);
    }
    tokio::time::sleep(EXHAUSTED_FOR).await;
    drop(first);
    let lines_before_release = gateway
        .logs()
        .matches("accept failed: out of resources")
        .count();
    lower_nofile(gateway.pid(), open_descriptors(gateway.pid()) + 1_024);

    for (n, client) in waiting.iter_mut().enumerate() {
        let reply = claim(client, 10 + n as u64).await;
        assert_eq!(statuses(&reply), "P", "backlog connection {n}: {reply:?}");
    }
    let failed = metric_sum(gateway.admin, "durgate_connections_total", "accept_failed").await
        - failed_before;
    assert!(
        failed >= 1.0,
        "descriptors never ran out: the story proves nothing"
    );
    assert!(
        failed <= ACCEPT_FAILURES_MAX,
        "{failed} failed accepts in {EXHAUSTED_FOR:?}: a spin"
    );
    assert!(
        (1..=ACCEPT_FAILED_LINES_MAX).contains(&lines_before_release),
        "{lines_before_release} 'accept failed' lines; log:\n{}",
        gateway.logs()
    );
}

/// Copies the store's one paid claim `copies` times, each its own patient, Rx and id.
fn multiply_paid_claim(path: &Path, copies: u64) {
    let conn = rusqlite::Connection::open(path).expect("open the store");
    let mut statement = conn
        .prepare("SELECT name FROM pragma_table_info('claims')")
        .expect("columns");
    let columns: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("columns")
        .map(|name| name.expect("a column name"))
        .collect();
    let select: Vec<String> = columns
        .iter()
        .map(|column| match column.as_str() {
            "id" => "c.id + n.i".to_owned(),
            "rx_number" => "c.rx_number + n.i".to_owned(),
            "patient_key" => "c.patient_key || n.i".to_owned(),
            "authorization" => "NULL".to_owned(),
            other => format!("c.{other}"),
        })
        .collect();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {copies}) \
         INSERT INTO claims ({}) SELECT {} FROM claims c, n WHERE c.status = 'paid'",
        columns.join(", "),
        select.join(", ")
    );
    conn.execute_batch(&sql).expect("copy the paid claim");
}

/// Waits until the child's log contains `text`.
fn log_shows(gateway: &GatewayProcess, text: &str, wait: Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    while !gateway.logs().contains(text) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_during_the_history_rebuild_does_not_kill_the_gateway() {
    let folder = tempfile::tempdir().expect("temp dir");
    let options = ProcessOptions::new(&folder.path().join("claims.db"));
    let mut first = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let mut client = Client::connect(first.addr).await;
    assert_eq!(statuses(&claim(&mut client, 0).await), "P");
    first.terminate();
    assert!(
        first.wait_exit(Duration::from_secs(15)).is_some(),
        "no exit"
    );
    multiply_paid_claim(&options.store_path, REBUILD_CLAIMS);

    let mut gateway = support::start_gateway_process(&options);
    let rebuilding = "rebuilding the history from the claim store";
    assert!(
        log_shows(&gateway, rebuilding, REBUILD_START_WAIT),
        "{}",
        gateway.logs()
    );
    let hangup = Command::new("kill")
        .args(["-HUP", &gateway.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(hangup.success());
    let rebuilt_before_the_signal = gateway.logs().contains("history rebuilt");
    tokio::task::block_in_place(|| gateway.wait_ready())
        .unwrap_or_else(|log| panic!("the SIGHUP during start-up killed it; log:\n{log}"));
    assert!(
        !rebuilt_before_the_signal,
        "the rebuild ended before the SIGHUP: the story proves nothing; raise REBUILD_CLAIMS"
    );
    let logs = gateway.logs();
    let loaded = format!("claims={}", REBUILD_CLAIMS + 1);
    assert!(logs.contains(&loaded), "{logs}");
    let after = Person::adult("AFTERHUP01").b1(900_000, WARFARIN_5MG, days_ago(1));
    let mut client = Client::connect(gateway.addr).await;
    assert_eq!(statuses(&client.send(&after.encode()).await), "P");
}
