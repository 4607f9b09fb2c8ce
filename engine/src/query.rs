//! Read-only queries on the `Hall`: tickets by id, number or request, queue
//! lengths, estimates of people ahead and wait, a window's coming tickets.

use crate::*;

/// A bookable appointment slot and its free places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeSlot {
    /// "HH:MM", local time.
    pub start: String,
    pub end: String,
    pub free: u32,
}

impl Hall {
    /// How long past bookings are kept: the month limit and the
    /// missed-appointment window both look back over them.
    pub(crate) fn booking_memory_days(&self) -> u64 {
        u64::from(self.catalog.policy.booking_missed_days.max(31))
    }

    /// The person's booking block, if one is in force.
    pub fn booking_block(&self, person_key: &str) -> Option<&BookingBlock> {
        self.booking_blocks
            .get(person_key)
            .filter(|b| b.until > self.service_date)
    }

    /// The slots of category `code` on `date` still open for booking at
    /// `now` with at least one free place, in order. Empty for a category
    /// without `[categories.booking]`, a closed day, or a day outside the
    /// booking horizon.
    pub fn free_slots(&self, code: &str, date: chrono::NaiveDate, now: Millis) -> Vec<FreeSlot> {
        let Some(b) = self.catalog.category(code).and_then(|c| c.booking.as_ref()) else {
            return Vec::new();
        };
        let last = self.service_date + chrono::Days::new(u64::from(b.horizon_days));
        if date < self.service_date || date > last {
            return Vec::new();
        }
        let Some((open, close)) = calendar::hall_hours(&self.catalog.calendar, date) else {
            return Vec::new();
        };
        let step = chrono::Duration::minutes(i64::from(b.slot_minutes));
        let clock = self.clock();
        // Places taken per slot start, in one pass (a page polls this).
        let mut taken_at: HashMap<Millis, u32> = HashMap::new();
        for a in self.appointments.values() {
            if a.queue == code && a.date == date && a.state != AppointmentState::Cancelled {
                *taken_at.entry(a.slot.start).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        let mut s = open;
        while s + step <= close && s + step > s {
            let start = clock.instant(date.and_time(s));
            if now <= start - i64::from(b.cutoff_minutes) * 60_000 {
                let taken = taken_at.get(&start).copied().unwrap_or(0);
                if taken < b.capacity {
                    out.push(FreeSlot {
                        start: s.format("%H:%M").to_string(),
                        end: (s + step).format("%H:%M").to_string(),
                        free: b.capacity - taken,
                    });
                }
            }
            s += step;
        }
        out
    }

    /// A window that serves `queue` (in any tier) is open and not paused.
    pub(crate) fn serving_window_open(&self, queue: &str) -> bool {
        self.catalog.windows.iter().any(|w| {
            w.tiers.iter().flatten().any(|c| c == queue)
                && self
                    .windows
                    .get(&w.number)
                    .is_some_and(|rt| rt.status == WindowStatus::Open)
        })
    }

    /// When remote ticket `t` must be checked in by: `None` while it is not
    /// yet its turn (or it is not a remote ticket awaiting arrival).
    pub fn check_in_by(&self, t: &Ticket) -> Option<Millis> {
        let front = t
            .remote
            .as_ref()
            .filter(|_| t.awaiting_arrival())?
            .front_at?;
        let grace = self
            .catalog
            .category(&t.origin)
            .and_then(|c| c.remote.as_ref())
            .map_or(15, |r| r.grace_minutes);
        Some(front + i64::from(grace) * 60_000)
    }

    /// A person's bookings still kept (upcoming and recent past), by slot.
    pub fn bookings_of(&self, person_key: &str) -> Vec<&Appointment> {
        let mut v: Vec<&Appointment> = self
            .appointments
            .values()
            .filter(|a| !person_key.is_empty() && a.person.key == person_key)
            .collect();
        v.sort_by_key(|a| (a.slot.start, a.id));
        v
    }

    pub fn ticket(&self, id: TicketId) -> Option<&Ticket> {
        self.tickets.get(&id)
    }
    pub fn ticket_by_number(&self, number: &str) -> Option<&Ticket> {
        self.by_number
            .get(number)
            .and_then(|id| self.tickets.get(id))
    }
    /// Whether `number` was issued today, even if it is no longer in memory.
    pub fn was_issued_today(&self, number: &str) -> bool {
        let prefix = number.trim_end_matches(|c: char| c.is_ascii_digit());
        let n: u32 = number[prefix.len()..].parse().unwrap_or(0);
        n > 0 && self.last_number.get(prefix).is_some_and(|&last| n <= last)
    }
    pub fn ticket_for_request(&self, request_id: &str) -> Option<&Ticket> {
        self.requests
            .get(request_id)
            .and_then(|id| self.tickets.get(id))
    }
    pub fn appointment_for_request(&self, request_id: &str) -> Option<&Appointment> {
        self.appointment_requests
            .get(request_id)
            .and_then(|id| self.appointments.get(id))
    }
    /// Tickets held in memory (live ones plus the recently finished).
    pub fn tickets_in_memory(&self) -> usize {
        self.tickets.len()
    }
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }
    pub fn issued_today(&self, code: &str) -> u32 {
        self.issued.get(code).copied().unwrap_or(0)
    }
    pub fn window_current(&self, window: WindowNo) -> Option<&Ticket> {
        self.windows
            .get(&window)?
            .current
            .and_then(|id| self.tickets.get(&id))
    }

    /// Waiting tickets of a queue code (category or whole bundle).
    pub fn waiting_in(&self, code: &str) -> u32 {
        self.queues.get(code).map_or(0, |q| q.len()) as u32
    }

    /// Average handling seconds of a queue: recent real times, else the expectation.
    pub fn avg_handling_s(&self, code: &str) -> u32 {
        match self.handling.get(code) {
            Some(d) if !d.is_empty() => {
                (d.iter().map(|&s| u64::from(s)).sum::<u64>() / d.len() as u64) as u32
            }
            _ => self.catalog.expected_minutes(code) * 60,
        }
    }

    /// Windows working on a queue now: open ones with it primary, else open
    /// ones with it in any tier, else 1 (someone will open).
    fn serving_windows(&self, code: &str) -> u32 {
        let open = |primary_only: bool| {
            self.catalog
                .windows
                .iter()
                .filter(|w| {
                    self.windows
                        .get(&w.number)
                        .is_some_and(|r| r.status != WindowStatus::Closed)
                        && if primary_only {
                            w.tiers.first().is_some_and(|t| t.iter().any(|c| c == code))
                        } else {
                            w.tiers.iter().flatten().any(|c| c == code)
                        }
                })
                .count() as u32
        };
        match open(true) {
            0 => open(false).max(1),
            n => n,
        }
    }

    /// People ahead of a waiting ticket and its estimated wait in minutes.
    pub fn estimate(&self, t: &Ticket, now: Millis) -> (u32, u32) {
        if t.state != TicketState::Waiting {
            return (0, 0);
        }
        let ahead = policy::people_ahead(self, t, now);
        (ahead, self.wait_minutes(&t.queue, ahead))
    }

    /// Estimated minutes for someone with `ahead` people before them in `code`.
    pub fn wait_minutes(&self, code: &str, ahead: u32) -> u32 {
        let secs = u64::from(ahead) * u64::from(self.avg_handling_s(code))
            / u64::from(self.serving_windows(code));
        secs.div_ceil(60) as u32
    }

    /// The tickets "call next" would take at a window, in order (up to
    /// `limit`): the policy run on a view of just this window's queues,
    /// taking each pick off the view before the next.
    pub fn window_queue(&self, window: WindowNo, now: Millis, limit: usize) -> Vec<TicketId> {
        let (Some(w), Some(rt)) = (self.catalog.window(window), self.windows.get(&window)) else {
            return vec![];
        };
        let mut view = policy::WindowScratch::new(self, w, limit);
        let mut streak = rt.priority_streak;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some((id, reason)) = policy::pick_next(&view, w, streak, now) else {
                break;
            };
            view.take(id);
            streak = if reason.is_priority() { streak + 1 } else { 0 };
            out.push(id);
        }
        out
    }

    /// Tickets suspended (挂起) at `window`, oldest first.
    pub fn suspended_at(&self, window: WindowNo) -> Vec<&Ticket> {
        self.suspended
            .iter()
            .filter_map(|id| self.tickets.get(id))
            .filter(|t| t.window == Some(window))
            .collect()
    }

    /// Waiting tickets this window could call.
    pub fn waiting_for_window(&self, window: WindowNo) -> u32 {
        self.catalog
            .window(window)
            .map_or(0, |w| policy::waiting_for_window(self, w))
    }
}
