//! TLS for the claim listeners and the admin address: PEM files in, a live rustls
//! `ServerConfig` out, handshakes with a deadline, certificate reload on SIGHUP.
//!
//! Tier 3, between the socket and the connection layer. `server` loads one [`LiveTls`] per
//! endpoint that has a `[tls]` / `[admin_tls]` table (a broken file refuses the start); the
//! accept loop hands each accepted socket to its connection task, which runs
//! [`LiveTls::accept`] *there* — never on the accept loop — under the read deadline, then serves
//! the encrypted stream exactly like a plain one (`connection::Shared`). The admin server does
//! the same before hyper sees the stream.
//!
//! Must never: read a file or handshake on the accept loop; let a failed handshake touch any
//! other connection; swap in a half-loaded certificate; log key material.
//!
//! # Deployments
//!
//! * **Plain TCP** (no `[tls]`): the switch link is protected by the network (a private circuit
//!   or a VPN the switch terminates). This is the default.
//! * **TLS** (`[tls]` with `cert` and `key`): every claim listener speaks TLS 1.2 or 1.3 (rustls
//!   with the *ring* provider, its safe default cipher suites). One table applies to all claim
//!   listeners, so a plaintext claim port cannot sit beside a TLS one by mistake; the framing
//!   (STX/ETX or len4) runs unchanged inside the TLS stream.
//! * **Mutual TLS** (`client_ca` as well): a client must present a certificate that chains to
//!   one of the CAs in that PEM bundle, or the handshake fails — only the known switches
//!   connect. A client without a certificate, or with one from another CA, is refused during
//!   the handshake and never reaches the framing layer. (Revocation lists are not consulted:
//!   rotate the switch CA, or remove it from the bundle and send SIGHUP.)
//! * **Scoped switches** (`[tls.scopes]` as well): each client certificate may submit only for
//!   the BINs and pharmacies its entry lists (`server::scope`); the handshake is unchanged,
//!   out-of-scope transmissions get header rejects.
//! * **Admin over TLS** (`[admin_tls]`, same keys): `/metrics`, `/readyz` and `/admin/reload`
//!   over HTTPS; with `client_ca`, only holders of an operator certificate reach them.
//!
//! # Failed handshakes
//!
//! The handshake must finish within `read_timeout` from the accept; a client that sends
//! nothing, sends plaintext, or presents no or an unknown certificate is closed, counted
//! (`durgate_tls_handshake_failures_total{endpoint,reason}`, and for claim connections
//! `durgate_frames_refused_total{reason="tls_handshake"}`) and logged at info with the rustls
//! reason. It holds a connection place while it lasts, like any connection; other connections
//! and the accept loop are unaffected.
//!
//! # Reload
//!
//! On SIGHUP (the same signal that reloads the rule tables, which keeps its own listener) every
//! endpoint re-reads its certificate, key and client-CA files and builds a new `ServerConfig`;
//! it is swapped in whole (`arc-swap`), so new handshakes present the new certificate and
//! verify against the new CA bundle, while established connections keep the session they
//! negotiated. A file that does not load, or a key that does not fit the certificate, is
//! refused: the error is logged, `durgate_tls_reloads_total{outcome="refused"}` counts it and
//! the previous certificate stays in use. `POST /admin/reload` reloads rule tables only.
//! Sessions cached for resumption belong to one certificate generation: after a reload,
//! clients perform one full handshake.
//!
//! Bounds: each PEM file at most [`limits::TLS_PEM_FILE_BYTES_MAX`], chains of at most
//! [`limits::TLS_CHAIN_CERTIFICATES_MAX`] certificates, CA bundles of at most
//! [`limits::TLS_CLIENT_CA_CERTIFICATES_MAX`], [`limits::TLS_SESSION_CACHE_ENTRIES`] cached
//! sessions. rustls bounds its own record buffers (one record of at most 16 KiB plus overhead
//! in, 16 KiB of unread plaintext), so a TLS connection adds a fixed amount to the frame limit.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroize;

use crate::config::TlsConfig;
use crate::limits;

use super::metrics;
use super::reload::WatchError;
use super::scope::{ClientScopes, ConnectionScope};

/// Which endpoint a TLS setup serves (a fixed label for logs and metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Claims,
    Admin,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Claims => "claims",
            Endpoint::Admin => "admin",
        }
    }
}

