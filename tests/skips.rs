//! Honest skips: a test whose outside service is absent passes visibly (stdout and a line in
//! `target/skipped-stories.txt`) unless `DURGATE_REQUIRE_SERVICES=1`, which makes it fail with
//! the reason.
//!
//! The end-to-end stories run this very test binary again as a child on the ignored probe
//! `absent_postgres_probe`, pointed at a port where no PostgreSQL answers, once with the
//! variable and once without, with the target folder in a temp dir. A last check holds the
//! README's test command equal to the one `.ci/run` runs, but for the variable.

mod support;

use std::process::{Command, Output};

use support::pg::PgSchema;
use support::skip::{self, requires, skip_or_fail, REQUIRE_SERVICES_VAR, SKIPPED_STORIES_FILE};

/// A loopback port with nothing listening (the discard port, never served in tests).
const NO_SERVER_URL: &str = "postgres://postgres@127.0.0.1:9/test";
const PROBE: &str = "absent_postgres_probe";

#[test]
fn a_skip_passes_unless_services_are_required() {
    assert_eq!(skip_or_fail("no server", false), Ok(()));
    let failure = skip_or_fail("no server", true).expect_err("required: a failure");
    assert!(failure.starts_with("no server"), "{failure}");
    assert!(failure.contains(REQUIRE_SERVICES_VAR), "{failure}");
}

#[test]
fn only_a_set_non_zero_value_requires_services() {
    assert!(requires(Some("1")));
    assert!(requires(Some("yes")));
    assert!(!requires(Some("0")));
    assert!(!requires(Some("")));
    assert!(!requires(None));
}

#[test]
#[should_panic(expected = "makes this skip a failure")]
fn a_required_skip_panics_with_the_reason() {
    skip::skip_unless("no server for this test", true);
}

/// Run only as a child of the stories below.
#[test]
#[ignore]
fn absent_postgres_probe() {
    let Some(_schema) = PgSchema::create("probe") else {
        return;
    };
    panic!("a PostgreSQL server answered at {NO_SERVER_URL}");
}

/// Runs the probe in a child with the target folder in `target` and `required` or not.
fn run_probe(target: &std::path::Path, required: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args([
            "--ignored",
            "--exact",
            PROBE,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DURGATE_TEST_PG_URL", NO_SERVER_URL)
        .env("CARGO_TARGET_DIR", target)
        .env_remove(REQUIRE_SERVICES_VAR);
    if required {
        command.env(REQUIRE_SERVICES_VAR, "1");
    }
    command.output().expect("the probe runs")
}

fn text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{stdout}{}", String::from_utf8_lossy(&output.stderr))
}

#[test]
fn without_the_variable_a_skip_passes_and_is_listed() {
    let target = tempfile::tempdir().expect("temp dir");
    let output = run_probe(target.path(), false);
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("skipped: skips::absent_postgres_probe: no PostgreSQL"),
        "{shown}"
    );
    let listed =
        std::fs::read_to_string(target.path().join(SKIPPED_STORIES_FILE)).expect("the skip list");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains("skips::absent_postgres_probe: no PostgreSQL"),
        "{listed}"
    );
}

#[test]
fn with_the_variable_a_skip_fails_with_the_reason() {
    let target = tempfile::tempdir().expect("temp dir");
    let output = run_probe(target.path(), true);
    let shown = text(&output);
    assert!(!output.status.success(), "the probe passed: {shown}");
    assert!(
        shown.contains("no PostgreSQL server for this test"),
        "{shown}"
    );
    assert!(shown.contains("makes this skip a failure"), "{shown}");
    assert!(!target.path().join(SKIPPED_STORIES_FILE).exists());
}

/// The README's test command is what `.ci/run` runs, but for the variable.
#[test]
fn the_readme_test_command_is_the_ci_command() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(root.join(name)).expect(name);
    let ci_command = read(".ci/run")
        .lines()
        .rev()
        .find(|line| line.contains("cargo test"))
        .map(str::trim)
        .map(str::to_owned)
        .expect("a cargo test line in .ci/run");
    let readme_command = ci_command
        .strip_prefix(&format!("{REQUIRE_SERVICES_VAR}=1 "))
        .unwrap_or_else(|| panic!(".ci/run does not set {REQUIRE_SERVICES_VAR}=1: {ci_command}"));
    let quick_start = read("README.md");
    let quick_start = quick_start
        .split("## Quick start")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Quick start section");
    assert!(
        quick_start
            .lines()
            .any(|line| line.trim() == readme_command),
        "the README's quick start does not run `{readme_command}`"
    );
}
