//! One client connection: frames in, replies out, in request order.
//!
//! Tier 3. The accept loop hands each socket (or, on a TLS listener, the stream
//! `server::tls` negotiated on it) to [`serve_connection`]. Its reader half decodes
//! frames with `wire::FrameCodec` and gives each to the [`Handler`] *in arrival order*: the
//! handler's `accept` step (parse, adjudicate, enqueue for commit) runs on the reader, so
//! pipelined claims are adjudicated in the order sent; it returns a future for the rest (waiting
//! for the durable commit, encoding the reply). The writer half awaits those futures in order and
//! writes each reply, so replies leave in request order while commits of pipelined requests share
//! batches. At most `in_flight` requests are read ahead of the writer (bounded channel).
//!
//! Deadlines: a started frame must complete within `read_timeout` (measured from the first
//! byte of *that* frame, so a client dripping bytes is cut off); a connection on which no
//! request arrives is closed after `idle_timeout` (garbage between frames and empty frames do
//! not count as requests); each write of owed replies must complete within `write_timeout`, so a
//! client that sends claims and never reads is closed instead of holding its slot. While the
//! reader waits for room among the `in_flight` replies owed it reads nothing; that wait is
//! bounded by the writer's write deadline, and the read/idle deadlines and a shutdown apply the
//! moment it ends. A request the handler accepted always keeps its reply (its claim may already
//! be committing): a shutdown stops the reader *between* requests, never between accepting one
//! and owing its reply. A framing error or a deadline closes this connection only, after the
//! replies already owed are written (within the write deadline).
//!
//! Streams: a plain `TcpStream` is split into its own lock-free halves (the fast path); any
//! other stream (TLS) is wrapped in [`Shared`] and split with `tokio::io::split`, whose halves
//! share the stream behind a lock, since a TLS session's reads and writes share one state.
//!
//! Must never: interpret payload bytes, buffer beyond the frame limit, or block the runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use crate::wire::{self, FrameCodec, FrameError, Framing};

use super::scope::ConnectionScope;

/// Read-buffer growth step (bytes).
const READ_CHUNK_BYTES: usize = 4096;

/// What the gateway does with one frame. `accept` runs on the connection's reader in arrival
/// order; the future it returns resolves to the reply payload (`None`: no reply is owed, e.g. a
/// header that cannot be read).
pub trait Handler: Send + Sync + 'static {
    type Pending: Future<Output = Option<Vec<u8>>> + Send + 'static;
    fn accept(&self, frame: BytesMut) -> impl Future<Output = Self::Pending> + Send;

    /// `accept` for a connection limited to `scope` (a client certificate's BINs and
    /// pharmacies). A handler that does not read claims ignores it.
    fn accept_scoped(
        &self,
        frame: BytesMut,
        scope: &ConnectionScope,
    ) -> impl Future<Output = Self::Pending> + Send {
        let _ = scope;
        self.accept(frame)
    }
}

/// A handler serving one connection whose client certificate has a scope.
pub struct Scoped<H> {
    pub inner: Arc<H>,
    pub scope: ConnectionScope,
}

impl<H: Handler> Handler for Scoped<H> {
    type Pending = H::Pending;
    fn accept(&self, frame: BytesMut) -> impl Future<Output = Self::Pending> + Send {
        self.inner.accept_scoped(frame, &self.scope)
    }
}

/// A client byte stream, split into the halves the reader and the writer own.
pub trait ClientStream: Send + 'static {
    type Reader: AsyncRead + Unpin + Send + 'static;
    type Writer: AsyncWrite + Unpin + Send + 'static;
    fn into_halves(self) -> (Self::Reader, Self::Writer);
}

