//! Gateway configuration: `config/durgate.toml` → validated [`Config`].
//!
//! Tier 1. The CLI reads the file (or uses [`Config::default`], which equals the shipped file) and
//! lays its flags over it; `server` receives the result. Unknown keys are refused
//! (`deny_unknown_fields`), every bound is checked against `limits` (configuration may lower a
//! bound, never raise it).
//!
//! What reloads live: the rule-table folder's *contents* (file watch, SIGHUP, admin reload) and
//! the *contents* of the TLS certificate, key and client-CA files (SIGHUP). Everything else in
//! this file takes effect at start-up only.
//!
//! Must never: read files or the environment itself (the caller passes the text), hold state.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::limits;

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Syntax(#[from] toml::de::Error),
    #[error("{key} = {value}: {problem}")]
    Bound {
        key: &'static str,
        value: u64,
        problem: String,
    },
    #[error("listen: {0}")]
    Listen(String),
    #[error("listener {addr}: {problem}")]
    Listener {
        addr: SocketAddr,
        problem: &'static str,
    },
    #[error("{table}: {problem}")]
    Tls {
        table: &'static str,
        problem: &'static str,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Claim listeners (`--listen`, repeatable) with the default options: top-level `framing`,
    /// no allow-list, no PROXY protocol.
    pub listen: Vec<SocketAddr>,
    /// Framing of the `listen` addresses, and of a `[[listener]]` that does not set its own.
    pub framing: Framing,
    /// Claim listeners with options of their own (`[[listener]]`), beside `listen`.
    #[serde(rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// Rule-table folder.
    pub rules: PathBuf,
    /// The rule folder must carry a seal (`SHA256SUMS`, written by `durgate rules seal`) that
    /// matches its files, at start and at every reload.
    pub rules_require_seal: bool,
    /// Claim store URL: `sqlite:PATH` or `postgres://...`.
    pub store: String,
    /// Admin HTTP address (health, readiness, status, reload, metrics); absent = no admin listener.
    pub admin: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// E1 replies say whether the patient is in the DUR history. Off by default: known and
    /// unknown patients get the same reply, so E1 is no membership or date-of-birth oracle.
    pub eligibility_reveals_history: bool,
    /// TLS on every claim listener (`[tls]`); absent = plain TCP.
    pub tls: Option<TlsConfig>,
    /// TLS on the admin address (`[admin_tls]`); absent = plain HTTP.
    pub admin_tls: Option<TlsConfig>,
    /// A file holding the admin bearer token; when set, every admin endpoint but `/healthz`
    /// and `/readyz` needs `Authorization: Bearer <token>`.
    pub admin_token_file: Option<PathBuf>,
    /// Bounds, each at most the value in `limits`.
    pub limits: LimitsConfig,
}

/// One `[[listener]]` table: a claim listener with its own framing, allow-list and PROXY
/// protocol (`server::listener` applies them).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub addr: SocketAddr,
    /// Absent = the top-level `framing`.
    pub framing: Option<Framing>,
    /// Client addresses that may connect (IP addresses or CIDR blocks); empty = everyone. On a
    /// `proxy_protocol` listener it is checked against the client address of the PROXY header.
    #[serde(default, deserialize_with = "allow_entries")]
    pub allow: Vec<ipnet::IpNet>,
    /// Every connection starts with a PROXY protocol v2 header (from a load balancer).
    #[serde(default)]
    pub proxy_protocol: bool,
}

/// One claim listener with every option resolved ([`Config::claim_listeners`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimListener {
    pub addr: SocketAddr,
    pub framing: Framing,
    pub allow: Vec<ipnet::IpNet>,
    pub proxy_protocol: bool,
}

/// `allow = ["10.1.2.3", "192.168.0.0/16", "2001:db8::/32"]`: a bare address is a /32 (/128).
fn allow_entries<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts.iter().map(|text| allow_entry(text)).collect()
}

fn allow_entry<E: serde::de::Error>(text: &str) -> Result<ipnet::IpNet, E> {
    let parsed = text
        .parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from));
    match parsed {
        Ok(net) => Ok(net.trunc()),
        Err(_) => Err(E::custom(format!(
            "allow entry {text:?} is neither an IP address nor a CIDR block"
        ))),
    }
}

