//! The domain vocabulary: dates, ids, the typed claim and the decision about it.
//!
//! Tier 1. `ncpdp` produces these types from bytes, `rules` turns a [`Transaction`] and the
//! patient's [`Fill`]s into a [`Decision`], `store` records both, `server` sequences them.
//! Everything here is plain data with small pure helpers.
//!
//! Must never: see bytes on a socket, do I/O, read the clock, or print a patient identifier:
//! the `Debug` impls of [`Patient`] and [`PatientKey`] redact on purpose.

use std::fmt;
use std::sync::Arc;

// ---- dates ---------------------------------------------------------------------------------

/// A civil date (proleptic Gregorian), stored as days since 1970-01-01.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date(i32);

impl Date {
    /// The date `days` after 1970-01-01.
    pub const fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// A valid calendar date, or `None` (month 13, February 30, year 0...).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then(|| Date(days_from_civil(year, month, day)))
    }

    /// Parses `CCYYMMDD`; anything else (width, non-digits, impossible date) is `None`.
    pub fn parse_ccyymmdd(text: &[u8]) -> Option<Date> {
        if text.len() != 8 || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| {
            text[range]
                .iter()
                .fold(0u32, |acc, digit| acc * 10 + u32::from(digit - b'0'))
        };
        Date::from_ymd(number(0..4) as i32, number(4..6), number(6..8))
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// `CCYYMMDD`, as on the wire.
    pub fn to_ccyymmdd(self) -> String {
        let (year, month, day) = self.ymd();
        format!("{year:04}{month:02}{day:02}")
    }

    /// The date `days` later (earlier when negative).
    pub fn add_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// Whole days from `earlier` to `self` (negative when `earlier` is later).
    pub fn days_since(self, earlier: Date) -> i32 {
        self.0 - earlier.0
    }

    /// Age in whole years on `on` of someone born on `self` (a birthday counts on the day).
    pub fn age_years_on(self, on: Date) -> i32 {
        let (birth_year, birth_month, birth_day) = self.ymd();
        let (year, month, day) = on.ymd();
        let before_birthday = (month, day) < (birth_month, birth_day);
        year - birth_year - i32::from(before_birthday)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era =
        year_of_era as u32 * 365 + year_of_era as u32 / 4 - year_of_era as u32 / 100 + day_of_year;
    era * 146_097 + day_of_era as i32 - 719_468
}

/// Civil date of a day count (inverse of [`days_from_civil`]).
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = (shifted - era * 146_097) as u32;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era as i32 + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

// ---- ids and codes -------------------------------------------------------------------------

/// An 11-digit National Drug Code, kept as its number (leading zeros are implied).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ndc(u64);

impl Ndc {
    /// Exactly 11 ASCII digits, no dashes.
    pub fn parse(text: &[u8]) -> Option<Ndc> {
        if text.len() != 11 || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(Ndc(text
            .iter()
            .fold(0u64, |acc, digit| acc * 10 + u64::from(digit - b'0'))))
    }

    /// The numeric value.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// From the numeric value; `None` above 11 digits.
    pub fn from_value(value: u64) -> Option<Ndc> {
        (value <= 99_999_999_999).then_some(Ndc(value))
    }
}

impl fmt::Display for Ndc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:011}", self.0)
    }
}

impl fmt::Debug for Ndc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ndc({self})")
    }
}

/// A two-character NCPDP code value: 439-E4 reason, 440-E5 professional service,
/// 441-E6 result of service, 2-character reject codes and the like.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code2([u8; 2]);

impl Code2 {
    /// Exactly two printable ASCII bytes.
    pub fn parse(text: &[u8]) -> Option<Code2> {
        match text {
            [a, b] if a.is_ascii_graphic() && b.is_ascii_graphic() => Some(Code2([*a, *b])),
            _ => None,
        }
    }

    /// From a `&'static str` literal known to be valid (panics otherwise: constants only).
    pub const fn new(text: &str) -> Code2 {
        let bytes = text.as_bytes();
        assert!(bytes.len() == 2);
        Code2([bytes[0], bytes[1]])
    }

