//! Unit tests of request validation: one per family of reject codes, built with
//! `build::ClaimBuilder` and `build::RawMessage` so each case changes one thing.

use super::*;
use crate::claim::{reject, CobPayer, CompoundIngredient};
use crate::limits::{PROBLEMS_PER_TRANSMISSION_MAX, TRANSACTIONS_MAX};
use crate::ncpdp::build::{ClaimBuilder, RawMessage, RawSegment};
use crate::ncpdp::parse::parse;

const CLAIM: Place = Place::Transaction(0);

/// Distinct reject codes of all problems, sorted.
fn codes(bytes: &[u8]) -> Vec<String> {
    let message = parse(bytes).expect("a request");
    let mut codes: Vec<String> = validate_request(&message)
        .problems()
        .map(|(_, p)| p.reject_code.to_string())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

fn all_problems(bytes: &[u8]) -> Vec<(Place, Problem)> {
    let message = parse(bytes).expect("a request");
    validate_request(&message)
        .problems()
        .map(|(place, p)| (place, p.clone()))
        .collect()
}

fn b1() -> RawMessage {
    RawMessage::from_builder(ClaimBuilder::b1())
}

fn with_segment(
    mut raw: RawMessage,
    place: Place,
    id: &str,
    edit: impl FnOnce(&mut RawSegment),
) -> Vec<u8> {
    if let Some(segment) = raw.segment_mut(place, id) {
        edit(segment);
    }
    raw.to_bytes()
}

fn with_header(key: &str, value: &[u8]) -> Vec<u8> {
    let mut raw = b1();
    raw.set_header(key, value);
    raw.to_bytes()
}

#[test]
fn valid_requests_of_every_code_and_size_are_clean() {
    let builders = [
        ClaimBuilder::b1(),
        ClaimBuilder::b1().next_claim().next_claim().next_claim(),
        ClaimBuilder::b2().no_patient().next_claim(),
        ClaimBuilder::b3()
            .dur("DD", "M0", "1G")
            .dur("TD", "R0", "1B"),
        ClaimBuilder::e1(),
    ];
    for builder in builders {
        let bytes = builder.encode();
        assert_eq!(
            codes(&bytes),
            Vec::<String>::new(),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn header_problems_apply_to_the_whole_transmission() {
    assert_eq!(codes(&with_header("bin", b"61001X")), ["01"]);
    assert_eq!(codes(&with_header("transaction_code", b"ZZ")), ["03"]);
    assert_eq!(codes(&with_header("transaction_code", b"P1")), ["1S"]);
    assert_eq!(codes(&with_header("transaction_count", b"5")), ["A9"]);
    assert_eq!(codes(&with_header("transaction_count", b"2")), ["1U"]);
    assert_eq!(codes(&with_header("provider_id", b"")), ["05"]);
    assert_eq!(codes(&with_header("date_of_service", b"20260230")), ["15"]);
    let bytes = with_header("bin", b"61001X");
    let message = parse(&bytes).expect("a request");
    let validated = validate_request(&message);
    assert_eq!(validated.header, None);
    assert_eq!(validated.transmission_problems.len(), 1);
    assert!(validated.transactions.iter().all(Result::is_ok));
    assert_eq!(validated.reject_codes(0), [reject::BIN]);
}

#[test]
fn a_version_other_than_d0_is_02() {
    let bytes = ClaimBuilder::b1().encode();
    let mut message = parse(&bytes).expect("a request");
    message.header.version = b"51";
    let validated = validate_request(&message);
    let kinds: Vec<ProblemKind> = validated.problems().map(|(_, p)| p.kind).collect();
    assert_eq!(kinds, [ProblemKind::Version]);
    assert_eq!(validated.reject_codes(0), [reject::VERSION]);
}

#[test]
fn e1_must_count_one_and_carry_no_group() {
    let mut raw = RawMessage::from_builder(ClaimBuilder::e1());
    raw.set_header("transaction_count", b"2");
    assert_eq!(codes(&raw.to_bytes()), ["PB"]);
    let mut raw = RawMessage::from_builder(ClaimBuilder::e1());
    raw.groups.push(vec![RawSegment::new("07")]);
    assert_eq!(codes(&raw.to_bytes()), ["1U"]);
    let bytes = ClaimBuilder::e1().edit(|_| ()).no_patient().encode();
    assert_eq!(codes(&bytes), ["6J", "6K"]);
}

#[test]
fn missing_segments_and_patient_fields() {
    let mut raw = b1();
    raw.remove_segment(Place::Transmission, "04");
    assert_eq!(codes(&raw.to_bytes()), ["6J"]);
    let mut raw = b1();
    raw.remove_segment(Place::Transmission, "01");
    assert_eq!(codes(&raw.to_bytes()), ["6K"]);
    let mut raw = b1();
    raw.remove_segment(CLAIM, "07");
    assert_eq!(codes(&raw.to_bytes()), ["1Y"]);
    let mut raw = b1();
    raw.remove_segment(CLAIM, "11");
    assert_eq!(codes(&raw.to_bytes()), ["6P"]);
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "04", |s| {
            s.remove("C2");
        })),
        ["07"]
    );
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "04", |s| {
            s.set("C3", b"1234");
        })),
        ["08"]
    );
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "01", |s| {
            s.remove("C4");
        })),
        ["09"]
    );
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "01", |s| {
            s.set("C4", b"19581332");
        })),
        ["09"]
    );
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "01", |s| {
            s.set("C4", b"20260303");
        })),
        ["09"]
    );
    assert_eq!(
        codes(&with_segment(b1(), Place::Transmission, "01", |s| {
            s.set("C5", b"7");
        })),
        ["10"]
    );
}

