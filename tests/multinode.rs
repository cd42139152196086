//! Three `durgate serve` processes on one PostgreSQL database, as behind one switch.
//!
//! A fill paid on node A blocks its interaction partner on node B; a reversal on node C frees
//! it; the same claim sent to two nodes at once is paid once and answered D once, the same
//! reversal approved once and answered S once; a node killed
//! with SIGKILL in the middle of a stream loses nothing it acknowledged, and the other two keep
//! serving with everything it committed. Skips (saying why) without a PostgreSQL server.

mod support;

use durgate::ncpdp::build::ClaimBuilder;
use std::net::SocketAddr;
use support::pg::PgSchema;
use support::{
    authorization, days_ago, dur_reasons, rejects, spawn_gateway_process, statuses, Client,
    GatewayProcess, Person, ProcessOptions,
};

const WARFARIN_5MG: &str = "99999000101";
const IBUPROFEN_800MG: &str = "99999007101";
const ATORVASTATIN_10MG: &str = "67877051190";

/// Claims sent to two nodes at once, one patient each.
const RACE_ROUNDS: u64 = 12;
/// Claims offered to the node that is killed, and how many stay in flight.
const STREAM_CLAIMS: u64 = 300;
const STREAM_WINDOW: u64 = 16;
/// Replies read from that node before it is killed.
const REPLIES_BEFORE_KILL: u64 = 40;

struct Nodes {
    a: GatewayProcess,
    b: GatewayProcess,
    c: GatewayProcess,
}

fn start_nodes(schema: &PgSchema) -> Nodes {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut options = ProcessOptions::new(&folder.path().join("unused.db"));
    options.store_url = Some(schema.url());
    tokio::task::block_in_place(|| Nodes {
        a: spawn_gateway_process(&options),
        b: spawn_gateway_process(&options),
        c: spawn_gateway_process(&options),
    })
}

