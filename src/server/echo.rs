//! A bare framed echo server: every frame is answered with itself — at once ([`Echo`]), or
//! only after it was appended to a preallocated file and that file was `fdatasync`ed, frames
//! arriving meanwhile sharing one flush ([`DurableEcho`]: the physical limit of "nothing
//! acknowledged is lost" on this disk).
//!
//! Tier 3. The load generator's `--echo-baseline [plain|durable]` runs the same load against it
//! and against the gateway in one run, so the ratio gateway/echo isolates what claim processing
//! costs over the limit of framing, sockets, scheduling (and flushing) on this machine. It uses
//! the same connection layer as the gateway so both sides pay the same framing cost.
//!
//! Must never: parse, record or adjudicate anything; reply durably before its flush returned.

use std::fs::File;
use std::future::Ready;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use futures::future::Map;
use futures::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
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

/// Bytes of the durable echo's preallocated file (written round, as a WAL is reused).
const DURABLE_ECHO_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Frames waiting for the durable echo's flusher, at most.
const DURABLE_ECHO_QUEUE_MAX: usize = 8_192;
/// Frames one flush takes at most.
const DURABLE_ECHO_BATCH_MAX: usize = 1_024;

/// A frame waiting for its flush, and where to send it back.
type Flush = (BytesMut, oneshot::Sender<Vec<u8>>);
/// The reply of a durable echo: the frame once flushed, `None` if the flusher stopped.
type Flushed = Map<
    oneshot::Receiver<Vec<u8>>,
    fn(Result<Vec<u8>, oneshot::error::RecvError>) -> Option<Vec<u8>>,
>;

/// Answers each frame with its own bytes after they are on disk (see the module header).
pub struct DurableEcho {
    frames: mpsc::Sender<Flush>,
}

impl Handler for DurableEcho {
    type Pending = Flushed;

    async fn accept(&self, frame: BytesMut) -> Flushed {
        let (reply, flushed) = oneshot::channel();
        // A stopped flusher drops `reply`: the connection then gets no answer.
        let _ = self.frames.send((frame, reply)).await;
        flushed.map(Result::ok as fn(_) -> _)
    }
}

impl DurableEcho {
    /// Preallocates `path` (zeros, flushed; the caller removes it) and starts the flusher
    /// thread, which ends when the echo is dropped.
    pub fn create(path: &Path) -> std::io::Result<DurableEcho> {
        let file = preallocated(path)?;
        let (frames, queue) = mpsc::channel(DURABLE_ECHO_QUEUE_MAX);
        std::thread::Builder::new()
            .name("durable-echo".into())
            .spawn(move || flusher(file, queue))?;
        Ok(DurableEcho { frames })
    }
}

fn preallocated(path: &Path) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 1024 * 1024];
    for block in 0..DURABLE_ECHO_FILE_BYTES / zeros.len() as u64 {
        file.write_all_at(&zeros, block * zeros.len() as u64)?;
    }
    file.sync_all()?;
    Ok(file)
}

/// Appends every frame that waits, flushes once, answers them all; again until the queue
/// closes. A write or flush error stops it (the waiting frames get no answer).
fn flusher(file: File, mut queue: mpsc::Receiver<Flush>) {
    let mut offset = 0u64;
    let mut batch = Vec::with_capacity(DURABLE_ECHO_BATCH_MAX);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < DURABLE_ECHO_BATCH_MAX {
            let Ok(next) = queue.try_recv() else { break };
            batch.push(next);
        }
        if append_and_flush(&file, &mut offset, &batch).is_err() {
            break;
        }
        for (frame, reply) in batch.drain(..) {
            let _ = reply.send(frame.to_vec());
        }
    }
}

fn append_and_flush(file: &File, offset: &mut u64, batch: &[Flush]) -> std::io::Result<()> {
    for (frame, _) in batch {
        if *offset + frame.len() as u64 > DURABLE_ECHO_FILE_BYTES {
            *offset = 0;
        }
        file.write_all_at(frame, *offset)?;
        *offset += frame.len() as u64;
    }
    file.sync_data()
}

/// A running echo server; dropping the sender in `stop` ends it.
pub struct EchoServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: TaskTracker,
}

impl EchoServer {
    /// Binds `addr` (port 0 for any) and serves [`Echo`] until [`EchoServer::stop`].
    pub async fn start(
        addr: SocketAddr,
        settings: ConnectionSettings,
        connections_max: usize,
    ) -> std::io::Result<EchoServer> {
        EchoServer::start_with(Echo, addr, settings, connections_max).await
    }

    /// As [`EchoServer::start`], answering with `handler`.
    pub async fn start_with<H: Handler>(
        handler: H,
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
            Arc::new(handler),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn settings() -> ConnectionSettings {
        ConnectionSettings {
            framing: crate::config::Framing::StxEtx,
            frame_bytes_max: 1024,
            garbage_bytes_max: 0,
            in_flight: 16,
            read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            send_buffer_bytes: crate::limits::SEND_BUFFER_BYTES,
        }
    }

    #[tokio::test]
    async fn a_durable_echo_answers_each_frame_after_it_is_in_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("echo.wal");
        let echo = DurableEcho::create(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            DURABLE_ECHO_FILE_BYTES
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = EchoServer::start_with(echo, addr, settings(), 4)
            .await
            .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let frames: Vec<String> = (0..3).map(|n| format!("DURABLE-FRAME-{n}")).collect();
        for frame in &frames {
            stream
                .write_all(format!("\x02{frame}\x03").as_bytes())
                .await
                .unwrap();
        }
        let mut replies = vec![0u8; frames.iter().map(|frame| frame.len() + 2).sum()];
        stream.read_exact(&mut replies).await.unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        for frame in &frames {
            let wanted = format!("\x02{frame}\x03");
            assert!(String::from_utf8_lossy(&replies).contains(&wanted));
            assert!(on_disk
                .windows(frame.len())
                .any(|at| at == frame.as_bytes()));
        }
        drop(stream);
        server.stop().await;
    }
}
