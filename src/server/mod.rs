//! The async shell: listeners, connections, the claim pipeline, admin HTTP, reload, shutdown.
//!
//! Tier 3. Composes the pure core (`ncpdp`, `rules`, `history`) with the durable `store` behind
//! real sockets. [`Gateway::start`] loads the rule tables (refusing to start on a broken folder),
//! loads the TLS certificates of the endpoints that use TLS (refusing to start on a broken file),
//! opens the store, rebuilds the history from it (unless the store is shared by several nodes:
//! the pipeline then reads the history from it per transmission), binds every listener and the
//! admin address, and starts the reload triggers (folder watch, SIGHUP for rule tables and
//! certificates). [`Gateway::shutdown`] stops accepting, lets in-flight claims finish within the
//! grace period, then flushes and closes the store.
//! `pipeline` is the one place that sequences parse → history → adjudicate → commit → encode.
//! Metrics are recorded here and nowhere else.
//!
//! Must never: answer paid/approved/duplicate before the record behind it is durably committed;
//! log a patient identifier; hold a global lock on the claim path.

pub mod admin;
pub mod allow;
pub mod connection;
pub mod echo;
pub mod listener;
pub mod log_limit;
pub mod metrics;
pub mod nofile;
pub mod pipeline;
pub mod proxy;
pub mod reload;
pub mod scope;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

use crate::claim::Date;
use crate::config::{ClaimListener, Config, TlsConfig};
use crate::history::{History, PaidClaim};
use crate::rules::{self, LiveRules, Reloaded, TableErrors};
use crate::store::{self, ClaimStore, StoreError};

use connection::ConnectionSettings;
use listener::{Listening, Transport};
use pipeline::Pipeline;
use tls::{Endpoint, LiveTls, TlsError};

/// How often gauges (queue depth, history size) are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);
/// How often fills older than the lookback are dropped from the history.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("rule tables in {dir} refused:\n{errors}")]
    Rules { dir: String, errors: TableErrors },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("rule reload trigger: {0}")]
    Reload(#[from] reload::WatchError),
    #[error("admin token file {path}: {problem}")]
    AdminToken { path: String, problem: String },
    #[error("TLS for {endpoint}: {source}")]
    Tls {
        endpoint: &'static str,
        source: Box<TlsError>,
    },
}

/// A running gateway.
pub struct Gateway {
    /// The bound claim listener addresses (port 0 in the config gets a real port here).
    pub claim_addrs: Vec<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: TaskTracker,
    background: Vec<tokio::task::JoinHandle<()>>,
    store: Arc<dyn ClaimStore>,
    history: Arc<History>,
    rules: Arc<LiveRules>,
    grace: Duration,
    _watch: reload::RuleWatch,
}

