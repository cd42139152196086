//! Group commit, shared by both backends: the bounded job queue, gathering a batch, the linger,
//! answering every submitter, flush markers and closing.
//!
//! Submitters [`enqueue`] jobs (waiting at most the enqueue deadline for room). The writer
//! ([`serve`]) takes the first job, then gathers up to the batch bound of commit jobs: those
//! already waiting, then — while the next one arrives within [`STORE_GATHER_LINGER`], and for
//! at most [`STORE_GATHER_WINDOW`] in all — those arriving. A flush costs far more than the few
//! hundred microseconds in which one batch's replies bring the clients' next requests, so the
//! short linger lets those share the next flush instead of splitting the in-flight claims into
//! small alternating batches. The backend's [`BatchWriter::commit`] writes and commits the
//! batch; only then is every submitter answered (a failed batch fails every record in it). A
//! flush marker is answered after everything queued before it; the shutdown marker closes the
//! queue, so the loop drains what is buffered (at most the queue depth) and ends.
//!
//! Readiness: the writer records in [`Health`] whether its last commit failed and when the
//! running one began; after a failure it probes ([`BatchWriter::probe`]) while idle, so the
//! store reports itself ready again once committing works, with no traffic needed.
//!
//! Must never answer a submitter before its batch committed, or wait on anything but the queue
//! and the backend.

use crate::limits::{
    STORE_COMMIT_STALL, STORE_GATHER_LINGER, STORE_GATHER_WINDOW, STORE_PROBE_INTERVAL,
};
use crate::store::record::TransmissionRecord;
use crate::store::{BatchObserver, CommitReceipt, Committing, StoreError, StoreStats};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc::error::{SendTimeoutError, TrySendError};
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What the writer answers a commit with.
pub(super) type Reply = oneshot::Sender<Result<CommitReceipt, StoreError>>;

/// One queued item.
pub(super) enum Job {
    Commit {
        record: TransmissionRecord,
        reply: Reply,
    },
    Flush(oneshot::Sender<()>),
    Shutdown,
}

/// A commit waiting in the current batch.
pub(super) struct Pending {
    pub record: TransmissionRecord,
    pub reply: Reply,
}

/// A marker that ended the gathering of a batch.
enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown,
}

/// Why a batch failed as a whole: the backend's message (no row values).
pub(super) struct BatchFailed(pub String);

/// What one batch produced: a result per record, in order, or the failure of the whole batch.
pub(super) type BatchResult = Result<Vec<Result<CommitReceipt, StoreError>>, BatchFailed>;

/// Counters the store reads for [`crate::store::StoreStats`].
#[derive(Default)]
pub(super) struct Counters {
    /// Told the size and commit time of every batch (set once by the embedding server).
    pub observer: OnceLock<BatchObserver>,
    pub batches_committed: AtomicU64,
    pub batches_failed: AtomicU64,
    pub records_committed: AtomicU64,
    pub records_refused: AtomicU64,
    /// Whether the store can commit now, as the writer last found it.
    pub health: Health,
}

/// What the writer last learnt about committing: read by readiness, which so never touches the
/// database's write lock itself.
#[derive(Default)]
pub(super) struct Health(Mutex<HealthState>);

#[derive(Default)]
struct HealthState {
    /// Why the last commit (or probe) failed; `None` once one succeeds.
    failure: Option<String>,
    /// When the commit now running began.
    committing_since: Option<std::time::Instant>,
}

impl Health {
    /// `Ok` when the last commit or probe succeeded and no commit has run beyond
    /// [`STORE_COMMIT_STALL`].
    pub fn check(&self) -> Result<(), StoreError> {
        let state = lock(&self.0);
        if let Some(reason) = &state.failure {
            return Err(StoreError::Commit(format!(
                "the last commit failed: {reason}"
            )));
        }
        match state.committing_since {
            Some(since) if since.elapsed() > STORE_COMMIT_STALL => Err(StoreError::Commit(
                format!("a commit has run for {} ms", since.elapsed().as_millis()),
            )),
            _ => Ok(()),
        }
    }

    fn is_failing(&self) -> bool {
        lock(&self.0).failure.is_some()
    }

    fn started(&self) {
        lock(&self.0).committing_since = Some(std::time::Instant::now());
    }

    fn finished(&self, failure: Option<&str>) {
        *lock(&self.0) = HealthState {
            failure: failure.map(str::to_owned),
            committing_since: None,
        };
    }
}

/// The writer's probe: one real write (a `schema_version` cell rewritten with its own value),
/// no claim data. Each backend runs it in a write transaction of its own and commits.
pub(super) const PROBE_SQL: &str = "UPDATE schema_version SET applied_at_ms = applied_at_ms \
     WHERE version = (SELECT max(version) FROM schema_version)";

