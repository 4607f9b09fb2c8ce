//! The gap-free event stream behind `EventService.Subscribe`.
//!
//! A subscriber first joins the live broadcast, then replays everything from
//! `from_seq` up to the committed sequence (the last `RECENT` events out of
//! memory, older ones out of the store), then forwards
//! live events, skipping what it already sent. Because the writer marks an
//! event committed before it publishes it, every event is either in the
//! replayed range or arrives live: no gap, no duplicate. A subscriber that
//! falls behind the broadcast buffer (lagged) catches up from the store again.

use crate::store::Store;
use crate::writer::Shared;
use hall_proto::errors::{ErrorReason, Refusal};
use hall_proto::v1 as pb;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tonic::Status;

type Tx = mpsc::Sender<Result<pb::Event, Status>>;

/// Starts one subscriber task that sends events from `from` on, in order.
pub fn spawn_subscriber(store: Store, shared: Arc<Shared>, from: u64, tx: Tx) {
    // Join the broadcast before reading `committed`, so nothing falls between.
    let mut live = shared.events.subscribe();
    let stopping = shared.stopping.clone();
    tokio::spawn(stopping.run_until_cancelled_owned(async move {
        let mut next = from;
        if catch_up(&store, &shared, &mut next, &tx).await.is_err() {
            return;
        }
        loop {
            match live.recv().await {
                Ok(p) if p.seq < next => continue,
                Ok(p) => {
                    if p.seq > next && catch_up(&store, &shared, &mut next, &tx).await.is_err() {
                        return;
                    }
                    if p.seq == next {
                        if send(&tx, &p.wire).await.is_err() {
                            return;
                        }
                        next += 1;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if catch_up(&store, &shared, &mut next, &tx).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }));
}

async fn send(tx: &Tx, wire: &[u8]) -> Result<(), ()> {
    let event = pb::Event::decode(wire).map_err(|_| ())?;
    tx.send(Ok(event)).await.map_err(|_| ())
}

/// Sends every committed event from `next` on out of the store.
async fn catch_up(store: &Store, shared: &Shared, next: &mut u64, tx: &Tx) -> Result<(), ()> {
    loop {
        let committed = shared.committed.load(Ordering::Acquire);
        if *next > committed {
            return Ok(());
        }
        // Recent events come from memory; older ones from the store.
        let from_memory: Vec<(u64, Arc<Vec<u8>>)> = {
            let recent = shared.recent.lock().unwrap_or_else(|e| e.into_inner());
            match recent.front() {
                Some(first) if first.seq <= *next => {
                    // Sequence numbers are consecutive: index, then check.
                    let skip = (*next - first.seq) as usize;
                    recent
                        .range(skip.min(recent.len())..)
                        .take(512)
                        .map(|p| (p.seq, p.wire.clone()))
                        .collect()
                }
                _ => vec![],
            }
        };
        let records: Vec<(u64, Arc<Vec<u8>>)> = if from_memory
            .first()
            .is_some_and(|(s, _)| *s == *next)
        {
            from_memory
        } else {
            match store.read_from(*next, 512) {
                Ok(r) => r.into_iter().map(|r| (r.seq, Arc::new(r.wire))).collect(),
                Err(e) => {
                    let status = if e.is_disk_full() {
                        Refusal::new(
                            tonic::Code::Unavailable,
                            ErrorReason::StorageFull,
                            format!("the event log before {} cannot be read while the disk is full; recent events can", first_recent(shared)),
                        )
                        .into_status()
                    } else {
                        Status::internal(format!("reading the event log: {e}"))
                    };
                    let _ = tx.send(Err(status)).await;
                    return Err(());
                }
            }
        };
        if records.is_empty() {
            return Ok(());
        }
        for (seq, wire) in records {
            if seq > committed {
                break;
            }
            send(tx, &wire).await?;
            *next = seq + 1;
        }
    }
}

/// The oldest sequence number held in memory (0 when none).
fn first_recent(shared: &Shared) -> u64 {
    let recent = shared.recent.lock().unwrap_or_else(|e| e.into_inner());
    recent.front().map_or(0, |p| p.seq)
}
