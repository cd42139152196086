//! The house rules, checked mechanically (a tidy test): it reads every file under `src/` as
//! text and refuses
//!
//! - an import that does not point down the tier table of `src/ARCHITECTURE.md` (modules of one
//!   tier never import each other), or an import cycle between sibling modules;
//! - a wall-clock read (`SystemTime::now`) outside `src/clock.rs`;
//! - `unwrap()`/`expect(..)` in production code without an `// invariant:` comment saying why it
//!   cannot fail (on its line or the [`INVARIANT_LINES_ABOVE`] lines above);
//! - a function longer than [`FUNCTION_LINES_MAX`] lines;
//! - a file that does not open with a `//!` header;
//! - a code path named in `src/ARCHITECTURE.md` (a file, or `module::item`) that does not exist.
//!
//! Test code (`#[cfg(test)]` items and the files they declare) may import any tier and unwrap
//! freely; every other rule holds for it too. The checker is plain text processing: comments,
//! strings and character literals are masked first, so a rule's name inside a string or a
//! comment never counts. Its own unit tests, at the bottom, show each rule failing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A function body may span at most this many lines, signature to closing brace.
const FUNCTION_LINES_MAX: usize = 70;
/// How far above an `unwrap`/`expect` its `// invariant:` comment may sit.
const INVARIANT_LINES_ABOVE: usize = 3;
/// Source files the walk reads at most (a bound, far above the repository's count).
const SOURCE_FILES_MAX: usize = 2_000;
/// The only file that reads the wall clock.
const CLOCK_FILE: &str = "src/clock.rs";
/// Wall-clock reads, as written in source.
const CLOCK_READS: [&str; 3] = ["SystemTime::now", "Utc::now", "Local::now"];

/// The tier of each top-level module: a module imports only modules of a lower tier.
const TIERS: [(&str, u8); 17] = [
    ("limits", 0),
    ("version", 0),
    ("clock", 0),
    ("claim", 1),
    ("config", 1),
    ("wire", 2),
    ("ncpdp", 2),
    ("rules", 2),
    ("history", 2),
    ("store", 2),
    ("server", 3),
    ("loadgen", 3),
    ("report", 3),
    ("cli", 4),
    // The crate roots declare and re-export; they sit above everything.
    ("lib", 5),
    ("main", 5),
    // Test support compiled into the library's unit tests only.
    ("test_skip", 5),
];

/// One source file: its path relative to the repository and its text.
struct Source {
    path: String,
    text: String,
}

/// A broken house rule: where, and what.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    path: String,
    line: usize,
    rule: &'static str,
    detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            out,
            "{}:{}: [{}] {}",
            self.path, self.line, self.rule, self.detail
        )
    }
}

fn violation(path: &str, line: usize, rule: &'static str, detail: String) -> Violation {
    Violation {
        path: path.to_string(),
        line,
        rule,
        detail,
    }
}

// ---------------------------------------------------------------------------------------------
// Masking: comments, strings and char literals become spaces (newlines kept), so every rule
// below matches code only and byte offsets still line up with the original text.