#[test]
fn b2_needs_only_rx_product_and_fill() {
    let bytes = ClaimBuilder::b2().no_patient().encode();
    assert_eq!(codes(&bytes), Vec::<String>::new());
    let mut raw = RawMessage::from_builder(ClaimBuilder::b2());
    raw.segment_mut(CLAIM, "07")
        .map(|claim| claim.remove("D3").remove("D7"));
    assert_eq!(codes(&raw.to_bytes()), ["17", "21"]);
}

#[test]
fn claim_field_problems_map_to_their_codes() {
    let claim = |field: &str, value: &[u8]| {
        with_segment(b1(), CLAIM, "07", |s| {
            s.set(field, value);
        })
    };
    assert_eq!(codes(&claim("D2", b"1234567890123")), ["16"]);
    assert_eq!(codes(&claim("D2", b"000000000000")), ["16"]);
    assert_eq!(codes(&claim("D3", b"100")), ["17"]);
    assert_eq!(codes(&claim("D5", b"0")), ["19"]);
    assert_eq!(codes(&claim("D5", b"1000")), ["19"]);
    assert_eq!(codes(&claim("D7", b"6787705119")), ["21"]);
    assert_eq!(codes(&claim("E1", b"07")), ["E1"]);
    assert_eq!(codes(&claim("E7", b"0")), ["E7"]);
    assert_eq!(codes(&claim("E7", b"30.000")), ["E7"]);
    assert_eq!(codes(&claim("EM", b"2")), ["EM"]);
    assert_eq!(codes(&claim("D8", b"X")), ["22"]);
    assert_eq!(codes(&claim("DE", b"2026")), ["28"]);
    assert_eq!(codes(&claim("DF", b"100")), ["29"]);
    assert_eq!(codes(&claim("D6", b"2")), ["6T"]);
    let missing = with_segment(b1(), CLAIM, "07", |s| {
        s.remove("E7").remove("D5").remove("D2");
    });
    assert_eq!(codes(&missing), ["16", "19", "E7"]);
}

