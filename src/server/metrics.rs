//! Every metric the gateway exports, recorded through the functions of this module only.
//!
//! Tier 3. Names start with `durgate_`, follow Prometheus conventions (base units in the name,
//! `_total` counters) and are served by the admin endpoint at `/metrics` from the
//! `metrics-exporter-prometheus` recorder installed by [`install`]. Histograms use explicit
//! buckets. Labels come only from fixed enums (transaction code, status, edit, reject family,
//! NCPDP code lists, refusal reasons).
//!
//! Must never: take a label value from claim data — no BIN, NDC, pharmacy, prescriber or
//! patient value ever becomes a label.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::claim::{self, Action, Edit, RejectCode, Status, TransactionCode};

use super::connection::Closed;

pub const CLAIMS: &str = "durgate_claims_total";
pub const REJECT_CODES: &str = "durgate_reject_codes_total";
pub const DUR_CONFLICTS: &str = "durgate_dur_conflicts_total";
pub const OVERRIDES: &str = "durgate_overrides_total";
pub const DUPLICATES: &str = "durgate_duplicates_total";
pub const REVERSALS: &str = "durgate_reversals_total";
pub const FRAMES_REFUSED: &str = "durgate_frames_refused_total";
pub const CONNECTIONS: &str = "durgate_connections_total";
pub const RULE_RELOADS: &str = "durgate_rule_reloads_total";
pub const CLAIM_LATENCY: &str = "durgate_claim_latency_seconds";
pub const ADJUDICATION_TIME: &str = "durgate_adjudication_seconds";
pub const STORE_COMMIT_LATENCY: &str = "durgate_store_commit_seconds";
pub const STORE_BATCH_RECORDS: &str = "durgate_store_batch_records";
pub const OPEN_CONNECTIONS: &str = "durgate_open_connections";
pub const IN_FLIGHT_CLAIMS: &str = "durgate_in_flight_claims";
pub const STORE_QUEUE_DEPTH: &str = "durgate_store_queue_depth";
pub const HISTORY_PATIENTS: &str = "durgate_history_patients";
pub const HISTORY_FILLS: &str = "durgate_history_fills";
pub const RULES_INFO: &str = "durgate_rules_info";
pub const TLS_RELOADS: &str = "durgate_tls_reloads_total";
pub const TLS_HANDSHAKE_FAILURES: &str = "durgate_tls_handshake_failures_total";
pub const BUILD_INFO: &str = "durgate_build_info";
pub const READY: &str = "durgate_ready";
pub const HISTORY_FULL: &str = "durgate_history_full_total";
pub const HISTORY_TRUNCATED: &str = "durgate_history_truncated_patients";
pub const HISTORY_RECALLS: &str = "durgate_history_recalls_total";
pub const PATIENT_REPLANS: &str = "durgate_patient_replans_total";
pub const CONNECTIONS_CLOSED: &str = "durgate_connections_closed_total";
pub const SCOPE_REFUSALS: &str = "durgate_scope_refusals_total";
/// Prefix of the process metrics (`durgate_process_cpu_seconds_total`, `..._open_fds`, ...).
const PROCESS_PREFIX: &str = "durgate_";

/// Latency buckets (seconds): 50 µs .. 2.5 s.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];
/// Adjudication buckets (seconds): 1 µs .. 10 ms.
const ADJUDICATION_BUCKETS_SECONDS: &[f64] = &[
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.001,
    0.01,
];
/// Batch-size buckets (records).
const BATCH_BUCKETS_RECORDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Installs the process-wide recorder once (later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE.get_or_init(build_recorder).clone()
}

fn build_recorder() -> PrometheusHandle {
    let buckets = [
        (CLAIM_LATENCY, LATENCY_BUCKETS_SECONDS),
        (STORE_COMMIT_LATENCY, LATENCY_BUCKETS_SECONDS),
        (ADJUDICATION_TIME, ADJUDICATION_BUCKETS_SECONDS),
        (STORE_BATCH_RECORDS, BATCH_BUCKETS_RECORDS),
    ];
    let builder = buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |builder, (name, bounds)| {
            builder
                .set_buckets_for_metric(Matcher::Full(name.to_string()), bounds)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        });
    match builder.install_recorder() {
        Ok(handle) => {
            describe_all();
            PROCESS
                .get_or_init(|| metrics_process::Collector::new(PROCESS_PREFIX))
                .describe();
            start_at_zero();
            handle
        }
        // Another recorder is already global (an embedding program): export an empty registry.
        Err(_) => PrometheusBuilder::new().build_recorder().handle(),
    }
}

