//! Honest skips: what a test does when an outside service it needs (PostgreSQL, the
//! `prometheus` binary, `systemd-analyze`) is absent.
//!
//! Locally a skip is visible: the reason goes to stdout and one line per skipped test is
//! appended to `target/skipped-stories.txt` (`<unix seconds> <crate>::<test>: <reason>`). With
//! `DURGATE_REQUIRE_SERVICES=1` (what `.ci/run` sets) a skip of a required service is a test
//! failure carrying the reason instead, so a CI run cannot pass by skipping.
//!
//! Self-contained (std only), so the library's own unit tests include it by path as well; its
//! tests are the story `tests/skips.rs`.
//! Must not: decide whether a service is present (the caller does), or swallow the reason.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Set to `1` to turn every skip of a required service into a failure.
pub const REQUIRE_SERVICES_VAR: &str = "DURGATE_REQUIRE_SERVICES";

/// The file under the target folder that collects one line per skipped test.
pub const SKIPPED_STORIES_FILE: &str = "skipped-stories.txt";

/// The decision: `Ok(())` to skip and pass, `Err(message)` when the service is required.
pub fn skip_or_fail(reason: &str, required: bool) -> Result<(), String> {
    match required {
        false => Ok(()),
        true => Err(format!(
            "{reason} — {REQUIRE_SERVICES_VAR}=1 makes this skip a failure"
        )),
    }
}

/// Whether `value` (the variable's value, if set) asks for required services.
pub fn requires(value: Option<&str>) -> bool {
    matches!(value, Some(value) if !value.is_empty() && value != "0")
}

/// Whether this run requires the outside services (`DURGATE_REQUIRE_SERVICES`).
pub fn services_required() -> bool {
    requires(std::env::var(REQUIRE_SERVICES_VAR).ok().as_deref())
}

/// Skips the current test for `reason` (the caller returns right after), or fails it when
/// [`services_required`].
pub fn skip(reason: &str) {
    skip_unless(reason, services_required());
}

/// As [`skip`], for a service no run requires: a visible skip, never a failure.
pub fn skip_optional(reason: &str) {
    skip_unless(reason, false);
}

/// Skips with `reason` when not `required`, else panics with it.
pub fn skip_unless(reason: &str, required: bool) {
    if let Err(failure) = skip_or_fail(reason, required) {
        panic!("{failure}");
    }
    let line = format!("{}: {reason}", current_test());
    println!("skipped: {line}");
    record(&line);
}

/// `<crate>::<test>`: libtest names each test's thread after the test.
fn current_test() -> String {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed test");
    format!("{}::{test}", env!("CARGO_CRATE_NAME"))
}

/// The target folder: `CARGO_TARGET_DIR` when set, else `target/` of the package.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn record(line: &str) {
    record_in(&target_dir().join(SKIPPED_STORIES_FILE), line);
}

/// Appends `line` to `path`, stamped with the time (a single write, so parallel tests do not
/// interleave).
#[allow(clippy::disallowed_methods)] // a test log's time stamp, not the gateway's clock
pub fn record_in(path: &std::path::Path, line: &str) {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{seconds} {line}\n").as_bytes()));
    if let Err(error) = appended {
        println!("could not record the skip in {}: {error}", path.display());
    }
}
