//! Accept loop of one claim listener: connection limit, refusal beyond it, one task per
//! connection, stop on shutdown.
//!
//! Tier 3. `server` starts one loop per `--listen` address; each accepted socket goes to
//! `connection::serve_connection` inside a tracing span. Beyond `connections_max` open connections
//! a new socket is accepted and closed at once (a refusal the client sees immediately, rather
//! than a growing backlog).
//!
//! Must never: read from a socket itself, or keep running after shutdown is signalled.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::connection::{serve_connection, ConnectionSettings, Handler};
use super::metrics;

/// Accepts connections until shutdown; every connection task is tracked by `tasks`.
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::connection_refused();
            tracing::warn!(%peer, "connection refused: connection limit reached");
            drop(stream);
            continue;
        };
        metrics::connection_opened();
        let span = tracing::info_span!("connection", %peer);
        let (handler, settings, shutdown) = (handler.clone(), settings.clone(), shutdown.clone());
        tasks.spawn(
            async move {
                let (closed, frames) = serve_connection(stream, handler, settings, shutdown).await;
                // The place is free before the gauge says so: it never shows fewer open
                // connections than places held.
                drop(permit);
                metrics::connection_closed(&closed);
                tracing::info!(reason = closed.reason(), frames, "connection closed");
            }
            .instrument(span),
        );
    }
}