/// The PEM files of one TLS endpoint (`server::tls` reads them at start-up and on SIGHUP).
///
/// One table applies to *every* claim listener: a gateway either speaks TLS to all its switches
/// or to none, so a plaintext claim port cannot be left open beside a TLS one by mistake.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The gateway's certificate chain: its own certificate first, then intermediates.
    pub cert: PathBuf,
    /// The private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates a client certificate must chain to. Present = mutual TLS: a client
    /// without a certificate from one of these CAs is refused during the handshake.
    pub client_ca: Option<PathBuf>,
    /// What each client certificate may submit for, keyed by a DNS name in its subject
    /// alternative names or by its subject common name (`[tls.scopes."switch-a.example"]`).
    /// Empty = every certificate from `client_ca` may submit for any BIN and pharmacy; not empty
    /// = a certificate named by no entry may submit nothing. Needs `client_ca`.
    #[serde(default)]
    pub scopes: BTreeMap<String, ClientScope>,
}

/// The BINs and pharmacies one client certificate may submit for (`server::scope` enforces it).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientScope {
    /// 101-A1 BINs; absent = any BIN.
    pub bins: Option<Vec<String>>,
    /// 201-B1 service provider (pharmacy) ids; absent = any pharmacy.
    pub pharmacies: Option<Vec<String>>,
}

impl ClientScope {
    fn ids_within_bound(&self) -> bool {
        [&self.bins, &self.pharmacies]
            .into_iter()
            .flatten()
            .all(|ids| ids.len() <= limits::TLS_SCOPE_IDS_MAX)
    }
}

impl TlsConfig {
    /// Lays command-line paths over a table from the file (`table` names it in errors): a flag
    /// replaces the file's value; without a table, both `cert` and `key` must come as flags.
    pub fn overlay(
        table: &'static str,
        base: Option<TlsConfig>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
    ) -> Result<Option<TlsConfig>, ConfigError> {
        let incomplete = |problem| ConfigError::Tls { table, problem };
        let Some(base) = base else {
            return match (cert, key) {
                (Some(cert), Some(key)) => Ok(Some(TlsConfig {
                    cert,
                    key,
                    client_ca,
                    scopes: BTreeMap::new(),
                })),
                (None, None) if client_ca.is_none() => Ok(None),
                _ => Err(incomplete("a certificate and its key are both needed")),
            };
        };
        Ok(Some(TlsConfig {
            cert: cert.unwrap_or(base.cert),
            key: key.unwrap_or(base.key),
            client_ca: client_ca.or(base.client_ca),
            scopes: base.scopes,
        }))
    }
}

/// Client scopes belong to the claim listeners, need mutual TLS, and stay within their bounds.
fn validate_scopes(
    tls: Option<&TlsConfig>,
    admin_tls: Option<&TlsConfig>,
) -> Result<(), ConfigError> {
    let refuse = |table, problem| Err(ConfigError::Tls { table, problem });
    if admin_tls.is_some_and(|admin| !admin.scopes.is_empty()) {
        return refuse("admin_tls", "scopes apply to claim listeners only");
    }
    let Some(tls) = tls.filter(|tls| !tls.scopes.is_empty()) else {
        return Ok(());
    };
    if tls.client_ca.is_none() {
        return refuse("tls", "scopes need client_ca (mutual TLS)");
    }
    if tls.scopes.len() > limits::TLS_CLIENT_SCOPES_MAX {
        return refuse("tls", "more scopes than TLS_CLIENT_SCOPES_MAX");
    }
    if !tls.scopes.values().all(ClientScope::ids_within_bound) {
        return refuse("tls", "a scope lists more ids than TLS_SCOPE_IDS_MAX");
    }
    Ok(())
}

