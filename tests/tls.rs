//! TLS stories: claims over TLS and mutual TLS, refused handshakes that disturb nobody else,
//! the admin address over HTTPS, and a certificate reload on SIGHUP of the real binary.
//!
//! Every story makes its own throwaway PKI with rcgen: a server CA the clients trust, a switch
//! CA the gateway trusts for client certificates, and a rogue CA nobody trusts. Stories that
//! provoke failed handshakes hold [`FAILURE_COUNTERS`] so the process-wide counters they read
//! move only because of them.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use durgate::config::{ClientScope, Config, TlsConfig};
use durgate::ncpdp::build::ClaimBuilder;
use durgate::ncpdp::{self, Response};
use durgate::server::{metrics, Gateway};
use durgate::wire::{self, FrameCodec, Framing};
use futures::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use support::{spawn_gateway_process, statuses, ProcessOptions, REPLY_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_util::codec::FramedRead;

/// Held by every story that makes handshakes fail, while it reads the failure counters.
static FAILURE_COUNTERS: Mutex<()> = Mutex::const_new(());

/// How long a story waits for something that happens after a signal or a deadline.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

const ATORVASTATIN_10MG: &str = "67877051190";

// ---- throwaway PKI --------------------------------------------------------------------------

/// A certificate authority that can issue leaf certificates.
struct Authority {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

/// A leaf certificate and its key.
struct Leaf {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let certificate = params.self_signed(&key).expect("CA certificate");
        Authority { certificate, key }
    }

    fn issue(&self, name: &str, purpose: ExtendedKeyUsagePurpose) -> Leaf {
        self.issue_for(&["localhost", "127.0.0.1"], name, purpose)
    }

    /// A leaf certificate for the DNS `names`, with common name `name`.
    fn issue_for(&self, names: &[&str], name: &str, purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let names = names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("leaf certificate");
        Leaf { certificate, key }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }
}

impl Leaf {
    fn der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }
}

/// The PKI of one story, with the gateway's files in a temp folder.
struct Pki {
    dir: tempfile::TempDir,
    server_ca: Authority,
    switch_ca: Authority,
    rogue_ca: Authority,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("temp dir"),
            server_ca: Authority::new("durgate test server CA"),
            switch_ca: Authority::new("durgate test switch CA"),
            rogue_ca: Authority::new("unknown CA"),
        };
        pki.write("switch-ca.crt", &pki.switch_ca.certificate.pem());
        pki.install_server_certificate("gateway v1");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write PEM file");
    }

    /// Issues a new server certificate, writes it (and its key) as the gateway's files and
    /// returns its DER.
    fn install_server_certificate(&self, name: &str) -> Vec<u8> {
        let leaf = self
            .server_ca
            .issue(name, ExtendedKeyUsagePurpose::ServerAuth);
        self.write("gateway.crt", &leaf.certificate.pem());
        self.write("gateway.key", &leaf.key.serialize_pem());
        leaf.certificate.der().to_vec()
    }

    /// `[tls]` with the gateway's files; with `mutual`, client certificates from the switch CA.
    fn server_files(&self, mutual: bool) -> TlsConfig {
        TlsConfig {
            cert: self.path("gateway.crt"),
            key: self.path("gateway.key"),
            client_ca: mutual.then(|| self.path("switch-ca.crt")),
            scopes: Default::default(),
        }
    }

    /// A client trusting the server CA, presenting `certificate` if any.
    fn client(&self, certificate: Option<&Leaf>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.server_ca.der()).expect("server CA");
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
        let config = match certificate {
            Some(leaf) => builder
                .with_client_auth_cert(vec![leaf.der()], leaf.key_der())
                .expect("client certificate"),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }

    /// A client with a certificate from the switch CA (a known switch).
    fn switch(&self) -> Arc<ClientConfig> {
        let leaf = self
            .switch_ca
            .issue("switch 01", ExtendedKeyUsagePurpose::ClientAuth);
        self.client(Some(&leaf))
    }

    /// A client with a certificate from the switch CA for the DNS name `name`.
    fn switch_named(&self, name: &str) -> Arc<ClientConfig> {
        let leaf = self
            .switch_ca
            .issue_for(&[name], "switch", ExtendedKeyUsagePurpose::ClientAuth);
        self.client(Some(&leaf))
    }

    /// A client with a certificate from a CA the gateway does not know.
    fn stranger(&self) -> Arc<ClientConfig> {
        let leaf = self
            .rogue_ca
            .issue("switch 99", ExtendedKeyUsagePurpose::ClientAuth);
        self.client(Some(&leaf))
    }
}

