//! Clients that never read, through the real binary (`durgate serve` as a child process).
//!
//! 200 connections send claims and never read a reply while 1,000 more sit idle. Once their
//! buffers are full the gateway stops reading them and does no work for them; a normal client
//! meanwhile keeps its p99 under 50 ms, and every stuck connection is closed by the write
//! deadline (the idle ones stay open). The never-readers shrink their own receive window to
//! 4 KiB and the gateway's send buffer is set to its 4 KiB minimum: TCP lets a client fill its
//! own window, and the smaller buffers only keep the debug-build fill short.
//!
//! A file of its own: cargo runs test files one after another, so no other story shares the
//! machine while the normal client's reply times are taken.

mod observe;
mod support;

use observe::http::metric_sum;
use std::time::Duration;

use support::{
    days_ago, spawn_gateway_process, statuses, Client, GatewayProcess, Person, ProcessOptions,
};

const WARFARIN_5MG: &str = "99999000101";
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
        let now = metric_sum(gateway.admin, "durgate_claims_total", "").await;
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
        let patient = Person::adult(&format!("NORMAL{n:05}"));
        let request = patient.b1(30_000 + n, WARFARIN_5MG, days_ago(1));
        let reply = client.send(&request.encode()).await;
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
            gateway.admin,
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
    let idle_closed = metric_sum(
        gateway.admin,
        "durgate_connections_closed_total",
        "idle_timeout",
    )
    .await;
    assert_eq!(
        idle_closed, 0.0,
        "idle connections closed before their idle timeout"
    );
    let open = metric_sum(gateway.admin, "durgate_open_connections", "").await;
    assert!(
        open >= IDLE_CONNECTIONS as f64,
        "{open} open: the idle connections were dropped"
    );
    for writer in stuck {
        writer.abort();
    }
}