#[test]
fn problems_name_the_field_and_never_echo_patient_values() {
    let secret = b"SECRETCARDHOLDER0000123";
    let bytes = with_segment(b1(), Place::Transmission, "04", |s| {
        s.set("C2", secret);
    });
    let problems = all_problems(&bytes);
    assert_eq!(problems.len(), 1);
    let (place, problem) = &problems[0];
    assert_eq!(
        (*place, problem.field, problem.kind),
        (Place::Transmission, Some(*b"C2"), ProblemKind::CardholderId)
    );
    assert!(
        problem.message.starts_with("302-C2 cardholder id"),
        "{}",
        problem.message
    );
    assert!(!problem.message.contains("SECRET"));
}

#[test]
fn dur_codes_must_be_listed() {
    let bytes = ClaimBuilder::b1()
        .dur("DD", "M0", "1G")
        .dur("ZZ", "XX", "9Z")
        .encode();
    let problems = all_problems(&bytes);
    let found: Vec<(String, Option<[u8; 2]>, Option<u8>)> = problems
        .iter()
        .map(|(_, p)| (p.reject_code.to_string(), p.field, p.occurrence))
        .collect();
    assert_eq!(
        found,
        [
            ("E4".to_owned(), Some(*b"E4"), Some(2)),
            ("E5".to_owned(), Some(*b"E5"), Some(2)),
            ("E6".to_owned(), Some(*b"E6"), Some(2)),
        ]
    );
}

#[test]
fn dur_counters_must_run_in_sequence_and_precede_their_fields() {
    let dur = |fields: &[(&str, &[u8])]| {
        let mut raw = b1();
        let mut segment = RawSegment::new("08");
        fields.iter().for_each(|(id, value)| {
            segment.push(id, value);
        });
        raw.groups[0].push(segment);
        codes(&raw.to_bytes())
    };
    assert_eq!(
        dur(&[("7E", b"1"), ("E4", b"DD"), ("7E", b"3"), ("E4", b"TD")]),
        ["P8"]
    );
    assert_eq!(dur(&[("E4", b"DD"), ("7E", b"1"), ("E5", b"M0")]), ["488"]);
    assert_eq!(dur(&[("7E", b"1"), ("E4", b"DD"), ("E4", b"TD")]), ["P9"]);
    assert_eq!(
        dur(&[("7E", b"1"), ("H6", b"00378611201"), ("J9", b"03")]),
        ["489"]
    );
    assert_eq!(dur(&[("7E", b"0")]), ["7E"]);
    assert_eq!(dur(&[("7E", b"1"), ("8E", b"16")]), ["8E"]);
    let ten: Vec<(String, Vec<u8>)> = (1..=10)
        .flat_map(|n| {
            [
                ("7E".to_owned(), n.to_string().into_bytes()),
                ("E4".to_owned(), b"DD".to_vec()),
            ]
        })
        .collect();
    let ten: Vec<(&str, &[u8])> = ten
        .iter()
        .map(|(id, value)| (id.as_str(), value.as_slice()))
        .collect();
    assert_eq!(dur(&ten), ["9W"]);
}

#[test]
fn dur_occurrences_are_kept_whole() {
    let bytes = ClaimBuilder::b1()
        .dur("DD", "M0", "1G")
        .dur("TD", "R0", "1B")
        .encode();
    let (_, validated) = read_request(&bytes).expect("a request");
    let transmission = validated.into_transmission().expect("valid");
    let dur = &transmission.transactions[0].dur_pps;
    assert_eq!(dur.len(), 2);
    assert_eq!(
        (dur[1].counter, dur[1].reason.map(|c| c.to_string())),
        (2, Some("TD".to_owned()))
    );
}

#[test]
fn repeated_segments_and_fields() {
    let mut raw = b1();
    let claim = raw.groups[0][0].clone();
    raw.groups[0].push(claim);
    assert_eq!(codes(&raw.to_bytes()), ["R7"]);
    assert_eq!(
        codes(&with_segment(b1(), CLAIM, "07", |s| {
            s.push("D2", b"1");
        })),
        ["P9"]
    );
}

