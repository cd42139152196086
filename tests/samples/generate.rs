//! The sample generator: every file of `ncpdp-samples/{demo,ok,reject,malformed}/NAME.d0`, built
//! from synthetic claims (invented ids, BIN 610011, NDCs from the sample rule tables product list,
//! dates in 2026). `tests/samples.rs` checks the committed files equal what this produces and
//! rewrites them with `UPDATE_SAMPLES=1`.
//!
//! Reject samples are named `CODE[+CODE...]-what.d0`: the codes are exactly the distinct
//! reject codes validation must report.

use durgate::claim::{
    reject, Action, CobPayer, Code2, CompoundIngredient, Conflict, Date, Decision, DurPps, Edit,
    QualifiedAmount, Status,
};
use durgate::ncpdp::build::{ClaimBuilder, RawMessage, RawSegment};
use durgate::ncpdp::{
    encode_response, response_transaction, HeaderStatus, Place, Response, ResponseHeader,
    ResponseInsurance, ResponsePricing,
};
use std::sync::Arc;

pub struct Sample {
    pub dir: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

const CLAIM: Place = Place::Transaction(0);

const OXYCODONE_5MG: &str = "00378611201";
const ALPRAZOLAM_0_5MG: &str = "00378400301";
const METFORMIN_500MG: &str = "65841080901";
const LISINOPRIL_10MG: &str = "50090298800";
const HYDROCODONE_APAP_5MG: &str = "00093056701";
const BACLOFEN_10MG: &str = "00093223401";
const OMEPRAZOLE_20MG: &str = "00363998014";

fn date(year: i32, month: u32, day: u32) -> Date {
    Date::from_ymd(year, month, day).unwrap_or_default()
}

fn sample(dir: &'static str, name: &str, bytes: Vec<u8>) -> Sample {
    Sample {
        dir,
        name: name.to_owned(),
        bytes,
    }
}

/// Every sample, in a stable order.
pub fn all() -> Vec<Sample> {
    let mut samples = demo();
    samples.extend(ok());
    samples.extend(reject());
    samples.extend(malformed());
    samples
}

// ---- demo ---------------------------------------------------------------------------------

const DEMO_WARFARIN_5MG: &str = "99999000101";
const DEMO_NAPROXEN_500MG: &str = "99999007201";

/// One patient of the quick start, sent in name order: warfarin paid, naproxen rejected 88 for
/// the interaction, naproxen again with the pharmacist's DUR/PPS answer (DD, M0 prescriber
/// consulted, 1G filled with prescriber approval) paid, then naproxen reversed.
fn demo() -> Vec<Sample> {
    let of_patient =
        |builder: ClaimBuilder| builder.cardholder("DEMO000001").dob(date(1980, 5, 14));
    let patient = || of_patient(ClaimBuilder::b1());
    let naproxen = || {
        patient()
            .rx(400_002)
            .ndc(DEMO_NAPROXEN_500MG)
            .quantity_milli(60_000)
            .days_supply(30)
    };
    let warfarin = patient()
        .rx(400_001)
        .ndc(DEMO_WARFARIN_5MG)
        .quantity_milli(30_000)
        .days_supply(30);
    let reversal = of_patient(ClaimBuilder::b2())
        .rx(400_002)
        .ndc(DEMO_NAPROXEN_500MG);
    let demo = |name: &str, builder: ClaimBuilder| sample("demo", name, builder.encode());
    vec![
        demo("1-b1-warfarin-paid", warfarin),
        demo("2-b1-naproxen-rejected-88", naproxen()),
        demo(
            "3-b1-naproxen-override-paid",
            naproxen().dur("DD", "M0", "1G"),
        ),
        demo("4-b2-naproxen-reversed", reversal),
    ]
}

// ---- ok -----------------------------------------------------------------------------------

fn ok() -> Vec<Sample> {
    let ok = |name: &str, builder: ClaimBuilder| sample("ok", name, builder.encode());
    vec![
        ok("b1-single", ClaimBuilder::b1()),
        ok(
            "b1-two-transactions",
            ClaimBuilder::b1()
                .next_claim()
                .ndc(METFORMIN_500MG)
                .quantity_milli(60_000),
        ),
        ok("b1-three-transactions", three_transactions()),
        ok(
            "b1-four-transactions",
            three_transactions()
                .next_claim()
                .ndc(HYDROCODONE_APAP_5MG)
                .quantity_milli(12_000)
                .days_supply(3),
        ),
        ok(
            "b1-dur-override",
            ClaimBuilder::b1()
                .ndc(OXYCODONE_5MG)
                .quantity_milli(20_000)
                .days_supply(5)
                .dur("ER", "M0", "1G"),
        ),
        ok("b1-dur-three-occurrences", dur_three()),
        ok(
            "b1-opioid-and-benzodiazepine",
            ClaimBuilder::b1()
                .ndc(OXYCODONE_5MG)
                .next_claim()
                .ndc(ALPRAZOLAM_0_5MG)
                .quantity_milli(60_000),
        ),
        ok("b1-compound", compound()),
        ok(
            "b1-cob-secondary",
            ClaimBuilder::b1().cob_payer(cob_payer()),
        ),
        ok(
            "b1-clarification-codes",
            ClaimBuilder::b1().clarification(7).clarification(3),
        ),
        ok(
            "b1-other-amounts",
            ClaimBuilder::b1()
                .other_amount("04", 150)
                .other_amount("09", 25),
        ),
        ok(
            "b1-minimal-patient",
            ClaimBuilder::b1()
                .name("", "")
                .group_id("")
                .person_code("")
                .edit(|t| {
                    t.daw_code = None;
                    t.date_written = None;
                    t.refills_authorized = None;
                    t.prescriber_id = String::new();
                }),
        ),
        sample("ok", "b1-unknown-fields-kept", unknown_fields_kept()),
        ok("b2-reversal", ClaimBuilder::b2().no_patient()),
        ok(
            "b2-two-reversals-with-insurance",
            ClaimBuilder::b2().next_claim().fill(1),
        ),
        ok(
            "b3-rebill",
            ClaimBuilder::b3().ndc(LISINOPRIL_10MG).rx(200_001),
        ),
        ok(
            "e1-eligibility",
            ClaimBuilder::e1()
                .cardholder("SYN0000077")
                .dob(date(1944, 10, 3)),
        ),
        sample("ok", "response-b1-paid", paid_response()),
        sample("ok", "response-b1-dur-reject", dur_reject_response()),
    ]
}

fn three_transactions() -> ClaimBuilder {
    ClaimBuilder::b1()
        .next_claim()
        .ndc(METFORMIN_500MG)
        .next_claim()
        .ndc(LISINOPRIL_10MG)
}

fn dur_three() -> ClaimBuilder {
    let co_agent = DurPps {
        counter: 3,
        reason: Some(Code2::new("DD")),
        professional: Some(Code2::new("R0")),
        result: Some(Code2::new("1B")),
        level_of_effort: Some(12),
        co_agent_qualifier: Some("03".into()),
        co_agent_id: Some(ALPRAZOLAM_0_5MG.into()),
    };
    ClaimBuilder::b1()
        .ndc(OXYCODONE_5MG)
        .dur("HD", "M0", "1G")
        .dur("TD", "PH", "1A")
        .dur_pps(co_agent)
}

fn compound() -> ClaimBuilder {
    let ingredient = |ndc: &str, quantity_milli: u64, cents: i64| CompoundIngredient {
        product_qualifier: "03".into(),
        product_id: ndc.into(),
        quantity_milli,
        cost_cents: Some(cents),
        basis_of_cost: Some("01".into()),
    };
    let ingredients = vec![
        ingredient(OMEPRAZOLE_20MG, 20_000, 812),
        ingredient(BACLOFEN_10MG, 10_000, 333),
    ];
    ClaimBuilder::b1()
        .compound(ingredients)
        .quantity_milli(150_000)
        .days_supply(15)
}

fn cob_payer() -> CobPayer {
    let amount = |qualifier: &str, cents: i64| QualifiedAmount {
        qualifier: qualifier.into(),
        cents,
    };
    CobPayer {
        coverage_type: "01".into(),
        id_qualifier: "03".into(),
        id: "610099".into(),
        date: Some(date(2026, 3, 1)),
        amounts_paid: vec![amount("07", 900)],
        reject_codes: vec![],
        patient_responsibility: vec![amount("06", 500)],
        benefit_stages: vec![amount("01", 1_400)],
    }
}

fn unknown_fields_kept() -> Vec<u8> {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
    if let Some(claim) = raw.segment_mut(CLAIM, "07") {
        claim.push("*1", b"N").push("K5", b"REF0001");
    }
    let mut clinical = RawSegment::new("13");
    clinical
        .push("VE", b"1")
        .push("WE", b"02")
        .push("DO", b"E119");
    raw.groups[0].push(clinical);
    raw.to_bytes()
}

fn response_header(count: u8) -> ResponseHeader {
    ResponseHeader {
        transaction_code: "B1".into(),
        transaction_count: count,
        status: HeaderStatus::Accepted,
        provider_id_qualifier: "01".into(),
        provider_id: "1234567893".into(),
        date_of_service: "20260302".into(),
    }
}

fn paid_response() -> Vec<u8> {
    let decision = Decision {
        status: Status::Paid,
        ..Decision::rejected(vec![], Arc::from("sample@1"))
    };
    let mut transaction = response_transaction(&decision, Some(123_456), Some("DG0000000001"));
    transaction.pricing = Some(ResponsePricing {
        patient_pay_cents: Some(1_000),
        ingredient_cost_paid_cents: Some(1_250),
        dispensing_fee_paid_cents: Some(175),
        total_paid_cents: Some(425),
        basis_of_reimbursement: Some(1),
        ..ResponsePricing::default()
    });
    let insurance = ResponseInsurance {
        group_id: "SYNGRP01".into(),
        plan_id: "P4PPLAN".into(),
        ..ResponseInsurance::default()
    };
    let response = Response {
        header: response_header(1),
        message: Some("PAID".into()),
        insurance: Some(insurance),
        patient: None,
        transactions: vec![transaction],
    };
    let mut out = Vec::new();
    encode_response(&response, &mut out);
    out
}

fn dur_reject_response() -> Vec<u8> {
    let conflict = Conflict {
        edit: Edit::EarlyRefill,
        rule_id: "early_refill:default".into(),
        reason: Code2::new("ER"),
        severity: 1,
        action: Action::Reject,
        clinical_significance: 1,
        previous_fill_date: Some(date(2026, 2, 20)),
        previous_quantity_milli: Some(30_000),
        other_pharmacy: 1,
        other_prescriber: 1,
        message: "EARLY REFILL: 10 OF 30 DAYS ELAPSED".into(),
        overridable: true,
        overridden_by: None,
        remembered_from: None,
    };
    let decision = Decision {
        conflicts: vec![conflict],
        ..Decision::rejected(vec![reject::REFILL_TOO_SOON], Arc::from("sample@1"))
    };
    let transaction = response_transaction(&decision, Some(123_456), None);
    let response = Response {
        header: response_header(1),
        message: None,
        insurance: None,
        patient: None,
        transactions: vec![transaction],
    };
    let mut out = Vec::new();
    encode_response(&response, &mut out);
    out
}

// ---- reject -------------------------------------------------------------------------------

fn reject() -> Vec<Sample> {
    let mut samples = vec![
        header("01-bin-has-a-letter", "bin", b"61001X"),
        header("02-version-51", "version", b"51"),
        header("03-transaction-code-unknown", "transaction_code", b"ZZ"),
        header("1S-transaction-code-not-served", "transaction_code", b"P1"),
        header("05-service-provider-id-blank", "provider_id", b""),
        header(
            "15-date-of-service-february-30",
            "date_of_service",
            b"20260230",
        ),
        header("A9-transaction-count-zero", "transaction_count", b"0"),
        header("1U-count-says-two-one-sent", "transaction_count", b"2"),
        built(
            "1U+A9-five-transactions",
            (0..4).fold(ClaimBuilder::b1(), |b, _| b.next_claim()),
        ),
        e1_count_two(),
        field(Place::Transmission, "04", "07-cardholder-id-missing", |s| {
            s.remove("C2");
        }),
        field(Place::Transmission, "01", "09-date-of-birth-invalid", |s| {
            s.set("C4", b"19581332");
        }),
        built(
            "09-date-of-birth-after-service",
            ClaimBuilder::b1().dob(date(2026, 3, 3)),
        ),
        field(CLAIM, "07", "16-rx-number-13-digits", |s| {
            s.set("D2", b"1234567890123");
        }),
        field(CLAIM, "07", "17-fill-number-100", |s| {
            s.set("D3", b"100");
        }),
        built("19-days-supply-zero", ClaimBuilder::b1().days_supply(0)),
        built("21-ndc-10-digits", ClaimBuilder::b1().ndc("6787705119")),
        field(CLAIM, "07", "E1-product-qualifier-07", |s| {
            s.set("E1", b"07");
        }),
        field(CLAIM, "07", "E7-quantity-with-decimal-point", |s| {
            s.set("E7", b"30.000");
        }),
        built(
            "E4-reason-for-service-unknown",
            ClaimBuilder::b1().dur("ZZ", "M0", "1G"),
        ),
        built(
            "E5-professional-service-unknown",
            ClaimBuilder::b1().dur("DD", "XX", "1G"),
        ),
        built(
            "E6-result-of-service-unknown",
            ClaimBuilder::b1().dur("DD", "M0", "9Z"),
        ),
        built(
            "P8-dur-counter-skips-two",
            ClaimBuilder::b1().dur("DD", "M0", "1G").dur_pps(DurPps {
                counter: 3,
                reason: Some(Code2::new("TD")),
                ..DurPps::default()
            }),
        ),
        built(
            "9W-ten-dur-occurrences",
            (0..10).fold(ClaimBuilder::b1(), |b, _| b.dur("DD", "M0", "1G")),
        ),
        dur_field_first(),
        missing_segment(Place::Transmission, "04", "6J-insurance-segment-missing"),
        missing_segment(Place::Transmission, "01", "6K-patient-segment-missing"),
        missing_segment(CLAIM, "07", "1Y-claim-segment-missing"),
        missing_segment(CLAIM, "11", "6P-pricing-segment-missing"),
        claim_twice(),
        field(CLAIM, "07", "P9-rx-number-twice", |s| {
            s.push("D2", b"000000123457");
        }),
        built_raw(
            "P3-compound-count-says-three",
            compound(),
            CLAIM,
            "10",
            |s| {
                s.set("EC", b"3");
            },
        ),
        built_raw(
            "P4-cob-count-says-two",
            ClaimBuilder::b1().cob_payer(cob_payer()),
            CLAIM,
            "05",
            |s| {
                s.set("4C", b"2");
            },
        ),
        built_raw(
            "P4-cob-amount-paid-count",
            ClaimBuilder::b1().cob_payer(cob_payer()),
            CLAIM,
            "05",
            |s| {
                s.set("HB", b"3");
            },
        ),
        field(CLAIM, "11", "R1-other-amount-count-without-amounts", |s| {
            s.push("H7", b"2");
        }),
        field(CLAIM, "07", "NX-clarification-count-says-two", |s| {
            s.push("NX", b"2").push("DK", b"7");
        }),
        unknown_segment(),
        field(Place::Transmission, "01", "R8-control-byte-in-name", |s| {
            s.set("CA", b"PA\x07T");
        }),
        many_problems(),
        truncated_mid_claim(),
    ];
    samples.push(built(
        "E4+E5+E6-every-dur-code-unknown",
        ClaimBuilder::b1().dur("QQ", "QQ", "QQ"),
    ));
    samples
}

fn built(name: &str, builder: ClaimBuilder) -> Sample {
    sample("reject", name, builder.encode())
}

fn header(name: &str, key: &str, value: &[u8]) -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
    raw.set_header(key, value);
    sample("reject", name, raw.to_bytes())
}