/// Why TLS files could not be loaded (at start-up: the gateway refuses to start; on reload:
/// the previous certificate stays).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: larger than {bytes_max} bytes")]
    TooLarge { path: String, bytes_max: u64 },
    #[error("{path}: not readable PEM: {message}")]
    Pem { path: String, message: String },
    #[error("{path}: no {what} found")]
    Missing { path: String, what: &'static str },
    #[error("{path}: more than {count_max} certificates")]
    TooMany { path: String, count_max: usize },
    #[error("{path}: unusable client CA: {message}")]
    ClientCa { path: String, message: String },
    #[error("{path}: unusable CA for the gateway's certificate: {message}")]
    ServerCa { path: String, message: String },
    #[error("certificate {cert} with key {key}: {source}")]
    Certificate {
        cert: String,
        key: String,
        source: rustls::Error,
    },
}

/// Why one handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no completed handshake within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Failed(std::io::Error),
    #[error("the gateway is shutting down")]
    Shutdown,
}

impl HandshakeError {
    /// A fixed label for the failure counter.
    fn reason(&self) -> &'static str {
        match self {
            HandshakeError::Timeout(_) => "timeout",
            HandshakeError::Failed(_) => "failed",
            HandshakeError::Shutdown => "shutdown",
        }
    }
}

/// The TLS setup of one endpoint: its files and the `ServerConfig` built from them, swapped
/// whole on reload.
pub struct LiveTls {
    endpoint: Endpoint,
    files: TlsConfig,
    current: ArcSwap<ServerConfig>,
    /// `[tls.scopes]`, compiled; `None` when there are none (read at start-up only).
    scopes: Option<ClientScopes>,
}

impl LiveTls {
    /// Reads the files and builds the first configuration.
    pub fn load(endpoint: Endpoint, files: &TlsConfig) -> Result<LiveTls, TlsError> {
        let config = server_config(files)?;
        Ok(LiveTls {
            endpoint,
            files: files.clone(),
            current: ArcSwap::from_pointee(config),
            scopes: (!files.scopes.is_empty()).then(|| ClientScopes::new(&files.scopes)),
        })
    }

    /// The scope of a verified session from its client certificate; `None` when this endpoint
    /// has no scopes (every client may submit for anything).
    pub fn connection_scope<S>(&self, session: &TlsStream<S>) -> Option<ConnectionScope> {
        let scopes = self.scopes.as_ref()?;
        let certificates = session.get_ref().1.peer_certificates();
        let leaf = certificates.and_then(|chain| chain.first());
        Some(scopes.for_certificate(leaf.map(|certificate| certificate.as_ref())))
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// Re-reads the files; swaps the new configuration in, or keeps the old one and reports
    /// why (logged and counted either way). Blocking file I/O: call off the async workers.
    pub fn reload(&self) -> Result<(), TlsError> {
        let endpoint = self.endpoint.as_str();
        match server_config(&self.files) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                metrics::tls_reload(endpoint, true);
                tracing::info!(endpoint, "TLS certificate reloaded");
                Ok(())
            }
            Err(error) => {
                metrics::tls_reload(endpoint, false);
                tracing::error!(endpoint, %error, "TLS files refused; the previous certificate stays in use");
                Err(error)
            }
        }
    }

    /// Runs the server side of a handshake on `stream` with the current configuration, within
    /// `deadline`, giving up at shutdown. A failure is counted and logged here.
    pub async fn accept<S>(
        &self,
        stream: S,
        deadline: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<TlsStream<S>, HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.current.load_full());
        let outcome = tokio::select! {
            done = tokio::time::timeout(deadline, acceptor.accept(stream)) => match done {
                Ok(Ok(secured)) => Ok(secured),
                Ok(Err(error)) => Err(HandshakeError::Failed(error)),
                Err(_) => Err(HandshakeError::Timeout(deadline)),
            },
            _ = shutdown.changed() => Err(HandshakeError::Shutdown),
        };
        if let Err(error) = &outcome {
            self.count_failure(error);
        }
        outcome
    }

    fn count_failure(&self, error: &HandshakeError) {
        if matches!(error, HandshakeError::Shutdown) {
            return;
        }
        let endpoint = self.endpoint.as_str();
        metrics::tls_handshake_failed(endpoint, error.reason());
        tracing::info!(endpoint, %error, "TLS handshake failed");
    }
}

/// Reloads every endpoint's files (a refused one keeps its certificate; the others still
/// reload).
pub fn reload_all(endpoints: &[Arc<LiveTls>]) {
    for live in endpoints {
        // Logged and counted inside.
        let _ = live.reload();
    }
}

