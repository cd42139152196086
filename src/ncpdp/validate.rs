//! Request validation: a raw [`Message`] → typed [`claim`](crate::claim) values plus every
//! problem found.
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
//! - **One mandatory matrix.** What each transaction code requires is the `REQUIREMENTS`
//!   table in this file (the Implementation Guide's matrix is not public, so the table is the
//!   gateway's payer sheet):
//!
//!   | code | AM04 Insurance | AM01 Patient | per transaction group |
//!   |---|---|---|---|
//!   | B1, B3 | required, with 302-C2 | required, with 304-C4 | AM07 with 455-EM 402-D2 436-E1 407-D7 442-E7 403-D3 405-D5; AM11 Pricing |
//!   | B2 | optional | optional | AM07 with 402-D2 407-D7 403-D3 (401-D1 is always required) |
//!   | E1 | required, with 302-C2 | required, with 304-C4 | no groups (109-A9 = 1) |
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
    /// Rx and fill number repeat an earlier transaction of the transmission.
    RepeatedClaimKey,
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
            K::RepeatedClaimKey => reject::DUPLICATE_PAID,
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

    /// A problem with a field, raised as the field's own kind ([`field_kind`]).
    fn field(&mut self, at: FieldAt, what: &dyn std::fmt::Display) {
        if !self.full() {
            let message = format!("{} {what}", describe_field(at.segment, at.field));
            self.add_at(field_kind(at.field), Some(at.field), at.occurrence, message);
        }
    }

    fn not_repeatable(&mut self, segment: [u8; 2], field: [u8; 2], occurrence: Option<u8>) {
        let message = format!("{} is not repeatable", describe_field(segment, field));
        self.add_at(
            ProblemKind::NonRepeatableField,
            Some(field),
            occurrence,
            message,
        );
    }

    /// Takes out the problems found at `place`.
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

// ---- rules: a decoder and what it expects -------------------------------------------------

/// What a rule expects, for the problem message.
#[derive(Clone, Copy)]
enum Expect {
    /// 1 to `n` characters (not blank).
    Text(usize),
    /// Plain digits, value in the range.
    Range(u64, u64),
    Date,
    Money,
    Quantity,
    Listed,
    Say(&'static str),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Text(width) => write!(f, "must be 1 to {width} characters"),
            Expect::Range(low, high) => write!(f, "must be a number from {low} to {high}"),
            Expect::Date => f.write_str("must be a CCYYMMDD date"),
            Expect::Money => f.write_str("must be signed overpunch money s9(6)v99"),
            Expect::Quantity => f.write_str("must be a quantity 9(7)v999 above zero"),
            Expect::Listed => f.write_str("is not in the external code list"),
            Expect::Say(text) => f.write_str(text),
        }
    }
}

/// A decoder as a plain function pointer.
type Decoder<T> = fn(&[u8]) -> Option<T>;

/// A decoder of one value and what it expects.
struct Rule<F> {
    decode: F,
    expect: Expect,
}

/// `x(width)`: non-blank text no wider than `width`, without trailing spaces.
fn alnum(width: usize) -> Rule<impl Fn(&[u8]) -> Option<String>> {
    let decode =
        move |v: &[u8]| (v.len() <= width && v.iter().any(|b| *b != b' ')).then(|| text(v));
    Rule {
        decode,
        expect: Expect::Text(width),
    }
}

/// `9(width)` whose value lies in `low..=high`.
fn digits_in(width: usize, low: u64, high: u64) -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = move |v: &[u8]| numbers::digits(v, width).filter(|n| (low..=high).contains(n));
    Rule {
        decode,
        expect: Expect::Range(low, high),
    }
}

fn date() -> Rule<impl Fn(&[u8]) -> Option<Date>> {
    Rule {
        decode: Date::parse_ccyymmdd,
        expect: Expect::Date,
    }
}

/// `s9(6)v99` money: cents.
fn money() -> Rule<impl Fn(&[u8]) -> Option<i64>> {
    Rule {
        decode: |v: &[u8]| numbers::overpunch(v, 8),
        expect: Expect::Money,
    }
}

/// `9(7)v999` quantity in milli-units, at least `min`.
fn quantity(min: u64) -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = move |v: &[u8]| numbers::digits(v, 10).filter(|q| *q >= min);
    Rule {
        decode,
        expect: Expect::Quantity,
    }
}

/// A 2-character code from one of the `claim::codes` lists.
fn listed(is_listed: fn(&str) -> bool) -> Rule<impl Fn(&[u8]) -> Option<Code2>> {
    let decode = move |v: &[u8]| Code2::parse(v).filter(|code| is_listed(code.as_str()));
    Rule {
        decode,
        expect: Expect::Listed,
    }
}

/// One of a few exact values.
fn one_of(
    values: &'static [&'static [u8]],
    say: &'static str,
) -> Rule<impl Fn(&[u8]) -> Option<String>> {
    let decode = move |v: &[u8]| values.contains(&v).then(|| text(v));
    Rule {
        decode,
        expect: Expect::Say(say),
    }
}

