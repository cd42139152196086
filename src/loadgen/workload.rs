//! A synthetic claim workload built from a rule-table folder.
//!
//! At start-up the real adjudicator sorts the folder's products: for each synthetic patient a
//! *regimen* of up to [`REGIMEN_SLOTS`] drugs that are clean together (no conflict for the
//! patient's age), and a list of claims that conflict on their own (high dose, elderly high-risk,
//! opioid-naive supply, ...) or with the patient's regimen (interaction, duplication). Request
//! `seq` is then a pure function of `seq`, so any number of connections can draw requests
//! concurrently:
//!
//! - `pair = seq % (patients × slots)`, `cycle = seq / (patients × slots)`, patient
//!   `pair % patients` (so consecutive requests are different patients): every
//!   (patient, regimen slot) is refilled once per cycle, 30 days apart (dates cycle through the
//!   past year, so fills are never in the future and never early), same Rx number, fill number =
//!   cycle — mostly paid;
//! - about 1 in 5: a new prescription that conflicts (rejected 88 or 79);
//! - about 3 in 100: such a claim submitted with DUR/PPS codes its edit accepts (an override);
//! - about 1.5 in 100: a B2 reversal of the pair's previous fill; 1 in 100: that previous fill
//!   sent again (a duplicate, answered D when it was paid).
//!
//! Rx numbers carry a per-run prefix so runs against the same store do not collide. Every
//! identifier is synthetic. Must never: use real people's data, or read the clock per request.

use std::sync::Arc;

use crate::claim::{
    Action, Code2, Date, Decision, Fill, Ndc, Status, Transaction, TransactionCode,
};
use crate::ncpdp::build::ClaimBuilder;
use crate::rules::{self, ClaimContext, RuleSet};

use super::Source;

/// Regimen drugs per patient.
pub const REGIMEN_SLOTS: usize = 4;
/// Patients a workload may hold.
pub const SYNTHETIC_PATIENTS_MAX: usize = 1_000_000;
/// Products tried when sorting the folder (enough variety, bounded start-up).
const CANDIDATE_PRODUCTS_MAX: usize = 800;
/// Conflicting claims kept per age group.
const SCENARIOS_MAX: usize = 400;
/// Products tried per patient when looking for a regimen drug or an interacting drug.
const PATIENT_TRIES_MAX: usize = 40;
/// Pharmacies and prescribers the population uses.
const PHARMACIES: u64 = 40;
const PRESCRIBERS: u64 = 300;
/// Days between refill cycles, and cycles before dates wrap (a year).
const CYCLE_DAYS: i32 = 30;
const CYCLES: u64 = 12;
/// Per-mille shares of the request mix.
const CONFLICT_PER_MILLE: u64 = 200;
const OVERRIDE_PER_MILLE: u64 = 30;
const REVERSAL_PER_MILLE: u64 = 15;
const DUPLICATE_PER_MILLE: u64 = 10;

/// One dispensing: product, quantity, days supply.
#[derive(Clone, Copy, Debug)]
struct Dose {
    ndc: Ndc,
    quantity_milli: u64,
    days_supply: u16,
}

/// A claim that conflicts, with the DUR/PPS codes that would override it (when its edit allows).
#[derive(Clone, Copy, Debug)]
struct Scenario {
    dose: Dose,
    override_codes: Option<(Code2, Code2, Code2)>,
}

#[derive(Clone, Debug)]
struct Patient {
    dob: Date,
    regimen: Vec<Dose>,
    /// A drug that conflicts with the regimen (interaction, duplication), when one was found.
    interacting: Option<Scenario>,
}

/// The synthetic workload.
pub struct Synthetic {
    patients: Vec<Patient>,
    scenarios_adult: Vec<Scenario>,
    scenarios_elderly: Vec<Scenario>,
    run_prefix: u64,
    start: Date,
}

/// Why a folder cannot drive a synthetic workload.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "the rule tables have no product that is clean on its own: nothing to build regimens from"
    )]
    NoCleanProducts,
}

impl Synthetic {
    /// Sorts the folder's products and builds `patients` patients. `today` anchors the dates
    /// (the last cycle is dated a month before it); `run_prefix` (0..99_999) keeps Rx numbers of
    /// different runs apart.
    pub fn new(
        rules: &RuleSet,
        patients: usize,
        today: Date,
        run_prefix: u64,
    ) -> Result<Synthetic, WorkloadError> {
        let sorter = Sorter { rules, today };
        let catalog = sorter.catalog();
        if catalog.clean_adult.is_empty() {
            return Err(WorkloadError::NoCleanProducts);
        }
        let count = patients.clamp(1, SYNTHETIC_PATIENTS_MAX);
        let patients = (0..count as u64)
            .map(|number| sorter.patient(number, &catalog))
            .collect();
        // The last cycle is dated a month before today, the first within the filing window.
        let start = today.add_days(-(CYCLE_DAYS * CYCLES as i32));
        Ok(Synthetic {
            patients,
            scenarios_adult: catalog.conflicts_adult,
            scenarios_elderly: catalog.conflicts_elderly,
            run_prefix: run_prefix % 100_000,
            start,
        })
    }

