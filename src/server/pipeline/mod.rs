//! The claim pipeline: the one place that sequences parse → history → adjudicate → commit →
//! encode.
//!
//! Tier 3. `connection` calls [`Pipeline::accept`] for each frame in arrival order. That step,
//! on the connection's reader:
//!
//! 1. parses and validates the D.0 request (`ncpdp::read_request`; an unreadable header gets no
//!    reply, as the contract says);
//! 2. loads the live rule tables once (`LiveRules::load`) — the whole transmission uses that
//!    snapshot and every decision carries its `id@version`;
//! 3. waits for the patient's previous in-flight transmission to finish (`tails`), so the
//!    history it reads holds every earlier claim of the patient, even one committed a moment
//!    ago on another connection;
//! 4. reads from the store what the node's history cannot answer: the claims of its keys that
//!    a full history may have dropped (`recall`; no read at all while the history holds every
//!    claim of the patient and of that date);
//! 5. plans every transaction (`plan`: duplicates, reversals, rebills, adjudication) and queues
//!    the transmission's record for the store (`ClaimStore::submit`).
//!
//! The commit is then awaited on a task of its own; when it succeeds the history learns the
//! paid fills and reversals, then the reply is encoded with the authorization numbers the store
//! assigned. When it fails, every recorded transaction is answered 99 and nothing reaches the
//! history. So no P, A or D leaves before the record behind it is durable.
//!
//! With a shared store (several nodes on one PostgreSQL database) step 4 reads the
//! transmission's whole history from the store (`snapshot`) and step 5 plans against it
//! instead of the node's own, and nothing is learned after the commit: the database is the
//! history. A claim another node paid meanwhile is answered D, a claim it reversed meanwhile S
//! (the store refuses the race).
//!
//! Must never: answer P/A/D before the commit; log a patient identifier; hold a lock across an
//! await (the per-patient wait is a future, not a lock).

mod eligibility;
mod plan;
mod recall;
mod replan;
mod snapshot;
pub mod tails;

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use futures::future::{BoxFuture, FutureExt};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::claim::{reject, Decision, Ndc, PatientKey, Status, TransactionCode};
use crate::history::{self, History, PaidClaim};
use crate::ncpdp::{self, Response, ResponseHeader, Validated};
use crate::rules::LiveRules;
use crate::store::{ClaimStore, CommitReceipt, StoreError};

use super::connection::Handler;
use super::metrics;
use super::scope::{ConnectionScope, Refusal};
use eligibility::EligibilityLimit;
use plan::{Outcome, Update};
use replan::{Planning, Replan, Replanned};
use tails::{TailGuard, Tails};

/// Everything the pipeline needs, shared by all connections.
pub struct Pipeline {
    rules: Arc<LiveRules>,
    history: Arc<History>,
    store: Arc<dyn ClaimStore>,
    tails: Arc<Tails>,
    /// E1 replies say whether the patient is in the history (config `eligibility_reveals_history`).
    reveal_history: bool,
    /// Counts E1 checks per pharmacy (config `eligibility_per_pharmacy_per_minute`).
    eligibility_limit: Arc<EligibilityLimit>,
}

/// A reply that is ready, or one waiting for its commit.
pub type PendingReply = BoxFuture<'static, Option<Vec<u8>>>;

impl Handler for Pipeline {
    type Pending = PendingReply;

    async fn accept(&self, frame: BytesMut) -> PendingReply {
        self.accept_scoped(frame, &ConnectionScope::Unrestricted)
            .await
    }

    async fn accept_scoped(&self, frame: BytesMut, scope: &ConnectionScope) -> PendingReply {
        let started = Instant::now();
        // Counted from here until the reply is ready (or the connection drops it).
        let in_flight = metrics::InFlight::enter();
        let pending = match ncpdp::read_request(&frame) {
            Ok((message, validated)) => {
                let count = response_group_count(&validated);
                let header = ResponseHeader::for_request(&message.header, count);
                match scope.check(message.header.bin, message.header.provider_id) {
                    Ok(()) => self.handle(header, validated, started).await,
                    Err(refusal) => self.refuse(header, &validated, scope, refusal, started),
                }
            }
            Err(error) => {
                if let Some(unlogged) = UNREADABLE_LOG.due(crate::clock::unix_ms()) {
                    tracing::info!(%error, unlogged, "frame is not a D.0 request: no reply");
                }
                metrics::unreadable_request();
                futures::future::ready(None).boxed()
            }
        };
        pending.inspect(move |_| drop(in_flight)).boxed()
    }
}

