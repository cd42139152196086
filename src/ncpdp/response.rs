//! D.0 responses: the typed [`Response`] model, its encoder and its reader, and the mapping
//! of a [`Decision`] onto a response transaction.
//!
//! Tier 2, inside `ncpdp`: the server builds one [`ResponseTransaction`] per request group
//! (from a `Decision` with [`response_transaction`], or from validation problems with
//! [`rejects_from_problems`]), wraps them in a [`Response`] whose header echoes the request
//! ([`ResponseHeader::for_request`]) and writes it with [`encode_response`]. The load
//! generator and the tests read replies back with [`parse_response`];
//! `parse_response(encode_response(r)) == r` holds for every response whose texts are
//! printable ASCII within their field widths and header texts have no trailing spaces.
//!
//! Layout (spec §4, §11): the 31-byte header; at transmission level AM20 Response Message
//! (504-F4), AM25 Response Insurance and AM29 Response Patient; per transaction group AM21
//! Response Status (112-AN, 503-F3, 510-FA count with 511-FB codes each optionally followed by
//! 546-4F, 130-UF count with 132-UH/526-FQ lines), AM22 Response Claim (455-EM, 402-D2), AM23
//! Response Pricing (overpunch amounts) and AM24 Response DUR/PPS (567-J6 counter
//! occurrences). The header's 501-F1 is `A` whenever the transmission was readable;
//! rejection happens per transaction.
//!
//! Must never: write a text wider than its field (texts are cut: 504-F4 to 200, 526-FQ to 40,
//! 544-FY to 30, 570-NS to 100 bytes), write a separator inside a value, or put patient data in a message
//! it composes itself.

use super::encode::Writer;
use super::numbers;
use super::parse::{parse, Field, Header, Kind, Message, Segment};
use super::validate::Problem;
use super::ParseError;
use crate::claim::{Action, Code2, Conflict, Date, Decision, RejectCode, Status};
use crate::limits::{
    ADDITIONAL_MESSAGES_MAX, ADDITIONAL_MESSAGE_BYTES_MAX, DUR_ADDITIONAL_TEXT_BYTES_MAX,
    DUR_MESSAGE_BYTES_MAX, DUR_PPS_OCCURRENCES_MAX, REJECT_CODES_MAX, RESPONSE_MESSAGE_BYTES_MAX,
};

/// 503-F3 authorization number width.
const AUTHORIZATION_BYTES_MAX: usize = 20;
/// 532-FW database indicator the gateway sends: `4` processor developed (its own open tables).
const DATABASE_PROCESSOR_DEVELOPED: u8 = 4;

// ---- the model ----------------------------------------------------------------------------

/// 501-F1 header response status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HeaderStatus {
    /// `A`: the transmission was readable (transactions may still be rejected).
    Accepted,
    /// `R`: the transmission as a whole is refused.
    Rejected,
}

impl HeaderStatus {
    /// The 501-F1 byte.
    pub fn code(self) -> u8 {
        match self {
            HeaderStatus::Accepted => b'A',
            HeaderStatus::Rejected => b'R',
        }
    }
}

/// The 31-byte response header. Texts are kept without trailing spaces.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ResponseHeader {
    /// 103-A3, echoed from the request (kept as text: a bad code is echoed too).
    pub transaction_code: String,
    /// 109-A9: the number of response groups that follow.
    pub transaction_count: u8,
    pub status: HeaderStatus,
    pub provider_id_qualifier: String,
    pub provider_id: String,
    /// 401-D1 as the request sent it (CCYYMMDD, echoed even when invalid).
    pub date_of_service: String,
}

impl ResponseHeader {
    /// The header answering a readable request: echoes code, provider and date, status `A`.
    pub fn for_request(request: &Header<'_>, transaction_count: u8) -> ResponseHeader {
        ResponseHeader {
            transaction_code: trimmed_text(request.transaction_code),
            transaction_count,
            status: HeaderStatus::Accepted,
            provider_id_qualifier: trimmed_text(request.provider_id_qualifier),
            provider_id: trimmed_text(request.provider_id),
            date_of_service: trimmed_text(request.date_of_service),
        }
    }
}

