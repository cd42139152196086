//! The transaction header: each of its fields checked (101-A1, 102-A2, 103-A3, 109-A9, 201-B1,
//! 401-D1), and the typed header when every one is usable.
//!
//! Place in the flow: the walk's first step; its transaction code chooses the matrix row and
//! its date of service bounds the date of birth. Must never read a segment.

use super::decoders::text;
use super::matrix::UNSERVED_CODES;
use super::problems::Collector;
use super::results::ProblemKind;
use crate::claim::{Date, RequestHeader, TransactionCode};
use crate::ncpdp::numbers;
use crate::ncpdp::parse::Header;

/// The typed header (when every field is usable), the transaction code and date of service.
pub(super) fn read_header(
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
