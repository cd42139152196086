//! Request validation: a raw [`Message`] → typed [`claim`] values plus every problem found.
//!
//! Tier 2, inside `ncpdp`: runs right after [`parse`](super::parse()) on each inbound request;
//! the server turns the problems into 511-FB reject codes and hands the typed transactions to
//! `rules`. Pure: no I/O, no clock (so "claim too old" and "post-dated" are the caller's).
//!
//! Three rules shape it:
//! - **Collect everything.** Every problem of every transaction is reported at once (up to
//!   `PROBLEMS_PER_TRANSMISSION_MAX`), never just the first. Problems of the header, the
//!   transmission-level segments and the transaction count apply to every transaction and are
//!   kept apart in [`Validated::transmission_problems`].
//! - **One code per problem.** Each [`Problem`] has a [`ProblemKind`], and
//!   [`ProblemKind::reject_code`] — one exhaustive `match` — is the only place a kind becomes a
//!   reject code. Which kind a bad value of a given field raises is likewise one table
//!   ([`field_kind`]).
//! - **One mandatory matrix.** What each transaction code requires is the [`REQUIREMENTS`]
//!   table (the Implementation Guide's matrix is not public, so the table is the gateway's
//!   payer sheet; see its doc comment for the choices).
//!
//! Readings where the spec is silent (a demanding processor's choices):
//! - An empty field value counts as absent. Alphanumeric values lose trailing spaces; numeric
//!   values must be plain digits (no spaces, no signs) within their DD07 width.
//! - 455-EM must be `1` (Rx billing); 436-E1 must be `03` (NDC, then 407-D7 is 11 digits) or
//!   `00` (multi-ingredient compound, then 407-D7 is `0`, 406-D6 is `2` and the Compound
//!   segment is present). 402-D2 must be 1..=999999999999; 405-D5 at least 1 and 442-E7
//!   above zero on B1/B3.
//! - A date of birth after the date of service is invalid (09).
//! - Fields the gateway decodes but whose own reject code is not in the team's code list
//!   (names, other amounts, COB payer ids, compound ingredient quantity/cost) raise
//!   [`ProblemKind::FieldFormat`] → `R8` syntax error. Fields the gateway does not decode are
//!   kept in the raw message and not judged, except that a non-repeatable field sent twice is
//!   `P9` and a control byte inside any value is `R8`.
//! - A segment in the wrong level (a Claim before the first group, an Insurance inside one) is
//!   `R8`; an unknown or response segment id is `AM`; a segment sent twice at one level `R7`.
//! - An E1 carries no transaction group: a group there is `1U`; its 109-A9 must be 1 (`PB`).
//! - More than four transaction groups is `1U` (the extra groups were dropped by the reader).
//!
//! Must never: panic or allocate beyond the limits on any message, echo a patient
//! identifier, name or date of birth into a problem message (messages name fields, not
//! values), or decide anything clinical.

use super::fields;
use super::numbers;
use super::parse::{parse, Field, Header, Message, Place, Segment, Structure};
use super::{Kind, ParseError};
use crate::claim::{
    codes, reject, CobPayer, Code2, CompoundIngredient, Date, DurPps, Ndc, Patient, Pricing,
    QualifiedAmount, RejectCode, RequestHeader, Transaction, TransactionCode, Transmission,
};
use crate::limits::{
    CLARIFICATION_CODES_MAX, COB_PAYERS_MAX, COB_PAYER_REPEATS_MAX, COMPOUND_INGREDIENTS_MAX,
    DUR_PPS_OCCURRENCES_MAX, PRICING_OTHER_AMOUNTS_MAX, PROBLEMS_PER_TRANSMISSION_MAX,
    REJECT_CODES_MAX, TRANSACTIONS_MAX,
};

// ---- results ------------------------------------------------------------------------------

/// What is wrong, in the gateway's own terms. [`ProblemKind::reject_code`] maps each kind to
/// exactly one NCPDP reject code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ProblemKind {
    // header
    Bin,
    Version,
    TransactionCode,
    TransactionCodeNotSupported,
    ServiceProviderId,
    DateOfService,
    TransactionCount,
    TransactionCountMismatch,
    CountInvalidForCode,
    // structure
    SegmentId,
    Syntax,
    SegmentNotAllowedHere,
    RepeatedSegment,
    NonRepeatableField,
    FieldFormat,
    // required segments
    ClaimSegmentMissing,
    InsuranceSegmentMissing,
    PatientSegmentMissing,
    PricingSegmentMissing,
    CompoundSegmentMissing,
    // patient and insurance
    CardholderId,
    PersonCode,
    GroupId,
    DateOfBirth,
    Gender,
    // claim
    RxQualifier,
    RxNumber,
    FillNumber,
    DaysSupply,
    CompoundCode,
    ProductQualifier,
    ProductId,
    Quantity,
    DawCode,
    DateWritten,
    RefillsAuthorized,
    ClarificationCount,
    ClarificationCode,
    PrescriberQualifier,
    PrescriberId,
    // DUR/PPS
    DurCounter,
    DurCounterSequence,
    DurCounterExceeds,
    DurCounterNotFirst,
    ReasonForService,
    ProfessionalService,
    ResultOfService,
    LevelOfEffort,
    CoAgentQualifier,
    CoAgentId,
    CoAgentQualifierOrder,
    // pricing, COB, compound
    IngredientCost,
    IncentiveAmount,
    BasisOfCost,
    OtherAmountCount,
    CobCount,
    OtherPayerDate,
    CompoundCount,
}

impl ProblemKind {
    /// The one place a problem becomes a reject code.
    pub fn reject_code(self) -> RejectCode {
        use ProblemKind as K;
        match self {
            K::Bin => reject::BIN,
            K::Version => reject::VERSION,
            K::TransactionCode => reject::TRANSACTION_CODE,
            K::TransactionCodeNotSupported => reject::TRANSACTION_CODE_NOT_SUPPORTED,
            K::ServiceProviderId => reject::SERVICE_PROVIDER_ID,
            K::DateOfService => reject::DATE_OF_SERVICE,
            K::TransactionCount => reject::TRANSACTION_COUNT,
            K::TransactionCountMismatch => reject::TRANSACTION_COUNT_MISMATCH,
            K::CountInvalidForCode => reject::INVALID_COUNT_FOR_CODE,
            K::SegmentId => reject::SEGMENT_ID,
            K::Syntax | K::SegmentNotAllowedHere | K::FieldFormat => reject::SYNTAX_ERROR,
            K::RepeatedSegment => reject::REPEATING_SEGMENT,
            K::NonRepeatableField => reject::FIELD_NOT_REPEATABLE,
            K::ClaimSegmentMissing => reject::CLAIM_SEGMENT_REQUIRED,
            K::InsuranceSegmentMissing => reject::INSURANCE_SEGMENT_REQUIRED,
            K::PatientSegmentMissing => reject::PATIENT_SEGMENT_REQUIRED,
            K::PricingSegmentMissing => reject::PRICING_SEGMENT_REQUIRED,
            K::CompoundSegmentMissing => reject::COMPOUND_SEGMENT_REQUIRED,
            K::CardholderId => reject::CARDHOLDER_ID,
            K::PersonCode => reject::PERSON_CODE,
            K::GroupId => reject::GROUP_ID,
            K::DateOfBirth => reject::DATE_OF_BIRTH,
            K::Gender => reject::GENDER,
            K::RxQualifier => reject::RX_QUALIFIER,
            K::RxNumber => reject::RX_NUMBER,
            K::FillNumber => reject::FILL_NUMBER,
            K::DaysSupply => reject::DAYS_SUPPLY,
            K::CompoundCode => reject::COMPOUND_CODE,
            K::ProductQualifier => reject::PRODUCT_QUALIFIER,
            K::ProductId => reject::PRODUCT_ID,
            K::Quantity => reject::QUANTITY,
            K::DawCode => reject::DAW_CODE,
            K::DateWritten => reject::DATE_WRITTEN,
            K::RefillsAuthorized => reject::REFILLS_AUTHORIZED,
            K::ClarificationCount => reject::CLARIFICATION_COUNT,
            K::ClarificationCode => reject::CLARIFICATION_CODE,
            K::PrescriberQualifier => reject::PRESCRIBER_ID_QUALIFIER,
            K::PrescriberId => reject::PRESCRIBER_ID,
            K::DurCounter => reject::DUR_COUNTER,
            K::DurCounterSequence => reject::DUR_COUNTER_SEQUENCE,
            K::DurCounterExceeds => reject::DUR_COUNTER_EXCEEDS,
            K::DurCounterNotFirst => reject::DUR_COUNTER_NOT_FIRST,
            K::ReasonForService => reject::REASON_FOR_SERVICE,
            K::ProfessionalService => reject::PROFESSIONAL_SERVICE,
            K::ResultOfService => reject::RESULT_OF_SERVICE,
            K::LevelOfEffort => reject::LEVEL_OF_EFFORT,
            K::CoAgentQualifier => reject::CO_AGENT_QUALIFIER,
            K::CoAgentId => reject::CO_AGENT_ID,
            K::CoAgentQualifierOrder => reject::CO_AGENT_QUALIFIER_ORDER,
            K::IngredientCost => reject::INGREDIENT_COST,
            K::IncentiveAmount => reject::INCENTIVE_AMOUNT,
            K::BasisOfCost => reject::BASIS_OF_COST,
            K::OtherAmountCount => reject::OTHER_AMOUNT_COUNT,
            K::CobCount => reject::COB_COUNT,
            K::OtherPayerDate => reject::OTHER_PAYER_DATE,
            K::CompoundCount => reject::COMPOUND_COUNT,
        }
    }

