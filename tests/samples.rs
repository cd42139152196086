//! The golden samples in `ncpdp-samples/{ok,reject,malformed}`: each `NAME.d0` is one bare D.0
//! transmission (separators as real bytes) with its readable dump beside it as
//! `NAME.expected`.
//!
//! - the committed `.d0` files are exactly what `samples/generate.rs` builds (rewrite them
//!   with `UPDATE_SAMPLES=1 cargo test --test samples`);
//! - every dump matches its `.expected` file (rewrite with `UPDATE_EXPECT=1`);
//! - `ok` samples have no problems, `reject` samples report exactly the reject codes their
//!   name starts with (`21+E7-...`), `malformed` samples are not D.0 at all;
//! - `durgate decode` exits 0, 1 and 2 on them.

#[path = "samples/generate.rs"]
mod generate;

use durgate::ncpdp::dump;
use std::path::{Path, PathBuf};
use std::process::Command;

const DIRS: [&str; 4] = ["demo", "ok", "reject", "malformed"];

fn samples_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ncpdp-samples")
}

/// `(dir, name, bytes)` of every committed `.d0` file, sorted.
fn committed() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut found = Vec::new();
    for dir in DIRS {
        let entries = std::fs::read_dir(samples_root().join(dir)).expect("sample folder");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "d0") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                found.push((dir, name, std::fs::read(&path).expect("readable sample")));
            }
        }
    }
    found.sort();
    found
}

/// The dump a sample is expected to have: the readable text, or why it is not D.0.
fn dump_of(bytes: &[u8]) -> String {
    match dump::decode(bytes) {
        Ok(decoded) => decoded.text(),
        Err(error) => format!("not D.0: {error}\n"),
    }
}

#[test]
fn committed_samples_are_what_the_generator_builds() {
    let generated = generate::all();
    if std::env::var_os("UPDATE_SAMPLES").is_some() {
        for sample in &generated {
            let folder = samples_root().join(sample.dir);
            std::fs::create_dir_all(&folder).expect("sample folder");
            std::fs::write(folder.join(format!("{}.d0", sample.name)), &sample.bytes)
                .expect("written");
        }
    }
    let mut expected: Vec<(&str, String, Vec<u8>)> = generated
        .into_iter()
        .map(|s| (s.dir, s.name, s.bytes))
        .collect();
    expected.sort();
    let committed = committed();
    let names = |list: &[(&str, String, Vec<u8>)]| -> Vec<String> {
        list.iter()
            .map(|(dir, name, _)| format!("{dir}/{name}"))
            .collect()
    };
    assert_eq!(
        names(&committed),
        names(&expected),
        "run with UPDATE_SAMPLES=1"
    );
    for (found, built) in committed.iter().zip(&expected) {
        assert!(
            found.2 == built.2,
            "{}/{} differs from the generator",
            found.0,
            found.1
        );
    }
}

#[test]
fn every_dump_matches_its_expected_file() {
    for (dir, name, bytes) in committed() {
        let expected = samples_root().join(dir).join(format!("{name}.expected"));
        expect_test::expect_file![expected].assert_eq(&dump_of(&bytes));
    }
}

#[test]
fn there_are_enough_samples_of_each_kind() {
    let committed = committed();
    let count = |dir: &str| committed.iter().filter(|(d, _, _)| *d == dir).count();
    assert!(committed.len() >= 35, "{} samples", committed.len());
    assert!(count("ok") >= 15 && count("reject") >= 30 && count("malformed") >= 5);
    assert_eq!(count("demo"), 4);
    let codes: Vec<String> = committed
        .iter()
        .filter(|(d, _, _)| *d == "reject")
        .flat_map(|(_, name, _)| codes_in_name(name))
        .collect();
    let required = [
        "01", "03", "1S", "07", "09", "15", "16", "17", "19", "21", "E1", "E7", "E4", "E5", "E6",
        "P8", "9W", "488", "1U", "A9", "PB", "1Y", "6J", "R7", "P9", "P3", "P4", "R1", "NX",
    ];
    for code in required {
        assert!(
            codes.iter().any(|c| c == code),
            "no reject sample for {code}"
        );
    }
}

fn codes_in_name(name: &str) -> Vec<String> {
    let prefix = name.split('-').next().unwrap_or_default();
    let mut codes: Vec<String> = prefix.split('+').map(str::to_owned).collect();
    codes.sort();
    codes
}

#[test]
fn ok_samples_have_no_problems() {
    for (dir, name, bytes) in committed() {
        if dir == "ok" || dir == "demo" {
            let decoded = dump::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.reject_codes(), Vec::<String>::new(), "{name}");
        }
    }
}

#[test]
fn reject_samples_report_exactly_the_codes_in_their_names() {
    for (dir, name, bytes) in committed() {
        if dir == "reject" {
            let decoded = dump::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.reject_codes(), codes_in_name(&name), "{name}");
        }
    }
}

#[test]
fn malformed_samples_are_not_d0() {
    for (dir, name, bytes) in committed() {
        if dir == "malformed" {
            assert!(dump::decode(&bytes).is_err(), "{name} parsed");
        }
    }
}

fn decode_status(args: &[&str], files: &[PathBuf]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_durgate"))
        .arg("decode")
        .args(args)
        .args(files)
        .output()
        .expect("durgate runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn decode_exits_by_the_worst_input() {
    let file = |dir: &str, name: &str| samples_root().join(dir).join(format!("{name}.d0"));
    let ok = file("ok", "b1-single");
    let reject = file("reject", "21-ndc-10-digits");
    let malformed = file("malformed", "http-request");
    assert_eq!(decode_status(&[], std::slice::from_ref(&ok)).0, Some(0));
    assert_eq!(decode_status(&[], &[ok.clone(), reject.clone()]).0, Some(1));
    assert_eq!(decode_status(&[], &[reject.clone(), malformed]).0, Some(2));
    let (status, stdout) = decode_status(&["--json"], &[ok, reject]);
    assert_eq!(status, Some(1));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["problems"][0]["reject_code"], "21");
}

#[test]
fn decode_splits_stx_etx_frames() {
    let folder = tempfile::tempdir().expect("temp dir");
    let framed = folder.path().join("two.frames");
    let one = std::fs::read(samples_root().join("ok/b1-single.d0")).expect("sample");
    let two = std::fs::read(samples_root().join("ok/response-b1-paid.d0")).expect("sample");
    let bytes = [&[0x02][..], &one, &[0x03, b'\n', 0x02], &two, &[0x03]].concat();
    std::fs::write(&framed, bytes).expect("written");
    let (status, stdout) = decode_status(&["--json"], &[framed]);
    assert_eq!(status, Some(0));
    let kinds: Vec<String> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .map(|v| v["kind"].to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(kinds, ["\"request\"", "\"response\""]);
}