fn built_raw(
    name: &str,
    builder: ClaimBuilder,
    place: Place,
    segment: &str,
    edit: impl FnOnce(&mut RawSegment),
) -> Sample {
    let mut raw = RawMessage::from_builder(builder);
    if let Some(segment) = raw.segment_mut(place, segment) {
        edit(segment);
    }
    sample("reject", name, raw.to_bytes())
}

fn field(place: Place, segment: &str, name: &str, edit: impl FnOnce(&mut RawSegment)) -> Sample {
    built_raw(name, ClaimBuilder::b1(), place, segment, edit)
}

fn missing_segment(place: Place, segment: &str, name: &str) -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
    raw.remove_segment(place, segment);
    sample("reject", name, raw.to_bytes())
}

fn e1_count_two() -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::e1());
    raw.set_header("transaction_count", b"2");
    sample("reject", "PB-e1-transaction-count-two", raw.to_bytes())
}

fn dur_field_first() -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1().dur("DD", "M0", "1G"));
    if let Some(dur) = raw.segment_mut(CLAIM, "08") {
        dur.insert(0, "E4", b"TD");
    }
    sample("reject", "488-reason-before-dur-counter", raw.to_bytes())
}

fn claim_twice() -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
    if let Some(claim) = raw.groups[0].first().cloned() {
        raw.groups[0].push(claim);
    }
    sample("reject", "R7-claim-segment-twice", raw.to_bytes())
}