/// A whole response.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Response {
    pub header: ResponseHeader,
    /// AM20 504-F4.
    pub message: Option<String>,
    /// AM25.
    pub insurance: Option<ResponseInsurance>,
    /// AM29.
    pub patient: Option<ResponsePatient>,
    /// One per request group, in order.
    pub transactions: Vec<ResponseTransaction>,
}

/// AM25 Response Insurance; empty texts are not sent. `Debug` redacts the cardholder id.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ResponseInsurance {
    /// 301-C1.
    pub group_id: String,
    /// 524-FO.
    pub plan_id: String,
    /// 545-2F.
    pub network_reimbursement_id: String,
    /// 568-J7.
    pub payer_id_qualifier: String,
    /// 569-J8.
    pub payer_id: String,
    /// 302-C2.
    pub cardholder_id: String,
}

impl std::fmt::Debug for ResponseInsurance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseInsurance")
            .field("group_id", &self.group_id)
            .field("plan_id", &self.plan_id)
            .field("network_reimbursement_id", &self.network_reimbursement_id)
            .field("payer_id_qualifier", &self.payer_id_qualifier)
            .field("payer_id", &self.payer_id)
            .field("cardholder_id", &"<redacted>")
            .finish()
    }
}

/// AM29 Response Patient. PHI: `Debug` redacts.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ResponsePatient {
    /// 310-CA.
    pub first_name: String,
    /// 311-CB.
    pub last_name: String,
    /// 304-C4.
    pub date_of_birth: Option<Date>,
}

impl std::fmt::Debug for ResponsePatient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponsePatient(<redacted>)")
    }
}

/// One response transaction group.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ResponseTransaction {
    /// 112-AN.
    pub status: Status,
    /// 503-F3.
    pub authorization: Option<String>,
    /// 511-FB codes with their 546-4F occurrences (510-FA is their number).
    pub rejects: Vec<ResponseReject>,
    /// 132-UH/526-FQ lines (130-UF is their number).
    pub messages: Vec<AdditionalMessage>,
    /// AM22.
    pub claim: Option<ResponseClaim>,
    /// AM23.
    pub pricing: Option<ResponsePricing>,
    /// AM24 occurrences, counters 1, 2, 3...
    pub dur: Vec<ResponseDur>,
}

/// One 511-FB reject code and the repetition it names (546-4F).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct ResponseReject {
    pub code: RejectCode,
    pub occurrence: Option<u8>,
}

/// One 132-UH qualifier + 526-FQ text line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AdditionalMessage {
    pub qualifier: String,
    pub text: String,
}

/// AM22 Response Claim (455-EM is always `1`, Rx billing).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ResponseClaim {
    /// 402-D2.
    pub rx_number: u64,
}

/// AM23 Response Pricing, amounts in cents.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ResponsePricing {
    /// 505-F5.
    pub patient_pay_cents: Option<i64>,
    /// 506-F6.
    pub ingredient_cost_paid_cents: Option<i64>,
    /// 507-F7.
    pub dispensing_fee_paid_cents: Option<i64>,
    /// 521-FL.
    pub incentive_paid_cents: Option<i64>,
    /// 518-FI.
    pub copay_cents: Option<i64>,
    /// 509-F9.
    pub total_paid_cents: Option<i64>,
    /// 522-FM basis of reimbursement determination, 9(2).
    pub basis_of_reimbursement: Option<u8>,
}

