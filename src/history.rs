//! In-memory patient history: the paid fills each patient has, and an index of paid claims by
//! (pharmacy, Rx number, fill number, date of service) for duplicate and reversal matching.
//!
//! Tier 2, pure: imports only `claim` and `limits`; no I/O, no clock, no socket. The server
//! rebuilds it from the store at start (`store::ClaimStore::load_history`), copies a patient's
//! fills out for `rules::adjudicate`, and records a claim here only after the store committed it.
//! Must never: decide anything (the rules and the server do), keep a pharmacy or prescriber id
//! as text (only `claim::id_hash` values), or print a patient key.
//!
//! # Shape and memory
//!
//! The service keeps about a million fills, so the layout is chosen for bytes per fill:
//!
//! - Patients live in [`HISTORY_SHARDS`] mutex-guarded shards. In a shard a patient key maps to a
//!   slot number, and the slot holds the patient's entries (64 bytes each: the [`Fill`] with
//!   its remembered overrides, the claim id and a reversed flag) in a vector grown by about a
//!   quarter at a time.
//! - Paid claims are indexed in [`HISTORY_SHARDS`] more shards by their [`ClaimMatch`] packed
//!   to 4-byte alignment, with the 4-byte patient id (slot and shard) as value: 28 bytes a
//!   claim. A reversal (B2) carries no patient, so it finds the patient through this index;
//!   the entry itself stays with the patient.
//! - The authorization number is not stored: it is derived from the claim id
//!   ([`Authorization::for_claim`]).
//!
//! Measured (`benches/history.rs`): 134 heap bytes per fill for 1M fills over 200k patients.
//! Std `HashMap`s behind `Mutex`es were chosen over `dashmap` because the patient side needs a
//! key map, a slot vector and a free list updated together under one lock; for the plain claim
//! index both containers use the same hash table, and `benches/history.rs` prints both sizes.
//!
//! # Semantics (where the contract is silent)
//!
//! - A reversed claim stays (flagged) until pruned or crowded out, so a second B2 can be answered
//!   S; it is no longer an active fill. A patient known only through reversed claims is still
//!   known to E1.
//! - Several entries may share a [`ClaimMatch`] key (paid, reversed, then billed again): the
//!   unreversed one wins, else the reversed one with the highest claim id.
//! - Beyond [`FILLS_PER_PATIENT_MAX`] entries a patient first loses reversed entries, then the
//!   fill with the oldest date of service: the DUR edits see the patient's newest
//!   [`FILLS_PER_PATIENT_MAX`] fills. The history remembers that it dropped something (per
//!   patient, the newest date of service of a paid fill it lost; overall, the newest date of
//!   any entry it lost), so a match that misses can tell "never paid" from "perhaps dropped":
//!   [`History::may_have_dropped`] and [`History::patient_may_have_dropped`] are true only in the
//!   second case, and the server then asks the store (the claim stays reversible and a
//!   duplicate stays a duplicate). For a patient whose history is complete both are false.
//! - Beyond the patient bound a new patient is not kept; the caller learns it from
//!   [`Recorded::PatientLimitReached`] (the store still holds the claim).

use crate::claim::{id_hash, Authorization, Date, Fill, Ndc, Overridden, PatientKey};
use crate::limits::{FILLS_PER_PATIENT_MAX, HISTORY_PATIENTS_MAX, HISTORY_SHARDS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

// A patient id is `slot * HISTORY_SHARDS + shard` in a u32; a shard never holds more slots than
// there are patients.
const _: () = assert!(HISTORY_PATIENTS_MAX as u64 * HISTORY_SHARDS as u64 <= u32::MAX as u64);

/// A claim to remember: the fill as the edits see it and the store's claim id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PaidClaim {
    pub fill: Fill,
    pub claim_id: u64,
    /// True only when rebuilding from the store a claim that was already reversed there; live
    /// reversals go through [`History::record_reversal`].
    pub reversed: bool,
}

/// What identifies a paid claim for duplicate (plus the product) and reversal matching.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ClaimMatch {
    /// `claim::id_hash` of 201-B1 service provider id.
    pub pharmacy: u64,
    /// 402-D2.
    pub rx_number: u64,
    /// 403-D3.
    pub fill_number: u8,
    /// 401-D1.
    pub date_of_service: Date,
}

impl ClaimMatch {
    /// The match key of a fill.
    pub fn of_fill(fill: &Fill) -> ClaimMatch {
        ClaimMatch {
            pharmacy: fill.pharmacy,
            rx_number: fill.rx_number,
            fill_number: fill.fill_number,
            date_of_service: fill.date_of_service,
        }
    }
}