    pub fn as_str(&self) -> &str {
        // Only printable ASCII is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Code2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Code2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// An NCPDP 511-FB reject code: two or three characters (`07`, `88`, `E7`, `208`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RejectCode {
    bytes: [u8; 3],
    len: u8,
}

impl RejectCode {
    /// From a constant (panics unless 2 or 3 bytes: constants only).
    pub const fn new(text: &str) -> RejectCode {
        let bytes = text.as_bytes();
        assert!(bytes.len() == 2 || bytes.len() == 3);
        let third = if bytes.len() == 3 { bytes[2] } else { b' ' };
        RejectCode {
            bytes: [bytes[0], bytes[1], third],
            len: bytes.len() as u8,
        }
    }

    /// Two or three printable ASCII bytes, as read from a reply.
    pub fn parse(text: &[u8]) -> Option<RejectCode> {
        let printable = text.iter().all(u8::is_ascii_graphic);
        match text {
            [a, b] if printable => Some(RejectCode {
                bytes: [*a, *b, b' '],
                len: 2,
            }),
            [a, b, c] if printable => Some(RejectCode {
                bytes: [*a, *b, *c],
                len: 3,
            }),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("??")
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The reject codes the gateway itself emits (ECL10 Appendix A).
pub mod reject {
    use super::RejectCode;
    pub const BIN: RejectCode = RejectCode::new("01");
    pub const VERSION: RejectCode = RejectCode::new("02");
    pub const TRANSACTION_CODE: RejectCode = RejectCode::new("03");
    pub const SERVICE_PROVIDER_ID: RejectCode = RejectCode::new("05");
    pub const CARDHOLDER_ID: RejectCode = RejectCode::new("07");
    pub const PERSON_CODE: RejectCode = RejectCode::new("08");
    pub const DATE_OF_BIRTH: RejectCode = RejectCode::new("09");
    pub const GENDER: RejectCode = RejectCode::new("10");
    pub const DATE_OF_SERVICE: RejectCode = RejectCode::new("15");
    pub const RX_NUMBER: RejectCode = RejectCode::new("16");
    pub const FILL_NUMBER: RejectCode = RejectCode::new("17");
    pub const DAYS_SUPPLY: RejectCode = RejectCode::new("19");
    pub const COMPOUND_CODE: RejectCode = RejectCode::new("20");
    pub const PRODUCT_ID: RejectCode = RejectCode::new("21");
    pub const PRESCRIBER_ID: RejectCode = RejectCode::new("25");
    pub const DATE_WRITTEN: RejectCode = RejectCode::new("28");
    pub const CLARIFICATION_CODE: RejectCode = RejectCode::new("34");
    pub const NON_MATCHED_PHARMACY: RejectCode = RejectCode::new("50");
    pub const NOT_COVERED: RejectCode = RejectCode::new("70");
    pub const REFILL_TOO_SOON: RejectCode = RejectCode::new("79");
    pub const CLAIM_TOO_OLD: RejectCode = RejectCode::new("81");
    pub const POST_DATED: RejectCode = RejectCode::new("82");
    pub const DUPLICATE_PAID: RejectCode = RejectCode::new("83");
    /// An E1 over the pharmacy's rate limit.
    pub const CLAIM_NOT_PROCESSED: RejectCode = RejectCode::new("85");
    pub const REVERSAL_NOT_PROCESSED: RejectCode = RejectCode::new("87");
    pub const DUR_REJECT: RejectCode = RejectCode::new("88");
    pub const HOST_PROCESSING_ERROR: RejectCode = RejectCode::new("99");
    pub const VERSION_NOT_SUPPORTED: RejectCode = RejectCode::new("1R");
    pub const TRANSACTION_CODE_NOT_SUPPORTED: RejectCode = RejectCode::new("1S");
    pub const TRANSACTION_COUNT_MISMATCH: RejectCode = RejectCode::new("1U");
    pub const CLAIM_SEGMENT_REQUIRED: RejectCode = RejectCode::new("1Y");
    pub const INSURANCE_SEGMENT_REQUIRED: RejectCode = RejectCode::new("6J");
    pub const PATIENT_SEGMENT_REQUIRED: RejectCode = RejectCode::new("6K");
    pub const DUR_COUNTER: RejectCode = RejectCode::new("7E");
    pub const DUR_COUNTER_EXCEEDS: RejectCode = RejectCode::new("9W");
    pub const TRANSACTION_COUNT: RejectCode = RejectCode::new("A9");
    pub const SEGMENT_ID: RejectCode = RejectCode::new("AM");
    pub const PRODUCT_QUALIFIER: RejectCode = RejectCode::new("E1");
    pub const REASON_FOR_SERVICE: RejectCode = RejectCode::new("E4");
    pub const PROFESSIONAL_SERVICE: RejectCode = RejectCode::new("E5");
    pub const RESULT_OF_SERVICE: RejectCode = RejectCode::new("E6");
    pub const QUANTITY: RejectCode = RejectCode::new("E7");
    pub const RX_QUALIFIER: RejectCode = RejectCode::new("EM");
    pub const CLARIFICATION_COUNT: RejectCode = RejectCode::new("NX");
    pub const COMPOUND_COUNT: RejectCode = RejectCode::new("P3");
    pub const COB_COUNT: RejectCode = RejectCode::new("P4");
    pub const DUR_COUNTER_SEQUENCE: RejectCode = RejectCode::new("P8");
    pub const FIELD_NOT_REPEATABLE: RejectCode = RejectCode::new("P9");
    pub const INVALID_COUNT_FOR_CODE: RejectCode = RejectCode::new("PB");
    pub const OTHER_AMOUNT_COUNT: RejectCode = RejectCode::new("R1");
    pub const REPEATING_SEGMENT: RejectCode = RejectCode::new("R7");
    pub const SYNTAX_ERROR: RejectCode = RejectCode::new("R8");
    pub const DUR_COUNTER_NOT_FIRST: RejectCode = RejectCode::new("488");
    // Request validation (`ncpdp::validate`), the D.0 reject code list (ECL10).
    pub const GROUP_ID: RejectCode = RejectCode::new("06");
    pub const DAW_CODE: RejectCode = RejectCode::new("22");
    pub const INGREDIENT_COST: RejectCode = RejectCode::new("23");
    pub const REFILLS_AUTHORIZED: RejectCode = RejectCode::new("29");
    pub const PRICING_SEGMENT_REQUIRED: RejectCode = RejectCode::new("6P");
    pub const COMPOUND_SEGMENT_REQUIRED: RejectCode = RejectCode::new("6T");
    pub const LEVEL_OF_EFFORT: RejectCode = RejectCode::new("8E");
    pub const BASIS_OF_COST: RejectCode = RejectCode::new("DN");
    pub const INCENTIVE_AMOUNT: RejectCode = RejectCode::new("E3");
    pub const OTHER_PAYER_DATE: RejectCode = RejectCode::new("E8");
    pub const PRESCRIBER_ID_QUALIFIER: RejectCode = RejectCode::new("EZ");
    pub const CO_AGENT_ID: RejectCode = RejectCode::new("H6");
    pub const CO_AGENT_QUALIFIER: RejectCode = RejectCode::new("J9");
    pub const CO_AGENT_QUALIFIER_ORDER: RejectCode = RejectCode::new("489");
}

/// NCPDP code lists the gateway validates against (ECL10).
pub mod codes {
    /// 439-E4 reason for service.
    pub const REASON_FOR_SERVICE: &[&str] = &[
        "AD", "AN", "AR", "AT", "CD", "CH", "CS", "DA", "DC", "DD", "DF", "DI", "DL", "DM", "DR",
        "DS", "ED", "ER", "EX", "HD", "IC", "ID", "LD", "LK", "LR", "MC", "MN", "MS", "MX", "NA",
        "NC", "ND", "NF", "NN", "NP", "NR", "NS", "OH", "PA", "PC", "PG", "PH", "PN", "PP", "PR",
        "PS", "RE", "RF", "SC", "SD", "SE", "SF", "SR", "SX", "TD", "TN", "TP", "UD",
    ];
    /// 440-E5 professional service.
    pub const PROFESSIONAL_SERVICE: &[&str] = &[
        "00", "AS", "CC", "DE", "DP", "FE", "GP", "M0", "MA", "MB", "MP", "MR", "PA", "PE", "PH",
        "PM", "P0", "PT", "R0", "RT", "SC", "SW", "TC", "TH",
    ];
    /// 441-E6 result of service.
    pub const RESULT_OF_SERVICE: &[&str] = &[
        "00", "1A", "1B", "1C", "1D", "1E", "1F", "1G", "1H", "1J", "1K", "2A", "2B", "3A", "3B",
        "3C", "3D", "3E", "3F", "3G", "3H", "3J", "3K", "3M", "3N", "4A",
    ];

    pub fn is_reason_for_service(code: &str) -> bool {
        REASON_FOR_SERVICE.contains(&code)
    }
    pub fn is_professional_service(code: &str) -> bool {
        PROFESSIONAL_SERVICE.contains(&code)
    }
    pub fn is_result_of_service(code: &str) -> bool {
        RESULT_OF_SERVICE.contains(&code)
    }
}

/// A stable 64-bit FNV-1a hash, used where only equality of an identifier matters
/// (same pharmacy? same prescriber?) and the identifier itself must not be kept in memory.
pub fn id_hash(text: &[u8]) -> u64 {
    text.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Patient key = cardholder id (302-C2) + person code (303-C3, empty when absent) + date of
/// birth (304-C4). PHI: its `Debug` redacts; never log it, never use it as a metric label.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientKey(String);

impl PatientKey {
    pub fn new(cardholder_id: &str, person_code: &str, date_of_birth: Date) -> PatientKey {
        let dob = date_of_birth.to_ccyymmdd();
        PatientKey(format!(
            "{}\u{1f}{}\u{1f}{dob}",
            cardholder_id.trim(),
            person_code.trim()
        ))
    }

    /// From the stored form (as written by [`PatientKey::as_str`]).
    pub fn from_stored(stored: String) -> PatientKey {
        PatientKey(stored)
    }

    /// The stored form: the three parts joined by 0x1F.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PatientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatientKey(<redacted>)")
    }
}

// ---- the typed request ---------------------------------------------------------------------

/// 103-A3 transaction codes the gateway serves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransactionCode {
    B1,
    B2,
    B3,
    E1,
}

impl TransactionCode {
    pub fn parse(text: &[u8]) -> Option<TransactionCode> {
        match text {
            b"B1" => Some(TransactionCode::B1),
            b"B2" => Some(TransactionCode::B2),
            b"B3" => Some(TransactionCode::B3),
            b"E1" => Some(TransactionCode::E1),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionCode::B1 => "B1",
            TransactionCode::B2 => "B2",
            TransactionCode::B3 => "B3",
            TransactionCode::E1 => "E1",
        }
    }
}

/// The 56-byte request header, decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestHeader {
    pub bin: String,
    pub version: String,
    pub transaction_code: TransactionCode,
    pub pcn: String,
    pub transaction_count: u8,
    pub provider_id_qualifier: String,
    /// 201-B1 service provider (pharmacy) id. Not PHI.
    pub provider_id: String,
    pub date_of_service: Date,
    pub software_vendor: String,
}

impl RequestHeader {
    /// [`id_hash`] of the trimmed 201-B1 service provider id, as kept in [`Fill::pharmacy`].
    pub fn pharmacy_hash(&self) -> u64 {
        id_hash(self.provider_id.trim().as_bytes())
    }
}

/// Who the patient is (AM04 Insurance + AM01 Patient). PHI: `Debug` redacts.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Patient {
    pub cardholder_id: String,
    pub person_code: String,
    pub date_of_birth: Option<Date>,
    pub gender: Option<u8>,
    pub first_name: String,
    pub last_name: String,
    pub group_id: String,
}

impl Patient {
    /// The patient key, when the date of birth is known.
    pub fn key(&self) -> Option<PatientKey> {
        let dob = self.date_of_birth?;
        Some(PatientKey::new(&self.cardholder_id, &self.person_code, dob))
    }
}

impl fmt::Debug for Patient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Patient(<redacted>)")
    }
}

