//! Admin HTTP: `/healthz`, `/readyz`, `GET /admin/status`, `POST /admin/reload`, `/metrics`.
//!
//! Tier 3, beside the claim listeners: ops tooling and load balancers talk to it, never a switch.
//! HTTP/1.1 via hyper. `/healthz` answers 200 while the process runs; `/readyz` 200 only while
//! rule tables are loaded and the store is writable (503 with the reason otherwise);
//! `GET /admin/status` is one JSON object: `version`, `commit`, `rules` (`id@version`), `store`
//! (`{"kind": "sqlite"|"postgres"}`, never a url, path or credential), `uptime_seconds`, `ready`;
//! `POST /admin/reload` re-reads the rule folder and answers 200 with the new `id@version`
//! (`id@version (unchanged)` when the folder holds the live tables' bytes: nothing swapped, no
//! reload counted) or 422 with the validation errors (the old tables stay live); `/metrics` is the Prometheus exposition.
//! With `[admin_tls]` each connection first completes a TLS handshake (`server::tls`, in its
//! own task, within the read deadline) and hyper serves the encrypted stream the same way.
//!
//! Guards: at most `ADMIN_CONNECTIONS_MAX` connections, headers within `ADMIN_HEADER_TIMEOUT`,
//! each request answered within `ADMIN_REQUEST_TIMEOUT`, an optional bearer token
//! (`admin_token_file`) on every endpoint but the two probes (a load balancer needs no secret),
//! and a shutdown that closes keep-alive connections instead of waiting them out. Reloads from
//! here go through `LiveRules::reload` like every trigger: one at a time, a second one waits for
//! the first and then reads the folder afresh.
//!
//! Must never: expose claim data, patient identifiers or store credentials, or block the runtime
//! (reload, readiness and status run on a blocking thread).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::tls::LiveTls;
use crate::limits::{ADMIN_CONNECTIONS_MAX, ADMIN_HEADER_TIMEOUT, ADMIN_REQUEST_TIMEOUT};

/// What the admin endpoints ask of the running gateway.
pub trait Admin: Send + Sync + 'static {
    /// `Err(reason)` when the gateway should not receive claims.
    fn ready(&self) -> Result<(), String>;
    /// What `GET /admin/status` shows (may wait for the store, like [`Admin::ready`]).
    fn status(&self) -> Status;
    /// Reloads the rule folder: the new `id@version`, or the validation errors.
    fn reload(&self) -> Result<String, String>;
    /// Prometheus text exposition.
    fn metrics(&self) -> String;
}

/// The body of `GET /admin/status`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Package version.
    pub version: &'static str,
    /// Git commit of the build (`crate::version::COMMIT`).
    pub commit: &'static str,
    /// `id@version` of the live rule tables.
    pub rules: String,
    pub store: StoreStatus,
    /// Whole seconds since the gateway started.
    pub uptime_seconds: u64,
    /// What `/readyz` would answer: rule tables loaded and the store writable.
    pub ready: bool,
}

/// The claim store as `GET /admin/status` shows it: the engine only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoreStatus {
    /// `sqlite` or `postgres`.
    pub kind: &'static str,
}

/// How the admin listener guards itself.
#[derive(Clone)]
pub struct AdminSettings {
    /// With TLS, the handshake must complete within this time.
    pub handshake_deadline: Duration,
    /// When set, every endpoint but `/healthz` and `/readyz` needs this bearer token.
    pub token: Option<Arc<AdminToken>>,
}

/// The admin bearer token (compared in constant time; never logged).
pub struct AdminToken(zeroize::Zeroizing<String>);

impl AdminToken {
    /// The token in `text` (surrounding white space ignored); `None` when empty.
    pub fn new(text: &str) -> Option<AdminToken> {
        let token = text.trim();
        (!token.is_empty()).then(|| AdminToken(zeroize::Zeroizing::new(token.to_owned())))
    }

    /// Whether an `Authorization` header value carries this token.
    fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(offered) = authorization.and_then(|value| value.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let expected = self.0.as_bytes();
        // Constant time in the token's content: every byte is compared.
        let differences = offered
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        offered.len() == expected.len() && differences == 0
    }
}