/// A paid claim found by [`History::find_paid`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PaidLookup {
    /// Paid and not reversed: a B1 with the same product is a duplicate (D), a B2 reverses it.
    Paid {
        claim_id: u64,
        authorization: Authorization,
        ndc: Ndc,
    },
    /// Paid, then reversed: a second B2 is answered S.
    Reversed {
        claim_id: u64,
        authorization: Authorization,
        ndc: Ndc,
    },
}

impl PaidLookup {
    /// The lookup of a paid claim (reversed since, or not), its authorization derived from the
    /// claim id; also for a claim read from the store.
    pub fn of_claim(claim_id: u64, ndc: Ndc, reversed: bool) -> PaidLookup {
        let authorization = Authorization::for_claim(claim_id);
        if reversed {
            PaidLookup::Reversed {
                claim_id,
                authorization,
                ndc,
            }
        } else {
            PaidLookup::Paid {
                claim_id,
                authorization,
                ndc,
            }
        }
    }
}

/// What [`History::record_paid`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Recorded {
    Added,
    /// Added; the patient was at [`FILLS_PER_PATIENT_MAX`] and lost its oldest entry.
    AddedDroppingOldest,
    /// This claim id was already recorded; nothing changed.
    AlreadyKnown,
    /// A new patient beyond the patient bound: not kept.
    PatientLimitReached,
}

/// One claim as kept in a patient's slot (64 bytes).
#[derive(Clone, Copy)]
struct Entry {
    ndc: Ndc,
    overridden: Overridden,
    rx_number: u64,
    quantity_milli: u64,
    pharmacy: u64,
    prescriber: u64,
    claim_id: u64,
    date_of_service: Date,
    days_supply: u16,
    fill_number: u8,
    reversed: bool,
}

impl Entry {
    fn new(claim: &PaidClaim) -> Entry {
        let fill = &claim.fill;
        Entry {
            ndc: fill.ndc,
            overridden: fill.overridden,
            rx_number: fill.rx_number,
            quantity_milli: fill.quantity_milli,
            pharmacy: fill.pharmacy,
            prescriber: fill.prescriber,
            claim_id: claim.claim_id,
            date_of_service: fill.date_of_service,
            days_supply: fill.days_supply,
            fill_number: fill.fill_number,
            reversed: claim.reversed,
        }
    }

    fn fill(&self) -> Fill {
        Fill {
            ndc: self.ndc,
            rx_number: self.rx_number,
            date_of_service: self.date_of_service,
            quantity_milli: self.quantity_milli,
            days_supply: self.days_supply,
            fill_number: self.fill_number,
            pharmacy: self.pharmacy,
            prescriber: self.prescriber,
            overridden: self.overridden,
        }
    }

    fn key(&self) -> ClaimKey {
        ClaimKey::new(
            self.pharmacy,
            self.rx_number,
            self.fill_number,
            self.date_of_service,
        )
    }

    fn lookup(&self) -> PaidLookup {
        PaidLookup::of_claim(self.claim_id, self.ndc, self.reversed)
    }
}

/// [`ClaimMatch`] packed to 4-byte alignment so that key + patient id take 28 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ClaimKey {
    pharmacy: [u32; 2],
    rx_number: [u32; 2],
    date_of_service: i32,
    fill_number: u8,
}

impl ClaimKey {
    fn new(pharmacy: u64, rx_number: u64, fill_number: u8, date_of_service: Date) -> ClaimKey {
        let split = |value: u64| [(value >> 32) as u32, value as u32];
        ClaimKey {
            pharmacy: split(pharmacy),
            rx_number: split(rx_number),
            date_of_service: date_of_service.days(),
            fill_number,
        }
    }

    fn of(claim: &ClaimMatch) -> ClaimKey {
        ClaimKey::new(
            claim.pharmacy,
            claim.rx_number,
            claim.fill_number,
            claim.date_of_service,
        )
    }

    fn shard(&self) -> usize {
        let join = |[high, low]: [u32; 2]| (u64::from(high) << 32) | u64::from(low);
        let day_and_fill =
            (i64::from(self.date_of_service) << 8) as u64 | u64::from(self.fill_number);
        spread(join(self.rx_number) ^ join(self.pharmacy).rotate_left(21) ^ day_and_fill)
    }
}

/// A shard number from a 64-bit value (Fibonacci hashing: the high bits of the product).
fn spread(value: u64) -> usize {
    let product = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    product
        .checked_shr(64 - HISTORY_SHARDS.trailing_zeros())
        .unwrap_or(0) as usize
}