/// At most one "not a D.0 request" line per second: a peer can send garbage frames at will
/// (`durgate_frames_refused_total{reason="not_d0"}` counts every one).
static UNREADABLE_LOG: crate::server::log_limit::LogLimit =
    crate::server::log_limit::LogLimit::new(1_000);

/// At most one "outside the certificate's scope" line per second
/// (`durgate_scope_refusals_total{reason}` counts every one).
static SCOPE_LOG: crate::server::log_limit::LogLimit =
    crate::server::log_limit::LogLimit::new(1_000);

impl Pipeline {
    pub fn new(
        rules: Arc<LiveRules>,
        history: Arc<History>,
        store: Arc<dyn ClaimStore>,
    ) -> Pipeline {
        Pipeline {
            rules,
            history,
            store,
            tails: Arc::new(Tails::default()),
            reveal_history: false,
            eligibility_limit: Arc::new(EligibilityLimit::new(
                crate::config::DEFAULT_ELIGIBILITY_PER_PHARMACY_PER_MINUTE,
            )),
        }
    }

    /// At most `per_minute` E1 checks per pharmacy per clock minute (more are answered R 85).
    pub fn with_eligibility_limit(mut self, per_minute: u32) -> Pipeline {
        self.eligibility_limit = Arc::new(EligibilityLimit::new(per_minute));
        self
    }

    /// Lets E1 replies say whether the patient is in the history (off by default).
    pub fn with_eligibility_disclosure(mut self, reveal_history: bool) -> Pipeline {
        self.reveal_history = reveal_history;
        self
    }

    /// False for an E1 over its pharmacy's per-minute limit (counts the check).
    fn eligibility_allowed(&self, header: &crate::claim::RequestHeader, now_ms: i64) -> bool {
        header.transaction_code != TransactionCode::E1
            || self.eligibility_limit.allow(header.pharmacy_hash(), now_ms)
    }

    /// The per-patient ordering (exposed for tests).
    pub fn tails(&self) -> &Tails {
        &self.tails
    }

    async fn handle(
        &self,
        header: ResponseHeader,
        mut validated: Validated,
        started: Instant,
    ) -> PendingReply {
        let rules = self.rules.load();
        let patient_key = validated.patient.as_ref().and_then(|patient| patient.key());
        let guard = self.enter_patient(&validated, patient_key.as_ref()).await;
        let (now_ms, today) = super::clock();
        // Moved into the planning inputs (planning reads it there, never from `validated`).
        let Some(request_header) = validated.header.take() else {
            return self.answer_now(
                header,
                reject_every_group(&validated, &rules.stamp(), |index| {
                    validation_codes(&validated, index)
                }),
                started,
                guard,
            );
        };
        let span = transmission_span(&request_header);
        let planning = Planning {
            eligibility_allowed: self.eligibility_allowed(&request_header, now_ms),
            header: request_header,
            validated,
            patient_key,
            rules,
            today,
            received_at_ms: now_ms,
            reveal_history: self.reveal_history,
        };
        let reading = match self.read_store(&planning).instrument(span.clone()).await {
            Ok(reading) => reading,
            Err(error) => {
                let _entered = span.enter();
                tracing::error!(%error, "claim store history read failed: answering 99");
                let host_error = |_| vec![reject::HOST_PROCESSING_ERROR];
                let stamp = planning.rules.stamp();
                let outcomes = reject_every_group(&planning.validated, &stamp, host_error);
                return self.answer_now(header, outcomes, started, guard);
            }
        };
        let history = reading.shared.as_ref().unwrap_or(&self.history);
        let (outcomes, record) = span.in_scope(|| planning.plan(history, &reading.recalled));
        let Some(mut record) = record else {
            return span.in_scope(|| self.answer_now(header, outcomes, started, guard));
        };
        record.patient_head = reading.head_version;
        let committing = self.store.submit(record).instrument(span.clone()).await;
        let shared = reading.shared.is_some();
        let finish = Finish {
            header,
            outcomes,
            patient_key: planning.patient_key.clone(),
            history: (!shared).then(|| self.history.clone()),
            started,
            guard,
            span,
        };
        let replan = shared.then(|| Replan {
            store: self.store.clone(),
            planning,
        });
        match committing {
            Ok(committing) => finish.after_commit(committing, replan),
            Err(error) => futures::future::ready(Some(finish.complete(Err(error)))).boxed(),
        }
    }

