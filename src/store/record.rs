//! The records the store writes: one [`TransmissionRecord`] per request, one
//! [`TransactionRecord`] per transaction with its decision.
//!
//! Plain data plus the builders the server uses and the bounds checked before a record enters
//! the queue. Must never touch the database (that is `sql`) or decide anything.

use crate::claim::{
    Conflict, Date, Decision, DurPps, Ndc, Patient, PatientKey, RejectCode, RequestHeader,
    RulesetStamp, Status, Transaction, TransactionCode, Transmission,
};
use crate::limits::{
    CONFLICTS_PER_TRANSACTION_MAX, DUR_PPS_OCCURRENCES_MAX, REJECT_CODES_MAX, TRANSACTIONS_MAX,
};
use crate::store::StoreError;

/// A transmission as recorded: the request header's facts and its transactions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransmissionRecord {
    /// When the gateway read the request (ms since 1970-01-01 UTC).
    pub received_at_ms: i64,
    pub transaction_code: TransactionCode,
    pub bin: String,
    pub pcn: String,
    /// 201-B1 service provider id, as sent (trimmed).
    pub pharmacy_id: String,
    /// Absent only for a B2 without patient data.
    pub patient_key: Option<PatientKey>,
    /// The patient's age in whole years on the date of service.
    pub patient_age_years: Option<u8>,
    /// At most [`TRANSACTIONS_MAX`], 1-based `index` each.
    pub transactions: Vec<TransactionRecord>,
    /// With a shared store: the version of the patient's head row that the history was read
    /// at (0 while the patient has none). A record that pays a claim advances it in its own
    /// commit, and is refused with [`StoreError::PatientChanged`] when another node advanced it
    /// meanwhile. `None`: not checked (the embedded store, or no patient).
    pub patient_head: Option<i64>,
}

/// What a transaction was.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RecordKind {
    /// B1.
    Claim,
    /// B2, with the paid claim it matched (none: answered 87).
    Reversal { of_claim_id: Option<u64> },
    /// B3, with the paid claim it replaces (reversed only when the new claim is paid).
    Rebill { reversed_claim_id: Option<u64> },
    /// E1.
    Eligibility,
}

impl RecordKind {
    /// The `claims.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Claim => "claim",
            RecordKind::Reversal { .. } => "reversal",
            RecordKind::Rebill { .. } => "rebill",
            RecordKind::Eligibility => "eligibility",
        }
    }

    /// The paid claim a B2/B3 matched.
    pub fn matched_claim_id(self) -> Option<u64> {
        match self {
            RecordKind::Reversal { of_claim_id } => of_claim_id,
            RecordKind::Rebill { reversed_claim_id } => reversed_claim_id,
            RecordKind::Claim | RecordKind::Eligibility => None,
        }
    }
}

/// One transaction and the decision about it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransactionRecord {
    /// 1-based position in the transmission.
    pub index: u8,
    pub kind: RecordKind,
    pub rx_number: u64,
    pub fill_number: u8,
    pub product_qualifier: String,
    pub product_id: String,
    pub ndc: Option<Ndc>,
    pub quantity_milli: u64,
    pub days_supply: u16,
    pub compound_code: u8,
    pub daw_code: Option<u8>,
    pub date_written: Option<Date>,
    pub date_of_service: Date,
    /// 411-DB, empty when absent.
    pub prescriber_id: String,
    pub status: Status,
    pub reject_codes: Vec<RejectCode>,
    /// Every conflict raised, overridden or not, in edit order.
    pub conflicts: Vec<Conflict>,
    /// Every DUR/PPS occurrence submitted.
    pub dur_pps: Vec<DurPps>,
    /// 473-7E counters of occurrences that answered no raised conflict.
    pub unmatched_dur_pps: Vec<u8>,
    pub ruleset: RulesetStamp,
    pub message: Option<String>,
    pub ingredient_cost_cents: Option<i64>,
    pub dispensing_fee_cents: Option<i64>,
    pub usual_and_customary_cents: Option<i64>,
    pub patient_paid_cents: Option<i64>,
    pub gross_amount_due_cents: Option<i64>,
}

/// The conflict a DUR/PPS occurrence answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DurPpsMatch {
    /// Position in [`TransactionRecord::conflicts`].
    pub conflict: Option<usize>,
    /// It overrode that conflict (the conflict's `overridden_by` is its counter).
    pub overrode: bool,
}

impl TransmissionRecord {
    /// The request-level facts of a transmission; push its transactions after.
    pub fn new(received_at_ms: i64, transmission: &Transmission) -> TransmissionRecord {
        TransmissionRecord::of(
            received_at_ms,
            &transmission.header,
            transmission.patient.as_ref(),
        )
    }