fn patient_shard(key: &PatientKey) -> usize {
    spread(patient_token(key))
}

/// A 64-bit token of a patient key (its [`id_hash`]): what the server orders in-flight claims
/// of one patient by. Not an identifier: two patients may share a token (they then merely wait
/// for each other).
pub fn patient_token(key: &PatientKey) -> u64 {
    id_hash(key.as_str().as_bytes())
}

/// A patient id: slot and shard in one `u32`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PatientId(u32);

impl PatientId {
    fn new(shard: usize, slot: usize) -> PatientId {
        PatientId((slot * HISTORY_SHARDS + shard) as u32)
    }
    fn shard(self) -> usize {
        self.0 as usize % HISTORY_SHARDS
    }
    fn slot(self) -> usize {
        self.0 as usize / HISTORY_SHARDS
    }
}

/// The patients whose key hashes to one shard.
#[derive(Default)]
struct PatientShard {
    slot_by_key: HashMap<Box<str>, u32>,
    slots: Vec<Vec<Entry>>,
    /// [`patient_token`] of each slot's patient, so a claim match leads back to its patient.
    slot_tokens: Vec<u64>,
    free_slots: Vec<u32>,
    /// The slots whose patient lost a paid, unreversed entry for want of room, with the newest
    /// date of service (days) such an entry had. One per kept patient at most, so bounded by
    /// the patient bound; empty while every patient fits in [`FILLS_PER_PATIENT_MAX`].
    truncated: HashMap<u32, i32>,
}

impl PatientShard {
    fn entries(&self, key: &PatientKey) -> Option<&Vec<Entry>> {
        let slot = *self.slot_by_key.get(key.as_str())?;
        self.slots.get(slot as usize)
    }

    fn add_patient(&mut self, key: &PatientKey) -> usize {
        let slot = self
            .free_slots
            .pop()
            .map_or(self.slots.len(), |slot| slot as usize);
        if slot == self.slots.len() {
            self.slots.push(Vec::new());
            self.slot_tokens.push(0);
        }
        self.slot_tokens[slot] = patient_token(key);
        self.slot_by_key.insert(key.as_str().into(), slot as u32);
        slot
    }

    /// Adds an entry to a slot unless its claim id is already there.
    fn push(&mut self, slot: usize, entry: Entry) -> Pushed {
        let Some(entries) = self.slots.get_mut(slot) else {
            return Pushed::Known;
        };
        if entries.iter().any(|kept| kept.claim_id == entry.claim_id) {
            return Pushed::Known;
        }
        let dropped = push_bounded(entries, entry);
        if let Some(lost) = dropped.as_ref().filter(|dropped| dropped.was_active) {
            let newest = self.truncated.entry(slot as u32).or_insert(i32::MIN);
            *newest = (*newest).max(lost.key.date_of_service);
        }
        Pushed::Added(dropped)
    }
}

enum Pushed {
    Known,
    Added(Option<Dropped>),
}

/// What changed when an entry was pushed into a full slot.
struct Dropped {
    key: ClaimKey,
    was_active: bool,
    /// Another entry of the patient still has the same match key, so the index stays.
    key_still_used: bool,
}

/// Active fills per patient and the paid-claim index. See the module docs.
pub struct History {
    patients: Box<[Mutex<PatientShard>]>,
    claims: Box<[Mutex<HashMap<ClaimKey, PatientId>>]>,
    patients_max: usize,
    patient_count: AtomicUsize,
    active_fill_count: AtomicUsize,
    /// The newest date of service (days) of any entry dropped for want of room; `i32::MIN`
    /// while none was.
    dropped_through: AtomicI32,
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves consistent data behind: every update
    // below is a single push, remove or flag write.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl History {
    /// An empty history with the bounds of [`crate::limits`].
    pub fn new() -> History {
        History::with_patients_max(HISTORY_PATIENTS_MAX)
    }

    /// An empty history keeping at most `patients_max` patients (lowered to the limit).
    pub fn with_patients_max(patients_max: usize) -> History {
        History {
            patients: (0..HISTORY_SHARDS).map(|_| Mutex::default()).collect(),
            claims: (0..HISTORY_SHARDS).map(|_| Mutex::default()).collect(),
            patients_max: patients_max.min(HISTORY_PATIENTS_MAX),
            patient_count: AtomicUsize::new(0),
            active_fill_count: AtomicUsize::new(0),
            dropped_through: AtomicI32::new(i32::MIN),
        }
    }