    async fn enter_patient(
        &self,
        validated: &Validated,
        key: Option<&PatientKey>,
    ) -> Option<TailGuard> {
        let token = match key.map(history::patient_token) {
            Some(token) => token,
            None => self.reversal_patient(validated).await?,
        };
        Some(self.tails.enter(token).await)
    }

    /// What the transmission needs from the store before planning: with a shared store its
    /// whole history (`snapshot`); otherwise only the claims the node's history may have
    /// dropped (`recall`: nothing, and no read, while the history holds them all).
    async fn read_store(&self, planning: &Planning) -> Result<Reading, StoreError> {
        let store = &*self.store;
        if !store.shared_history() {
            let (header, validated) = (&planning.header, &planning.validated);
            let key = planning.patient_key.as_ref();
            let recalled = recall::recall(store, &self.history, header, validated, key).await?;
            return Ok(Reading {
                shared: None,
                recalled,
                head_version: None,
            });
        }
        let snapshot = planning.read_snapshot(store).await?;
        Ok(Reading {
            shared: Some(snapshot.history),
            recalled: snapshot.recalled,
            head_version: snapshot.head_version,
        })
    }

    /// A B2 without patient segments: the patient of the claim it reverses (from the store
    /// when the history is shared, or when the node's history may have dropped that claim).
    async fn reversal_patient(&self, validated: &Validated) -> Option<u64> {
        let header = validated.header.as_ref()?;
        let transaction = validated.transactions.first()?.as_ref().ok()?;
        if !self.store.shared_history() {
            let claim_match =
                recall::claim_match(header, transaction.rx_number, transaction.fill_number);
            let kept = self.history.patient_token_of(&claim_match);
            if kept.is_some() || !self.history.may_have_dropped(&claim_match) {
                return kept;
            }
        }
        snapshot::reversal_patient_token(&*self.store, header, transaction).await
    }

    /// Answers a transmission outside its connection's scope with header rejects, recording
    /// nothing (the claim never reached the gateway's books).
    fn refuse(
        &self,
        header: ResponseHeader,
        validated: &Validated,
        scope: &ConnectionScope,
        refusal: Refusal,
        started: Instant,
    ) -> PendingReply {
        metrics::scope_refused(refusal.as_str());
        if let Some(unlogged) = SCOPE_LOG.due(crate::clock::unix_ms()) {
            let (certificate, reason) = (scope.name(), refusal.as_str());
            tracing::warn!(
                certificate,
                reason,
                unlogged,
                "transmission outside the client certificate's scope: rejected"
            );
        }
        let stamp = self.rules.load().stamp();
        let outcomes = reject_every_group(validated, &stamp, |_| refusal.codes());
        self.answer_now(header, outcomes, started, None)
    }

    fn answer_now(
        &self,
        header: ResponseHeader,
        outcomes: Vec<Outcome>,
        started: Instant,
        guard: Option<TailGuard>,
    ) -> PendingReply {
        drop(guard);
        let code = header.transaction_code.clone();
        let reply = encode(header, &outcomes);
        record_outcomes(&code, &outcomes);
        metrics::claim_latency(started.elapsed());
        futures::future::ready(Some(reply)).boxed()
    }
}

/// What a transmission read from the store before planning.
struct Reading {
    /// With a shared store, the transmission's history (plan against it, learn nothing after).
    shared: Option<History>,
    /// Claims matched in the store: with a shared store every claim the transmission may
    /// duplicate or reverse, otherwise those the node's history may have dropped.
    recalled: recall::Recalled,
    /// With a shared store, the patient's head version the history was read at.
    head_version: Option<i64>,
}