// ---- a switch speaking STX/ETX over TLS -----------------------------------------------------

struct TlsClient {
    write: WriteHalf<TlsStream<TcpStream>>,
    replies: FramedRead<ReadHalf<TlsStream<TcpStream>>, FrameCodec>,
    /// The certificate the gateway presented in this handshake (DER).
    server_certificate: Vec<u8>,
}

impl TlsClient {
    /// Connects and completes the client side of the handshake (under TLS 1.3 the gateway may
    /// still refuse the client's certificate after this returns).
    async fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<TlsClient> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost").expect("server name");
        let handshake = TlsConnector::from(config).connect(name, tcp);
        let stream = tokio::time::timeout(REPLY_TIMEOUT, handshake).await??;
        let server_certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|certificate| certificate.to_vec())
            .unwrap_or_default();
        let (read, write) = tokio::io::split(stream);
        let codec = FrameCodec::new(Framing::StxEtx, durgate::limits::FRAME_BYTES_MAX, 0);
        Ok(TlsClient {
            write,
            replies: FramedRead::new(read, codec),
            server_certificate,
        })
    }

    /// Sends one transmission; its decoded reply, or `None` when the write failed, the
    /// connection closed or nothing readable came in time.
    async fn send(&mut self, transmission: &[u8]) -> Option<Response> {
        let mut framed = bytes::BytesMut::new();
        wire::encode_frame(Framing::StxEtx, transmission, &mut framed);
        self.write.write_all(&framed).await.ok()?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, self.replies.next()).await;
        let Ok(Some(Ok(bytes))) = reply else {
            return None;
        };
        ncpdp::parse_response(&bytes).ok()
    }
}

/// A paid-able B1 for its own cardholder and Rx.
fn claim(cardholder: &str, rx: u64) -> Vec<u8> {
    ClaimBuilder::b1()
        .cardholder(cardholder)
        .rx(rx)
        .ndc(ATORVASTATIN_10MG)
        .encode()
}

/// Connects as a known switch and expects `P` for a fresh claim.
async fn paid_round_trip(addr: SocketAddr, config: Arc<ClientConfig>, cardholder: &str, rx: u64) {
    let mut client = TlsClient::connect(addr, config).await.expect("handshake");
    let reply = client.send(&claim(cardholder, rx)).await.expect("a reply");
    assert_eq!(statuses(&reply), "P");
}

async fn tls_gateway(pki: &Pki, mutual: bool, read_timeout_ms: u64) -> support::TestGateway {
    let files = pki.server_files(mutual);
    support::start_gateway_with(|config| {
        config.tls = Some(files);
        config.limits.read_timeout_ms = read_timeout_ms;
    })
    .await
}

// ---- counters -------------------------------------------------------------------------------

/// The value of counter `name` with exactly `labels` (0 when not exported yet).
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    let text = metrics::render();
    let found = text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let inside = series.strip_prefix(name)?.strip_prefix('{')?;
        let mut have: Vec<String> = inside
            .strip_suffix('}')?
            .split(',')
            .map(String::from)
            .collect();
        have.sort();
        if have != wanted {
            return None;
        }
        value.parse::<f64>().ok()
    });
    found.map_or(0, |value| value as u64)
}

fn handshakes_refused() -> u64 {
    counter(
        "durgate_frames_refused_total",
        &[("reason", "tls_handshake")],
    )
}

