//! The sans-IO queue engine: `apply(&mut Hall, Command, now)` decides which
//! events a command causes, folds them into the `Hall`, and returns them.
//!
//! No clock, no tokio, no sled, no tonic here: the caller passes `now` and
//! persists the events, so the server, the simulator and the benchmarks all
//! drive this same code, and scenario tests run it in microseconds.
//! Invariant: a `Hall` is exactly the fold of its events (`Hall::fold`), so
//! replaying the log rebuilds it; `decide` never mutates.

pub mod calendar;
pub mod catalog;
mod error;
pub mod model;
mod policy;

pub use error::EngineError;
pub use model::*;

use calendar::Clock;
use catalog::{BundleMode, Catalog, QueueRef};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// How many recent calls the boards show.
pub const RECENT_CALLS: usize = 10;
/// How many just-finished tickets a window keeps open for rating.
const RATEABLE: usize = 4;
/// Finished tickets kept in memory (for status look-ups, rating, late
/// requeue); older ones live on only in the log and in `figures`. This is
/// what bounds the server's memory however many tickets a day brings.
pub const KEEP_CLOSED: usize = 2_000;

/// Running figures of one category or bundle today (the day report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub issued: u32,
    pub called: u32,
    pub served: u32,
    pub unresolved: u32,
    pub no_shows: u32,
    pub cancelled: u32,
    /// Sum of seconds from issue to first call.
    pub wait_s: u64,
    /// Sum of seconds from start to finish.
    pub handling_s: u64,
    pub ratings: u32,
    pub rating_sum: u32,
}

/// Waiting, untargeted tickets of one queue, by class, each ordered by place.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueueIndex {
    pub(crate) normal: BTreeSet<(Millis, TicketId)>,
    pub(crate) priority: BTreeSet<(Millis, TicketId)>,
    /// Appointments switch class with time (priority near their slot).
    pub(crate) appointment: BTreeSet<(Millis, TicketId)>,
}

impl QueueIndex {
    pub(crate) fn len(&self) -> usize {
        self.normal.len() + self.priority.len() + self.appointment.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStatus {
    Closed,
    Open,
    Paused,
}

/// Live state of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRuntime {
    pub status: WindowStatus,
    pub clerk: Option<String>,
    /// Proves a request comes from the terminal that logged in (not a secret
    /// against the hall's own network, a guard against stale terminals).
    pub token: Option<String>,
    pub pause_reason: Option<String>,
    /// The ticket called or being served here.
    pub current: Option<TicketId>,
    /// Priority calls in a row: the anti-starvation counter of the policy.
    pub priority_streak: u32,
    /// Just-finished tickets the citizen may still rate here.
    pub rateable: VecDeque<TicketId>,
    pub served: u32,
    pub no_shows: u32,
    pub handling_total_s: u64,
    pub rating_sum: u32,
    pub ratings: u32,
}

impl WindowRuntime {
    fn closed() -> Self {
        WindowRuntime {
            status: WindowStatus::Closed,
            clerk: None,
            token: None,
            pause_reason: None,
            current: None,
            priority_streak: 0,
            rateable: VecDeque::new(),
            served: 0,
            no_shows: 0,
            handling_total_s: 0,
            rating_sum: 0,
            ratings: 0,
        }
    }
}

/// A call as the boards show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentCall {
    pub ticket: TicketId,
    pub number: String,
    pub window: WindowNo,
    pub queue: String,
    pub masked_name: Option<String>,
    pub at: Millis,
    pub recall_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub kind: String,
    pub status: String,
    pub detail: String,
    pub at: Millis,
}

/// The whole state of the hall: the fold of every event so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hall {
    pub catalog: Catalog,
    #[serde(skip, default = "default_clock")]
    clock: Option<Clock>,
    pub service_date: NaiveDate,
    /// Today's tickets, every state. Yesterday's live only in the log.
    pub(crate) tickets: HashMap<TicketId, Ticket>,
    by_number: HashMap<String, TicketId>,
    next_ticket_id: TicketId,
    /// Last number issued per prefix today.
    last_number: HashMap<String, u32>,
    /// Tickets issued today per category/bundle code (the quota).
    issued: HashMap<String, u32>,
    /// Tickets per "code|person key" today (the per-person limit).
    person_daily: HashMap<String, u32>,
    /// Active ticket per "code|person key" (one active ticket per person per category).
    person_active: HashMap<String, TicketId>,
    /// Client request id -> ticket, so a retried request never issues twice.
    requests: HashMap<String, TicketId>,
    appointment_requests: HashMap<String, u64>,
    pub windows: BTreeMap<WindowNo, WindowRuntime>,
    /// Recent handling seconds per queue code, newest last (the wait estimate).
    handling: HashMap<String, VecDeque<u32>>,
    pub follow_ups: BTreeMap<u64, FollowUp>,
    next_follow_up: u64,
    pub appointments: BTreeMap<u64, Appointment>,
    next_appointment: u64,
    pub recent_calls: VecDeque<RecentCall>,
    pub devices: BTreeMap<String, DeviceStatus>,
    /// Today's figures per origin code.
    pub figures: BTreeMap<String, Figures>,
    /// Terminal tickets in the order they closed, for eviction.
    closed: VecDeque<TicketId>,
    /// Ticket -> its client request id, to forget the id with the ticket.
    ticket_requests: HashMap<TicketId, String>,
    #[serde(skip)]
    pub(crate) queues: HashMap<String, QueueIndex>,
    #[serde(skip)]
    pub(crate) targeted: HashMap<WindowNo, BTreeSet<(Millis, TicketId)>>,
}

