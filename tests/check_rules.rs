//! `durgate check-rules DIR`: a valid folder prints its summary and exits 0; a broken one
//! prints every error as `file:line:column: message` and exits 1. Also `durgate rules seal`,
//! and `durgate serve` on a schema-1 folder: refused until sealed, then adjudicating claims.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const RULESET: &str = r#"id = "cli-test"
version = "7"
schema = 1
[history]
lookback_days = 120
active_grace_days = 1
[edits.ddi]
enabled = true
reason = "DD"
action = { 1 = "reject", 2 = "warn", 3 = "off" }
override_professional = ["M0"]
override_result = ["1G"]
[edits.duplication]
enabled = true
reason = "TD"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.high_dose]
enabled = false
reason = "HD"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.elderly_high_risk]
enabled = true
reason = "PA"
action = "warn"
override_professional = ["M0"]
override_result = ["1G"]
"#;

const FILES: [(&str, &str); 7] = [
    (
        "products.csv",
        "ndc,ingredients,strengths,strength_unit,route\n00000000001,simvastatin,40,mg,oral\n00000000002,clarithromycin,500,mg,oral\n",
    ),
    ("classes.csv", "class,ingredient\nSTATIN,simvastatin\nMACROLIDE,clarithromycin\n"),
    ("ddi.csv", "id,left,right,severity,message\nD1,simvastatin,class:MACROLIDE,1,myopathy\n"),
    ("duplication.csv", "class,allowance,message\nclass:STATIN,1,duplicate statin\n"),
    ("dose_limits.csv", "ingredient,route,min_age,max_age,max_daily,unit\nsimvastatin,oral,18,150,40,mg\n"),
    ("elderly_high_risk.csv", "ingredient,min_age,message\n"),
    ("mme.csv", "ingredient,route,factor\n"),
];

fn write_folder(dir: &Path) {
    std::fs::write(dir.join("ruleset.toml"), RULESET).unwrap();
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn check_rules(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_durgate"))
        .arg("check-rules")
        .arg(dir)
        .output()
        .expect("binary runs")
}

#[test]
fn a_valid_folder_prints_its_summary_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    let output = check_rules(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ruleset cli-test@7 (schema 1)"), "{stdout}");
    assert!(stdout.contains("products           2"), "{stdout}");
    assert!(stdout.contains("ddi                1"), "{stdout}");
    assert!(
        stdout.contains("lookback 120 days, active grace 1 days"),
        "{stdout}"
    );
    assert!(
        stdout.contains("enabled edits: ddi, duplication, elderly_high_risk\n"),
        "{stdout}"
    );
}

#[test]
fn a_schema_two_folder_says_so_and_reads_its_optional_age_limits() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    let ruleset = dir.path().join("ruleset.toml");
    let text = std::fs::read_to_string(&ruleset).unwrap();
    std::fs::write(&ruleset, text.replace("schema = 1", "schema = 2")).unwrap();
    std::fs::write(
        dir.path().join("age_limits.csv"),
        "ingredient,min_age,max_age,message\ncodeine,0,11,ultra-rapid metabolizers\n",
    )
    .unwrap();
    let output = check_rules(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("(schema 2)"), "{stdout}");
    assert!(stdout.contains("age_limits         1"), "{stdout}");
    // A broken optional file is refused with its position like any other.
    std::fs::write(
        dir.path().join("age_limits.csv"),
        "ingredient,min_age,max_age,message\ncodeine,0,200,x\n",
    )
    .unwrap();
    let refused = check_rules(dir.path());
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success());
    assert!(stdout.contains("age_limits.csv:2:"), "{stdout}");
}

#[test]
fn a_broken_folder_prints_every_error_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    std::fs::write(
        dir.path().join("ddi.csv"),
        "id,left,right,severity,message\nD1,simvastatin,class:AZOLE,0,x\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("mme.csv")).unwrap();
    let output = check_rules(dir.path());
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("mme.csv:1:1: required file is missing (rule 1)"),
        "{report}"
    );
    // The folder is refused at reading when a file is missing; a complete folder with the same
    // ddi.csv reports both ddi errors.
    std::fs::write(dir.path().join("mme.csv"), "ingredient,route,factor\n").unwrap();
    let output = check_rules(dir.path());
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("ddi.csv:2:16: class:AZOLE is not in classes.csv (rule 4)"),
        "{report}"
    );
    assert!(
        report.contains("ddi.csv:2:28: severity \"0\" is not 1, 2 or 3 (rule 5)"),
        "{report}"
    );
}