fn handshake_failures(endpoint: &str, reason: &str) -> u64 {
    counter(
        "durgate_tls_handshake_failures_total",
        &[("endpoint", endpoint), ("reason", reason)],
    )
}

/// Polls `value` until it equals `want` (connection tasks count after the client saw the
/// close); returns the last value seen.
async fn settles_at(want: u64, value: impl Fn() -> u64) -> u64 {
    let started = Instant::now();
    while value() != want && started.elapsed() < SETTLE_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    value()
}

/// Reads until the peer closes; `None` when it stays open past the timeout.
async fn read_until_closed(stream: &mut TcpStream, timeout: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(timeout, stream.read_to_end(&mut got)).await {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

// ---- stories --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_switch_is_paid_over_mutual_tls_and_a_resubmission_is_a_duplicate() {
    let pki = Pki::new();
    let gateway = tls_gateway(&pki, true, 10_000).await;
    let mut client = TlsClient::connect(gateway.addr, pki.switch())
        .await
        .expect("handshake");
    let transmission = claim("TLS0001", 910_001);
    let first = client.send(&transmission).await.expect("a reply");
    let second = client.send(&transmission).await.expect("a reply");
    assert_eq!(
        (statuses(&first), statuses(&second)),
        ("P".into(), "D".into())
    );
    assert_eq!(
        first.transactions[0].authorization,
        second.transactions[0].authorization
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn len4_framing_runs_unchanged_inside_tls() {
    let pki = Pki::new();
    let files = pki.server_files(false);
    let gateway = support::start_gateway_with(|config| {
        config.tls = Some(files);
        config.framing = Framing::Len4;
    })
    .await;
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let connector = TlsConnector::from(pki.client(None));
    let mut stream = connector.connect(name, tcp).await.expect("handshake");
    let mut framed = bytes::BytesMut::new();
    wire::encode_frame(Framing::Len4, &claim("TLS0002", 910_002), &mut framed);
    stream.write_all(&framed).await.expect("write");
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).await.expect("length prefix");
    let mut reply = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut reply).await.expect("reply");
    let reply = ncpdp::parse_response(&reply).expect("a readable response");
    assert_eq!(statuses(&reply), "P");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused_under_mutual_tls() {
    let _counters = FAILURE_COUNTERS.lock().await;
    let pki = Pki::new();
    let gateway = tls_gateway(&pki, true, 10_000).await;
    let (refused, failed) = (handshakes_refused(), handshake_failures("claims", "failed"));
    // Under TLS 1.3 the client may finish its side before the gateway checks its certificate:
    // either the handshake fails, or the first claim gets no reply.
    if let Ok(mut anonymous) = TlsClient::connect(gateway.addr, pki.client(None)).await {
        assert!(anonymous.send(&claim("TLS0003", 910_003)).await.is_none());
    }
    assert_eq!(
        settles_at(refused + 1, handshakes_refused).await,
        refused + 1
    );
    assert_eq!(handshake_failures("claims", "failed"), failed + 1);
    paid_round_trip(gateway.addr, pki.switch(), "TLS0004", 910_004).await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_an_unknown_ca_is_refused() {
    let _counters = FAILURE_COUNTERS.lock().await;
    let pki = Pki::new();
    let gateway = tls_gateway(&pki, true, 10_000).await;
    let refused = handshakes_refused();
    if let Ok(mut stranger) = TlsClient::connect(gateway.addr, pki.stranger()).await {
        assert!(stranger.send(&claim("TLS0005", 910_005)).await.is_none());
    }
    assert_eq!(
        settles_at(refused + 1, handshakes_refused).await,
        refused + 1
    );
    paid_round_trip(gateway.addr, pki.switch(), "TLS0006", 910_006).await;
    let store = support::StoreView::open(&gateway.store_path);
    assert_eq!(
        store.claims_for_rx(910_005),
        vec![],
        "a refused client reached the store"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_silent_clients_are_closed_while_tls_clients_keep_working() {
    let _counters = FAILURE_COUNTERS.lock().await;
    let pki = Pki::new();
    // A handshake deadline short enough to see the silent client cut off within the story,
    // long against the round trips that must happen while it is still pending.
    let gateway = tls_gateway(&pki, false, 3_000).await;
    let (refused, failed, timed_out) = (
        handshakes_refused(),
        handshake_failures("claims", "failed"),
        handshake_failures("claims", "timeout"),
    );
    let mut steady = TlsClient::connect(gateway.addr, pki.client(None))
        .await
        .expect("handshake");
    assert_eq!(
        statuses(
            &steady
                .send(&claim("TLS0007", 910_007))
                .await
                .expect("reply")
        ),
        "P"
    );
    // A client that connects and says nothing holds a handshake open...
    let mut silent = TcpStream::connect(gateway.addr).await.expect("connect");
    // ...and another speaks plain STX/ETX to the TLS port.
    let mut plain = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut framed = bytes::BytesMut::new();
    wire::encode_frame(Framing::StxEtx, &claim("TLS0008", 910_008), &mut framed);
    plain.write_all(&framed).await.expect("write");
    let answer = read_until_closed(&mut plain, REPLY_TIMEOUT).await;
    let answer = answer.expect("the plaintext client was not closed");
    // At most a TLS alert record (content type 21), never a claim reply.
    assert!(matches!(answer.first(), None | Some(21)), "{answer:?}");
    // Accepts go on while the silent handshake is pending: a new client is served, and the
    // first one still is.
    paid_round_trip(gateway.addr, pki.client(None), "TLS0009", 910_009).await;
    assert_eq!(
        statuses(
            &steady
                .send(&claim("TLS0010", 910_010))
                .await
                .expect("reply")
        ),
        "P"
    );
    let mut probe = [0u8; 1];
    let pending = silent.try_read(&mut probe).map_err(|error| error.kind());
    assert_eq!(
        pending,
        Err(std::io::ErrorKind::WouldBlock),
        "the silent handshake ended before the other clients were served"
    );
    let silence = read_until_closed(&mut silent, SETTLE_TIMEOUT).await;
    assert_eq!(
        silence,
        Some(vec![]),
        "the silent client outlived the handshake deadline"
    );
    assert_eq!(
        settles_at(refused + 2, handshakes_refused).await,
        refused + 2
    );
    assert_eq!(handshake_failures("claims", "failed"), failed + 1);
    assert_eq!(handshake_failures("claims", "timeout"), timed_out + 1);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_address_over_mutual_tls_serves_operators_only() {
    let _counters = FAILURE_COUNTERS.lock().await;
    let pki = Pki::new();
    let files = pki.server_files(true);
    let gateway = support::start_gateway_with(|config| config.admin_tls = Some(files)).await;
    let operator = pki
        .switch_ca
        .issue("operator", ExtendedKeyUsagePurpose::ClientAuth);
    let page = https_get(gateway.admin, pki.client(Some(&operator)), "/healthz").await;
    let page = page.expect("an HTTPS answer");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.ends_with("ok\n"), "{page}");
    let failed = handshake_failures("admin", "failed");
    let anonymous = https_get(gateway.admin, pki.client(None), "/metrics").await;
    assert_eq!(anonymous, None);
    let admin = gateway.admin;
    let plain = tokio::task::spawn_blocking(move || support::http_get(admin, "/healthz"));
    assert_eq!(plain.await.expect("plain GET"), None);
    assert_eq!(
        settles_at(failed + 2, || handshake_failures("admin", "failed")).await,
        failed + 2
    );
    // The claim listener stays plain: only [admin_tls] was set.
    let mut client = gateway.client().await;
    assert_eq!(
        statuses(&client.send(&claim("TLS0011", 910_011)).await),
        "P"
    );
    gateway.stop().await;
}

/// One HTTP/1.1 GET over TLS: the whole answer, or `None` when the handshake or the exchange
/// failed.
async fn https_get(addr: SocketAddr, config: Arc<ClientConfig>, path: &str) -> Option<String> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    let name = ServerName::try_from("localhost").expect("server name");
    let exchange = async {
        let mut stream = TlsConnector::from(config).connect(name, tcp).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        String::from_utf8(answer)
            .ok()
            .filter(|text| !text.is_empty())
    };
    tokio::time::timeout(REPLY_TIMEOUT, exchange).await.ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_certificate_file_refuses_the_start() {
    let pki = Pki::new();
    pki.write(
        "gateway.key",
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        tls: Some(pki.server_files(false)),
        ..support::test_config(&dir.path().join("claims.db"))
    };
    let refused = match Gateway::start(&config).await {
        Ok(gateway) => {
            gateway.shutdown().await;
            panic!("a key that does not fit the certificate was accepted");
        }
        Err(error) => error.to_string(),
    };
    assert!(
        refused.starts_with("TLS for claims: certificate"),
        "{refused}"
    );
}

// ---- reload on SIGHUP, on the real binary ---------------------------------------------------

fn sighup(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
}

/// Connects until the gateway presents `want` (a reload lands asynchronously after SIGHUP).
async fn presents(addr: SocketAddr, config: Arc<ClientConfig>, want: &[u8]) -> bool {
    let started = Instant::now();
    while started.elapsed() < SETTLE_TIMEOUT {
        let client = TlsClient::connect(addr, config.clone()).await;
        if client.is_ok_and(|client| client.server_certificate == want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn tls_toml(files: &TlsConfig) -> String {
    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    let mut text = format!(
        "[tls]\ncert = {}\nkey = {}\n",
        quoted(&files.cert),
        quoted(&files.key)
    );
    if let Some(client_ca) = &files.client_ca {
        text.push_str(&format!("client_ca = {}\n", quoted(client_ca)));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_makes_new_handshakes_present_the_new_certificate_while_open_ones_keep_working() {
    let pki = Pki::new();
    let store = tempfile::tempdir().expect("store dir");
    let mut options = ProcessOptions::new(&store.path().join("claims.db"));
    options.config_toml = Some(tls_toml(&pki.server_files(true)));
    let process = tokio::task::block_in_place(|| spawn_gateway_process(&options));
    let switch = pki.switch();
    let mut open = TlsClient::connect(process.addr, switch.clone())
        .await
        .expect("handshake");
    assert_eq!(
        statuses(&open.send(&claim("TLS0012", 910_012)).await.expect("reply")),
        "P"
    );
    let v1_der = open.server_certificate.clone();

    let v2_der = pki.install_server_certificate("gateway v2");
    assert_ne!(v1_der, v2_der);
    sighup(process.pid());
    assert!(
        presents(process.addr, switch.clone(), &v2_der).await,
        "{}",
        process.logs()
    );
    assert_eq!(
        statuses(&open.send(&claim("TLS0013", 910_013)).await.expect("reply")),
        "P"
    );

    // A broken key is refused: the v2 certificate stays, and the refusal is logged.
    pki.write(
        "gateway.key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    sighup(process.pid());
    let started = Instant::now();
    while !process.logs().contains("TLS files refused") && started.elapsed() < SETTLE_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        process.logs().contains("TLS files refused"),
        "{}",
        process.logs()
    );
    let fresh = TlsClient::connect(process.addr, switch.clone())
        .await
        .expect("handshake");
    assert_eq!(fresh.server_certificate, v2_der);
    assert_eq!(
        statuses(&open.send(&claim("TLS0014", 910_014)).await.expect("reply")),
        "P"
    );
    // Dropped without close_notify, as many switch stacks do: an ordinary close, not an error.
    drop(open);
    let closed = closed_log_line(&process, "frames=3").await;
    assert!(closed.contains("reason=\"client\""), "{closed}");
}

/// The gateway's "connection closed" log line containing `marker`, once it is written.
async fn closed_log_line(process: &support::GatewayProcess, marker: &str) -> String {
    let started = Instant::now();
    loop {
        let logs = process.logs();
        let line = logs
            .lines()
            .find(|line| line.contains("connection closed") && line.contains(marker));
        if let Some(line) = line {
            return line.to_string();
        }
        assert!(
            started.elapsed() < SETTLE_TIMEOUT,
            "no such line in:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- client-certificate scopes --------------------------------------------------------------

/// Held while a story reads `durgate_scope_refusals_total` (the SQLite and PostgreSQL runs of
/// the scope story share the process's counters).
static SCOPE_COUNTERS: Mutex<()> = Mutex::const_new(());

/// The pharmacy switch B submits for (switch A submits for the builder's default pharmacy).
const PHARMACY_B: &str = "5555555555";

/// Mutual TLS where `switch-a.example` may submit for the builder's BIN only (any pharmacy)
/// and `switch-b.example` for pharmacy B only (any BIN).
fn scoped_files(pki: &Pki) -> TlsConfig {
    let mut files = pki.server_files(true);
    let ids = |id: &str| Some(vec![id.to_string()]);
    let only_bin = ClientScope {
        bins: ids(durgate::ncpdp::build::BIN),
        pharmacies: None,
    };
    let only_pharmacy = ClientScope {
        bins: None,
        pharmacies: ids(PHARMACY_B),
    };
    files.scopes.insert("switch-a.example".into(), only_bin);
    files
        .scopes
        .insert("switch-b.example".into(), only_pharmacy);
    files
}

async fn scope_reply(client: &mut TlsClient, claim: ClaimBuilder) -> (String, Vec<String>) {
    let reply = client.send(&claim.encode()).await.expect("a reply");
    (statuses(&reply), support::rejects(&reply, 0))
}

fn scope_refusals(reason: &str) -> u64 {
    counter("durgate_scope_refusals_total", &[("reason", reason)])
}

/// Transmissions outside a certificate's scope get header rejects, are counted and leave no
/// row; a reversal from a switch scoped to another pharmacy cannot touch the claim.
async fn scope_story(store_url: Option<String>, rows_for_rx: impl Fn(u64) -> i64) {
    let pki = Pki::new();
    let files = scoped_files(&pki);
    let gateway = support::start_gateway_with(|config| {
        config.tls = Some(files);
        config.store = store_url.unwrap_or(config.store.clone());
    })
    .await;
    let _counters = SCOPE_COUNTERS.lock().await;
    let reasons = ["bin", "pharmacy", "unknown_certificate"];
    let before = reasons.map(scope_refusals);
    let connect = |config| TlsClient::connect(gateway.addr, config);
    let mut switch_a = connect(pki.switch_named("switch-a.example"))
        .await
        .expect("A");
    let mut switch_b = connect(pki.switch_named("switch-b.example"))
        .await
        .expect("B");
    let mut unknown = connect(pki.switch())
        .await
        .expect("a certificate no scope names");
    let b1 = |rx| {
        ClaimBuilder::b1()
            .cardholder("SCOPE001")
            .rx(rx)
            .ndc(ATORVASTATIN_10MG)
    };
    let b2 = |rx| {
        ClaimBuilder::b2()
            .cardholder("SCOPE001")
            .rx(rx)
            .ndc(ATORVASTATIN_10MG)
    };
    let p = |codes: &[&str]| {
        codes
            .iter()
            .map(|code| code.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        scope_reply(&mut switch_a, b1(930_001)).await,
        ("P".into(), p(&[]))
    );
    let other_bin = b1(930_002).bin("999999");
    assert_eq!(
        scope_reply(&mut switch_a, other_bin).await,
        ("R".into(), p(&["01"]))
    );
    let foreign_reversal = b2(930_001);
    let refused = scope_reply(&mut switch_b, foreign_reversal).await;
    assert_eq!(refused, ("R".into(), p(&["50"])));
    let own_pharmacy = b1(930_003).provider_id(PHARMACY_B).cardholder("SCOPE002");
    assert_eq!(
        scope_reply(&mut switch_b, own_pharmacy).await,
        ("P".into(), p(&[]))
    );
    let nothing = scope_reply(&mut unknown, b1(930_004)).await;
    assert_eq!(nothing, ("R".into(), p(&["01", "50"])));
    assert_eq!(scope_reply(&mut switch_a, b2(930_001)).await.0, "A");
    assert_eq!([930_002, 930_004].map(&rows_for_rx), [0, 0]);
    // Rx 930001: its B1 and switch A's B2, nothing of switch B's refused reversal.
    assert_eq!([930_001, 930_003].map(&rows_for_rx), [2, 1]);
    let after = reasons.map(scope_refusals);
    assert_eq!([0, 1, 2].map(|i| after[i] - before[i]), [1, 1, 1]);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_submits_only_for_its_bins_and_pharmacies_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("claims.db");
    let url = format!("sqlite:{}", path.display());
    let rows = |rx: u64| support::StoreView::open(&path).claims_for_rx(rx).len() as i64;
    scope_story(Some(url), rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_submits_only_for_its_bins_and_pharmacies_on_postgres() {
    let Some(schema) = support::pg::PgSchema::create("tls_scopes") else {
        return;
    };
    let rows = |rx: u64| {
        schema.number(&format!(
            "SELECT COUNT(*) FROM claims WHERE rx_number = {rx}"
        ))
    };
    scope_story(Some(schema.url()), rows).await;
}

// ---- the project's own clients over TLS -----------------------------------------------------

/// Writes the server CA and a switch certificate with its key; returns their paths
/// (`server-ca.crt`, `switch.crt`, `switch.key`).
fn client_files(pki: &Pki) -> [String; 3] {
    pki.write("server-ca.crt", &pki.server_ca.certificate.pem());
    let switch = pki
        .switch_ca
        .issue("switch 01", ExtendedKeyUsagePurpose::ClientAuth);
    pki.write("switch.crt", &switch.certificate.pem());
    pki.write("switch.key", &switch.key.serialize_pem());
    ["server-ca.crt", "switch.crt", "switch.key"].map(|name| pki.path(name).display().to_string())
}

/// Runs the real binary with `args`: (exit success, stdout, stderr).
async fn durgate(args: Vec<String>) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_durgate"));
    command.args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("durgate runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_loadgen_speak_mutual_tls_to_a_tls_gateway() {
    // `send` without a certificate fails a handshake: other stories count those.
    let _counters = FAILURE_COUNTERS.lock().await;
    let pki = Pki::new();
    let gateway = tls_gateway(&pki, true, 10_000).await;
    let [ca, cert, key] = client_files(&pki);
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/ncpdp-samples/ok/b1-single.d0");
    let addr = gateway.addr.to_string();
    let flag = |name: &str, value: &str| [name.to_string(), value.to_string()];
    let mut send: Vec<String> = ["send".to_string()].into_iter().collect();
    send.extend(flag("--addr", &addr));
    send.extend(flag("--tls-ca", &ca));
    send.extend(flag("--tls-server-name", "localhost"));
    let mut mutual = send.clone();
    mutual.extend(flag("--tls-cert", &cert));
    mutual.extend(flag("--tls-key", &key));
    mutual.push(sample.to_string());
    let (paid, stdout, stderr) = durgate(mutual).await;
    assert!(
        paid && stdout.contains("transaction 1: P"),
        "{stdout}{stderr}"
    );
    send.push(sample.to_string());
    let (refused, stdout, _) = durgate(send).await;
    assert!(
        !refused && !stdout.contains("transaction 1:"),
        "no certificate: {stdout}"
    );
    let mut loadgen: Vec<String> = ["loadgen".to_string()].into_iter().collect();
    loadgen.extend(flag("--addr", &addr));
    for (name, value) in [
        ("--tls-ca", &ca),
        ("--tls-cert", &cert),
        ("--tls-key", &key),
    ] {
        loadgen.extend(flag(name, value));
    }
    loadgen.extend(flag(
        "--rules",
        &support::sample_rules().display().to_string(),
    ));
    loadgen.extend(flag("--conns", "2"));
    loadgen.extend(flag("--count", "200"));
    let (ok, stdout, stderr) = durgate(loadgen).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("completed       200"), "{stdout}");
    gateway.stop().await;
}
