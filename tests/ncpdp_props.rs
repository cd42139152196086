//! Property tests of the D.0 codec (case counts kept modest: the suite runs in debug in CI).
//!
//! - reading never panics: `parse`, `validate_request`, `parse_response` and the dump over
//!   arbitrary bytes, separator-heavy bodies behind a valid header, and mutated samples;
//! - a parsed message re-encoded with `encode_message` parses to the same message;
//! - `encode_response` → `parse_response` gives the response back;
//! - `encode_request` → `validate_request` gives the transmission back.

use durgate::claim::{
    codes, CobPayer, Code2, CompoundIngredient, Date, DurPps, Ndc, Patient, Pricing,
    QualifiedAmount, RejectCode, RequestHeader, Status, Transaction, TransactionCode, Transmission,
};
use durgate::ncpdp::{
    dump, encode_message, encode_request, encode_response, parse, parse_response, read_request,
    validate_request, AdditionalMessage, HeaderStatus, Kind, Response, ResponseClaim, ResponseDur,
    ResponseHeader, ResponseInsurance, ResponsePatient, ResponsePricing, ResponseReject,
    ResponseTransaction, ETX, STX,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use std::path::Path;

/// `cases` per property, or `PROPTEST_CASES` when set (for a longer local run).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Everything a server or a tool would do with untrusted bytes.
fn read_everything(bytes: &[u8]) {
    if let Ok(message) = parse(bytes) {
        match message.kind {
            Kind::Request => drop(validate_request(&message)),
            Kind::Response => drop(parse_response(bytes)),
        }
        reencoded_parses_the_same(bytes);
    }
    if let Ok(decoded) = dump::decode(bytes) {
        assert!(!decoded.text().is_empty());
        assert!(decoded.json().starts_with('{'));
    }
}

/// `parse(STX encode_message(parse(x)) ETX)` has the same segments and fields as `parse(x)`.
fn reencoded_parses_the_same(bytes: &[u8]) {
    let Ok(message) = parse(bytes) else { return };
    let mut out = vec![STX];
    encode_message(&message, &mut out);
    out.push(ETX);
    let again = parse(&out).expect("re-encoded message parses");
    assert_eq!((again.kind, again.header), (message.kind, message.header));
    assert_eq!(again.transmission, message.transmission);
    assert_eq!(again.groups, message.groups);
}

fn samples() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ncpdp-samples");
    let mut found = Vec::new();
    for dir in ["ok", "reject"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("samples")
            .flatten()
        {
            if entry.path().extension().is_some_and(|ext| ext == "d0") {
                found.push(std::fs::read(entry.path()).expect("sample"));
            }
        }
    }
    found.sort();
    found
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let separator_heavy = prop_oneof![
        Just(0x1c_u8),
        Just(0x1d),
        Just(0x1e),
        Just(0x03),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), separator_heavy.clone()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<usize>(), separator_heavy).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        (any::<usize>(), 1usize..40).prop_map(|(at, length)| Mutation::Remove(at, length)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |position: usize, length: usize| if length == 0 { 0 } else { position % length };
    match *mutation {
        Mutation::Set(position, byte) if !bytes.is_empty() => {
            let index = at(position, bytes.len());
            bytes[index] = byte;
        }
        Mutation::Insert(position, byte) => bytes.insert(at(position, bytes.len() + 1), byte),
        Mutation::Remove(position, length) if !bytes.is_empty() => {
            let start = at(position, bytes.len());
            bytes.drain(start..(start + length).min(bytes.len()));
        }
        Mutation::Truncate(position) => bytes.truncate(at(position, bytes.len() + 1)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..1024)) {
        read_everything(&bytes);
    }

    #[test]
    fn reading_separator_soup_behind_a_header_never_panics(
        response in any::<bool>(),
        body in vec(select(b"\x1c\x1d\x1e\x02\x03AM0712D7E4 Z".to_vec()), 0..600),
    ) {
        let header: &[u8] = if response {
            b"D0B11A011234567893     20260302"
        } else {
            b"610011D0B1DGTEST    1011234567893     20260302DGSIM00001"
        };
        read_everything(&[header, &body].concat());
    }

    #[test]
    fn reading_mutated_samples_never_panics(
        pick in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let samples = samples();
        let mut bytes = pick.get(&samples).clone();
        for mutation in &mutations {
            mutate(&mut bytes, mutation);
        }
        read_everything(&bytes);
    }
}

// ---- typed round trips --------------------------------------------------------------------

fn date_2000_2030() -> impl Strategy<Value = Date> {
    (10_957i32..22_280).prop_map(Date::from_days)
}

