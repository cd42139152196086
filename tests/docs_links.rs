//! The documentation stays inside the repository: every Markdown link to a file points at one
//! that exists here, none leaves the repository, and the rule-table reference documents every
//! validation rule the errors cite.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Folders holding no documentation of the project.
const SKIPPED_DIRS: [&str; 3] = ["target", ".git", "node_modules"];
/// Markdown files the walk reads at most (a bound, far above the repository's count).
const MARKDOWN_FILES_MAX: usize = 1_000;

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() && !SKIPPED_DIRS.contains(&name.as_str()) {
            markdown_files(&path, found);
        } else if name.ends_with(".md") && found.len() < MARKDOWN_FILES_MAX {
            found.push(path);
        }
    }
}

/// The targets of `[text](target)` links in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .collect()
}

#[test]
fn every_markdown_link_stays_in_the_repository_and_resolves() {
    let root = Path::new(ROOT).canonicalize().unwrap();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(files.len() > 5, "{files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if text.contains("shared/spec") || text.contains("../shared") {
            broken.push(format!(
                "{}: refers to a folder outside the repository",
                file.display()
            ));
        }
        for target in link_targets(&text) {
            let target = target.split('#').next().unwrap_or_default().trim();
            let external = target.starts_with("http://") || target.starts_with("https://");
            if target.is_empty() || external || target.starts_with("mailto:") {
                continue;
            }
            let resolved = file.parent().unwrap().join(target);
            match resolved.canonicalize() {
                Ok(path) if path.starts_with(&root) => {}
                Ok(path) => broken.push(format!(
                    "{}: {target} leaves the repository ({})",
                    file.display(),
                    path.display()
                )),
                Err(_) => broken.push(format!("{}: {target} does not exist", file.display())),
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_rule_table_reference_documents_every_numbered_rule() {
    let reference = std::fs::read_to_string(Path::new(ROOT).join("docs/rule-tables.md")).unwrap();
    let (_, rules) = reference
        .split_once("## Validation rules")
        .expect("a validation rules section");
    for number in 1..=11 {
        let item = format!("\n{number}. ");
        assert!(rules.contains(&item), "rule {number} is not documented");
    }
    assert!(!rules.contains("\n12. "), "a rule the errors never cite");
}