/// Alphanumeric text without its trailing spaces.
fn text(value: &[u8]) -> String {
    let end = value
        .iter()
        .rposition(|byte| *byte != b' ')
        .map_or(0, |last| last + 1);
    let kept = value.get(..end).unwrap_or_default();
    match std::str::from_utf8(kept) {
        Ok(ascii) if ascii.is_ascii() => ascii.to_owned(),
        _ => kept.iter().map(|byte| char::from(*byte)).collect(),
    }
}

// ---- reading fields -----------------------------------------------------------------------

/// Reads the fields of one segment or one repetition of it, reporting what is missing or bad.
struct Reader<'c, 'f, 'a> {
    c: &'c mut Collector,
    segment: [u8; 2],
    fields: &'f [Field<'a>],
    occurrence: Option<u8>,
    required: &'static [[u8; 2]],
}

impl<'c, 'f, 'a> Reader<'c, 'f, 'a> {
    /// A whole segment; `required` fields are reported when absent.
    fn segment(
        c: &'c mut Collector,
        segment: &'f Segment<'a>,
        required: &'static [[u8; 2]],
    ) -> Self {
        Reader {
            c,
            segment: segment.id,
            fields: &segment.fields,
            occurrence: None,
            required,
        }
    }

    /// Repetition `occurrence` (1-based) of a repeating group.
    fn repetition(
        c: &'c mut Collector,
        segment: [u8; 2],
        fields: &'f [Field<'a>],
        occurrence: usize,
    ) -> Self {
        let occurrence = u8::try_from(occurrence).ok();
        Reader {
            c,
            segment,
            fields,
            occurrence,
            required: &[],
        }
    }

    fn at(&self, field: [u8; 2]) -> FieldAt {
        FieldAt {
            segment: self.segment,
            field,
            occurrence: self.occurrence,
        }
    }

    /// The first value of `field`; empty counts as absent.
    fn value(&self, field: [u8; 2]) -> Option<&'a [u8]> {
        let value = self.fields.iter().find(|f| f.id == field).map(|f| f.value);
        value.filter(|value| !value.is_empty())
    }

    /// Decodes `field`: absent → `None` (a problem when required), bad → a problem and `None`.
    fn get<T>(&mut self, field: [u8; 2], rule: Rule<impl Fn(&[u8]) -> Option<T>>) -> Option<T> {
        let required = self.required.contains(&field);
        self.read(field, required, rule)
    }

    /// Like [`Reader::get`], but the field is always required.
    fn need<T>(&mut self, field: [u8; 2], rule: Rule<impl Fn(&[u8]) -> Option<T>>) -> Option<T> {
        self.read(field, true, rule)
    }

    fn read<T>(
        &mut self,
        field: [u8; 2],
        required: bool,
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        let Some(value) = self.value(field) else {
            if required {
                self.c.field(self.at(field), &"is missing");
            }
            return None;
        };
        let decoded = (rule.decode)(value);
        if decoded.is_none() {
            self.c.field(self.at(field), &rule.expect);
        }
        decoded
    }

    /// Decodes one given value of a repeating field (`value` is one occurrence of `field`).
    fn decode<T>(
        &mut self,
        field: &Field<'_>,
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        let decoded = (rule.decode)(field.value);
        if decoded.is_none() {
            self.c.field(self.at(field.id), &rule.expect);
        }
        decoded
    }
}

// ---- the walk -----------------------------------------------------------------------------

