//! Building requests: a fluent typed [`ClaimBuilder`] and an owned, editable [`RawMessage`].
//!
//! Tier 2, inside `ncpdp`: for tests, the sample generator, server stories and the load
//! generator, which all need many claims. [`ClaimBuilder`] starts from a complete, valid
//! synthetic claim (BIN 610011, an NPI-like pharmacy, a synthetic patient, atorvastatin
//! 10 mg, dates in 2026) and each call changes one thing:
//!
//! ```
//! use durgate::claim::Date;
//! use durgate::ncpdp::build::ClaimBuilder;
//! let bytes = ClaimBuilder::b1()
//!     .cardholder("SYN0000042")
//!     .dob(Date::from_ymd(1951, 6, 30).unwrap())
//!     .ndc("00378611201")
//!     .dur("ER", "M0", "1G")
//!     .encode();
//! let (_, validated) = durgate::ncpdp::read_request(&bytes).unwrap();
//! assert!(validated.is_clean());
//! ```
//!
//! Calls after [`ClaimBuilder::next_claim`] change the newest transaction. Nothing here
//! validates: invalid values are written as given, so rejected claims are built the same way.
//! [`RawMessage`] holds a parsed message as owned bytes so single fields, segments or header
//! bytes can be changed to produce malformed transmissions.
//!
//! Must never: use real people's data (every default is invented), or panic on any argument.

use super::encode::{encode_message, encode_request};
use super::fields::{REQUEST_HEADER, RESPONSE_HEADER};
use super::parse::{parse, Field, Header, Kind, Message, Place, Segment};
use super::{ParseError, ETX, STX};
use crate::claim::{
    CobPayer, Code2, CompoundIngredient, Date, DurPps, Ndc, Patient, Pricing, QualifiedAmount,
    RequestHeader, Transaction, TransactionCode, Transmission,
};

/// Default 101-A1 BIN.
pub const BIN: &str = "610011";
/// Default 104-A4 processor control number.
pub const PCN: &str = "DGTEST";
/// Default 201-B1 pharmacy id (10 digits, NPI-like, invented).
pub const PHARMACY_ID: &str = "1234567893";
/// Default 411-DB prescriber id (10 digits, NPI-like, invented).
pub const PRESCRIBER_ID: &str = "1588667638";
/// Default 302-C2 cardholder id (invented).
pub const CARDHOLDER_ID: &str = "SYN0000001";
/// Default product: atorvastatin calcium 10 mg (the sample rule tables' products.csv).
pub const NDC_ATORVASTATIN_10MG: &str = "67877051190";

/// Default 401-D1: 2026-03-02.
pub fn default_date_of_service() -> Date {
    Date::from_ymd(2026, 3, 2).unwrap_or_default()
}

/// Default 304-C4: 1958-04-12.
pub fn default_date_of_birth() -> Date {
    Date::from_ymd(1958, 4, 12).unwrap_or_default()
}

/// A fluent builder of typed requests (see the module docs).
#[derive(Clone, Debug)]
pub struct ClaimBuilder {
    transmission: Transmission,
}

impl ClaimBuilder {
    /// A B1 billing with one valid transaction.
    pub fn b1() -> ClaimBuilder {
        ClaimBuilder::new(TransactionCode::B1, vec![billing_transaction()])
    }

    /// A B2 reversal of the default claim (402-D2, 403-D3, 407-D7; no pricing).
    pub fn b2() -> ClaimBuilder {
        ClaimBuilder::new(TransactionCode::B2, vec![reversal_transaction()])
    }

    /// A B3 rebill with one valid transaction.
    pub fn b3() -> ClaimBuilder {
        ClaimBuilder::new(TransactionCode::B3, vec![billing_transaction()])
    }

    /// An E1 eligibility check (no transactions).
    pub fn e1() -> ClaimBuilder {
        ClaimBuilder::new(TransactionCode::E1, Vec::new())
    }

    fn new(code: TransactionCode, transactions: Vec<Transaction>) -> ClaimBuilder {
        let header = RequestHeader {
            bin: BIN.to_owned(),
            version: "D0".to_owned(),
            transaction_code: code,
            pcn: PCN.to_owned(),
            transaction_count: 1,
            provider_id_qualifier: "01".to_owned(),
            provider_id: PHARMACY_ID.to_owned(),
            date_of_service: default_date_of_service(),
            software_vendor: "DGSIM00001".to_owned(),
        };
        let transmission = Transmission {
            header,
            patient: Some(default_patient()),
            transactions,
        };
        ClaimBuilder { transmission }
    }