/// One AM24 occurrence.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ResponseDur {
    /// 567-J6.
    pub counter: u8,
    /// 439-E4.
    pub reason: Option<Code2>,
    /// 528-FS: 1 major, 2 moderate, 3 minor, 9 undetermined.
    pub clinical_significance: Option<u8>,
    /// 529-FT.
    pub other_pharmacy: Option<u8>,
    /// 530-FU.
    pub previous_fill_date: Option<Date>,
    /// 531-FV, milli-units.
    pub previous_quantity_milli: Option<u64>,
    /// 532-FW.
    pub database_indicator: Option<u8>,
    /// 533-FX.
    pub other_prescriber: Option<u8>,
    /// 544-FY, at most 30 bytes on the wire.
    pub message: String,
    /// 570-NS, at most 100 bytes on the wire (empty: not sent).
    pub additional_text: String,
}

// ---- from a decision ----------------------------------------------------------------------

/// The response transaction for an adjudicated claim: status, authorization, reject codes,
/// the decision's message as 526-FQ lines, the Rx number in AM22 and one AM24 occurrence
/// per conflict (at most nine: unresolved rejecting conflicts first, then warnings, then
/// overridden ones, each group in edit order).
pub fn response_transaction(
    decision: &Decision,
    rx_number: Option<u64>,
    authorization: Option<&str>,
) -> ResponseTransaction {
    let rejects = decision.reject_codes.iter().take(REJECT_CODES_MAX);
    ResponseTransaction {
        status: decision.status,
        authorization: authorization.map(|text| fit_text(text, AUTHORIZATION_BYTES_MAX)),
        rejects: rejects
            .map(|code| ResponseReject {
                code: *code,
                occurrence: None,
            })
            .collect(),
        messages: decision
            .message
            .as_deref()
            .map(message_lines)
            .unwrap_or_default(),
        claim: rx_number.map(|rx_number| ResponseClaim { rx_number }),
        pricing: None,
        dur: dur_occurrences(&decision.conflicts),
    }
}

impl ResponseTransaction {
    /// A rejected transaction carrying only these rejects (e.g. from
    /// [`rejects_from_problems`] for a transaction that failed validation).
    pub fn rejected(rejects: Vec<ResponseReject>) -> ResponseTransaction {
        ResponseTransaction {
            status: Status::Rejected,
            authorization: None,
            rejects,
            messages: Vec::new(),
            claim: None,
            pricing: None,
            dur: Vec::new(),
        }
    }
}

/// Distinct (code, occurrence) rejects for a list of validation problems, at most
/// `REJECT_CODES_MAX`, in order found.
pub fn rejects_from_problems<'p>(
    problems: impl IntoIterator<Item = &'p Problem>,
) -> Vec<ResponseReject> {
    let mut rejects: Vec<ResponseReject> = Vec::new();
    for problem in problems {
        let reject = ResponseReject {
            code: problem.reject_code,
            occurrence: problem.occurrence,
        };
        if !rejects.contains(&reject) && rejects.len() < REJECT_CODES_MAX {
            rejects.push(reject);
        }
    }
    rejects
}

/// A message as 40-byte 526-FQ lines with 132-UH `01`, `02`... (at most nine lines).
fn message_lines(message: &str) -> Vec<AdditionalMessage> {
    let text = fit_text(
        message,
        ADDITIONAL_MESSAGE_BYTES_MAX * ADDITIONAL_MESSAGES_MAX,
    );
    let chunks = text.as_bytes().chunks(ADDITIONAL_MESSAGE_BYTES_MAX);
    chunks
        .enumerate()
        .map(|(index, chunk)| AdditionalMessage {
            qualifier: format!("{:02}", index + 1),
            text: chunk.iter().map(|byte| char::from(*byte)).collect(),
        })
        .collect()
}

fn dur_occurrences(conflicts: &[Conflict]) -> Vec<ResponseDur> {
    let mut ordered: Vec<&Conflict> = conflicts.iter().collect();
    ordered.sort_by_key(|conflict| reply_priority(conflict));
    let kept = ordered
        .into_iter()
        .take(DUR_PPS_OCCURRENCES_MAX)
        .enumerate();
    kept.map(|(index, conflict)| dur_occurrence(index as u8 + 1, conflict))
        .collect()
}

