//! Helpers of the observability stories (`tests/prometheus.rs`, `tests/metrics_names.rs`,
//! `tests/admin.rs`, `tests/logs_json.rs`): an HTTP client for loopback, rule-folder copies, and
//! finding an external program. The gateway itself comes from `tests/support`.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};

/// Copies every file of `from` into `to` (a rule folder into a temp folder that a story may
/// change).
pub fn copy_folder(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("source folder") {
        let path = entry.expect("folder entry").path();
        if let (true, Some(name)) = (path.is_file(), path.file_name()) {
            std::fs::copy(&path, to.join(name)).expect("copy a file");
        }
    }
}

/// A temp copy of the sample rule tables with `version` in place of the shipped one.
pub fn sample_rules_as(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rules/sample");
    copy_folder(&sample, dir.path());
    set_version(dir.path(), version);
    dir
}

/// Rewrites `version = "..."` in the folder's `ruleset.toml`.
pub fn set_version(dir: &Path, version: &str) {
    let path = dir.join("ruleset.toml");
    let text = std::fs::read_to_string(&path).expect("ruleset.toml");
    let changed: Vec<String> = text
        .lines()
        .map(|line| match line.starts_with("version =") {
            true => format!("version = \"{version}\""),
            false => line.to_string(),
        })
        .collect();
    assert_ne!(
        changed.join("\n"),
        text.trim_end(),
        "no version line in {path:?}"
    );
    std::fs::write(&path, changed.join("\n") + "\n").expect("write ruleset.toml");
    reseal(dir);
}

/// A program on `PATH`, if any.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Seals `dir` as `durgate rules seal` would, valid or not (a story that breaks a table wants
/// the table's own errors, not only a seal mismatch).
pub fn reseal(dir: &Path) {
    let source = durgate::server::reload::read_table_files(dir).expect("the table files read");
    durgate::server::reload::write_seal(dir, &source).expect("write the seal");
}