/// Plain TCP: the socket's own halves, no lock between them.
impl ClientStream for TcpStream {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;
    fn into_halves(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

/// Any other stream (a TLS session): halves that share it through `tokio::io::split`.
pub struct Shared<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ClientStream for Shared<S> {
    type Reader = ReadHalf<S>;
    type Writer = WriteHalf<S>;
    fn into_halves(self) -> (ReadHalf<S>, WriteHalf<S>) {
        tokio::io::split(self.0)
    }
}

/// Per-connection settings (from the validated config).
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    pub framing: Framing,
    pub frame_bytes_max: usize,
    pub garbage_bytes_max: usize,
    pub in_flight: usize,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    /// `SO_SNDBUF` asked for each accepted socket (`limits::SEND_BUFFER_BYTES`).
    pub send_buffer_bytes: usize,
}

/// Why a connection ended (a fixed label set, for logs and counters).
#[derive(Debug)]
pub enum Closed {
    /// The client closed cleanly between frames.
    ByClient,
    /// The gateway is shutting down.
    Shutdown,
    ReadTimeout,
    IdleTimeout,
    /// Owed replies could not be written within the write deadline (the client stopped reading).
    WriteTimeout,
    Frame(FrameError),
    /// The reply writer stopped (the client went away while replies were owed).
    WriterGone,
    /// The TLS handshake failed or missed its deadline (no frame was read).
    TlsHandshake,
}

impl Closed {
    pub fn reason(&self) -> &'static str {
        match self {
            Closed::ByClient => "client",
            Closed::Shutdown => "shutdown",
            Closed::ReadTimeout => "read_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::WriteTimeout => "write_timeout",
            Closed::Frame(error) => error.reason(),
            Closed::WriterGone => "writer_gone",
            Closed::TlsHandshake => "tls_handshake",
        }
    }
}

/// Serves one connection until the client leaves, a deadline or framing error, or shutdown.
/// Returns why it closed and how many frames it read.
pub async fn serve_connection<S: ClientStream, H: Handler>(
    stream: S,
    handler: Arc<H>,
    settings: Arc<ConnectionSettings>,
    shutdown: watch::Receiver<bool>,
) -> (Closed, u64) {
    let (reader, writer) = stream.into_halves();
    let (pending_tx, pending_rx) = mpsc::channel::<H::Pending>(settings.in_flight.max(1));
    let writer_stopped = CancellationToken::new();
    let replies = Replies {
        framing: settings.framing,
        write_timeout: settings.write_timeout,
        stopped: writer_stopped.clone(),
    };
    let writer_task = tokio::spawn(replies.write(writer, pending_rx));
    let mut reading = Reading::new(&settings);
    let closed = reading
        .run(reader, &*handler, &pending_tx, shutdown, &writer_stopped)
        .await;
    drop(pending_tx);
    let written = writer_task.await.unwrap_or(Written::Failed);
    let closed = match written {
        Written::All => closed,
        Written::TimedOut => Closed::WriteTimeout,
        Written::Failed => Closed::WriterGone,
    };
    (closed, reading.frames)
}

struct Reading {
    codec: FrameCodec,
    buffer: BytesMut,
    read_timeout: Duration,
    idle_timeout: Duration,
    frame_started: Option<Instant>,
    /// When the last request (a non-empty frame) arrived, or the connection opened.
    last_request: Instant,
    /// When the last read returned bytes (a frame started in it began no earlier).
    last_read: Instant,
    frames: u64,
}

impl Reading {
    fn new(settings: &ConnectionSettings) -> Reading {
        Reading {
            codec: FrameCodec::new(
                settings.framing,
                settings.frame_bytes_max,
                settings.garbage_bytes_max,
            ),
            buffer: BytesMut::with_capacity(READ_CHUNK_BYTES),
            read_timeout: settings.read_timeout,
            idle_timeout: settings.idle_timeout,
            frame_started: None,
            last_request: Instant::now(),
            last_read: Instant::now(),
            frames: 0,
        }
    }

    async fn run<R: AsyncRead + Unpin, H: Handler>(
        &mut self,
        mut reader: R,
        handler: &H,
        pending: &mpsc::Sender<H::Pending>,
        mut shutdown: watch::Receiver<bool>,
        writer_stopped: &CancellationToken,
    ) -> Closed {
        // Bounded by the connection's life: every pass reads bytes, hits a deadline or returns.
        loop {
            if let Err(closed) = self.dispatch_frames(handler, pending, &shutdown).await {
                return closed;
            }
            if *shutdown.borrow() {
                return Closed::Shutdown;
            }
            let deadline = self.deadline();
            self.buffer.reserve(READ_CHUNK_BYTES);
            tokio::select! {
                read = reader.read_buf(&mut self.buffer) => match read {
                    Ok(0) => return self.at_eof(),
                    Ok(_) => self.last_read = Instant::now(),
                    Err(error) if is_end_without_close_notify(&error) => return self.at_eof(),
                    Err(error) => return Closed::Frame(FrameError::Io(error)),
                },
                _ = sleep_until(deadline) => return self.timed_out(),
                _ = shutdown.changed() => return Closed::Shutdown,
                _ = writer_stopped.cancelled() => return Closed::WriterGone,
            }
        }
    }

