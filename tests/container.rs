//! The container image: a multi-stage `Dockerfile` whose final stage runs as an unprivileged
//! user, starts `durgate serve` with flags the binary has, keeps the store on a volume and the
//! rule tables where a read-only volume can replace them. `docker build` runs when a Docker
//! engine answers; without one that check skips visibly (it is never required: CI has no
//! engine).

mod support;

use std::process::Command;

fn dockerfile() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).expect("Dockerfile")
}

/// The instructions of the final stage (after the last `FROM`), comments left out.
fn final_stage(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let last_from = lines
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .expect("a FROM");
    lines[last_from..]
        .iter()
        .map(|line| line.to_string())
        .collect()
}

/// The words of the final stage's `CMD ["serve", ...]`.
fn serve_command(stage: &[String]) -> Vec<String> {
    let cmd = stage
        .iter()
        .find(|line| line.starts_with("CMD "))
        .expect("a CMD");
    let list = cmd.trim_start_matches("CMD ").trim();
    list.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|word| word.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn the_image_is_built_in_one_stage_and_runs_unprivileged_in_another() {
    let text = dockerfile();
    assert_eq!(
        text.lines()
            .filter(|line| line.starts_with("FROM "))
            .count(),
        2
    );
    assert!(
        text.contains("cargo build --release --locked"),
        "a reproducible build"
    );
    let stage = final_stage(&text);
    let user = stage
        .iter()
        .find(|line| line.starts_with("USER "))
        .expect("a USER");
    let id = user
        .trim_start_matches("USER ")
        .split(':')
        .next()
        .unwrap_or("");
    assert!(!matches!(id, "root" | "0" | ""), "runs as root: {user}");
    assert!(stage
        .iter()
        .any(|line| line == "VOLUME [\"/var/lib/durgate\"]"));
    assert!(!text.contains("ADD http"), "nothing fetched into the image");
}

#[test]
fn the_image_starts_serve_with_flags_it_has_and_its_store_on_the_volume() {
    let command = serve_command(&final_stage(&dockerfile()));
    assert_eq!(command.first().map(String::as_str), Some("serve"));
    let value = |flag: &str| {
        let at = command.iter().position(|word| word == flag)?;
        command.get(at + 1).cloned()
    };
    assert_eq!(
        value("--store").as_deref(),
        Some("sqlite:/var/lib/durgate/claims.db")
    );
    assert_eq!(value("--rules").as_deref(), Some("/etc/durgate/rules"));
    assert!(dockerfile().contains("COPY config/rules/sample /etc/durgate/rules"));
    let help = Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(["serve", "--help"])
        .output()
        .expect("durgate serve --help");
    let help = String::from_utf8(help.stdout).expect("UTF-8");
    for flag in command.iter().filter(|word| word.starts_with("--")) {
        assert!(
            help.contains(&format!("{flag} ")),
            "durgate serve has no {flag}"
        );
    }
}

#[test]
fn docker_builds_the_image_when_an_engine_answers() {
    let engine = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    if !engine.is_ok_and(|output| output.status.success()) {
        support::skip::skip_optional("no Docker engine answers (`docker info` failed)");
        return;
    }
    let output = Command::new("docker")
        .args([
            "build",
            "--quiet",
            "--tag",
            "durgate:test",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .output()
        .expect("docker build runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "docker build failed: {stderr}");
}
