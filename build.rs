//! Build script: stamps the binary with the git commit it was built from.
//!
//! Sets `DURGATE_COMMIT` for `src/version.rs`: the short hash of `HEAD`, with `-dirty` when
//! tracked files differ from it (untracked files do not count, as with `git describe --dirty`),
//! or `unknown` when the sources are not a git checkout or git is not installed;
//! `DURGATE_BUILD_COMMIT`, when set, is used as it is (the Dockerfile passes it in). Asks cargo to
//! run again when `HEAD`, the branch it points to, the index or the sources change; in a
//! worktree `.git` is a file, so the folders come from `git rev-parse`, never from `.git/` paths.
//!
//! Must not: fail the build (no git is a valid build), or write anything but cargo directives.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary reports when it was not built from a git checkout.
const UNKNOWN_COMMIT: &str = "unknown";

/// Sources whose edits can turn a clean tree dirty (cargo scans folders recursively).
const WATCHED_SOURCES: [&str; 5] = ["build.rs", "Cargo.toml", "Cargo.lock", "src", "config"];

fn main() {
    for source in WATCHED_SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    // A build without the git folder (a container build) may name its commit itself.
    println!("cargo:rerun-if-env-changed=DURGATE_BUILD_COMMIT");
    if let Some(commit) = std::env::var("DURGATE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        println!("cargo:rustc-env=DURGATE_COMMIT={commit}");
        return;
    }
    let commit = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => {
            watch_git_state();
            format!("{hash}{}", dirty_suffix())
        }
        None => UNKNOWN_COMMIT.to_owned(),
    };
    println!("cargo:rustc-env=DURGATE_COMMIT={commit}");
}

/// `-dirty` when a tracked file differs from `HEAD`.
fn dirty_suffix() -> &'static str {
    let status = git(&["status", "--porcelain", "--untracked-files=no"]);
    match status {
        Some(changes) if !changes.is_empty() => "-dirty",
        _ => "",
    }
}

/// `HEAD` and the index of this checkout's git folder, and the branch file `HEAD` names (loose,
/// or in `packed-refs`) in the folder shared by all worktrees.
fn watch_git_state() {
    let Some(git_dir) = git_path("--git-dir") else {
        return;
    };
    let common_dir = git_path("--git-common-dir").unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(branch));
    }
    watched.push(common_dir.join("packed-refs"));
    // A path that does not exist would make cargo run this script on every build.
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// A folder `git rev-parse` names (relative answers are relative to the package).
fn git_path(flag: &str) -> Option<PathBuf> {
    let path = PathBuf::from(git(&["rev-parse", flag])?);
    Some(match path.is_absolute() {
        true => path,
        false => manifest_dir().join(path),
    })
}

/// Trimmed stdout of a successful `git` run in the package folder.
fn git(args: &[&str]) -> Option<String> {
    // No optional locks: `git status` must not rewrite the index it is watched through.
    let output = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| text.trim().to_owned())
}

fn manifest_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    Path::new(&dir).to_path_buf()
}
