//! `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`: TLS and mutual TLS for the
//! project's own clients (`send`, `loadgen`), so a TLS gateway can be tested with them.
//!
//! Part of the CLI: turns the flags into a [`ClientTls`] (the PEM files are read by
//! `server::tls::client_config`, under the same bounds as the gateway's own files). Must
//! never: trust a certificate without a CA given (there is no "insecure" mode), or log key
//! material.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::loadgen::engine::ClientTls;

/// TLS flags shared by `send` and `loadgen`; absent = plain TCP.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ClientTlsArgs {
    /// Speak TLS: the CA certificates (PEM) the gateway's certificate must chain to.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Mutual TLS: the client certificate chain (PEM) to present.
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The name the gateway's certificate must carry (default: the IP address of `--addr`).
    #[arg(long, requires = "tls_ca")]
    pub tls_server_name: Option<String>,
}

impl ClientTlsArgs {
    /// The TLS client for connections to `addr`, or `None` without `--tls-ca`.
    pub fn client(&self, addr: SocketAddr) -> anyhow::Result<Option<ClientTls>> {
        let Some(ca) = &self.tls_ca else {
            return Ok(None);
        };
        let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        let config = crate::server::tls::client_config(ca, identity)?;
        let server_name = match &self.tls_server_name {
            Some(name) => ServerName::try_from(name.clone())
                .with_context(|| format!("--tls-server-name {name:?} is not a DNS name or IP"))?,
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let connector = TlsConnector::from(Arc::new(config));
        Ok(Some(ClientTls {
            connector,
            server_name,
        }))
    }
}
