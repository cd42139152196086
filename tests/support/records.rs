//! Claim-store record builders shared by the store stories (`tests/store.rs`,
//! `tests/postgres.rs`, `tests/store_contract.rs`): one pharmacy, one prescriber, patients by
//! number, dates relative to 2025-03-01, and B1/B2/B3 records as the server builds them.

use durgate::claim::{
    Action, Code2, Conflict, Date, Decision, DurPps, Edit, Ndc, Patient, PatientKey, Pricing,
    RequestHeader, Status, Transaction, TransactionCode, Transmission,
};
use durgate::store::{
    ClaimStore, CommitReceipt, RecordKind, TransactionRecord, TransmissionRecord,
};
use std::sync::Arc;

pub const PHARMACY: &str = "1234567890";
pub const PRESCRIBER: &str = "1999999999";

pub fn day(offset: i32) -> Date {
    Date::from_ymd(2025, 3, 1).expect("date").add_days(offset)
}

pub fn patient(number: u32) -> PatientKey {
    PatientKey::new(
        &format!("ZZ{number:09}"),
        "01",
        Date::from_ymd(1950, 1, 2).expect("date"),
    )
}

pub fn ndc(value: u64) -> Ndc {
    Ndc::from_value(value).expect("ndc")
}

pub fn transmission(code: TransactionCode, key: Option<PatientKey>) -> TransmissionRecord {
    TransmissionRecord {
        received_at_ms: 1_740_000_000_000,
        transaction_code: code,
        bin: "610011".into(),
        pcn: "DURGATE".into(),
        pharmacy_id: PHARMACY.into(),
        patient_key: key,
        patient_age_years: Some(75),
        transactions: Vec::new(),
        patient_head: None,
    }
}

pub fn transaction(
    kind: RecordKind,
    rx_number: u64,
    date_of_service: Date,
    status: Status,
) -> TransactionRecord {
    TransactionRecord {
        index: 1,
        kind,
        rx_number,
        fill_number: 0,
        product_qualifier: "03".into(),
        product_id: ndc(378_611_201).to_string(),
        ndc: Some(ndc(378_611_201)),
        quantity_milli: 30_000,
        days_supply: 30,
        compound_code: 1,
        daw_code: Some(0),
        date_written: Some(day(-10)),
        date_of_service,
        prescriber_id: PRESCRIBER.into(),
        status,
        reject_codes: Vec::new(),
        conflicts: Vec::new(),
        dur_pps: Vec::new(),
        unmatched_dur_pps: Vec::new(),
        ruleset: Arc::from("sample@2025.03"),
        message: None,
        ingredient_cost_cents: Some(1_250),
        dispensing_fee_cents: Some(150),
        usual_and_customary_cents: None,
        patient_paid_cents: None,
        gross_amount_due_cents: Some(1_400),
    }
}

/// A B1 with one transaction for `patient`.
pub fn b1(
    patient_number: u32,
    rx_number: u64,
    date_of_service: Date,
    status: Status,
) -> TransmissionRecord {
    let mut record = transmission(TransactionCode::B1, Some(patient(patient_number)));
    record.transactions.push(transaction(
        RecordKind::Claim,
        rx_number,
        date_of_service,
        status,
    ));
    record
}

/// A B2 reversing `claim_id`.
pub fn b2(rx_number: u64, date_of_service: Date, claim_id: u64) -> TransmissionRecord {
    let mut record = transmission(TransactionCode::B2, None);
    let kind = RecordKind::Reversal {
        of_claim_id: Some(claim_id),
    };
    let mut reversal = transaction(kind, rx_number, date_of_service, Status::Approved);
    (reversal.product_id, reversal.ndc, reversal.quantity_milli) = (String::new(), None, 0);
    record.transactions.push(reversal);
    record
}

/// A B3 for `patient` replacing `claim_id`.
pub fn b3(
    patient_number: u32,
    rx_number: u64,
    date_of_service: Date,
    claim_id: u64,
    status: Status,
) -> TransmissionRecord {
    let mut record = transmission(TransactionCode::B3, Some(patient(patient_number)));
    let kind = RecordKind::Rebill {
        reversed_claim_id: Some(claim_id),
    };
    let mut rebill = transaction(kind, rx_number, date_of_service, status);
    rebill.quantity_milli = 60_000;
    record.transactions.push(rebill);
    record
}

pub fn claim_id(receipt: &CommitReceipt) -> u64 {
    receipt
        .transaction(1)
        .expect("recorded transaction")
        .claim_id
}

