//! Number encodings of D.0 fields (NCPDP Telecommunication Standard D.0): plain digits, signed overpunch
//! with implied decimals (money, rates), unsigned implied decimals (quantities).
//!
//! Tier 2, inside `ncpdp`: validation decodes with these, the encoders write with them.
//! The decoders are total: any byte string gives a value or `None`, never a panic, and a
//! value never overflows because the width is bounded first (at most 18 digits are read).
//!
//! Must never: accept a value wider than the width the caller names, accept signs or spaces
//! inside digits, or round (implied decimals stay integers: cents, milli-units).

/// Digits that fit an `i64`/`u64` without overflow, whatever the caller asks for.
const DIGITS_MAX: usize = 18;

/// Overpunch characters for a positive last digit 0..=9 (`{` = 0, `A` = 1 ... `I` = 9).
const POSITIVE: &[u8; 10] = b"{ABCDEFGHI";
/// Overpunch characters for a negative last digit 0..=9 (`}` = 0, `J` = 1 ... `R` = 9).
const NEGATIVE: &[u8; 10] = b"}JKLMNOPQR";

/// Plain unsigned digits: 1..=`width_max` ASCII digits (leading zeros allowed).
pub fn digits(text: &[u8], width_max: usize) -> Option<u64> {
    if text.is_empty() || text.len() > width_max.min(DIGITS_MAX) {
        return None;
    }
    text.iter().try_fold(0u64, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + u64::from(byte - b'0'))
    })
}

/// A signed overpunch number (`s9(m)v99` and the like) as the integer of its digits:
/// `325F` = 3256 (i.e. $32.56 with two implied decimals), `123J` = -1231, `}` = 0.
/// Leading zeros are optional (`0000740B` and `740B` are equal). At most `width_max`
/// characters including the overpunched last one.
pub fn overpunch(text: &[u8], width_max: usize) -> Option<i64> {
    let (last, leading) = text.split_last()?;
    if text.len() > width_max.min(DIGITS_MAX) {
        return None;
    }
    let (last_digit, negative) = overpunch_digit(*last)?;
    let magnitude = if leading.is_empty() {
        0
    } else {
        digits(leading, DIGITS_MAX)?
    };
    let value = i64::try_from(magnitude * 10 + u64::from(last_digit)).ok()?;
    Some(if negative { -value } else { value })
}

/// The digit and sign folded into one overpunch character.
fn overpunch_digit(byte: u8) -> Option<(u8, bool)> {
    let position = |table: &[u8; 10]| table.iter().position(|candidate| *candidate == byte);
    if let Some(digit) = position(POSITIVE) {
        return Some((digit as u8, false));
    }
    position(NEGATIVE).map(|digit| (digit as u8, true))
}

/// Writes `value` in signed overpunch without padding: 3256 → `325F`, -1231 → `123J`,
/// 0 → `{`. The reverse of [`overpunch`].
pub fn write_overpunch(value: i64, out: &mut Vec<u8>) {
    let magnitude = value.unsigned_abs();
    let last_digit = (magnitude % 10) as usize;
    if magnitude >= 10 {
        write_digits(magnitude / 10, out);
    }
    let table = if value < 0 { NEGATIVE } else { POSITIVE };
    out.push(table[last_digit]);
}

/// Writes `value` as plain digits without padding.
pub fn write_digits(value: u64, out: &mut Vec<u8>) {
    write_digits_padded(value, 0, out);
}

/// Writes `value` as digits, left-padded with zeros to at least `width` characters.
pub fn write_digits_padded(value: u64, width: usize, out: &mut Vec<u8>) {
    let mut buffer = [0u8; 20]; // u64::MAX has 20 digits
    let mut start = buffer.len();
    let mut rest = value;
    while start > 0 {
        start -= 1;
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = buffer.get(start..).unwrap_or_default();
    out.resize(out.len() + width.saturating_sub(digits.len()), b'0');
    out.extend_from_slice(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: i64) -> String {
        let mut out = Vec::new();
        write_overpunch(value, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn overpunch_reads_the_spec_examples() {
        assert_eq!(overpunch(b"0000740B", 8), Some(7402));
        assert_eq!(overpunch(b"740B", 8), Some(7402));
        assert_eq!(overpunch(b"100{", 8), Some(1000));
        assert_eq!(overpunch(b"}", 8), Some(0));
        assert_eq!(overpunch(b"123J", 8), Some(-1231));
        assert_eq!(overpunch(b"325F", 8), Some(3256));
        assert_eq!(overpunch(b"149E", 8), Some(1495));
        assert_eq!(overpunch(b"2606H", 8), Some(26068));
        assert_eq!(overpunch(b"R", 8), Some(-9));
    }

    #[test]
    fn overpunch_refuses_malformed_values() {
        for bad in [
            &b""[..],
            b"12",
            b"1-2A",
            b" 12A",
            b"12A ",
            b"1{2A",
            b"A{",
            b"000000001A",
        ] {
            assert_eq!(
                overpunch(bad, 8),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(overpunch(b"123456789A", 10), Some(1_234_567_891));
    }

    #[test]
    fn overpunch_writes_unpadded_and_reads_back() {
        assert_eq!(written(3256), "325F");
        assert_eq!(written(-1231), "123J");
        assert_eq!(written(0), "{");
        assert_eq!(written(7), "G");
        assert_eq!(written(-40), "4}");
        for value in [0, 1, -1, 9, 10, -99, 12_345, 99_999_999, -99_999_999] {
            assert_eq!(
                overpunch(written(value).as_bytes(), 8),
                Some(value),
                "{value}"
            );
        }
    }

    #[test]
    fn digits_respect_the_width() {
        assert_eq!(digits(b"0000030000", 10), Some(30_000));
        assert_eq!(digits(b"30000", 10), Some(30_000));
        assert_eq!(digits(b"12345678901", 10), None);
        assert_eq!(digits(b"", 10), None);
        assert_eq!(digits(b"12 ", 10), None);
        assert_eq!(digits(b"+12", 10), None);
        assert_eq!(digits(b"999999999999999999999", 30), None);
    }

    #[test]
    fn digits_write_plain_and_padded() {
        let mut out = Vec::new();
        write_digits(0, &mut out);
        out.push(b'|');
        write_digits(1_234_567, &mut out);
        out.push(b'|');
        write_digits_padded(123_456, 12, &mut out);
        out.push(b'|');
        write_digits_padded(123, 2, &mut out);
        assert_eq!(out, b"0|1234567|000000123456|123");
    }
}