/// One DUR/PPS (AM08) occurrence, started by its 473-7E counter.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DurPps {
    /// 473-7E, 1..=9, in sequence.
    pub counter: u8,
    pub reason: Option<Code2>,
    pub professional: Option<Code2>,
    pub result: Option<Code2>,
    pub level_of_effort: Option<u8>,
    pub co_agent_qualifier: Option<String>,
    pub co_agent_id: Option<String>,
}

/// An amount with its qualifier (pricing other amounts, COB amounts paid).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QualifiedAmount {
    pub qualifier: String,
    pub cents: i64,
}

/// AM11 Pricing, amounts in cents.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pricing {
    pub ingredient_cost_cents: Option<i64>,
    pub dispensing_fee_cents: Option<i64>,
    pub patient_paid_cents: Option<i64>,
    pub incentive_cents: Option<i64>,
    pub usual_and_customary_cents: Option<i64>,
    pub gross_amount_due_cents: Option<i64>,
    pub basis_of_cost: Option<String>,
    pub other_amounts: Vec<QualifiedAmount>,
}

/// One other payer of AM05 COB.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CobPayer {
    pub coverage_type: String,
    pub id_qualifier: String,
    pub id: String,
    pub date: Option<Date>,
    pub amounts_paid: Vec<QualifiedAmount>,
    pub reject_codes: Vec<String>,
    /// 351-NP qualifier with 352-NQ amount, in order.
    pub patient_responsibility: Vec<QualifiedAmount>,
    /// 393-MV qualifier with 394-MW amount, in order.
    pub benefit_stages: Vec<QualifiedAmount>,
}

