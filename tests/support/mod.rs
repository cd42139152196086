//! Story harness: a real gateway on a loopback port with the sample rule tables and a fresh
//! SQLite file, and a client that speaks STX/ETX frames over a real socket.
//!
//! Also: claim builders for one synthetic patient with dates relative to today (the gateway
//! reads the clock, so fixed dates would drift out of the history's lookback), a read-only view
//! of the SQLite claim store, and a launcher for the real `durgate serve` binary as a child
//! process (readiness wait, log capture, SIGKILL and SIGTERM) for crash and log stories.
#![allow(dead_code)]

pub mod pg;
pub mod records;
pub mod report_story;
pub mod skip;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use durgate::claim::Date;
use durgate::config::Config;
use durgate::ncpdp::build::ClaimBuilder;
use durgate::ncpdp::{self, Response};
use durgate::server::Gateway;
use durgate::wire::{self, FrameCodec, Framing};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

/// Sample-table products the stories claim for (NDC, 11 digits).
pub const ATORVASTATIN_10MG: &str = "67877051190";
pub const SIMVASTATIN_20MG: &str = "99999000301";

/// How long a story waits for one reply before it fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The statements of the first ```` ```sql ```` block in a Markdown `text`, in order, trimmed.
pub fn first_sql_block(text: &str) -> Vec<String> {
    let block = text
        .split("```sql")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or("");
    block
        .split(';')
        .map(str::trim)
        .filter(|sql| !sql.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The shipped sample rule tables.
pub fn sample_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample")
}

/// The sample tables with interaction overrides remembered for `days`, in a temp folder.
pub fn sample_remembering_ddi(days: u32) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(sample_rules()).expect("sample folder") {
        let path = entry.expect("entry").path();
        let target = folder.path().join(path.file_name().expect("a file name"));
        std::fs::copy(&path, target).expect("copy a sample table");
    }
    let ruleset = folder.path().join("ruleset.toml");
    let text = std::fs::read_to_string(&ruleset).expect("ruleset.toml");
    let setting = format!("never_override = []\nremember_override_days = {days}");
    let remembering = text.replacen("never_override = []", &setting, 1);
    assert_ne!(
        remembering, text,
        "the sample's [edits.ddi] has never_override"
    );
    std::fs::write(&ruleset, remembering).expect("write ruleset.toml");
    let source = durgate::server::reload::read_table_files(folder.path()).expect("tables read");
    durgate::server::reload::write_seal(folder.path(), &source).expect("write the seal");
    folder
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

    /// Graceful shutdown, then a new gateway on the same configuration and store file.
    pub async fn restart(mut self) -> TestGateway {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
        let gateway = Gateway::start(&self.config)
            .await
            .expect("gateway restarts");
        let addr = gateway.claim_addrs[0];
        let admin = gateway.admin_addr.expect("admin listener");
        TestGateway {
            gateway: Some(gateway),
            addr,
            admin,
            ..self
        }
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
    framing: Framing,
}

impl Client {
    /// A client speaking the default STX/ETX framing.
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_with(addr, Framing::StxEtx).await
    }

    /// A client speaking `framing` both ways.
    pub async fn connect_with(addr: SocketAddr, framing: Framing) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (read, write) = stream.into_split();
        let replies = FramedRead::new(
            read,
            FrameCodec::new(framing, durgate::limits::FRAME_BYTES_MAX, 0),
        );
        Client {
            write,
            replies,
            framing,
        }
    }

    /// Sends one transmission (unframed D.0 bytes) without waiting.
    pub async fn send_only(&mut self, transmission: &[u8]) {
        self.try_send_only(transmission).await.expect("write");
    }

    /// As [`Client::send_only`], reporting a write failure (the gateway went away).
    pub async fn try_send_only(&mut self, transmission: &[u8]) -> std::io::Result<()> {
        let mut framed = BytesMut::new();
        wire::encode_frame(self.framing, transmission, &mut framed);
        self.write.write_all(&framed).await
    }

    /// Sends several transmissions in one write, so the gateway reads them together.
    pub async fn send_all_only(&mut self, transmissions: &[Vec<u8>]) {
        let mut framed = BytesMut::new();
        for transmission in transmissions {
            wire::encode_frame(self.framing, transmission, &mut framed);
        }
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

    /// The next reply decoded; `None` when the connection closed or nothing came in time.
    pub async fn try_reply(&mut self) -> Option<Response> {
        let bytes = self.reply_bytes().await?;
        ncpdp::parse_response(&bytes).ok()
    }

    /// Sends one transmission and waits for its reply; `None` instead of panicking when the
    /// write fails, the connection closes or nothing readable comes in time.
    pub async fn try_reply_to(&mut self, transmission: &[u8]) -> Option<Response> {
        self.try_send_only(transmission).await.ok()?;
        self.try_reply().await
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

/// Asserts a reply's statuses and its first transaction's reject codes (the reply shown when
/// they differ).
pub fn expect(response: &Response, status: &str, reject_codes: &[&str]) {
    let wanted: Vec<String> = reject_codes.iter().map(|code| code.to_string()).collect();
    assert_eq!(
        (statuses(response), rejects(response, 0)),
        (status.to_string(), wanted),
        "{response:?}"
    );
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

/// The 503-F3 authorization of transaction `index` (empty when none).
pub fn authorization(response: &Response, index: usize) -> String {
    response.transactions[index]
        .authorization
        .clone()
        .unwrap_or_default()
}

/// The 526-FQ additional message lines of transaction `index`, joined.
pub fn message_text(response: &Response, index: usize) -> String {
    let lines = response.transactions[index].messages.iter();
    lines.map(|line| line.text.as_str()).collect()
}

// ---- dates and patients ---------------------------------------------------------------------

/// Today (UTC), as the gateway reads it.
pub fn today() -> Date {
    durgate::server::today()
}

/// The date `days` before today.
pub fn days_ago(days: i32) -> Date {
    today().add_days(-days)
}

/// A date of birth that makes the patient `years` old (birthday `days_past_birthday` days
/// before `on`; 0 means the birthday is that very day).
pub fn born_years_before(on: Date, years: i32, days_past_birthday: i32) -> Date {
    let birthday = on.add_days(-days_past_birthday);
    let (year, month, day) = birthday.ymd();
    Date::from_ymd(year - years, month, day)
        .or_else(|| Date::from_ymd(year - years, month, day - 1))
        .expect("a valid date of birth")
}

/// One synthetic patient: every claim built from it carries the same patient key.
#[derive(Clone, Debug)]
pub struct Person {
    pub cardholder_id: String,
    pub person_code: String,
    pub date_of_birth: Date,
}

impl Person {
    /// An adult (born 1980-05-15) with person code 01.
    pub fn adult(cardholder_id: &str) -> Person {
        Person {
            cardholder_id: cardholder_id.to_owned(),
            person_code: "01".to_owned(),
            date_of_birth: Date::from_ymd(1980, 5, 15).expect("a date"),
        }
    }

    pub fn born(mut self, date_of_birth: Date) -> Person {
        self.date_of_birth = date_of_birth;
        self
    }

    pub fn person_code(mut self, person_code: &str) -> Person {
        self.person_code = person_code.to_owned();
        self
    }

    fn apply(&self, builder: ClaimBuilder, date_of_service: Date) -> ClaimBuilder {
        builder
            .cardholder(&self.cardholder_id)
            .person_code(&self.person_code)
            .dob(self.date_of_birth)
            .date_of_service(date_of_service)
    }

    /// A B1 for `ndc` on `date_of_service` (Rx `rx`, 30 units for 30 days, fill 0).
    pub fn b1(&self, rx: u64, ndc: &str, date_of_service: Date) -> ClaimBuilder {
        let builder = self.apply(ClaimBuilder::b1(), date_of_service);
        builder.rx(rx).ndc(ndc).date_written(date_of_service)
    }

    /// A B2 reversing the claim billed with Rx `rx`, fill 0, on `date_of_service`.
    pub fn b2(&self, rx: u64, ndc: &str, date_of_service: Date) -> ClaimBuilder {
        let builder = self.apply(ClaimBuilder::b2(), date_of_service);
        builder.rx(rx).ndc(ndc)
    }

    /// A B3 rebilling Rx `rx`, fill 0, on `date_of_service` with `ndc`.
    pub fn b3(&self, rx: u64, ndc: &str, date_of_service: Date) -> ClaimBuilder {
        let builder = self.apply(ClaimBuilder::b3(), date_of_service);
        builder.rx(rx).ndc(ndc).date_written(date_of_service)
    }

    /// An E1 eligibility check on `date_of_service`.
    pub fn e1(&self, date_of_service: Date) -> ClaimBuilder {
        self.apply(ClaimBuilder::e1(), date_of_service)
    }
}

// ---- the claim store, read-only -------------------------------------------------------------

/// One row of `claims` (see src/store/SCHEMA.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub authorization: Option<String>,
    pub ruleset: String,
    pub rx_number: i64,
    pub fill_number: i64,
    pub ndc: Option<String>,
    pub quantity_milli: i64,
    pub days_supply: i64,
    pub date_of_service: String,
    pub pharmacy_id: String,
    pub prescriber_id: String,
    pub matched_claim_id: Option<i64>,
    pub reverses: Option<i64>,
    pub reversed_by: Option<i64>,
}

impl ClaimRow {
    /// Counts as paid: paid and not reversed.
    pub fn counts_as_paid(&self) -> bool {
        self.status == "paid" && self.reversed_by.is_none()
    }
}

/// One row of `conflicts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictRow {
    pub id: i64,
    pub edit: String,
    pub rule_id: String,
    pub reason: String,
    pub severity: i64,
    pub action: String,
    pub clinical_significance: i64,
    pub previous_fill_date: Option<String>,
    pub overridable: bool,
    pub overridden_by: Option<i64>,
}

/// One row of `dur_pps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurPpsRow {
    pub counter: i64,
    pub reason: Option<String>,
    pub professional: Option<String>,
    pub result: Option<String>,
    pub matched_conflict_id: Option<i64>,
    pub overrode: bool,
}