/// `text` with every comment, string literal and character literal blanked out.
fn mask(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut at = 0;
    while at < bytes.len() {
        let end = literal_or_comment_end(bytes, at);
        if end > at {
            blank(&mut out, at, end);
            at = end;
        } else {
            at += 1;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Spaces over `out[from..to]`, newlines and multibyte characters' lengths kept.
fn blank(out: &mut [u8], from: usize, to: usize) {
    for byte in &mut out[from..to] {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
}

/// Where the comment or literal starting at `at` ends, or `at` when none starts there.
fn literal_or_comment_end(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at..];
    let ident_before = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    if rest.starts_with(b"//") {
        return find_from(bytes, at, b"\n").unwrap_or(bytes.len());
    }
    if rest.starts_with(b"/*") {
        return block_comment_end(bytes, at);
    }
    if !ident_before && (rest.starts_with(b"r\"") || rest.starts_with(b"r#")) {
        return raw_string_end(bytes, at + 1);
    }
    if !ident_before && (rest.starts_with(b"br\"") || rest.starts_with(b"br#")) {
        return raw_string_end(bytes, at + 2);
    }
    match rest[0] {
        b'"' => string_end(bytes, at + 1),
        b'\'' => char_literal_end(bytes, at),
        _ => at,
    }
}

fn find_from(bytes: &[u8], at: usize, needle: &[u8]) -> Option<usize> {
    bytes[at..]
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|offset| at + offset)
}

/// Nested `/* */` comments end after their matching `*/`.
fn block_comment_end(bytes: &[u8], at: usize) -> usize {
    let (mut depth, mut index) = (0usize, at);
    while index + 1 < bytes.len() {
        match &bytes[index..index + 2] {
            b"/*" => (depth, index) = (depth + 1, index + 2),
            b"*/" => {
                (depth, index) = (depth - 1, index + 2);
                if depth == 0 {
                    return index;
                }
            }
            _ => index += 1,
        }
    }
    bytes.len()
}

/// `at` is just after the opening quote; escapes are skipped.
fn string_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// `at` is at the `#`s or quote after `r`: `r##"..."##` ends at a quote and as many `#`s.
fn raw_string_end(bytes: &[u8], at: usize) -> usize {
    let hashes = bytes[at..].iter().take_while(|byte| **byte == b'#').count();
    if bytes.get(at + hashes) != Some(&b'"') {
        return at; // `r#ident`, not a string
    }
    let mut closing = vec![b'"'];
    closing.extend(std::iter::repeat_n(b'#', hashes));
    find_from(bytes, at + hashes + 1, &closing).map_or(bytes.len(), |end| end + closing.len())
}

/// A char literal (`'a'`, `'\n'`, `'\u{1F600}'`, `'é'`) or a lifetime (`'a`, left alone).
fn char_literal_end(bytes: &[u8], at: usize) -> usize {
    if bytes.get(at + 1) == Some(&b'\\') {
        return find_from(bytes, at + 2, b"'").map_or(bytes.len(), |end| end + 1);
    }
    let char_bytes = std::str::from_utf8(&bytes[at + 1..(at + 5).min(bytes.len())])
        .or_else(|error| std::str::from_utf8(&bytes[at + 1..at + 1 + error.valid_up_to()]))
        .ok()
        .and_then(|text| text.chars().next())
        .map_or(1, char::len_utf8);
    if bytes.get(at + 1 + char_bytes) == Some(&b'\'') {
        at + 2 + char_bytes
    } else {
        at
    }
}

// ---------------------------------------------------------------------------------------------
// Test code: `#[cfg(test)]` items are cut out of the production view of a file.

/// Byte ranges of `#[cfg(test)]` items in masked `code`, and the names of the test-only
/// modules it declares (`#[cfg(test)] mod tests;`).
fn test_items(code: &str) -> (Vec<(usize, usize)>, Vec<String>) {
    let (mut ranges, mut declared) = (Vec::new(), Vec::new());
    let mut from = 0;
    while let Some(offset) = code[from..].find("#[cfg(test)]") {
        let start = from + offset;
        let item = start + "#[cfg(test)]".len();
        let brace = code[item..].find('{').map(|at| item + at);
        let semicolon = code[item..].find(';').map(|at| item + at);
        let end = match (brace, semicolon) {
            (Some(open), Some(semi)) if semi > open => {
                matching_brace(code, open).map_or(code.len(), |close| close + 1)
            }
            (Some(open), None) => matching_brace(code, open).map_or(code.len(), |close| close + 1),
            (_, Some(semi)) => {
                declared.extend(declared_module(&code[item..semi]));
                semi + 1
            }
            (None, None) => code.len(),
        };
        ranges.push((start, end));
        from = end;
    }
    (ranges, declared)
}

/// `mod name` in an item's head, if it declares a module.
fn declared_module(head: &str) -> Option<String> {
    let words: Vec<&str> = head.split_whitespace().collect();
    let at = words.iter().position(|word| *word == "mod")?;
    words
        .get(at + 1)
        .map(|name| name.trim_end_matches(';').to_string())
}

/// The offset of the `}` matching the `{` at `open`.
fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, byte) in code.as_bytes()[open..].iter().enumerate() {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// Masked `code` with its test items blanked too.
fn production(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    for (from, to) in test_items(code).0 {
        blank(&mut out, from, to);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Paths of files that only test builds compile: those a `#[cfg(test)] mod x;` declares.
fn test_only_files(sources: &[Source]) -> BTreeSet<String> {
    let mut test_only = BTreeSet::new();
    for source in sources {
        let dir = module_dir(&source.path);
        for name in test_items(&mask(&source.text)).1 {
            test_only.insert(format!("{dir}/{name}.rs"));
            test_only.insert(format!("{dir}/{name}/mod.rs"));
        }
    }
    test_only
}

/// The folder holding the children of the module in `path` (`src/a/mod.rs`, `src/a.rs` → `src/a`).
fn module_dir(path: &str) -> String {
    let stem = path.trim_end_matches(".rs");
    match stem.rsplit_once('/') {
        Some((dir, "mod" | "lib" | "main")) => dir.to_string(),
        _ => stem.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

// ---------------------------------------------------------------------------------------------
// The rules.

/// The top-level module a source path belongs to (`src/server/pipeline/mod.rs` → `server`).
fn top_module(path: &str) -> &str {
    let inside = path.trim_start_matches("src/");
    let first = inside.split('/').next().unwrap_or(inside);
    first.trim_end_matches(".rs")
}

fn tier(module: &str) -> Option<u8> {
    TIERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, tier)| *tier)
}

/// `crate::x` references in `code`, with their offsets.
fn crate_references(code: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for (offset, _) in code.match_indices("crate::") {
        let rest = &code[offset + "crate::".len()..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let before = code[..offset].chars().next_back();
        if name_len > 0
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            found.push((offset, &rest[..name_len]));
        }
    }
    found
}

/// Imports that do not point down the tier table.
fn tier_violations(source: &Source, production_code: &str) -> Vec<Violation> {
    let module = top_module(&source.path);
    let Some(own_tier) = tier(module) else {
        return vec![violation(
            &source.path,
            1,
            "tiers",
            format!("module `{module}` has no tier"),
        )];
    };
    let mut found = Vec::new();
    for (offset, target) in crate_references(production_code) {
        let allowed =
            target == module || tier(target).is_some_and(|target_tier| target_tier < own_tier);
        if !allowed {
            let detail = format!(
                "`{module}` (tier {own_tier}) imports `{target}` (tier {:?})",
                tier(target)
            );
            found.push(violation(
                &source.path,
                line_of(production_code, offset),
                "tiers",
                detail,
            ));
        }
    }
    found
}

/// Wall-clock reads outside [`CLOCK_FILE`].
fn clock_violations(source: &Source, code: &str) -> Vec<Violation> {
    if source.path == CLOCK_FILE {
        return Vec::new();
    }
    let mut found = Vec::new();
    for read in CLOCK_READS {
        for (offset, _) in code.match_indices(read) {
            let detail = format!("`{read}` outside {CLOCK_FILE} (use `crate::clock`)");
            found.push(violation(
                &source.path,
                line_of(code, offset),
                "clock",
                detail,
            ));
        }
    }
    found
}

/// `unwrap()`/`expect(` in production code without a nearby `// invariant:` comment.
fn unwrap_violations(source: &Source, production_code: &str) -> Vec<Violation> {
    let lines: Vec<&str> = source.text.lines().collect();
    let mut found = Vec::new();
    for needle in [".unwrap()", ".expect("] {
        for (offset, _) in production_code.match_indices(needle) {
            let line = line_of(production_code, offset);
            let first = line.saturating_sub(INVARIANT_LINES_ABOVE + 1);
            let justified = lines[first..line.min(lines.len())]
                .iter()
                .any(|text| text.contains("// invariant:"));
            if !justified {
                let detail = format!(
                    "`{}` without an `// invariant:` comment",
                    needle.trim_start_matches('.')
                );
                found.push(violation(&source.path, line, "unwrap", detail));
            }
        }
    }
    found
}

/// Functions whose body spans more than [`FUNCTION_LINES_MAX`] lines.
fn long_functions(source: &Source, code: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    for (offset, _) in code.match_indices("fn ") {
        let before = code[..offset].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Some(open) = body_open(code, offset) else {
            continue;
        };
        let Some(close) = matching_brace(code, open) else {
            continue;
        };
        let lines = line_of(code, close) - line_of(code, offset) + 1;
        if lines > FUNCTION_LINES_MAX {
            let name: String = code[offset + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let detail = format!("fn `{name}` is {lines} lines (at most {FUNCTION_LINES_MAX})");
            found.push(violation(
                &source.path,
                line_of(code, offset),
                "function length",
                detail,
            ));
        }
    }
    found
}

/// The `{` opening the body of the fn at `offset`; `None` for a declaration ending in `;`.
fn body_open(code: &str, offset: usize) -> Option<usize> {
    let head = &code[offset..];
    let brace = head.find('{')?;
    match head.find(';') {
        Some(semi) if semi < brace => None,
        _ => Some(offset + brace),
    }
}

/// A file that does not open with a `//!` header.
fn header_violations(source: &Source) -> Vec<Violation> {
    let first = source
        .text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    if first.starts_with("//!") {
        Vec::new()
    } else {
        vec![violation(
            &source.path,
            1,
            "header",
            "the file does not open with a `//!` header".to_string(),
        )]
    }
}

/// Import cycles between the children of one folder module (`super::x` / `crate::m::x`),
/// at every folder depth.
fn sibling_cycles(sources: &[(&Source, String)]) -> Vec<Violation> {
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (source, code) in sources {
        for (parent, child, supers) in ancestry(&source.path) {
            let targets = edges.entry((parent.clone(), child.clone())).or_default();
            targets.extend(
                sibling_references(code, &parent, supers)
                    .into_iter()
                    .filter(|target| *target != child),
            );
        }
    }
    let mut found = Vec::new();
    for ((parent, child), targets) in &edges {
        for target in targets {
            let back = edges.get(&(parent.clone(), target.clone()));
            if back.is_some_and(|back| back.contains(child)) && child < target {
                let module = parent.trim_start_matches("src/").replace('/', "::");
                let detail =
                    format!("`{module}::{child}` and `{module}::{target}` import each other");
                found.push(violation(
                    &format!("{parent}/{child}"),
                    1,
                    "sibling cycle",
                    detail,
                ));
            }
        }
    }
    found
}

/// Each folder module above the file at `path`, the child of it the file belongs to, and how
/// many `super::` lead from the file's module to that folder (`src/a/b/c.rs` → (`src/a`, `b`,
/// 2) and (`src/a/b`, `c`, 1)).
fn ancestry(path: &str) -> Vec<(String, String, usize)> {
    let Some(inside) = path.strip_prefix("src/") else {
        return Vec::new();
    };
    let parts: Vec<&str> = inside.split('/').collect();
    let is_mod = parts.last() == Some(&"mod.rs");
    let module_depth = parts.len() - usize::from(is_mod);
    let mut found = Vec::new();
    for level in 0..parts.len() - 1 {
        let child = parts[level + 1].trim_end_matches(".rs");
        if child != "mod" {
            let parent = format!("src/{}", parts[..=level].join("/"));
            found.push((parent, child.to_string(), module_depth - (level + 1)));
        }
    }
    found
}

/// Names reached in `parent` from a file `supers` levels below it.
fn sibling_references(code: &str, parent: &str, supers: usize) -> BTreeSet<String> {
    let module_path = format!(
        "crate::{}::",
        parent.trim_start_matches("src/").replace('/', "::")
    );
    let prefix = "super::".repeat(supers.max(1));
    let mut found = BTreeSet::new();
    for needle in [module_path.as_str(), prefix.as_str()] {
        for (offset, _) in code.match_indices(needle) {
            let deeper = needle == prefix && code[..offset].ends_with("super::");
            if !deeper {
                found.extend(leading_names(&code[offset + needle.len()..]));
            }
        }
    }
    found
}

/// The first name of a path (`b::X` → `b`), or of each item of a group (`{b::X, c}` → `b`, `c`).
fn leading_names(rest: &str) -> Vec<String> {
    let name_of = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let names = match rest.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or("")
            .split(',')
            .map(name_of)
            .collect(),
        None => vec![name_of(rest)],
    };
    names
        .into_iter()
        .filter(|name| !name.is_empty() && name != "super" && name != "self")
        .collect()
}

// ---------------------------------------------------------------------------------------------
// `src/ARCHITECTURE.md`: the files and `module::item` paths it names exist.

/// Path-like names in the document: files under the repository's folders and `module::item`s.
fn named_paths(document: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in document.lines().enumerate() {
        for span in line.split('`').skip(1).step_by(2) {
            found.push((index + 1, span.to_string()));
        }
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            if word.contains("::") {
                found.push((index + 1, word.to_string()));
            }
        }
    }
    found
}

const FILE_FOLDERS: [&str; 8] = [
    "src/",
    "tests/",
    "benches/",
    "config/",
    "contrib/",
    "ncpdp-samples/",
    "docs/",
    ".ci/",
];

/// Why a named path does not resolve, or `None` when it does (or is not a code path).
fn unresolved(name: &str, root: &Path, sources: &[Source]) -> Option<String> {
    let name = name.trim_end_matches(|c: char| "(),.:".contains(c));
    if FILE_FOLDERS.iter().any(|folder| name.starts_with(folder)) {
        let file = name.split_whitespace().next().unwrap_or(name);
        return (!root.join(file).exists()).then(|| format!("file `{file}` does not exist"));
    }
    let segments: Vec<&str> = name.split("::").collect();
    let plain = segments.len() >= 2
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !plain {
        return None;
    }
    resolve_segments(&segments, sources)
}

/// `a::b::c`: `a` a top module (or a type), each further segment a submodule or an item of it.
fn resolve_segments(segments: &[&str], sources: &[Source]) -> Option<String> {
    let first_is_module = tier(segments[0]).is_some();
    let first_is_type = segments[0].starts_with(|c: char| c.is_ascii_uppercase());
    if !first_is_module && !first_is_type {
        return None; // another crate's path (`tokio::io::split`)
    }
    let mut dir = format!("src/{}", segments[0]);
    if first_is_type {
        let owner = defines(sources, "", segments[0]);
        return match owner {
            false => Some(format!("`{}` is defined nowhere in src", segments[0])),
            true => segments[1..]
                .iter()
                .find(|item| !defines(sources, "", item))
                .map(|item| format!("`{item}` is defined nowhere in src")),
        };
    }
    for segment in &segments[1..] {
        let child = format!("{dir}/{segment}");
        if sources.iter().any(|source| {
            source.path == format!("{child}.rs") || source.path == format!("{child}/mod.rs")
        }) {
            dir = child;
        } else if !defines(sources, &dir, segment) {
            return Some(format!(
                "`{segment}` is not an item of `{}`",
                dir.trim_start_matches("src/").replace('/', "::")
            ));
        }
    }
    None
}

/// Whether a file of the module in `dir` (`src/x.rs`, `src/x/...`; all of src when empty)
/// defines or re-exports `name`.
fn defines(sources: &[Source], dir: &str, name: &str) -> bool {
    let keywords = [
        "fn", "struct", "enum", "trait", "const", "static", "type", "mod", "use",
    ];
    sources
        .iter()
        .filter(|source| {
            dir.is_empty()
                || source.path == format!("{dir}.rs")
                || source.path.starts_with(&format!("{dir}/"))
        })
        .any(|source| {
            let code = mask(&source.text);
            code.lines()
                .any(|line| defines_on_line(line, &keywords, name))
        })
}

fn defines_on_line(line: &str, keywords: &[&str], name: &str) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let declares = words
        .windows(2)
        .any(|pair| keywords.contains(&pair[0]) && pair[1] == name);
    let variant = line.trim_start().starts_with(name)
        && line
            .trim()
            .trim_start_matches(name)
            .starts_with(['(', '{', ',', ' ']);
    let re_exported = line.trim_start().starts_with("pub use") && words.contains(&name);
    declares || re_exported || variant
}

fn architecture_violations(document: &str, root: &Path, sources: &[Source]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for (line, name) in named_paths(document) {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(why) = unresolved(&name, root, sources) {
            found.push(violation("src/ARCHITECTURE.md", line, "architecture", why));
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The walk and the test.

fn read_sources(dir: &Path, root: &Path, found: &mut Vec<Source>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            read_sources(&path, root, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") && found.len() < SOURCE_FILES_MAX
        {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            found.push(Source {
                path: relative,
                text,
            });
        }
    }
}

/// Every broken house rule in `sources`, with `document` as `src/ARCHITECTURE.md`.
fn check(sources: &[Source], document: &str, root: &Path) -> Vec<Violation> {
    let test_only = test_only_files(sources);
    let mut found = Vec::new();
    let mut productions = Vec::new();
    for source in sources {
        let code = mask(&source.text);
        let production_code = if test_only.contains(&source.path) {
            String::new()
        } else {
            production(&code)
        };
        found.extend(tier_violations(source, &production_code));
        found.extend(clock_violations(source, &code));
        found.extend(unwrap_violations(source, &production_code));
        found.extend(long_functions(source, &code));
        found.extend(header_violations(source));
        productions.push((source, production_code));
    }
    found.extend(sibling_cycles(&productions));
    found.extend(architecture_violations(document, root, sources));
    found.sort();
    found
}

#[test]
fn the_source_tree_keeps_the_house_rules() {
    let root = Path::new(ROOT);
    let mut sources = Vec::new();
    read_sources(&root.join("src"), root, &mut sources);
    assert!(
        sources.len() > 50 && sources.len() < SOURCE_FILES_MAX,
        "read {} files",
        sources.len()
    );
    let document =
        std::fs::read_to_string(root.join("src/ARCHITECTURE.md")).expect("src/ARCHITECTURE.md");
    let violations = check(&sources, &document, root);
    let listing: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "{} broken house rules:\n{}",
        violations.len(),
        listing.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The checker's own tests: each rule fails on a small tree that breaks it.

#[cfg(test)]
mod checker {
    use super::*;

    const HEADER: &str = "//! A module.\n";

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(path, text)| Source {
                path: path.to_string(),
                text: format!("{HEADER}{text}"),
            })
            .collect()
    }

    fn rules_broken(files: &[(&str, &str)], document: &str) -> Vec<&'static str> {
        check(&tree(files), document, Path::new(ROOT))
            .into_iter()
            .map(|violation| violation.rule)
            .collect()
    }

    #[test]
    fn an_import_up_or_across_a_tier_is_refused_and_down_is_allowed() {
        assert_eq!(
            rules_broken(&[("src/claim.rs", "use crate::server::Thing;\n")], ""),
            ["tiers"]
        );
        assert_eq!(
            rules_broken(&[("src/rules/mod.rs", "use crate::history::Fill;\n")], ""),
            ["tiers"]
        );
        assert!(rules_broken(
            &[(
                "src/rules/mod.rs",
                "use crate::claim::Date;\nuse crate::rules::X;\n"
            )],
            ""
        )
        .is_empty());
    }

    #[test]
    fn test_code_may_import_any_tier_but_a_string_is_not_an_import() {
        let test_module = "#[cfg(test)]\nmod tests {\n    use crate::server::Thing;\n}\n";
        assert!(rules_broken(&[("src/loadgen/engine.rs", test_module)], "").is_empty());
        let declared = [
            ("src/rules/mod.rs", "#[cfg(test)]\nmod tests;\n"),
            ("src/rules/tests.rs", "use crate::server::X;\n"),
        ];
        assert!(rules_broken(&declared, "").is_empty());
        assert!(rules_broken(
            &[(
                "src/claim.rs",
                "const A: &str = \"crate::server\"; // crate::cli\n"
            )],
            ""
        )
        .is_empty());
    }

    #[test]
    fn a_second_wall_clock_reader_is_refused() {
        let reader = "fn now() -> std::time::SystemTime { std::time::SystemTime::now() }\n";
        assert_eq!(rules_broken(&[("src/store/mod.rs", reader)], ""), ["clock"]);
        assert!(rules_broken(&[("src/clock.rs", reader)], "").is_empty());
    }

    #[test]
    fn an_unwrap_needs_an_invariant_comment_outside_tests() {
        assert_eq!(
            rules_broken(
                &[("src/claim.rs", "fn f(x: Option<u8>) -> u8 { x.unwrap() }\n")],
                ""
            ),
            ["unwrap"]
        );
        assert_eq!(
            rules_broken(
                &[(
                    "src/claim.rs",
                    "fn f(x: Option<u8>) -> u8 { x.expect(\"x\") }\n"
                )],
                ""
            ),
            ["unwrap"]
        );
        let justified = "fn f(x: Option<u8>) -> u8 {\n    // invariant: callers pass Some.\n    x.unwrap()\n}\n";
        assert!(rules_broken(&[("src/claim.rs", justified)], "").is_empty());
        let lenient = "fn f(x: Option<u8>) -> u8 { x.unwrap_or(0) }\n#[cfg(test)]\nmod tests { fn t() { None::<u8>.unwrap(); } }\n";
        assert!(rules_broken(&[("src/claim.rs", lenient)], "").is_empty());
    }

    #[test]
    fn a_function_over_the_line_limit_is_refused() {
        let body = |lines: usize| {
            format!(
                "fn long() {{\n{}}}\n",
                "    let _x = 1;\n".repeat(lines - 2)
            )
        };
        assert_eq!(
            rules_broken(&[("src/claim.rs", &body(FUNCTION_LINES_MAX + 1))], ""),
            ["function length"]
        );
        assert!(rules_broken(&[("src/claim.rs", &body(FUNCTION_LINES_MAX))], "").is_empty());
        let braces_in_strings = format!(
            "fn f() {{\n    let _s = \"}}}}\"; let _c = '}}';\n{}}}\n",
            "    let _x = 1;\n".repeat(80)
        );
        assert_eq!(
            rules_broken(&[("src/claim.rs", &braces_in_strings)], ""),
            ["function length"]
        );
    }

    #[test]
    fn a_file_without_a_header_is_refused() {
        let files = [Source {
            path: "src/claim.rs".to_string(),
            text: "// A plain comment.\nfn f() {}\n".to_string(),
        }];
        let rules: Vec<_> = check(&files, "", Path::new(ROOT))
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(rules, ["header"]);
    }

    #[test]
    fn siblings_that_import_each_other_are_a_cycle() {
        let files = [
            ("src/report/mod.rs", "mod a;\nmod b;\n"),
            ("src/report/a.rs", "use super::b::B;\npub struct A;\n"),
            (
                "src/report/b.rs",
                "use crate::report::a::A;\npub struct B;\n",
            ),
        ];
        assert_eq!(rules_broken(&files, ""), ["sibling cycle"]);
        let one_way = [
            ("src/report/a.rs", "use super::b::B;\n"),
            ("src/report/b.rs", "pub struct B;\n"),
        ];
        assert!(rules_broken(&one_way, "").is_empty());
    }

    #[test]
    fn the_architecture_document_names_only_what_exists() {
        let files = [
            (
                "src/ncpdp/mod.rs",
                "mod parse;\npub use parse::read_request;\n",
            ),
            ("src/ncpdp/parse.rs", "pub fn read_request() {}\n"),
        ];
        assert!(rules_broken(&files, "`ncpdp::read_request` and `src/ARCHITECTURE.md`").is_empty());
        assert_eq!(
            rules_broken(&files, "see ncpdp::parse_request"),
            ["architecture"]
        );
        assert_eq!(
            rules_broken(&files, "`src/no_such_file.rs`"),
            ["architecture"]
        );
    }

    #[test]
    fn masking_keeps_offsets_and_blanks_literals() {
        let text = "let a = \"x // y\"; // z\nlet b = 'c'; let r = r#\"q\"#; fn f<'a>() {}";
        let masked = mask(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains('x') && !masked.contains('z') && !masked.contains('q'));
        assert!(masked.contains("fn f<'a>()"));
    }
}
