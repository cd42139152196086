//! What each transaction of a validated request becomes, before anything is committed.
//!
//! Pure decisions over the history snapshot, the claims recalled from the store and the rule
//! tables (the I/O is in the parent module): validation rejects, B1 duplicate detection then
//! adjudication (earlier paid transactions of the transmission count as fills), B2 reversal
//! matching (A, S, 87), B3 rebill (the replaced claim is left out of the fills; paid only as a
//! whole with its reversal) and E1.
//! Each [`Outcome`] says what to answer, whether it is recorded, and what the history learns once
//! the commit succeeds.
//!
//! Must never: touch the store, update the history, or read the clock (the caller passes
//! `today`).

use super::recall::Recalled;
use crate::claim::{
    reject, Authorization, Conflict, Date, Decision, Fill, Overridden, OverrideEvent, Patient,
    PatientKey, RejectCode, RequestHeader, Status, Transaction, TransactionCode,
};
use crate::history::{ClaimMatch, History, PaidLookup};
use crate::ncpdp::Validated;
use crate::rules::{self, ClaimContext, RuleSet};
use crate::server::log_limit::LogLimit;
use crate::store::{RecordKind, TransactionRecord, TransmissionRecord};

/// What the history learns when a recorded transaction commits.
#[derive(Clone, Copy, Debug)]
pub enum Update {
    Paid(Fill),
    Reversal(ClaimMatch),
    Rebill { replaced: ClaimMatch, paid: Fill },
}

/// The answer to one transaction, and what recording it implies.
#[derive(Debug)]
pub struct Outcome {
    pub decision: Decision,
    pub rx_number: Option<u64>,
    /// Known before any commit (a duplicate's original authorization).
    pub authorization: Option<Authorization>,
    /// The 1-based index under which it is in the transmission record, when recorded.
    pub recorded: Option<u8>,
    /// Applied to the history once the commit succeeds (paid or approved only).
    pub update: Option<Update>,
    /// What the submitted DUR/PPS codes did to the raised conflicts (for metrics).
    pub overrides: Vec<OverrideEvent>,
}

impl Outcome {
    /// An answer that is not recorded.
    pub fn answer(decision: Decision, rx_number: Option<u64>) -> Outcome {
        Outcome {
            decision,
            rx_number,
            authorization: None,
            recorded: None,
            update: None,
            overrides: Vec::new(),
        }
    }
}

/// Conflicts overridden by a submitted occurrence (accepted), and conflicts left standing
/// although an occurrence named their reason (refused by the edit's policy).
fn override_events(transaction: &Transaction, decision: &Decision) -> Vec<OverrideEvent> {
    let occurrence = |counter: u8| {
        transaction
            .dur_pps
            .iter()
            .find(|dur| dur.counter == counter)
    };
    let named = |conflict: &Conflict| {
        transaction
            .dur_pps
            .iter()
            .find(|dur| dur.reason == Some(conflict.reason))
    };
    decision
        .conflicts
        .iter()
        .filter_map(|conflict| match conflict.overridden_by {
            Some(counter) => Some((conflict.edit, occurrence(counter), true)),
            None => named(conflict).map(|dur| (conflict.edit, Some(dur), false)),
        })
        .map(|(edit, dur, accepted)| OverrideEvent {
            edit,
            professional: dur.and_then(|dur| dur.professional),
            accepted,
        })
        .collect()
}

/// Everything the planner reads.
pub struct Context<'a> {
    pub header: &'a RequestHeader,
    pub patient: Option<&'a Patient>,
    pub patient_key: Option<&'a PatientKey>,
    pub rules: &'a RuleSet,
    pub history: &'a History,
    /// Claims read from the store for this transmission's keys (those the history may have
    /// dropped; with a shared store, all of them).
    pub recalled: &'a Recalled,
    pub today: Date,
    pub received_at_ms: i64,
    /// E1 replies say whether the patient is known (else known and unknown answer alike).
    pub reveal_history: bool,
    /// False for an E1 over its pharmacy's rate limit (answered R 85, recorded).
    pub eligibility_allowed: bool,
}

