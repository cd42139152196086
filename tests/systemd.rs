//! The shipped systemd unit (`contrib/systemd/durgate.service`): hardened as the operations docs
//! promise, starting `durgate serve` with flags the binary really has, and accepted by
//! `systemd-analyze verify`.
//!
//! `verify` needs the `ExecStart` program to exist, so it checks a temp copy whose `ExecStart`
//! names the built binary. Without `systemd-analyze` that check skips visibly; it is never
//! required (`DURGATE_REQUIRE_SERVICES` does not apply): `.ci/run` installs no systemd.

mod observe;
mod support;

use std::process::Command;

const UNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/systemd/durgate.service"
);
/// Where the unit expects the binary.
const INSTALLED_BINARY: &str = "/usr/local/bin/durgate";

/// The directives the unit must carry, exactly.
const REQUIRED: [(&str, &str); 13] = [
    ("DynamicUser", "yes"),
    ("User", "durgate"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("NoNewPrivileges", "yes"),
    ("StateDirectory", "durgate"),
    ("ConfigurationDirectory", "durgate"),
    ("LimitNOFILE", "65536"),
    ("Restart", "on-failure"),
    ("CapabilityBoundingSet", ""),
    ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ("WorkingDirectory", "/var/lib/durgate"),
];

fn unit_text() -> String {
    std::fs::read_to_string(UNIT).expect("the unit file")
}

/// Every `key=value` line of the unit (comments and section headers left out).
fn directives(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn exec_start(text: &str) -> String {
    let found = directives(text)
        .into_iter()
        .find(|(key, _)| key == "ExecStart");
    found.expect("an ExecStart line").1
}

#[test]
fn the_unit_carries_the_hardening() {
    let found = directives(&unit_text());
    for (key, value) in REQUIRED {
        let wanted = (key.to_owned(), value.to_owned());
        assert!(found.contains(&wanted), "the unit lacks {key}={value}");
    }
}

#[test]
fn the_unit_starts_serve_with_flags_it_has() {
    let exec = exec_start(&unit_text());
    let command = format!("{INSTALLED_BINARY} serve ");
    assert!(exec.starts_with(&command), "{exec}");
    let help = Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(["serve", "--help"])
        .output()
        .expect("durgate serve --help");
    let help = String::from_utf8(help.stdout).expect("UTF-8");
    let flags: Vec<&str> = exec
        .split_whitespace()
        .filter(|word| word.starts_with("--"))
        .collect();
    assert!(flags.contains(&"--config"), "{exec}");
    for flag in flags {
        assert!(
            help.contains(&format!("{flag} ")),
            "durgate serve has no {flag}"
        );
    }
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let Some(analyze) = observe::find_program("systemd-analyze") else {
        support::skip::skip_optional("systemd-analyze is not installed (Debian package `systemd`)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = dir.path().join("durgate.service");
    let text = unit_text().replace(
        &format!("ExecStart={INSTALLED_BINARY} "),
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_durgate")),
    );
    assert_ne!(text, unit_text(), "ExecStart was not rewritten");
    std::fs::write(&unit, text).expect("write the unit copy");
    let output = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    // Warnings (an unknown key, a bad value) name the unit file and leave the status at 0.
    let warnings: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("durgate.service"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}