    /// The kind a structural flaw of the reader is reported as.
    pub fn of_structure(structure: Structure) -> ProblemKind {
        match structure {
            Structure::StrayBytes | Structure::ShortField => ProblemKind::Syntax,
            Structure::TooManySegments | Structure::TooManyFields => ProblemKind::Syntax,
            Structure::MissingSegmentId => ProblemKind::SegmentId,
            Structure::TooManyGroups => ProblemKind::TransactionCountMismatch,
        }
    }
}

/// Which kind a missing or invalid value of request field `field` raises. One table for all
/// request segments (their field ids do not collide where it matters).
pub fn field_kind(field: [u8; 2]) -> ProblemKind {
    use ProblemKind as K;
    match &field {
        b"C2" => K::CardholderId,
        b"C3" => K::PersonCode,
        b"C1" => K::GroupId,
        b"C4" => K::DateOfBirth,
        b"C5" => K::Gender,
        b"EM" => K::RxQualifier,
        b"D2" => K::RxNumber,
        b"D3" => K::FillNumber,
        b"D5" => K::DaysSupply,
        b"D6" => K::CompoundCode,
        b"E1" | b"RE" => K::ProductQualifier,
        b"D7" | b"TE" => K::ProductId,
        b"E7" => K::Quantity,
        b"D8" => K::DawCode,
        b"DE" => K::DateWritten,
        b"DF" => K::RefillsAuthorized,
        b"NX" => K::ClarificationCount,
        b"DK" => K::ClarificationCode,
        b"EZ" => K::PrescriberQualifier,
        b"DB" => K::PrescriberId,
        b"7E" => K::DurCounter,
        b"E4" => K::ReasonForService,
        b"E5" => K::ProfessionalService,
        b"E6" => K::ResultOfService,
        b"8E" => K::LevelOfEffort,
        b"J9" => K::CoAgentQualifier,
        b"H6" => K::CoAgentId,
        b"D9" => K::IngredientCost,
        b"E3" => K::IncentiveAmount,
        b"DN" => K::BasisOfCost,
        b"H7" => K::OtherAmountCount,
        b"4C" => K::CobCount,
        b"E8" => K::OtherPayerDate,
        b"EC" => K::CompoundCount,
        _ => K::FieldFormat,
    }
}

/// One thing wrong with a request, ready to become a 511-FB (and 546-4F) in the reply.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Problem {
    pub kind: ProblemKind,
    /// `kind.reject_code()`, kept for readers of the value.
    pub reject_code: RejectCode,
    /// The field at fault, when there is one (`*b"D7"`).
    pub field: Option<[u8; 2]>,
    /// Which repetition of a repeating field or group (1-based), for 546-4F.
    pub occurrence: Option<u8>,
    /// What is wrong, naming fields, never echoing patient data.
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, field: Option<[u8; 2]>, message: String) -> Problem {
        Problem {
            kind,
            reject_code: kind.reject_code(),
            field,
            occurrence: None,
            message,
        }
    }
}

/// A validated request: typed values where they could be read, and every problem.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Validated {
    /// `None` when any header field is unusable.
    pub header: Option<RequestHeader>,
    /// From AM04 Insurance and AM01 Patient when either is present. Best effort: fields
    /// with problems are left empty; trust it only when there are no problems.
    pub patient: Option<Patient>,
    /// Problems of the header, transmission-level segments and transaction count: they
    /// apply to every transaction.
    pub transmission_problems: Vec<Problem>,
    /// One entry per transaction group, in order (none for E1).
    pub transactions: Vec<Result<Transaction, Vec<Problem>>>,
}

impl Validated {
    /// Whether nothing at all is wrong.
    pub fn is_clean(&self) -> bool {
        self.transmission_problems.is_empty() && self.transactions.iter().all(Result::is_ok)
    }

    /// Every problem with where it applies.
    pub fn problems(&self) -> impl Iterator<Item = (Place, &Problem)> + '_ {
        let transmission = self
            .transmission_problems
            .iter()
            .map(|p| (Place::Transmission, p));
        let transactions = self
            .transactions
            .iter()
            .enumerate()
            .flat_map(|(index, result)| {
                let problems = result.as_ref().err().map(Vec::as_slice).unwrap_or(&[]);
                problems
                    .iter()
                    .map(move |problem| (Place::Transaction(index), problem))
            });
        transmission.chain(transactions)
    }

    /// The problems that reject transaction `index`: the transmission's, then its own.
    pub fn problems_for(&self, index: usize) -> impl Iterator<Item = &Problem> + '_ {
        let own = self
            .transactions
            .get(index)
            .and_then(|result| result.as_ref().err());
        self.transmission_problems
            .iter()
            .chain(own.into_iter().flatten())
    }

    /// The distinct reject codes for transaction `index`, in order found, at most
    /// `REJECT_CODES_MAX`.
    pub fn reject_codes(&self, index: usize) -> Vec<RejectCode> {
        let mut codes: Vec<RejectCode> = Vec::new();
        for problem in self.problems_for(index) {
            if !codes.contains(&problem.reject_code) && codes.len() < REJECT_CODES_MAX {
                codes.push(problem.reject_code);
            }
        }
        codes
    }

    /// The typed transmission when nothing is wrong, else every problem.
    pub fn into_transmission(self) -> Result<Transmission, Vec<Problem>> {
        let mut problems = self.transmission_problems;
        let mut transactions = Vec::with_capacity(self.transactions.len());
        for result in self.transactions {
            match result {
                Ok(transaction) => transactions.push(transaction),
                Err(mut own) => problems.append(&mut own),
            }
        }
        match (self.header, problems.is_empty()) {
            (Some(header), true) => Ok(Transmission {
                header,
                patient: self.patient,
                transactions,
            }),
            (None, true) => Err(vec![Problem::new(
                ProblemKind::Syntax,
                None,
                "header unusable".into(),
            )]),
            (_, false) => Err(problems),
        }
    }
}