impl Context<'_> {
    fn pharmacy(&self) -> u64 {
        self.header.pharmacy_hash()
    }

    fn claim_match(&self, transaction: &Transaction) -> ClaimMatch {
        ClaimMatch {
            pharmacy: self.pharmacy(),
            rx_number: transaction.rx_number,
            fill_number: transaction.fill_number,
            date_of_service: self.header.date_of_service,
        }
    }

    /// The paid claim a transaction matches: the history's when it holds it unreversed, else
    /// the one recalled from the store (which knows a claim the history dropped, reversed or
    /// not), else what the history has.
    fn find_paid(&self, claim: &ClaimMatch) -> Option<PaidLookup> {
        let kept = self.history.find_paid(claim);
        match kept {
            Some(PaidLookup::Paid { .. }) => kept,
            _ => self.recalled.find(claim).or(kept),
        }
    }

    fn decision(&self, status: Status, codes: Vec<RejectCode>) -> Decision {
        Decision {
            status,
            ..Decision::rejected(codes, self.rules.stamp())
        }
    }

    fn history_fills(&self) -> Vec<Fill> {
        let mut fills = Vec::new();
        if let Some(key) = self.patient_key {
            self.history.fills(key, &mut fills);
        }
        fills
    }

    fn adjudicate(&self, transaction: &Transaction, fills: &[Fill]) -> Decision {
        let claim = ClaimContext {
            transaction,
            date_of_service: self.header.date_of_service,
            date_of_birth: self.patient.and_then(|patient| patient.date_of_birth),
            pharmacy: self.pharmacy(),
            prescriber: transaction.prescriber_hash(),
        };
        rules::adjudicate_claim(&claim, self.rules, fills, self.today)
    }

    /// The embedded history has room for this patient's fills (or already holds them).
    fn history_can_remember(&self) -> bool {
        self.patient_key
            .is_none_or(|key| self.history.can_remember(key))
    }

    /// Fail closed: a claim whose fills the history could not remember is answered 99 —
    /// paying it would leave later claims checked against nothing.
    fn history_full(&self) -> Decision {
        crate::server::metrics::history_full();
        log_history_full(self.received_at_ms);
        let mut decision = self.decision(Status::Rejected, vec![reject::HOST_PROCESSING_ERROR]);
        decision.message = Some("DUR HISTORY FULL: RESUBMIT LATER".into());
        decision
    }

    fn fill_of(&self, transaction: &Transaction) -> Option<Fill> {
        Fill::of(
            transaction,
            self.header.date_of_service,
            self.pharmacy(),
            transaction.prescriber_hash(),
        )
    }
}

/// At most one "history full" error line per 10 s (the metric counts all).
static HISTORY_FULL_LOG: LogLimit = LogLimit::new(10_000);

fn log_history_full(now_ms: i64) {
    if let Some(unlogged) = HISTORY_FULL_LOG.due(now_ms) {
        tracing::error!(
            unlogged,
            "DUR history is full (patient limit reached): claims of new patients are answered 99"
        );
    }
}

/// The transactions' outcomes in order, and the record to commit (`None`: nothing to record).
pub fn plan(
    context: &Context<'_>,
    validated: &Validated,
) -> (Vec<Outcome>, Option<TransmissionRecord>) {
    let mut planner = Planner {
        context,
        fills: None,
        record: None,
    };
    let outcomes = match context.header.transaction_code {
        TransactionCode::E1 => vec![planner.eligibility(validated)],
        _ => (0..validated.transactions.len().max(1))
            .map(|index| planner.transaction(validated, index))
            .collect(),
    };
    (outcomes, planner.record)
}

struct Planner<'c, 'a> {
    context: &'c Context<'a>,
    /// The patient's fills plus earlier paid transactions of this transmission (read lazily).
    fills: Option<Vec<Fill>>,
    record: Option<TransmissionRecord>,
}

