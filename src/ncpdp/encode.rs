//! Request encoders: a typed [`Transmission`] → D.0 bytes, and a raw [`Message`] → bytes.
//!
//! Tier 2, inside `ncpdp`: used by tests, the sample generator and the load generator to
//! build claims ([`encode_request`]), and to write deliberately malformed transmissions
//! ([`encode_message`], which writes whatever the message holds). The response encoder lives
//! in `response` and shares `Writer`.
//!
//! Layout written (spec §2): header, then `RS FS AMnn {FS id value}` per segment, `GS` before
//! each transaction group; no trailing separator, no STX/ETX (framing is `wire`'s job).
//! Header fields are space-padded (or cut) to their width. In [`encode_request`] segment
//! values are written unpadded and text as printable ASCII (any other character becomes
//! `?`), so a typed value can never forge a separator; values are otherwise written as given
//! — a too-long id stays too long — so invalid claims can be built on purpose and validation
//! catches them. [`encode_message`] writes raw bytes verbatim (see there).
//!
//! Must never: let a typed value emit a separator, or read anything but its arguments.

use super::fields::{HeaderFieldInfo, REQUEST_HEADER, RESPONSE_HEADER};
use super::numbers;
use super::parse::{Header, Kind, Message, Segment};
use super::{FS, GS, RS};
use crate::claim::{
    CobPayer, CompoundIngredient, DurPps, Patient, Pricing, QualifiedAmount, RequestHeader,
    Transaction, TransactionCode, Transmission,
};

/// Appends D.0 pieces to a byte buffer.
pub(crate) struct Writer<'o> {
    pub(crate) out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    /// A fixed-width header field: printable ASCII, space-padded or cut to `width`.
    pub(crate) fn fixed(&mut self, value: &[u8], width: usize) {
        let kept = value.get(..width).unwrap_or(value);
        self.out.extend(kept.iter().map(|byte| printable(*byte)));
        self.out.resize(self.out.len() + (width - kept.len()), b' ');
    }

    /// A fixed-width field written byte for byte, space-padded or cut to `width`.
    fn fixed_verbatim(&mut self, value: &[u8], width: usize) {
        let kept = value.get(..width).unwrap_or(value);
        self.out.extend_from_slice(kept);
        self.out.resize(self.out.len() + (width - kept.len()), b' ');
    }

    /// `FS id` and a value written byte for byte.
    fn field_verbatim(&mut self, id: [u8; 2], value: &[u8]) {
        self.out.extend_from_slice(&[FS, id[0], id[1]]);
        self.out.extend_from_slice(value);
    }

    /// Starts segment `id` (`RS FS AMnn`).
    pub(crate) fn segment(&mut self, id: [u8; 2]) {
        self.out
            .extend_from_slice(&[RS, FS, b'A', b'M', id[0], id[1]]);
    }

    /// Starts a transaction group.
    pub(crate) fn group(&mut self) {
        self.out.push(GS);
    }

    /// `FS id` and a raw value (made printable).
    pub(crate) fn raw(&mut self, id: [u8; 2], value: &[u8]) {
        self.out.extend_from_slice(&[FS, id[0], id[1]]);
        self.out.extend(value.iter().map(|byte| printable(*byte)));
    }

    /// A text field; nothing when the text is empty.
    pub(crate) fn text(&mut self, id: [u8; 2], value: &str) {
        if !value.is_empty() {
            self.out.extend_from_slice(&[FS, id[0], id[1]]);
            self.out.extend(
                value
                    .chars()
                    .map(|ch| u8::try_from(ch).map_or(b'?', printable)),
            );
        }
    }

    pub(crate) fn opt_text(&mut self, id: [u8; 2], value: Option<&str>) {
        if let Some(value) = value {
            self.text(id, value);
        }
    }

    /// Unpadded digits.
    pub(crate) fn number(&mut self, id: [u8; 2], value: u64) {
        self.out.extend_from_slice(&[FS, id[0], id[1]]);
        numbers::write_digits(value, self.out);
    }

    pub(crate) fn opt_number(&mut self, id: [u8; 2], value: Option<u64>) {
        if let Some(value) = value {
            self.number(id, value);
        }
    }

    /// Signed overpunch money (or any overpunched integer).
    pub(crate) fn money(&mut self, id: [u8; 2], value: i64) {
        self.out.extend_from_slice(&[FS, id[0], id[1]]);
        numbers::write_overpunch(value, self.out);
    }

    pub(crate) fn opt_money(&mut self, id: [u8; 2], value: Option<i64>) {
        if let Some(value) = value {
            self.money(id, value);
        }
    }

    pub(crate) fn date(&mut self, id: [u8; 2], value: Option<crate::claim::Date>) {
        if let Some(value) = value {
            self.out.extend_from_slice(&[FS, id[0], id[1]]);
            write_ccyymmdd(value, self.out);
        }
    }
}