    /// The same from the header and patient (no transmission needs to be assembled).
    pub fn of(
        received_at_ms: i64,
        header: &RequestHeader,
        patient: Option<&Patient>,
    ) -> TransmissionRecord {
        let age = patient.and_then(|patient| patient.date_of_birth);
        let age = age.map(|born| born.age_years_on(header.date_of_service));
        TransmissionRecord {
            received_at_ms,
            transaction_code: header.transaction_code,
            bin: header.bin.trim().to_owned(),
            pcn: header.pcn.trim().to_owned(),
            pharmacy_id: header.provider_id.trim().to_owned(),
            patient_key: patient.and_then(|patient| patient.key()),
            patient_age_years: age.and_then(|years| u8::try_from(years).ok()),
            transactions: Vec::new(),
            patient_head: None,
        }
    }

    /// Whether the record pays a claim (a new fill in the patient's history).
    pub fn pays(&self) -> bool {
        self.transactions
            .iter()
            .any(|transaction| transaction.status == crate::claim::Status::Paid)
    }

    /// Refuses a record beyond the bounds of [`crate::limits`] before it is queued.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.transactions.len() > TRANSACTIONS_MAX {
            return Err(StoreError::Invalid(
                "more transactions than a transmission may carry",
            ));
        }
        self.transactions
            .iter()
            .try_for_each(TransactionRecord::validate)
    }
}

impl TransactionRecord {
    /// A transaction of a request and the decision about it. `index` is 1-based; the date of
    /// service is the request header's.
    pub fn new(
        index: u8,
        kind: RecordKind,
        date_of_service: Date,
        transaction: &Transaction,
        decision: &Decision,
    ) -> TransactionRecord {
        let pricing = &transaction.pricing;
        TransactionRecord {
            index,
            kind,
            rx_number: transaction.rx_number,
            fill_number: transaction.fill_number,
            product_qualifier: transaction.product_qualifier.clone(),
            product_id: transaction.product_id.trim().to_owned(),
            ndc: transaction.ndc,
            quantity_milli: transaction.quantity_milli,
            days_supply: transaction.days_supply,
            compound_code: transaction.compound_code,
            daw_code: transaction.daw_code,
            date_written: transaction.date_written,
            date_of_service,
            prescriber_id: transaction.prescriber_id.trim().to_owned(),
            status: decision.status,
            reject_codes: decision.reject_codes.clone(),
            conflicts: decision.conflicts.clone(),
            dur_pps: transaction.dur_pps.clone(),
            unmatched_dur_pps: decision.unmatched_dur_pps.clone(),
            ruleset: decision.ruleset.clone(),
            message: decision.message.clone(),
            ingredient_cost_cents: pricing.ingredient_cost_cents,
            dispensing_fee_cents: pricing.dispensing_fee_cents,
            usual_and_customary_cents: pricing.usual_and_customary_cents,
            patient_paid_cents: pricing.patient_paid_cents,
            gross_amount_due_cents: pricing.gross_amount_due_cents,
        }
    }

    /// D and S answers point at a claim already recorded and are not recorded again.
    pub fn is_recorded(&self) -> bool {
        !matches!(self.status, Status::Duplicate | Status::DuplicateOfApproved)
    }

    /// The claim this transaction reverses: an approved B2's match, or a paid B3's.
    pub fn reverses(&self) -> Option<u64> {
        match (self.kind, self.status) {
            (RecordKind::Reversal { of_claim_id }, Status::Approved) => of_claim_id,
            (RecordKind::Rebill { reversed_claim_id }, Status::Paid) => reversed_claim_id,
            _ => None,
        }
    }

    /// Whether it gets an authorization number: paid claims and approved reversals.
    pub fn is_authorized(&self) -> bool {
        match self.kind {
            RecordKind::Eligibility => false,
            _ => matches!(self.status, Status::Paid | Status::Approved),
        }
    }