    /// Hands every complete frame in the buffer to the handler, in order, until a shutdown is
    /// signalled. While the replies owed fill `pending` it waits (reading nothing more).
    async fn dispatch_frames<H: Handler>(
        &mut self,
        handler: &H,
        pending: &mpsc::Sender<H::Pending>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Closed> {
        let mut decoded = false;
        while let Some(frame) = self.codec.decode(&mut self.buffer).map_err(Closed::Frame)? {
            if *shutdown.borrow() {
                return Err(Closed::Shutdown);
            }
            self.frames += 1;
            decoded = true;
            if !frame.is_empty() {
                self.last_request = Instant::now();
            }
            let reply = handler.accept(frame).await;
            self.owe(pending, reply).await?;
        }
        self.frame_started = match self.codec.is_mid_frame(&self.buffer) {
            // A frame that began after the one just completed started in the last read.
            true if decoded => Some(self.last_read),
            true => self.frame_started.or(Some(self.last_read)),
            false => None,
        };
        Ok(())
    }

    /// Queues a reply owed for the writer. A request the handler accepted may already be on
    /// its way to the store, so its reply is never dropped here: the wait for room is bounded by
    /// the writer (which frees room as it writes, or stops at its write deadline and so ends the
    /// wait). A shutdown or deadline that passes meanwhile is seen by the next pass of `run`.
    async fn owe<P>(&self, pending: &mpsc::Sender<P>, reply: P) -> Result<(), Closed> {
        pending.send(reply).await.map_err(|_| Closed::WriterGone)
    }

    fn deadline(&self) -> Instant {
        match self.frame_started {
            Some(started) => started + self.read_timeout,
            None => self.last_request + self.idle_timeout,
        }
    }

    fn timed_out(&self) -> Closed {
        if self.frame_started.is_some() {
            Closed::ReadTimeout
        } else {
            Closed::IdleTimeout
        }
    }

    fn at_eof(&mut self) -> Closed {
        match self.codec.decode_eof(&mut self.buffer) {
            Err(error) => Closed::Frame(error),
            // A frame completed exactly at EOF cannot exist here: dispatch drained the buffer.
            Ok(_) => Closed::ByClient,
        }
    }
}

/// A TLS peer that closes its socket without sending close_notify reads as `UnexpectedEof`.
/// Frames delimit themselves, so that is an ordinary end of stream here: a frame it cuts
/// short is still refused as truncated by `at_eof`. (Plain TCP never reports this kind.)
fn is_end_without_close_notify(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::UnexpectedEof
}

/// How the reply writer ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Written {
    /// Every owed reply was written and the stream shut down.
    All,
    /// A write did not complete within the write deadline.
    TimedOut,
    /// The socket failed.
    Failed,
}

/// The writer half's settings, and the token it cancels when it stops (so the reader stops
/// waiting for frames whose replies can no longer be delivered).
struct Replies {
    framing: Framing,
    write_timeout: Duration,
    stopped: CancellationToken,
}

impl Replies {
    /// Awaits each pending reply in request order and writes it. Replies that are ready together
    /// go out in one write; whatever is buffered is flushed before waiting on a reply that is not
    /// ready yet.
    async fn write<W: AsyncWrite + Unpin, P>(
        self,
        mut writer: W,
        mut pending: mpsc::Receiver<P>,
    ) -> Written
    where
        P: Future<Output = Option<Vec<u8>>> + Send,
    {
        let _stopped = self.stopped.clone().drop_guard();
        let mut out = BytesMut::with_capacity(READ_CHUNK_BYTES);
        while let Some(reply) = pending.recv().await {
            let mut reply = std::pin::pin!(reply);
            let payload = match reply.as_mut().now_or_never() {
                Some(payload) => payload,
                None => match self.flush(&mut writer, &mut out).await {
                    Written::All => reply.await,
                    failed => return failed,
                },
            };
            if let Some(payload) = payload {
                wire::encode_frame(self.framing, &payload, &mut out);
            }
            if pending.is_empty() {
                match self.flush(&mut writer, &mut out).await {
                    Written::All => {}
                    failed => return failed,
                }
            }
        }
        match self.flush(&mut writer, &mut out).await {
            Written::All => self.shut_down(&mut writer).await,
            failed => failed,
        }
    }