/// `CCYYMMDD` without an intermediate string.
fn write_ccyymmdd(date: crate::claim::Date, out: &mut Vec<u8>) {
    let (year, month, day) = date.ymd();
    numbers::write_digits_padded(u64::try_from(year).unwrap_or(0), 4, out);
    numbers::write_digits_padded(u64::from(month), 2, out);
    numbers::write_digits_padded(u64::from(day), 2, out);
}

/// Printable ASCII stays; anything else (separators included) becomes `?`.
fn printable(byte: u8) -> u8 {
    if (0x20..=0x7e).contains(&byte) {
        byte
    } else {
        b'?'
    }
}

// ---- raw messages -------------------------------------------------------------------------

/// Writes a raw message as it stands, byte for byte: header fields padded (or cut) to width,
/// then every segment and field in order (a segment with [`Segment::NO_ID`] is written
/// without its `AM` field). Values are not cleaned — a value holding a separator or control
/// byte is written as is — because producing malformed transmissions is this function's job;
/// a message that came from [`parse`](super::parse()) is reproduced exactly.
pub fn encode_message(message: &Message<'_>, out: &mut Vec<u8>) {
    let mut writer = Writer { out };
    let layout: &[HeaderFieldInfo] = match message.kind {
        Kind::Request => &REQUEST_HEADER,
        Kind::Response => &RESPONSE_HEADER,
    };
    write_header_fields(&mut writer, &message.header, layout);
    write_segments(&mut writer, &message.transmission);
    for group in &message.groups {
        writer.group();
        write_segments(&mut writer, group);
    }
}

fn write_header_fields(writer: &mut Writer<'_>, header: &Header<'_>, layout: &[HeaderFieldInfo]) {
    for info in layout {
        writer.fixed_verbatim(header.by_key(info.key), info.width);
    }
}

fn write_segments(writer: &mut Writer<'_>, segments: &[Segment<'_>]) {
    for segment in segments {
        if segment.has_id() {
            writer.segment(segment.id);
        } else {
            writer.out.push(RS);
        }
        for field in &segment.fields {
            writer.field_verbatim(field.id, field.value);
        }
    }
}

// ---- typed requests -----------------------------------------------------------------------

/// Writes a typed transmission as a D.0 request: header, AM04 Insurance and AM01 Patient
/// (when there is a patient), then per transaction AM07 Claim, AM03 Prescriber (when there
/// is a prescriber id), AM08 DUR/PPS, AM11 Pricing (always for B1/B3, else when it holds
/// something), AM05 COB and AM10 Compound (when non-empty). `validate_request` reads the
/// result back into an equal transmission whenever the transmission is valid.
pub fn encode_request(transmission: &Transmission, out: &mut Vec<u8>) {
    let mut writer = Writer { out };
    write_request_header(&mut writer, &transmission.header);
    if let Some(patient) = &transmission.patient {
        write_patient(&mut writer, patient);
    }
    let code = transmission.header.transaction_code;
    for transaction in &transmission.transactions {
        writer.group();
        write_transaction(&mut writer, transaction, code);
    }
}

fn write_request_header(writer: &mut Writer<'_>, header: &RequestHeader) {
    let count = header.transaction_count.to_string();
    let date = header.date_of_service.to_ccyymmdd();
    let values: [&[u8]; 9] = [
        header.bin.as_bytes(),
        header.version.as_bytes(),
        header.transaction_code.as_str().as_bytes(),
        header.pcn.as_bytes(),
        count.as_bytes(),
        header.provider_id_qualifier.as_bytes(),
        header.provider_id.as_bytes(),
        date.as_bytes(),
        header.software_vendor.as_bytes(),
    ];
    for (value, info) in values.iter().zip(REQUEST_HEADER.iter()) {
        writer.fixed(value, info.width);
    }
}