/// One AM10 compound ingredient.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CompoundIngredient {
    pub product_qualifier: String,
    pub product_id: String,
    pub quantity_milli: u64,
    pub cost_cents: Option<i64>,
    pub basis_of_cost: Option<String>,
}

/// One typed B1/B2/B3 transaction (a transaction group that passed validation).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Transaction {
    /// 402-D2, up to 12 digits.
    pub rx_number: u64,
    /// 403-D3, 0 = original fill.
    pub fill_number: u8,
    /// 436-E1 (`03` = NDC, `00` = compound).
    pub product_qualifier: String,
    /// 407-D7 as sent.
    pub product_id: String,
    /// 407-D7 as an NDC when the qualifier is `03`.
    pub ndc: Option<Ndc>,
    /// 442-E7 with its 3 implied decimals (30.000 = 30_000). B2 may omit it (0).
    pub quantity_milli: u64,
    /// 405-D5. B2 may omit it (0).
    pub days_supply: u16,
    /// 406-D6 (1 not a compound, 2 compound, 0 not specified).
    pub compound_code: u8,
    pub daw_code: Option<u8>,
    pub date_written: Option<Date>,
    pub refills_authorized: Option<u8>,
    /// 420-DK values, in order.
    pub clarification_codes: Vec<u8>,
    /// 411-DB from AM03 Prescriber, empty when absent.
    pub prescriber_id: String,
    pub dur_pps: Vec<DurPps>,
    pub pricing: Pricing,
    pub cob: Vec<CobPayer>,
    pub compound: Vec<CompoundIngredient>,
}