/// Spawns a task that reloads the certificates of `endpoints` on every SIGHUP, beside the
/// rule-table reload that listens for the same signal (needs a running tokio runtime).
pub fn spawn_sighup_reload(
    endpoints: Vec<Arc<LiveTls>>,
) -> Result<tokio::task::JoinHandle<()>, WatchError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    let endpoints = Arc::new(endpoints);
    Ok(tokio::spawn(async move {
        // Bounded by the gateway's life: aborted at shutdown.
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading TLS certificates");
            let endpoints = endpoints.clone();
            let _ = tokio::task::spawn_blocking(move || reload_all(&endpoints)).await;
        }
    }))
}

/// Builds a rustls server configuration from the PEM files: TLS 1.2 and 1.3 with the ring
/// provider's safe defaults, the certificate chain and its key (which must fit together), and
/// mandatory client certificates from `client_ca` when it is set.
pub fn server_config(files: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(crypto::ring::default_provider());
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let certificate_error = |source| TlsError::Certificate {
        cert: files.cert.display().to_string(),
        key: files.key.display().to_string(),
        source,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(certificate_error)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(certificate_error)?;
    config.session_storage = ServerSessionMemoryCache::new(limits::TLS_SESSION_CACHE_ENTRIES);
    Ok(config)
}

/// A rustls client configuration for the project's own clients (`send`, `loadgen`): the
/// gateway's certificate must chain to a CA in `ca`; with `identity` (certificate chain, key)
/// the client presents that certificate for mutual TLS. The same bounds as the server's files.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(crypto::ring::default_provider());
    let unusable = |message: String| TlsError::ServerCa {
        path: ca.display().to_string(),
        message,
    };
    let roots = read_roots(ca, unusable)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| unusable(error.to_string()))?
        .with_root_certificates(roots);
    let Some((cert, key)) = identity else {
        return Ok(builder.with_no_client_auth());
    };
    builder
        .with_client_auth_cert(read_chain(cert)?, read_key(key)?)
        .map_err(|source| TlsError::Certificate {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
            source,
        })
}

/// The verifier of mutual TLS: every client must present a certificate chaining to one of the
/// CAs in `path`.
fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let unusable = |message: String| TlsError::ClientCa {
        path: path.display().to_string(),
        message,
    };
    let roots = read_roots(path, unusable)?;
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| unusable(error.to_string()))
}

/// The trust anchors of a CA bundle (at most [`limits::TLS_CLIENT_CA_CERTIFICATES_MAX`]);
/// `unusable` says why one is refused.
fn read_roots(
    path: &Path,
    unusable: impl Fn(String) -> TlsError,
) -> Result<RootCertStore, TlsError> {
    let bytes = read_pem_file(path)?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path, &bytes, limits::TLS_CLIENT_CA_CERTIFICATES_MAX)? {
        roots
            .add(certificate)
            .map_err(|error| unusable(error.to_string()))?;
    }
    Ok(roots)
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_pem_file(path)?;
    certificates(path, &bytes, limits::TLS_CHAIN_CERTIFICATES_MAX)
}

/// The first private key in the file (PKCS#8, PKCS#1 or SEC1); the file's bytes are wiped.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let mut bytes = read_pem_file(path)?;
    let key = PrivateKeyDer::from_pem_slice(&bytes);
    bytes.zeroize();
    key.map_err(|error| match error {
        pem::Error::NoItemsFound => missing(path, "private key"),
        other => pem_error(path, &other),
    })
}

/// Every certificate in `bytes`, at least one and at most `count_max`.
fn certificates(
    path: &Path,
    bytes: &[u8],
    count_max: usize,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut found = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(bytes).take(count_max + 1) {
        found.push(certificate.map_err(|error| pem_error(path, &error))?);
    }
    if found.len() > count_max {
        return Err(TlsError::TooMany {
            path: path.display().to_string(),
            count_max,
        });
    }
    if found.is_empty() {
        return Err(missing(path, "certificate"));
    }
    Ok(found)
}

/// The whole file, refused beyond [`limits::TLS_PEM_FILE_BYTES_MAX`] (never read further).
fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    let unreadable = |source| TlsError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(limits::TLS_PEM_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limits::TLS_PEM_FILE_BYTES_MAX {
        bytes.zeroize();
        return Err(TlsError::TooLarge {
            path: path.display().to_string(),
            bytes_max: limits::TLS_PEM_FILE_BYTES_MAX,
        });
    }
    Ok(bytes)
}

fn missing(path: &Path, what: &'static str) -> TlsError {
    TlsError::Missing {
        path: path.display().to_string(),
        what,
    }
}