fn write_patient(writer: &mut Writer<'_>, patient: &Patient) {
    writer.segment(*b"04");
    writer.text(*b"C2", &patient.cardholder_id);
    writer.text(*b"C1", &patient.group_id);
    writer.text(*b"C3", &patient.person_code);
    let has_patient_segment = patient.date_of_birth.is_some()
        || patient.gender.is_some()
        || !patient.first_name.is_empty()
        || !patient.last_name.is_empty();
    if has_patient_segment {
        writer.segment(*b"01");
        writer.date(*b"C4", patient.date_of_birth);
        writer.opt_number(*b"C5", patient.gender.map(u64::from));
        writer.text(*b"CA", &patient.first_name);
        writer.text(*b"CB", &patient.last_name);
    }
}

fn write_transaction(writer: &mut Writer<'_>, t: &Transaction, code: TransactionCode) {
    write_claim(writer, t);
    if !t.prescriber_id.is_empty() {
        writer.segment(*b"03");
        writer.raw(*b"EZ", b"01");
        writer.text(*b"DB", &t.prescriber_id);
    }
    if !t.dur_pps.is_empty() {
        writer.segment(*b"08");
        t.dur_pps.iter().for_each(|dur| write_dur(writer, dur));
    }
    let billing = matches!(code, TransactionCode::B1 | TransactionCode::B3);
    if billing || t.pricing != Pricing::default() {
        write_pricing(writer, &t.pricing);
    }
    if !t.cob.is_empty() {
        write_cob(writer, &t.cob);
    }
    if !t.compound.is_empty() {
        write_compound(writer, &t.compound);
    }
}

fn write_claim(writer: &mut Writer<'_>, t: &Transaction) {
    writer.segment(*b"07");
    writer.raw(*b"EM", b"1");
    writer.out.extend_from_slice(&[FS, b'D', b'2']);
    numbers::write_digits_padded(t.rx_number, 12, writer.out);
    writer.text(*b"E1", &t.product_qualifier);
    writer.text(*b"D7", &t.product_id);
    if t.quantity_milli > 0 {
        writer.number(*b"E7", t.quantity_milli);
    }
    writer.number(*b"D3", u64::from(t.fill_number));
    if t.days_supply > 0 {
        writer.number(*b"D5", u64::from(t.days_supply));
    }
    if t.compound_code != 0 {
        writer.number(*b"D6", u64::from(t.compound_code));
    }
    writer.opt_number(*b"D8", t.daw_code.map(u64::from));
    writer.date(*b"DE", t.date_written);
    writer.opt_number(*b"DF", t.refills_authorized.map(u64::from));
    if !t.clarification_codes.is_empty() {
        writer.number(*b"NX", t.clarification_codes.len() as u64);
        t.clarification_codes
            .iter()
            .for_each(|code| writer.number(*b"DK", u64::from(*code)));
    }
}

fn write_dur(writer: &mut Writer<'_>, dur: &DurPps) {
    writer.number(*b"7E", u64::from(dur.counter));
    writer.opt_text(*b"E4", dur.reason.as_ref().map(|code| code.as_str()));
    writer.opt_text(*b"E5", dur.professional.as_ref().map(|code| code.as_str()));
    writer.opt_text(*b"E6", dur.result.as_ref().map(|code| code.as_str()));
    if let Some(effort) = dur.level_of_effort {
        writer.raw(*b"8E", format!("{effort:02}").as_bytes());
    }
    writer.opt_text(*b"J9", dur.co_agent_qualifier.as_deref());
    writer.opt_text(*b"H6", dur.co_agent_id.as_deref());
}

fn write_pricing(writer: &mut Writer<'_>, pricing: &Pricing) {
    writer.segment(*b"11");
    writer.opt_money(*b"D9", pricing.ingredient_cost_cents);
    writer.opt_money(*b"DC", pricing.dispensing_fee_cents);
    writer.opt_money(*b"DX", pricing.patient_paid_cents);
    writer.opt_money(*b"E3", pricing.incentive_cents);
    if !pricing.other_amounts.is_empty() {
        writer.number(*b"H7", pricing.other_amounts.len() as u64);
        write_amounts(writer, &pricing.other_amounts, [*b"H8", *b"H9"]);
    }
    writer.opt_money(*b"DQ", pricing.usual_and_customary_cents);
    writer.opt_money(*b"DU", pricing.gross_amount_due_cents);
    writer.opt_text(*b"DN", pricing.basis_of_cost.as_deref());
}