    /// Replaces `out` with a copy of the patient's active (paid, unreversed) fills, in the order
    /// they were recorded. At most [`FILLS_PER_PATIENT_MAX`].
    pub fn fills(&self, key: &PatientKey, out: &mut Vec<Fill>) {
        out.clear();
        let shard = lock(&self.patients[patient_shard(key)]);
        let Some(entries) = shard.entries(key) else {
            return;
        };
        out.extend(
            entries
                .iter()
                .filter(|entry| !entry.reversed)
                .map(Entry::fill),
        );
    }

    /// Whether the patient has any recorded claim (for E1).
    pub fn contains_patient(&self, key: &PatientKey) -> bool {
        lock(&self.patients[patient_shard(key)])
            .slot_by_key
            .contains_key(key.as_str())
    }

    /// Whether a paid claim of this patient would be kept: the patient is known, or there is
    /// room for one more (a claim the history could not remember must not be paid).
    pub fn can_remember(&self, key: &PatientKey) -> bool {
        self.contains_patient(key) || self.patient_count.load(Ordering::Relaxed) < self.patients_max
    }

    /// Remembers a claim the store has committed as paid.
    pub fn record_paid(&self, key: &PatientKey, claim: PaidClaim) -> Recorded {
        let shard_index = patient_shard(key);
        let (slot, pushed) = {
            let mut shard = lock(&self.patients[shard_index]);
            let Some(slot) = self.slot_for(&mut shard, key) else {
                return Recorded::PatientLimitReached;
            };
            (slot, shard.push(slot, Entry::new(&claim)))
        };
        let Pushed::Added(dropped) = pushed else {
            return Recorded::AlreadyKnown;
        };
        self.count_fill(!claim.reversed, false);
        let patient = PatientId::new(shard_index, slot);
        let key = Entry::new(&claim).key();
        lock(&self.claims[key.shard()]).insert(key, patient);
        match dropped {
            Some(dropped) => self.forget_dropped(dropped, patient),
            None => Recorded::Added,
        }
    }

    /// The paid claim with this match key, if the history has one (unreversed first).
    pub fn find_paid(&self, claim: &ClaimMatch) -> Option<PaidLookup> {
        let key = ClaimKey::of(claim);
        let patient = *lock(&self.claims[key.shard()]).get(&key)?;
        let shard = lock(&self.patients[patient.shard()]);
        best_match(shard.slots.get(patient.slot())?, &key).map(Entry::lookup)
    }

    /// Whether a claim with this match key may have been dropped for want of room: some patient
    /// lost an entry (paid or reversed) dated on or after its date of service. When false, a
    /// [`History::find_paid`] that misses (or finds the claim reversed) is the whole truth.
    pub fn may_have_dropped(&self, claim: &ClaimMatch) -> bool {
        claim.date_of_service.days() <= self.dropped_through.load(Ordering::Relaxed)
    }

    /// Whether this patient lost a paid, unreversed claim dated on or after `date_of_service`
    /// for want of room (more than [`FILLS_PER_PATIENT_MAX`] entries): a duplicate check that
    /// misses in memory is then not the whole truth. False for every patient whose history is
    /// complete; one atomic load while no patient lost anything of that date.
    pub fn patient_may_have_dropped(&self, key: &PatientKey, date_of_service: Date) -> bool {
        if date_of_service.days() > self.dropped_through.load(Ordering::Relaxed) {
            return false;
        }
        let shard = lock(&self.patients[patient_shard(key)]);
        let newest = shard
            .slot_by_key
            .get(key.as_str())
            .and_then(|slot| shard.truncated.get(slot));
        newest.is_some_and(|newest| date_of_service.days() <= *newest)
    }

    /// Patients who lost a paid fill for want of room (their DUR edits see only the newest
    /// [`FILLS_PER_PATIENT_MAX`]).
    pub fn truncated_patients(&self) -> usize {
        self.patients
            .iter()
            .map(|shard| lock(shard).truncated.len())
            .sum()
    }

    /// The [`patient_token`] of the patient a recorded claim belongs to (for a B2 that carries
    /// no patient segments).
    pub fn patient_token_of(&self, claim: &ClaimMatch) -> Option<u64> {
        let key = ClaimKey::of(claim);
        let patient = *lock(&self.claims[key.shard()]).get(&key)?;
        let shard = lock(&self.patients[patient.shard()]);
        shard.slot_tokens.get(patient.slot()).copied()
    }