/// The configurable bounds (milliseconds for durations).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub frame_bytes_max: usize,
    pub garbage_bytes_max: usize,
    pub connections_max: usize,
    pub in_flight_per_connection: usize,
    pub read_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub write_timeout_ms: u64,
    /// `SO_SNDBUF` asked for each claim connection (bounds the replies buffered for a client).
    pub send_buffer_bytes: usize,
    pub shutdown_grace_ms: u64,
    /// E1 checks one pharmacy may send per clock minute (more are answered R 85).
    pub eligibility_per_pharmacy_per_minute: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 7070))],
            framing: Framing::StxEtx,
            listeners: Vec::new(),
            rules: PathBuf::from("config/rules/sample"),
            rules_require_seal: true,
            store: "sqlite:durgate.db".to_string(),
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 7071))),
            log_format: LogFormat::Text,
            eligibility_reveals_history: false,
            tls: None,
            admin_tls: None,
            admin_token_file: None,
            limits: LimitsConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            frame_bytes_max: limits::FRAME_BYTES_MAX,
            garbage_bytes_max: DEFAULT_GARBAGE_BYTES_MAX,
            connections_max: limits::CONNECTIONS_MAX,
            in_flight_per_connection: limits::IN_FLIGHT_PER_CONNECTION_MAX,
            read_timeout_ms: limits::READ_TIMEOUT.as_millis() as u64,
            idle_timeout_ms: limits::IDLE_TIMEOUT.as_millis() as u64,
            write_timeout_ms: limits::WRITE_TIMEOUT.as_millis() as u64,
            send_buffer_bytes: limits::SEND_BUFFER_BYTES,
            shutdown_grace_ms: limits::SHUTDOWN_GRACE.as_millis() as u64,
            eligibility_per_pharmacy_per_minute: DEFAULT_ELIGIBILITY_PER_PHARMACY_PER_MINUTE,
        }
    }
}

/// E1 checks per pharmacy per minute by default: far above a counter's needs, far below a sweep.
pub const DEFAULT_ELIGIBILITY_PER_PHARMACY_PER_MINUTE: u32 = 60;

/// Stray bytes between frames (a terminal's CR/LF, keep-alive noise) tolerated in a row before
/// the connection is closed. The contract closes on bytes outside a frame; a few line-noise bytes
/// are skipped and counted instead, which is what switch links in the field need.
pub const DEFAULT_GARBAGE_BYTES_MAX: usize = 256;

impl Config {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text)?;
        // A file that lists `[[listener]]` tables and no `listen` key opens only those: the
        // default `listen` address is not added behind the operator's back.
        if !config.listeners.is_empty() && !text.parse::<toml::Table>()?.contains_key("listen") {
            config.listen.clear();
        }
        config.validate()?;
        Ok(config)
    }

    /// Every claim listener: the `listen` addresses with the defaults, then `[[listener]]`.
    pub fn claim_listeners(&self) -> Vec<ClaimListener> {
        let plain = self.listen.iter().map(|addr| ClaimListener {
            addr: *addr,
            framing: self.framing,
            allow: Vec::new(),
            proxy_protocol: false,
        });
        let tabled = self.listeners.iter().map(|listener| ClaimListener {
            addr: listener.addr,
            framing: listener.framing.unwrap_or(self.framing),
            allow: listener.allow.clone(),
            proxy_protocol: listener.proxy_protocol,
        });
        plain.chain(tabled).collect()
    }

    /// At most `LISTENERS_MAX` listeners in all, no address twice (port 0 asks for a fresh
    /// port each time, so it may repeat), allow-lists within their bound.
    fn validate_listeners(&self) -> Result<(), ConfigError> {
        let count = self.listen.len() + self.listeners.len();
        if count == 0 || count > limits::LISTENERS_MAX {
            return Err(ConfigError::Listen(format!(
                "{count} listeners (1..={})",
                limits::LISTENERS_MAX
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        let addrs = self
            .listen
            .iter()
            .chain(self.listeners.iter().map(|l| &l.addr));
        if let Some(twice) = addrs
            .filter(|addr| addr.port() != 0)
            .find(|addr| !seen.insert(*addr))
        {
            return Err(ConfigError::Listen(format!("{twice} is given twice")));
        }
        match self
            .listeners
            .iter()
            .find(|listener| listener.allow.len() > limits::LISTENER_ALLOW_ENTRIES_MAX)
        {
            Some(listener) => Err(ConfigError::Listener {
                addr: listener.addr,
                problem: "more allow entries than LISTENER_ALLOW_ENTRIES_MAX",
            }),
            None => Ok(()),
        }
    }

    /// Checks every bound, the listener list, and that `[admin_tls]` has an admin address.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.admin_tls.is_some() && self.admin.is_none() {
            return Err(ConfigError::Tls {
                table: "admin_tls",
                problem: "set without an admin address",
            });
        }
        validate_scopes(self.tls.as_ref(), self.admin_tls.as_ref())?;
        self.validate_listeners()?;
        self.limits.validate()
    }
}

fn bound(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::Bound {
        key,
        value,
        problem: format!("must be within {min}..={max}"),
    })
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let ms = |duration: Duration| duration.as_millis() as u64;
        bound(
            "frame_bytes_max",
            self.frame_bytes_max as u64,
            limits::FRAME_BYTES_MIN as u64,
            limits::FRAME_BYTES_MAX as u64,
        )?;
        bound(
            "garbage_bytes_max",
            self.garbage_bytes_max as u64,
            0,
            limits::FRAME_GARBAGE_BYTES_MAX as u64,
        )?;
        bound(
            "connections_max",
            self.connections_max as u64,
            1,
            limits::CONNECTIONS_MAX as u64,
        )?;
        bound(
            "in_flight_per_connection",
            self.in_flight_per_connection as u64,
            1,
            limits::IN_FLIGHT_PER_CONNECTION_MAX as u64,
        )?;
        bound(
            "read_timeout_ms",
            self.read_timeout_ms,
            1,
            ms(limits::READ_TIMEOUT),
        )?;
        bound(
            "idle_timeout_ms",
            self.idle_timeout_ms,
            1,
            ms(limits::IDLE_TIMEOUT),
        )?;
        bound(
            "write_timeout_ms",
            self.write_timeout_ms,
            1,
            ms(limits::WRITE_TIMEOUT),
        )?;
        bound(
            "send_buffer_bytes",
            self.send_buffer_bytes as u64,
            limits::SEND_BUFFER_BYTES_MIN as u64,
            limits::SEND_BUFFER_BYTES as u64,
        )?;
        bound(
            "shutdown_grace_ms",
            self.shutdown_grace_ms,
            0,
            ms(limits::SHUTDOWN_GRACE),
        )?;
        bound(
            "eligibility_per_pharmacy_per_minute",
            u64::from(self.eligibility_per_pharmacy_per_minute),
            1,
            u64::from(limits::ELIGIBILITY_PER_PHARMACY_PER_MINUTE_MAX),
        )
    }

    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// How transmissions are delimited on a listener (the `wire` codec implements each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    #[default]
    #[serde(rename = "stx")]
    StxEtx,
    Len4,
}