/// The rest of a transmission once its record is queued.
struct Finish {
    header: ResponseHeader,
    outcomes: Vec<Outcome>,
    patient_key: Option<PatientKey>,
    /// The node's history to update after the commit (none with a shared store).
    history: Option<Arc<History>>,
    started: Instant,
    guard: Option<TailGuard>,
    /// The transmission's span: the answer is logged inside it, on whichever task commits.
    span: tracing::Span,
}

impl Finish {
    /// Awaits the commit on a task of its own (so the patient's next claim is not held up by
    /// this connection's reply order), then answers. With a shared store (`replan`), a record
    /// refused because another node paid a claim of the patient meanwhile is planned again
    /// against a fresh read, at most [`replan::PATIENT_REPLANS_MAX`] times.
    fn after_commit(
        self,
        committing: crate::store::Committing,
        replan: Option<Replan>,
    ) -> PendingReply {
        let (reply_tx, reply_rx) = oneshot::channel();
        tokio::spawn(async move {
            let reply = self.commit_or_replan(committing, replan).await;
            let _ = reply_tx.send(reply);
        });
        reply_rx.map(Result::ok).boxed()
    }

    async fn commit_or_replan(
        mut self,
        mut committing: crate::store::Committing,
        replan: Option<Replan>,
    ) -> Vec<u8> {
        // Bounded: each pass replans once, at most PATIENT_REPLANS_MAX passes.
        for _ in 0..replan::PATIENT_REPLANS_MAX {
            let result = committing.await;
            let (Err(StoreError::PatientChanged), Some(replan)) = (&result, &replan) else {
                return self.complete(result);
            };
            let replanned = replan.again().instrument(self.span.clone()).await;
            match replanned {
                Ok(Replanned {
                    outcomes,
                    committing: Some(next),
                }) => (self.outcomes, committing) = (outcomes, next),
                Ok(Replanned { outcomes, .. }) => {
                    self.outcomes = outcomes;
                    return self.complete(Ok(CommitReceipt::nothing()));
                }
                Err(error) => return self.complete(Err(error)),
            }
        }
        let result = committing.await;
        self.complete(result)
    }

    fn complete(mut self, result: Result<CommitReceipt, StoreError>) -> Vec<u8> {
        let _entered = self.span.clone().entered();
        let committed = result.is_ok();
        match result {
            Ok(receipt) => self.committed(&receipt),
            Err(error) => self.failed(&error),
        }
        enforce_committed_authorizations(&mut self.outcomes, committed);
        drop(self.guard.take());
        let code = self.header.transaction_code.clone();
        record_outcomes(&code, &self.outcomes);
        metrics::claim_latency(self.started.elapsed());
        encode(self.header, &self.outcomes)
    }

    /// The commit succeeded: authorizations from the receipt, and the history learns.
    fn committed(&mut self, receipt: &CommitReceipt) {
        for outcome in self.outcomes.iter_mut() {
            let Some(committed) = outcome
                .recorded
                .and_then(|index| receipt.transaction(index))
            else {
                continue;
            };
            outcome.authorization = committed.authorization;
            if let (Some(update), Some(history)) = (outcome.update, &self.history) {
                apply(
                    history,
                    self.patient_key.as_ref(),
                    update,
                    committed.claim_id,
                );
            }
        }
    }

