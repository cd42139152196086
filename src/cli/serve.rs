//! `durgate serve`: run the gateway until SIGTERM/SIGINT.
//!
//! Reads `--config FILE` (or the built-in defaults, which equal the shipped
//! `config/durgate.toml`), lays the flags over it, validates the result, sets up logging and
//! runs `server::run` on a multi-threaded tokio runtime. Must never hold server logic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{Config, LogFormat, TlsConfig};
use crate::wire::Framing;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (TOML; unknown keys are refused). Without it the built-in defaults
    /// apply, which equal config/durgate.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Claim listener address; repeat for several.
    #[arg(long = "listen")]
    pub listen: Vec<SocketAddr>,
    /// Framing of the claim listeners: stx or len4.
    #[arg(long)]
    pub framing: Option<Framing>,
    /// Rule-table folder.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Claim store: sqlite:PATH (default sqlite:durgate.db), or postgres://... for several
    /// gateways on one database (schema=NAME picks the schema; see src/store/POSTGRES.md).
    #[arg(long)]
    pub store: Option<String>,
    /// Admin HTTP address (health, readiness, status, reload, metrics).
    #[arg(long)]
    pub admin: Option<SocketAddr>,
    /// Log line format (levels via RUST_LOG).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// TLS on the claim listeners: certificate chain (PEM, the gateway's certificate first).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// TLS on the claim listeners: private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: only clients with a certificate from these CAs (PEM bundle) connect.
    #[arg(long, value_name = "PEM")]
    pub tls_client_ca: Option<PathBuf>,
    /// TLS on the admin address: certificate chain (PEM).
    #[arg(long, value_name = "PEM")]
    pub admin_tls_cert: Option<PathBuf>,
    /// TLS on the admin address: private key of --admin-tls-cert (PEM).
    #[arg(long, value_name = "PEM")]
    pub admin_tls_key: Option<PathBuf>,
    /// Mutual TLS on the admin address: CAs of the operators' client certificates (PEM).
    #[arg(long, value_name = "PEM")]
    pub admin_tls_client_ca: Option<PathBuf>,
    /// A file holding the admin bearer token (every admin endpoint but /healthz and /readyz
    /// then needs `Authorization: Bearer <token>`).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration file (or defaults) with the flags laid over it.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                Config::from_toml(&text).with_context(|| format!("{}", path.display()))?
            }
            None => Config::default(),
        };
        if !self.listen.is_empty() {
            config.listen = self.listen.clone();
        }
        config.framing = self.framing.unwrap_or(config.framing);
        config.rules = self.rules.clone().unwrap_or(config.rules);
        config.store = self.store.clone().unwrap_or(config.store);
        config.admin = self.admin.or(config.admin);
        config.log_format = self.log_format.unwrap_or(config.log_format);
        config.tls = TlsConfig::overlay(
            "tls",
            config.tls.take(),
            self.tls_cert.clone(),
            self.tls_key.clone(),
            self.tls_client_ca.clone(),
        )?;
        config.admin_tls = TlsConfig::overlay(
            "admin_tls",
            config.admin_tls.take(),
            self.admin_tls_cert.clone(),
            self.admin_tls_key.clone(),
            self.admin_tls_client_ca.clone(),
        )?;
        if let Some(token_file) = &self.admin_token_file {
            config.admin_token_file = Some(token_file.clone());
        }
        config.validate()?;
        Ok(config)
    }
}

pub fn serve(args: &ServeArgs) -> ExitCode {
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("durgate serve: {error:#}");
            return ExitCode::from(2);
        }
    };
    super::init_tracing(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("durgate serve: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::server::run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printed once, here: the server's own logs do not repeat a fatal error.
            eprintln!("durgate serve: {error}");
            ExitCode::FAILURE
        }
    }
}