const CLAIM_COLUMNS: &str = "id, kind, status, authorization, ruleset, rx_number, fill_number, \
     ndc, quantity_milli, days_supply, date_of_service, pharmacy_id, prescriber_id, \
     matched_claim_id, reverses, reversed_by";

/// The claim store file opened read-only, as an analyst would.
pub struct StoreView {
    connection: rusqlite::Connection,
}

impl StoreView {
    pub fn open(path: &Path) -> StoreView {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let connection = rusqlite::Connection::open_with_flags(path, flags).expect("open store");
        connection
            .busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        StoreView { connection }
    }

    fn claims_where(&self, condition: &str, value: impl rusqlite::ToSql) -> Vec<ClaimRow> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE {condition} ORDER BY id");
        let mut statement = self.connection.prepare(&sql).expect("claims query");
        let rows = statement.query_map([value], |row| {
            Ok(ClaimRow {
                id: row.get(0)?,
                kind: row.get(1)?,
                status: row.get(2)?,
                authorization: row.get(3)?,
                ruleset: row.get(4)?,
                rx_number: row.get(5)?,
                fill_number: row.get(6)?,
                ndc: row.get(7)?,
                quantity_milli: row.get(8)?,
                days_supply: row.get(9)?,
                date_of_service: row.get(10)?,
                pharmacy_id: row.get(11)?,
                prescriber_id: row.get(12)?,
                matched_claim_id: row.get(13)?,
                reverses: row.get(14)?,
                reversed_by: row.get(15)?,
            })
        });
        rows.expect("claims rows")
            .collect::<Result<_, _>>()
            .expect("claims")
    }

    /// The claim row holding this 503-F3 authorization.
    pub fn claim_by_authorization(&self, authorization: &str) -> Option<ClaimRow> {
        self.claims_where("authorization = ?1", authorization)
            .into_iter()
            .next()
    }

    /// Every row recorded for Rx `rx_number`, oldest first.
    pub fn claims_for_rx(&self, rx_number: u64) -> Vec<ClaimRow> {
        self.claims_where("rx_number = ?1", rx_number as i64)
    }

    pub fn conflicts(&self, claim_id: i64) -> Vec<ConflictRow> {
        let sql = "SELECT id, edit, rule_id, reason, severity, action, clinical_significance, \
                   previous_fill_date, overridable, overridden_by FROM conflicts \
                   WHERE claim_id = ?1 ORDER BY position";
        let mut statement = self.connection.prepare(sql).expect("conflicts query");
        let rows = statement.query_map([claim_id], |row| {
            Ok(ConflictRow {
                id: row.get(0)?,
                edit: row.get(1)?,
                rule_id: row.get(2)?,
                reason: row.get(3)?,
                severity: row.get(4)?,
                action: row.get(5)?,
                clinical_significance: row.get(6)?,
                previous_fill_date: row.get(7)?,
                overridable: row.get::<_, i64>(8)? == 1,
                overridden_by: row.get(9)?,
            })
        });
        rows.expect("conflict rows")
            .collect::<Result<_, _>>()
            .expect("conflicts")
    }

    pub fn dur_pps(&self, claim_id: i64) -> Vec<DurPpsRow> {
        let sql = "SELECT counter, reason, professional, result, matched_conflict_id, overrode \
                   FROM dur_pps WHERE claim_id = ?1 ORDER BY counter";
        let mut statement = self.connection.prepare(sql).expect("dur_pps query");
        let rows = statement.query_map([claim_id], |row| {
            Ok(DurPpsRow {
                counter: row.get(0)?,
                reason: row.get(1)?,
                professional: row.get(2)?,
                result: row.get(3)?,
                matched_conflict_id: row.get(4)?,
                overrode: row.get::<_, i64>(5)? == 1,
            })
        });
        rows.expect("dur_pps rows")
            .collect::<Result<_, _>>()
            .expect("dur_pps")
    }

    pub fn reject_codes(&self, claim_id: i64) -> Vec<String> {
        let sql = "SELECT code FROM claim_reject_codes WHERE claim_id = ?1 ORDER BY position";
        let mut statement = self.connection.prepare(sql).expect("reject codes query");
        let rows = statement.query_map([claim_id], |row| row.get(0));
        rows.expect("reject code rows")
            .collect::<Result<_, _>>()
            .expect("reject codes")
    }

    /// A single integer from `sql` (a count, a max...).
    pub fn number(&self, sql: &str) -> i64 {
        self.connection
            .query_row(sql, [], |row| row.get(0))
            .expect("a number")
    }
}