#[test]
fn counts_must_match_their_repetitions() {
    let claim = |edit: &dyn Fn(&mut RawSegment)| with_segment(b1(), CLAIM, "07", |s| edit(s));
    assert_eq!(
        codes(&claim(&|s| {
            s.push("NX", b"2").push("DK", b"1");
        })),
        ["NX"]
    );
    assert_eq!(
        codes(&claim(&|s| {
            s.push("DK", b"1");
        })),
        ["NX"]
    );
    assert_eq!(
        codes(&claim(&|s| {
            s.push("NX", b"1").push("DK", b"A");
        })),
        ["34"]
    );
    let pricing = with_segment(b1(), CLAIM, "11", |s| {
        s.push("H7", b"2").push("H8", b"01").push("H9", b"10{");
    });
    assert_eq!(codes(&pricing), ["R1"]);
    let cob_payer = CobPayer {
        coverage_type: "01".into(),
        id_qualifier: "03".into(),
        id: "610099".into(),
        ..CobPayer::default()
    };
    let cob = RawMessage::from_builder(ClaimBuilder::b1().cob_payer(cob_payer));
    assert_eq!(
        codes(&with_segment(cob.clone(), CLAIM, "05", |s| {
            s.set("4C", b"2");
        })),
        ["P4"]
    );
    assert_eq!(
        codes(&with_segment(cob.clone(), CLAIM, "05", |s| {
            s.push("HB", b"2").push("HC", b"07").push("DV", b"500{");
        })),
        ["P4"]
    );
    assert_eq!(
        codes(&with_segment(cob, CLAIM, "05", |s| {
            s.push("5E", b"1");
        })),
        ["P4"]
    );
    let ingredient = CompoundIngredient {
        product_qualifier: "03".into(),
        product_id: "00904637061".into(),
        quantity_milli: 10_000,
        ..CompoundIngredient::default()
    };
    let compound = RawMessage::from_builder(ClaimBuilder::b1().compound(vec![ingredient]));
    assert_eq!(codes(&compound.to_bytes()), Vec::<String>::new());
    assert_eq!(
        codes(&with_segment(compound.clone(), CLAIM, "10", |s| {
            s.set("EC", b"2");
        })),
        ["P3"]
    );
    assert_eq!(
        codes(&with_segment(compound, CLAIM, "10", |s| {
            s.set("TE", b"123");
        })),
        ["21"]
    );
}

#[test]
fn compound_code_qualifier_and_segment_must_agree() {
    let ingredient = CompoundIngredient {
        product_qualifier: "03".into(),
        product_id: "00904637061".into(),
        quantity_milli: 10_000,
        ..CompoundIngredient::default()
    };
    let compound = ClaimBuilder::b1().compound(vec![ingredient]);
    assert_eq!(
        codes(&compound.clone().edit(|t| t.compound_code = 1).encode()),
        ["20"]
    );
    assert_eq!(
        codes(
            &compound
                .edit(|t| t.product_id = "00904637061".into())
                .encode()
        ),
        ["21"]
    );
}

#[test]
fn structural_flaws_become_problems() {
    let mut raw = b1();
    raw.groups[0].push(RawSegment::new("99"));
    assert_eq!(codes(&raw.to_bytes()), ["AM"]);
    let mut raw = b1();
    let claim = raw.groups[0].remove(0);
    raw.transmission.push(claim);
    assert_eq!(codes(&raw.to_bytes()), ["1Y", "R8"]);
    let control = with_segment(b1(), Place::Transmission, "01", |s| {
        s.set("CA", b"PA\x07T");
    });
    assert_eq!(codes(&control), ["R8"]);
    let mut bytes = ClaimBuilder::b1().encode();
    bytes.extend_from_slice(b"\x1cX");
    assert_eq!(codes(&bytes), ["R8"]);
    let mut bytes = ClaimBuilder::b1().encode();
    bytes.extend_from_slice(b"\x1e\x1cC2X");
    assert_eq!(codes(&bytes), ["AM"]);
}

#[test]
fn more_than_four_groups_is_a_count_mismatch() {
    let builder = (0..5).fold(ClaimBuilder::b1(), |builder, _| builder.next_claim());
    let bytes = builder.encode();
    let message = parse(&bytes).expect("a request");
    assert_eq!(message.groups.len(), TRANSACTIONS_MAX);
    assert_eq!(codes(&bytes), ["1U", "A9"]);
}

