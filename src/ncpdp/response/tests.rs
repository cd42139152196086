//! Unit tests of the response model: layout, round trip, decision mapping, limits, errors.

use super::*;
use crate::claim::{reject, Edit, Ndc};
use crate::ncpdp::build::ClaimBuilder;
use crate::ncpdp::read_request;
use std::sync::Arc;

fn header() -> ResponseHeader {
    ResponseHeader {
        transaction_code: "B1".into(),
        transaction_count: 1,
        status: HeaderStatus::Accepted,
        provider_id_qualifier: "01".into(),
        provider_id: "1234567893".into(),
        date_of_service: "20260302".into(),
    }
}

fn paid() -> ResponseTransaction {
    ResponseTransaction {
        status: Status::Paid,
        authorization: Some("A1B2C3".into()),
        rejects: vec![],
        messages: vec![],
        claim: Some(ResponseClaim { rx_number: 123_456 }),
        pricing: Some(ResponsePricing {
            patient_pay_cents: Some(1_000),
            ingredient_cost_paid_cents: Some(1_250),
            dispensing_fee_paid_cents: Some(175),
            total_paid_cents: Some(425),
            basis_of_reimbursement: Some(1),
            ..ResponsePricing::default()
        }),
        dur: vec![],
    }
}

fn conflict(edit: Edit, reason: &str, action: Action, overridden_by: Option<u8>) -> Conflict {
    Conflict {
        edit,
        rule_id: "r1".into(),
        reason: Code2::parse(reason.as_bytes()).unwrap_or(Code2::new("DD")),
        severity: 1,
        action,
        clinical_significance: 1,
        previous_fill_date: Date::from_ymd(2026, 2, 1),
        previous_quantity_milli: Some(30_000),
        other_pharmacy: 3,
        other_prescriber: 2,
        message: format!("{reason} conflict with a previous fill of a drug"),
        overridable: true,
        overridden_by,
        remembered_from: None,
    }
}

fn encoded(response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response(response, &mut out);
    out
}

#[test]
fn a_paid_b1_response_has_the_documented_layout() {
    let response = Response {
        header: header(),
        message: Some("PAID".into()),
        insurance: None,
        patient: None,
        transactions: vec![paid()],
    };
    let expected: &[u8] = b"D0B11A011234567893     20260302\x1e\x1cAM20\x1cF4PAID\x1d\x1e\x1cAM21\x1cANP\x1cF3A1B2C3\x1e\x1cAM22\x1cEM1\x1cD2000000123456\x1e\x1cAM23\x1cF5100{\x1cF6125{\x1cF717E\x1cF942E\x1cFM01";
    assert_eq!(encoded(&response), expected);
}

#[test]
fn everything_the_model_holds_round_trips() {
    let rejected = ResponseTransaction {
        status: Status::Rejected,
        authorization: None,
        rejects: vec![
            ResponseReject {
                code: reject::DUR_REJECT,
                occurrence: None,
            },
            ResponseReject {
                code: reject::DUR_COUNTER_NOT_FIRST,
                occurrence: Some(2),
            },
        ],
        messages: vec![AdditionalMessage {
            qualifier: "01".into(),
            text: "CALL HELP DESK".into(),
        }],
        claim: None,
        pricing: None,
        dur: vec![ResponseDur {
            counter: 1,
            reason: Some(Code2::new("ER")),
            clinical_significance: Some(1),
            other_pharmacy: Some(1),
            previous_fill_date: Date::from_ymd(2026, 2, 14),
            previous_quantity_milli: Some(90_000),
            database_indicator: Some(4),
            other_prescriber: Some(1),
            message: "EARLY REFILL".into(),
            additional_text: "previously overridden 2026-01-15".into(),
        }],
    };
    let response = Response {
        header: ResponseHeader {
            transaction_count: 2,
            ..header()
        },
        message: None,
        insurance: Some(ResponseInsurance {
            group_id: "SYNGRP01".into(),
            plan_id: "PLAN1".into(),
            ..ResponseInsurance::default()
        }),
        patient: Some(ResponsePatient {
            first_name: "PAT".into(),
            last_name: "SYNTHETIC".into(),
            date_of_birth: Date::from_ymd(1958, 4, 12),
        }),
        transactions: vec![paid(), rejected],
    };
    assert_eq!(parse_response(&encoded(&response)), Ok(response));
}

