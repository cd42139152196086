//! Rule-table reload: read a folder from disk, compile it, swap it in; on a watch or SIGHUP.
//!
//! Tier 3 shell around the pure [`crate::rules`] core. Data flow: folder → [`read_rule_folder`]
//! (bytes per file) → [`rules::compile`] → [`LiveRules::swap`]. A refused folder leaves the old
//! tables live, counts the failure and logs every error (file, line, column, rule — never claim
//! data). Must never swap a partially read or partially valid folder.
//!
//! The watch debounces file events by [`limits::RULES_WATCH_DEBOUNCE`] so that a folder written
//! file by file reloads once; a burst that leaves the folder broken is refused and the next
//! write that repairs it reloads.

use crate::claim::RulesetStamp;
use crate::limits;
use crate::rules::{self, file_error, LiveRules, RuleSource, TableErrors};
use notify_debouncer_mini::notify::{self, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Problems starting a watch or a signal listener (not table errors: those are values of
/// [`reload_from`]).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch the rule folder: {0}")]
    Notify(#[from] notify::Error),
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[from] std::io::Error),
}

/// Reads every file of the rule-table format from `dir`; a missing, unreadable or oversized
/// file is an error naming it (all of them are reported).
pub fn read_rule_folder(dir: &Path) -> Result<RuleSource, TableErrors> {
    let mut source = RuleSource::default();
    let mut errors = TableErrors::default();
    for name in rules::FILES {
        match read_file(&dir.join(name)) {
            Ok(bytes) => source.set(name, bytes),
            Err(message) => errors.push(file_error(name, 1, message)),
        }
    }
    errors.into_result(source)
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|error| describe(&error))?;
    if metadata.len() > limits::RULE_TABLE_FILE_BYTES_MAX {
        return Err(format!(
            "file is larger than {} bytes",
            limits::RULE_TABLE_FILE_BYTES_MAX
        ));
    }
    std::fs::read(path).map_err(|error| describe(&error))
}

fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "required file is missing".into(),
        _ => format!("cannot read file: {error}"),
    }
}

/// Reads, compiles and swaps in the folder `dir`; on any error the current tables stay, the
/// failure is counted and every error is logged.
pub fn reload_from(dir: &Path, live: &LiveRules) -> Result<RulesetStamp, TableErrors> {
    match read_rule_folder(dir).and_then(|source| rules::compile(&source)) {
        Ok(rules) => {
            let retired = live.load();
            let stamp = live.swap(rules);
            super::metrics::rules_retired(retired.id(), retired.version());
            let current = live.load();
            super::metrics::rules_live(current.id(), current.version());
            super::metrics::rule_reload(true);
            tracing::info!(ruleset = %stamp, "rule tables reloaded");
            Ok(stamp)
        }
        Err(errors) => {
            live.count_failed_reload();
            super::metrics::rule_reload(false);
            log_refusal(&errors, &live.stamp());
            Err(errors)
        }
    }
}

fn log_refusal(errors: &TableErrors, kept: &RulesetStamp) {
    tracing::warn!(errors = errors.total(), kept = %kept, "rule tables refused; previous tables stay live");
    for error in &errors.errors {
        tracing::warn!(%error, "rule table error");
    }
    if errors.more > 0 {
        tracing::warn!(more = errors.more, "further rule table errors not listed");
    }
}

/// A running folder watch; dropping it stops watching.
pub struct RuleWatch {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Watches `dir` and reloads (debounced) whenever something in it changes.
pub fn watch_rule_folder(dir: &Path, live: Arc<LiveRules>) -> Result<RuleWatch, WatchError> {
    let folder = dir.to_path_buf();
    let on_events = move |events: DebounceEventResult| match events {
        Ok(_) => {
            // Errors are logged and counted inside; the watch goes on.
            let _ = reload_from(&folder, &live);
        }
        Err(error) => tracing::warn!(%error, "rule folder watch error"),
    };
    let mut debouncer = new_debouncer(limits::RULES_WATCH_DEBOUNCE, on_events)?;
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::NonRecursive)?;
    Ok(RuleWatch {
        _debouncer: debouncer,
    })
}

