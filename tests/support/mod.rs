//! Story harness: a real gateway on a loopback port with the sample rule tables and a fresh
//! SQLite file, and a client that speaks STX/ETX frames over a real socket.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use durgate::config::Config;
use durgate::ncpdp::{self, Response};
use durgate::server::Gateway;
use durgate::wire::{self, FrameCodec, Framing};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

/// How long a story waits for one reply before it fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The shipped sample rule tables.
pub fn sample_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample")
}

/// A gateway serving on 127.0.0.1 with its own temporary store.
pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub store_path: PathBuf,
    pub config: Config,
    _dir: tempfile::TempDir,
}

/// Starts a gateway on the sample tables, a temp SQLite store and loopback port 0.
pub async fn start_gateway() -> TestGateway {
    start_gateway_with(|_| {}).await
}

/// As [`start_gateway`], with the configuration adjusted first.
pub async fn start_gateway_with(adjust: impl FnOnce(&mut Config)) -> TestGateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_path = dir.path().join("claims.db");
    let mut config = test_config(&store_path);
    adjust(&mut config);
    let gateway = Gateway::start(&config).await.expect("gateway starts");
    let addr = gateway.claim_addrs[0];
    let admin = gateway.admin_addr.expect("admin listener");
    TestGateway {
        gateway: Some(gateway),
        addr,
        admin,
        store_path,
        config,
        _dir: dir,
    }
}

/// The configuration stories start from.
pub fn test_config(store_path: &Path) -> Config {
    Config {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        rules: sample_rules(),
        store: format!("sqlite:{}", store_path.display()),
        admin: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Config::default()
    }
}

impl TestGateway {
    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Graceful shutdown (commits and closes the store).
    pub async fn stop(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }
}

/// A switch-like client on one connection.
pub struct Client {
    write: OwnedWriteHalf,
    replies: FramedRead<OwnedReadHalf, FrameCodec>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (read, write) = stream.into_split();
        let replies = FramedRead::new(
            read,
            FrameCodec::new(Framing::StxEtx, durgate::limits::FRAME_BYTES_MAX, 0),
        );
        Client { write, replies }
    }

    /// Sends one transmission (unframed D.0 bytes) without waiting.
    pub async fn send_only(&mut self, transmission: &[u8]) {
        let mut framed = BytesMut::new();
        wire::encode_frame(Framing::StxEtx, transmission, &mut framed);
        self.write.write_all(&framed).await.expect("write");
    }

    /// Writes raw bytes as they are (for broken framing).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write.write_all(bytes).await
    }

    /// The next reply, decoded.
    pub async fn reply(&mut self) -> Response {
        let bytes = self.reply_bytes().await.expect("a reply");
        ncpdp::parse_response(&bytes).expect("a readable response")
    }

    /// The next reply's bytes; `None` when the connection closed or nothing came in time.
    pub async fn reply_bytes(&mut self) -> Option<BytesMut> {
        match tokio::time::timeout(REPLY_TIMEOUT, self.replies.next()).await {
            Ok(Some(Ok(bytes))) => Some(bytes),
            _ => None,
        }
    }

    /// Sends one transmission and waits for its reply.
    pub async fn send(&mut self, transmission: &[u8]) -> Response {
        self.send_only(transmission).await;
        self.reply().await
    }

    /// Whether the gateway closed this connection (within the reply timeout).
    pub async fn is_closed_by_gateway(&mut self) -> bool {
        matches!(
            tokio::time::timeout(REPLY_TIMEOUT, self.replies.next()).await,
            Ok(None) | Ok(Some(Err(_)))
        )
    }
}

/// The status letters of a response's transactions, e.g. "PR".
pub fn statuses(response: &Response) -> String {
    response
        .transactions
        .iter()
        .map(|transaction| char::from(transaction.status.code()))
        .collect()
}

/// The reject codes of transaction `index`.
pub fn rejects(response: &Response, index: usize) -> Vec<String> {
    response.transactions[index]
        .rejects
        .iter()
        .map(|reject| reject.code.to_string())
        .collect()
}

/// The 439-E4 reasons of transaction `index`'s DUR occurrences.
pub fn dur_reasons(response: &Response, index: usize) -> Vec<String> {
    let reasons = response.transactions[index].dur.iter();
    reasons
        .map(|dur| dur.reason.map(|code| code.to_string()).unwrap_or_default())
        .collect()
}