/// Parses and validates a request in one call.
pub fn read_request(bytes: &[u8]) -> Result<(Message<'_>, Validated), ParseError> {
    let message = parse(bytes)?;
    if message.kind != Kind::Request {
        return Err(ParseError::WrongKind {
            expected: Kind::Request,
        });
    }
    let validated = validate_request(&message);
    Ok((message, validated))
}

// ---- the mandatory matrix -----------------------------------------------------------------

/// Whether a segment must be sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    Required,
    Optional,
}

/// What one transaction code requires.
#[derive(Clone, Copy, Debug)]
struct Requirements {
    code: Option<TransactionCode>,
    /// AM04 Insurance, and the fields it must carry when present.
    insurance: Need,
    insurance_fields: &'static [[u8; 2]],
    /// AM01 Patient, and the fields it must carry when present.
    patient: Need,
    patient_fields: &'static [[u8; 2]],
    /// Whether the transmission carries transaction groups (E1 does not).
    groups: bool,
    /// AM07 Claim fields each transaction must carry.
    claim_fields: &'static [[u8; 2]],
    /// AM11 Pricing.
    pricing: Need,
    /// Whether 442-E7 and 405-D5 must be positive (billing) or may be zero (reversal).
    positive_quantities: bool,
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

fn requirements(code: Option<TransactionCode>) -> &'static Requirements {
    let row = REQUIREMENTS
        .iter()
        .find(|row| code.is_some() && row.code == code);
    row.unwrap_or(&UNKNOWN_CODE)
}

/// Request segments allowed before the first group (E1 also allows 02, 03 and 14 there).
const TRANSMISSION_SEGMENTS: &[[u8; 2]] = &[*b"01", *b"04"];
const E1_TRANSMISSION_SEGMENTS: &[[u8; 2]] = &[*b"01", *b"02", *b"03", *b"04", *b"14"];
/// Request segments allowed inside a transaction group.
const TRANSACTION_SEGMENTS: &[[u8; 2]] = &[
    *b"02", *b"03", *b"05", *b"06", *b"07", *b"08", *b"09", *b"10", *b"11", *b"12", *b"13", *b"14",
    *b"15", *b"16",
];

/// 103-A3 codes NCPDP defines that the gateway does not serve (1S rather than 03).
const UNSERVED_CODES: &[&[u8; 2]] = &[
    b"C1", b"C2", b"C3", b"D1", b"E2", b"N1", b"N2", b"N3", b"P1", b"P2", b"P3", b"P4", b"S1",
    b"S2", b"S3",
];

// ---- collecting problems ------------------------------------------------------------------

/// Gathers problems with where they apply, bounded by `PROBLEMS_PER_TRANSMISSION_MAX`.
struct Collector {
    found: Vec<(Place, Problem)>,
    place: Place,
}

impl Collector {
    fn new() -> Collector {
        Collector {
            found: Vec::new(),
            place: Place::Transmission,
        }
    }

    fn full(&self) -> bool {
        self.found.len() >= PROBLEMS_PER_TRANSMISSION_MAX
    }

    fn add(&mut self, kind: ProblemKind, field: Option<[u8; 2]>, message: impl Into<String>) {
        self.add_at(kind, field, None, message);
    }

    fn add_at(
        &mut self,
        kind: ProblemKind,
        field: Option<[u8; 2]>,
        occurrence: Option<u8>,
        message: impl Into<String>,
    ) {
        if !self.full() {
            let problem = Problem {
                occurrence,
                ..Problem::new(kind, field, message.into())
            };
            self.found.push((self.place, problem));
        }
    }

    /// A problem with field `field` of segment `segment`, raised as the field's own kind.
    fn field(&mut self, at: FieldAt, what: &str) {
        if !self.full() {
            let message = format!("{} {what}", describe_field(at.segment, at.field));
            self.add_at(field_kind(at.field), Some(at.field), at.occurrence, message);
        }
    }

    fn take(&mut self, place: Place) -> Vec<Problem> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.found)
            .into_iter()
            .partition(|(at, _)| *at == place);
        self.found = kept;
        taken.into_iter().map(|(_, problem)| problem).collect()
    }
}

/// Which field a value came from: segment, field, repetition.
#[derive(Clone, Copy)]
struct FieldAt {
    segment: [u8; 2],
    field: [u8; 2],
    occurrence: Option<u8>,
}

impl FieldAt {
    fn new(segment: [u8; 2], field: [u8; 2]) -> FieldAt {
        FieldAt {
            segment,
            field,
            occurrence: None,
        }
    }

    fn nth(segment: [u8; 2], field: [u8; 2], occurrence: usize) -> FieldAt {
        FieldAt {
            segment,
            field,
            occurrence: u8::try_from(occurrence).ok(),
        }
    }
}

/// `402-D2 prescription reference number`, or the bare id for a field the table lacks.
fn describe_field(segment: [u8; 2], field: [u8; 2]) -> String {
    match fields::field(segment, field) {
        Some(info) => format!("{} {}", info.number, info.name),
        None => String::from_utf8_lossy(&field).into_owned(),
    }
}

fn describe_segment(id: [u8; 2]) -> String {
    let name = fields::segment(id).map_or("unknown segment", |info| info.name);
    format!("AM{} {name}", String::from_utf8_lossy(&id))
}

// ---- value decoders -----------------------------------------------------------------------

/// A present value: empty counts as absent.
fn present(value: Option<&[u8]>) -> Option<&[u8]> {
    value.filter(|value| !value.is_empty())
}

/// Alphanumeric text without its trailing spaces.
fn text(value: &[u8]) -> String {
    let end = value
        .iter()
        .rposition(|byte| *byte != b' ')
        .map_or(0, |last| last + 1);
    value
        .get(..end)
        .unwrap_or_default()
        .iter()
        .map(|byte| char::from(*byte))
        .collect()
}

/// `x(width)`: non-blank text no wider than `width`.
fn alnum(width: usize) -> impl Fn(&[u8]) -> Option<String> {
    move |value| (value.len() <= width && value.iter().any(|b| *b != b' ')).then(|| text(value))
}

/// `9(width)` within `range`.
fn number_in(width: usize, range: std::ops::RangeInclusive<u64>) -> impl Fn(&[u8]) -> Option<u64> {
    move |value| numbers::digits(value, width).filter(|number| range.contains(number))
}

/// `s9(6)v99` money: cents.
fn money(value: &[u8]) -> Option<i64> {
    numbers::overpunch(value, 8)
}

/// `9(7)v999` quantity: milli-units.
fn quantity(value: &[u8]) -> Option<u64> {
    numbers::digits(value, 10)
}

fn date(value: &[u8]) -> Option<Date> {
    Date::parse_ccyymmdd(value)
}

/// A 2-character code from one of the `claim::codes` lists.
fn listed(is_listed: fn(&str) -> bool) -> impl Fn(&[u8]) -> Option<Code2> {
    move |value| Code2::parse(value).filter(|code| is_listed(code.as_str()))
}

/// Decodes a repeating field's value: absent → `None` (a problem when `required`), bad →
/// a problem and `None`.
fn decode_value<T>(
    c: &mut Collector,
    at: FieldAt,
    value: Option<&[u8]>,
    required: bool,
    decode: impl Fn(&[u8]) -> Option<T>,
    expected: &str,
) -> Option<T> {
    let Some(value) = present(value) else {
        if required {
            c.field(at, "is missing");
        }
        return None;
    };
    let decoded = decode(value);
    if decoded.is_none() {
        c.field(at, expected);
    }
    decoded
}

