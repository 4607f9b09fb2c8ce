//! The per-day report aggregates, kept beside the log: a task follows the
//! committed log (like a subscriber) and folds it through the engine's
//! `report::DayBuilder`; each day that rolls becomes one file
//! `DATA_DIR/reports/days/YYYY-MM-DD.json`, and the builder's own state
//! (today so far, the last sequence folded) is saved to
//! `DATA_DIR/reports/builder.json` every minute and at each rollover, so a
//! restart resumes where it was. Delete the folder and the next start
//! rebuilds every day from the log (the aggregates hold no personal data,
//! so the retention run leaves them alone).
//!
//! In memory each finished day keeps its figures (the cells) but not its
//! 好差评 records: a busy day rates about a thousand tickets, and a year of
//! those records held in memory was most of the server's RSS growth over a
//! simulated year (`hall-bench soak`). The records are read from the day's
//! file when they are asked for (the export, shipping to the city).
//!
//! It never slows the writer: it reads the store on a blocking thread, at
//! its own pace, after the events are committed. A report waits (up to two
//! seconds) until the aggregates include what was committed when it was
//! asked, so a report right after an action counts it.

use crate::engine::catalog::Catalog;
use crate::engine::report::{self, DayAggregate, DayBuilder, Dimension, Report};
use crate::store::Store;
use crate::writer::{LoggedEvent, Shared};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the builder's state is saved besides each rollover.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Records read from the store at a time.
const CHUNK: usize = 4096;

/// The aggregates and the builder of today.
pub struct Reports {
    dir: PathBuf,
    state: Mutex<State>,
    /// The last sequence number folded (readers wait on it).
    folded: AtomicU64,
    progress: tokio::sync::Notify,
}

struct State {
    /// Finished days, without their 好差评 records (those are on disk).
    days: BTreeMap<NaiveDate, Arc<DayAggregate>>,
    /// Finished days whose records still hold a citizen's free-text reason
    /// (scrubbed once past the retention period).
    reasons: std::collections::BTreeSet<NaiveDate>,
    builder: DayBuilder,
}

/// A finished day as memory keeps it: its figures, no records.
fn figures_only(mut d: DayAggregate) -> DayAggregate {
    d.ratings = Vec::new();
    d
}

fn has_reasons(d: &DayAggregate) -> bool {
    d.ratings.iter().any(|r| !r.reason.is_empty())
}