/// The `# HELP` text of every family (Prometheus conventions and `promtool check metrics`
/// want one for each).
fn describe_all() {
    for (name, help) in COUNTERS {
        describe_counter!(name, help);
    }
    for (name, help) in HISTOGRAMS {
        describe_histogram!(name, help);
    }
    for (name, help) in GAUGES {
        describe_gauge!(name, help);
    }
}

/// The counters and what each counts.
const COUNTERS: [(&str, &str); 16] = [
    (CLAIMS, "Transactions answered, by transaction code and status."),
    (REJECT_CODES, "Reject codes sent, by reject-code family."),
    (CONNECTIONS_CLOSED, "Claim connections closed, by reason (client, deadline, frame error, shutdown)."),
    (DUR_CONFLICTS, "DUR conflicts raised, by edit and action."),
    (OVERRIDES, "DUR/PPS overrides submitted against a conflict, by edit, professional service code and outcome."),
    (DUPLICATES, "Billings answered D: a duplicate of a paid claim."),
    (REVERSALS, "Reversals answered, by outcome."),
    (FRAMES_REFUSED, "Frames refused without a reply, by reason."),
    (CONNECTIONS, "Claim connections accepted, refused at the limit, closed by a listener's allow-list (not_allowed), or not accepted for want of descriptors (accept_failed)."),
    (RULE_RELOADS, "Rule-table reloads, by outcome."),
    (TLS_RELOADS, "TLS certificate reloads, by endpoint (claims, admin) and outcome."),
    (TLS_HANDSHAKE_FAILURES, "TLS handshakes that failed or timed out, by endpoint (claims, admin) and reason."),
    (HISTORY_FULL, "Claims answered 99 because the embedded DUR history had no room for their patient."),
    (HISTORY_RECALLS, "Transmissions whose claim matching read the store because the embedded history may have dropped the claim."),
    (SCOPE_REFUSALS, "Transmissions refused because their BIN or pharmacy is outside the client certificate's scope, by reason."),
    (PATIENT_REPLANS, "Transmissions read and planned again because another node paid a claim of the same patient before they committed (shared store)."),
];

/// The histograms and what each measures.
const HISTOGRAMS: [(&str, &str); 4] = [
    (
        CLAIM_LATENCY,
        "Time from a complete frame to its encoded reply.",
    ),
    (
        ADJUDICATION_TIME,
        "Time to plan and adjudicate one transmission.",
    ),
    (STORE_COMMIT_LATENCY, "Time to commit one store batch."),
    (STORE_BATCH_RECORDS, "Transmission records per store batch."),
];

/// The gauges and what each shows.
const GAUGES: [(&str, &str); 9] = [
    (OPEN_CONNECTIONS, "Claim connections open now."),
    (IN_FLIGHT_CLAIMS, "Transmissions read and not yet answered."),
    (
        STORE_QUEUE_DEPTH,
        "Records queued for the store and not yet committed.",
    ),
    (HISTORY_PATIENTS, "Patients in the in-memory DUR history."),
    (HISTORY_FILLS, "Fills in the in-memory DUR history."),
    (
        HISTORY_TRUNCATED,
        "Patients over the fills kept per patient: their DUR edits see only their newest fills.",
    ),
    (
        READY,
        "The last /readyz answer: 1 ready, 0 not ready (updated each time /readyz is asked).",
    ),
    (
        BUILD_INFO,
        "The running build: always 1, with its version and commit as labels.",
    ),
    (
        RULES_INFO,
        "Rule tables by id and version: 1 for the live tables, 0 for retired ones.",
    ),
];