/// Decodes the first field `field` of `segment` (see [`decode_value`]).
fn decode<T>(
    c: &mut Collector,
    segment: &Segment<'_>,
    field: [u8; 2],
    required: bool,
    decoder: impl Fn(&[u8]) -> Option<T>,
    expected: &str,
) -> Option<T> {
    let at = FieldAt::new(segment.id, field);
    decode_value(c, at, segment.first(field), required, decoder, expected)
}

// ---- the walk -----------------------------------------------------------------------------

/// Validates a parsed request: every problem, and typed values where they could be read.
pub fn validate_request(message: &Message<'_>) -> Validated {
    let mut c = Collector::new();
    for problem in &message.problems {
        c.place = match problem.place {
            Place::Transaction(index) if index < message.groups.len() => problem.place,
            _ => Place::Transmission,
        };
        c.add(
            ProblemKind::of_structure(problem.structure),
            None,
            problem.structure.describe(),
        );
    }
    c.place = Place::Transmission;
    if message.kind != Kind::Request {
        c.add(ProblemKind::Syntax, None, "a response is not a request");
    }
    let (header, code, date_of_service) = read_header(&mut c, &message.header);
    let needs = requirements(code);
    check_all_segments(&mut c, message, needs);
    let patient = read_patient(&mut c, message, needs, date_of_service);
    check_group_count(&mut c, message, needs);
    let transactions = read_transactions(&mut c, message, needs);
    let transmission_problems = c.take(Place::Transmission);
    let transactions = transactions
        .into_iter()
        .enumerate()
        .map(|(index, transaction)| {
            let problems = c.take(Place::Transaction(index));
            if problems.is_empty() {
                Ok(transaction)
            } else {
                Err(problems)
            }
        })
        .collect();
    Validated {
        header,
        patient,
        transmission_problems,
        transactions,
    }
}

// ---- header -------------------------------------------------------------------------------

/// The typed header (when every field is usable), the transaction code and date of service.
fn read_header(
    c: &mut Collector,
    raw: &Header<'_>,
) -> (Option<RequestHeader>, Option<TransactionCode>, Option<Date>) {
    let bin = header_field(
        c,
        raw.bin,
        ProblemKind::Bin,
        "101-A1 BIN must be 6 digits",
        |v| (v.len() == 6 && v.iter().all(u8::is_ascii_digit)).then(|| text(v)),
    );
    let version = header_field(
        c,
        raw.version,
        ProblemKind::Version,
        "102-A2 version must be D0",
        |v| (v == b"D0").then(|| text(v)),
    );
    let code = read_transaction_code(c, raw.transaction_code);
    let count = header_field(
        c,
        raw.transaction_count,
        ProblemKind::TransactionCount,
        "109-A9 transaction count must be 1 to 4",
        |v| numbers::digits(v, 1).filter(|count| (1..=TRANSACTIONS_MAX as u64).contains(count)),
    );
    let provider_id = header_field(
        c,
        raw.provider_id,
        ProblemKind::ServiceProviderId,
        "201-B1 service provider id is missing",
        |v| v.iter().any(|b| *b != b' ').then(|| text(v)),
    );
    let date_of_service = header_field(
        c,
        raw.date_of_service,
        ProblemKind::DateOfService,
        "401-D1 date of service must be a CCYYMMDD date",
        date,
    );
    let header = (|| {
        Some(RequestHeader {
            bin: bin?,
            version: version?,
            transaction_code: code?,
            pcn: text(raw.pcn),
            transaction_count: u8::try_from(count?).ok()?,
            provider_id_qualifier: text(raw.provider_id_qualifier),
            provider_id: provider_id?,
            date_of_service: date_of_service?,
            software_vendor: text(raw.software_vendor),
        })
    })();
    (header, code, date_of_service)
}

fn header_field<T>(
    c: &mut Collector,
    value: &[u8],
    kind: ProblemKind,
    message: &str,
    decode: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    let decoded = decode(value);
    if decoded.is_none() {
        c.add(kind, None, message);
    }
    decoded
}

fn read_transaction_code(c: &mut Collector, value: &[u8]) -> Option<TransactionCode> {
    let code = TransactionCode::parse(value);
    if code.is_none() {
        let unserved = UNSERVED_CODES.iter().any(|unserved| &unserved[..] == value);
        if unserved {
            c.add(
                ProblemKind::TransactionCodeNotSupported,
                None,
                "103-A3 transaction code is not served (B1, B2, B3, E1 are)",
            );
        } else {
            c.add(
                ProblemKind::TransactionCode,
                None,
                "103-A3 transaction code is not a known code",
            );
        }
    }
    code
}

// ---- structure of segments ----------------------------------------------------------------

/// Placement, repetition and byte checks over every segment.
fn check_all_segments(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let transmission_allowed = match needs.code {
        Some(TransactionCode::E1) => E1_TRANSMISSION_SEGMENTS,
        _ => TRANSMISSION_SEGMENTS,
    };
    c.place = Place::Transmission;
    check_segments(c, &message.transmission, transmission_allowed);
    for (index, group) in message.groups.iter().enumerate() {
        c.place = Place::Transaction(index);
        check_segments(c, group, TRANSACTION_SEGMENTS);
    }
    c.place = Place::Transmission;
}

