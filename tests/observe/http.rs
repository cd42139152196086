//! A minimal HTTP/1.0 client for the admin endpoints and the Prometheus query API on loopback.
//!
//! Part of the observability stories' helpers (`observe::http`). HTTP/1.0 with `Connection: close` keeps
//! every answer a plain body read to EOF (no chunked encoding, no keep-alive), which is all these
//! stories need; a client crate would add a dependency tree for a handful of requests. Must never
//! reach beyond loopback or read more than [`REPLY_BYTES_MAX`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply read (the exposition of a busy gateway is a few tens of kilobytes).
pub const REPLY_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// How long one request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Status code and body of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    request(addr, "GET", path).await
}

/// `POST path` without a body.
pub async fn post(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    request(addr, "POST", path).await
}

/// One request on a fresh connection; the reply is read until the server closes.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<Reply> {
    request_with(addr, method, path, "").await
}

/// As [`request`], with extra header lines (each ending in `\r\n`).
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> std::io::Result<Reply> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(REPLY_BYTES_MAX).read_to_end(&mut raw).await?;
        parse_reply(&raw)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in time"))?
}

fn parse_reply(raw: &[u8]) -> std::io::Result<Reply> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status code"))?;
    Ok(Reply {
        status,
        body: body.to_string(),
    })
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The sum of every sample of metric `name` on `admin`'s `/metrics` whose labels contain
/// `labels`.
pub async fn metric_sum(admin: SocketAddr, name: &str, labels: &str) -> f64 {
    let reply = get(admin, "/metrics").await.expect("a /metrics page");
    reply
        .body
        .lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter(|line| line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The status `/readyz` answers on `admin` (0 when nothing answers).
pub async fn readyz(admin: SocketAddr) -> u16 {
    match get(admin, "/readyz").await {
        Ok(reply) => reply.status,
        Err(_) => 0,
    }
}

/// Polls `/readyz` every 100 ms until it answers `status`; false when `wait` passed first.
pub async fn readiness_becomes(admin: SocketAddr, status: u16, wait: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    while readyz(admin).await != status {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    true
}
