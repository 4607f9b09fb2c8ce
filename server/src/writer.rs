//! The writer: one thread owns the `Hall`. It drains a batch of requests,
//! applies each command through the engine, appends all their events to the
//! store in one batch, flushes once (group commit), and only then answers the
//! requests and publishes the events. A reply therefore means "on disk".
//!
//! A plain thread, not a tokio task: sled's flush and fsync block, and the
//! writer is the single place they happen, so it must not stall the runtime.
//!
//! A full disk is not fatal. The batch that could not be stored is refused
//! (nothing of it was acknowledged), and the writer turns *read-only*: every
//! request that writes is refused with `Failure::DiskFull` while reads go on
//! (they are answered by the read model, which only ever saw committed
//! events). The in-memory hall is then ahead of the disk, so it is not used
//! again: about once a second (the ticker wakes the writer) the writer
//! reopens the log and rebuilds the hall from what is on disk; the first
//! attempt that works resumes service. Any other storage error, or a rebuild
//! that finds acknowledged events missing, stops the writer, and the server
//! exits non-zero for its supervisor to restart it.
//!
//! Personal-data retention (PIPL) runs here too, at start and after each day
//! rollover (`Writer::retain`, in `writer/retention.rs`): persons older than the hall's retention
//! period leave the live state, the stored log and the snapshots.

use crate::engine::{self, Command, EngineError, Event, Hall, Millis};
use crate::store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc};

mod retention;

/// Most requests in one group commit.
const MAX_BATCH: usize = 1024;
/// Committed events kept in memory for catching-up subscribers (~1–2 MiB).
pub const RECENT: usize = 4096;

/// An event as stored: sequence number, time, the engine event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedEvent {
    pub seq: u64,
    pub at: Millis,
    pub event: Event,
}

/// What the writer answers with: the hall after the batch and this command's
/// events, or the engine's error. Runs on the writer thread, after the flush.
pub type Respond = Box<dyn FnOnce(Result<(&Hall, &[LoggedEvent]), Failure>, Millis) + Send>;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// The engine refused the command; nothing changed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The batch could not be stored; nothing was acknowledged.
    #[error("storage failure: the request was not saved ({0})")]
    Storage(String),
    /// The disk is full: writes are refused until space returns (reads work).
    #[error("the disk is full: the request was not saved; writes resume by themselves when space is freed ({})", .0.reason)]
    DiskFull(StorageProblem),
}

pub struct Request {
    /// `None` for a read-only query.
    pub cmd: Option<Command>,
    pub respond: Respond,
    /// An audit-trail entry for this request: written in the same batch,
    /// right after the command's events, with the command's outcome (a
    /// refused action is recorded too).
    pub audit: Option<engine::AuditRecord>,
}

/// Encodes a committed event for the wire (done once, at commit, while the
/// state it refers to is at hand). Provided by the gRPC layer.
pub type WireEncoder = Arc<dyn Fn(&Hall, &LoggedEvent) -> Vec<u8> + Send + Sync>;

/// A committed event ready for subscribers.
#[derive(Debug, Clone)]
pub struct Published {
    pub seq: u64,
    pub wire: Arc<Vec<u8>>,
}

/// Shared between the writer and the readers (subscribers).
#[derive(Debug)]
pub struct Shared {
    /// Highest sequence number that is on disk (set before publishing).
    pub committed: AtomicU64,
    pub events: broadcast::Sender<Published>,
    /// The last `RECENT` committed events, for subscribers catching up a
    /// little (a reconnect, a lag): served from memory, they do not touch the
    /// store, so they work even while the disk is full and sled refuses.
    pub recent: std::sync::Mutex<std::collections::VecDeque<Published>>,
    /// Cancelled at shutdown: ends subscriber streams, which would otherwise
    /// keep the graceful shutdown waiting forever.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Set once serving has ended: the writer stops after its current batch
    /// even if a connection the server could not close still holds a
    /// sender (a Health/Watch stream outliving the drain time).
    pub stop_writer: std::sync::atomic::AtomicBool,
    /// `Some(why)` while writes are refused (a full disk); `None` when the
    /// store takes writes. Health and the status RPC follow it.
    pub storage: tokio::sync::watch::Sender<Option<StorageProblem>>,
}