    /// Patients in the population.
    pub fn patients(&self) -> usize {
        self.patients.len()
    }

    /// Slot-major: consecutive pairs belong to different patients, as in real traffic, so
    /// concurrent requests rarely wait for the same patient.
    fn patient_and_slot(&self, pair: u64) -> (usize, usize) {
        let patients = self.patients.len() as u64;
        ((pair % patients) as usize, (pair / patients) as usize)
    }

    fn builder(
        &self,
        number: usize,
        code: fn() -> ClaimBuilder,
        date_of_service: Date,
    ) -> ClaimBuilder {
        let patient = &self.patients[number];
        let pharmacy = 1_000_000_000 + mix(number as u64 ^ 0x51) % PHARMACIES * 7_919;
        let prescriber = 1_500_000_000 + mix(number as u64 ^ 0xa7) % PRESCRIBERS * 104_729;
        code()
            .provider_id(&pharmacy.to_string())
            .date_of_service(date_of_service)
            .cardholder(&format!("SYN{:05}{number:07}", self.run_prefix))
            .person_code("01")
            .dob(patient.dob)
            .name("SYNTHETIC", &format!("PATIENT{number}"))
            .prescriber(&prescriber.to_string())
    }

    fn with_dose(
        builder: ClaimBuilder,
        dose: Dose,
        rx_number: u64,
        fill_number: u8,
    ) -> ClaimBuilder {
        builder
            .rx(rx_number)
            .fill(fill_number)
            .ndc(&dose.ndc.to_string())
            .quantity_milli(dose.quantity_milli)
            .days_supply(dose.days_supply)
    }

    fn regimen_claim(&self, pair: u64, cycle: u64, code: fn() -> ClaimBuilder) -> ClaimBuilder {
        let (number, slot) = self.patient_and_slot(pair);
        let regimen = &self.patients[number].regimen;
        let dose = regimen[slot % regimen.len()];
        let date = self.start.add_days(CYCLE_DAYS * (cycle % CYCLES) as i32);
        let rx_number = self.run_prefix * 10_000_000 + pair % 5_000_000;
        Synthetic::with_dose(
            self.builder(number, code, date),
            dose,
            rx_number,
            (cycle % 100) as u8,
        )
    }

    fn conflict_claim(&self, seq: u64, pair: u64, cycle: u64, with_override: bool) -> ClaimBuilder {
        let (number, _) = self.patient_and_slot(pair);
        let patient = &self.patients[number];
        let pool = if is_elderly(patient.dob, self.start) {
            &self.scenarios_elderly
        } else {
            &self.scenarios_adult
        };
        let scenario = pick_scenario(patient, pool, mix(seq ^ 0x3c), with_override);
        let date = self.start.add_days(CYCLE_DAYS * (cycle % CYCLES) as i32);
        let rx_number = self.run_prefix * 10_000_000 + 5_000_000 + seq % 5_000_000;
        let builder = self.builder(number, ClaimBuilder::b1, date);
        let mut builder = match scenario {
            Some(scenario) => Synthetic::with_dose(builder, scenario.dose, rx_number, 0),
            None => return self.regimen_claim(pair, cycle, ClaimBuilder::b1),
        };
        if let (true, Some((reason, professional, result))) =
            (with_override, scenario.and_then(|s| s.override_codes))
        {
            builder = builder.dur(reason.as_str(), professional.as_str(), result.as_str());
        }
        builder
    }

    /// The request for number `seq` (see the module docs for the mix).
    pub fn request(&self, seq: u64) -> ClaimBuilder {
        let pairs = (self.patients.len() * REGIMEN_SLOTS) as u64;
        let (pair, cycle) = (seq % pairs, seq / pairs);
        let roll = mix(seq) % 1000;
        let previous = cycle.checked_sub(1);
        match (roll, previous) {
            (r, _) if r < CONFLICT_PER_MILLE => self.conflict_claim(seq, pair, cycle, false),
            (r, _) if r < CONFLICT_PER_MILLE + OVERRIDE_PER_MILLE => {
                self.conflict_claim(seq, pair, cycle, true)
            }
            (r, Some(previous))
                if r < CONFLICT_PER_MILLE + OVERRIDE_PER_MILLE + REVERSAL_PER_MILLE =>
            {
                self.regimen_claim(pair, previous, ClaimBuilder::b2)
            }
            (r, Some(previous))
                if r < CONFLICT_PER_MILLE
                    + OVERRIDE_PER_MILLE
                    + REVERSAL_PER_MILLE
                    + DUPLICATE_PER_MILLE =>
            {
                self.regimen_claim(pair, previous, ClaimBuilder::b1)
            }
            _ => self.regimen_claim(pair, cycle, ClaimBuilder::b1),
        }
    }
}