impl Gateway {
    /// Loads, opens, rebuilds and binds everything, then serves in the background.
    pub async fn start(config: &Config) -> Result<Gateway, ServerError> {
        let started = std::time::Instant::now();
        metrics::install();
        let rules = Arc::new(load_rules(config)?);
        let claim_tls = load_tls(Endpoint::Claims, config.tls.as_ref())?;
        let admin_tls = load_tls(Endpoint::Admin, config.admin_tls.as_ref())?;
        let store: Arc<dyn ClaimStore> = Arc::from(open_store(config.store.clone()).await?);
        store.observe_batches(Box::new(metrics::store_batch));
        let history = Arc::new(History::new());
        // A shared store is read per transmission: there is no node history to rebuild.
        if !store.shared_history() {
            let window_days = history_window_days(&rules.load());
            rebuild_history(store.clone(), history.clone(), window_days).await?;
        }
        let (stop, shutdown) = watch::channel(false);
        let tasks = TaskTracker::new();
        let pipeline = Pipeline::new(rules.clone(), history.clone(), store.clone())
            .with_eligibility_disclosure(config.eligibility_reveals_history)
            .with_eligibility_limit(config.limits.eligibility_per_pharmacy_per_minute);
        let pipeline = Arc::new(pipeline);
        let transport = claim_tls.clone().map_or(Transport::Plain, Transport::Tls);
        let claim_addrs = bind_claims(config, pipeline, transport, &shutdown, &tasks).await?;
        let admin = AdminState {
            rules: rules.clone(),
            store: store.clone(),
            dir: config.rules.clone(),
            started,
        };
        let admin_addr = bind_admin(config, admin, admin_tls.clone(), &shutdown, &tasks).await?;
        let watch = reload::watch_rule_folder(&config.rules, rules.clone())?;
        let mut background = vec![reload::spawn_sighup_reload(
            config.rules.clone(),
            rules.clone(),
        )?];
        let certificates: Vec<_> = [claim_tls, admin_tls].into_iter().flatten().collect();
        if !certificates.is_empty() {
            background.push(tls::spawn_sighup_reload(certificates)?);
        }
        background.push(tokio::spawn(refresh_gauges(
            store.clone(),
            history.clone(),
            rules.clone(),
        )));
        let grace = config.limits.shutdown_grace();
        let (claims_tls, admin_tls) = (config.tls.is_some(), config.admin_tls.is_some());
        tracing::info!(claims = ?claim_addrs, claims_tls, admin = ?admin_addr, admin_tls, ruleset = %rules.stamp(), "gateway serving");
        Ok(Gateway {
            claim_addrs,
            admin_addr,
            stop,
            tasks,
            background,
            store,
            history,
            rules,
            grace,
            _watch: watch,
        })
    }

    /// The history (for tests and tools in the same process).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The live rule tables.
    pub fn rules(&self) -> &LiveRules {
        &self.rules
    }

    /// Stops accepting, gives in-flight claims the grace period, then commits and closes the
    /// store. Every reply already owed is written before its connection closes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?self.grace, "connections still open after the grace period");
        }
        self.background
            .iter()
            .for_each(tokio::task::JoinHandle::abort);
        let _ = self.store.flush().await;
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.close()).await {
            Ok(Ok(())) => tracing::info!("claim store committed and closed"),
            Ok(Err(error)) => tracing::error!(%error, "claim store close failed"),
            Err(error) => tracing::error!(%error, "claim store close task failed"),
        }
    }
}

