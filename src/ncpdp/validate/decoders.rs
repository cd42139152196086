//! Field rules: a decoder of one value and what it expects ([`Rule`], [`Expect`]), and the
//! common ones (`x(n)` text, `9(n)` in a range, dates, overpunch money, quantities, codes).
//!
//! Place in the flow: each step picks a rule per field and hands it to the `reading::Reader`.
//! Pure functions of bytes: must never report a problem (the reader does) or panic.

use crate::claim::{Code2, Date};
use crate::ncpdp::numbers;

/// What a rule expects, for the problem message.
#[derive(Clone, Copy)]
pub(super) enum Expect {
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
pub(super) type Decoder<T> = fn(&[u8]) -> Option<T>;

/// A decoder of one value and what it expects.
pub(super) struct Rule<F> {
    pub(super) decode: F,
    pub(super) expect: Expect,
}

/// `x(width)`: non-blank text no wider than `width`, without trailing spaces.
pub(super) fn alnum(width: usize) -> Rule<impl Fn(&[u8]) -> Option<String>> {
    let decode =
        move |v: &[u8]| (v.len() <= width && v.iter().any(|b| *b != b' ')).then(|| text(v));
    Rule {
        decode,
        expect: Expect::Text(width),
    }
}

/// `9(width)` whose value lies in `low..=high`.
pub(super) fn digits_in(width: usize, low: u64, high: u64) -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = move |v: &[u8]| numbers::digits(v, width).filter(|n| (low..=high).contains(n));
    Rule {
        decode,
        expect: Expect::Range(low, high),
    }
}

pub(super) fn date() -> Rule<impl Fn(&[u8]) -> Option<Date>> {
    Rule {
        decode: Date::parse_ccyymmdd,
        expect: Expect::Date,
    }
}

/// `s9(6)v99` money: cents.
pub(super) fn money() -> Rule<impl Fn(&[u8]) -> Option<i64>> {
    Rule {
        decode: |v: &[u8]| numbers::overpunch(v, 8),
        expect: Expect::Money,
    }
}

/// `9(7)v999` quantity in milli-units, at least `min`.
pub(super) fn quantity(min: u64) -> Rule<impl Fn(&[u8]) -> Option<u64>> {
    let decode = move |v: &[u8]| numbers::digits(v, 10).filter(|q| *q >= min);
    Rule {
        decode,
        expect: Expect::Quantity,
    }
}

/// A 2-character code from one of the `claim::codes` lists.
pub(super) fn listed(is_listed: fn(&str) -> bool) -> Rule<impl Fn(&[u8]) -> Option<Code2>> {
    let decode = move |v: &[u8]| Code2::parse(v).filter(|code| is_listed(code.as_str()));
    Rule {
        decode,
        expect: Expect::Listed,
    }
}

/// One of a few exact values.
pub(super) fn one_of(
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
pub(super) fn text(value: &[u8]) -> String {
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
