//! The read model: a replica of the `Hall`, folded from the committed event
//! stream on its own thread, that answers every read (catalogue, ticket
//! status, board snapshot, my queue, follow-ups, the day report) without
//! queueing behind the writer's batches and fsyncs.
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
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How long a read waits for the replica to catch up before giving up.
const CATCH_UP: Duration = Duration::from_secs(5);

struct Replica {
    hall: Hall,
    seq: u64,
}

/// The replica and the sequence number it has folded up to.
pub struct ReadModel {
    replica: RwLock<Replica>,
    folded: watch::Sender<u64>,
}

/// The writer's end: committed batches go here, in order.
pub type Feed = std::sync::mpsc::Sender<Vec<LoggedEvent>>;

impl ReadModel {
    /// Starts the folding thread from the writer's `hall` at `seq`; returns
    /// the model and the sender the writer feeds committed batches into.
    ///
    /// `stopped` yields an error if the folding thread dies (a panic): reads
    /// could then only time out, so the server treats it like a stopped
    /// writer.
    pub fn start(
        hall: Hall,
        seq: u64,
    ) -> std::io::Result<(Arc<ReadModel>, Feed, tokio::sync::oneshot::Receiver<()>)> {
        let (folded, _) = watch::channel(seq);
        let model = Arc::new(ReadModel {
            replica: RwLock::new(Replica { hall, seq }),
            folded,
        });
        let (tx, rx) = std::sync::mpsc::channel::<Vec<LoggedEvent>>();
        let m = model.clone();
        let (done, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("hall-read-model".into())
            .spawn(move || {
                // A panic drops `done` unsent (`stopped` yields an error);
                // a normal end (the writer dropped its sender) sends it.
                while let Ok(batch) = rx.recv() {
                    m.fold(&batch);
                }
                let _ = done.send(());
            })?;
        Ok((model, tx, stopped))
    }

    fn fold(&self, batch: &[LoggedEvent]) {
        let Some(last) = batch.last() else { return };
        {
            let mut r = self.replica.write().unwrap_or_else(|e| e.into_inner());
            for l in batch {
                r.hall.fold(&l.event, l.at);
            }
            r.seq = last.seq;
        }
        self.folded.send_replace(last.seq);
    }

    /// Waits until the replica has folded `at_least`, then answers from it
    /// with the sequence number the answer reflects.
    pub async fn read<R>(
        &self,
        at_least: u64,
        now: Millis,
        f: impl FnOnce(&Hall, u64, Millis) -> R,
    ) -> Option<(R, u64)> {
        let mut rx = self.folded.subscribe();
        if tokio::time::timeout(CATCH_UP, rx.wait_for(|s| *s >= at_least))
            .await
            .ok()?
            .is_err()
        {
            return None;
        }
        let r = self.replica.read().unwrap_or_else(|e| e.into_inner());
        Some((f(&r.hall, r.seq, now), r.seq))
    }
}