impl Planner<'_, '_> {
    fn transaction(&mut self, validated: &Validated, index: usize) -> Outcome {
        let codes = validated.reject_codes(index);
        match validated.transactions.get(index) {
            Some(Ok(transaction)) if codes.is_empty() => self.valid(index, transaction),
            Some(Ok(transaction)) => self.invalid(codes, Some(transaction.rx_number)),
            _ => self.invalid(non_empty(codes), None),
        }
    }

    fn invalid(&self, codes: Vec<RejectCode>, rx_number: Option<u64>) -> Outcome {
        Outcome::answer(self.context.decision(Status::Rejected, codes), rx_number)
    }

    fn valid(&mut self, index: usize, transaction: &Transaction) -> Outcome {
        let code = self.context.header.transaction_code;
        if let (Some(reject), false) = (
            date_reject(self.context.header.date_of_service, self.context.today),
            code == TransactionCode::B2,
        ) {
            return self.invalid(vec![reject], Some(transaction.rx_number));
        }
        match code {
            TransactionCode::B2 => self.reversal(index, transaction),
            TransactionCode::B3 => self.rebill(index, transaction),
            TransactionCode::B1 | TransactionCode::E1 => self.billing(index, transaction),
        }
    }

    /// E1: approved alike for known and unknown patients (unless the plan reveals which),
    /// R 85 over the pharmacy's rate limit; recorded either way.
    fn eligibility(&mut self, validated: &Validated) -> Outcome {
        let codes = validated.reject_codes(0);
        if !codes.is_empty() {
            return self.invalid(codes, None);
        }
        let decision = match self.context.eligibility_allowed {
            true => self.eligibility_decision(),
            false => self
                .context
                .decision(Status::Rejected, vec![reject::CLAIM_NOT_PROCESSED]),
        };
        let kind = RecordKind::Eligibility;
        let recorded = self.recorded(0, kind, &Transaction::default(), decision, None);
        Outcome {
            rx_number: None,
            ..recorded
        }
    }

    fn eligibility_decision(&self) -> Decision {
        let mut decision = self.context.decision(Status::Approved, Vec::new());
        if self.context.reveal_history {
            let known = self
                .context
                .patient_key
                .is_some_and(|key| self.context.history.contains_patient(key));
            let message = match known {
                true => "PATIENT KNOWN TO DUR HISTORY",
                false => "PATIENT NOT IN DUR HISTORY",
            };
            decision.message = Some(message.into());
        }
        decision
    }

    fn billing(&mut self, index: usize, transaction: &Transaction) -> Outcome {
        let claim_match = self.context.claim_match(transaction);
        match self.context.find_paid(&claim_match) {
            Some(PaidLookup::Paid {
                authorization, ndc, ..
            }) if Some(ndc) == transaction.ndc => {
                let decision = self.context.decision(Status::Duplicate, Vec::new());
                let duplicate = Outcome::answer(decision, Some(transaction.rx_number));
                return Outcome {
                    authorization: Some(authorization),
                    ..duplicate
                };
            }
            Some(PaidLookup::Paid { .. }) => {
                // Same Rx, fill and date already paid for another product: the pharmacy must
                // reverse that claim first.
                let decision = self
                    .context
                    .decision(Status::Rejected, vec![reject::DUPLICATE_PAID]);
                return self.recorded(index, RecordKind::Claim, transaction, decision, None);
            }
            Some(PaidLookup::Reversed { .. }) | None => {}
        }
        let (decision, paid) = self.adjudicate(transaction, None);
        self.recorded(
            index,
            RecordKind::Claim,
            transaction,
            decision,
            paid.map(Update::Paid),
        )
    }

