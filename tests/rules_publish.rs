//! Publishing a rule folder file by file over a live one: with the seal required (the
//! gateway's default), the tables live after any reload are the old folder's or the complete
//! new folder's, never a mix — over many copy orders, reloading after every file, and through
//! the real folder watch. A control run without seals shows the check is what prevents the mix.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use durgate::rules::seal::SEAL_FILE;
use durgate::rules::LiveRules;
use durgate::server::reload::{read_rule_folder, read_table_files, reload_from, write_seal};

/// Copy orders tried.
const ORDERS: u64 = 120;
/// Pause between two files in the watched copy: longer than the watch's debounce, so the
/// watch reloads in the middle of the copy.
const WATCHED_PAUSE: Duration = Duration::from_millis(700);

/// A folder: the sample (old) or the sample with rows dropped from three tables and a new
/// version (new), sealed or not.
fn folder(new: bool, sealed: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in durgate::rules::FILES
        .iter()
        .chain(durgate::rules::OPTIONAL_FILES.iter())
    {
        std::fs::copy(support::sample_rules().join(name), dir.path().join(name)).expect("copy");
    }
    if new {
        for table in ["ddi.csv", "elderly_high_risk.csv", "duplication.csv"] {
            drop_last_row(&dir.path().join(table));
        }
        let ruleset = dir.path().join("ruleset.toml");
        let text = std::fs::read_to_string(&ruleset).expect("ruleset.toml");
        let bumped = text.replacen("version = \"", "version = \"9", 1);
        std::fs::write(&ruleset, bumped).expect("bump the version");
    }
    if sealed {
        let source = read_table_files(dir.path()).expect("tables read");
        write_seal(dir.path(), &source).expect("seal");
    }
    dir
}

fn drop_last_row(path: &Path) {
    let text = std::fs::read_to_string(path).expect("table");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(path, lines.join("\n") + "\n").expect("write the table");
}

/// What tables look like when live: `id@version` and rows per table.
fn rules_summary(rules: &durgate::rules::RuleSet) -> String {
    format!("{} {:?}", rules.stamp(), rules.counts())
}

/// What a folder's tables look like when live.
fn summary_of(dir: &Path) -> String {
    let source = read_rule_folder(dir).expect("a valid folder");
    rules_summary(&durgate::rules::compile(&source).expect("compiles"))
}

fn live_summary(live: &LiveRules) -> String {
    rules_summary(&live.load())
}

/// The files to copy, in the order of permutation `seed` (a small LCG shuffle).
fn copy_order(dir: &Path, seed: u64) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for index in (1..names.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        names.swap(index, (state >> 33) as usize % (index + 1));
    }
    names
}

/// Copies `new` over a fresh copy of `old` file by file in order `seed`, reloading after each
/// file; returns every live summary seen.
fn publish(old: &Path, new: &Path, seed: u64, require_seal: bool) -> Vec<String> {
    let live_dir = tempfile::tempdir().expect("temp dir");
    for name in copy_order(old, 0) {
        std::fs::copy(old.join(&name), live_dir.path().join(&name)).expect("copy old");
    }
    let source = read_rule_folder(live_dir.path()).expect("old folder reads");
    let live = LiveRules::from_source(source).expect("old folder compiles");
    live.require_seal(require_seal);
    let mut seen = Vec::new();
    for name in copy_order(new, seed) {
        std::fs::copy(new.join(&name), live_dir.path().join(&name)).expect("copy new");
        let _ = reload_from(live_dir.path(), &live);
        seen.push(live_summary(&live));
    }
    seen
}

#[test]
fn a_sealed_folder_copied_in_any_order_goes_live_whole_or_not_at_all() {
    let (old, new) = (folder(false, true), folder(true, true));
    let (old_summary, new_summary) = (summary_of(old.path()), summary_of(new.path()));
    assert_ne!(old_summary, new_summary);
    for seed in 0..ORDERS {
        let seen = publish(old.path(), new.path(), seed, true);
        for summary in &seen {
            assert!(
                *summary == old_summary || *summary == new_summary,
                "order {seed}: a mix went live:\n{summary}"
            );
        }
        assert_eq!(
            seen.last(),
            Some(&new_summary),
            "order {seed}: the new folder never went live"
        );
    }
}

#[test]
fn without_seals_the_same_copies_put_a_mix_live() {
    let (old, new) = (folder(false, false), folder(true, false));
    let (old_summary, new_summary) = (summary_of(old.path()), summary_of(new.path()));
    let mixed = (0..ORDERS).any(|seed| {
        publish(old.path(), new.path(), seed, false)
            .iter()
            .any(|summary| *summary != old_summary && *summary != new_summary)
    });
    assert!(
        mixed,
        "the control never saw a mix: the sealed story would prove nothing"
    );
}

#[test]
fn an_unsealed_folder_is_refused_where_the_seal_is_required() {
    let unsealed = folder(true, false);
    let sealed = folder(false, true);
    let source = read_rule_folder(sealed.path()).expect("reads");
    let live = LiveRules::from_source(source).expect("compiles");
    live.require_seal(true);
    let before = live_summary(&live);
    let errors = reload_from(unsealed.path(), &live)
        .expect_err("refused")
        .to_string();
    assert!(
        errors.contains(&format!("{SEAL_FILE}:1:1")) && errors.contains("not sealed"),
        "{errors}"
    );
    assert_eq!(live_summary(&live), before);
}

#[test]
fn the_watch_never_puts_a_half_copied_folder_live() {
    let (old, new) = (folder(false, true), folder(true, true));
    let (old_summary, new_summary) = (summary_of(old.path()), summary_of(new.path()));
    let live_dir = tempfile::tempdir().expect("temp dir");
    for name in copy_order(old.path(), 0) {
        std::fs::copy(old.path().join(&name), live_dir.path().join(&name)).expect("copy old");
    }
    let source = read_rule_folder(live_dir.path()).expect("reads");
    let live = Arc::new(LiveRules::from_source(source).expect("compiles"));
    live.require_seal(true);
    let _watch =
        durgate::server::reload::watch_rule_folder(live_dir.path(), live.clone()).expect("watch");
    for name in copy_order(new.path(), 7) {
        std::fs::copy(new.path().join(&name), live_dir.path().join(&name)).expect("copy new");
        std::thread::sleep(WATCHED_PAUSE);
        let summary = live_summary(&live);
        assert!(
            summary == old_summary || summary == new_summary,
            "a mix went live:\n{summary}"
        );
    }
    assert_eq!(live_summary(&live), new_summary);
    assert!(
        live.reloads_failed() > 0,
        "the watch never reloaded mid-copy"
    );
}