impl Reports {
    /// Loads the kept days and the builder's state; a missing or unreadable
    /// builder state starts over from the first event of the log (and the
    /// days are written again as they are rebuilt).
    pub fn open(data_dir: &Path, catalog: &Catalog, last_seq: u64) -> Arc<Reports> {
        let dir = data_dir.join("reports");
        let mut days = BTreeMap::new();
        let mut reasons = std::collections::BTreeSet::new();
        let mut unreadable = false;
        if let Ok(rd) = std::fs::read_dir(dir.join("days")) {
            for entry in rd.flatten() {
                let path = entry.path();
                let parsed = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<DayAggregate>(&b).ok());
                match parsed {
                    Some(d) => {
                        if has_reasons(&d) {
                            reasons.insert(d.date);
                        }
                        days.insert(d.date, Arc::new(figures_only(d)));
                    }
                    None => {
                        tracing::warn!(file = %path.display(), "unreadable day aggregate: every day is rebuilt from the log");
                        unreadable = true;
                    }
                }
            }
        }
        let builder = std::fs::read(dir.join("builder.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<DayBuilder>(&b).ok());
        let builder = match builder {
            // Days the builder has not folded yet will be written again. A
            // state ahead of the log (a log restored from an older backup, a
            // batch lost to a crash before its flush) would skip events:
            // start over instead, as for a missing or damaged day.
            Some(b) if !unreadable && b.through_seq <= last_seq => b,
            other => {
                if other.is_some() || !days.is_empty() {
                    tracing::info!("report aggregates: rebuilding every day from the log");
                }
                DayBuilder::new(catalog)
            }
        };
        let folded = builder.through_seq;
        Arc::new(Reports {
            dir,
            state: Mutex::new(State {
                days,
                reasons,
                builder,
            }),
            folded: AtomicU64::new(folded),
            progress: tokio::sync::Notify::new(),
        })
    }

    /// Follows the committed log until the server stops.
    pub fn spawn(
        self: &Arc<Self>,
        store: Store,
        shared: Arc<Shared>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let stopping = shared.stopping.clone();
        tokio::spawn(async move {
            let mut live = shared.events.subscribe();
            let mut saved_at = tokio::time::Instant::now();
            loop {
                let committed = shared.committed.load(Ordering::Acquire);
                while me.folded.load(Ordering::Acquire) < committed && !stopping.is_cancelled() {
                    let from = me.folded.load(Ordering::Acquire) + 1;
                    let (store2, me2) = (store.clone(), me.clone());
                    let r = tokio::task::spawn_blocking(move || {
                        me2.fold_from(&store2, from, committed)
                    })
                    .await;
                    match r {
                        Ok(Ok(true)) => {}
                        Ok(Ok(false)) => break,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "report aggregates: reading the log failed; retrying");
                            break;
                        }
                        Err(_) => return,
                    }
                }
                if saved_at.elapsed() >= SAVE_EVERY {
                    me.save_builder();
                    saved_at = tokio::time::Instant::now();
                }
                tokio::select! {
                    _ = stopping.cancelled() => {
                        me.save_builder();
                        return;
                    }
                    r = live.recv() => {
                        if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            me.save_builder();
                            return;
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        })
    }

    /// Folds one chunk from `from` on, up to `committed` (sled shows a
    /// batch before its flush; only what is on disk counts). False when
    /// nothing was there to read.
    fn fold_from(&self, store: &Store, from: u64, committed: u64) -> anyhow::Result<bool> {
        let mut records = store.read_from(from, CHUNK)?;
        records.retain(|r| r.seq <= committed);
        if records.is_empty() {
            return Ok(false);
        }
        // Decoded before anything is applied: a bad record applies nothing
        // (and the retry does not apply the chunk's start twice).
        let events: Vec<LoggedEvent> = records
            .iter()
            .map(|r| serde_json::from_slice(&r.json))
            .collect::<Result<_, _>>()?;
        let mut finished = Vec::new();
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for (r, e) in records.iter().zip(&events) {
                if let Some(day) = st.builder.apply(r.seq, e.at, &e.event) {
                    if has_reasons(&day) {
                        st.reasons.insert(day.date);
                    }
                    // Whole until its file is written (below): its records
                    // are never missing from both.
                    let day = Arc::new(day);
                    st.days.insert(day.date, day.clone());
                    finished.push(day);
                }
            }
        }
        for day in &finished {
            match self.write_day(day) {
                Ok(()) => {
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(kept) = st.days.get_mut(&day.date) {
                        *kept = Arc::new(figures_only(day.as_ref().clone()));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, date = %day.date, "report aggregate not saved (its records stay in memory); it is rebuilt at the next start")
                }
            }
        }
        if let Some(last_day) = finished.last() {
            self.scrub_reasons(last_day.date);
            self.save_builder();
        }
        let last = records.last().map_or(from - 1, |r| r.seq);
        self.folded.store(last, Ordering::Release);
        self.progress.notify_waiters();
        Ok(true)
    }

    /// Drops the citizens' free-text reasons from the 好差评 records of days
    /// past the retention period (as of the day that just closed): a reason
    /// may name someone, and the aggregates are kept for ever.
    fn scrub_reasons(&self, closed: NaiveDate) {
        let old: Vec<NaiveDate> = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let keep = i64::from(st.builder.catalog.retention_days);
            let before = closed - chrono::Duration::days(keep);
            let old: Vec<NaiveDate> = st.reasons.range(..before).copied().collect();
            // A day whose file could not be written still holds its
            // records in memory: those lose their reasons too.
            for d in &old {
                if let Some(kept) = st.days.get_mut(d)
                    && !kept.ratings.is_empty()
                {
                    for r in &mut Arc::make_mut(kept).ratings {
                        r.reason.clear();
                    }
                }
            }
            old
        };
        for date in old {
            let Some(mut day) = self.read_day(date) else {
                // No file: nothing on disk to scrub (memory is done above).
                self.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .reasons
                    .remove(&date);
                continue;
            };
            for r in &mut day.ratings {
                r.reason.clear();
            }
            match self.write_day(&day) {
                // Marked done only once the file is scrubbed; else the next
                // rollover tries again.
                Ok(()) => {
                    self.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .reasons
                        .remove(&date);
                }
                Err(e) => {
                    tracing::warn!(error = %e, %date, "report aggregate: reasons past the retention period not removed from disk")
                }
            }
        }
    }