impl Transaction {
    /// [`id_hash`] of the trimmed 411-DB prescriber id, as kept in [`Fill::prescriber`].
    pub fn prescriber_hash(&self) -> u64 {
        id_hash(self.prescriber_id.trim().as_bytes())
    }
}

/// A whole typed request: header, patient, and the transactions in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transmission {
    pub header: RequestHeader,
    /// Absent only where the transaction code allows (B2 without Insurance).
    pub patient: Option<Patient>,
    pub transactions: Vec<Transaction>,
}

// ---- authorization -------------------------------------------------------------------------

/// 503-F3 authorization number of a recorded paid claim or approved reversal.
///
/// It carries the store's claim id, so the history can answer a duplicate with the original
/// number without keeping a string per fill. Text form: the claim id in at least 12 decimal
/// digits (zero-padded) followed by one Luhn check digit, e.g. claim 42 is `0000000000422`.
/// At most 20 characters (a claim id is a positive `i64`), the width of 503-F3. The check digit
/// lets a help desk catch a mistyped number read back over the phone.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Authorization(u64);

impl Authorization {
    /// The authorization number of the claim with this store id.
    pub const fn for_claim(claim_id: u64) -> Authorization {
        Authorization(claim_id)
    }

    /// The store id of the claim it authorizes.
    pub const fn claim_id(self) -> u64 {
        self.0
    }

    /// From the text form; `None` unless 13..=20 digits with a correct check digit.
    pub fn parse(text: &str) -> Option<Authorization> {
        let (digits, check) = text.split_at_checked(text.len().checked_sub(1)?)?;
        let valid = (12..=19).contains(&digits.len()) && text.bytes().all(|b| b.is_ascii_digit());
        let claim_id = digits.parse::<u64>().ok().filter(|_| valid)?;
        (check.as_bytes() == [luhn_check_digit(digits)]).then_some(Authorization(claim_id))
    }
}

/// The Luhn (mod 10) check digit of a string of ASCII digits, as an ASCII digit.
fn luhn_check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, digit)| {
            let value = u32::from(digit.wrapping_sub(b'0') % 10);
            let doubled = if position % 2 == 0 { value * 2 } else { value };
            doubled / 10 + doubled % 10
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = format!("{:012}", self.0);
        let check = char::from(luhn_check_digit(&digits));
        write!(f, "{digits}{check}")
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Authorization({self})")
    }
}