    // ---- header ----

    pub fn bin(mut self, bin: &str) -> Self {
        self.transmission.header.bin = bin.to_owned();
        self
    }

    pub fn pcn(mut self, pcn: &str) -> Self {
        self.transmission.header.pcn = pcn.to_owned();
        self
    }

    pub fn provider_id(mut self, provider_id: &str) -> Self {
        self.transmission.header.provider_id = provider_id.to_owned();
        self
    }

    pub fn date_of_service(mut self, date: Date) -> Self {
        self.transmission.header.date_of_service = date;
        self
    }

    // ---- patient ----

    /// Edits the patient (creating a default one if there was none).
    fn patient(mut self, edit: impl FnOnce(&mut Patient)) -> Self {
        edit(
            self.transmission
                .patient
                .get_or_insert_with(Patient::default),
        );
        self
    }

    pub fn cardholder(self, cardholder_id: &str) -> Self {
        self.patient(|patient| patient.cardholder_id = cardholder_id.to_owned())
    }

    pub fn person_code(self, person_code: &str) -> Self {
        self.patient(|patient| patient.person_code = person_code.to_owned())
    }

    pub fn group_id(self, group_id: &str) -> Self {
        self.patient(|patient| patient.group_id = group_id.to_owned())
    }

    pub fn dob(self, date_of_birth: Date) -> Self {
        self.patient(|patient| patient.date_of_birth = Some(date_of_birth))
    }

    /// 305-C5: 0 unknown, 1 male, 2 female.
    pub fn gender(self, gender: u8) -> Self {
        self.patient(|patient| patient.gender = Some(gender))
    }

    pub fn name(self, first: &str, last: &str) -> Self {
        self.patient(|patient| {
            patient.first_name = first.to_owned();
            patient.last_name = last.to_owned();
        })
    }

    /// Sends no Insurance and no Patient segment.
    pub fn no_patient(mut self) -> Self {
        self.transmission.patient = None;
        self
    }

    // ---- the newest transaction ----

    /// Edits the newest transaction (nothing happens on an E1, which has none).
    pub fn edit(mut self, edit: impl FnOnce(&mut Transaction)) -> Self {
        if let Some(transaction) = self.transmission.transactions.last_mut() {
            edit(transaction);
        }
        self
    }

    pub fn rx(self, rx_number: u64) -> Self {
        self.edit(|t| t.rx_number = rx_number)
    }

    pub fn fill(self, fill_number: u8) -> Self {
        self.edit(|t| t.fill_number = fill_number)
    }

    /// Product by NDC (436-E1 `03`); a text that is not 11 digits is still sent as given.
    pub fn ndc(self, ndc: &str) -> Self {
        self.edit(|t| {
            t.product_qualifier = "03".to_owned();
            t.product_id = ndc.to_owned();
            t.ndc = Ndc::parse(ndc.as_bytes());
        })
    }

    pub fn quantity_milli(self, quantity_milli: u64) -> Self {
        self.edit(|t| t.quantity_milli = quantity_milli)
    }

    pub fn days_supply(self, days_supply: u16) -> Self {
        self.edit(|t| t.days_supply = days_supply)
    }

    pub fn prescriber(self, prescriber_id: &str) -> Self {
        self.edit(|t| t.prescriber_id = prescriber_id.to_owned())
    }

    pub fn daw(self, daw_code: u8) -> Self {
        self.edit(|t| t.daw_code = Some(daw_code))
    }

    pub fn date_written(self, date: Date) -> Self {
        self.edit(|t| t.date_written = Some(date))
    }

    pub fn refills_authorized(self, refills: u8) -> Self {
        self.edit(|t| t.refills_authorized = Some(refills))
    }

    /// Appends a 420-DK submission clarification code.
    pub fn clarification(self, code: u8) -> Self {
        self.edit(|t| t.clarification_codes.push(code))
    }

