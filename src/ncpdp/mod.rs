//! NCPDP Telecommunication D.0 codec: bytes ↔ the typed claim vocabulary of [`crate::claim`].
//!
//! Tier 2: imports only `claim` and `limits`. Everything the gateway knows about the wire
//! format lives here; every other module trusts it. It works on bare transmissions (`wire`
//! does the framing; one leading STX and one trailing ETX are tolerated and ignored).
//!
//! # Data flow
//!
//! ```text
//!  request bytes ──parse──► Message<'_> ──validate_request──► Validated ──into_transmission──► claim::Transmission
//!  (frame payload)   (raw, zero-copy,       (typed values + every problem,           (all valid, or every problem)
//!                     structural flaws       each with exactly one reject code)
//!                     recorded, not errors)
//!
//!  claim::Decision ──response_transaction──► ResponseTransaction ─┐
//!  request Header  ──ResponseHeader::for_request──────────────────┴─► Response ──encode_response──► reply bytes
//!
//!  claim::Transmission ──encode_request──► bytes          (tests, samples, load generator)
//!  Message<'_>         ──encode_message──► bytes          (verbatim; malformed samples)
//!  bytes ──dump::decode──► text dump / JSON               (`durgate decode`)
//! ```
//!
//! # Files
//!
//! - [`parse`](mod@parse): the total, zero-copy reader ([`parse()`], [`Message`], [`Segment`],
//!   [`Field`]). `Err(`[`ParseError`]`)` only when the input is not D.0 at all.
//! - [`validate`]: [`validate_request`], [`Problem`], the one [`ProblemKind`] → reject code
//!   `match`, the mandatory matrix per transaction code.
//! - [`numbers`]: digits, signed overpunch money, implied-decimal quantities.
//! - [`fields`]: the field/segment name table of spec §6 and the header layouts.
//! - [`encode`]: [`encode_request`] and [`encode_message`].
//! - [`response`]: the [`Response`] model, [`encode_response`], [`parse_response`],
//!   [`response_transaction`].
//! - [`dump`]: readable dump and JSON.
//! - [`build`]: [`build::ClaimBuilder`] and [`build::RawMessage`] for tests and load.
//!
//! # Decisions (where the spec is silent)
//!
//! - **Detection**: a request has `D0` at offset 6 and a 56-byte header, a response `D0` at
//!   offset 0 and a 31-byte header; anything else, or a header byte outside printable ASCII, is
//!   not D.0 and gets no reply (V5QA: a garbage version/code leaves the pharmacy to time
//!   out). So a transmission with another version is not read at all; validation still
//!   reports `02` for a message whose version is not `D0` (possible only for a message built
//!   by hand).
//! - **Structure is lenient, content is strict**: the reader keeps unknown segments and fields
//!   and steps over structural flaws (recording them, so validation rejects with `R8`/`AM`/
//!   `1U`); validation then judges every field it decodes, strictly (digits only, widths from
//!   DD07, listed codes only).
//! - **Problems never echo values** of the patient: messages name fields (`302-C2 cardholder
//!   id is missing`), so they can be logged and sent in 526-FQ.
//! - **Bounds**: at most `TRANSACTIONS_MAX` groups, `SEGMENTS_PER_GROUP_MAX` segments per
//!   group, `FIELDS_PER_SEGMENT_MAX` fields per segment and `PROBLEMS_PER_TRANSMISSION_MAX`
//!   problems; repetitions are bounded by their own limits (DUR/PPS 9, COB payers 9, compound
//!   ingredients 99...). Beyond a bound the rest is dropped and reported.
//!
//! Must never: do I/O, read the clock, log, or panic on any input.

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
    encode_response, parse_response, rejects_from_problems, response_transaction,
    AdditionalMessage, HeaderStatus, Response, ResponseClaim, ResponseDur, ResponseHeader,
    ResponseInsurance, ResponsePatient, ResponsePricing, ResponseReject, ResponseTransaction,
};
pub use validate::{read_request, validate_request, Problem, ProblemKind, Validated};

use crate::claim::{reject, RejectCode};

/// Start of text: framing only, never part of a transmission.
pub const STX: u8 = 0x02;
/// End of text: framing only; one trailing ETX is tolerated by [`parse()`].
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