/// Serves until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(config: &Config) -> Result<(), ServerError> {
    // Signal handlers first: a SIGHUP or SIGTERM during start-up (a long history rebuild)
    // must neither kill the process nor be lost. Registering SIGHUP here replaces its
    // default action (terminate) for the life of the process; the reload watch listens later.
    use tokio::signal::unix::{signal, SignalKind};
    let _hangup_during_start = signal(SignalKind::hangup());
    let terminate = signal(SignalKind::terminate()).ok();
    let gateway = Gateway::start(config).await?;
    wait_for_stop_signal(terminate).await;
    tracing::info!("stop signal: finishing in-flight claims");
    gateway.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal(terminate: Option<tokio::signal::unix::Signal>) {
    let Some(mut terminate) = terminate else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn load_rules(config: &Config) -> Result<LiveRules, ServerError> {
    let refused = |errors| ServerError::Rules {
        dir: config.rules.display().to_string(),
        errors,
    };
    let source =
        reload::read_sealed_folder(&config.rules, config.rules_require_seal).map_err(refused)?;
    let live = LiveRules::from_source(source).map_err(refused)?;
    live.require_seal(config.rules_require_seal);
    let current = live.load();
    metrics::rules_live(current.id(), current.version());
    Ok(live)
}

fn load_tls(
    endpoint: Endpoint,
    files: Option<&TlsConfig>,
) -> Result<Option<Arc<LiveTls>>, ServerError> {
    let Some(files) = files else { return Ok(None) };
    let live = LiveTls::load(endpoint, files).map_err(|source| ServerError::Tls {
        endpoint: endpoint.as_str(),
        source: Box::new(source),
    })?;
    Ok(Some(Arc::new(live)))
}

async fn open_store(url: String) -> Result<Box<dyn ClaimStore>, ServerError> {
    let opened = tokio::task::spawn_blocking(move || store::open(&url)).await;
    opened
        .map_err(|error| StoreError::Commit(error.to_string()))?
        .map_err(ServerError::Store)
}

/// Refills the history with the store's paid claims inside the lookback window.
async fn rebuild_history(
    store: Arc<dyn ClaimStore>,
    history: Arc<History>,
    lookback_days: u32,
) -> Result<(), ServerError> {
    let since = today().add_days(-(lookback_days as i32));
    tracing::info!(lookback_days, "rebuilding the history from the claim store");
    let loaded = tokio::task::spawn_blocking(move || {
        let mut rows = 0u64;
        let result = store.load_history(since, &mut |row| {
            rows += 1;
            let claim = PaidClaim {
                fill: row.fill,
                claim_id: row.claim_id,
                reversed: row.reversed,
            };
            history.record_paid(&row.patient_key, claim);
        });
        result.map(|()| rows)
    })
    .await
    .map_err(|error| StoreError::Commit(error.to_string()))??;
    tracing::info!(claims = loaded, "history rebuilt from the claim store");
    Ok(())
}

async fn bind_claims(
    config: &Config,
    pipeline: Arc<Pipeline>,
    transport: Transport,
    shutdown: &watch::Receiver<bool>,
    tasks: &TaskTracker,
) -> Result<Vec<SocketAddr>, ServerError> {
    let settings = connection_settings(config);
    let connections_max = nofile::fit_connection_cap(config.limits.connections_max);
    let permits = Arc::new(Semaphore::new(connections_max));
    let claim_listeners = config.claim_listeners();
    let mut addrs = Vec::with_capacity(claim_listeners.len());
    for claim_listener in claim_listeners {
        let (listener, bound) = bind(claim_listener.addr).await?;
        addrs.push(bound);
        let settings = ConnectionSettings {
            framing: claim_listener.framing,
            ..settings.clone()
        };
        let accept = listener::accept_loop_over(
            listening(&claim_listener, &transport),
            listener,
            pipeline.clone(),
            Arc::new(settings),
            permits.clone(),
            shutdown.clone(),
            tasks.clone(),
        );
        tasks.spawn(accept);
    }
    Ok(addrs)
}

/// Binds `addr`; returns the listener and the address it got (a real port for port 0).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let refused = |source| ServerError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(refused)?;
    let bound = listener.local_addr().map_err(refused)?;
    Ok((listener, bound))
}

/// The options of one claim listener (TLS, when on, applies to every one).
fn listening(claim_listener: &ClaimListener, transport: &Transport) -> Listening {
    Listening {
        transport: transport.clone(),
        allow: Arc::new(allow::AllowList::new(claim_listener.allow.clone())),
        proxy_protocol: claim_listener.proxy_protocol,
    }
}

/// Connection settings from the validated configuration.
pub fn connection_settings(config: &Config) -> ConnectionSettings {
    ConnectionSettings {
        framing: config.framing,
        frame_bytes_max: config.limits.frame_bytes_max,
        garbage_bytes_max: config.limits.garbage_bytes_max,
        in_flight: config.limits.in_flight_per_connection,
        read_timeout: config.limits.read_timeout(),
        idle_timeout: config.limits.idle_timeout(),
        write_timeout: config.limits.write_timeout(),
        send_buffer_bytes: config.limits.send_buffer_bytes,
    }
}

async fn bind_admin(
    config: &Config,
    admin: AdminState,
    tls: Option<Arc<LiveTls>>,
    shutdown: &watch::Receiver<bool>,
    tasks: &TaskTracker,
) -> Result<Option<SocketAddr>, ServerError> {
    let Some(addr) = config.admin else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let settings = admin::AdminSettings {
        handshake_deadline: config.limits.read_timeout(),
        token: admin_token(config)?,
    };
    tasks.spawn(admin::serve_admin(
        listener,
        Arc::new(admin),
        tls,
        settings,
        shutdown.clone(),
        tasks.clone(),
    ));
    Ok(Some(bound))
}