// ---- history -------------------------------------------------------------------------------

/// A paid, unreversed fill as the edits see it. Compact on purpose: the history keeps
/// millions of these (pharmacy and prescriber as [`id_hash`] values, not strings).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fill {
    pub ndc: Ndc,
    pub rx_number: u64,
    pub date_of_service: Date,
    pub quantity_milli: u64,
    pub days_supply: u16,
    pub fill_number: u8,
    /// [`id_hash`] of 201-B1 service provider id.
    pub pharmacy: u64,
    /// [`id_hash`] of 411-DB prescriber id.
    pub prescriber: u64,
    /// The rejecting conflicts the claim had overridden (for remembered overrides).
    pub overridden: Overridden,
}

/// The rejecting conflicts a paid claim had overridden (by DUR/PPS or SCC), as
/// [`Overridden::mark`]s of (edit, rule id), what a later fill of the same Rx is checked
/// against when its edit remembers overrides. Holds at most
/// [`OVERRIDES_REMEMBERED_PER_FILL_MAX`](crate::limits::OVERRIDES_REMEMBERED_PER_FILL_MAX)
/// marks: a further override is not remembered, so its conflict is raised (and must be
/// overridden) again — never wrongly waived. A mark is a 64-bit hash; 0 is an empty place.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Overridden([u64; crate::limits::OVERRIDES_REMEMBERED_PER_FILL_MAX]);

impl Overridden {
    /// No override remembered.
    pub const NONE: Overridden = Overridden([0; crate::limits::OVERRIDES_REMEMBERED_PER_FILL_MAX]);

    /// The mark of a conflict of `edit` raised by rule `rule_id` (never 0).
    pub fn mark(edit: Edit, rule_id: &str) -> u64 {
        let name = id_hash(edit.as_str().as_bytes());
        let hash = id_hash(rule_id.as_bytes()) ^ name.rotate_left(17);
        hash.max(1)
    }

    /// The marks of the rejecting conflicts of `conflicts` that an override (DUR/PPS or SCC)
    /// answered; remembered conflicts are warnings and not overridden, so they never count.
    pub fn of_conflicts(conflicts: &[Conflict]) -> Overridden {
        let mut overridden = Overridden::NONE;
        let answered = conflicts
            .iter()
            .filter(|c| c.action == Action::Reject && c.overridden_by.is_some());
        for conflict in answered {
            overridden.insert(Overridden::mark(conflict.edit, &conflict.rule_id));
        }
        overridden
    }

    /// Adds a mark; false when it is full (the mark is then not remembered).
    pub fn insert(&mut self, mark: u64) -> bool {
        if self.contains(mark) {
            return true;
        }
        match self.0.iter_mut().find(|place| **place == 0) {
            Some(place) => {
                *place = mark.max(1);
                true
            }
            None => false,
        }
    }

    /// Whether `mark` is remembered.
    pub fn contains(&self, mark: u64) -> bool {
        mark != 0 && self.0.contains(&mark)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|place| *place == 0)
    }
}

impl Fill {
    /// The fill a paid transaction becomes (`None` without an NDC). `pharmacy` and
    /// `prescriber` are [`RequestHeader::pharmacy_hash`] and [`Transaction::prescriber_hash`].
    pub fn of(
        transaction: &Transaction,
        date_of_service: Date,
        pharmacy: u64,
        prescriber: u64,
    ) -> Option<Fill> {
        Some(Fill {
            ndc: transaction.ndc?,
            rx_number: transaction.rx_number,
            date_of_service,
            quantity_milli: transaction.quantity_milli,
            days_supply: transaction.days_supply,
            fill_number: transaction.fill_number,
            pharmacy,
            prescriber,
            overridden: Overridden::NONE,
        })
    }
}

// ---- the decision --------------------------------------------------------------------------

/// The DUR edits, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Edit {
    Ddi,
    Duplication,
    HighDose,
    ElderlyHighRisk,
    AgeLimit,
    EarlyRefill,
    Opioid,
    Acetaminophen,
}