    /// The commit failed: every recorded transaction is rejected 99 — except a race the store
    /// caught: the same claim paid meanwhile is answered D with the original number (83 when
    /// that claim is of another product), and a reversal of a claim reversed meanwhile (by
    /// another node) S. No reply gets an authorization the store did not commit.
    fn failed(&mut self, error: &StoreError) {
        tracing::error!(%error, "claim store refused a transmission: answering 99");
        for outcome in self
            .outcomes
            .iter_mut()
            .filter(|outcome| outcome.recorded.is_some())
        {
            let update = outcome.update.take();
            let reversal = matches!(update, Some(Update::Reversal(_)));
            outcome.decision = match error {
                StoreError::AlreadyReversed { index, .. }
                    if reversal && outcome.recorded == Some(*index) =>
                {
                    Decision {
                        status: Status::DuplicateOfApproved,
                        ..Decision::rejected(Vec::new(), outcome.decision.ruleset.clone())
                    }
                }
                StoreError::AlreadyPaid {
                    index, product_id, ..
                } if outcome.recorded == Some(*index) && !same_product(&update, product_id) => {
                    Decision::rejected(
                        vec![reject::DUPLICATE_PAID],
                        outcome.decision.ruleset.clone(),
                    )
                }
                StoreError::AlreadyPaid {
                    index,
                    authorization,
                    ..
                } if outcome.recorded == Some(*index) => {
                    outcome.authorization = Some(*authorization);
                    Decision {
                        status: Status::Duplicate,
                        ..Decision::rejected(Vec::new(), outcome.decision.ruleset.clone())
                    }
                }
                _ => Decision::rejected(
                    vec![reject::HOST_PROCESSING_ERROR],
                    outcome.decision.ruleset.clone(),
                ),
            };
        }
    }
}

/// Whether the paid claim `update` would have recorded is of the committed claim's product
/// (407-D7 as stored).
fn same_product(update: &Option<Update>, product_id: &str) -> bool {
    let paid = match update {
        Some(Update::Paid(fill)) | Some(Update::Rebill { paid: fill, .. }) => fill,
        _ => return false,
    };
    Ndc::parse(product_id.trim().as_bytes()) == Some(paid.ndc)
}

fn apply(history: &History, key: Option<&PatientKey>, update: Update, claim_id: u64) {
    match (update, key) {
        (Update::Paid(fill), Some(key)) => {
            history.record_paid(
                key,
                PaidClaim {
                    fill,
                    claim_id,
                    reversed: false,
                },
            );
        }
        (Update::Reversal(claim_match), _) => {
            history.record_reversal(&claim_match);
        }
        (Update::Rebill { replaced, paid }, Some(key)) => {
            history.record_reversal(&replaced);
            history.record_paid(
                key,
                PaidClaim {
                    fill: paid,
                    claim_id,
                    reversed: false,
                },
            );
        }
        (Update::Paid(_) | Update::Rebill { .. }, None) => {}
    }
}

/// The span every log line of one transmission carries: pharmacy id and transaction code
/// (never a patient or prescriber value).
fn transmission_span(header: &crate::claim::RequestHeader) -> tracing::Span {
    tracing::info_span!(
        "transmission",
        pharmacy = %header.provider_id.trim(),
        code = header.transaction_code.as_str()
    )
}

/// One response group per request group (E1 and a request without groups: one).
fn response_group_count(validated: &Validated) -> u8 {
    validated
        .transactions
        .len()
        .clamp(1, crate::limits::TRANSACTIONS_MAX) as u8
}

/// Every response group rejected with `codes_for(index)`, with the Rx number where the group
/// was readable (an unusable header; a shared history that could not be read).
fn reject_every_group(
    validated: &Validated,
    stamp: &crate::claim::RulesetStamp,
    codes_for: impl Fn(usize) -> Vec<crate::claim::RejectCode>,
) -> Vec<Outcome> {
    (0..usize::from(response_group_count(validated)))
        .map(|index| {
            let rx_number = validated
                .transactions
                .get(index)
                .and_then(|group| group.as_ref().ok())
                .map(|transaction| transaction.rx_number);
            Outcome::answer(
                Decision::rejected(codes_for(index), stamp.clone()),
                rx_number,
            )
        })
        .collect()
}

/// The transmission's problems (the header could not be typed), at least one code per group.
fn validation_codes(validated: &Validated, index: usize) -> Vec<crate::claim::RejectCode> {
    let codes = validated.reject_codes(index);
    if codes.is_empty() {
        vec![reject::SYNTAX_ERROR]
    } else {
        codes
    }
}

