//! The history of one transmission, read from a shared store (PostgreSQL, several nodes).
//!
//! When `ClaimStore::shared_history` is true the node keeps no history of its own: another
//! node may have paid a fill a moment ago. Before planning, the pipeline reads the patient's
//! paid claims in the lookback window (the newest `FILLS_PER_PATIENT_MAX`, as the embedded
//! history keeps them) into a small [`History`] that the planner reads exactly as it reads the
//! node's own, and, for duplicate and reversal matching, the paid claims with the
//! transmission's (pharmacy, Rx, fill, date of service) keys into [`Recalled`] — apart, so that
//! however many fills the patient has, none of the matched claims is crowded out. The patient's
//! head version is read with the fills, in one snapshot; the record carries it, and the store
//! refuses a paying record whose patient's head another node advanced meanwhile
//! (`StoreError::PatientChanged`: the pipeline then reads and plans again, `replan`). Other races between nodes (the same claim
//! paid or reversed twice) are caught by the store's unique index and row locks and answered
//! D or S by the pipeline.
//!
//! Must never: keep anything beyond the transmission, or log a patient identifier.

use super::recall::{claim_keys, Recalled};
use crate::claim::{Date, PatientKey, RequestHeader, Transaction};
use crate::history::{History, PaidClaim};
use crate::limits::TRANSACTIONS_MAX;
use crate::ncpdp::Validated;
use crate::store::{ClaimStore, HistoryRow, StoreError};

/// What a transmission read from a shared store.
pub(super) struct Snapshot {
    /// The patient's claims since `today` (or the earlier date of service) less the lookback.
    pub history: History,
    /// The claims the transmission's transactions may duplicate or reverse.
    pub recalled: Recalled,
    /// The patient's head version the history was read at (`None` without a patient).
    pub head_version: Option<i64>,
}

/// The transmission's [`Snapshot`].
pub(super) async fn load(
    store: &dyn ClaimStore,
    header: &RequestHeader,
    validated: &Validated,
    patient_key: Option<&PatientKey>,
    lookback_days: u32,
    today: Date,
) -> Result<Snapshot, StoreError> {
    let since = today
        .min(header.date_of_service)
        .add_days(-(lookback_days as i32));
    let patient = async {
        match patient_key {
            Some(key) => store.load_patient(key, since).await.map(Some),
            None => Ok(None),
        }
    };
    let claims = load_claims(store, header, validated.transactions.iter().flatten());
    let (patient, claim_rows) = futures::try_join!(patient, claims)?;
    let head_version = patient.as_ref().map(|patient| patient.head_version);
    let mut patient_rows = patient.map(|patient| patient.rows).unwrap_or_default();
    // Oldest first, as a node's own history would have recorded them.
    patient_rows.sort_by_key(|row| (row.fill.date_of_service, row.claim_id));
    let history = History::with_patients_max(1);
    for row in patient_rows {
        record(&history, row);
    }
    Ok(Snapshot {
        history,
        recalled: Recalled::of_rows(claim_rows),
        head_version,
    })
}

/// The patient token of the claim a B2 without patient segments reverses (for per-patient
/// ordering); `None` when no paid claim matches or the store cannot be read.
pub(super) async fn reversal_patient_token(
    store: &dyn ClaimStore,
    header: &RequestHeader,
    transaction: &Transaction,
) -> Option<u64> {
    let rows = load_claims(store, header, [transaction]).await.ok()?;
    Recalled::of_rows(rows).first_patient_token()
}

async fn load_claims<'t>(
    store: &dyn ClaimStore,
    header: &RequestHeader,
    transactions: impl IntoIterator<Item = &'t Transaction>,
) -> Result<Vec<HistoryRow>, StoreError> {
    let pairs = transactions
        .into_iter()
        .take(TRANSACTIONS_MAX)
        .map(|transaction| (transaction.rx_number, transaction.fill_number));
    let keys = claim_keys(header, pairs);
    if keys.rx_fills.is_empty() {
        return Ok(Vec::new());
    }
    store.load_claims(&keys).await
}

fn record(history: &History, row: HistoryRow) {
    let claim = PaidClaim {
        fill: row.fill,
        claim_id: row.claim_id,
        reversed: row.reversed,
    };
    history.record_paid(&row.patient_key, claim);
}