// ---- the real binary as a child process -----------------------------------------------------

/// How long a child gateway gets to become ready.
pub const PROCESS_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting a child gateway (a picked free port may be taken meanwhile).
const PROCESS_START_ATTEMPTS: usize = 3;

/// How to run `durgate serve` as a child process.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// `--store sqlite:PATH`.
    pub store_path: PathBuf,
    /// `--store URL` instead of the SQLite file (a PostgreSQL store).
    pub store_url: Option<String>,
    /// `--rules` (default: the sample tables).
    pub rules: PathBuf,
    /// `--log-format` (`text` or `json`), when given.
    pub log_format: Option<String>,
    /// `RUST_LOG` for the child (default `info`).
    pub rust_log: String,
    /// A `--config` file's TOML text, when given (flags still override it).
    pub config_toml: Option<String>,
    /// Soft and hard `nofile` limit of the child (through `prlimit`), when given.
    pub nofile: Option<u64>,
}

impl ProcessOptions {
    pub fn new(store_path: &Path) -> ProcessOptions {
        ProcessOptions {
            store_path: store_path.to_owned(),
            store_url: None,
            rules: sample_rules(),
            log_format: None,
            rust_log: "info".to_owned(),
            config_toml: None,
            nofile: None,
        }
    }
}

/// A running `durgate serve` child. Dropping it kills the child if it still runs.
pub struct GatewayProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub store_path: PathBuf,
    pub log_path: PathBuf,
    _logs: tempfile::TempDir,
}