fn check_segments(c: &mut Collector, segments: &[Segment<'_>], allowed: &[[u8; 2]]) {
    for (index, segment) in segments.iter().enumerate() {
        check_placement(c, segment, allowed);
        let earlier = segments.get(..index).unwrap_or_default();
        if segment.has_id() && earlier.iter().any(|other| other.id == segment.id) {
            c.add(
                ProblemKind::RepeatedSegment,
                None,
                format!("{} sent twice", describe_segment(segment.id)),
            );
        }
        check_fields(c, segment);
    }
}

fn check_placement(c: &mut Collector, segment: &Segment<'_>, allowed: &[[u8; 2]]) {
    if !segment.has_id() || allowed.contains(&segment.id) {
        return;
    }
    let request_segment =
        TRANSACTION_SEGMENTS.contains(&segment.id) || TRANSMISSION_SEGMENTS.contains(&segment.id);
    let name = describe_segment(segment.id);
    if request_segment {
        c.add(
            ProblemKind::SegmentNotAllowedHere,
            None,
            format!("{name} is not allowed at this level"),
        );
    } else {
        c.add(
            ProblemKind::SegmentId,
            None,
            format!("{name} is not a request segment"),
        );
    }
}

/// Control bytes in values (R8) and non-repeatable fields sent twice (P9). The DUR/PPS
/// segment's per-occurrence repeats are checked by its own reader.
fn check_fields(c: &mut Collector, segment: &Segment<'_>) {
    let mut seen = SeenFields::default();
    for field in &segment.fields {
        if field.value.iter().any(|byte| !(0x20..=0x7e).contains(byte)) {
            c.add(
                ProblemKind::Syntax,
                Some(field.id),
                format!(
                    "{} holds a control or non-ASCII byte",
                    describe_field(segment.id, field.id)
                ),
            );
        }
        let repeatable =
            fields::field(segment.id, field.id).map_or(true, |info| info.rep.repeatable());
        if !seen.insert(field.id) && !repeatable {
            c.field_non_repeatable(segment.id, field.id, None);
        }
    }
}

impl Collector {
    fn field_non_repeatable(&mut self, segment: [u8; 2], field: [u8; 2], occurrence: Option<u8>) {
        let message = format!("{} is not repeatable", describe_field(segment, field));
        self.add_at(
            ProblemKind::NonRepeatableField,
            Some(field),
            occurrence,
            message,
        );
    }
}

/// A set of 2-character field ids (digits and upper-case letters; others share one slot, so
/// they are never reported as repeats wrongly, only possibly missed).
#[derive(Default)]
struct SeenFields {
    bits: [u64; 21],
    other: bool,
}

impl SeenFields {
    /// Inserts `id`; `false` when it was already there.
    fn insert(&mut self, id: [u8; 2]) -> bool {
        let slot = |byte: u8| match byte {
            b'0'..=b'9' => Some(usize::from(byte - b'0')),
            b'A'..=b'Z' => Some(usize::from(byte - b'A') + 10),
            _ => None,
        };
        let (Some(high), Some(low)) = (slot(id[0]), slot(id[1])) else {
            self.other = true;
            return true;
        };
        let index = high * 36 + low;
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        let Some(slot_word) = self.bits.get_mut(word) else {
            return true;
        };
        let fresh = *slot_word & bit == 0;
        *slot_word |= bit;
        fresh
    }
}

// ---- patient ------------------------------------------------------------------------------

fn read_patient(
    c: &mut Collector,
    message: &Message<'_>,
    needs: &Requirements,
    date_of_service: Option<Date>,
) -> Option<Patient> {
    let insurance = message.segment(Place::Transmission, *b"04");
    let patient_segment = message.segment(Place::Transmission, *b"01");
    require_segment(
        c,
        insurance,
        needs.insurance,
        ProblemKind::InsuranceSegmentMissing,
        *b"04",
    );
    require_segment(
        c,
        patient_segment,
        needs.patient,
        ProblemKind::PatientSegmentMissing,
        *b"01",
    );
    if insurance.is_none() && patient_segment.is_none() {
        return None;
    }
    let mut patient = Patient::default();
    if let Some(segment) = insurance {
        read_insurance(c, segment, needs, &mut patient);
    }
    if let Some(segment) = patient_segment {
        read_patient_segment(c, segment, needs, date_of_service, &mut patient);
    }
    Some(patient)
}

fn require_segment(
    c: &mut Collector,
    segment: Option<&Segment<'_>>,
    need: Need,
    kind: ProblemKind,
    id: [u8; 2],
) {
    if segment.is_none() && need == Need::Required {
        c.add(kind, None, format!("{} is required", describe_segment(id)));
    }
}

fn read_insurance(
    c: &mut Collector,
    segment: &Segment<'_>,
    needs: &Requirements,
    patient: &mut Patient,
) {
    let required = |field: &[u8; 2]| needs.insurance_fields.contains(field);
    let cardholder = decode(
        c,
        segment,
        *b"C2",
        required(b"C2"),
        alnum(20),
        "must be at most 20 characters",
    );
    patient.cardholder_id = cardholder.unwrap_or_default();
    let person_code = decode(
        c,
        segment,
        *b"C3",
        required(b"C3"),
        alnum(3),
        "must be at most 3 characters",
    );
    patient.person_code = person_code.unwrap_or_default();
    let group_id = decode(
        c,
        segment,
        *b"C1",
        required(b"C1"),
        alnum(15),
        "must be at most 15 characters",
    );
    patient.group_id = group_id.unwrap_or_default();
}

fn read_patient_segment(
    c: &mut Collector,
    segment: &Segment<'_>,
    needs: &Requirements,
    date_of_service: Option<Date>,
    patient: &mut Patient,
) {
    let required = |field: &[u8; 2]| needs.patient_fields.contains(field);
    let not_after_service =
        |value: &[u8]| date(value).filter(|dob| date_of_service.map_or(true, |dos| *dob <= dos));
    let expected = "must be a CCYYMMDD date not after the date of service";
    patient.date_of_birth = decode(
        c,
        segment,
        *b"C4",
        required(b"C4"),
        not_after_service,
        expected,
    );
    let gender = decode(
        c,
        segment,
        *b"C5",
        required(b"C5"),
        number_in(1, 0..=2),
        "must be 0, 1 or 2",
    );
    patient.gender = gender.map(|value| value as u8);
    let first_name = decode(
        c,
        segment,
        *b"CA",
        false,
        alnum(12),
        "must be at most 12 characters",
    );
    patient.first_name = first_name.unwrap_or_default();
    let last_name = decode(
        c,
        segment,
        *b"CB",
        false,
        alnum(15),
        "must be at most 15 characters",
    );
    patient.last_name = last_name.unwrap_or_default();
}

// ---- transaction count --------------------------------------------------------------------

/// 109-A9 against the groups sent (skipped when A9 itself is unusable, and when the reader
/// already dropped groups beyond the limit: that is reported as 1U by the structure).
fn check_group_count(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let Some(count) = numbers::digits(message.header.transaction_count, 1) else {
        return;
    };
    let count_ok = (1..=TRANSACTIONS_MAX as u64).contains(&count);
    let overflowed = message
        .problems
        .iter()
        .any(|p| p.structure == Structure::TooManyGroups);
    if !needs.groups {
        if count != 1 {
            c.add(
                ProblemKind::CountInvalidForCode,
                None,
                "109-A9 transaction count must be 1 for E1",
            );
        }
        if !message.groups.is_empty() {
            c.add(
                ProblemKind::TransactionCountMismatch,
                None,
                "E1 carries no transaction group",
            );
        }
        return;
    }
    if count_ok && !overflowed && message.groups.len() as u64 != count {
        let sent = message.groups.len();
        c.add(
            ProblemKind::TransactionCountMismatch,
            None,
            format!("109-A9 says {count} transactions, {sent} sent"),
        );
    }
}

// ---- transactions -------------------------------------------------------------------------

fn read_transactions(
    c: &mut Collector,
    message: &Message<'_>,
    needs: &Requirements,
) -> Vec<Transaction> {
    let mut transactions = Vec::with_capacity(message.groups.len());
    for (index, group) in message.groups.iter().enumerate() {
        c.place = Place::Transaction(index);
        transactions.push(read_transaction(c, group, needs));
    }
    c.place = Place::Transmission;
    transactions
}

fn find<'s, 'a>(group: &'s [Segment<'a>], id: &[u8; 2]) -> Option<&'s Segment<'a>> {
    group.iter().find(|segment| &segment.id == id)
}

