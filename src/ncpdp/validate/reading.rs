//! The field reader: reads the fields of one segment, or of one repetition of it, each with a
//! rule, and reports what is missing (when required) or unusable, as the field's own kind.
//!
//! Place in the flow: every step that reads values reads them through a `Reader` on the shared
//! collector. Must never judge a value itself (its rule does).

use super::decoders::Rule;
use super::problems::{Collector, FieldAt};
use crate::ncpdp::parse::{Field, Segment};

/// Reads the fields of one segment or one repetition of it, reporting what is missing or bad.
pub(super) struct Reader<'c, 'f, 'a> {
    pub(super) c: &'c mut Collector,
    segment: [u8; 2],
    pub(super) fields: &'f [Field<'a>],
    pub(super) occurrence: Option<u8>,
    required: &'static [[u8; 2]],
}

impl<'c, 'f, 'a> Reader<'c, 'f, 'a> {
    /// A whole segment; `required` fields are reported when absent.
    pub(super) fn segment(
        c: &'c mut Collector,
        segment: &'f Segment<'a>,
        required: &'static [[u8; 2]],
    ) -> Self {
        Reader {
            c,
            segment: segment.id,
            fields: &segment.fields,
            occurrence: None,
            required,
        }
    }

    /// Repetition `occurrence` (1-based) of a repeating group.
    pub(super) fn repetition(
        c: &'c mut Collector,
        segment: [u8; 2],
        fields: &'f [Field<'a>],
        occurrence: usize,
    ) -> Self {
        let occurrence = u8::try_from(occurrence).ok();
        Reader {
            c,
            segment,
            fields,
            occurrence,
            required: &[],
        }
    }

    pub(super) fn at(&self, field: [u8; 2]) -> FieldAt {
        FieldAt {
            segment: self.segment,
            field,
            occurrence: self.occurrence,
        }
    }

    /// The first value of `field`; empty counts as absent.
    pub(super) fn value(&self, field: [u8; 2]) -> Option<&'a [u8]> {
        let value = self.fields.iter().find(|f| f.id == field).map(|f| f.value);
        value.filter(|value| !value.is_empty())
    }

    /// Decodes `field`: absent → `None` (a problem when required), bad → a problem and `None`.
    pub(super) fn get<T>(
        &mut self,
        field: [u8; 2],
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        let required = self.required.contains(&field);
        self.read(field, required, rule)
    }

    /// Like [`Reader::get`], but the field is always required.
    pub(super) fn need<T>(
        &mut self,
        field: [u8; 2],
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        self.read(field, true, rule)
    }

    fn read<T>(
        &mut self,
        field: [u8; 2],
        required: bool,
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        let Some(value) = self.value(field) else {
            if required {
                self.c.field(self.at(field), &"is missing");
            }
            return None;
        };
        let decoded = (rule.decode)(value);
        if decoded.is_none() {
            self.c.field(self.at(field), &rule.expect);
        }
        decoded
    }

    /// Decodes one given value of a repeating field (`value` is one occurrence of `field`).
    pub(super) fn decode<T>(
        &mut self,
        field: &Field<'_>,
        rule: Rule<impl Fn(&[u8]) -> Option<T>>,
    ) -> Option<T> {
        let decoded = (rule.decode)(field.value);
        if decoded.is_none() {
            self.c.field(self.at(field.id), &rule.expect);
        }
        decoded
    }
}