/// Starts `durgate serve` on free loopback ports and waits until `/readyz` answers 200.
/// Panics with the child's log when it never becomes ready.
pub fn spawn_gateway_process(options: &ProcessOptions) -> GatewayProcess {
    let mut last_log = String::new();
    for _ in 0..PROCESS_START_ATTEMPTS {
        let mut process = start_process(options);
        match process.wait_ready() {
            Ok(()) => return process,
            Err(log) => last_log = log,
        }
    }
    panic!("durgate serve never became ready; its log:\n{last_log}");
}

/// Starts `durgate serve` on free loopback ports without waiting for it (see
/// [`GatewayProcess::wait_ready`]).
pub fn start_gateway_process(options: &ProcessOptions) -> GatewayProcess {
    start_process(options)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

fn start_process(options: &ProcessOptions) -> GatewayProcess {
    let logs = tempfile::tempdir().expect("log dir");
    let log_path = logs.path().join("durgate.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = match options.nofile {
        None => std::process::Command::new(env!("CARGO_BIN_EXE_durgate")),
        Some(nofile) => {
            // prlimit sets the limit and execs the gateway: the child is the gateway itself.
            let mut prlimit = std::process::Command::new("prlimit");
            prlimit.arg(format!("--nofile={nofile}:{nofile}"));
            prlimit.arg(env!("CARGO_BIN_EXE_durgate"));
            prlimit
        }
    };
    command
        .arg("serve")
        .args(["--listen", &addr.to_string(), "--admin", &admin.to_string()])
        .arg("--store")
        .arg(
            options
                .store_url
                .clone()
                .unwrap_or_else(|| format!("sqlite:{}", options.store_path.display())),
        )
        .arg("--rules")
        .arg(&options.rules)
        .env("RUST_LOG", &options.rust_log)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log_file);
    if let Some(format) = &options.log_format {
        command.args(["--log-format", format]);
    }
    if let Some(toml) = &options.config_toml {
        let config_path = logs.path().join("durgate.toml");
        std::fs::write(&config_path, toml).expect("config file");
        command.arg("--config").arg(config_path);
    }
    let child = command.spawn().expect("spawn durgate serve");
    GatewayProcess {
        child,
        addr,
        admin,
        store_path: options.store_path.clone(),
        log_path,
        _logs: logs,
    }
}

impl GatewayProcess {
    /// Polls `/readyz`; `Err(log)` when the child exited or the timeout passed.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let started = std::time::Instant::now();
        while started.elapsed() < PROCESS_READY_TIMEOUT {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.logs());
            }
            if http_get(self.admin, "/readyz").is_some_and(|(status, _)| status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(self.logs())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (no chance to clean up), then reaps the child.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the gateway finishes in-flight claims and exits.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the child wrote to stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// A plain HTTP/1.1 GET: the status code and body, or `None` when nothing answered.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let timeout = Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())?;
    Some((status, body))
}
