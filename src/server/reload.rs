//! Rule-table reload: read a folder from disk, compile it, swap it in; on a watch or SIGHUP.
//!
//! Tier 3 shell around the pure [`crate::rules`] core. Data flow: folder → [`read_rule_folder`]
//! (bytes per file, checked against the folder's seal) → [`rules::compile`] →
//! [`LiveRules::swap`]. A refused folder leaves the old
//! tables live, counts the failure and logs every error (file, line, column, rule — never claim
//! data). Must never swap a partially read or partially valid folder.
//!
//! The watch reacts to content changes only (create, modify, remove, rename — never to a file
//! being opened or read, which would make every reload trigger the next) and debounces them by
//! [`limits::RULES_WATCH_DEBOUNCE`] so that a folder written file by file reloads once; a burst
//! that leaves the folder broken is refused and the next write that repairs it reloads. Every
//! trigger (watch, SIGHUP, `POST /admin/reload`) goes through [`LiveRules::reload`], which
//! serializes reloads and swaps nothing when the folder's bytes equal the live tables'.

use crate::claim::RulesetStamp;
use crate::limits;
use crate::rules::{self, file_error, seal, LiveRules, Reloaded, RuleSource, TableErrors};
use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

/// Problems starting a watch or a signal listener (not table errors: those are values of
/// [`reload_from`]).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch the rule folder: {0}")]
    Notify(#[from] notify::Error),
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[from] std::io::Error),
}

/// Reads every file of the rule-table format from `dir`, and each optional one it holds; a
/// missing required, unreadable or oversized file is an error naming it (all are reported).
/// A folder holding a seal (`SHA256SUMS`) must match it (rule 11).
pub fn read_rule_folder(dir: &Path) -> Result<RuleSource, TableErrors> {
    read_sealed_folder(dir, false)
}

/// As [`read_rule_folder`]; with `require_seal`, a folder without a seal is refused too (the
/// gateway's default: a folder copied file by file can then never go live half copied).
pub fn read_sealed_folder(dir: &Path, require_seal: bool) -> Result<RuleSource, TableErrors> {
    let source = read_table_files(dir)?;
    let seal_path = dir.join(seal::SEAL_FILE);
    if !seal_path.exists() {
        return match require_seal {
            true => Err(seal_error(NOT_SEALED.to_string())),
            false => Ok(source),
        };
    }
    let sealed = read_file(&seal_path).map_err(seal_error)?;
    match seal::verify(&source, &sealed) {
        Ok(()) => Ok(source),
        Err(errors) => Err(mismatched(&source, errors)),
    }
}

const NOT_SEALED: &str = "the folder is not sealed: run `durgate rules seal DIR` after its last \
     change (or set rules_require_seal = false)";

/// Writes the seal of `source` (the table files read from `dir`): a temp file, synced, then
/// renamed over `SHA256SUMS`, so a watching gateway reads the old seal or the new one.
pub fn write_seal(dir: &Path, source: &RuleSource) -> std::io::Result<()> {
    use std::io::Write;
    let temp = dir.join(format!(".{}.tmp", seal::SEAL_FILE));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(seal::seal_text(source).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, dir.join(seal::SEAL_FILE))
}

/// A seal mismatch, with the tables' own errors too (all at once: an edited folder that was
/// not resealed shows what is wrong with the edit as well).
fn mismatched(source: &RuleSource, mut errors: TableErrors) -> TableErrors {
    if let Err(table_errors) = rules::compile(source) {
        errors.extend(table_errors);
    }
    errors
}

fn seal_error(message: String) -> TableErrors {
    let mut errors = TableErrors::default();
    errors.push(file_error(seal::SEAL_FILE, 11, message));
    errors
}