/// Qualifier/amount pairs; the qualifier is always written because it starts a repetition.
fn write_amounts(writer: &mut Writer<'_>, amounts: &[QualifiedAmount], ids: [[u8; 2]; 2]) {
    for amount in amounts {
        writer.raw(ids[0], amount.qualifier.as_bytes());
        writer.money(ids[1], amount.cents);
    }
}

fn write_cob(writer: &mut Writer<'_>, payers: &[CobPayer]) {
    writer.segment(*b"05");
    writer.number(*b"4C", payers.len() as u64);
    payers.iter().for_each(|payer| write_payer(writer, payer));
}

fn write_payer(writer: &mut Writer<'_>, payer: &CobPayer) {
    writer.raw(*b"5C", payer.coverage_type.as_bytes());
    writer.text(*b"6C", &payer.id_qualifier);
    writer.text(*b"7C", &payer.id);
    writer.date(*b"E8", payer.date);
    let nested = [
        (&payer.amounts_paid, [*b"HB", *b"HC", *b"DV"]),
        (&payer.patient_responsibility, [*b"NR", *b"NP", *b"NQ"]),
        (&payer.benefit_stages, [*b"MU", *b"MV", *b"MW"]),
    ];
    for (amounts, [count, qualifier, amount]) in nested {
        if !amounts.is_empty() {
            writer.number(count, amounts.len() as u64);
            write_amounts(writer, amounts, [qualifier, amount]);
        }
    }
    if !payer.reject_codes.is_empty() {
        writer.number(*b"5E", payer.reject_codes.len() as u64);
        payer
            .reject_codes
            .iter()
            .for_each(|code| writer.raw(*b"6E", code.as_bytes()));
    }
}

fn write_compound(writer: &mut Writer<'_>, ingredients: &[CompoundIngredient]) {
    writer.segment(*b"10");
    writer.number(*b"EC", ingredients.len() as u64);
    for ingredient in ingredients {
        writer.raw(*b"RE", ingredient.product_qualifier.as_bytes());
        writer.text(*b"TE", &ingredient.product_id);
        writer.number(*b"ED", ingredient.quantity_milli);
        writer.opt_money(*b"EE", ingredient.cost_cents);
        writer.opt_text(*b"UE", ingredient.basis_of_cost.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ncpdp::parse::parse;

    #[test]
    fn raw_messages_round_trip_byte_for_byte() {
        let bytes: &[u8] = b"610011D0B1DGTEST    1011234567893     20260302DGSIM00001\x1e\x1cAM04\x1cC2X\x1d\x1e\x1cAM07\x1cD2000000000001\x1c*1odd\x1e\x1cAM08\x1c7E1\x1cE4DD\x1c7E2";
        let message = parse(bytes).expect("a request");
        let mut out = Vec::new();
        encode_message(&message, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn header_fields_are_padded_and_cut_to_width() {
        let header = Header {
            bin: b"61",
            version: b"D0",
            transaction_code: b"B1",
            provider_id: b"12345678901234567890",
            ..Header::default()
        };
        let message = Message {
            kind: Kind::Request,
            header,
            transmission: vec![],
            groups: vec![],
            problems: vec![],
        };
        let mut out = Vec::new();
        encode_message(&message, &mut out);
        assert_eq!(out.len(), 56);
        assert_eq!(&out[..10], b"61    D0B1");
        assert_eq!(&out[23..38], b"123456789012345");
    }

    #[test]
    fn raw_messages_keep_control_bytes() {
        let bytes: &[u8] =
            b"610011D0B1DGTEST    1011234567893     20260302DGSIM00001\x1e\x1cAM01\x1cCAX\x07\xffY";
        let message = parse(bytes).expect("a request");
        let mut out = Vec::new();
        encode_message(&message, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn typed_values_cannot_forge_separators() {
        let mut out = Vec::new();
        let mut writer = Writer { out: &mut out };
        writer.text(*b"C2", "A\u{1c}B\u{e9}");
        writer.raw(*b"CA", b"X\x1dY");
        assert_eq!(out, b"\x1cC2A?B?\x1cCAX?Y");
    }
}