/// The admin bearer token from `admin_token_file`, read once at start; an unreadable or empty
/// file refuses the start (a gateway meant to be guarded never runs open).
fn admin_token(config: &Config) -> Result<Option<Arc<admin::AdminToken>>, ServerError> {
    use std::io::Read;
    let Some(path) = &config.admin_token_file else {
        return Ok(None);
    };
    let refused = |problem: String| ServerError::AdminToken {
        path: path.display().to_string(),
        problem,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(crate::limits::ADMIN_TOKEN_BYTES_MAX)
                .read_to_string(&mut text)
        })
        .map_err(|error| refused(error.to_string()))?;
    let token = admin::AdminToken::new(&text).ok_or_else(|| refused("the file is empty".into()))?;
    Ok(Some(Arc::new(token)))
}

/// What the admin endpoints see of the gateway.
struct AdminState {
    rules: Arc<LiveRules>,
    store: Arc<dyn ClaimStore>,
    dir: std::path::PathBuf,
    /// When [`Gateway::start`] began (for the status's uptime).
    started: std::time::Instant,
}

impl admin::Admin for AdminState {
    fn ready(&self) -> Result<(), String> {
        self.store
            .check_writable()
            .map_err(|error| format!("claim store not writable: {error}"))
    }

    fn status(&self) -> admin::Status {
        admin::Status {
            version: crate::version::VERSION,
            commit: crate::version::COMMIT,
            rules: self.rules.stamp().to_string(),
            store: admin::StoreStatus {
                kind: self.store.kind().as_str(),
            },
            uptime_seconds: self.started.elapsed().as_secs(),
            ready: admin::Admin::ready(self).is_ok(),
        }
    }

    fn reload(&self) -> Result<String, String> {
        reload::reload_from(&self.dir, &self.rules)
            .map(|outcome| match outcome {
                Reloaded::Swapped { stamp, .. } => stamp.to_string(),
                Reloaded::Unchanged(stamp) => format!("{stamp} (unchanged)"),
            })
            .map_err(|errors| errors.to_string())
    }

    fn metrics(&self) -> String {
        metrics::render()
    }
}

async fn refresh_gauges(store: Arc<dyn ClaimStore>, history: Arc<History>, rules: Arc<LiveRules>) {
    let mut ticker = tokio::time::interval(GAUGE_INTERVAL);
    let mut last_prune = tokio::time::Instant::now();
    // Bounded by the gateway's life: aborted at shutdown.
    loop {
        ticker.tick().await;
        metrics::store_queue_depth(store.stats().queue_depth);
        let truncated = history.truncated_patients();
        metrics::history_size(history.patients(), history.fills_len(), truncated);
        if last_prune.elapsed() >= PRUNE_INTERVAL {
            history.prune(today().add_days(-(history_window_days(&rules.load()) as i32)));
            last_prune = tokio::time::Instant::now();
        }
    }
}

/// How far back the history keeps claims: the edits' lookback, or the filing window when that
/// is longer — a B2 or a duplicate of any claim still billable must find it after a restart
/// (edits ignore fills beyond the lookback whatever the history holds).
fn history_window_days(rules: &rules::RuleSet) -> u32 {
    let filing_window = crate::limits::CLAIM_AGE_DAYS_MAX as u32;
    rules
        .lookback_days()
        .max(filing_window)
        .min(crate::limits::HISTORY_LOOKBACK_DAYS_MAX)
}

/// Milliseconds since the epoch and today's date (UTC) from the system clock: the shell reads
/// the clock, the core is given it.
pub fn clock() -> (i64, Date) {
    let now_ms = crate::clock::unix_ms();
    let today = Date::from_days(i32::try_from(now_ms / 86_400_000).unwrap_or(i32::MAX));
    (now_ms, today)
}

/// Today's date (UTC).
pub fn today() -> Date {
    clock().1
}