#[test]
fn a_decision_maps_onto_status_rejects_messages_and_dur() {
    let decision = Decision {
        status: Status::Rejected,
        reject_codes: vec![reject::DUR_REJECT],
        conflicts: vec![
            conflict(Edit::Ddi, "DD", Action::Warn, None),
            conflict(Edit::Duplication, "TD", Action::Reject, Some(1)),
            conflict(Edit::HighDose, "HD", Action::Reject, None),
        ],
        unmatched_dur_pps: vec![],
        ruleset: Arc::from("sample@1"),
        message: Some("X".repeat(45)),
    };
    let transaction = response_transaction(&decision, Some(77), None);
    assert_eq!(transaction.status, Status::Rejected);
    assert_eq!(
        transaction.rejects,
        [ResponseReject {
            code: reject::DUR_REJECT,
            occurrence: None
        }]
    );
    assert_eq!(transaction.claim, Some(ResponseClaim { rx_number: 77 }));
    let lines: Vec<(&str, usize)> = transaction
        .messages
        .iter()
        .map(|m| (m.qualifier.as_str(), m.text.len()))
        .collect();
    assert_eq!(lines, [("01", 40), ("02", 5)]);
    let reasons: Vec<String> = transaction
        .dur
        .iter()
        .map(|d| d.reason.map(|r| r.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(reasons, ["HD", "DD", "TD"]);
    let counters: Vec<u8> = transaction.dur.iter().map(|d| d.counter).collect();
    assert_eq!(counters, [1, 2, 3]);
    let first = &transaction.dur[0];
    assert_eq!(first.message.len(), DUR_MESSAGE_BYTES_MAX);
    assert_eq!(
        (
            first.clinical_significance,
            first.other_pharmacy,
            first.other_prescriber
        ),
        (Some(1), Some(3), Some(2))
    );
    assert_eq!(first.previous_quantity_milli, Some(30_000));
}

#[test]
fn at_most_nine_dur_occurrences_are_sent() {
    let conflicts: Vec<Conflict> = (0..12)
        .map(|_| conflict(Edit::Ddi, "DD", Action::Reject, None))
        .collect();
    let decision = Decision {
        conflicts,
        ..Decision::rejected(vec![reject::DUR_REJECT], Arc::from("s@1"))
    };
    let transaction = response_transaction(&decision, None, None);
    assert_eq!(transaction.dur.len(), DUR_PPS_OCCURRENCES_MAX);
    assert_eq!(transaction.dur.last().map(|d| d.counter), Some(9));
}

#[test]
fn texts_are_cut_to_their_widths_and_made_printable() {
    let long = ResponseTransaction {
        authorization: Some("Ä".repeat(30)),
        ..paid()
    };
    let response = Response {
        header: header(),
        message: Some("M".repeat(250)),
        insurance: None,
        patient: None,
        transactions: vec![long],
    };
    let read = parse_response(&encoded(&response)).expect("readable");
    assert_eq!(
        read.message.map(|m| m.len()),
        Some(RESPONSE_MESSAGE_BYTES_MAX)
    );
    assert_eq!(
        read.transactions[0].authorization.as_deref(),
        Some("?".repeat(20).as_str())
    );
}

#[test]
fn the_header_echoes_a_readable_request() {
    let bytes = ClaimBuilder::b1().next_claim().encode();
    let (message, _) = read_request(&bytes).expect("a request");
    let echoed = ResponseHeader::for_request(&message.header, 2);
    assert_eq!(
        echoed,
        ResponseHeader {
            transaction_count: 2,
            ..header()
        }
    );
}

#[test]
fn validation_problems_become_distinct_rejects() {
    let bytes = ClaimBuilder::b1()
        .ndc("123")
        .dur("ZZ", "M0", "1G")
        .dur("ZZ", "M0", "1G")
        .encode();
    let (_, validated) = read_request(&bytes).expect("a request");
    let rejects = rejects_from_problems(validated.problems_for(0));
    let shown: Vec<(String, Option<u8>)> = rejects
        .iter()
        .map(|r| (r.code.to_string(), r.occurrence))
        .collect();
    assert_eq!(
        shown,
        [
            ("21".into(), None),
            ("E4".into(), Some(1)),
            ("E4".into(), Some(2))
        ]
    );
    assert!(Ndc::parse(b"123").is_none());
    let transaction = ResponseTransaction::rejected(rejects);
    let response = Response {
        header: header(),
        message: None,
        insurance: None,
        patient: None,
        transactions: vec![transaction.clone()],
    };
    let read = parse_response(&encoded(&response)).expect("readable");
    assert_eq!(read.transactions, [transaction]);
}

#[test]
fn unreadable_responses_are_errors() {
    let good = encoded(&Response {
        header: header(),
        message: None,
        insurance: None,
        patient: None,
        transactions: vec![paid()],
    });
    let mut no_status = good.clone();
    let start = good.windows(4).position(|w| w == b"AM21").unwrap_or(0);
    no_status[start + 3] = b'7';
    assert!(matches!(
        parse_response(&no_status),
        Err(ParseError::Response { .. })
    ));
    let mut bad_count = good[..31].to_vec();
    bad_count.extend_from_slice(b"\x1d\x1e\x1cAM21\x1cANR\x1cFA2\x1cFB88");
    assert!(matches!(
        parse_response(&bad_count),
        Err(ParseError::Response { .. })
    ));
    let request = ClaimBuilder::b1().encode();
    assert_eq!(
        parse_response(&request),
        Err(ParseError::WrongKind {
            expected: Kind::Response
        })
    );
}

#[test]
fn patients_in_responses_are_redacted_in_debug() {
    let patient = ResponsePatient {
        first_name: "ALEXANDRA".into(),
        ..ResponsePatient::default()
    };
    assert!(!format!("{patient:?}").contains("ALEXANDRA"));
    let insurance = ResponseInsurance {
        cardholder_id: "SECRET77".into(),
        ..ResponseInsurance::default()
    };
    assert!(!format!("{insurance:?}").contains("SECRET77"));
}
