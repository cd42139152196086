//! A bare framed echo server: every frame is answered with itself.
//!
//! Tier 3. The load generator's `--echo-baseline` runs the same load against it and against the
//! gateway in one run, so the ratio gateway/echo isolates what claim processing costs over the
//! physical limit of framing, sockets and scheduling on this machine. It uses the same
//! connection layer as the gateway so both sides pay the same framing cost.
//!
//! Must never: parse, record or adjudicate anything.

use std::future::Ready;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

use super::connection::{ConnectionSettings, Handler};
use super::listener::accept_loop;

/// Answers each frame with its own bytes.
pub struct Echo;

impl Handler for Echo {
    type Pending = Ready<Option<Vec<u8>>>;

    async fn accept(&self, frame: BytesMut) -> Self::Pending {
        std::future::ready(Some(frame.to_vec()))
    }
}

/// A running echo server; dropping the sender in `stop` ends it.
pub struct EchoServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: TaskTracker,
}

impl EchoServer {
    /// Binds `addr` (port 0 for any) and serves until [`EchoServer::stop`].
    pub async fn start(
        addr: SocketAddr,
        settings: ConnectionSettings,
        connections_max: usize,
    ) -> std::io::Result<EchoServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let tasks = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(connections_max));
        let accept = accept_loop(
            listener,
            Arc::new(Echo),
            Arc::new(settings),
            permits,
            shutdown,
            tasks.clone(),
        );
        tasks.spawn(accept);
        Ok(EchoServer { addr, stop, tasks })
    }

    /// Stops accepting, closes connections and waits for their tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.tasks.close();
        self.tasks.wait().await;
    }
}
