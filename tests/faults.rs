//! Fault injection through the real binary (`durgate serve` as a child process).
//!
//! Disk full: the SQLite store lives on a small tmpfs the test mounts (root only; elsewhere the
//! story skips visibly and says why). While the file system is full, commits fail: claims are
//! answered 99, nothing is answered paid that is not on disk, and `/readyz` answers 503. Once
//! space returns the gateway recovers by itself, without a restart and without traffic.
//!
//! Clients that never read: 200 connections send claims and never read a reply while 1,000
//! more sit idle. Once their buffers are full the gateway stops reading them and does no work for
//! them; a normal client meanwhile keeps its p99 under 50 ms, and every stuck connection is
//! closed by the write deadline (the idle ones stay open). The never-readers shrink their own
//! receive window to 4 KiB and the gateway's send buffer is set to its 4 KiB minimum: TCP lets a
//! client fill its own window, and the smaller buffers only keep the debug-build fill short.
//!
//! Open-file limit: started under a `nofile` limit far below its connection cap, the gateway
//! lowers the cap to fit (and says so), and refuses connections beyond it at once instead of
//! running out of descriptors.

mod observe;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
/// Connections that send claims and never read their replies.
const NEVER_READERS: u64 = 200;
/// Connections that connect and send nothing.
const IDLE_CONNECTIONS: usize = 1_000;
/// Claims each never-reader offers: more than its buffers and the replies owed can hold.
const CLAIMS_PER_NEVER_READER: u64 = 400;
/// Claims the normal client sends one at a time while the stuck connections are held.
const NORMAL_CLAIMS: usize = 200;
/// The normal client's 99th-percentile reply time must stay under this.
const NORMAL_P99_MAX: Duration = Duration::from_millis(50);
/// The story's write deadline (`write_timeout_ms`).
const STORY_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the claims counter must stand still before the never-readers count as stuck.
const SETTLED_FOR: Duration = Duration::from_millis(1_000);
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

async fn readyz(gateway: &GatewayProcess) -> u16 {
    observe::http::get(gateway.admin, "/readyz")
        .await
        .expect("admin answers")
        .status
}

/// Polls `/readyz` until it answers `status` or [`READINESS_WAIT`] passes.
async fn readiness_becomes(gateway: &GatewayProcess, status: u16) -> bool {
    let deadline = std::time::Instant::now() + READINESS_WAIT;
    while readyz(gateway).await != status {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
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
        readiness_becomes(&gateway, 503).await,
        "still ready on a full disk"
    );

    std::fs::remove_file(disk.path.join("filler")).expect("free the space");
    assert!(
        readiness_becomes(&gateway, 200).await,
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

/// The sum of every sample of metric `name` on `/metrics` whose labels contain `labels`.
async fn metric_sum(gateway: &GatewayProcess, name: &str, labels: &str) -> f64 {
    let reply = observe::http::get(gateway.admin, "/metrics")
        .await
        .expect("a /metrics page");
    reply
        .body
        .lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter(|line| line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One never-reader: a 4 KiB receive window, `CLAIMS_PER_NEVER_READER` claims written as fast
/// as the gateway takes them, no read ever. The task ends only when the gateway closes it.
async fn never_reader(addr: std::net::SocketAddr, index: u64) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    tokio::spawn(async move {
        for n in 0..CLAIMS_PER_NEVER_READER {
            let patient = Person::adult(&format!("NR{index:03}{n:05}"));
            let request = patient
                .b1(100_000 + index * 1_000 + n, WARFARIN_5MG, days_ago(1))
                .encode();
            let mut frame = vec![durgate::wire::STX];
            frame.extend_from_slice(&request);
            frame.push(durgate::wire::ETX);
            if stream.write_all(&frame).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await
    })
}

/// Waits until `durgate_claims_total` has stood still for [`SETTLED_FOR`]; returns its value.
async fn claims_settled(gateway: &GatewayProcess) -> f64 {
    let mut last = -1.0;
    loop {
        tokio::time::sleep(SETTLED_FOR).await;
        let now = metric_sum(gateway, "durgate_claims_total", "").await;
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The normal client's reply times for [`NORMAL_CLAIMS`] claims, sorted.
async fn normal_reply_times(gateway: &GatewayProcess) -> Vec<Duration> {
    let mut client = Client::connect(gateway.addr).await;
    let mut times = Vec::with_capacity(NORMAL_CLAIMS);
    for n in 0..NORMAL_CLAIMS as u64 {
        let started = std::time::Instant::now();
        let reply = claim(&mut client, 10_000 + n).await;
        times.push(started.elapsed());
        assert_eq!(statuses(&reply), "P", "{reply:?}");
    }
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_closed_and_do_not_slow_a_normal_client() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut options = ProcessOptions::new(&folder.path().join("claims.db"));
    options.config_toml = Some(format!(
        "[limits]\nwrite_timeout_ms = {}\nsend_buffer_bytes = 4096\n",
        STORY_WRITE_TIMEOUT.as_millis()
    ));
    let gateway = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        idle.push(
            tokio::net::TcpStream::connect(gateway.addr)
                .await
                .expect("idle"),
        );
    }
    let mut stuck = Vec::new();
    for index in 0..NEVER_READERS {
        stuck.push(never_reader(gateway.addr, index).await);
    }
    let handled = claims_settled(&gateway).await;
    let stuck_at = std::time::Instant::now();
    let offered = (NEVER_READERS * CLAIMS_PER_NEVER_READER) as f64;
    assert!(
        handled < offered,
        "{handled} of {offered}: the writers never blocked"
    );

    let times = normal_reply_times(&gateway).await;
    let p99 = times[NORMAL_CLAIMS * 99 / 100 - 1];
    eprintln!(
        "never-readers stuck after {handled} claims; normal p99 {p99:?}, max {:?}",
        times[NORMAL_CLAIMS - 1]
    );
    assert!(p99 < NORMAL_P99_MAX, "normal client p99 {p99:?}");

    let closed_by = stuck_at + STORY_WRITE_TIMEOUT + Duration::from_secs(3);
    let mut closed = 0.0;
    while std::time::Instant::now() < closed_by {
        closed = metric_sum(
            &gateway,
            "durgate_connections_closed_total",
            "write_timeout",
        )
        .await;
        if closed >= NEVER_READERS as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(closed, NEVER_READERS as f64, "closed by the write deadline");
    let idle_closed =
        metric_sum(&gateway, "durgate_connections_closed_total", "idle_timeout").await;
    assert_eq!(
        idle_closed, 0.0,
        "idle connections closed before their idle timeout"
    );
    let open = metric_sum(&gateway, "durgate_open_connections", "").await;
    assert!(
        open >= IDLE_CONNECTIONS as f64,
        "{open} open: the idle connections were dropped"
    );
    for writer in stuck {
        writer.abort();
    }
}