/// The table files alone (no seal check): what `durgate rules seal` seals.
pub fn read_table_files(dir: &Path) -> Result<RuleSource, TableErrors> {
    let mut source = RuleSource::default();
    let mut errors = TableErrors::default();
    for name in rules::FILES {
        match read_file(&dir.join(name)) {
            Ok(bytes) => source.set(name, bytes),
            Err(message) => errors.push(file_error(name, 1, message)),
        }
    }
    for name in rules::OPTIONAL_FILES {
        let path = dir.join(name);
        match read_file(&path) {
            Ok(bytes) => source.set(name, bytes),
            Err(_) if !path.exists() => {}
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

/// Reads the folder `dir` and, when its bytes changed, compiles and swaps it in; on any error
/// the current tables stay, the failure is counted and every error is logged. A folder holding
/// the bytes of the live tables swaps nothing and counts nothing (reading the folder, or a
/// SIGHUP or `POST /admin/reload` with nothing new, is not a reload).
pub fn reload_from(dir: &Path, live: &LiveRules) -> Result<Reloaded, TableErrors> {
    let outcome = live.reload(|| read_sealed_folder(dir, live.seal_required()));
    match &outcome {
        Ok(Reloaded::Swapped { stamp, retired }) => {
            super::metrics::rules_retired(retired.id(), retired.version());
            let current = live.load();
            super::metrics::rules_live(current.id(), current.version());
            super::metrics::rule_reload(true);
            tracing::info!(ruleset = %stamp, "rule tables reloaded");
        }
        Ok(Reloaded::Unchanged(stamp)) => {
            tracing::debug!(ruleset = %stamp, "rule folder unchanged; nothing reloaded");
        }
        Err(errors) => {
            super::metrics::rule_reload(false);
            log_refusal(errors, &live.stamp());
        }
    }
    outcome
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

/// A running folder watch; dropping it stops watching (the debounce thread then ends).
pub struct RuleWatch {
    _watcher: notify::RecommendedWatcher,
}

/// Whether a file event can change what the folder holds. Opening or reading a file (`cat`,
/// `cp -r`, a backup job, the gateway's own reload) and metadata changes (`touch`, `chmod`)
/// cannot, and must never trigger a reload: a reload reads every file, so reacting to reads
/// would reload forever.
pub fn is_content_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => true,
    }
}

/// Watches `dir` and reloads once the folder has been quiet for
/// [`limits::RULES_WATCH_DEBOUNCE`] after a content change (so a folder written file by file
/// reloads once), or at the latest [`limits::RULES_WATCH_SETTLE_MAX`] after the first change.
pub fn watch_rule_folder(dir: &Path, live: Arc<LiveRules>) -> Result<RuleWatch, WatchError> {
    // Capacity 1: a pending signal already means "reload soon"; further events add nothing.
    let (changed, changes) = std::sync::mpsc::sync_channel::<()>(1);
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_content_change(&event.kind) => {
                let _ = changed.try_send(());
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "rule folder watch error"),
        })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    let folder = dir.to_path_buf();
    std::thread::Builder::new()
        .name("durgate-rules-watch".into())
        .spawn(move || reload_on_changes(&folder, &live, &changes))
        .map_err(WatchError::Signal)?;
    Ok(RuleWatch { _watcher: watcher })
}

/// The debounce loop: ends when the watcher (the only sender) is dropped.
fn reload_on_changes(dir: &Path, live: &LiveRules, changes: &Receiver<()>) {
    while changes.recv().is_ok() {
        if !settle(changes) {
            return;
        }
        // Errors are logged and counted inside; the watch goes on.
        let _ = reload_from(dir, live);
    }
}

/// Waits until no change arrived for the debounce interval (or the settle bound passed);
/// false when the watch was dropped meanwhile.
fn settle(changes: &Receiver<()>) -> bool {
    let give_up_at = Instant::now() + limits::RULES_WATCH_SETTLE_MAX;
    while Instant::now() < give_up_at {
        match changes.recv_timeout(limits::RULES_WATCH_DEBOUNCE) {
            Ok(()) => continue,
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
    true
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
        Arc::new(LiveRules::from_source(source).expect("fixture compiles"))
    }

    fn swapped_stamp(outcome: Result<Reloaded, TableErrors>) -> String {
        match outcome {
            Ok(Reloaded::Swapped { stamp, .. }) => stamp.to_string(),
            other => panic!("expected a swap, got {other:?}"),
        }
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
        assert_eq!(swapped_stamp(reload_from(dir.path(), &live)), "test@2");
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

    #[test]
    fn an_unchanged_folder_swaps_nothing_and_counts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let live = live_from(dir.path());
        let before = live.load();
        let outcome = reload_from(dir.path(), &live).expect("folder is valid");
        assert!(matches!(&outcome, Reloaded::Unchanged(stamp) if &**stamp == "test@1"));
        assert!(
            Arc::ptr_eq(&before, &live.load()),
            "the same tables stay live"
        );
        assert_eq!((live.reloads_ok(), live.reloads_failed()), (0, 0));
        // Same version string, different bytes: that is a change and it is swapped in.
        let ruleset = format!("{}\n# a comment\n", fixture::RULESET);
        std::fs::write(dir.path().join("ruleset.toml"), ruleset).unwrap();
        assert_eq!(swapped_stamp(reload_from(dir.path(), &live)), "test@1");
        assert_eq!(live.reloads_ok(), 1);
    }

    #[test]
    fn reading_the_watched_folder_never_reloads() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let live = live_from(dir.path());
        let _watch = watch_rule_folder(dir.path(), live.clone()).expect("watch starts");
        for _ in 0..100 {
            for name in rules::FILES {
                std::fs::read(dir.path().join(name)).expect("read a table");
            }
        }
        // Longer than the debounce: a reload triggered by the reads would have run by now.
        std::thread::sleep(limits::RULES_WATCH_DEBOUNCE * 4);
        assert_eq!((live.reloads_ok(), live.reloads_failed()), (0, 0));
        // The watch is alive: a real change still reloads, exactly once, and its own reads
        // of the folder do not start another.
        std::fs::write(dir.path().join("ruleset.toml"), version("2")).unwrap();
        wait_until("version 2", || &*live.stamp() == "test@2");
        std::thread::sleep(limits::RULES_WATCH_DEBOUNCE * 4);
        assert_eq!((live.reloads_ok(), live.reloads_failed()), (1, 0));
    }

    #[test]
    fn only_content_changes_count_as_changes() {
        use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, RemoveKind};
        use notify::event::{AccessMode, RenameMode};
        let ignored = [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions)),
        ];
        let changes = [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Remove(RemoveKind::File),
        ];
        assert!(ignored.iter().all(|kind| !is_content_change(kind)));
        assert!(changes.iter().all(is_content_change));
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
