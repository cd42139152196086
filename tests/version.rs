//! `durgate --version` through the built binary: the version from `Cargo.toml` and the git
//! commit the binary was built from (the checkout's `HEAD` when git can read it).

use std::process::Command;

/// The `version` of `[package]` in Cargo.toml, read from the file itself.
fn cargo_toml_version() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(path)
        .expect("Cargo.toml")
        .parse()
        .expect("Cargo.toml is TOML");
    manifest["package"]["version"]
        .as_str()
        .expect("a package version")
        .to_owned()
}

/// The short hash of the checkout's `HEAD`, when this is a git checkout.
fn head_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let hash = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| hash.trim().to_owned())
}

fn version_line() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_durgate"))
        .arg("--version")
        .output()
        .expect("durgate runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

#[test]
fn version_prints_the_cargo_version_and_the_commit() {
    let line = version_line();
    let version = cargo_toml_version();
    let (name, rest) = line.split_once(' ').expect("name and version");
    assert_eq!(name, "durgate", "{line}");
    let (printed, commit) = rest.split_once(' ').expect("version and commit");
    assert_eq!(printed, version, "{line}");
    let commit = commit
        .strip_prefix('(')
        .and_then(|commit| commit.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no (commit) in {line}"));
    match head_commit() {
        Some(head) => {
            let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
            assert_eq!(hash, head, "{line}");
        }
        None => assert_eq!(commit, "unknown", "{line}"),
    }
}