fn read_transaction(c: &mut Collector, group: &[Segment<'_>], needs: &Requirements) -> Transaction {
    let mut transaction = Transaction::default();
    match find(group, b"07") {
        Some(claim) => read_claim(c, claim, needs, &mut transaction),
        None => c.add(
            ProblemKind::ClaimSegmentMissing,
            None,
            "AM07 Claim is required",
        ),
    }
    if let Some(prescriber) = find(group, b"03") {
        read_prescriber(c, prescriber, &mut transaction);
    }
    if let Some(dur) = find(group, b"08") {
        transaction.dur_pps = read_dur_pps(c, dur);
    }
    match find(group, b"11") {
        Some(pricing) => transaction.pricing = read_pricing(c, pricing),
        None => require_segment(
            c,
            None,
            needs.pricing,
            ProblemKind::PricingSegmentMissing,
            *b"11",
        ),
    }
    if let Some(cob) = find(group, b"05") {
        transaction.cob = read_cob(c, cob);
    }
    let compound = find(group, b"10");
    if let Some(segment) = compound {
        transaction.compound = read_compound(c, segment);
    }
    check_compound_consistency(c, &transaction, compound.is_some());
    transaction
}

fn read_claim(c: &mut Collector, claim: &Segment<'_>, needs: &Requirements, t: &mut Transaction) {
    let required = |field: &[u8; 2]| needs.claim_fields.contains(field);
    decode(
        c,
        claim,
        *b"EM",
        required(b"EM"),
        |v| (v == b"1").then_some(()),
        "must be 1 (Rx billing)",
    );
    let rx = decode(
        c,
        claim,
        *b"D2",
        required(b"D2"),
        number_in(12, 1..=999_999_999_999),
        "must be 1 to 12 digits, not all zero",
    );
    t.rx_number = rx.unwrap_or_default();
    let fill = decode(
        c,
        claim,
        *b"D3",
        required(b"D3"),
        number_in(2, 0..=99),
        "must be 0 to 99",
    );
    t.fill_number = fill.unwrap_or_default() as u8;
    read_product(c, claim, required(b"E1"), required(b"D7"), t);
    let quantity_range = if needs.positive_quantities {
        1..=9_999_999_999
    } else {
        0..=9_999_999_999
    };
    let quantity = decode(
        c,
        claim,
        *b"E7",
        required(b"E7"),
        |v| quantity(v).filter(|q| quantity_range.contains(q)),
        "must be a quantity 9(7)v999 above zero",
    );
    t.quantity_milli = quantity.unwrap_or_default();
    let days_range = if needs.positive_quantities {
        1..=999
    } else {
        0..=999
    };
    let days = decode(
        c,
        claim,
        *b"D5",
        required(b"D5"),
        number_in(3, days_range),
        "must be 1 to 999 days",
    );
    t.days_supply = days.unwrap_or_default() as u16;
    read_claim_options(c, claim, t);
    t.clarification_codes = read_clarification(c, claim);
}

/// 436-E1 and 407-D7: the qualifier decides what the product id must look like.
fn read_product(
    c: &mut Collector,
    claim: &Segment<'_>,
    qualifier_required: bool,
    id_required: bool,
    t: &mut Transaction,
) {
    let qualifier = decode(
        c,
        claim,
        *b"E1",
        qualifier_required,
        |v| (v == b"03" || v == b"00").then(|| text(v)),
        "must be 03 (NDC) or 00 (compound)",
    );
    t.product_qualifier = qualifier.clone().unwrap_or_default();
    let product_id = decode(
        c,
        claim,
        *b"D7",
        id_required,
        alnum(19),
        "must be at most 19 characters",
    );
    t.product_id = product_id.clone().unwrap_or_default();
    let at = FieldAt::new(*b"07", *b"D7");
    match (qualifier.as_deref(), product_id.as_deref()) {
        (Some("03"), Some(id)) => {
            t.ndc = Ndc::parse(id.as_bytes());
            if t.ndc.is_none() {
                c.field(at, "must be an 11-digit NDC when 436-E1 is 03");
            }
        }
        (Some("00"), Some(id)) if id != "0" => {
            c.field(at, "must be 0 for a multi-ingredient compound (436-E1 00)")
        }
        _ => {}
    }
}

fn read_claim_options(c: &mut Collector, claim: &Segment<'_>, t: &mut Transaction) {
    let compound = decode(
        c,
        claim,
        *b"D6",
        false,
        number_in(1, 0..=2),
        "must be 0, 1 or 2",
    );
    t.compound_code = compound.unwrap_or_default() as u8;
    let daw = decode(
        c,
        claim,
        *b"D8",
        false,
        number_in(1, 0..=9),
        "must be one digit",
    );
    t.daw_code = daw.map(|value| value as u8);
    t.date_written = decode(c, claim, *b"DE", false, date, "must be a CCYYMMDD date");
    let refills = decode(
        c,
        claim,
        *b"DF",
        false,
        number_in(2, 0..=99),
        "must be 0 to 99",
    );
    t.refills_authorized = refills.map(|value| value as u8);
}

/// 354-NX count and its 420-DK repetitions.
fn read_clarification(c: &mut Collector, claim: &Segment<'_>) -> Vec<u8> {
    let sent: Vec<&Field<'_>> = claim
        .fields
        .iter()
        .filter(|field| &field.id == b"DK")
        .collect();
    if sent.len() > CLARIFICATION_CODES_MAX {
        c.add(
            ProblemKind::ClarificationCount,
            Some(*b"DK"),
            "more than 3 420-DK submission clarification codes",
        );
    }
    let mut codes = Vec::with_capacity(sent.len().min(CLARIFICATION_CODES_MAX));
    for (index, field) in sent.iter().enumerate().take(CLARIFICATION_CODES_MAX) {
        let at = FieldAt::nth(*b"07", *b"DK", index + 1);
        let code = decode_value(
            c,
            at,
            Some(field.value),
            true,
            number_in(2, 1..=99),
            "must be 1 to 99",
        );
        codes.extend(code.map(|value| value as u8));
    }
    check_count(
        c,
        claim.first(*b"NX"),
        sent.len(),
        1,
        ProblemKind::ClarificationCount,
        "354-NX submission clarification code",
    );
    codes
}

fn read_prescriber(c: &mut Collector, prescriber: &Segment<'_>, t: &mut Transaction) {
    decode(
        c,
        prescriber,
        *b"EZ",
        false,
        alnum(2),
        "must be at most 2 characters",
    );
    let id = decode(
        c,
        prescriber,
        *b"DB",
        false,
        alnum(15),
        "must be at most 15 characters",
    );
    t.prescriber_id = id.unwrap_or_default();
}

// ---- DUR/PPS ------------------------------------------------------------------------------

/// DUR/PPS occurrences: each starts at its 473-7E counter (1, 2, 3...); the other fields
/// belong to the occurrence they follow, each at most once.
fn read_dur_pps(c: &mut Collector, segment: &Segment<'_>) -> Vec<DurPps> {
    let mut reader = DurReader::default();
    for field in &segment.fields {
        reader.field(c, field);
    }
    reader.occurrences
}

#[derive(Default)]
struct DurReader {
    occurrences: Vec<DurPps>,
    seen: SeenFields,
    /// After the counter limit: fields are skipped until the segment ends.
    skipping: bool,
    /// 488 is reported once per segment.
    reported_not_first: bool,
}

impl DurReader {
    fn field(&mut self, c: &mut Collector, field: &Field<'_>) {
        if &field.id == b"7E" {
            return self.counter(c, field.value);
        }
        if self.skipping || !is_dur_field(field.id) {
            return;
        }
        let occurrence = self.occurrences.len();
        let Some(current) = self.occurrences.last_mut() else {
            return self.not_first(c, field.id);
        };
        if !self.seen.insert(field.id) {
            return c.field_non_repeatable(*b"08", field.id, u8::try_from(occurrence).ok());
        }
        let at = FieldAt::nth(*b"08", field.id, occurrence);
        set_dur_field(c, at, field.value, current);
    }

    fn counter(&mut self, c: &mut Collector, value: &[u8]) {
        let at = FieldAt::nth(*b"08", *b"7E", self.occurrences.len() + 1);
        let Some(counter) = decode_value(
            c,
            at,
            Some(value),
            true,
            number_in(2, 1..=99),
            "must be a counter 1 to 9",
        ) else {
            self.skipping = true;
            return;
        };
        if counter > DUR_PPS_OCCURRENCES_MAX as u64
            || self.occurrences.len() == DUR_PPS_OCCURRENCES_MAX
        {
            if !self.skipping {
                c.add_at(
                    ProblemKind::DurCounterExceeds,
                    Some(*b"7E"),
                    at.occurrence,
                    "more than 9 DUR/PPS occurrences",
                );
            }
            self.skipping = true;
            return;
        }
        let expected = self.occurrences.len() as u64 + 1;
        if counter != expected {
            c.add_at(
                ProblemKind::DurCounterSequence,
                Some(*b"7E"),
                at.occurrence,
                format!("473-7E counter {counter} where {expected} was due"),
            );
        }
        self.skipping = false;
        self.seen = SeenFields::default();
        self.occurrences.push(DurPps {
            counter: counter as u8,
            ..DurPps::default()
        });
    }

    fn not_first(&mut self, c: &mut Collector, field: [u8; 2]) {
        if !std::mem::replace(&mut self.reported_not_first, true) {
            let message = format!(
                "{} comes before any 473-7E counter",
                describe_field(*b"08", field)
            );
            c.add(ProblemKind::DurCounterNotFirst, Some(field), message);
        }
    }
}

fn is_dur_field(id: [u8; 2]) -> bool {
    matches!(&id, b"E4" | b"E5" | b"E6" | b"8E" | b"J9" | b"H6")
}

fn set_dur_field(c: &mut Collector, at: FieldAt, value: &[u8], dur: &mut DurPps) {
    let value = Some(value);
    match &at.field {
        b"E4" => {
            dur.reason = decode_value(
                c,
                at,
                value,
                false,
                listed(codes::is_reason_for_service),
                "is not a listed reason for service code",
            )
        }
        b"E5" => {
            dur.professional = decode_value(
                c,
                at,
                value,
                false,
                listed(codes::is_professional_service),
                "is not a listed professional service code",
            )
        }
        b"E6" => {
            dur.result = decode_value(
                c,
                at,
                value,
                false,
                listed(codes::is_result_of_service),
                "is not a listed result of service code",
            )
        }
        b"8E" => {
            let effort = decode_value(
                c,
                at,
                value,
                false,
                |v| numbers::digits(v, 2).filter(|e| *e == 0 || (11..=15).contains(e)),
                "must be 0 or 11 to 15",
            );
            dur.level_of_effort = effort.map(|value| value as u8);
        }
        b"J9" => {
            dur.co_agent_qualifier = decode_value(
                c,
                at,
                value,
                false,
                alnum(2),
                "must be at most 2 characters",
            )
        }
        _ => {
            dur.co_agent_id = decode_value(
                c,
                at,
                value,
                false,
                alnum(19),
                "must be at most 19 characters",
            );
            if dur.co_agent_id.is_some() && dur.co_agent_qualifier.is_none() {
                c.add_at(
                    ProblemKind::CoAgentQualifierOrder,
                    Some(*b"H6"),
                    at.occurrence,
                    "475-J9 co-agent id qualifier must precede 476-H6",
                );
            }
        }
    }
}

// ---- counted repetitions ------------------------------------------------------------------

/// Splits `fields` into repetitions that each start at a `trigger` field. Fields before the
/// first trigger are returned apart. At most `max` repetitions; `overflow` tells whether more
/// were sent.
struct Repetitions<'s, 'a> {
    head: &'s [Field<'a>],
    items: Vec<&'s [Field<'a>]>,
    overflow: bool,
}