    /// Appends a DUR/PPS occurrence with the next 473-7E counter: 439-E4 reason, 440-E5
    /// professional service, 441-E6 result (each dropped unless 2 printable characters).
    pub fn dur(self, reason: &str, professional: &str, result: &str) -> Self {
        self.edit(|t| {
            let code = |text: &str| Code2::parse(text.as_bytes());
            let counter = u8::try_from(t.dur_pps.len() + 1).unwrap_or(u8::MAX);
            let occurrence = DurPps {
                counter,
                reason: code(reason),
                professional: code(professional),
                result: code(result),
                ..DurPps::default()
            };
            t.dur_pps.push(occurrence);
        })
    }

    /// Appends a DUR/PPS occurrence exactly as given (counter included).
    pub fn dur_pps(self, occurrence: DurPps) -> Self {
        self.edit(|t| t.dur_pps.push(occurrence))
    }

    pub fn pricing(self, pricing: Pricing) -> Self {
        self.edit(|t| t.pricing = pricing)
    }

    /// Appends a 479-H8/480-H9 other amount claimed.
    pub fn other_amount(self, qualifier: &str, cents: i64) -> Self {
        let amount = QualifiedAmount {
            qualifier: qualifier.to_owned(),
            cents,
        };
        self.edit(|t| t.pricing.other_amounts.push(amount))
    }

    /// Appends a COB other payer.
    pub fn cob_payer(self, payer: CobPayer) -> Self {
        self.edit(|t| t.cob.push(payer))
    }

    /// Makes the newest transaction a multi-ingredient compound (436-E1 `00`, 407-D7 `0`,
    /// 406-D6 `2`) of these ingredients.
    pub fn compound(self, ingredients: Vec<CompoundIngredient>) -> Self {
        self.edit(|t| {
            t.product_qualifier = "00".to_owned();
            t.product_id = "0".to_owned();
            t.ndc = None;
            t.compound_code = 2;
            t.compound = ingredients;
        })
    }

    /// Starts another transaction: a copy of the newest one with the next Rx number and
    /// without DUR/PPS, COB or compound data (a default one when there is none).
    pub fn next_claim(mut self) -> Self {
        let code = self.transmission.header.transaction_code;
        let next = match self.transmission.transactions.last() {
            Some(last) => Transaction {
                rx_number: last.rx_number + 1,
                dur_pps: Vec::new(),
                cob: Vec::new(),
                ..last.clone()
            },
            None if code == TransactionCode::B2 => reversal_transaction(),
            None => billing_transaction(),
        };
        self.transmission.transactions.push(next);
        self
    }

    /// Appends a whole transaction.
    pub fn claim(mut self, transaction: Transaction) -> Self {
        self.transmission.transactions.push(transaction);
        self
    }

    /// The typed transmission; 109-A9 is set to the number of transactions (1 for E1).
    pub fn build(mut self) -> Transmission {
        let count = self.transmission.transactions.len().max(1);
        self.transmission.header.transaction_count = u8::try_from(count).unwrap_or(u8::MAX);
        self.transmission
    }

    /// The bare D.0 bytes.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        encode_request(&self.build(), &mut out);
        out
    }

    /// The bytes wrapped as `STX … ETX`.
    pub fn framed(self) -> Vec<u8> {
        let mut out = vec![STX];
        out.extend(self.encode());
        out.push(ETX);
        out
    }
}

fn default_patient() -> Patient {
    Patient {
        cardholder_id: CARDHOLDER_ID.to_owned(),
        person_code: "01".to_owned(),
        date_of_birth: Some(default_date_of_birth()),
        gender: Some(2),
        first_name: "PAT".to_owned(),
        last_name: "SYNTHETIC".to_owned(),
        group_id: "SYNGRP01".to_owned(),
    }
}

fn billing_transaction() -> Transaction {
    Transaction {
        rx_number: 123_456,
        fill_number: 0,
        product_qualifier: "03".to_owned(),
        product_id: NDC_ATORVASTATIN_10MG.to_owned(),
        ndc: Ndc::parse(NDC_ATORVASTATIN_10MG.as_bytes()),
        quantity_milli: 30_000,
        days_supply: 30,
        compound_code: 1,
        daw_code: Some(0),
        date_written: Date::from_ymd(2026, 2, 20),
        refills_authorized: Some(5),
        prescriber_id: PRESCRIBER_ID.to_owned(),
        pricing: default_pricing(),
        ..Transaction::default()
    }
}