/// Why the writer refuses writes, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProblem {
    pub reason: String,
    pub since: Millis,
}

/// The writer's state after a failed write: the hall in memory is ahead of
/// the disk and is rebuilt from the disk before the next write.
struct ReadOnly {
    reason: String,
    since: std::time::Instant,
    since_ms: Millis,
    next_try: std::time::Instant,
    tries: u32,
}

pub struct Writer {
    hall: Hall,
    store: Store,
    seq: u64,
    last_snapshot: u64,
    /// Tickets in memory at the last snapshot: the next one comes after at
    /// least that many events, so a snapshot's O(state) cost stays O(1) per
    /// event. (Measured against the state *then*: measured against the
    /// growing state now, snapshots stopped while a queue grew.)
    last_snapshot_tickets: u64,
    snapshot_every: u64,
    shared: Arc<Shared>,
    encode: WireEncoder,
    clock: Box<dyn FnMut() -> Millis + Send>,
    /// The read model's feed: every committed batch, in order.
    feed: Option<crate::read_model::Feed>,
    /// Set while the disk is full (see the module docs).
    read_only: Option<ReadOnly>,
    /// A snapshot that failed (full disk) is tried again from this sequence.
    snapshot_retry_at: u64,
    /// Tests only: the retention period in milliseconds instead of the
    /// configured days (and a run whenever asked, not once a day).
    retention_override_ms: Option<i64>,
}

/// Rebuilds the hall from the newest snapshot plus the log tail.
/// Returns the hall, the sequence number to go on from (past any numbers a
/// torn tail lost) and how many events were replayed.
pub fn recover(
    store: &Store,
    initial: &engine::catalog::Catalog,
) -> Result<(Hall, u64, u64), StoreError> {
    let mut hall = Hall::new(initial.clone());
    let mut seq = 0;
    if let Some((snap_seq, bytes)) = store.latest_snapshot()? {
        match serde_json::from_slice::<Hall>(&bytes) {
            Ok(mut h) => {
                h.after_load();
                hall = h;
                seq = snap_seq;
            }
            Err(e) => {
                tracing::warn!(error = %e, snap_seq, "snapshot unreadable; replaying the whole log")
            }
        }
    }
    let last = store.last_seq()?;
    if last < seq {
        // The log lost its tail (see the store's torn-tail report) below the
        // snapshot: the hall goes on from the snapshot, and numbering
        // continues after it, so no number is ever given twice.
        tracing::error!(
            log_ends_at = last,
            snapshot_at = seq,
            "the log ends before the newest snapshot: events {}..={seq} survive only in the snapshot",
            last + 1
        );
    }
    let mut replayed = 0;
    loop {
        let records = store.read_from(seq + 1, 4096)?;
        if records.is_empty() {
            break;
        }
        for r in records {
            let logged: LoggedEvent =
                serde_json::from_slice(&r.json).map_err(|e| StoreError::Damaged {
                    seq: r.seq,
                    problem: e.to_string(),
                })?;
            hall.fold(&logged.event, logged.at);
            seq = r.seq;
            replayed += 1;
        }
    }
    // The replay must reach the end of the log: stopping short (a missing
    // archive file, say) would silently drop acknowledged tickets.
    let last = store.last_seq()?;
    if seq < last {
        return Err(StoreError::Damaged {
            seq: seq + 1,
            problem: format!("the log cannot be read past {seq} but holds events up to {last}"),
        });
    }
    // After a torn tail, the numbers the log lost were acknowledged and may
    // have reached subscribers: numbering goes on after them.
    let seq = seq.max(store.noted_tail()?);
    Ok((hall, seq, replayed))
}

