//! Readable dump and JSON of a transmission, with NCPDP field names and every problem.
//!
//! Tier 2, inside `ncpdp`: used by `durgate decode`, the golden sample files and anyone
//! debugging a transmission. [`decode`] reads any D.0 bytes (request: parse + validate;
//! response: parse + [`parse_response`]) into a [`Decoded`], which renders as text
//! ([`Decoded::text`]) or as one JSON object ([`Decoded::json`]) of the shape
//!
//! ```text
//! {"kind":"request"|"response","header":{...named header fields...},
//!  "transmission":[SEG...],"transactions":[[SEG...],...],
//!  "problems":[{"reject_code":"21","field":"D7","message":"..."}]}
//! SEG = {"segment":"AM07","fields":[["D7","..."],["E7","..."],...]}
//! ```
//!
//! Fields keep their order and repeats. In the text dump an implied-decimal money, rate or
//! quantity that decodes is followed by its value (`125{ (12.50)`, `30000 (30.000)`). Bytes are shown losslessly: in the text dump control
//! bytes, bytes above 0x7E, backslashes and trailing spaces are escaped (`\x1c`, `\\`,
//! `\x20`); in JSON each byte is the character of the same number (so 0x1C is `\u001c`).
//! Header values are shown without their padding in the text dump, exactly in JSON. A
//! problem of a transaction says so at the start of its message (`transaction 2: ...`).
//!
//! Must never: be used for logs — a dump shows patient identifiers, names and dates of
//! birth exactly as sent. It is for an operator's terminal and for synthetic samples.

use super::fields::{self, Format, HeaderFieldInfo, REQUEST_HEADER, RESPONSE_HEADER};
use super::numbers;
use super::parse::{parse, Kind, Message, Place, Segment};
use super::response::parse_response;
use super::validate::{validate_request, Problem, ProblemKind};
use super::ParseError;
use serde::ser::{Serialize, Serializer};
use std::fmt::Write as _;

/// A transmission read for display: the raw message and every problem with its place.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    pub message: Message<'a>,
    pub problems: Vec<(Place, Problem)>,
}

/// Reads any D.0 transmission for display. `Err` only when it is not D.0 at all.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, ParseError> {
    let message = parse(bytes)?;
    let problems = match message.kind {
        Kind::Request => validate_request(&message)
            .problems()
            .map(|(place, problem)| (place, problem.clone()))
            .collect(),
        Kind::Response => response_problems(&message, bytes),
    };
    Ok(Decoded { message, problems })
}

/// A response's structural flaws, or else why the typed reader refuses it.
fn response_problems(message: &Message<'_>, bytes: &[u8]) -> Vec<(Place, Problem)> {
    let structural = message.problems.iter().map(|problem| {
        let kind = ProblemKind::of_structure(problem.structure);
        (
            problem.place,
            Problem::new(kind, None, problem.structure.describe().to_owned()),
        )
    });
    let mut problems: Vec<(Place, Problem)> = structural.collect();
    if let (true, Err(error)) = (problems.is_empty(), parse_response(bytes)) {
        let problem = Problem::new(ProblemKind::Syntax, None, error.to_string());
        problems.push((Place::Transmission, problem));
    }
    problems
}

impl Decoded<'_> {
    /// The distinct reject codes of all problems, sorted.
    pub fn reject_codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self
            .problems
            .iter()
            .map(|(_, p)| p.reject_code.to_string())
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }

    /// The readable dump, one line per header field, field and problem.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(4096);
        let message = &self.message;
        let _ = writeln!(out, "D.0 {}", message.kind.as_str());
        for info in header_layout(message.kind) {
            let value = escape(trim_end(message.header.by_key(info.key)));
            let _ = writeln!(
                out,
                "header {} {} ={}",
                info.number,
                info.name,
                spaced(&value)
            );
        }
        write_segments(&mut out, &message.transmission);
        for (index, group) in message.groups.iter().enumerate() {
            let _ = writeln!(out, "-- transaction {}", index + 1);
            write_segments(&mut out, group);
        }
        write_problems(&mut out, &self.problems);
        out
    }

    /// The JSON object (one line, no trailing newline).
    pub fn json(&self) -> String {
        let message = &self.message;
        let header = HeaderJson {
            layout: header_layout(message.kind),
            message,
        };
        let document = DocumentJson {
            kind: message.kind.as_str(),
            header,
            transmission: message.transmission.iter().map(SegmentJson::from).collect(),
            transactions: message
                .groups
                .iter()
                .map(|group| group.iter().map(SegmentJson::from).collect())
                .collect(),
            problems: self.problems.iter().map(ProblemJson::from).collect(),
        };
        serde_json::to_string(&document).unwrap_or_default()
    }
}

fn header_layout(kind: Kind) -> &'static [HeaderFieldInfo] {
    match kind {
        Kind::Request => &REQUEST_HEADER,
        Kind::Response => &RESPONSE_HEADER,
    }
}

