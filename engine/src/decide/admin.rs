//! Configuration and housekeeping: the day rollover (`Tick`), replacing the
//! catalogue, device reports from kiosks.

use crate::catalog::*;
use crate::*;

impl Hall {
    pub(super) fn tick(&self, now: Millis) -> Result<Vec<Event>, EngineError> {
        let to = self.clock().service_date(now);
        if to == self.service_date {
            let mut events = self.remote_deadlines(now);
            events.extend(self.reminders_due(now));
            return Ok(events);
        }
        let mut expired: Vec<TicketId> = self
            .tickets
            .values()
            .filter(|t| t.state.is_active())
            .map(|t| t.id)
            .collect();
        expired.sort_unstable();
        let mut events = vec![Event::DayRolled { to, expired }];
        // Clerk sessions end with the service day: each clerk logs in again
        // in the morning, so a session token left on a terminal (or taken
        // from it) is worth one day at most.
        let mut open: Vec<WindowNo> = self
            .windows
            .iter()
            .filter(|(_, rt)| rt.clerk.is_some())
            .map(|(n, _)| *n)
            .collect();
        open.sort_unstable();
        events.extend(
            open.into_iter()
                .map(|window| Event::WindowClosed { window }),
        );
        events.extend(self.missed_appointments(to));
        Ok(events)
    }

    /// At the rollover to `to`: the bookings of past days nobody checked
    /// in for, and the blocks they bring (`policy.booking_missed_*`).
    fn missed_appointments(&self, to: NaiveDate) -> Vec<Event> {
        let missed: Vec<u64> = self
            .appointments
            .values()
            .filter(|a| a.state == AppointmentState::Booked && a.date < to)
            .map(|a| a.id)
            .collect();
        if missed.is_empty() {
            return vec![];
        }
        let mut events = vec![Event::AppointmentsMissed {
            ids: missed.clone(),
        }];
        let p = &self.catalog.policy;
        if p.booking_missed_limit == 0 {
            return events;
        }
        let since = to - chrono::Days::new(u64::from(p.booking_missed_days));
        let mut per_person: BTreeMap<&str, u32> = BTreeMap::new();
        for a in self.appointments.values() {
            let is_missed = a.state == AppointmentState::Missed || missed.contains(&a.id);
            if is_missed && a.counted && a.date >= since && !a.person.key.is_empty() {
                *per_person.entry(a.person.key.as_str()).or_default() += 1;
            }
        }
        for (key, n) in per_person {
            let blocked = self.booking_blocks.get(key).is_some_and(|b| b.until > to);
            if n >= p.booking_missed_limit && !blocked {
                events.push(Event::BookingBlocked {
                    person_key: key.to_string(),
                    until: to + chrono::Days::new(u64::from(p.booking_block_days)),
                    missed: n,
                });
            }
        }
        events
    }

    /// Bookings whose reminder is due: the day before, or (when that one
    /// was never sent, or is sent) 30 minutes before the slot.
    fn reminders_due(&self, now: Millis) -> Vec<Event> {
        self.reminders
            .range(..=(now, u64::MAX))
            .filter_map(|(_, id)| self.appointments.get(id))
            .map(|a| Event::AppointmentReminder {
                id: a.id,
                soon: a.reminded & REMIND_DAY != 0 || now >= a.slot.start - 30 * 60_000,
            })
            .collect()
    }

    /// Remote tickets not yet checked in: the one with nobody ahead starts
    /// its grace period; one whose grace ran out expires.
    fn remote_deadlines(&self, now: Millis) -> Vec<Event> {
        let mut events = Vec::new();
        for id in &self.remote_pending {
            let Some(t) = self.tickets.get(id) else {
                continue;
            };
            let Some(r) = &t.remote else { continue };
            let grace = self
                .catalog
                .category(&t.origin)
                .and_then(|c| c.remote.as_ref())
                .map_or(15, |r| r.grace_minutes);
            match r.front_at {
                // Its turn: nobody callable ahead, and a window that serves
                // its queue is open (before the windows open, or with all of
                // them away, nobody would call it).
                None if crate::policy::people_ahead(self, t, now) == 0
                    && self.serving_window_open(&t.queue) =>
                {
                    events.push(Event::RemoteAtFront { ticket: t.id });
                }
                Some(front) if now >= front + i64::from(grace) * 60_000 => {
                    events.push(Event::TicketExpired {
                        ticket: t.id,
                        reason: format!(
                            "remote ticket not checked in within {grace} minutes of reaching the front"
                        ),
                    });
                }
                _ => {}
            }
        }
        events
    }

    pub(super) fn replace_catalog(&self, catalog: Box<Catalog>) -> Result<Vec<Event>, EngineError> {
        if let Err(problems) = catalog.validate() {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(EngineError::invalid("catalog", text.join("; ")));
        }
        for (code, q) in &self.queues {
            if q.len() > 0 && catalog.queue(code).is_none() {
                return Err(EngineError::CatalogConflict(format!(
                    "'{code}' still has {} waiting tickets today",
                    q.len()
                )));
            }
        }
        for (n, rt) in &self.windows {
            if rt.status != WindowStatus::Closed && catalog.window(*n).is_none() {
                return Err(EngineError::CatalogConflict(format!(
                    "window {n} is logged in"
                )));
            }
        }
        if *catalog == self.catalog {
            return Ok(vec![]);
        }
        Ok(vec![Event::CatalogReplaced { catalog }])
    }

    pub(super) fn report_device(
        &self,
        device_id: String,
        kind: String,
        status: String,
        detail: String,
    ) -> Result<Vec<Event>, EngineError> {
        if device_id.is_empty() {
            return Err(EngineError::invalid("device_id", "device_id is empty"));
        }
        if let Some(d) = self.devices.get(&device_id)
            && d.status == status
            && d.detail == detail
        {
            return Ok(vec![]);
        }
        Ok(vec![Event::DeviceReported {
            device_id,
            kind,
            status,
            detail,
        }])
    }

    pub(super) fn force_logout(
        &self,
        window: WindowNo,
        by: String,
        reason: String,
        ticket: ForcedTicket,
    ) -> Result<Vec<Event>, EngineError> {
        let rt = self
            .windows
            .get(&window)
            .ok_or(EngineError::UnknownWindow(window))?;
        if rt.status == WindowStatus::Closed {
            return Err(EngineError::NotLoggedIn(window));
        }
        if reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "reason",
                "a force-logout needs a reason (it is recorded)",
            ));
        }
        let mut events = Vec::new();
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            events.push(match ticket {
                // Its own place: the time it was queued by, not now.
                ForcedTicket::Requeue => Event::TicketRequeued {
                    ticket: t.id,
                    sort_at: t.sort_at,
                },
                ForcedTicket::Suspend => Event::TicketSuspended {
                    ticket: t.id,
                    window,
                    reason: reason.clone(),
                },
            });
        }
        events.push(Event::WindowForcedOut {
            window,
            clerk: rt.clerk.clone().unwrap_or_default(),
            by,
            reason,
        });
        Ok(events)
    }
}
