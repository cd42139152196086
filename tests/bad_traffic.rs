//! Bad traffic on some connections never disturbs the others (`docs/behaviour.md`,
//! Transport): an oversize frame, garbage between frames, a client dripping bytes past the read
//! deadline, a burst of idle connections, a header that cannot be read, and connections beyond
//! the limit. Each story runs while a well-behaved client keeps billing and must keep getting
//! correct answers (P, then D with the same authorization on resubmission).

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use durgate::limits::FRAME_BYTES_MAX;
use durgate::ncpdp::build::ClaimBuilder;
use durgate::wire::{ETX, STX};
use support::{
    authorization, days_ago, start_gateway, start_gateway_with, statuses, Client, Person,
    ATORVASTATIN_10MG, REPLY_TIMEOUT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Rounds the well-behaved client may run in one story (each round: a P and its D).
const STEADY_ROUNDS_MAX: u64 = 100_000;
/// The well-behaved client's Rx numbers start here (the stories' own claims use small ones).
const STEADY_RX_FIRST: u64 = 500_000_000;

/// A claim for its own patient (no DUR history), Rx `rx`.
fn fresh_claim(tag: &str, rx: u64) -> ClaimBuilder {
    Person::adult(&format!("{tag}{rx:09}")).b1(rx, ATORVASTATIN_10MG, days_ago(1))
}

/// A well-behaved client billing in a loop on its own connection: every claim must be paid
/// and its resubmission answered D with the same authorization.
struct Steady {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Result<u64, String>>,
}

impl Steady {
    /// Connects and waits for its first correct round.
    async fn start(addr: SocketAddr) -> Steady {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(steady_rounds(addr, stop.clone(), answered.clone()));
        let steady = Steady {
            stop,
            answered,
            task,
        };
        steady.wait_for_more_than(0).await;
        steady
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits (bounded) until more than `count` replies were answered correctly.
    async fn wait_for_more_than(&self, count: u64) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while self.answered() <= count {
            assert!(
                Instant::now() < deadline && !self.task.is_finished(),
                "the well-behaved client stopped getting answers"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the loop; panics if any answer was wrong.
    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let outcome = self.task.await.expect("steady task");
        outcome.unwrap_or_else(|problem| panic!("well-behaved client: {problem}"))
    }
}

async fn steady_rounds(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> Result<u64, String> {
    let mut client = Client::connect(addr).await;
    for rx in STEADY_RX_FIRST..STEADY_RX_FIRST + STEADY_ROUNDS_MAX {
        if stop.load(Ordering::Relaxed) {
            return Ok(answered.load(Ordering::Relaxed));
        }
        let claim = fresh_claim("STEADY", rx).encode();
        let paid = client.try_reply_to(&claim).await.ok_or("no reply")?;
        let again = client.try_reply_to(&claim).await.ok_or("no reply")?;
        let same = authorization(&again, 0) == authorization(&paid, 0);
        if statuses(&paid) != "P" || statuses(&again) != "D" || !same {
            return Err(format!("round {rx}: {paid:?} then {again:?}"));
        }
        answered.fetch_add(2, Ordering::Relaxed);
    }
    Ok(answered.load(Ordering::Relaxed))
}

/// Reads until the gateway closes the stream; the bytes it sent meanwhile.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the gateway kept the connection open");
    got
}

/// One claim framed with STX/ETX.
fn framed(claim: ClaimBuilder) -> Vec<u8> {
    claim.framed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_frame_closes_only_its_connection() {
    let gateway = start_gateway().await;
    let steady = Steady::start(gateway.addr).await;
    let before = steady.answered();
    let mut oversize = vec![STX];
    oversize.resize(FRAME_BYTES_MAX + 100, b'A');
    oversize.push(ETX);
    let mut bad = TcpStream::connect(gateway.addr).await.expect("connect");
    let _ = bad.write_all(&oversize).await; // the gateway may close before all is written
    assert!(read_until_closed(&mut bad).await.is_empty(), "no reply");
    steady.wait_for_more_than(before).await;
    steady.finish().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_noise_between_frames_is_skipped_but_a_garbage_run_closes() {
    let gateway = start_gateway().await;
    let steady = Steady::start(gateway.addr).await;
    let before = steady.answered();

    let mut noisy = Client::connect(gateway.addr).await;
    let claim = framed(fresh_claim("NOISY", 1));
    let stream = [&b"\r\n"[..], &claim, b"\r\n\r\n", &claim, b"\n"].concat();
    noisy.write_raw(&stream).await.expect("write");
    let first = noisy.reply().await;
    let second = noisy.reply().await;
    assert_eq!(
        (statuses(&first), statuses(&second)),
        ("P".into(), "D".into())
    );

    let mut garbage = TcpStream::connect(gateway.addr).await.expect("connect");
    let run = vec![b'x'; durgate::config::DEFAULT_GARBAGE_BYTES_MAX + 1];
    let _ = garbage.write_all(&run).await;
    assert!(read_until_closed(&mut garbage).await.is_empty(), "no reply");
    // The noisy connection is still served.
    let third = noisy.send(&fresh_claim("NOISY", 2).encode()).await;
    assert_eq!(statuses(&third), "P");
    steady.wait_for_more_than(before).await;
    steady.finish().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dripping_bytes_is_cut_off_at_the_read_deadline() {
    let read_timeout = Duration::from_millis(500);
    let gateway = start_gateway_with(|config| {
        config.limits.read_timeout_ms = read_timeout.as_millis() as u64;
    })
    .await;
    let steady = Steady::start(gateway.addr).await;
    let before = steady.answered();
    let bytes = framed(fresh_claim("DRIP", 1));
    let stream = TcpStream::connect(gateway.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let closed = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = reader.read_to_end(&mut got).await;
        (started.elapsed(), got)
    });
    // One byte every 20 ms: the whole frame would take seconds.
    for byte in &bytes {
        if closed.is_finished() || writer.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (after, got) = tokio::time::timeout(REPLY_TIMEOUT, closed)
        .await
        .expect("the gateway kept a dripping connection open")
        .expect("reader task");
    assert!(got.is_empty(), "a reply to an unfinished frame");
    assert!(
        after >= read_timeout,
        "cut after {after:?}, before the deadline"
    );
    assert!(
        after < read_timeout + Duration::from_millis(2_500),
        "cut after {after:?}"
    );
    steady.wait_for_more_than(before).await;
    steady.finish().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_idle_connections_does_not_stall_the_others() {
    let gateway = start_gateway().await;
    let steady = Steady::start(gateway.addr).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(Client::connect(gateway.addr).await);
    }
    let before = steady.answered();
    steady.wait_for_more_than(before + 20).await;
    // The idle connections were accepted, not refused: each can still bill.
    for (rx, client) in (1..).zip(idle.iter_mut().step_by(40)) {
        let reply = client.send(&fresh_claim("IDLE", rx).encode()).await;
        assert_eq!(statuses(&reply), "P");
    }
    drop(idle);
    steady.finish().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_cannot_be_read_gets_no_reply_and_the_connection_stays_open() {
    let gateway = start_gateway().await;
    let steady = Steady::start(gateway.addr).await;
    let before = steady.answered();
    let mut client = Client::connect(gateway.addr).await;
    client.send_only(b"HELLO").await;
    client.send_only(&[b'Z'; 120]).await;
    let reply = client.send(&fresh_claim("HEADER", 7).encode()).await;
    // The first reply on the connection answers the readable claim.
    let rx_number = reply.transactions[0].claim.map(|claim| claim.rx_number);
    assert_eq!((statuses(&reply), rx_number), ("P".into(), Some(7)));
    steady.wait_for_more_than(before).await;
    steady.finish().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once_and_the_others_work() {
    let gateway = start_gateway_with(|config| config.limits.connections_max = 3).await;
    let steady = Steady::start(gateway.addr).await;
    let mut holders = Vec::new();
    for rx in 1..=2 {
        let mut holder = Client::connect(gateway.addr).await;
        let reply = holder.send(&fresh_claim("HOLD", rx).encode()).await;
        assert_eq!(statuses(&reply), "P");
        holders.push(holder);
    }
    for rx in 7..=9 {
        let mut extra = Client::connect(gateway.addr).await;
        let _ = extra
            .try_send_only(&fresh_claim("EXTRA", rx).encode())
            .await;
        assert!(
            extra.is_closed_by_gateway().await,
            "an extra connection was served"
        );
    }

    let before = steady.answered();
    for (rx, holder) in (3..).zip(holders.iter_mut()) {
        let reply = holder.send(&fresh_claim("HOLD", rx).encode()).await;
        assert_eq!(statuses(&reply), "P");
    }
    steady.wait_for_more_than(before).await;

    // A closed connection frees its place.
    holders.pop();
    let mut served = None;
    for _ in 0..100 {
        let mut next = Client::connect(gateway.addr).await;
        if next
            .try_send_only(&fresh_claim("NEXT", 10).encode())
            .await
            .is_ok()
        {
            served = next.try_reply().await;
        }
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let served = served.expect("a place was freed by the closed connection");
    assert_eq!(statuses(&served), "P");
    steady.finish().await;
    gateway.stop().await;
}
