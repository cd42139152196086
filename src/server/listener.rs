//! Accept loop of one claim listener: connection limit, refusal beyond it, one task per
//! connection, stop on shutdown.
//!
//! Tier 3. `server` starts one loop per claim listener (`listen` and `[[listener]]`), each with
//! its [`Listening`] options. A peer outside the listener's allow-list (`server::allow`) is
//! closed right after accept, before it holds a place. Each admitted socket goes to its own
//! task inside a tracing span: on a `proxy_protocol` listener the task first reads the PROXY v2
//! header (`server::proxy`, under the read deadline) and checks the allow-list against the
//! client it names; on a TLS listener it then runs the handshake (`server::tls`, under the read
//! deadline); then `connection::serve_connection` serves the plain or encrypted stream. Beyond
//! `connections_max` open connections a new socket is accepted and closed at once (a refusal
//! the client sees immediately, rather than a growing backlog). An accept that fails for want
//! of descriptors or memory backs off for `ACCEPT_ERROR_BACKOFF` instead of spinning; the cap
//! itself is fitted below the process `nofile` limit at start (`server::nofile`).
//!
//! Must never: read from a socket, read a PROXY header or handshake in the accept loop itself (a
//! slow or plaintext client must not stall accepts; the connection task does it), or keep
//! running after shutdown is signalled.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::allow::{self, AllowList};
use super::connection::{serve_connection, Closed, ConnectionSettings, Handler, Scoped, Shared};
use super::log_limit::LogLimit;
use super::metrics;
use super::proxy::{self, ProxyError};
use super::tls::{HandshakeError, LiveTls};
use crate::limits::ACCEPT_ERROR_BACKOFF;

/// What a listener speaks on its sockets.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(Arc<LiveTls>),
}

/// One listener's options: what it speaks, who may connect, whether a PROXY header comes first.
#[derive(Clone)]
pub struct Listening {
    pub transport: Transport,
    pub allow: Arc<AllowList>,
    pub proxy_protocol: bool,
}

impl Listening {
    /// Plain TCP, everyone, no PROXY header.
    pub fn plain() -> Listening {
        Listening {
            transport: Transport::Plain,
            allow: Arc::new(AllowList::everyone()),
            proxy_protocol: false,
        }
    }

    /// The list checked right after accept: none on a PROXY listener, whose socket peer is the
    /// load balancer (the header's client is checked instead).
    fn at_accept(&self) -> &AllowList {
        static EVERYONE: AllowList = AllowList::everyone();
        match self.proxy_protocol {
            true => &EVERYONE,
            false => &self.allow,
        }
    }
}

/// How a connection task ended: served (why it closed, frames read), or before serving.
enum Served {
    Closed(Closed, u64),
    /// A missing or invalid PROXY header.
    ProxyHeader,
    /// The PROXY header named a client outside the allow-list.
    NotAllowed,
}

impl Served {
    /// Counts the end and gives the log's reason and frame count.
    fn count(&self) -> (&'static str, u64) {
        let early = |reason| {
            metrics::connection_ended_early(reason);
            (reason, 0)
        };
        match self {
            Served::Closed(closed, frames) => {
                metrics::connection_closed(closed);
                (closed.reason(), *frames)
            }
            Served::ProxyHeader => early("proxy_header"),
            Served::NotAllowed => early("not_allowed"),
        }
    }
}

/// Accepts plain TCP connections until shutdown; every connection task is tracked by `tasks`.
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    permits: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    let listening = Listening::plain();
    accept_loop_over(
        listening, listener, handler, settings, permits, shutdown, tasks,
    )
    .await
}

