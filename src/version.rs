//! What this build is: the package version and the git commit it was built from.
//!
//! Tier 0, beside `limits`: constants only, read by `cli` (`durgate --version`) and by the
//! admin server (`GET /admin/status`). The commit comes from `build.rs` (`DURGATE_COMMIT`): a
//! short hash, `-dirty` when tracked files differed from it, or `unknown` outside git.
//!
//! Must not: compute anything at run time or read the environment.

/// The package version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit of the sources (`abc1234`, `abc1234-dirty` or `unknown`).
pub const COMMIT: &str = env!("DURGATE_COMMIT");

/// `VERSION (COMMIT)`, as `durgate --version` prints it after the name.
pub const DISPLAY: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("DURGATE_COMMIT"), ")");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_is_the_version_and_the_commit() {
        assert_eq!(DISPLAY, format!("{VERSION} ({COMMIT})"));
    }

    #[test]
    fn the_commit_is_a_short_hash_or_unknown() {
        let hash = COMMIT.strip_suffix("-dirty").unwrap_or(COMMIT);
        let is_hash = hash.len() >= 7 && hash.bytes().all(|byte| byte.is_ascii_hexdigit());
        assert!(is_hash || COMMIT == "unknown", "{COMMIT}");
    }
}