fn reversal_transaction() -> Transaction {
    Transaction {
        rx_number: 123_456,
        product_qualifier: "03".to_owned(),
        product_id: NDC_ATORVASTATIN_10MG.to_owned(),
        ndc: Ndc::parse(NDC_ATORVASTATIN_10MG.as_bytes()),
        ..Transaction::default()
    }
}

fn default_pricing() -> Pricing {
    Pricing {
        ingredient_cost_cents: Some(1_250),
        dispensing_fee_cents: Some(175),
        usual_and_customary_cents: Some(2_400),
        gross_amount_due_cents: Some(1_425),
        basis_of_cost: Some("01".to_owned()),
        ..Pricing::default()
    }
}

// ---- raw messages -------------------------------------------------------------------------

/// A two-byte id from text (`"D7"`); missing bytes become `?`.
pub fn id(text: &str) -> [u8; 2] {
    let bytes = text.as_bytes();
    [
        bytes.first().copied().unwrap_or(b'?'),
        bytes.get(1).copied().unwrap_or(b'?'),
    ]
}

/// An owned, editable copy of a parsed message (for producing malformed transmissions).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawMessage {
    pub kind: Kind,
    /// The fixed header bytes.
    pub header: Vec<u8>,
    pub transmission: Vec<RawSegment>,
    pub groups: Vec<Vec<RawSegment>>,
}

/// An owned segment. `Debug` shows it like a parsed [`Segment`] (patient data redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct RawSegment {
    pub id: [u8; 2],
    pub fields: Vec<([u8; 2], Vec<u8>)>,
}

impl std::fmt::Debug for RawSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.borrowed(), f)
    }
}

impl RawSegment {
    /// An empty segment with this 111-AM id (`"07"`).
    pub fn new(segment_id: &str) -> RawSegment {
        RawSegment {
            id: id(segment_id),
            fields: Vec::new(),
        }
    }

    /// Replaces the first field `field` (or appends it).
    pub fn set(&mut self, field: &str, value: &[u8]) -> &mut Self {
        let field = id(field);
        match self
            .fields
            .iter_mut()
            .find(|(existing, _)| *existing == field)
        {
            Some((_, existing)) => *existing = value.to_vec(),
            None => self.fields.push((field, value.to_vec())),
        }
        self
    }

    /// Appends a field (repeats allowed).
    pub fn push(&mut self, field: &str, value: &[u8]) -> &mut Self {
        self.fields.push((id(field), value.to_vec()));
        self
    }

    /// Inserts a field at `index` (or at the end when beyond).
    pub fn insert(&mut self, index: usize, field: &str, value: &[u8]) -> &mut Self {
        let index = index.min(self.fields.len());
        self.fields.insert(index, (id(field), value.to_vec()));
        self
    }

    /// Removes every field `field`.
    pub fn remove(&mut self, field: &str) -> &mut Self {
        let field = id(field);
        self.fields.retain(|(existing, _)| *existing != field);
        self
    }

    fn borrowed(&self) -> Segment<'_> {
        let fields = self
            .fields
            .iter()
            .map(|(id, value)| Field { id: *id, value })
            .collect();
        Segment {
            id: self.id,
            fields,
        }
    }
}

