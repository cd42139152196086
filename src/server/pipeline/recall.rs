//! Claims a full embedded history dropped, read back from the store for one transmission.
//!
//! A patient with more than `FILLS_PER_PATIENT_MAX` entries loses its oldest ones from the
//! embedded history (the DUR edits then see the newest `FILLS_PER_PATIENT_MAX` fills), but every
//! claim stays matchable: the history knows what it dropped
//! (`History::may_have_dropped`, `History::patient_may_have_dropped`), and when a transaction's
//! key may be among it and memory has no paid claim for it, the pipeline reads that key from
//! the store (`ClaimStore::load_claims`: one probe of the `claims_match` index per key, at most
//! [`TRANSACTIONS_MAX`]) before planning. Which transactions ask:
//!
//! - a B2 or B3 whose claim memory does not hold as paid, when any patient lost an entry of
//!   that date or later (a miss is an 87 or an S otherwise: never a normal claim's path);
//! - a B1 of a patient who lost a paid claim of that date or later (the duplicate check).
//!
//! So a patient whose history is complete never causes a read. The planner matches against
//! memory first and against the [`Recalled`] claims second (`plan::Context::find_paid`). With a
//! shared store (`snapshot`) the transmission's claims are always read, and land here too.
//!
//! Must never: change the history (a recalled claim is not learned: the patient's newest fills
//! stay what the edits see), or log a patient identifier.

use crate::claim::{PatientKey, RequestHeader, TransactionCode};
use crate::history::{patient_token, ClaimMatch, History, PaidLookup};
use crate::limits::TRANSACTIONS_MAX;
use crate::ncpdp::Validated;
use crate::store::{ClaimKeys, ClaimStore, HistoryRow, StoreError};

/// Paid claims read from the store for one transmission's keys (at most [`TRANSACTIONS_MAX`]).
#[derive(Default)]
pub struct Recalled {
    claims: Vec<(ClaimMatch, PaidLookup, u64)>,
}

impl Recalled {
    /// The rows `ClaimStore::load_claims` answered.
    pub fn of_rows(rows: Vec<HistoryRow>) -> Recalled {
        let claims = rows.into_iter().take(TRANSACTIONS_MAX).map(|row| {
            let lookup = PaidLookup::of_claim(row.claim_id, row.fill.ndc, row.reversed);
            let token = patient_token(&row.patient_key);
            (ClaimMatch::of_fill(&row.fill), lookup, token)
        });
        Recalled {
            claims: claims.collect(),
        }
    }

    /// The recalled claim with this match key.
    pub fn find(&self, claim: &ClaimMatch) -> Option<PaidLookup> {
        let found = self.claims.iter().find(|(key, ..)| key == claim);
        found.map(|(_, lookup, _)| *lookup)
    }

    /// The patient token of the first recalled claim (the claim a B2 without patient
    /// segments reverses).
    pub fn first_patient_token(&self) -> Option<u64> {
        self.claims.first().map(|(.., token)| *token)
    }
}

/// The match key of a transaction of this transmission.
pub(super) fn claim_match(header: &RequestHeader, rx_number: u64, fill_number: u8) -> ClaimMatch {
    ClaimMatch {
        pharmacy: header.pharmacy_hash(),
        rx_number,
        fill_number,
        date_of_service: header.date_of_service,
    }
}

/// The store keys of these (Rx, fill) pairs of the transmission (at most [`TRANSACTIONS_MAX`]).
pub(super) fn claim_keys(
    header: &RequestHeader,
    rx_fills: impl IntoIterator<Item = (u64, u8)>,
) -> ClaimKeys {
    ClaimKeys {
        pharmacy_id: header.provider_id.trim().to_owned(),
        date_of_service: header.date_of_service,
        rx_fills: rx_fills.into_iter().take(TRANSACTIONS_MAX).collect(),
    }
}

/// The claims of this transmission the embedded history may have dropped, read from the store;
/// nothing (and no read) when its history is complete for them.
pub(super) async fn recall(
    store: &dyn ClaimStore,
    history: &History,
    header: &RequestHeader,
    validated: &Validated,
    patient_key: Option<&PatientKey>,
) -> Result<Recalled, StoreError> {
    let keys = claim_keys(header, forgotten(history, header, validated, patient_key));
    if keys.rx_fills.is_empty() {
        return Ok(Recalled::default());
    }
    crate::server::metrics::history_recall();
    store.load_claims(&keys).await.map(Recalled::of_rows)
}

