//! TLS to PostgreSQL, against a server the test starts itself: `initdb` into a temp folder, a
//! throwaway CA and server certificate (rcgen, for `localhost` only), `ssl = on`, and a
//! `pg_hba.conf` that refuses every connection without TLS.
//!
//! `sslmode=verify-full` with the CA opens the store and commits a claim (the server accepts
//! only TLS, so the claim crossed an encrypted link); `sslmode=disable` is refused by the
//! server; `verify-full` to `127.0.0.1`, a name the certificate does not hold, is refused while
//! `verify-ca` accepts it; a CA that did not sign the server's certificate is refused.
//!
//! Skips, saying why, when the PostgreSQL server programs (`initdb`, `postgres`) are not on
//! the machine or cannot be run as a non-root user.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use durgate::claim::Status;
use durgate::store::{ClaimStore, PgLocation, PgStore};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use support::records::{b1, day};

/// How long the server may take to accept connections after it was started.
const SERVER_START_MAX: Duration = Duration::from_secs(30);

/// A PostgreSQL server of the test's own, stopped when dropped.
struct OwnServer {
    child: Child,
    port: u16,
    /// The data folder, removed with the server.
    _dir: tempfile::TempDir,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The folder holding `initdb` and `postgres` (Debian keeps them per major version).
fn server_programs() -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .find(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `program` with `args`, as the `postgres` user when the test runs as root (the server
/// refuses to run as root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A throwaway CA and a server certificate for `localhost` signed by it (PEM).
struct Pki {
    ca_pem: String,
    other_ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

fn authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (params.self_signed(&key).expect("CA certificate"), key)
}

fn pki() -> Pki {
    let (ca, ca_key) = authority("durgate test database CA");
    let (other_ca, _) = authority("some other CA");
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let server = params
        .signed_by(&key, &ca, &ca_key)
        .expect("server certificate");
    Pki {
        ca_pem: ca.pem(),
        other_ca_pem: other_ca.pem(),
        server_pem: server.pem(),
        server_key_pem: key.serialize_pem(),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

/// `initdb`, the certificates, TLS-only `pg_hba.conf`, then the server on a free port.
fn start_server(bin: &Path, pki: &Pki) -> Result<OwnServer, String> {
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let data = dir.path().join("data");
    if is_root() {
        Command::new("chown")
            .args(["postgres:", &dir.path().display().to_string()])
            .status()
            .map_err(|error| error.to_string())?;
    }
    let initdb = as_server_user(&bin.join("initdb"))
        .args(["--auth=trust", "-U", "postgres", "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("initdb: {error}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        ));
    }
    let port = support::free_port();
    write(&data.join("server.crt"), &pki.server_pem);
    write(&data.join("server.key"), &pki.server_key_pem);
    let settings = format!(
        "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         ssl = on\nfsync = off\n",
        data.display()
    );
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).map_err(|error| error.to_string())?;
    text.push_str(&settings);
    write(&conf, &text);
    write(
        &data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    );
    own_by_server_user(&data)?;
    let child = as_server_user(&bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("postgres: {error}"))?;
    Ok(OwnServer {
        child,
        port,
        _dir: dir,
    })
}

/// The key must be the server user's and private to it.
fn own_by_server_user(data: &Path) -> Result<(), String> {
    let key = data.join("server.key");
    Command::new("chmod")
        .arg("600")
        .arg(&key)
        .status()
        .map_err(|error| error.to_string())?;
    if is_root() {
        Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(data)
            .status()
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

fn url(server: &OwnServer, host: &str, query: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?{query}",
        server.port
    )
}

/// Opens the store (on a thread of its own: `PgStore::open` blocks).
fn open(url: &str) -> Result<PgStore, String> {
    let location = PgLocation::parse(url).map_err(|error| error.to_string())?;
    PgStore::open(&location).map_err(|error| error.to_string())
}

/// Polls until the server takes a TLS connection.
fn wait_ready(server: &OwnServer, root: &Path) -> Result<PgStore, String> {
    let query = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let started = Instant::now();
    loop {
        match open(&url(server, "localhost", &query)) {
            Ok(store) => return Ok(store),
            Err(error) if started.elapsed() > SERVER_START_MAX => return Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn claims_reach_postgresql_only_over_a_verified_tls_link() {
    let Some(bin) = server_programs() else {
        return support::skip::skip_optional(
            "no PostgreSQL server programs under /usr/lib/postgresql/*/bin (initdb, postgres)",
        );
    };
    let pki = pki();
    let server = match start_server(&bin, &pki) {
        Ok(server) => server,
        Err(reason) => {
            return support::skip::skip_optional(&format!("cannot start a server: {reason}"))
        }
    };
    let files = tempfile::tempdir().expect("temp dir");
    let (root, other_root) = (files.path().join("ca.pem"), files.path().join("other.pem"));
    write(&root, &pki.ca_pem);
    write(&other_root, &pki.other_ca_pem);

    let store = wait_ready(&server, &root).expect("verify-full to localhost opens the store");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let committed = runtime.block_on(store.commit(b1(1, 100, day(-1), Status::Paid)));
    assert!(
        committed.is_ok(),
        "a claim committed over TLS: {committed:?}"
    );
    drop(store);

    let refused = open(&url(&server, "localhost", "sslmode=disable"));
    assert!(
        refused.is_err(),
        "the server takes TLS only; plaintext must fail"
    );
    let ip_full = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let mismatch = open(&url(&server, "127.0.0.1", &ip_full));
    assert!(mismatch.is_err(), "the certificate does not name 127.0.0.1");
    let ip_ca = format!("sslmode=verify-ca&sslrootcert={}", root.display());
    assert!(
        open(&url(&server, "127.0.0.1", &ip_ca)).is_ok(),
        "verify-ca ignores the name"
    );
    let stranger = format!("sslmode=verify-ca&sslrootcert={}", other_root.display());
    let unverified = open(&url(&server, "localhost", &stranger));
    assert!(
        unverified.is_err(),
        "a CA that did not sign the server's certificate"
    );
    assert!(open(&url(&server, "localhost", "sslmode=require")).is_ok());
}