    /// The authorization number of the paid, unreversed claim a B1 duplicates: same match key
    /// and same product. The B1 is then answered D with it and not recorded again.
    pub fn find_duplicate(&self, claim: &ClaimMatch, ndc: Ndc) -> Option<Authorization> {
        match self.find_paid(claim)? {
            PaidLookup::Paid {
                authorization,
                ndc: paid_ndc,
                ..
            } if paid_ndc == ndc => Some(authorization),
            _ => None,
        }
    }

    /// Marks the paid, unreversed claim with this match key reversed: it stops being an active
    /// fill. Returns its claim id, or `None` when there was no such claim.
    pub fn record_reversal(&self, claim: &ClaimMatch) -> Option<u64> {
        let key = ClaimKey::of(claim);
        let patient = *lock(&self.claims[key.shard()]).get(&key)?;
        let mut shard = lock(&self.patients[patient.shard()]);
        let entries = shard.slots.get_mut(patient.slot())?;
        let entry = entries
            .iter_mut()
            .find(|entry| entry.key() == key && !entry.reversed)?;
        entry.reversed = true;
        self.count_fill(false, true);
        Some(entry.claim_id)
    }

    /// Drops every claim whose date of service is before `older_than`, and patients left with
    /// none.
    pub fn prune(&self, older_than: Date) {
        for claims in self.claims.iter() {
            lock(claims).retain(|key, _| key.date_of_service >= older_than.days());
        }
        for shard in self.patients.iter() {
            self.prune_shard(&mut lock(shard), older_than);
        }
    }

    /// Patients kept.
    pub fn patients(&self) -> usize {
        self.patient_count.load(Ordering::Relaxed)
    }

    /// Active (paid, unreversed) fills kept.
    pub fn fills_len(&self) -> usize {
        self.active_fill_count.load(Ordering::Relaxed)
    }