    /// A finished day's file, records included.
    fn read_day(&self, date: NaiveDate) -> Option<DayAggregate> {
        let path = self.dir.join("days").join(format!("{date}.json"));
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, file = %path.display(), "unreadable day aggregate");
                None
            }
        }
    }

    fn write_day(&self, day: &DayAggregate) -> std::io::Result<()> {
        let dir = self.dir.join("days");
        std::fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join(format!("{}.json", day.date)),
            &serde_json::to_vec(day)?,
        )
    }

    fn save_builder(&self) {
        let bytes = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            serde_json::to_vec(&st.builder)
        };
        let r = bytes.map_err(std::io::Error::other).and_then(|b| {
            std::fs::create_dir_all(&self.dir)?;
            write_atomic(&self.dir.join("builder.json"), &b)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "report builder state not saved");
        }
    }

    /// Waits until everything committed up to `seq` is folded (at most 2 s).
    pub async fn caught_up(&self, seq: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let notified = self.progress.notified();
            if self.folded.load(Ordering::Acquire) >= seq {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// The report over `from..=to` by `by`: the kept days, and today so far.
    pub fn report(&self, from: NaiveDate, to: NaiveDate, by: Dimension) -> Report {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut days: Vec<Arc<DayAggregate>> =
            st.days.range(from..=to).map(|(_, d)| d.clone()).collect();
        if let Some(today) = st.builder.date
            && (from..=to).contains(&today)
            && !st.days.contains_key(&today)
        {
            days.push(Arc::new(st.builder.snapshot()));
        }
        drop(st);
        report::report(from, to, by, days.iter().map(|d| d.as_ref()))
    }

    /// The log's sequence numbers of a service day (first, last): a kept
    /// day's, or today's up to `committed`.
    pub fn day_range(&self, date: NaiveDate, committed: u64) -> Option<(u64, u64)> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = st.days.get(&date) {
            return Some((d.first_seq, d.through_seq));
        }
        (st.builder.date == Some(date)).then_some((st.builder.first_seq, committed))
    }

    /// The kept (finished) days and the last sequence number of each.
    pub fn finished_days(&self) -> Vec<(NaiveDate, u64)> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.days.iter().map(|(d, a)| (*d, a.through_seq)).collect()
    }

    /// One kept day's aggregate, its 好差评 records read from its file.
    pub fn day(&self, date: NaiveDate) -> Option<Arc<DayAggregate>> {
        let kept = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.days.get(&date).cloned()?
        };
        if !kept.ratings.is_empty() {
            return Some(kept); // its file is not written yet
        }
        match self.read_day(date) {
            Some(d) => Some(Arc::new(d)),
            None => {
                tracing::warn!(%date, "the day's file is missing: its figures without its 好差评 records");
                Some(kept)
            }
        }
    }

    /// Today's aggregate so far (none before the first day began, or when
    /// the builder's day is already kept as finished).
    pub fn today(&self) -> Option<DayAggregate> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let today = st.builder.date?;
        (!st.days.contains_key(&today)).then(|| st.builder.snapshot())
    }

    /// The last sequence number folded into the aggregates.
    pub fn folded(&self) -> u64 {
        self.folded.load(Ordering::Acquire)
    }

    /// The 好差评 records rated in `from..=to` (by service date), oldest first.
    pub fn ratings(&self, from: NaiveDate, to: NaiveDate) -> Vec<report::RatingRecord> {
        let finished: Vec<Arc<DayAggregate>> = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.days.range(from..=to).map(|(_, d)| d.clone()).collect()
        };
        let mut out: Vec<report::RatingRecord> = Vec::new();
        for d in finished {
            if !d.ratings.is_empty() {
                out.extend(d.ratings.iter().cloned()); // its file is not written yet
            } else if let Some(on_disk) = self.read_day(d.date) {
                out.extend(on_disk.ratings);
            }
        }
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(today) = st.builder.date
            && (from..=to).contains(&today)
            && !st.days.contains_key(&today)
        {
            out.extend(st.builder.ratings.iter().cloned());
        }
        out
    }
}

/// Writes through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never half of one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