    fn reversal(&mut self, index: usize, transaction: &Transaction) -> Outcome {
        let claim_match = self.context.claim_match(transaction);
        match self.context.find_paid(&claim_match) {
            Some(PaidLookup::Paid { claim_id, .. }) => {
                let decision = self.context.decision(Status::Approved, Vec::new());
                let kind = RecordKind::Reversal {
                    of_claim_id: Some(claim_id),
                };
                self.recorded(
                    index,
                    kind,
                    transaction,
                    decision,
                    Some(Update::Reversal(claim_match)),
                )
            }
            Some(PaidLookup::Reversed { .. }) => {
                let decision = self
                    .context
                    .decision(Status::DuplicateOfApproved, Vec::new());
                Outcome::answer(decision, Some(transaction.rx_number))
            }
            None => {
                let decision = self
                    .context
                    .decision(Status::Rejected, vec![reject::REVERSAL_NOT_PROCESSED]);
                self.recorded(
                    index,
                    RecordKind::Reversal { of_claim_id: None },
                    transaction,
                    decision,
                    None,
                )
            }
        }
    }

    fn rebill(&mut self, index: usize, transaction: &Transaction) -> Outcome {
        let replaced = self.context.claim_match(transaction);
        let Some(PaidLookup::Paid { claim_id, .. }) = self.context.find_paid(&replaced) else {
            let decision = self
                .context
                .decision(Status::Rejected, vec![reject::REVERSAL_NOT_PROCESSED]);
            return self.recorded(
                index,
                RecordKind::Rebill {
                    reversed_claim_id: None,
                },
                transaction,
                decision,
                None,
            );
        };
        let (decision, paid) = self.adjudicate(transaction, Some(replaced));
        let update = paid.map(|paid| Update::Rebill { replaced, paid });
        self.recorded(
            index,
            RecordKind::Rebill {
                reversed_claim_id: Some(claim_id),
            },
            transaction,
            decision,
            update,
        )
    }

    /// Adjudicates against the patient's fills and the transmission's earlier paid ones (less
    /// the claim a rebill replaces); a paid claim becomes a fill for the later transactions.
    fn adjudicate(
        &mut self,
        transaction: &Transaction,
        replaced: Option<ClaimMatch>,
    ) -> (Decision, Option<Fill>) {
        if !self.context.history_can_remember() {
            return (self.context.history_full(), None);
        }
        let fills = self
            .fills
            .get_or_insert_with(|| self.context.history_fills());
        if let Some(replaced) = replaced {
            fills.retain(|fill| ClaimMatch::of_fill(fill) != replaced);
        }
        let decision = self.context.adjudicate(transaction, fills);
        let paid = (decision.status == Status::Paid)
            .then(|| self.context.fill_of(transaction))
            .flatten();
        // Without its overrides: only a recorded claim's overrides are remembered.
        fills.extend(paid);
        let overridden = Overridden::of_conflicts(&decision.conflicts);
        let recorded = paid.map(|fill| Fill { overridden, ..fill });
        (decision, recorded)
    }

    fn recorded(
        &mut self,
        index: usize,
        kind: RecordKind,
        transaction: &Transaction,
        decision: Decision,
        update: Option<Update>,
    ) -> Outcome {
        let record_index = index as u8 + 1;
        let date_of_service = self.context.header.date_of_service;
        let row =
            TransactionRecord::new(record_index, kind, date_of_service, transaction, &decision);
        self.record
            .get_or_insert_with(|| transmission_record(self.context))
            .transactions
            .push(row);
        let overrides = override_events(transaction, &decision);
        let answer = Outcome::answer(decision, Some(transaction.rx_number));
        Outcome {
            recorded: Some(record_index),
            update,
            overrides,
            ..answer
        }
    }
}

/// 82 for a post-dated claim, 81 for one past the filing window (B1 and B3; a B2 may reverse an
/// old claim).
fn date_reject(date_of_service: Date, today: Date) -> Option<RejectCode> {
    let age_days = today.days_since(date_of_service);
    match age_days {
        age if age < -crate::limits::POST_DATED_DAYS_MAX => Some(reject::POST_DATED),
        age if age > crate::limits::CLAIM_AGE_DAYS_MAX => Some(reject::CLAIM_TOO_OLD),
        _ => None,
    }
}