impl std::str::FromStr for Framing {
    type Err = String;
    fn from_str(text: &str) -> Result<Framing, String> {
        match text {
            "stx" => Ok(Framing::StxEtx),
            "len4" => Ok(Framing::Len4),
            other => Err(format!("unknown framing {other:?} (expected stx or len4)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_equals_the_defaults() {
        let shipped = include_str!("../config/durgate.toml");
        assert_eq!(Config::from_toml(shipped).unwrap(), Config::default());
    }

    #[test]
    fn the_admin_token_file_is_read_from_the_file() {
        let config = Config::from_toml("admin_token_file = \"/etc/durgate/admin.token\"\n");
        let path = config.unwrap().admin_token_file;
        assert_eq!(path, Some(PathBuf::from("/etc/durgate/admin.token")));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error =
            Config::from_toml("listen = [\"127.0.0.1:1\"]\nlisten_backlog = 5\n").unwrap_err();
        assert!(error.to_string().contains("listen_backlog"), "{error}");
    }

    #[test]
    fn a_bound_above_the_limit_is_refused() {
        let error = Config::from_toml("[limits]\nframe_bytes_max = 1000000\n").unwrap_err();
        assert!(
            error.to_string().starts_with("frame_bytes_max = 1000000"),
            "{error}"
        );
    }

    #[test]
    fn tls_tables_are_read_and_unknown_tls_keys_refused() {
        let text = "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\nclient_ca = \"ca.crt\"\n\
                    [admin_tls]\ncert = \"b.crt\"\nkey = \"b.key\"\n";
        let config = Config::from_toml(text).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.client_ca, Some(PathBuf::from("ca.crt")));
        assert_eq!(config.admin_tls.unwrap().client_ca, None);
        let error = Config::from_toml("[tls]\ncert = \"a\"\nkey = \"b\"\nciphers = 1\n");
        assert!(error.unwrap_err().to_string().contains("ciphers"));
    }

    #[test]
    fn client_scopes_are_read_and_need_mutual_tls_on_the_claim_listeners() {
        let mutual = "listen = [\"127.0.0.1:7070\"]\nadmin = \"127.0.0.1:9090\"\n\
                      [tls]\ncert = \"a\"\nkey = \"b\"\nclient_ca = \"ca\"\n";
        let scoped = format!(
            "{mutual}[tls.scopes.\"switch-a.example\"]\nbins = [\"610014\"]\n\
             [tls.scopes.\"switch-b\"]\npharmacies = [\"1234567890\", \"2345678901\"]\n"
        );
        let scopes = Config::from_toml(&scoped).unwrap().tls.unwrap().scopes;
        assert_eq!(scopes["switch-a.example"].bins, Some(vec!["610014".into()]));
        assert_eq!(scopes["switch-a.example"].pharmacies, None);
        assert_eq!(
            scopes["switch-b"].pharmacies.as_ref().map(Vec::len),
            Some(2)
        );
        let without_ca = scoped.replace("client_ca = \"ca\"\n", "");
        let error = Config::from_toml(&without_ca).unwrap_err().to_string();
        assert_eq!(error, "tls: scopes need client_ca (mutual TLS)");
        let admin = format!(
            "{mutual}[admin_tls]\ncert = \"a\"\nkey = \"b\"\n[admin_tls.scopes.ops]\nbins = []\n"
        );
        let error = Config::from_toml(&admin).unwrap_err().to_string();
        assert_eq!(error, "admin_tls: scopes apply to claim listeners only");
        let typo = format!("{mutual}[tls.scopes.x]\nbin = [\"1\"]\n");
        assert!(Config::from_toml(&typo)
            .unwrap_err()
            .to_string()
            .contains("bin"));
    }

    #[test]
    fn the_commented_tls_example_parses_once_uncommented() {
        let example_keys = [
            "# [tls]",
            "# [admin_tls]",
            "# cert =",
            "# key =",
            "# client_ca =",
            "# [tls.scopes.",
            "# bins =",
            "# pharmacies =",
        ];
        let uncommented = shipped_uncommented(&example_keys);
        let config = Config::from_toml(&uncommented).unwrap();
        let (tls, admin_tls) = (config.tls.unwrap(), config.admin_tls.unwrap());
        assert!(tls.client_ca.is_some() && admin_tls.client_ca.is_some());
        assert_eq!(tls.scopes.len(), 2);
        assert_ne!(tls.cert, admin_tls.cert);
    }

    /// The shipped file with the lines starting with one of `keys` uncommented.
    fn shipped_uncommented(keys: &[&str]) -> String {
        include_str!("../config/durgate.toml")
            .lines()
            .map(|line| match keys.iter().any(|key| line.starts_with(key)) {
                true => line.trim_start_matches("# "),
                false => line,
            })
            .flat_map(|line| [line, "\n"])
            .collect()
    }

    #[test]
    fn the_commented_listener_example_parses_once_uncommented() {
        let keys = [
            "# [[listener]]",
            "# addr =",
            "# framing =",
            "# allow =",
            "# proxy_",
        ];
        let config = Config::from_toml(&shipped_uncommented(&keys)).unwrap();
        let listeners = config.claim_listeners();
        assert_eq!(listeners.len(), 3);
        assert_eq!(listeners[0], Config::default().claim_listeners()[0]);
        assert_eq!(
            (listeners[1].framing, listeners[1].allow.len()),
            (Framing::Len4, 3)
        );
        assert!(listeners[2].proxy_protocol && listeners[2].framing == Framing::StxEtx);
    }

    #[test]
    fn listener_tables_take_the_top_level_framing_unless_they_set_their_own() {
        let text = "framing = \"len4\"\n[[listener]]\naddr = \"127.0.0.1:7080\"\n\
                    [[listener]]\naddr = \"127.0.0.1:7081\"\nframing = \"stx\"\n\
                    allow = [\"10.0.0.1\", \"10.1.0.0/16\", \"::1\"]\n";
        let listeners = Config::from_toml(text).unwrap().claim_listeners();
        // No `listen` key beside the tables: the default 127.0.0.1:7070 is not opened.
        let addrs: Vec<u16> = listeners.iter().map(|l| l.addr.port()).collect();
        assert_eq!(addrs, [7080, 7081]);
        assert_eq!(listeners[0].framing, Framing::Len4);
        assert!(listeners[0].allow.is_empty() && !listeners[0].proxy_protocol);
        assert_eq!(listeners[1].framing, Framing::StxEtx);
        let allow: Vec<String> = listeners[1].allow.iter().map(|n| n.to_string()).collect();
        assert_eq!(allow, ["10.0.0.1/32", "10.1.0.0/16", "::1/128"]);
        let beside = format!("listen = [\"127.0.0.1:7070\"]\n{text}");
        assert_eq!(
            Config::from_toml(&beside).unwrap().claim_listeners().len(),
            3
        );
    }

    #[test]
    fn a_bad_allow_entry_is_refused_with_its_text() {
        for bad in ["10.0.0.0/33", "10.0.0", "example.net", "10.0.0.0/8/8"] {
            let text = format!("[[listener]]\naddr = \"127.0.0.1:1\"\nallow = [\"{bad}\"]\n");
            let error = Config::from_toml(&text).unwrap_err().to_string();
            assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
        }
        let typo = "[[listener]]\naddr = \"127.0.0.1:1\"\nproxy = true\n";
        assert!(Config::from_toml(typo)
            .unwrap_err()
            .to_string()
            .contains("proxy"));
        let no_addr = "[[listener]]\nframing = \"len4\"\n";
        assert!(Config::from_toml(no_addr)
            .unwrap_err()
            .to_string()
            .contains("addr"));
    }

    #[test]
    fn an_address_given_twice_or_too_many_listeners_are_refused() {
        let twice = "listen = [\"127.0.0.1:7070\"]\n[[listener]]\naddr = \"127.0.0.1:7070\"\n";
        let error = Config::from_toml(twice).unwrap_err().to_string();
        assert_eq!(error, "listen: 127.0.0.1:7070 is given twice");
        let ephemeral = "listen = [\"127.0.0.1:0\"]\n[[listener]]\naddr = \"127.0.0.1:0\"\n";
        assert!(Config::from_toml(ephemeral).is_ok());
        let tables: String = (0..limits::LISTENERS_MAX)
            .map(|port| format!("[[listener]]\naddr = \"127.0.0.1:{}\"\n", 8000 + port))
            .collect();
        assert!(Config::from_toml(&tables).is_ok());
        let over = format!("listen = [\"127.0.0.1:7070\"]\n{tables}");
        let error = Config::from_toml(&over).unwrap_err().to_string();
        assert_eq!(
            error,
            format!("listen: 17 listeners (1..={})", limits::LISTENERS_MAX)
        );
        let many: Vec<String> = (0..=limits::LISTENER_ALLOW_ENTRIES_MAX)
            .map(|n| format!("\"10.0.{}.{}\"", n / 256, n % 256))
            .collect();
        let text = format!(
            "[[listener]]\naddr = \"127.0.0.1:1\"\nallow = [{}]\n",
            many.join(",")
        );
        let error = Config::from_toml(&text).unwrap_err().to_string();
        assert!(error.contains("LISTENER_ALLOW_ENTRIES_MAX"), "{error}");
    }

    #[test]
    fn a_tls_table_without_a_key_is_refused() {
        let error = Config::from_toml("[tls]\ncert = \"a.crt\"\n").unwrap_err();
        assert!(error.to_string().contains("key"), "{error}");
    }

    #[test]
    fn admin_tls_without_an_admin_address_is_refused() {
        let config = Config {
            admin: None,
            admin_tls: Some(TlsConfig {
                cert: "a".into(),
                key: "b".into(),
                client_ca: None,
                scopes: BTreeMap::new(),
            }),
            ..Config::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "admin_tls: set without an admin address"
        );
    }

    #[test]
    fn tls_flags_replace_the_file_and_need_both_cert_and_key_alone() {
        let path = |text: &str| Some(PathBuf::from(text));
        let base = TlsConfig {
            cert: "file.crt".into(),
            key: "file.key".into(),
            client_ca: path("file-ca.crt"),
            scopes: BTreeMap::new(),
        };
        let laid = TlsConfig::overlay("tls", Some(base), path("flag.crt"), None, None).unwrap();
        assert_eq!(
            laid,
            Some(TlsConfig {
                cert: "flag.crt".into(),
                key: "file.key".into(),
                client_ca: path("file-ca.crt"),
                scopes: BTreeMap::new(),
            })
        );
        assert_eq!(
            TlsConfig::overlay("tls", None, None, None, None).unwrap(),
            None
        );
        let half = TlsConfig::overlay("tls", None, path("flag.crt"), None, None);
        assert_eq!(
            half.unwrap_err().to_string(),
            "tls: a certificate and its key are both needed"
        );
        let ca_only = TlsConfig::overlay("tls", None, None, None, path("ca.crt"));
        assert!(ca_only.is_err());
    }

    #[test]
    fn framing_and_lowered_bounds_are_read() {
        let config =
            Config::from_toml("framing = \"len4\"\n[limits]\nframe_bytes_max = 1024\n").unwrap();
        assert_eq!(
            (config.framing, config.limits.frame_bytes_max),
            (Framing::Len4, 1024)
        );
    }
}
