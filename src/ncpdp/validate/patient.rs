//! Patient and insurance: AM04 Insurance and AM01 Patient, required as the matrix says, read
//! into one `Patient`; and `require`, the check that a required segment was sent.
//!
//! Place in the flow: after the segment checks, before the transaction groups (the patient
//! applies to all of them). Must never echo a cardholder id, name or date of birth.

use super::decoders::{alnum, digits_in, Expect, Rule};
use super::matrix::{Need, Requirements};
use super::problems::{describe_segment, Collector};
use super::reading::Reader;
use super::results::ProblemKind;
use crate::claim::{Date, Patient};
use crate::ncpdp::parse::{Message, Place};

pub(super) fn read_patient(
    c: &mut Collector,
    message: &Message<'_>,
    needs: &Requirements,
    date_of_service: Option<Date>,
) -> Option<Patient> {
    let insurance = message.segment(Place::Transmission, *b"04");
    let patient_segment = message.segment(Place::Transmission, *b"01");
    require(
        c,
        insurance.is_some(),
        needs.insurance,
        ProblemKind::InsuranceSegmentMissing,
        *b"04",
    );
    require(
        c,
        patient_segment.is_some(),
        needs.patient,
        ProblemKind::PatientSegmentMissing,
        *b"01",
    );
    if insurance.is_none() && patient_segment.is_none() {
        return None;
    }
    let mut patient = Patient::default();
    if let Some(segment) = insurance {
        read_insurance(
            &mut Reader::segment(c, segment, needs.insurance_fields),
            &mut patient,
        );
    }
    if let Some(segment) = patient_segment {
        let mut reader = Reader::segment(c, segment, needs.patient_fields);
        read_patient_segment(&mut reader, date_of_service, &mut patient);
    }
    Some(patient)
}

/// Reports segment `id` as missing when it is required and absent.
pub(super) fn require(
    c: &mut Collector,
    present: bool,
    need: Need,
    kind: ProblemKind,
    id: [u8; 2],
) {
    if !present && need == Need::Required {
        c.add(kind, None, format!("{} is required", describe_segment(id)));
    }
}

fn read_insurance(r: &mut Reader<'_, '_, '_>, patient: &mut Patient) {
    patient.cardholder_id = r.get(*b"C2", alnum(20)).unwrap_or_default();
    patient.person_code = r.get(*b"C3", alnum(3)).unwrap_or_default();
    patient.group_id = r.get(*b"C1", alnum(15)).unwrap_or_default();
}

fn read_patient_segment(
    r: &mut Reader<'_, '_, '_>,
    date_of_service: Option<Date>,
    patient: &mut Patient,
) {
    let not_after_service = |dob: &Date| date_of_service.is_none_or(|dos| *dob <= dos);
    let birth = |v: &[u8]| Date::parse_ccyymmdd(v).filter(not_after_service);
    let rule = Rule {
        decode: birth,
        expect: Expect::Say("must be a date not after 401-D1"),
    };
    patient.date_of_birth = r.get(*b"C4", rule);
    patient.gender = r.get(*b"C5", digits_in(1, 0, 2)).map(|gender| gender as u8);
    patient.first_name = r.get(*b"CA", alnum(12)).unwrap_or_default();
    patient.last_name = r.get(*b"CB", alnum(15)).unwrap_or_default();
}