fn default_clock() -> Option<Clock> {
    None
}

/// Applies one command at `now`: decides its events, folds them, returns them.
/// On error nothing changed.
pub fn apply(hall: &mut Hall, cmd: Command, now: Millis) -> Result<Vec<Event>, EngineError> {
    let events = hall.decide(cmd, now)?;
    for e in &events {
        hall.fold(e, now);
    }
    Ok(events)
}

fn person_slot(code: &str, key: &str) -> String {
    format!("{code}|{key}")
}

impl Hall {
    /// An empty hall with this catalogue; the first `Tick` sets the service date.
    pub fn new(catalog: Catalog) -> Hall {
        let mut h = Hall {
            clock: Some(Clock::new(&catalog)),
            catalog,
            service_date: NaiveDate::MIN,
            tickets: HashMap::new(),
            by_number: HashMap::new(),
            next_ticket_id: 1,
            last_number: HashMap::new(),
            issued: HashMap::new(),
            person_daily: HashMap::new(),
            person_active: HashMap::new(),
            requests: HashMap::new(),
            appointment_requests: HashMap::new(),
            windows: BTreeMap::new(),
            handling: HashMap::new(),
            follow_ups: BTreeMap::new(),
            next_follow_up: 1,
            appointments: BTreeMap::new(),
            next_appointment: 1,
            recent_calls: VecDeque::new(),
            devices: BTreeMap::new(),
            figures: BTreeMap::new(),
            closed: VecDeque::new(),
            ticket_requests: HashMap::new(),
            queues: HashMap::new(),
            targeted: HashMap::new(),
        };
        h.sync_windows();
        h
    }

    /// Rebuilds the derived indexes after deserialising a snapshot.
    pub fn after_load(&mut self) {
        self.clock = Some(Clock::new(&self.catalog));
        self.queues.clear();
        self.targeted.clear();
        let ids: Vec<TicketId> = self.tickets.keys().copied().collect();
        for id in ids {
            self.index(id);
        }
    }