/// Statuses each transaction code can be answered with.
const STATUSES_BY_CODE: [(TransactionCode, &[Status]); 4] = [
    (
        TransactionCode::B1,
        &[Status::Paid, Status::Rejected, Status::Duplicate],
    ),
    (
        TransactionCode::B2,
        &[
            Status::Approved,
            Status::Rejected,
            Status::DuplicateOfApproved,
        ],
    ),
    (
        TransactionCode::B3,
        &[Status::Paid, Status::Rejected, Status::Duplicate],
    ),
    (TransactionCode::E1, &[Status::Approved, Status::Rejected]),
];
const REJECT_FAMILIES: [&str; 6] = [
    "dur",
    "early_refill",
    "not_covered",
    "reversal",
    "host",
    "validation",
];
/// Every reason `Closed::reason` gives (frame errors included), and the two a connection ends
/// with before it is served ([`connection_ended_early`]).
const CLOSE_REASONS: [&str; 13] = [
    "client",
    "shutdown",
    "read_timeout",
    "idle_timeout",
    "write_timeout",
    "writer_gone",
    "tls_handshake",
    "oversize",
    "garbage",
    "truncated",
    "io",
    "proxy_header",
    "not_allowed",
];
const FRAME_REFUSALS: [&str; 7] = [
    "not_d0",
    "oversize",
    "garbage",
    "truncated",
    "read_timeout",
    "tls_handshake",
    "proxy_header",
];

/// Every counter series an alert or dashboard panel queries, and every histogram, present
/// at zero from start-up (a series that appears on first use has no rate to alert on).
/// Overrides appear on first use: their professional-service label has too many values.
fn start_at_zero() {
    gauge!(BUILD_INFO, "version" => crate::version::VERSION, "commit" => crate::version::COMMIT)
        .set(1.0);
    for (code, statuses) in STATUSES_BY_CODE {
        for status in statuses {
            counter!(CLAIMS, "transaction_code" => code.as_str(), "status" => status.as_str())
                .absolute(0);
        }
    }
    for family in REJECT_FAMILIES {
        counter!(REJECT_CODES, "family" => family).absolute(0);
    }
    for edit in Edit::ALL {
        for action in ["reject", "warn"] {
            counter!(DUR_CONFLICTS, "edit" => edit.as_str(), "action" => action).absolute(0);
        }
    }
    for reason in FRAME_REFUSALS {
        counter!(FRAMES_REFUSED, "reason" => reason).absolute(0);
    }
    start_outcomes_at_zero();
    for name in [
        CLAIM_LATENCY,
        ADJUDICATION_TIME,
        STORE_COMMIT_LATENCY,
        STORE_BATCH_RECORDS,
    ] {
        let _registered = histogram!(name);
    }
}

fn start_outcomes_at_zero() {
    counter!(DUPLICATES).absolute(0);
    counter!(HISTORY_FULL).absolute(0);
    counter!(PATIENT_REPLANS).absolute(0);
    for refusal in crate::server::scope::Refusal::ALL {
        counter!(SCOPE_REFUSALS, "reason" => refusal.as_str()).absolute(0);
    }
    for outcome in ["approved", "already_reversed", "not_found", "rejected"] {
        counter!(REVERSALS, "outcome" => outcome).absolute(0);
    }
    for outcome in ["accepted", "refused", "not_allowed", "accept_failed"] {
        counter!(CONNECTIONS, "outcome" => outcome).absolute(0);
    }
    for reason in CLOSE_REASONS {
        counter!(CONNECTIONS_CLOSED, "reason" => reason).absolute(0);
    }
    for outcome in ["ok", "refused"] {
        counter!(RULE_RELOADS, "outcome" => outcome).absolute(0);
    }
}

/// The text exposition for `/metrics` (process metrics sampled now).
pub fn render() -> String {
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Families of reject codes, for a bounded label set.
pub fn reject_family(code: RejectCode) -> &'static str {
    use claim::reject;
    match code {
        reject::DUR_REJECT => "dur",
        reject::REFILL_TOO_SOON => "early_refill",
        reject::NOT_COVERED => "not_covered",
        reject::REVERSAL_NOT_PROCESSED => "reversal",
        reject::HOST_PROCESSING_ERROR => "host",
        _ => "validation",
    }
}

fn professional_label(code: Option<claim::Code2>) -> &'static str {
    let text = code.as_ref().map(claim::Code2::as_str).unwrap_or("");
    claim::codes::PROFESSIONAL_SERVICE
        .iter()
        .find(|known| **known == text)
        .copied()
        .unwrap_or("other")
}

