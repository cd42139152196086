//! The results of validation, the module's public vocabulary: [`ProblemKind`] with its one
//! reject-code `match`, the [`field_kind`] table, [`Problem`], and [`Validated`] with its views.
//!
//! Place in the flow: built by the walk in `validate/mod.rs`; read by the server (reject codes,
//! 511-FB and 546-4F), `dump` and `response`. Must never map a kind to a reject code anywhere
//! but [`ProblemKind::reject_code`], or carry patient data in a message.

use crate::claim::{reject, Patient, RejectCode, RequestHeader, Transaction, Transmission};
use crate::limits::REJECT_CODES_MAX;
use crate::ncpdp::parse::{Place, Structure};

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