impl Writer {
    pub fn new(
        hall: Hall,
        seq: u64,
        store: Store,
        snapshot_every: u64,
        encode: WireEncoder,
        clock: Box<dyn FnMut() -> Millis + Send>,
    ) -> (Writer, Arc<Shared>) {
        let (tx, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            committed: AtomicU64::new(seq),
            events: tx,
            recent: std::sync::Mutex::new(std::collections::VecDeque::with_capacity(RECENT)),
            stopping: tokio_util::sync::CancellationToken::new(),
            stop_writer: std::sync::atomic::AtomicBool::new(false),
            storage: tokio::sync::watch::channel(None).0,
        });
        let w = Writer {
            hall,
            store,
            seq,
            last_snapshot: seq,
            last_snapshot_tickets: 0,
            snapshot_every,
            shared: shared.clone(),
            encode,
            clock,
            feed: None,
            read_only: None,
            snapshot_retry_at: 0,
            retention_override_ms: None,
        };
        (w, shared)
    }

    /// The hall as folded so far and its sequence number (to start a read
    /// model from).
    pub fn hall(&self) -> (&Hall, u64) {
        (&self.hall, self.seq)
    }

    /// From now on, sends every committed batch to the read model.
    pub fn feed(&mut self, feed: crate::read_model::Feed) {
        self.feed = Some(feed);
    }

    /// Applies a command outside any request (start-up: catalogue, first tick).
    pub fn apply_now(&mut self, cmd: Command) -> Result<Vec<LoggedEvent>, anyhow::Error> {
        let now = (self.clock)();
        let events = engine::apply(&mut self.hall, cmd, now)?;
        let logged = self.commit(events, now)?;
        Ok(logged)
    }

    /// Folds and commits events decided outside the engine's `decide`
    /// (the genesis catalogue of a new store).
    pub fn commit_raw(&mut self, events: Vec<Event>) -> Result<Vec<LoggedEvent>, StoreError> {
        let now = (self.clock)();
        for e in &events {
            self.hall.fold(e, now);
        }
        self.commit(events, now)
    }

    fn commit(&mut self, events: Vec<Event>, now: Millis) -> Result<Vec<LoggedEvent>, StoreError> {
        let logged: Vec<LoggedEvent> = events
            .into_iter()
            .map(|event| {
                self.seq += 1;
                LoggedEvent {
                    seq: self.seq,
                    at: now,
                    event,
                }
            })
            .collect();
        let wires = logged
            .iter()
            .map(|l| (self.encode)(&self.hall, l))
            .collect();
        self.persist(&logged, wires)?;
        Ok(logged)
    }

    /// Appends a batch (events with their wire forms, encoded as each
    /// command was applied), marks it committed, then publishes it.
    fn persist(&mut self, logged: &[LoggedEvent], wires: Vec<Vec<u8>>) -> Result<(), StoreError> {
        if logged.is_empty() {
            return Ok(());
        }
        let records: Vec<Record> = logged
            .iter()
            .zip(wires)
            .map(|(l, wire)| Record {
                seq: l.seq,
                json: serde_json::to_vec(l).expect("events serialise"),
                wire,
            })
            .collect();
        self.store.append(&records)?;
        self.shared.committed.store(self.seq, Ordering::Release);
        self.publish(records, logged);
        Ok(())
    }

    /// Hands committed records to subscribers and the read model.
    fn publish(&self, records: Vec<Record>, logged: &[LoggedEvent]) {
        let published: Vec<Published> = records
            .into_iter()
            .map(|r| Published {
                seq: r.seq,
                wire: Arc::new(r.wire),
            })
            .collect();
        {
            let mut recent = self.shared.recent.lock().unwrap_or_else(|e| e.into_inner());
            for p in &published {
                if recent.len() == RECENT {
                    recent.pop_front();
                }
                recent.push_back(p.clone());
            }
        }
        for p in published {
            // No receivers is fine: nobody subscribed yet.
            let _ = self.shared.events.send(p);
        }
        if let Some(feed) = &self.feed {
            // A closed feed means the read model is gone (shutting down).
            feed.send(logged.to_vec());
        }
    }

    /// Runs until every sender is dropped; then snapshots and flushes.
    pub fn run(mut self, mut rx: mpsc::Receiver<Request>) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut retained_on = self.hall.service_date;
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if self.read_only.is_some() {
                self.try_resume()?;
            }
            match &self.read_only {
                Some(ro) => {
                    let now = (self.clock)();
                    let problem = StorageProblem {
                        reason: ro.reason.clone(),
                        since: ro.since_ms,
                    };
                    for req in batch.drain(..) {
                        (req.respond)(Err(Failure::DiskFull(problem.clone())), now);
                    }
                }
                None => match self.run_batch(&mut batch) {
                    Ok(()) => {}
                    Err(e) if e.is_disk_full() => self.turn_read_only(&e),
                    Err(e) => return Err(e),
                },
            }
            // A new service day (the rollover at night): the retention run.
            if self.read_only.is_none() && self.hall.service_date != retained_on {
                retained_on = self.hall.service_date;
                match self.retain() {
                    // The day's tickets left the state at the rollover:
                    // their memory goes back to the OS at night, so the
                    // RSS does not keep the busiest day's peak.
                    Ok(_) => crate::heap::trim(),
                    // Like a failed append: the state may be ahead of the disk.
                    Err(e) if e.is_disk_full() => self.turn_read_only(&e),
                    Err(e) => {
                        tracing::error!(error = %e, "retention run failed; stopping the writer");
                        return Err(e);
                    }
                }
            }
            if self.shared.stop_writer.load(Ordering::Acquire) {
                break;
            }
        }
        if let Some(ro) = &self.read_only {
            // The hall in memory holds a batch the disk refused: no
            // snapshot of it. The log on disk is whole; closing still waits
            // for a running archiver (its flush may fail on the full disk).
            tracing::warn!(reason = %ro.reason, "stopping while the disk is full; nothing acknowledged is lost");
            if let Err(e) = self.store.close() {
                tracing::warn!(error = %e, "closing the store while the disk is full");
            }
            return Ok(());
        }
        self.snapshot()?;
        self.store.close()
    }

    fn turn_read_only(&mut self, e: &StoreError) {
        let reason = e.to_string();
        tracing::error!(error = %reason, seq = self.seq, "the disk is full: writes are refused, reads go on; retrying every second");
        let now = std::time::Instant::now();
        let since_ms = (self.clock)();
        self.read_only = Some(ReadOnly {
            reason: reason.clone(),
            since: now,
            since_ms,
            next_try: now + std::time::Duration::from_secs(1),
            tries: 0,
        });
        self.shared.storage.send_replace(Some(StorageProblem {
            reason,
            since: since_ms,
        }));
    }

    /// After a full disk: reopens the log and rebuilds the hall from it.
    /// Returns an error only when acknowledged events turn out missing
    /// (then nothing may be served from this data dir).
    fn try_resume(&mut self) -> Result<(), StoreError> {
        let Some(ro) = &mut self.read_only else {
            return Ok(());
        };
        let now = std::time::Instant::now();
        if now < ro.next_try {
            return Ok(());
        }
        ro.tries += 1;
        // Every second for a minute, then every 5 s: a reopen that fails
        // costs little, a rebuild costs a snapshot load.
        ro.next_try = now + std::time::Duration::from_secs(if ro.tries < 60 { 1 } else { 5 });
        if let Err(e) = self.store.reopen() {
            if !e.is_disk_full() {
                tracing::warn!(error = %e, "reopening the log failed");
            }
            return Ok(());
        }
        // Proof that the disk takes a write again (an fsynced one), before
        // anything is rebuilt or health says so: opening alone may work
        // with a few bytes free.
        if let Err(e) = self
            .store
            .set_meta("resume_probe", &(self.clock)().to_be_bytes())
        {
            if !e.is_disk_full() {
                tracing::warn!(error = %e, "the disk refused a probe write");
            }
            return Ok(());
        }
        let catalog = self.hall.catalog.clone();
        let (hall, seq, _) = recover(&self.store, &catalog)?;
        let committed = self.shared.committed.load(Ordering::Acquire);
        if seq < committed {
            return Err(StoreError::Damaged {
                seq: seq + 1,
                problem: format!(
                    "after the disk was full the log ends at {seq}, but events up to {committed} were acknowledged"
                ),
            });
        }
        // The refused batch may have reached the disk after all (the write
        // worked, the flush did not): it is stored, so it stands. Its
        // requests were refused; a retry of one that carries a request id
        // (issuing, booking) finds it, while a retried counter action meets
        // the state it left (e.g. WRONG_STATE). Publish it like any
        // committed batch.
        if seq > committed {
            let records = self
                .store
                .read_from(committed + 1, (seq - committed) as usize)?;
            let mut logged = Vec::with_capacity(records.len());
            for r in &records {
                logged.push(serde_json::from_slice::<LoggedEvent>(&r.json).map_err(|e| {
                    StoreError::Damaged {
                        seq: r.seq,
                        problem: e.to_string(),
                    }
                })?);
            }
            tracing::warn!(
                from = committed + 1,
                to = seq,
                "a batch refused while the disk was full had reached the disk; it stands"
            );
            self.shared.committed.store(seq, Ordering::Release);
            self.publish(records, &logged);
        }
        let ro = self.read_only.take().expect("read-only");
        self.hall = hall;
        self.seq = seq;
        tracing::info!(
            seq,
            after_s = ro.since.elapsed().as_secs(),
            "the disk takes writes again; service resumed"
        );
        self.shared.storage.send_replace(None);
        Ok(())
    }

    fn run_batch(&mut self, batch: &mut Vec<Request>) -> Result<(), StoreError> {
        let now = (self.clock)();
        let mut logged: Vec<LoggedEvent> = Vec::new();
        let mut wires: Vec<Vec<u8>> = Vec::new();
        // Each command's events are stored and encoded for the wire right
        // after it is applied, against the hall as it is *then*: a call's
        // wire form reads the hall's recent calls, and a later command of
        // the same batch (30 windows calling at 9:00) would have pushed it
        // out. Regression test: `burst_of_calls_keeps_every_call_whole`.
        let encode = self.encode.clone();
        let mut push = |hall: &Hall, events: Vec<Event>, seq: &mut u64| {
            let start = logged.len();
            for event in events {
                *seq += 1;
                logged.push(LoggedEvent {
                    seq: *seq,
                    at: now,
                    event,
                });
            }
            wires.extend(logged[start..].iter().map(|l| encode(hall, l)));
            start..logged.len()
        };
        // Roll the day before anything else in the batch sees the new date.
        let tick = engine::apply(&mut self.hall, Command::Tick, now).unwrap_or_default();
        push(&self.hall, tick, &mut self.seq);
        let mut outcomes = Vec::with_capacity(batch.len());
        for req in batch.drain(..) {
            // The person behind a window's action: the clerk logged in there
            // before it (a logout or force-logout clears it).
            // The clerk behind a window's action, when the session is the
            // window's own: a terminal sending a stale or foreign token does
            // not act (nor get recorded) in that clerk's name.
            let clerk = req.audit.as_ref().and_then(|_| {
                let (w, token) = req.cmd.as_ref().and_then(crate::grpc::audit::session_of)?;
                let rt = self.hall.windows.get(&w)?;
                if rt.token.as_deref() == Some(token) {
                    rt.clerk.clone()
                } else {
                    None
                }
            });
            let req_had_cmd = req.cmd.is_some();
            let res = match req.cmd {
                None => Ok(0..0),
                Some(cmd) => engine::apply(&mut self.hall, cmd, now)
                    .map(|events| push(&self.hall, events, &mut self.seq)),
            };
            if let Some(mut record) = req.audit {
                if let Some(clerk) = clerk {
                    record.who = clerk;
                }
                // A record without a command (a read, a login refused at the
                // edge) comes with its own outcome.
                if req_had_cmd {
                    record.outcome = match &res {
                        Ok(_) => "ok".into(),
                        Err(e) => format!("refused: {e}"),
                    };
                }
                push(
                    &self.hall,
                    vec![Event::Audited {
                        record: Box::new(record),
                    }],
                    &mut self.seq,
                );
            }
            outcomes.push((req.respond, res));
        }
        if let Err(e) = self.persist(&logged, wires) {
            // The in-memory state is ahead of the disk: answer nobody with
            // success and stop; the restart recovers from what is stored.
            if e.is_disk_full() {
                tracing::error!(error = %e, "append failed: the disk is full");
            } else {
                tracing::error!(error = %e, "append failed; stopping the writer");
            }
            let failure = if e.is_disk_full() {
                Failure::DiskFull(StorageProblem {
                    reason: e.to_string(),
                    since: now,
                })
            } else {
                Failure::Storage(e.to_string())
            };
            for (respond, _) in outcomes {
                respond(Err(failure.clone()), now);
            }
            return Err(e);
        }
        for (respond, res) in outcomes {
            respond(
                res.map(|range| (&self.hall, &logged[range]))
                    .map_err(Failure::from),
                now,
            );
        }
        // A snapshot costs O(tickets in memory); taking one at most every
        // that many events keeps its cost per event constant on a huge day.
        let due = self.snapshot_every.max(self.last_snapshot_tickets);
        if self.seq - self.last_snapshot >= due
            && self.seq >= self.snapshot_retry_at
            && let Err(e) = self.snapshot()
        {
            // The log holds everything a snapshot would; a restart only
            // replays more. Try again after another interval.
            if !e.is_disk_full() {
                return Err(e);
            }
            tracing::warn!(error = %e, "snapshot not saved (disk full); the log still holds every event");
            self.snapshot_retry_at = self.seq + due;
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<(), StoreError> {
        if self.seq == self.last_snapshot {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.hall).expect("hall serialises");
        self.store.save_snapshot(self.seq, &bytes)?;
        self.last_snapshot = self.seq;
        self.last_snapshot_tickets = self.hall.tickets_in_memory() as u64;
        // The snapshot covers the whole log so far: a full segment can be
        // closed and archived without a restart ever needing it.
        if self.store.rotate_if_full(self.seq)? {
            tracing::info!(seq = self.seq, "log segment rotated");
        }
        // Serialising the state allocated and freed as much again; hand that
        // (and whatever a drained queue left) back to the OS.
        drop(bytes);
        crate::heap::trim();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        let event = Event::DeviceReported {
            device_id: format!("kiosk-{seq}"),
            kind: "printer".into(),
            status: "ok".into(),
            detail: String::new(),
        };
        let json = serde_json::to_vec(&LoggedEvent { seq, at: 0, event }).unwrap();
        Record {
            seq,
            json,
            wire: vec![],
        }
    }

    #[test]
    fn recovery_refuses_a_log_it_cannot_read_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::config::builtin();
        let store = Store::open_with(dir.path(), false, 10).unwrap();
        store
            .append(&(1..=12).map(record).collect::<Vec<_>>())
            .unwrap();
        store.rotate_if_full(12).unwrap();
        store
            .append(&(13..=15).map(record).collect::<Vec<_>>())
            .unwrap();
        store.close().unwrap();
        let (hall, seq, replayed) = recover(&store, &catalog).unwrap();
        assert_eq!((seq, replayed, hall.devices.len()), (15, 15, 15));
        // Lose the archived segment: recovery must say so, not start short.
        for f in std::fs::read_dir(dir.path().join("archive")).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
        let err = recover(&store, &catalog).unwrap_err().to_string();
        assert!(err.contains("holds events up to 15"), "{err}");
    }
}