/// Spawns a task that reloads `dir` on every SIGHUP (needs a running tokio runtime).
pub fn spawn_sighup_reload(
    dir: PathBuf,
    live: Arc<LiveRules>,
) -> Result<tokio::task::JoinHandle<()>, WatchError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading rule tables");
            let (dir, live) = (dir.clone(), live.clone());
            // Compiling a large folder is CPU work: keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || reload_from(&dir, &live)).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixture;
    use std::time::{Duration, Instant};

    fn write_fixture(dir: &Path) {
        for (name, bytes) in &fixture::source().files {
            std::fs::write(dir.join(name), bytes).expect("write fixture");
        }
    }

    fn live_from(dir: &Path) -> Arc<LiveRules> {
        let source = read_rule_folder(dir).expect("fixture folder reads");
        Arc::new(LiveRules::new(
            rules::compile(&source).expect("fixture compiles"),
        ))
    }

    /// Polls `done` until it holds; fails after a generous deadline (file events are async).
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn version(text: &str) -> String {
        fixture::RULESET.replace("version = \"1\"", &format!("version = \"{text}\""))
    }

    #[test]
    fn missing_files_are_all_named() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        std::fs::remove_file(dir.path().join("mme.csv")).unwrap();
        std::fs::remove_file(dir.path().join("classes.csv")).unwrap();
        let errors = read_rule_folder(dir.path()).unwrap_err().to_string();
        assert_eq!(
            errors,
            "classes.csv:1:1: required file is missing (rule 1)\nmme.csv:1:1: required file is missing (rule 1)"
        );
    }

    #[test]
    fn a_refused_reload_keeps_the_old_tables_and_counts_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let live = live_from(dir.path());
        std::fs::write(dir.path().join("ruleset.toml"), version("2")).unwrap();
        assert_eq!(reload_from(dir.path(), &live).as_deref(), Ok("test@2"));
        std::fs::write(
            dir.path().join("ruleset.toml"),
            version("3").replace("schema = 1", "schema = 9"),
        )
        .unwrap();
        let refused = reload_from(dir.path(), &live).unwrap_err();
        assert_eq!(refused.errors[0].rule, 1);
        assert_eq!(
            (&*live.stamp(), live.reloads_ok(), live.reloads_failed()),
            ("test@2", 1, 1)
        );
    }

    #[test]
    fn the_watch_reloads_a_new_version_and_refuses_a_broken_one() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let live = live_from(dir.path());
        let _watch = watch_rule_folder(dir.path(), live.clone()).expect("watch starts");
        std::fs::write(dir.path().join("ruleset.toml"), version("2")).unwrap();
        wait_until("version 2", || &*live.stamp() == "test@2");
        let broken = format!(
            "{}0000000020,aspirin,81,mg,tablet,oral,,N,\n",
            fixture::PRODUCTS
        );
        // Broken products first: a reload between the two writes is refused as well.
        std::fs::write(dir.path().join("products.csv"), broken).unwrap();
        std::fs::write(dir.path().join("ruleset.toml"), version("3")).unwrap();
        wait_until("a refused reload", || live.reloads_failed() >= 1);
        assert_eq!(&*live.stamp(), "test@2");
    }

    #[tokio::test]
    async fn sighup_reloads_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let live = live_from(dir.path());
        let task =
            spawn_sighup_reload(dir.path().to_path_buf(), live.clone()).expect("listener starts");
        std::fs::write(dir.path().join("ruleset.toml"), version("2")).unwrap();
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while &*live.stamp() != "test@2" {
            assert!(Instant::now() < deadline, "SIGHUP did not reload");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        task.abort();
    }
}
