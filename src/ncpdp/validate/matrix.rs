//! The mandatory matrix: what each served transaction code requires (segments, their fields,
//! transaction groups, positive quantities), and which segment ids belong at which level.
//!
//! Place in the flow: the walk looks up the row of the header's 103-A3 once, and every later
//! step reads it. Pure data and one lookup: must never report a problem itself.

use crate::claim::TransactionCode;

/// Whether a segment must be sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Need {
    Required,
    Optional,
}

/// What one transaction code requires.
#[derive(Clone, Copy, Debug)]
pub(super) struct Requirements {
    pub(super) code: Option<TransactionCode>,
    /// AM04 Insurance, and the fields it must carry when present.
    pub(super) insurance: Need,
    pub(super) insurance_fields: &'static [[u8; 2]],
    /// AM01 Patient, and the fields it must carry when present.
    pub(super) patient: Need,
    pub(super) patient_fields: &'static [[u8; 2]],
    /// Whether the transmission carries transaction groups (E1 does not).
    pub(super) groups: bool,
    /// AM07 Claim fields each transaction must carry.
    pub(super) claim_fields: &'static [[u8; 2]],
    /// AM11 Pricing.
    pub(super) pricing: Need,
    /// Whether 442-E7 and 405-D5 must be positive (billing) or may be zero (reversal).
    pub(super) positive_quantities: bool,
}

/// The mandatory matrix — the gateway's payer sheet, one row per served transaction code.
///
/// - **B1 billing / B3 rebill**: Insurance with 302-C2 cardholder id; Patient with 304-C4
///   date of birth (the patient key needs both); per transaction a Claim with 455-EM,
///   402-D2, 436-E1, 407-D7, 442-E7, 403-D3, 405-D5, and a Pricing segment (its fields are
///   optional: the gateway does not price, it records).
/// - **B2 reversal**: Insurance and Patient optional (the reversal is matched on provider,
///   402-D2, 403-D3 and the header's 401-D1); per transaction a Claim with 402-D2, 407-D7
///   and 403-D3.
/// - **E1 eligibility**: Insurance with 302-C2 and Patient with 304-C4; no transaction groups.
///
/// Everything else is optional but validated when present. An unknown transaction code
/// requires nothing (its 03/1S already rejects every transaction).
const REQUIREMENTS: [Requirements; 4] = [
    Requirements {
        code: Some(TransactionCode::B1),
        ..BILLING
    },
    Requirements {
        code: Some(TransactionCode::B2),
        insurance: Need::Optional,
        insurance_fields: &[],
        patient: Need::Optional,
        patient_fields: &[],
        groups: true,
        claim_fields: &[*b"D2", *b"D7", *b"D3"],
        pricing: Need::Optional,
        positive_quantities: false,
    },
    Requirements {
        code: Some(TransactionCode::B3),
        ..BILLING
    },
    Requirements {
        code: Some(TransactionCode::E1),
        groups: false,
        claim_fields: &[],
        pricing: Need::Optional,
        ..BILLING
    },
];

const BILLING: Requirements = Requirements {
    code: None,
    insurance: Need::Required,
    insurance_fields: &[*b"C2"],
    patient: Need::Required,
    patient_fields: &[*b"C4"],
    groups: true,
    claim_fields: &[*b"EM", *b"D2", *b"E1", *b"D7", *b"E7", *b"D3", *b"D5"],
    pricing: Need::Required,
    positive_quantities: true,
};

const UNKNOWN_CODE: Requirements = Requirements {
    code: None,
    insurance: Need::Optional,
    insurance_fields: &[],
    patient: Need::Optional,
    patient_fields: &[],
    groups: true,
    claim_fields: &[],
    pricing: Need::Optional,
    positive_quantities: false,
};

pub(super) fn requirements(code: Option<TransactionCode>) -> &'static Requirements {
    let row = REQUIREMENTS
        .iter()
        .find(|row| code.is_some() && row.code == code);
    row.unwrap_or(&UNKNOWN_CODE)
}

/// Request segments allowed before the first group (E1 also allows 02, 03 and 14 there).
pub(super) const TRANSMISSION_SEGMENTS: &[[u8; 2]] = &[*b"01", *b"04"];
pub(super) const E1_TRANSMISSION_SEGMENTS: &[[u8; 2]] = &[*b"01", *b"02", *b"03", *b"04", *b"14"];
/// Request segments allowed inside a transaction group.
pub(super) const TRANSACTION_SEGMENTS: &[[u8; 2]] = &[
    *b"02", *b"03", *b"05", *b"06", *b"07", *b"08", *b"09", *b"10", *b"11", *b"12", *b"13", *b"14",
    *b"15", *b"16",
];

/// 103-A3 codes NCPDP defines that the gateway does not serve (1S rather than 03).
pub(super) const UNSERVED_CODES: &[&[u8; 2]] = &[
    b"C1", b"C2", b"C3", b"D1", b"E2", b"N1", b"N2", b"N3", b"P1", b"P2", b"P3", b"P4", b"S1",
    b"S2", b"S3",
];
