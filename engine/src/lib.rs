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
pub mod config;
mod decide;
mod error;
mod event;
mod fold;
mod index;
pub mod model;
pub mod notify;
mod policy;
mod query;
pub mod report;
pub mod site;

pub use error::EngineError;
pub use event::*;
pub use model::*;
pub use query::FreeSlot;

use calendar::Clock;
use catalog::Catalog;
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
    /// Person key -> their booking block, while it lasts.
    #[serde(default)]
    pub booking_blocks: BTreeMap<String, BookingBlock>,
    /// Remote tickets issued today per category (their share of the quota).
    #[serde(default)]
    issued_remote: HashMap<String, u32>,
    pub recent_calls: VecDeque<RecentCall>,
    pub devices: BTreeMap<String, DeviceStatus>,
    /// Opt-ins, the notification outbox and its dead letters.
    #[serde(default)]
    pub notify: notify::NotifyState,
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
    /// Suspended tickets (few at any time), so "my queue" need not scan
    /// every ticket of the day to find a window's.
    #[serde(skip)]
    pub(crate) suspended: BTreeSet<TicketId>,
    /// Remote tickets waiting for their visitor (few), which every tick
    /// checks for reaching the front and for their grace running out.
    #[serde(skip)]
    pub(crate) remote_pending: BTreeSet<TicketId>,
    /// Bookings with a reminder to send, by when it is due (and each
    /// booking's entry), so a tick looks at the first only.
    #[serde(skip)]
    pub(crate) reminders: BTreeSet<(Millis, u64)>,
    #[serde(skip)]
    reminder_at: HashMap<u64, Millis>,
}

fn default_clock() -> Option<Clock> {
    None
}

/// Applies one command at `now`: decides its events, folds them, returns them.
/// On error nothing changed.
pub fn apply(hall: &mut Hall, cmd: Command, now: Millis) -> Result<Vec<Event>, EngineError> {
    let mut events = hall.decide(cmd, now)?;
    for e in &events {
        hall.fold(e, now);
    }
    // What the visitors who opted in are owed for this batch: decided here,
    // after the fold, so it sees the queue as it now stands, and logged in
    // the same batch (the durable outbox).
    let owed = hall.notification_triggers(&events, now);
    for e in &owed {
        hall.fold(e, now);
    }
    events.extend(owed);
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
            booking_blocks: BTreeMap::new(),
            issued_remote: HashMap::new(),
            recent_calls: VecDeque::new(),
            notify: notify::NotifyState::default(),
            devices: BTreeMap::new(),
            figures: BTreeMap::new(),
            closed: VecDeque::new(),
            ticket_requests: HashMap::new(),
            queues: HashMap::new(),
            targeted: HashMap::new(),
            suspended: BTreeSet::new(),
            remote_pending: BTreeSet::new(),
            reminders: BTreeSet::new(),
            reminder_at: HashMap::new(),
        };
        h.sync_windows();
        h
    }

    /// Rebuilds the derived indexes after deserialising a snapshot.
    pub fn after_load(&mut self) {
        self.clock = Some(Clock::new(&self.catalog));
        self.queues.clear();
        self.targeted.clear();
        self.suspended.clear();
        self.remote_pending.clear();
        // A snapshot from before booking states: a checked-in booking is one
        // with its ticket.
        for a in self.appointments.values_mut() {
            if a.state == AppointmentState::Booked && a.ticket.is_some() {
                a.state = AppointmentState::CheckedIn;
            }
        }
        let ids: Vec<TicketId> = self.tickets.keys().copied().collect();
        for id in ids {
            self.index(id);
            self.index_suspended(id);
        }
        self.index_all_reminders();
    }

    pub fn clock(&self) -> &Clock {
        self.clock.as_ref().expect("clock set by new/after_load")
    }
}

#[cfg(test)]
mod tests;
