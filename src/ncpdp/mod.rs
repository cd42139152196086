//! NCPDP Telecommunication D.0 codec: bytes ↔ the typed claim vocabulary of [`crate::claim`].
//!
//! DOCS-PLACEHOLDER

pub mod build;
pub mod dump;
pub mod encode;
pub mod fields;
pub mod numbers;
pub mod parse;
pub mod response;
pub mod validate;

pub use encode::{encode_message, encode_request};
pub use parse::{parse, Field, Header, Kind, Message, Place, Segment, Structure, StructureProblem};
pub use response::{
    encode_response, parse_response, response_transaction, AdditionalMessage, HeaderStatus,
    Response, ResponseClaim, ResponseDur, ResponseHeader, ResponseInsurance, ResponsePatient,
    ResponsePricing, ResponseReject, ResponseTransaction,
};
pub use validate::{read_request, validate_request, Problem, ProblemKind, Validated};

use crate::claim::{reject, RejectCode};

/// Start of text: framing only, never part of a transmission.
pub const STX: u8 = 0x02;
/// End of text: framing only; one trailing ETX is tolerated by [`parse`].
pub const ETX: u8 = 0x03;
/// Field separator: precedes every field, the 111-AM segment id included.
pub const FS: u8 = 0x1c;
/// Group separator: starts each transaction group.
pub const GS: u8 = 0x1d;
/// Segment separator: precedes every segment.
pub const RS: u8 = 0x1e;

/// The input is not a D.0 transmission at all (or, for [`parse_response`], not a response
/// the gateway can read). Everything less severe is a problem value, not an error.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty input")]
    Empty,
    #[error("no `D0` at offset 6 (request) or 0 (response)")]
    NotD0,
    #[error("{} of {length} bytes is shorter than its {needed}-byte header", kind.as_str())]
    TooShort {
        kind: Kind,
        length: usize,
        needed: usize,
    },
    #[error("header byte 0x{byte:02x} at offset {offset} is not printable ASCII")]
    HeaderByte { offset: usize, byte: u8 },
    #[error("expected a {}", expected.as_str())]
    WrongKind { expected: Kind },
    #[error("response {at}: {reason}")]
    Response { at: String, reason: &'static str },
}

impl ParseError {
    /// The reject code that describes the failure, for a caller that answers anyway.
    pub fn reject_code(&self) -> RejectCode {
        match self {
            ParseError::NotD0 => reject::VERSION,
            ParseError::Empty
            | ParseError::TooShort { .. }
            | ParseError::HeaderByte { .. }
            | ParseError::WrongKind { .. }
            | ParseError::Response { .. } => reject::SYNTAX_ERROR,
        }
    }
}
