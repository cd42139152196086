//! Memory and speed of the in-memory patient history at service size.
//!
//! Inserts 1,000,000 paid fills over 200,000 patients (5 each) into `durgate::history::History`
//! and measures the live heap bytes it holds with a counting global allocator, then times
//! duplicate look-ups and fill copies (printed for information, never asserted). It also sizes
//! the claim index as 64 std `HashMap`s behind mutexes against one `DashMap` holding the same
//! keys. The last stdout line is JSON: `{"fills":..,"patients":..,"bytes_per_fill":..}`.
//!
//! Run: `cargo bench --bench history`.

use dashmap::DashMap;
use durgate::claim::{id_hash, Date, Fill, Ndc, PatientKey};
use durgate::history::{ClaimMatch, History, PaidClaim};
use durgate::limits::HISTORY_SHARDS;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const PATIENTS: u64 = 200_000;
const FILLS_PER_PATIENT: u64 = 5;
const PHARMACIES: u64 = 5_000;
const PRESCRIBERS: u64 = 20_000;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn patient_key(patient: u64) -> PatientKey {
    let born = Date::from_days(-7_000 + (patient % 20_000) as i32);
    PatientKey::new(&format!("ZZ{patient:09}"), "01", born)
}

fn fill(patient: u64, number: u64) -> Fill {
    let start = Date::from_ymd(2025, 1, 1).unwrap_or_default();
    Fill {
        ndc: Ndc::from_value(100_000_000 + (patient * 7 + number) % 30_000)
            .unwrap_or(Ndc::from_value(0).unwrap()),
        rx_number: patient * FILLS_PER_PATIENT + number,
        date_of_service: start.add_days(((patient + number * 37) % 365) as i32),
        quantity_milli: 30_000,
        days_supply: 30,
        fill_number: 0,
        pharmacy: id_hash(format!("{:010}", patient % PHARMACIES).as_bytes()),
        prescriber: id_hash(format!("{:010}", patient % PRESCRIBERS).as_bytes()),
        overridden: durgate::claim::Overridden::NONE,
    }
}

fn build() -> History {
    let history = History::new();
    for patient in 0..PATIENTS {
        let key = patient_key(patient);
        for number in 0..FILLS_PER_PATIENT {
            let claim_id = patient * FILLS_PER_PATIENT + number + 1;
            history.record_paid(
                &key,
                PaidClaim {
                    fill: fill(patient, number),
                    claim_id,
                    reversed: false,
                },
            );
        }
    }
    history
}

fn time_lookups(history: &History) {
    let matches: Vec<ClaimMatch> = (0..PATIENTS)
        .flat_map(|patient| {
            (0..FILLS_PER_PATIENT).map(move |number| ClaimMatch::of_fill(&fill(patient, number)))
        })
        .collect();
    let started = Instant::now();
    let found = matches
        .iter()
        .filter(|claim| history.find_paid(claim).is_some())
        .count();
    let per_lookup = started.elapsed().as_nanos() as f64 / matches.len() as f64;
    println!("find_paid: {found} found, {per_lookup:.0} ns per look-up");
    let keys: Vec<PatientKey> = (0..PATIENTS).map(patient_key).collect();
    let mut out = Vec::new();
    let started = Instant::now();
    for key in &keys {
        history.fills(key, &mut out);
        black_box(&out);
    }
    let per_copy = started.elapsed().as_nanos() as f64 / PATIENTS as f64;
    println!("fills: {per_copy:.0} ns per patient copy");
}

/// The history's claim index key, same layout (21 bytes, 4-byte aligned).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct IndexKey {
    pharmacy: [u32; 2],
    rx_number: [u32; 2],
    date_of_service: i32,
    fill_number: u8,
}

fn index_key(number: u64) -> IndexKey {
    IndexKey {
        pharmacy: [number as u32, 7],
        rx_number: [0, number as u32],
        date_of_service: 20_000,
        fill_number: 0,
    }
}

fn compare_index_containers() {
    let entries = PATIENTS * FILLS_PER_PATIENT;
    let before = live_bytes();
    let sharded: Vec<Mutex<HashMap<IndexKey, u32>>> =
        (0..HISTORY_SHARDS).map(|_| Mutex::default()).collect();
    for number in 0..entries {
        let shard = (number as usize * 31) % HISTORY_SHARDS;
        if let Ok(mut map) = sharded[shard].lock() {
            map.insert(index_key(number), number as u32);
        }
    }
    let sharded_bytes = live_bytes() - before;
    drop(sharded);
    let before = live_bytes();
    let dash: DashMap<IndexKey, u32> = DashMap::new();
    for number in 0..entries {
        dash.insert(index_key(number), number as u32);
    }
    let dash_bytes = live_bytes() - before;
    drop(dash);
    let per = |bytes: usize| bytes as f64 / entries as f64;
    println!(
        "claim index of {entries} keys: {HISTORY_SHARDS} mutex HashMaps {:.1} bytes/key, dashmap {:.1} bytes/key",
        per(sharded_bytes),
        per(dash_bytes)
    );
}

fn main() {
    compare_index_containers();
    let before = live_bytes();
    let started = Instant::now();
    let history = build();
    let elapsed = started.elapsed();
    let bytes = live_bytes() - before;
    let fills = history.fills_len();
    let inserts_per_second = fills as f64 / elapsed.as_secs_f64();
    println!("record_paid: {fills} fills in {elapsed:.2?} ({inserts_per_second:.0}/s), heap {bytes} bytes");
    time_lookups(&history);
    let bytes_per_fill = bytes as f64 / fills.max(1) as f64;
    println!(
        "{{\"fills\":{fills},\"patients\":{},\"bytes_per_fill\":{bytes_per_fill:.1}}}",
        history.patients()
    );
}