fn unknown_segment() -> Sample {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
    let mut segment = RawSegment::new("99");
    segment.push("ZZ", b"1");
    raw.groups[0].push(segment);
    sample("reject", "AM-unknown-segment-99", raw.to_bytes())
}

/// Every problem is collected, in both transactions and the header at once.
fn many_problems() -> Sample {
    let builder = ClaimBuilder::b1()
        .ndc("123")
        .quantity_milli(0)
        .next_claim()
        .days_supply(0)
        .dur("ZZ", "M0", "1G");
    let mut raw = RawMessage::from_builder(builder);
    raw.set_header("bin", b"ABCDEF");
    sample(
        "reject",
        "01+19+21+E4+E7-problems-everywhere",
        raw.to_bytes(),
    )
}

/// A B1 cut in the middle of its Claim segment: parseable, but the rest is missing.
fn truncated_mid_claim() -> Sample {
    let bytes = ClaimBuilder::b1().encode();
    let cut = bytes
        .windows(3)
        .position(|window| window == b"\x1cE7")
        .unwrap_or(bytes.len());
    sample(
        "reject",
        "17+19+6P+E7-truncated-in-claim",
        bytes[..cut].to_vec(),
    )
}

// ---- malformed ----------------------------------------------------------------------------

fn malformed() -> Vec<Sample> {
    let b1 = ClaimBuilder::b1().encode();
    let mut control = b1.clone();
    control[12] = 0x1c;
    let response = paid_response();
    vec![
        sample("malformed", "empty", Vec::new()),
        sample("malformed", "truncated-request-header", b1[..40].to_vec()),
        sample(
            "malformed",
            "truncated-response-header",
            response[..20].to_vec(),
        ),
        sample("malformed", "separator-inside-header", control),
        sample(
            "malformed",
            "http-request",
            b"GET /claims HTTP/1.1\r\nHost: gateway\r\n\r\n".to_vec(),
        ),
        sample("malformed", "garbled-bytes", garbled(512)),
    ]
}

/// Deterministic noise (a linear congruential sequence).
fn garbled(length: usize) -> Vec<u8> {
    let mut state: u32 = 0x2026_0302;
    (0..length)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}