/// The (Rx, fill) of each valid transaction whose claim memory may have dropped (see the
/// module docs).
fn forgotten(
    history: &History,
    header: &RequestHeader,
    validated: &Validated,
    patient_key: Option<&PatientKey>,
) -> Vec<(u64, u8)> {
    let valid = validated
        .transactions
        .iter()
        .take(TRANSACTIONS_MAX)
        .enumerate()
        .filter(|(index, _)| validated.reject_codes(*index).is_empty())
        .filter_map(|(_, transaction)| transaction.as_ref().ok());
    let wanted = valid.filter(|transaction| {
        let claim = claim_match(header, transaction.rx_number, transaction.fill_number);
        let dropped = match header.transaction_code {
            TransactionCode::B2 | TransactionCode::B3 => history.may_have_dropped(&claim),
            TransactionCode::B1 => patient_key
                .is_some_and(|key| history.patient_may_have_dropped(key, claim.date_of_service)),
            TransactionCode::E1 => false,
        };
        dropped && !matches!(history.find_paid(&claim), Some(PaidLookup::Paid { .. }))
    });
    wanted
        .map(|transaction| (transaction.rx_number, transaction.fill_number))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::{id_hash, Date, Fill, Ndc, Overridden};
    use crate::history::PaidClaim;
    use crate::limits::FILLS_PER_PATIENT_MAX;
    use crate::ncpdp::build::ClaimBuilder;

    fn day(days: i32) -> Date {
        Date::from_ymd(2026, 1, 1).unwrap().add_days(days)
    }

    /// The keys `forgotten` wants read for a one-transaction request on `date` with Rx `rx`.
    fn wanted(history: &History, builder: ClaimBuilder, rx: u64, date: Date) -> Vec<(u64, u8)> {
        let bytes = builder.rx(rx).date_of_service(date).encode();
        let message = crate::ncpdp::parse(&bytes).expect("a request");
        let validated = crate::ncpdp::validate_request(&message);
        let key = validated.patient.as_ref().and_then(|patient| patient.key());
        let header = validated.header.as_ref().expect("a header");
        forgotten(history, header, &validated, key.as_ref())
    }

    /// `cardholder`'s fills as the pipeline would record them: one a day from `day(0)`, Rx
    /// `first_rx` + n, at the builder's pharmacy.
    fn fill_up(history: &History, cardholder: &str, first_rx: u64, fills: usize) {
        let bytes = ClaimBuilder::b1().cardholder(cardholder).encode();
        let message = crate::ncpdp::parse(&bytes).expect("a request");
        let validated = crate::ncpdp::validate_request(&message);
        let key = validated.patient.and_then(|patient| patient.key()).unwrap();
        let pharmacy = validated.header.as_ref().unwrap().pharmacy_hash();
        for n in 0..fills {
            let fill = Fill {
                ndc: Ndc::parse(b"00000000001").unwrap(),
                rx_number: first_rx + n as u64,
                date_of_service: day(n as i32),
                quantity_milli: 1_000,
                days_supply: 1,
                fill_number: 0,
                pharmacy,
                prescriber: id_hash(b"1999999999"),
                overridden: Overridden::NONE,
            };
            let claim_id = first_rx * 1_000 + n as u64;
            let paid = PaidClaim {
                fill,
                claim_id,
                reversed: false,
            };
            history.record_paid(&key, paid);
        }
    }

    #[test]
    fn a_complete_history_never_asks_the_store() {
        let history = History::new();
        fill_up(&history, "FULL000001", 1_000, FILLS_PER_PATIENT_MAX);
        fill_up(&history, "FEW0000001", 5_000, 3);
        let (b1, b2, b3) = (ClaimBuilder::b1, ClaimBuilder::b2, ClaimBuilder::b3);
        for cardholder in ["FULL000001", "FEW0000001"] {
            for builder in [b1(), b2(), b3()] {
                let builder = builder.cardholder(cardholder);
                assert_eq!(wanted(&history, builder, 1_000, day(0)), []);
            }
            assert_eq!(
                wanted(&history, b2().cardholder(cardholder), 77, day(0)),
                []
            );
        }
        assert_eq!(wanted(&history, b2().no_patient(), 1_000, day(0)), []);
    }

    #[test]
    fn a_full_patients_dropped_claims_are_read_and_nothing_else() {
        let history = History::new();
        fill_up(&history, "FULL000001", 1_000, FILLS_PER_PATIENT_MAX + 2);
        fill_up(&history, "FEW0000001", 5_000, 3);
        let (b1, b2, b3) = (ClaimBuilder::b1, ClaimBuilder::b2, ClaimBuilder::b3);
        let full = || b1().cardholder("FULL000001");
        // Rx 1000 and 1001 (days 0 and 1) were dropped; Rx 1002 is still in memory.
        assert_eq!(wanted(&history, full(), 1_000, day(0)), [(1_000, 0)]);
        assert_eq!(wanted(&history, full(), 1_001, day(1)), [(1_001, 0)]);
        assert_eq!(wanted(&history, full(), 1_002, day(2)), []);
        assert_eq!(wanted(&history, full(), 2_000, day(30)), [], "a new claim");
        let reversal = b2().cardholder("FULL000001");
        assert_eq!(wanted(&history, reversal, 1_000, day(0)), [(1_000, 0)]);
        assert_eq!(
            wanted(&history, b2().no_patient(), 1_001, day(1)),
            [(1_001, 0)]
        );
        let rebill = b3().cardholder("FULL000001");
        assert_eq!(wanted(&history, rebill, 1_001, day(1)), [(1_001, 0)]);
        // Another patient's B1 of that day never reads; a B2 that misses there may (a miss
        // is an 87 or an S, never a normal claim's path).
        assert_eq!(
            wanted(&history, b1().cardholder("FEW0000001"), 5, day(0)),
            []
        );
        assert_eq!(
            wanted(&history, b2().cardholder("FEW0000001"), 5, day(0)),
            [(5, 0)]
        );
        assert_eq!(
            wanted(&history, b2().no_patient(), 5, day(2)),
            [],
            "after the drops"
        );
    }
}