    /// Writes what is buffered within the write deadline.
    async fn flush<W: AsyncWrite + Unpin>(&self, writer: &mut W, out: &mut BytesMut) -> Written {
        if out.is_empty() {
            return Written::All;
        }
        let written = tokio::time::timeout(self.write_timeout, writer.write_all(out)).await;
        out.clear();
        match written {
            Ok(Ok(())) => Written::All,
            Ok(Err(_)) => Written::Failed,
            Err(_) => Written::TimedOut,
        }
    }

    async fn shut_down<W: AsyncWrite + Unpin>(&self, writer: &mut W) -> Written {
        match tokio::time::timeout(self.write_timeout, writer.shutdown()).await {
            Ok(Ok(())) => Written::All,
            Ok(Err(_)) => Written::Failed,
            Err(_) => Written::TimedOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::echo::EchoServer;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn settings() -> ConnectionSettings {
        ConnectionSettings {
            framing: Framing::StxEtx,
            frame_bytes_max: 256,
            garbage_bytes_max: 8,
            in_flight: 4,
            read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_millis(300),
            send_buffer_bytes: crate::limits::SEND_BUFFER_BYTES,
        }
    }

    async fn echo() -> EchoServer {
        EchoServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), settings(), 8)
            .await
            .unwrap()
    }

