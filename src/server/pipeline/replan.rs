//! A transmission's planning inputs, owned, and planning it again when a shared store refused
//! its record because another node paid a claim of the same patient after this node read the
//! patient's history (`StoreError::PatientChanged`).
//!
//! Tier 3, inside `server::pipeline`. [`Planning`] holds what `plan::plan` needs besides the
//! history: the pipeline plans the first round with it, and with a shared store hands it to
//! the task that awaits the commit as a [`Replan`]. Each further round (at most
//! [`PATIENT_REPLANS_MAX`]) reads the patient's history afresh (`snapshot`), plans against it
//! and queues the new record, while the patient's tail guard is still held; the last refusal is
//! answered 99.
//!
//! Must never: answer before a commit, keep anything beyond the transmission, or log a patient
//! identifier.

use std::sync::Arc;
use std::time::Instant;

use super::plan::{self, Context, Outcome};
use super::recall::Recalled;
use super::snapshot;
use crate::claim::{Date, PatientKey, RequestHeader};
use crate::history::History;
use crate::ncpdp::Validated;
use crate::rules::RuleSet;
use crate::server::metrics;
use crate::store::{ClaimStore, Committing, StoreError, TransmissionRecord};

pub(super) use crate::limits::PATIENT_REPLANS_MAX;

/// Everything `plan::plan` reads but the history.
pub(super) struct Planning {
    pub header: RequestHeader,
    pub validated: Validated,
    pub patient_key: Option<PatientKey>,
    pub rules: Arc<RuleSet>,
    pub today: Date,
    pub received_at_ms: i64,
    pub reveal_history: bool,
    pub eligibility_allowed: bool,
}

impl Planning {
    /// Plans every transaction against `history` and `recalled`, timing the adjudication.
    pub fn plan(
        &self,
        history: &History,
        recalled: &Recalled,
    ) -> (Vec<Outcome>, Option<TransmissionRecord>) {
        let context = Context {
            header: &self.header,
            patient: self.validated.patient.as_ref(),
            patient_key: self.patient_key.as_ref(),
            rules: &self.rules,
            history,
            recalled,
            today: self.today,
            received_at_ms: self.received_at_ms,
            reveal_history: self.reveal_history,
            eligibility_allowed: self.eligibility_allowed,
        };
        let adjudication = Instant::now();
        let planned = plan::plan(&context, &self.validated);
        metrics::adjudication_time(adjudication.elapsed());
        planned
    }

    /// The transmission's history and matched claims from a shared store.
    pub async fn read_snapshot(
        &self,
        store: &dyn ClaimStore,
    ) -> Result<snapshot::Snapshot, StoreError> {
        let lookback_days = self.rules.lookback_days();
        let key = self.patient_key.as_ref();
        snapshot::load(
            store,
            &self.header,
            &self.validated,
            key,
            lookback_days,
            self.today,
        )
        .await
    }
}

/// A transmission that may be planned again against a fresh read of a shared store.
pub(super) struct Replan {
    pub store: Arc<dyn ClaimStore>,
    pub planning: Planning,
}

/// One more round: its outcomes and, when it records anything, its commit.
pub(super) struct Replanned {
    pub outcomes: Vec<Outcome>,
    pub committing: Option<Committing>,
}

impl Replan {
    /// Reads the patient's history afresh, plans against it and queues the new record.
    pub async fn again(&self) -> Result<Replanned, StoreError> {
        metrics::patient_replanned();
        let snapshot = self.planning.read_snapshot(&*self.store).await?;
        let (outcomes, record) = self.planning.plan(&snapshot.history, &snapshot.recalled);
        let Some(mut record) = record else {
            return Ok(Replanned {
                outcomes,
                committing: None,
            });
        };
        record.patient_head = snapshot.head_version;
        let committing = self.store.submit(record).await?;
        Ok(Replanned {
            outcomes,
            committing: Some(committing),
        })
    }
}