/// 0 unresolved reject, 1 warning, 2 overridden.
fn reply_priority(conflict: &Conflict) -> u8 {
    match (conflict.overridden_by, conflict.action) {
        (Some(_), _) => 2,
        (None, Action::Warn) => 1,
        (None, Action::Reject) => 0,
    }
}

fn dur_occurrence(counter: u8, conflict: &Conflict) -> ResponseDur {
    ResponseDur {
        counter,
        reason: Some(conflict.reason),
        clinical_significance: Some(conflict.clinical_significance),
        other_pharmacy: Some(conflict.other_pharmacy),
        previous_fill_date: conflict.previous_fill_date,
        previous_quantity_milli: conflict.previous_quantity_milli,
        database_indicator: Some(DATABASE_PROCESSOR_DEVELOPED),
        other_prescriber: Some(conflict.other_prescriber),
        message: fit_text(&conflict.message, DUR_MESSAGE_BYTES_MAX),
        additional_text: conflict
            .remembered_from
            .map(|date| format!("previously overridden {date}"))
            .unwrap_or_default(),
    }
}

/// Printable ASCII (anything else becomes `?`), cut to `bytes_max` bytes.
pub fn fit_text(text: &str, bytes_max: usize) -> String {
    let printable = |ch: char| if (' '..='~').contains(&ch) { ch } else { '?' };
    text.chars().take(bytes_max).map(printable).collect()
}

// ---- encoding -----------------------------------------------------------------------------

/// Writes a response: header, transmission-level segments, then one group per transaction.
pub fn encode_response(response: &Response, out: &mut Vec<u8>) {
    let mut writer = Writer { out };
    write_header(&mut writer, &response.header);
    if let Some(message) = &response.message {
        writer.segment(*b"20");
        writer.raw(
            *b"F4",
            fit_text(message, RESPONSE_MESSAGE_BYTES_MAX).as_bytes(),
        );
    }
    if let Some(insurance) = &response.insurance {
        write_insurance(&mut writer, insurance);
    }
    if let Some(patient) = &response.patient {
        writer.segment(*b"29");
        writer.text(*b"CA", &patient.first_name);
        writer.text(*b"CB", &patient.last_name);
        writer.date(*b"C4", patient.date_of_birth);
    }
    for transaction in &response.transactions {
        writer.group();
        write_transaction(&mut writer, transaction);
    }
}

fn write_header(writer: &mut Writer<'_>, header: &ResponseHeader) {
    writer.fixed(b"D0", 2);
    writer.fixed(header.transaction_code.as_bytes(), 2);
    writer.out.push(b'0' + header.transaction_count.min(9));
    writer.out.push(header.status.code());
    writer.fixed(header.provider_id_qualifier.as_bytes(), 2);
    writer.fixed(header.provider_id.as_bytes(), 15);
    writer.fixed(header.date_of_service.as_bytes(), 8);
}

fn write_insurance(writer: &mut Writer<'_>, insurance: &ResponseInsurance) {
    writer.segment(*b"25");
    writer.text(*b"C1", &insurance.group_id);
    writer.text(*b"FO", &insurance.plan_id);
    writer.text(*b"2F", &insurance.network_reimbursement_id);
    writer.text(*b"J7", &insurance.payer_id_qualifier);
    writer.text(*b"J8", &insurance.payer_id);
    writer.text(*b"C2", &insurance.cardholder_id);
}