impl Source for Synthetic {
    fn write_request(&self, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.request(seq).encode());
    }

    fn classify(&self, reply: &[u8]) -> &'static str {
        classify_reply(reply)
    }
}

/// A fixed label for a gateway reply, from a byte scan (no full parse on the load path):
/// the first transaction's 112-AN status, refined by 511-FB 88/79 and AM24 presence.
pub fn classify_reply(reply: &[u8]) -> &'static str {
    let status = memchr::memmem::find(reply, b"\x1cAN")
        .and_then(|at| reply.get(at + 3))
        .copied();
    let has = |needle: &[u8]| memchr::memmem::find(reply, needle).is_some();
    match status {
        Some(b'P') if has(b"AM24") => "paid_with_dur_warning",
        Some(b'P') => "paid",
        Some(b'R') if has(b"\x1cFB88") || has(b"\x1cFB79") => "rejected_dur",
        Some(b'R') if has(b"\x1cFB99") => "rejected_99",
        Some(b'R') => "rejected_other",
        Some(b'D') => "duplicate",
        Some(b'A') => "approved",
        Some(b'S') => "duplicate_of_approved",
        _ => "unreadable",
    }
}

fn pick_scenario(
    patient: &Patient,
    pool: &[Scenario],
    roll: u64,
    with_override: bool,
) -> Option<Scenario> {
    let candidates: Vec<&Scenario> = pool
        .iter()
        .filter(|s| !with_override || s.override_codes.is_some())
        .collect();
    let interacting = patient
        .interacting
        .filter(|s| !with_override || s.override_codes.is_some());
    match (interacting, candidates.is_empty()) {
        (Some(scenario), _) if roll.is_multiple_of(3) => Some(scenario),
        (_, false) => Some(*candidates[(roll / 3) as usize % candidates.len()]),
        (interacting, true) => interacting,
    }
}

fn is_elderly(dob: Date, on: Date) -> bool {
    dob.age_years_on(on) >= 65
}

/// SplitMix64: a cheap, well-spread hash of a request number.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The folder's products sorted by what they do alone.
struct Catalog {
    clean_adult: Vec<Dose>,
    clean_elderly: Vec<Dose>,
    conflicts_adult: Vec<Scenario>,
    conflicts_elderly: Vec<Scenario>,
    all: Vec<Dose>,
}

struct Sorter<'a> {
    rules: &'a RuleSet,
    today: Date,
}

