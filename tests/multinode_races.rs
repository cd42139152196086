//! One patient, several nodes: claims that conflict with each other, sent at the same instant
//! to two different `durgate serve` processes on one PostgreSQL database, are never both paid.
//!
//! Three nodes share a schema. For each of 500 fresh patients, warfarin goes to node A and
//! naproxen (a severity-2 interaction, rejected 88) to node B at once; for each of 500 more,
//! sertraline goes to node B and fluoxetine (two SSRIs, a therapeutic duplication) to node C
//! at once. Every pair ends with exactly one claim paid and the other rejected 88 with its
//! DUR reason, whichever node read the history first; no claim is lost or answered twice, and
//! the database holds exactly the claims answered paid, with their authorization numbers.
//! Skips (saying why) without a PostgreSQL server.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;

use support::pg::PgSchema;
use support::{
    authorization, days_ago, dur_reasons, rejects, spawn_gateway_process, statuses, Client,
    GatewayProcess, Person, ProcessOptions,
};

const WARFARIN_5MG: &str = "99999000101";
const NAPROXEN_500MG: &str = "99999007201";
const SERTRALINE_50MG: &str = "99999001701";
const FLUOXETINE_20MG: &str = "99999001901";

/// Patients raced per pair of products.
const PATIENTS: u64 = 500;
/// Client connections to each node of a pair; each sends its patients' pairs one after another.
const CONNECTIONS: u64 = 16;

/// One pair race: the two products, the nodes they go to, and the DUR reason the loser gets.
struct Race<'a> {
    name: &'a str,
    first: (&'a GatewayProcess, &'a str),
    second: (&'a GatewayProcess, &'a str),
    reason: &'a str,
    rx_base: u64,
}

/// What one claim of a pair was answered: status, reject codes, DUR reasons, authorization.
#[derive(Debug, Clone)]
struct Answer {
    status: String,
    rejects: Vec<String>,
    reasons: Vec<String>,
    authorization: String,
}

fn answer_of(reply: &durgate::ncpdp::Response) -> Answer {
    Answer {
        status: statuses(reply),
        rejects: rejects(reply, 0),
        reasons: dur_reasons(reply, 0),
        authorization: authorization(reply, 0),
    }
}

fn start_nodes(schema: &PgSchema) -> [GatewayProcess; 3] {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut options = ProcessOptions::new(&folder.path().join("unused.db"));
    options.store_url = Some(schema.url());
    tokio::task::block_in_place(|| [0, 1, 2].map(|_| spawn_gateway_process(&options)))
}

/// The patients of connection pair `lane`, each pair sent to both nodes at the same instant.
async fn race_lane(
    first: (SocketAddr, String),
    second: (SocketAddr, String),
    name: String,
    rx_base: u64,
    lane: u64,
) -> Vec<(Answer, Answer)> {
    let mut on_first = Client::connect(first.0).await;
    let mut on_second = Client::connect(second.0).await;
    let mut answers = Vec::new();
    for patient in (lane..PATIENTS).step_by(CONNECTIONS as usize) {
        let person = Person::adult(&format!("{name}{patient:05}"));
        let date = days_ago(1);
        let claim_a = person.b1(rx_base + patient, &first.1, date).encode();
        let claim_b = person
            .b1(rx_base + PATIENTS + patient, &second.1, date)
            .encode();
        let (a, b) = tokio::join!(on_first.send(&claim_a), on_second.send(&claim_b));
        answers.push((answer_of(&a), answer_of(&b)));
    }
    answers
}

/// The first warning and error lines of both nodes of a race (for a failure message).
fn warnings(race: &Race<'_>) -> String {
    [race.first.0, race.second.0]
        .iter()
        .flat_map(|node| {
            let logs = node.logs();
            let lines: Vec<String> = logs
                .lines()
                .filter(|line| line.contains("ERROR") || line.contains("WARN"))
                .take(5)
                .map(str::to_owned)
                .collect();
            lines
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs one race over every patient and checks each pair and the database.
async fn run(race: Race<'_>, schema: &PgSchema) {
    let lanes = (0..CONNECTIONS).map(|lane| {
        tokio::spawn(race_lane(
            (race.first.0.addr, race.first.1.to_owned()),
            (race.second.0.addr, race.second.1.to_owned()),
            race.name.to_owned(),
            race.rx_base,
            lane,
        ))
    });
    let mut pairs = Vec::new();
    for lane in lanes.collect::<Vec<_>>() {
        pairs.extend(lane.await.expect("a lane finished"));
    }
    assert_eq!(
        pairs.len() as u64,
        PATIENTS,
        "{}: every pair answered",
        race.name
    );
    let mut paid_numbers = HashSet::new();
    for (index, (a, b)) in pairs.iter().enumerate() {
        let mut statuses = [a.status.as_str(), b.status.as_str()];
        statuses.sort();
        assert_eq!(
            statuses,
            ["P", "R"],
            "{} pair {index}: {a:?} / {b:?}\n{}",
            race.name,
            warnings(&race)
        );
        let (paid, rejected) = if a.status == "P" { (a, b) } else { (b, a) };
        assert_eq!(
            rejected.rejects,
            ["88"],
            "{} pair {index}: {rejected:?}\n{}",
            race.name,
            warnings(&race)
        );
        assert_eq!(
            rejected.reasons,
            [race.reason],
            "{} pair {index}",
            race.name
        );
        assert!(
            paid_numbers.insert(paid.authorization.clone()),
            "{}: number twice",
            race.name
        );
    }
    let (low, high) = (race.rx_base, race.rx_base + 2 * PATIENTS);
    let stored = schema.number(&format!(
        "SELECT count(*) FROM claims WHERE rx_number >= {low} AND rx_number < {high} \
         AND status = 'paid'"
    ));
    assert_eq!(
        stored as u64, PATIENTS,
        "{}: one paid claim per patient",
        race.name
    );
    let rows = schema.number(&format!(
        "SELECT count(*) FROM claims WHERE rx_number >= {low} AND rx_number < {high}"
    ));
    assert_eq!(
        rows as u64,
        2 * PATIENTS,
        "{}: each claim recorded once",
        race.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_claims_on_two_nodes_at_once_are_never_both_paid() {
    let Some(schema) = PgSchema::create("patient_races") else {
        return;
    };
    let [a, b, c] = start_nodes(&schema);
    let races = [
        (
            "DDI",
            (&a, WARFARIN_5MG),
            (&b, NAPROXEN_500MG),
            "DD",
            100_000,
        ),
        (
            "TDUP",
            (&b, SERTRALINE_50MG),
            (&c, FLUOXETINE_20MG),
            "TD",
            200_000,
        ),
    ];
    for (name, first, second, reason, rx_base) in races {
        let race = Race {
            name,
            first,
            second,
            reason,
            rx_base,
        };
        run(race, &schema).await;
    }
    let replans: f64 = [&a, &b, &c].iter().map(|node| replans_of(node)).sum();
    eprintln!("transmissions planned again after a refused commit: {replans}");
    assert!(
        replans >= 1.0,
        "no pair raced past both history reads: the story proves nothing"
    );
}

/// The node's `durgate_patient_replans_total`.
fn replans_of(node: &GatewayProcess) -> f64 {
    let (_, page) = support::http_get(node.admin, "/metrics").expect("a /metrics page");
    page.lines()
        .find_map(|line| line.strip_prefix("durgate_patient_replans_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}
