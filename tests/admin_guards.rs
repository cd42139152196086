//! Admin HTTP against hostile or careless clients: the bearer token (`admin_token_file`), the
//! connection cap, the header deadline, and a shutdown that does not wait out keep-alive
//! connections.

mod observe;
mod support;

use std::time::{Duration, Instant};

use observe::http;
use support::{start_gateway, start_gateway_with, TestGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `limits::ADMIN_CONNECTIONS_MAX`.
const ADMIN_CONNECTIONS_MAX: usize = 64;
/// `limits::ADMIN_HEADER_TIMEOUT`.
const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN: &str = "s3cret-admin-token";

async fn status_with(gateway: &TestGateway, method: &str, path: &str, headers: &str) -> u16 {
    http::request_with(gateway.admin, method, path, headers)
        .await
        .expect("admin answers")
        .status
}

/// Reads until the server closes the connection or `within` passes; true when it closed.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = vec![0u8; 4096];
    let reading = async {
        // Bounded by `within`: each pass reads bytes or ends.
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, reading).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_file_only_the_probes_answer_without_the_bearer_token() {
    let folder = tempfile::tempdir().expect("temp dir");
    let token_file = folder.path().join("admin.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let gateway = start_gateway_with(|config| config.admin_token_file = Some(token_file)).await;
    let good = format!("Authorization: Bearer {TOKEN}\r\n");
    let wrong = format!("Authorization: Bearer {TOKEN}x\r\n");
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/admin/status"),
        ("POST", "/admin/reload"),
    ] {
        assert_eq!(status_with(&gateway, method, path, "").await, 401, "{path}");
        assert_eq!(
            status_with(&gateway, method, path, &wrong).await,
            401,
            "{path}"
        );
        assert_eq!(
            status_with(&gateway, method, path, &good).await,
            200,
            "{path}"
        );
    }
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(
            status_with(&gateway, "GET", probe, "").await,
            200,
            "{probe}"
        );
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_token_file_refuses_the_start() {
    let folder = tempfile::tempdir().expect("temp dir");
    let token_file = folder.path().join("admin.token");
    std::fs::write(&token_file, "  \n").expect("token file");
    let mut config = support::test_config(&folder.path().join("claims.db"));
    config.admin_token_file = Some(token_file);
    let refused = durgate::server::Gateway::start(&config).await.err();
    let message = refused.map(|error| error.to_string()).unwrap_or_default();
    assert!(
        message.contains("admin token file") && message.contains("empty"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_admin_cap_are_closed_at_once() {
    let gateway = start_gateway().await;
    let mut held = Vec::with_capacity(ADMIN_CONNECTIONS_MAX);
    for _ in 0..ADMIN_CONNECTIONS_MAX {
        held.push(TcpStream::connect(gateway.admin).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(gateway.admin).await.expect("connect");
    assert!(
        closed_within(&mut extra, Duration::from_secs(1)).await,
        "the cap is not enforced"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok = http::get(gateway.admin, "/healthz").await.expect("answers");
    assert_eq!(ok.status, 200);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_never_finish_are_cut_off_at_the_header_deadline() {
    let gateway = start_gateway().await;
    let mut slow = TcpStream::connect(gateway.admin).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("part of a request");
    let started = Instant::now();
    let slack = Duration::from_secs(3);
    assert!(
        closed_within(&mut slow, ADMIN_HEADER_TIMEOUT + slack).await,
        "a request whose headers never end holds its connection"
    );
    assert!(started.elapsed() >= ADMIN_HEADER_TIMEOUT - Duration::from_secs(1));
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_keep_alive_admin_connections_at_once() {
    let gateway = start_gateway().await;
    let mut keep_alive = TcpStream::connect(gateway.admin).await.expect("connect");
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut answer = vec![0u8; 512];
    let read = keep_alive.read(&mut answer).await.expect("an answer");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    let asked = Instant::now();
    gateway.stop().await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "shutdown waited {took:?} for a keep-alive client"
    );
    assert!(closed_within(&mut keep_alive, Duration::from_secs(1)).await);
}