pub fn conflict(edit: Edit, reason: &str, overridden_by: Option<u8>) -> Conflict {
    Conflict {
        edit,
        rule_id: format!("{}:17", edit.as_str()),
        reason: Code2::new(reason),
        severity: 1,
        action: Action::Reject,
        clinical_significance: 1,
        previous_fill_date: Some(day(-20)),
        previous_quantity_milli: Some(30_000),
        other_pharmacy: 3,
        other_prescriber: 2,
        message: "INTERACTS WITH WARFARIN 5 MG TABLET (ACTIVE)".into(),
        overridable: true,
        overridden_by,
        remembered_from: None,
    }
}

pub fn occurrence(counter: u8, reason: &str, professional: &str, result: &str) -> DurPps {
    DurPps {
        counter,
        reason: Some(Code2::new(reason)),
        professional: Some(Code2::new(professional)),
        result: Some(Code2::new(result)),
        level_of_effort: Some(11),
        ..DurPps::default()
    }
}

/// A paid B1 with two conflicts (one overridden) and two DUR/PPS occurrences, as the server
/// builds it from the typed request and the decision.
pub fn b1_from_request() -> TransmissionRecord {
    let header = RequestHeader {
        bin: "610011".into(),
        version: "D0".into(),
        transaction_code: TransactionCode::B1,
        pcn: "DURGATE   ".into(),
        transaction_count: 1,
        provider_id_qualifier: "01".into(),
        provider_id: format!("{PHARMACY}     "),
        date_of_service: day(0),
        software_vendor: String::new(),
    };
    let person = Patient {
        cardholder_id: "ZZ000000001".into(),
        person_code: "01".into(),
        date_of_birth: Date::from_ymd(1950, 1, 2),
        ..Patient::default()
    };
    let claim = Transaction {
        rx_number: 555_001,
        product_qualifier: "03".into(),
        product_id: "00378611201".into(),
        ndc: Some(ndc(378_611_201)),
        quantity_milli: 30_000,
        days_supply: 30,
        compound_code: 1,
        prescriber_id: PRESCRIBER.into(),
        dur_pps: vec![
            occurrence(1, "DD", "M0", "1G"),
            occurrence(2, "HD", "R0", "1A"),
        ],
        pricing: Pricing {
            gross_amount_due_cents: Some(2_000),
            ..Pricing::default()
        },
        ..Transaction::default()
    };
    let decision = Decision {
        status: Status::Paid,
        reject_codes: Vec::new(),
        conflicts: vec![
            conflict(Edit::Ddi, "DD", Some(1)),
            conflict(Edit::Duplication, "TD", None),
        ],
        unmatched_dur_pps: vec![2],
        ruleset: Arc::from("sample@2025.03"),
        message: Some("DUR OVERRIDE ACCEPTED".into()),
    };
    let request = Transmission {
        header,
        patient: Some(person),
        transactions: vec![claim.clone()],
    };
    let mut record = TransmissionRecord::new(1_740_000_000_000, &request);
    let row = TransactionRecord::new(1, RecordKind::Claim, day(0), &claim, &decision);
    record.transactions.push(row);
    record
}

/// A B1 of one transaction rejected by a DUR edit (reject code 88).
pub fn dur_rejected(
    patient_number: u32,
    rx_number: u64,
    date_of_service: Date,
) -> TransmissionRecord {
    let mut record = b1(patient_number, rx_number, date_of_service, Status::Rejected);
    record.transactions[0].reject_codes = vec![durgate::claim::reject::DUR_REJECT];
    record
}

/// Commits the story the example queries of `SCHEMA.md` answer from: a paid override, a DUR
/// reject never followed up (patient 2), and a DUR reject (patient 3) paid after review two
/// days later. Returns the claim ids of the override and of the abandoned reject.
pub async fn commit_review_story(store: &impl ClaimStore) -> (u64, u64) {
    let paid_with_override = claim_id(&store.commit(b1_from_request()).await.expect("override"));
    let abandoned = claim_id(
        &store
            .commit(dur_rejected(2, 900, day(0)))
            .await
            .expect("reject"),
    );
    store
        .commit(dur_rejected(3, 901, day(0)))
        .await
        .expect("reject");
    store
        .commit(b1(3, 902, day(2), Status::Paid))
        .await
        .expect("paid after review");
    (paid_with_override, abandoned)
}
