//! Reload speed: a generated folder of 10k products, 5k interaction pairs and 200 classes,
//! timed from file contents in memory through validation and compilation to the swap.
//! Prints human lines, then one JSON line last.

#[path = "support/synthetic.rs"]
mod synthetic;

use durgate::rules::{compile, LiveRules};
use std::hint::black_box;
use std::time::Instant;

const RUNS: usize = 9;
const TARGET_MS: f64 = 200.0;

fn main() {
    let sizes = synthetic::Sizes {
        products: 10_000,
        interactions: 5_000,
        classes: 200,
        ingredients: 2_000,
    };
    let source = synthetic::generate(&sizes);
    let bytes: usize = source.files.iter().map(|(_, bytes)| bytes.len()).sum();
    let live = LiveRules::new(compile(&source).expect("generated tables compile"));
    let mut runs_ms: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let rules = compile(black_box(&source)).expect("generated tables compile");
            black_box(live.swap(rules));
            started.elapsed().as_secs_f64() * 1_000.0
        })
        .collect();
    runs_ms.sort_by(f64::total_cmp);
    let (median, fastest, slowest) = (runs_ms[RUNS / 2], runs_ms[0], runs_ms[RUNS - 1]);
    let counts = live.load().counts();
    println!(
        "folder: {} products, {} ddi rows, {} classes, {} dose bands, {bytes} bytes",
        counts.products, counts.ddi, counts.classes, counts.dose_limits
    );
    println!("compile + validate + swap: median {median:.1} ms, fastest {fastest:.1} ms, slowest {slowest:.1} ms (target <= {TARGET_MS:.0} ms)");
    println!(
        "{{\"bench\":\"reload\",\"products\":{},\"ddi\":{},\"classes\":{},\"bytes\":{bytes},\"median_ms\":{median:.1},\"fastest_ms\":{fastest:.1},\"slowest_ms\":{slowest:.1},\"target_ms\":{TARGET_MS:.0}}}",
        counts.products, counts.ddi, counts.classes
    );
}