/// A backend's side of group commit.
pub(super) trait BatchWriter {
    /// Writes the batch in one transaction and commits it durably.
    async fn commit(&mut self, batch: &[Pending]) -> BatchResult;

    /// Runs after the batch's submitters were answered: work that must not delay a reply.
    async fn after_answer(&mut self) {}

    /// Commits a minimal write (no claim data) to learn whether committing works again.
    async fn probe(&mut self) -> Result<(), BatchFailed>;
}

/// The submitting side of the queue, as a store holds it: submit, flush, stats and close.
pub(super) struct Queue {
    jobs: mpsc::Sender<Job>,
    /// One queue place held back from the start so that shutdown can always be queued.
    shutdown: Mutex<Option<OwnedPermit<Job>>>,
    /// The thread serving the other end, joined by [`Queue::close`].
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    depth: usize,
    enqueue_deadline: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    /// A queue of `depth` places for submitters (one more is held back for shutdown) and the
    /// receiving end for the writer.
    pub fn new(
        depth: usize,
        enqueue_deadline: Duration,
    ) -> Result<(Queue, mpsc::Receiver<Job>), StoreError> {
        let (jobs, receiver) = mpsc::channel(depth + 1);
        let shutdown = jobs
            .clone()
            .try_reserve_owned()
            .map_err(|_| StoreError::Closed)?;
        let queue = Queue {
            jobs,
            shutdown: Mutex::new(Some(shutdown)),
            writer: Mutex::new(None),
            counters: Arc::new(Counters::default()),
            depth,
            enqueue_deadline,
        };
        Ok((queue, receiver))
    }

    /// The counters the writer updates.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Hands over the thread that serves the queue, for [`Queue::close`] to join.
    pub fn attach_writer(&self, writer: JoinHandle<()>) {
        *lock(&self.writer) = Some(writer);
    }

    /// Queues a (validated) record and resolves, once queued, with its [`Committing`].
    pub fn submit(
        &self,
        record: TransmissionRecord,
    ) -> BoxFuture<'static, Result<Committing, StoreError>> {
        let (jobs, deadline) = (self.jobs.clone(), self.enqueue_deadline);
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            enqueue(&jobs, Job::Commit { record, reply }, deadline).await?;
            Ok(Committing::new(answer))
        })
    }

    /// Resolves once everything queued before it is committed (or failed).
    pub fn flush(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let (jobs, deadline) = (self.jobs.clone(), self.enqueue_deadline);
        Box::pin(async move {
            let (reply, done) = oneshot::channel();
            enqueue(&jobs, Job::Flush(reply), deadline).await?;
            drop(jobs);
            done.await.map_err(|_| StoreError::Closed)
        })
    }

    pub fn is_closed(&self) -> bool {
        self.jobs.is_closed()
    }

    /// Readiness as the writer last found it: open, the last commit or probe succeeded, no
    /// commit stalled. Touches no database.
    pub fn check_health(&self) -> Result<(), StoreError> {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        self.counters.health.check()
    }

    pub fn observe_batches(&self, observer: BatchObserver) {
        let _ = self.counters.observer.set(observer);
    }

    pub fn stats(&self) -> StoreStats {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let used = self.jobs.max_capacity() - self.jobs.capacity();
        StoreStats {
            batches_committed: count(&self.counters.batches_committed),
            batches_failed: count(&self.counters.batches_failed),
            records_committed: count(&self.counters.records_committed),
            records_refused: count(&self.counters.records_refused),
            // The place held back for shutdown counts as used while it is held.
            queue_depth: used.saturating_sub(1),
            queue_capacity: self.depth,
        }
    }

    /// Queues the shutdown marker (once) and waits for the writer to drain and end.
    pub fn close(&self) -> Result<(), StoreError> {
        if let Some(permit) = lock(&self.shutdown).take() {
            drop(permit.send(Job::Shutdown));
        }
        let Some(writer) = lock(&self.writer).take() else {
            return Ok(());
        };
        writer
            .join()
            .map_err(|_| StoreError::Commit("the store writer thread panicked".into()))
    }
}

/// Queues a job, waiting at most `deadline` for room.
async fn enqueue(jobs: &mpsc::Sender<Job>, job: Job, deadline: Duration) -> Result<(), StoreError> {
    let job = match jobs.try_send(job) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Closed(_)) => return Err(StoreError::Closed),
        Err(TrySendError::Full(job)) => job,
    };
    jobs.send_timeout(job, deadline)
        .await
        .map_err(|error| match error {
            SendTimeoutError::Timeout(_) => StoreError::QueueFull,
            SendTimeoutError::Closed(_) => StoreError::Closed,
        })
}

