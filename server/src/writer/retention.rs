//! The personal-data retention run (PIPL) of the writer: at start and after
//! each day rollover, persons older than `hall.retention_days` leave the
//! live state, the stored log (archived and rewritten) and the snapshots.
//! Its own file because it is the writer's one long maintenance job; it
//! runs on the writer thread because it must not race the log it rewrites.

use super::{LoggedEvent, Writer};
use crate::engine::{self, Command, Event};
use crate::store::{Record, Rewrite, StoreError};

impl Writer {
    /// Tests only: keep personal data `ms` milliseconds instead of the
    /// configured days.
    pub fn override_retention(&mut self, ms: i64) {
        self.retention_override_ms = Some(ms);
    }

    /// The retention run (PIPL), at most once per service day (any number
    /// of times with a test override). Drops every person older than the
    /// period from the live state, the stored log and the snapshots:
    ///
    /// 1. a snapshot, so a restart never needs the log records below;
    /// 2. the current log segment is rotated out and archived, whatever it
    ///    holds (sled keeps overwritten bytes in its own files; an archived
    ///    flat file can be rewritten whole);
    /// 3. the archived records after the last run's mark are rewritten
    ///    without their person (JSON and wire forms), oldest first, up to
    ///    the first record at or after the cutoff;
    /// 4. `RetentionApplied` is committed: its fold drops the persons from
    ///    the state, and its report says what went;
    /// 5. a fresh snapshot replaces every older one.
    ///
    /// The mark is the last record before which everything is stripped: an
    /// appointment booked before the cutoff for a day after it keeps its
    /// person (the hall needs it at check-in) and holds the mark there, so
    /// the next run looks at it again. A run therefore reads about one
    /// day's archive (plus the booking horizon), whatever the period.
    ///
    /// It holds the writer for the rewrite: at start, or right after the
    /// rollover at night, when the hall is closed. A storage error is the
    /// caller's to handle like a failed append (the state may be ahead of
    /// the disk); the marks are set only after every step succeeded.
    pub fn retain(&mut self) -> Result<Option<engine::RetentionReport>, StoreError> {
        let now = (self.clock)();
        let day = self.hall.clock().service_date(now).to_string();
        let period = match self.retention_override_ms {
            Some(ms) => ms,
            None => {
                if self.store.get_meta("retention_day")?.as_deref() == Some(day.as_bytes()) {
                    return Ok(None);
                }
                i64::from(self.hall.catalog.hall.retention_days) * 86_400_000
            }
        };
        let cutoff = now - period;
        let cutoff_day = self.hall.clock().service_date(cutoff);
        let mark = self
            .store
            .get_meta("retention_seq")?
            .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        let started = std::time::Instant::now();
        // Anything in the log to rewrite? Its first record after the mark
        // tells: records are in time order.
        let first_after = self.store.read_from(mark + 1, 1)?;
        let log_due = first_after.first().is_some_and(|r| {
            serde_json::from_slice::<LoggedEvent>(&r.json).map_or(true, |l| l.at < cutoff)
        });
        let live = self.hall.retention_report(cutoff, 0);
        if !log_due && live == engine::RetentionReport::default() {
            self.store.set_meta("retention_day", day.as_bytes())?;
            return Ok(None);
        }
        // A closed segment that could not be archived (the archiver logged
        // why) keeps its records in sled: nothing is stripped today, and
        // nothing is marked done; the next rollover or start tries again.
        let not_archived = || {
            tracing::warn!("retention run skipped: a closed log segment is not archived yet");
            Ok(None)
        };
        let mut new_mark = mark;
        let mut rewritten = 0;
        if log_due {
            self.snapshot()?;
            if !self.store.wait_archived() {
                return not_archived();
            }
            self.store.rotate_now(self.seq)?;
            if !self.store.wait_archived() {
                return not_archived();
            }
            let mut stuck = false;
            rewritten = self.store.rewrite_archive(mark, |r| {
                let Ok(mut l) = serde_json::from_slice::<LoggedEvent>(&r.json) else {
                    // Unreadable here is unreadable for replay too: kept.
                    return Rewrite::Keep;
                };
                if l.at >= cutoff {
                    return Rewrite::Stop;
                }
                if let Event::AppointmentBooked { appointment, .. } = &l.event
                    && appointment.date >= cutoff_day
                {
                    stuck = true;
                    return Rewrite::Keep;
                }
                if !stuck {
                    new_mark = r.seq;
                }
                let json_changed = l.event.strip_persons();
                let wire = crate::grpc::convert::strip_wire_persons(&r.wire);
                if !json_changed && wire.is_none() {
                    return Rewrite::Keep;
                }
                Rewrite::Replace(Record {
                    seq: r.seq,
                    json: serde_json::to_vec(&l).expect("events serialise"),
                    wire: wire.unwrap_or_else(|| r.wire.clone()),
                })
            })?;
        }
        let cmd = Command::ApplyRetention {
            cutoff,
            log_records: rewritten,
        };
        let events =
            engine::apply(&mut self.hall, cmd, now).expect("a retention run always applies");
        let logged = self.commit(events, now)?;
        // A snapshot of the state without the persons; the older ones had them.
        self.snapshot()?;
        self.store.drop_snapshots_before(self.last_snapshot)?;
        self.store
            .set_meta("retention_seq", &new_mark.to_be_bytes())?;
        self.store.set_meta("retention_day", day.as_bytes())?;
        let report = logged.iter().find_map(|l| match &l.event {
            Event::RetentionApplied { report, .. } => Some(report.clone()),
            _ => None,
        });
        if let Some(r) = &report {
            tracing::info!(
                cutoff,
                tickets = r.tickets,
                appointments = r.appointments,
                follow_ups = r.follow_ups,
                log_records = r.log_records,
                ms = started.elapsed().as_millis() as u64,
                "personal data past the retention period dropped"
            );
        }
        Ok(report)
    }
}