fn code(list: &'static [&'static str]) -> impl Strategy<Value = Code2> {
    select(list).prop_map(Code2::new)
}

fn maybe_text(pattern: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), pattern]
}

fn money() -> impl Strategy<Value = i64> {
    -99_999_999i64..=99_999_999
}

/// Three optional amounts, as a pricing segment groups them.
fn three_amounts() -> impl Strategy<Value = [Option<i64>; 3]> {
    [
        option::of(money()),
        option::of(money()),
        option::of(money()),
    ]
}

fn amounts(
    max: usize,
    cents: impl Strategy<Value = i64>,
) -> impl Strategy<Value = Vec<QualifiedAmount>> {
    vec(
        ("[0-9]{2}", cents).prop_map(|(qualifier, cents)| QualifiedAmount { qualifier, cents }),
        0..=max,
    )
}

fn dur_occurrences() -> impl Strategy<Value = Vec<DurPps>> {
    let occurrence = (
        option::of(code(codes::REASON_FOR_SERVICE)),
        option::of(code(codes::PROFESSIONAL_SERVICE)),
        option::of(code(codes::RESULT_OF_SERVICE)),
        option::of(select(vec![0u8, 11, 12, 13, 14, 15])),
        option::of(("[0-9]{2}", option::of("[A-Z0-9]{1,19}"))),
    );
    vec(occurrence, 0..=9).prop_map(|occurrences| {
        let build = |(index, (reason, professional, result, effort, co_agent))| {
            let (co_agent_qualifier, co_agent_id) = match co_agent {
                Some((qualifier, id)) => (Some(qualifier), id),
                None => (None, None),
            };
            DurPps {
                counter: index as u8 + 1,
                reason,
                professional,
                result,
                level_of_effort: effort,
                co_agent_qualifier,
                co_agent_id,
            }
        };
        occurrences.into_iter().enumerate().map(build).collect()
    })
}

fn pricing() -> impl Strategy<Value = Pricing> {
    (
        three_amounts(),
        three_amounts(),
        option::of("[0-9]{2}"),
        amounts(9, money()),
    )
        .prop_map(
            |([ingredient, fee, paid], [incentive, usual, gross], basis, other_amounts)| Pricing {
                ingredient_cost_cents: ingredient,
                dispensing_fee_cents: fee,
                patient_paid_cents: paid,
                incentive_cents: incentive,
                usual_and_customary_cents: usual,
                gross_amount_due_cents: gross,
                basis_of_cost: basis,
                other_amounts,
            },
        )
}

fn cob_payer() -> impl Strategy<Value = CobPayer> {
    (
        (
            "[0-9]{2}",
            maybe_text("[0-9]{2}"),
            maybe_text("[A-Z0-9]{1,10}"),
            option::of(date_2000_2030()),
        ),
        amounts(3, money()),
        vec("[A-Z0-9]{2,3}", 0..=3),
        amounts(3, -9_999_999_999i64..=9_999_999_999),
        amounts(3, money()),
    )
        .prop_map(
            |(
                (coverage_type, id_qualifier, id, date),
                amounts_paid,
                reject_codes,
                patient_responsibility,
                benefit_stages,
            )| CobPayer {
                coverage_type,
                id_qualifier,
                id,
                date,
                amounts_paid,
                reject_codes,
                patient_responsibility,
                benefit_stages,
            },
        )
}

fn ingredient() -> impl Strategy<Value = CompoundIngredient> {
    (
        0u64..=99_999_999_999,
        1u64..=9_999_999_999,
        option::of(money()),
        option::of("[0-9]{2}"),
    )
        .prop_map(
            |(ndc, quantity_milli, cost_cents, basis_of_cost)| CompoundIngredient {
                product_qualifier: "03".into(),
                product_id: format!("{ndc:011}"),
                quantity_milli,
                cost_cents,
                basis_of_cost,
            },
        )
}