/// Accepts connections with the `listening` options until shutdown; every connection task is
/// tracked by `tasks`.
pub async fn accept_loop_over<H: Handler>(
    listening: Listening,
    listener: TcpListener,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    while let Some(Admitted {
        stream,
        peer,
        place: permit,
    }) = next_admitted(
        &listener,
        &permits,
        &mut shutdown,
        Accounting::Claims(listening.at_accept()),
    )
    .await
    {
        metrics::connection_opened();
        let span = tracing::info_span!("connection", %peer, client = tracing::field::Empty);
        let (handler, settings, shutdown) = (handler.clone(), settings.clone(), shutdown.clone());
        let listening = listening.clone();
        tasks.spawn(
            async move {
                let served =
                    serve_socket((stream, peer), listening, handler, settings, shutdown).await;
                // The place is free before the gauge says so: it never shows fewer open
                // connections than places held.
                drop(permit);
                let (reason, frames) = served.count();
                tracing::info!(reason, frames, "connection closed");
            }
            .instrument(span),
        );
    }
}

/// A connection accepted with a place held for it.
pub(super) struct Admitted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub place: OwnedSemaphorePermit,
}

/// Which accept loop: the claim listeners check their allow-list and count and log failures
/// and refusals; the admin endpoint only backs off.
#[derive(Clone, Copy)]
pub(super) enum Accounting<'a> {
    Claims(&'a AllowList),
    Admin,
}

/// The next connection that gets one of `places`, or `None` at shutdown. Failed accepts back
/// off; a connection outside the allow-list or beyond the cap is closed at once.
pub(super) async fn next_admitted(
    listener: &TcpListener,
    places: &Arc<Semaphore>,
    shutdown: &mut watch::Receiver<bool>,
    accounting: Accounting<'_>,
) -> Option<Admitted> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return None,
        };
        let (stream, peer) = match (accepted, accounting) {
            (Ok((_, peer)), Accounting::Claims(allow)) if !allow.admits(peer.ip()) => {
                allow::refused(peer);
                continue;
            }
            (Ok(accepted), _) => accepted,
            (Err(error), Accounting::Claims(_)) => {
                accept_failed(&error).await;
                continue;
            }
            (Err(error), Accounting::Admin) => {
                back_off_if_exhausted(&error).await;
                continue;
            }
        };
        match places.clone().try_acquire_owned() {
            Ok(place) => {
                return Some(Admitted {
                    stream,
                    peer,
                    place,
                })
            }
            Err(_) if matches!(accounting, Accounting::Claims(_)) => {
                metrics::connection_refused();
                tracing::warn!(%peer, "connection refused: connection limit reached");
            }
            Err(_) => {}
        }
    }
}

/// At most one "accept failed" line per second (the counter counts every one).
static ACCEPT_FAILED_LOG: LogLimit = LogLimit::new(1_000);

/// A failed accept: out of descriptors or memory, the loop backs off instead of spinning (the
/// pending connection stays in the backlog until a descriptor frees); anything else (a
/// connection reset before it was accepted) is skipped at once.
async fn accept_failed(error: &std::io::Error) {
    if !is_resource_exhaustion(error) {
        return;
    }
    metrics::accept_failed();
    if let Some(unlogged) = ACCEPT_FAILED_LOG.due(crate::clock::unix_ms()) {
        tracing::error!(%error, unlogged, "accept failed: out of resources, backing off");
    }
    back_off_if_exhausted(error).await;
}

