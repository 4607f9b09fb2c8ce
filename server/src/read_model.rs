//! The read model: a replica of the `Hall`, folded from the committed event
//! stream on its own thread, that answers every read (catalogue, ticket
//! status, board snapshot, my queue, follow-ups, the day report) without
//! queueing behind the writer's batches and fsyncs.
//!
//! One thread owns the replica and does both jobs: it folds committed
//! batches (always first, so it never falls behind the writer) and it
//! renders reads, a bounded number between two looks at the batches. Why one thread
//! and not a lock around the replica read by the tokio workers: a read of a
//! long queue costs real CPU, and on a 2-core hall server 64 readers
//! rendering on the runtime's workers starved the issuing path (issuing
//! with readers beside it fell to 15–26 % of issuing alone). On their own
//! thread, reads share at most one core and the workers stay free for
//! the requests that write. Reads need no lock either.
//!
//! Consistency: a read first waits until the replica has folded everything
//! that was committed when the read arrived, so whatever a client was told
//! was saved before it asked is in the answer (read-after-write across
//! clients). The answer carries the sequence number it reflects
//! (`x-hall-seq` response metadata; `BoardState.seq` for snapshots).
//!
//! The replica is the same engine `fold` over the same events as the
//! writer's `Hall` (`Hall` is exactly the fold of its events), so both
//! agree at every sequence number.

use crate::engine::{Hall, Millis};
use crate::writer::LoggedEvent;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a read waits for the replica to catch up (and for its turn)
/// before giving up.
const CATCH_UP: Duration = Duration::from_secs(5);

/// Reads rendered between two looks at the folding queue: folds go first,
/// so the replica never falls behind the writer (and never piles up
/// batches in memory) however many reads arrive.
const READS_PER_TURN: usize = 64;

/// Renders one answer from the replica at its sequence number.
type Render = Box<dyn FnOnce(&Hall, u64) + Send>;

/// A read to render on the replica's thread, at a sequence number.
struct Job {
    render: Render,
    /// Set when its caller stopped waiting (`CATCH_UP`): not rendered, so
    /// an overloaded replica does not spend itself on answers nobody reads.
    abandoned: Arc<std::sync::atomic::AtomicBool>,
}

impl Job {
    fn abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What the writer and the readers hand to the replica's thread.
#[derive(Default)]
struct Inbox {
    folds: Vec<Vec<LoggedEvent>>,
    reads: VecDeque<(u64, Job)>,
    /// The writer dropped its feed: fold what is left, answer, end.
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The handle the gRPC edge reads through.
pub struct ReadModel {
    shared: Arc<Shared>,
}

/// The writer's end: committed batches go here, in order. Dropping it ends
/// the replica's thread.
pub struct Feed(Arc<Shared>);

impl Feed {
    /// Hands a committed batch to the replica.
    pub fn send(&self, batch: Vec<LoggedEvent>) {
        self.0.lock().folds.push(batch);
        self.0.wake.notify_one();
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_one();
    }
}

impl ReadModel {
    /// Starts the replica's thread from the writer's `hall` at `seq`;
    /// returns the model and the feed the writer sends committed batches to.
    ///
    /// `stopped` yields an error if the thread dies (a panic in a fold):
    /// reads could then only time out, so the server treats it like a
    /// stopped writer. A panic while rendering one read only fails that read.
    pub fn start(
        hall: Hall,
        seq: u64,
    ) -> std::io::Result<(ReadModel, Feed, tokio::sync::oneshot::Receiver<()>)> {
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            wake: Condvar::new(),
        });
        let (done, stopped) = tokio::sync::oneshot::channel::<()>();
        let inbox = shared.clone();
        std::thread::Builder::new()
            .name("hall-read-model".into())
            .spawn(move || {
                // A panic drops `done` unsent (`stopped` yields an error); a
                // normal end (the feed dropped) sends it.
                Replica {
                    hall,
                    seq,
                    waiting: Vec::new(),
                }
                .run(&inbox);
                let _ = done.send(());
            })?;
        Ok((
            ReadModel {
                shared: shared.clone(),
            },
            Feed(shared),
            stopped,
        ))
    }