fn write_transaction(writer: &mut Writer<'_>, transaction: &ResponseTransaction) {
    write_status(writer, transaction);
    if let Some(claim) = &transaction.claim {
        writer.segment(*b"22");
        writer.raw(*b"EM", b"1");
        writer.out.extend_from_slice(&[super::FS, b'D', b'2']);
        numbers::write_digits_padded(claim.rx_number, 12, writer.out);
    }
    if let Some(pricing) = &transaction.pricing {
        write_pricing(writer, pricing);
    }
    if !transaction.dur.is_empty() {
        writer.segment(*b"24");
        transaction
            .dur
            .iter()
            .take(DUR_PPS_OCCURRENCES_MAX)
            .for_each(|dur| write_dur(writer, dur));
    }
}

fn write_status(writer: &mut Writer<'_>, transaction: &ResponseTransaction) {
    writer.segment(*b"21");
    writer.raw(*b"AN", &[transaction.status.code()]);
    if let Some(authorization) = &transaction.authorization {
        writer.raw(
            *b"F3",
            fit_text(authorization, AUTHORIZATION_BYTES_MAX).as_bytes(),
        );
    }
    let rejects = transaction
        .rejects
        .get(..REJECT_CODES_MAX)
        .unwrap_or(&transaction.rejects);
    if !rejects.is_empty() {
        writer.number(*b"FA", rejects.len() as u64);
        rejects
            .iter()
            .for_each(|reject| write_reject(writer, reject));
    }
    let messages = transaction
        .messages
        .get(..ADDITIONAL_MESSAGES_MAX)
        .unwrap_or(&transaction.messages);
    if !messages.is_empty() {
        writer.number(*b"UF", messages.len() as u64);
        for message in messages {
            writer.raw(*b"UH", fit_text(&message.qualifier, 2).as_bytes());
            writer.text(
                *b"FQ",
                &fit_text(&message.text, ADDITIONAL_MESSAGE_BYTES_MAX),
            );
        }
    }
}

fn write_reject(writer: &mut Writer<'_>, reject: &ResponseReject) {
    writer.raw(*b"FB", reject.code.as_str().as_bytes());
    if let Some(occurrence) = reject.occurrence {
        writer.raw(*b"4F", format!("{occurrence:02}").as_bytes());
    }
}

fn write_pricing(writer: &mut Writer<'_>, pricing: &ResponsePricing) {
    writer.segment(*b"23");
    writer.opt_money(*b"F5", pricing.patient_pay_cents);
    writer.opt_money(*b"F6", pricing.ingredient_cost_paid_cents);
    writer.opt_money(*b"F7", pricing.dispensing_fee_paid_cents);
    writer.opt_money(*b"FL", pricing.incentive_paid_cents);
    writer.opt_money(*b"FI", pricing.copay_cents);
    writer.opt_money(*b"F9", pricing.total_paid_cents);
    if let Some(basis) = pricing.basis_of_reimbursement {
        writer.raw(*b"FM", format!("{basis:02}").as_bytes());
    }
}

fn write_dur(writer: &mut Writer<'_>, dur: &ResponseDur) {
    writer.number(*b"J6", u64::from(dur.counter));
    writer.opt_text(*b"E4", dur.reason.as_ref().map(Code2::as_str));
    writer.opt_number(*b"FS", dur.clinical_significance.map(u64::from));
    writer.opt_number(*b"FT", dur.other_pharmacy.map(u64::from));
    writer.date(*b"FU", dur.previous_fill_date);
    writer.opt_number(*b"FV", dur.previous_quantity_milli);
    writer.opt_number(*b"FW", dur.database_indicator.map(u64::from));
    writer.opt_number(*b"FX", dur.other_prescriber.map(u64::from));
    writer.text(*b"FY", &fit_text(&dur.message, DUR_MESSAGE_BYTES_MAX));
    let additional = fit_text(&dur.additional_text, DUR_ADDITIONAL_TEXT_BYTES_MAX);
    writer.text(*b"NS", &additional);
}

// ---- reading ------------------------------------------------------------------------------

