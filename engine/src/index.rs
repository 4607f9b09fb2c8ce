//! Index maintenance: the per-queue ordered sets the policy reads, the
//! one-active-ticket map, eviction of finished tickets. Only `fold` calls
//! these, so the indexes always match the tickets.

use crate::*;

impl Hall {
    /// Keeps `suspended` and `remote_pending` in step with one ticket's
    /// state (after any event that names it).
    pub(crate) fn index_suspended(&mut self, id: TicketId) {
        let t = self.tickets.get(&id);
        if t.is_some_and(|t| t.state == TicketState::Suspended) {
            self.suspended.insert(id);
        } else {
            self.suspended.remove(&id);
        }
        if t.is_some_and(|t| t.state == TicketState::Waiting && t.awaiting_arrival()) {
            self.remote_pending.insert(id);
        } else {
            self.remote_pending.remove(&id);
        }
    }

    /// Keeps booking `id`'s reminder entry in step with it: its next
    /// reminder (the day before, then 30 minutes before) while it is booked
    /// with a phone to tell.
    pub(crate) fn index_reminder(&mut self, id: u64) {
        if let Some(due) = self.reminder_at.remove(&id) {
            self.reminders.remove(&(due, id));
        }
        let Some(a) = self.appointments.get(&id) else {
            return;
        };
        if a.phone.is_empty() || a.state != AppointmentState::Booked {
            return;
        }
        let due = if a.reminded & REMIND_DAY == 0 {
            a.slot.start - 24 * 3_600_000
        } else if a.reminded & REMIND_SOON == 0 {
            a.slot.start - 30 * 60_000
        } else {
            return;
        };
        self.reminders.insert((due, id));
        self.reminder_at.insert(id, due);
    }

    pub(crate) fn index_all_reminders(&mut self) {
        self.reminders.clear();
        self.reminder_at.clear();
        let ids: Vec<u64> = self.appointments.keys().copied().collect();
        for id in ids {
            self.index_reminder(id);
        }
    }

    pub(crate) fn index(&mut self, id: TicketId) {
        let Some(t) = self.tickets.get(&id) else {
            return;
        };
        // A remote ticket holds its place (`sort_at`) but is not callable
        // until its visitor arrives.
        if t.state != TicketState::Waiting || t.awaiting_arrival() {
            return;
        }
        let key = (t.sort_at, id);
        if let Some(w) = t.target_window {
            self.targeted.entry(w).or_default().insert(key);
            return;
        }
        let q = self.queues.entry(t.queue.clone()).or_default();
        match t.priority {
            Priority::Normal => q.normal.insert(key),
            Priority::Appointment => q.appointment.insert(key),
            _ => q.priority.insert(key),
        };
    }

    pub(crate) fn unindex(&mut self, id: TicketId) {
        let Some(t) = self.tickets.get(&id) else {
            return;
        };
        let key = (t.sort_at, id);
        if let Some(w) = t.target_window
            && let Some(s) = self.targeted.get_mut(&w)
        {
            s.remove(&key);
        }
        if let Some(q) = self.queues.get_mut(&t.queue) {
            q.normal.remove(&key);
            q.priority.remove(&key);
            q.appointment.remove(&key);
        }
    }

    /// Changes a ticket keeping the indexes and the one-active-ticket map right.
    pub(crate) fn update(&mut self, id: TicketId, f: impl FnOnce(&mut Ticket)) {
        self.unindex(id);
        let Some(t) = self.tickets.get_mut(&id) else {
            return;
        };
        let was_active = t.state.is_active();
        f(t);
        if !t.state.is_active() {
            if let Some(p) = &t.person {
                let slot = person_slot(&t.origin, &p.key);
                if self.person_active.get(&slot) == Some(&id) {
                    self.person_active.remove(&slot);
                }
            }
            if was_active {
                self.closed.push_back(id);
                self.evict_closed();
            }
        }
        self.index(id);
    }

    /// Forgets the oldest finished tickets beyond `KEEP_CLOSED`.
    pub(crate) fn evict_closed(&mut self) {
        while self.closed.len() > KEEP_CLOSED {
            let Some(id) = self.closed.pop_front() else {
                break;
            };
            // A late-arrival requeue revived it: it is live again, keep it.
            if self.tickets.get(&id).is_none_or(|t| t.state.is_active()) {
                continue;
            }
            if let Some(t) = self.tickets.remove(&id) {
                self.by_number.remove(&t.number);
            }
            if let Some(r) = self.ticket_requests.remove(&id) {
                self.requests.remove(&r);
            }
            for rt in self.windows.values_mut() {
                rt.rateable.retain(|t| *t != id);
            }
        }
        // After a surge the maps keep their peak capacity; give it back.
        if self.tickets.capacity() > 8 * KEEP_CLOSED
            && self.tickets.len() * 4 < self.tickets.capacity()
        {
            self.shrink();
        }
    }

    pub(crate) fn shrink(&mut self) {
        self.tickets.shrink_to_fit();
        self.by_number.shrink_to_fit();
        self.requests.shrink_to_fit();
        self.ticket_requests.shrink_to_fit();
        self.person_active.shrink_to_fit();
    }

    pub(crate) fn figures_of(&mut self, id: TicketId) -> Option<&mut Figures> {
        let origin = self.tickets.get(&id)?.origin.clone();
        Some(self.figures.entry(origin).or_default())
    }

    pub(crate) fn sync_windows(&mut self) {
        let numbers: BTreeSet<WindowNo> = self.catalog.windows.iter().map(|w| w.number).collect();
        self.windows.retain(|n, _| numbers.contains(n));
        for n in numbers {
            self.windows.entry(n).or_insert_with(WindowRuntime::closed);
        }
    }
}