fn transmission_record(context: &Context<'_>) -> TransmissionRecord {
    TransmissionRecord::of(context.received_at_ms, context.header, context.patient)
}

/// A rejected transaction always carries at least one reject code.
fn non_empty(codes: Vec<RejectCode>) -> Vec<RejectCode> {
    if codes.is_empty() {
        vec![reject::CLAIM_SEGMENT_REQUIRED]
    } else {
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ncpdp::build::ClaimBuilder;

    /// The outcome of one B1 of sertraline (fixture NDC 1) for `cardholder`, planned against
    /// `history`.
    fn plan_b1(history: &History, cardholder: &str, rx: u64, today: Date) -> Outcome {
        let rules = crate::rules::compile(&crate::rules::fixture::source()).expect("fixture");
        let bytes = ClaimBuilder::b1()
            .cardholder(cardholder)
            .rx(rx)
            .date_of_service(today)
            .ndc("00000000001")
            .encode();
        let message = crate::ncpdp::parse(&bytes).expect("a request");
        let validated = crate::ncpdp::validate_request(&message);
        let key = validated.patient.as_ref().and_then(|patient| patient.key());
        let context = Context {
            header: validated.header.as_ref().expect("a header"),
            patient: validated.patient.as_ref(),
            patient_key: key.as_ref(),
            rules: &rules,
            history,
            recalled: &Recalled::default(),
            today,
            received_at_ms: 0,
            reveal_history: false,
            eligibility_allowed: true,
        };
        plan(&context, &validated).0.remove(0)
    }

    #[test]
    fn a_full_history_fails_closed_for_a_new_patient_and_serves_a_known_one() {
        let today = Date::from_ymd(2026, 6, 15).unwrap();
        let history = History::with_patients_max(1);
        let first = plan_b1(&history, "KNOWN00001", 1, today);
        assert_eq!(first.decision.status, Status::Paid, "{:?}", first.decision);
        let Some(Update::Paid(fill)) = first.update else {
            panic!("a paid claim updates the history");
        };
        let bytes = ClaimBuilder::b1().cardholder("KNOWN00001").encode();
        let message = crate::ncpdp::parse(&bytes).unwrap();
        let validated = crate::ncpdp::validate_request(&message);
        let key = validated.patient.and_then(|patient| patient.key()).unwrap();
        let claim = crate::history::PaidClaim {
            fill,
            claim_id: 1,
            reversed: false,
        };
        assert_eq!(
            history.record_paid(&key, claim),
            crate::history::Recorded::Added
        );
        // The history is full: a new patient's claim is answered 99, not paid unremembered.
        let stranger = plan_b1(&history, "STRANGER01", 2, today);
        assert_eq!(
            stranger.decision.reject_codes,
            vec![reject::HOST_PROCESSING_ERROR],
            "{:?}",
            stranger.decision
        );
        assert!(stranger.update.is_none());
        // The known patient is still adjudicated (and meets its own fill: a duplicate).
        let again = plan_b1(&history, "KNOWN00001", 1, today);
        assert_eq!(
            again.decision.status,
            Status::Duplicate,
            "{:?}",
            again.decision
        );
    }

    #[test]
    fn dates_outside_the_filing_window_are_rejected_at_their_edges() {
        let today = Date::from_ymd(2026, 11, 22).unwrap();
        assert_eq!(date_reject(today.add_days(1), today), None);
        assert_eq!(
            date_reject(today.add_days(2), today),
            Some(reject::POST_DATED)
        );
        assert_eq!(date_reject(today.add_days(-365), today), None);
        assert_eq!(
            date_reject(today.add_days(-366), today),
            Some(reject::CLAIM_TOO_OLD)
        );
    }
}