/// Validates a parsed request: every problem, and typed values where they could be read.
pub fn validate_request(message: &Message<'_>) -> Validated {
    let mut c = Collector::new();
    report_structure(&mut c, message);
    if message.kind != Kind::Request {
        c.add(ProblemKind::Syntax, None, "a response is not a request");
    }
    let (header, code, date_of_service) = read_header(&mut c, &message.header);
    let needs = requirements(code);
    check_all_segments(&mut c, message, needs);
    let patient = read_patient(&mut c, message, needs, date_of_service);
    check_group_count(&mut c, message, needs);
    let transactions = read_transactions(&mut c, message, needs);
    check_repeated_claim_keys(&mut c, &transactions);
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

/// The reader's structural flaws, each at its group (or the transmission).
fn report_structure(c: &mut Collector, message: &Message<'_>) {
    for problem in &message.problems {
        c.place = match problem.place {
            Place::Transaction(index) if index < message.groups.len() => problem.place,
            _ => Place::Transmission,
        };
        let kind = ProblemKind::of_structure(problem.structure);
        c.add(kind, None, problem.structure.describe());
    }
    c.place = Place::Transmission;
}

// ---- header -------------------------------------------------------------------------------

/// The typed header (when every field is usable), the transaction code and date of service.
fn read_header(
    c: &mut Collector,
    raw: &Header<'_>,
) -> (Option<RequestHeader>, Option<TransactionCode>, Option<Date>) {
    let bin_ok = raw.bin.len() == 6 && raw.bin.iter().all(u8::is_ascii_digit);
    let bin = check(c, bin_ok.then(|| text(raw.bin)), BAD_BIN);
    let version = check(
        c,
        (raw.version == b"D0").then(|| text(raw.version)),
        BAD_VERSION,
    );
    let code = read_transaction_code(c, raw.transaction_code);
    let count = numbers::digits(raw.transaction_count, 1).filter(|n| (1..=4).contains(n));
    let count = check(c, count, BAD_COUNT);
    let provider_given = raw.provider_id.iter().any(|byte| *byte != b' ');
    let provider = check(
        c,
        provider_given.then(|| text(raw.provider_id)),
        BAD_PROVIDER,
    );
    let date_of_service = check(c, Date::parse_ccyymmdd(raw.date_of_service), BAD_DATE);
    let parts = HeaderParts {
        bin,
        version,
        code,
        count,
        provider,
        date_of_service,
    };
    (assemble_header(raw, parts), code, date_of_service)
}

/// The checked header fields (`None` where a field was unusable).
struct HeaderParts {
    bin: Option<String>,
    version: Option<String>,
    code: Option<TransactionCode>,
    count: Option<u64>,
    provider: Option<String>,
    date_of_service: Option<Date>,
}

fn assemble_header(raw: &Header<'_>, parts: HeaderParts) -> Option<RequestHeader> {
    Some(RequestHeader {
        bin: parts.bin?,
        version: parts.version?,
        transaction_code: parts.code?,
        pcn: text(raw.pcn),
        transaction_count: u8::try_from(parts.count?).ok()?,
        provider_id_qualifier: text(raw.provider_id_qualifier),
        provider_id: parts.provider?,
        date_of_service: parts.date_of_service?,
        software_vendor: text(raw.software_vendor),
    })
}

/// The header checks: what each unusable header field raises.
const BAD_BIN: (ProblemKind, &str) = (ProblemKind::Bin, "101-A1 BIN must be 6 digits");
const BAD_VERSION: (ProblemKind, &str) = (ProblemKind::Version, "102-A2 version must be D0");
const BAD_COUNT: (ProblemKind, &str) = (ProblemKind::TransactionCount, "109-A9 must be 1 to 4");
const BAD_PROVIDER: (ProblemKind, &str) = (ProblemKind::ServiceProviderId, "201-B1 is blank");
const BAD_DATE: (ProblemKind, &str) =
    (ProblemKind::DateOfService, "401-D1 must be a CCYYMMDD date");

/// Reports `problem` when `value` is `None`.
fn check<T>(
    c: &mut Collector,
    value: Option<T>,
    (kind, message): (ProblemKind, &str),
) -> Option<T> {
    if value.is_none() {
        c.add(kind, None, message);
    }
    value
}

fn read_transaction_code(c: &mut Collector, value: &[u8]) -> Option<TransactionCode> {
    let code = TransactionCode::parse(value);
    if code.is_some() {
        return code;
    }
    if UNSERVED_CODES.iter().any(|unserved| &unserved[..] == value) {
        let message = "103-A3 transaction code is not served (B1, B2, B3 and E1 are)";
        c.add(ProblemKind::TransactionCodeNotSupported, None, message);
    } else {
        c.add(
            ProblemKind::TransactionCode,
            None,
            "103-A3 is not a transaction code",
        );
    }
    None
}

// ---- structure of segments ----------------------------------------------------------------

/// Placement, repetition and byte checks over every segment.
fn check_all_segments(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let transmission_allowed = match needs.code {
        Some(TransactionCode::E1) => E1_TRANSMISSION_SEGMENTS,
        _ => TRANSMISSION_SEGMENTS,
    };
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
            let message = format!("{} sent twice", describe_segment(segment.id));
            c.add(ProblemKind::RepeatedSegment, None, message);
        }
        check_fields(c, segment);
    }
}

fn check_placement(c: &mut Collector, segment: &Segment<'_>, allowed: &[[u8; 2]]) {
    if !segment.has_id() || allowed.contains(&segment.id) {
        return;
    }
    let id = segment.id;
    let name = describe_segment(id);
    if TRANSACTION_SEGMENTS.contains(&id) || TRANSMISSION_SEGMENTS.contains(&id) {
        c.add(
            ProblemKind::SegmentNotAllowedHere,
            None,
            format!("{name} is not allowed here"),
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
            let name = describe_field(segment.id, field.id);
            let message = format!("{name} holds a control or non-ASCII byte");
            c.add(ProblemKind::Syntax, Some(field.id), message);
        }
        // The field table is only consulted for a repeat (most fields are not repeated).
        if !seen.insert(field.id) && !repeatable(segment.id, field.id) {
            c.not_repeatable(segment.id, field.id, None);
        }
    }
}

/// Whether the spec lets `field` repeat in `segment` (fields it does not list: yes, they
/// are not judged).
fn repeatable(segment: [u8; 2], field: [u8; 2]) -> bool {
    fields::field(segment, field).is_none_or(|info| info.rep.repeatable())
}

/// A set of 2-character field ids of digits and upper-case letters (other ids are never
/// reported as repeats: unknown fields are not judged).
#[derive(Default)]
struct SeenFields {
    bits: [u64; 21],
}