    pub fn clock(&self) -> &Clock {
        self.clock.as_ref().expect("clock set by new/after_load")
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

    /// The tickets "call next" would take at a window, in order (up to `limit`),
    /// by running the policy on a scratch copy of the queue indexes.
    pub fn window_queue(&self, window: WindowNo, now: Millis, limit: usize) -> Vec<TicketId> {
        let Some(w) = self.catalog.window(window) else {
            return vec![];
        };
        let Some(rt) = self.windows.get(&window) else {
            return vec![];
        };
        let mut scratch = Hall {
            queues: w
                .tiers
                .iter()
                .flatten()
                .filter_map(|c| self.queues.get(c).map(|q| (c.clone(), q.clone())))
                .collect(),
            targeted: self
                .targeted
                .get(&window)
                .map(|s| (window, s.clone()))
                .into_iter()
                .collect(),
            tickets: HashMap::new(),
            ..Hall::new(Catalog {
                windows: vec![],
                clerks: vec![],
                ..self.catalog.clone()
            })
        };
        // The scratch hall shares ticket data by copying only what it indexes.
        for q in scratch.queues.values() {
            for k in q.normal.iter().chain(&q.priority).chain(&q.appointment) {
                scratch.tickets.insert(k.1, self.tickets[&k.1].clone());
            }
        }
        if let Some(s) = scratch.targeted.get(&window) {
            for k in s {
                scratch.tickets.insert(k.1, self.tickets[&k.1].clone());
            }
        }
        let mut rt = rt.clone();
        let mut out = Vec::new();
        while out.len() < limit {
            let Some((id, reason)) = policy::pick_next(&scratch, w, &rt, now) else {
                break;
            };
            scratch.unindex(id);
            rt.priority_streak = if reason.is_priority() {
                rt.priority_streak + 1
            } else {
                0
            };
            out.push(id);
        }
        out
    }

    /// Waiting tickets this window could call.
    pub fn waiting_for_window(&self, window: WindowNo) -> u32 {
        self.catalog
            .window(window)
            .map_or(0, |w| policy::waiting_for_window(self, w))
    }

    // ---- index maintenance -------------------------------------------------

    fn index(&mut self, id: TicketId) {
        let Some(t) = self.tickets.get(&id) else {
            return;
        };
        if t.state != TicketState::Waiting {
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

    fn unindex(&mut self, id: TicketId) {
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
    fn update(&mut self, id: TicketId, f: impl FnOnce(&mut Ticket)) {
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
    fn evict_closed(&mut self) {
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

    fn shrink(&mut self) {
        self.tickets.shrink_to_fit();
        self.by_number.shrink_to_fit();
        self.requests.shrink_to_fit();
        self.ticket_requests.shrink_to_fit();
        self.person_active.shrink_to_fit();
    }

    fn figures_of(&mut self, id: TicketId) -> Option<&mut Figures> {
        let origin = self.tickets.get(&id)?.origin.clone();
        Some(self.figures.entry(origin).or_default())
    }

    fn sync_windows(&mut self) {
        let numbers: BTreeSet<WindowNo> = self.catalog.windows.iter().map(|w| w.number).collect();
        self.windows.retain(|n, _| numbers.contains(n));
        for n in numbers {
            self.windows.entry(n).or_insert_with(WindowRuntime::closed);
        }
    }

    // ---- decide ------------------------------------------------------------

    fn session(&self, s: &Session) -> Result<&WindowRuntime, EngineError> {
        let rt = self
            .windows
            .get(&s.window)
            .ok_or(EngineError::UnknownWindow(s.window))?;
        if rt.status == WindowStatus::Closed || rt.token.as_deref() != Some(s.token.as_str()) {
            return Err(EngineError::NotLoggedIn(s.window));
        }
        Ok(rt)
    }

    fn current(&self, s: &Session) -> Result<&Ticket, EngineError> {
        let rt = self.session(s)?;
        rt.current
            .and_then(|id| self.tickets.get(&id))
            .ok_or(EngineError::NoCurrentTicket(s.window))
    }

    fn today_ticket(&self, number: &str) -> Result<&Ticket, EngineError> {
        self.ticket_by_number(number)
            .ok_or_else(|| EngineError::UnknownTicket(number.to_string()))
    }

    fn ensure_free(&self, s: &Session) -> Result<(), EngineError> {
        let rt = self.session(s)?;
        if rt.status == WindowStatus::Paused {
            return Err(EngineError::WindowPaused(s.window));
        }
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            let hint = if t.state == TicketState::Called {
                "start it, recall it or mark it no-show first"
            } else {
                "finish, suspend or transfer it first"
            };
            return Err(EngineError::Busy {
                window: s.window,
                number: t.number.clone(),
                state: t.state.name(),
                hint,
            });
        }
        Ok(())
    }

    fn wrong_state(t: &Ticket, action: &'static str) -> EngineError {
        EngineError::WrongState {
            number: t.number.clone(),
            state: t.state.name(),
            action,
        }
    }

    fn decide(&self, cmd: Command, now: Millis) -> Result<Vec<Event>, EngineError> {
        match cmd {
            Command::Tick => {
                let to = self.clock().service_date(now);
                if to == self.service_date {
                    return Ok(vec![]);
                }
                let mut expired: Vec<TicketId> = self
                    .tickets
                    .values()
                    .filter(|t| t.state.is_active())
                    .map(|t| t.id)
                    .collect();
                expired.sort_unstable();
                Ok(vec![Event::DayRolled { to, expired }])
            }
            Command::IssueTicket {
                request_id,
                code,
                priority,
                channel,
                person,
            } => self.decide_issue(request_id, &code, priority, channel, person, None, now),
            Command::BookAppointment {
                request_id,
                code,
                person,
                date,
                slot_start,
                slot_end,
            } => {
                if let Some(r) = &request_id
                    && self.appointment_requests.contains_key(r)
                {
                    return Ok(vec![]);
                }
                if self.catalog.queue(&code).is_none() {
                    return Err(EngineError::UnknownCategory(code));
                }
                let (Some(s), Some(e)) = (calendar::hhmm(&slot_start), calendar::hhmm(&slot_end))
                else {
                    return Err(EngineError::invalid("slot_start", format!(
                        "slot '{slot_start}'-'{slot_end}' is not HH:MM-HH:MM"
                    )));
                };
                if s >= e {
                    return Err(EngineError::invalid("slot_end", 
                        "slot end must be after its start",
                    ));
                }
                if date < self.service_date {
                    return Err(EngineError::invalid("date", format!(
                        "{date} is in the past"
                    )));
                }
                let Some((open, close)) = calendar::hall_hours(&self.catalog.calendar, date) else {
                    return Err(EngineError::invalid("date", format!(
                        "the hall is closed on {date}"
                    )));
                };
                if s < open || e > close {
                    return Err(EngineError::invalid("slot_start", format!(
                        "slot {slot_start}-{slot_end} is outside opening hours {}-{} on {date}",
                        open.format("%H:%M"),
                        close.format("%H:%M")
                    )));
                }
                let clock = self.clock();
                let appointment = Appointment {
                    id: self.next_appointment,
                    queue: code,
                    person,
                    date,
                    slot: Slot {
                        start: clock.instant(date.and_time(s)),
                        end: clock.instant(date.and_time(e)),
                    },
                    slot_label: (slot_start, slot_end),
                    ticket: None,
                };
                Ok(vec![Event::AppointmentBooked {
                    appointment: Box::new(appointment),
                    request_id,
                }])
            }
            Command::CheckInAppointment {
                request_id,
                person_key,
            } => {
                if let Some(r) = &request_id
                    && self.requests.contains_key(r)
                {
                    return Ok(vec![]);
                }
                let appt = self
                    .appointments
                    .values()
                    .filter(|a| {
                        a.date == self.service_date
                            && a.person.key == person_key
                            && a.ticket.is_none()
                    })
                    .min_by_key(|a| a.slot.start)
                    .ok_or(EngineError::NoAppointment)?;
                self.decide_issue(
                    request_id,
                    &appt.queue.clone(),
                    Priority::Appointment,
                    Channel::Appointment,
                    Some(appt.person.clone()),
                    Some((appt.id, appt.slot.clone())),
                    now,
                )
            }
            Command::CancelTicket { number, reason } => {
                let t = self.today_ticket(&number)?;
                if !matches!(t.state, TicketState::Waiting | TicketState::Suspended) {
                    return Err(Self::wrong_state(t, "cancel"));
                }
                Ok(vec![Event::TicketCancelled {
                    ticket: t.id,
                    reason,
                }])
            }
            Command::Login {
                window,
                clerk,
                pin,
                token,
            } => {
                let rt = self
                    .windows
                    .get(&window)
                    .ok_or(EngineError::UnknownWindow(window))?;
                let c = self
                    .catalog
                    .clerk(&clerk)
                    .ok_or(EngineError::BadCredentials)?;
                if catalog::pin_hash(&clerk, &pin) != c.pin_sha256 {
                    return Err(EngineError::BadCredentials);
                }
                if let Some(holder) = &rt.clerk
                    && *holder != clerk
                {
                    let clerk_name = self
                        .catalog
                        .clerk(holder)
                        .map_or(holder.clone(), |c| c.name.clone());
                    return Err(EngineError::WindowTaken {
                        window,
                        clerk: holder.clone(),
                        clerk_name,
                    });
                }
                if let Some((other, _)) = self
                    .windows
                    .iter()
                    .find(|(n, r)| **n != window && r.clerk.as_deref() == Some(&clerk))
                {
                    return Err(EngineError::ClerkElsewhere {
                        clerk,
                        window: *other,
                    });
                }
                // The same clerk logging in again (a restarted terminal) takes
                // over the window with a new token and keeps its current ticket.
                Ok(vec![Event::WindowOpened {
                    window,
                    clerk,
                    token,
                }])
            }
            Command::Logout { session } => {
                let rt = self.session(&session)?;
                if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
                    return Err(EngineError::Busy {
                        window: session.window,
                        number: t.number.clone(),
                        state: t.state.name(),
                        hint: "finish, suspend or transfer it before logging out",
                    });
                }
                Ok(vec![Event::WindowClosed {
                    window: session.window,
                }])
            }
            Command::Pause { session, reason } => {
                self.ensure_free(&session)?;
                Ok(vec![Event::WindowPaused {
                    window: session.window,
                    reason,
                }])
            }
            Command::Resume { session } => {
                let rt = self.session(&session)?;
                if rt.status != WindowStatus::Paused {
                    return Ok(vec![]);
                }
                Ok(vec![Event::WindowResumed {
                    window: session.window,
                }])
            }
            Command::CallNext { session } => {
                self.ensure_free(&session)?;
                let w = self
                    .catalog
                    .window(session.window)
                    .ok_or(EngineError::UnknownWindow(session.window))?;
                let rt = &self.windows[&session.window];
                let (ticket, reason) = policy::pick_next(self, w, rt, now)
                    .ok_or(EngineError::NothingWaiting(session.window))?;
                let clerk = rt.clerk.clone().unwrap_or_default();
                Ok(vec![Event::TicketCalled {
                    ticket,
                    window: session.window,
                    clerk,
                    reason,
                }])
            }
            Command::CallTicket { session, number } => {
                self.ensure_free(&session)?;
                let t = self.today_ticket(&number)?;
                if t.state != TicketState::Waiting {
                    return Err(Self::wrong_state(t, "call it"));
                }
                if let Some(w) = t.target_window
                    && w != session.window
                {
                    return Err(EngineError::invalid("number", format!(
                        "ticket {number} was transferred to window {w}"
                    )));
                }
                let rt = &self.windows[&session.window];
                let reason = CallReason {
                    rule: CallRule::Chosen,
                    tier: 0,
                    waited_s: (now - t.sort_at) / 1000,
                    others_waiting: self.waiting_for_window(session.window).saturating_sub(1),
                };
                Ok(vec![Event::TicketCalled {
                    ticket: t.id,
                    window: session.window,
                    clerk: rt.clerk.clone().unwrap_or_default(),
                    reason,
                }])
            }
            Command::Recall { session } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "recall it"));
                }
                if t.recall_count >= self.catalog.policy.max_recalls {
                    return Ok(vec![Event::TicketNoShow {
                        ticket: t.id,
                        window: session.window,
                        auto: true,
                    }]);
                }
                Ok(vec![Event::TicketRecalled {
                    ticket: t.id,
                    window: session.window,
                    count: t.recall_count + 1,
                }])
            }
            Command::StartService { session } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "start serving it"));
                }
                Ok(vec![Event::ServiceStarted {
                    ticket: t.id,
                    window: session.window,
                }])
            }
            Command::Finish {
                session,
                resolved,
                reason,
            } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Serving && t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "finish it"));
                }
                if !resolved && reason.trim().is_empty() {
                    return Err(EngineError::invalid("reason", 
                        "an unresolved finish needs a reason (it opens a follow-up)",
                    ));
                }
                let after = if let Some(r) = &t.return_to {
                    AfterFinish::Returned {
                        window: r.window,
                        queue: r.queue.clone(),
                    }
                } else if resolved
                    && let Some(b) = &t.bundle
                    && (b.stage as usize + 1) < b.stages.len()
                    && self
                        .catalog
                        .bundle(&b.code)
                        .is_some_and(|b| b.mode == BundleMode::Staged)
                {
                    AfterFinish::NextStage {
                        stage: b.stage + 1,
                        queue: b.stages[b.stage as usize + 1].clone(),
                    }
                } else {
                    AfterFinish::Closed
                };
                let mut events = vec![Event::TicketFinished {
                    ticket: t.id,
                    window: session.window,
                    resolved,
                    reason: reason.clone(),
                    after,
                }];
                if !resolved {
                    events.push(self.follow_up_event(t, FollowUpKind::Unresolved, reason, now));
                }
                Ok(events)
            }
            Command::NoShow { session } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "mark it no-show"));
                }
                Ok(vec![Event::TicketNoShow {
                    ticket: t.id,
                    window: session.window,
                    auto: false,
                }])
            }
            Command::Requeue { session, number } => {
                self.session(&session)?;
                let t = self.today_ticket(&number)?;
                if t.state != TicketState::NoShow {
                    return Err(Self::wrong_state(t, "requeue it as a late arrival"));
                }
                // Behind `late_requeue_behind` tickets of its queue, or at the back.
                let behind = self.catalog.policy.late_requeue_behind as usize;
                let mut places: Vec<Millis> = self
                    .queues
                    .get(&t.queue)
                    .map(|q| {
                        q.normal
                            .iter()
                            .chain(&q.priority)
                            .chain(&q.appointment)
                            .map(|k| k.0)
                            .collect()
                    })
                    .unwrap_or_default();
                places.sort_unstable();
                let sort_at = places.get(behind).map_or(now, |&at| at.min(now));
                Ok(vec![Event::TicketRequeued {
                    ticket: t.id,
                    sort_at,
                }])
            }
            Command::Suspend { session, reason } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Serving && t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "suspend it"));
                }
                Ok(vec![Event::TicketSuspended {
                    ticket: t.id,
                    window: session.window,
                    reason,
                }])
            }
            Command::CallBack { session, number } => {
                self.ensure_free(&session)?;
                let t = self.today_ticket(&number)?;
                if t.state != TicketState::Suspended {
                    return Err(Self::wrong_state(t, "call it back"));
                }
                let rt = &self.windows[&session.window];
                let reason = CallReason {
                    rule: CallRule::CalledBack,
                    tier: 0,
                    waited_s: (now - t.sort_at) / 1000,
                    others_waiting: self.waiting_for_window(session.window),
                };
                Ok(vec![Event::TicketCalled {
                    ticket: t.id,
                    window: session.window,
                    clerk: rt.clerk.clone().unwrap_or_default(),
                    reason,
                }])
            }
            Command::Transfer {
                session,
                target,
                with_return,
                reason,
            } => {
                let t = self.current(&session)?;
                if t.state != TicketState::Serving && t.state != TicketState::Called {
                    return Err(Self::wrong_state(t, "transfer it"));
                }
                match &target {
                    TransferTarget::Queue(code) => {
                        if self.catalog.queue(code).is_none() {
                            return Err(EngineError::UnknownCategory(code.clone()));
                        }
                    }
                    TransferTarget::Window(w) => {
                        if self.catalog.window(*w).is_none() {
                            return Err(EngineError::UnknownWindow(*w));
                        }
                        if *w == session.window {
                            return Err(EngineError::invalid("target", 
                                "cannot transfer to the same window",
                            ));
                        }
                    }
                }
                let return_to = with_return.then(|| ReturnTo {
                    window: session.window,
                    queue: t.queue.clone(),
                });
                Ok(vec![Event::TicketTransferred {
                    ticket: t.id,
                    from_window: session.window,
                    target,
                    return_to,
                    reason,
                }])
            }
            Command::Rate {
                session,
                number,
                rating,
                comment,
            } => {
                let rt = self.session(&session)?;
                if !(1..=5).contains(&rating) {
                    return Err(EngineError::invalid("rating", format!(
                        "rating {rating} is out of range: 5 非常满意 … 1 非常不满意"
                    )));
                }
                let t = self.today_ticket(&number)?;
                if !rt.rateable.contains(&t.id) {
                    return Err(if t.rating.is_some() {
                        EngineError::AlreadyRated(number)
                    } else {
                        EngineError::invalid("number", format!(
                            "ticket {number} was not just finished at window {}",
                            session.window
                        ))
                    });
                }
                let mut events = vec![Event::RatingSubmitted {
                    ticket: t.id,
                    window: session.window,
                    rating,
                    comment: comment.clone(),
                }];
                if rating <= 2 {
                    let reason = if comment.trim().is_empty() {
                        format!("rated {rating}/5")
                    } else {
                        comment
                    };
                    let mut f = self.follow_up_event(t, FollowUpKind::BadRating, reason, now);
                    if let Event::FollowUpOpened { follow_up } = &mut f {
                        follow_up.window = Some(session.window);
                        follow_up.clerk = rt.clerk.clone();
                    }
                    events.push(f);
                }
                Ok(events)
            }
            Command::CloseFollowUp { id, resolution } => {
                match self.follow_ups.get(&id) {
                    Some(f) if f.closed.is_none() => {}
                    _ => return Err(EngineError::UnknownFollowUp(id)),
                }
                Ok(vec![Event::FollowUpClosed { id, resolution }])
            }
            Command::ReplaceCatalog { catalog } => {
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
            Command::ReportDevice {
                device_id,
                kind,
                status,
                detail,
            } => {
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
        }
    }

    fn follow_up_event(
        &self,
        t: &Ticket,
        kind: FollowUpKind,
        reason: String,
        now: Millis,
    ) -> Event {
        Event::FollowUpOpened {
            follow_up: Box::new(FollowUp {
                id: self.next_follow_up,
                ticket_number: t.number.clone(),
                service_date: t.service_date,
                kind,
                reason,
                window: t.window,
                clerk: t.clerk.clone(),
                masked_name: t.person.as_ref().map(|p| p.masked_name.clone()),
                opened_at: now,
                closed: None,
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_issue(
        &self,
        request_id: Option<String>,
        code: &str,
        priority: Priority,
        channel: Channel,
        person: Option<Person>,
        appointment: Option<(u64, Slot)>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if let Some(r) = &request_id
            && self.requests.contains_key(r)
        {
            return Ok(vec![]); // a retry: the first attempt's ticket stands
        }
        let q = self
            .catalog
            .queue(code)
            .ok_or_else(|| EngineError::UnknownCategory(code.to_string()))?;
        let policy = &self.catalog.policy;
        let (prefix, quota, id_required, limit, hours_cat, queue, bundle) = match q {
            QueueRef::Category(c) => (
                &c.prefix,
                c.daily_quota,
                c.id_card_required,
                c.per_person_daily_limit
                    .unwrap_or(policy.per_person_daily_limit),
                Some(c),
                c.code.clone(),
                None,
            ),
            QueueRef::Bundle(b) => {
                let (queue, stages) = match b.mode {
                    BundleMode::Staged => (b.stages[0].clone(), b.stages.clone()),
                    BundleMode::Whole => (b.code.clone(), vec![b.code.clone()]),
                };
                (
                    &b.prefix,
                    b.daily_quota,
                    b.id_card_required,
                    policy.per_person_daily_limit,
                    None,
                    queue,
                    Some(BundleProgress {
                        code: b.code.clone(),
                        stage: 0,
                        stages,
                    }),
                )
            }
        };
        let local = self.clock().local(now);
        if let Err(closed) = calendar::check_issuing(&self.catalog.calendar, hours_cat, local) {
            return Err(EngineError::NotIssuing {
                code: code.to_string(),
                reason: closed.reason.to_string(),
                next: closed
                    .next_opening
                    .map_or("none in the next 60 days".into(), |t| {
                        t.format("%Y-%m-%d %H:%M").to_string()
                    }),
            });
        }
        if id_required && person.is_none() {
            return Err(EngineError::IdCardRequired(code.to_string()));
        }
        if priority == Priority::Elderly {
            let age = person
                .as_ref()
                .and_then(|p| p.birth_date)
                .map(|b| calendar::age_on(b, local.date()));
            if age.is_none_or(|a| a < policy.green_channel_age) {
                return Err(EngineError::invalid("priority", format!(
                    "the elderly green channel needs an ID card showing age {} or over",
                    policy.green_channel_age
                )));
            }
        }
        if priority == Priority::Appointment && appointment.is_none() {
            return Err(EngineError::invalid("priority", 
                "appointment tickets come from appointment check-in",
            ));
        }
        if let Some(p) = &person {
            let slot = person_slot(code, &p.key);
            if let Some(id) = self.person_active.get(&slot) {
                return Err(EngineError::AlreadyHoldsTicket {
                    code: code.to_string(),
                    number: self.tickets[id].number.clone(),
                });
            }
            if limit > 0 && self.person_daily.get(&slot).copied().unwrap_or(0) >= limit {
                return Err(EngineError::PersonLimit {
                    code: code.to_string(),
                    limit,
                });
            }
        }
        // Booked appointments were granted capacity when booked.
        if quota > 0 && appointment.is_none() && self.issued_today(code) >= quota {
            return Err(EngineError::QuotaExhausted {
                code: code.to_string(),
                quota,
            });
        }
        let n = self.last_number.get(prefix).copied().unwrap_or(0) + 1;
        let ticket = Ticket {
            id: self.next_ticket_id,
            number: format!("{prefix}{n:03}"),
            service_date: self.service_date,
            origin: code.to_string(),
            queue,
            priority,
            channel,
            state: TicketState::Waiting,
            person,
            issued_at: now,
            sort_at: now,
            called_at: None,
            started_at: None,
            finished_at: None,
            window: None,
            clerk: None,
            recall_count: 0,
            call_reason: None,
            bundle,
            target_window: None,
            return_to: None,
            appointment: appointment.as_ref().map(|a| a.1.clone()),
            rating: None,
            note: None,
        };
        Ok(vec![Event::TicketIssued {
            ticket: Box::new(ticket),
            request_id,
            appointment: appointment.map(|a| a.0),
        }])
    }

    // ---- fold --------------------------------------------------------------

    /// Folds one event into the state. Total: an event that was valid when
    /// decided always folds; replay uses this same function.
    pub fn fold(&mut self, event: &Event, at: Millis) {
        match event {
            Event::DayRolled { to, expired: _ } => {
                self.service_date = *to;
                self.tickets.clear();
                self.by_number.clear();
                self.last_number.clear();
                self.issued.clear();
                self.person_daily.clear();
                self.person_active.clear();
                self.requests.clear();
                self.appointment_requests.clear();
                self.queues.clear();
                self.targeted.clear();
                self.recent_calls.clear();
                self.figures.clear();
                self.closed.clear();
                self.ticket_requests.clear();
                self.shrink();
                self.appointments.retain(|_, a| a.date >= *to);
                for rt in self.windows.values_mut() {
                    rt.current = None;
                    rt.priority_streak = 0;
                    rt.rateable.clear();
                    rt.served = 0;
                    rt.no_shows = 0;
                    rt.handling_total_s = 0;
                    rt.rating_sum = 0;
                    rt.ratings = 0;
                }
            }
            Event::CatalogReplaced { catalog } => {
                self.catalog = (**catalog).clone();
                self.clock = Some(Clock::new(&self.catalog));
                self.sync_windows();
            }
            Event::TicketIssued {
                ticket,
                request_id,
                appointment,
            } => {
                let t = (**ticket).clone();
                let id = t.id;
                self.next_ticket_id = self.next_ticket_id.max(id + 1);
                let prefix = t
                    .number
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_string();
                let n: u32 = t.number[prefix.len()..].parse().unwrap_or(0);
                let last = self.last_number.entry(prefix).or_insert(0);
                *last = (*last).max(n);
                *self.issued.entry(t.origin.clone()).or_insert(0) += 1;
                self.figures.entry(t.origin.clone()).or_default().issued += 1;
                if let Some(p) = &t.person {
                    let slot = person_slot(&t.origin, &p.key);
                    *self.person_daily.entry(slot.clone()).or_insert(0) += 1;
                    self.person_active.insert(slot, id);
                }
                if let Some(r) = request_id {
                    self.requests.insert(r.clone(), id);
                    self.ticket_requests.insert(id, r.clone());
                }
                if let Some(a) = appointment.and_then(|a| self.appointments.get_mut(&a)) {
                    a.ticket = Some(id);
                }
                self.by_number.insert(t.number.clone(), id);
                self.tickets.insert(id, t);
                self.index(id);
            }
            Event::AppointmentBooked {
                appointment,
                request_id,
            } => {
                let a = (**appointment).clone();
                self.next_appointment = self.next_appointment.max(a.id + 1);
                if let Some(r) = request_id {
                    self.appointment_requests.insert(r.clone(), a.id);
                }
                self.appointments.insert(a.id, a);
            }
            Event::TicketCancelled { ticket, reason } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.cancelled += 1;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Cancelled;
                    t.finished_at = Some(at);
                    t.note = Some(reason.clone());
                });
            }
            Event::WindowOpened {
                window,
                clerk,
                token,
            } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    if rt.status == WindowStatus::Closed {
                        rt.status = WindowStatus::Open;
                    }
                    rt.clerk = Some(clerk.clone());
                    rt.token = Some(token.clone());
                }
            }
            Event::WindowClosed { window } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Closed;
                    rt.clerk = None;
                    rt.token = None;
                    rt.pause_reason = None;
                    rt.priority_streak = 0;
                }
            }
            Event::WindowPaused { window, reason } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Paused;
                    rt.pause_reason = Some(reason.clone());
                }
            }
            Event::WindowResumed { window } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Open;
                    rt.pause_reason = None;
                }
            }
            Event::TicketCalled {
                ticket,
                window,
                clerk,
                reason,
            } => {
                let priority = reason.is_priority();
                if let Some(t) = self.tickets.get(ticket)
                    && t.called_at.is_none()
                {
                    let waited = ((at - t.issued_at) / 1000).max(0) as u64;
                    if let Some(f) = self.figures_of(*ticket) {
                        f.called += 1;
                        f.wait_s += waited;
                    }
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Called;
                    t.called_at = Some(at);
                    t.window = Some(*window);
                    t.clerk = Some(clerk.clone());
                    t.recall_count = 0;
                    t.call_reason = Some(reason.clone());
                    t.target_window = None;
                });
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = Some(*ticket);
                    match reason.rule {
                        CallRule::Chosen | CallRule::CalledBack | CallRule::Targeted => {}
                        _ if priority => rt.priority_streak += 1,
                        _ => rt.priority_streak = 0,
                    }
                }
                self.push_recent(*ticket, at);
            }
            Event::TicketRecalled {
                ticket,
                window: _,
                count,
            } => {
                self.update(*ticket, |t| t.recall_count = *count);
                self.push_recent(*ticket, at);
            }
            Event::ServiceStarted { ticket, window: _ } => {
                self.update(*ticket, |t| {
                    t.state = TicketState::Serving;
                    t.started_at = Some(at);
                });
            }
            Event::TicketFinished {
                ticket,
                window,
                resolved,
                reason,
                after,
            } => {
                let Some(t) = self.tickets.get(ticket) else {
                    return;
                };
                let handled_s =
                    ((at - t.started_at.or(t.called_at).unwrap_or(at)) / 1000).max(0) as u32;
                let queue = t.queue.clone();
                if matches!(after, AfterFinish::Closed)
                    && let Some(f) = self.figures_of(*ticket)
                {
                    if *resolved {
                        f.served += 1;
                    } else {
                        f.unresolved += 1;
                    }
                    f.handling_s += u64::from(handled_s);
                }
                let samples = self.catalog.policy.recent_handling_samples.max(1);
                let d = self.handling.entry(queue).or_default();
                d.push_back(handled_s);
                while d.len() > samples {
                    d.pop_front();
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                    rt.served += 1;
                    rt.handling_total_s += u64::from(handled_s);
                    rt.rateable.push_back(*ticket);
                    while rt.rateable.len() > RATEABLE {
                        rt.rateable.pop_front();
                    }
                }
                self.update(*ticket, |t| {
                    t.finished_at = Some(at);
                    if !*resolved {
                        t.note = Some(reason.clone());
                    }
                    match after {
                        AfterFinish::Closed => {
                            t.state = if *resolved {
                                TicketState::Done
                            } else {
                                TicketState::Unresolved
                            };
                        }
                        AfterFinish::NextStage { stage, queue } => {
                            t.state = TicketState::Waiting;
                            t.queue = queue.clone();
                            if let Some(b) = &mut t.bundle {
                                b.stage = *stage;
                            }
                            t.sort_at = t.issued_at;
                        }
                        AfterFinish::Returned { window, queue } => {
                            t.state = TicketState::Waiting;
                            t.queue = queue.clone();
                            t.target_window = Some(*window);
                            t.return_to = None;
                        }
                    }
                });
            }
            Event::TicketNoShow {
                ticket,
                window,
                auto: _,
            } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.no_shows += 1;
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                    rt.no_shows += 1;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::NoShow;
                    t.finished_at = Some(at);
                });
            }
            Event::TicketRequeued { ticket, sort_at } => {
                // Back to waiting: the person is active again in its category.
                let mut slot = None;
                self.update(*ticket, |t| {
                    t.state = TicketState::Waiting;
                    t.sort_at = *sort_at;
                    t.finished_at = None;
                    t.window = None;
                    slot = t.person.as_ref().map(|p| person_slot(&t.origin, &p.key));
                });
                if let Some(s) = slot {
                    self.person_active.insert(s, *ticket);
                }
            }
            Event::TicketSuspended {
                ticket,
                window,
                reason,
            } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Suspended;
                    t.note = Some(reason.clone());
                });
            }
            Event::TicketTransferred {
                ticket,
                from_window,
                target,
                return_to,
                reason,
            } => {
                if let Some(rt) = self.windows.get_mut(from_window) {
                    rt.current = None;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Waiting;
                    t.note = Some(reason.clone());
                    t.return_to = return_to.clone();
                    match target {
                        TransferTarget::Queue(q) => {
                            t.queue = q.clone();
                            t.target_window = None;
                        }
                        TransferTarget::Window(w) => t.target_window = Some(*w),
                    }
                    // Keep its place only when it returns; otherwise a plain
                    // transfer also keeps its issue time (the visitor already waited).
                });
            }
            Event::RatingSubmitted {
                ticket,
                window,
                rating,
                comment: _,
            } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.ratings += 1;
                    f.rating_sum += u32::from(*rating);
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.rateable.retain(|t| t != ticket);
                    rt.rating_sum += u32::from(*rating);
                    rt.ratings += 1;
                }
                self.update(*ticket, |t| t.rating = Some(*rating));
            }
            Event::FollowUpOpened { follow_up } => {
                self.next_follow_up = self.next_follow_up.max(follow_up.id + 1);
                self.follow_ups.insert(follow_up.id, (**follow_up).clone());
            }
            Event::FollowUpClosed { id, resolution } => {
                if let Some(f) = self.follow_ups.get_mut(id) {
                    f.closed = Some(resolution.clone());
                }
            }
            Event::DeviceReported {
                device_id,
                kind,
                status,
                detail,
            } => {
                self.devices.insert(
                    device_id.clone(),
                    DeviceStatus {
                        kind: kind.clone(),
                        status: status.clone(),
                        detail: detail.clone(),
                        at,
                    },
                );
            }
        }
    }

    fn push_recent(&mut self, id: TicketId, at: Millis) {
        let Some(t) = self.tickets.get(&id) else {
            return;
        };
        self.recent_calls.retain(|c| c.ticket != id);
        self.recent_calls.push_front(RecentCall {
            ticket: id,
            number: t.number.clone(),
            window: t.window.unwrap_or(0),
            queue: t.queue.clone(),
            masked_name: t.person.as_ref().map(|p| p.masked_name.clone()),
            at,
            recall_count: t.recall_count,
        });
        self.recent_calls.truncate(RECENT_CALLS);
    }
}

#[cfg(test)]
mod tests;