impl Sorter<'_> {
    fn dob(&self, age_years: i32) -> Date {
        let (year, month, day) = self.today.ymd();
        Date::from_ymd(year - age_years, month, day.min(28)).unwrap_or(self.today)
    }

    fn adjudicate(&self, dose: Dose, age_years: i32, fills: &[Fill]) -> Decision {
        let transaction = transaction_of(dose, 1);
        let context = ClaimContext {
            transaction: &transaction,
            date_of_service: self.today,
            date_of_birth: Some(self.dob(age_years)),
            pharmacy: 1,
            prescriber: 1,
        };
        rules::adjudicate_claim(&context, self.rules, fills, self.today)
    }

    fn catalog(&self) -> Catalog {
        let mut catalog = Catalog {
            clean_adult: Vec::new(),
            clean_elderly: Vec::new(),
            conflicts_adult: Vec::new(),
            conflicts_elderly: Vec::new(),
            all: Vec::new(),
        };
        for product in self.rules.products().iter().take(CANDIDATE_PRODUCTS_MAX) {
            let usual = usual_dose(
                product.ndc,
                product.unit == crate::rules::units::StrengthUnit::McgPerHr,
            );
            catalog.all.push(usual);
            self.sort_dose(usual, &mut catalog);
            let large = Dose {
                quantity_milli: usual.quantity_milli * 10,
                ..usual
            };
            self.sort_conflict(large, 40, &mut catalog.conflicts_adult);
        }
        catalog
    }

    fn sort_dose(&self, dose: Dose, catalog: &mut Catalog) {
        if is_clean(&self.adjudicate(dose, 40, &[])) {
            catalog.clean_adult.push(dose);
        } else {
            self.sort_conflict(dose, 40, &mut catalog.conflicts_adult);
        }
        if is_clean(&self.adjudicate(dose, 78, &[])) {
            catalog.clean_elderly.push(dose);
        } else {
            self.sort_conflict(dose, 78, &mut catalog.conflicts_elderly);
        }
    }

    fn sort_conflict(&self, dose: Dose, age_years: i32, into: &mut Vec<Scenario>) {
        let decision = self.adjudicate(dose, age_years, &[]);
        if into.len() < SCENARIOS_MAX && is_dur_rejection(&decision) {
            into.push(Scenario {
                dose,
                override_codes: self.override_codes(&decision),
            });
        }
    }

    /// The codes that override a decision's only rejecting conflict, when its edit allows one.
    fn override_codes(&self, decision: &Decision) -> Option<(Code2, Code2, Code2)> {
        let mut rejecting = decision
            .conflicts
            .iter()
            .filter(|conflict| conflict.action == Action::Reject);
        let conflict = rejecting.next()?;
        if rejecting.next().is_some() || !conflict.overridable {
            return None;
        }
        let policy = self.rules.policy(conflict.edit)?;
        Some((
            conflict.reason,
            *policy.override_professional.first()?,
            *policy.override_result.first()?,
        ))
    }

    fn patient(&self, number: u64, catalog: &Catalog) -> Patient {
        let hash = mix(number ^ 0xd06);
        let elderly = hash % 10 < 3;
        let age = if elderly {
            66 + (hash >> 8) % 25
        } else {
            20 + (hash >> 8) % 45
        } as i32;
        let clean = if elderly && !catalog.clean_elderly.is_empty() {
            &catalog.clean_elderly
        } else {
            &catalog.clean_adult
        };
        let regimen = self.regimen(hash, age, clean);
        let interacting = self.interacting(hash, age, &regimen, &catalog.all);
        Patient {
            dob: self.dob(age).add_days(-(((hash >> 20) % 300) as i32)),
            regimen,
            interacting,
        }
    }

    fn regimen(&self, hash: u64, age: i32, clean: &[Dose]) -> Vec<Dose> {
        let mut regimen: Vec<Dose> = Vec::with_capacity(REGIMEN_SLOTS);
        for attempt in 0..PATIENT_TRIES_MAX as u64 {
            if regimen.len() == REGIMEN_SLOTS {
                break;
            }
            let candidate = clean[(mix(hash ^ attempt) % clean.len() as u64) as usize];
            let fills = fills_of(&regimen, self.today);
            if regimen.iter().all(|dose| dose.ndc != candidate.ndc)
                && is_clean(&self.adjudicate(candidate, age, &fills))
            {
                regimen.push(candidate);
            }
        }
        if regimen.is_empty() {
            regimen.push(clean[0]);
        }
        regimen
    }

    fn interacting(&self, hash: u64, age: i32, regimen: &[Dose], all: &[Dose]) -> Option<Scenario> {
        let fills = fills_of(regimen, self.today);
        (0..PATIENT_TRIES_MAX as u64).find_map(|attempt| {
            let candidate = all[(mix(hash ^ 0xfeed ^ attempt) % all.len() as u64) as usize];
            let alone = self.adjudicate(candidate, age, &[]);
            let together = self.adjudicate(candidate, age, &fills);
            let conflicts = is_clean(&alone) && is_dur_rejection(&together);
            conflicts.then(|| Scenario {
                dose: candidate,
                override_codes: self.override_codes(&together),
            })
        })
    }
}

fn usual_dose(ndc: Ndc, hourly: bool) -> Dose {
    let quantity_units = if hourly { 10 } else { 30 };
    Dose {
        ndc,
        quantity_milli: quantity_units * 1_000,
        days_supply: 30,
    }
}

fn transaction_of(dose: Dose, rx_number: u64) -> Transaction {
    Transaction {
        rx_number,
        product_qualifier: "03".into(),
        product_id: dose.ndc.to_string(),
        ndc: Some(dose.ndc),
        quantity_milli: dose.quantity_milli,
        days_supply: dose.days_supply,
        compound_code: 1,
        ..Transaction::default()
    }
}

fn fills_of(regimen: &[Dose], today: Date) -> Vec<Fill> {
    let transactions = regimen
        .iter()
        .enumerate()
        .map(|(index, dose)| transaction_of(*dose, 100 + index as u64));
    transactions
        .filter_map(|transaction| Fill::of(&transaction, today.add_days(-5), 1, 1))
        .collect()
}

fn is_clean(decision: &Decision) -> bool {
    decision.status == Status::Paid && decision.conflicts.is_empty()
}

fn is_dur_rejection(decision: &Decision) -> bool {
    decision.status == Status::Rejected && !decision.conflicts.is_empty()
}

/// Transaction code of a request the workload built (for tests).
pub fn code_of(builder: &ClaimBuilder) -> TransactionCode {
    builder.clone().build().header.transaction_code
}

/// Shared handle used by the CLI.
pub type SharedSynthetic = Arc<Synthetic>;