#[test]
fn a_missing_folder_is_one_line_and_exit_two() {
    let output = check_rules(Path::new("/nonexistent/rules"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/rules: no such folder"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

fn durgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(args)
        .arg(dir)
        .output()
        .expect("binary runs")
}

#[test]
fn rules_seal_writes_a_sha256sums_that_check_rules_and_sha256sum_accept() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    let unsealed = String::from_utf8_lossy(&check_rules(dir.path()).stdout).into_owned();
    assert!(unsealed.contains("not sealed"), "{unsealed}");
    let sealed = durgate(&["rules", "seal"], dir.path());
    let stdout = String::from_utf8_lossy(&sealed.stdout);
    assert!(sealed.status.success(), "{stdout}");
    assert!(stdout.contains("sealed 8 files of cli-test@7"), "{stdout}");
    let seal = std::fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
    assert_eq!(seal.lines().count(), 8, "{seal}");
    let checked = String::from_utf8_lossy(&check_rules(dir.path()).stdout).into_owned();
    assert!(
        checked.contains("sealed: SHA256SUMS matches every table"),
        "{checked}"
    );
    if let Ok(sums) = Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(dir.path())
        .output()
    {
        assert!(
            sums.status.success(),
            "{}",
            String::from_utf8_lossy(&sums.stdout)
        );
    }
}

#[test]
fn an_edit_after_sealing_is_refused_with_the_seal_line_and_the_tables_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    assert!(durgate(&["rules", "seal"], dir.path()).status.success());
    let ddi = "id,left,right,severity,message\nD1,simvastatin,class:MACROLIDE,4,myopathy\n";
    std::fs::write(dir.path().join("ddi.csv"), ddi).unwrap();
    let output = check_rules(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("SHA256SUMS:2:1: ddi.csv does not match its seal"),
        "{stdout}"
    );
    assert!(stdout.contains("(rule 11)"), "{stdout}");
    assert!(
        stdout.contains("ddi.csv:2:"),
        "the edit's own error too: {stdout}"
    );
}

#[test]
fn a_broken_folder_is_not_sealed() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    std::fs::write(dir.path().join("ddi.csv"), "id,left\n").unwrap();
    let output = durgate(&["rules", "seal"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(!dir.path().join("SHA256SUMS").exists());
}

/// The schema-2 early-refill table the cases below break.
const EARLY_REFILL: &str = r#"[edits.early_refill]
enabled = true
reason = "ER"
action = "reject"
min_elapsed_percent_by_schedule = { 2 = 90 }
accumulation_lookback_days = 90
accumulation_max_days = 14
override_clarification = ["04"]
override_professional = []
override_result = []
"#;

/// The folder as schema 2 with `extra` appended to ruleset.toml; `check-rules` must accept it
/// and say "(schema 2)" before a case breaks it.
fn write_schema_two_folder(dir: &Path, extra: &str) {
    write_folder(dir);
    let ruleset = RULESET.replace("schema = 1", "schema = 2") + extra;
    std::fs::write(dir.join("ruleset.toml"), ruleset).unwrap();
    let output = check_rules(dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("ruleset cli-test@7 (schema 2)"), "{stdout}");
}

/// `check-rules` on a broken folder: exit 1 and its report.
fn refused_report(dir: &Path) -> String {
    let output = check_rules(dir);
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{report}");
    report
}

#[test]
fn a_schema_two_folder_refuses_a_bad_reject_multiple_or_wear_hours_at_its_cell() {
    let dir = tempfile::tempdir().unwrap();
    write_schema_two_folder(dir.path(), "");
    let dose_limits = "ingredient,route,min_age,max_age,max_daily,unit,reject_multiple\n\
                       simvastatin,oral,18,150,40,mg,0.5\n";
    std::fs::write(dir.path().join("dose_limits.csv"), dose_limits).unwrap();
    let report = refused_report(dir.path());
    assert!(
        report.contains(
            "dose_limits.csv:2:31: reject_multiple \"0.5\" must be a number >= 1 (rule 5)\n"
        ),
        "{report}"
    );
    // Put the dose limits back; a patch worn 0 hours.
    write_schema_two_folder(dir.path(), "");
    let products = "ndc,ingredients,strengths,strength_unit,route,wear_hours\n\
                    00000000001,simvastatin,40,mg,oral,\n\
                    00000000002,clarithromycin,500,mg,oral,\n\
                    00000000003,clonidine,0.1,mcg/hr,transdermal,0\n";
    std::fs::write(dir.path().join("products.csv"), products).unwrap();
    let report = refused_report(dir.path());
    assert!(
        report.contains(
            "products.csv:4:46: wear_hours \"0\" is not a whole number 1..=744 (rule 5)\n"
        ),
        "{report}"
    );
}

#[test]
fn a_schema_two_folder_refuses_early_refill_numbers_out_of_range_at_their_values() {
    let dir = tempfile::tempdir().unwrap();
    write_schema_two_folder(dir.path(), EARLY_REFILL);
    let broken = EARLY_REFILL
        .replace("{ 2 = 90 }", "{ 2 = 101 }")
        .replace("accumulation_max_days = 14", "accumulation_max_days = -1");
    let ruleset = RULESET.replace("schema = 1", "schema = 2") + &broken;
    std::fs::write(dir.path().join("ruleset.toml"), ruleset).unwrap();
    let report = refused_report(dir.path());
    // RULESET is 30 lines; the early-refill table starts on line 31.
    let expected = [
        "ruleset.toml:35:41: min_elapsed_percent_by_schedule = 101 is outside 1..=100 (rule 9)",
        "ruleset.toml:37:25: accumulation_max_days = -1 is outside 0..=1098 (rule 9)",
    ];
    for line in expected {
        assert!(report.contains(line), "{line:?} in:\n{report}");
    }
}

#[test]
fn a_severity_table_without_both_lists_is_refused_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let table =
        "[edits.ddi.severity.1]\noverride_professional = [\"M0\"]\noverride_result = [\"1G\"]\n";
    write_schema_two_folder(dir.path(), table);
    let ruleset = RULESET.replace("schema = 1", "schema = 2")
        + "[edits.ddi.severity.1]\n\
                   override_professional = [\"M0\"]\n";
    std::fs::write(dir.path().join("ruleset.toml"), ruleset).unwrap();
    let report = refused_report(dir.path());
    // Line 31 is the table's header, column 21 its key "1".
    assert!(
        report.contains(
            "ruleset.toml:31:21: [edits.ddi.severity.1] must set both override_professional \
             and override_result (rule 9)"
        ),
        "{report}"
    );
}