fn repetitions<'s, 'a>(
    fields: &'s [Field<'a>],
    trigger: [u8; 2],
    max: usize,
) -> Repetitions<'s, 'a> {
    let first = fields
        .iter()
        .position(|field| field.id == trigger)
        .unwrap_or(fields.len());
    let (head, mut rest) = fields.split_at(first);
    let mut items = Vec::new();
    while !rest.is_empty() {
        if items.len() == max {
            return Repetitions {
                head,
                items,
                overflow: true,
            };
        }
        let next = rest.iter().skip(1).position(|field| field.id == trigger);
        let (item, tail) = rest.split_at(next.map_or(rest.len(), |position| position + 1));
        items.push(item);
        rest = tail;
    }
    Repetitions {
        head,
        items,
        overflow: false,
    }
}

/// The first value of `id` among `fields`.
fn first_in<'a>(fields: &[Field<'a>], id: [u8; 2]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|field| field.id == id)
        .map(|field| field.value)
}

/// Checks a count field against the number of repetitions sent.
fn check_count(
    c: &mut Collector,
    count: Option<&[u8]>,
    sent: usize,
    width: usize,
    kind: ProblemKind,
    what: &str,
) {
    let declared = present(count).map(|value| numbers::digits(value, width));
    let matches = match declared {
        None => sent == 0,
        Some(declared) => declared == Some(sent as u64) && sent > 0,
    };
    if !matches {
        c.add(
            kind,
            None,
            format!("{what} count does not match the {sent} repetitions sent"),
        );
    }
}

// ---- pricing ------------------------------------------------------------------------------

fn read_pricing(c: &mut Collector, segment: &Segment<'_>) -> Pricing {
    let amount = |c: &mut Collector, id: [u8; 2]| {
        decode(
            c,
            segment,
            id,
            false,
            money,
            "must be signed overpunch s9(6)v99",
        )
    };
    let mut pricing = Pricing {
        ingredient_cost_cents: amount(c, *b"D9"),
        dispensing_fee_cents: amount(c, *b"DC"),
        patient_paid_cents: amount(c, *b"DX"),
        incentive_cents: amount(c, *b"E3"),
        usual_and_customary_cents: amount(c, *b"DQ"),
        gross_amount_due_cents: amount(c, *b"DU"),
        basis_of_cost: decode(
            c,
            segment,
            *b"DN",
            false,
            alnum(2),
            "must be at most 2 characters",
        ),
        other_amounts: Vec::new(),
    };
    let other = repetitions(&segment.fields, *b"H8", PRICING_OTHER_AMOUNTS_MAX);
    let stray = other.head.iter().any(|field| &field.id == b"H9");
    if other.overflow || stray {
        c.add(
            ProblemKind::OtherAmountCount,
            Some(*b"H7"),
            "478-H7 other amounts: too many, or 480-H9 before its 479-H8",
        );
    }
    check_count(
        c,
        segment.first(*b"H7"),
        other.items.len(),
        1,
        ProblemKind::OtherAmountCount,
        "478-H7 other amount claimed",
    );
    for (index, item) in other.items.iter().enumerate() {
        let read = qualified_amount(c, item, *b"11", [*b"H8", *b"H9"], index + 1, money);
        match read {
            Some(amount) => pricing.other_amounts.push(amount),
            None => c.add(
                ProblemKind::OtherAmountCount,
                Some(*b"H9"),
                "480-H9 amount missing for its 479-H8",
            ),
        }
    }
    pricing
}

