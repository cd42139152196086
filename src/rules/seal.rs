//! The seal of a rule folder: `SHA256SUMS`, one `<sha-256 hex>  <file>` line per table file (the
//! format `sha256sum -c` checks), written last by `durgate rules seal DIR`.
//!
//! Tier 2, pure: the shell reads the files and the seal; [`seal_text`] writes a seal for the
//! bytes read, [`verify`] checks bytes against one (rule 11). A folder whose bytes do not match
//! its seal — half copied, edited after sealing, or read while being written — is refused, so a
//! reload sees one consistent folder or nothing. Must never read files or the clock.

use super::compile::RuleSource;
use super::error::{TableError, TableErrors};
use sha2::{Digest, Sha256};

/// The seal's file name in a rule folder.
pub const SEAL_FILE: &str = "SHA256SUMS";
/// The validation rule a broken or mismatched seal breaks.
const SEAL_RULE: u8 = 11;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The seal of every file in `source`, sorted by name.
pub fn seal_text(source: &RuleSource) -> String {
    let mut files: Vec<&(String, Vec<u8>)> = source.files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
        .collect()
}

/// Checks that `seal` lists exactly the files of `source`, each with its bytes' SHA-256.
pub fn verify(source: &RuleSource, seal: &[u8]) -> Result<(), TableErrors> {
    let mut errors = TableErrors::default();
    let listed = parse(seal, &mut errors);
    for (name, bytes) in &source.files {
        match listed.iter().find(|entry| entry.name == *name) {
            None => errors.push(at(
                1,
                format!("{name} is not in the seal: reseal the folder"),
            )),
            Some(entry) if entry.sha256 != sha256_hex(bytes) => errors.push(at(
                entry.line,
                format!(
                    "{name} does not match its seal: the folder changed after it was sealed \
                     or is being copied (reseal with `durgate rules seal DIR` once complete)"
                ),
            )),
            Some(_) => {}
        }
    }
    for entry in &listed {
        if source.file(&entry.name).is_none() {
            let message = format!(
                "the seal lists {}, which the folder does not hold",
                entry.name
            );
            errors.push(at(entry.line, message));
        }
    }
    errors.into_result(())
}

/// One line of a seal.
struct Sealed {
    line: u32,
    sha256: String,
    name: String,
}

/// The seal's lines; a line that is not `<64 hex>  <name>` (or `<64 hex> *<name>`) is an error.
fn parse(seal: &[u8], errors: &mut TableErrors) -> Vec<Sealed> {
    let text = String::from_utf8_lossy(seal);
    let mut listed = Vec::new();
    // Bounded by the seal's size (read under the per-file size limit).
    for (index, line) in text.lines().enumerate() {
        let line_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if line.trim().is_empty() {
            continue;
        }
        match split_line(line) {
            Some((sha256, name)) => listed.push(Sealed {
                line: line_number,
                sha256: sha256.to_ascii_lowercase(),
                name: name.to_string(),
            }),
            None => errors.push(at(line_number, "not a `<sha-256 hex>  <file>` line".into())),
        }
    }
    listed
}

fn split_line(line: &str) -> Option<(&str, &str)> {
    let (sha256, rest) = line.split_at_checked(64)?;
    let name = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    let hex = sha256.bytes().all(|byte| byte.is_ascii_hexdigit());
    (hex && !name.is_empty()).then_some((sha256, name))
}

fn at(line: u32, message: String) -> TableError {
    TableError {
        file: SEAL_FILE.to_string(),
        line,
        column: 1,
        rule: SEAL_RULE,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> RuleSource {
        let mut source = RuleSource::default();
        source.set("ruleset.toml", "id = \"x\"\n");
        source.set("ddi.csv", "a,b\n1,2\n");
        source
    }

    #[test]
    fn a_seal_matches_the_bytes_it_was_written_for() {
        let seal = seal_text(&source());
        assert!(
            seal.lines().next().unwrap().ends_with("  ddi.csv"),
            "{seal}"
        );
        assert_eq!(verify(&source(), seal.as_bytes()), Ok(()));
    }

    #[test]
    fn the_sha256_is_the_standard_one() {
        // `printf abc | sha256sum`
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
    }

    #[test]
    fn a_changed_missing_or_unlisted_file_is_refused_at_its_seal_line() {
        let seal = seal_text(&source());
        let mut changed = source();
        changed.set("ddi.csv", "a,b\n");
        let errors = verify(&changed, seal.as_bytes()).unwrap_err();
        assert_eq!(errors.errors.len(), 1);
        assert_eq!((errors.errors[0].line, errors.errors[0].rule), (1, 11));
        assert!(errors.errors[0].message.contains("ddi.csv does not match"));
        let mut extra = source();
        extra.set("age_limits.csv", "x\n");
        let errors = verify(&extra, seal.as_bytes()).unwrap_err();
        assert!(errors.errors[0]
            .message
            .contains("age_limits.csv is not in the seal"));
        let mut fewer = RuleSource::default();
        fewer.set("ruleset.toml", "id = \"x\"\n");
        let errors = verify(&fewer, seal.as_bytes()).unwrap_err();
        assert!(errors.errors[0].message.contains("lists ddi.csv"));
    }

    #[test]
    fn a_garbled_seal_line_is_an_error_and_the_binary_marker_is_read() {
        let seal = seal_text(&source()).replace("  ruleset.toml", " *ruleset.toml");
        assert_eq!(verify(&source(), seal.as_bytes()), Ok(()));
        let garbled = format!("{seal}not a line\n");
        let errors = verify(&source(), garbled.as_bytes()).unwrap_err();
        assert_eq!(errors.errors[0].line, 3);
    }
}