pub fn claim_answered(code: TransactionCode, status: Status) {
    counter!(CLAIMS, "transaction_code" => code.as_str(), "status" => status.as_str()).increment(1);
}

pub fn reject_code(code: RejectCode) {
    counter!(REJECT_CODES, "family" => reject_family(code)).increment(1);
}

pub fn dur_conflict(edit: Edit, action: Action) {
    let action = match action {
        Action::Reject => "reject",
        Action::Warn => "warn",
    };
    counter!(DUR_CONFLICTS, "edit" => edit.as_str(), "action" => action).increment(1);
}

pub fn override_outcome(edit: Edit, professional: Option<claim::Code2>, accepted: bool) {
    let outcome = if accepted { "accepted" } else { "refused" };
    counter!(OVERRIDES, "edit" => edit.as_str(), "professional_service" => professional_label(professional), "outcome" => outcome)
        .increment(1);
}

/// Counts one answered transaction: status, reject families, conflicts, overrides,
/// duplicates and reversals.
pub fn decision(
    code: TransactionCode,
    decision: &claim::Decision,
    overrides: &[crate::claim::OverrideEvent],
) {
    claim_answered(code, decision.status);
    decision
        .reject_codes
        .iter()
        .for_each(|code| reject_code(*code));
    decision
        .conflicts
        .iter()
        .for_each(|conflict| dur_conflict(conflict.edit, conflict.action));
    overrides
        .iter()
        .for_each(|event| override_outcome(event.edit, event.professional, event.accepted));
    if decision.status == Status::Duplicate {
        duplicate();
    }
    if code == TransactionCode::B2 {
        reversal(reversal_outcome(decision));
    }
}

fn reversal_outcome(decision: &claim::Decision) -> &'static str {
    match decision.status {
        Status::Approved => "approved",
        Status::DuplicateOfApproved => "already_reversed",
        _ if decision
            .reject_codes
            .contains(&claim::reject::REVERSAL_NOT_PROCESSED) =>
        {
            "not_found"
        }
        _ => "rejected",
    }
}

/// A frame that is not a readable D.0 request (no reply is owed).
pub fn unreadable_request() {
    counter!(FRAMES_REFUSED, "reason" => "not_d0").increment(1);
}

pub fn duplicate() {
    counter!(DUPLICATES).increment(1);
}

pub fn reversal(outcome: &'static str) {
    counter!(REVERSALS, "outcome" => outcome).increment(1);
}

pub fn connection_opened() {
    counter!(CONNECTIONS, "outcome" => "accepted").increment(1);
    gauge!(OPEN_CONNECTIONS).increment(1.0);
}

pub fn connection_refused() {
    counter!(CONNECTIONS, "outcome" => "refused").increment(1);
}

/// A connection the listener's allow-list refused: right after accept (never counted as
/// accepted), or after its PROXY header named a client outside the list (then also closed
/// with reason `not_allowed`).
pub fn connection_not_allowed() {
    counter!(CONNECTIONS, "outcome" => "not_allowed").increment(1);
}

/// A connection that ended before it was served: its PROXY header was missing or invalid
/// (`proxy_header`, a refused frame too) or named a client outside the allow-list
/// (`not_allowed`).
pub fn connection_ended_early(reason: &'static str) {
    gauge!(OPEN_CONNECTIONS).decrement(1.0);
    counter!(CONNECTIONS_CLOSED, "reason" => reason).increment(1);
    if reason == "proxy_header" {
        counter!(FRAMES_REFUSED, "reason" => reason).increment(1);
    }
}

/// An accept that failed (out of file descriptors or memory): no connection was made.
pub fn accept_failed() {
    counter!(CONNECTIONS, "outcome" => "accept_failed").increment(1);
}

pub fn connection_closed(closed: &Closed) {
    gauge!(OPEN_CONNECTIONS).decrement(1.0);
    counter!(CONNECTIONS_CLOSED, "reason" => closed.reason()).increment(1);
    if let Closed::Frame(error) = closed {
        counter!(FRAMES_REFUSED, "reason" => error.reason()).increment(1);
    }
    if matches!(closed, Closed::ReadTimeout) {
        counter!(FRAMES_REFUSED, "reason" => "read_timeout").increment(1);
    }
    if matches!(closed, Closed::TlsHandshake) {
        counter!(FRAMES_REFUSED, "reason" => "tls_handshake").increment(1);
    }
}