/// The invariant that no reply carries an authorization the store did not commit: a P must be
/// a recorded transaction of a commit that succeeded, numbered by that commit's receipt
/// (`committed` fills it in); a D carries the committed claim's number, from the history or
/// the store's refusal. Checked on every reply; a breach fails loudly in tests and is answered
/// 99 in production rather than sent.
fn enforce_committed_authorizations(outcomes: &mut [Outcome], committed: bool) {
    for outcome in outcomes.iter_mut() {
        if !carries_committed_authorization(outcome, committed) {
            debug_assert!(false, "a P or D without a committed authorization");
            tracing::error!(
                "a paid or duplicate answer without a committed authorization: answering 99"
            );
            outcome.authorization = None;
            outcome.decision = Decision::rejected(
                vec![reject::HOST_PROCESSING_ERROR],
                outcome.decision.ruleset.clone(),
            );
        }
    }
}

/// False for a P that is not a recorded transaction of a successful commit, numbered, and
/// for a D without the number of the claim it repeats (the store never matches a record
/// against its own rows, so a D's number is never one that rolled back).
fn carries_committed_authorization(outcome: &Outcome, committed: bool) -> bool {
    let numbered = outcome.authorization.is_some();
    match outcome.decision.status {
        Status::Paid => committed && outcome.recorded.is_some() && numbered,
        Status::Duplicate => numbered,
        _ => true,
    }
}

fn encode(header: ResponseHeader, outcomes: &[Outcome]) -> Vec<u8> {
    let transactions = outcomes
        .iter()
        .map(|outcome| {
            let authorization = outcome.authorization.map(|number| number.to_string());
            ncpdp::response_transaction(
                &outcome.decision,
                outcome.rx_number,
                authorization.as_deref(),
            )
        })
        .collect();
    let response = Response {
        header,
        message: None,
        insurance: None,
        patient: None,
        transactions,
    };
    let mut out = Vec::with_capacity(512);
    ncpdp::encode_response(&response, &mut out);
    out
}

fn record_outcomes(code: &str, outcomes: &[Outcome]) {
    let Some(code) = TransactionCode::parse(code.as_bytes()) else {
        return;
    };
    for outcome in outcomes {
        metrics::decision(code, &outcome.decision, &outcome.overrides);
        // At debug: one line per transaction is traffic, not an event (the store is the
        // audit trail); a busy gateway would spend its time formatting it.
        tracing::debug!(
            status = outcome.decision.status.as_str(),
            rejects = outcome.decision.reject_codes.len(),
            conflicts = outcome.decision.conflicts.len(),
            "transaction answered"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(recorded: Option<u8>, authorization: Option<u64>) -> Outcome {
        let decision = Decision {
            status: Status::Paid,
            ..Decision::rejected(Vec::new(), "test@1".into())
        };
        Outcome {
            recorded,
            authorization: authorization.map(crate::claim::Authorization::for_claim),
            ..Outcome::answer(decision, Some(1))
        }
    }

    #[test]
    fn a_p_numbered_by_its_commit_is_sent_as_it_is() {
        let mut outcomes = [paid(Some(1), Some(42))];
        enforce_committed_authorizations(&mut outcomes, true);
        assert_eq!(outcomes[0].decision.status, Status::Paid);
    }

    #[test]
    #[should_panic(expected = "a P or D without a committed authorization")]
    fn a_p_after_a_failed_commit_is_a_breach() {
        enforce_committed_authorizations(&mut [paid(Some(1), Some(42))], false);
    }

    #[test]
    #[should_panic(expected = "a P or D without a committed authorization")]
    fn a_p_that_was_never_recorded_is_a_breach() {
        enforce_committed_authorizations(&mut [paid(None, Some(42))], true);
    }

    #[test]
    #[should_panic(expected = "a P or D without a committed authorization")]
    fn a_d_without_the_original_authorization_is_a_breach() {
        let mut duplicate = paid(None, None);
        duplicate.decision.status = Status::Duplicate;
        enforce_committed_authorizations(&mut [duplicate], false);
    }

    #[test]
    fn a_d_with_the_original_authorization_is_sent_as_it_is() {
        let mut duplicate = paid(None, Some(42));
        duplicate.decision.status = Status::Duplicate;
        let mut outcomes = [duplicate];
        enforce_committed_authorizations(&mut outcomes, false);
        assert_eq!(outcomes[0].decision.status, Status::Duplicate);
    }
}