impl Edit {
    pub const ALL: [Edit; 8] = [
        Edit::Ddi,
        Edit::Duplication,
        Edit::HighDose,
        Edit::ElderlyHighRisk,
        Edit::AgeLimit,
        Edit::EarlyRefill,
        Edit::Opioid,
        Edit::Acetaminophen,
    ];

    /// The name used in `ruleset.toml` (`[edits.NAME]`), the store and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Edit::Ddi => "ddi",
            Edit::Duplication => "duplication",
            Edit::HighDose => "high_dose",
            Edit::ElderlyHighRisk => "elderly_high_risk",
            Edit::AgeLimit => "age_limit",
            Edit::EarlyRefill => "early_refill",
            Edit::Opioid => "opioid",
            Edit::Acetaminophen => "acetaminophen",
        }
    }

    pub fn parse(name: &str) -> Option<Edit> {
        Edit::ALL.into_iter().find(|edit| edit.as_str() == name)
    }
}

/// What an edit's conflict does to the claim.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    Reject,
    Warn,
}

/// One DUR conflict raised on a transaction: everything a Response DUR/PPS occurrence and
/// the claim record need.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conflict {
    pub edit: Edit,
    /// The rule row id (ddi.csv id, `class:NAME`, ingredient...) that fired.
    pub rule_id: String,
    /// 439-E4.
    pub reason: Code2,
    /// Interaction severity (1..3); other edits 1 when they reject, 3 when they warn.
    pub severity: u8,
    pub action: Action,
    /// 528-FS.
    pub clinical_significance: u8,
    /// 530-FU of the conflicting fill, when there is one.
    pub previous_fill_date: Option<Date>,
    /// 531-FV of the conflicting fill, milli-units.
    pub previous_quantity_milli: Option<u64>,
    /// 529-FT: 1 your pharmacy, 3 other pharmacy, 0 not specified.
    pub other_pharmacy: u8,
    /// 533-FX: 1 same prescriber, 2 other prescriber, 0 not specified.
    pub other_prescriber: u8,
    /// 544-FY text (truncated to the field width on the wire, kept whole here).
    pub message: String,
    /// Whether any DUR/PPS code may override it (`never_override` severities may not).
    pub overridable: bool,
    /// 473-7E counter (1..9) of the DUR/PPS occurrence that overrode it, or
    /// [`OVERRIDDEN_BY_CLARIFICATION`] for an early-refill conflict overridden by a 420-DK
    /// submission clarification code.
    pub overridden_by: Option<u8>,
    /// Remembered override: the date of service of the latest paid claim of the same pharmacy
    /// and Rx whose override of this (edit, rule) is remembered. Such a conflict is a warning
    /// and its reply carries 570-NS "previously overridden YYYY-MM-DD".
    pub remembered_from: Option<Date>,
}

/// A conflict a submitted DUR/PPS occurrence addressed: overridden, or refused by policy
/// (what the server counts in its override metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverrideEvent {
    pub edit: Edit,
    pub professional: Option<Code2>,
    pub accepted: bool,
}

/// `Conflict::overridden_by` of a conflict overridden by a 420-DK submission clarification
/// code (SCC override) rather than a DUR/PPS occurrence: 473-7E counters start at 1, so 0
/// names no occurrence. Such an override earns no P4P credit.
pub const OVERRIDDEN_BY_CLARIFICATION: u8 = 0;

/// 112-AN transaction response status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    Paid,
    Rejected,
    Duplicate,
    Approved,
    DuplicateOfApproved,
}

impl Status {
    /// The 112-AN byte.
    pub fn code(self) -> u8 {
        match self {
            Status::Paid => b'P',
            Status::Rejected => b'R',
            Status::Duplicate => b'D',
            Status::Approved => b'A',
            Status::DuplicateOfApproved => b'S',
        }
    }

    pub fn from_code(code: u8) -> Option<Status> {
        match code {
            b'P' => Some(Status::Paid),
            b'R' => Some(Status::Rejected),
            b'D' => Some(Status::Duplicate),
            b'A' => Some(Status::Approved),
            b'S' => Some(Status::DuplicateOfApproved),
            _ => None,
        }
    }

    /// Lower-case name for the store and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Paid => "paid",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
            Status::Approved => "approved",
            Status::DuplicateOfApproved => "duplicate_of_approved",
        }
    }
}

/// The rule-table identity a decision was made with: `id@version`.
pub type RulesetStamp = Arc<str>;