/// Reads a response transmission into the typed model. Unknown segments and fields are
/// skipped; anything the model cannot represent faithfully (a structural flaw, a missing
/// AM21, a count that disagrees with its repetitions, a non-printable text) is an error.
pub fn parse_response(bytes: &[u8]) -> Result<Response, ParseError> {
    let message = parse(bytes)?;
    if message.kind != Kind::Response {
        return Err(ParseError::WrongKind {
            expected: Kind::Response,
        });
    }
    if let Some(problem) = message.problems.first() {
        return Err(bad("structure", problem.structure.describe()));
    }
    read_response(&message)
}

fn bad(at: &str, reason: &'static str) -> ParseError {
    ParseError::Response {
        at: at.to_owned(),
        reason,
    }
}

fn read_response(message: &Message<'_>) -> Result<Response, ParseError> {
    let mut response = Response {
        header: read_header(&message.header)?,
        message: None,
        insurance: None,
        patient: None,
        transactions: Vec::with_capacity(message.groups.len()),
    };
    for segment in &message.transmission {
        read_transmission_segment(segment, &mut response)?;
    }
    for group in &message.groups {
        response.transactions.push(read_group(group)?);
    }
    Ok(response)
}

fn read_header(header: &Header<'_>) -> Result<ResponseHeader, ParseError> {
    let transaction_count = numbers::digits(header.transaction_count, 1)
        .ok_or_else(|| bad("header 109-A9", "not a digit"))?;
    let status = match header.response_status {
        b"A" => HeaderStatus::Accepted,
        b"R" => HeaderStatus::Rejected,
        _ => return Err(bad("header 501-F1", "not A or R")),
    };
    Ok(ResponseHeader {
        transaction_code: trimmed_text(header.transaction_code),
        transaction_count: transaction_count as u8,
        status,
        provider_id_qualifier: trimmed_text(header.provider_id_qualifier),
        provider_id: trimmed_text(header.provider_id),
        date_of_service: trimmed_text(header.date_of_service),
    })
}

fn read_transmission_segment(
    segment: &Segment<'_>,
    response: &mut Response,
) -> Result<(), ParseError> {
    match &segment.id {
        b"20" => {
            response.message = segment
                .first(*b"F4")
                .map(|v| value_text(v, "AM20 F4"))
                .transpose()?
        }
        b"25" => response.insurance = Some(read_insurance(segment)?),
        b"29" => response.patient = Some(read_patient(segment)?),
        _ => {}
    }
    Ok(())
}

fn read_insurance(segment: &Segment<'_>) -> Result<ResponseInsurance, ParseError> {
    let text = |id: [u8; 2]| optional_text(segment, id).map(Option::unwrap_or_default);
    Ok(ResponseInsurance {
        group_id: text(*b"C1")?,
        plan_id: text(*b"FO")?,
        network_reimbursement_id: text(*b"2F")?,
        payer_id_qualifier: text(*b"J7")?,
        payer_id: text(*b"J8")?,
        cardholder_id: text(*b"C2")?,
    })
}

fn read_patient(segment: &Segment<'_>) -> Result<ResponsePatient, ParseError> {
    Ok(ResponsePatient {
        first_name: optional_text(segment, *b"CA")?.unwrap_or_default(),
        last_name: optional_text(segment, *b"CB")?.unwrap_or_default(),
        date_of_birth: optional_date(segment.first(*b"C4"), "AM29 C4")?,
    })
}

