//! Crash safety and graceful shutdown of the real binary (`durgate serve` as a child process).
//!
//! A client streams pipelined claims; the child is killed with SIGKILL (or stopped with SIGTERM)
//! while claims are in flight. The contract: no P leaves before its record is durable, so every
//! claim the client saw paid is in the store after the crash, is answered D with the same
//! authorization after a restart, and still takes part in later DUR edits.

mod support;

use durgate::claim::Date;
use durgate::ncpdp::build::ClaimBuilder;
use durgate::ncpdp::Response;
use std::net::SocketAddr;
use std::time::Duration;
use support::{
    authorization, days_ago, dur_reasons, rejects, spawn_gateway_process, statuses, Client,
    GatewayProcess, Person, ProcessOptions, StoreView,
};

const WARFARIN_5MG: &str = "99999000101";
const IBUPROFEN_800MG: &str = "99999007101";

/// Claims the client offers in one stream.
const STREAM_CLAIMS: u64 = 400;
/// Claims the client keeps in flight.
const STREAM_WINDOW: u64 = 16;
/// Replies read before the child is stopped.
const REPLIES_BEFORE_STOP: u64 = 40;
/// How long a stopped child may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Claim `n` of a stream: warfarin for patient `n` (each claim its own patient and Rx).
fn stream_claim(tag: &str, n: u64, date_of_service: Date) -> ClaimBuilder {
    Person::adult(&format!("{tag}{n:05}")).b1(10_000 + n, WARFARIN_5MG, date_of_service)
}

/// A reply the client saw paid: which claim, with which authorization.
#[derive(Debug)]
struct Paid {
    claim: u64,
    authorization: String,
}

/// What the client does once the gateway was told to stop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    /// Keeps offering claims, as a switch unaware of the crash would.
    KeepSending,
    /// Sends nothing more and waits for the replies it is owed.
    AwaitReplies,
}

/// Streams up to [`STREAM_CLAIMS`] claims with [`STREAM_WINDOW`] in flight; after
/// [`REPLIES_BEFORE_STOP`] replies calls `stop`, then goes on as `after_stop` says until every
/// claim sent is answered or the gateway closes the connection. Returns the paid replies seen,
/// checking that each reply answers its request.
async fn stream_until_stopped(
    addr: SocketAddr,
    tag: &str,
    date_of_service: Date,
    after_stop: AfterStop,
    stop: impl FnOnce(),
) -> Vec<Paid> {
    let mut client = Client::connect(addr).await;
    let mut stop = Some(stop);
    let (mut sent, mut received, mut paid) = (0u64, 0u64, Vec::new());
    while sent < STREAM_WINDOW {
        let claim = stream_claim(tag, sent, date_of_service).encode();
        client.send_only(&claim).await;
        sent += 1;
    }
    while received < sent {
        let Some(reply) = client.try_reply().await else {
            break;
        };
        check_reply_order(&reply, received);
        if statuses(&reply) == "P" {
            paid.push(Paid {
                claim: received,
                authorization: authorization(&reply, 0),
            });
        }
        received += 1;
        if received == REPLIES_BEFORE_STOP {
            if let Some(stop) = stop.take() {
                stop();
            }
        }
        let sending = stop.is_some() || after_stop == AfterStop::KeepSending;
        if sending && sent < STREAM_CLAIMS {
            let claim = stream_claim(tag, sent, date_of_service).encode();
            if client.try_send_only(&claim).await.is_ok() {
                sent += 1;
            }
        }
    }
    assert!(stop.is_none(), "the stream ended before the stop point");
    paid
}

fn check_reply_order(reply: &Response, index: u64) {
    let rx_number = reply.transactions[0].claim.map(|claim| claim.rx_number);
    assert_eq!(rx_number, Some(10_000 + index), "replies out of order");
}

/// Every paid reply has its claim paid in the store under the same authorization.
fn assert_paid_in_store(store: &StoreView, paid: &[Paid]) {
    for seen in paid {
        let row = store
            .claim_by_authorization(&seen.authorization)
            .unwrap_or_else(|| panic!("paid {seen:?} is not in the store"));
        assert!(row.counts_as_paid(), "{row:?}");
        assert_eq!(row.rx_number, 10_000 + seen.claim as i64, "{row:?}");
    }
}

fn start(options: &ProcessOptions) -> GatewayProcess {
    tokio::task::block_in_place(|| spawn_gateway_process(options))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_answered_paid_before_a_sigkill_survive_the_restart() {
    let folder = tempfile::tempdir().expect("temp dir");
    let options = ProcessOptions::new(&folder.path().join("claims.db"));
    let day = days_ago(2);
    let mut child = start(&options);
    let addr = child.addr;
    let paid =
        stream_until_stopped(addr, "CRASH", day, AfterStop::KeepSending, || child.kill()).await;
    let seen = paid.len() as u64;
    assert!(seen >= REPLIES_BEFORE_STOP, "only {seen} paid replies");
    assert!(seen < STREAM_CLAIMS, "the kill did not cut the stream");
    assert_paid_in_store(&StoreView::open(&options.store_path), &paid);

    let restarted = start(&options);
    let mut client = Client::connect(restarted.addr).await;
    for seen in &paid {
        let again = client
            .send(&stream_claim("CRASH", seen.claim, day).encode())
            .await;
        assert_eq!(statuses(&again), "D", "{seen:?}: {again:?}");
        assert_eq!(authorization(&again, 0), seen.authorization);
    }
    // The history rebuilt from the store still sees the warfarin fills.
    for seen in paid.iter().take(3) {
        let patient = Person::adult(&format!("CRASH{:05}", seen.claim));
        let nsaid = patient.b1(20_000 + seen.claim, IBUPROFEN_800MG, days_ago(1));
        let reply = client.send(&nsaid.encode()).await;
        assert_eq!(
            (statuses(&reply), rejects(&reply, 0)),
            ("R".to_string(), vec!["88".to_string()]),
            "{reply:?}"
        );
        assert_eq!(dur_reasons(&reply, 0), ["DD"]);
        assert_eq!(reply.transactions[0].dur[0].previous_fill_date, Some(day));
    }
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_claims_and_exits_zero() {
    let folder = tempfile::tempdir().expect("temp dir");
    let options = ProcessOptions::new(&folder.path().join("claims.db"));
    let mut child = start(&options);
    let addr = child.addr;
    let stop = || child.terminate();
    let paid = stream_until_stopped(addr, "TERM", days_ago(2), AfterStop::AwaitReplies, stop).await;
    let status = tokio::task::block_in_place(|| child.wait_exit(EXIT_TIMEOUT));
    let status = status.unwrap_or_else(|| panic!("still running; log:\n{}", child.logs()));
    assert!(status.success(), "{status:?}; log:\n{}", child.logs());
    assert!(paid.len() as u64 >= REPLIES_BEFORE_STOP);
    let store = StoreView::open(&options.store_path);
    assert_paid_in_store(&store, &paid);
    // Every claim in flight at the signal was finished and answered: nothing recorded unsaid.
    let recorded = store.number("SELECT count(*) FROM claims");
    assert_eq!(recorded, paid.len() as i64);
    assert!(
        recorded as u64 > REPLIES_BEFORE_STOP,
        "nothing was in flight"
    );
    let logs = child.logs();
    assert!(
        logs.contains("claim store committed and closed"),
        "no clean close in the log:\n{logs}"
    );
}
