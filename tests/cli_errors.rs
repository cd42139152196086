//! Fatal errors of the command line: each printed once, naming what is wrong, with exit code
//! 2 for usage or configuration and 1 for a failure at run time.

use std::process::{Command, Output};

fn durgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn times(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn a_store_file_that_cannot_be_opened_names_the_path_and_the_reason_once() {
    let output = durgate(&[
        "serve",
        "--store",
        "sqlite:/nonexistent/dir/claims.db",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(times(&stderr, "/nonexistent/dir/claims.db"), 1, "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}

#[test]
fn a_broken_configuration_file_is_reported_once_with_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("durgate.toml");
    std::fs::write(&config, "listen = [\n").unwrap();
    let output = durgate(&["serve", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(times(&stderr, "TOML parse error"), 1, "{stderr}");
    assert!(stderr.contains("durgate.toml"), "{stderr}");
}