// ---- text ---------------------------------------------------------------------------------

fn write_segments(out: &mut String, segments: &[Segment<'_>]) {
    for segment in segments {
        let title = segment_title(segment);
        if segment.fields.is_empty() {
            let _ = writeln!(out, "{title} (no fields)");
        }
        for field in &segment.fields {
            let name = field_title(segment.id, field.id);
            let value = spaced(&escape(field.value));
            let decoded = decoded_number(segment.id, field.id, field.value).unwrap_or_default();
            let _ = writeln!(out, "{title} / {name} ={value}{decoded}");
        }
    }
}

/// ` (12.50)` for an implied-decimal money, rate or quantity field that decodes.
fn decoded_number(segment: [u8; 2], field: [u8; 2], value: &[u8]) -> Option<String> {
    let (number, decimals) = match fields::field(segment, field)?.format {
        Format::Signed { digits, decimals } => {
            (numbers::overpunch(value, usize::from(digits))?, decimals)
        }
        Format::Unsigned { digits, decimals } => (
            i64::try_from(numbers::digits(value, usize::from(digits))?).ok()?,
            decimals,
        ),
        Format::Alnum(_) | Format::Digits(_) => return None,
    };
    Some(format!(" ({})", with_decimals(number, decimals)))
}

/// `-1231` with 2 decimals → `-12.31`.
fn with_decimals(number: i64, decimals: u8) -> String {
    let scale = 10u64.pow(u32::from(decimals));
    let magnitude = number.unsigned_abs();
    let sign = if number < 0 { "-" } else { "" };
    let width = usize::from(decimals);
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale)
}

fn segment_title(segment: &Segment<'_>) -> String {
    if !segment.has_id() {
        return "(no segment id)".to_owned();
    }
    let name = fields::segment(segment.id).map_or("(unknown segment)", |info| info.name);
    format!("AM{} {name}", escape(&segment.id))
}

fn field_title(segment: [u8; 2], field: [u8; 2]) -> String {
    match fields::field(segment, field) {
        Some(info) => format!("{} {} {}", escape(&field), info.number, info.name),
        None => format!("{} (not in this segment's field list)", escape(&field)),
    }
}

fn write_problems(out: &mut String, problems: &[(Place, Problem)]) {
    if problems.is_empty() {
        out.push_str("no problems\n");
    }
    for (place, problem) in problems {
        let field = problem
            .field
            .map(|id| format!(" {}", escape(&id)))
            .unwrap_or_default();
        let occurrence = problem
            .occurrence
            .map(|n| format!("#{n}"))
            .unwrap_or_default();
        let where_ = match place {
            Place::Transmission => "transmission".to_owned(),
            Place::Transaction(index) => format!("transaction {}", index + 1),
        };
        let _ = writeln!(
            out,
            "problem {}{field}{occurrence} ({where_}): {}",
            problem.reject_code, problem.message
        );
    }
}

/// ` value`, or nothing for an empty value (no trailing space in the dump).
fn spaced(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!(" {value}")
    }
}

fn trim_end(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .rposition(|byte| *byte != b' ')
        .map_or(0, |last| last + 1);
    value.get(..end).unwrap_or_default()
}

/// Printable ASCII as is; control bytes, bytes above 0x7E and trailing spaces as `\xNN`;
/// the backslash as `\\`.
fn escape(value: &[u8]) -> String {
    let kept = trim_end(value).len();
    let mut out = String::with_capacity(value.len());
    for (index, byte) in value.iter().enumerate() {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b' ' if index >= kept => out.push_str("\\x20"),
            0x20..=0x7e => out.push(char::from(*byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out
}

// ---- JSON ---------------------------------------------------------------------------------

/// Each byte as the character of the same number: lossless, valid UTF-8.
fn latin1(value: &[u8]) -> String {
    value.iter().map(|byte| char::from(*byte)).collect()
}

#[derive(serde::Serialize)]
struct DocumentJson<'m> {
    kind: &'static str,
    header: HeaderJson<'m>,
    transmission: Vec<SegmentJson>,
    transactions: Vec<Vec<SegmentJson>>,
    problems: Vec<ProblemJson>,
}

/// The header as an object of named fields in wire order.
struct HeaderJson<'m> {
    layout: &'static [HeaderFieldInfo],
    message: &'m Message<'m>,
}

impl Serialize for HeaderJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let header = &self.message.header;
        serializer.collect_map(
            self.layout
                .iter()
                .map(|info| (info.key, latin1(header.by_key(info.key)))),
        )
    }
}

#[derive(serde::Serialize)]
struct SegmentJson {
    /// `AM07`, or null for a segment without an id.
    segment: Option<String>,
    fields: Vec<(String, String)>,
}