fn read_group(group: &[Segment<'_>]) -> Result<ResponseTransaction, ParseError> {
    let find = |id: &[u8; 2]| group.iter().find(|segment| &segment.id == id);
    let status = find(b"21").ok_or_else(|| bad("group", "no AM21 Response Status"))?;
    let mut transaction = read_status(status)?;
    if let Some(claim) = find(b"22") {
        let rx_number = claim.first(*b"D2").and_then(|v| numbers::digits(v, 12));
        let rx_number = rx_number.ok_or_else(|| bad("AM22 D2", "not 1 to 12 digits"))?;
        transaction.claim = Some(ResponseClaim { rx_number });
    }
    transaction.pricing = find(b"23").map(read_pricing).transpose()?;
    if let Some(dur) = find(b"24") {
        transaction.dur = read_dur(dur)?;
    }
    Ok(transaction)
}

fn read_status(segment: &Segment<'_>) -> Result<ResponseTransaction, ParseError> {
    let status_code = segment.first(*b"AN").and_then(|value| match value {
        [code] => Status::from_code(*code),
        _ => None,
    });
    let mut transaction = ResponseTransaction {
        status: status_code.ok_or_else(|| bad("AM21 AN", "not a known 112-AN status"))?,
        authorization: optional_text(segment, *b"F3")?,
        rejects: Vec::new(),
        messages: Vec::new(),
        claim: None,
        pricing: None,
        dur: Vec::new(),
    };
    for field in &segment.fields {
        read_status_field(field, &mut transaction)?;
    }
    check_response_count(segment.first(*b"FA"), transaction.rejects.len(), "AM21 FA")?;
    check_response_count(segment.first(*b"UF"), transaction.messages.len(), "AM21 UF")?;
    Ok(transaction)
}

fn read_status_field(
    field: &Field<'_>,
    transaction: &mut ResponseTransaction,
) -> Result<(), ParseError> {
    match &field.id {
        b"FB" if transaction.rejects.len() < REJECT_CODES_MAX => {
            let code = RejectCode::parse(field.value)
                .ok_or_else(|| bad("AM21 FB", "not a 2- or 3-character code"))?;
            transaction.rejects.push(ResponseReject {
                code,
                occurrence: None,
            });
        }
        b"FB" => return Err(bad("AM21 FB", "more reject codes than the limit")),
        b"4F" => {
            let last = transaction
                .rejects
                .last_mut()
                .ok_or_else(|| bad("AM21 4F", "before any 511-FB"))?;
            let occurrence = numbers::digits(field.value, 2)
                .ok_or_else(|| bad("AM21 4F", "not 1 or 2 digits"))?;
            last.occurrence = Some(occurrence as u8);
        }
        b"UH" if transaction.messages.len() < ADDITIONAL_MESSAGES_MAX => {
            let qualifier = value_text(field.value, "AM21 UH")?;
            transaction.messages.push(AdditionalMessage {
                qualifier,
                text: String::new(),
            });
        }
        b"UH" => return Err(bad("AM21 UH", "more message lines than the limit")),
        b"FQ" => {
            let last = transaction
                .messages
                .last_mut()
                .ok_or_else(|| bad("AM21 FQ", "before any 132-UH"))?;
            last.text = value_text(field.value, "AM21 FQ")?;
        }
        _ => {}
    }
    Ok(())
}

fn check_response_count(count: Option<&[u8]>, sent: usize, at: &str) -> Result<(), ParseError> {
    let declared = match count {
        None => 0,
        Some(value) => {
            numbers::digits(value, 2).ok_or_else(|| bad(at, "count is not 1 or 2 digits"))?
        }
    };
    if declared != sent as u64 {
        return Err(bad(at, "count does not match the repetitions sent"));
    }
    Ok(())
}

fn read_pricing(segment: &Segment<'_>) -> Result<ResponsePricing, ParseError> {
    let amount = |id: [u8; 2]| match segment.first(id) {
        None => Ok(None),
        Some(value) => numbers::overpunch(value, 8)
            .map(Some)
            .ok_or_else(|| bad("AM23", "amount is not signed overpunch")),
    };
    let basis = segment
        .first(*b"FM")
        .map(|value| numbers::digits(value, 2).ok_or_else(|| bad("AM23 FM", "not 1 or 2 digits")));
    Ok(ResponsePricing {
        patient_pay_cents: amount(*b"F5")?,
        ingredient_cost_paid_cents: amount(*b"F6")?,
        dispensing_fee_paid_cents: amount(*b"F7")?,
        incentive_paid_cents: amount(*b"FL")?,
        copay_cents: amount(*b"FI")?,
        total_paid_cents: amount(*b"F9")?,
        basis_of_reimbursement: basis.transpose()?.map(|value| value as u8),
    })
}

fn read_dur(segment: &Segment<'_>) -> Result<Vec<ResponseDur>, ParseError> {
    let mut occurrences: Vec<ResponseDur> = Vec::new();
    for field in &segment.fields {
        if &field.id == b"J6" {
            let counter =
                numbers::digits(field.value, 1).ok_or_else(|| bad("AM24 J6", "not a digit"))?;
            if counter != occurrences.len() as u64 + 1
                || occurrences.len() == DUR_PPS_OCCURRENCES_MAX
            {
                return Err(bad("AM24 J6", "counter out of sequence"));
            }
            occurrences.push(ResponseDur {
                counter: counter as u8,
                ..ResponseDur::default()
            });
            continue;
        }
        if let Some(current) = occurrences.last_mut() {
            read_dur_field(field, current)?;
        } else if is_response_dur_field(field.id) {
            return Err(bad("AM24", "DUR field before any 567-J6"));
        }
    }
    Ok(occurrences)
}

fn is_response_dur_field(id: [u8; 2]) -> bool {
    matches!(
        &id,
        b"E4" | b"FS" | b"FT" | b"FU" | b"FV" | b"FW" | b"FX" | b"FY" | b"NS"
    )
}

fn read_dur_field(field: &Field<'_>, dur: &mut ResponseDur) -> Result<(), ParseError> {
    let digit = |at: &str| {
        numbers::digits(field.value, 1)
            .map(|value| Some(value as u8))
            .ok_or_else(|| bad(at, "not a digit"))
    };
    match &field.id {
        b"E4" => {
            dur.reason = Some(
                Code2::parse(field.value)
                    .ok_or_else(|| bad("AM24 E4", "not a 2-character code"))?,
            )
        }
        b"FS" => dur.clinical_significance = digit("AM24 FS")?,
        b"FT" => dur.other_pharmacy = digit("AM24 FT")?,
        b"FU" => dur.previous_fill_date = optional_date(Some(field.value), "AM24 FU")?,
        b"FV" => {
            dur.previous_quantity_milli = Some(
                numbers::digits(field.value, 10).ok_or_else(|| bad("AM24 FV", "not a quantity"))?,
            )
        }
        b"FW" => dur.database_indicator = digit("AM24 FW")?,
        b"FX" => dur.other_prescriber = digit("AM24 FX")?,
        b"FY" => dur.message = value_text(field.value, "AM24 FY")?,
        b"NS" => dur.additional_text = value_text(field.value, "AM24 NS")?,
        _ => {}
    }
    Ok(())
}

// ---- small readers ------------------------------------------------------------------------

/// A header text without its padding.
fn trimmed_text(value: &[u8]) -> String {
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

/// A segment value as text: printable ASCII only, kept exactly (no trimming).
fn value_text(value: &[u8], at: &str) -> Result<String, ParseError> {
    if value.iter().all(|byte| (0x20..=0x7e).contains(byte)) {
        Ok(value.iter().map(|byte| char::from(*byte)).collect())
    } else {
        Err(bad(at, "text holds a non-printable byte"))
    }
}

fn optional_text(segment: &Segment<'_>, id: [u8; 2]) -> Result<Option<String>, ParseError> {
    segment
        .first(id)
        .map(|value| value_text(value, "text field"))
        .transpose()
}

fn optional_date(value: Option<&[u8]>, at: &str) -> Result<Option<Date>, ParseError> {
    value
        .map(|value| Date::parse_ccyymmdd(value).ok_or_else(|| bad(at, "not a CCYYMMDD date")))
        .transpose()
}

#[cfg(test)]
mod tests;