fn billing_transaction() -> impl Strategy<Value = Transaction> {
    let claim = (
        1u64..=999_999_999_999,
        0u8..=99,
        0u64..=99_999_999_999,
        1u64..=9_999_999_999,
        1u16..=999,
        0u8..=1,
        (
            option::of(0u8..=9),
            option::of(date_2000_2030()),
            option::of(0u8..=99),
        ),
        vec(1u8..=99, 0..=3),
        maybe_text("[A-Z0-9]{1,15}"),
    );
    let extras = (
        dur_occurrences(),
        pricing(),
        vec(cob_payer(), 0..=3),
        option::of(vec(ingredient(), 1..=4)),
    );
    (claim, extras).prop_map(|(claim, (dur_pps, pricing, cob, compound))| {
        let (
            rx_number,
            fill_number,
            ndc,
            quantity_milli,
            days_supply,
            compound_code,
            options,
            clarification_codes,
            prescriber_id,
        ) = claim;
        let (daw_code, date_written, refills_authorized) = options;
        let mut transaction = Transaction {
            rx_number,
            fill_number,
            product_qualifier: "03".into(),
            product_id: format!("{ndc:011}"),
            ndc: Ndc::from_value(ndc),
            quantity_milli,
            days_supply,
            compound_code,
            daw_code,
            date_written,
            refills_authorized,
            clarification_codes,
            prescriber_id,
            dur_pps,
            pricing,
            cob,
            compound: Vec::new(),
        };
        if let Some(ingredients) = compound {
            transaction.product_qualifier = "00".into();
            transaction.product_id = "0".into();
            transaction.ndc = None;
            transaction.compound_code = 2;
            transaction.compound = ingredients;
        }
        transaction
    })
}

fn reversal_transaction() -> impl Strategy<Value = Transaction> {
    (
        1u64..=999_999_999_999,
        0u8..=99,
        0u64..=99_999_999_999,
        dur_occurrences(),
    )
        .prop_map(|(rx_number, fill_number, ndc, dur_pps)| Transaction {
            rx_number,
            fill_number,
            product_qualifier: "03".into(),
            product_id: format!("{ndc:011}"),
            ndc: Ndc::from_value(ndc),
            dur_pps,
            ..Transaction::default()
        })
}

fn patient(date_of_service: Date) -> impl Strategy<Value = Patient> {
    (
        "[A-Z0-9]{1,20}",
        maybe_text("[0-9]{1,3}"),
        (0i32..30_000).prop_map(move |age_days| date_of_service.add_days(-age_days)),
        option::of(0u8..=2),
        (
            maybe_text("[A-Z]{1,12}"),
            maybe_text("[A-Z]{1,15}"),
            maybe_text("[A-Z0-9]{1,15}"),
        ),
    )
        .prop_map(
            |(cardholder_id, person_code, dob, gender, (first_name, last_name, group_id))| {
                Patient {
                    cardholder_id,
                    person_code,
                    date_of_birth: Some(dob),
                    gender,
                    first_name,
                    last_name,
                    group_id,
                }
            },
        )
}

fn request_header(
    code: TransactionCode,
    count: usize,
    date_of_service: Date,
) -> impl Strategy<Value = RequestHeader> {
    (
        "[0-9]{6}",
        "[A-Z0-9]{0,10}",
        "[0-9]{2}",
        "[0-9]{10}",
        "[A-Z0-9]{0,10}",
    )
        .prop_map(
            move |(bin, pcn, provider_id_qualifier, provider_id, software_vendor)| RequestHeader {
                bin,
                version: "D0".into(),
                transaction_code: code,
                pcn,
                transaction_count: count.max(1) as u8,
                provider_id_qualifier,
                provider_id,
                date_of_service,
                software_vendor,
            },
        )
}

fn transmission() -> impl Strategy<Value = Transmission> {
    let kind = prop_oneof![
        select(vec![TransactionCode::B1, TransactionCode::B3])
            .prop_flat_map(|code| (Just(code), vec(billing_transaction(), 1..=4))),
        (
            Just(TransactionCode::B2),
            vec(reversal_transaction(), 1..=4)
        ),
        (Just(TransactionCode::E1), Just(Vec::new())),
    ];
    (kind, date_2000_2030()).prop_flat_map(|((code, transactions), date_of_service)| {
        let header = request_header(code, transactions.len(), date_of_service);
        let patient = patient(date_of_service);
        let patient = if code == TransactionCode::B2 {
            option::of(patient).boxed()
        } else {
            patient.prop_map(Some).boxed()
        };
        (header, patient, Just(transactions)).prop_map(|(header, patient, transactions)| {
            Transmission {
                header,
                patient,
                transactions,
            }
        })
    })
}

fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{max}}}")).expect("a valid pattern")
}