/// The answer's status letter and reject codes.
async fn answer(client: &mut Client, claim: ClaimBuilder) -> (String, Vec<String>, String) {
    let reply = client.send(&claim.encode()).await;
    (
        statuses(&reply),
        rejects(&reply, 0),
        authorization(&reply, 0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_fills_reversals_and_races_through_the_database() {
    let Some(schema) = PgSchema::create("multinode") else {
        return;
    };
    let nodes = start_nodes(&schema);
    let mut a = Client::connect(nodes.a.addr).await;
    let mut b = Client::connect(nodes.b.addr).await;
    let mut c = Client::connect(nodes.c.addr).await;

    // Paid on A; its interaction partner arrives on B.
    let patient = Person::adult("MULTI00001");
    let first_day = days_ago(3);
    let (status, _, paid_on_a) = answer(&mut a, patient.b1(1, WARFARIN_5MG, first_day)).await;
    assert_eq!(status, "P");
    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(1));
    let reply = b.send(&nsaid.clone().encode()).await;
    assert_eq!(
        (statuses(&reply), rejects(&reply, 0)),
        ("R".into(), vec!["88".into()])
    );
    assert_eq!(dur_reasons(&reply, 0), ["DD"]);

    // Reversed on C (without patient segments); the partner then pays on B.
    let reversal = patient.b2(1, WARFARIN_5MG, first_day).no_patient();
    let (status, _, reversal_number) = answer(&mut c, reversal.clone()).await;
    assert_eq!(status, "A");
    assert_ne!(reversal_number, paid_on_a);
    assert_eq!(answer(&mut a, reversal).await.0, "S", "A sees C's reversal");
    assert_eq!(answer(&mut b, nsaid).await.0, "P");

    race_the_same_claim_on_two_nodes(&nodes.a, &nodes.b, &schema).await;
    race_the_same_reversal_on_two_nodes(&nodes.a, &nodes.b).await;
    race_another_product_on_two_nodes(&nodes.a, &nodes.b, &schema).await;
    kill_a_node_mid_stream(nodes, &schema).await;
}

/// Each round sends one claim to A and B at the same moment: one P, one D with its number.
async fn race_the_same_claim_on_two_nodes(
    a: &GatewayProcess,
    b: &GatewayProcess,
    schema: &PgSchema,
) {
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    for round in 0..RACE_ROUNDS {
        let patient = Person::adult(&format!("RACE{round:06}"));
        let claim = patient
            .b1(500 + round, ATORVASTATIN_10MG, days_ago(1))
            .encode();
        let (first, second) = tokio::join!(on_a.send(&claim), on_b.send(&claim));
        let mut answers = [
            (statuses(&first), authorization(&first, 0)),
            (statuses(&second), authorization(&second, 0)),
        ];
        answers.sort();
        let [(duplicate, number_d), (paid, number_p)] = answers;
        assert_eq!(
            (duplicate.as_str(), paid.as_str()),
            ("D", "P"),
            "round {round}"
        );
        assert_eq!(
            number_d, number_p,
            "round {round}: D carries the paid claim's number"
        );
    }
    let paid = schema.number(
        "SELECT count(*) FROM claims WHERE rx_number BETWEEN 500 AND 599 AND status = 'paid'",
    );
    assert_eq!(
        paid, RACE_ROUNDS as i64,
        "each raced claim is recorded paid once"
    );
    // Both nodes usually read the database before either commits: then the unique index, not
    // a history read, decides, and the loser's store answers AlreadyPaid (logged), sent as D.
    let caught: usize = [a, b]
        .iter()
        .map(|node| node.logs().matches("already paid").count())
        .sum();
    assert!(
        caught >= 1,
        "no round raced past the history reads of both nodes"
    );
}

/// Each round sends the same Rx, fill and date with two different products to A and B at the
/// same moment: one P, and the other 83 without an authorization — whether its node saw the
/// paid claim before planning or only the unique index at commit.
async fn race_another_product_on_two_nodes(
    a: &GatewayProcess,
    b: &GatewayProcess,
    schema: &PgSchema,
) {
    let caught = || -> usize {
        [a, b]
            .iter()
            .map(|node| node.logs().matches("already paid").count())
            .sum()
    };
    let caught_before = caught();
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    for round in 0..RACE_ROUNDS {
        let patient = Person::adult(&format!("PROD{round:06}"));
        let rx = 900 + round;
        let atorvastatin = patient.b1(rx, ATORVASTATIN_10MG, days_ago(1)).encode();
        let warfarin = patient.b1(rx, WARFARIN_5MG, days_ago(1)).encode();
        let (first, second) = tokio::join!(on_a.send(&atorvastatin), on_b.send(&warfarin));
        let mut answers = [
            (
                statuses(&first),
                rejects(&first, 0),
                authorization(&first, 0),
            ),
            (
                statuses(&second),
                rejects(&second, 0),
                authorization(&second, 0),
            ),
        ];
        answers.sort();
        let [(paid, _, number), (refused, codes, none)] = answers;
        assert_eq!(
            (paid.as_str(), refused.as_str()),
            ("P", "R"),
            "round {round}"
        );
        assert_eq!(codes, ["83"], "round {round}");
        assert!(!number.is_empty() && none.is_empty(), "round {round}");
    }
    let paid = schema.number(
        "SELECT count(*) FROM claims WHERE rx_number BETWEEN 900 AND 999 AND status = 'paid'",
    );
    assert_eq!(paid, RACE_ROUNDS as i64, "one product paid per raced key");
    assert!(
        caught() > caught_before,
        "no round reached the unique index at commit (the path that answered D before)"
    );
}

/// Each round pays a claim, then sends its reversal to A and B at the same moment: one A, one S.
async fn race_the_same_reversal_on_two_nodes(a: &GatewayProcess, b: &GatewayProcess) {
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    for round in 0..RACE_ROUNDS {
        let patient = Person::adult(&format!("UNDO{round:06}"));
        let day = days_ago(1);
        let paid = on_a
            .send(&patient.b1(700 + round, ATORVASTATIN_10MG, day).encode())
            .await;
        assert_eq!(statuses(&paid), "P", "round {round}");
        let reversal = patient.b2(700 + round, ATORVASTATIN_10MG, day).encode();
        let (first, second) = tokio::join!(on_a.send(&reversal), on_b.send(&reversal));
        let mut answers = [statuses(&first), statuses(&second)];
        answers.sort();
        assert_eq!(answers, ["A", "S"], "round {round}: {first:?} {second:?}");
    }
    // As for claims: usually both nodes find the claim paid, and the row lock decides.
    let caught: usize = [a, b]
        .iter()
        .map(|node| node.logs().matches("is already reversed").count())
        .sum();
    assert!(
        caught >= 1,
        "no round raced past the history reads of both nodes"
    );
}

/// Claim `n` of the stream sent to the node that is killed.
fn stream_claim(n: u64) -> ClaimBuilder {
    Person::adult(&format!("KILL{n:06}")).b1(10_000 + n, WARFARIN_5MG, days_ago(2))
}

/// Streams claims to C, SIGKILLs it after [`REPLIES_BEFORE_KILL`] replies, then checks that
/// every P it sent is in the database and that A and B go on with C's fills.
async fn kill_a_node_mid_stream(mut nodes: Nodes, schema: &PgSchema) {
    let addr = nodes.c.addr;
    let paid = stream_until_killed(addr, || nodes.c.kill()).await;
    assert!(
        paid.len() as u64 >= REPLIES_BEFORE_KILL,
        "{} paid",
        paid.len()
    );
    assert!(
        (paid.len() as u64) < STREAM_CLAIMS,
        "the kill did not cut the stream"
    );
    for (claim, number) in &paid {
        let sql = format!(
            "SELECT count(*) FROM claims WHERE \"authorization\" = '{number}' \
             AND rx_number = {} AND status = 'paid' AND reversed_at_ms IS NULL",
            10_000 + claim
        );
        assert_eq!(schema.number(&sql), 1, "acknowledged claim {claim} lost");
    }
    let mut a = Client::connect(nodes.a.addr).await;
    let mut b = Client::connect(nodes.b.addr).await;
    for (claim, number) in &paid {
        let again = a.send(&stream_claim(*claim).encode()).await;
        assert_eq!(
            (statuses(&again), authorization(&again, 0)),
            ("D".into(), number.clone())
        );
    }
    // C's committed fills take part in B's edits.
    let (claim, _) = paid[0];
    let patient = Person::adult(&format!("KILL{claim:06}"));
    let nsaid = patient.b1(20_000 + claim, IBUPROFEN_800MG, days_ago(1));
    let reply = b.send(&nsaid.encode()).await;
    assert_eq!(
        (statuses(&reply), rejects(&reply, 0)),
        ("R".into(), vec!["88".into()])
    );
    let fresh = Person::adult("AFTERKILL1").b1(1, ATORVASTATIN_10MG, days_ago(1));
    assert_eq!(answer(&mut b, fresh).await.0, "P");
}

/// The paid replies (claim number, authorization) seen before the connection died.
async fn stream_until_killed(addr: SocketAddr, kill: impl FnOnce()) -> Vec<(u64, String)> {
    let mut client = Client::connect(addr).await;
    let mut kill = Some(kill);
    let (mut sent, mut received, mut paid) = (0u64, 0u64, Vec::new());
    while sent < STREAM_WINDOW {
        client.send_only(&stream_claim(sent).encode()).await;
        sent += 1;
    }
    while received < sent {
        let Some(reply) = client.try_reply().await else {
            break;
        };
        let rx_number = reply.transactions[0].claim.map(|claim| claim.rx_number);
        assert_eq!(rx_number, Some(10_000 + received), "replies out of order");
        if statuses(&reply) == "P" {
            paid.push((received, authorization(&reply, 0)));
        }
        received += 1;
        if received == REPLIES_BEFORE_KILL {
            if let Some(kill) = kill.take() {
                tokio::task::block_in_place(kill);
            }
        }
        if sent < STREAM_CLAIMS
            && client
                .try_send_only(&stream_claim(sent).encode())
                .await
                .is_ok()
        {
            sent += 1;
        }
    }
    assert!(kill.is_none(), "the stream ended before the kill");
    paid
}
