//! Admin HTTP against hostile or careless clients: the bearer token (`admin_token_file`), the
//! connection cap, the header deadline, single-flight reloads, and a shutdown that does not
//! wait out keep-alive connections. (The request deadline, 30 s, is proven in
//! `src/server/admin.rs` on paused time.)

mod observe;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The sample tables with `ruleset.toml` a link to a file outside the folder (no seal), so a
/// story can change what the link reads (a FIFO, another version) without the folder watch
/// seeing a change: only `POST /admin/reload` reloads.
struct LinkedRules {
    folder: tempfile::TempDir,
    outside: tempfile::TempDir,
    /// `ruleset.toml` as the folder holds it, version `v1`.
    ruleset: String,
}

impl LinkedRules {
    fn new() -> LinkedRules {
        let folder = observe::sample_rules_as("v1");
        std::fs::remove_file(folder.path().join("SHA256SUMS")).expect("unseal");
        let outside = tempfile::tempdir().expect("temp dir");
        let linked = folder.path().join("ruleset.toml");
        let ruleset = std::fs::read_to_string(&linked).expect("ruleset.toml");
        let rules = LinkedRules {
            folder,
            outside,
            ruleset,
        };
        std::fs::write(rules.target(), &rules.ruleset).expect("linked ruleset.toml");
        std::fs::remove_file(&linked).expect("remove ruleset.toml");
        std::os::unix::fs::symlink(rules.target(), &linked).expect("link ruleset.toml");
        rules
    }

    /// What the folder's `ruleset.toml` links to.
    fn target(&self) -> PathBuf {
        self.outside.path().join("ruleset.toml")
    }

    /// `ruleset.toml` with `version` in place of `v1`.
    fn version(&self, version: &str) -> String {
        let changed = self
            .ruleset
            .replace("version = \"v1\"", &format!("version = \"{version}\""));
        assert_ne!(changed, self.ruleset, "no version line");
        changed
    }

    /// Atomically makes the link read `path` (a rename over the target).
    fn point_at(&self, path: &Path) {
        std::fs::rename(path, self.target()).expect("rename over the target");
    }
}

/// The writing end of the FIFO a reload is reading. Dropping it (even while a story panics)
/// writes `bytes` and closes it, so that reload ends instead of holding a blocking thread the
/// runtime would wait for at shutdown.
struct Feed {
    file: std::fs::File,
    bytes: Vec<u8>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.file.write_all(&self.bytes);
    }
}

/// Opens `fifo` for writing, which returns once a reader has opened it; `None` when nobody
/// does within `within` (the opening thread is then left behind, blocked).
async fn feed_once_read(fifo: PathBuf, bytes: String, within: Duration) -> Option<Feed> {
    let (opened, open) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let file = std::fs::OpenOptions::new().write(true).open(fifo);
        let _ = opened.send(file);
    });
    let file = tokio::time::timeout(within, open).await.ok()?.ok()?.ok()?;
    Some(Feed {
        file,
        bytes: bytes.into_bytes(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_reload_waits_for_the_running_one_and_the_latest_folder_stays_live() {
    let rules = LinkedRules::new();
    let folder = rules.folder.path().to_path_buf();
    let gateway = start_gateway_with(|config| {
        config.rules = folder;
        config.rules_require_seal = false;
    })
    .await;
    // The first reload blocks reading a FIFO until the story feeds it version v2.
    let fifo = rules.outside.path().join("feed");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|status| status.success()), "mkfifo");
    rules.point_at(&fifo);
    let first = tokio::spawn(http::post(gateway.admin, "/admin/reload"));
    let feed = feed_once_read(rules.target(), rules.version("v2"), Duration::from_secs(5))
        .await
        .expect("the first reload opens ruleset.toml");
    // The first reload holds the FIFO open; from now on the folder reads as version v3.
    let v3 = rules.outside.path().join("v3");
    std::fs::write(&v3, rules.version("v3")).expect("version v3");
    rules.point_at(&v3);
    let second = tokio::spawn(http::post(gateway.admin, "/admin/reload"));
    // Reading and compiling v3 takes far less: a second reload running now would be done.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second_done_early = second.is_finished();
    drop(feed);
    let first = first
        .await
        .expect("task")
        .expect("the first reload answers");
    let second = second
        .await
        .expect("task")
        .expect("the second reload answers");
    assert_eq!(
        (first.status, first.body.trim()),
        (200, "open-dur-sample@v2")
    );
    let status = http::get(gateway.admin, "/admin/status")
        .await
        .expect("status");
    let live = |version: &str| {
        status
            .body
            .contains(&format!("\"rules\":\"open-dur-sample@{version}\""))
    };
    match second_done_early {
        // Refused while the first ran: the first's tables are live.
        true => assert!(second.status == 409 && live("v2"), "{second:?} {status:?}"),
        // Waited, then read the folder afresh: its tables went live last.
        false => {
            assert_eq!(
                (second.status, second.body.trim()),
                (200, "open-dur-sample@v3")
            );
            assert!(live("v3"), "reloads swapped out of order: {status:?}");
        }
    }
    gateway.stop().await;
}