/// Waits [`ACCEPT_ERROR_BACKOFF`] when `error` is an exhaustion of descriptors or memory (any
/// accept loop: the claim listeners' and the admin endpoint's).
pub(super) async fn back_off_if_exhausted(error: &std::io::Error) {
    if is_resource_exhaustion(error) {
        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
    }
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM.
fn is_resource_exhaustion(error: &std::io::Error) -> bool {
    let exhausted = [
        rustix::io::Errno::MFILE,
        rustix::io::Errno::NFILE,
        rustix::io::Errno::NOBUFS,
        rustix::io::Errno::NOMEM,
    ];
    error
        .raw_os_error()
        .is_some_and(|code| exhausted.iter().any(|errno| errno.raw_os_error() == code))
}

/// Fixes the socket's kernel send buffer (`SO_SNDBUF`, which also stops the kernel growing it),
/// so the replies a client leaves unread are bounded by `limits::SEND_BUFFER_BYTES` plus its
/// own receive window. A refusal only loses the bound's tightness, never the connection.
fn bound_send_buffer(stream: &TcpStream, send_buffer_bytes: usize) {
    if let Err(error) = rustix::net::sockopt::set_socket_send_buffer_size(stream, send_buffer_bytes)
    {
        tracing::debug!(%error, "cannot bound the send buffer of a connection");
    }
}

/// Turns TCP keepalive on (`limits::TCP_KEEPALIVE_*`). A refusal only loses the probes.
fn keep_alive(stream: &TcpStream) {
    use crate::limits::{TCP_KEEPALIVE_IDLE, TCP_KEEPALIVE_INTERVAL, TCP_KEEPALIVE_PROBES};
    use rustix::net::sockopt;
    let set = sockopt::set_socket_keepalive(stream, true)
        .and_then(|()| sockopt::set_tcp_keepidle(stream, TCP_KEEPALIVE_IDLE))
        .and_then(|()| sockopt::set_tcp_keepintvl(stream, TCP_KEEPALIVE_INTERVAL))
        .and_then(|()| sockopt::set_tcp_keepcnt(stream, TCP_KEEPALIVE_PROBES));
    if let Err(error) = set {
        tracing::debug!(%error, "cannot turn keepalive on for a connection");
    }
}

/// Serves one accepted socket: after its PROXY header when the listener expects one, then
/// directly or after a TLS handshake within the read deadline.
async fn serve_socket<H: Handler>(
    (mut stream, peer): (TcpStream, SocketAddr),
    listening: Listening,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    mut shutdown: watch::Receiver<bool>,
) -> Served {
    let _ = stream.set_nodelay(true);
    bound_send_buffer(&stream, settings.send_buffer_bytes);
    keep_alive(&stream);
    if listening.proxy_protocol {
        let deadline = settings.read_timeout;
        let header = proxy::read_header(&mut stream, deadline, &mut shutdown).await;
        if let Some(early) = admit_proxied(header, peer, &listening.allow) {
            return early;
        }
    }
    let (closed, frames) = match listening.transport {
        Transport::Plain => serve_connection(stream, handler, settings, shutdown).await,
        Transport::Tls(tls) => serve_tls(stream, &tls, handler, settings, shutdown).await,
    };
    Served::Closed(closed, frames)
}

/// At most one "PROXY header refused" line per second (the counters count every one).
static PROXY_HEADER_LOG: LogLimit = LogLimit::new(1_000);

/// The outcome of a PROXY header read: `None` when the connection goes on (its span then
/// names the client), or how it ends.
fn admit_proxied(
    header: Result<Option<SocketAddr>, ProxyError>,
    peer: SocketAddr,
    allow: &AllowList,
) -> Option<Served> {
    let client = match header {
        Ok(client) => client.unwrap_or(peer),
        Err(ProxyError::Shutdown) => return Some(Served::Closed(Closed::Shutdown, 0)),
        Err(error) => {
            if let Some(unlogged) = PROXY_HEADER_LOG.due(crate::clock::unix_ms()) {
                tracing::info!(%error, unlogged, "connection closed: no valid PROXY header");
            }
            return Some(Served::ProxyHeader);
        }
    };
    tracing::Span::current().record("client", tracing::field::display(client));
    if !allow.admits(client.ip()) {
        allow::refused(client);
        return Some(Served::NotAllowed);
    }
    None
}

/// Serves a socket after its TLS handshake, within the client certificate's scope if it has one.
async fn serve_tls<H: Handler>(
    stream: TcpStream,
    tls: &LiveTls,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    mut shutdown: watch::Receiver<bool>,
) -> (Closed, u64) {
    let deadline = settings.read_timeout;
    match tls.accept(stream, deadline, &mut shutdown).await {
        Ok(secured) => match tls.connection_scope(&secured) {
            None => serve_connection(Shared(secured), handler, settings, shutdown).await,
            Some(scope) => {
                let scoped = Arc::new(Scoped {
                    inner: handler,
                    scope,
                });
                serve_connection(Shared(secured), scoped, settings, shutdown).await
            }
        },
        Err(HandshakeError::Shutdown) => (Closed::Shutdown, 0),
        Err(_) => (Closed::TlsHandshake, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Echoes each frame and counts the frames it was given.
    struct Counting(AtomicUsize);

    impl Handler for Counting {
        type Pending = std::future::Ready<Option<Vec<u8>>>;
        async fn accept(&self, frame: bytes::BytesMut) -> Self::Pending {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Some(frame.to_vec()))
        }
    }

    fn bounded_settings() -> ConnectionSettings {
        ConnectionSettings {
            framing: crate::config::Framing::StxEtx,
            frame_bytes_max: 1024,
            garbage_bytes_max: 0,
            in_flight: 4,
            read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            send_buffer_bytes: crate::limits::SEND_BUFFER_BYTES_MIN,
        }
    }

    /// A client with small socket buffers that writes frames and never reads.
    async fn never_reading_client(addr: std::net::SocketAddr) -> tokio::task::JoinHandle<()> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let mut frame = vec![0x02];
        frame.extend_from_slice(&[b'A'; 198]);
        frame.push(0x03);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for _ in 0..NEVER_READER_FRAMES {
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Frames the never-reading client offers: more than an unbounded kernel buffer would hold.
    const NEVER_READER_FRAMES: usize = 20_000;

    /// Polls `count` until it has not moved for 500 ms.
    async fn settled(count: &AtomicUsize) -> usize {
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = count.load(Ordering::Relaxed);
            if now == last {
                return now;
            }
            last = now;
        }
    }

    #[tokio::test]
    async fn accepted_sockets_get_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((accepted, _), _client) =
            tokio::join!(async { listener.accept().await.unwrap() }, async {
                client.await.unwrap()
            });
        assert!(!rustix::net::sockopt::socket_keepalive(&accepted).unwrap());
        keep_alive(&accepted);
        assert!(rustix::net::sockopt::socket_keepalive(&accepted).unwrap());
        let idle = rustix::net::sockopt::tcp_keepidle(&accepted).unwrap();
        assert_eq!(idle, crate::limits::TCP_KEEPALIVE_IDLE);
    }

    #[tokio::test]
    async fn a_client_that_never_reads_gets_only_a_send_buffer_of_replies_made() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(Counting(AtomicUsize::new(0)));
        let (_stop, shutdown) = watch::channel(false);
        let serving = tokio::spawn(accept_loop(
            listener,
            handler.clone(),
            Arc::new(bounded_settings()),
            Arc::new(Semaphore::new(4)),
            shutdown,
            TaskTracker::new(),
        ));
        let client = never_reading_client(addr).await;
        let handled = settled(&handler.0).await;
        // 2 x 4 KiB of send buffer and about as much of the client's window, in 200-byte
        // replies, plus the replies owed: about 90. Unbounded, the kernel lets ~15,000 through.
        assert!(
            handled < 400,
            "{handled} frames handled for a client that never reads"
        );
        client.abort();
        serving.abort();
    }

    #[test]
    fn running_out_of_descriptors_or_memory_backs_off_and_a_reset_does_not() {
        for code in [24, 23, 105, 12] {
            let error = std::io::Error::from_raw_os_error(code);
            assert!(is_resource_exhaustion(&error), "{error}");
        }
        let reset = std::io::Error::from_raw_os_error(103); // ECONNABORTED
        assert!(!is_resource_exhaustion(&reset));
        assert!(!is_resource_exhaustion(&std::io::ErrorKind::Other.into()));
    }
}