    async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut got)).await;
        got
    }

    /// A stream that yields `input`, then ends the way a TLS session closed without
    /// close_notify does: with an `UnexpectedEof` error. Writes are accepted and dropped.
    struct EndsWithoutCloseNotify {
        input: Vec<u8>,
    }

    impl tokio::io::AsyncRead for EndsWithoutCloseNotify {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.input.is_empty() {
                let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                return std::task::Poll::Ready(Err(eof));
            }
            let taken = buf.remaining().min(self.input.len());
            buf.put_slice(&self.input[..taken]);
            self.input.drain(..taken);
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl tokio::io::AsyncWrite for EndsWithoutCloseNotify {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    async fn serve_scripted(input: &[u8]) -> (&'static str, u64) {
        let stream = Shared(EndsWithoutCloseNotify {
            input: input.to_vec(),
        });
        let (_stop, shutdown) = watch::channel(false);
        let handler = Arc::new(crate::server::echo::Echo);
        let (closed, frames) =
            serve_connection(stream, handler, Arc::new(settings()), shutdown).await;
        (closed.reason(), frames)
    }

    #[tokio::test]
    async fn an_end_without_close_notify_between_frames_is_a_client_close() {
        assert_eq!(
            serve_scripted(b"\x02one\x03\x02two\x03").await,
            ("client", 2)
        );
    }

    #[tokio::test]
    async fn an_end_without_close_notify_inside_a_frame_is_a_truncated_frame() {
        assert_eq!(serve_scripted(b"\x02one\x03\x02tw").await, ("truncated", 1));
    }

    #[tokio::test]
    async fn pipelined_frames_come_back_in_order() {
        let server = echo().await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        let sent: Vec<u8> = (0..20)
            .flat_map(|n| {
                [
                    vec![wire::STX],
                    format!("frame{n}").into_bytes(),
                    vec![wire::ETX],
                ]
                .concat()
            })
            .collect();
        client.write_all(&sent).await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(read_until_closed(&mut client).await, sent);
        server.stop().await;
    }

    #[tokio::test]
    async fn an_oversize_frame_closes_only_its_connection() {
        let server = echo().await;
        let mut bad = TcpStream::connect(server.addr).await.unwrap();
        let mut good = TcpStream::connect(server.addr).await.unwrap();
        let mut oversize = vec![wire::STX];
        oversize.extend_from_slice(&[b'A'; 300]);
        bad.write_all(&oversize).await.unwrap();
        assert!(read_until_closed(&mut bad).await.is_empty());
        good.write_all(b"\x02ok\x03").await.unwrap();
        let mut reply = [0u8; 4];
        good.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"\x02ok\x03");
        server.stop().await;
    }

    #[tokio::test]
    async fn a_dripping_client_is_cut_off_at_the_read_deadline() {
        let server = echo().await;
        let mut slow = TcpStream::connect(server.addr).await.unwrap();
        slow.write_all(b"\x02D0").await.unwrap();
        let started = Instant::now();
        // Drip a byte every 50 ms for 2 s: activity must not extend a started frame's deadline.
        let mut closed_after = None;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut probe = [0u8; 1];
            let peer_closed = match slow.try_read(&mut probe) {
                Ok(0) => true,
                Ok(_) => panic!("a reply to an unfinished frame"),
                Err(error) => error.kind() != std::io::ErrorKind::WouldBlock,
            };
            if peer_closed {
                closed_after = Some(started.elapsed());
                break;
            }
            let _ = slow.write_all(b"x").await;
        }
        let closed_after =
            closed_after.expect("the gateway kept a dripping connection open for 2 s");
        assert!(
            closed_after < Duration::from_millis(1_500),
            "closed after {closed_after:?}"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn garbage_beyond_the_tolerance_closes_but_a_little_is_skipped() {
        let server = echo().await;
        let mut noisy = TcpStream::connect(server.addr).await.unwrap();
        noisy.write_all(b"\r\n\x02hi\x03").await.unwrap();
        let mut reply = [0u8; 4];
        noisy.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"\x02hi\x03");
        noisy.write_all(b"0123456789").await.unwrap();
        assert!(read_until_closed(&mut noisy).await.is_empty());
        server.stop().await;
    }

    /// Serves `server_side` with the echo handler and `settings`; returns why it closed, the
    /// frames read and how long it took.
    async fn serve_timed(
        server_side: tokio::io::DuplexStream,
        settings: ConnectionSettings,
    ) -> (&'static str, u64, Duration) {
        let (_stop, shutdown) = watch::channel(false);
        let started = Instant::now();
        let handler = Arc::new(crate::server::echo::Echo);
        let (closed, frames) =
            serve_connection(Shared(server_side), handler, Arc::new(settings), shutdown).await;
        (closed.reason(), frames, started.elapsed())
    }

    /// Sends claims as fast as the pipe takes them and never reads a reply.
    async fn send_and_never_read(mut client: tokio::io::DuplexStream) -> tokio::io::DuplexStream {
        for n in 0..10_000u32 {
            let frame = format!("\x02claim {n:05} padded to a few dozen bytes\x03");
            if client.write_all(frame.as_bytes()).await.is_err() {
                break;
            }
        }
        client
    }

    #[tokio::test]
    async fn a_client_that_never_reads_is_closed_at_the_write_deadline() {
        // A 64-byte pipe: the replies owed fill it at once, the client never reads them.
        let (client, server_side) = tokio::io::duplex(64);
        let sender = tokio::spawn(send_and_never_read(client));
        let settings = ConnectionSettings {
            idle_timeout: Duration::from_secs(60),
            ..settings()
        };
        let (reason, frames, took) = serve_timed(server_side, settings).await;
        assert_eq!(reason, "write_timeout");
        assert!(
            frames < 100,
            "it stopped reading once the replies owed were full: {frames}"
        );
        assert!(
            took < Duration::from_secs(3),
            "closed within the write deadline: {took:?}"
        );
        sender.abort();
    }

    #[tokio::test]
    async fn the_read_deadline_runs_from_the_start_of_the_current_frame() {
        let (mut client, server_side) = tokio::io::duplex(4096);
        let script = tokio::spawn(async move {
            client.write_all(b"\x02first").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            // The first frame ends and the second begins in the same write.
            client.write_all(b" frame\x03\x02sec").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            // 400 ms after the first frame began, 200 ms after the second did (deadline 300 ms).
            client.write_all(b"ond\x03").await.unwrap();
            let mut replies = [0u8; 64];
            let mut got = 0;
            while got < b"\x02first frame\x03\x02second\x03".len() {
                got += client.read(&mut replies[got..]).await.unwrap();
            }
            client.shutdown().await.unwrap();
            drop(client);
        });
        let (reason, frames, _) = serve_timed(server_side, settings()).await;
        assert_eq!((reason, frames), ("client", 2));
        script.await.unwrap();
    }

    #[tokio::test]
    async fn empty_frames_and_garbage_do_not_keep_a_connection_open() {
        let (mut client, server_side) = tokio::io::duplex(4096);
        let keep_alive = tokio::spawn(async move {
            for _ in 0..40 {
                if client.write_all(b"\x02\x03 \r\n").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            client
        });
        let settings = ConnectionSettings {
            idle_timeout: Duration::from_millis(400),
            garbage_bytes_max: 64,
            ..settings()
        };
        let (reason, _, took) = serve_timed(server_side, settings).await;
        assert_eq!(reason, "idle_timeout");
        assert!(took < Duration::from_millis(1_500), "{took:?}");
        keep_alive.abort();
    }

    #[tokio::test]
    async fn a_shutdown_is_not_held_up_by_a_client_that_never_reads() {
        let (client, server_side) = tokio::io::duplex(64);
        let sender = tokio::spawn(send_and_never_read(client));
        let (stop, shutdown) = watch::channel(false);
        let settings = ConnectionSettings {
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(1),
            ..settings()
        };
        let serving = tokio::spawn(serve_connection(
            Shared(server_side),
            Arc::new(crate::server::echo::Echo),
            Arc::new(settings),
            shutdown,
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        stop.send(true).unwrap();
        // The client is still connected and still not reading: the shutdown waits at most for
        // the write deadline of the replies owed.
        let (closed, _) = tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the shutdown is not held up by a client that never reads")
            .unwrap();
        assert!(matches!(closed, Closed::WriteTimeout), "{closed:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{:?}",
            asked.elapsed()
        );
        sender.abort();
    }
    /// Echoes each frame, but only once the gate opens (as a claim waits for its commit), and
    /// counts the frames it accepted.
    struct GatedEcho {
        accepted: std::sync::atomic::AtomicUsize,
        gate: watch::Receiver<bool>,
    }

    impl Handler for GatedEcho {
        type Pending = futures::future::BoxFuture<'static, Option<Vec<u8>>>;

        async fn accept(&self, frame: BytesMut) -> Self::Pending {
            self.accepted
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut gate = self.gate.clone();
            Box::pin(async move {
                let _ = gate.wait_for(|open| *open).await;
                Some(frame.to_vec())
            })
        }
    }

    #[tokio::test]
    async fn a_shutdown_while_the_replies_owed_are_full_keeps_every_accepted_reply() {
        let (mut client, server_side) = tokio::io::duplex(64 * 1024);
        let (open, gate) = watch::channel(false);
        let handler = Arc::new(GatedEcho {
            accepted: 0.into(),
            gate,
        });
        let (stop, shutdown) = watch::channel(false);
        let serving = tokio::spawn(serve_connection(
            Shared(server_side),
            handler.clone(),
            Arc::new(settings()),
            shutdown,
        ));
        for n in 0..20 {
            client
                .write_all(format!("\x02f{n:02}\x03").as_bytes())
                .await
                .unwrap();
        }
        // The writer holds one reply, `in_flight` wait in the queue, one more waits for room.
        let waiting_for_room = settings().in_flight + 2;
        while handler.accepted.load(std::sync::atomic::Ordering::SeqCst) < waiting_for_room {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        open.send(true).unwrap();
        let (closed, _) = serving.await.unwrap();
        let mut replies = Vec::new();
        client.read_to_end(&mut replies).await.unwrap();
        let accepted = handler.accepted.load(std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(closed, Closed::Shutdown), "{closed:?}");
        assert!(accepted < 20, "the shutdown stopped the reader: {accepted}");
        assert_eq!(
            replies.len(),
            accepted * 5,
            "a reply for every accepted frame"
        );
    }
}