impl RawMessage {
    /// Parses and copies; structural problems of the input are not kept.
    pub fn from_bytes(bytes: &[u8]) -> Result<RawMessage, ParseError> {
        let message = parse(bytes)?;
        let owned = |segments: &[Segment<'_>]| -> Vec<RawSegment> {
            let own = |segment: &Segment<'_>| RawSegment {
                id: segment.id,
                fields: segment
                    .fields
                    .iter()
                    .map(|field| (field.id, field.value.to_vec()))
                    .collect(),
            };
            segments.iter().map(own).collect()
        };
        let header_bytes = message.kind.header_bytes();
        let header = super::parse::strip_framing(bytes)
            .get(..header_bytes)
            .unwrap_or_default()
            .to_vec();
        Ok(RawMessage {
            kind: message.kind,
            header,
            transmission: owned(&message.transmission),
            groups: message.groups.iter().map(|group| owned(group)).collect(),
        })
    }

    /// Builds and copies a typed request.
    pub fn from_builder(builder: ClaimBuilder) -> RawMessage {
        let bytes = builder.encode();
        RawMessage::from_bytes(&bytes).unwrap_or_else(|_| RawMessage::empty_request())
    }

    fn empty_request() -> RawMessage {
        RawMessage {
            kind: Kind::Request,
            header: Vec::new(),
            transmission: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Overwrites the header field whose key is `key` (`"bin"`, `"transaction_count"`...),
    /// space-padded or cut to its width.
    pub fn set_header(&mut self, key: &str, value: &[u8]) -> &mut Self {
        let layout = match self.kind {
            Kind::Request => &REQUEST_HEADER[..],
            Kind::Response => &RESPONSE_HEADER[..],
        };
        if let Some(info) = layout.iter().find(|info| info.key == key) {
            self.header
                .resize(self.header.len().max(info.offset + info.width), b' ');
            let padded = value
                .iter()
                .copied()
                .chain(std::iter::repeat(b' '))
                .take(info.width);
            self.header
                .splice(info.offset..info.offset + info.width, padded);
        }
        self
    }

    /// The segments at `place` (`None` for a group that does not exist).
    pub fn segments_mut(&mut self, place: Place) -> Option<&mut Vec<RawSegment>> {
        match place {
            Place::Transmission => Some(&mut self.transmission),
            Place::Transaction(index) => self.groups.get_mut(index),
        }
    }

    /// The first segment `segment_id` (`"07"`) at `place`.
    pub fn segment_mut(&mut self, place: Place, segment_id: &str) -> Option<&mut RawSegment> {
        let wanted = id(segment_id);
        self.segments_mut(place)?
            .iter_mut()
            .find(|segment| segment.id == wanted)
    }

    /// Removes every segment `segment_id` at `place`.
    pub fn remove_segment(&mut self, place: Place, segment_id: &str) -> &mut Self {
        let wanted = id(segment_id);
        if let Some(segments) = self.segments_mut(place) {
            segments.retain(|segment| segment.id != wanted);
        }
        self
    }

    /// The bytes, through [`encode_message`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = match self.kind {
            Kind::Request => Header::request(&self.header),
            Kind::Response => Header::response(&self.header),
        };
        let message = Message {
            kind: self.kind,
            header,
            transmission: borrowed(&self.transmission),
            groups: self.groups.iter().map(|group| borrowed(group)).collect(),
            problems: Vec::new(),
        };
        let mut out = Vec::with_capacity(512);
        encode_message(&message, &mut out);
        out
    }
}

fn borrowed(segments: &[RawSegment]) -> Vec<Segment<'_>> {
    segments.iter().map(RawSegment::borrowed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ncpdp::read_request;

    #[test]
    fn every_default_claim_is_valid_and_round_trips() {
        for builder in [
            ClaimBuilder::b1(),
            ClaimBuilder::b2(),
            ClaimBuilder::b3(),
            ClaimBuilder::e1(),
        ] {
            let transmission = builder.clone().build();
            let bytes = builder.encode();
            let (_, validated) = read_request(&bytes).expect("a request");
            assert_eq!(validated.into_transmission(), Ok(transmission));
        }
    }

    #[test]
    fn next_claim_continues_the_rx_numbers_and_counts() {
        let transmission = ClaimBuilder::b1()
            .dur("DD", "M0", "1G")
            .next_claim()
            .next_claim()
            .build();
        let rx_numbers: Vec<u64> = transmission
            .transactions
            .iter()
            .map(|t| t.rx_number)
            .collect();
        assert_eq!(rx_numbers, [123_456, 123_457, 123_458]);
        assert_eq!(transmission.header.transaction_count, 3);
        assert!(transmission.transactions[1].dur_pps.is_empty());
    }

    #[test]
    fn raw_messages_edit_fields_and_headers() {
        let mut raw = RawMessage::from_builder(ClaimBuilder::b1());
        raw.set_header("bin", b"61A011");
        raw.segment_mut(Place::Transaction(0), "07")
            .map(|claim| claim.set("D7", b"123"));
        let bytes = raw.to_bytes();
        assert_eq!(&bytes[..6], b"61A011");
        let (_, validated) = read_request(&bytes).expect("a request");
        let codes: Vec<String> = validated
            .problems()
            .map(|(_, p)| p.reject_code.to_string())
            .collect();
        assert_eq!(codes, ["01", "21"]);
        let unchanged = RawMessage::from_builder(ClaimBuilder::b2());
        assert_eq!(unchanged.to_bytes(), ClaimBuilder::b2().encode());
    }
}