/// `durgate serve` on `rules` until it exits (at most 30 s): its exit status and stderr.
fn serve_until_exit(rules: &Path) -> (std::process::ExitStatus, String) {
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_durgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .arg("--store")
        .arg(format!(
            "sqlite:{}",
            store.path().join("claims.db").display()
        ))
        .arg("--rules")
        .arg(rules)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn durgate serve");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if child.try_wait().expect("poll the child").is_some() {
            let output = child.wait_with_output().expect("its output");
            return (
                output.status,
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("durgate serve kept running on an unsealed folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_one_folder_is_served_once_sealed_and_adjudicates() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    assert!(String::from_utf8_lossy(&check_rules(dir.path()).stdout).contains("(schema 1)"));
    // Unsealed, it still loads (check-rules accepts it) but a gateway requiring the seal (the
    // default, rules_require_seal = true) refuses to start on it.
    let (status, stderr) = serve_until_exit(dir.path());
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("not sealed"), "{stderr}");
    // Sealed, the same schema-1 folder is served and decides claims.
    assert!(durgate(&["rules", "seal"], dir.path()).status.success());
    let store = tempfile::tempdir().unwrap();
    let mut options = support::ProcessOptions::new(&store.path().join("claims.db"));
    options.rules = dir.path().to_path_buf();
    let gateway = support::spawn_gateway_process(&options);
    let mut client = support::Client::connect(gateway.addr).await;
    let patient = support::Person::adult("SCHEMA1001");
    let today = support::days_ago(0);
    let statin = patient
        .b1(1, "00000000001", today)
        .quantity_milli(30_000)
        .days_supply(30);
    let paid = client.send(&statin.encode()).await;
    assert_eq!(support::statuses(&paid), "P", "{paid:?}");
    // D1 simvastatin + class:MACROLIDE, severity 1: rejected 88 DD, overridable with M0/1G.
    let macrolide = patient
        .b1(2, "00000000002", today)
        .quantity_milli(20_000)
        .days_supply(10);
    let rejected = client.send(&macrolide.clone().encode()).await;
    assert_eq!(support::rejects(&rejected, 0), ["88"], "{rejected:?}");
    assert_eq!(support::dur_reasons(&rejected, 0), ["DD"]);
    let overridden = client.send(&macrolide.dur("DD", "M0", "1G").encode()).await;
    assert_eq!(support::statuses(&overridden), "P", "{overridden:?}");
    assert!(gateway.logs().contains("cli-test@7"), "{}", gateway.logs());
}