impl From<&Segment<'_>> for SegmentJson {
    fn from(segment: &Segment<'_>) -> SegmentJson {
        SegmentJson {
            segment: segment
                .has_id()
                .then(|| format!("AM{}", latin1(&segment.id))),
            fields: segment
                .fields
                .iter()
                .map(|field| (latin1(&field.id), latin1(field.value)))
                .collect(),
        }
    }
}

#[derive(serde::Serialize)]
struct ProblemJson {
    reject_code: String,
    field: Option<String>,
    message: String,
}

impl From<&(Place, Problem)> for ProblemJson {
    fn from((place, problem): &(Place, Problem)) -> ProblemJson {
        let message = match place {
            Place::Transmission => problem.message.clone(),
            Place::Transaction(index) => format!("transaction {}: {}", index + 1, problem.message),
        };
        ProblemJson {
            reject_code: problem.reject_code.to_string(),
            field: problem.field.map(|id| latin1(&id)),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"610011D0B1DGTEST    1011234567893     20260302DGSIM00001\x1e\x1cAM04\x1cC2SYN1\x1e\x1cAM01\x1cC419580412\x1d\x1e\x1cAM07\x1cEM1\x1cD2000000000123\x1cE103\x1cD70037861120\x1cE730000\x1cD30\x1cD530\x1cZZa\\b \x1e\x1cAM11\x1cD9100{";

    #[test]
    fn text_names_fields_and_lists_problems() {
        let decoded = decode(REQUEST).expect("a request");
        let text = decoded.text();
        assert!(
            text.starts_with("D.0 request\nheader 101-A1 BIN number = 610011\n"),
            "{text}"
        );
        assert!(
            text.contains("\nheader 104-A4 processor control number = DGTEST\n"),
            "{text}"
        );
        assert!(text
            .contains("\nAM07 Claim / D2 402-D2 prescription reference number = 000000000123\n"));
        assert!(
            text.contains("\nAM07 Claim / ZZ (not in this segment's field list) = a\\\\b\\x20\n"),
            "{text}"
        );
        assert!(text.contains("\n-- transaction 1\n"));
        let expected = "problem 21 D7 (transaction 1): 407-D7 product service id must be an 11-digit NDC when 436-E1 is 03\n";
        assert!(text.ends_with(expected), "{text}");
        assert_eq!(decoded.reject_codes(), ["21"]);
    }

    #[test]
    fn implied_decimals_are_shown_decoded() {
        let text = decode(REQUEST)
            .map(|decoded| decoded.text())
            .unwrap_or_default();
        assert!(
            text.contains("/ D9 409-D9 ingredient cost submitted = 100{ (10.00)\n"),
            "{text}"
        );
        assert!(
            text.contains("/ E7 442-E7 quantity dispensed = 30000 (30.000)\n"),
            "{text}"
        );
        assert_eq!(with_decimals(-1231, 2), "-12.31");
        assert_eq!(with_decimals(5, 4), "0.0005");
        assert_eq!(decoded_number(*b"11", *b"D9", b"12X"), None);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let decoded = decode(REQUEST).expect("a request");
        let value: serde_json::Value = serde_json::from_str(&decoded.json()).expect("valid JSON");
        assert_eq!(value["kind"], "request");
        assert_eq!(value["header"]["pcn"], "DGTEST    ");
        let keys: Vec<&String> = value["header"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 9);
        assert_eq!(value["transmission"][0]["segment"], "AM04");
        assert_eq!(
            value["transmission"][0]["fields"][0],
            serde_json::json!(["C2", "SYN1"])
        );
        assert_eq!(
            value["transactions"][0][0]["fields"][3],
            serde_json::json!(["D7", "0037861120"])
        );
        assert_eq!(value["problems"][0]["reject_code"], "21");
        assert_eq!(value["problems"][0]["field"], "D7");
        let message = value["problems"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("transaction 1: 407-D7"), "{message}");
        let json = decoded.json();
        let order: Vec<&str> = json
            .split('"')
            .filter(|s| ["kind", "header", "transmission", "transactions", "problems"].contains(s))
            .collect();
        assert_eq!(
            order,
            ["kind", "header", "transmission", "transactions", "problems"]
        );
    }

    #[test]
    fn json_keeps_every_byte() {
        let bytes = b"D0B11A011234567893     20260302\x1e\x1cAM20\x1cF4caf\xe9\x1f";
        let decoded = decode(bytes).expect("a response");
        let value: serde_json::Value = serde_json::from_str(&decoded.json()).expect("valid JSON");
        assert_eq!(value["transmission"][0]["fields"][0][1], "caf\u{e9}\u{1f}");
        assert_eq!(value["header"]["response_status"], "A");
        assert_eq!(decoded.reject_codes(), ["R8"]);
        assert!(decoded.text().contains("= caf\\xe9\\x1f\n"));
    }
}