/// Serves the admin endpoints until shutdown: at most [`ADMIN_CONNECTIONS_MAX`] connections
/// (beyond it a new one is closed at once); with `tls`, each connection completes a handshake
/// within the deadline first.
pub async fn serve_admin<A: Admin>(
    listener: TcpListener,
    admin: Arc<A>,
    tls: Option<Arc<LiveTls>>,
    settings: AdminSettings,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    let places = Arc::new(Semaphore::new(ADMIN_CONNECTIONS_MAX));
    let admin_loop = super::listener::Accounting::Admin;
    while let Some(admitted) =
        super::listener::next_admitted(&listener, &places, &mut shutdown, admin_loop).await
    {
        let super::listener::Admitted {
            stream,
            peer,
            place,
        } = admitted;
        let (admin, tls, shutdown) = (admin.clone(), tls.clone(), shutdown.clone());
        let settings = settings.clone();
        let span = tracing::info_span!("admin_connection", %peer);
        let connection = async move {
            let _place = place;
            let Some(tls) = tls else {
                return serve_http(stream, admin, settings.token, shutdown).await;
            };
            let mut handshake_shutdown = shutdown.clone();
            let deadline = settings.handshake_deadline;
            // A failure is counted and logged by `accept`.
            if let Ok(secured) = tls.accept(stream, deadline, &mut handshake_shutdown).await {
                serve_http(secured, admin, settings.token, shutdown).await;
            }
        };
        tasks.spawn(connection.instrument(span));
    }
}