/// A qualifier/amount pair that starts at the qualifier (`ids[0]`): `None` when the amount is
/// absent (the caller reports it as a count mismatch); bad values are reported here.
fn qualified_amount(
    c: &mut Collector,
    item: &[Field<'_>],
    segment: [u8; 2],
    ids: [[u8; 2]; 2],
    occurrence: usize,
    decode: fn(&[u8]) -> Option<i64>,
) -> Option<QualifiedAmount> {
    let qualifier_at = FieldAt::nth(segment, ids[0], occurrence);
    let qualifier = decode_value(
        c,
        qualifier_at,
        first_in(item, ids[0]),
        false,
        alnum(2),
        "must be at most 2 characters",
    );
    let amount_value = present(first_in(item, ids[1]))?;
    let amount_at = FieldAt::nth(segment, ids[1], occurrence);
    let cents = decode_value(
        c,
        amount_at,
        Some(amount_value),
        true,
        decode,
        "must be signed overpunch money",
    );
    Some(QualifiedAmount {
        qualifier: qualifier.unwrap_or_default(),
        cents: cents.unwrap_or_default(),
    })
}

// ---- COB ----------------------------------------------------------------------------------

/// COB other payers: each starts at 338-5C; inside a payer, amounts paid (HC/DV), reject
/// codes (6E), patient responsibility (NP/NQ) and benefit stages (MV/MW) each repeat under
/// their own count. Every count mismatch is P4.
fn read_cob(c: &mut Collector, segment: &Segment<'_>) -> Vec<CobPayer> {
    let payers = repetitions(&segment.fields, *b"5C", COB_PAYERS_MAX);
    let stray = payers.head.iter().any(|field| &field.id != b"4C");
    if payers.overflow || stray {
        c.add(
            ProblemKind::CobCount,
            Some(*b"4C"),
            "too many other payers, or payer fields before 338-5C",
        );
    }
    check_count(
        c,
        segment.first(*b"4C"),
        payers.items.len(),
        1,
        ProblemKind::CobCount,
        "337-4C other payments",
    );
    let mut read = Vec::with_capacity(payers.items.len());
    for (index, payer) in payers.items.iter().enumerate() {
        read.push(read_payer(c, payer, index + 1));
    }
    read
}

fn read_payer(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> CobPayer {
    let at = |id: [u8; 2]| FieldAt::nth(*b"05", id, occurrence);
    let value = |id: [u8; 2]| first_in(fields, id);
    CobPayer {
        coverage_type: text(value(*b"5C").unwrap_or_default()),
        id_qualifier: decode_value(
            c,
            at(*b"6C"),
            value(*b"6C"),
            false,
            alnum(2),
            "must be at most 2 characters",
        )
        .unwrap_or_default(),
        id: decode_value(
            c,
            at(*b"7C"),
            value(*b"7C"),
            false,
            alnum(10),
            "must be at most 10 characters",
        )
        .unwrap_or_default(),
        date: decode_value(
            c,
            at(*b"E8"),
            value(*b"E8"),
            false,
            date,
            "must be a CCYYMMDD date",
        ),
        amounts_paid: payer_amounts(c, fields, ([*b"HB", *b"HC", *b"DV"], 1), occurrence, money),
        reject_codes: payer_reject_codes(c, fields, occurrence),
        patient_responsibility: payer_amounts(
            c,
            fields,
            ([*b"NR", *b"NP", *b"NQ"], 2),
            occurrence,
            |v| numbers::overpunch(v, 10),
        ),
        benefit_stages: payer_amounts(c, fields, ([*b"MU", *b"MV", *b"MW"], 1), occurrence, money),
    }
}

/// One nested count (`ids[0]`, `count_width` digits) with its qualifier/amount repetitions
/// (`ids[1]`, `ids[2]`).
fn payer_amounts(
    c: &mut Collector,
    fields: &[Field<'_>],
    (ids, count_width): ([[u8; 2]; 3], usize),
    occurrence: usize,
    decode: fn(&[u8]) -> Option<i64>,
) -> Vec<QualifiedAmount> {
    let [count_id, qualifier_id, amount_id] = ids;
    let members: Vec<Field<'_>> = fields
        .iter()
        .filter(|f| f.id == qualifier_id || f.id == amount_id)
        .copied()
        .collect();
    let items = repetitions(&members, qualifier_id, COB_PAYER_REPEATS_MAX);
    let mut amounts = Vec::with_capacity(items.items.len());
    let mut complete = !items.overflow && items.head.is_empty();
    for item in &items.items {
        match qualified_amount(
            c,
            item,
            *b"05",
            [qualifier_id, amount_id],
            occurrence,
            decode,
        ) {
            Some(amount) => amounts.push(amount),
            None => complete = false,
        }
    }
    let what = format!("payer {occurrence} {}", describe_field(*b"05", count_id));
    check_count(
        c,
        first_in(fields, count_id),
        items.items.len(),
        count_width,
        ProblemKind::CobCount,
        &what,
    );
    if !complete {
        c.add_at(
            ProblemKind::CobCount,
            Some(count_id),
            u8::try_from(occurrence).ok(),
            format!("{what}: repetitions incomplete"),
        );
    }
    amounts
}

fn payer_reject_codes(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> Vec<String> {
    let sent = fields.iter().filter(|field| &field.id == b"6E");
    let mut codes = Vec::new();
    for field in sent.clone().take(COB_PAYER_REPEATS_MAX) {
        let at = FieldAt::nth(*b"05", *b"6E", occurrence);
        codes.extend(decode_value(
            c,
            at,
            Some(field.value),
            true,
            alnum(3),
            "must be at most 3 characters",
        ));
    }
    let what = format!("payer {occurrence} 471-5E other payer reject");
    check_count(
        c,
        first_in(fields, *b"5E"),
        sent.count(),
        2,
        ProblemKind::CobCount,
        &what,
    );
    codes
}

// ---- compound -----------------------------------------------------------------------------

/// Compound ingredients: each starts at 488-RE; 447-EC counts them (P3).
fn read_compound(c: &mut Collector, segment: &Segment<'_>) -> Vec<CompoundIngredient> {
    let ingredients = repetitions(&segment.fields, *b"RE", COMPOUND_INGREDIENTS_MAX);
    let ingredient_ids: [&[u8; 2]; 6] = [b"TE", b"ED", b"EE", b"UE", b"2G", b"2H"];
    let stray = ingredients
        .head
        .iter()
        .any(|field| ingredient_ids.contains(&&field.id));
    if ingredients.overflow || stray {
        c.add(
            ProblemKind::CompoundCount,
            Some(*b"EC"),
            "too many ingredients, or ingredient fields before 488-RE",
        );
    }
    check_count(
        c,
        segment.first(*b"EC"),
        ingredients.items.len(),
        2,
        ProblemKind::CompoundCount,
        "447-EC compound ingredient component",
    );
    let mut read = Vec::with_capacity(ingredients.items.len());
    for (index, item) in ingredients.items.iter().enumerate() {
        read.push(read_ingredient(c, item, index + 1));
    }
    read
}

fn read_ingredient(
    c: &mut Collector,
    fields: &[Field<'_>],
    occurrence: usize,
) -> CompoundIngredient {
    let at = |id: [u8; 2]| FieldAt::nth(*b"10", id, occurrence);
    let value = |id: [u8; 2]| first_in(fields, id);
    let qualifier = decode_value(
        c,
        at(*b"RE"),
        value(*b"RE"),
        true,
        alnum(2),
        "must be at most 2 characters",
    )
    .unwrap_or_default();
    let ndc_required = qualifier == "03";
    let product = |v: &[u8]| {
        if ndc_required {
            Ndc::parse(v).map(|_| text(v))
        } else {
            alnum(19)(v)
        }
    };
    let product_id = decode_value(
        c,
        at(*b"TE"),
        value(*b"TE"),
        true,
        product,
        "must be an 11-digit NDC when 488-RE is 03",
    )
    .unwrap_or_default();
    let quantity_milli = decode_value(
        c,
        at(*b"ED"),
        value(*b"ED"),
        true,
        |v| quantity(v).filter(|q| *q > 0),
        "must be a quantity above zero",
    )
    .unwrap_or_default();
    let modifiers = fields.iter().filter(|field| &field.id == b"2H").count();
    check_count(
        c,
        first_in(fields, *b"2G"),
        modifiers,
        2,
        ProblemKind::CompoundCount,
        "362-2G ingredient modifier code",
    );
    CompoundIngredient {
        product_qualifier: qualifier,
        product_id,
        quantity_milli,
        cost_cents: decode_value(
            c,
            at(*b"EE"),
            value(*b"EE"),
            false,
            money,
            "must be signed overpunch s9(6)v99",
        ),
        basis_of_cost: decode_value(
            c,
            at(*b"UE"),
            value(*b"UE"),
            false,
            alnum(2),
            "must be at most 2 characters",
        ),
    }
}

/// 406-D6 = 2 ⇔ a Compound segment ⇔ 436-E1 = 00.
fn check_compound_consistency(c: &mut Collector, t: &Transaction, segment_sent: bool) {
    let compound_code = t.compound_code == 2;
    if compound_code && !segment_sent {
        return c.add(
            ProblemKind::CompoundSegmentMissing,
            None,
            "406-D6 is 2 (compound) but AM10 Compound is missing",
        );
    }
    let compound_product = t.product_qualifier == "00";
    if segment_sent != compound_code
        || (!t.product_qualifier.is_empty() && compound_product != compound_code)
    {
        c.add(
            ProblemKind::CompoundCode,
            Some(*b"D6"),
            "406-D6 compound code, 436-E1 and the AM10 Compound segment disagree",
        );
    }
}

#[cfg(test)]
mod tests;