/// The outcome of adjudicating one transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Decision {
    pub status: Status,
    /// 511-FB codes, empty unless rejected.
    pub reject_codes: Vec<RejectCode>,
    /// Every conflict raised, overridden or not, in edit order.
    pub conflicts: Vec<Conflict>,
    /// 473-7E counters of submitted DUR/PPS occurrences that answered no raised conflict.
    pub unmatched_dur_pps: Vec<u8>,
    /// `id@version` of the rule tables used.
    pub ruleset: RulesetStamp,
    /// 504-F4 / additional message text, when there is something to say.
    pub message: Option<String>,
}

impl Decision {
    /// A rejection with the given codes and no conflicts.
    pub fn rejected(codes: Vec<RejectCode>, ruleset: RulesetStamp) -> Decision {
        Decision {
            status: Status::Rejected,
            reject_codes: codes,
            conflicts: Vec::new(),
            unmatched_dur_pps: Vec::new(),
            ruleset,
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days() {
        for days in [-719_162, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (year, month, day) = Date::from_days(days).ymd();
            assert_eq!(
                Date::from_ymd(year, month, day),
                Some(Date::from_days(days))
            );
        }
        assert_eq!(Date::from_ymd(1970, 1, 1).map(Date::days), Some(0));
        assert_eq!(Date::from_ymd(2000, 3, 1).map(Date::days), Some(11_017));
    }

    #[test]
    fn ccyymmdd_rejects_impossible_dates() {
        assert_eq!(
            Date::parse_ccyymmdd(b"20240229")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            &b"20230229"[..],
            b"20241301",
            b"2024010",
            b"2024O101",
            b"00000000",
            b"20240132",
        ] {
            assert_eq!(Date::parse_ccyymmdd(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn age_turns_on_the_birthday() {
        let born = Date::from_ymd(1960, 11, 22).unwrap();
        assert_eq!(born.age_years_on(Date::from_ymd(2025, 11, 21).unwrap()), 64);
        assert_eq!(born.age_years_on(Date::from_ymd(2025, 11, 22).unwrap()), 65);
        let leapling = Date::from_ymd(1960, 2, 29).unwrap();
        assert_eq!(
            leapling.age_years_on(Date::from_ymd(2025, 2, 28).unwrap()),
            64
        );
        assert_eq!(
            leapling.age_years_on(Date::from_ymd(2025, 3, 1).unwrap()),
            65
        );
    }

    #[test]
    fn ndc_is_exactly_eleven_digits() {
        assert_eq!(
            Ndc::parse(b"00378611201").map(|n| n.to_string()).as_deref(),
            Some("00378611201")
        );
        assert_eq!(Ndc::parse(b"0037861120"), None);
        assert_eq!(Ndc::parse(b"00378-61120"), None);
    }

    #[test]
    fn reject_codes_keep_their_width() {
        assert_eq!(
            RejectCode::parse(b"208").map(|c| c.to_string()).as_deref(),
            Some("208")
        );
        assert_eq!(reject::DUR_REJECT.as_str(), "88");
        assert_eq!(RejectCode::parse(b"8"), None);
    }

    #[test]
    fn authorization_numbers_carry_the_claim_id_and_a_check_digit() {
        let shown = Authorization::for_claim(42).to_string();
        assert_eq!(shown, "0000000000422");
        assert_eq!(
            Authorization::parse(&shown),
            Some(Authorization::for_claim(42))
        );
        assert_eq!(
            Authorization::parse("0000000000423"),
            None,
            "wrong check digit"
        );
        assert_eq!(
            Authorization::parse("0000000000242"),
            None,
            "transposed digits"
        );
        assert_eq!(Authorization::parse("42"), None, "too short");
        let widest = Authorization::for_claim(i64::MAX as u64).to_string();
        assert_eq!(widest.len(), 20);
        assert_eq!(
            Authorization::parse(&widest).map(Authorization::claim_id),
            Some(i64::MAX as u64)
        );
    }

    #[test]
    fn patient_identifiers_are_redacted_in_debug() {
        let patient = Patient {
            cardholder_id: "ZZ123456789".into(),
            first_name: "ALEX".into(),
            date_of_birth: Date::from_ymd(1950, 1, 2),
            ..Patient::default()
        };
        let shown = format!("{patient:?} {:?}", patient.key());
        assert!(
            !shown.contains("ZZ123456789") && !shown.contains("ALEX") && !shown.contains("1950")
        );
    }
}