/// HTTP/1.1 on one connection (plain TCP or TLS), each request answered by [`guarded`] as
/// [`serve_requests`] bounds it.
async fn serve_http<S, A>(
    stream: S,
    admin: Arc<A>,
    token: Option<Arc<AdminToken>>,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: Admin,
{
    let answer = move |request| guarded(request, admin.clone(), token.clone());
    serve_requests(stream, answer, shutdown).await;
}

/// Serves `answer` on one connection: headers within [`ADMIN_HEADER_TIMEOUT`] (an idle
/// keep-alive connection is closed after it too), each request answered within
/// [`ADMIN_REQUEST_TIMEOUT`] (else 503); on shutdown the connection finishes the request it is
/// answering and closes, keep-alive or not.
async fn serve_requests<S, F, R>(stream: S, answer: F, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> R + Send + 'static,
    R: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = service_fn(move |request| {
        let answered = answer(request);
        async move {
            let late = text_response((
                StatusCode::SERVICE_UNAVAILABLE,
                "request timed out\n".to_string(),
            ));
            Ok::<_, Infallible>(
                tokio::time::timeout(ADMIN_REQUEST_TIMEOUT, answered)
                    .await
                    .unwrap_or(late),
            )
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ADMIN_HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(ADMIN_REQUEST_TIMEOUT, connection).await;
}

/// Answers `request`, after the bearer-token check for every endpoint but the probes.
async fn guarded<A: Admin>(
    request: Request<Incoming>,
    admin: Arc<A>,
    token: Option<Arc<AdminToken>>,
) -> Response<Full<Bytes>> {
    let probe = matches!(request.uri().path(), "/healthz" | "/readyz");
    let authorization = request.headers().get(hyper::header::AUTHORIZATION);
    let admitted = token.is_none_or(|token| token.admits(authorization.map(|v| v.as_bytes())));
    if probe || admitted {
        return answer(request, admin).await;
    }
    let mut refused = text_response((StatusCode::UNAUTHORIZED, "unauthorized\n".to_string()));
    let challenge = hyper::header::HeaderValue::from_static("Bearer");
    refused
        .headers_mut()
        .insert(hyper::header::WWW_AUTHENTICATE, challenge);
    refused
}

async fn answer<A: Admin>(request: Request<Incoming>, admin: Arc<A>) -> Response<Full<Bytes>> {
    let reply = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => (StatusCode::OK, "ok\n".to_string()),
        (&Method::GET, "/readyz") => readiness(admin).await,
        (&Method::GET, "/admin/status") => return status(admin).await,
        (&Method::POST, "/admin/reload") => reload(admin).await,
        (&Method::GET, "/metrics") => (StatusCode::OK, admin.metrics()),
        (_, "/healthz" | "/readyz" | "/admin/status" | "/admin/reload" | "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".to_string(),
        ),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    text_response(reply)
}

/// The store check may wait for a lock (up to the store's busy timeout): a blocking thread.
async fn readiness<A: Admin>(admin: Arc<A>) -> (StatusCode, String) {
    let checked = tokio::task::spawn_blocking(move || admin.ready()).await;
    super::metrics::readiness(matches!(checked, Ok(Ok(()))));
    match checked {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: readiness check failed\n".to_string(),
        ),
    }
}

/// The status reads the store's readiness too: a blocking thread.
async fn status<A: Admin>(admin: Arc<A>) -> Response<Full<Bytes>> {
    let status = tokio::task::spawn_blocking(move || admin.status()).await;
    let body = status
        .map_err(|error| error.to_string())
        .and_then(|status| serde_json::to_string(&status).map_err(|error| error.to_string()));
    match body {
        Ok(json) => with_type(StatusCode::OK, json + "\n", "application/json"),
        Err(_) => text_response((
            StatusCode::INTERNAL_SERVER_ERROR,
            "status task failed\n".to_string(),
        )),
    }
}

async fn reload<A: Admin>(admin: Arc<A>) -> (StatusCode, String) {
    match tokio::task::spawn_blocking(move || admin.reload()).await {
        Ok(Ok(stamp)) => (StatusCode::OK, format!("{stamp}\n")),
        Ok(Err(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{errors}\n")),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "reload task failed\n".to_string(),
        ),
    }
}

fn text_response((status, body): (StatusCode, String)) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; version=0.0.4; charset=utf-8")
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let content_type = hyper::header::HeaderValue::from_static(content_type);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, content_type);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One request over an in-memory connection served by `answer`: the raw reply, or `None`
    /// when none came within `within` (tokio time: paused in these tests).
    async fn exchange<F, R>(answer: F, within: Duration) -> Option<String>
    where
        F: Fn(Request<Incoming>) -> R + Send + 'static,
        R: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let (mut client, server) = tokio::io::duplex(4096);
        let (_stop, shutdown) = watch::channel(false);
        tokio::spawn(serve_requests(server, answer, shutdown));
        let request = b"GET /admin/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        client.write_all(request).await.ok()?;
        let mut reply = Vec::new();
        let read = tokio::time::timeout(within, client.read_to_end(&mut reply)).await;
        read.ok()?.ok()?;
        Some(String::from_utf8_lossy(&reply).into_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_not_answered_within_the_request_deadline_gets_503_at_it() {
        let asked = tokio::time::Instant::now();
        let never = |_| std::future::pending::<Response<Full<Bytes>>>();
        let reply = exchange(never, ADMIN_REQUEST_TIMEOUT * 2).await;
        let reply = reply.expect("an answer before twice the deadline");
        assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
        assert!(reply.ends_with("\r\n\r\nrequest timed out\n"), "{reply}");
        let waited = asked.elapsed();
        let at_the_deadline = ADMIN_REQUEST_TIMEOUT..ADMIN_REQUEST_TIMEOUT + Duration::from_secs(1);
        assert!(
            at_the_deadline.contains(&waited),
            "answered after {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_answered_in_time_is_not_cut_off() {
        let asked = tokio::time::Instant::now();
        let slow = |_| async {
            tokio::time::sleep(ADMIN_REQUEST_TIMEOUT - Duration::from_millis(1)).await;
            text_response((StatusCode::OK, "slow but in time\n".to_string()))
        };
        let reply = exchange(slow, ADMIN_REQUEST_TIMEOUT * 2).await;
        let reply = reply.expect("an answer");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("slow but in time\n"), "{reply}");
        assert!(asked.elapsed() < ADMIN_REQUEST_TIMEOUT);
    }
}