#[test]
fn problems_are_collected_everywhere_and_bounded() {
    let mut raw = RawMessage::from_builder(ClaimBuilder::b1().next_claim());
    raw.set_header("bin", b"X");
    for group in &mut raw.groups {
        if let Some(claim) = group.first_mut() {
            claim.set("D7", b"1").set("E7", b"x").set("D5", b"0");
        }
    }
    let bytes = raw.to_bytes();
    let message = parse(&bytes).expect("a request");
    let validated = validate_request(&message);
    assert_eq!(validated.transmission_problems.len(), 1);
    for result in &validated.transactions {
        let problem_codes: Vec<String> = result
            .as_ref()
            .err()
            .into_iter()
            .flatten()
            .map(|p| p.reject_code.to_string())
            .collect();
        assert_eq!(problem_codes, ["21", "E7", "19"]);
    }
    assert_eq!(
        validated.reject_codes(1),
        [
            reject::BIN,
            reject::PRODUCT_ID,
            reject::QUANTITY,
            reject::DAYS_SUPPLY
        ]
    );
    let errors = validated.into_transmission().expect_err("invalid");
    assert_eq!(errors.len(), 7);

    let mut raw = b1();
    for _ in 0..100 {
        raw.groups[0][0].push("D2", b"x");
    }
    let bytes = raw.to_bytes();
    let message = parse(&bytes).expect("a request");
    let count = validate_request(&message).problems().count();
    assert_eq!(count, PROBLEMS_PER_TRANSMISSION_MAX);
}

#[test]
fn a_response_is_not_a_valid_request() {
    let bytes = b"D0B11A011234567893     20260302";
    let message = parse(bytes).expect("a response");
    let validated = validate_request(&message);
    assert!(validated.header.is_none());
    assert!(!validated.is_clean());
    assert_eq!(
        read_request(bytes).err(),
        Some(ParseError::WrongKind {
            expected: Kind::Request
        })
    );
}

#[test]
fn field_kinds_map_the_fields_the_brief_names() {
    let expect = [
        ("C2", "07"),
        ("C4", "09"),
        ("D2", "16"),
        ("D3", "17"),
        ("D5", "19"),
        ("D7", "21"),
        ("TE", "21"),
        ("E1", "E1"),
        ("E7", "E7"),
        ("E4", "E4"),
        ("E5", "E5"),
        ("E6", "E6"),
        ("CA", "R8"),
    ];
    for (field, code) in expect {
        let field_id = crate::ncpdp::build::id(field);
        assert_eq!(field_kind(field_id).reject_code().as_str(), code, "{field}");
    }
}

#[test]
fn a_repeated_rx_and_fill_in_one_transmission_is_83_on_the_later_one_only() {
    let repeated = ClaimBuilder::b1()
        .rx(5)
        .next_claim()
        .rx(6)
        .next_claim()
        .rx(5);
    let message_bytes = repeated.encode();
    let message = parse(&message_bytes).expect("a request");
    let validated = validate_request(&message);
    assert!(validated.reject_codes(0).is_empty());
    assert!(validated.reject_codes(1).is_empty());
    assert_eq!(validated.reject_codes(2), [reject::DUPLICATE_PAID]);
    let problem = validated
        .problems()
        .find(|(place, _)| *place == Place::Transaction(2));
    let (_, problem) = problem.expect("a problem at the third transaction");
    assert!(
        problem.message.contains("repeat transaction 1"),
        "{problem:?}"
    );
    // Another fill of the same Rx is another claim key; reversals obey the same rule.
    let refill = ClaimBuilder::b1().rx(5).next_claim().rx(5).fill(1);
    assert_eq!(codes(&refill.encode()), Vec::<String>::new());
    let reversals = ClaimBuilder::b2().no_patient().rx(9).next_claim().rx(9);
    assert_eq!(codes(&reversals.encode()), ["83"]);
}
