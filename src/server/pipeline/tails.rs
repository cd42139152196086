//! Per-patient ordering of in-flight transmissions.
//!
//! A claim must be adjudicated against every earlier claim of the same patient, including one
//! still waiting for its commit on another connection (or earlier on the same one). Before the
//! pipeline reads a patient's history it [`Tails::enter`]s the patient's token: it waits until
//! the patient's previous in-flight transmission has committed and updated the history, and
//! becomes the new tail. Dropping the returned [`TailGuard`] (after the history is updated, or
//! after a failure) lets the next one in. Different patients never wait for each other (unless
//! their 64-bit tokens collide, which only costs a wait).
//!
//! Bounded: an entry exists only while its transmission is in flight, so the map holds at most
//! connections × in-flight-per-connection entries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::oneshot;

type Done = Shared<BoxFuture<'static, ()>>;

/// The latest in-flight transmission of each patient token.
#[derive(Default)]
pub struct Tails {
    latest: DashMap<u64, (u64, Done)>,
    next_seq: AtomicU64,
}

/// Holds a patient's place; dropping it lets the patient's next transmission proceed.
pub struct TailGuard {
    tails: Arc<Tails>,
    token: u64,
    seq: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Tails {
    /// Waits for the patient's previous in-flight transmission, then holds the patient's place.
    pub async fn enter(self: &Arc<Tails>, token: u64) -> TailGuard {
        let (done, finished) = oneshot::channel::<()>();
        let finished: Done = finished.map(|_| ()).boxed().shared();
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let previous = self.latest.insert(token, (seq, finished));
        let guard = TailGuard {
            tails: self.clone(),
            token,
            seq,
            done: Some(done),
        };
        if let Some((_, previous)) = previous {
            previous.await;
        }
        guard
    }

    /// Transmissions in flight (for tests and metrics).
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

impl Drop for TailGuard {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        self.tails
            .latest
            .remove_if(&self.token, |_, (seq, _)| *seq == self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_same_patient_waits_for_its_predecessor() {
        let tails = Arc::new(Tails::default());
        let first = tails.enter(7).await;
        let waiting = tokio::spawn({
            let tails = tails.clone();
            async move { tails.enter(7).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "entered before the predecessor finished"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .unwrap()
            .unwrap();
        drop(second);
        assert!(tails.is_empty());
    }

    #[tokio::test]
    async fn other_patients_do_not_wait() {
        let tails = Arc::new(Tails::default());
        let _first = tails.enter(1).await;
        let other = tokio::time::timeout(Duration::from_secs(1), tails.enter(2)).await;
        assert!(other.is_ok());
        assert_eq!(tails.len(), 2);
    }
}