    /// Waits until the replica has folded `at_least`, then answers from it
    /// with the sequence number the answer reflects. `None` if that takes
    /// longer than `CATCH_UP` or the replica is gone.
    pub async fn read<R: Send + 'static>(
        &self,
        at_least: u64,
        now: Millis,
        f: impl FnOnce(&Hall, u64, Millis) -> R + Send + 'static,
    ) -> Option<(R, u64)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let job = Job {
            render: Box::new(move |hall, seq| {
                let _ = tx.send((f(hall, seq, now), seq));
            }),
            abandoned: abandoned.clone(),
        };
        {
            let mut inbox = self.shared.lock();
            if inbox.closed {
                return None;
            }
            inbox.reads.push_back((at_least, job));
        }
        self.shared.wake.notify_one();
        match tokio::time::timeout(CATCH_UP, rx).await {
            Ok(answer) => answer.ok(),
            Err(_) => {
                abandoned.store(true, std::sync::atomic::Ordering::Relaxed);
                None
            }
        }
    }
}

struct Replica {
    hall: Hall,
    seq: u64,
    /// Reads that arrived before the batch they must see.
    waiting: Vec<(u64, Job)>,
}

impl Replica {
    fn run(mut self, shared: &Shared) {
        loop {
            let (folds, reads, closed) = {
                let mut inbox = shared.lock();
                while inbox.folds.is_empty() && inbox.reads.is_empty() && !inbox.closed {
                    inbox = shared.wake.wait(inbox).unwrap_or_else(|e| e.into_inner());
                }
                let n = inbox.reads.len().min(READS_PER_TURN);
                (
                    std::mem::take(&mut inbox.folds),
                    inbox.reads.drain(..n).collect::<Vec<_>>(),
                    inbox.closed,
                )
            };
            for batch in &folds {
                self.fold(batch);
            }
            if !folds.is_empty() && !self.waiting.is_empty() {
                let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
                    .into_iter()
                    .filter(|(_, job)| !job.abandoned())
                    .partition(|(at_least, _)| *at_least <= self.seq);
                self.waiting = later;
                for (_, job) in ready {
                    self.render(job);
                }
            }
            for (at_least, job) in reads {
                if at_least <= self.seq {
                    self.render(job);
                } else {
                    self.waiting.push((at_least, job));
                }
            }
            if closed && folds.is_empty() {
                // Reads still queued or waiting get `None` (their senders drop).
                return;
            }
        }
    }

    fn fold(&mut self, batch: &[LoggedEvent]) {
        for l in batch {
            self.hall.fold(&l.event, l.at);
        }
        if let Some(last) = batch.last() {
            self.seq = last.seq;
        }
    }

    fn render(&self, job: Job) {
        if job.abandoned() {
            return;
        }
        // A bug in one read's rendering fails that read (its caller sees
        // the answer channel close), not every later one.
        let run = std::panic::AssertUnwindSafe(|| (job.render)(&self.hall, self.seq));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!(seq = self.seq, "a read panicked while rendering");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Event;

    fn device(seq: u64) -> LoggedEvent {
        LoggedEvent {
            seq,
            at: 0,
            event: Event::DeviceReported {
                device_id: format!("kiosk-{seq}"),
                kind: "printer".into(),
                status: "ok".into(),
                detail: String::new(),
            },
        }
    }

    /// A read waits for the batch it must see, answers at its sequence
    /// number, and a read that panics fails alone.
    #[tokio::test]
    async fn reads_wait_for_their_sequence_and_fail_alone() {
        let hall = Hall::new(crate::config::builtin());
        let (model, feed, _stopped) = ReadModel::start(hall, 0).unwrap();
        let pending = {
            let reader = tokio::spawn(async move {
                let r = model.read(2, 0, |h, seq, _| (h.devices.len(), seq)).await;
                (model, r)
            });
            tokio::task::yield_now().await;
            reader
        };
        feed.send(vec![device(1)]);
        feed.send(vec![device(2)]);
        let (model, r) = pending.await.unwrap();
        assert_eq!(r, Some(((2, 2), 2)));
        let panicked = model
            .read(0, 0, |_, _, _| -> usize { panic!("a rendering bug") })
            .await;
        assert!(panicked.is_none());
        let after = model.read(0, 0, |h, _, _| h.devices.len()).await;
        assert_eq!(after, Some((2, 2)));
    }
}