/// `endpoint`: `claims` or `admin`.
pub fn tls_reload(endpoint: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "refused" };
    counter!(TLS_RELOADS, "endpoint" => endpoint, "outcome" => outcome).increment(1);
}

/// `endpoint`: `claims` or `admin`; `reason`: `failed` or `timeout`.
pub fn tls_handshake_failed(endpoint: &'static str, reason: &'static str) {
    counter!(TLS_HANDSHAKE_FAILURES, "endpoint" => endpoint, "reason" => reason).increment(1);
}

/// A transmission outside its client certificate's scope (`reason`: a `scope::Refusal`).
pub fn scope_refused(reason: &'static str) {
    counter!(SCOPE_REFUSALS, "reason" => reason).increment(1);
}

/// A claim answered 99 because the history could not remember its patient.
pub fn history_full() {
    counter!(HISTORY_FULL).increment(1);
}

/// A transmission's claims read from the store because the history may have dropped them.
pub fn history_recall() {
    counter!(HISTORY_RECALLS).increment(1);
}

/// A transmission read and planned again (another node paid a claim of its patient).
pub fn patient_replanned() {
    counter!(PATIENT_REPLANS).increment(1);
}

/// The answer `/readyz` just gave.
pub fn readiness(ready: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

pub fn rule_reload(ok: bool) {
    counter!(RULE_RELOADS, "outcome" => if ok { "ok" } else { "refused" }).increment(1);
}

pub fn rules_live(id: &str, version: &str) {
    gauge!(RULES_INFO, "id" => id.to_string(), "version" => version.to_string()).set(1.0);
}

pub fn rules_retired(id: &str, version: &str) {
    gauge!(RULES_INFO, "id" => id.to_string(), "version" => version.to_string()).set(0.0);
}

pub fn claim_latency(elapsed: Duration) {
    histogram!(CLAIM_LATENCY).record(elapsed.as_secs_f64());
}

pub fn adjudication_time(elapsed: Duration) {
    histogram!(ADJUDICATION_TIME).record(elapsed.as_secs_f64());
}

pub fn store_batch(records: usize, elapsed: Duration) {
    histogram!(STORE_BATCH_RECORDS).record(records as f64);
    histogram!(STORE_COMMIT_LATENCY).record(elapsed.as_secs_f64());
}

/// One transmission counted in [`IN_FLIGHT_CLAIMS`] from the moment its frame is read until
/// its reply is ready; dropping the guard (also when the connection discards the reply) ends it.
#[must_use = "the transmission stops counting when the guard is dropped"]
pub struct InFlight(());

impl InFlight {
    pub fn enter() -> InFlight {
        gauge!(IN_FLIGHT_CLAIMS).increment(1.0);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(IN_FLIGHT_CLAIMS).decrement(1.0);
    }
}

pub fn store_queue_depth(depth: usize) {
    gauge!(STORE_QUEUE_DEPTH).set(depth as f64);
}

pub fn history_size(patients: usize, fills: usize, truncated_patients: usize) {
    gauge!(HISTORY_PATIENTS).set(patients as f64);
    gauge!(HISTORY_FILLS).set(fills as f64);
    gauge!(HISTORY_TRUNCATED).set(truncated_patients as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FrameError;

    #[test]
    fn every_close_reason_is_a_label_started_at_zero() {
        let closes = [
            Closed::ByClient,
            Closed::Shutdown,
            Closed::ReadTimeout,
            Closed::IdleTimeout,
            Closed::WriteTimeout,
            Closed::WriterGone,
            Closed::TlsHandshake,
            Closed::Frame(FrameError::Oversize { limit_bytes: 1 }),
            Closed::Frame(FrameError::Garbage { skipped_bytes: 1 }),
            Closed::Frame(FrameError::Truncated),
            Closed::Frame(FrameError::Io(std::io::ErrorKind::Other.into())),
        ];
        for closed in closes {
            assert!(
                CLOSE_REASONS.contains(&closed.reason()),
                "{}",
                closed.reason()
            );
        }
    }
}