    /// The patient's slot, adding the patient when there is room.
    fn slot_for(&self, shard: &mut PatientShard, key: &PatientKey) -> Option<usize> {
        if let Some(slot) = shard.slot_by_key.get(key.as_str()) {
            return Some(*slot as usize);
        }
        let count = self.patient_count.fetch_add(1, Ordering::Relaxed);
        if count >= self.patients_max {
            self.patient_count.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(shard.add_patient(key))
    }

    /// Removes a dropped entry's index key unless another entry of the patient still uses it.
    fn forget_dropped(&self, dropped: Dropped, patient: PatientId) -> Recorded {
        self.count_fill(false, dropped.was_active);
        self.dropped_through
            .fetch_max(dropped.key.date_of_service, Ordering::Relaxed);
        if !dropped.key_still_used {
            let mut claims = lock(&self.claims[dropped.key.shard()]);
            if claims.get(&dropped.key) == Some(&patient) {
                claims.remove(&dropped.key);
            }
        }
        Recorded::AddedDroppingOldest
    }

    fn prune_shard(&self, shard: &mut PatientShard, older_than: Date) {
        let PatientShard {
            slot_by_key,
            slots,
            free_slots,
            truncated,
            ..
        } = shard;
        slot_by_key.retain(|_, slot| {
            let entries = slots.get_mut(*slot as usize);
            let kept = entries.is_some_and(|entries| self.prune_slot(entries, older_than));
            if !kept {
                truncated.remove(slot);
                free_slots.push(*slot);
                self.patient_count.fetch_sub(1, Ordering::Relaxed);
            }
            kept
        });
    }

    /// Drops one patient's claims before `older_than`; false when none is left.
    fn prune_slot(&self, entries: &mut Vec<Entry>, older_than: Date) -> bool {
        let active = |entries: &Vec<Entry>| entries.iter().filter(|entry| !entry.reversed).count();
        let active_before = active(entries);
        entries.retain(|entry| entry.date_of_service >= older_than);
        let removed = active_before - active(entries);
        self.active_fill_count.fetch_sub(removed, Ordering::Relaxed);
        entries.shrink_to(entries.len() + entries.len() / 4);
        !entries.is_empty()
    }

    /// Adjusts the active-fill count: +1 when `added`, -1 when `removed`.
    fn count_fill(&self, added: bool, removed: bool) {
        match (added, removed) {
            (true, false) => self.active_fill_count.fetch_add(1, Ordering::Relaxed),
            (false, true) => self.active_fill_count.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

/// Appends `entry`, growing the vector by about a quarter at a time (exact growth keeps the
/// common few-fill patient tight), and drops one entry first when the slot is full.
fn push_bounded(entries: &mut Vec<Entry>, entry: Entry) -> Option<Dropped> {
    let dropped = (entries.len() >= FILLS_PER_PATIENT_MAX)
        .then(|| drop_oldest(entries))
        .flatten();
    if entries.len() == entries.capacity() {
        let room = FILLS_PER_PATIENT_MAX.saturating_sub(entries.len());
        entries.reserve_exact((entries.len() / 4).clamp(1, room.max(1)));
    }
    entries.push(entry);
    let key = dropped.map(|gone| gone.key())?;
    let key_still_used = entries.iter().any(|kept| kept.key() == key);
    dropped.map(|gone| Dropped {
        key,
        was_active: !gone.reversed,
        key_still_used,
    })
}

/// Removes the reversed entry with the oldest date of service, else the oldest fill.
fn drop_oldest(entries: &mut Vec<Entry>) -> Option<Entry> {
    let age = |entry: &Entry| (!entry.reversed, entry.date_of_service, entry.claim_id);
    let (position, _) = entries
        .iter()
        .enumerate()
        .min_by_key(|(_, entry)| age(entry))?;
    Some(entries.remove(position))
}

/// The entry a match key answers with: unreversed first, then the newest reversed one.
fn best_match<'a>(entries: &'a [Entry], key: &ClaimKey) -> Option<&'a Entry> {
    let rank = |entry: &&Entry| (!entry.reversed, entry.claim_id);
    entries
        .iter()
        .filter(|entry| entry.key() == *key)
        .max_by_key(rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(days: i32) -> Date {
        Date::from_ymd(2025, 1, 1).unwrap().add_days(days)
    }

    fn patient(number: u32) -> PatientKey {
        let born = Date::from_ymd(1950, 1, 2).unwrap();
        PatientKey::new(&format!("ZZ{number:09}"), "01", born)
    }

    fn fill(rx_number: u64, date_of_service: Date) -> Fill {
        Fill {
            ndc: Ndc::parse(b"00378611201").unwrap(),
            rx_number,
            date_of_service,
            quantity_milli: 30_000,
            days_supply: 30,
            fill_number: 0,
            pharmacy: id_hash(b"1234567890"),
            prescriber: id_hash(b"1999999999"),
            overridden: Overridden::NONE,
        }
    }

    fn paid(rx_number: u64, date_of_service: Date, claim_id: u64) -> PaidClaim {
        PaidClaim {
            fill: fill(rx_number, date_of_service),
            claim_id,
            reversed: false,
        }
    }

    fn paid_lookup(claim_id: u64) -> Option<PaidLookup> {
        let ndc = fill(0, day(0)).ndc;
        let authorization = Authorization::for_claim(claim_id);
        Some(PaidLookup::Paid {
            claim_id,
            authorization,
            ndc,
        })
    }

    #[test]
    fn layout_stays_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::size_of::<(ClaimKey, PatientId)>(), 28);
    }

    #[test]
    fn a_paid_claim_is_found_for_duplicate_matching_with_its_authorization() {
        let history = History::new();
        let claim = paid(1001, day(3), 7);
        assert_eq!(history.record_paid(&patient(1), claim), Recorded::Added);
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&claim.fill)),
            paid_lookup(7)
        );
        let other_day = ClaimMatch {
            date_of_service: day(4),
            ..ClaimMatch::of_fill(&claim.fill)
        };
        let other_fill = ClaimMatch {
            fill_number: 1,
            ..ClaimMatch::of_fill(&claim.fill)
        };
        let other_pharmacy = ClaimMatch {
            pharmacy: 9,
            ..ClaimMatch::of_fill(&claim.fill)
        };
        for miss in [other_day, other_fill, other_pharmacy] {
            assert_eq!(history.find_paid(&miss), None, "{miss:?}");
        }
    }

    #[test]
    fn a_claim_match_leads_back_to_its_patients_token() {
        let history = History::new();
        let claim = paid(1001, day(3), 7);
        history.record_paid(&patient(1), paid(5, day(1), 6));
        history.record_paid(&patient(2), claim);
        let token = history.patient_token_of(&ClaimMatch::of_fill(&claim.fill));
        assert_eq!(token, Some(patient_token(&patient(2))));
        assert_ne!(patient_token(&patient(1)), patient_token(&patient(2)));
        let unknown = ClaimMatch {
            rx_number: 9,
            ..ClaimMatch::of_fill(&claim.fill)
        };
        assert_eq!(history.patient_token_of(&unknown), None);
    }

    #[test]
    fn a_duplicate_needs_the_same_product_and_an_unreversed_claim() {
        let history = History::new();
        let claim = paid(1001, day(3), 7);
        history.record_paid(&patient(1), claim);
        let key = ClaimMatch::of_fill(&claim.fill);
        let authorization = Some(Authorization::for_claim(7));
        assert_eq!(history.find_duplicate(&key, claim.fill.ndc), authorization);
        let other_product = Ndc::parse(b"00093505601").unwrap();
        assert_eq!(history.find_duplicate(&key, other_product), None);
        history.record_reversal(&key);
        assert_eq!(history.find_duplicate(&key, claim.fill.ndc), None);
    }

    #[test]
    fn fills_are_a_copy_of_one_patients_active_fills() {
        let history = History::new();
        history.record_paid(&patient(1), paid(1, day(0), 1));
        history.record_paid(&patient(1), paid(2, day(5), 2));
        history.record_paid(&patient(2), paid(3, day(5), 3));
        let mut out = vec![fill(99, day(99))];
        history.fills(&patient(1), &mut out);
        assert_eq!(out, vec![fill(1, day(0)), fill(2, day(5))]);
        out[0].days_supply = 1;
        let mut again = Vec::new();
        history.fills(&patient(1), &mut again);
        assert_eq!(
            again[0].days_supply, 30,
            "the history is not changed through the copy"
        );
        history.fills(&patient(3), &mut out);
        assert!(out.is_empty());
        assert_eq!((history.patients(), history.fills_len()), (2, 3));
    }

    #[test]
    fn a_reversal_ends_the_fill_and_a_second_one_finds_it_reversed() {
        let history = History::new();
        let claim = paid(1001, day(3), 7);
        history.record_paid(&patient(1), claim);
        let key = ClaimMatch::of_fill(&claim.fill);
        assert_eq!(history.record_reversal(&key), Some(7));
        assert_eq!(history.record_reversal(&key), None);
        let ndc = claim.fill.ndc;
        let reversed = PaidLookup::Reversed {
            claim_id: 7,
            authorization: Authorization::for_claim(7),
            ndc,
        };
        assert_eq!(history.find_paid(&key), Some(reversed));
        let mut out = Vec::new();
        history.fills(&patient(1), &mut out);
        assert!(out.is_empty());
        assert_eq!(history.fills_len(), 0);
        assert!(history.contains_patient(&patient(1)));
        assert_eq!(
            history.record_reversal(&ClaimMatch {
                rx_number: 5,
                ..key
            }),
            None
        );
    }

    #[test]
    fn a_claim_billed_again_after_its_reversal_is_the_one_found() {
        let history = History::new();
        history.record_paid(&patient(1), paid(1001, day(3), 7));
        let key = ClaimMatch::of_fill(&fill(1001, day(3)));
        history.record_reversal(&key);
        history.record_paid(&patient(1), paid(1001, day(3), 9));
        assert_eq!(history.find_paid(&key), paid_lookup(9));
        assert_eq!(history.record_reversal(&key), Some(9));
        assert!(matches!(
            history.find_paid(&key),
            Some(PaidLookup::Reversed { claim_id: 9, .. })
        ));
    }

    #[test]
    fn a_claim_loaded_as_reversed_is_not_active_whatever_the_load_order() {
        let history = History::new();
        history.record_paid(&patient(1), paid(1001, day(3), 9));
        history.record_paid(
            &patient(1),
            PaidClaim {
                reversed: true,
                ..paid(1001, day(3), 7)
            },
        );
        let key = ClaimMatch::of_fill(&fill(1001, day(3)));
        assert_eq!(history.find_paid(&key), paid_lookup(9));
        assert_eq!(history.fills_len(), 1);
    }

    #[test]
    fn recording_the_same_claim_twice_changes_nothing() {
        let history = History::new();
        history.record_paid(&patient(1), paid(1, day(0), 1));
        assert_eq!(
            history.record_paid(&patient(1), paid(1, day(0), 1)),
            Recorded::AlreadyKnown
        );
        assert_eq!(history.fills_len(), 1);
    }

    #[test]
    fn prune_drops_old_claims_their_index_and_empty_patients() {
        let history = History::new();
        history.record_paid(&patient(1), paid(1, day(0), 1));
        history.record_paid(&patient(1), paid(2, day(10), 2));
        history.record_paid(&patient(2), paid(3, day(1), 3));
        history.prune(day(5));
        assert_eq!((history.patients(), history.fills_len()), (1, 1));
        assert!(!history.contains_patient(&patient(2)));
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(1, day(0)))),
            None
        );
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(2, day(10)))),
            paid_lookup(2)
        );
        history.record_paid(&patient(3), paid(4, day(11), 4));
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(4, day(11)))),
            paid_lookup(4)
        );
        assert_eq!(history.patients(), 2);
    }

    #[test]
    fn a_full_patient_loses_its_oldest_fill() {
        let history = History::new();
        let total = FILLS_PER_PATIENT_MAX as u64 + 1;
        let mut outcomes = Vec::new();
        for rx in 0..total {
            outcomes
                .push(history.record_paid(&patient(1), paid(rx, day(rx as i32 % 7 + 1), rx + 1)));
        }
        assert_eq!(outcomes.last(), Some(&Recorded::AddedDroppingOldest));
        assert_eq!(history.fills_len(), FILLS_PER_PATIENT_MAX);
        let mut out = Vec::new();
        history.fills(&patient(1), &mut out);
        assert_eq!(out.len(), FILLS_PER_PATIENT_MAX);
        // rx 0 was the first fill with the oldest date (day 1).
        assert!(out.iter().all(|kept| kept.rx_number != 0));
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(0, day(1)))),
            None
        );
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(7, day(1)))),
            paid_lookup(8)
        );
    }

    #[test]
    fn a_full_patient_loses_reversed_claims_before_active_fills() {
        let history = History::new();
        for rx in 0..FILLS_PER_PATIENT_MAX as u64 {
            history.record_paid(&patient(1), paid(rx, day(rx as i32), rx + 1));
        }
        let newest = ClaimMatch::of_fill(&fill(200, day(200)));
        history.record_reversal(&newest);
        history.record_paid(&patient(1), paid(999, day(300), 999));
        assert_eq!(
            history.find_paid(&newest),
            None,
            "the reversed claim went first"
        );
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(0, day(0)))),
            paid_lookup(1)
        );
        assert_eq!(history.fills_len(), FILLS_PER_PATIENT_MAX);
    }

    #[test]
    fn a_full_patient_knows_what_it_dropped_and_a_complete_one_never_asks() {
        let history = History::new();
        history.record_paid(&patient(2), paid(5_000, day(0), 5_000));
        for rx in 0..FILLS_PER_PATIENT_MAX as u64 {
            history.record_paid(&patient(1), paid(rx, day(rx as i32), rx + 1));
        }
        let first = ClaimMatch::of_fill(&fill(0, day(0)));
        assert!(
            !history.may_have_dropped(&first),
            "full, nothing dropped yet"
        );
        assert!(!history.patient_may_have_dropped(&patient(1), day(0)));
        assert_eq!(history.truncated_patients(), 0);

        history.record_paid(&patient(1), paid(999, day(300), 999));
        assert_eq!(history.find_paid(&first), None, "the oldest fill went");
        assert!(history.may_have_dropped(&first));
        assert!(history.patient_may_have_dropped(&patient(1), day(0)));
        assert!(
            !history.patient_may_have_dropped(&patient(1), day(1)),
            "nothing of day 1 or later was lost"
        );
        assert!(!history.may_have_dropped(&ClaimMatch::of_fill(&fill(1, day(1)))));
        assert!(
            !history.patient_may_have_dropped(&patient(2), day(0)),
            "another patient's history is complete"
        );
        assert_eq!(history.truncated_patients(), 1);

        // A reversed entry goes first: the history knows a claim of that date may be missing,
        // but the patient lost no paid fill of it.
        let reversed = ClaimMatch::of_fill(&fill(200, day(200)));
        history.record_reversal(&reversed);
        history.record_paid(&patient(1), paid(1_000, day(301), 1_000));
        assert_eq!(history.find_paid(&reversed), None);
        assert!(history.may_have_dropped(&reversed));
        assert!(!history.patient_may_have_dropped(&patient(1), day(200)));

        // A pruned patient goes with its mark (its slot is free for the next patient).
        history.prune(day(400));
        assert_eq!((history.patients(), history.truncated_patients()), (0, 0));
        history.record_paid(&patient(1), paid(7, day(0), 7_000));
        assert!(!history.patient_may_have_dropped(&patient(1), day(0)));
    }

    #[test]
    fn patients_beyond_the_bound_are_not_kept() {
        let history = History::with_patients_max(2);
        history.record_paid(&patient(1), paid(1, day(0), 1));
        history.record_paid(&patient(2), paid(2, day(0), 2));
        assert_eq!(
            history.record_paid(&patient(3), paid(3, day(0), 3)),
            Recorded::PatientLimitReached
        );
        assert_eq!(
            history.record_paid(&patient(1), paid(4, day(0), 4)),
            Recorded::Added
        );
        assert_eq!((history.patients(), history.fills_len()), (2, 3));
        assert_eq!(
            history.find_paid(&ClaimMatch::of_fill(&fill(3, day(0)))),
            None
        );
    }
}