fn response_transaction() -> impl Strategy<Value = ResponseTransaction> {
    let reject =
        ("[0-9A-Z]{2,3}", option::of(0u8..=99)).prop_map(|(code, occurrence)| ResponseReject {
            code: RejectCode::parse(code.as_bytes()).unwrap_or(RejectCode::new("99")),
            occurrence,
        });
    let message = ("[0-9]{2}", printable(40))
        .prop_map(|(qualifier, text)| AdditionalMessage { qualifier, text });
    let pricing = (three_amounts(), three_amounts(), option::of(0u8..=99)).prop_map(
        |([patient, ingredient, fee], [incentive, copay, total], basis)| ResponsePricing {
            patient_pay_cents: patient,
            ingredient_cost_paid_cents: ingredient,
            dispensing_fee_paid_cents: fee,
            incentive_paid_cents: incentive,
            copay_cents: copay,
            total_paid_cents: total,
            basis_of_reimbursement: basis,
        },
    );
    let dur = (
        option::of("[A-Z]{2}"),
        [
            option::of(0u8..=9),
            option::of(0u8..=9),
            option::of(0u8..=9),
            option::of(0u8..=9),
        ],
        option::of(date_2000_2030()),
        option::of(0u64..=9_999_999_999),
        printable(30),
        printable(100),
    );
    let status = select(vec![
        Status::Paid,
        Status::Rejected,
        Status::Duplicate,
        Status::Approved,
        Status::DuplicateOfApproved,
    ]);
    (
        status,
        option::of(printable(20)),
        vec(reject, 0..=20),
        vec(message, 0..=9),
        option::of(0u64..=999_999_999_999),
        option::of(pricing),
        vec(dur, 0..=9),
    )
        .prop_map(
            |(status, authorization, rejects, messages, rx_number, pricing, dur)| {
                let dur = dur.into_iter().enumerate().map(
                    |(
                        index,
                        (
                            reason,
                            [significance, pharmacy, database, prescriber],
                            date,
                            quantity,
                            message,
                            additional_text,
                        ),
                    )| ResponseDur {
                        counter: index as u8 + 1,
                        reason: reason.and_then(|text| Code2::parse(text.as_bytes())),
                        clinical_significance: significance,
                        other_pharmacy: pharmacy,
                        previous_fill_date: date,
                        previous_quantity_milli: quantity,
                        database_indicator: database,
                        other_prescriber: prescriber,
                        message,
                        additional_text,
                    },
                );
                ResponseTransaction {
                    status,
                    authorization,
                    rejects,
                    messages,
                    claim: rx_number.map(|rx_number| ResponseClaim { rx_number }),
                    pricing,
                    dur: dur.collect(),
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    let header = (
        "[A-Z][0-9]",
        0u8..=9,
        any::<bool>(),
        "[0-9]{2}",
        "[A-Z0-9]{1,15}",
        "[0-9]{8}",
    )
        .prop_map(
            |(
                transaction_code,
                transaction_count,
                accepted,
                provider_id_qualifier,
                provider_id,
                date_of_service,
            )| ResponseHeader {
                transaction_code,
                transaction_count,
                status: if accepted {
                    HeaderStatus::Accepted
                } else {
                    HeaderStatus::Rejected
                },
                provider_id_qualifier,
                provider_id,
                date_of_service,
            },
        );
    let insurance = (
        "[A-Z0-9]{0,15}",
        "[A-Z0-9]{0,8}",
        "[A-Z0-9]{0,10}",
        "[0-9]{0,2}",
        "[A-Z0-9]{0,10}",
        "[A-Z0-9]{0,20}",
    )
        .prop_map(
            |(
                group_id,
                plan_id,
                network_reimbursement_id,
                payer_id_qualifier,
                payer_id,
                cardholder_id,
            )| ResponseInsurance {
                group_id,
                plan_id,
                network_reimbursement_id,
                payer_id_qualifier,
                payer_id,
                cardholder_id,
            },
        );
    let patient = ("[A-Z]{0,12}", "[A-Z]{0,15}", option::of(date_2000_2030())).prop_map(
        |(first_name, last_name, date_of_birth)| ResponsePatient {
            first_name,
            last_name,
            date_of_birth,
        },
    );
    (
        header,
        option::of(printable(200)),
        option::of(insurance),
        option::of(patient),
        vec(response_transaction(), 0..=4),
    )
        .prop_map(
            |(header, message, insurance, patient, transactions)| Response {
                header,
                message,
                insurance,
                patient,
                transactions,
            },
        )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn responses_round_trip(response in response()) {
        let mut out = Vec::new();
        encode_response(&response, &mut out);
        prop_assert_eq!(parse_response(&out), Ok(response));
    }

    #[test]
    fn requests_round_trip_through_validation(transmission in transmission()) {
        let mut out = Vec::new();
        encode_request(&transmission, &mut out);
        let (_, validated) = read_request(&out).expect("a request");
        prop_assert_eq!(validated.into_transmission(), Ok(transmission));
    }
}