/// The writer's body: gathers, commits and answers batches until the queue is closed and
/// drained.
pub(super) async fn serve<W: BatchWriter>(
    mut jobs: mpsc::Receiver<Job>,
    counters: Arc<Counters>,
    batch_records_max: usize,
    writer: &mut W,
) {
    let mut batch = Vec::with_capacity(batch_records_max);
    while let Some(first) = next_job(&mut jobs, &counters.health, writer).await {
        let control = gather(&mut jobs, &mut batch, batch_records_max, first).await;
        commit_and_answer(writer, &mut batch, &counters).await;
        match control {
            Some(Control::Flush(reply)) => drop(reply.send(())),
            Some(Control::Shutdown) => jobs.close(),
            None => {}
        }
    }
}

/// The next job. While the last commit failed, probes every [`STORE_PROBE_INTERVAL`] until a
/// job arrives, so readiness recovers without traffic. `None` once the queue is closed and
/// drained.
async fn next_job<W: BatchWriter>(
    jobs: &mut mpsc::Receiver<Job>,
    health: &Health,
    writer: &mut W,
) -> Option<Job> {
    // Bounded by the queue: each pass either returns a job or probes once and waits again.
    while health.is_failing() {
        match tokio::time::timeout(STORE_PROBE_INTERVAL, jobs.recv()).await {
            Ok(job) => return job,
            Err(_) => probe(writer, health).await,
        }
    }
    jobs.recv().await
}

async fn probe<W: BatchWriter>(writer: &mut W, health: &Health) {
    health.started();
    let probed = writer.probe().await;
    let failure = probed
        .as_ref()
        .err()
        .map(|BatchFailed(reason)| reason.as_str());
    health.finished(failure);
    if probed.is_ok() {
        tracing::info!("claim store commits again");
    }
}

/// Moves commit jobs into the batch until it is full, a marker arrives, or nothing more
/// arrives within the linger (bounded by the window).
async fn gather(
    jobs: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Pending>,
    batch_records_max: usize,
    first: Job,
) -> Option<Control> {
    let window_end = Instant::now() + STORE_GATHER_WINDOW;
    let mut next = Some(first);
    // Bounded: each pass takes one job; the batch bound and the window end it.
    while let Some(job) = next {
        match job {
            Job::Commit { record, reply } => batch.push(Pending { record, reply }),
            Job::Flush(reply) => return Some(Control::Flush(reply)),
            Job::Shutdown => return Some(Control::Shutdown),
        }
        if batch.len() >= batch_records_max {
            return None;
        }
        next = match jobs.try_recv() {
            Ok(job) => Some(job),
            Err(_) => linger(jobs, window_end).await,
        };
    }
    None
}

/// The next job if one arrives within the linger and before the window ends.
async fn linger(jobs: &mut mpsc::Receiver<Job>, window_end: Instant) -> Option<Job> {
    let wait = STORE_GATHER_LINGER.min(window_end.saturating_duration_since(Instant::now()));
    if wait.is_zero() {
        return None;
    }
    tokio::time::timeout(wait, jobs.recv()).await.ok().flatten()
}

/// Commits the batch, tells the observer, answers each submitter, then runs the backend's
/// after-answer work.
async fn commit_and_answer<W: BatchWriter>(
    writer: &mut W,
    batch: &mut Vec<Pending>,
    counters: &Counters,
) {
    if batch.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    counters.health.started();
    let committed = writer.commit(batch).await;
    let failure = committed
        .as_ref()
        .err()
        .map(|BatchFailed(reason)| reason.as_str());
    counters.health.finished(failure);
    if let Some(observer) = counters.observer.get() {
        observer(batch.len(), started.elapsed());
    }
    answer(batch, committed, counters);
    writer.after_answer().await;
}

/// Answers every submitter of the batch and counts what happened.
fn answer(batch: &mut Vec<Pending>, committed: BatchResult, counters: &Counters) {
    match committed {
        Ok(results) => {
            let accepted = results.iter().filter(|result| result.is_ok()).count() as u64;
            counters.batches_committed.fetch_add(1, Ordering::Relaxed);
            counters
                .records_committed
                .fetch_add(accepted, Ordering::Relaxed);
            counters
                .records_refused
                .fetch_add(results.len() as u64 - accepted, Ordering::Relaxed);
            for (pending, result) in batch.drain(..).zip(results) {
                drop(pending.reply.send(result));
            }
        }
        Err(BatchFailed(reason)) => {
            counters.batches_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(records = batch.len(), error = %reason, "claim store batch failed");
            for pending in batch.drain(..) {
                drop(pending.reply.send(Err(StoreError::Commit(reason.clone()))));
            }
        }
    }
}