fn pem_error(path: &Path, error: &pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use std::path::PathBuf;

    /// A CA and a server certificate it issued, written as PEM files into a temp folder.
    struct Pki {
        dir: tempfile::TempDir,
    }

    impl Pki {
        fn new() -> Pki {
            let pki = Pki {
                dir: tempfile::tempdir().unwrap(),
            };
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let key = KeyPair::generate().unwrap();
            let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            pki.write("ca.crt", &ca.pem());
            pki.write("server.crt", &cert.pem());
            pki.write("server.key", &key.serialize_pem());
            pki.write("other.key", &KeyPair::generate().unwrap().serialize_pem());
            pki
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.path(name), text).unwrap();
        }

        fn files(&self, cert: &str, key: &str, client_ca: Option<&str>) -> TlsConfig {
            TlsConfig {
                cert: self.path(cert),
                key: self.path(key),
                client_ca: client_ca.map(|name| self.path(name)),
                scopes: Default::default(),
            }
        }
    }

    fn presented(live: &LiveTls) -> usize {
        Arc::as_ptr(&live.current.load_full()) as usize
    }

    #[test]
    fn a_certificate_with_its_key_loads_with_and_without_client_ca() {
        let pki = Pki::new();
        assert!(server_config(&pki.files("server.crt", "server.key", None)).is_ok());
        let mutual = pki.files("server.crt", "server.key", Some("ca.crt"));
        assert!(server_config(&mutual).is_ok());
    }

    #[test]
    fn a_key_that_does_not_fit_the_certificate_is_refused() {
        let pki = Pki::new();
        let error = server_config(&pki.files("server.crt", "other.key", None)).unwrap_err();
        assert!(matches!(error, TlsError::Certificate { .. }), "{error}");
    }

    #[test]
    fn missing_and_empty_files_are_named() {
        let pki = Pki::new();
        let absent = server_config(&pki.files("absent.crt", "server.key", None)).unwrap_err();
        assert!(
            absent.to_string().contains("absent.crt: cannot read"),
            "{absent}"
        );
        pki.write("empty.pem", "");
        let no_cert = server_config(&pki.files("empty.pem", "server.key", None)).unwrap_err();
        assert!(
            no_cert.to_string().ends_with("no certificate found"),
            "{no_cert}"
        );
        let no_key = server_config(&pki.files("server.crt", "empty.pem", None)).unwrap_err();
        assert!(
            no_key.to_string().ends_with("no private key found"),
            "{no_key}"
        );
        let no_ca = pki.files("server.crt", "server.key", Some("empty.pem"));
        let no_ca = server_config(&no_ca).unwrap_err();
        assert!(
            no_ca.to_string().ends_with("no certificate found"),
            "{no_ca}"
        );
    }

    #[test]
    fn a_file_beyond_the_limit_is_refused_without_parsing() {
        let pki = Pki::new();
        let padding = "#".repeat(limits::TLS_PEM_FILE_BYTES_MAX as usize);
        let cert = std::fs::read_to_string(pki.path("server.crt")).unwrap();
        pki.write("huge.crt", &format!("{cert}{padding}"));
        let error = server_config(&pki.files("huge.crt", "server.key", None)).unwrap_err();
        assert!(matches!(error, TlsError::TooLarge { .. }), "{error}");
    }

    #[test]
    fn a_chain_longer_than_the_limit_is_refused() {
        let pki = Pki::new();
        let cert = std::fs::read_to_string(pki.path("server.crt")).unwrap();
        pki.write(
            "long.crt",
            &cert.repeat(limits::TLS_CHAIN_CERTIFICATES_MAX + 1),
        );
        let error = server_config(&pki.files("long.crt", "server.key", None)).unwrap_err();
        assert!(matches!(error, TlsError::TooMany { .. }), "{error}");
    }

    #[test]
    fn garbage_in_a_pem_block_is_refused() {
        let pki = Pki::new();
        pki.write(
            "bad.crt",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let error = server_config(&pki.files("bad.crt", "server.key", None)).unwrap_err();
        assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    }

    #[test]
    fn a_refused_reload_keeps_the_configuration_and_a_good_one_swaps_it() {
        let pki = Pki::new();
        let live = LiveTls::load(
            Endpoint::Claims,
            &pki.files("server.crt", "server.key", None),
        )
        .unwrap();
        let first = presented(&live);
        let key = std::fs::read_to_string(pki.path("server.key")).unwrap();
        pki.write("server.key", "not a key");
        assert!(live.reload().is_err());
        assert_eq!(presented(&live), first);
        pki.write("server.key", &key);
        live.reload().unwrap();
        assert_ne!(presented(&live), first);
    }
}