impl SeenFields {
    /// Inserts `id`; `false` when it was already there.
    fn insert(&mut self, id: [u8; 2]) -> bool {
        let (Some(high), Some(low)) = (id_slot(id[0]), id_slot(id[1])) else {
            return true;
        };
        let index = high * 36 + low;
        let bit = 1u64 << (index % 64);
        let Some(word) = self.bits.get_mut(index / 64) else {
            return true;
        };
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

/// 0..=35 for `0-9A-Z`.
fn id_slot(byte: u8) -> Option<usize> {
    match byte {
        b'0'..=b'9' => Some(usize::from(byte - b'0')),
        b'A'..=b'Z' => Some(usize::from(byte - b'A') + 10),
        _ => None,
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
    require(
        c,
        insurance.is_some(),
        needs.insurance,
        ProblemKind::InsuranceSegmentMissing,
        *b"04",
    );
    require(
        c,
        patient_segment.is_some(),
        needs.patient,
        ProblemKind::PatientSegmentMissing,
        *b"01",
    );
    if insurance.is_none() && patient_segment.is_none() {
        return None;
    }
    let mut patient = Patient::default();
    if let Some(segment) = insurance {
        read_insurance(
            &mut Reader::segment(c, segment, needs.insurance_fields),
            &mut patient,
        );
    }
    if let Some(segment) = patient_segment {
        let mut reader = Reader::segment(c, segment, needs.patient_fields);
        read_patient_segment(&mut reader, date_of_service, &mut patient);
    }
    Some(patient)
}

/// Reports segment `id` as missing when it is required and absent.
fn require(c: &mut Collector, present: bool, need: Need, kind: ProblemKind, id: [u8; 2]) {
    if !present && need == Need::Required {
        c.add(kind, None, format!("{} is required", describe_segment(id)));
    }
}

fn read_insurance(r: &mut Reader<'_, '_, '_>, patient: &mut Patient) {
    patient.cardholder_id = r.get(*b"C2", alnum(20)).unwrap_or_default();
    patient.person_code = r.get(*b"C3", alnum(3)).unwrap_or_default();
    patient.group_id = r.get(*b"C1", alnum(15)).unwrap_or_default();
}

fn read_patient_segment(
    r: &mut Reader<'_, '_, '_>,
    date_of_service: Option<Date>,
    patient: &mut Patient,
) {
    let not_after_service = |dob: &Date| date_of_service.is_none_or(|dos| *dob <= dos);
    let birth = |v: &[u8]| Date::parse_ccyymmdd(v).filter(not_after_service);
    let rule = Rule {
        decode: birth,
        expect: Expect::Say("must be a date not after 401-D1"),
    };
    patient.date_of_birth = r.get(*b"C4", rule);
    patient.gender = r.get(*b"C5", digits_in(1, 0, 2)).map(|gender| gender as u8);
    patient.first_name = r.get(*b"CA", alnum(12)).unwrap_or_default();
    patient.last_name = r.get(*b"CB", alnum(15)).unwrap_or_default();
}

// ---- transaction count --------------------------------------------------------------------

/// 109-A9 against the groups sent (skipped when A9 itself is unusable, and when the reader
/// already dropped groups beyond the limit: that is reported as 1U by the structure).
fn check_group_count(c: &mut Collector, message: &Message<'_>, needs: &Requirements) {
    let Some(count) = numbers::digits(message.header.transaction_count, 1) else {
        return;
    };
    let sent = message.groups.len();
    if !needs.groups {
        if count != 1 {
            c.add(
                ProblemKind::CountInvalidForCode,
                None,
                "109-A9 must be 1 for E1",
            );
        }
        if sent > 0 {
            c.add(
                ProblemKind::TransactionCountMismatch,
                None,
                "E1 carries no transaction group",
            );
        }
        return;
    }
    let overflowed = message
        .problems
        .iter()
        .any(|p| p.structure == Structure::TooManyGroups);
    let count_ok = (1..=TRANSACTIONS_MAX as u64).contains(&count);
    if count_ok && !overflowed && sent as u64 != count {
        let message = format!("109-A9 says {count} transactions, {sent} sent");
        c.add(ProblemKind::TransactionCountMismatch, None, message);
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

/// A transaction whose Rx number and fill number repeat an earlier one's (one pharmacy per
/// transmission) is rejected 83 and never adjudicated; the earlier one is processed normally.
/// Transactions whose Rx number was unreadable (0) are left to their own problems.
fn check_repeated_claim_keys(c: &mut Collector, transactions: &[Transaction]) {
    for (index, transaction) in transactions.iter().enumerate() {
        let key = (transaction.rx_number, transaction.fill_number);
        let earlier = transactions.get(..index).unwrap_or_default();
        let Some(first) = earlier
            .iter()
            .position(|other| key.0 != 0 && (other.rx_number, other.fill_number) == key)
        else {
            continue;
        };
        c.place = Place::Transaction(index);
        let message = format!(
            "Rx number and fill number repeat transaction {} of this transmission",
            first + 1
        );
        c.add(ProblemKind::RepeatedClaimKey, Some(*b"D2"), message);
    }
    c.place = Place::Transmission;
}

fn find<'s, 'a>(group: &'s [Segment<'a>], id: &[u8; 2]) -> Option<&'s Segment<'a>> {
    group.iter().find(|segment| &segment.id == id)
}

fn read_transaction(c: &mut Collector, group: &[Segment<'_>], needs: &Requirements) -> Transaction {
    let mut t = Transaction::default();
    let claim = find(group, b"07");
    require(
        c,
        claim.is_some(),
        Need::Required,
        ProblemKind::ClaimSegmentMissing,
        *b"07",
    );
    if let Some(claim) = claim {
        read_claim(
            &mut Reader::segment(c, claim, needs.claim_fields),
            needs,
            &mut t,
        );
    }
    if let Some(prescriber) = find(group, b"03") {
        read_prescriber(&mut Reader::segment(c, prescriber, &[]), &mut t);
    }
    if let Some(dur) = find(group, b"08") {
        t.dur_pps = read_dur_pps(c, dur);
    }
    let pricing = find(group, b"11");
    require(
        c,
        pricing.is_some(),
        needs.pricing,
        ProblemKind::PricingSegmentMissing,
        *b"11",
    );
    if let Some(pricing) = pricing {
        t.pricing = read_pricing(c, pricing);
    }
    if let Some(cob) = find(group, b"05") {
        t.cob = read_cob(c, cob);
    }
    let compound = find(group, b"10");
    if let Some(segment) = compound {
        t.compound = read_compound(c, segment);
    }
    check_compound_consistency(c, &t, compound.is_some());
    t
}

/// Largest 402-D2 (9(12)).
const RX_NUMBER_MAX: u64 = 999_999_999_999;

fn read_claim(r: &mut Reader<'_, '_, '_>, needs: &Requirements, t: &mut Transaction) {
    r.get(*b"EM", one_of(&[b"1"], "must be 1 (Rx billing)"));
    t.rx_number = r
        .get(*b"D2", digits_in(12, 1, RX_NUMBER_MAX))
        .unwrap_or_default();
    t.fill_number = r.get(*b"D3", digits_in(2, 0, 99)).unwrap_or_default() as u8;
    read_product(r, t);
    let billing = u64::from(needs.positive_quantities);
    t.quantity_milli = r.get(*b"E7", quantity(billing)).unwrap_or_default();
    t.days_supply = r
        .get(*b"D5", digits_in(3, billing, 999))
        .unwrap_or_default() as u16;
    t.compound_code = r.get(*b"D6", digits_in(1, 0, 2)).unwrap_or_default() as u8;
    t.daw_code = r.get(*b"D8", digits_in(1, 0, 9)).map(|daw| daw as u8);
    t.date_written = r.get(*b"DE", date());
    t.refills_authorized = r
        .get(*b"DF", digits_in(2, 0, 99))
        .map(|refills| refills as u8);
    t.clarification_codes = read_clarification(r);
}

/// 436-E1 and 407-D7: the qualifier decides what the product id must look like.
fn read_product(r: &mut Reader<'_, '_, '_>, t: &mut Transaction) {
    let qualifier = r.get(
        *b"E1",
        one_of(&[b"03", b"00"], "must be 03 (NDC) or 00 (compound)"),
    );
    let product_id = r.get(*b"D7", alnum(19));
    let at = r.at(*b"D7");
    match (qualifier.as_deref(), product_id.as_deref()) {
        (Some("03"), Some(id)) => {
            t.ndc = Ndc::parse(id.as_bytes());
            if t.ndc.is_none() {
                r.c.field(at, &"must be an 11-digit NDC when 436-E1 is 03");
            }
        }
        (Some("00"), Some(id)) if id != "0" => {
            r.c.field(at, &"must be 0 for a multi-ingredient compound (436-E1 00)");
        }
        _ => {}
    }
    t.product_qualifier = qualifier.unwrap_or_default();
    t.product_id = product_id.unwrap_or_default();
}

/// 354-NX count and its 420-DK repetitions.
fn read_clarification(r: &mut Reader<'_, '_, '_>) -> Vec<u8> {
    let sent: Vec<&Field<'_>> = r.fields.iter().filter(|field| &field.id == b"DK").collect();
    if sent.len() > CLARIFICATION_CODES_MAX {
        let message = "more than 3 420-DK submission clarification codes";
        r.c.add(ProblemKind::ClarificationCount, Some(*b"DK"), message);
    }
    let mut codes = Vec::with_capacity(sent.len().min(CLARIFICATION_CODES_MAX));
    for (index, field) in sent.iter().enumerate().take(CLARIFICATION_CODES_MAX) {
        r.occurrence = u8::try_from(index + 1).ok();
        codes.extend(r.decode(field, digits_in(2, 1, 99)).map(|code| code as u8));
    }
    r.occurrence = None;
    let what = "354-NX submission clarification code count";
    check_count(
        r.c,
        r.value(*b"NX"),
        sent.len(),
        1,
        (ProblemKind::ClarificationCount, what),
    );
    codes
}

fn read_prescriber(r: &mut Reader<'_, '_, '_>, t: &mut Transaction) {
    r.get(*b"EZ", alnum(2));
    t.prescriber_id = r.get(*b"DB", alnum(15)).unwrap_or_default();
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
    /// After an unusable counter or the occurrence limit: fields are skipped until the next
    /// usable counter.
    skipping: bool,
    /// 9W and 488 are reported once per segment.
    reported_exceeds: bool,
    reported_not_first: bool,
}

impl DurReader {
    fn field(&mut self, c: &mut Collector, field: &Field<'_>) {
        if &field.id == b"7E" {
            return self.counter(c, field);
        }
        if self.skipping || !is_dur_field(field.id) {
            return;
        }
        let occurrence = self.occurrences.len();
        let Some(current) = self.occurrences.last_mut() else {
            return self.not_first(c, field.id);
        };
        if !self.seen.insert(field.id) {
            return c.not_repeatable(*b"08", field.id, u8::try_from(occurrence).ok());
        }
        let mut reader = Reader::repetition(c, *b"08", &[], occurrence);
        set_dur_field(&mut reader, field, current);
    }

    fn counter(&mut self, c: &mut Collector, field: &Field<'_>) {
        let next = self.occurrences.len() + 1;
        let mut reader = Reader::repetition(c, *b"08", &[], next);
        let Some(counter) = reader.decode(field, digits_in(2, 1, 99)) else {
            self.skipping = true;
            return;
        };
        if counter > DUR_PPS_OCCURRENCES_MAX as u64 || next > DUR_PPS_OCCURRENCES_MAX {
            return self.exceeds(c, next);
        }
        if counter != next as u64 {
            let message = format!("473-7E counter {counter} where {next} was due");
            c.add_at(
                ProblemKind::DurCounterSequence,
                Some(*b"7E"),
                reader_occurrence(next),
                message,
            );
        }
        self.skipping = false;
        self.seen = SeenFields::default();
        self.occurrences.push(DurPps {
            counter: counter as u8,
            ..DurPps::default()
        });
    }

    fn exceeds(&mut self, c: &mut Collector, next: usize) {
        self.skipping = true;
        if !std::mem::replace(&mut self.reported_exceeds, true) {
            let message = "more than 9 DUR/PPS occurrences";
            c.add_at(
                ProblemKind::DurCounterExceeds,
                Some(*b"7E"),
                reader_occurrence(next),
                message,
            );
        }
    }

    fn not_first(&mut self, c: &mut Collector, field: [u8; 2]) {
        if !std::mem::replace(&mut self.reported_not_first, true) {
            let name = describe_field(*b"08", field);
            let message = format!("{name} comes before any 473-7E counter");
            c.add(ProblemKind::DurCounterNotFirst, Some(field), message);
        }
    }
}

fn reader_occurrence(occurrence: usize) -> Option<u8> {
    u8::try_from(occurrence).ok()
}

fn is_dur_field(id: [u8; 2]) -> bool {
    matches!(&id, b"E4" | b"E5" | b"E6" | b"8E" | b"J9" | b"H6")
}

fn set_dur_field(r: &mut Reader<'_, '_, '_>, field: &Field<'_>, dur: &mut DurPps) {
    if field.value.is_empty() {
        return;
    }
    match &field.id {
        b"E4" => dur.reason = r.decode(field, listed(codes::is_reason_for_service)),
        b"E5" => dur.professional = r.decode(field, listed(codes::is_professional_service)),
        b"E6" => dur.result = r.decode(field, listed(codes::is_result_of_service)),
        b"8E" => dur.level_of_effort = r.decode(field, level_of_effort()).map(|e| e as u8),
        b"J9" => dur.co_agent_qualifier = r.decode(field, alnum(2)),
        _ => set_co_agent_id(r, field, dur),
    }
}

/// 474-8E: `0` not specified, `11`..`15` levels 1 to 5.
fn level_of_effort() -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = |v: &[u8]| numbers::digits(v, 2).filter(|e| *e == 0 || (11..=15).contains(e));
    Rule {
        decode,
        expect: Expect::Say("must be 0 or 11 to 15"),
    }
}

/// 476-H6, which must follow its 475-J9 qualifier.
fn set_co_agent_id(r: &mut Reader<'_, '_, '_>, field: &Field<'_>, dur: &mut DurPps) {
    dur.co_agent_id = r.decode(field, alnum(19));
    if dur.co_agent_id.is_some() && dur.co_agent_qualifier.is_none() {
        let message = "475-J9 co-agent id qualifier must precede 476-H6";
        r.c.add_at(
            ProblemKind::CoAgentQualifierOrder,
            Some(*b"H6"),
            r.occurrence,
            message,
        );
    }
}

// ---- counted repetitions ------------------------------------------------------------------

/// `fields` split into repetitions that each start at a trigger field, the fields before the
/// first trigger apart, at most `max` repetitions (`overflow` when more were sent).
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

/// Reports `problem` (a kind and what is counted) unless the count field (`width` digits,
/// absent when nothing repeats) equals the repetitions sent.
fn check_count(
    c: &mut Collector,
    count: Option<&[u8]>,
    sent: usize,
    width: usize,
    problem: (ProblemKind, &str),
) {
    let matches = match count {
        None => sent == 0,
        Some(value) => sent > 0 && numbers::digits(value, width) == Some(sent as u64),
    };
    if !matches {
        let (kind, what) = problem;
        c.add(
            kind,
            None,
            format!("{what} does not match the repetitions sent ({sent})"),
        );
    }
}

// ---- pricing ------------------------------------------------------------------------------

fn read_pricing(c: &mut Collector, segment: &Segment<'_>) -> Pricing {
    let mut r = Reader::segment(c, segment, &[]);
    let mut pricing = Pricing {
        ingredient_cost_cents: r.get(*b"D9", money()),
        dispensing_fee_cents: r.get(*b"DC", money()),
        patient_paid_cents: r.get(*b"DX", money()),
        incentive_cents: r.get(*b"E3", money()),
        usual_and_customary_cents: r.get(*b"DQ", money()),
        gross_amount_due_cents: r.get(*b"DU", money()),
        basis_of_cost: r.get(*b"DN", alnum(2)),
        other_amounts: Vec::new(),
    };
    let count = r.value(*b"H7");
    let other = repetitions(&segment.fields, *b"H8", PRICING_OTHER_AMOUNTS_MAX);
    let complete = !other.overflow && !other.head.iter().any(|field| &field.id == b"H9");
    let what = "478-H7 other amount claimed count";
    let amounts = qualified_amounts(c, &other.items, (*b"11", [*b"H8", *b"H9"]), money_rule);
    pricing.other_amounts =
        amounts_or_report(c, amounts, complete, (ProblemKind::OtherAmountCount, what));
    check_count(
        c,
        count,
        other.items.len(),
        1,
        (ProblemKind::OtherAmountCount, what),
    );
    pricing
}

/// Qualifier/amount repetitions (each starts at `ids[0]`). `None` in the list marks a
/// repetition without its amount.
fn qualified_amounts(
    c: &mut Collector,
    items: &[&[Field<'_>]],
    (segment, ids): ([u8; 2], [[u8; 2]; 2]),
    amount: fn() -> Rule<Decoder<i64>>,
) -> Vec<Option<QualifiedAmount>> {
    let mut read = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let mut r = Reader::repetition(c, segment, item, index + 1);
        let qualifier = r.get(ids[0], alnum(2)).unwrap_or_default();
        let present = r.value(ids[1]).is_some();
        let cents = r.get(ids[1], amount()).unwrap_or_default();
        read.push(present.then_some(QualifiedAmount { qualifier, cents }));
    }
    read
}

/// The amounts, reporting `problem` when a repetition lacks its amount or `complete` is
/// false (stray or too many repetitions).
fn amounts_or_report(
    c: &mut Collector,
    amounts: Vec<Option<QualifiedAmount>>,
    complete: bool,
    (kind, what): (ProblemKind, &str),
) -> Vec<QualifiedAmount> {
    let whole = complete && amounts.iter().all(Option::is_some);
    if !whole {
        c.add(
            kind,
            None,
            format!("{what}: repetitions incomplete, stray or too many"),
        );
    }
    amounts.into_iter().flatten().collect()
}

/// `s9(6)v99` money as a plain function (for [`qualified_amounts`]).
fn money_rule() -> Rule<Decoder<i64>> {
    Rule {
        decode: |v| numbers::overpunch(v, 8),
        expect: Expect::Money,
    }
}

/// `s9(8)v99` money (352-NQ).
fn wide_money_rule() -> Rule<Decoder<i64>> {
    Rule {
        decode: |v| numbers::overpunch(v, 10),
        expect: Expect::Say("must be signed overpunch money s9(8)v99"),
    }
}

// ---- COB ----------------------------------------------------------------------------------

/// COB other payers: each starts at 338-5C; inside a payer, amounts paid (HC/DV), reject
/// codes (6E), patient responsibility (NP/NQ) and benefit stages (MV/MW) each repeat under
/// their own count. Every count mismatch is P4.
fn read_cob(c: &mut Collector, segment: &Segment<'_>) -> Vec<CobPayer> {
    let payers = repetitions(&segment.fields, *b"5C", COB_PAYERS_MAX);
    if payers.overflow || payers.head.iter().any(|field| &field.id != b"4C") {
        let message = "too many other payers, or payer fields before 338-5C";
        c.add(ProblemKind::CobCount, Some(*b"4C"), message);
    }
    let what = "337-4C other payments count";
    check_count(
        c,
        segment.first(*b"4C"),
        payers.items.len(),
        1,
        (ProblemKind::CobCount, what),
    );
    let mut read = Vec::with_capacity(payers.items.len());
    for (index, payer) in payers.items.iter().enumerate() {
        read.push(read_payer(c, payer, index + 1));
    }
    read
}

fn read_payer(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> CobPayer {
    let mut r = Reader::repetition(c, *b"05", fields, occurrence);
    let mut payer = CobPayer {
        coverage_type: r.get(*b"5C", alnum(2)).unwrap_or_default(),
        id_qualifier: r.get(*b"6C", alnum(2)).unwrap_or_default(),
        id: r.get(*b"7C", alnum(10)).unwrap_or_default(),
        date: r.get(*b"E8", date()),
        ..CobPayer::default()
    };
    payer.amounts_paid = payer_amounts(c, fields, occurrence, ([*b"HB", *b"HC", *b"DV"], 1));
    payer.reject_codes = payer_reject_codes(c, fields, occurrence);
    let responsibility = ([*b"NR", *b"NP", *b"NQ"], 2);
    payer.patient_responsibility = payer_amounts(c, fields, occurrence, responsibility);
    payer.benefit_stages = payer_amounts(c, fields, occurrence, ([*b"MU", *b"MV", *b"MW"], 1));
    payer
}

/// One nested count (`ids[0]`, `count_width` digits) with its qualifier/amount repetitions
/// (`ids[1]`, `ids[2]`) inside one payer.
fn payer_amounts(
    c: &mut Collector,
    fields: &[Field<'_>],
    occurrence: usize,
    (ids, count_width): ([[u8; 2]; 3], usize),
) -> Vec<QualifiedAmount> {
    let [count_id, qualifier_id, amount_id] = ids;
    let members: Vec<Field<'_>> = fields
        .iter()
        .filter(|f| f.id == qualifier_id || f.id == amount_id)
        .copied()
        .collect();
    let items = repetitions(&members, qualifier_id, COB_PAYER_REPEATS_MAX);
    let rule = if amount_id == *b"NQ" {
        wide_money_rule
    } else {
        money_rule
    };
    let amounts = qualified_amounts(c, &items.items, (*b"05", [qualifier_id, amount_id]), rule);
    let what = format!("payer {occurrence} {}", describe_field(*b"05", count_id));
    let complete = !items.overflow && items.head.is_empty();
    let amounts = amounts_or_report(c, amounts, complete, (ProblemKind::CobCount, &what));
    let count = first_value(fields, count_id);
    check_count(
        c,
        count,
        items.items.len(),
        count_width,
        (ProblemKind::CobCount, &what),
    );
    amounts
}

fn payer_reject_codes(c: &mut Collector, fields: &[Field<'_>], occurrence: usize) -> Vec<String> {
    let sent: Vec<&Field<'_>> = fields.iter().filter(|field| &field.id == b"6E").collect();
    let mut r = Reader::repetition(c, *b"05", fields, occurrence);
    let kept = sent.iter().take(COB_PAYER_REPEATS_MAX);
    let codes: Vec<String> = kept.filter_map(|field| r.decode(field, alnum(3))).collect();
    let what = format!("payer {occurrence} 471-5E other payer reject count");
    let count = first_value(fields, *b"5E");
    check_count(c, count, sent.len(), 2, (ProblemKind::CobCount, &what));
    codes
}

/// The first value of `id` among `fields`.
fn first_value<'a>(fields: &[Field<'a>], id: [u8; 2]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|field| field.id == id)
        .map(|field| field.value)
}

// ---- compound -----------------------------------------------------------------------------

/// Fields of one compound ingredient (they follow its 488-RE).
const INGREDIENT_FIELDS: [[u8; 2]; 6] = [*b"TE", *b"ED", *b"EE", *b"UE", *b"2G", *b"2H"];

/// Compound ingredients: each starts at 488-RE; 447-EC counts them (P3).
fn read_compound(c: &mut Collector, segment: &Segment<'_>) -> Vec<CompoundIngredient> {
    let ingredients = repetitions(&segment.fields, *b"RE", COMPOUND_INGREDIENTS_MAX);
    let stray = ingredients
        .head
        .iter()
        .any(|field| INGREDIENT_FIELDS.contains(&field.id));
    if ingredients.overflow || stray {
        let message = "too many ingredients, or ingredient fields before 488-RE";
        c.add(ProblemKind::CompoundCount, Some(*b"EC"), message);
    }
    let what = (
        ProblemKind::CompoundCount,
        "447-EC compound ingredient component count",
    );
    check_count(c, segment.first(*b"EC"), ingredients.items.len(), 2, what);
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
    let mut r = Reader::repetition(c, *b"10", fields, occurrence);
    let product_qualifier = r.need(*b"RE", alnum(2)).unwrap_or_default();
    let product = if product_qualifier == "03" {
        let decode = |v: &[u8]| Ndc::parse(v).map(|_| text(v));
        r.need(
            *b"TE",
            Rule {
                decode,
                expect: Expect::Say("must be an 11-digit NDC when 488-RE is 03"),
            },
        )
    } else {
        r.need(*b"TE", alnum(19))
    };
    let ingredient = CompoundIngredient {
        product_qualifier,
        product_id: product.unwrap_or_default(),
        quantity_milli: r.need(*b"ED", quantity(1)).unwrap_or_default(),
        cost_cents: r.get(*b"EE", money()),
        basis_of_cost: r.get(*b"UE", alnum(2)),
    };
    let modifiers = fields.iter().filter(|field| &field.id == b"2H").count();
    let what = (
        ProblemKind::CompoundCount,
        "362-2G ingredient modifier code count",
    );
    check_count(c, first_value(fields, *b"2G"), modifiers, 2, what);
    ingredient
}

/// 406-D6 = 2 ⇔ a Compound segment ⇔ 436-E1 = 00.
fn check_compound_consistency(c: &mut Collector, t: &Transaction, segment_sent: bool) {
    let compound_code = t.compound_code == 2;
    if compound_code && !segment_sent {
        let message = "406-D6 is 2 (compound) but AM10 Compound is missing";
        return c.add(ProblemKind::CompoundSegmentMissing, None, message);
    }
    let compound_product = t.product_qualifier == "00";
    let qualifier_disagrees = !t.product_qualifier.is_empty() && compound_product != compound_code;
    if segment_sent != compound_code || qualifier_disagrees {
        let message = "406-D6 compound code, 436-E1 and the AM10 Compound segment disagree";
        c.add(ProblemKind::CompoundCode, Some(*b"D6"), message);
    }
}

#[cfg(test)]
mod tests;