    /// The conflict each DUR/PPS occurrence answered, in occurrence order: the conflict it
    /// overrode, else the first conflict with its reason for service (a refused override still
    /// answered that conflict), else none. The decision's `unmatched_dur_pps` lists every
    /// occurrence that overrode nothing, refused ones included, so it does not decide this.
    pub fn dur_pps_matches(&self) -> impl Iterator<Item = DurPpsMatch> + '_ {
        self.dur_pps
            .iter()
            .map(|occurrence| self.dur_pps_match(occurrence))
    }

    fn dur_pps_match(&self, occurrence: &DurPps) -> DurPpsMatch {
        let counter = Some(occurrence.counter);
        let overridden = self
            .conflicts
            .iter()
            .position(|conflict| conflict.overridden_by == counter);
        if overridden.is_some() {
            return DurPpsMatch {
                conflict: overridden,
                overrode: true,
            };
        }
        let reason = occurrence.reason;
        let answered = self
            .conflicts
            .iter()
            .position(|conflict| Some(conflict.reason) == reason);
        DurPpsMatch {
            conflict: answered,
            overrode: false,
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        let bounded = self.reject_codes.len() <= REJECT_CODES_MAX
            && self.conflicts.len() <= CONFLICTS_PER_TRANSACTION_MAX
            && self.dur_pps.len() <= DUR_PPS_OCCURRENCES_MAX
            && self.unmatched_dur_pps.len() <= DUR_PPS_OCCURRENCES_MAX;
        if !bounded {
            return Err(StoreError::Invalid(
                "more codes, conflicts or DUR/PPS than the limits allow",
            ));
        }
        if self.index == 0 || usize::from(self.index) > TRANSACTIONS_MAX {
            return Err(StoreError::Invalid("transaction index out of range"));
        }
        let approved_reversal =
            matches!(self.kind, RecordKind::Reversal { .. }) && self.status == Status::Approved;
        if approved_reversal && self.reverses().is_none() {
            return Err(StoreError::Invalid(
                "an approved reversal names the claim it reverses",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::{Action, Code2, Edit};
    use std::sync::Arc;

    fn conflict(reason: &str, overridden_by: Option<u8>) -> Conflict {
        Conflict {
            edit: Edit::Ddi,
            rule_id: "ddi:1".into(),
            reason: Code2::new(reason),
            severity: 1,
            action: Action::Reject,
            clinical_significance: 1,
            previous_fill_date: None,
            previous_quantity_milli: None,
            other_pharmacy: 0,
            other_prescriber: 0,
            message: String::new(),
            overridable: true,
            overridden_by,
            remembered_from: None,
        }
    }

    fn occurrence(counter: u8, reason: &str) -> DurPps {
        DurPps {
            counter,
            reason: Some(Code2::new(reason)),
            ..DurPps::default()
        }
    }

    fn record(status: Status, kind: RecordKind) -> TransactionRecord {
        let decision = Decision::rejected(Vec::new(), Arc::from("sample@1"));
        let mut record = TransactionRecord::new(
            1,
            kind,
            Date::from_days(20_000),
            &Transaction::default(),
            &decision,
        );
        record.status = status;
        record
    }

    #[test]
    fn dur_pps_occurrences_are_matched_to_the_conflict_they_answered() {
        let mut transaction = record(Status::Paid, RecordKind::Claim);
        transaction.conflicts = vec![conflict("DD", None), conflict("TD", Some(2))];
        transaction.dur_pps = vec![
            occurrence(1, "DD"),
            occurrence(2, "TD"),
            occurrence(3, "HD"),
            occurrence(4, "DD"),
        ];
        // As adjudication lists them: every occurrence that overrode nothing.
        transaction.unmatched_dur_pps = vec![1, 3, 4];
        let matches: Vec<DurPpsMatch> = transaction.dur_pps_matches().collect();
        assert_eq!(
            matches,
            vec![
                DurPpsMatch {
                    conflict: Some(0),
                    overrode: false
                },
                DurPpsMatch {
                    conflict: Some(1),
                    overrode: true
                },
                DurPpsMatch {
                    conflict: None,
                    overrode: false
                },
                DurPpsMatch {
                    conflict: Some(0),
                    overrode: false
                },
            ]
        );
    }

    #[test]
    fn only_an_approved_reversal_or_a_paid_rebill_reverses() {
        let of = Some(9);
        assert_eq!(
            record(Status::Approved, RecordKind::Reversal { of_claim_id: of }).reverses(),
            of
        );
        assert_eq!(
            record(Status::Rejected, RecordKind::Reversal { of_claim_id: of }).reverses(),
            None
        );
        assert_eq!(
            record(
                Status::Paid,
                RecordKind::Rebill {
                    reversed_claim_id: of
                }
            )
            .reverses(),
            of
        );
        assert_eq!(
            record(
                Status::Rejected,
                RecordKind::Rebill {
                    reversed_claim_id: of
                }
            )
            .reverses(),
            None
        );
        assert_eq!(record(Status::Paid, RecordKind::Claim).reverses(), None);
    }

    #[test]
    fn authorization_numbers_go_to_paid_claims_and_approved_reversals() {
        assert!(record(Status::Paid, RecordKind::Claim).is_authorized());
        assert!(record(
            Status::Approved,
            RecordKind::Reversal {
                of_claim_id: Some(1)
            }
        )
        .is_authorized());
        assert!(!record(Status::Approved, RecordKind::Eligibility).is_authorized());
        assert!(!record(Status::Rejected, RecordKind::Claim).is_authorized());
        assert!(!record(Status::Duplicate, RecordKind::Claim).is_recorded());
        assert!(!record(
            Status::DuplicateOfApproved,
            RecordKind::Reversal { of_claim_id: None }
        )
        .is_recorded());
    }

    #[test]
    fn records_beyond_the_limits_are_refused() {
        let mut transaction = record(Status::Rejected, RecordKind::Claim);
        transaction.reject_codes = vec![crate::claim::reject::DUR_REJECT; REJECT_CODES_MAX + 1];
        assert!(matches!(
            transaction.validate(),
            Err(StoreError::Invalid(_))
        ));
        transaction.reject_codes.truncate(1);
        assert!(transaction.validate().is_ok());
        transaction.index = 0;
        assert!(matches!(
            transaction.validate(),
            Err(StoreError::Invalid(_))
        ));
        let unnamed = record(Status::Approved, RecordKind::Reversal { of_claim_id: None });
        assert!(matches!(unnamed.validate(), Err(StoreError::Invalid(_))));
    }
}
